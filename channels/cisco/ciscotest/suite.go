package ciscotest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Harness is what ConnectorSuite needs beyond cisco.Connector to drive a
// contact center: who may sign in, on which extensions, and two things a
// desktop cannot do, ringing an agent from outside and reaching a busy
// number. A connector to a REST fixture backed by a sim.Simulator gets both
// from the simulator behind the fixture.
type Harness struct {
	// Connector is the connector under test, on a contact center where
	// every agent below is signed out and on no call.
	Connector cisco.Connector
	// Agents are at least two agents of one team, each with an extension
	// of its own that no one else uses.
	Agents []Account
	// Supervisor supervises the Agents' team.
	Supervisor Account
	// Outsider is an agent of a team that Supervisor does not supervise.
	Outsider Account
	// Ring rings a call from outside, from the number from, on the phone of
	// agent, who is signed in and READY, as the contact center routes one.
	// It returns once the contact center has taken the call up; the
	// agent's phone then rings.
	Ring func(ctx context.Context, agent Account, from string) error
	// BusyNumber is a number outside that is always busy: a single-step
	// transfer to it is accepted, then fails at the switch.
	BusyNumber string
}

// Account is an agent of a Harness, with what it signs in with.
type Account struct {
	LoginID   string
	LoginName string
	Password  string
	Extension string // a valid extension that only this agent uses
}

// A caller from outside, and the number nobody knows.
const (
	callerNumber = "4085551234"
	noSuchUser   = "no-such-user-7"
)

// suiteTimeout bounds one case; a case waits for events, never for time.
const suiteTimeout = 30 * time.Second

// ConnectorSuite checks that a cisco.Connector keeps the contract stated on
// cisco.Connector's methods. newHarness returns a fresh contact center for
// each case; the cases run one after another.
//
// The cases: sign-in (a new one, a re-login, the errors for a wrong
// password, an unknown user, another agent's extension and an invalid
// extension), Resolve, User, Agent and TeamAgents lookups, SetState (its
// transitions, its notification delivered before it returns with the
// request's id, and its errors), ForceLogout, SignedInAgents, the
// serial callback of Subscribe and its cancel, reason codes by category,
// system info and media routing domains, a routed call answered and
// dropped, MakeCall and CallAction errors, the asynchronous Call Operation
// Failure of a single-step transfer to a busy number, and the supervisor's
// errors.
func ConnectorSuite(t *testing.T, newHarness func(t *testing.T) Harness) {
	cases := []struct {
		name string
		run  func(t *testing.T, h *Harness)
	}{
		{"SignIn", testSignIn},
		{"SignInErrors", testSignInErrors},
		{"Lookups", testLookups},
		{"SetState", testSetState},
		{"SetStateErrors", testSetStateErrors},
		{"NotificationsBeforeReturn", testNotificationsBeforeReturn},
		{"SubscribeIsSerial", testSubscribeIsSerial},
		{"SubscribeCancel", testSubscribeCancel},
		{"ForceLogoutAndSignedInAgents", testForceLogout},
		{"ReasonCodes", testReasonCodes},
		{"SystemInfo", testSystemInfo},
		{"RoutedCall", testRoutedCall},
		{"CallErrors", testCallErrors},
		{"AsynchronousFailure", testAsynchronousFailure},
		{"SupervisorErrors", testSupervisorErrors},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			require.GreaterOrEqual(t, len(h.Agents), 2, "the harness needs two agents of one team")
			c.run(t, &h)
		})
	}
}

// suiteContext is a context for one case.
func suiteContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	t.Cleanup(cancel)
	return ctx
}

// signIn signs a in, NOT_READY.
func signIn(t *testing.T, c cisco.Connector, a Account) cisco.User {
	t.Helper()
	in, err := c.SignIn(suiteContext(t), a.LoginName, a.Password, a.Extension)
	require.NoError(t, err, "sign in %s", a.LoginID)
	return in.User
}

// ready signs a in and makes it READY.
func ready(t *testing.T, c cisco.Connector, a Account) {
	t.Helper()
	signIn(t, c, a)
	_, err := c.SetState(suiteContext(t), a.LoginID, cisco.StateReady, "")
	require.NoError(t, err, "make %s READY", a.LoginID)
}

// errorType returns err's Finesse ErrorType, or what err is when it is not
// a *cisco.Error.
func errorType(err error) string {
	var ce *cisco.Error
	if errors.As(err, &ce) {
		return ce.Type
	}
	return fmt.Sprintf("not a *cisco.Error: %v", err)
}

