package natsbus_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/broker/natsbus"
	"github.com/ctibus/ctibus/internal/natstest"
)

// node is one ctibus node: a broker on a real HTTP server, joined to the
// others through a NATS server (or alone, without one). Its test APIs on
// the handled channel "Test": Join moves the caller into the scope named
// by its data; Echo publishes the request's data into the caller's scope
// as Test/Echo/Echoed, and Local does the same with PublishLocal.
type node struct {
	b      *broker.Broker
	url    string
	nc     *nats.Conn      // nil when alone
	engine *natsbus.Engine // nil when alone
}

func newNode(tb testing.TB, s *server.Server, cfg broker.Config) *node {
	tb.Helper()
	log := zaptest.NewLogger(tb, zaptest.Level(zap.InfoLevel))
	b := broker.New(log, cfg)
	b.SetAdmitter(watchers{})
	b.Handle("Test", "Scope", "Join", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		var scope string
		if err := json.Unmarshal(req.Data, &scope); err != nil {
			return &broker.APIError{Type: broker.ErrTypeInvalidInput, Message: err.Error(), Msg: "send a scope name"}
		}
		req.Conn.SetScope(broker.Scope(scope))
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Scope", Subtopic: "Joined", CorrelationID: req.ID})
	}))
	echo := func(publish func(broker.Scope, broker.Event) error) broker.Handler {
		return broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
			return publish(req.Conn.Scope(), broker.Event{
				Channel: "Test", Topic: "Echo", Subtopic: "Echoed", Message: req.Data, CorrelationID: req.ID,
			})
		})
	}
	b.Handle("Test", "Echo", "Echo", echo(b.Publish))
	b.Handle("Test", "Echo", "Local", echo(b.PublishLocal))
	// About publishes Feed/Agent/About into the caller's scope, about the
	// scope named by its data.
	b.Handle("Test", "Echo", "About", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		var about string
		if err := json.Unmarshal(req.Data, &about); err != nil {
			return &broker.APIError{Type: broker.ErrTypeInvalidInput, Message: err.Error(), Msg: "send a scope name"}
		}
		return b.Publish(req.Conn.Scope(), broker.Event{
			Channel: "Feed", Topic: "Agent", Subtopic: "About", Message: about, CorrelationID: req.ID, About: broker.Scope(about),
		})
	}))
	mux := http.NewServeMux()
	mux.Handle("/ws", b)
	n := &node{b: b, url: brokertest.Serve(tb, b, mux)}
	if s != nil {
		n.nc = natstest.Connect(tb, s, nats.NoEcho())
		e, err := natsbus.New(n.nc, b.Deliver, natsbus.Options{Log: log})
		require.NoError(tb, err)
		b.SetEngine(e)
		n.engine = e
		tb.Cleanup(func() { assert.NoError(tb, e.Close()) })
	}
	return n
}

// app dials, registers as name on the Test channel and joins scope.
func (n *node) app(t testing.TB, name, scope string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, n.url)
	c.Register(name, "Test")
	c.Request("", "Test", "Scope", "Join", scope)
	c.Expect("Test/Scope/Joined")
	return c
}

// wallboard dials n, registers with key (see watchers) and subscribes to
// Feed/Agent/*.
func (n *node) wallboard(t testing.TB, key string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, n.url)
	c.RegisterWith("wallboard", map[string]string{"key": key})
	c.Subscribe("Feed", "Agent", "*")
	return c
}

// watchers admits {"key":"watcher"} as an app granted Feed/Agent/* in
// scope "ws-1", {"key":"team"} in "ws-3", "ws-4" and "ws-1", and
// {"key":"supervisor"} granted Feed/Agent/* everywhere.
type watchers struct{}

func (watchers) Admit(_ context.Context, c *broker.Conn, reg broker.Registration) error {
	key, err := reg.Fields.String("key")
	if err != nil || key == "" {
		return err
	}
	p, _ := broker.ParsePattern("Feed", "Agent", "*")
	c.SetGrant(broker.Grant{Subscribe: []broker.Pattern{p}})
	switch key {
	case "watcher":
		c.Watch("ws-1")
	case "team":
		c.Watch("ws-3", "ws-4", "ws-1")
	case "supervisor":
		c.WatchAll("ws-")
	}
	return nil
}

