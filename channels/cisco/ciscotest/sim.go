package ciscotest

import (
	"context"
	"testing"
	"time"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/fakeclock"
)

// The accounts of SuiteDirectory.
var (
	suiteAgents = []Account{
		{LoginID: "100501", LoginName: "ciscotest", Password: "test@123", Extension: "1001"},
		{LoginID: "102312778", LoginName: "pquser", Password: "pqsup1", Extension: "1002"},
	}
	suiteSupervisor = Account{LoginID: "100600", LoginName: "supervisor1", Password: "super@1", Extension: "1006"}
	suiteOutsider   = Account{LoginID: "100700", LoginName: "outsider", Password: "out@7", Extension: "1007"}
)

// SuiteDirectory returns the directory behind SimHarness: the agents of
// Agents, plus an agent of team 5006, which the supervisor does not
// supervise.
func SuiteDirectory(tb testing.TB) *sim.Directory {
	tb.Helper()
	return NewDirectory(tb, append(Agents(), Agent{
		LoginID: suiteOutsider.LoginID, LoginName: suiteOutsider.LoginName, FirstName: "Out", LastName: "Sider",
		Password: suiteOutsider.Password, TeamID: "5006",
	})...)
}

// SimHarness returns the Harness of ConnectorSuite for c, a connector on a
// simulator of SuiteDirectory (a sim.Simulator, a replicated one, or a
// connector to a fixture that one serves), whose calls from outside ring
// does (Simulator.Ring, or the Ring of its cluster). The simulator's
// numbers ending in 0000 are busy.
func SimHarness(c cisco.Connector, ring sim.Ringer) Harness {
	return Harness{
		Connector:  c,
		Agents:     append([]Account(nil), suiteAgents...),
		Supervisor: suiteSupervisor,
		Outsider:   suiteOutsider,
		Ring: func(ctx context.Context, agent Account, from string) error {
			_, err := ring.Ring(ctx, agent.LoginID, sim.IncomingCall{From: from})
			return err
		},
		BusyNumber: "4085550000",
	}
}

// NoTimers is a sim.Config.AfterFunc whose timers never fire (nobody fires
// them): the simulator then answers, rings out and wraps up nothing by
// itself, and a test sees only what it asked for.
func NoTimers(d time.Duration, f func()) sim.Timer { return new(fakeclock.Timers).AfterFunc(d, f) }
