package broker

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// Close codes the bus sends besides the standard ones (1001 going away on
// shutdown, 1009 for a frame over the read limit).
const (
	// CloseSlowConsumer closes a connection whose send queue is full: it
	// reads slower than the bus publishes to it. Nothing else waits for it.
	CloseSlowConsumer = 4008
	// CloseRateLimited closes a connection that keeps sending at more than
	// twice its rate limit.
	CloseRateLimited = 4029
	// CloseRegisterTimeout closes a connection that did not register
	// within Config.RegisterTimeout of opening.
	CloseRegisterTimeout = 4408
	// CloseTryAgainLater (the standard 1013) closes a connection whose
	// Register carried a credential the server cannot check now, rather
	// than refuse it: the app reconnects and registers again.
	CloseTryAgainLater = 1013
)

// closeGrace is how long the bus waits for the peer to answer a close frame
// before it drops the TCP connection.
const closeGrace = 2 * time.Second

// Scope is a delivery boundary: an event published into a scope reaches only
// connections in that scope. A connection starts in a scope of its own; a
// sign-in moves it into its agent's workspace.
type Scope string

// Conn is one app's WebSocket connection. Its methods are safe to call from
// any goroutine.
type Conn struct {
	id  string
	ws  *websocket.Conn
	b   *Broker
	own Scope // the scope the connection starts in and returns to

	sock     socket        // the socket under ws, which the writer writes frames to; see writer.go
	done     chan struct{} // closed when the reader has stopped
	doneOnce sync.Once     //
	interest atomic.Pointer[interest]
	out      outbox      // frames waiting for the writer, and the writer's state; see outbox.go
	writer   func()      // writeLoop, bound once: go c.writer() allocates nothing
	pingSlot int         // the pinger's slot; guarded by pinger.mu
	scope    Scope       // the scope it is in now; guarded by Broker.mu
	watching []Scope     // scopes it watches besides; guarded by Broker.mu
	clientIP netip.Addr  //
	limiter  rateLimiter // used by the reader only

	mu       sync.Mutex        // guards the fields below
	app      string            // registered app name; "" until the first Register
	log      *zap.Logger       // carries the connection id and, once known, the app name
	channels map[string]string // registered channels, lowered -> as spelled; nil until the first
	patterns []Pattern         // subscriptions, lowered
	onClose  []func()
	grant    *Grant      // nil: unrestricted
	deadline *time.Timer // closes the connection if it has not registered in time; nil once it has
}

// interest is what a connection receives; replaced whole on each change so
// that the fan-out reads it without a lock.
type interest struct {
	channels map[string]struct{}
	patterns []Pattern
}

type closeFrame struct {
	code   int
	reason string
}

// ID returns the connection's UUID, as it appears in the logs.
func (c *Conn) ID() string { return c.id }

// App returns the name the app registered with, or "" before it registered.
func (c *Conn) App() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.app
}

// Logger returns the connection's logger, which names the connection and app.
func (c *Conn) Logger() *zap.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log
}

// Registered reports whether the app registered on channel (ignoring case).
func (c *Conn) Registered(channel string) bool {
	_, ok := c.interest.Load().channels[lowerTriple(channel, "", "").channel]
	return ok
}

// Scope returns the scope the connection belongs to now.
func (c *Conn) Scope() Scope {
	c.b.mu.RLock()
	defer c.b.mu.RUnlock()
	return c.scope
}

// SetScope moves the connection into scope s: from now on it receives the
// events published there, and no others.
func (c *Conn) SetScope(s Scope) { c.b.move(c, s) }

// ResetScope moves the connection back into the scope it started in.
func (c *Conn) ResetScope() { c.b.move(c, c.own) }

// OnClose arranges for f to run once the connection has closed. If it has
// closed already, f runs at once. Functions run in the order they were added;
// a panic in one is recovered, logged and counted, and the others still run.
func (c *Conn) OnClose(f func()) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		f()
		return
	default:
	}
	c.onClose = append(c.onClose, f)
	c.mu.Unlock()
}

