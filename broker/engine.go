package broker

import (
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/internal/logbound"
)

// Message is an event on its way between nodes: already encoded, once.
type Message struct {
	Scope                    Scope
	Channel, Topic, Subtopic string // as published (canonical spelling)
	About                    Scope  // the Event's About: "" for Scope itself
	// Frame is the encoded event frame, exactly what connections receive.
	// It is shared with the queues of this node's connections: an Engine
	// must not modify it, and Deliver keeps it.
	Frame []byte
	// For says which of this node's connections a message from another
	// node is for; an engine that brings each message once per node
	// leaves it at ForAll.
	For Audience
}

// Audience is who, on a node, a message an Engine brought is for: an
// engine that brings one message on several paths (one per Interest it
// matches) names on each the recipients that path serves, so that no
// connection receives it twice.
type Audience uint8

const (
	// ForAll is every recipient: the engine brings each message once.
	ForAll Audience = iota
	// ForScope is the connections in the message's scope and those
	// watching it (Conn.Watch): brought for a scope's Interest.
	ForScope
	// ForPrefixWatchers is the connections watching every scope of a
	// prefix (Conn.WatchAll): brought for a prefix's Interest.
	ForPrefixWatchers
)

// Interest is what a node asks its Engine to bring it from the other
// nodes: the events published in one scope, or, with Prefix, in every
// scope whose name starts with Scope.
type Interest struct {
	Scope  Scope
	Prefix bool
}

// Engine carries events between the nodes of a cluster.
type Engine interface {
	// Publish sends m to the other nodes that want it (Want), which
	// deliver it to their own connections (Broker.Deliver). It must not
	// block on the network for long (NATS publishes are buffered).
	Publish(m Message) error
	// Want makes the engine bring this node the events the other nodes
	// publish that match each of is, from the moment it returns: an event
	// another node publishes after Want returned reaches this node. The
	// broker calls it as a connection joins a scope or watches some,
	// before it tells the app, and matches each interest it gave with one
	// Unwant: the engine counts them. An error means the engine could not
	// confirm an interest in time; the broker logs it and carries on,
	// since the engine keeps trying (a NATS client subscribes again when
	// it reconnects).
	Want(is ...Interest) error
	// Unwant undoes one Want of each of is; when none is left for an
	// interest, the engine stops bringing its events.
	Unwant(is ...Interest)
}

// SetEngine makes the broker publish through e, besides delivering to its
// own connections. Call it before serving. Nil, the default, is one node
// alone: there is nothing to carry.
func (b *Broker) SetEngine(e Engine) { b.engine = e }

// Hub is the in-memory Engine: it carries events between the brokers of one
// process that join it, as NATS carries them between processes. A broker
// alone needs none (it is a hub of one); a hub serves to run several nodes
// in one process, and to test what crosses nodes without a NATS server.
type Hub struct {
	mu      sync.RWMutex // guards brokers
	brokers []*Broker
}

// Join makes b publish through h: its events reach the other brokers of h,
// and theirs reach b. Call it before b serves.
func (h *Hub) Join(b *Broker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.brokers = append(h.brokers, b)
	b.SetEngine(hubMember{h, b})
}

// hubMember is one broker's Engine on a Hub.
type hubMember struct {
	hub  *Hub
	self *Broker
}

// Publish delivers m to every other broker of the hub, at once: Deliver
// only queues, so the publisher's order is every receiver's. A hub brings
// every event to every broker, which keeps what its connections want:
// there is no network to spare.
func (m hubMember) Publish(msg Message) error {
	m.hub.mu.RLock()
	defer m.hub.mu.RUnlock()
	for _, b := range m.hub.brokers {
		if b != m.self {
			b.Deliver(msg)
		}
	}
	return nil
}

// Want returns at once: a hub brings every broker every event.
func (hubMember) Want(...Interest) error { return nil }

// Unwant does nothing: see Want.
func (hubMember) Unwant(...Interest) {}

