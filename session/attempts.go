package session

import (
	"net/netip"
	"sync"
	"time"
)

// AddressLimiter caps sign-in attempts per client address per minute, on
// top of the per-account lockout. It is off unless configured: a contact
// center often puts a whole floor of agents behind one NAT address, and a
// shift start means hundreds of sign-ins from it in a minute.
type AddressLimiter struct {
	perMinute int
	now       func() time.Time

	mu     sync.Mutex // guards the fields below
	window time.Time  // start of the current minute
	counts map[netip.Addr]int
}

// NewAddressLimiter allows perMinute attempts per address and minute; zero
// or less allows everything. now may be nil for time.Now.
func NewAddressLimiter(perMinute int, now func() time.Time) *AddressLimiter {
	if now == nil {
		now = time.Now
	}
	return &AddressLimiter{perMinute: perMinute, now: now, counts: make(map[netip.Addr]int)}
}

// Allow counts an attempt from addr and reports whether it is within the cap.
func (l *AddressLimiter) Allow(addr netip.Addr) bool {
	if l == nil || l.perMinute <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); now.Sub(l.window) >= time.Minute {
		l.window = now.Truncate(time.Minute)
		clear(l.counts)
	}
	l.counts[addr]++
	return l.counts[addr] <= l.perMinute
}
