package finessetest_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The suite directory's agents used here.
const (
	agentID   = "100501"
	agentName = "ciscotest"
	agentPass = "test@123"
	agentExt  = "1001"
	peerID    = "102312778"
	peerPass  = "pqsup1"
	supID     = "100600"
	supPass   = "super@1"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// response is an answer of the side, read whole.
type response struct {
	status int
	body   string
	header http.Header
}

// do sends a request as user to the side, as a desktop would.
func do(t *testing.T, ctx context.Context, site *finessetest.Site, method, path, user, password, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, site.URL()+path, strings.NewReader(body))
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := site.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, body: string(data), header: resp.Header}
}

// update is what a test reads of a notification's <Update>.
type update struct {
	Event     string `xml:"event"`
	RequestID string `xml:"requestId"`
	Source    string `xml:"source"`
	Data      struct {
		User struct {
			LoginID      string `xml:"loginId"`
			State        string `xml:"state"`
			Extension    string `xml:"extension"`
			ReasonCodeID string `xml:"reasonCodeId"`
		} `xml:"user"`
		SystemInfo struct {
			Status string `xml:"status"`
		} `xml:"SystemInfo"`
		Dialogs []struct {
			ID    string `xml:"id"`
			State string `xml:"state"`
		} `xml:"dialogs>Dialog"`
		Dialog struct {
			ID    string `xml:"id"`
			State string `xml:"state"`
		} `xml:"dialog"`
		Errors []struct {
			Type    string `xml:"errorType"`
			Message string `xml:"errorMessage"`
			Data    string `xml:"errorData"`
		} `xml:"apiErrors>apiError"`
	} `xml:"data"`
}

func readUpdate(t *testing.T, n prosodytest.Notification) update {
	t.Helper()
	var u update
	require.NoError(t, xml.Unmarshal(n.Update, &u), "%s", n.Update)
	return u
}

// desktop signs an agent's XMPP session in on site, with presence, as
// Finesse's own desktop does before its LOGIN.
func desktop(t *testing.T, ctx context.Context, p *finessetest.Pair, site *finessetest.Site, loginID, password string) *prosodytest.Client {
	t.Helper()
	c, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: site.XMPPURL(), Domain: site.Domain(), User: loginID, Password: password, Resource: "ctibus-test",
		TLS: p.XMPP.CA().ClientTLS(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SendPresence(ctx))
	return c
}

// signIn signs an agent in on site by hand: XMPP and presence, then the
// LOGIN PUT, then its notification.
func signIn(t *testing.T, ctx context.Context, p *finessetest.Pair, site *finessetest.Site, loginID, password, ext string) *prosodytest.Client {
	t.Helper()
	c := desktop(t, ctx, p, site, loginID, password)
	r := do(t, ctx, site, "PUT", "/finesse/api/User/"+loginID, loginID, password,
		"<User><state>LOGIN</state><extension>"+ext+"</extension></User>")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	n, err := c.NextNotification(ctx)
	require.NoError(t, err)
	require.Equal(t, "NOT_READY", readUpdate(t, n).Data.User.State)
	return c
}

