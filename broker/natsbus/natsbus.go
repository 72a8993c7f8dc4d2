package natsbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/internal/kvstore"
	"github.com/ctibus/ctibus/internal/logbound"
)

// DefaultPrefix starts every subject unless Options.Prefix says otherwise.
const DefaultPrefix = "ctibus"

// subscribeWait bounds the round trip to the server that makes sure a
// subscription is in place, which a connection joining a scope waits for.
const subscribeWait = 5 * time.Second

// incomingQueue is how many received events may wait for the engine's
// goroutine, all subscriptions together: the size of a NATS client's own
// per-subscription queue (nats.DefaultMaxChanLen). Beyond it the node is a
// slow consumer and the client drops what does not fit.
const incomingQueue = nats.DefaultMaxChanLen

// A scope's subscription outlives its last Unwant by the linger, so that
// apps reconnecting after a blip rejoin without a round trip to NATS; then
// the engine unsubscribes, at most unsubscribesPerTick every
// unsubscribeTick. The NATS server removes a subscription to a wildcard
// subject under its account's write lock, walking its match cache (up to
// 1,024 subjects) for each one; the thousands of scopes a node leaves at
// once when its connections go would otherwise hold every publish of the
// account, the contact center's lease renewals among them, for seconds.
const (
	DefaultLinger       = 10 * time.Second
	unsubscribeTick     = 100 * time.Millisecond
	unsubscribesPerTick = 50
)

// ErrEcho refuses a NATS connection that would echo the node's own events
// back to it.
var ErrEcho = errors.New("natsbus: the NATS connection must be made with nats.NoEcho()")

// errNotConnected is why Want did not wait for the server: the connection
// is down, and the client subscribes again when it is back.
var errNotConnected = errors.New("natsbus: not connected to NATS; the subscription is made when the connection is back")

// Options holds the engine's tunables; the zero value selects the defaults.
type Options struct {
	// Prefix is the first token(s) of every subject, so that several
	// clusters can share one NATS account: names of 1 to 32 letters,
	// digits, - or _, dot-separated. Default "ctibus".
	Prefix string
	// Log receives what goes wrong with incoming events. Default: nothing.
	Log *zap.Logger
	// Linger is how long a scope's subscription is kept after the last
	// Unwant of it, in case a connection joins the scope again. Default
	// DefaultLinger; negative: none.
	Linger time.Duration
}

// Engine carries a broker's events over NATS core subjects. It implements
// broker.Engine; its methods are safe to call from any goroutine.
type Engine struct {
	nc      *nats.Conn
	prefix  string // Options.Prefix + ".ev."
	all     string // prefix + ">": the subject of every event
	deliver func(broker.Message)
	log     *zap.Logger
	in      chan *nats.Msg // every subscription's events, in the order they arrived
	stop    chan struct{}  // closed by Close
	done    chan struct{}  // closed when receive has returned

	linger time.Duration

	mu     sync.Mutex               // guards the fields below
	subs   map[string]*subscription // by subject
	idle   []idleSubscription       // wanted by nobody, oldest first
	closed bool

	received atomic.Uint64     // events handed to deliver
	dropped  atomic.Uint64     // incoming frames that were not JSON objects
	dropLogs *logbound.Limiter // log lines about them
}

// subscription is one NATS subscription and the wants it serves.
type subscription struct {
	refs  int                // Wants not yet undone; guarded by Engine.mu
	sub   *nats.Subscription // nil if the client refused it (closed connection)
	ready chan struct{}      // closed once the server has it, or the wait gave up
	err   error              // why it may not be in place; set before ready closes
	lost  int                // events the client dropped from it, as last logged; guarded by Engine.mu
	since time.Time          // when refs last fell to 0; guarded by Engine.mu
}

// idleSubscription is a subscription whose refs fell to 0 at since: it
// goes unless it is wanted again meanwhile.
type idleSubscription struct {
	subject string
	s       *subscription
	since   time.Time
}

var _ broker.Engine = (*Engine)(nil)