// Send encodes ev and queues it for this connection alone.
func (c *Conn) Send(ev Event) error {
	frame, err := encodeEvent(ev, c.b.cfg.Now())
	if err != nil {
		return err
	}
	c.enqueue(frame)
	if m := c.b.cfg.Metrics; m != nil {
		m.sent(c.b.channelLabel(ev.Channel))
	}
	return nil
}

// registerOutcome is what registerApp did.
type registerOutcome int

const (
	registered      registerOutcome = iota // named, and on the channel if one was given
	nameIsTaken                            // the connection belongs to another app
	tooManyChannels                        // the channel would be one over the limit
)

// registerApp names the connection name, if it has no name yet, and
// registers it on channel, unless it is at limit channels. added reports
// whether the channel is new to the connection. app is the connection's name.
func (c *Conn) registerApp(name, channel string, limit int) (app string, added bool, outcome registerOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.app != "" && c.app != name {
		return c.app, false, nameIsTaken
	}
	key := lowerTriple(channel, "", "").channel
	_, known := c.channels[key]
	if channel != "" && !known && len(c.channels) >= limit {
		return c.app, false, tooManyChannels
	}
	if c.app == "" {
		c.app = name
		c.log = c.log.WithLazy(zap.String("app", name))
		c.stopRegisterTimer()
	}
	if channel != "" && !known {
		if c.channels == nil {
			c.channels = make(map[string]string)
		}
		c.channels[key] = channel
		added = true
	}
	c.publishInterestLocked()
	return c.app, added, registered
}

// overChannels reports whether registering on channel would take the
// connection over limit channels.
func (c *Conn) overChannels(channel string, limit int) bool {
	if channel == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, known := c.channels[lowerTriple(channel, "", "").channel]
	return !known && len(c.channels) >= limit
}

// unregisterChannel removes channel and reports whether it was registered.
func (c *Conn) unregisterChannel(channel string) (removed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := lowerTriple(channel, "", "").channel
	if _, removed = c.channels[key]; removed {
		delete(c.channels, key)
		c.publishInterestLocked()
	}
	return removed
}

// subscribe adds p; it reports false if the connection is at its limit.
func (c *Conn) subscribe(p Pattern, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Contains(c.patterns, p) {
		return true
	}
	if len(c.patterns) >= limit {
		return false
	}
	c.patterns = append(c.patterns, p)
	c.publishInterestLocked()
	return true
}

func (c *Conn) unsubscribe(p Pattern) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.patterns = slices.DeleteFunc(c.patterns, func(q Pattern) bool { return q == p })
	c.publishInterestLocked()
}

// noInterest is the interest of a connection that has registered on no
// channel and subscribed to nothing, shared so that it costs nothing.
var noInterest = &interest{}

func (c *Conn) publishInterestLocked() {
	if len(c.channels) == 0 && len(c.patterns) == 0 {
		c.interest.Store(noInterest)
		return
	}
	in := &interest{
		channels: make(map[string]struct{}, len(c.channels)),
		patterns: slices.Clone(c.patterns),
	}
	for k := range c.channels {
		in.channels[k] = struct{}{}
	}
	c.interest.Store(in)
}

// wants reports whether an event on t reaches this connection: the app
// registered on the event's channel, or subscribed to a pattern matching it.
func (c *Conn) wants(t triple) bool {
	in := c.interest.Load()
	if _, ok := in.channels[t.channel]; ok {
		return true
	}
	for _, p := range in.patterns {
		if p.matches(t) {
			return true
		}
	}
	return false
}

