package session

import (
	"net/netip"
	"sync"
	"time"

	"github.com/ctibus/ctibus/broker"
)

// AddressLimiter caps sign-in attempts per client address over a sliding
// minute, on top of the per-account lockout. An IPv6 client is counted by
// its /64 (broker.AddressKey). It is off unless configured: a contact
// center often puts a whole floor of agents behind one NAT address, and a
// shift start means hundreds of sign-ins from it in a minute.
//
// The window slides as the usual two-bucket estimate does: the attempts
// of the current minute of the clock, plus those of the minute before
// weighted by how much of it is still less than a minute old. A burst at
// the end of one minute thus still counts at the start of the next, where
// a fixed window would allow twice the cap in a moment.
type AddressLimiter struct {
	perMinute int
	now       func() time.Time

	mu       sync.Mutex // guards the fields below
	window   time.Time  // start of the current minute
	current  map[netip.Addr]int
	previous map[netip.Addr]int // the minute before window
}

// DefaultLoginAttemptsPerIP is the cap of sign-in attempts per client
// address and minute that ctibus runs with unless told otherwise: it fits
// a floor of 500 agents signing in at once behind one NAT address.
const DefaultLoginAttemptsPerIP = 600

// NewAddressLimiter allows perMinute attempts per address in any minute;
// zero or less allows everything. now may be nil for time.Now.
func NewAddressLimiter(perMinute int, now func() time.Time) *AddressLimiter {
	if now == nil {
		now = time.Now
	}
	return &AddressLimiter{perMinute: perMinute, now: now,
		current: make(map[netip.Addr]int), previous: make(map[netip.Addr]int)}
}

// Allow counts an attempt from addr and reports whether it is within the
// cap. Refused attempts count too, so that an address that keeps trying
// stays refused.
func (l *AddressLimiter) Allow(addr netip.Addr) bool {
	if l == nil || l.perMinute <= 0 {
		return true
	}
	key := broker.AddressKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	switch start := now.Truncate(time.Minute); {
	case start.Sub(l.window) == time.Minute:
		l.previous, l.current = l.current, l.previous
		clear(l.current)
		l.window = start
	case start.After(l.window):
		clear(l.previous)
		clear(l.current)
		l.window = start
	}
	l.current[key]++
	stillInWindow := 1 - float64(now.Sub(l.window))/float64(time.Minute)
	return float64(l.previous[key])*stillInWindow+float64(l.current[key]) <= float64(l.perMinute)
}
