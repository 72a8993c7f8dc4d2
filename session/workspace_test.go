package session_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/session"
)

// clusterNode is one node's bus and workspaces, with grace timers that
// fire when the test says.
type clusterNode struct {
	url        string
	workspaces *session.Workspaces

	timers fakeclock.Timers // the grace periods

	mu      sync.Mutex // guards the fields below
	expired []string   // the agents signed out
}

func newClusterNode(t *testing.T, presence session.Presence) *clusterNode {
	t.Helper()
	n := &clusterNode{}
	n.workspaces = session.NewWorkspaces(session.WorkspacesConfig{
		Channel:   "test",
		Presence:  presence,
		AfterFunc: func(d time.Duration, f func()) session.Timer { return n.timers.AfterFunc(d, f) },
		OnExpire: func(agentID string) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.expired = append(n.expired, agentID)
		},
	})
	bus := broker.New(zaptest.NewLogger(t), broker.Config{})
	// Test/Agent/Join binds the connection to ciscotest's workspace and
	// answers Test/Agent/Joined.
	bus.Handle("Test", "Agent", "Join", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		unlock := n.workspaces.Lock("ciscotest")
		defer unlock()
		n.workspaces.Join("ciscotest", req.Conn, false)
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Agent", Subtopic: "Joined", CorrelationID: req.ID})
	}))
	n.url = brokertest.Serve(t, bus, nil)
	return n
}

// join connects an app to n and binds it to ciscotest's workspace.
func (n *clusterNode) join(t *testing.T) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, n.url)
	c.Register("desktop", "Test")
	c.Request("1", "Test", "Agent", "Join", nil)
	c.Expect("Test/Agent/Joined")
	return c
}

// grace waits for n's grace period to start, and returns its timer.
func (n *clusterNode) grace(t *testing.T) *fakeclock.Timer {
	t.Helper()
	require.Eventually(t, func() bool { return len(n.timers.Running()) == 1 }, eventually, 5*time.Millisecond, "a grace period starts")
	return n.timers.Running()[0]
}

// fireGrace waits for n's grace period to start, then ends it.
func (n *clusterNode) fireGrace(t *testing.T) {
	t.Helper()
	require.True(t, n.grace(t).Fire())
}

func (n *clusterNode) signedOut() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.expired...)
}

func TestGraceSignsOutOnlyWhenNoNodeHoldsTheAgent(t *testing.T) {
	s := natstest.Start(t, "")
	ctx := setupContext(t)
	var nodes []*clusterNode
	for _, name := range []string{"node-a", "node-b"} {
		p, err := session.NewKVPresence(ctx, node(t, s), "presence", name)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, p.Close(context.Background())) })
		nodes = append(nodes, newClusterNode(t, p))
	}
	a, b := nodes[0], nodes[1]

	onA, onB := a.join(t), b.join(t)
	require.NoError(t, onA.Conn().Close())
	a.fireGrace(t)
	assert.Empty(t, a.signedOut(), "node b still holds a connection of the agent")
	_, here := a.workspaces.Get("ciscotest")
	assert.False(t, here, "the workspace ends on the node that holds no connection")

	require.NoError(t, onB.Conn().Close())
	b.fireGrace(t)
	assert.Equal(t, []string{"ciscotest"}, b.signedOut(), "the last node signs the agent out")
}

// unreachable is a Presence whose store cannot be reached.
type unreachable struct{}

func (unreachable) Set(context.Context, string, int) error { return session.ErrUnavailable }
func (unreachable) Elsewhere(context.Context, string) (bool, error) {
	return false, session.ErrUnavailable
}

func TestGraceRunsOnceMoreWhenPresenceCannotTell(t *testing.T) {
	n := newClusterNode(t, unreachable{})
	require.NoError(t, n.join(t).Conn().Close())
	n.fireGrace(t)
	assert.Empty(t, n.signedOut(), "the agent stays signed in while nobody can tell")
	_, here := n.workspaces.Get("ciscotest")
	assert.True(t, here)

	n.fireGrace(t)
	assert.Equal(t, []string{"ciscotest"}, n.signedOut(), "signed out after a second grace period")
}

func TestClosedWorkspacesSignNobodyOut(t *testing.T) {
	n := newClusterNode(t, nil)
	app := n.join(t)
	require.NoError(t, app.Conn().Close())

	// The grace period started before Close ends after it, as a timer
	// already waiting may; nobody is signed out.
	fire, ok := n.grace(t).Expire()
	require.True(t, ok)
	n.workspaces.Close()
	fire()
	assert.Empty(t, n.signedOut(), "a stopping node signs nobody out")
}
