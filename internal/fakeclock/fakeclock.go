// Package fakeclock is a clock that moves only when a test moves it, for the
// code that takes its time from an injected Now: lockouts, token lifetimes,
// rate limits, the simulator's timestamps. A test advances it past a
// deadline instead of sleeping until then, so it neither waits nor races a
// busy machine's scheduler.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a time that changes only through Advance. It is safe to use from
// any goroutine: the code under test reads it from its own.
type Clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// New returns a clock that reads t until advanced.
func New(t time.Time) *Clock {
	return &Clock{now: t}
}

// Now returns the clock's time; pass the method where a func() time.Time is
// wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
