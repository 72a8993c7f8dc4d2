package broker

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ctibus/ctibus/internal/logbound"
)

// Config holds the broker's tunables. The zero value of each field selects
// the default written next to it.
type Config struct {
	// ReadLimit is the largest frame accepted, in bytes; a larger one closes
	// the connection with 1009 (message too big). Default 64 KiB.
	ReadLimit int64
	// SendQueue is how many frames may wait for a slow reader before it is
	// disconnected with CloseSlowConsumer. A login alone sends 16 frames;
	// default 256.
	SendQueue int
	// SendQueueBytes bounds the same queue in bytes, the frames being
	// written included: a slow reader beyond it is disconnected with
	// CloseSlowConsumer too, so that no connection makes the server hold
	// more than this for it. One frame is always accepted, whatever its
	// size. Default 1 MiB.
	SendQueueBytes int
	// MaxConnections caps open connections; an upgrade beyond it gets HTTP
	// 503. Default 10,000.
	MaxConnections int
	// MaxSubscriptions caps the patterns one connection may subscribe to.
	// Default 100.
	MaxSubscriptions int
	// MaxChannels caps the channels one connection may be registered on; a
	// Register beyond it is refused with Limit Exceeded. Default 100.
	MaxChannels int
	// RegisterTimeout is how long a connection may stay open without
	// registering; then it is closed with CloseRegisterTimeout, so that a
	// client that only answers pings cannot hold a slot. Default 30 s.
	RegisterTimeout time.Duration
	// AllowedOrigins lists the Origin values (scheme://host[:port]) whose
	// pages may open a WebSocket and call the HTTP APIs: the server's
	// public origins and other sites' pages; "*" allows any. The request's
	// own Host is not trusted (DNS rebinding): a request that arrived on a
	// loopback address also admits the loopback pages of its port. Clients
	// that send no Origin header (not browsers) are always allowed.
	AllowedOrigins []string
	// PongWait is how long a silent peer is kept before it counts as dead.
	// Default 60 s; pings go out every 9/10 of it.
	PongWait time.Duration
	// WriteWait bounds every write to a peer. Default 10 s.
	WriteWait time.Duration
	// RateLimit is how many frames per second one connection may send on
	// average, with bursts of RateBurst. A frame over the limit is refused
	// with Rate Limited; a connection that keeps sending at more than twice
	// the limit for a second is closed with CloseRateLimited. Defaults 100
	// and 200: far above what a person's desktop sends.
	RateLimit float64
	RateBurst int
	// RateBytes is how many bytes per second one connection may send on
	// average, with bursts of RateBytesBurst (at least ReadLimit, so that
	// the largest frame can pass): frames are counted by their size too,
	// with the same refusal and closing rules as RateLimit. Defaults
	// 128 KiB/s and 512 KiB: a desktop sends a few kilobytes a minute.
	RateBytes      float64
	RateBytesBurst int
	// MaxConnectionsPerIP caps the connections of one client address; an
	// upgrade beyond it gets HTTP 429. Zero means no cap: a contact center
	// often puts a whole floor behind one NAT address. DefaultConfig sets
	// DefaultMaxConnectionsPerIP.
	MaxConnectionsPerIP int
	// TrustedProxies are the proxies whose X-Forwarded-For header names the
	// client's address. A request from anywhere else is the client itself.
	TrustedProxies []netip.Prefix
	// Metrics records the broker's Prometheus metrics; nil records nothing.
	Metrics *Metrics
	// Now tells the time for event timestamps and for the rate of refusal
	// log lines. Default time.Now.
	Now func() time.Time

	// PingPeriod is derived from PongWait.
	PingPeriod time.Duration
}

// DefaultConfig returns the configuration ctibus runs with unless told
// otherwise: every field's default, and a cap of connections per client
// address, which a zero Config leaves off. Flags and library users start
// from it, so that they cannot drift apart.
func DefaultConfig() Config {
	return Config{
		ReadLimit:           64 << 10,
		SendQueue:           256,
		SendQueueBytes:      1 << 20,
		MaxConnections:      10_000,
		MaxSubscriptions:    100,
		MaxChannels:         100,
		RegisterTimeout:     30 * time.Second,
		PongWait:            60 * time.Second,
		WriteWait:           10 * time.Second,
		RateLimit:           100,
		RateBurst:           200,
		RateBytes:           128 << 10,
		RateBytesBurst:      512 << 10,
		MaxConnectionsPerIP: DefaultMaxConnectionsPerIP,
	}
}

