package natsbus_test

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/broker/natsbus"
	"github.com/ctibus/ctibus/internal/natstest"
)

// nodes returns n nodes sharing one NATS server.
func nodes(t *testing.T, n int) []*node {
	s := natstest.Start(t, "")
	all := make([]*node, n)
	for i := range all {
		all[i] = newNode(t, s, broker.Config{})
	}
	return all
}

// echo publishes Test/Echo/Echoed into scope on n, with message as its
// message: another node's event, as far as the other nodes can tell.
func (n *node) echo(t *testing.T, scope broker.Scope, message string) {
	t.Helper()
	require.NoError(t, n.b.Publish(scope, broker.Event{Channel: "Test", Topic: "Echo", Subtopic: "Echoed", Message: message}))
}

// TestEventPublishedRightAfterAJoinArrives: once a join is answered, the
// node's subscription to the scope is in place, so an event another node
// publishes at once reaches the app; nothing waits but the answer.
func TestEventPublishedRightAfterAJoinArrives(t *testing.T) {
	all := nodes(t, 3)
	publisher := all[0]
	for i := range 20 {
		joiner := all[1+i%2]
		scope := "fresh-" + strconv.Itoa(i) // no node has wanted it before
		app := joiner.app(t, "crm", scope)
		publisher.echo(t, broker.Scope(scope), scope)
		assert.JSONEq(t, strconv.Quote(scope), string(app.Expect("Test/Echo/Echoed").Message))
	}
}

// TestJoinAfterTheLastLeftArrives: the last connection of a scope leaves,
// which unsubscribes, and another joins at once: the new subscription is
// in place before its join is answered.
func TestJoinAfterTheLastLeftArrives(t *testing.T) {
	all := nodes(t, 2)
	publisher, here := all[0], all[1]
	first := here.app(t, "crm", "S")
	for i := range 20 {
		// first leaves S for T: S has no connection left on the node.
		first.Request("", "Test", "Scope", "Join", "T-"+strconv.Itoa(i))
		first.Expect("Test/Scope/Joined")
		second := here.app(t, "softphone", "S")
		publisher.echo(t, "S", "again-"+strconv.Itoa(i))
		assert.JSONEq(t, strconv.Quote("again-"+strconv.Itoa(i)), string(second.Expect("Test/Echo/Echoed").Message))
		// second leaves, first comes back: the same, the other way.
		second.Conn().Close()
		first.Request("", "Test", "Scope", "Join", "S")
		first.Expect("Test/Scope/Joined")
		publisher.echo(t, "S", "back-"+strconv.Itoa(i))
		assert.JSONEq(t, strconv.Quote("back-"+strconv.Itoa(i)), string(first.Expect("Test/Echo/Echoed").Message))
	}
}

// TestWatchersGetEventsPublishedRightAfterAdmission: an app admitted as a
// watcher, of one scope or of every scope of a prefix, gets what another
// node publishes right after its Register is answered.
func TestWatchersGetEventsPublishedRightAfterAdmission(t *testing.T) {
	all := nodes(t, 2)
	publisher, here := all[0], all[1]
	for _, tt := range []struct {
		key   string
		scope broker.Scope // a scope it watches, and no connection of the node before it
	}{
		{"watcher", "ws-1"},    // watches ws-1
		{"team", "ws-4"},       // watches ws-3, ws-4 and ws-1
		{"supervisor", "ws-9"}, // watches every "ws-" scope
	} {
		c := here.wallboard(t, tt.key)
		require.NoError(t, publisher.b.Publish(tt.scope, broker.Event{Channel: "Feed", Topic: "Agent", Subtopic: "State", Message: tt.key}))
		assert.JSONEq(t, strconv.Quote(tt.key), string(c.Expect("Feed/Agent/State").Message))
	}
}

// TestEventsCrossOnlyToNodesWithARecipient: a node with no connection in a
// scope, and none watching it, receives nothing of it from NATS.
func TestEventsCrossOnlyToNodesWithARecipient(t *testing.T) {
	all := nodes(t, 3)
	a, b, c := all[0], all[1], all[2]
	a.app(t, "softphone", "S")
	inS := b.app(t, "crm", "S")
	inT := c.app(t, "crm", "T")

	const events = 100
	for i := range events {
		a.echo(t, "S", strconv.Itoa(i))
	}
	a.echo(t, "T", "marker")
	for i := range events {
		assert.JSONEq(t, strconv.Quote(strconv.Itoa(i)), string(inS.Expect("Test/Echo/Echoed").Message))
	}
	assert.JSONEq(t, `"marker"`, string(inT.Expect("Test/Echo/Echoed").Message))
	assert.Equal(t, uint64(events), b.engine.Received(), "S's node gets S's events")
	assert.Equal(t, uint64(1), c.engine.Received(), "T's node gets T's marker alone")
	assert.Zero(t, a.engine.Received(), "nothing comes back to the publisher")
}

