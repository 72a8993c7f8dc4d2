package simcluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
)

// callConnector is what the calls' script uses: a cluster node or a lone
// simulator.
type callConnector interface {
	cisco.Connector
	Ring(ctx context.Context, loginID string, in sim.IncomingCall) (cisco.Dialog, error)
}

// before is the script's part before the failover: 100501 on a held call
// with call data, asking for NOT_READY after it; 100503 talking, signed out
// meanwhile by its supervisor. It returns the two calls' ids.
func before(t *testing.T, ctx context.Context, c callConnector) (held, signedOut string) {
	t.Helper()
	for _, in := range [][3]string{{"ciscotest", "test@123", "1001"}, {"jdoe", "agent@3", "1003"}, {"supervisor1", "super@1", "1006"}} {
		_, err := c.SignIn(ctx, in[0], in[1], in[2])
		require.NoError(t, err)
	}
	for _, id := range []string{"100501", "100503"} {
		_, err := c.SetState(ctx, id, cisco.StateReady, "")
		require.NoError(t, err)
	}
	d1, err := c.Ring(ctx, "100501", sim.IncomingCall{From: "5551234",
		CallVariables: []cisco.CallVariable{{Name: "callVariable1", Value: "acct-42"}, {Name: "user.crm.case", Value: "C-7"}}})
	require.NoError(t, err)
	require.NoError(t, c.CallAction(ctx, "100501", d1.ID, cisco.ActionAnswer, ""))
	_, err = c.SetState(ctx, "100501", cisco.StateNotReady, "1")
	require.NoError(t, err)
	require.NoError(t, c.CallAction(ctx, "100501", d1.ID, cisco.ActionHold, ""))

	d2, err := c.Ring(ctx, "100503", sim.IncomingCall{From: "5559876"})
	require.NoError(t, err)
	require.NoError(t, c.CallAction(ctx, "100503", d2.ID, cisco.ActionAnswer, ""))
	// A CTI sign-out never hangs up a voice call: the agent keeps it, with
	// LOGOUT as its pending state.
	u, err := c.SupervisorSetState(ctx, "100600", "100503", cisco.StateLogout, "")
	require.NoError(t, err)
	require.Equal(t, cisco.StateTalking, u.State)
	require.Equal(t, "LOGOUT", u.PendingState)
	return d1.ID, d2.ID
}

// after is the script's part after the failover: both calls go on and end
// as they would have.
func after(t *testing.T, ctx context.Context, c callConnector, held, signedOut string) {
	t.Helper()
	require.NoError(t, c.CallAction(ctx, "100501", held, cisco.ActionRetrieve, ""))
	require.NoError(t, c.CallAction(ctx, "100501", held, cisco.ActionDrop, ""))
	require.NoError(t, c.CallAction(ctx, "100503", signedOut, cisco.ActionDrop, ""))
}

// seenByApps is what the agents' apps can read of the contact center.
func seenByApps(t *testing.T, ctx context.Context, c cisco.Connector) map[string]any {
	t.Helper()
	return ciscotest.AppsView(t, ctx, c, "100501", "100503", "100600")
}

// Calls survive a failover in the simulator's model: the node taking over
// goes on with every call, its data, its held and pending states, and a
// sign-out by a supervisor that waits for the call's end, exactly as one
// simulator that never failed over does.
func TestClusterCallsSurviveFailover(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, leader *clusterNode)
	}{
		{name: "leader closes", stop: func(t *testing.T, leader *clusterNode) { require.NoError(t, leader.Close()) }},
		{name: "leader loses NATS", stop: func(t *testing.T, leader *clusterNode) { leader.nc.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := ciscotest.NewDirectory(t, testAgents...)
			ctx := testContext(t)
			cfg := sim.Config{AfterFunc: ciscotest.NoTimers}

			alone := sim.New(dir, cfg)
			heldAlone, outAlone := before(t, ctx, alone)
			duringAlone := seenByApps(t, ctx, alone)
			after(t, ctx, alone, heldAlone, outAlone)
			endAlone := seenByApps(t, ctx, alone)

			s := natstest.Start(t, "")
			var nodes []*clusterNode
			for _, name := range []string{"node0", "node1", "node2"} {
				nodes = append(nodes, startNode(t, s, dir, name, simcluster.Config{Simulator: cfg, LeaseTTL: steadyLease}))
			}
			leader := waitLeader(t, nodes)
			nodes[0], nodes[leader] = nodes[leader], nodes[0]
			held, out := before(t, ctx, nodes[1])
			require.Equal(t, heldAlone, held)
			require.Equal(t, duringAlone, seenByApps(t, ctx, nodes[1]))
			seenBefore := len(nodes[1].got.all())

			tt.stop(t, nodes[0])
			survivors := nodes[1:]
			next := survivors[waitLeader(t, survivors)]
			for _, n := range survivors {
				assert.Equal(t, duringAlone, seenByApps(t, ctx, n), "the calls as they were")
			}
			takeover := nodes[1].got.all()[seenBefore:]
			assert.Len(t, linksIn(takeover), len(takeover), "the takeover tells the apps nothing but their links going down and up")
			assert.Len(t, takeover, 2*3, "down and up, for each of the three agents signed in")

			after(t, ctx, survivors[1], held, out)
			assert.Equal(t, endAlone, seenByApps(t, ctx, next))
			u, err := next.User(ctx, "100503")
			require.NoError(t, err)
			assert.Equal(t, cisco.StateLogout, u.State, "signed out at the end of the call")

			// A call after the takeover gets an id no surviving call had.
			_, err = next.SetState(ctx, "100501", cisco.StateReady, "")
			require.NoError(t, err)
			d, err := next.Ring(ctx, "100501", sim.IncomingCall{From: "5551234"})
			require.NoError(t, err)
			assert.NotContains(t, []string{held, out}, d.ID)
		})
	}
}