// readLoop reads frames until the connection fails or closes. It decodes
// each frame and serves it (Broker.dispatch) before it reads the next, so
// that a connection's requests are served in order, with no hand-off to
// another goroutine; while a request is served, the app's next frames wait
// in TCP, which pushes back on it.
func (c *Conn) readLoop() {
	cfg := c.b.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	c.ws.SetPingHandler(func(payload string) error {
		c.pong(payload)
		return nil
	})
	limits := rateLimits{frames: cfg.RateLimit, frameBurst: cfg.RateBurst, bytes: cfg.RateBytes, bytesBurst: cfg.RateBytesBurst}
	flooding := false // closing for flooding: read on for the close, ignore the rest
	for {
		kind, frame, err := c.ws.ReadMessage()
		if err != nil {
			c.logReadError(err)
			return
		}
		if flooding {
			c.b.cfg.Metrics.limited()
			continue
		}
		// Any frame shows the peer is alive, like a pong.
		now := time.Now()
		_ = c.ws.SetReadDeadline(now.Add(cfg.PongWait))
		// The limiter judges the raw frame, before any decoding: a
		// refused frame costs the server next to nothing.
		switch c.limiter.take(now, len(frame), limits) {
		case limitClose:
			flooding = true
			c.b.cfg.Metrics.limited()
			c.Logger().Warn("rate limit: closing a connection that keeps flooding",
				zap.Float64("limit", cfg.RateLimit), zap.Float64("limitBytes", cfg.RateBytes))
			c.requestClose(CloseRateLimited, "rate limited")
			continue
		case limitRefuse:
			c.b.cfg.Metrics.limited()
			c.sendError(busChannel, &APIError{
				Type:    ErrTypeRateLimited,
				Message: fmt.Sprintf("rate limited: more than %g frames per second or %g bytes per second", cfg.RateLimit, cfg.RateBytes),
				Msg:     "This app sends too many messages, or too large ones; this one was dropped. Slow down and send it again.",
			}, peekID(frame))
			continue
		}
		if kind != websocket.TextMessage {
			c.b.cfg.Metrics.frameIn(invalidChannel)
			c.sendError(busChannel, &APIError{
				Type:    ErrTypeInvalidFrame,
				Message: "binary frames are not accepted",
				Msg:     "Send each envelope as a JSON text frame, not a binary frame.",
			}, "")
			continue
		}
		req, apiErr := decodeRequest(frame)
		if apiErr != nil {
			c.b.cfg.Metrics.frameIn(invalidChannel)
			c.sendError(busChannel, apiErr, req.ID)
			continue
		}
		req.Conn = c
		c.b.dispatch(c, &req)
		// The time spent serving was the bus's, not the peer's: the peer
		// has its full PongWait again to show it is alive.
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	}
}

func (c *Conn) logReadError(err error) {
	log := c.Logger()
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		log.Info("frame over the read limit; closed with 1009", zap.Int64("limit", c.b.cfg.ReadLimit))
	case websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		log.Info("connection lost", zap.Error(err))
	default:
		log.Debug("connection closed", zap.Error(err))
	}
}

// sendError sends a SetAPIError on channel's error triple to this connection.
func (c *Conn) sendError(channel string, e *APIError, correlationID string) {
	if err := c.Send(errorEvent(channel, e, correlationID)); err != nil {
		c.Logger().Error("encode error event", zap.Error(err))
	}
}

// startRegisterTimer arms the register timeout of a new connection.
func (c *Conn) startRegisterTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = time.AfterFunc(c.b.cfg.RegisterTimeout, c.registerTimedOut)
}

// stopRegisterTimer disarms it; the caller holds c.mu.
func (c *Conn) stopRegisterTimer() {
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
}

// registerTimedOut closes a connection that has not registered in time:
// until it does, it holds a slot and serves nobody.
func (c *Conn) registerTimedOut() {
	c.mu.Lock()
	timedOut := c.app == "" && c.deadline != nil
	c.deadline = nil
	log := c.log
	c.mu.Unlock()
	if !timedOut {
		return
	}
	// At Debug: any client can cause it at will, once per connection.
	log.Debug("closing a connection that did not register in time", zap.Duration("timeout", c.b.cfg.RegisterTimeout))
	c.requestClose(CloseRegisterTimeout, "register timeout: send PubSub/App/Register first")
}

// finish runs once the reader has stopped.
func (c *Conn) finish() {
	c.mu.Lock()
	c.stopRegisterTimer()
	c.doneOnce.Do(func() { close(c.done) })
	callbacks := c.onClose
	c.onClose = nil
	log := c.log
	c.mu.Unlock()
	for _, f := range callbacks {
		// One callback that panics must not skip the others, nor end
		// the process.
		c.b.runCallback(closeCallback, log, f)
	}
}
