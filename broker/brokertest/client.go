// Package brokertest provides a WebSocket test client that speaks the bus
// protocol, for end-to-end tests of the broker and of the handlers on it.
//
// The client checks every frame it sends and receives against the
// contract, the schemas of docs/asyncapi.yaml: a frame the contract does
// not describe, or that breaks its schema, fails the test that produced it.
// A test that sends a frame the contract forbids on purpose says so, with
// SendRaw or SendInvalid; what the bus answers is checked all the same.
package brokertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/docs/contract"
	"github.com/ctibus/ctibus/internal/testtime"
)

// Wait bounds every read of an expected frame. A passing test never waits
// this long, since a read returns with its frame; the bound only ends a
// test whose frame will never come, so it is generous enough for a busy
// machine under the race detector, and scales with testtime's factor
// (CTIBUS_TEST_TIME_SCALE) on a slower one.
var Wait = testtime.Scale(15 * time.Second)

// Frame is one event as received, with its raw bytes.
type Frame struct {
	ID            string          `json:"id"`
	Channel       string          `json:"channel"`
	Topic         string          `json:"topic"`
	Subtopic      string          `json:"subtopic"`
	Source        string          `json:"source"`
	Message       json.RawMessage `json:"message"`
	CorrelationID string          `json:"correlationId"`
	Timestamp     string          `json:"timestamp"`
	Raw           []byte          `json:"-"`
}

// Triple returns the frame's channel/topic/subtopic.
func (f Frame) Triple() string { return f.Channel + "/" + f.Topic + "/" + f.Subtopic }

// APIError is the payload of a SetAPIError frame.
type APIError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
	Msg          string `json:"msg"`
	ErrorData    string `json:"errorData"`
}

