package broker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Admitter admits apps that present credentials in their Register: a
// workspace token, an app secret, a JWT. It runs before the app is
// registered and may bind the connection to a scope, grant it access to
// others (SetGrant, Watch) or refuse it; an error refuses the whole
// registration, as a SetAPIError to the app.
type Admitter interface {
	Admit(ctx context.Context, c *Conn, reg Registration) error
}

// ErrTryAgainLater, wrapped in an Admitter's error, says that the
// credential could not be checked now, its store being out of reach. The
// bus then closes the connection with CloseTryAgainLater instead of
// refusing the registration: a client that was refused forgets the
// channel, one whose connection closed reconnects and registers again.
var ErrTryAgainLater = errors.New("broker: the credential cannot be checked now")

// Registration is a Register request, as an Admitter sees it.
type Registration struct {
	App     string // the app's name, from source
	Channel string // data.channel in its canonical spelling; "" if none
	Fields  Fields // all of data, credentials included
}

// SetAdmitter installs the Admitter. Call it before serving.
func (b *Broker) SetAdmitter(a Admitter) { b.admitter = a }

// Grant is what a server-side app admitted with credentials may do: which
// patterns it may subscribe to, and whether it may publish. A connection
// without a grant may subscribe to anything and publish within its own scope.
type Grant struct {
	Subscribe []Pattern // every subscription must fall within one of these
	Publish   bool      // may publish app-to-app messages
}

// covers reports whether a subscription to p stays within g's pattern q:
// each segment of q is a wildcard or equals p's.
func covers(q, p Pattern) bool {
	return (q.Channel == Wildcard || q.Channel == p.Channel) &&
		(q.Topic == Wildcard || q.Topic == p.Topic) &&
		(q.Subtopic == Wildcard || q.Subtopic == p.Subtopic)
}

// SetGrant restricts the connection to g from now on. Subscriptions it
// made before and g does not cover are dropped, so that subscribing first
// and presenting a credential after cannot widen a grant.
func (c *Conn) SetGrant(g Grant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.grant = &g
	c.patterns = slices.DeleteFunc(c.patterns, func(p Pattern) bool { return !c.allowsLocked(p) })
	c.publishInterestLocked()
}

// allows reports whether the connection may subscribe to p.
func (c *Conn) allows(p Pattern) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allowsLocked(p)
}

func (c *Conn) allowsLocked(p Pattern) bool {
	if c.grant == nil {
		return true
	}
	for _, q := range c.grant.Subscribe {
		if covers(q, p) {
			return true
		}
	}
	return false
}

// publisher returns the app's name and whether it may publish.
func (c *Conn) publisher() (app string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.app, c.grant == nil || c.grant.Publish
}

// Watch lets the connection receive, besides the events of its own scope,
// those published in scopes that match its subscriptions; registration on
// a channel does not reach into watched scopes. Admitters call it for apps
// granted agents' events. It returns once the events other nodes publish
// in those scopes reach this node.
func (c *Conn) Watch(scopes ...Scope) {
	b := c.b
	wanted := make([]Interest, len(scopes))
	for i, s := range scopes {
		wanted[i] = Interest{Scope: s}
	}
	b.want(wanted...)
	b.mu.Lock()
	if !b.openLocked(c) {
		b.mu.Unlock()
		b.unwant(wanted...)
		return
	}
	for _, s := range scopes {
		w := b.watchers[s]
		if w == nil {
			w = make(map[*Conn]struct{})
			b.watchers[s] = w
		}
		w[c] = struct{}{}
		c.watching = append(c.watching, s)
	}
	b.mu.Unlock()
}

// WatchAll is Watch for every scope whose name starts with prefix,
// present and future. The prefix keeps other kinds of scope out: the scope
// a connection starts in is private to it, whatever it sends there. A
// second call replaces the first's prefix.
func (c *Conn) WatchAll(prefix string) {
	b := c.b
	all := Interest{Scope: Scope(prefix), Prefix: true}
	b.want(all)
	b.mu.Lock()
	old, had := b.watchAll[c]
	open := b.openLocked(c)
	if open {
		b.watchAll[c] = prefix
	}
	b.mu.Unlock()
	switch {
	case !open:
		b.unwant(all)
	case had:
		b.unwant(Interest{Scope: Scope(old), Prefix: true})
	}
}

// interestsLocked returns what c asked the engine for: its scope, the
// scopes it watches, and its prefix. The caller holds b.mu.
func (c *Conn) interestsLocked() []Interest {
	all := make([]Interest, 0, 2+len(c.watching))
	all = append(all, Interest{Scope: c.scope})
	for _, s := range c.watching {
		all = append(all, Interest{Scope: s})
	}
	if prefix, ok := c.b.watchAll[c]; ok {
		all = append(all, Interest{Scope: Scope(prefix), Prefix: true})
	}
	return all
}

// watches reports whether an event on t in a watched scope reaches c: only
// through a subscription.
func (c *Conn) watches(t triple) bool {
	for _, p := range c.interest.Load().patterns {
		if p.matches(t) {
			return true
		}
	}
	return false
}

func (b *Broker) openLocked(c *Conn) bool {
	_, open := b.scopes[c.scope][c]
	return open
}

func (b *Broker) unwatchLocked(c *Conn) {
	for _, s := range c.watching {
		delete(b.watchers[s], c)
		if len(b.watchers[s]) == 0 {
			delete(b.watchers, s)
		}
	}
	c.watching = nil
	delete(b.watchAll, c)
}

// ClientIP returns the address of the app's machine, as far as the server
// can tell (see Config.TrustedProxies).
func (c *Conn) ClientIP() netip.Addr { return c.clientIP }

// clientIP is the request's peer address, or, when the peer is a trusted
// proxy, the address the proxies say they received it from: the right-most
// address in X-Forwarded-For that is not itself a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain proves nothing beyond the proxy
		}
		if addr = addr.Unmap(); !isTrusted(addr, trusted) {
			return addr
		}
	}
	return peer
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// AddressKey is what per-address limits count by: an IPv4 address as it
// is, an IPv6 address by its /64, since one IPv6 client commonly holds a
// whole /64 and could otherwise take a new address for every attempt.
func AddressKey(ip netip.Addr) netip.Addr {
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// clientAddresses counts connections per client address, against a limit.
type clientAddresses struct {
	limit int // 0: no limit, and no counting

	mu    sync.Mutex // guards count
	count map[netip.Addr]int
}

func (a *clientAddresses) add(ip netip.Addr) bool {
	if a.limit <= 0 {
		return true
	}
	ip = AddressKey(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.count[ip] >= a.limit {
		return false
	}
	a.count[ip]++
	return true
}

func (a *clientAddresses) remove(ip netip.Addr) {
	if a.limit <= 0 {
		return
	}
	ip = AddressKey(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.count[ip]--; a.count[ip] <= 0 {
		delete(a.count, ip)
	}
}
