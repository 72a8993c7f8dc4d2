package prosodytest_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctibus/ctibus/internal/prosodytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	domainA = "finesse-a.test"
	domainB = "finesse-b.test"
)

// update is a Finesse User notification in the shape of the captures of
// Finesse 12.5 (written here, not copied).
const update = `<Update>
  <data>
    <user>
      <loginId>100501</loginId>
      <state>NOT_READY</state>
      <reasonCodeId>-1</reasonCodeId>
      <extension>1001</extension>
    </user>
  </data>
  <event>PUT</event>
  <requestId></requestId>
  <source>/finesse/api/User/100501</source>
</Update>`

// fields are what a test reads of an Update.
type fields struct {
	LoginID   string `xml:"data>user>loginId"`
	State     string `xml:"data>user>state"`
	Event     string `xml:"event"`
	RequestID string `xml:"requestId"`
	Source    string `xml:"source"`
}

func decodeUpdate(t *testing.T, b []byte) fields {
	t.Helper()
	var f fields
	require.NoError(t, xml.Unmarshal(b, &f), "%s", b)
	require.NotEmpty(t, f.State)
	return f
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T) *prosodytest.Server {
	t.Helper()
	return prosodytest.Start(t, prosodytest.Config{Domains: []string{domainA, domainB}})
}

// dial signs user in on domain and closes the client when the test ends.
func dial(t *testing.T, ctx context.Context, s *prosodytest.Server, domain, user, password, resource string) *prosodytest.Client {
	t.Helper()
	c, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: s.WebSocketURL(domain), Domain: domain, User: user, Password: password, Resource: resource,
		TLS: s.CA().ClientTLS(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPushReachesEveryResourceOfTheBareJID(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainA, "100501", "test@123"))

	desktop := dial(t, ctx, s, domainA, "100501", "test@123", "ctibus-1")
	other := dial(t, ctx, s, domainA, "100501", "test@123", "ctibus-2")
	assert.Equal(t, "100501@finesse-a.test/ctibus-1", desktop.JID)
	require.NoError(t, desktop.SendPresence(ctx))
	require.NoError(t, other.SendPresence(ctx))
	require.NoError(t, s.Sync(ctx, domainA))
	require.True(t, s.Online(domainA, "100501"))

	require.NoError(t, s.Push(domainA, "100501@finesse-a.test", "/finesse/api/User/100501", []byte(update)))
	for _, c := range []*prosodytest.Client{desktop, other} {
		n, err := c.NextNotification(ctx)
		require.NoError(t, err)
		assert.Equal(t, "pubsub.finesse-a.test", n.From)
		assert.Equal(t, "/finesse/api/User/100501", n.Node)
		assert.Equal(t, prosodytest.NamespacePush, n.Namespace)
		assert.False(t, n.Elements)
		assert.Equal(t, update, string(n.Update))
		assert.NotEmpty(t, n.ItemID)
	}
}

func TestPushForms(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainB, "6021", "pw"))
	c := dial(t, ctx, s, domainB, "6021", "pw", "r")
	require.NoError(t, c.SendPresence(ctx))

	tests := []struct {
		name string
		give prosodytest.PushOptions
	}{
		{"escaped text, urn:xmpp:push:0", prosodytest.PushOptions{}},
		{"escaped text, pubsub", prosodytest.PushOptions{Namespace: prosodytest.NamespacePubSub}},
		{"child elements, pubsub", prosodytest.PushOptions{Elements: true, Namespace: prosodytest.NamespacePubSub}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, s.PushWith(domainB, "6021@finesse-b.test", "/finesse/api/User/6021", []byte(update), tt.give))
			n, err := c.NextNotification(ctx)
			require.NoError(t, err)
			want := tt.give.Namespace
			if want == "" {
				want = prosodytest.NamespacePush
			}
			assert.Equal(t, want, n.Namespace)
			assert.Equal(t, tt.give.Elements, n.Elements)
			// As child elements, the Update passes through prosody's
			// serializer, which writes <requestId/> for <requestId></requestId>.
			assert.Equal(t, decodeUpdate(t, []byte(update)), decodeUpdate(t, n.Update))
		})
	}
}

func TestPushRefusesWhatWouldEndTheStream(t *testing.T) {
	s := start(t)
	err := s.PushWith(domainA, "1@finesse-a.test", "/n", []byte("<Update><data>"), prosodytest.PushOptions{Elements: true})
	assert.ErrorContains(t, err, "not well-formed")
	err = s.Push(domainA, "1@finesse-a.test", "/n", []byte("a\x00b"))
	assert.ErrorContains(t, err, "control character")
	assert.Error(t, s.Push("unknown.test", "1@unknown.test", "/n", []byte(update)))
}

func TestWrongPasswordIsNotAuthorized(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainA, "100501", "test@123"))
	_, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: s.WebSocketURL(domainA), Domain: domainA, User: "100501", Password: "wrong", TLS: s.CA().ClientTLS(),
	})
	assert.ErrorIs(t, err, prosodytest.ErrNotAuthorized)
	dial(t, ctx, s, domainA, "100501", "test@123", "r")
	require.NoError(t, s.Sync(ctx, domainA))
	succeeded, failed := s.Authentications(domainA, "100501")
	assert.Equal(t, 1, succeeded)
	assert.Equal(t, 1, failed)
	// The account is on domain A only.
	_, err = prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: s.WebSocketURL(domainB), Domain: domainB, User: "100501", Password: "test@123", TLS: s.CA().ClientTLS(),
	})
	assert.ErrorIs(t, err, prosodytest.ErrNotAuthorized)
}