// DefaultMaxConnectionsPerIP is the cap of connections per client address
// in DefaultConfig: it fits a floor of 500 agents with several apps each
// behind one NAT address.
const DefaultMaxConnectionsPerIP = 2000

func (c *Config) setDefaults() {
	d := DefaultConfig()
	setDefault(&c.ReadLimit, d.ReadLimit)
	setDefault(&c.SendQueue, d.SendQueue)
	setDefault(&c.MaxConnections, d.MaxConnections)
	setDefault(&c.MaxSubscriptions, d.MaxSubscriptions)
	setDefault(&c.SendQueueBytes, d.SendQueueBytes)
	setDefault(&c.MaxChannels, d.MaxChannels)
	setDefault(&c.RegisterTimeout, d.RegisterTimeout)
	setDefault(&c.RateBytes, d.RateBytes)
	setDefault(&c.RateBytesBurst, d.RateBytesBurst)
	// A burst smaller than the largest frame would refuse that frame
	// forever.
	c.RateBytesBurst = max(c.RateBytesBurst, int(min(c.ReadLimit, 1<<30)))
	setDefault(&c.PongWait, d.PongWait)
	setDefault(&c.WriteWait, d.WriteWait)
	setDefault(&c.RateLimit, d.RateLimit)
	setDefault(&c.RateBurst, d.RateBurst)
	if c.Now == nil {
		c.Now = time.Now
	}
	c.PingPeriod = c.PongWait * 9 / 10
}

// setDefault sets *v to def unless it is positive.
func setDefault[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Handler serves the requests of one channel/topic/subtopic. It runs on the
// requesting connection's reader, one request at a time per connection and
// in arrival order; it may block (a sign-in waits for the CTI server)
// without stopping any other connection, while the connection's next
// frames wait in TCP.
//
// An error it returns is sent to the requester as a SetAPIError on the
// request's channel: an *APIError as it is, anything else as an Internal
// Error (and logged).
type Handler interface {
	ServeBus(ctx context.Context, req *Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) error

// ServeBus calls f(ctx, req).
func (f HandlerFunc) ServeBus(ctx context.Context, req *Request) error { return f(ctx, req) }

// busChannel is the channel of the bus's own control plane.
const busChannel = "PubSub"

// Broker routes envelopes between apps connected over WebSocket and the
// handlers registered on it. See the package documentation for its
// concurrency contract.
type Broker struct {
	cfg      Config
	log      *zap.Logger
	upgrader websocket.Upgrader
	ctx      context.Context    // given to handlers; cancelled when a drain gives up
	cancel   context.CancelFunc //
	open     atomic.Int64       // connections open or being upgraded
	inflight sync.WaitGroup     // requests queued or running; Add only under mu while !draining
	conns    sync.WaitGroup     // one per connection until its goroutines end

	admitter Admitter        // set before serving
	engine   Engine          // set before serving; nil: one node alone
	ips      clientAddresses // connections per client address
	pings    pinger          // pings every open connection

	origins  originPolicy      // the pages that may use the bus
	refusals *logbound.Limiter // log lines about refused connections

	mu       sync.RWMutex                 // guards the fields below and Conn.scope, Conn.watching
	handlers map[triple]route             //
	channels map[string]string            // channels that have handlers, lowered -> canonical spelling
	scopes   map[Scope]map[*Conn]struct{} // the connections in each scope
	watchers map[Scope]map[*Conn]struct{} // granted connections watching each scope
	watchAll map[*Conn]string             // granted connections watching every scope of a prefix, and the prefix
	draining bool
}

// New returns a Broker that logs to log. The PubSub control plane is
// registered on it; add the other handlers with Handle before serving.
func New(log *zap.Logger, cfg Config) *Broker {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg:      cfg,
		log:      log,
		ctx:      ctx,
		cancel:   cancel,
		handlers: make(map[triple]route),
		channels: make(map[string]string),
		scopes:   make(map[Scope]map[*Conn]struct{}),
		watchers: make(map[Scope]map[*Conn]struct{}),
		watchAll: make(map[*Conn]string),
		ips:      clientAddresses{limit: cfg.MaxConnectionsPerIP, count: make(map[netip.Addr]int)},
		origins:  newOriginPolicy(cfg.AllowedOrigins),
		refusals: logbound.NewLimiter(logbound.DefaultPerSecond, logbound.DefaultBurst, cfg.Now),
	}
	b.pings.period = cfg.PingPeriod
	b.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteWait,
		CheckOrigin:      b.checkOrigin,
		// A reader buffer of its own, rather than the 4 KiB one net/http
		// hands over, which every idle connection would keep: envelopes
		// are small, and a larger frame is read in several calls.
		ReadBufferSize: readBufferSize,
		// The writer frames data itself (writer.go); gorilla's own writer
		// serves only control frames, which need no buffer. A pool keeps
		// gorilla from allocating one per connection.
		WriteBufferPool: &sync.Pool{},
	}
	b.handlePubSub()
	return b
}

