package broker_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

func TestMain(m *testing.M) {
	brokertest.FixtureChannels("Test") // the channel newServer handles
	goleak.VerifyTestMain(m)
}

// server is a broker on a real HTTP server, with two test APIs on the
// handled channel "Test": Join moves the caller into the scope named by its
// data (as a sign-in does), and Echo publishes the request's data into the
// caller's scope as Test/Echo/Echoed. Test/Big/Answer answers with an event
// of the size in bytes its data gives, and Test/Panic/Now panics.
type server struct {
	b   *broker.Broker
	url string
}

func newServer(t *testing.T, cfg broker.Config) *server {
	t.Helper()
	return newServerLogging(t, cfg, zaptest.NewLogger(t))
}

// newServerLogging is newServer logging to log.
func newServerLogging(t *testing.T, cfg broker.Config, log *zap.Logger) *server {
	t.Helper()
	b := broker.New(log, cfg)
	b.Handle("Test", "Scope", "Join", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		var scope string
		if err := json.Unmarshal(req.Data, &scope); err != nil {
			return &broker.APIError{Type: broker.ErrTypeInvalidInput, Message: err.Error(), Msg: "send a scope name"}
		}
		req.Conn.SetScope(broker.Scope(scope))
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Scope", Subtopic: "Joined", CorrelationID: req.ID})
	}))
	b.Handle("Test", "Echo", "Echo", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		return b.Publish(req.Conn.Scope(), broker.Event{
			Channel: "Test", Topic: "Echo", Subtopic: "Echoed", Message: req.Data, CorrelationID: req.ID,
		})
	}))
	b.Handle("Test", "Big", "Answer", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		var size int
		if err := json.Unmarshal(req.Data, &size); err != nil {
			return &broker.APIError{Type: broker.ErrTypeInvalidInput, Message: err.Error(), Msg: "send a size"}
		}
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Big", Subtopic: "Answered",
			Message: strings.Repeat("x", size), CorrelationID: req.ID})
	}))
	b.Handle("Test", "Panic", "Now", broker.HandlerFunc(func(context.Context, *broker.Request) error {
		var m map[string]int
		m["boom"]++ // a nil map: the kind of bug that panics in production
		return nil
	}))
	b.Handle("Test", "Fail", "Plain", broker.HandlerFunc(func(context.Context, *broker.Request) error {
		return os.ErrPermission
	}))
	mux := http.NewServeMux()
	mux.Handle("/ws", b)
	return &server{b: b, url: brokertest.Serve(t, b, mux)}
}

// app dials, registers as name on the Test channel and joins scope.
func (s *server) app(t *testing.T, name, scope string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, s.url)
	c.Register(name, "Test")
	c.Request("", "Test", "Scope", "Join", scope)
	c.Expect("Test/Scope/Joined")
	return c
}

func TestRegisterSubscribePublishUnsubscribe(t *testing.T) {
	s := newServer(t, broker.Config{})
	crm := s.app(t, "crm", "ws-1")
	phone := s.app(t, "softphone", "ws-1")

	crm.Request("s1", "PubSub", "Subscription", "Subscribe",
		map[string]string{"channel": "Phone", "topic": "Call", "subtopic": "*"})
	sub := crm.Expect("PubSub/Subscription/Subscribed")
	assert.Equal(t, "s1", sub.CorrelationID)
	assert.JSONEq(t, `{"channel":"Phone","topic":"Call","subtopic":"*"}`, string(sub.Message))

	phone.Send(map[string]any{"id": "p1", "channel": "phone", "topic": "CALL", "subtopic": "Ringing",
		"source": "spoofed-name", "data": map[string]string{"ani": "4085551234"}})
	got := crm.Expect("phone/CALL/Ringing")
	assert.Equal(t, "softphone", got.Source, "source is the registered name, not what the app wrote")
	assert.JSONEq(t, `{"ani":"4085551234"}`, string(got.Message))
	assert.Equal(t, "p1", got.CorrelationID)
	assert.NotEmpty(t, got.ID)
	_, err := time.Parse("2006-01-02T15:04:05.000Z", got.Timestamp)
	assert.NoError(t, err)

	phone.Send(map[string]any{"channel": "Phone", "topic": "Call", "subtopic": "Ended", "data": "bare string"})
	assert.JSONEq(t, `"bare string"`, string(crm.Expect("Phone/Call/Ended").Message))

	crm.Request("u1", "PubSub", "Subscription", "Unsubscribe",
		map[string]string{"channel": "Phone", "topic": "Call", "subtopic": "*"})
	crm.Expect("PubSub/Subscription/Unsubscribed")
	phone.Send(map[string]any{"channel": "Phone", "topic": "Call", "subtopic": "Ringing"})
	// A marker after the unsubscribed event proves it was not delivered.
	crm.Subscribe("Marker", "*", "*")
	phone.Send(map[string]any{"channel": "Marker", "topic": "M", "subtopic": "M"})
	crm.Expect("Marker/M/M")
}