// New returns an engine that publishes the broker's events and hands each
// event another node publishes in a scope this node wants (Want) to
// deliver (usually a Broker's Deliver), one at a time, in the order
// received, on a goroutine of the engine's. nc must be made with
// nats.NoEcho(); New does not take ownership of it. Call Close to stop.
func New(nc *nats.Conn, deliver func(broker.Message), opts Options) (*Engine, error) {
	switch {
	case nc == nil || deliver == nil:
		return nil, errors.New("natsbus: New needs a NATS connection and a deliver function")
	case !nc.Opts.NoEcho:
		return nil, ErrEcho
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !validPrefix(opts.Prefix) {
		return nil, fmt.Errorf("natsbus: prefix %q: want dot-separated names of 1 to 32 letters, digits, - or _", opts.Prefix)
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Linger == 0 {
		opts.Linger = DefaultLinger
	}
	e := &Engine{
		nc:      nc,
		prefix:  opts.Prefix + ".ev.",
		all:     opts.Prefix + ".ev.>",
		deliver: deliver,
		log:     opts.Log,
		linger:  max(opts.Linger, 0),
		in:      make(chan *nats.Msg, incomingQueue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		subs:    make(map[string]*subscription),

		dropLogs: logbound.NewLimiter(logbound.DefaultPerSecond, logbound.DefaultBurst, nil),
	}
	go e.receive()
	go e.unsubscribeIdle()
	return e, nil
}

// subjectOf is the subject that brings the events of i: every subject
// under the scope's token, or, for a prefix, every subject of the cluster,
// since NATS matches whole tokens and a scope is one token.
func (e *Engine) subjectOf(i broker.Interest) string {
	if i.Prefix {
		return e.all
	}
	var b strings.Builder
	b.Grow(len(e.prefix) + len(i.Scope) + 2)
	b.WriteString(e.prefix)
	appendToken(&b, string(i.Scope))
	b.WriteString(".>")
	return b.String()
}

// Want subscribes to the events of each of is, unless a subscription to
// them is already held, and returns once the NATS server has them all: one
// Flush, whose PONG the server sends after it processed the SUBs, so
// whatever another node publishes after Want returned is sent to this
// node. A Want for events whose subscription is on its way waits for that
// subscription's round trip. While the connection is down Want does not
// wait: the client subscribes again on reconnecting, and nothing published
// meanwhile reaches any node. The error is the first of the interests'.
func (e *Engine) Want(is ...broker.Interest) error {
	var made, pending []*subscription
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("natsbus: subscribe: %w", nats.ErrBadSubscription)
	}
	for _, i := range is {
		subject := e.subjectOf(i)
		if s := e.subs[subject]; s != nil {
			s.refs++
			pending = append(pending, s)
			continue
		}
		s := &subscription{refs: 1, ready: make(chan struct{})}
		e.subs[subject] = s
		// Under e.mu, so that this SUB and the UNSUB of an earlier
		// subscription to the same subject reach the server in order.
		if s.sub, s.err = e.nc.ChanSubscribe(subject, e.in); s.err != nil {
			s.err = fmt.Errorf("natsbus: subscribe to %s: %w", subject, s.err)
			close(s.ready)
		} else {
			made = append(made, s)
		}
		pending = append(pending, s)
	}
	e.mu.Unlock()
	if len(made) > 0 {
		err := errNotConnected
		if e.nc.IsConnected() {
			err = e.nc.FlushTimeout(subscribeWait)
		}
		for _, s := range made {
			if err != nil {
				s.err = fmt.Errorf("natsbus: subscribe to %s: %w", s.sub.Subject, err)
			}
			close(s.ready)
		}
	}
	var first error
	for _, s := range pending {
		<-s.ready
		if first == nil {
			first = s.err
		}
	}
	return first
}

// Unwant undoes one Want of each of is. What none is left for is
// unsubscribed from after the engine's linger, paced (see DefaultLinger);
// meanwhile its events still arrive, and are delivered to whoever is then
// in the scope. A Want for the same events before that keeps the
// subscription; one after it subscribes again, and waits for the server as
// the first did.
func (e *Engine) Unwant(is ...broker.Interest) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, i := range is {
		subject := e.subjectOf(i)
		s := e.subs[subject]
		if s == nil || s.refs == 0 {
			continue // after Close, or not wanted
		}
		if s.refs--; s.refs == 0 {
			s.since = now
			e.idle = append(e.idle, idleSubscription{subject, s, now})
		}
	}
}

// unsubscribeIdle drops the subscriptions nobody has wanted for the
// linger, at most unsubscribesPerTick every unsubscribeTick, until Close.
func (e *Engine) unsubscribeIdle() {
	tick := time.NewTicker(unsubscribeTick)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-e.stop:
			return
		}
		e.unsubscribeIdleOnce(time.Now())
	}
}

// unsubscribeIdleOnce drops up to unsubscribesPerTick of the subscriptions
// that, at now, nobody has wanted for the linger.
func (e *Engine) unsubscribeIdleOnce(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	done := 0
	for len(e.idle) > 0 && done < unsubscribesPerTick {
		i := e.idle[0]
		if now.Sub(i.since) < e.linger {
			break // the rest went idle later
		}
		e.idle[0] = idleSubscription{}
		e.idle = e.idle[1:]
		if i.s.refs > 0 || !i.s.since.Equal(i.since) || e.subs[i.subject] != i.s {
			continue // wanted again since; a later entry stands for it if it went idle again
		}
		delete(e.subs, i.subject)
		done++
		if i.s.sub != nil {
			if err := i.s.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
				e.log.Warn("unsubscribe", zap.String("subject", logbound.Clip(i.subject)), zap.Error(err))
			}
		}
	}
	if len(e.idle) == 0 {
		e.idle = nil // let the backing array go
	}
}

// Subscriptions returns how many NATS subscriptions the engine holds: one
// per scope this node has a connection in or watches, and one for all
// events while it has a connection watching every scope of a prefix, each
// kept for the linger after its last connection left.
func (e *Engine) Subscriptions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs)
}

