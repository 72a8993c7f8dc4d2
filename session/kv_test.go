package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/internal/testtime"
	"github.com/ctibus/ctibus/session"
)

func TestLockoutHoldsAcrossNodes(t *testing.T) {
	s := natstest.Start(t, "")
	var nodes []*session.Lockout
	for range 3 {
		nodes = append(nodes, session.NewLockout(session.LockoutConfig{Store: openLockoutStore(t, node(t, s))}))
	}

	verified, bad, refused := wrongInParallel(t, nodes, session.AgentAccount("100501"))
	assert.Equal(t, 5, verified, "at most 5 passwords are verified, whatever node they reach")
	assert.Equal(t, 5, bad)
	assert.Equal(t, 45, refused)
	for i, l := range nodes {
		assert.True(t, isAccountLocked(t, l, session.AgentAccount("100501")), "node %d sees the lock", i)
		assert.Equal(t, 1, l.ActiveLocks(), "node %d counts the lock", i)
	}
}

// TestLockoutKeys pins the keys of the lockout bucket, which docs/cluster.md
// lists and which nodes of different versions share.
func TestLockoutKeys(t *testing.T) {
	js := node(t, natstest.Start(t, ""))
	l := session.NewLockout(session.LockoutConfig{Store: openLockoutStore(t, js)})
	ctx := setupContext(t)
	require.ErrorIs(t, l.Attempt(ctx, session.AgentAccount("100503"), wrong), session.ErrBadCredentials)
	require.ErrorIs(t, l.Attempt(ctx, session.NameAccount("NoBody"), wrong), session.ErrBadCredentials)

	kv, err := js.KeyValue(ctx, "lockout")
	require.NoError(t, err)
	keys, err := kv.Keys(ctx)
	require.NoError(t, err)
	hash := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	assert.ElementsMatch(t, []string{"a." + hash("100503"), hash("nobody")}, keys)
}

func TestLockSetOnOneNodeIsSeenOnAnother(t *testing.T) {
	s := natstest.Start(t, "")
	a := session.NewLockout(session.LockoutConfig{Store: openLockoutStore(t, node(t, s))})
	b := session.NewLockout(session.LockoutConfig{Store: openLockoutStore(t, node(t, s))})
	for range 4 {
		require.ErrorIs(t, attempt(a, "ciscotest", wrong), session.ErrBadCredentials)
	}
	require.ErrorIs(t, attempt(b, "ciscotest", wrong), session.ErrBadCredentials, "the fifth failure, on another node")

	called := false
	err := attempt(a, "ciscotest", func() error { called = true; return nil })
	var le *session.LockedError
	require.ErrorAs(t, err, &le, "the lock set by one node refuses on the other")
	assert.False(t, called)
}

func TestLockoutRefusesWhenTheStoreIsDown(t *testing.T) {
	s := natstest.Start(t, "")
	l := session.NewLockout(session.LockoutConfig{Store: openLockoutStore(t, node(t, s))})
	s.Shutdown()
	s.WaitForShutdown()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	called := false
	err := l.Attempt(ctx, session.AgentAccount("100501"), func() error { called = true; return nil })
	assert.ErrorIs(t, err, session.ErrUnavailable)
	assert.False(t, called, "no password is verified uncounted")
}

func TestLockAndTokensSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	s := natstest.Start(t, dir)
	port := s.Addr().(*net.TCPAddr).Port
	js := node(t, s)
	l := session.NewLockout(session.LockoutConfig{Store: openLockoutStore(t, js)})
	tokens := session.NewTokens(session.TokensConfig{Store: openTokenStore(t, js)})
	ctx := setupContext(t)

	for range 5 {
		require.ErrorIs(t, attempt(l, "ciscotest", wrong), session.ErrBadCredentials)
	}
	revoked, _, err := tokens.Issue(ctx, "ciscotest")
	require.NoError(t, err)
	require.NoError(t, tokens.RevokeAgent(ctx, "ciscotest"))
	valid, _, err := tokens.Issue(ctx, "ciscotest")
	require.NoError(t, err)

	s.Shutdown()
	s.WaitForShutdown()
	natstest.StartOn(t, dir, port)

	// The client reconnects by itself; until it has, the stores are down.
	// A request sent while it reconnects may be lost and wait out its
	// context, so each try has a deadline of its own, as a node's do.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		try, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, locked, err := l.Locked(try, session.NameAccount("ciscotest"))
		require.NoError(c, err)
		assert.True(c, locked, "the lock is still there")
	}, eventually, 20*time.Millisecond)
	got, err := tokens.Resolve(ctx, valid)
	require.NoError(t, err)
	assert.Equal(t, "ciscotest", got)
	_, err = tokens.Resolve(ctx, revoked)
	assert.ErrorIs(t, err, session.ErrTokenInvalid, "a revoked token stays revoked")
}