// Error decodes f as a SetAPIError, failing t if it is not one.
func (f Frame) Error(t testing.TB) APIError {
	t.Helper()
	require.Equal(t, "Error/SetAPIError", f.Topic+"/"+f.Subtopic, "want a SetAPIError, got %s", f.Raw)
	var p struct {
		Packet string   `json:"packet"`
		Data   APIError `json:"data"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &p))
	require.Equal(t, "apierror", p.Packet)
	return p.Data
}

// Client is one app's connection. Its methods fail the test on error, so
// call them from the test goroutine only.
type Client struct {
	t        testing.TB
	ws       *websocket.Conn
	contract *contract.Contract
	// Seen records every frame read, in order.
	Seen []Frame
	// Ignore, when set, drops the frames it matches before any reader sees
	// them. In a cluster, the events of requests made before an app joined
	// a workspace may still reach it after: a test names those here.
	Ignore func(Frame) bool
}

// WSURL turns an httptest server URL into its WebSocket endpoint.
func WSURL(serverURL string) string { return "ws" + strings.TrimPrefix(serverURL, "http") + "/ws" }

// Dial connects to the WebSocket endpoint url and closes the connection
// when the test ends.
func Dial(t testing.TB, url string) *Client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp != nil {
		resp.Body.Close()
	}
	require.NoError(t, err, "dial %s", url)
	return Wrap(t, ws)
}

// Wrap makes a Client of a connection already open, such as one of
// DialHeader, and closes it when the test ends.
func Wrap(t testing.TB, ws *websocket.Conn) *Client {
	t.Helper()
	t.Cleanup(func() { ws.Close() })
	c, err := contract.Default()
	require.NoError(t, err, "load the contract, docs/asyncapi.yaml")
	return &Client{t: t, ws: ws, contract: c.WithFixtures(fixtures...)}
}

// fixtures are the channels of FixtureChannels.
var fixtures []string

// FixtureChannels declares channels that the tests of a package handle on
// their server beside the bus's own, such as the broker's "Test": the
// events on them are checked as envelopes only, since the contract does
// not describe them. Call it from TestMain, before any test runs.
func FixtureChannels(channels ...string) { fixtures = channels }

// DialHeader is Dial with request headers, returning the HTTP response too.
func DialHeader(url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.Dial(url, h)
}

// Conn returns the underlying connection, for tests of the transport itself.
func (c *Client) Conn() *websocket.Conn { return c.ws }

// Send writes v as a JSON text frame, failing the test if the contract
// does not allow it.
func (c *Client) Send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	if err := c.contract.CheckRequest(b); err != nil {
		c.t.Errorf("brokertest: a frame sent breaks the contract (docs/asyncapi.yaml): %v\n"+
			"A test that sends it on purpose uses SendInvalid.", err)
	}
	c.SendRaw(b)
}

// SendInvalid writes v as a JSON text frame without checking it against
// the contract: a test of how the bus answers a request the contract does
// not allow (a missing field, a wrong type, an unknown triple) says so by
// sending it this way.
func (c *Client) SendInvalid(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	c.SendRaw(b)
}

// SendRaw writes b as a text frame as it is, without checking it against
// the contract: for frames that are not JSON, or that a test spells byte
// for byte.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, b))
}

// Request sends an envelope; data may be nil.
func (c *Client) Request(id, channel, topic, subtopic string, data any) {
	c.t.Helper()
	c.Send(envelope(id, channel, topic, subtopic, data))
}

// RequestInvalid is Request for a request the contract does not allow, sent
// on purpose (see SendInvalid).
func (c *Client) RequestInvalid(id, channel, topic, subtopic string, data any) {
	c.t.Helper()
	c.SendInvalid(envelope(id, channel, topic, subtopic, data))
}

func envelope(id, channel, topic, subtopic string, data any) map[string]any {
	env := map[string]any{"channel": channel, "topic": topic, "subtopic": subtopic}
	if id != "" {
		env["id"] = id
	}
	if data != nil {
		env["data"] = data
	}
	return env
}

// Next reads the next frame, failing the test after Wait.
func (c *Client) Next() Frame {
	c.t.Helper()
	f, err := c.read(Wait)
	require.NoError(c.t, err, "waiting for a frame")
	return f
}

func (c *Client) read(wait time.Duration) (Frame, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(wait))
	for {
		kind, b, err := c.ws.ReadMessage()
		if err != nil {
			return Frame{}, err
		}
		if kind != websocket.TextMessage {
			return Frame{}, fmt.Errorf("got a frame of type %d, want text", kind)
		}
		if err := c.contract.CheckEvent(b); err != nil {
			c.t.Errorf("brokertest: a frame received breaks the contract (docs/asyncapi.yaml): %v", err)
		}
		var f Frame
		if err := json.Unmarshal(b, &f); err != nil {
			return Frame{}, fmt.Errorf("frame %s: %w", b, err)
		}
		f.Raw = b
		if c.Ignore != nil && c.Ignore(f) {
			continue
		}
		c.Seen = append(c.Seen, f)
		return f, nil
	}
}

// Expect reads the next frame and checks its triple ("Channel/Topic/Subtopic").
func (c *Client) Expect(triple string) Frame {
	c.t.Helper()
	f := c.Next()
	require.Equal(c.t, triple, f.Triple(), "frame: %s", f.Raw)
	return f
}

// ExpectOrTryAgain is Expect, except that a close with 1013 (try again
// later) reports false instead of failing the test: the answer of a server
// that cannot admit the app right now, to which a client connects again.
func (c *Client) ExpectOrTryAgain(triple string) (Frame, bool) {
	c.t.Helper()
	f, err := c.read(Wait)
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == websocket.CloseTryAgainLater {
		return Frame{}, false
	}
	require.NoError(c.t, err, "waiting for %s", triple)
	require.Equal(c.t, triple, f.Triple(), "frame: %s", f.Raw)
	return f, true
}

// ExpectError reads the next frame as a SetAPIError on channel, with the
// given errorType and correlation id.
func (c *Client) ExpectError(channel, errorType, correlationID string) APIError {
	c.t.Helper()
	f := c.Expect(channel + "/Error/SetAPIError")
	e := f.Error(c.t)
	require.Equal(c.t, errorType, e.ErrorType, "frame: %s", f.Raw)
	require.Equal(c.t, correlationID, f.CorrelationID, "frame: %s", f.Raw)
	require.NotEmpty(c.t, e.Msg, "every error says what to do")
	return e
}

// ExpectNothingQueued checks that the bus has queued nothing for the client:
// it sends a request that the bus answers to this connection alone (an
// unknown PubSub API, which changes nothing) and requires that answer to be
// the next frame. The bus queues the answer after everything it queued for
// the connection before it read the request, so a caller checks once what
// it checks for would have been queued (after an event that must follow it),
// and no sleep, on a machine of any speed, decides the outcome.
func (c *Client) ExpectNothingQueued() {
	c.t.Helper()
	c.RequestInvalid(nothingQueuedID, "PubSub", "NothingQueued", "Marker", nil)
	f := c.Next()
	require.Equal(c.t, "PubSub/Error/SetAPIError", f.Triple(), "a frame was queued before the marker: %s", f.Raw)
	require.Equal(c.t, nothingQueuedID, f.CorrelationID, "a frame was queued before the marker: %s", f.Raw)
}

// nothingQueuedID is the id of ExpectNothingQueued's request.
const nothingQueuedID = "brokertest-nothing-queued"

// ExpectClose reads until the connection closes and returns the close code
// (websocket.CloseAbnormalClosure if it ended without a close frame).
func (c *Client) ExpectClose() int {
	c.t.Helper()
	for {
		_, err := c.read(Wait)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var netErr interface{ Timeout() bool }
		require.False(c.t, errors.As(err, &netErr) && netErr.Timeout(), "connection still open after %s", Wait)
		return websocket.CloseAbnormalClosure
	}
}

// Register registers the app on channel ("" for none) and reads the answer.
func (c *Client) Register(app, channel string) {
	c.t.Helper()
	env := map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": app}
	if channel != "" {
		env["data"] = map[string]string{"channel": channel}
	}
	c.Send(env)
	c.Expect("PubSub/App/Registered")
}

// RegisterWith registers the app with data (credentials, a channel) and
// reads the answer.
func (c *Client) RegisterWith(app string, data map[string]string) {
	c.t.Helper()
	c.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": app, "data": data})
	c.Expect("PubSub/App/Registered")
}

// Subscribe subscribes to a pattern and reads the answer.
func (c *Client) Subscribe(channel, topic, subtopic string) {
	c.t.Helper()
	c.Request("", "PubSub", "Subscription", "Subscribe",
		map[string]string{"channel": channel, "topic": topic, "subtopic": subtopic})
	c.Expect("PubSub/Subscription/Subscribed")
}
