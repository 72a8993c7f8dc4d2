package simcluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// link is what a test checks of a LinkChange: connectionId's node only,
// since its term is the lease's revision.
type link struct {
	LoginID, Extension string
	Up                 bool
	Node               string
}

// linksIn returns the LinkChanges among got, in order.
func linksIn(got []cisco.Notification) []link {
	var links []link
	for _, n := range got {
		if l := n.Link; l != nil {
			node, _, _ := strings.Cut(l.ConnectionID, ":")
			links = append(links, link{LoginID: l.LoginID, Extension: l.Extension, Up: l.Up, Node: node})
		}
	}
	return links
}

// When the contact center moves to another node, the apps of every agent
// signed in hear its link go down and come back, once each, on every node,
// and nothing else changes; an agent signed out hears nothing.
func TestClusterFailoverReportsTheLink(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, leader *clusterNode)
		// downByOldLeader: the leader that leaves says the link is down
		// itself; a dead one cannot, so its successor does.
		downByOldLeader bool
	}{
		{
			name:            "leader closes",
			stop:            func(t *testing.T, leader *clusterNode) { require.NoError(t, leader.Close()) },
			downByOldLeader: true,
		},
		{
			name: "leader loses NATS",
			stop: func(t *testing.T, leader *clusterNode) { leader.nc.Close() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natstest.Start(t, "")
			nodes := startCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 3)
			ctx := testContext(t)
			_, err := nodes[1].SignIn(ctx, "ciscotest", "test@123", "1001")
			require.NoError(t, err)
			_, err = nodes[2].SignIn(ctx, "jdoe", "agent@3", "1003")
			require.NoError(t, err)
			before, err := nodes[1].SetState(ctx, "100503", cisco.StateReady, "")
			require.NoError(t, err)
			_, err = nodes[1].SignIn(ctx, "pquser", "pqsup1", "1002")
			require.NoError(t, err)
			_, err = nodes[1].ForceLogout(ctx, "102312778", "28")
			require.NoError(t, err)
			survivors := nodes[1:]
			var recs []*ciscotest.Recorder
			for _, n := range survivors {
				recs = append(recs, ciscotest.Record(t, n))
			}

			old := nodes[0].Cluster
			tt.stop(t, nodes[0])
			for _, r := range recs {
				r.Await(t, "the link back", func(n cisco.Notification) bool { return n.Link != nil && n.Link.Up && n.Link.LoginID == "100503" })
			}
			next := survivors[waitLeader(t, survivors)]
			assert.False(t, old.Leader())
			// startCluster puts the first leader at nodes[0], whatever its name.
			downBy := next.name
			if tt.downByOldLeader {
				downBy = nodes[0].name
			}

			// A change after the move reaches the apps after the links, and
			// nothing more of them comes.
			_, err = nodes[2].SetState(ctx, "100501", cisco.StateReady, "")
			require.NoError(t, err)
			want := []link{
				{LoginID: "100501", Extension: "1001", Node: downBy},
				{LoginID: "100503", Extension: "1003", Node: downBy},
				{LoginID: "100501", Extension: "1001", Up: true, Node: next.name},
				{LoginID: "100503", Extension: "1003", Up: true, Node: next.name},
			}
			for _, r := range recs {
				r.Await(t, "the change after the move", ciscotest.UserIn("100501", cisco.StateReady))
				assert.Equal(t, want, linksIn(r.All()))
			}
			u, err := next.User(ctx, "100503")
			require.NoError(t, err)
			before.AgentTime, u.AgentTime = "", "" // the clock's, not the move's
			assert.Equal(t, before, u, "the move changed nothing of the agent")
			out, err := next.User(ctx, "102312778")
			require.NoError(t, err)
			assert.Equal(t, cisco.StateLogout, out.State)
		})
	}
}
