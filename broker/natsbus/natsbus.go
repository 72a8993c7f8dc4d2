package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
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
	// clusters can share one NATS account. Default "ctibus".
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
		return nil, fmt.Errorf("natsbus: prefix %q: want dot-separated tokens without spaces or wildcards", opts.Prefix)
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

// validPrefix reports whether p is one or more NATS tokens fit for a
// subject: no empty token, wildcard or whitespace.
func validPrefix(p string) bool {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '*' || r == '>' }) {
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
		m.Frame = msg.Data
		m.About = broker.Scope(msg.Header.Get(aboutHeader))
		e.deliver(m)
	}
}

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
