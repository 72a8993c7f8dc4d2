package session

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrUnavailable marks a store that could not be reached (NATS down, or not
// answering in time). The lockout refuses an attempt it cannot count rather
// than let it through unchecked.
var ErrUnavailable = errors.New("session: store unavailable")

// ErrConflict is returned by a store's conditional write when the record
// changed since it was read; the writer reads it again and retries.
var ErrConflict = errors.New("session: record changed since it was read")

// LockoutRecord is what a lockout remembers of one account.
type LockoutRecord struct {
	Failures    int           `json:"failures,omitempty"`   // consecutive failed sign-ins
	LastFailure time.Time     `json:"lastFailure,omitzero"` // when the last one was
	LockedUntil time.Time     `json:"lockedUntil,omitzero"` // when the lock ends; zero if none was set
	Pending     []Reservation `json:"pending,omitempty"`    // attempts verifying a password now
}

// Reservation is an attempt's slot in an account's allowance: it is counted
// as a failure to come until the attempt records its outcome, or until
// Until, so that an attempt whose node died does not hold its slot forever.
type Reservation struct {
	ID    uint64    `json:"id"`
	Until time.Time `json:"until"`
}

// LockoutStore keeps one LockoutRecord per key, with revisions, so that the
// lockouts of several nodes can update a record by compare-and-set. Errors
// other than ErrConflict wrap ErrUnavailable.
type LockoutStore interface {
	// Get returns key's record and its revision; a key with no record
	// returns the zero record and revision 0.
	Get(ctx context.Context, key string) (LockoutRecord, uint64, error)
	// Put stores rec under key if key's revision is still rev (0: if key
	// has no record), and returns the new revision, or ErrConflict.
	Put(ctx context.Context, key string, rec LockoutRecord, rev uint64) (uint64, error)
	// Delete removes key's record if its revision is still rev, or
	// returns ErrConflict.
	Delete(ctx context.Context, key string, rev uint64) error
	// Keys returns the keys that have a record.
	Keys(ctx context.Context) ([]string, error)
}

// memoryLockoutStore is the LockoutStore of a single node. A record not
// written for maxAge is forgotten, as a KV bucket's MaxAge does, so that
// made-up usernames do not grow memory without bound.
type memoryLockoutStore struct {
	maxAge time.Duration
	now    func() time.Time

	mu        sync.Mutex // guards the fields below
	records   map[string]memoryRecord
	rev       uint64    // the last revision given
	lastSweep time.Time //
}

type memoryRecord struct {
	rec     LockoutRecord
	rev     uint64
	written time.Time
}

func newMemoryLockoutStore(maxAge time.Duration, now func() time.Time) *memoryLockoutStore {
	return &memoryLockoutStore{maxAge: maxAge, now: now, records: make(map[string]memoryRecord)}
}

func (s *memoryLockoutStore) Get(_ context.Context, key string) (LockoutRecord, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveLocked(key)
	if !ok {
		return LockoutRecord{}, 0, nil
	}
	// The caller may change the slice it gets; the stored one stays as is.
	r.rec.Pending = append([]Reservation(nil), r.rec.Pending...)
	return r.rec, r.rev, nil
}

func (s *memoryLockoutStore) Put(_ context.Context, key string, rec LockoutRecord, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.lastSweep) >= s.maxAge {
		s.sweepLocked(now)
	}
	if r, _ := s.liveLocked(key); r.rev != rev {
		return 0, ErrConflict
	}
	s.rev++
	rec.Pending = append([]Reservation(nil), rec.Pending...)
	s.records[key] = memoryRecord{rec: rec, rev: s.rev, written: now}
	return s.rev, nil
}

func (s *memoryLockoutStore) Delete(_ context.Context, key string, rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, _ := s.liveLocked(key); r.rev != rev {
		return ErrConflict
	}
	delete(s.records, key)
	return nil
}

func (s *memoryLockoutStore) Keys(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.records))
	for key := range s.records {
		if _, ok := s.liveLocked(key); ok {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// liveLocked returns key's record unless it is missing or too old.
func (s *memoryLockoutStore) liveLocked(key string) (memoryRecord, bool) {
	r, ok := s.records[key]
	if !ok || s.now().Sub(r.written) >= s.maxAge {
		return memoryRecord{}, false
	}
	return r, true
}

func (s *memoryLockoutStore) sweepLocked(now time.Time) {
	s.lastSweep = now
	for key, r := range s.records {
		if now.Sub(r.written) >= s.maxAge {
			delete(s.records, key)
		}
	}
}

// size reports how many records the store holds, for tests.
func (s *memoryLockoutStore) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}
