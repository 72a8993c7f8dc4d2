package session

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ctibus/ctibus/internal/kvstore"
)

// KVLockoutStore is a LockoutStore in a JetStream KV bucket, shared by the
// nodes of a cluster. Keys are hashes of loginIds and names (see
// AgentAccount and NameAccount), so the bucket lists nobody.
type KVLockoutStore struct {
	kv jetstream.KeyValue
}

var _ LockoutStore = (*KVLockoutStore)(nil)

// NewKVLockoutStore opens the KV bucket named bucket, creating it if need
// be, for lockouts whose locks last lockDuration (LockoutConfig.Duration):
// a record not written for a little longer than that is over, and the
// bucket drops it by itself.
func NewKVLockoutStore(ctx context.Context, js jetstream.JetStream, bucket string, lockDuration time.Duration) (*KVLockoutStore, error) {
	kv, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      bucket,
		Description: "ctibus sign-in lockout: failures and locks per account",
		TTL:         recordMaxAge(lockDuration),
	})
	if err != nil {
		return nil, fmt.Errorf("lockout: %w: %w", ErrUnavailable, err)
	}
	return &KVLockoutStore{kv: kv}, nil
}

// Get returns key's record and its revision, or the zero record and 0.
func (s *KVLockoutStore) Get(ctx context.Context, key string) (LockoutRecord, uint64, error) {
	value, rev, err := kvstore.Get(ctx, s.kv, key)
	if err != nil || rev == kvstore.Absent {
		return LockoutRecord{}, 0, unavailableOrNil("get", err)
	}
	var rec LockoutRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		return LockoutRecord{}, 0, unavailable("decode", err)
	}
	return rec, uint64(rev), nil
}

// Put stores rec under key if key's revision is still rev.
func (s *KVLockoutStore) Put(ctx context.Context, key string, rec LockoutRecord, rev uint64) (uint64, error) {
	value, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode lockout record: %w", err)
	}
	return casPut(ctx, s.kv, key, value, rev)
}

// Delete removes key's record if its revision is still rev.
func (s *KVLockoutStore) Delete(ctx context.Context, key string, rev uint64) error {
	return storeError("delete", kvstore.CompareAndDelete(ctx, s.kv, key, kvstore.Revision(rev)))
}

// Keys returns the keys that have a record.
func (s *KVLockoutStore) Keys(ctx context.Context) ([]string, error) {
	keys, err := s.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("list keys", err)
	}
	return keys, nil
}

// KVTokenStore is a TokenStore in a JetStream KV bucket, shared by the nodes
// of a cluster. A token's key is "t.<hex SHA-256 of the token>", holding the
// agent, the expiry and the agent's generation when it was issued; the
// agent's key "g.<hex agentID>" holds its current generation and the hashes
// of its live tokens, newest last, at most as many as Add keeps. Revoking
// bumps the generation, which refuses every older token at once, on every
// node; a token dropped from the list is refused and its key deleted.
type KVTokenStore struct {
	kv jetstream.KeyValue
}

var _ TokenStore = (*KVTokenStore)(nil)

// NewKVTokenStore opens the KV bucket named bucket, creating it if need be,
// for tokens that live ttl (TokensConfig.TTL): the bucket drops them a
// little after they expire.
func NewKVTokenStore(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration) (*KVTokenStore, error) {
	kv, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      bucket,
		Description: "ctibus workspace tokens: hashes and revocations",
		// An agent's record is written at every issue, so it outlives the
		// tokens it revokes and those it admits: once it is dropped, every
		// token of the agent has expired.
		TTL: ttl + storeMargin,
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: %w: %w", ErrUnavailable, err)
	}
	return &KVTokenStore{kv: kv}, nil
}

type kvToken struct {
	AgentID    string    `json:"agentId"`
	Expires    time.Time `json:"expires"`
	Generation uint64    `json:"generation"`
}

// kvAgentTokens is the record of an agent's key.
type kvAgentTokens struct {
	Generation uint64   `json:"generation"`
	Tokens     []string `json:"tokens,omitempty"` // hex hashes of the live tokens, oldest first
	// unlisted marks a record of an earlier version, which kept the
	// generation alone: its tokens are checked by generation only, until
	// the next issue lists the tokens from then on.
	unlisted bool
}

