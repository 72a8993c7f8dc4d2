package session_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/session"
)

// clock is a fake clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLockout() (*session.Lockout, *clock) {
	clk := &clock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	return session.NewLockout(session.LockoutConfig{Now: clk.Now}), clk
}

func wrong() error { return fmt.Errorf("sign in: %w", session.ErrBadCredentials) }
func right() error { return nil }

func TestLockoutLocksAfterFiveFailures(t *testing.T) {
	l, clk := newLockout()
	for i := range 5 {
		require.ErrorIs(t, l.Attempt("CiscoTest", wrong), session.ErrBadCredentials, "attempt %d", i+1)
	}

	called := false
	err := l.Attempt("ciscotest", func() error { called = true; return nil })
	var locked *session.LockedError
	require.ErrorAs(t, err, &locked, "the right password is refused while locked, in any case")
	assert.False(t, called, "a locked account verifies no password")
	assert.Equal(t, clk.Now().Add(5*time.Minute), locked.Until)

	clk.Advance(4 * time.Minute)
	require.ErrorAs(t, l.Attempt("ciscotest", wrong), &locked)
	assert.Equal(t, clk.Now().Add(time.Minute), locked.Until, "attempts while locked do not extend the lock")

	clk.Advance(time.Minute)
	require.NoError(t, l.Attempt("ciscotest", right), "unlocked after the duration")
	_, isLocked := l.Locked("ciscotest")
	assert.False(t, isLocked)
}

func TestLockoutSuccessResetsTheCount(t *testing.T) {
	l, _ := newLockout()
	for range 4 {
		require.Error(t, l.Attempt("a", wrong))
	}
	require.NoError(t, l.Attempt("a", right))
	for range 4 {
		require.ErrorIs(t, l.Attempt("a", wrong), session.ErrBadCredentials)
	}
	_, locked := l.Locked("a")
	assert.False(t, locked, "four failures after a success do not lock")
	require.ErrorIs(t, l.Attempt("a", wrong), session.ErrBadCredentials)
	_, locked = l.Locked("a")
	assert.True(t, locked)
}

func TestLockoutOtherErrorsDoNotCount(t *testing.T) {
	l, _ := newLockout()
	other := fmt.Errorf("device busy")
	for range 10 {
		require.ErrorIs(t, l.Attempt("a", func() error { return other }), other)
	}
	_, locked := l.Locked("a")
	assert.False(t, locked)
}

func TestLockoutAccountsAreSeparate(t *testing.T) {
	l, _ := newLockout()
	for range 5 {
		require.Error(t, l.Attempt("a", wrong))
	}
	require.NoError(t, l.Attempt("b", right))
	_, locked := l.Locked("nobody-by-this-name")
	assert.False(t, locked)
}

func TestLockoutForgetsAnOldStreak(t *testing.T) {
	l, clk := newLockout()
	for range 4 {
		require.Error(t, l.Attempt("a", wrong))
	}
	clk.Advance(5 * time.Minute)
	require.ErrorIs(t, l.Attempt("a", wrong), session.ErrBadCredentials)
	_, locked := l.Locked("a")
	assert.False(t, locked, "a streak idle for the lock duration starts again")
}

func TestLockoutHoldsUnderConcurrency(t *testing.T) {
	l, _ := newLockout()
	var verified atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			errs[i] = l.Attempt("ciscotest", func() error {
				verified.Add(1)
				time.Sleep(time.Millisecond) // a password check takes time
				return wrong()
			})
		})
	}
	wg.Wait()

	assert.Equal(t, int32(5), verified.Load(), "at most 5 passwords are verified")
	var bad, locked int
	for _, err := range errs {
		var le *session.LockedError
		switch {
		case assert.Error(t, err) && err.Error() == wrong().Error():
			bad++
		case assert.ErrorAs(t, err, &le):
			locked++
		}
	}
	assert.Equal(t, 5, bad)
	assert.Equal(t, 45, locked)
}

func TestActiveLocks(t *testing.T) {
	l, clk := newLockout()
	assert.Zero(t, l.ActiveLocks())
	for _, user := range []string{"a", "b"} {
		for range 5 {
			require.Error(t, l.Attempt(user, wrong))
		}
	}
	assert.Equal(t, 2, l.ActiveLocks())
	clk.Advance(5 * time.Minute)
	assert.Zero(t, l.ActiveLocks())
}

func TestLockoutForgetsExpiredLocks(t *testing.T) {
	l, clk := newLockout()
	for i := range 100 {
		for range 5 {
			require.Error(t, l.Attempt(fmt.Sprint("made-up-", i), wrong))
		}
	}
	clk.Advance(10 * time.Minute)
	require.NoError(t, l.Attempt("someone", right)) // any attempt sweeps
	assert.Zero(t, session.LockoutSize(l), "nothing is kept for locks and streaks that are over")
}