// twoNodes returns two nodes sharing one NATS server.
func twoNodes(t *testing.T, cfg broker.Config) (a, b *node, s *server.Server) {
	s = natstest.Start(t, "")
	return newNode(t, s, cfg), newNode(t, s, cfg), s
}

func TestEventCrossesNodesWithinItsScope(t *testing.T) {
	nodeA, nodeB, _ := twoNodes(t, broker.Config{})
	a1 := nodeA.app(t, "a1", "S")
	a2 := nodeA.app(t, "a2", "S")
	b1 := nodeB.app(t, "b1", "S")
	b2 := nodeB.app(t, "b2", "T")

	a1.Request("x", "Test", "Echo", "Echo", "x")
	sent := a1.Expect("Test/Echo/Echoed")
	assert.Equal(t, sent.Raw, a2.Expect("Test/Echo/Echoed").Raw)
	got := b1.Expect("Test/Echo/Echoed")
	assert.Equal(t, string(sent.Raw), string(got.Raw), "the frame crosses byte for byte")

	// Markers published on B come to A through NATS after A's own event
	// would have come back, had it been echoed; b2's marker is local, and
	// would follow A's event, had it crossed into T.
	b1.Request("m", "Test", "Echo", "Echo", "marker")
	for _, c := range []*brokertest.Client{b1, a1, a2} {
		assert.JSONEq(t, `"marker"`, string(c.Expect("Test/Echo/Echoed").Message))
	}
	b2.Request("m", "Test", "Echo", "Echo", "marker")
	assert.JSONEq(t, `"marker"`, string(b2.Expect("Test/Echo/Echoed").Message))
}

func TestRelayCrossesNodesWithoutEcho(t *testing.T) {
	nodeA, nodeB, _ := twoNodes(t, broker.Config{})
	sender := nodeA.app(t, "softphone", "S")
	peer := nodeB.app(t, "crm", "S")
	other := nodeB.app(t, "crm", "T")
	for _, c := range []*brokertest.Client{sender, peer, other} {
		c.Subscribe("CRM", "*", "*")
	}

	sender.Send(map[string]any{"id": "p1", "channel": "CRM", "topic": "Screenpop", "subtopic": "Show", "data": "call"})
	got := peer.Expect("CRM/Screenpop/Show")
	assert.Equal(t, "softphone", got.Source)
	assert.Equal(t, "p1", got.CorrelationID)
	assert.JSONEq(t, `"call"`, string(got.Message))

	// The peer's answer reaches the sender through NATS after the sender's
	// own message would have; the other scope's marker is local.
	peer.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Shown", "data": "marker"})
	assert.JSONEq(t, `"marker"`, string(sender.Expect("CRM/Screenpop/Shown").Message))
	other.Request("m", "Test", "Echo", "Echo", "marker")
	assert.JSONEq(t, `"marker"`, string(other.Expect("Test/Echo/Echoed").Message))
}

func TestWatchersSeeOtherNodesEvents(t *testing.T) {
	nodeA, nodeB, _ := twoNodes(t, broker.Config{})
	watcher := nodeB.wallboard(t, "watcher")
	supervisor := nodeB.wallboard(t, "supervisor")
	ws1 := nodeA.app(t, "softphone", "ws-1")
	ws2 := nodeA.app(t, "softphone", "ws-2")

	ws1.Send(map[string]any{"channel": "Feed", "topic": "Call", "subtopic": "Ringing", "data": "not granted"})
	ws2.Send(map[string]any{"channel": "Feed", "topic": "Agent", "subtopic": "State", "data": "ws-2"})
	ws1.Send(map[string]any{"channel": "Feed", "topic": "Agent", "subtopic": "State", "data": "ws-1"})

	assert.JSONEq(t, `"ws-1"`, string(watcher.Expect("Feed/Agent/State").Message), "only its scope, only its grant")
	// Two senders: no order between them (protocol 3.5).
	seen := []string{string(supervisor.Expect("Feed/Agent/State").Message), string(supervisor.Expect("Feed/Agent/State").Message)}
	assert.ElementsMatch(t, []string{`"ws-1"`, `"ws-2"`}, seen)
}