// Add keeps hash as a token of agentID's current generation, and drops the
// agent's oldest tokens beyond the newest keep.
func (s *KVTokenStore) Add(ctx context.Context, hash [32]byte, agentID string, expires time.Time, keep int) error {
	var dropped []string
	for {
		rec, rev, err := s.agentTokens(ctx, agentID)
		if err != nil {
			return err
		}
		value, err := json.Marshal(kvToken{AgentID: agentID, Expires: expires, Generation: rec.Generation})
		if err != nil {
			return fmt.Errorf("encode token: %w", err)
		}
		if _, err := s.kv.Put(ctx, tokenKey(hash), value); err != nil {
			return unavailable("add token", err)
		}
		rec.Tokens = append(rec.Tokens, hex.EncodeToString(hash[:]))
		dropped = nil
		if over := len(rec.Tokens) - keep; over > 0 {
			dropped, rec.Tokens = rec.Tokens[:over], rec.Tokens[over:]
		}
		err = s.putAgentTokens(ctx, agentID, rec, rev)
		if errors.Is(err, ErrConflict) {
			continue // another issue or a revocation came first: look again
		}
		if err != nil {
			return err
		}
		break
	}
	s.deleteTokens(ctx, dropped)
	return nil
}

// Lookup returns the agent of the token and its expiry, unless the agent's
// generation moved on since it was issued or newer tokens displaced it.
func (s *KVTokenStore) Lookup(ctx context.Context, hash [32]byte) (string, time.Time, error) {
	value, rev, err := kvstore.Get(ctx, s.kv, tokenKey(hash))
	if err != nil {
		return "", time.Time{}, unavailable("get token", err)
	}
	if rev == kvstore.Absent {
		return "", time.Time{}, ErrTokenInvalid
	}
	var tok kvToken
	if err := json.Unmarshal(value, &tok); err != nil {
		return "", time.Time{}, unavailable("decode token", err)
	}
	rec, _, err := s.agentTokens(ctx, tok.AgentID)
	if err != nil {
		return "", time.Time{}, err
	}
	if rec.Generation != tok.Generation || !rec.unlisted && !slices.Contains(rec.Tokens, hex.EncodeToString(hash[:])) {
		return "", time.Time{}, ErrTokenInvalid
	}
	return tok.AgentID, tok.Expires, nil
}

// RevokeAgent bumps agentID's generation and deletes its tokens.
func (s *KVTokenStore) RevokeAgent(ctx context.Context, agentID string) error {
	for {
		rec, rev, err := s.agentTokens(ctx, agentID)
		if err != nil {
			return err
		}
		err = s.putAgentTokens(ctx, agentID, kvAgentTokens{Generation: rec.Generation + 1}, rev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err == nil {
			s.deleteTokens(ctx, rec.Tokens)
		}
		return err
	}
}

var _ RevocationWatcher = (*KVTokenStore)(nil)

// WatchRevocations watches the agents' keys: a record that lists no token
// is a revocation (Add always lists the token it adds). The watch ends with
// ctx, or if NATS ends it; a revocation missed while NATS was out of reach
// still refuses every token of the agent, but its desktop then ends only
// on the node that revoked it.
func (s *KVTokenStore) WatchRevocations(ctx context.Context, revoked func(agentID string)) (<-chan struct{}, error) {
	w, err := s.kv.Watch(ctx, generationKeyPrefix+"*", jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, unavailable("watch token revocations", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if agentID, ok := revokedAgent(e); ok {
					revoked(agentID)
				}
			}
		}
	}()
	return done, nil
}

// revokedAgent returns the agent an update of its key revoked, if it did.
func revokedAgent(e jetstream.KeyValueEntry) (string, bool) {
	if e == nil || e.Operation() != jetstream.KeyValuePut {
		return "", false
	}
	id, err := hex.DecodeString(strings.TrimPrefix(e.Key(), generationKeyPrefix))
	if err != nil {
		return "", false
	}
	var rec kvAgentTokens
	if json.Unmarshal(e.Value(), &rec) != nil || len(rec.Tokens) > 0 {
		return "", false // an issue, or a record of an earlier version
	}
	return string(id), true
}

// deleteTokens deletes the keys of tokens no longer listed, so that the
// bucket does not grow with re-logins. A delete that fails leaves a key
// that Lookup refuses anyway and that the bucket drops at its TTL.
func (s *KVTokenStore) deleteTokens(ctx context.Context, hexHashes []string) {
	for _, h := range hexHashes {
		_ = s.kv.Delete(ctx, "t."+h)
	}
}

