package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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

const (
	// reservationTimeout is how long an attempt's slot is held if the
	// attempt never records its outcome (its node died): longer than any
	// sign-in takes.
	reservationTimeout = 30 * time.Second
	// reservationPoll is how often an attempt waiting for a free slot
	// looks again: every slot is taken by attempts verifying a password.
	reservationPoll = 20 * time.Millisecond
	// recordTimeout bounds the writing of an attempt's outcome, which goes
	// on after the attempt's context ends: a client that goes away must
	// not leave a failure uncounted.
	recordTimeout = 5 * time.Second
	// activeLocksMaxAge is how long LockedAccounts may answer from the locks
	// it last read; a lock set by this Lockout refreshes them at once.
	activeLocksMaxAge = 10 * time.Second
	// activeLocksTimeout bounds the reading of every lock for LockedAccounts.
	activeLocksTimeout = 5 * time.Second
	// storeMargin is how much longer than the lock duration a store keeps
	// a record: a little, for the clocks of the nodes to disagree.
	storeMargin = time.Minute
)

// Defaults of LockoutConfig.
const (
	DefaultLockoutAttempts = 5
	DefaultLockoutDuration = 5 * time.Minute
)

// LockoutConfig holds the lockout's tunables; zero values select defaults.
type LockoutConfig struct {
	// Attempts is how many consecutive failures lock an account. Default 5.
	Attempts int
	// Duration is how long a lock lasts; a failure streak with no new
	// failure for this long is forgotten too. Default 5 minutes.
	Duration time.Duration
	// Store keeps the accounts' records. Lockouts sharing one store (the
	// nodes of a cluster) count and lock together. Default: a store of
	// this Lockout's own, in memory.
	Store LockoutStore
	// Now tells the time. Default time.Now.
	Now func() time.Time
}

// Lockout locks an account after Attempts consecutive failed sign-ins, for
// Duration. The caller names the account of each attempt (see Account): an
// agent's, whatever name it signed in by, or a name's that is no agent's, so
// that an unknown username is counted and locked exactly like a known one
// and the lockout tells nobody which accounts exist.
//
// Parallel attempts on one account, on every node sharing the store, verify
// at most as many passwords as the account has failures left: an attempt
// first reserves a slot in the account's record by compare-and-set, waits
// while every slot is taken, then verifies the password without any lock
// held, and records its outcome, releasing the slot.
type Lockout struct {
	cfg   LockoutConfig // as given, for Config
	store LockoutStore

	mu           sync.Mutex      // guards the fields below
	locksSet     uint64          // locks this Lockout has set
	locksSeen    uint64          // locksSet when locks was read
	locks        []LockedAccount // the locks read at locksRead
	locksRead    time.Time       //
	locksReadYet bool            //
}

// NewLockout returns a Lockout with cfg's defaults filled in.
func NewLockout(cfg LockoutConfig) *Lockout {
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultLockoutAttempts
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultLockoutDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	store := cfg.Store
	if store == nil {
		store = newMemoryLockoutStore(recordMaxAge(cfg.Duration), cfg.Now)
	}
	return &Lockout{cfg: cfg, store: store}
}

// recordMaxAge is how long a store must keep a record after its last write
// for a lockout of lock duration d: by then its lock, its streak and its
// reservations are over.
func recordMaxAge(d time.Duration) time.Duration {
	return max(d, reservationTimeout) + storeMargin
}

// Config returns the lockout's settings, defaults filled in, so that
// another lockout can follow the same rules. Its Store is the one given to
// NewLockout: nil gives the other lockout a memory of its own, but a shared
// store is shared, so a lockout of other names (app names rather than
// usernames) needs its Store replaced by one of its own.
func (l *Lockout) Config() LockoutConfig { return l.cfg }

// Account names what a Lockout counts failures against and locks. Make one
// with AgentAccount or NameAccount; the zero Account is NameAccount("").
type Account struct {
	key string // the store key
}

// AgentAccount is the account of the agent loginID: every name that resolves
// to the agent (its loginId, its loginName in any case) counts against it,
// so that an agent has as many tries as the lockout allows, not that many
// per name. Its store key is "a." and the hex SHA-256 of loginID.
func AgentAccount(loginID string) Account {
	h := sha256.Sum256([]byte(loginID))
	return Account{key: "a." + hex.EncodeToString(h[:])}
}

// NameAccount is the account of a name that is no agent's (an unknown
// username, an app's name), as typed, ignoring case. Its store key is the
// hex SHA-256 of the lower-cased name: no dot, so it never meets an agent's.
// The key names nobody in a listing, and is valid in a KV bucket whatever
// the name holds.
func NameAccount(name string) Account {
	h := sha256.Sum256([]byte(strings.ToLower(name)))
	return Account{key: hex.EncodeToString(h[:])}
}

// storeKey is a's key in the store.
func (a Account) storeKey() string {
	if a.key == "" {
		return NameAccount("").key
	}
	return a.key
}

// Attempt calls signIn unless the account is locked, in which case it
// returns a *LockedError without calling it; a locked account stays locked
// for the same time whatever is tried. An error from signIn that wraps
// ErrBadCredentials counts a failure, and the last allowed failure locks the
// account; success resets the count; other errors leave it as it is. The
// error of signIn is returned as it is.
//
// While every slot of the account is taken by attempts in flight, Attempt
// waits for one, until ctx ends. A store that cannot be reached refuses the
// attempt with an error wrapping ErrUnavailable.
func (l *Lockout) Attempt(ctx context.Context, account Account, signIn func() error) error {
	key := account.storeKey()
	id, err := l.reserve(ctx, key)
	if err != nil {
		return err
	}
	err = signIn()
	// If the outcome cannot be written, the reservation keeps its slot
	// until it times out, and a failure goes uncounted: the store is down,
	// and the next attempts are refused with ErrUnavailable anyway.
	_ = l.record(ctx, key, id, err)
	return err
}