func TestEventAboutAnotherScopeReachesOnlyItsWatchersAcrossNodes(t *testing.T) {
	nodeA, nodeB, _ := twoNodes(t, broker.Config{})
	watcher := brokertest.Dial(t, nodeB.url) // watches ws-1 only
	watcher.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "wallboard",
		"data": map[string]string{"key": "watcher"}})
	watcher.Expect("PubSub/App/Registered")
	watcher.Subscribe("Feed", "Agent", "*")
	ws1 := nodeA.app(t, "softphone", "ws-1")

	ws1.Request("other", "Test", "Echo", "About", "ws-2")
	ws1.Request("own", "Test", "Echo", "About", "ws-1")
	f := watcher.Expect("Feed/Agent/About")
	assert.Equal(t, "own", f.CorrelationID, "the event about ws-2 stayed out of the watcher's view")
}

func TestOrderAcrossNodes(t *testing.T) {
	const events = 1000
	nodeA, nodeB, _ := twoNodes(t, broker.Config{SendQueue: 2 * events})
	receiver := nodeB.app(t, "crm", "S")
	for i := range events {
		require.NoError(t, nodeA.b.Publish("S", broker.Event{Channel: "Test", Topic: "Seq", Subtopic: "N", Message: i}))
	}
	for i := range events {
		f := receiver.Expect("Test/Seq/N")
		require.Equal(t, strconv.Itoa(i), string(f.Message))
	}
}

func TestNodeLocalEventsStayOffNATS(t *testing.T) {
	nodeA, nodeB, s := twoNodes(t, broker.Config{})
	spy := natstest.Connect(t, s)
	sub, err := spy.SubscribeSync("ctibus.ev.>")
	require.NoError(t, err)
	require.NoError(t, spy.Flush(), "the server has the subscription before anything is published")
	alone := brokertest.Dial(t, nodeA.url) // in its own conn:<id> scope
	alone.Register("alone", "Test")
	member := nodeA.app(t, "a1", "S")
	peer := nodeB.app(t, "b1", "S")

	alone.Request("p", "Test", "Echo", "Echo", "own scope")
	alone.Expect("Test/Echo/Echoed")
	member.Request("l", "Test", "Echo", "Local", "local")
	assert.JSONEq(t, `"local"`, string(member.Expect("Test/Echo/Echoed").Message))
	member.Request("c", "Test", "Echo", "Echo", "cluster")
	member.Expect("Test/Echo/Echoed")

	msg, err := sub.NextMsg(brokertest.Wait)
	require.NoError(t, err)
	assert.Equal(t, "ctibus.ev.S.Test.Echo.Echoed", msg.Subject, "the first event on NATS is the cluster one")
	assert.Contains(t, string(msg.Data), `"cluster"`)
	assert.JSONEq(t, `"cluster"`, string(peer.Expect("Test/Echo/Echoed").Message), "the local event did not cross")
}

func TestNewRefusesEcho(t *testing.T) {
	s := natstest.Start(t, "")
	_, err := natsbus.New(natstest.Connect(t, s), func(broker.Message) {}, natsbus.Options{})
	assert.ErrorIs(t, err, natsbus.ErrEcho)
}

func TestNewRefusesBadPrefix(t *testing.T) {
	s := natstest.Start(t, "")
	nc := natstest.Connect(t, s, nats.NoEcho())
	for _, prefix := range []string{"a..b", "a.*", ">", "has space", "end."} {
		_, err := natsbus.New(nc, func(broker.Message) {}, natsbus.Options{Prefix: prefix})
		assert.Error(t, err, prefix)
	}
}

