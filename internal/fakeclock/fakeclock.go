// Package fakeclock is a clock that moves only when a test moves it, and
// timers that fire only when a test fires them, for the code that takes
// its time from an injected Now and its timers from an injected AfterFunc:
// lockouts, token lifetimes, rate limits, grace periods, the simulator's
// timestamps and rings. A test advances the clock past a deadline, or fires
// a timer, instead of sleeping until then, so it neither waits nor races a
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

// Timers replaces time.AfterFunc for the code that takes an injected one
// (grace periods, the simulator's rings and wrap-ups, a scenario's waits):
// its timers fire when the test fires them, never by themselves, so a test
// decides what happens first. It is safe to use from any goroutine.
type Timers struct {
	mu      sync.Mutex
	started []*Timer // guarded by mu: every timer started, in order
}

// Timer is one timer of Timers. Its Stop makes it a timer of every
// package's Timer interface (sim.Timer, session.Timer).
type Timer struct {
	ts      *Timers
	d       time.Duration
	f       func()
	stopped bool // guarded by ts.mu: stopped or fired
}

// AfterFunc starts a timer of d that runs f when fired; pass the method
// where an AfterFunc is wanted, wrapped to return the package's Timer.
func (ts *Timers) AfterFunc(d time.Duration, f func()) *Timer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := &Timer{ts: ts, d: d, f: f}
	ts.started = append(ts.started, t)
	return t
}

// Running returns the timers started and neither stopped nor fired, in
// the order they were started.
func (ts *Timers) Running() []*Timer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var live []*Timer
	for _, t := range ts.started {
		if !t.stopped {
			live = append(live, t)
		}
	}
	return live
}

// Duration returns the duration the timer was started with.
func (t *Timer) Duration() time.Duration { return t.d }

// Stop stops the timer, as time.Timer.Stop does: it reports whether it was
// running.
func (t *Timer) Stop() bool {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Fire runs the timer's function on the caller's goroutine, as its expiry
// would on a goroutine of its own, unless it was stopped or fired before;
// it reports whether it ran.
func (t *Timer) Fire() bool {
	run, ok := t.Expire()
	if ok {
		run()
	}
	return ok
}

// Expire makes the timer expire without running its function yet, and
// returns the function, for the test to run when it likes: as a real
// timer's function, already started, may run after a Stop that came too
// late (and returned false). It reports false, and returns nil, if the
// timer was stopped or fired before.
func (t *Timer) Expire() (run func(), ok bool) {
	if !t.Stop() {
		return nil, false
	}
	return t.f, true
}
