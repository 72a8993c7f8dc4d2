package sim_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

// BenchmarkStateChange measures one agent's state change, stored
// (OnAgentChange) and notified (Subscribe), as a cluster's leader makes
// it, with every agent of the directory signed in: one team, as ctibench
// writes it, and its supervisor, whom every change names. Its cost must
// not grow with the number of agents.
func BenchmarkStateChange(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		b.Run("agents="+strconv.Itoa(n), func(b *testing.B) {
			was := sim.VerifySaves(false)
			b.Cleanup(func() { sim.VerifySaves(was) })
			ctx := context.Background()
			stored := 0
			s := sim.New(benchDirectory(b, n), sim.Config{OnAgentChange: func(sim.AgentRecord) { stored++ }})
			cancel := s.Subscribe(func(cisco.Notification) {})
			defer cancel()
			for i := range n + 1 {
				_, err := s.SignInAs(ctx, strconv.Itoa(500000+i), strconv.Itoa(10000+i))
				require.NoError(b, err)
			}
			codes, err := s.ReasonCodes(ctx, "500000", cisco.CategoryNotReady)
			require.NoError(b, err)
			notReady := ""
			if len(codes) > 0 {
				notReady = codes[0].ID
			}
			stored = 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				// Each agent goes READY, then NOT_READY on its next turn.
				state, reason := cisco.StateReady, ""
				if (i/n)%2 == 1 {
					state, reason = cisco.StateNotReady, notReady
				}
				if _, err := s.SetState(ctx, strconv.Itoa(500000+1+i%n), state, reason); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			require.Equal(b, b.N, stored, "one record stored per change")
		})
	}
}

// benchDirectory returns a directory of n agents in one team, loginIds
// 500001 on, and their supervisor, 500000; every password is "pw".
func benchDirectory(b *testing.B, n int) *sim.Directory {
	agents := []ciscotest.Agent{{LoginID: "500000", FirstName: "Bench", LastName: "Supervisor", Password: "pw",
		TeamID: "9001", Supervisor: true, SupervisedTeams: []string{"9001"}}}
	for i := range n {
		agents = append(agents, ciscotest.Agent{LoginID: strconv.Itoa(500001 + i), FirstName: "Bench",
			LastName: strconv.Itoa(i), Password: "pw", TeamID: "9001"})
	}
	return ciscotest.NewDirectory(b, agents...)
}
