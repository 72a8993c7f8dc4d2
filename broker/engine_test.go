package broker_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

// recorder is an Engine that keeps what it is given, and fails with err.
type recorder struct {
	mu    sync.Mutex // guards the fields below
	sent  []broker.Message
	wants map[broker.Interest]int // Want calls not yet undone
	err   error
}

func (r *recorder) Want(is ...broker.Interest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wants == nil {
		r.wants = make(map[broker.Interest]int)
	}
	for _, i := range is {
		r.wants[i]++
	}
	return nil
}

func (r *recorder) Unwant(is ...broker.Interest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, i := range is {
		if r.wants[i]--; r.wants[i] == 0 {
			delete(r.wants, i)
		}
	}
}

// wanted returns the interests wanted and not undone, with their counts.
func (r *recorder) wanted() map[broker.Interest]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.wants)
}

func (r *recorder) Publish(m broker.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return r.err
}

func (r *recorder) messages() []broker.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]broker.Message(nil), r.sent...)
}

func TestPublishGivesTheEngineTheDeliveredFrame(t *testing.T) {
	s := newServer(t, broker.Config{})
	engine := &recorder{}
	s.b.SetEngine(engine)
	sender := s.app(t, "softphone", "ws-1")
	peer := s.app(t, "crm", "ws-1")
	peer.Subscribe("CRM", "*", "*")
	alone := brokertest.Dial(t, s.url) // in its own scope
	alone.Register("alone", "Test")

	sender.Request("e", "test", "echo", "echo", "hello")
	echoed := peer.Expect("Test/Echo/Echoed")
	sender.Send(map[string]any{"channel": "crm", "topic": "Screenpop", "subtopic": "Show", "data": "relayed"})
	relayed := peer.Expect("crm/Screenpop/Show")
	alone.Request("o", "Test", "Echo", "Echo", "own scope")
	alone.Expect("Test/Echo/Echoed")
	require.NoError(t, s.b.PublishLocal("ws-1", broker.Event{Channel: "Test", Topic: "Local", Subtopic: "Only"}))
	peer.Expect("Test/Local/Only")
	// Publish delivers here before it hands the engine the frame: the
	// sender's next request, served after its last, waits for both.
	sender.Expect("Test/Echo/Echoed")
	sender.Expect("Test/Local/Only")
	sender.ExpectNothingQueued()

	assert.Equal(t, []broker.Message{
		{Scope: "ws-1", Channel: "Test", Topic: "Echo", Subtopic: "Echoed", Frame: echoed.Raw},
		{Scope: "ws-1", Channel: "crm", Topic: "Screenpop", Subtopic: "Show", Frame: relayed.Raw},
	}, engine.messages(), "own-scope and local events stay on the node")
}

func TestPublishReturnsTheEngineError(t *testing.T) {
	s := newServer(t, broker.Config{})
	errDown := errors.New("down")
	s.b.SetEngine(&recorder{err: errDown})
	member := s.app(t, "crm", "ws-1")

	err := s.b.Publish("ws-1", broker.Event{Channel: "Test", Topic: "Echo", Subtopic: "Echoed", Message: "x"})
	assert.ErrorIs(t, err, errDown)
	assert.ErrorContains(t, err, "Test/Echo/Echoed")
	member.Expect("Test/Echo/Echoed") // delivered here all the same
}

func TestDeliverReachesScopeAndWatchers(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newServer(t, broker.Config{Metrics: broker.NewMetrics(reg)})
	s.b.SetAdmitter(admitter{})
	engine := &recorder{}
	s.b.SetEngine(engine)
	member := s.app(t, "crm", "ws-1")
	outsider := s.app(t, "crm", "ws-2")
	watcher := brokertest.Dial(t, s.url)
	watcher.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "wallboard",
		"data": map[string]string{"key": "watcher"}})
	watcher.Expect("PubSub/App/Registered")
	watcher.Subscribe("Feed", "Agent", "*")
	member.Subscribe("Feed", "*", "*")
	outsider.Subscribe("Feed", "*", "*")

	frame := []byte(`{"id":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","channel":"Feed","topic":"Agent","subtopic":"State","source":"node-b","message":"ready","timestamp":"2026-01-02T03:04:05.000Z"}`)
	s.b.Deliver(broker.Message{Scope: "ws-1", Channel: "Feed", Topic: "Agent", Subtopic: "State", Frame: frame})
	assert.Equal(t, 2.0, deliveries(t, reg), "Deliver counts its deliveries")

	assert.Equal(t, string(frame), string(member.Expect("Feed/Agent/State").Raw))
	assert.Equal(t, string(frame), string(watcher.Expect("Feed/Agent/State").Raw))
	outsider.Request("m", "Test", "Echo", "Echo", "marker")
	assert.JSONEq(t, `"marker"`, string(outsider.Expect("Test/Echo/Echoed").Message), "nothing crossed into ws-2")
	// Publish delivers here before it hands the engine the frame: the
	// outsider's next request, served after its echo, waits for both.
	outsider.ExpectNothingQueued()
	sent := engine.messages()
	require.Len(t, sent, 1, "a delivered message is not sent on")
	assert.Equal(t, broker.Scope("ws-2"), sent[0].Scope)
}

