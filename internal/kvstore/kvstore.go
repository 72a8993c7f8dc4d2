// Package kvstore is the cluster's plumbing on JetStream KV, in one place
// for the packages that share state through NATS (session's stores, the
// replicated simulator, the ctibus command): opening a bucket, the
// compare-and-set writes every shared record takes, telling a lost race
// from an outage, building keys, and what a cluster, bucket or node may be
// called.
//
// What it writes is what the nodes of a cluster agree on: the bucket
// names, the key formats and the values stay those of earlier versions,
// so that nodes of two versions can share a cluster during an upgrade.
package kvstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Revision is a record's revision in its bucket: it grows with every write
// to the bucket. A compare-and-set names the revision it last read.
type Revision uint64

// Absent is the revision of a key without a record: a compare-and-set
// against it creates the record only if none exists.
const Absent Revision = 0

// ErrConflict is returned by a compare-and-set or a compare-and-delete
// whose record changed since its revision was read: another writer came
// first. Read again and decide again.
var ErrConflict = errors.New("kvstore: record changed since it was read")

// Config says how to open a bucket.
type Config struct {
	// Bucket is the bucket's name, made by BucketName. Required.
	Bucket string
	// Description is shown by the nats CLI, for an operator wondering what
	// the bucket is.
	Description string
	// TTL drops a record this long after its last write; 0 keeps records.
	TTL time.Duration
	// History is how many revisions of a key the bucket keeps; 0 keeps one.
	History uint8
}

// Open opens the bucket cfg names, creating it if need be, on file
// storage, so that a restarted NATS keeps it. A bucket that exists is
// updated to cfg, so that every node of a cluster applies the same TTL.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.KeyValue, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("kvstore: open: the bucket has no name")
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: cfg.Description,
		History:     cfg.History,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Get returns key's value and revision; nil and Absent if key has no
// record.
func Get(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, Revision, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, Absent, nil
	}
	if err != nil {
		return nil, Absent, err
	}
	return e.Value(), Revision(e.Revision()), nil
}

// CompareAndSet writes value under key if key's revision is still rev
// (Absent: if key has no record), and returns the new revision, or
// ErrConflict if another write came first.
func CompareAndSet(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, rev Revision) (Revision, error) {
	var newRev uint64
	var err error
	if rev == Absent {
		newRev, err = kv.Create(ctx, key, value)
	} else {
		newRev, err = kv.Update(ctx, key, value, uint64(rev))
	}
	return Revision(newRev), conflictOr(err)
}

// Create writes value under key if key has no record, and returns its
// revision, or ErrConflict if key has one: the way to take a lease.
func Create(ctx context.Context, kv jetstream.KeyValue, key string, value []byte) (Revision, error) {
	return CompareAndSet(ctx, kv, key, value, Absent)
}

// CompareAndDelete deletes key's record if its revision is still rev, or
// returns ErrConflict.
func CompareAndDelete(ctx context.Context, kv jetstream.KeyValue, key string, rev Revision) error {
	return conflictOr(kv.Delete(ctx, key, jetstream.LastRevision(uint64(rev))))
}

// conflictOr returns ErrConflict, wrapping err, if err refuses a write for
// a revision that moved, and err otherwise.
func conflictOr(err error) error {
	if err != nil && IsConflict(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// IsConflict reports whether err refuses a write because the record's
// revision moved: ErrConflict, or JetStream's own errors for it (the key
// exists, the revision or the stream's last sequence is not the one
// given), which a write made with the jetstream client directly returns.
func IsConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, ErrConflict) ||
		errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// MaxNameLen bounds a name, so that a prefix and a suffix still make a
// bucket name NATS accepts, and a subject stays short.
const MaxNameLen = 32

// CheckName says what is wrong with name as the name of a cluster (the
// prefix of its subjects and buckets), a bucket's part, or a node (a token
// of keys and subjects): it must be 1 to MaxNameLen letters, digits, '-'
// or '_', which every NATS subject, bucket name and key allows.
func CheckName(name string) error {
	ok := len(name) > 0 && len(name) <= MaxNameLen
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("name %.40q: use 1 to %d letters, digits, - or _", name, MaxNameLen)
	}
	return nil
}

// BucketName is the name of a cluster's bucket: the cluster's prefix, "_"
// and what the bucket holds ("lockout", "cisco_leader"), so that clusters
// sharing a NATS system keep apart.
func BucketName(prefix, holds string) string { return prefix + "_" + holds }

// Token makes s one token of a key: s itself when it is letters and
// digits (as loginIds are), else "_" and its hex, which no plain token
// starts with, so that two strings never share a token.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return "_" + hex.EncodeToString([]byte(s))
		}
	}
	return s
}

// HexToken makes s one token of a key, always as its hex: for keys that a
// filter matches by a fixed form, or that should not show what they name
// at a glance.
func HexToken(s string) string { return hex.EncodeToString([]byte(s)) }