func TestSignInByHand(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})

	// GET User by loginName with the agent's own credentials.
	r := do(t, ctx, p.A, "GET", "/finesse/api/User/"+agentName, agentName, agentPass, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.True(t, strings.HasPrefix(r.body, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`))
	var u struct {
		XMLName   xml.Name
		LoginID   string   `xml:"loginId"`
		LoginName string   `xml:"loginName"`
		State     string   `xml:"state"`
		Roles     []string `xml:"roles>role"`
		Dialogs   string   `xml:"dialogs"`
	}
	require.NoError(t, xml.Unmarshal([]byte(r.body), &u))
	assert.Equal(t, "User", u.XMLName.Local)
	assert.Equal(t, agentID, u.LoginID)
	assert.Equal(t, "LOGOUT", u.State)
	assert.Equal(t, []string{"Agent"}, u.Roles)
	assert.Equal(t, "/finesse/api/User/100501/Dialogs", u.Dialogs)

	c := desktop(t, ctx, p, p.A, agentID, agentPass)
	r = do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, agentID, agentPass,
		"<User><state>LOGIN</state><extension>"+agentExt+"</extension></User>", "requestId", "bus-1")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	assert.Empty(t, r.body, "202 carries no body: the outcome is the notification")

	n, err := c.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, "pubsub.finesse-a.test", n.From)
	assert.Equal(t, "/finesse/api/User/100501", n.Node)
	assert.Equal(t, prosodytest.NamespacePush, n.Namespace)
	got := readUpdate(t, n)
	assert.Equal(t, "PUT", got.Event)
	assert.Equal(t, "bus-1", got.RequestID)
	assert.Equal(t, "/finesse/api/User/100501", got.Source)
	assert.Equal(t, "NOT_READY", got.Data.User.State)
	assert.Equal(t, "-1", got.Data.User.ReasonCodeID)
	assert.Equal(t, agentExt, got.Data.User.Extension)

	// The order a test asserts: presence on side A, then the LOGIN PUT.
	online, found := p.Log.Find(finessetest.IsOnline(finessetest.DomainA, agentID))
	require.True(t, found)
	login, found := p.Log.Find(finessetest.IsLogin(agentID))
	require.True(t, found)
	assert.Less(t, online.Seq, login.Seq)
	assert.Equal(t, finessetest.Entry{
		Seq: login.Seq, Side: finessetest.DomainA, Method: "PUT", Path: "/finesse/api/User/100501",
		User: agentID, RequestID: "bus-1", Action: "LOGIN", Status: http.StatusAccepted,
	}, login)

	// A re-login keeps the state, and is notified too.
	r = do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, agentID, agentPass, "<User><state>READY</state></User>")
	require.Equal(t, http.StatusAccepted, r.status)
	n, err = c.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, "READY", readUpdate(t, n).Data.User.State)
	r = do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, agentID, agentPass,
		"<User><state>LOGIN</state><extension>"+agentExt+"</extension></User>")
	require.Equal(t, http.StatusAccepted, r.status)
	n, err = c.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, "READY", readUpdate(t, n).Data.User.State)
}

func TestWrongPasswordIsCountedAndLocksAfterFive(t *testing.T) {
	ctx := testContext(t)
	clock := fakeclock.New(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	p := finessetest.StartPair(t, finessetest.PairConfig{Site: finessetest.SiteConfig{Now: clock.Now}})

	r := do(t, ctx, p.A, "GET", "/finesse/api/User/"+agentID, agentID, "wrong", "")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "<ApiErrors><ApiError><ErrorType>Authorization Failure</ErrorType><ErrorMessage>UNAUTHORIZED</ErrorMessage><ErrorData>100501</ErrorData></ApiError></ApiErrors>", r.body)
	assert.Equal(t, 1, p.A.Unauthorized())
	assert.Equal(t, 0, p.B.Unauthorized())

	for range 4 {
		assert.Equal(t, http.StatusUnauthorized, do(t, ctx, p.A, "GET", "/finesse/api/User/"+agentID, agentID, "wrong", "").status)
	}
	// Five in a row block the username, even with the right password.
	assert.Equal(t, http.StatusUnauthorized, do(t, ctx, p.A, "GET", "/finesse/api/User/"+agentID, agentID, agentPass, "").status)
	assert.Equal(t, 6, p.A.Unauthorized())
	clock.Advance(5 * time.Minute)
	assert.Equal(t, http.StatusOK, do(t, ctx, p.A, "GET", "/finesse/api/User/"+agentID, agentID, agentPass, "").status)

	// Another agent's User is not the caller's to read.
	r = do(t, ctx, p.A, "GET", "/finesse/api/User/"+peerID, agentID, agentPass, "")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.body, "<ErrorType>Invalid Authorization User Specified</ErrorType>")
	assert.Equal(t, 6, p.A.Unauthorized(), "only wrong passwords count")
}

func TestSynchronousAndAsynchronousErrors(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	c := desktop(t, ctx, p, p.A, agentID, agentPass)
	put := func(body string, header ...string) response {
		return do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, agentID, agentPass, body, header...)
	}

	tests := []struct {
		name string
		give string
		want string
	}{
		{"no state", "<User><extension>1001</extension></User>", "<ApiErrors><ApiError><ErrorType>Parameter Missing</ErrorType><ErrorMessage>State Parameter missing</ErrorMessage><ErrorData>state</ErrorData></ApiError></ApiErrors>"},
		{"no extension", "<User><state>LOGIN</state></User>", "<ErrorType>Parameter Missing</ErrorType>"},
		{"not a state", "<User><state>DANCING</state></User>", "<ErrorType>Invalid Input</ErrorType>"},
		{"not XML", "<User>", "<ErrorType>Bad Request</ErrorType>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := put(tt.give)
			assert.Equal(t, http.StatusBadRequest, r.status)
			assert.Contains(t, r.body, tt.want)
		})
	}

	// READY while signed out passes Finesse's checks and fails at the CTI
	// server: 202, then apiErrors, with the requestId empty when the side
	// does not echo it.
	p.A.SetEchoRequestID(false)
	r := put("<User><state>READY</state></User>", "requestId", "bus-2")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	n, err := c.NextNotification(ctx)
	require.NoError(t, err)
	got := readUpdate(t, n)
	assert.Equal(t, "put", got.Event)
	assert.Empty(t, got.RequestID)
	assert.Regexp(t, `(?s)</data>\s*<requestId></requestId>\s*<source>.*</source>\s*<event>put</event>\s*</Update>$`, string(n.Update),
		"errors come in the order of the captures")
	require.Len(t, got.Data.Errors, 1)
	assert.Equal(t, "Invalid State", got.Data.Errors[0].Type)
	assert.Equal(t, "CF_INVALID_OBJECT_STATE", got.Data.Errors[0].Message)
	assert.Equal(t, "22", got.Data.Errors[0].Data)

	// An extension that is no phone: Invalid Device, asynchronously.
	p.A.SetEchoRequestID(true)
	r = put("<User><state>LOGIN</state><extension>12</extension></User>", "requestId", "bus-3")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	n, err = c.NextNotification(ctx)
	require.NoError(t, err)
	got = readUpdate(t, n)
	assert.Equal(t, "bus-3", got.RequestID)
	require.Len(t, got.Data.Errors, 1)
	assert.Equal(t, "Invalid Device", got.Data.Errors[0].Type)
	assert.Equal(t, "260", got.Data.Errors[0].Data)
}

func TestCallNotifications(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	c := signIn(t, ctx, p, p.A, agentID, agentPass, agentExt)
	require.Equal(t, http.StatusAccepted, do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, agentID, agentPass, "<User><state>READY</state></User>").status)
	_, err := c.NextNotification(ctx) // READY
	require.NoError(t, err)

	d, err := p.Sim.Ring(ctx, agentID, sim.IncomingCall{From: "4085551234"})
	require.NoError(t, err)
	var dialogs, users []update
	next := func() {
		t.Helper()
		n, err := c.NextNotification(ctx)
		require.NoError(t, err)
		u := readUpdate(t, n)
		switch n.Node {
		case "/finesse/api/User/100501/Dialogs":
			dialogs = append(dialogs, u)
		case "/finesse/api/User/100501":
			users = append(users, u)
		default:
			t.Fatalf("notification on %s", n.Node)
		}
	}
	for len(dialogs) < 1 || len(users) < 1 { // the POST of the ringing call, and RESERVED
		next()
	}
	assert.Equal(t, "POST", dialogs[0].Event)
	assert.Equal(t, "/finesse/api/User/100501/Dialogs", dialogs[0].Source)
	require.Len(t, dialogs[0].Data.Dialogs, 1)
	assert.Equal(t, d.ID, dialogs[0].Data.Dialogs[0].ID)
	assert.Equal(t, "ALERTING", dialogs[0].Data.Dialogs[0].State)
	assert.Equal(t, "RESERVED", users[0].Data.User.State)

	r := do(t, ctx, p.A, "PUT", "/finesse/api/Dialog/"+d.ID, agentID, agentPass,
		"<Dialog><targetMediaAddress>"+agentExt+"</targetMediaAddress><requestedAction>ANSWER</requestedAction></Dialog>", "requestId", "bus-9")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	for len(dialogs) < 2 {
		next()
	}
	assert.Equal(t, "PUT", dialogs[1].Event)
	assert.Equal(t, "bus-9", dialogs[1].RequestID)
	assert.Equal(t, "/finesse/api/Dialog/"+d.ID, dialogs[1].Source)
	assert.Equal(t, "ACTIVE", dialogs[1].Data.Dialog.State)

	r = do(t, ctx, p.A, "PUT", "/finesse/api/Dialog/"+d.ID, agentID, agentPass,
		"<Dialog><targetMediaAddress>"+agentExt+"</targetMediaAddress><requestedAction>DROP</requestedAction></Dialog>")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	for len(dialogs) < 4 {
		next()
	}
	assert.Equal(t, "PUT", dialogs[2].Event)
	assert.Equal(t, "DELETE", dialogs[3].Event)
	require.Len(t, dialogs[3].Data.Dialogs, 1)
	assert.Equal(t, d.ID, dialogs[3].Data.Dialogs[0].ID)

	// A Dialog PUT for another agent's phone is refused synchronously.
	r = do(t, ctx, p.A, "PUT", "/finesse/api/Dialog/"+d.ID, agentID, agentPass,
		"<Dialog><targetMediaAddress>1002</targetMediaAddress><requestedAction>DROP</requestedAction></Dialog>")
	assert.Equal(t, http.StatusBadRequest, r.status)
}

func TestPresenceRule(t *testing.T) {
	ctx := testContext(t)
	var mu sync.Mutex
	var fire []func()
	after := func(d time.Duration, f func()) sim.Timer {
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, finessetest.DefaultPresenceGrace, d)
		fire = append(fire, f)
		return stopped{}
	}
	p := finessetest.StartPair(t, finessetest.PairConfig{Site: finessetest.SiteConfig{AfterFunc: after}})
	c := signIn(t, ctx, p, p.A, agentID, agentPass, agentExt)

	// Presence gone: the grace starts on side A; its end signs the agent out.
	require.NoError(t, c.Close())
	require.NoError(t, p.XMPP.WaitPresence(ctx, finessetest.DomainA, agentID, false))
	require.NoError(t, p.XMPP.Sync(ctx, finessetest.DomainA))
	assert.Equal(t, []string{agentID}, p.A.GraceTimers())
	mu.Lock()
	require.Len(t, fire, 1)
	expire := fire[0]
	mu.Unlock()
	expire()
	u, err := p.Sim.User(ctx, agentID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State)
	assert.Equal(t, "255", u.ReasonCodeID)

	// Back within the grace: nothing happens.
	c = signIn(t, ctx, p, p.A, agentID, agentPass, agentExt)
	assert.False(t, p.A.ExpirePresence(agentID), "an agent online is left alone")
	assert.Empty(t, p.A.GraceTimers())
	require.NoError(t, c.Close())
	require.NoError(t, p.XMPP.WaitPresence(ctx, finessetest.DomainA, agentID, false))
	assert.True(t, p.A.ExpirePresence(agentID))
	assert.Empty(t, p.A.GraceTimers())
}

// stopped is a timer that never fires by itself.
type stopped struct{}

func (stopped) Stop() bool { return true }

func TestOutOfServiceAndDown(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	c := signIn(t, ctx, p, p.A, agentID, agentPass, agentExt)

	p.A.SetStatus(finessetest.OutOfService)
	n, err := c.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, "/finesse/api/SystemInfo", n.Node)
	assert.Equal(t, "OUT_OF_SERVICE", readUpdate(t, n).Data.SystemInfo.Status)
	r := do(t, ctx, p.A, "GET", "/finesse/api/User/"+agentID, agentID, agentPass, "")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Contains(t, r.body, "<ErrorMessage>SERVER_OUT_OF_SERVICE</ErrorMessage>")
	r = do(t, ctx, p.A, "GET", "/finesse/api/SystemInfo", "", "", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, "<status>OUT_OF_SERVICE</status>")
	assert.Equal(t, http.StatusOK, do(t, ctx, p.B, "GET", "/finesse/api/User/"+agentID, agentID, agentPass, "").status)

	p.A.SetStatus(finessetest.InService)
	n, err = c.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, "IN_SERVICE", readUpdate(t, n).Data.SystemInfo.Status)
	n, err = c.NextNotification(ctx) // the agent's last state, published again
	require.NoError(t, err)
	assert.Equal(t, "NOT_READY", readUpdate(t, n).Data.User.State)

	p.A.Down()
	assert.Error(t, c.Err(ctx))
	req, err := http.NewRequestWithContext(ctx, "GET", p.A.URL()+"/finesse/api/SystemInfo", nil)
	require.NoError(t, err)
	_, err = p.A.Client().Do(req)
	assert.ErrorContains(t, err, "connection refused")
	require.NoError(t, p.A.Up())
	assert.Equal(t, http.StatusOK, do(t, ctx, p.A, "GET", "/finesse/api/SystemInfo", "", "", "").status)
	desktop(t, ctx, p, p.A, agentID, agentPass)
}

func TestSlowSide(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	p.A.SetDelay(time.Hour)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(short, "GET", p.A.URL()+"/finesse/api/SystemInfo", nil)
	require.NoError(t, err)
	_, err = p.A.Client().Do(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	p.A.SetDelay(0)
	assert.Equal(t, http.StatusOK, do(t, ctx, p.A, "GET", "/finesse/api/SystemInfo", "", "", "").status)
}

func TestSupervisorTeamFeed(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	sup := signIn(t, ctx, p, p.A, supID, supPass, "1006")
	require.NoError(t, sup.Subscribe(ctx, finessetest.DomainA, "/finesse/api/Team/5004/Users"))
	signIn(t, ctx, p, p.A, agentID, agentPass, agentExt)

	n, err := sup.NextNotification(ctx) // the agent's LOGIN, on the team node
	require.NoError(t, err)
	assert.Equal(t, "/finesse/api/Team/5004/Users", n.Node)
	assert.Equal(t, agentID, readUpdate(t, n).Data.User.LoginID)

	// The supervisor signs the agent out, without a reason code.
	r := do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, supID, supPass, "<User><state>LOGOUT</state></User>")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	n, err = sup.NextNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, "LOGOUT", readUpdate(t, n).Data.User.State)

	r = do(t, ctx, p.A, "PUT", "/finesse/api/User/"+agentID, supID, supPass, "<User><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></User>")
	assert.Equal(t, http.StatusBadRequest, r.status)

	r = do(t, ctx, p.A, "GET", "/finesse/api/Team/5004", supID, supPass, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Contains(t, r.body, "<loginId>100501</loginId>")
	assert.Equal(t, http.StatusUnauthorized, do(t, ctx, p.A, "GET", "/finesse/api/Team/5004", agentID, agentPass, "").status)
}

func TestReads(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	signIn(t, ctx, p, p.B, agentID, agentPass, agentExt)

	tests := []struct {
		path string
		want []string
	}{
		{"/finesse/api/SystemInfo", []string{"<xmppDomain>finesse-b.test</xmppDomain>", "<xmppPubSubDomain>pubsub.finesse-b.test</xmppPubSubDomain>",
			"<status>IN_SERVICE</status>", "<systemAuthMode>NON_SSO</systemAuthMode>", "<deploymentType>UCCE</deploymentType>",
			"<primaryNode><host>finesse-b.test</host>", "<secondaryNode><host>finesse-a.test</host>"}},
		{"/finesse/api/User/100501/ReasonCodes?category=NOT_READY", []string{`<ReasonCodes category="NOT_READY"><ReasonCode><uri>/finesse/api/ReasonCode/`}},
		{"/finesse/api/User/100501/ReasonCodes?category=LOGOUT", []string{`<ReasonCodes category="LOGOUT">`}},
		{"/finesse/api/User/100501/WrapUpReasons", []string{"<WrapUpReasons><WrapUpReason><uri>"}},
		{"/finesse/api/User/100501/PhoneBooks", []string{"<PhoneBooks><PhoneBook><uri>/finesse/api/PhoneBook/", "<Contacts><Contact>"}},
		{"/finesse/api/TeamResource/5004/ReasonCodes?category=NOT_READY", []string{`<ReasonCodes category="NOT_READY">`}},
		{"/finesse/api/User/100501/Media", []string{"<MediaList><Media><uri>/finesse/api/User/100501/Media/1</uri>", "<mediaClass>chat</mediaClass>"}},
		{"/finesse/api/User/100501/Media/5001", []string{"<Media><uri>/finesse/api/User/100501/Media/5001</uri>"}},
		{"/finesse/api/User/100501/Dialogs", []string{"<Dialogs></Dialogs>"}},
		{"/finesse/api/User/100501", []string{"<extension>1001</extension>", "<state>NOT_READY</state>"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := do(t, ctx, p.B, "GET", tt.path, agentID, agentPass, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			for _, w := range tt.want {
				assert.Contains(t, r.body, w)
			}
		})
	}
	r := do(t, ctx, p.B, "GET", "/finesse/api/User/100501/ReasonCodes", agentID, agentPass, "")
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "<ErrorData>category</ErrorData>")
	r = do(t, ctx, p.B, "GET", "/finesse/api/User/100501/PhoneBooks", agentID, agentPass, "", "Range", "objects=1-6000")
	assert.Equal(t, http.StatusPartialContent, r.status)
	r = do(t, ctx, p.B, "GET", "/finesse/api/User/nobody", agentID, agentPass, "")
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestMakeCallAndPayloadForms(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	c := signIn(t, ctx, p, p.A, agentID, agentPass, agentExt)
	p.A.SetPayload(prosodytest.PushOptions{Elements: true, Namespace: prosodytest.NamespacePubSub})

	r := do(t, ctx, p.A, "POST", "/finesse/api/User/"+agentID+"/Dialogs", agentID, agentPass,
		"<Dialog><requestedAction>MAKE_CALL</requestedAction><fromAddress>1001</fromAddress><toAddress>4085550100</toAddress>"+
			"<mediaProperties><callvariables><CallVariable><name>callVariable1</name><value>ACC-42</value></CallVariable></callvariables></mediaProperties></Dialog>")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	for {
		n, err := c.NextNotification(ctx)
		require.NoError(t, err)
		assert.True(t, n.Elements)
		assert.Equal(t, prosodytest.NamespacePubSub, n.Namespace)
		if n.Node == "/finesse/api/User/100501/Dialogs" {
			got := readUpdate(t, n)
			assert.Equal(t, "POST", got.Event)
			assert.Contains(t, string(n.Update), "<value>ACC-42</value>")
			break
		}
	}
	r = do(t, ctx, p.A, "POST", "/finesse/api/User/"+agentID+"/Dialogs", agentID, agentPass, "<Dialog><toAddress>1</toAddress></Dialog>")
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "<ErrorData>requestedAction</ErrorData>")
}

func TestConcurrentRequestsAreCounted(t *testing.T) {
	ctx := testContext(t)
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	p.A.SetDelay(time.Hour) // every request is held until its client gives up

	held, release := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, body := range []string{"<User><state>LOGIN</state><extension>1001</extension></User>", "<User><state>LOGIN</state><extension>1002</extension></User>", ""} {
		wg.Go(func() {
			method := "PUT"
			if body == "" {
				method = "GET"
			}
			req, err := http.NewRequestWithContext(held, method, p.A.URL()+"/finesse/api/User/"+agentID, strings.NewReader(body))
			if err != nil {
				return
			}
			resp, err := p.A.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	require.NoError(t, p.A.WaitInFlight(ctx, "", 3))
	require.NoError(t, p.A.WaitInFlight(ctx, "LOGIN", 2))
	release()
	wg.Wait()
	assert.Equal(t, 3, p.A.MaxConcurrent(""))
	assert.Equal(t, 2, p.A.MaxConcurrent("LOGIN"))
	assert.Equal(t, 0, p.B.MaxConcurrent(""))
}
