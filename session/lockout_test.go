package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/session"
)

// lockoutStores are the stores the lockout's rules are tested on: each
// returns the LockoutConfig.Store of a new lockout.
var lockoutStores = []struct {
	name string
	open func(t *testing.T) session.LockoutStore
}{
	{"memory", func(*testing.T) session.LockoutStore { return nil }},
	{"kv", func(t *testing.T) session.LockoutStore {
		return openLockoutStore(t, node(t, natstest.Start(t, "")))
	}},
}

func openLockoutStore(t *testing.T, js jetstream.JetStream) *session.KVLockoutStore {
	t.Helper()
	store, err := session.NewKVLockoutStore(setupContext(t), js, "lockout", 5*time.Minute)
	require.NoError(t, err)
	return store
}

// eachLockoutStore runs test on a new lockout on each store.
func eachLockoutStore(t *testing.T, test func(t *testing.T, l *session.Lockout, clk *fakeclock.Clock)) {
	for _, st := range lockoutStores {
		t.Run(st.name, func(t *testing.T) {
			clk := fakeclock.New(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
			test(t, session.NewLockout(session.LockoutConfig{Now: clk.Now, Store: st.open(t)}), clk)
		})
	}
}

// attempt is Lockout.Attempt with a background context, on the account of
// a name that is no agent's.
func attempt(l *session.Lockout, name string, signIn func() error) error {
	return l.Attempt(context.Background(), session.NameAccount(name), signIn)
}

func isLocked(t *testing.T, l *session.Lockout, name string) bool {
	t.Helper()
	return isAccountLocked(t, l, session.NameAccount(name))
}

func isAccountLocked(t *testing.T, l *session.Lockout, account session.Account) bool {
	t.Helper()
	_, isLocked, err := l.Locked(context.Background(), account)
	require.NoError(t, err)
	return isLocked
}

func wrong() error { return fmt.Errorf("sign in: %w", session.ErrBadCredentials) }
func right() error { return nil }

func TestLockoutLocksAfterFiveFailures(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, clk *fakeclock.Clock) {
		for i := range 5 {
			require.ErrorIs(t, attempt(l, "CiscoTest", wrong), session.ErrBadCredentials, "attempt %d", i+1)
		}

		called := false
		err := attempt(l, "ciscotest", func() error { called = true; return nil })
		var locked *session.LockedError
		require.ErrorAs(t, err, &locked, "the right password is refused while locked, in any case")
		assert.False(t, called, "a locked account verifies no password")
		assert.Equal(t, clk.Now().Add(5*time.Minute), locked.Until)

		clk.Advance(4 * time.Minute)
		require.ErrorAs(t, attempt(l, "ciscotest", wrong), &locked)
		assert.Equal(t, clk.Now().Add(time.Minute), locked.Until, "attempts while locked do not extend the lock")

		clk.Advance(time.Minute)
		require.NoError(t, attempt(l, "ciscotest", right), "unlocked after the duration")
		assert.False(t, isLocked(t, l, "ciscotest"))
	})
}

func TestLockoutSuccessResetsTheCount(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, _ *fakeclock.Clock) {
		for range 4 {
			require.Error(t, attempt(l, "a", wrong))
		}
		require.NoError(t, attempt(l, "a", right))
		for range 4 {
			require.ErrorIs(t, attempt(l, "a", wrong), session.ErrBadCredentials)
		}
		assert.False(t, isLocked(t, l, "a"), "four failures after a success do not lock")
		require.ErrorIs(t, attempt(l, "a", wrong), session.ErrBadCredentials)
		assert.True(t, isLocked(t, l, "a"))
	})
}

func TestLockoutOtherErrorsDoNotCount(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, _ *fakeclock.Clock) {
		other := fmt.Errorf("device busy")
		for range 10 {
			require.ErrorIs(t, attempt(l, "a", func() error { return other }), other)
		}
		assert.False(t, isLocked(t, l, "a"))
	})
}

func TestLockoutAccountsAreSeparate(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, _ *fakeclock.Clock) {
		for range 5 {
			require.Error(t, attempt(l, "a", wrong))
		}
		require.NoError(t, attempt(l, "b", right))
		assert.False(t, isLocked(t, l, "nobody-by-this-name"))
	})
}