func TestRegisteredChannelReceivesItsEvents(t *testing.T) {
	s := newServer(t, broker.Config{})
	a := s.app(t, "a", "ws")
	b := s.app(t, "b", "ws")
	b.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "b",
		"data": map[string]string{"channel": "CRM"}})
	reg := b.Expect("PubSub/App/Registered")
	assert.JSONEq(t, `{"app":"b","channel":"CRM","channels":["CRM"]}`, string(reg.Message), "channels lists what changed")
	b.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "b",
		"data": map[string]string{"channel": "crm"}})
	reg = b.Expect("PubSub/App/Registered")
	assert.JSONEq(t, `{"app":"b","channel":"crm","channels":[]}`, string(reg.Message), "registered already: nothing changed")

	a.Send(map[string]any{"channel": "crm", "topic": "Screenpop", "subtopic": "Show"})
	b.Expect("crm/Screenpop/Show")

	b.Request("", "PubSub", "App", "Unregister", map[string]string{"channel": "crm"})
	unreg := b.Expect("PubSub/App/Unregistered")
	assert.JSONEq(t, `{"app":"b","channel":"crm","channels":["crm"]}`, string(unreg.Message))
	a.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Show"})
	a.Request("e", "Test", "Echo", "Echo", "after")
	assert.JSONEq(t, `"after"`, string(b.Expect("Test/Echo/Echoed").Message), "the unregistered channel's event did not arrive")
}

func TestSenderDoesNotReceiveItsOwnMessage(t *testing.T) {
	s := newServer(t, broker.Config{})
	a := s.app(t, "a", "ws")
	a.Subscribe("*", "*", "*")
	a.Send(map[string]any{"channel": "CRM", "topic": "T", "subtopic": "S"})
	a.Request("e", "Test", "Echo", "Echo", nil)
	a.Expect("Test/Echo/Echoed")
}

func TestScopesIsolate(t *testing.T) {
	s := newServer(t, broker.Config{})
	a1 := s.app(t, "a1", "agent-A")
	a2 := s.app(t, "a2", "agent-A")
	b1 := s.app(t, "b1", "agent-B")
	for _, c := range []*brokertest.Client{a1, a2, b1} {
		c.Subscribe("*", "*", "*")
	}
	alone := brokertest.Dial(t, s.url) // its own scope
	alone.Register("alone", "Test")
	alone.Subscribe("*", "*", "*")

	a1.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Show", "data": "A"})
	a1.Request("ea", "Test", "Echo", "Echo", "A")
	assert.JSONEq(t, `"A"`, string(a2.Expect("CRM/Screenpop/Show").Message))
	a2.Expect("Test/Echo/Echoed")
	a1.Expect("Test/Echo/Echoed")

	b1.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Show", "data": "B"})
	b1.Request("eb", "Test", "Echo", "Echo", "B")
	b1.Expect("Test/Echo/Echoed")
	alone.Request("ec", "Test", "Echo", "Echo", "C")
	alone.Expect("Test/Echo/Echoed")

	// Each client's next frame is a marker published in its own scope: had
	// anything crossed a scope, it would arrive first.
	for _, c := range []*brokertest.Client{a1, a2, b1, alone} {
		c.Request("m", "Test", "Echo", "Echo", "marker")
	}
	for _, c := range []*brokertest.Client{a1, a2} {
		assert.JSONEq(t, `"marker"`, string(c.Expect("Test/Echo/Echoed").Message))
		assert.JSONEq(t, `"marker"`, string(c.Expect("Test/Echo/Echoed").Message))
	}
	for _, c := range []*brokertest.Client{b1, alone} {
		assert.JSONEq(t, `"marker"`, string(c.Expect("Test/Echo/Echoed").Message))
	}
	for _, c := range []*brokertest.Client{a1, a2, b1, alone} {
		for _, f := range c.Seen {
			assert.NotContains(t, string(f.Message), `"B"`+"x", "sanity")
		}
	}
	for _, f := range append(a1.Seen, a2.Seen...) {
		assert.NotEqual(t, `"B"`, string(f.Message))
		assert.NotEqual(t, `"C"`, string(f.Message))
	}
	for _, f := range append(b1.Seen, alone.Seen...) {
		assert.NotEqual(t, `"A"`, string(f.Message))
	}
}