// agentTokens returns agentID's record and its revision; an empty record
// and 0 if the agent has none.
func (s *KVTokenStore) agentTokens(ctx context.Context, agentID string) (kvAgentTokens, uint64, error) {
	value, rev, err := kvstore.Get(ctx, s.kv, generationKey(agentID))
	if err != nil || rev == kvstore.Absent {
		return kvAgentTokens{}, 0, unavailableOrNil("get agent's tokens", err)
	}
	if gen, err := strconv.ParseUint(string(value), 10, 64); err == nil {
		return kvAgentTokens{Generation: gen, unlisted: true}, uint64(rev), nil
	}
	var rec kvAgentTokens
	if err := json.Unmarshal(value, &rec); err != nil {
		return kvAgentTokens{}, 0, unavailable("decode agent's tokens", err)
	}
	return rec, uint64(rev), nil
}

func (s *KVTokenStore) putAgentTokens(ctx context.Context, agentID string, rec kvAgentTokens, rev uint64) error {
	value, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode agent's tokens: %w", err)
	}
	_, err = casPut(ctx, s.kv, generationKey(agentID), value, rev)
	return err
}

func tokenKey(hash [32]byte) string { return "t." + hex.EncodeToString(hash[:]) }

// generationKeyPrefix starts the key of each agent's record.
const generationKeyPrefix = "g."

func generationKey(agentID string) string { return generationKeyPrefix + kvstore.HexToken(agentID) }

const (
	// PresenceHeartbeat is how often a KVPresence rewrites its entries.
	PresenceHeartbeat = 5 * time.Second
	// presenceMaxAgeBeats is how many heartbeats an entry outlives the
	// last write of its node by: a few, so that a dead node's entries
	// vanish but a late heartbeat does not drop a live one.
	presenceMaxAgeBeats = 3
	// presenceWriteTimeout bounds each write of a heartbeat, and the
	// deletes of Close when its context has no deadline.
	presenceWriteTimeout = 2 * time.Second
)

// KVPresence is a Presence in a JetStream KV bucket shared by the nodes of a
// cluster. The key "<hex agentID>.<node>" holds how many connections of the
// agent's workspace node holds, and "node.<node>" that the node is alive
// (hex has no "n", so the keys never meet). One writer goroutine writes the counts Set
// records, at once, and rewrites all of this node's entries every
// PresenceHeartbeat; the bucket drops an entry three heartbeats after its
// last write, so the entries of a node that died vanish by themselves.
// Close stops the writer.
type KVPresence struct {
	kv        jetstream.KeyValue
	node      string
	heartbeat time.Duration
	stop      context.CancelFunc // stops the writer
	done      chan struct{}      // closed when the writer has stopped
	poke      chan struct{}      // capacity 1: Set wakes the writer

	mu     sync.Mutex          // guards the fields below; never held across a write
	conns  map[string]int      // agentID -> connections here; 0: an entry to delete
	dirty  map[string]struct{} // agents whose count changed since the writer last wrote it
	closed bool
}

var _ Presence = (*KVPresence)(nil)

// NewKVPresence opens the KV bucket named bucket, creating it if need be,
// and starts the heartbeat of node's entries. node names this node among
// those sharing the bucket: 1 to 32 letters, digits, '-' and '_'.
func NewKVPresence(ctx context.Context, js jetstream.JetStream, bucket, node string) (*KVPresence, error) {
	return newKVPresence(ctx, js, bucket, node, PresenceHeartbeat)
}

func newKVPresence(ctx context.Context, js jetstream.JetStream, bucket, node string, heartbeat time.Duration) (*KVPresence, error) {
	if err := kvstore.CheckName(node); err != nil {
		return nil, fmt.Errorf("presence: node %w", err)
	}
	kv, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      bucket,
		Description: "ctibus presence: connections of each agent's workspace per node",
		TTL:         presenceMaxAgeBeats * heartbeat,
	})
	if err != nil {
		return nil, fmt.Errorf("presence: %w: %w", ErrUnavailable, err)
	}
	hbCtx, stop := context.WithCancel(context.Background())
	p := &KVPresence{
		kv: kv, node: node, heartbeat: heartbeat, stop: stop,
		done: make(chan struct{}), poke: make(chan struct{}, 1),
		conns: make(map[string]int), dirty: make(map[string]struct{}),
	}
	go p.beat(hbCtx)
	return p, nil
}

// Set records how many connections of agentID's workspace this node holds,
// for the writer to write at once. It never waits for NATS: it runs when a
// connection closes. A write that fails is tried again at the next
// heartbeat. After Close it does nothing.
func (p *KVPresence) Set(_ context.Context, agentID string, conns int) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.conns[agentID] = conns
	p.dirty[agentID] = struct{}{}
	p.mu.Unlock()
	select {
	case p.poke <- struct{}{}:
	default: // the writer is already woken
	}
	return nil
}