// TestWatcherAndMemberOnOneNodeGetAnEventOnce: a node with a connection
// in a scope and another watching every scope holds two subscriptions
// that both match the scope's events; each connection still gets each
// event once, in order.
func TestWatcherAndMemberOnOneNodeGetAnEventOnce(t *testing.T) {
	all := nodes(t, 2)
	publisher, here := all[0], all[1]
	supervisor := here.wallboard(t, "supervisor")
	member := here.app(t, "crm", "ws-1")
	member.Subscribe("Feed", "*", "*")
	assert.Equal(t, 2, here.engine.Subscriptions(), "ws-1 and every event")

	const events = 50
	for i := range events {
		require.NoError(t, publisher.b.Publish("ws-1", broker.Event{Channel: "Feed", Topic: "Agent", Subtopic: "State", Message: i}))
	}
	publisher.echo(t, "ws-1", "marker") // not Feed: the supervisor's grant leaves it out
	require.NoError(t, publisher.b.Publish("ws-2", broker.Event{Channel: "Feed", Topic: "Agent", Subtopic: "Marker"}))
	for i := range events {
		assert.Equal(t, strconv.Itoa(i), string(member.Expect("Feed/Agent/State").Message))
		assert.Equal(t, strconv.Itoa(i), string(supervisor.Expect("Feed/Agent/State").Message))
	}
	assert.JSONEq(t, `"marker"`, string(member.Expect("Test/Echo/Echoed").Message), "no second copy before the marker")
	supervisor.Expect("Feed/Agent/Marker")
}

// TestPatternsMakeNoSubscriptions: what a client subscribes to changes
// nothing in NATS; only the scope it is in does. However many patterns
// hostile clients subscribe to, a node holds one subscription per scope.
func TestPatternsMakeNoSubscriptions(t *testing.T) {
	all := nodes(t, 1)
	n := all[0]
	c := n.app(t, "crm", "S")
	for i := range 100 { // the default MaxSubscriptions
		c.Subscribe("App"+strconv.Itoa(i), "*", strconv.Itoa(i))
	}
	n.app(t, "crm", "S")
	assert.Equal(t, 1, n.engine.Subscriptions())
}

// TestConcurrentWantsAndUnwantsBalance: joins and leaves racing on a few
// scopes leave no subscription behind, and every Want returns with its
// subscription in place.
func TestConcurrentWantsAndUnwantsBalance(t *testing.T) {
	s := natstest.Start(t, "")
	e, err := natsbus.New(natstest.Connect(t, s, nats.NoEcho()), func(broker.Message) {}, natsbus.Options{Linger: -1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				in := broker.Interest{Scope: broker.Scope(fmt.Sprintf("S%d", (g+i)%3)), Prefix: i%7 == 0}
				assert.NoError(t, e.Want(in))
				e.Unwant(in)
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return e.Subscriptions() == 0 }, brokertest.Wait, 10*time.Millisecond,
		"the subscriptions nobody wants go")
}

// TestLeftScopeKeepsItsSubscriptionForTheLinger: a scope's last connection
// leaving does not unsubscribe at once: its events still arrive, and a
// connection joining again finds the subscription in place.
func TestLeftScopeKeepsItsSubscriptionForTheLinger(t *testing.T) {
	s := natstest.Start(t, "")
	received := make(chan broker.Message, 1)
	e, err := natsbus.New(natstest.Connect(t, s, nats.NoEcho()), func(m broker.Message) { received <- m }, natsbus.Options{Linger: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	in := broker.Interest{Scope: "S"}
	require.NoError(t, e.Want(in))
	held := s.NumSubscriptions()

	e.Unwant(in)
	publisher := natstest.Connect(t, s)
	require.NoError(t, publisher.Publish("ctibus.ev.S.Test.Echo.Echoed", []byte(`{"channel":"Test"}`)))
	require.NoError(t, publisher.Flush())
	select {
	case m := <-received:
		assert.Equal(t, broker.Scope("S"), m.Scope)
	case <-time.After(brokertest.Wait):
		t.Fatal("an event of the scope just left did not arrive")
	}
	require.NoError(t, e.Want(in))
	assert.Equal(t, held, s.NumSubscriptions(), "the same subscription serves the scope again")
	assert.Equal(t, 1, e.Subscriptions())
}

// TestSubscriptionsComeBackAfterNATSRestarts: a join while NATS is away is
// answered without waiting for it, and once the nodes are back every
// subscription is in place again, the one made while away included.
func TestSubscriptionsComeBackAfterNATSRestarts(t *testing.T) {
	dir := t.TempDir()
	s := natstest.Start(t, dir)
	port := s.Addr().(*net.TCPAddr).Port
	a, b := newNode(t, s, broker.Config{}), newNode(t, s, broker.Config{})
	before := b.app(t, "crm", "before")

	s.Shutdown()
	s.WaitForShutdown()
	require.Eventually(t, func() bool { return b.nc.Status() == nats.RECONNECTING }, brokertest.Wait, 10*time.Millisecond)
	during := b.app(t, "crm", "during") // answered without the server

	natstest.StartOn(t, dir, port)
	for _, n := range []*node{a, b} {
		require.Eventually(t, n.nc.IsConnected, 2*brokertest.Wait, 10*time.Millisecond, "the client reconnects by itself")
	}
	// The client sends its subscriptions again as it reconnects; a round
	// trip after that proves the server has them.
	require.NoError(t, b.nc.Flush())
	a.echo(t, "before", "before")
	a.echo(t, "during", "during")
	assert.JSONEq(t, `"before"`, string(before.Expect("Test/Echo/Echoed").Message))
	assert.JSONEq(t, `"during"`, string(during.Expect("Test/Echo/Echoed").Message))
}