func TestHandledRequestNeverReachesSubscribers(t *testing.T) {
	s := newServer(t, broker.Config{})
	spy := s.app(t, "spy", "ws")
	spy.Subscribe("*", "*", "*")
	spy.Subscribe("Test", "Echo", "Echo")
	caller := s.app(t, "caller", "ws")

	caller.Request("r1", "test", "ECHO", "echo", map[string]string{"password": "secret"})
	echoed := spy.Expect("Test/Echo/Echoed")
	assert.Equal(t, "r1", echoed.CorrelationID)
	assert.Equal(t, "ctibus", echoed.Source)
	for _, f := range spy.Seen {
		assert.NotEqual(t, "Echo/Echo", f.Topic+"/"+f.Subtopic, "the request itself was fanned out: %s", f.Raw)
	}
}

func TestHandledChannelIsAuthoritative(t *testing.T) {
	s := newServer(t, broker.Config{})
	spy := s.app(t, "spy", "ws")
	spy.Subscribe("Test", "*", "*")
	forger := s.app(t, "forger", "ws")

	forger.Request("f1", "Test", "Scope", "Joined", nil)
	e := forger.ExpectError("Test", broker.ErrTypeUnknownAPI, "f1")
	assert.Contains(t, e.ErrorMessage, "Test/Scope/Joined")
	forger.Request("m", "Test", "Echo", "Echo", "marker")
	assert.JSONEq(t, `"marker"`, string(spy.Expect("Test/Echo/Echoed").Message), "the forged event did not arrive first")
}

func TestHandlerErrors(t *testing.T) {
	s := newServer(t, broker.Config{})
	c := s.app(t, "c", "ws")
	c.Request("f", "Test", "Fail", "Plain", nil)
	e := c.ExpectError("Test", broker.ErrTypeInternal, "f")
	assert.NotContains(t, e.ErrorMessage, "permission", "internal details stay in the log")
}

