package finesse

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

const domainA = "finesse-a.test"

// stanzas collects what a session delivers.
type stanzas struct {
	mu    sync.Mutex
	got   [][]byte
	added chan struct{}
}

func newStanzas() *stanzas { return &stanzas{added: make(chan struct{})} }

func (s *stanzas) add(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, append([]byte(nil), b...))
	close(s.added)
	s.added = make(chan struct{})
}

// wait returns the n-th stanza (from 0) once it has come.
func (s *stanzas) wait(t *testing.T, ctx context.Context, n int) []byte {
	t.Helper()
	for {
		s.mu.Lock()
		if len(s.got) > n {
			b := s.got[n]
			s.mu.Unlock()
			return b
		}
		added := s.added
		s.mu.Unlock()
		select {
		case <-added:
		case <-ctx.Done():
			require.FailNow(t, "no stanza")
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestXMPPSession(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Config{Domains: []string{domainA}})
	require.NoError(t, srv.AddUser(domainA, "100501", "test@123"))
	ctx := testContext(t)
	resources := make(chan string, 4)
	defer srv.OnPresence(domainA, func(p prosodytest.Presence) {
		if p.Available {
			resources <- p.Resource
		}
	})()

	got := newStanzas()
	s, err := dialXMPP(ctx, xmppConfig{
		url: srv.WebSocketURL(domainA), domain: domainA, side: "side A",
		creds: credentials{"100501", "test@123"}, roots: srv.CA().Pool(), onStanza: got.add,
	})
	require.NoError(t, err)
	require.NoError(t, srv.WaitPresence(ctx, domainA, "100501", true), "the session sends presence")
	r := <-resources
	assert.True(t, strings.HasPrefix(r, "ctibus-"), "a resource of ours, never desktop: %s", r)

	update := readUpdate(t, "user-login.update")
	require.NoError(t, srv.Push(domainA, "100501@"+domainA, "/finesse/api/User/100501", update))
	n, err := ParseNotification(got.wait(t, ctx, 0))
	require.NoError(t, err)
	require.NotNil(t, n.User)
	assert.Equal(t, cisco.StateNotReady, n.User.State)

	require.NoError(t, srv.PushWith(domainA, "100501@"+domainA, "/finesse/api/User/100501/Dialogs", readUpdate(t, "dialogs-post.update"),
		prosodytest.PushOptions{Elements: true, Namespace: nsPubSub}))
	n, err = ParseNotification(got.wait(t, ctx, 1))
	require.NoError(t, err)
	assert.Len(t, n.Dialogs, 1, "the older form, child elements in the pubsub namespace")

	s.Close()
	assert.NoError(t, s.Err(), "a clean close is no failure")
	require.NoError(t, srv.WaitPresence(ctx, domainA, "100501", false), "the session's presence ends with it")
}

func TestXMPPWrongPassword(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Config{Domains: []string{domainA}})
	require.NoError(t, srv.AddUser(domainA, "100501", "test@123"))
	_, err := dialXMPP(testContext(t), xmppConfig{
		url: srv.WebSocketURL(domainA), domain: domainA, side: "side A",
		creds: credentials{"100501", "wrong"}, roots: srv.CA().Pool(), onStanza: func([]byte) {},
	})
	assert.ErrorIs(t, err, cisco.ErrAuthorization)
	assert.NotContains(t, err.Error(), "wrong")
}

func TestXMPPUntrustedCertificate(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Config{Domains: []string{domainA}})
	_, err := dialXMPP(testContext(t), xmppConfig{
		url: srv.WebSocketURL(domainA), domain: domainA, side: "side A",
		creds: credentials{"100501", "test@123"}, roots: x509.NewCertPool(), onStanza: func([]byte) {},
	})
	assert.ErrorIs(t, err, cisco.ErrUnavailable)
	assert.ErrorContains(t, err, "certificate")
	assert.ErrorContains(t, err, "side A")
}

func TestXMPPConnectionLost(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Config{Domains: []string{domainA}})
	require.NoError(t, srv.AddUser(domainA, "100501", "test@123"))
	ctx := testContext(t)
	s, err := dialXMPP(ctx, xmppConfig{
		url: srv.WebSocketURL(domainA), domain: domainA, side: "side A",
		creds: credentials{"100501", "test@123"}, roots: srv.CA().Pool(), onStanza: func([]byte) {},
	})
	require.NoError(t, err)
	defer s.Close()
	srv.Proxy(domainA).Drop()
	select {
	case <-s.Done():
	case <-ctx.Done():
		require.FailNow(t, "the session did not see its connection end")
	}
	assert.ErrorIs(t, s.Err(), cisco.ErrUnavailable)
}

func TestXMPPUnansweredPings(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Config{Domains: []string{domainA}})
	require.NoError(t, srv.AddUser(domainA, "100501", "test@123"))
	ctx := testContext(t)
	s, err := dialXMPP(ctx, xmppConfig{
		url: srv.WebSocketURL(domainA), domain: domainA, side: "side A",
		creds: credentials{"100501", "test@123"}, roots: srv.CA().Pool(), onStanza: func([]byte) {},
		pingInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	defer s.Close()
	srv.Proxy(domainA).Stall()
	defer srv.Proxy(domainA).Restore()
	select {
	case <-s.Done():
	case <-ctx.Done():
		require.FailNow(t, "a stalled connection was not noticed")
	}
	assert.ErrorIs(t, s.Err(), cisco.ErrUnavailable)
}

// readUpdate returns an <Update> document of testdata, as Finesse puts it
// in a notification.
func readUpdate(t *testing.T, name string) []byte {
	return readFixture(t, name)
}
