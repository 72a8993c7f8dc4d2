package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
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
	// Now tells the time. Default time.Now.
	Now func() time.Time
}

// Tokens issues the workspace tokens that let another app of an agent join
// the agent's workspace without the password. A token is 256 random bits,
// opaque to apps; only its SHA-256 is kept, so the table holds nothing that
// admits anyone.
type Tokens struct {
	cfg TokensConfig

	mu      sync.Mutex              // guards the fields below
	byHash  map[[32]byte]tokenEntry //
	byAgent map[string]map[[32]byte]struct{}
}

type tokenEntry struct {
	agentID string
	expires time.Time
}

// NewTokens returns an empty token table.
func NewTokens(cfg TokensConfig) *Tokens {
	if cfg.TTL <= 0 {
		cfg.TTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Tokens{cfg: cfg, byHash: make(map[[32]byte]tokenEntry), byAgent: make(map[string]map[[32]byte]struct{})}
}

// Issue returns a new token for agentID's workspace and when it expires.
func (t *Tokens) Issue(agentID string) (token string, expires time.Time) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails: crypto/rand panics rather than return short
	token = base64.RawURLEncoding.EncodeToString(raw[:])
	now := t.cfg.Now()
	expires = now.Add(t.cfg.TTL)
	h := sha256.Sum256([]byte(token))

	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(now)
	t.byHash[h] = tokenEntry{agentID: agentID, expires: expires}
	if t.byAgent[agentID] == nil {
		t.byAgent[agentID] = make(map[[32]byte]struct{})
	}
	t.byAgent[agentID][h] = struct{}{}
	return token, expires
}

// Resolve returns the agent whose workspace token admits, or ErrTokenInvalid.
func (t *Tokens) Resolve(token string) (agentID string, err error) {
	h := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byHash[h]
	if !ok || !t.cfg.Now().Before(e.expires) {
		return "", ErrTokenInvalid
	}
	return e.agentID, nil
}

// RevokeAgent revokes every token of agentID's workspace, at sign-out.
func (t *Tokens) RevokeAgent(agentID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h := range t.byAgent[agentID] {
		delete(t.byHash, h)
	}
	delete(t.byAgent, agentID)
}

// sweepLocked forgets expired tokens, so that the table does not grow with
// every sign-in of a long-running server.
func (t *Tokens) sweepLocked(now time.Time) {
	for h, e := range t.byHash {
		if !now.Before(e.expires) {
			delete(t.byHash, h)
			delete(t.byAgent[e.agentID], h)
			if len(t.byAgent[e.agentID]) == 0 {
				delete(t.byAgent, e.agentID)
			}
		}
	}
}
