package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrTokenInvalid refuses a workspace token that is unknown, expired or
// revoked. The three are not told apart: the answer would help a guesser.
var ErrTokenInvalid = errors.New("session: workspace token unknown, expired or revoked")

// TokensConfig holds the tokens' tunables; zero values select defaults.
type TokensConfig struct {
	// TTL is how long a token admits apps after its sign-in. Default 12 h.
	TTL time.Duration
	// PerAgent is how many tokens of one agent admit apps at once: each
	// sign-in issues one, and beyond PerAgent the oldest stops working, so
	// that re-logins cannot grow the store without bound. Default 32.
	PerAgent int
	// Store keeps the tokens. Tokens sharing one store (the nodes of a
	// cluster) resolve and revoke each other's. Default: a store of this
	// Tokens' own, in memory.
	Store TokenStore
	// Now tells the time. Default time.Now.
	Now func() time.Time
}

// TokenStore keeps the hashes of the issued workspace tokens. Errors other
// than ErrTokenInvalid wrap ErrUnavailable.
type TokenStore interface {
	// Add keeps hash as a token of agentID's workspace until expires, and
	// forgets the oldest tokens of agentID beyond the newest keep.
	Add(ctx context.Context, hash [32]byte, agentID string, expires time.Time, keep int) error
	// Lookup returns the agent of the token hashed to hash and when the
	// token expires, or ErrTokenInvalid if it is unknown or revoked.
	Lookup(ctx context.Context, hash [32]byte) (agentID string, expires time.Time, err error)
	// RevokeAgent revokes every token of agentID's workspace added so far.
	RevokeAgent(ctx context.Context, agentID string) error
}

// RevocationWatcher is a TokenStore that several nodes share and that tells
// each of them of every revocation, wherever it was made: a desktop that
// ends on one node (a different agent signed in on it) then ends on every
// node that holds a part of it.
type RevocationWatcher interface {
	// WatchRevocations calls revoked, from one goroutine of its own, with
	// the agent of each revocation made from now on, on any node, until
	// ctx ends; done is closed when that goroutine has stopped. It returns
	// once the revocations made after it returned are sure to be told.
	WatchRevocations(ctx context.Context, revoked func(agentID string)) (done <-chan struct{}, err error)
}

// DefaultTokensPerAgent is the default of TokensConfig.PerAgent: far more
// than the apps of one desktop and its re-logins of a shift need.
const DefaultTokensPerAgent = 32

// DefaultTokenTTL is the default of TokensConfig.TTL: a working day.
const DefaultTokenTTL = 12 * time.Hour

// Tokens issues the workspace tokens that let another app of an agent join
// the agent's workspace without the password. A token is 256 random bits,
// opaque to apps; only its SHA-256 is kept, so the store holds nothing that
// admits anyone.
type Tokens struct {
	cfg TokensConfig
}

// NewTokens returns the tokens kept in cfg.Store.
func NewTokens(cfg TokensConfig) *Tokens {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTokenTTL
	}
	if cfg.PerAgent <= 0 {
		cfg.PerAgent = DefaultTokensPerAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Store == nil {
		cfg.Store = newMemoryTokenStore(cfg.Now)
	}
	return &Tokens{cfg: cfg}
}

// Issue returns a new token for agentID's workspace and when it expires.
func (t *Tokens) Issue(ctx context.Context, agentID string) (token string, expires time.Time, err error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails: crypto/rand panics rather than return short
	token = base64.RawURLEncoding.EncodeToString(raw[:])
	expires = t.cfg.Now().Add(t.cfg.TTL)
	if err := t.cfg.Store.Add(ctx, sha256.Sum256([]byte(token)), agentID, expires, t.cfg.PerAgent); err != nil {
		return "", time.Time{}, fmt.Errorf("issue a workspace token: %w", err)
	}
	return token, expires, nil
}

// Resolve returns the agent whose workspace token admits, or ErrTokenInvalid.
func (t *Tokens) Resolve(ctx context.Context, token string) (agentID string, err error) {
	agentID, expires, err := t.cfg.Store.Lookup(ctx, sha256.Sum256([]byte(token)))
	if err != nil {
		if errors.Is(err, ErrTokenInvalid) {
			return "", err
		}
		return "", fmt.Errorf("resolve a workspace token: %w", err)
	}
	if !t.cfg.Now().Before(expires) {
		return "", ErrTokenInvalid
	}
	return agentID, nil
}

// RevokeAgent revokes every token of agentID's workspace, at sign-out.
func (t *Tokens) RevokeAgent(ctx context.Context, agentID string) error {
	if err := t.cfg.Store.RevokeAgent(ctx, agentID); err != nil {
		return fmt.Errorf("revoke the workspace tokens of %s: %w", agentID, err)
	}
	return nil
}

// memoryTokenStore is the TokenStore of a single node.
type memoryTokenStore struct {
	now func() time.Time

	mu      sync.Mutex              // guards the fields below
	byHash  map[[32]byte]tokenEntry //
	byAgent map[string][][32]byte   // each agent's tokens, oldest first
}

type tokenEntry struct {
	agentID string
	expires time.Time
}

func newMemoryTokenStore(now func() time.Time) *memoryTokenStore {
	return &memoryTokenStore{now: now, byHash: make(map[[32]byte]tokenEntry), byAgent: make(map[string][][32]byte)}
}

func (s *memoryTokenStore) Add(_ context.Context, h [32]byte, agentID string, expires time.Time, keep int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now())
	s.byHash[h] = tokenEntry{agentID: agentID, expires: expires}
	hashes := append(s.byAgent[agentID], h)
	if over := len(hashes) - keep; over > 0 {
		for _, old := range hashes[:over] {
			delete(s.byHash, old)
		}
		hashes = slices.Clone(hashes[over:]) // the dropped ones go with the old array
	}
	s.byAgent[agentID] = hashes
	return nil
}

func (s *memoryTokenStore) Lookup(_ context.Context, h [32]byte) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byHash[h]
	if !ok {
		return "", time.Time{}, ErrTokenInvalid
	}
	return e.agentID, e.expires, nil
}

func (s *memoryTokenStore) RevokeAgent(_ context.Context, agentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.byAgent[agentID] {
		delete(s.byHash, h)
	}
	delete(s.byAgent, agentID)
	return nil
}

// sweepLocked forgets expired tokens, so that the table does not grow with
// every sign-in of a long-running server.
func (s *memoryTokenStore) sweepLocked(now time.Time) {
	for h, e := range s.byHash {
		if !now.Before(e.expires) {
			delete(s.byHash, h)
			live := slices.DeleteFunc(s.byAgent[e.agentID], func(x [32]byte) bool { return x == h })
			if len(live) == 0 {
				delete(s.byAgent, e.agentID)
			} else {
				s.byAgent[e.agentID] = live
			}
		}
	}
}

// size reports how many tokens the store holds, for tests.
func (s *memoryTokenStore) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}