func TestAgentAndNameAccountsAreSeparate(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, _ *fakeclock.Clock) {
		agent := session.AgentAccount("100503")
		for range 5 {
			require.ErrorIs(t, l.Attempt(context.Background(), agent, wrong), session.ErrBadCredentials)
		}
		assert.True(t, isAccountLocked(t, l, agent))
		assert.True(t, isAccountLocked(t, l, session.AgentAccount("100503")), "an agent's account is the same whoever names it")
		assert.False(t, isLocked(t, l, "100503"), "a name's account never meets an agent's")
		assert.False(t, isAccountLocked(t, l, session.AgentAccount("100504")))
		assert.False(t, isAccountLocked(t, l, session.AgentAccount("100503 ")))
		assert.Equal(t, 1, l.ActiveLocks())
	})
}

func TestLockoutForgetsAnOldStreak(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, clk *fakeclock.Clock) {
		for range 4 {
			require.Error(t, attempt(l, "a", wrong))
		}
		clk.Advance(5 * time.Minute)
		require.ErrorIs(t, attempt(l, "a", wrong), session.ErrBadCredentials)
		assert.False(t, isLocked(t, l, "a"), "a streak idle for the lock duration starts again")
	})
}

func TestLockoutHoldsUnderConcurrency(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, _ *fakeclock.Clock) {
		verified, bad, locked := wrongInParallel(t, []*session.Lockout{l}, session.NameAccount("ciscotest"))
		assert.Equal(t, 5, verified, "at most 5 passwords are verified")
		assert.Equal(t, 5, bad)
		assert.Equal(t, 45, locked)
	})
}

// wrongInParallel makes 50 attempts with a wrong password at once, spread
// over lockouts (the nodes of a cluster, or one), and returns how many
// passwords were verified and how the attempts ended: refused as wrong, or
// as locked without a check. Any other end fails t.
func wrongInParallel(t *testing.T, lockouts []*session.Lockout, account session.Account) (verified, bad, locked int) {
	t.Helper()
	var checks atomic.Int32
	// Each check holds its slot until five run at once, so that the other
	// attempts find every slot taken, whatever the scheduler does.
	allIn := make(chan struct{})
	var neverAllIn atomic.Bool
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			errs[i] = lockouts[i%len(lockouts)].Attempt(context.Background(), account, func() error {
				if checks.Add(1) == 5 {
					close(allIn)
				}
				select {
				case <-allIn:
				case <-time.After(eventually):
					neverAllIn.Store(true)
				}
				return wrong()
			})
		})
	}
	wg.Wait()
	assert.False(t, neverAllIn.Load(), "five checks never ran at once")
	for _, err := range errs {
		var le *session.LockedError
		switch {
		case errors.Is(err, session.ErrBadCredentials):
			bad++
		case errors.As(err, &le):
			locked++
		default:
			t.Errorf("an attempt ended otherwise: %v", err)
		}
	}
	return int(checks.Load()), bad, locked
}

func TestActiveLocks(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, clk *fakeclock.Clock) {
		assert.Zero(t, l.ActiveLocks())
		for _, user := range []string{"a", "b"} {
			for range 5 {
				require.Error(t, attempt(l, user, wrong))
			}
		}
		assert.Equal(t, 2, l.ActiveLocks())
		clk.Advance(5 * time.Minute)
		assert.Zero(t, l.ActiveLocks())
	})
}

// TestLockedAccounts: the locked accounts are told apart by the accounts
// the caller knows, an agent's and a name's, and never carry a name.
func TestLockedAccounts(t *testing.T) {
	eachLockoutStore(t, func(t *testing.T, l *session.Lockout, clk *fakeclock.Clock) {
		for range 5 {
			require.Error(t, attempt(l, "a", wrong))
		}
		locked := l.LockedAccounts()
		require.Len(t, locked, 1)
		assert.Equal(t, session.NameAccount("A"), locked[0].Account, "a name's account, ignoring case")
		assert.NotEqual(t, session.AgentAccount("a"), locked[0].Account)
		assert.Equal(t, clk.Now().Add(5*time.Minute), locked[0].Until.UTC())
		clk.Advance(5 * time.Minute)
		assert.Empty(t, l.LockedAccounts())
	})
}

// TestLockoutForgetsExpiredLocks checks the memory store only: a KV bucket
// forgets by its own MaxAge.
func TestLockoutForgetsExpiredLocks(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	l := session.NewLockout(session.LockoutConfig{Now: clk.Now})
	for i := range 100 {
		for range 5 {
			require.Error(t, attempt(l, fmt.Sprint("made-up-", i), wrong))
		}
	}
	clk.Advance(10 * time.Minute)
	require.NoError(t, attempt(l, "someone", right)) // any write sweeps
	assert.Zero(t, session.LockoutSize(l), "nothing is kept for locks and streaks that are over")
}