func TestTLSIsVerified(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	_, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: s.WebSocketURL(domainA), Domain: domainA, User: "1", Password: "p", // system roots only
	})
	assert.ErrorContains(t, err, "certificate")
}

func TestPresenceIsWatched(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainA, "100501", "test@123"))
	events := make(chan prosodytest.Presence, 10)
	cancel := s.OnPresence(domainA, func(p prosodytest.Presence) { events <- p })
	defer cancel()

	c := dial(t, ctx, s, domainA, "100501", "test@123", "r1")
	require.NoError(t, s.Sync(ctx, domainA))
	assert.False(t, s.Online(domainA, "100501"), "connected without presence is not online")
	require.NoError(t, c.SendPresence(ctx))
	require.NoError(t, s.WaitPresence(ctx, domainA, "100501", true))
	c.Close()
	require.NoError(t, s.WaitPresence(ctx, domainA, "100501", false))

	assert.Equal(t, prosodytest.Presence{Domain: domainA, User: "100501", Resource: "r1", Available: true, Online: true}, <-events)
	assert.Equal(t, prosodytest.Presence{Domain: domainA, User: "100501", Resource: "r1", Available: false, Online: false}, <-events)
	assert.False(t, s.Online(domainB, "100501"))
}

func TestProxyCutDropAndStall(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainA, "100501", "test@123"))
	require.NoError(t, s.AddUser(domainB, "100501", "test@123"))

	a := dial(t, ctx, s, domainA, "100501", "test@123", "r")
	b := dial(t, ctx, s, domainB, "100501", "test@123", "r")
	require.NoError(t, a.SendPresence(ctx))
	require.NoError(t, b.SendPresence(ctx))

	// Drop: the session is lost, the side stays up.
	s.Proxy(domainA).Drop()
	assert.Error(t, a.Err(ctx))
	require.NoError(t, s.WaitPresence(ctx, domainA, "100501", false))
	a = dial(t, ctx, s, domainA, "100501", "test@123", "r")
	require.NoError(t, a.SendPresence(ctx))

	// Cut: the side is down; side B is untouched.
	s.Proxy(domainA).Cut()
	assert.Error(t, a.Err(ctx))
	_, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: s.WebSocketURL(domainA), Domain: domainA, User: "100501", Password: "test@123", TLS: s.CA().ClientTLS(),
	})
	assert.ErrorContains(t, err, "connection refused")
	require.NoError(t, b.Ping(ctx, domainB))
	require.NoError(t, s.Proxy(domainA).Restore())
	a = dial(t, ctx, s, domainA, "100501", "test@123", "r")
	require.NoError(t, a.Ping(ctx, domainA))

	// Stall: nothing passes until Restore.
	s.Proxy(domainA).Stall()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, a.Ping(short, domainA), context.DeadlineExceeded)
	require.NoError(t, s.Proxy(domainA).Restore())
	// The ping sent while stalled is answered now, then a new one.
	st, err := a.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "iq", st.XMLName.Local)
	require.NoError(t, a.Ping(ctx, domainA))
	assert.Equal(t, 3, s.Proxy(domainA).Accepted())
}

func TestSubscriptionsToTeamNodes(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainA, "100600", "super@1"))
	sup := dial(t, ctx, s, domainA, "100600", "super@1", "ctibus")
	require.NoError(t, sup.SendPresence(ctx))

	const node = "/finesse/api/Team/5004/Users"
	require.NoError(t, sup.Subscribe(ctx, domainA, node))
	assert.Equal(t, []string{"100600@finesse-a.test/ctibus"}, s.Subscribers(domainA, node))
	require.NoError(t, s.PushSubscribers(domainA, node, []byte(update), prosodytest.PushOptions{}))
	n, err := sup.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, node, n.Node)
	assert.Equal(t, "100600@finesse-a.test/ctibus", n.To)

	// Finesse lets a user subscribe itself only.
	err = sup.Send("<iq xmlns='jabber:client' type='set' to='pubsub.finesse-a.test' id='x'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='/finesse/api/Team/5004/Users' jid='100501@finesse-a.test'/></pubsub></iq>")
	require.NoError(t, err)
	st, err := sup.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "error", st.Type)
	assert.Contains(t, string(st.Inner), "forbidden")
}

func TestBouncesCountUndeliveredNotifications(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	require.NoError(t, s.AddUser(domainA, "100501", "test@123"))
	require.NoError(t, s.Push(domainA, "100501@finesse-a.test", "/finesse/api/User/100501", []byte(update)))
	require.NoError(t, s.Sync(ctx, domainA))
	assert.Equal(t, 1, s.Bounces(domainA))
}

func TestUnknownDomain(t *testing.T) {
	s := start(t)
	assert.ErrorContains(t, s.Sync(context.Background(), "x.test"), `no domain "x.test"`)
	assert.Error(t, s.AddUser("x.test", "1", "p"))
	assert.Error(t, s.AddUser(domainA, "bad user", "p"))
}

func TestBOSHIsServed(t *testing.T) {
	ctx := testContext(t)
	s := start(t)
	body := `<body rid='1' to='finesse-b.test' xml:lang='en' wait='10' hold='1' ver='1.6' xmlns='http://jabber.org/protocol/httpbind' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`
	req, err := http.NewRequestWithContext(ctx, "POST", s.BOSHURL(domainB), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.CA().ClientTLS()}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var session struct {
		SID        string   `xml:"sid,attr"`
		Mechanisms []string `xml:"features>mechanisms>mechanism"`
	}
	require.NoError(t, xml.NewDecoder(resp.Body).Decode(&session))
	assert.NotEmpty(t, session.SID)
	assert.Contains(t, session.Mechanisms, "PLAIN")
}
