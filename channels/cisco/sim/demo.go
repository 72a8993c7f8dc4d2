package sim

import (
	"bytes"
	_ "embed"
	"sync"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/jsonconfig"
)

//go:embed demo.json
var demoJSON []byte

// demoFile is the parsed demo directory; files without reason codes,
// wrap-up reasons or phone books borrow its entries.
var demoFile = sync.OnceValue(func() *DirectoryFile {
	var f DirectoryFile
	doc, err := jsonconfig.Read(bytes.NewReader(demoJSON), "demo.json", "directory", maxDirectorySize)
	if err == nil {
		err = doc.Decode(&f)
	}
	if err != nil {
		panic("cisco: embedded demo.json: " + err.Error())
	}
	return &f
})

var demoDirectory = sync.OnceValue(func() *Directory {
	d, err := build(demoFile())
	if err != nil {
		panic("cisco: embedded demo.json: " + err.Error())
	}
	return d
})

// DemoDirectory returns the built-in directory, which lets ctibus run with no
// configuration. Its password hashes are precomputed (bcrypt cost 10), so it
// costs nothing to load. The README section "Demo agents" lists the
// passwords; the agents are:
//
//	loginId    loginName    name           team           roles
//	100501     ciscotest    Cisco Test     5004 RTTeam2   Agent
//	102312778  pquser       Paul Quinn     5004 RTTeam2   Agent
//	100503     jdoe         Jane Doe       5005 RTTeam3   Agent
//	100600     supervisor1  Sam Rivera     5005 RTTeam3   Agent, Supervisor of 5004 and 5005
//
// NOT_READY reason codes (id = code): 1 Break, 2 Lunch, 3 Meeting,
// 4 Training, 5 Coaching for everyone, and 6 Back Office for team 5005 only.
// LOGOUT reason codes: 28 End of Shift, 29 Personal, 30 System Issue.
// Wrap-up reasons: 1 Inprogress, 2 Completed, 3 Pending, 4 Clerical work,
// 5 DataEntry. Phone books: 1 Company Directory (GLOBAL) and 2 RTTeam2
// Escalations (TEAM, 5004).
func DemoDirectory() *Directory {
	return demoDirectory()
}

// The borrow functions copy the demo entries for a file that has none,
// keeping only the team assignments to teams the file has, and dropping
// team-only entries left with no team.

func borrowReasonCodes(teams map[string]string) []FileReasonCode {
	var out []FileReasonCode
	for _, rc := range demoFile().ReasonCodes {
		rc.Teams = keepTeams(rc.Teams, teams)
		if rc.ForAll || len(rc.Teams) > 0 {
			out = append(out, rc)
		}
	}
	return out
}

func borrowWrapUpReasons(teams map[string]string) []FileWrapUpReason {
	var out []FileWrapUpReason
	for _, w := range demoFile().WrapUpReasons {
		w.Teams = keepTeams(w.Teams, teams)
		if w.ForAll || len(w.Teams) > 0 {
			out = append(out, w)
		}
	}
	return out
}

func borrowPhoneBooks(teams map[string]string) []FilePhoneBook {
	var out []FilePhoneBook
	for _, pb := range demoFile().PhoneBooks {
		pb.Teams = keepTeams(pb.Teams, teams)
		if pb.Type == cisco.PhoneBookGlobal || len(pb.Teams) > 0 {
			out = append(out, pb)
		}
	}
	return out
}

func keepTeams(ids []string, teams map[string]string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := teams[id]; ok {
			out = append(out, id)
		}
	}
	return out
}
