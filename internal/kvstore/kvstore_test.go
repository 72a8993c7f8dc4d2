package kvstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/kvstore"
	"github.com/ctibus/ctibus/internal/natstest"
)

func openBucket(t *testing.T, cfg kvstore.Config) (jetstream.KeyValue, jetstream.JetStream) {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, natstest.Start(t, "")))
	require.NoError(t, err)
	kv, err := kvstore.Open(context.Background(), js, cfg)
	require.NoError(t, err)
	return kv, js
}

func TestOpenAppliesTheConfigToANewOrAnExistingBucket(t *testing.T) {
	ctx := context.Background()
	_, js := openBucket(t, kvstore.Config{Bucket: "ctibus_test", Description: "first", TTL: time.Minute})

	kv, err := kvstore.Open(ctx, js, kvstore.Config{Bucket: "ctibus_test", Description: "second", TTL: time.Hour, History: 2})
	require.NoError(t, err, "a second node opens the same bucket")
	st, err := kv.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ctibus_test", st.Bucket())
	assert.Equal(t, time.Hour, st.TTL())
	assert.EqualValues(t, 2, st.History())
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	assert.Equal(t, jetstream.FileStorage, info.Config.Storage, "the records survive a restart of NATS")
	assert.Equal(t, "second", info.Config.Description)

	_, err = kvstore.Open(ctx, js, kvstore.Config{})
	assert.ErrorContains(t, err, "no name")
}

func TestCompareAndSetWritesOnlyOverTheRevisionRead(t *testing.T) {
	ctx := context.Background()
	kv, _ := openBucket(t, kvstore.Config{Bucket: "cas"})

	value, rev, err := kvstore.Get(ctx, kv, "k")
	require.NoError(t, err)
	assert.Nil(t, value)
	assert.Equal(t, kvstore.Absent, rev)

	first, err := kvstore.CompareAndSet(ctx, kv, "k", []byte("1"), kvstore.Absent)
	require.NoError(t, err)
	_, err = kvstore.Create(ctx, kv, "k", []byte("x"))
	assert.ErrorIs(t, err, kvstore.ErrConflict, "create-if-absent over a record")

	second, err := kvstore.CompareAndSet(ctx, kv, "k", []byte("2"), first)
	require.NoError(t, err)
	assert.Greater(t, second, first)
	_, err = kvstore.CompareAndSet(ctx, kv, "k", []byte("stale"), first)
	assert.ErrorIs(t, err, kvstore.ErrConflict, "a write over a revision that moved")
	assert.True(t, kvstore.IsConflict(err))

	value, rev, err = kvstore.Get(ctx, kv, "k")
	require.NoError(t, err)
	assert.Equal(t, "2", string(value), "the stale write changed nothing")
	assert.Equal(t, second, rev)

	assert.ErrorIs(t, kvstore.CompareAndDelete(ctx, kv, "k", first), kvstore.ErrConflict)
	require.NoError(t, kvstore.CompareAndDelete(ctx, kv, "k", second))
	_, rev, err = kvstore.Get(ctx, kv, "k")
	require.NoError(t, err)
	assert.Equal(t, kvstore.Absent, rev, "deleted")

	_, err = kvstore.Create(ctx, kv, "k", []byte("again"))
	assert.NoError(t, err, "a deleted key can be created again")
}

// TestIsConflictKnowsJetStreamsOwnErrors pins the errors that a write made
// with the jetstream client directly returns for a lost race.
func TestIsConflictKnowsJetStreamsOwnErrors(t *testing.T) {
	ctx := context.Background()
	kv, _ := openBucket(t, kvstore.Config{Bucket: "raw"})
	rev, err := kv.Create(ctx, "k", []byte("1"))
	require.NoError(t, err)

	_, err = kv.Create(ctx, "k", []byte("2"))
	assert.True(t, kvstore.IsConflict(err), "create over a record: %v", err)
	_, err = kv.Update(ctx, "k", []byte("2"), rev+10)
	assert.True(t, kvstore.IsConflict(err), "update over another revision: %v", err)
	err = kv.Delete(ctx, "k", jetstream.LastRevision(rev+10))
	assert.True(t, kvstore.IsConflict(err), "delete over another revision: %v", err)

	assert.False(t, kvstore.IsConflict(nil))
	assert.False(t, kvstore.IsConflict(context.DeadlineExceeded))
	assert.False(t, kvstore.IsConflict(errors.New("nats: connection closed")))
}

func TestCompareAndSetReportsAnOutageAsOne(t *testing.T) {
	kv, _ := openBucket(t, kvstore.Config{Bucket: "outage"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := kvstore.CompareAndSet(ctx, kv, "k", []byte("1"), kvstore.Absent)
	require.Error(t, err)
	assert.False(t, kvstore.IsConflict(err), "no record moved: NATS was not asked")
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		give string
		ok   bool
	}{
		{"ctibus", true},
		{"site-2_blue", true},
		{"A9", true},
		{"abcdefghijklmnopqrstuvwxyz012345", true}, // 32
		{"", false},
		{"abcdefghijklmnopqrstuvwxyz0123456", false}, // 33
		{"has space", false},
		{"a.b", false},
		{"a*", false},
		{"a>", false},
		{"é", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			err := kvstore.CheckName(tt.give)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "use 1 to 32 letters, digits, - or _")
			}
		})
	}
}

// TestTokens pins the key tokens, which nodes of different versions share.
func TestTokens(t *testing.T) {
	tests := []struct {
		give, wantToken, wantHex string
	}{
		{"100501", "100501", "313030353031"},
		{"Agent7", "Agent7", "4167656e7437"},
		{"", "_", ""},
		{"a.b", "_612e62", "612e62"},
		{"_x", "_5f78", "5f78"},
		{"é", "_c3a9", "c3a9"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.wantToken, kvstore.Token(tt.give))
			assert.Equal(t, tt.wantHex, kvstore.HexToken(tt.give))
		})
	}
}

// TestTokensAreKeysNATSTakes writes a record under every kind of token.
func TestTokensAreKeysNATSTakes(t *testing.T) {
	ctx := context.Background()
	kv, _ := openBucket(t, kvstore.Config{Bucket: "tokens"})
	for _, s := range []string{"100501", "a.b c*>", "é"} {
		for _, key := range []string{kvstore.Token(s), "g." + kvstore.HexToken(s) + ".node-1"} {
			_, err := kvstore.Create(ctx, kv, key, []byte("1"))
			assert.NoError(t, err, "key %q", key)
		}
	}
}