func TestPrefixSeparatesClusters(t *testing.T) {
	s := natstest.Start(t, "")
	received := make(chan broker.Message, 10)
	engine := func(prefix string) (*natsbus.Engine, *nats.Conn) {
		nc := natstest.Connect(t, s, nats.NoEcho())
		e, err := natsbus.New(nc, func(m broker.Message) { received <- m }, natsbus.Options{Prefix: prefix})
		require.NoError(t, err)
		require.NoError(t, e.Want(broker.Interest{Scope: "S"}))
		t.Cleanup(func() { assert.NoError(t, e.Close()) })
		return e, nc
	}
	engine("green") // a node that only receives
	blue, blueConn := engine("blue.site")
	green, _ := engine("green")
	m := broker.Message{Scope: "S", Channel: "C", Topic: "T", Subtopic: "", Frame: []byte(`{"n":1}`)}
	require.NoError(t, blue.Publish(m))
	m.Frame = []byte(`{"n":2}`)
	require.NoError(t, green.Publish(m))
	select {
	case got := <-received:
		m.For = broker.ForScope
		assert.Equal(t, m, got, "green's event reached the other green node only")
	case <-time.After(brokertest.Wait):
		t.Fatal("no event")
	}
	// A marker for green, from blue's connection after blue's event: NATS
	// keeps one connection's order, so had blue's event reached green, it
	// would come before the marker.
	require.NoError(t, blueConn.Publish("green.ev.S.C.T.%", []byte(`{"marker":true}`)))
	select {
	case got := <-received:
		assert.Equal(t, broker.Message{Scope: "S", Channel: "C", Topic: "T", Frame: []byte(`{"marker":true}`), For: broker.ForScope}, got, "blue's event stayed in blue's cluster")
	case <-time.After(brokertest.Wait):
		t.Fatal("no marker")
	}
}

func TestMalformedSubjectIsDropped(t *testing.T) {
	s := natstest.Start(t, "")
	received := make(chan broker.Message, 10)
	e, err := natsbus.New(natstest.Connect(t, s, nats.NoEcho()), func(m broker.Message) { received <- m }, natsbus.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	require.NoError(t, e.Want(broker.Interest{Scope: "S"}))
	raw := natstest.Connect(t, s)
	require.NoError(t, raw.Publish("ctibus.ev.S.C.T", []byte("three tokens")))
	require.NoError(t, raw.Publish("ctibus.ev.S.C.T.%2e", []byte("lowercase escape")))
	require.NoError(t, raw.Publish("ctibus.ev.S.C.T.%", []byte("{}")))
	select {
	case got := <-received:
		assert.Equal(t, broker.Message{Scope: "S", Channel: "C", Topic: "T", Frame: []byte("{}"), For: broker.ForScope}, got)
	case <-time.After(brokertest.Wait):
		t.Fatal("no event")
	}
}

func TestPublishWhileDisconnected(t *testing.T) {
	s := natstest.Start(t, "")
	n := newNode(t, s, broker.Config{})
	member := n.app(t, "a1", "S")

	s.Shutdown() // the client reconnects, buffering what is published meanwhile
	require.Eventually(t, func() bool { return n.nc.Status() == nats.RECONNECTING }, brokertest.Wait, 10*time.Millisecond)
	require.NoError(t, n.b.Publish("S", broker.Event{Channel: "Test", Topic: "Buffered", Subtopic: "N"}))
	member.Expect("Test/Buffered/N")

	n.nc.Close()
	err := n.b.Publish("S", broker.Event{Channel: "Test", Topic: "Closed", Subtopic: "N"})
	assert.ErrorIs(t, err, nats.ErrConnectionClosed)
	member.Expect("Test/Closed/N") // the node's own connections have it all the same
}

func TestCloseAfterConnectionClosed(t *testing.T) {
	s := natstest.Start(t, "")
	nc := natstest.Connect(t, s, nats.NoEcho())
	e, err := natsbus.New(nc, func(broker.Message) {}, natsbus.Options{})
	require.NoError(t, err)
	nc.Close()
	assert.ErrorIs(t, e.Publish(broker.Message{Scope: "S", Channel: "C", Topic: "T", Subtopic: "S"}), nats.ErrConnectionClosed)
	assert.NoError(t, e.Close())
	assert.NoError(t, e.Close(), "twice")
}