func TestPresenceAcrossNodes(t *testing.T) {
	s := natstest.Start(t, "")
	ctx := setupContext(t)
	a, err := session.NewKVPresence(ctx, node(t, s), "presence", "node-a")
	require.NoError(t, err)
	b, err := session.NewKVPresence(ctx, node(t, s), "presence", "node-b")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close(context.Background())) })
	// Set returns before its write: the writer writes at once, but on its
	// own goroutine.
	elsewhere := func(p *session.KVPresence, agentID string, want bool, msg string) {
		t.Helper()
		assert.Eventually(t, func() bool {
			got, err := p.Elsewhere(ctx, agentID)
			return err == nil && got == want
		}, eventually, 5*time.Millisecond, msg)
	}

	elsewhere(b, "ciscotest", false, "nobody holds the agent")
	require.NoError(t, a.Set(ctx, "ciscotest", 2))
	elsewhere(b, "ciscotest", true, "node a holds the agent")
	elsewhere(a, "ciscotest", false, "node a's own connections are not elsewhere")
	elsewhere(b, "jdoe", false, "another agent")

	require.NoError(t, b.Set(ctx, "ciscotest", 1))
	elsewhere(a, "ciscotest", true, "")
	require.NoError(t, a.Set(ctx, "ciscotest", 0))
	elsewhere(b, "ciscotest", false, "node a holds no more")

	require.NoError(t, a.Set(ctx, "jdoe", 1))
	elsewhere(b, "jdoe", true, "")
	require.NoError(t, a.Close(ctx))
	elsewhere(b, "jdoe", false, "a closed node holds nothing")
	elsewhere(a, "ciscotest", true, "node b still holds the agent")
}

// TestPresenceView: the view lists the nodes alive, and the connections
// each holds of each workspace, and forgets a node that closed.
func TestPresenceView(t *testing.T) {
	s := natstest.Start(t, "")
	ctx := setupContext(t)
	a, err := session.NewKVPresence(ctx, node(t, s), "presence", "node-a")
	require.NoError(t, err)
	b, err := session.NewKVPresence(ctx, node(t, s), "presence", "node-b")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close(context.Background())) })
	require.NoError(t, a.Set(ctx, "ciscotest", 2))
	require.NoError(t, b.Set(ctx, "ciscotest", 1))
	require.NoError(t, b.Set(ctx, "jdoe", 3))
	want := session.PresenceView{
		Nodes: []string{"node-a", "node-b"},
		Apps:  map[string]map[string]int{"ciscotest": {"node-a": 2, "node-b": 1}, "jdoe": {"node-b": 3}},
	}
	// Set returns before its write, which the writer makes at once.
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := b.View(ctx)
		require.NoError(c, err)
		assert.Equal(c, want, got)
	}, eventually, 5*time.Millisecond)

	require.NoError(t, a.Close(ctx))
	got, err := b.View(ctx)
	require.NoError(t, err)
	assert.Equal(t, session.PresenceView{
		Nodes: []string{"node-b"},
		Apps:  map[string]map[string]int{"ciscotest": {"node-b": 1}, "jdoe": {"node-b": 3}},
	}, got, "a closed node is gone at once")
}

func TestPresenceOfADeadNodeVanishes(t *testing.T) {
	s := natstest.Start(t, "")
	ctx := setupContext(t)
	// Long enough that a busy machine still writes every heartbeat well
	// within the three the bucket keeps an entry for.
	heartbeat := testtime.Scale(250 * time.Millisecond)
	nc := natstest.Connect(t, s)
	jsA, err := jetstream.New(nc)
	require.NoError(t, err)
	a, err := session.NewKVPresenceBeating(ctx, jsA, "presence", "node-a", heartbeat)
	require.NoError(t, err)
	b, err := session.NewKVPresenceBeating(ctx, node(t, s), "presence", "node-b", heartbeat)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close(context.Background())) })

	// Watch node a write its entry (not its node's heartbeat): the rewrites
	// past the first are the heartbeat's, for a count that did not change.
	// Each leaves the entry for node b to see.
	kv, err := jsA.KeyValue(ctx, "presence")
	require.NoError(t, err)
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Stop() })
	require.NoError(t, a.Set(ctx, "ciscotest", 1))
	for writes := 0; writes < 5; {
		select {
		case e := <-w.Updates():
			if e != nil && e.Operation() == jetstream.KeyValuePut && !strings.HasPrefix(e.Key(), "node.") {
				writes++
				got, err := b.Elsewhere(ctx, "ciscotest")
				require.NoError(t, err)
				require.True(t, got, "node a's write %d shows", writes)
			}
		case <-ctx.Done():
			require.FailNow(t, "node a stopped writing its entry", "after %d writes", writes)
		}
	}

	nc.Close() // node a dies: its heartbeat writes no more
	assert.Eventually(t, func() bool {
		got, err := b.Elsewhere(context.Background(), "ciscotest")
		return err == nil && !got
	}, eventually, heartbeat/2, "a dead node's entries vanish")
	assert.Error(t, a.Close(ctx), "a dead node cannot delete its entries")
}

// A node hears of every revocation made on any node, and of nothing else:
// an issue is not one.
func TestRevocationsAreToldToEveryNode(t *testing.T) {
	s := natstest.Start(t, "")
	ctx := setupContext(t)
	a := session.NewTokens(session.TokensConfig{Store: openTokenStore(t, node(t, s))})
	watched := openTokenStore(t, node(t, s))
	heard := make(chan string, 4)
	watch, stop := context.WithCancel(ctx)
	done, err := watched.WatchRevocations(watch, func(agentID string) { heard <- agentID })
	require.NoError(t, err)

	_, _, err = a.Issue(ctx, "100501")
	require.NoError(t, err)
	require.NoError(t, a.RevokeAgent(ctx, "100501"))
	_, _, err = a.Issue(ctx, "100503")
	require.NoError(t, err)
	require.NoError(t, a.RevokeAgent(ctx, "100503"))
	next := func() string {
		select {
		case id := <-heard:
			return id
		case <-ctx.Done():
			require.FailNow(t, "no revocation heard")
			return ""
		}
	}
	assert.Equal(t, "100501", next())
	assert.Equal(t, "100503", next(), "the issue between told nothing")
	stop()
	<-done
	assert.Empty(t, heard)
}