// deliveries reads ctibus_fanout_deliveries_total.
func deliveries(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "ctibus_fanout_deliveries_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestHubCarriesEventsBetweenBrokers(t *testing.T) {
	var hub broker.Hub
	a, b, apart := newServer(t, broker.Config{}), newServer(t, broker.Config{}), newServer(t, broker.Config{})
	hub.Join(a.b)
	hub.Join(b.b)

	sender := a.app(t, "softphone", "S")
	peer := b.app(t, "crm", "S")
	stranger := b.app(t, "crm", "T")
	outsider := apart.app(t, "crm", "S") // a broker off the hub
	for _, c := range []*brokertest.Client{sender, peer, stranger, outsider} {
		c.Subscribe("CRM", "*", "*")
	}

	// An app-to-app message crosses to the other broker's scope S, not to
	// its sender, another scope or a broker off the hub.
	sender.Send(map[string]any{"id": "pop", "channel": "CRM", "topic": "Screen", "subtopic": "Pop", "data": "call"})
	got := peer.Expect("CRM/Screen/Pop")
	assert.Equal(t, "softphone", got.Source)
	assert.Equal(t, "pop", got.CorrelationID)

	// The peer's answer crosses back; had the sender's own message come
	// back to it, it would have come first.
	peer.Send(map[string]any{"channel": "CRM", "topic": "Screen", "subtopic": "Marker", "data": "m"})
	assert.Equal(t, "CRM/Screen/Marker", sender.Expect("CRM/Screen/Marker").Triple(), "the sender got no echo of its own message")
	// The sender's requests run in order and the hub delivers at once: by
	// the time its next request is answered, its message has been queued
	// for every connection it reached, on every broker.
	sender.ExpectNothingQueued()
	stranger.ExpectNothingQueued()
	outsider.ExpectNothingQueued()
}

func TestEngineIsAskedForTheScopesConnectionsAreIn(t *testing.T) {
	s := newServer(t, broker.Config{})
	s.b.SetAdmitter(admitter{})
	engine := &recorder{}
	s.b.SetEngine(engine)
	ws1 := broker.Interest{Scope: "ws-1"}

	a := s.app(t, "crm", "ws-1")
	b := s.app(t, "softphone", "ws-1")
	c := s.app(t, "crm", "ws-2")
	alone := brokertest.Dial(t, s.url) // its own scope stays off the engine
	alone.Register("alone", "Test")
	watcher := admitted(t, s, "watcher")
	supervisor := admitted(t, s, "supervisor")
	assert.Equal(t, map[broker.Interest]int{ws1: 3, {Scope: "ws-2"}: 1, {Scope: "ws-", Prefix: true}: 1}, engine.wanted(),
		"one want per connection in a scope or watching it, none for a connection's own scope")

	c.Request("", "Test", "Scope", "Join", "ws-1") // moves: ws-2 is no longer wanted
	c.Expect("Test/Scope/Joined")
	assert.Equal(t, map[broker.Interest]int{ws1: 4, {Scope: "ws-", Prefix: true}: 1}, engine.wanted())

	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()
	require.NoError(t, s.b.Shutdown(ctx)) // returns once every connection has ended
	assert.Empty(t, engine.wanted(), "closed connections want nothing")
	for _, conn := range []*brokertest.Client{a, b, c, watcher, supervisor, alone} {
		conn.ExpectClose()
	}
}

// admitted dials s and registers as the wallboard with key, which the test
// admitter grants Feed/Agent/* (watching ws-1 for "watcher", every "ws-"
// scope for "supervisor"), and subscribes to it.
func admitted(t *testing.T, s *server, key string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, s.url)
	c.RegisterWith("wallboard", map[string]string{"key": key})
	c.Subscribe("Feed", "Agent", "*")
	return c
}

// TestDeliverServesTheRecipientsOfItsPath: an engine that brings one event
// both for the scope and for a prefix names the recipients of each path,
// so that each connection gets the event once.
func TestDeliverServesTheRecipientsOfItsPath(t *testing.T) {
	s := newServer(t, broker.Config{})
	s.b.SetAdmitter(admitter{})
	member := s.app(t, "crm", "ws-1")
	member.Subscribe("Feed", "*", "*")
	watcher := admitted(t, s, "watcher")
	supervisor := admitted(t, s, "supervisor")

	frame := func(n string) []byte {
		return []byte(`{"id":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","channel":"Feed","topic":"Agent","subtopic":"State","source":"node-b","message":"` + n + `","timestamp":"2026-01-02T03:04:05.000Z"}`)
	}
	for _, tt := range []struct {
		give broker.Audience
		want []*brokertest.Client
	}{
		{broker.ForAll, []*brokertest.Client{member, watcher, supervisor}},
		{broker.ForScope, []*brokertest.Client{member, watcher}},
		{broker.ForPrefixWatchers, []*brokertest.Client{supervisor}},
	} {
		n := strconv.Itoa(int(tt.give))
		s.b.Deliver(broker.Message{Scope: "ws-1", Channel: "Feed", Topic: "Agent", Subtopic: "State", Frame: frame(n), For: tt.give})
		for _, c := range tt.want {
			assert.JSONEq(t, strconv.Quote(n), string(c.Expect("Feed/Agent/State").Message), "audience %d", tt.give)
		}
	}
	for _, c := range []*brokertest.Client{member, watcher, supervisor} {
		c.ExpectNothingQueued()
	}
}