// Elsewhere reports whether another node holds a connection of agentID's
// workspace.
func (p *KVPresence) Elsewhere(ctx context.Context, agentID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
	defer cancel()
	lister, err := p.kv.ListKeysFiltered(ctx, kvstore.HexToken(agentID)+".*")
	if err != nil {
		return false, unavailable("list presence", err)
	}
	defer lister.Stop()
	own := p.key(agentID)
	elsewhere := false
	for key := range lister.Keys() { // read to the end: the lister blocks otherwise
		if key != own {
			elsewhere = true
		}
	}
	if ctx.Err() != nil {
		return false, unavailable("list presence", ctx.Err())
	}
	return elsewhere, nil
}

// Close stops the writer and deletes this node's entries, so that the
// other nodes stop counting its connections at once. Without a deadline in
// ctx, it gives the deletes presenceWriteTimeout in all.
func (p *KVPresence) Close(ctx context.Context) error {
	p.stop()
	<-p.done
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	agents := make([]string, 0, len(p.conns))
	for agentID := range p.conns {
		agents = append(agents, agentID)
	}
	clear(p.conns)
	p.mu.Unlock()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, presenceWriteTimeout)
		defer cancel()
	}
	var errs []error
	if err := p.kv.Delete(ctx, nodeKeyPrefix+p.node); err != nil {
		errs = append(errs, unavailable("delete presence", err))
	}
	for _, agentID := range agents {
		if err := p.kv.Delete(ctx, p.key(agentID)); err != nil {
			errs = append(errs, unavailable("delete presence", err))
		}
	}
	return errors.Join(errs...)
}

func (p *KVPresence) key(agentID string) string {
	return kvstore.HexToken(agentID) + "." + p.node
}

// write writes agentID's entry as conns has it: the count, or a delete,
// after which the agent is forgotten unless its count changed meanwhile.
// Only the writer calls it, so writes reach the bucket in the order of the
// counts they write.
func (p *KVPresence) write(ctx context.Context, agentID string) error {
	p.mu.Lock()
	n, kept := p.conns[agentID]
	p.mu.Unlock()
	if !kept {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
	defer cancel()
	if n > 0 {
		if _, err := p.kv.Put(ctx, p.key(agentID), strconv.AppendInt(nil, int64(n), 10)); err != nil {
			return unavailable("put presence", err)
		}
		return nil
	}
	if err := p.kv.Delete(ctx, p.key(agentID)); err != nil {
		return unavailable("delete presence", err)
	}
	p.mu.Lock()
	if _, changed := p.dirty[agentID]; !changed && p.conns[agentID] == 0 {
		delete(p.conns, agentID)
	}
	p.mu.Unlock()
	return nil
}

// beat is the writer: it writes the counts Set changes as they change, and
// every entry every heartbeat, until ctx ends. A failed write is left to
// the next heartbeat.
func (p *KVPresence) beat(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.heartbeat)
	defer tick.Stop()
	_ = p.writeNode(ctx)
	for {
		all := false
		select {
		case <-ctx.Done():
			return
		case <-p.poke:
		case <-tick.C:
			all = true
			_ = p.writeNode(ctx)
		}
		p.mu.Lock()
		agents := make([]string, 0, len(p.dirty))
		for agentID := range p.dirty {
			agents = append(agents, agentID)
		}
		if all {
			agents = agents[:0]
			for agentID := range p.conns {
				agents = append(agents, agentID)
			}
		}
		clear(p.dirty)
		p.mu.Unlock()
		for _, agentID := range agents {
			_ = p.write(ctx, agentID)
		}
	}
}

// casPut writes value under key if key's revision is still rev (0: if key
// has no value), and returns the new revision or ErrConflict.
func casPut(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, rev uint64) (uint64, error) {
	newRev, err := kvstore.CompareAndSet(ctx, kv, key, value, kvstore.Revision(rev))
	return uint64(newRev), storeError("write", err)
}

// storeError is the error of a store's operation op: ErrConflict for a
// lost compare-and-set, else err as ErrUnavailable, or nil.
func storeError(op string, err error) error {
	if kvstore.IsConflict(err) {
		return ErrConflict
	}
	return unavailableOrNil(op, err)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

func unavailableOrNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return unavailable(op, err)
}