func testSignIn(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	ctx := suiteContext(t)
	in, err := c.SignIn(ctx, a.LoginName, a.Password, a.Extension)
	require.NoError(t, err)
	assert.False(t, in.Relogin)
	assert.Equal(t, a.LoginID, in.User.LoginID)
	assert.Equal(t, cisco.StateNotReady, in.User.State, "a sign-in lands in NOT_READY")
	assert.Equal(t, a.Extension, in.User.Extension)

	again, err := c.SignIn(ctx, a.LoginID, a.Password, a.Extension)
	require.NoError(t, err, "a sign-in while signed in on the same extension is a re-login")
	assert.True(t, again.Relogin)
	assert.Equal(t, cisco.StateNotReady, again.User.State)
	assert.Empty(t, again.Changed, "a re-login changes nothing")
}

// testSignInErrors checks the refusals of a sign-in. Finesse refuses a
// device asynchronously (the LOGIN is taken up, then an apiErrors update
// follows); whatever the connector learns it from, a refused sign-in is
// SignIn's error, with Finesse's message and errorData, and no
// notification: apps see one error, for the request that caused it.
func testSignInErrors(t *testing.T, h *Harness) {
	c, a, b := h.Connector, h.Agents[0], h.Agents[1]
	ctx := suiteContext(t)
	signIn(t, c, b)
	r := Record(t, c)
	tests := []struct {
		name                    string
		username, password, ext string
		wantType, wantMessage   string
		wantData                string
	}{
		{"wrong password", a.LoginName, a.Password + "x", a.Extension, cisco.ErrorTypeAuthorization, cisco.ErrorMessageUnauthorized, ""},
		{"an unknown user, refused as a wrong password is", noSuchUser, a.Password, a.Extension, cisco.ErrorTypeAuthorization, cisco.ErrorMessageUnauthorized, ""},
		{"another agent's extension", a.LoginName, a.Password, b.Extension, cisco.ErrorTypeDeviceBusy, cisco.ErrorMessageDeviceBusy, ""},
		{"not an extension", a.LoginName, a.Password, "ext-1", cisco.ErrorTypeInvalidDevice, cisco.ErrorMessageInvalidDevice, "260"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SignIn(cisco.WithRequestID(ctx, "refused"), tt.username, tt.password, tt.ext)
			assert.Equal(t, tt.wantType, errorType(err))
			var ce *cisco.Error
			if errors.As(err, &ce) {
				assert.Equal(t, tt.wantMessage, ce.Message)
				if tt.wantData != "" {
					assert.Equal(t, tt.wantData, ce.ErrorData())
				}
			}
		})
	}
	u, err := c.User(ctx, a.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State, "a refused sign-in signs nobody in")

	// A change after the refusals: every notification of theirs would have
	// come before its own.
	_, err = c.SetState(cisco.WithRequestID(ctx, "marker"), b.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	r.Await(t, "the marker's READY", UserIn(b.LoginID, cisco.StateReady))
	for _, n := range r.All() {
		assert.NotEqual(t, "refused", n.RequestID, "a refused sign-in notified %+v", n)
		assert.Nil(t, n.Failure, "a refused sign-in is its own error, not a later failure")
	}
}

func testLookups(t *testing.T, h *Harness) {
	c, a, b := h.Connector, h.Agents[0], h.Agents[1]
	ctx := suiteContext(t)

	id, ok, err := c.Resolve(ctx, a.LoginName)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, a.LoginID, id)
	_, ok, err = c.Resolve(ctx, noSuchUser)
	require.NoError(t, err)
	assert.False(t, ok, "Resolve says false for an unknown username, without an error")

	u, err := c.User(ctx, a.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State)
	byName, err := c.User(ctx, a.LoginName)
	require.NoError(t, err, "User also takes the loginName")
	assert.Equal(t, a.LoginID, byName.LoginID)
	_, err = c.User(ctx, noSuchUser)
	assert.Equal(t, cisco.ErrorTypeNotFound, errorType(err))

	known, err := c.Agent(ctx, a.LoginID)
	require.NoError(t, err)
	assert.True(t, known)
	known, err = c.Agent(ctx, noSuchUser)
	require.NoError(t, err)
	assert.False(t, known)

	team, err := c.TeamAgents(ctx, u.TeamID)
	require.NoError(t, err)
	assert.Contains(t, team, a.LoginID)
	assert.Contains(t, team, b.LoginID)
	none, err := c.TeamAgents(ctx, "no-such-team")
	require.NoError(t, err, "an unknown team has no agents")
	assert.Empty(t, none)
}