// Handle registers h for the triple, matched ignoring case; the spelling
// given here is the channel's canonical one. A channel with at least one
// handler is authoritative: requests on it reach handlers only, never
// subscribers, and a triple without a handler is an Unknown API.
func (b *Broker) Handle(channel, topic, subtopic string, h Handler) {
	for _, name := range []string{channel, topic, subtopic} {
		if why := checkName(name); why != "" {
			panic(fmt.Sprintf("broker: Handle(%q, %q, %q): %s", channel, topic, subtopic, why))
		}
	}
	t := lowerTriple(channel, topic, subtopic)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.handlers[t]; dup {
		panic(fmt.Sprintf("broker: Handle(%q, %q, %q): registered twice", channel, topic, subtopic))
	}
	b.handlers[t] = route{h: h, api: channel + "/" + topic + "/" + subtopic}
	b.channels[t.channel] = channel
}

// Publish sends ev to every connection in scope that registered on its
// channel or subscribed to a pattern that matches it, and to the granted
// connections watching scope whose subscriptions match it, on this node
// and, through the Engine, on the others. The event is encoded once,
// whatever the number of recipients and nodes. An error from the Engine is
// returned once the local connections have the event.
func (b *Broker) Publish(scope Scope, ev Event) error {
	return b.publish(scope, ev, nil)
}

func (b *Broker) publish(scope Scope, ev Event, except *Conn) error {
	frame, err := encodeEvent(ev, b.cfg.Now())
	if err != nil {
		return err
	}
	m := Message{Scope: scope, Channel: ev.Channel, Topic: ev.Topic, Subtopic: ev.Subtopic, About: ev.About, Frame: frame}
	b.deliver(m, except)
	if b.engine == nil || nodeLocal(scope) {
		return nil
	}
	if err := b.engine.Publish(m); err != nil {
		return fmt.Errorf("publish %s/%s/%s to the other nodes: %w", ev.Channel, ev.Topic, ev.Subtopic, err)
	}
	return nil
}

// channelLabel names a channel in metrics.
func (b *Broker) channelLabel(channel string) string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.channelLabelLocked(strings.ToLower(channel))
}

// channelLabelLocked names a lowered channel in metrics.
func (b *Broker) channelLabelLocked(lowered string) string {
	if canonical, ok := b.channels[lowered]; ok {
		return canonical
	}
	return appChannel
}

// move takes c out of its scope and into to. It returns once the events
// other nodes publish into to reach this node, so that whatever the app
// is told next (its Register answered, its sign-in's events), every event
// published after it is delivered to it.
func (b *Broker) move(c *Conn, to Scope) {
	b.want(Interest{Scope: to})
	b.mu.Lock() // lock order: broker (5), under session's workspaces (4); see docs/locking.md
	from := c.scope
	if _, open := b.scopes[from][c]; !open {
		b.mu.Unlock()
		b.unwant(Interest{Scope: to})
		return // closed: it must not reappear in a scope
	}
	b.leaveLocked(c)
	b.joinLocked(c, to)
	b.mu.Unlock()
	b.unwant(Interest{Scope: from})
}

func (b *Broker) joinLocked(c *Conn, s Scope) {
	members := b.scopes[s]
	if members == nil {
		members = make(map[*Conn]struct{})
		b.scopes[s] = members
	}
	members[c] = struct{}{}
	c.scope = s
}

func (b *Broker) leaveLocked(c *Conn) {
	members := b.scopes[c.scope]
	delete(members, c)
	if len(members) == 0 {
		delete(b.scopes, c.scope)
	}
}