// Deliver delivers a message from another node to this node's connections
// in m.Scope and to the granted connections watching it, as Publish does
// for a local event. It is safe to call from any goroutine and does not
// block on a peer.
func (b *Broker) Deliver(m Message) {
	b.deliver(m, nil)
}

// PublishLocal is Publish to this node's connections only, never through
// the engine: for events every node produces itself.
func (b *Broker) PublishLocal(scope Scope, ev Event) error {
	frame, err := encodeEvent(ev, b.cfg.Now())
	if err != nil {
		return err
	}
	b.deliver(Message{Scope: scope, Channel: ev.Channel, Topic: ev.Topic, Subtopic: ev.Subtopic, About: ev.About, Frame: frame}, nil)
	return nil
}

// deliver queues m.Frame for every connection of this node in m.Scope that
// wants it and for the granted connections watching m.Scope whose
// subscriptions match it, except the sender; m.For narrows the recipients
// to those of the path an engine brought m on.
func (b *Broker) deliver(m Message, except *Conn) {
	t := lowerTriple(m.Channel, m.Topic, m.Subtopic)
	n := 0
	// lock order: broker (5), under the connector's (2) when a handler
	// publishes a notification, then each recipient's outbox (6); see
	// docs/locking.md.
	b.mu.RLock()
	if m.For != ForPrefixWatchers {
		for c := range b.scopes[m.Scope] {
			if c != except && c.wants(t) {
				c.enqueue(m.Frame)
				n++
			}
		}
		for c := range b.watchers[m.Scope] {
			if c != except && c.scope != m.Scope && b.watchesLocked(c, m.About) && c.watches(t) {
				c.enqueue(m.Frame)
				n++
			}
		}
	}
	if m.For != ForScope {
		for c, prefix := range b.watchAll {
			if c != except && c.scope != m.Scope && strings.HasPrefix(string(m.Scope), prefix) && b.watchesLocked(c, m.About) && c.watches(t) {
				c.enqueue(m.Frame)
				n++
			}
		}
	}
	label := b.channelLabelLocked(t.channel)
	b.mu.RUnlock()
	b.cfg.Metrics.delivered(label, n)
}

// want asks the engine for the events other nodes publish that match is,
// and returns once they will reach this node. Call it before a connection
// joins or watches, outside b.mu: it may wait for a round trip. The events
// of a connection's own scope never leave its node, so they need nothing.
func (b *Broker) want(is ...Interest) {
	if is = b.crossing(is); len(is) == 0 {
		return
	}
	if err := b.engine.Want(is...); err != nil {
		b.log.Warn("joined without confirming that other nodes' events will come; those published meanwhile may be missed",
			zap.Int("scopes", len(is)), zap.String("first", logbound.Clip(string(is[0].Scope))), zap.Error(err))
	}
}

// unwant undoes one want of each of is, once the connection has left;
// outside b.mu.
func (b *Broker) unwant(is ...Interest) {
	if is = b.crossing(is); len(is) != 0 {
		b.engine.Unwant(is...)
	}
}

// crossing returns the interests of is that an engine serves: none
// without an engine, and never a connection's own scope.
func (b *Broker) crossing(is []Interest) []Interest {
	if b.engine == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(is), func(i Interest) bool { return !i.Prefix && nodeLocal(i.Scope) })
}

// watchesLocked reports whether the watcher c watches the scope an event
// is about; an event about nothing ("") is about the scope it is in.
func (b *Broker) watchesLocked(c *Conn, about Scope) bool {
	if about == "" {
		return true
	}
	if _, ok := b.watchers[about][c]; ok {
		return true
	}
	prefix, ok := b.watchAll[c]
	return ok && strings.HasPrefix(string(about), prefix)
}

// connScopePrefix starts the scope each connection is born in. Such a
// scope holds one connection, on the node that accepted it, so its events
// never leave the node.
const connScopePrefix = "conn:"

// nodeLocal reports whether events in s concern this node only.
func nodeLocal(s Scope) bool { return strings.HasPrefix(string(s), connScopePrefix) }
