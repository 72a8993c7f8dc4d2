package broker_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

func TestSendQueueIsBoundedInBytes(t *testing.T) {
	// Far fewer answers than the queue holds in frames, but far more bytes
	// than the socket buffers and the byte bound hold together: only the
	// byte bound can close the connection.
	const requests, answerSize = 200, 256 << 10
	// The app reads only once every answer is encoded, which takes a busy
	// machine a while. Until then, the write stuck on the app must not time
	// out (the write wait), and the reader, which serves every request
	// itself, must never wait on the app's socket: the bus drops the socket
	// soon after its close frame, whatever requests it has not read by then.
	s := newServer(t, broker.Config{SendQueue: 256, SendQueueBytes: 1 << 20, RateLimit: 10_000, RateBurst: 10_000,
		WriteWait: 4 * brokertest.Wait})
	// A connection's requests are served in order: when the marker is,
	// every answer has been queued or refused.
	served := make(chan struct{})
	s.b.Handle("Test", "Served", "Mark", broker.HandlerFunc(func(context.Context, *broker.Request) error {
		close(served)
		return nil
	}))
	c := s.app(t, "greedy", "ws")
	for i := range requests {
		c.Request(strconv.Itoa(i), "Test", "Big", "Answer", answerSize)
	}
	c.Request("mark", "Test", "Served", "Mark", nil)
	select {
	case <-served:
	case <-time.After(3 * brokertest.Wait):
		require.FailNow(t, "the requests were not served")
	}

	// Only now does the app read: what was queued, then the close frame.
	// It reads without decoding, as fast as it can, since the bus gives a
	// peer only a short grace to read up to its close frame.
	ws := c.Conn()
	_ = ws.SetReadDeadline(time.Now().Add(brokertest.Wait))
	answers := 0
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce, "after %d answers", answers)
			assert.Equal(t, broker.CloseSlowConsumer, ce.Code)
			break
		}
		_, err = io.Copy(io.Discard, r)
		require.NoError(t, err)
		answers++
	}
	assert.Less(t, answers, requests, "the connection was closed before every answer was queued")
}

func TestErrorsClipWhatTheyEcho(t *testing.T) {
	s := newServer(t, broker.Config{RateBytesBurst: 1 << 20})
	c := brokertest.Dial(t, s.url)
	key := strings.Repeat("k", 30<<10) // twice: just under the read limit

	// A key given twice in the envelope, and in a request's data.
	c.SendRaw([]byte(`{"id":"dup","` + key + `":1,"` + key + `":2,"channel":"A","topic":"B","subtopic":"C"}`))
	f := c.Expect("PubSub/Error/SetAPIError")
	e := f.Error(t)
	assert.Equal(t, broker.ErrTypeInvalidInput, e.ErrorType)
	assert.Contains(t, e.ErrorMessage, strings.Repeat("k", 64)+"…")
	assert.Less(t, len(f.Raw), 2<<10, "a 60 KB frame got a %d-byte answer", len(f.Raw))

	c.SendRaw([]byte(`{"id":"reg","channel":"PubSub","topic":"App","subtopic":"Register","source":"a","data":{"` + key + `":1,"` + key + `":2}}`))
	f = c.Expect("PubSub/Error/SetAPIError")
	assert.Equal(t, "reg", f.CorrelationID)
	assert.Contains(t, f.Error(t).ErrorMessage, "data."+strings.Repeat("k", 59)+"…", "the field name is clipped, prefix included")
	assert.Less(t, len(f.Raw), 2<<10, "a 60 KB frame got a %d-byte answer", len(f.Raw))
}

func TestRegisteredChannelsAreCapped(t *testing.T) {
	s := newServer(t, broker.Config{MaxChannels: 3})
	c := brokertest.Dial(t, s.url)
	for _, ch := range []string{"Test", "A", "B"} {
		c.Register("app", ch)
	}
	register := func(id, channel string) {
		c.Send(map[string]any{"id": id, "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "app",
			"data": map[string]string{"channel": channel}})
	}
	register("over", "C")
	e := c.ExpectError("PubSub", broker.ErrTypeLimitExceeded, "over")
	assert.Contains(t, e.ErrorMessage, "at most 3 channels")

	register("again", "a")
	assert.JSONEq(t, `{"app":"app","channel":"a","channels":[]}`, string(c.Expect("PubSub/App/Registered").Message),
		"a channel already registered is not one more")
	c.Request("", "PubSub", "App", "Unregister", map[string]string{"channel": "B"})
	c.Expect("PubSub/App/Unregistered")
	register("room", "C")
	assert.JSONEq(t, `{"app":"app","channel":"C","channels":["C"]}`, string(c.Expect("PubSub/App/Registered").Message))
}