// TestBadInput sends each kind of bad frame and checks the documented error
// arrives, to the sender only, and that the next good frame still works.
func TestBadInput(t *testing.T) {
	s := newServer(t, broker.Config{MaxSubscriptions: 2})
	tests := []struct {
		name        string
		registered  bool // register on Test first
		give        string
		binary      bool
		wantChannel string
		wantType    string
		wantID      string
	}{
		{name: "invalid JSON", give: `{"channel":"Test",`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidFrame},
		{name: "binary frame", give: `{"channel":"Test","topic":"Echo","subtopic":"Echo"}`, binary: true, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidFrame},
		{name: "not an object", give: `["Test","Echo","Echo"]`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidFrame},
		{name: "missing channel", give: `{"id":"x1","topic":"Echo","subtopic":"Echo"}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x1"},
		{name: "non-string topic", give: `{"id":"x2","channel":"Test","topic":["Echo"],"subtopic":"Echo"}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x2"},
		{name: "over-long subtopic", give: `{"id":"x3","channel":"Test","topic":"Echo","subtopic":"` + strings.Repeat("E", 65) + `"}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x3"},
		{name: "unknown API", registered: true, give: `{"id":"x4","channel":"Test","topic":"Echo","subtopic":"Nope"}`, wantChannel: "Test", wantType: broker.ErrTypeUnknownAPI, wantID: "x4"},
		{name: "unknown PubSub API", give: `{"id":"x5","channel":"PubSub","topic":"App","subtopic":"Nope"}`, wantChannel: "PubSub", wantType: broker.ErrTypeUnknownAPI, wantID: "x5"},
		{name: "request before registering on the channel", give: `{"id":"x6","channel":"Test","topic":"Echo","subtopic":"Echo"}`, wantChannel: "Test", wantType: broker.ErrTypeNotRegistered, wantID: "x6"},
		{name: "publish before registering at all", give: `{"id":"x7","channel":"CRM","topic":"Screenpop","subtopic":"Show"}`, wantChannel: "PubSub", wantType: broker.ErrTypeNotRegistered, wantID: "x7"},
		{name: "register without a name", give: `{"id":"x8","channel":"PubSub","topic":"App","subtopic":"Register","data":{"channel":"Test"}}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x8"},
		{name: "register with a non-object data", give: `{"id":"x9","channel":"PubSub","topic":"App","subtopic":"Register","source":"a","data":"Test"}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x9"},
		{name: "register on PubSub", give: `{"id":"x10","channel":"PubSub","topic":"App","subtopic":"Register","source":"a","data":{"channel":"pubsub"}}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x10"},
		{name: "register under a second name", registered: true, give: `{"id":"x11","channel":"PubSub","topic":"App","subtopic":"Register","source":"other"}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x11"},
		{name: "subscribe with a partial wildcard", give: `{"id":"x12","channel":"PubSub","topic":"Subscription","subtopic":"Subscribe","data":{"channel":"Cisco","topic":"Age*","subtopic":"*"}}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidPattern, wantID: "x12"},
		{name: "subscribe with a missing segment", give: `{"id":"x13","channel":"PubSub","topic":"Subscription","subtopic":"Subscribe","data":{"channel":"Cisco","topic":"Agent"}}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidPattern, wantID: "x13"},
		{name: "subscribe with a number", give: `{"id":"x14","channel":"PubSub","topic":"Subscription","subtopic":"Subscribe","data":{"channel":"Cisco","topic":"Agent","subtopic":5}}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x14"},
		{name: "unregister without a channel", registered: true, give: `{"id":"x15","channel":"PubSub","topic":"App","subtopic":"Unregister"}`, wantChannel: "PubSub", wantType: broker.ErrTypeInvalidInput, wantID: "x15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := brokertest.Dial(t, s.url)
			bystander := s.app(t, "bystander", "conn-scope-of-nobody")
			bystander.Subscribe("*", "*", "*")
			if tt.registered {
				c.Register("app", "Test")
			}
			kind := websocket.TextMessage
			if tt.binary {
				kind = websocket.BinaryMessage
			}
			require.NoError(t, c.Conn().WriteMessage(kind, []byte(tt.give)))
			c.ExpectError(tt.wantChannel, tt.wantType, tt.wantID)

			// The connection still works.
			c.Register("app", "Test")
			c.Request("ok", "Test", "Echo", "Echo", "fine")
			assert.Equal(t, "ok", c.Expect("Test/Echo/Echoed").CorrelationID)
			bystander.Request("", "Test", "Echo", "Echo", "marker")
			bystander.Expect("Test/Echo/Echoed")
			var seen []string
			for _, f := range bystander.Seen {
				seen = append(seen, f.Triple())
			}
			assert.Equal(t, []string{"PubSub/App/Registered", "Test/Scope/Joined", "PubSub/Subscription/Subscribed", "Test/Echo/Echoed"}, seen,
				"the bystander saw only its own answers")
		})
	}

	t.Run("subscription limit", func(t *testing.T) {
		c := brokertest.Dial(t, s.url)
		c.Subscribe("A", "*", "*")
		c.Subscribe("B", "*", "*")
		c.Subscribe("B", "*", "*") // the same pattern again costs nothing
		c.Request("x", "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "C", "topic": "*", "subtopic": "*"})
		c.ExpectError("PubSub", broker.ErrTypeLimitExceeded, "x")
	})
}

func TestPublishedSamplesAreAccepted(t *testing.T) {
	s := newServer(t, broker.Config{})
	b, err := os.ReadFile("testdata/samples.json")
	require.NoError(t, err)
	var samples []struct {
		Doc   string          `json:"doc"`
		Frame json.RawMessage `json:"frame"`
	}
	require.NoError(t, json.Unmarshal(b, &samples))
	c := brokertest.Dial(t, s.url)
	c.Register("samples", "")
	c.Subscribe("Marker", "*", "*")
	for _, sm := range samples {
		c.SendRaw(sm.Frame)
	}
	c.Request("", "Test", "Echo", "Echo", nil) // answered with Not Registered, after all the samples
	c.ExpectError("Test", broker.ErrTypeNotRegistered, "")
	for _, f := range c.Seen {
		if f.Topic+"/"+f.Subtopic == "Error/SetAPIError" {
			e := f.Error(t)
			assert.NotContains(t, []string{broker.ErrTypeInvalidFrame, broker.ErrTypeInvalidInput}, e.ErrorType, "a sample was refused: %s", f.Raw)
		}
	}
}

func TestReadLimitClosesWith1009(t *testing.T) {
	s := newServer(t, broker.Config{ReadLimit: 1024})
	c := brokertest.Dial(t, s.url)
	c.SendRaw([]byte(`{"channel":"C","topic":"T","subtopic":"S","data":"` + strings.Repeat("x", 2000) + `"}`))
	assert.Equal(t, websocket.CloseMessageTooBig, c.ExpectClose())
}

func TestConnectionLimit(t *testing.T) {
	s := newServer(t, broker.Config{MaxConnections: 2})
	brokertest.Dial(t, s.url).Register("one", "")
	brokertest.Dial(t, s.url).Register("two", "")
	_, resp, err := brokertest.DialHeader(s.url, nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp.Body.Close()
}

// TestOriginCheck: the origins allowed are the configured ones and, since
// the test server listens on loopback, the loopback pages of its own port.
// The request's own Host header no longer admits its origin, as it did
// before: a site that rebinds its DNS name to the server's address makes
// the browser send that name as both (the "rebinding" row).
func TestOriginCheck(t *testing.T) {
	s := newServer(t, broker.Config{AllowedOrigins: []string{"https://CRM.example.com:443/"}})
	host := strings.TrimPrefix(strings.TrimSuffix(s.url, "/ws"), "ws://")
	_, port, err := net.SplitHostPort(host)
	require.NoError(t, err)
	otherPort := "9" // the discard port: nothing of ours
	tests := []struct {
		name   string
		origin string
		header http.Header
		want   int
	}{
		{"no origin", "", nil, http.StatusSwitchingProtocols},
		{"this loopback page", "http://" + host, nil, http.StatusSwitchingProtocols},
		{"localhost, this port", "http://localhost:" + port, nil, http.StatusSwitchingProtocols},
		{"configured", "https://crm.example.com", nil, http.StatusSwitchingProtocols},
		{"another site", "https://evil.example.com", nil, http.StatusForbidden},
		{"rebinding", "http://evil.example:" + port, http.Header{"Host": {"evil.example:" + port}}, http.StatusForbidden},
		{"loopback, another port", "http://localhost:" + otherPort, nil, http.StatusForbidden},
		{"loopback through a proxy", "http://localhost:" + port, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, http.StatusForbidden},
		{"opaque", "null", nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h[k] = v
			}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			ws, resp, _ := brokertest.DialHeader(s.url, h)
			require.NotNil(t, resp)
			assert.Equal(t, tt.want, resp.StatusCode)
			resp.Body.Close()
			if ws != nil {
				ws.Close()
			}
		})
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	const n = 300
	// The publisher's bursts cover every frame it sends, so the rate limit
	// cannot refuse one however fast this machine runs the loop below. The
	// slow app reads only after that loop, so the writes to it wait that
	// long: the write deadline must outlast the loop on a busy machine.
	s := newServer(t, broker.Config{SendQueue: 8, RateBurst: 2 * n, RateBytesBurst: 2 * n * (48<<10 + 200),
		WriteWait: 4 * brokertest.Wait})
	publisher := s.app(t, "publisher", "ws")
	fast := s.app(t, "fast", "ws")
	fast.Subscribe("Feed", "*", "*")
	slow := s.app(t, "slow", "ws")
	slow.Subscribe("Feed", "*", "*")

	// The slow app reads nothing while the publisher sends far more than
	// the socket buffers and its queue can hold; the fast one keeps up.
	payload := strings.Repeat("x", 48<<10)
	for i := range n {
		publisher.Send(map[string]any{"channel": "Feed", "topic": "T", "subtopic": "S", "id": strconv.Itoa(i), "data": payload})
		require.Equal(t, strconv.Itoa(i), fast.Expect("Feed/T/S").CorrelationID)
	}
	fast.Seen = nil

	got := 0
	code := 0
	for code == 0 {
		_ = slow.Conn().SetReadDeadline(time.Now().Add(brokertest.Wait))
		_, _, err := slow.Conn().ReadMessage()
		if err == nil {
			got++
			continue
		}
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "after %d messages", got)
		code = ce.Code
	}
	assert.Equal(t, broker.CloseSlowConsumer, code)
	assert.Less(t, got, n)
}

func TestAnswerWrittenAfterAnEarlierWritesDeadline(t *testing.T) {
	// A write deadline, once passed, fails every later write on the
	// socket, even one that does not wait. An event written by a writer
	// goroutine leaves its deadline behind; the answer to a request the
	// app sends after it has passed is written on the reader, at once.
	const writeWait = 200 * time.Millisecond
	s := newServer(t, broker.Config{WriteWait: writeWait})
	agent := s.app(t, "softphone", "ws")
	other := s.app(t, "crm", "ws")

	// Published from other's reader: a writer goroutine writes it to agent.
	other.Request("from-crm", "Test", "Echo", "Echo", "first")
	require.Equal(t, "from-crm", agent.Expect("Test/Echo/Echoed").CorrelationID)
	// The deadline of that write was set before agent could read it: it
	// has passed once writeWait has, measured from the read.
	time.Sleep(writeWait + writeWait/2)

	agent.Request("state", "Test", "Echo", "Echo", "second")
	assert.Equal(t, "state", agent.Expect("Test/Echo/Echoed").CorrelationID, "the answer arrives, and the connection stays open")
	for _, id := range []string{"from-crm", "state"} {
		assert.Equal(t, id, other.Expect("Test/Echo/Echoed").CorrelationID)
	}
}

func TestShutdownClosesClientsWith1001(t *testing.T) {
	b := broker.New(zaptest.NewLogger(t), broker.Config{})
	// Burst publishes 50 events to the caller, then waits until released:
	// a request in flight when the drain starts.
	started, release := make(chan struct{}), make(chan struct{})
	b.Handle("Test", "Burst", "Send", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		for i := range 50 {
			if err := req.Conn.Send(broker.Event{Channel: "Test", Topic: "Burst", Subtopic: "Item", Message: i}); err != nil {
				return err
			}
		}
		close(started)
		<-release
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Burst", Subtopic: "Done"})
	}))
	srv := httptest.NewServer(b)
	defer srv.Close()
	url := strings.TrimSuffix(brokertest.WSURL(srv.URL), "/ws")
	clients := []*brokertest.Client{brokertest.Dial(t, url), brokertest.Dial(t, url)}
	for i, c := range clients {
		c.Register("app"+string(rune('a'+i)), "Test")
	}
	clients[0].Request("burst", "Test", "Burst", "Send", nil)
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- b.Shutdown(ctx) }()
	require.Eventually(t, b.Draining, brokertest.Wait, time.Millisecond)
	close(release)
	require.NoError(t, <-shut)

	// Nothing queued before the close is lost: the burst, then the answer
	// of the request that was in flight, then 1001.
	for i := range 50 {
		assert.Equal(t, strconv.Itoa(i), string(clients[0].Expect("Test/Burst/Item").Message))
	}
	clients[0].Expect("Test/Burst/Done")
	for _, c := range clients {
		assert.Equal(t, websocket.CloseGoingAway, c.ExpectClose())
	}
	_, resp, err := brokertest.DialHeader(url, nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp.Body.Close()
}

func TestPingIsAnsweredWithPong(t *testing.T) {
	s := newServer(t, broker.Config{})
	c := brokertest.Dial(t, s.url)
	pongs := make(chan string, 1)
	c.Conn().SetPongHandler(func(payload string) error {
		pongs <- payload
		return nil
	})
	require.NoError(t, c.Conn().WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)))
	c.Register("app", "") // reading the answer lets the client see the pong before it
	select {
	case got := <-pongs:
		assert.Equal(t, "are you there", got)
	case <-time.After(brokertest.Wait):
		t.Fatal("no pong")
	}
}