// readBufferSize is the size of each connection's read buffer.
const readBufferSize = 1024

// ServeHTTP upgrades the request to a WebSocket connection, which is then
// served on a goroutine of its own until it closes; Shutdown waits for it.
// Returning lets net/http release what it kept for the request (its
// buffered writer, the request and response), which an idle connection
// would otherwise hold for its whole life.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.Draining() {
		http.Error(w, "ctibus is shutting down; connect to another node or retry shortly", http.StatusServiceUnavailable)
		return
	}
	ip := clientIP(r, b.cfg.TrustedProxies)
	if n := b.open.Add(1); n > int64(b.cfg.MaxConnections) {
		b.open.Add(-1)
		b.logRefusal(zap.WarnLevel, "connection refused: at the connection limit", zap.Int("limit", b.cfg.MaxConnections))
		http.Error(w, "ctibus has reached its connection limit; retry later", http.StatusServiceUnavailable)
		return
	}
	if !b.ips.add(ip) {
		b.open.Add(-1)
		b.logRefusal(zap.WarnLevel, "connection refused: at the per-address limit", zap.Stringer("client", ip), zap.Int("limit", b.cfg.MaxConnectionsPerIP))
		http.Error(w, "too many connections from your address; close some and retry", http.StatusTooManyRequests)
		return
	}
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		b.open.Add(-1)
		b.ips.remove(ip)
		b.logRefusal(zap.InfoLevel, "websocket upgrade refused", zap.Error(err), zap.String("origin", logbound.Clip(r.Header.Get("Origin"))))
		return // the upgrader has answered
	}
	id := uuid.NewString()
	c := &Conn{
		id:       id,
		ws:       ws,
		sock:     socket{nc: ws.NetConn()},
		b:        b,
		own:      Scope(connScopePrefix + id),
		clientIP: ip,
		done:     make(chan struct{}),
		log:      b.log.WithLazy(zap.String("conn", id)),
	}
	c.writer = c.writeLoop
	c.interest.Store(noInterest)

	b.mu.Lock()
	if b.draining {
		b.mu.Unlock()
		b.open.Add(-1)
		b.ips.remove(ip)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(b.cfg.WriteWait))
		ws.Close()
		return
	}
	b.joinLocked(c, c.own)
	b.conns.Add(1)
	b.mu.Unlock()

	b.cfg.Metrics.connectionOpened(1)
	if ce := c.log.Check(zap.DebugLevel, "connection open"); ce != nil {
		ce.Write(zap.String("remote", r.RemoteAddr), zap.Stringer("client", ip))
	}
	b.pings.add(c)
	c.startRegisterTimer()
	go b.serveConn(c)
}

// serveConn reads from c until it closes, then ends the connection.
func (b *Broker) serveConn(c *Conn) {
	c.readLoop()

	b.mu.Lock()
	b.leaveLocked(c)
	left := c.interestsLocked()
	b.unwatchLocked(c)
	b.mu.Unlock()
	b.unwant(left...)
	b.pings.remove(c)
	c.finish()
	c.endWrites()
	c.ws.Close()
	b.open.Add(-1)
	b.ips.remove(c.clientIP)
	b.cfg.Metrics.connectionOpened(-1)
	b.conns.Done()
}

// dispatch serves req on c's reader, or refuses it while draining. What
// the request queues for c within directWindow, its answer, the reader
// then writes itself, at once (writeDirect): a round trip costs no
// goroutine hand-off.
func (b *Broker) dispatch(c *Conn, req *Request) {
	b.mu.RLock()
	if b.draining {
		b.mu.RUnlock()
		c.sendError(busChannel, &APIError{
			Type:    ErrTypeUnavailable,
			Message: "server shutting down",
			Msg:     "The server is shutting down and took no action; reconnect and send it again.",
		}, req.ID)
		return
	}
	b.inflight.Add(1)
	label := b.channelLabelLocked(strings.ToLower(req.Channel))
	b.mu.RUnlock()
	b.cfg.Metrics.frameIn(label)
	c.out.beginServe(time.Now())
	b.serve(b.ctx, req)
	if c.out.endServe() {
		c.writeDirect()
	}
	b.inflight.Done()
}

