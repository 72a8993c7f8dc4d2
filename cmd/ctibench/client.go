package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// setupWait bounds every answer awaited while setting a scenario up.
const setupWait = 30 * time.Second

// dialer opens connections to the server's nodes, spreading them over
// loopback source addresses so that no one address runs out of ephemeral
// ports (32768-60999 on Linux: about 28,000 per address).
type dialer struct {
	urls    []string // each node's WebSocket
	dialers []websocket.Dialer
	next    atomic.Uint64
}

func newDialer(addrs []string, sources int) *dialer {
	d := &dialer{}
	loopback := true
	for _, addr := range addrs {
		d.urls = append(d.urls, "ws://"+addr+"/ws")
		host, _, _ := net.SplitHostPort(addr)
		ip := net.ParseIP(host)
		loopback = loopback && ip != nil && ip.IsLoopback() && ip.To4() != nil
	}
	base := websocket.Dialer{HandshakeTimeout: setupWait, ReadBufferSize: 4096, WriteBufferSize: 1024}
	if !loopback || sources == 0 {
		d.dialers = []websocket.Dialer{base}
		return d
	}
	for i := range sources {
		src := net.IPv4(127, 0, 0, byte(2+i))
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: setupWait}
		wd := base
		wd.NetDialContext = nd.DialContext
		d.dialers = append(d.dialers, wd)
	}
	return d
}

// node is the node connection i goes to: round robin, as a load balancer
// without sticky sessions would spread them.
func (d *dialer) node(i int) int { return i % len(d.urls) }

// dial opens connection i, to its node, and returns it with the time the
// dial and WebSocket handshake took.
func (d *dialer) dial(ctx context.Context, i int) (*client, time.Duration, error) {
	wd := &d.dialers[d.next.Add(1)%uint64(len(d.dialers))]
	start := time.Now()
	ws, resp, err := wd.DialContext(ctx, d.urls[d.node(i)], nil)
	took := time.Since(start)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, took, err
	}
	return &client{ws: ws}, took, nil
}

// client is one app's connection. Writes may come from any goroutine;
// reads from one.
type client struct {
	ws  *websocket.Conn
	wmu sync.Mutex
	buf []byte // the last frame read
}

func (c *client) send(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// request sends one envelope.
func (c *client) request(id, channel, topic, subtopic, source string, data any) error {
	env := map[string]any{"channel": channel, "topic": topic, "subtopic": subtopic}
	if id != "" {
		env["id"] = id
	}
	if source != "" {
		env["source"] = source
	}
	if data != nil {
		env["data"] = data
	}
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	return c.send(b)
}

// read returns the next frame, valid until the next read.
func (c *client) read() ([]byte, error) {
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	buf := c.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	c.buf = buf
	return buf, nil
}

func (c *client) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}

// eachEnvelope calls f for each envelope of a frame: the frame itself, or
// each element of a batch (a JSON array of envelopes).
func eachEnvelope(frame []byte, f func(env []byte)) {
	if len(frame) == 0 || frame[0] != '[' {
		f(frame)
		return
	}
	depth, start, inString, escaped := 0, -1, false, false
	for i := 1; i < len(frame); i++ {
		ch := frame[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '{' || ch == '[':
			if depth == 0 {
				start = i
			}
			depth++
		case ch == '}' || ch == ']':
			if depth == 0 {
				return // the array's end
			}
			if depth--; depth == 0 && start >= 0 {
				f(frame[start : i+1])
				start = -1
			}
		}
	}
}

// stringField returns the value of the first "key":"value" in env. The
// bus writes the envelope's own keys before the message, and the values
// read here (names, ids this tool chose) hold no escapes.
func stringField(env []byte, key string) []byte {
	i := bytes.Index(env, []byte(`"`+key+`":"`))
	if i < 0 {
		return nil
	}
	v := env[i+len(key)+4:]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return nil
}

// correlationID returns the envelope's correlationId, which follows the
// message: the last one in the frame is the envelope's.
func correlationID(env []byte) []byte {
	i := bytes.LastIndex(env, []byte(`"correlationId":"`))
	if i < 0 {
		return nil
	}
	v := env[i+len(`"correlationId":"`):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return nil
}

// intField returns the first "key":<integer> in env.
func intField(env []byte, key string) (int64, bool) {
	i := bytes.Index(env, []byte(`"`+key+`":`))
	if i < 0 {
		return 0, false
	}
	v := env[i+len(key)+3:]
	var n int64
	j := 0
	for ; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
		n = n*10 + int64(v[j]-'0')
	}
	return n, j > 0
}

// envelope is an event decoded whole, for the setup steps.
type envelope struct {
	Channel       string          `json:"channel"`
	Topic         string          `json:"topic"`
	Subtopic      string          `json:"subtopic"`
	Message       json.RawMessage `json:"message"`
	CorrelationID string          `json:"correlationId"`
}