func TestRateLimitCountsBytesBeforeDecoding(t *testing.T) {
	// Frames are plentiful, bytes are not: 4 KiB of burst, 100 bytes a
	// second after it.
	s := newServer(t, broker.Config{ReadLimit: 4 << 10, RateLimit: 1000, RateBurst: 1000, RateBytes: 100, RateBytesBurst: 4 << 10})
	c := s.app(t, "big", "ws") // about 200 bytes of the burst
	padding := strings.Repeat("p", 2500)
	c.Request("1", "Test", "Echo", "Echo", padding)
	c.Expect("Test/Echo/Echoed")

	// Over the budget, and not even JSON: refused for its size, unread
	// beyond its id.
	c.SendRaw([]byte(`{"id":"2","data":"` + padding + `", not json`))
	e := c.ExpectError("PubSub", broker.ErrTypeRateLimited, "2")
	assert.Contains(t, e.ErrorMessage, "100 bytes per second")

	// More refused bytes in a second than the burst: closed.
	c.SendRaw([]byte(`{"id":"3","data":"` + padding + `"}`))
	assert.Equal(t, broker.CloseRateLimited, c.ExpectClose())
}

func TestUnregisteredConnectionIsClosedAndFreesItsSlot(t *testing.T) {
	// Short, but ample for the legitimate client to register in.
	s := newServer(t, broker.Config{RegisterTimeout: time.Second, MaxConnections: 2})
	legit := brokertest.Dial(t, s.url)
	legit.Register("softphone", "Test")

	// A client that answers pings (gorilla does while it reads) and never
	// registers.
	idle := brokertest.Dial(t, s.url)
	assert.Equal(t, broker.CloseRegisterTimeout, idle.ExpectClose())

	// The registered connection, whose timer would have fired first, is
	// still served.
	legit.Request("e", "Test", "Echo", "Echo", "alive")
	legit.Expect("Test/Echo/Echoed")

	// The slot is free again for a legitimate client: the server releases it
	// once the closed connection's reader has ended.
	require.Eventually(t, func() bool {
		ws, resp, err := brokertest.DialHeader(s.url, nil)
		if resp != nil {
			resp.Body.Close()
		}
		if err != nil {
			return false
		}
		ws.Close()
		return resp.StatusCode == http.StatusSwitchingProtocols
	}, brokertest.Wait, 10*time.Millisecond)
}

func TestHandlerPanicAnswersInternalErrorAndEveryoneCarriesOn(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	s := newServerLogging(t, broker.Config{Metrics: broker.NewMetrics(reg)}, zap.New(core))
	victim := s.app(t, "victim", "ws")
	other := s.app(t, "other", "ws")

	victim.Request("p", "Test", "Panic", "Now", nil)
	e := victim.ExpectError("Test", broker.ErrTypeInternal, "p")
	assert.Equal(t, "the server failed to handle the request", e.ErrorMessage)
	other.ExpectError("Test", broker.ErrTypeInternal, "p") // the scope's errors reach every app in it

	// The same connection and the others carry on.
	victim.Request("after", "Test", "Echo", "Echo", "still here")
	assert.Equal(t, "after", victim.Expect("Test/Echo/Echoed").CorrelationID)
	assert.Equal(t, "after", other.Expect("Test/Echo/Echoed").CorrelationID)
	other.Request("mine", "Test", "Echo", "Echo", "me too")
	assert.Equal(t, "mine", other.Expect("Test/Echo/Echoed").CorrelationID)

	panics := logs.FilterMessage("handler panicked; answered Internal Error").All()
	require.Len(t, panics, 1)
	fields := panics[0].ContextMap()
	assert.Equal(t, "Test/Panic/Now", fields["api"])
	assert.Contains(t, fields["stack"], "broker_test.newServerLogging", "the stack shows the handler")

	families, err := reg.Gather()
	require.NoError(t, err)
	var counted float64
	for _, mf := range families {
		if mf.GetName() == "ctibus_handler_panics_total" {
			for _, m := range mf.GetMetric() {
				counted += m.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, 1.0, counted)
}

func TestCallbackPanicsAreRecovered(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	b := broker.New(zap.New(core), broker.Config{})
	ran := make(chan struct{})
	b.Handle("Test", "Close", "Arm", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		req.Conn.OnClose(func() { panic("a bug in a close callback") })
		req.Conn.OnClose(func() { close(ran) })
		return req.Conn.Send(broker.Event{Channel: "Test", Topic: "Close", Subtopic: "Armed", CorrelationID: req.ID})
	}))
	url := brokertest.Serve(t, b, nil)

	c := brokertest.Dial(t, url)
	c.Register("armed", "Test")
	c.Request("arm", "Test", "Close", "Arm", nil)
	c.Expect("Test/Close/Armed")
	require.NoError(t, c.Conn().Close())
	select {
	case <-ran:
	case <-time.After(brokertest.Wait):
		t.Fatal("the close callback after the one that panicked did not run")
	}

	b.AfterFunc(0, func() { panic("a bug in a timer") })
	require.Eventually(t, func() bool { return logs.FilterMessage("callback panicked").Len() == 2 },
		brokertest.Wait, time.Millisecond, "both panics are logged")
	kinds := map[any]bool{}
	for _, e := range logs.FilterMessage("callback panicked").All() {
		kinds[e.ContextMap()["callback"]] = true
		assert.Contains(t, e.ContextMap()["stack"], "limits_test.go")
	}
	assert.Equal(t, map[any]bool{"close": true, "timer": true}, kinds)

	// The bus still serves.
	other := brokertest.Dial(t, url)
	other.Register("other", "Test")
}