// route is a handler and the canonical name of its API, which names it in
// logs and metrics whatever the spelling of the request.
type route struct {
	h   Handler
	api string
}

// serve routes one request on its connection's reader. A panic in its
// handler ends the request, not the process: the requester gets an
// Internal Error and every connection, its own included, carries on.
func (b *Broker) serve(ctx context.Context, req *Request) {
	defer func() {
		if v := recover(); v != nil {
			b.recovered(req, v)
		}
	}()
	b.route(ctx, req)
}

// recovered reports a panic that serve stopped: logged with its stack,
// counted, and answered as an Internal Error on the request's channel.
func (b *Broker) recovered(req *Request, v any) {
	r, canonical, found, handled := b.lookup(lowerTriple(req.Channel, req.Topic, req.Subtopic))
	api, channel := appChannel, busChannel
	if found {
		api = r.api
	}
	if handled {
		channel = canonical
	}
	b.cfg.Metrics.panicked(api)
	req.Conn.Logger().Error("handler panicked; answered Internal Error",
		zap.String("api", api), zap.Any("panic", v), zap.StackSkip("stack", 1))
	b.handlerError(req.Conn, channel, internalError(), req.ID)
}

// AfterFunc is time.AfterFunc for the timers of the bus and its handlers
// (grace periods, a simulated call's rings): a panic in f is recovered,
// logged with its stack and counted, rather than ending the process and
// every session with it.
func (b *Broker) AfterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { b.runCallback(timerCallback, b.log, f) })
}

// Labels of ctibus_handler_panics_total for callbacks, which serve no API.
const (
	timerCallback = "timer"
	closeCallback = "close"
)

// runCallback runs f, recovering a panic in it as AfterFunc describes;
// kind labels it in logs and metrics.
func (b *Broker) runCallback(kind string, log *zap.Logger, f func()) {
	defer func() {
		if v := recover(); v != nil {
			b.cfg.Metrics.panicked(kind)
			log.Error("callback panicked", zap.String("callback", kind), zap.Any("panic", v), zap.StackSkip("stack", 1))
		}
	}()
	f()
}

// internalError is the answer to a request the server failed to handle.
func internalError() *APIError {
	return &APIError{
		Type:    ErrTypeInternal,
		Message: "the server failed to handle the request",
		Msg:     "The server could not complete the request. Try again; if it keeps failing, tell the administrator the time it happened.",
	}
}

// route runs one request: to its handler on a handled channel, or to the
// subscribers in the sender's scope on a free one.
func (b *Broker) route(ctx context.Context, req *Request) {
	c := req.Conn
	t := lowerTriple(req.Channel, req.Topic, req.Subtopic)
	r, canonical, found, handled := b.lookup(t)

	if !handled {
		b.relay(req, t)
		return
	}
	switch {
	case !found:
		c.sendError(canonical, &APIError{
			Type:    ErrTypeUnknownAPI,
			Message: fmt.Sprintf("no API %s/%s/%s", req.Channel, req.Topic, req.Subtopic),
			Msg:     fmt.Sprintf("%s has no %s/%s request; check the spelling against the protocol document.", canonical, req.Topic, req.Subtopic),
		}, req.ID)
		return
	case t.channel != strings.ToLower(busChannel) && !c.Registered(canonical):
		c.sendError(canonical, &APIError{
			Type:    ErrTypeNotRegistered,
			Message: fmt.Sprintf("the app is not registered on %s", canonical),
			Msg:     fmt.Sprintf(`Register on the %s channel first: send PubSub/App/Register with "source" set to your app's name and data {"channel":%q}.`, canonical, canonical),
		}, req.ID)
		return
	}

	start := time.Now()
	err := r.h.ServeBus(ctx, req)
	b.cfg.Metrics.handled(r.api, time.Since(start))
	if err == nil {
		return
	}
	apiErr, ok := asAPIError(err)
	if !ok {
		c.Logger().Error("handler failed", zap.String("api", r.api), zap.Error(err))
		apiErr = internalError()
	}
	b.handlerError(c, canonical, apiErr, req.ID)
}

