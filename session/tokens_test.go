package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/session"
)

// tokenStores are the stores the tokens are tested on: each returns the
// TokensConfig.Store of new tokens.
var tokenStores = []struct {
	name string
	open func(t *testing.T) session.TokenStore
}{
	{"memory", func(*testing.T) session.TokenStore { return nil }},
	{"kv", func(t *testing.T) session.TokenStore {
		return openTokenStore(t, node(t, natstest.Start(t, "")))
	}},
}

func openTokenStore(t *testing.T, js jetstream.JetStream) *session.KVTokenStore {
	t.Helper()
	store, err := session.NewKVTokenStore(setupContext(t), js, "tokens", 12*time.Hour)
	require.NoError(t, err)
	return store
}

// eachTokenStore runs test on new tokens on each store.
func eachTokenStore(t *testing.T, test func(t *testing.T, tokens *session.Tokens, clk *fakeclock.Clock)) {
	for _, st := range tokenStores {
		t.Run(st.name, func(t *testing.T) {
			clk := fakeclock.New(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
			test(t, session.NewTokens(session.TokensConfig{Now: clk.Now, Store: st.open(t)}), clk)
		})
	}
}

func issue(t *testing.T, tokens *session.Tokens, agentID string) string {
	t.Helper()
	token, _, err := tokens.Issue(context.Background(), agentID)
	require.NoError(t, err)
	return token
}

func TestTokenResolvesToItsAgent(t *testing.T) {
	eachTokenStore(t, func(t *testing.T, tokens *session.Tokens, clk *fakeclock.Clock) {
		token, expires, err := tokens.Issue(context.Background(), "ciscotest")
		require.NoError(t, err)
		assert.Equal(t, clk.Now().Add(12*time.Hour), expires)
		assert.Len(t, token, 43, "256 bits in unpadded base64url")
		other := issue(t, tokens, "jdoe")

		got, err := tokens.Resolve(context.Background(), token)
		require.NoError(t, err)
		assert.Equal(t, "ciscotest", got)
		got, err = tokens.Resolve(context.Background(), other)
		require.NoError(t, err)
		assert.Equal(t, "jdoe", got)
		_, err = tokens.Resolve(context.Background(), "made-up")
		assert.ErrorIs(t, err, session.ErrTokenInvalid)
	})
}

func TestTokenExpires(t *testing.T) {
	eachTokenStore(t, func(t *testing.T, tokens *session.Tokens, clk *fakeclock.Clock) {
		token := issue(t, tokens, "ciscotest")
		clk.Advance(12*time.Hour - time.Second)
		_, err := tokens.Resolve(context.Background(), token)
		require.NoError(t, err)
		clk.Advance(time.Second)
		_, err = tokens.Resolve(context.Background(), token)
		assert.ErrorIs(t, err, session.ErrTokenInvalid)
	})
}

func TestRevokeAgentRevokesItsTokensOnly(t *testing.T) {
	eachTokenStore(t, func(t *testing.T, tokens *session.Tokens, _ *fakeclock.Clock) {
		first, second := issue(t, tokens, "ciscotest"), issue(t, tokens, "ciscotest")
		other := issue(t, tokens, "jdoe")
		require.NoError(t, tokens.RevokeAgent(context.Background(), "ciscotest"))
		for _, token := range []string{first, second} {
			_, err := tokens.Resolve(context.Background(), token)
			assert.ErrorIs(t, err, session.ErrTokenInvalid)
		}
		_, err := tokens.Resolve(context.Background(), other)
		require.NoError(t, err, "another agent's token still admits")

		next := issue(t, tokens, "ciscotest")
		got, err := tokens.Resolve(context.Background(), next)
		require.NoError(t, err, "a token issued after the sign-out admits")
		assert.Equal(t, "ciscotest", got)
	})
}

func TestTokenRevokedOnOneNodeIsRefusedOnAnother(t *testing.T) {
	s := natstest.Start(t, "")
	a := session.NewTokens(session.TokensConfig{Store: openTokenStore(t, node(t, s))})
	b := session.NewTokens(session.TokensConfig{Store: openTokenStore(t, node(t, s))})
	ctx := setupContext(t)

	token, _, err := a.Issue(ctx, "ciscotest")
	require.NoError(t, err)
	got, err := b.Resolve(ctx, token)
	require.NoError(t, err, "a token issued on one node admits on another")
	assert.Equal(t, "ciscotest", got)

	require.NoError(t, b.RevokeAgent(ctx, "ciscotest"))
	_, err = a.Resolve(ctx, token)
	assert.ErrorIs(t, err, session.ErrTokenInvalid, "revoked on the other node")
	_, err = b.Resolve(ctx, token)
	assert.ErrorIs(t, err, session.ErrTokenInvalid)
}

func TestTokensPerAgentAreCapped(t *testing.T) {
	s := natstest.Start(t, "")
	js := node(t, s)
	memory := session.NewTokens(session.TokensConfig{PerAgent: 3})
	kv := session.NewTokens(session.TokensConfig{PerAgent: 3, Store: openTokenStore(t, js)})
	bucket, err := js.KeyValue(setupContext(t), "tokens")
	require.NoError(t, err)
	tokenKeys := func() int {
		keys, err := bucket.ListKeys(setupContext(t))
		require.NoError(t, err)
		n := 0
		for k := range keys.Keys() {
			if strings.HasPrefix(k, "t.") {
				n++
			}
		}
		return n
	}
	sizes := map[string]func() int{"memory": func() int { return session.TokensSize(memory) }, "kv": tokenKeys}

	for name, tokens := range map[string]*session.Tokens{"memory": memory, "kv": kv} {
		t.Run(name, func(t *testing.T) {
			other := issue(t, tokens, "jdoe")
			var issued []string
			for range 50 { // re-logins
				issued = append(issued, issue(t, tokens, "ciscotest"))
			}
			for i, token := range issued {
				_, err := tokens.Resolve(context.Background(), token)
				if i < 47 {
					assert.ErrorIs(t, err, session.ErrTokenInvalid, "token %d of 50 is beyond the newest 3", i)
				} else {
					assert.NoError(t, err, "token %d of 50 is among the newest 3", i)
				}
			}
			_, err := tokens.Resolve(context.Background(), other)
			assert.NoError(t, err, "another agent's token is not displaced")
			assert.Equal(t, 4, sizes[name](), "three tokens of one agent and one of the other are kept")
		})
	}
}
