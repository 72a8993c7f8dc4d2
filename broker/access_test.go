package broker_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

// admitter admits {"token":"ws-1"} into scope "ws-1", and {"key":"watcher"}
// as a server-side app granted Feed/Agent/* in scope "ws-1" without the
// right to publish.
type admitter struct{}

func (admitter) Admit(_ context.Context, c *broker.Conn, reg broker.Registration) error {
	token, err := reg.Fields.String("token")
	if err != nil {
		return err
	}
	key, err := reg.Fields.String("key")
	if err != nil {
		return err
	}
	switch {
	case token == "ws-1":
		c.SetScope("ws-1")
	case token == "unreachable":
		return fmt.Errorf("check the token: %w", broker.ErrTryAgainLater)
	case key == "watcher":
		p, _ := broker.ParsePattern("Feed", "Agent", "*")
		c.SetGrant(broker.Grant{Subscribe: []broker.Pattern{p}})
		c.Watch("ws-1")
	case key == "supervisor": // every "ws-" scope
		p, _ := broker.ParsePattern("Feed", "Agent", "*")
		c.SetGrant(broker.Grant{Subscribe: []broker.Pattern{p}})
		c.WatchAll("ws-")
	case token != "" || key != "":
		return &broker.APIError{Type: broker.ErrTypeInvalidCredentials, Message: "bad", Msg: "bad credentials"}
	}
	return nil
}

func TestAdmitterAndGrants(t *testing.T) {
	s := newServer(t, broker.Config{})
	s.b.SetAdmitter(admitter{})

	member := brokertest.Dial(t, s.url)
	member.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "crm",
		"data": map[string]string{"channel": "Feed", "token": "ws-1"}})
	member.Expect("PubSub/App/Registered")

	refused := brokertest.Dial(t, s.url)
	refused.Send(map[string]any{"id": "r", "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "crm",
		"data": map[string]string{"channel": "Feed", "token": "forged"}})
	refused.ExpectError("PubSub", broker.ErrTypeInvalidCredentials, "r")
	refused.Request("p", "Feed", "Agent", "State", nil)
	refused.ExpectError("PubSub", broker.ErrTypeNotRegistered, "p") // a refused Register registers nothing

	// A credential that cannot be checked now closes the connection, with
	// no answer, so that the app reconnects rather than give up.
	later := brokertest.Dial(t, s.url)
	later.Send(map[string]any{"id": "l", "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "crm",
		"data": map[string]string{"channel": "Feed", "token": "unreachable"}})
	require.NoError(t, later.Conn().SetReadDeadline(time.Now().Add(brokertest.Wait)))
	_, frame, err := later.Conn().ReadMessage()
	var closed *websocket.CloseError
	require.ErrorAs(t, err, &closed, "no answer before the close: %s", frame)
	assert.Equal(t, broker.CloseTryAgainLater, closed.Code)

	watcher := brokertest.Dial(t, s.url)
	watcher.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "wallboard",
		"data": map[string]string{"channel": "Feed", "key": "watcher"}})
	watcher.Expect("PubSub/App/Registered")
	watcher.Request("wide", "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "Feed", "topic": "*", "subtopic": "*"})
	watcher.ExpectError("PubSub", broker.ErrTypeForbidden, "wide")
	watcher.Subscribe("feed", "agent", "*")
	watcher.Request("pub", "Feed", "Agent", "State", "from the watcher")
	watcher.ExpectError("PubSub", broker.ErrTypeForbidden, "pub")

	// Members of ws-1 send two events; the watcher gets only the granted one,
	// though it registered on the whole Feed channel.
	sender := s.app(t, "softphone", "ws-1")
	sender.Send(map[string]any{"channel": "Feed", "topic": "Call", "subtopic": "Ringing", "data": "call"})
	sender.Send(map[string]any{"channel": "Feed", "topic": "Agent", "subtopic": "State", "data": "ready"})
	assert.JSONEq(t, `"call"`, string(member.Expect("Feed/Call/Ringing").Message))
	assert.JSONEq(t, `"ready"`, string(member.Expect("Feed/Agent/State").Message))
	got := watcher.Expect("Feed/Agent/State")
	assert.Equal(t, "softphone", got.Source)

	// An event in another scope does not reach the watcher.
	other := s.app(t, "softphone", "ws-2")
	other.Send(map[string]any{"channel": "Feed", "topic": "Agent", "subtopic": "State", "data": "elsewhere"})
	sender.Send(map[string]any{"channel": "Feed", "topic": "Agent", "subtopic": "State", "data": "marker"})
	assert.JSONEq(t, `"marker"`, string(watcher.Expect("Feed/Agent/State").Message))
}