// handlerError sends the error a request's handler returned. The errors of
// a channel's API go to every app in the requester's scope, as on
// Workspace's shared bus, where an error widget hears the errors of every
// app of the desktop: before a sign-in that scope is the connection's own,
// after it the agent's workspace. The PubSub channel's errors are about
// the requesting connection itself (its registration, its subscriptions)
// and go to it alone.
func (b *Broker) handlerError(c *Conn, channel string, e *APIError, correlationID string) {
	scope := c.Scope()
	if strings.EqualFold(channel, busChannel) || nodeLocal(scope) {
		c.sendError(channel, e, correlationID)
		return
	}
	if err := b.Publish(scope, errorEvent(channel, e, correlationID)); err != nil {
		c.Logger().Error("error event not sent to the other nodes", zap.Error(err))
	}
}

// lookup finds the handler of t: found when there is one, handled when t's
// channel has handlers at all, and then its canonical spelling.
func (b *Broker) lookup(t triple) (r route, canonical string, found, handled bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r, found = b.handlers[t]
	canonical, handled = b.channels[t.channel]
	return r, canonical, found, handled
}

// relay delivers an app-to-app message to the subscribers in the sender's
// scope, with the source the sender registered under, so that no app can
// speak for another. The sender does not get its own message back.
func (b *Broker) relay(req *Request, t triple) {
	c := req.Conn
	app, mayPublish := c.publisher()
	switch {
	case app == "":
		c.sendError(busChannel, &APIError{
			Type:    ErrTypeNotRegistered,
			Message: "the app has not registered",
			Msg:     `Register before publishing: send PubSub/App/Register with "source" set to your app's name.`,
		}, req.ID)
		return
	case !mayPublish:
		c.sendError(busChannel, &APIError{
			Type:    ErrTypeForbidden,
			Message: "the app's grant does not allow publishing",
			Msg:     "This app may not publish; ask the administrator to allow it in the apps file.",
		}, req.ID)
		return
	}
	ev := Event{
		Channel:       req.Channel,
		Topic:         req.Topic,
		Subtopic:      req.Subtopic,
		Source:        app,
		Message:       req.Data,
		CorrelationID: req.ID,
	}
	if err := b.publish(c.Scope(), ev, c); err != nil {
		c.Logger().Error("relay", zap.Error(err))
	}
}

// Draining reports whether Shutdown has begun.
func (b *Broker) Draining() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.draining
}

// Shutdown drains the broker: it refuses new connections and requests, lets
// the requests in flight finish, then closes every connection with 1001
// (going away) after the frames queued for it. If ctx ends first, handlers
// are cancelled, sockets are dropped and ctx's error is returned.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.draining = true
	b.mu.Unlock()

	var err error
	if err = waitCtx(ctx, &b.inflight); err != nil {
		b.cancel()
	}

	b.mu.RLock()
	all := b.connsLocked()
	b.mu.RUnlock()
	for _, c := range all {
		c.requestClose(websocket.CloseGoingAway, "server shutting down")
	}
	if connErr := waitCtx(ctx, &b.conns); connErr != nil {
		err = connErr
		for _, c := range all {
			c.sock.close()
		}
		b.conns.Wait()
	}
	b.pings.done.Wait()
	b.cancel()
	return err
}

func (b *Broker) connsLocked() []*Conn {
	var all []*Conn
	for _, members := range b.scopes {
		for c := range members {
			all = append(all, c)
		}
	}
	return all
}

func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Connections returns how many connections are open, or being upgraded.
func (b *Broker) Connections() int { return int(b.open.Load()) }

// Routes returns the triple of every handler, spelled as Handle was
// given it, sorted: the requests a document of the bus must describe.
func (b *Broker) Routes() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	routes := make([]string, 0, len(b.handlers))
	for _, r := range b.handlers {
		routes = append(routes, r.api)
	}
	sort.Strings(routes)
	return routes
}

// Handled reports whether channel has handlers, and so is authoritative:
// no app may publish events on it.
func (b *Broker) Handled(channel string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.channels[strings.ToLower(channel)]
	return ok
}

// logRefusal logs a refused connection, unless refusals come too fast to
// log each: a flood of them writes a few lines a second, each counting the
// lines left out before it.
func (b *Broker) logRefusal(level zapcore.Level, msg string, fields ...zap.Field) {
	ok, suppressed := b.refusals.Allow()
	if !ok {
		return
	}
	if ce := b.log.Check(level, msg); ce != nil {
		if suppressed > 0 {
			fields = append(fields, zap.Int("suppressed", suppressed))
		}
		ce.Write(fields...)
	}
}
