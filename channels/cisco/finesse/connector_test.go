package finesse_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

// admin is the administrator account of the fixture: the connector reads
// with it what no signed-in agent may.
var admin = ciscotest.Account{LoginName: "finadmin", Password: "admin@123"}

// options tune a connector for tests: requests confirm quickly when a
// notification is lost, sides are read often, and failover waits little.
type options struct {
	sides   int // 1 or 2; 2 when 0
	noAdmin bool
	quiet   bool // log errors only: for many agents
	config  func(*finesse.Config)
}

// startPair starts a Finesse pair with the administrator account.
func startPair(t *testing.T, cfg finessetest.PairConfig) *finessetest.Pair {
	t.Helper()
	cfg.Site.Admin = admin
	return finessetest.StartPair(t, cfg)
}

// connect returns a started connector on p.
func connect(t *testing.T, p *finessetest.Pair, o options) *finesse.Connector {
	t.Helper()
	sides := []finesse.Side{{REST: p.A.URL(), XMPP: p.A.XMPPURL()}, {REST: p.B.URL(), XMPP: p.B.XMPPURL()}}
	if o.sides == 1 {
		sides = sides[:1]
	}
	level := zap.InfoLevel
	if o.quiet {
		level = zap.ErrorLevel
	}
	cfg := finesse.Config{
		Sides:           sides,
		RootCAs:         p.XMPP.CA().Pool(),
		Logger:          zaptest.NewLogger(t, zaptest.Level(level)),
		ConfirmTimeout:  2 * time.Second,
		StatusInterval:  200 * time.Millisecond,
		ReconnectBudget: 5 * time.Second,
		FailoverJitter:  50 * time.Millisecond,
	}
	if !o.noAdmin {
		cfg.Admin = &finesse.Account{Username: admin.LoginName, Password: admin.Password}
	}
	if o.config != nil {
		o.config(&cfg)
	}
	c, err := finesse.New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Start(testContext(t)))
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConnectorSuite(t *testing.T) {
	ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
		p := startPair(t, finessetest.PairConfig{})
		return ciscotest.SimHarness(connect(t, p, options{}), p.Sim)
	})
}

// The suite's accounts: two agents of team 5004 and their supervisor.
var (
	agentA = ciscotest.Account{LoginID: "100501", LoginName: "ciscotest", Password: "test@123", Extension: "1001"}
	agentB = ciscotest.Account{LoginID: "102312778", LoginName: "pquser", Password: "pqsup1", Extension: "1002"}
)

// notReadyCode returns the id of the agent's first NOT_READY reason code.
func notReadyCode(t *testing.T, c *finesse.Connector, a ciscotest.Account) string {
	t.Helper()
	codes, err := c.ReasonCodes(testContext(t), a.LoginID, cisco.CategoryNotReady)
	require.NoError(t, err)
	require.NotEmpty(t, codes)
	return codes[0].ID
}

func signIn(t *testing.T, c *finesse.Connector, a ciscotest.Account) cisco.SignedIn {
	t.Helper()
	in, err := c.SignIn(testContext(t), a.LoginName, a.Password, a.Extension)
	require.NoError(t, err)
	return in
}

func TestSignInOrder(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	signIn(t, c, agentA)
	entries := p.Log.Entries()
	online := slices.IndexFunc(entries, finessetest.IsOnline(finessetest.DomainA, agentA.LoginID))
	login := slices.IndexFunc(entries, finessetest.IsLogin(agentA.LoginID))
	require.GreaterOrEqual(t, online, 0, "the agent's XMPP presence reached side A")
	require.GreaterOrEqual(t, login, 0, "the LOGIN was sent")
	assert.Less(t, online, login, "XMPP and presence come before LOGIN, as Cisco documents")
}

func TestReloginKeepsState(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	signIn(t, c, agentA)
	_, err := c.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	again := signIn(t, c, agentA)
	assert.True(t, again.Relogin)
	assert.Equal(t, cisco.StateReady, again.User.State, "a re-login keeps the state")
	assert.Empty(t, again.Changed)
}

