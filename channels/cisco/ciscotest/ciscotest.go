// Package ciscotest checks Cisco connectors against their contract, and
// builds simulator directories for tests.
//
// ConnectorSuite is the conformance suite of cisco.Connector: every
// implementation runs it, the simulator and its cluster today, a connector
// to Finesse tomorrow. It drives the connector through its methods only;
// what it needs beyond them comes from a Harness the caller provides:
// agents with their passwords and extensions, a supervisor of their team
// and an agent outside it, a way to ring an agent from outside, and a busy
// number (a transfer to it fails at the switch after the contact center took
// it up). A connector to a REST fixture that a sim.Simulator serves gets a
// Harness from SimHarness, with the simulator's Ring:
//
//	func TestConnectorSuite(t *testing.T) {
//		ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
//			p := finessetest.StartPair(t, finessetest.PairConfig{}) // serves a simulator over Finesse's REST API and XMPP
//			c := newConnector(t, p)                                 // a finesse.Connector on p's two sides
//			return ciscotest.SimHarness(c, p.Sim)
//		})
//	}
//
// Each case gets a contact center of its own from the function passed to
// ConnectorSuite, and waits for events rather than for time.
//
// NewDirectory and Agents build sim directories of test agents whose
// passwords hash cheaply.
package ciscotest

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/channels/cisco/sim"
)

// Agent is an agent of a test directory.
type Agent struct {
	LoginID         string   // digits
	LoginName       string   // defaults to LoginID
	FirstName       string   //
	LastName        string   //
	Password        string   // hashed by NewDirectory
	TeamID          string   // defaults to "5004"
	Supervisor      bool     //
	SupervisedTeams []string // team ids; required for a supervisor
}

// Agents returns four agents with their passwords: ciscotest (100501,
// team 5004, password test@123), pquser (102312778, team 5004, pqsup1),
// jdoe (100503, team 5005, agent@3) and supervisor1 (100600, team 5005,
// super@1, supervising 5004 and 5005). Each call returns a new slice.
func Agents() []Agent {
	return []Agent{
		{LoginID: "100501", LoginName: "ciscotest", FirstName: "Cisco", LastName: "Test", Password: "test@123", TeamID: "5004"},
		{LoginID: "102312778", LoginName: "pquser", FirstName: "Paul", LastName: "Quinn", Password: "pqsup1", TeamID: "5004"},
		{LoginID: "100503", LoginName: "jdoe", FirstName: "Jane", LastName: "Doe", Password: "agent@3", TeamID: "5005"},
		{
			LoginID: "100600", LoginName: "supervisor1", FirstName: "Sam", LastName: "Rivera", Password: "super@1",
			TeamID: "5005", Supervisor: true, SupervisedTeams: []string{"5004", "5005"},
		},
	}
}

// NewDirectory returns a directory of agents whose passwords are hashed at
// bcrypt.MinCost, so that a sign-in costs well under a millisecond even
// under the race detector, where the demo directory's cost of 10 takes a
// large fraction of a second. Agents sharing a password share its hash, so
// that a directory of thousands builds at once.
//
// The teams are those of the demo directory, 5004 RTTeam2 and 5005 RTTeam3,
// plus "Team <id>" for any other team an agent names. Reason codes, wrap-up
// reasons and phone books are the demo directory's.
func NewDirectory(tb testing.TB, agents ...Agent) *sim.Directory {
	tb.Helper()
	var file sim.DirectoryFile
	file.Teams = []sim.FileTeam{{ID: "5004", Name: "RTTeam2"}, {ID: "5005", Name: "RTTeam3"}}
	addTeam := func(id string) {
		if !slices.ContainsFunc(file.Teams, func(t sim.FileTeam) bool { return t.ID == id }) {
			file.Teams = append(file.Teams, sim.FileTeam{ID: id, Name: "Team " + id})
		}
	}
	hashes := map[string][]byte{} // by password: a crowd sharing one is hashed once
	for _, a := range agents {
		hash, ok := hashes[a.Password]
		if !ok {
			var err error
			if hash, err = bcrypt.GenerateFromPassword([]byte(a.Password), bcrypt.MinCost); err != nil {
				tb.Fatalf("ciscotest: hash the password of %s: %v", a.LoginID, err)
			}
			hashes[a.Password] = hash
		}
		if a.TeamID == "" {
			a.TeamID = "5004"
		}
		addTeam(a.TeamID)
		for _, id := range a.SupervisedTeams {
			addTeam(id)
		}
		file.Agents = append(file.Agents, sim.FileAgent{
			LoginID:         a.LoginID,
			LoginName:       a.LoginName,
			FirstName:       a.FirstName,
			LastName:        a.LastName,
			PasswordHash:    string(hash),
			TeamID:          a.TeamID,
			Supervisor:      a.Supervisor,
			SupervisedTeams: a.SupervisedTeams,
		})
	}
	data, err := json.Marshal(file)
	if err != nil {
		tb.Fatalf("ciscotest: %v", err)
	}
	dir, err := sim.LoadDirectory(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("ciscotest: %v", err)
	}
	return dir
}
