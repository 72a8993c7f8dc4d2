package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// subscribeWait bounds New's round trip to the server, which makes sure the
// subscription is in place before the node serves.
const subscribeWait = 5 * time.Second

// ErrEcho refuses a NATS connection that would echo the node's own events
// back to it.
var ErrEcho = errors.New("natsbus: the NATS connection must be made with nats.NoEcho()")

// Options holds the engine's tunables; the zero value selects the defaults.
type Options struct {
	// Prefix is the first token(s) of every subject, so that several
	// clusters can share one NATS account: names of 1 to 32 letters,
	// digits, - or _, dot-separated. Default "ctibus".
	Prefix string
	// Log receives what goes wrong with incoming events. Default: nothing.
	Log *zap.Logger
}

// Engine carries a broker's events over NATS core subjects. It implements
// broker.Engine; Publish is safe to call from any goroutine.
type Engine struct {
	nc      *nats.Conn
	prefix  string // Options.Prefix + ".ev."
	deliver func(broker.Message)
	log     *zap.Logger
	sub     *nats.Subscription
	done    chan struct{} // closed when receive has returned

	dropped  atomic.Uint64     // incoming frames that were not JSON objects
	dropLogs *logbound.Limiter // log lines about them
}

var _ broker.Engine = (*Engine)(nil)

// New subscribes to every event the other nodes publish and hands each to
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
	e := &Engine{
		nc:      nc,
		prefix:  opts.Prefix + ".ev.",
		deliver: deliver,
		log:     opts.Log,
		done:    make(chan struct{}),

		dropLogs: logbound.NewLimiter(logbound.DefaultPerSecond, logbound.DefaultBurst, nil),
	}
	var err error
	if e.sub, err = nc.SubscribeSync(e.prefix + ">"); err != nil {
		return nil, fmt.Errorf("natsbus: subscribe to %s>: %w", e.prefix, err)
	}
	if err := nc.FlushTimeout(subscribeWait); err != nil {
		e.sub.Unsubscribe()
		return nil, fmt.Errorf("natsbus: subscribe to %s>: %w", e.prefix, err)
	}
	go e.receive()
	return e, nil
}

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

// receive hands every incoming event to deliver until the subscription
// ends, then closes done.
func (e *Engine) receive() {
	defer close(e.done)
	for {
		msg, err := e.sub.NextMsgWithContext(context.Background())
		switch {
		case errors.Is(err, nats.ErrSlowConsumer):
			// The client dropped what did not fit in the subscription's
			// pending limits: connections here missed those events.
			e.log.Error("events from other nodes dropped: this node cannot keep up", zap.Error(err))
			continue
		case errors.Is(err, nats.ErrBadSubscription), errors.Is(err, nats.ErrConnectionClosed):
			return // Close, or the connection's owner closed it
		case err != nil:
			e.log.Error("stopped receiving events from other nodes", zap.Error(err))
			return
		}
		m, err := parseSubject(e.prefix, msg.Subject)
		if err != nil {
			e.log.Warn("event from another node dropped", zap.String("subject", msg.Subject), zap.Error(err))
			continue
		}
		if why := checkFrame(msg.Data); why != "" {
			e.drop(msg.Subject, len(msg.Data), why)
			continue
		}
		m.Frame = msg.Data
		m.About = broker.Scope(msg.Header.Get(aboutHeader))
		e.deliver(m)
	}
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

// Close unsubscribes and returns once the event being delivered, if any,
// is delivered; events received but not yet delivered are dropped. It does
// not close the NATS connection.
func (e *Engine) Close() error {
	err := e.sub.Unsubscribe()
	<-e.done
	if err != nil && !errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("natsbus: unsubscribe: %w", err)
	}
	return nil
}
