package session

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrBadCredentials marks a sign-in refused for a wrong username or password.
// A sign-in function given to Lockout.Attempt wraps it to count a failure.
var ErrBadCredentials = errors.New("session: wrong username or password")

// LockedError refuses a sign-in to an account locked after too many failures.
type LockedError struct {
	Until time.Time // when the lock ends
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("session: account locked until %s", e.Until.UTC().Format(time.RFC3339))
}

// LockoutConfig holds the lockout's tunables; zero values select defaults.
type LockoutConfig struct {
	// Attempts is how many consecutive failures lock an account. Default 5.
	Attempts int
	// Duration is how long a lock lasts; a failure streak with no new
	// failure for this long is forgotten too. Default 5 minutes.
	Duration time.Duration
	// Now tells the time. Default time.Now.
	Now func() time.Time
}

// Lockout locks an account after Attempts consecutive failed sign-ins, for
// Duration. Accounts are keyed by the username as typed, ignoring case; an
// unknown username is counted and locked exactly like a known one, so the
// lockout tells nobody which accounts exist. Attempts on one account are
// serialized, so that parallel attempts cannot verify more passwords than
// the limit allows.
type Lockout struct {
	cfg LockoutConfig

	mu        sync.Mutex           // guards the fields below and account.refs
	accounts  map[string]*account  //
	locks     map[string]time.Time // when each lock set ends, for ActiveLocks
	lastSweep time.Time            //
}

type account struct {
	refs int // attempts waiting or running; guarded by Lockout.mu

	mu          sync.Mutex // held for a whole attempt; guards the fields below
	failures    int
	lastFailure time.Time
	lockedUntil time.Time
}

// NewLockout returns a Lockout with cfg's defaults filled in.
func NewLockout(cfg LockoutConfig) *Lockout {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Lockout{cfg: cfg, accounts: make(map[string]*account), locks: make(map[string]time.Time)}
}

// Config returns the lockout's settings, defaults filled in, so that
// another lockout can follow the same rules.
func (l *Lockout) Config() LockoutConfig { return l.cfg }

// Attempt calls signIn unless username's account is locked, in which case it
// returns a *LockedError without calling it; a locked account stays locked
// for the same time whatever is tried. An error from signIn that wraps
// ErrBadCredentials counts a failure, and the last allowed failure locks the
// account; success resets the count; other errors leave it as it is. The
// error of signIn is returned as it is.
func (l *Lockout) Attempt(username string, signIn func() error) error {
	key := strings.ToLower(username)
	a := l.acquire(key)
	lockedUntil, err := l.attempt(a, signIn)
	l.release(key, a, lockedUntil)
	return err
}

// attempt runs one attempt under the account's lock and returns when the
// lock it set ends (zero if it set none), and signIn's error.
func (l *Lockout) attempt(a *account, signIn func() error) (lockedUntil time.Time, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := l.cfg.Now()
	if now.Before(a.lockedUntil) {
		return time.Time{}, &LockedError{Until: a.lockedUntil}
	}
	if a.expired(now, l.cfg.Duration) {
		a.failures, a.lockedUntil = 0, time.Time{}
	}

	err = signIn()
	switch {
	case err == nil:
		a.failures = 0
	case errors.Is(err, ErrBadCredentials):
		a.failures++
		a.lastFailure = now
		if a.failures >= l.cfg.Attempts {
			a.lockedUntil = now.Add(l.cfg.Duration)
			lockedUntil = a.lockedUntil
		}
	}
	return lockedUntil, err
}

// ActiveLocks returns how many accounts are locked now.
func (l *Lockout) ActiveLocks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetExpiredLocksLocked(l.cfg.Now())
	return len(l.locks)
}

// Locked reports when username's account unlocks, if it is locked now.
func (l *Lockout) Locked(username string) (until time.Time, locked bool) {
	key := strings.ToLower(username)
	a := l.acquire(key)
	defer l.release(key, a, time.Time{})
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lockedUntil, l.cfg.Now().Before(a.lockedUntil)
}

// expired reports whether the account's lock and failure streak are over.
func (a *account) expired(now time.Time, d time.Duration) bool {
	return !now.Before(a.lockedUntil) && now.Sub(a.lastFailure) >= d
}

func (l *Lockout) acquire(key string) *account {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.cfg.Now(); now.Sub(l.lastSweep) >= l.cfg.Duration {
		l.sweepLocked(now)
	}
	a := l.accounts[key]
	if a == nil {
		a = &account{}
		l.accounts[key] = a
	}
	a.refs++
	return a
}

// release forgets an account nobody is using that holds no failures, so that
// a stream of made-up usernames does not grow memory without bound.
func (l *Lockout) release(key string, a *account, lockedUntil time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !lockedUntil.IsZero() {
		l.locks[key] = lockedUntil
	}
	a.refs--
	// With refs at zero nobody holds a.mu, and the last holder released it
	// before taking l.mu, so its fields are safe to read here.
	if a.refs == 0 && a.failures == 0 && a.lockedUntil.IsZero() {
		delete(l.accounts, key)
	}
}

// sweepLocked drops the accounts whose lock and streak are over.
func (l *Lockout) sweepLocked(now time.Time) {
	l.lastSweep = now
	for key, a := range l.accounts {
		if a.refs == 0 && a.expired(now, l.cfg.Duration) {
			delete(l.accounts, key)
		}
	}
	l.forgetExpiredLocksLocked(now)
}

func (l *Lockout) forgetExpiredLocksLocked(now time.Time) {
	for key, until := range l.locks {
		if !now.Before(until) {
			delete(l.locks, key)
		}
	}
}