func testSetState(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	ctx := suiteContext(t)
	signIn(t, c, a)

	u, err := c.SetState(ctx, a.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateReady, u.State)
	u, err = c.SetState(ctx, a.LoginID, cisco.StateNotReady, firstCode(t, c, a, cisco.CategoryNotReady))
	require.NoError(t, err)
	assert.Equal(t, cisco.StateNotReady, u.State)
	u, err = c.SetState(ctx, a.LoginID, cisco.StateLogout, firstCode(t, c, a, cisco.CategoryLogout))
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State)
	assert.Empty(t, u.Extension, "a signed-out agent has no extension")
}

// firstCode returns the id of the agent's first reason code of category,
// or "" when it has none.
func firstCode(t *testing.T, c cisco.Connector, a Account, category cisco.Category) string {
	t.Helper()
	codes, err := c.ReasonCodes(suiteContext(t), a.LoginID, category)
	require.NoError(t, err)
	if len(codes) == 0 {
		return ""
	}
	return codes[0].ID
}

func testSetStateErrors(t *testing.T, h *Harness) {
	c, a, b := h.Connector, h.Agents[0], h.Agents[1]
	ctx := suiteContext(t)
	signIn(t, c, b)
	tests := []struct {
		name     string
		loginID  string
		state    cisco.State
		reason   string
		wantType string
	}{
		{"a signed-out agent goes READY", a.LoginID, cisco.StateReady, "", cisco.ErrorTypeInvalidState},
		{"not a state", b.LoginID, cisco.State("ASLEEP"), "", cisco.ErrorTypeInvalidInput},
		{"a state the contact center sets", b.LoginID, cisco.StateTalking, "", cisco.ErrorTypeInvalidState},
		{"not a reason code", b.LoginID, cisco.StateNotReady, "no-such-code", cisco.ErrorTypeInvalidInput},
		{"an unknown agent", noSuchUser, cisco.StateReady, "", cisco.ErrorTypeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SetState(ctx, tt.loginID, tt.state, tt.reason)
			assert.Equal(t, tt.wantType, errorType(err))
		})
	}
	u, err := c.User(ctx, b.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateNotReady, u.State, "a refused change changes nothing")
}

func testNotificationsBeforeReturn(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	signIn(t, c, a)
	r := Record(t, c)

	_, err := c.SetState(cisco.WithRequestID(suiteContext(t), "req-ready"), a.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	// No waiting: the notification is delivered before SetState returns.
	got := r.All()
	i := slices.IndexFunc(got, UserIn(a.LoginID, cisco.StateReady))
	require.GreaterOrEqual(t, i, 0, "the READY notification was delivered before SetState returned")
	n := got[i]
	assert.Equal(t, "req-ready", n.RequestID, "the notification carries the request's id")
	assert.Equal(t, a.LoginID, n.RequestedBy)
	assert.Equal(t, []string{"state"}, n.User.Changed)

	_, err = c.SetState(cisco.WithRequestID(suiteContext(t), "req-out"), a.LoginID, cisco.StateNotReady, firstCode(t, c, a, cisco.CategoryNotReady))
	require.NoError(t, err)
	_, err = c.SetState(cisco.WithRequestID(suiteContext(t), "req-out"), a.LoginID, cisco.StateLogout, firstCode(t, c, a, cisco.CategoryLogout))
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(r.All(), UserIn(a.LoginID, cisco.StateLogout)),
		"the LOGOUT notification was delivered before SetState returned: the sign-out path relies on it")
}