func (e envelope) triple() string { return e.Channel + "/" + e.Topic + "/" + e.Subtopic }

// await reads until an event with the triple and correlation id arrives,
// and fails on an error event answering the same id.
func (c *client) await(triple, id string) (envelope, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(setupWait))
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		frame, err := c.read()
		if err != nil {
			return envelope{}, fmt.Errorf("waiting for %s: %w", triple, err)
		}
		var found *envelope
		var failed error
		eachEnvelope(frame, func(raw []byte) {
			var e envelope
			if found != nil || failed != nil || json.Unmarshal(raw, &e) != nil {
				return
			}
			switch {
			case e.triple() == triple && (id == "" || e.CorrelationID == id):
				found = &e
			case e.Subtopic == "SetAPIError" && e.CorrelationID == id && id != "":
				failed = &refusal{triple: triple, message: e.Message}
			}
		})
		if failed != nil {
			return envelope{}, failed
		}
		if found != nil {
			return *found, nil
		}
	}
}

// register registers the app and waits for the answer.
func (c *client) register(source string, data map[string]any) error {
	if err := c.request("reg", "PubSub", "App", "Register", source, data); err != nil {
		return err
	}
	_, err := c.await("PubSub/App/Registered", "reg")
	return err
}

// subscribe subscribes to a pattern and waits for the answer.
func (c *client) subscribe(channel, topic, subtopic string) error {
	if err := c.request("sub", "PubSub", "Subscription", "Subscribe", "",
		map[string]string{"channel": channel, "topic": topic, "subtopic": subtopic}); err != nil {
		return err
	}
	_, err := c.await("PubSub/Subscription/Subscribed", "sub")
	return err
}

// lastLoginEvent is the 15th event of a sign-in.
const lastLoginEvent = "Cisco/Agent/SetWrapupCode"

// signIn registers on Cisco, signs in as agent i and returns the workspace token.
//
// A sign-in the server could not serve then (Unavailable: the contact
// center or the password checks are busy) is tried again, as a desktop
// would, up to signInTries times: setting a large run up is not what it
// measures.
func (c *client) signIn(i int, source string) (string, error) {
	if err := c.register(source, map[string]any{"channel": "Cisco"}); err != nil {
		return "", err
	}
	for try := 1; ; try++ {
		if err := c.sendSignIn(i, "login"); err != nil {
			return "", err
		}
		_, err := c.await(lastLoginEvent, "login")
		var r *refusal
		if errors.As(err, &r) && r.unavailable() && try < signInTries {
			time.Sleep(time.Duration(try) * time.Second)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("sign in %s: %w", agentLoginName(i), err)
		}
		return c.awaitToken()
	}
}

// signInTries bounds the tries of one sign-in while setting up.
const signInTries = 10

// refusal is an error event that answered what a client awaited.
type refusal struct {
	triple  string
	message json.RawMessage // the event's message: its errorType and text
}

func (r *refusal) Error() string { return fmt.Sprintf("waiting for %s: %s", r.triple, r.message) }

// unavailable reports whether the server could not serve the request
// then, and says to try again.
func (r *refusal) unavailable() bool {
	var m struct {
		Data struct {
			ErrorType string `json:"errorType"`
		} `json:"data"`
	}
	return json.Unmarshal(r.message, &m) == nil && m.Data.ErrorType == "Unavailable"
}

func (c *client) sendSignIn(i int, id string) error {
	return c.request(id, "Cisco", "Agent", "SetUserInfo", "", map[string]string{
		"username": agentLoginName(i), "password": benchPassword, "extension": agentExtension(i),
	})
}

func (c *client) awaitToken() (string, error) {
	ev, err := c.await("PubSub/Workspace/Token", "")
	if err != nil {
		return "", err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(ev.Message, &tok); err != nil || tok.Token == "" {
		return "", fmt.Errorf("workspace token: %q", ev.Message)
	}
	return tok.Token, nil
}

// join registers an app into a workspace with its token.
func (c *client) join(source, token string, batch bool) error {
	data := map[string]any{"channel": "Cisco", "token": token}
	if batch {
		data["batch"] = true
	}
	return c.register(source, data)
}

// timeID is a request id that carries its send time, so that the event
// that answers it (whose correlationId is the id) tells its latency.
func timeID(prefix byte, t time.Time) []byte {
	return strconv.AppendInt([]byte{prefix}, t.UnixNano(), 10)
}

// sinceID returns the time since the send time in a timeID.
func sinceID(id []byte, now time.Time) (time.Duration, bool) {
	if len(id) < 2 {
		return 0, false
	}
	ns, err := strconv.ParseInt(string(id[1:]), 10, 64)
	if err != nil {
		return 0, false
	}
	return now.Sub(time.Unix(0, ns)), true
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