// Received returns how many events from other nodes the engine has handed
// to deliver.
func (e *Engine) Received() uint64 { return e.received.Load() }

// validPrefix reports whether p is one or more names, dot-separated, as
// kvstore.CheckName allows them: tokens fit for a subject, with neither
// wildcards nor spaces.
func validPrefix(p string) bool {
	for tok := range strings.SplitSeq(p, ".") {
		if kvstore.CheckName(tok) != nil {
			return false
		}
	}
	return true
}

// aboutHeader carries a Message's About, when it has one.
const aboutHeader = "Ctibus-About"

// Publish sends m to the other nodes. It does not wait for the network:
// the NATS client buffers, and while it reconnects keeps up to
// nats.ReconnectBufSize; an error means m was not sent.
func (e *Engine) Publish(m broker.Message) error {
	msg := &nats.Msg{Subject: subject(e.prefix, m), Data: m.Frame}
	if m.About != "" {
		msg.Header = nats.Header{aboutHeader: []string{string(m.About)}}
	}
	if err := e.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("natsbus: %w", err)
	}
	return nil
}

// receive hands every incoming event to deliver until Close, then closes
// done. All subscriptions feed one queue, in the order the events arrived
// on the node's one NATS connection.
func (e *Engine) receive() {
	defer close(e.done)
	for {
		var msg *nats.Msg
		select {
		case msg = <-e.in:
		case <-e.stop:
			return
		}
		e.noteLost(msg.Sub)
		m, err := parseSubject(e.prefix, msg.Subject)
		if err != nil {
			e.log.Warn("event from another node dropped", zap.String("subject", logbound.Clip(msg.Subject)), zap.Error(err))
			continue
		}
		if why := checkFrame(msg.Data); why != "" {
			e.drop(msg.Subject, len(msg.Data), why)
			continue
		}
		m.Frame = msg.Data
		m.About = broker.Scope(msg.Header.Get(aboutHeader))
		// An event of a scope this node is in may also come through the
		// subscription to all events; each path serves its own recipients.
		m.For = broker.ForScope
		if msg.Sub != nil && msg.Sub.Subject == e.all {
			m.For = broker.ForPrefixWatchers
		}
		e.received.Add(1)
		e.deliver(m)
	}
}

// noteLost logs the events the NATS client dropped because the queue was
// full: connections here missed them. Only a queue at least half full can
// have overflowed since the last look, so an engine that keeps up never
// takes the subscriptions' locks for it.
func (e *Engine) noteLost(sub *nats.Subscription) {
	if sub == nil || len(e.in) < cap(e.in)/2 {
		return
	}
	n, err := sub.Dropped()
	if err != nil {
		return // unsubscribed since
	}
	e.mu.Lock()
	s := e.subs[sub.Subject]
	if s == nil || s.sub != sub || n <= s.lost {
		e.mu.Unlock()
		return
	}
	lost := n - s.lost
	s.lost = n
	e.mu.Unlock()
	e.log.Error("events from other nodes dropped: this node cannot keep up", zap.String("subject", logbound.Clip(sub.Subject)), zap.Int("dropped", lost))
}

// checkFrame says why an incoming frame may not reach connections, or ""
// if it may: every frame a node publishes is one JSON object in UTF-8, so
// anything else was not published by a node. Connections are promised
// exactly that (docs/protocol.md 1.1), whoever got access to NATS.
func checkFrame(frame []byte) string {
	switch {
	case !utf8.Valid(frame):
		return "not UTF-8"
	case !json.Valid(frame):
		return "not JSON"
	case bytes.TrimLeft(frame, " \t\r\n")[0] != '{':
		return "not a JSON object"
	}
	return ""
}

// drop counts a frame that checkFrame refused and logs it, without its
// payload, a few lines a second at most.
func (e *Engine) drop(subject string, size int, why string) {
	e.dropped.Add(1)
	ok, suppressed := e.dropLogs.Allow()
	if !ok {
		return
	}
	fields := []zap.Field{zap.String("subject", logbound.Clip(subject)), zap.Int("bytes", size), zap.String("reason", why)}
	if suppressed > 0 {
		fields = append(fields, zap.Int("suppressed", suppressed))
	}
	e.log.Warn("frame from NATS dropped: no node sends that; is something else publishing on the cluster's subjects?", fields...)
}

// Dropped returns how many incoming frames were dropped because they were
// not JSON objects in UTF-8.
func (e *Engine) Dropped() uint64 { return e.dropped.Load() }

// Close unsubscribes from everything and returns once the event being
// delivered, if any, is delivered; events received but not yet delivered
// are dropped. It does not close the NATS connection. Want fails after it.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.idle = nil
	var errs []error
	for subject, s := range e.subs {
		delete(e.subs, subject)
		if s.sub == nil {
			continue
		}
		if err := s.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("natsbus: unsubscribe from %s: %w", subject, err))
		}
	}
	e.mu.Unlock()
	close(e.stop)
	<-e.done
	return errors.Join(errs...)
}