// reserve takes a slot in key's account for one attempt and returns its ID.
func (l *Lockout) reserve(ctx context.Context, key string) (uint64, error) {
	id := rand.Uint64()
	for {
		now := l.cfg.Now()
		rec, rev, err := l.store.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("lockout: read account: %w", err)
		}
		l.forgetOver(&rec, now)
		if now.Before(rec.LockedUntil) {
			return 0, &LockedError{Until: rec.LockedUntil}
		}
		if rec.Failures+len(rec.Pending) < l.cfg.Attempts {
			rec.Pending = append(rec.Pending, Reservation{ID: id, Until: now.Add(reservationTimeout)})
			_, err := l.store.Put(ctx, key, rec, rev)
			switch {
			case err == nil:
				return id, nil
			case !errors.Is(err, ErrConflict):
				return 0, fmt.Errorf("lockout: reserve an attempt: %w", err)
			}
			continue // another attempt wrote first: look again
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("lockout: wait for a free attempt: %w", ctx.Err())
		case <-time.After(reservationPoll):
		}
	}
}

// record writes the outcome of reservation id's attempt into key's account.
func (l *Lockout) record(ctx context.Context, key string, id uint64, outcome error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for {
		now := l.cfg.Now()
		rec, rev, err := l.store.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("lockout: read account: %w", err)
		}
		l.forgetOver(&rec, now)
		rec.Pending = slices.DeleteFunc(rec.Pending, func(r Reservation) bool { return r.ID == id })
		locks := false
		switch {
		case outcome == nil:
			rec.Failures = 0
		case errors.Is(outcome, ErrBadCredentials):
			rec.Failures++
			rec.LastFailure = now
			if rec.Failures >= l.cfg.Attempts && !now.Before(rec.LockedUntil) {
				rec.LockedUntil = now.Add(l.cfg.Duration)
				locks = true
			}
		}
		if rec.empty() {
			if rev == 0 {
				return nil
			}
			err = l.store.Delete(ctx, key, rev)
		} else {
			_, err = l.store.Put(ctx, key, rec, rev)
		}
		switch {
		case err == nil:
			if locks {
				l.mu.Lock()
				l.locksSet++
				l.mu.Unlock()
			}
			return nil
		case !errors.Is(err, ErrConflict):
			return fmt.Errorf("lockout: record an attempt: %w", err)
		}
	}
}

// forgetOver drops from rec the reservations that timed out, and the lock
// and failure streak if they are over.
func (l *Lockout) forgetOver(rec *LockoutRecord, now time.Time) {
	rec.Pending = slices.DeleteFunc(rec.Pending, func(r Reservation) bool { return !now.Before(r.Until) })
	if !now.Before(rec.LockedUntil) && now.Sub(rec.LastFailure) >= l.cfg.Duration {
		rec.Failures, rec.LastFailure, rec.LockedUntil = 0, time.Time{}, time.Time{}
	}
}

// empty reports whether rec holds nothing to remember, so that its account
// can be forgotten.
func (rec *LockoutRecord) empty() bool {
	return rec.Failures == 0 && rec.LockedUntil.IsZero() && len(rec.Pending) == 0
}

// Locked reports when the account unlocks, if it is locked now.
func (l *Lockout) Locked(ctx context.Context, account Account) (until time.Time, locked bool, err error) {
	rec, _, err := l.store.Get(ctx, account.storeKey())
	if err != nil {
		return time.Time{}, false, fmt.Errorf("lockout: read account: %w", err)
	}
	return rec.LockedUntil, l.cfg.Now().Before(rec.LockedUntil), nil
}

// ActiveLocks returns how many accounts are locked now, as LockedAccounts
// reads them.
func (l *Lockout) ActiveLocks() int { return len(l.LockedAccounts()) }

// LockedAccount is an account locked now, and when its lock ends.
type LockedAccount struct {
	Account Account
	Until   time.Time
}

// LockedAccounts returns the accounts locked now, in no particular order.
// It reads every record of the store, so it answers from the locks it last
// read if they are less than 10 s old and this Lockout has set no lock
// since: a lock set by another node sharing the store may show that much
// later. If the store cannot be read it answers from the last locks it
// read. An account names nobody by itself: compare it with AgentAccount
// and NameAccount of the names one knows.
func (l *Lockout) LockedAccounts() []LockedAccount {
	now := l.cfg.Now()
	l.mu.Lock()
	fresh := l.locksReadYet && l.locksSeen == l.locksSet && now.Sub(l.locksRead) < activeLocksMaxAge
	seen := l.locksSet
	l.mu.Unlock()

	if !fresh {
		locks, err := l.readLocks()
		l.mu.Lock()
		if err == nil {
			l.locks, l.locksRead, l.locksSeen, l.locksReadYet = locks, now, seen, true
		}
		l.mu.Unlock()
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var locked []LockedAccount
	for _, lock := range l.locks {
		if now.Before(lock.Until) {
			locked = append(locked, lock)
		}
	}
	return locked
}

// readLocks returns every lock in the store, ended or not.
func (l *Lockout) readLocks() ([]LockedAccount, error) {
	ctx, cancel := context.WithTimeout(context.Background(), activeLocksTimeout)
	defer cancel()
	keys, err := l.store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("lockout: list accounts: %w", err)
	}
	var locks []LockedAccount
	for _, key := range keys {
		rec, _, err := l.store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("lockout: read account: %w", err)
		}
		if !rec.LockedUntil.IsZero() {
			locks = append(locks, LockedAccount{Account: Account{key: key}, Until: rec.LockedUntil})
		}
	}
	return locks, nil
}