func testSubscribeIsSerial(t *testing.T, h *Harness) {
	c := h.Connector
	accounts := append([]Account{h.Supervisor}, h.Agents...)
	for _, a := range accounts {
		signIn(t, c, a)
	}
	r := Record(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, len(accounts)*6)
	for _, a := range accounts {
		wg.Go(func() {
			ctx := suiteContext(t)
			for range 3 {
				_, err := c.SetState(ctx, a.LoginID, cisco.StateReady, "")
				errs <- err
				_, err = c.SetState(ctx, a.LoginID, cisco.StateNotReady, firstCode(t, c, a, cisco.CategoryNotReady))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, r.All(), len(accounts)*6, "one notification per change")
	assert.False(t, r.Overlapped(), "the callback ran twice at once")
}

func testSubscribeCancel(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	signIn(t, c, a)
	var cancelled []cisco.Notification
	var mu sync.Mutex
	cancel := c.Subscribe(func(n cisco.Notification) {
		mu.Lock()
		cancelled = append(cancelled, n)
		mu.Unlock()
	})
	marker := Record(t, c)
	cancel()
	_, err := c.SetState(suiteContext(t), a.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	marker.Await(t, "READY, to the subscriber still there", UserIn(a.LoginID, cisco.StateReady))
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, cancelled, "a cancelled subscription got a notification")
}

func testForceLogout(t *testing.T, h *Harness) {
	c, a, b := h.Connector, h.Agents[0], h.Agents[1]
	ctx := suiteContext(t)
	signIn(t, c, a)
	signIn(t, c, b)
	ids, err := c.SignedInAgents(ctx)
	require.NoError(t, err)
	assert.Subset(t, ids, []string{a.LoginID, b.LoginID})

	r := Record(t, c)
	_, err = c.SetState(ctx, a.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	u, err := c.ForceLogout(ctx, a.LoginID, "255")
	require.NoError(t, err, "ForceLogout signs out from any state")
	assert.Equal(t, cisco.StateLogout, u.State)
	assert.True(t, slices.ContainsFunc(r.All(), UserIn(a.LoginID, cisco.StateLogout)), "the LOGOUT was delivered before ForceLogout returned")

	ids, err = c.SignedInAgents(ctx)
	require.NoError(t, err)
	assert.NotContains(t, ids, a.LoginID)
	assert.Contains(t, ids, b.LoginID)
}

func testReasonCodes(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	ctx := suiteContext(t)
	for _, category := range []cisco.Category{cisco.CategoryNotReady, cisco.CategoryLogout} {
		codes, err := c.ReasonCodes(ctx, a.LoginID, category)
		require.NoError(t, err)
		for _, rc := range codes {
			assert.Equal(t, category, rc.Category)
		}
	}
	_, err := c.ReasonCodes(ctx, a.LoginID, cisco.Category("LUNCH"))
	assert.Equal(t, cisco.ErrorTypeInvalidInput, errorType(err))
	_, err = c.ReasonCodes(ctx, noSuchUser, cisco.CategoryNotReady)
	assert.Equal(t, cisco.ErrorTypeNotFound, errorType(err))
	_, err = c.WrapUpReasons(ctx, a.LoginID)
	require.NoError(t, err)
	_, err = c.PhoneBooks(ctx, a.LoginID)
	require.NoError(t, err)
}

func testSystemInfo(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	ctx := suiteContext(t)
	info, err := c.SystemInfo(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, info.Status)
	mrds, err := c.MediaRoutingDomains(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, mrds)
	signIn(t, c, a)
	media, err := c.Media(ctx, a.LoginID)
	require.NoError(t, err)
	// Read again: Finesse lists the domains in each agent's Media only,
	// so a connector to it may know no more than voice before a sign-in.
	mrds, err = c.MediaRoutingDomains(ctx)
	require.NoError(t, err)
	assert.Len(t, media, len(mrds), "one Media per media routing domain")
}

func testRoutedCall(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	ctx := suiteContext(t)
	ready(t, c, a)
	r := Record(t, c)
	require.NoError(t, h.Ring(ctx, a, callerNumber))
	n := r.Await(t, "the call alerting at the agent", DialogIn(a.LoginID, a.Extension, "ALERTING"))
	i := slices.IndexFunc(n.Calls.Dialogs, func(d cisco.Dialog) bool { return ParticipantState(d, a.Extension) == "ALERTING" })
	call := n.Calls.Dialogs[i]
	assert.Equal(t, callerNumber, call.FromAddress)

	dialogs, err := c.Dialogs(ctx, a.LoginID)
	require.NoError(t, err)
	require.Len(t, dialogs, 1)
	assert.Equal(t, call.ID, dialogs[0].ID)

	require.NoError(t, c.CallAction(ctx, a.LoginID, call.ID, cisco.ActionAnswer, ""))
	assert.True(t, slices.ContainsFunc(r.All(), DialogIn(a.LoginID, a.Extension, "ACTIVE")), "the answer was delivered before CallAction returned")
	u, err := c.User(ctx, a.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateTalking, u.State)

	require.NoError(t, c.CallAction(ctx, a.LoginID, call.ID, cisco.ActionDrop, ""))
	var last cisco.Notification
	for _, n := range r.All() {
		if n.Calls != nil && n.Calls.LoginID == a.LoginID {
			last = n
		}
	}
	require.NotNil(t, last.Calls)
	assert.False(t, DialogIn(a.LoginID, a.Extension, "ACTIVE")(last), "the drop was delivered before CallAction returned")
	assert.True(t, DialogIn(a.LoginID, a.Extension, "DROPPED")(last) || DialogIn(a.LoginID, a.Extension, "WRAP_UP")(last),
		"the ended call is shown one last time, the agent DROPPED or in WRAP_UP")
	u, err = c.User(ctx, a.LoginID)
	require.NoError(t, err)
	assert.NotEqual(t, cisco.StateTalking, u.State, "the agent left the call")
}

func testCallErrors(t *testing.T, h *Harness) {
	c, a, b := h.Connector, h.Agents[0], h.Agents[1]
	ctx := suiteContext(t)
	signIn(t, c, b)
	tests := []struct {
		name     string
		call     func() error
		wantType string
	}{
		{"a signed-out agent calls", func() error {
			_, err := c.MakeCall(ctx, a.LoginID, callerNumber, nil)
			return err
		}, cisco.ErrorTypeInvalidState},
		{"not a number", func() error {
			_, err := c.MakeCall(ctx, b.LoginID, "call me", nil)
			return err
		}, cisco.ErrorTypeInvalidInput},
		{"an unknown agent calls", func() error {
			_, err := c.MakeCall(ctx, noSuchUser, callerNumber, nil)
			return err
		}, cisco.ErrorTypeNotFound},
		{"an action on no call", func() error {
			return c.CallAction(ctx, b.LoginID, "404404", cisco.ActionAnswer, "")
		}, cisco.ErrorTypeDialogNotFound},
		{"a wrap-up of no call", func() error {
			return c.WrapUp(ctx, b.LoginID, "404404", "Sale")
		}, cisco.ErrorTypeDialogNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantType, errorType(tt.call()))
		})
	}
}

func testAsynchronousFailure(t *testing.T, h *Harness) {
	c, a := h.Connector, h.Agents[0]
	ctx := suiteContext(t)
	ready(t, c, a)
	r := Record(t, c)
	require.NoError(t, h.Ring(ctx, a, callerNumber))
	n := r.Await(t, "the call alerting at the agent", DialogIn(a.LoginID, a.Extension, "ALERTING"))
	call := n.Calls.Dialogs[0]
	require.NoError(t, c.CallAction(ctx, a.LoginID, call.ID, cisco.ActionAnswer, ""))

	err := c.CallAction(cisco.WithRequestID(ctx, "req-sst"), a.LoginID, call.ID, cisco.ActionTransferSST, h.BusyNumber)
	require.NoError(t, err, "the contact center takes the transfer up, and it fails later")
	f := r.Await(t, "a Failure for the transfer", func(n cisco.Notification) bool { return n.Failure != nil })
	assert.Equal(t, a.LoginID, f.Failure.LoginID)
	require.NotNil(t, f.Failure.Error)
	assert.Equal(t, cisco.ErrorTypeCallOperationFailure, f.Failure.Error.Type)
	assert.NotEmpty(t, f.Failure.Error.Text, "the failure tells the agent what happened")
	assert.Equal(t, "req-sst", f.RequestID)

	dialogs, err := c.Dialogs(ctx, a.LoginID)
	require.NoError(t, err)
	require.Len(t, dialogs, 1, "the call stays with the agent")
	assert.Equal(t, "ACTIVE", ParticipantState(dialogs[0], a.Extension))
}

func testSupervisorErrors(t *testing.T, h *Harness) {
	c, a, sup, out := h.Connector, h.Agents[0], h.Supervisor, h.Outsider
	ctx := suiteContext(t)
	signIn(t, c, sup)
	signIn(t, c, a)
	signIn(t, c, out)
	tests := []struct {
		name         string
		supervisorID string
		agentID      string
		state        cisco.State
		wantType     string
	}{
		{"not a supervisor", h.Agents[1].LoginID, a.LoginID, cisco.StateNotReady, cisco.ErrorTypeAuthorization},
		{"an agent outside the supervisor's teams", sup.LoginID, out.LoginID, cisco.StateNotReady, cisco.ErrorTypeInvalidSupervisor},
		{"a supervisor makes an agent READY", sup.LoginID, a.LoginID, cisco.StateReady, cisco.ErrorTypeInvalidState},
		{"an unknown agent", sup.LoginID, noSuchUser, cisco.StateNotReady, cisco.ErrorTypeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SupervisorSetState(ctx, tt.supervisorID, tt.agentID, tt.state, "")
			assert.Equal(t, tt.wantType, errorType(err))
		})
	}
	_, err := c.SetState(ctx, a.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	u, err := c.SupervisorSetState(ctx, sup.LoginID, a.LoginID, cisco.StateNotReady, "")
	require.NoError(t, err, "a supervisor makes an agent of its team NOT_READY")
	assert.Equal(t, cisco.StateNotReady, u.State)
	_, err = c.SilentMonitor(ctx, sup.LoginID, sup.Extension, out.LoginID, "")
	assert.Equal(t, cisco.ErrorTypeInvalidSupervisor, errorType(err))
}
