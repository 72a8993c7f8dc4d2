package session_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/session"
)

// clusterNode is one node's bus and workspaces, with grace timers that
// fire when the test says.
type clusterNode struct {
	url        string
	workspaces *session.Workspaces

	mu      sync.Mutex // guards the fields below
	timers  []func()   // the grace periods started, to fire
	expired []string   // the agents signed out
}

type fakeTimer struct{}

func (fakeTimer) Stop() bool { return true }

func newClusterNode(t *testing.T, presence session.Presence) *clusterNode {
	t.Helper()
	n := &clusterNode{}
	n.workspaces = session.NewWorkspaces(session.WorkspacesConfig{
		Channel:  "test",
		Presence: presence,
		AfterFunc: func(_ time.Duration, f func()) session.Timer {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.timers = append(n.timers, f)
			return fakeTimer{}
		},
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
		n.workspaces.Join("ciscotest", req.Conn)
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Agent", Subtopic: "Joined", CorrelationID: req.ID})
	}))
	srv := httptest.NewServer(bus)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, bus.Shutdown(ctx))
		srv.Close()
	})
	n.url = "ws" + srv.URL[len("http"):]
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

// fireGrace waits for n's grace period to start, then ends it.
func (n *clusterNode) fireGrace(t *testing.T) {
	t.Helper()
	var fire func()
	require.Eventually(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		if len(n.timers) == 0 {
			return false
		}
		fire, n.timers = n.timers[0], n.timers[1:]
		return true
	}, eventually, 5*time.Millisecond, "a grace period starts")
	fire()
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
	var fire func()
	require.Eventually(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		if len(n.timers) == 0 {
			return false
		}
		fire = n.timers[0]
		return true
	}, eventually, 5*time.Millisecond, "a grace period starts")
	n.workspaces.Close()
	fire()
	assert.Empty(t, n.signedOut(), "a stopping node signs nobody out")
}