func TestRequestIDEchoedOrEmpty(t *testing.T) {
	for _, echo := range []bool{true, false} {
		t.Run(map[bool]string{true: "echoed", false: "empty"}[echo], func(t *testing.T) {
			p := startPair(t, finessetest.PairConfig{})
			p.A.SetEchoRequestID(echo)
			c := connect(t, p, options{})
			signIn(t, c, agentA)
			r := ciscotest.Record(t, c)
			_, err := c.SetState(cisco.WithRequestID(testContext(t), "bus-1"), agentA.LoginID, cisco.StateReady, "")
			require.NoError(t, err)
			got := r.All()
			i := slices.IndexFunc(got, ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
			require.GreaterOrEqual(t, i, 0, "delivered before SetState returned")
			assert.Equal(t, "bus-1", got[i].RequestID, "the request's id, whether Finesse echoes it or not")
			assert.Equal(t, agentA.LoginID, got[i].RequestedBy)
		})
	}
}

func TestSynchronousAndAsynchronousErrors(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	signIn(t, c, agentB)
	// Another agent's extension is refused by the CTI server after
	// Finesse took the LOGIN up (202): an apiErrors notification.
	_, err := c.SignIn(cisco.WithRequestID(testContext(t), "bus-busy"), agentA.LoginName, agentA.Password, agentB.Extension)
	assert.ErrorIs(t, err, cisco.ErrDeviceBusy)
	login, ok := p.Log.Find(func(e finessetest.Entry) bool { return finessetest.IsLogin(agentA.LoginID)(e) })
	require.True(t, ok)
	assert.Equal(t, 202, login.Status, "the refusal came as a notification")
	ids, err := c.SignedInAgents(testContext(t))
	require.NoError(t, err)
	assert.NotContains(t, ids, agentA.LoginID, "a refused sign-in keeps no session")

	// A reason code Finesse does not know is refused at once: a 400.
	_, err = c.SetState(cisco.WithRequestID(testContext(t), "bus-bad-code"), agentB.LoginID, cisco.StateNotReady, "no-such-code")
	assert.ErrorIs(t, err, cisco.ErrInvalidInput)
	bad, ok := p.Log.Find(func(e finessetest.Entry) bool { return e.RequestID == "bus-bad-code" })
	require.True(t, ok)
	assert.Equal(t, 400, bad.Status)
	u, err := c.User(testContext(t), agentB.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateNotReady, u.State)
}

func TestUnauthorizedIsNeverRetried(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	_, err := c.SignIn(testContext(t), agentA.LoginName, "wrong", agentA.Extension)
	assert.ErrorIs(t, err, cisco.ErrAuthorization)
	assert.NotContains(t, err.Error(), "wrong")
	assert.Equal(t, 1, p.A.Unauthorized()+p.B.Unauthorized(), "one wrong password, one request")
}

// waitOnline waits for the agent's presence on domain to come (again)
// after the moment OnPresence was called.
func presenceWatch(t *testing.T, p *finessetest.Pair, domain, loginID string) <-chan struct{} {
	up := make(chan struct{}, 16)
	t.Cleanup(p.XMPP.OnPresence(domain, func(pr prosodytest.Presence) {
		if pr.User == loginID && pr.Available {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	}))
	return up
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-testContext(t).Done():
		require.FailNow(t, what)
	}
}

func TestLostSessionReconnectsWithinTheGrace(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	signIn(t, c, agentA)
	_, err := c.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	back := presenceWatch(t, p, finessetest.DomainA, agentA.LoginID)
	r := ciscotest.Record(t, c)
	p.XMPP.Proxy(finessetest.DomainA).Drop()
	waitFor(t, back, "the agent's presence came back on side A")
	r.Await(t, "the link reported down", func(n cisco.Notification) bool { return n.Link != nil && !n.Link.Up })
	up := r.Await(t, "the link reported back", func(n cisco.Notification) bool { return n.Link != nil && n.Link.Up })
	assert.Equal(t, agentA.Extension, up.Link.Extension)
	assert.NotEmpty(t, up.Link.ConnectionID)
	assert.False(t, p.A.ExpirePresence(agentA.LoginID), "the agent is online when the 60 s grace ends: no forced logout")
	u, err := p.Sim.User(testContext(t), agentA.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateReady, u.State, "the agent stayed signed in and READY")
	_, err = c.SetState(testContext(t), agentA.LoginID, cisco.StateNotReady, notReadyCode(t, c, agentA))
	require.NoError(t, err, "requests go on after the reconnect")
}

func TestSideDownMovesAgentsToTheOtherSide(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	signIn(t, c, agentA)
	r := ciscotest.Record(t, c)
	onB := presenceWatch(t, p, finessetest.DomainB, agentA.LoginID)
	p.A.Down()
	waitFor(t, onB, "the agent signed in on side B")
	// A change made while the agent moved is published by the resync.
	_, err := c.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err, "requests go to side B")
	r.Await(t, "READY through side B", ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
	_, ok := p.Log.Find(func(e finessetest.Entry) bool {
		return finessetest.IsLogin(agentA.LoginID)(e) && e.Side == finessetest.DomainB
	})
	assert.True(t, ok, "the agent signed in again on side B, on the same extension")
	u, err := c.User(testContext(t), agentA.LoginID)
	require.NoError(t, err)
	assert.Equal(t, agentA.Extension, u.Extension)
}

func TestOutOfServiceThenInService(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{sides: 1})
	signIn(t, c, agentA)
	r := ciscotest.Record(t, c)
	p.A.SetStatus(finessetest.OutOfService)
	require.Eventually(t, func() bool { return !c.Ready() }, 30*time.Second, 10*time.Millisecond)
	_, err := c.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	assert.ErrorIs(t, err, cisco.ErrUnavailable, "requests answer Unavailable while Finesse is out of service")
	// The contact center changes the agent meanwhile, unseen.
	_, err = p.Sim.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	p.A.SetStatus(finessetest.InService)
	r.Await(t, "the change made while out of service, published once back", ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
	require.Eventually(t, c.Ready, 30*time.Second, 10*time.Millisecond)
}

func TestPerAgentOrder(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	p.A.SetEchoRequestID(false)
	c := connect(t, p, options{})
	accounts := []ciscotest.Account{agentA, agentB}
	for _, a := range accounts {
		signIn(t, c, a)
	}
	codes := map[string]string{}
	for _, a := range accounts {
		codes[a.LoginID] = notReadyCode(t, c, a)
	}
	r := ciscotest.Record(t, c)
	var wg sync.WaitGroup
	for _, a := range accounts {
		wg.Go(func() {
			for i := range 5 {
				state, code := cisco.StateReady, ""
				if i%2 == 1 {
					state, code = cisco.StateNotReady, codes[a.LoginID]
				}
				_, err := c.SetState(context.Background(), a.LoginID, state, code)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	for _, a := range accounts {
		var states []cisco.State
		for _, n := range r.All() {
			if n.User != nil && n.User.User.LoginID == a.LoginID {
				states = append(states, n.User.User.State)
			}
		}
		assert.Equal(t, []cisco.State{cisco.StateReady, cisco.StateNotReady, cisco.StateReady, cisco.StateNotReady, cisco.StateReady}, states,
			"%s's notifications in the order of its requests", a.LoginID)
	}
}

func TestTeamFeedOfAgentsSignedInElsewhere(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	sup := ciscotest.Account{LoginID: "100600", LoginName: "supervisor1", Password: "super@1", Extension: "1006"}
	signIn(t, c, sup)
	require.Eventually(t, func() bool {
		return len(p.XMPP.Subscribers(finessetest.DomainA, "/finesse/api/Team/5004/Users")) > 0
	}, 30*time.Second, 10*time.Millisecond, "the supervisor's session subscribes to its team's node")
	r := ciscotest.Record(t, c)
	// Agent A signs in on its Finesse desktop, not through ctibus.
	ctx := testContext(t)
	_, err := p.Sim.SignIn(ctx, agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	_, err = p.Sim.SetState(ctx, agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	n := r.Await(t, "agent A's READY in the supervisor's team feed", ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
	assert.Equal(t, []string{sup.LoginID}, n.User.Supervisors)

	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return len(p.XMPP.Subscribers(finessetest.DomainA, "/finesse/api/Team/5004/Users")) == 0 },
		30*time.Second, 10*time.Millisecond, "the session unsubscribes before it closes")
}

func TestSupervisorMonitorsAndBarges(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	sup := ciscotest.Account{LoginID: "100600", LoginName: "supervisor1", Password: "super@1", Extension: "1006"}
	signIn(t, c, sup)
	signIn(t, c, agentA)
	ctx := testContext(t)
	_, err := c.SetState(ctx, agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	r := ciscotest.Record(t, c)
	_, err = p.Sim.Ring(ctx, agentA.LoginID, sim.IncomingCall{From: "4085551234"})
	require.NoError(t, err)
	n := r.Await(t, "the call alerting", func(n cisco.Notification) bool {
		return n.Calls != nil && n.Calls.LoginID == agentA.LoginID && len(n.Calls.Dialogs) == 1
	})
	require.NoError(t, c.CallAction(ctx, agentA.LoginID, n.Calls.Dialogs[0].ID, cisco.ActionAnswer, ""))

	monitor, err := c.SilentMonitor(cisco.WithRequestID(ctx, "bus-monitor"), sup.LoginID, sup.Extension, agentA.LoginID, "")
	require.NoError(t, err)
	assert.NotEmpty(t, monitor.ID)
	call, err := c.Barge(ctx, sup.LoginID, sup.Extension, agentA.LoginID, "", monitor.ID)
	require.NoError(t, err)
	assert.NotEqual(t, monitor.ID, call.ID, "the barge returns the call joined, not the monitor dialog")
	assert.True(t, slices.ContainsFunc(call.Participants, func(pt cisco.Participant) bool { return pt.MediaAddress == sup.Extension }))
}

func TestSingleSignOnIsRefused(t *testing.T) {
	for _, mode := range []string{"SSO", "HYBRID"} {
		t.Run(mode, func(t *testing.T) {
			p := finessetest.StartPair(t, finessetest.PairConfig{Site: finessetest.SiteConfig{AuthMode: mode}})
			c, err := finesse.New(finesse.Config{
				Sides:   []finesse.Side{{REST: p.A.URL(), XMPP: p.A.XMPPURL()}},
				RootCAs: p.XMPP.CA().Pool(), Logger: zaptest.NewLogger(t),
			})
			require.NoError(t, err)
			defer c.Close()
			err = c.Start(testContext(t))
			assert.ErrorIs(t, err, finesse.ErrSSONotSupported)
			assert.ErrorContains(t, err, "single sign-on is not supported yet")
		})
	}
}

func TestNewRefusesBadSides(t *testing.T) {
	tests := []struct {
		name  string
		sides []finesse.Side
		want  string
	}{
		{"none", nil, "one or two sides"},
		{"three", []finesse.Side{{REST: "https://a:8445"}, {REST: "https://b:8445"}, {REST: "https://c:8445"}}, "one or two sides"},
		{"not https", []finesse.Side{{REST: "http://a:8445"}}, "must be https://"},
		{"not wss", []finesse.Side{{REST: "https://a:8445", XMPP: "https://a:7443/ws/"}}, "must be wss://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := finesse.New(finesse.Config{Sides: tt.sides})
			assert.ErrorContains(t, err, tt.want)
		})
	}
	assert.Equal(t, "wss://finesse-a.example.com:7443/ws/", finesse.DefaultXMPPURL(mustURL(t, "https://finesse-a.example.com:8445")))
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestOutOfServiceSideMovesAgentsToTheOther(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	c := connect(t, p, options{})
	signIn(t, c, agentA)
	onB := presenceWatch(t, p, finessetest.DomainB, agentA.LoginID)
	p.A.SetStatus(finessetest.OutOfService)
	waitFor(t, onB, "the agent moved to side B, which is in service")
	u, err := c.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err, "requests go to side B")
	assert.Equal(t, cisco.StateReady, u.State)
}

func TestUnreadableNotificationIsCountedAndSkipped(t *testing.T) {
	p := startPair(t, finessetest.PairConfig{})
	core, logs := observer.New(zap.DebugLevel)
	c := connect(t, p, options{config: func(cfg *finesse.Config) { cfg.Logger = zap.New(core) }})
	signIn(t, c, agentA)
	update := []byte("<Update><data><user><state>SECRET-PAYLOAD</stat></user></data><event>PUT</event></Update>")
	require.NoError(t, p.XMPP.Push(finessetest.DomainA, agentA.LoginID+"@"+finessetest.DomainA, "/finesse/api/User/"+agentA.LoginID, update))
	require.Eventually(t, func() bool { return c.Unparsed() == 1 }, 30*time.Second, 10*time.Millisecond, "the notification was counted")
	_, err := c.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err, "the session goes on")
	require.Equal(t, 1, logs.FilterMessageSnippet("could not be read").Len(), "logged once")
	for _, e := range logs.All() {
		assert.NotContains(t, fmt.Sprint(e.Message, e.ContextMap()), "SECRET-PAYLOAD", "a notification's payload is in a log line")
	}
}