func TestRateLimit(t *testing.T) {
	s := newServer(t, broker.Config{RateLimit: 5, RateBurst: 5})
	c := brokertest.Dial(t, s.url)
	for i := range 6 {
		c.Request(strconv.Itoa(i), "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "A", "topic": "*", "subtopic": "*"})
	}
	// The refusal comes from the reader, so it may overtake the answers.
	answered := map[string]string{}
	for range 6 {
		f := c.Next()
		answered[f.CorrelationID] = f.Subtopic
		if f.Subtopic == "SetAPIError" {
			e := f.Error(t)
			assert.Equal(t, broker.ErrTypeRateLimited, e.ErrorType)
			assert.Contains(t, e.ErrorMessage, "5 frames per second")
		}
	}
	assert.Equal(t, map[string]string{"0": "Subscribed", "1": "Subscribed", "2": "Subscribed", "3": "Subscribed", "4": "Subscribed", "5": "SetAPIError"}, answered)

	// A connection that keeps flooding is closed.
	for range 20 {
		if c.Conn().WriteMessage(websocket.TextMessage, []byte(`{"channel":"A","topic":"B","subtopic":"C"}`)) != nil {
			break
		}
	}
	assert.Equal(t, broker.CloseRateLimited, c.ExpectClose())
}

func TestConnectionsPerClientAddress(t *testing.T) {
	b := broker.New(zaptest.NewLogger(t), broker.Config{
		MaxConnectionsPerIP: 2,
		TrustedProxies:      []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	url := brokertest.Serve(t, b, nil)
	dial := func(forwardedFor string) (int, *websocket.Conn) {
		h := http.Header{}
		if forwardedFor != "" {
			h.Set("X-Forwarded-For", forwardedFor)
		}
		ws, resp, _ := brokertest.DialHeader(url, h)
		require.NotNil(t, resp)
		resp.Body.Close()
		if ws != nil {
			t.Cleanup(func() { ws.Close() })
		}
		return resp.StatusCode, ws
	}
	// Behind the trusted proxy (loopback), X-Forwarded-For names the client.
	for range 2 {
		code, _ := dial("203.0.113.7")
		assert.Equal(t, http.StatusSwitchingProtocols, code)
	}
	code, _ := dial("198.51.100.1, 203.0.113.7")
	assert.Equal(t, http.StatusTooManyRequests, code, "the right-most untrusted address is the client")
	code, _ = dial("203.0.113.8")
	assert.Equal(t, http.StatusSwitchingProtocols, code)

	code, ws := dial("203.0.113.9")
	require.Equal(t, http.StatusSwitchingProtocols, code)
	ws.Close()
	assert.Eventually(t, func() bool { c, _ := dial("203.0.113.9"); return c == http.StatusSwitchingProtocols }, brokertest.Wait, 10*time.Millisecond,
		"a closed connection frees its place")
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newServer(t, broker.Config{Metrics: broker.NewMetrics(reg), SendQueue: 16})
	a := s.app(t, "a", "ws")
	b := s.app(t, "b", "ws")
	b.Subscribe("CRM", "*", "*")
	a.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Show"})
	b.Expect("CRM/Screenpop/Show")
	a.SendRaw([]byte("not json"))
	a.ExpectError("PubSub", broker.ErrTypeInvalidFrame, "")

	count := func(name string, labels ...string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		total := 0.0
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				match := true
				for i := 0; i+1 < len(labels); i += 2 {
					for _, l := range m.GetLabel() {
						if l.GetName() == labels[i] && l.GetValue() != labels[i+1] {
							match = false
						}
					}
				}
				if match {
					total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return total
	}
	assert.Equal(t, 2.0, count("ctibus_connections_open"))
	assert.Equal(t, 1.0, count("ctibus_frames_in_total", "channel", "app"))
	assert.Equal(t, 1.0, count("ctibus_frames_in_total", "channel", "invalid"))
	assert.Equal(t, 1.0, count("ctibus_fanout_deliveries_total"))
	assert.Equal(t, 1.0, count("ctibus_frames_out_total", "channel", "app"))
	assert.GreaterOrEqual(t, count("ctibus_handler_duration_seconds", "api", "PubSub/App/Register"), 2.0)
	assert.GreaterOrEqual(t, count("ctibus_frames_in_total", "channel", "PubSub"), 3.0)
	assert.Zero(t, count("ctibus_slow_consumer_disconnects_total"))
}
