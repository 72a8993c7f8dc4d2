package sim_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/fakeclock"
)

// start is the fake clock's first reading.
var start = time.Date(2026, 11, 30, 15, 40, 10, 123_000_000, time.UTC)

const startStamp = "2026-11-30T15:40:10.123Z"

func newClock() *fakeclock.Clock { return fakeclock.New(start) }

// testAgents mirror the demo agents, with cheap hashes.
var testAgents = ciscotest.Agents()

func newSimulator(t *testing.T) (*sim.Simulator, *fakeclock.Clock) {
	t.Helper()
	clk := newClock()
	return sim.New(ciscotest.NewDirectory(t, testAgents...), sim.Config{Now: clk.Now}), clk
}

func signIn(t *testing.T, s *sim.Simulator, username, password, extension string) cisco.User {
	t.Helper()
	got, err := s.SignIn(context.Background(), username, password, extension)
	require.NoError(t, err)
	return got.User
}

func user(t *testing.T, s *sim.Simulator, loginID string) cisco.User {
	t.Helper()
	u, err := s.User(context.Background(), loginID)
	require.NoError(t, err)
	return u
}

func TestSignIn(t *testing.T) {
	tests := []struct {
		give        string
		password    string
		wantLoginID string
	}{
		{give: "100501", password: "test@123", wantLoginID: "100501"},
		{give: "ciscotest", password: "test@123", wantLoginID: "100501"},
		{give: "CiscoTest", password: "test@123", wantLoginID: "100501"},
		{give: "CISCOTEST", password: "test@123", wantLoginID: "100501"},
		{give: "102312778", password: "pqsup1", wantLoginID: "102312778"},
		{give: "PQUser", password: "pqsup1", wantLoginID: "102312778"},
		{give: "supervisor1", password: "super@1", wantLoginID: "100600"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			s, clk := newSimulator(t)
			clk.Advance(time.Second)

			got, err := s.SignIn(context.Background(), tt.give, tt.password, "5064")
			require.NoError(t, err)

			assert.False(t, got.Relogin)
			assert.Equal(t, tt.wantLoginID, got.User.LoginID)
			assert.Equal(t, cisco.StateNotReady, got.User.State)
			assert.Equal(t, "-1", got.User.ReasonCodeID)
			assert.Nil(t, got.User.ReasonCode)
			assert.Equal(t, "5064", got.User.Extension)
			assert.Equal(t, "2026-11-30T15:40:11.123Z", got.User.StateChangeTime)
			assert.Equal(t, "00:00", got.User.AgentTime)
			assert.Equal(t, got.User, user(t, s, tt.wantLoginID))
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{give: "100501", want: "100501", wantOK: true},
		{give: "ciscotest", want: "100501", wantOK: true},
		{give: "CiscoTest", want: "100501", wantOK: true},
		{give: "PQUSER", want: "102312778", wantOK: true},
		{give: "nobody"},
		{give: "10050"},
		{give: ""},
	}
	s, _ := newSimulator(t)
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok, err := s.Resolve(context.Background(), tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSignInAuthorization(t *testing.T) {
	want := &cisco.Error{
		Type:    "Authorization Failure",
		Message: "UNAUTHORIZED",
		Text:    "The username or password is wrong. Check both and try again.",
	}
	tests := []struct {
		name      string
		username  string
		password  string
		extension string
	}{
		{name: "wrong password", username: "100501", password: "test@124", extension: "5064"},
		{name: "wrong password by name", username: "ciscotest", password: "TEST@123", extension: "5064"},
		{name: "another agent's password", username: "100501", password: "pqsup1", extension: "5064"},
		{name: "empty password", username: "100501", password: "", extension: "5064"},
		{name: "unknown loginId", username: "999999", password: "test@123", extension: "5064"},
		{name: "unknown loginName", username: "nobody", password: "test@123", extension: "5064"},
		{name: "empty username", username: "", password: "test@123", extension: "5064"},
		{name: "loginId is not matched by prefix", username: "10050", password: "test@123", extension: "5064"},
		// The password is checked before the extension, so a bad extension
		// reveals nothing to someone without the password.
		{name: "wrong password, bad extension", username: "100501", password: "nope", extension: "x"},
		{name: "unknown user, busy extension", username: "nobody", password: "nope", extension: "5069"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)
			signIn(t, s, "pquser", "pqsup1", "5069")

			got, err := s.SignIn(context.Background(), tt.username, tt.password, tt.extension)

			assert.Equal(t, cisco.SignedIn{}, got)
			assert.Equal(t, want, err)
			assert.ErrorIs(t, err, cisco.ErrAuthorization)
			assert.Equal(t, cisco.StateLogout, user(t, s, "100501").State)
		})
	}
}

func TestSignInInvalidDevice(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "empty", give: ""},
		{name: "two digits", give: "12"},
		{name: "sixteen digits", give: "1234567890123456"},
		{name: "letters", give: "50a4"},
		{name: "E.164", give: "+15551234567"},
		{name: "space", give: " 5064"},
		{name: "full-width digits", give: "５０６４"},
		{name: "negative", give: "-5064"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)

			_, err := s.SignIn(context.Background(), "ciscotest", "test@123", tt.give)

			var got *cisco.Error
			require.ErrorAs(t, err, &got)
			assert.Equal(t, "Invalid Device", got.Type)
			assert.Equal(t, "CF_INVALID_LOGON_DEVICE_SPECIFIED", got.Message)
			assert.Contains(t, got.Text, "3 to 15 digits")
			assert.Equal(t, cisco.StateLogout, user(t, s, "100501").State)
		})
	}
}

func TestSignInExtensionBounds(t *testing.T) {
	for _, ext := range []string{"123", "123456789012345", "0005"} {
		t.Run(ext, func(t *testing.T) {
			s, _ := newSimulator(t)
			assert.Equal(t, ext, signIn(t, s, "ciscotest", "test@123", ext).Extension)
		})
	}
}

func TestSignInDeviceBusy(t *testing.T) {
	s, _ := newSimulator(t)
	signIn(t, s, "pquser", "pqsup1", "5064")

	_, err := s.SignIn(context.Background(), "ciscotest", "test@123", "5064")

	var got *cisco.Error
	require.ErrorAs(t, err, &got)
	assert.ErrorIs(t, err, cisco.ErrDeviceBusy)
	assert.Equal(t, "CF_DEVICE_BUSY", got.Message)
	assert.Contains(t, got.Text, "5064")
	// The text must not tell one agent who holds the line.
	assert.NotContains(t, got.Text, "pquser")
	assert.NotContains(t, got.Text, "102312778")
	assert.NotContains(t, got.Text, "Quinn")
	assert.Equal(t, cisco.StateLogout, user(t, s, "100501").State)
	assert.Equal(t, "5064", user(t, s, "102312778").Extension)
}

func TestSignInRelogin(t *testing.T) {
	s, clk := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")
	clk.Advance(3 * time.Second)
	ready, err := s.SetState(context.Background(), "100501", cisco.StateReady, "")
	require.NoError(t, err)
	clk.Advance(90 * time.Second)

	got, err := s.SignIn(context.Background(), "CISCOTEST", "test@123", "5064")
	require.NoError(t, err)

	assert.True(t, got.Relogin)
	assert.Equal(t, cisco.StateReady, got.User.State)
	assert.Equal(t, "5064", got.User.Extension)
	assert.Equal(t, "-1", got.User.ReasonCodeID)
	assert.Equal(t, ready.StateChangeTime, got.User.StateChangeTime)
	assert.Equal(t, "2026-11-30T15:40:13.123Z", got.User.StateChangeTime)
	assert.Equal(t, "01:30", got.User.AgentTime)
}

func TestSignInReloginKeepsReasonCode(t *testing.T) {
	s, clk := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")
	lunch, err := s.SetState(context.Background(), "100501", cisco.StateNotReady, "2")
	require.NoError(t, err)
	clk.Advance(time.Minute)

	got, err := s.SignIn(context.Background(), "100501", "test@123", "5064")
	require.NoError(t, err)

	assert.True(t, got.Relogin)
	assert.Equal(t, "2", got.User.ReasonCodeID)
	assert.Equal(t, lunch.ReasonCode, got.User.ReasonCode)
	assert.Equal(t, lunch.StateChangeTime, got.User.StateChangeTime)
}

func TestSignInReloginOtherExtension(t *testing.T) {
	s, _ := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")

	_, err := s.SignIn(context.Background(), "ciscotest", "test@123", "5065")

	var got *cisco.Error
	require.ErrorAs(t, err, &got)
	assert.Equal(t, "Invalid Device", got.Type)
	assert.Contains(t, got.Text, "signed in on extension 5064")
	assert.Contains(t, got.Text, "sign out first")
	assert.Equal(t, "5064", user(t, s, "100501").Extension)

	// The other extension stays free.
	signIn(t, s, "pquser", "pqsup1", "5065")
}

func TestSetStateMachine(t *testing.T) {
	tests := []struct {
		from    cisco.State
		give    cisco.State
		reason  string
		want    cisco.State // the state afterwards: from, when the request fails
		wantErr error
	}{
		{from: cisco.StateNotReady, give: cisco.StateReady, want: cisco.StateReady},
		{from: cisco.StateNotReady, give: cisco.StateNotReady, reason: "2", want: cisco.StateNotReady},
		{from: cisco.StateNotReady, give: cisco.StateLogout, reason: "28", want: cisco.StateLogout},
		{from: cisco.StateReady, give: cisco.StateNotReady, reason: "1", want: cisco.StateNotReady},
		{from: cisco.StateReady, give: cisco.StateReady, want: cisco.StateReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateReady, give: cisco.StateLogout, reason: "28", want: cisco.StateReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateWork, give: cisco.StateReady, want: cisco.StateReady},
		{from: cisco.StateWork, give: cisco.StateNotReady, reason: "3", want: cisco.StateNotReady},
		{from: cisco.StateWork, give: cisco.StateLogout, reason: "28", want: cisco.StateWork, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateWorkReady, give: cisco.StateReady, want: cisco.StateReady},
		{from: cisco.StateWorkReady, give: cisco.StateNotReady, reason: "4", want: cisco.StateNotReady},
		{from: cisco.StateReservedOutbound, give: cisco.StateReady, want: cisco.StateReady},
		{from: cisco.StateReservedOutbound, give: cisco.StateNotReady, reason: "5", want: cisco.StateNotReady},
		{from: cisco.StateReservedOutboundPreview, give: cisco.StateNotReady, reason: "1", want: cisco.StateReservedOutboundPreview, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateReserved, give: cisco.StateReady, want: cisco.StateReserved, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateReserved, give: cisco.StateNotReady, reason: "1", want: cisco.StateReserved, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateTalking, give: cisco.StateReady, want: cisco.StateTalking, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateTalking, give: cisco.StateNotReady, reason: "1", want: cisco.StateTalking, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateTalking, give: cisco.StateLogout, reason: "28", want: cisco.StateTalking, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateHold, give: cisco.StateReady, want: cisco.StateHold, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateHold, give: cisco.StateLogout, reason: "28", want: cisco.StateHold, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateUnknown, give: cisco.StateReady, want: cisco.StateUnknown, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: cisco.StateTalking, want: cisco.StateNotReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: cisco.StateHold, want: cisco.StateNotReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: cisco.StateWork, want: cisco.StateNotReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: cisco.StateWorkReady, want: cisco.StateNotReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: cisco.StateReserved, want: cisco.StateNotReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: cisco.StateUnknown, want: cisco.StateNotReady, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateNotReady, give: "LOGIN", want: cisco.StateNotReady, wantErr: cisco.ErrInvalidInput},
		{from: cisco.StateNotReady, give: "ready", want: cisco.StateNotReady, wantErr: cisco.ErrInvalidInput},
		{from: cisco.StateNotReady, give: "", want: cisco.StateNotReady, wantErr: cisco.ErrInvalidInput},
		{from: cisco.StateLogout, give: cisco.StateReady, want: cisco.StateLogout, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateLogout, give: cisco.StateNotReady, reason: "1", want: cisco.StateLogout, wantErr: cisco.ErrInvalidState},
		{from: cisco.StateLogout, give: cisco.StateLogout, reason: "28", want: cisco.StateLogout, wantErr: cisco.ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s to %q", tt.from, tt.give), func(t *testing.T) {
			s, clk := newSimulator(t)
			signIn(t, s, "ciscotest", "test@123", "5064")
			sim.PutState(s, "100501", tt.from)
			clk.Advance(time.Second)

			_, err := s.SetState(context.Background(), "100501", tt.give, tt.reason)

			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, user(t, s, "100501").State)
		})
	}
}

func TestSetStateInvalidStateError(t *testing.T) {
	s, _ := newSimulator(t)

	_, err := s.SetState(context.Background(), "100501", cisco.StateReady, "")

	assert.Equal(t, &cisco.Error{
		Type:    "Invalid State",
		Message: "CF_INVALID_OBJECT_STATE",
		Text:    "The agent is signed out; sign in before changing state.",
	}, err)
}

func TestSetStateChangeTime(t *testing.T) {
	s, clk := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")
	steps := []struct {
		state  cisco.State
		reason string
	}{
		{cisco.StateReady, ""},
		{cisco.StateNotReady, "1"},
		{cisco.StateNotReady, "1"}, // the same reason again still restarts the clock
		{cisco.StateNotReady, "2"},
		{cisco.StateLogout, "29"},
	}
	for i, step := range steps {
		clk.Advance(time.Minute)
		u, err := s.SetState(context.Background(), "100501", step.state, step.reason)
		require.NoError(t, err)
		assert.Equal(t, start.Add(time.Duration(i+1)*time.Minute).Format(cisco.TimeFormat), u.StateChangeTime, "step %d", i)
		assert.Equal(t, "00:00", u.AgentTime, "step %d", i)
	}
}

func TestSetStateReasonCode(t *testing.T) {
	tests := []struct {
		name         string
		loginID      string
		state        cisco.State
		reason       string
		wantReasonID string
		wantCode     *cisco.ReasonCode
		wantErr      error
		wantMessage  string
		wantText     string
	}{
		{
			name: "NOT_READY with a code", loginID: "100501", state: cisco.StateNotReady, reason: "2",
			wantReasonID: "2",
			wantCode: &cisco.ReasonCode{
				URI: "/finesse/api/ReasonCode/2", ID: "2", Category: cisco.CategoryNotReady, Code: 102, Label: "Lunch", ForAll: true,
			},
		},
		{
			name: "team-only code for its team", loginID: "100503", state: cisco.StateNotReady, reason: "6",
			wantReasonID: "6",
			wantCode: &cisco.ReasonCode{
				URI: "/finesse/api/ReasonCode/6", ID: "6", Category: cisco.CategoryNotReady, Code: 106, Label: "Back Office",
			},
		},
		{
			name: "LOGOUT with a code", loginID: "100501", state: cisco.StateLogout, reason: "28",
			wantReasonID: "28",
			wantCode: &cisco.ReasonCode{
				URI: "/finesse/api/ReasonCode/28", ID: "28", Category: cisco.CategoryLogout, Code: 301, Label: "End of Shift", ForAll: true,
			},
		},
		{
			name: "READY ignores a code", loginID: "100501", state: cisco.StateReady, reason: "2",
			wantReasonID: "-1",
		},
		{
			name: "NOT_READY without a code", loginID: "100501", state: cisco.StateNotReady, reason: "",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: "A reason code is required for NOT_READY",
		},
		{
			name: "LOGOUT without a code", loginID: "100501", state: cisco.StateLogout, reason: "",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: "A reason code is required for LOGOUT",
		},
		{
			name: "unknown code", loginID: "100501", state: cisco.StateNotReady, reason: "99",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: `"99" is not one of the agent's NOT_READY reason codes`,
		},
		{
			name: "minus one is not selectable", loginID: "100501", state: cisco.StateNotReady, reason: "-1",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: `"-1"`,
		},
		{
			name: "LOGOUT code for NOT_READY", loginID: "100501", state: cisco.StateNotReady, reason: "28",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: `"28" is not one of the agent's NOT_READY`,
		},
		{
			name: "NOT_READY code for LOGOUT", loginID: "100501", state: cisco.StateLogout, reason: "1",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: `"1" is not one of the agent's LOGOUT`,
		},
		{
			name: "another team's code", loginID: "100501", state: cisco.StateNotReady, reason: "6",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: `"6"`,
		},
		{
			name: "system code", loginID: "100501", state: cisco.StateLogout, reason: "255",
			wantReasonID: "-1", wantErr: cisco.ErrInvalidInput,
			wantMessage: "Invalid reasonCodeId specified for user", wantText: `"255"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)
			signIn(t, s, tt.loginID, testPassword(tt.loginID), "5064")

			_, err := s.SetState(context.Background(), tt.loginID, tt.state, tt.reason)

			assert.ErrorIs(t, err, tt.wantErr)
			msg, text := errorFields(err)
			assert.Equal(t, tt.wantMessage, msg)
			assert.Contains(t, text, tt.wantText)
			got := user(t, s, tt.loginID)
			assert.Equal(t, tt.wantReasonID, got.ReasonCodeID)
			assert.Equal(t, tt.wantCode, got.ReasonCode)
		})
	}
}

// errorFields returns the Message and Text of a *cisco.Error, or "" and ""
// for no error.
func errorFields(err error) (message, text string) {
	var e *cisco.Error
	if errors.As(err, &e) {
		return e.Message, e.Text
	}
	return "", ""
}

// reasonLabel returns the label of the User's ReasonCode, or "" for none.
func reasonLabel(u cisco.User) string {
	if u.ReasonCode == nil {
		return ""
	}
	return u.ReasonCode.Label
}

func testPassword(loginID string) string {
	for _, a := range testAgents {
		if a.LoginID == loginID {
			return a.Password
		}
	}
	return ""
}

// noCodes is a directory whose teams have no reason codes at all.
const noCodes = `{
  "teams": [{"id": "1", "name": "One"}],
  "agents": [{"loginId": "1001", "loginName": "solo", "passwordHash": "HASH", "teamId": "1"}],
  "reasonCodes": []
}`

func TestSetStateWithoutConfiguredCodes(t *testing.T) {
	tests := []struct {
		name    string
		state   cisco.State
		reason  string
		wantErr error
	}{
		{name: "NOT_READY without a code", state: cisco.StateNotReady, reason: ""},
		{name: "NOT_READY with minus one", state: cisco.StateNotReady, reason: "-1"},
		{name: "LOGOUT without a code", state: cisco.StateLogout, reason: ""},
		{name: "NOT_READY with a code that does not exist", state: cisco.StateNotReady, reason: "1", wantErr: cisco.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sim.New(loadDirectory(t, noCodes), sim.Config{})
			signIn(t, s, "solo", "pw", "5064")

			u, err := s.SetState(context.Background(), "1001", tt.state, tt.reason)

			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, "-1", user(t, s, "1001").ReasonCodeID)
			assert.Nil(t, u.ReasonCode)
		})
	}
}

func TestLogoutFreesExtension(t *testing.T) {
	s, clk := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")
	clk.Advance(time.Minute)

	u, err := s.SetState(context.Background(), "100501", cisco.StateLogout, "28")
	require.NoError(t, err)

	assert.Equal(t, cisco.StateLogout, u.State)
	assert.Empty(t, u.Extension)
	assert.Equal(t, "28", u.ReasonCodeID)
	require.NotNil(t, u.ReasonCode)
	assert.Equal(t, "End of Shift", u.ReasonCode.Label)
	assert.Equal(t, "2026-11-30T15:41:10.123Z", u.StateChangeTime)

	// Another agent may take the extension, and the first may sign in
	// again elsewhere, as a fresh sign-in.
	signIn(t, s, "pquser", "pqsup1", "5064")
	got, err := s.SignIn(context.Background(), "ciscotest", "test@123", "5065")
	require.NoError(t, err)
	assert.False(t, got.Relogin)
	assert.Equal(t, cisco.StateNotReady, got.User.State)
	assert.Equal(t, "-1", got.User.ReasonCodeID)
	assert.Nil(t, got.User.ReasonCode)
}

func TestForceLogout(t *testing.T) {
	tests := []struct {
		name         string
		from         cisco.State
		reason       string
		wantReasonID string
		wantLabel    string // of the ReasonCode object; "" for none
	}{
		{name: "closed desktop while NOT_READY", from: cisco.StateNotReady, reason: "255", wantReasonID: "255"},
		{name: "closed desktop while READY", from: cisco.StateReady, reason: "255", wantReasonID: "255"},
		{name: "while TALKING", from: cisco.StateTalking, reason: "255", wantReasonID: "255"},
		{name: "while HOLD", from: cisco.StateHold, reason: "255", wantReasonID: "255"},
		{name: "while WORK", from: cisco.StateWork, reason: "50006", wantReasonID: "50006"},
		{name: "while RESERVED", from: cisco.StateReserved, reason: "32767", wantReasonID: "32767"},
		{name: "with a LOGOUT code", from: cisco.StateReady, reason: "28", wantReasonID: "28", wantLabel: "End of Shift"},
		{name: "leading zeros", from: cisco.StateReady, reason: "0255", wantReasonID: "255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSimulator(t)
			signIn(t, s, "ciscotest", "test@123", "5064")
			sim.PutState(s, "100501", tt.from)
			clk.Advance(time.Minute)

			u, err := s.ForceLogout(context.Background(), "100501", tt.reason)
			require.NoError(t, err)

			assert.Equal(t, cisco.StateLogout, u.State)
			assert.Empty(t, u.Extension)
			assert.Equal(t, tt.wantReasonID, u.ReasonCodeID)
			assert.Equal(t, tt.wantLabel, reasonLabel(u))
			assert.Equal(t, "2026-11-30T15:41:10.123Z", u.StateChangeTime)
			assert.Equal(t, u, user(t, s, "100501"))
			signIn(t, s, "pquser", "pqsup1", "5064")
		})
	}
}

func TestForceLogoutErrors(t *testing.T) {
	tests := []struct {
		name    string
		loginID string
		reason  string
		wantErr error
	}{
		{name: "no reason", loginID: "100501", reason: "", wantErr: cisco.ErrInvalidInput},
		{name: "not a number", loginID: "100501", reason: "closed", wantErr: cisco.ErrInvalidInput},
		{name: "zero", loginID: "100501", reason: "0", wantErr: cisco.ErrInvalidInput},
		{name: "minus one", loginID: "100501", reason: "-1", wantErr: cisco.ErrInvalidInput},
		{name: "too big", loginID: "100501", reason: "65536", wantErr: cisco.ErrInvalidInput},
		{name: "plus sign", loginID: "100501", reason: "+255", wantErr: cisco.ErrInvalidInput},
		{name: "unknown user", loginID: "999", reason: "255", wantErr: cisco.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)
			signIn(t, s, "ciscotest", "test@123", "5064")

			_, err := s.ForceLogout(context.Background(), tt.loginID, tt.reason)

			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, cisco.StateNotReady, user(t, s, "100501").State)
		})
	}
}

func TestForceLogoutSignedOut(t *testing.T) {
	s, _ := newSimulator(t)

	_, err := s.ForceLogout(context.Background(), "100501", "255")

	assert.ErrorIs(t, err, cisco.ErrInvalidState)
}

func TestAgentTime(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{give: 0, want: "00:00"},
		{give: 999 * time.Millisecond, want: "00:00"},
		{give: 59 * time.Second, want: "00:59"},
		{give: 61 * time.Second, want: "01:01"},
		{give: 59*time.Minute + 59*time.Second, want: "59:59"},
		{give: time.Hour, want: "01:00:00"},
		{give: 10*time.Hour + 2*time.Minute + 3*time.Second, want: "10:02:03"},
		{give: 125*time.Hour + 1*time.Second, want: "125:00:01"},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			s, clk := newSimulator(t)
			signIn(t, s, "ciscotest", "test@123", "5064")
			clk.Advance(tt.give)

			assert.Equal(t, tt.want, user(t, s, "100501").AgentTime)
		})
	}
}

func TestAgentTimeClockStepsBack(t *testing.T) {
	s, clk := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")
	clk.Advance(-time.Hour)

	assert.Equal(t, "00:00", user(t, s, "100501").AgentTime)
}

func TestUserNeverSignedIn(t *testing.T) {
	s, _ := newSimulator(t)

	u := user(t, s, "100501")

	assert.Equal(t, cisco.StateLogout, u.State)
	assert.Empty(t, u.Extension)
	assert.Empty(t, u.StateChangeTime)
	assert.Equal(t, "-1", u.ReasonCodeID)
	assert.Equal(t, "00:00", u.AgentTime)
}

func TestUserByLoginName(t *testing.T) {
	s, _ := newSimulator(t)
	signIn(t, s, "100501", "test@123", "5064")

	assert.Equal(t, user(t, s, "100501"), user(t, s, "CiscoTest"))
}

func TestUnknownUser(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *sim.Simulator) error
	}{
		{"User", func(ctx context.Context, s *sim.Simulator) error { _, err := s.User(ctx, "999"); return err }},
		{"SetState", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.SetState(ctx, "999", cisco.StateReady, "")
			return err
		}},
		{"SetState by loginName", func(ctx context.Context, s *sim.Simulator) error {
			// Only User accepts a loginName, as Finesse does.
			_, err := s.SetState(ctx, "ciscotest", cisco.StateReady, "")
			return err
		}},
		{"ForceLogout", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.ForceLogout(ctx, "999", "255")
			return err
		}},
		{"ReasonCodes", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.ReasonCodes(ctx, "999", cisco.CategoryNotReady)
			return err
		}},
		{"WrapUpReasons", func(ctx context.Context, s *sim.Simulator) error { _, err := s.WrapUpReasons(ctx, "999"); return err }},
		{"PhoneBooks", func(ctx context.Context, s *sim.Simulator) error { _, err := s.PhoneBooks(ctx, "999"); return err }},
		{"Media", func(ctx context.Context, s *sim.Simulator) error { _, err := s.Media(ctx, "999"); return err }},
		{"Dialogs", func(ctx context.Context, s *sim.Simulator) error { _, err := s.Dialogs(ctx, "999"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)

			err := tt.call(context.Background(), s)

			var got *cisco.Error
			require.ErrorAs(t, err, &got)
			assert.Equal(t, "User Not Found", got.Type)
			assert.Equal(t, "UNKNOWN_USER", got.Message)
			assert.ErrorIs(t, err, cisco.ErrNotFound)
		})
	}
}

func TestCanceledContext(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *sim.Simulator) error
	}{
		{"SignIn", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.SignIn(ctx, "100501", "test@123", "5064")
			return err
		}},
		{"User", func(ctx context.Context, s *sim.Simulator) error { _, err := s.User(ctx, "100501"); return err }},
		{"SetState", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.SetState(ctx, "100501", cisco.StateReady, "")
			return err
		}},
		{"ForceLogout", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.ForceLogout(ctx, "100501", "255")
			return err
		}},
		{"ReasonCodes", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.ReasonCodes(ctx, "100501", cisco.CategoryNotReady)
			return err
		}},
		{"WrapUpReasons", func(ctx context.Context, s *sim.Simulator) error {
			_, err := s.WrapUpReasons(ctx, "100501")
			return err
		}},
		{"PhoneBooks", func(ctx context.Context, s *sim.Simulator) error { _, err := s.PhoneBooks(ctx, "100501"); return err }},
		{"SystemInfo", func(ctx context.Context, s *sim.Simulator) error { _, err := s.SystemInfo(ctx); return err }},
		{"MediaRoutingDomains", func(ctx context.Context, s *sim.Simulator) error { _, err := s.MediaRoutingDomains(ctx); return err }},
		{"Media", func(ctx context.Context, s *sim.Simulator) error { _, err := s.Media(ctx, "100501"); return err }},
		{"Dialogs", func(ctx context.Context, s *sim.Simulator) error { _, err := s.Dialogs(ctx, "100501"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()

			assert.ErrorIs(t, tt.call(ctx, s), context.Canceled)
			assert.Equal(t, cisco.StateLogout, user(t, s, "100501").State)
		})
	}
}

func TestReasonCodesVisibleToTeam(t *testing.T) {
	tests := []struct {
		name     string
		loginID  string
		category cisco.Category
		wantIDs  []string
	}{
		{name: "NOT_READY for 5004", loginID: "100501", category: cisco.CategoryNotReady, wantIDs: []string{"1", "2", "3", "4", "5"}},
		{name: "NOT_READY for 5005", loginID: "100503", category: cisco.CategoryNotReady, wantIDs: []string{"1", "2", "3", "4", "5", "6"}},
		{name: "NOT_READY for a supervisor of 5005", loginID: "100600", category: cisco.CategoryNotReady, wantIDs: []string{"1", "2", "3", "4", "5", "6"}},
		{name: "LOGOUT for 5004", loginID: "100501", category: cisco.CategoryLogout, wantIDs: []string{"28", "29", "30"}},
		{name: "LOGOUT for 5005", loginID: "100503", category: cisco.CategoryLogout, wantIDs: []string{"28", "29", "30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSimulator(t)

			got, err := s.ReasonCodes(context.Background(), tt.loginID, tt.category)
			require.NoError(t, err)

			var ids []string
			for _, rc := range got {
				ids = append(ids, rc.ID)
				assert.Equal(t, tt.category, rc.Category)
				assert.False(t, rc.SystemCode)
			}
			assert.Equal(t, tt.wantIDs, ids)
		})
	}
}

func TestReasonCodesBadCategory(t *testing.T) {
	s, _ := newSimulator(t)

	for _, c := range []cisco.Category{"", "ALL", "not_ready", "WRAPUP"} {
		_, err := s.ReasonCodes(context.Background(), "100501", c)
		assert.ErrorIs(t, err, cisco.ErrInvalidInput, "category %q", c)
	}
}

// exampleSimulator serves testdata/agents.example.json, whose teams have
// their own reason codes, wrap-up reasons and phone books. Reading them
// needs no sign-in, so the file's real-cost hashes cost nothing here.
func exampleSimulator(t *testing.T) *sim.Simulator {
	t.Helper()
	dir, err := sim.LoadDirectoryFile("testdata/agents.example.json")
	require.NoError(t, err)
	return sim.New(dir, sim.Config{})
}

func TestVisibleConfigurationPerTeam(t *testing.T) {
	tests := []struct {
		loginID        string
		wantNotReady   []string
		wantWrapUps    []string
		wantPhoneBooks []string
	}{
		{
			loginID:        "200101", // team 7001
			wantNotReady:   []string{"Break", "Lunch"},
			wantWrapUps:    []string{"Resolved", "Callback Scheduled", "Refund Issued"},
			wantPhoneBooks: []string{"Company Directory", "Billing Escalations"},
		},
		{
			loginID:        "200102", // team 7002
			wantNotReady:   []string{"Break", "Lunch", "Ticket Follow-up"},
			wantWrapUps:    []string{"Resolved", "Callback Scheduled"},
			wantPhoneBooks: []string{"Company Directory"},
		},
		{
			loginID:        "200900", // team 7001, supervises 7001 and 7002: sees what 7001 sees
			wantNotReady:   []string{"Break", "Lunch"},
			wantWrapUps:    []string{"Resolved", "Callback Scheduled", "Refund Issued"},
			wantPhoneBooks: []string{"Company Directory", "Billing Escalations"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.loginID, func(t *testing.T) {
			s := exampleSimulator(t)
			ctx := context.Background()

			codes, err := s.ReasonCodes(ctx, tt.loginID, cisco.CategoryNotReady)
			require.NoError(t, err)
			wrapUps, err := s.WrapUpReasons(ctx, tt.loginID)
			require.NoError(t, err)
			books, err := s.PhoneBooks(ctx, tt.loginID)
			require.NoError(t, err)

			var gotCodes, gotWrapUps, gotBooks []string
			for _, rc := range codes {
				gotCodes = append(gotCodes, rc.Label)
			}
			for _, w := range wrapUps {
				gotWrapUps = append(gotWrapUps, w.Label)
				assert.Equal(t, "/finesse/api/User/"+tt.loginID+"/WrapUpReason/"+w.ID, w.URI)
			}
			for _, pb := range books {
				gotBooks = append(gotBooks, pb.Name)
			}
			assert.Equal(t, tt.wantNotReady, gotCodes)
			assert.Equal(t, tt.wantWrapUps, gotWrapUps)
			assert.Equal(t, tt.wantPhoneBooks, gotBooks)
		})
	}
}

func TestPhoneBooksGlobalFirst(t *testing.T) {
	// The team book comes first in the file; Finesse lists global books first.
	dir := loadDirectory(t, `{
	  "teams": [{"id": "1", "name": "One"}],
	  "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1"}],
	  "phoneBooks": [
	    {"id": "7", "name": "Team book", "type": "TEAM", "teams": ["1"], "contacts": [{"phoneNumber": "5001"}]},
	    {"id": "8", "name": "Global book", "type": "GLOBAL", "contacts": [{"phoneNumber": "5002"}, {"phoneNumber": "5003"}]}
	  ]
	}`)
	s := sim.New(dir, sim.Config{})

	got, err := s.PhoneBooks(context.Background(), "1001")
	require.NoError(t, err)

	assert.Equal(t, []cisco.PhoneBook{
		{URI: "/finesse/api/PhoneBook/8", Name: "Global book", Type: "GLOBAL", Contacts: []cisco.Contact{
			{PhoneNumber: "5002", URI: "/finesse/api/PhoneBook/8/Contact/2"},
			{PhoneNumber: "5003", URI: "/finesse/api/PhoneBook/8/Contact/3"},
		}},
		{URI: "/finesse/api/PhoneBook/7", Name: "Team book", Type: "TEAM", Contacts: []cisco.Contact{
			{PhoneNumber: "5001", URI: "/finesse/api/PhoneBook/7/Contact/1"},
		}},
	}, got)
}

func TestMedia(t *testing.T) {
	s, clk := newSimulator(t)
	ctx := context.Background()

	out, err := s.Media(ctx, "100501")
	require.NoError(t, err)
	for _, m := range out {
		assert.Equal(t, cisco.StateLogout, m.State, m.Name)
		assert.False(t, m.Routable, m.Name)
	}

	signIn(t, s, "ciscotest", "test@123", "5064")
	clk.Advance(time.Minute)
	_, err = s.SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)

	out, err = s.Media(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, []cisco.Media{
		{
			URI: "/finesse/api/User/100501/Media/1", ID: "1", Name: "Cisco_Voice", Description: "Cisco Voice",
			State: cisco.StateReady, StateChangeTime: "2026-11-30T15:41:10.123Z", ReasonCodeID: "-1",
			Routable: true, MaxDialogLimit: 1, InterruptAction: "ACCEPT", DialogLogoutAction: "CLOSE", Interruptible: false,
		},
		{
			URI: "/finesse/api/User/100501/Media/5001", ID: "5001", Name: "Cisco_Chat_MRD", Description: "Chat MRD",
			State: cisco.StateNotReady, StateChangeTime: startStamp, ReasonCodeID: "-1",
			Routable: true, MaxDialogLimit: 5, InterruptAction: "ACCEPT", DialogLogoutAction: "CLOSE", Interruptible: true,
		},
		{
			URI: "/finesse/api/User/100501/Media/5002", ID: "5002", Name: "Cisco_Email_MRD", Description: "Email MRD",
			State: cisco.StateNotReady, StateChangeTime: startStamp, ReasonCodeID: "-1",
			Routable: true, MaxDialogLimit: 3, InterruptAction: "ACCEPT", DialogLogoutAction: "CLOSE", Interruptible: true,
		},
	}, out)

	_, err = s.ForceLogout(ctx, "100501", "255")
	require.NoError(t, err)
	out, err = s.Media(ctx, "100501")
	require.NoError(t, err)
	for _, m := range out {
		assert.Equal(t, cisco.StateLogout, m.State, m.Name)
		assert.False(t, m.Routable, m.Name)
		assert.Equal(t, "2026-11-30T15:41:10.123Z", m.StateChangeTime, m.Name)
	}
	assert.Equal(t, "255", out[0].ReasonCodeID)
}

func TestMediaRoutingDomains(t *testing.T) {
	s, _ := newSimulator(t)

	got, err := s.MediaRoutingDomains(context.Background())
	require.NoError(t, err)

	assert.Equal(t, []cisco.MRD{
		{ID: "1", Name: "Cisco_Voice", Description: "Cisco Voice", MediaClass: "voice"},
		{ID: "5001", Name: "Cisco_Chat_MRD", Description: "Chat MRD", MediaClass: "chat"},
		{ID: "5002", Name: "Cisco_Email_MRD", Description: "Email MRD", MediaClass: "email"},
	}, got)
}

func TestDialogsEmpty(t *testing.T) {
	s, _ := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")

	got, err := s.Dialogs(context.Background(), "100501")
	require.NoError(t, err)

	assert.NotNil(t, got)
	assert.Empty(t, got)
}

func TestReturnedValuesAreCopies(t *testing.T) {
	s, _ := newSimulator(t)
	ctx := context.Background()
	signIn(t, s, "supervisor1", "super@1", "5069")
	_, err := s.SetState(ctx, "100600", cisco.StateNotReady, "2")
	require.NoError(t, err)

	u := user(t, s, "100600")
	u.Roles[0] = "Admin"
	u.Teams[0].Name = "changed"
	u.ReasonCode.Label = "changed"
	codes, err := s.ReasonCodes(ctx, "100600", cisco.CategoryNotReady)
	require.NoError(t, err)
	codes[0].Label = "changed"
	wrapUps, err := s.WrapUpReasons(ctx, "100600")
	require.NoError(t, err)
	wrapUps[0].Label = "changed"
	books, err := s.PhoneBooks(ctx, "100501")
	require.NoError(t, err)
	books[0].Contacts[0].PhoneNumber = "changed"
	books[0].Name = "changed"
	mrds, err := s.MediaRoutingDomains(ctx)
	require.NoError(t, err)
	mrds[0].Name = "changed"

	u = user(t, s, "100600")
	assert.Equal(t, []string{"Agent", "Supervisor"}, u.Roles)
	assert.Equal(t, "RTTeam2", u.Teams[0].Name)
	assert.Equal(t, "Lunch", u.ReasonCode.Label)
	codes, err = s.ReasonCodes(ctx, "100600", cisco.CategoryNotReady)
	require.NoError(t, err)
	assert.Equal(t, "Break", codes[0].Label)
	wrapUps, err = s.WrapUpReasons(ctx, "100600")
	require.NoError(t, err)
	assert.Equal(t, "Inprogress", wrapUps[0].Label)
	books, err = s.PhoneBooks(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, "5054", books[0].Contacts[0].PhoneNumber)
	assert.Equal(t, "Company Directory", books[0].Name)
	mrds, err = s.MediaRoutingDomains(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Cisco_Voice", mrds[0].Name)
}

func TestDummyHashCostsTheSame(t *testing.T) {
	dir := loadDirectory(t, fmt.Sprintf(`{
	  "teams": [{"id": "1", "name": "One"}],
	  "agents": [
	    {"loginId": "1001", "passwordHash": %q, "teamId": "1"},
	    {"loginId": "1002", "passwordHash": %q, "teamId": "1"}
	  ]
	}`, hashAt(t, "pw", bcrypt.MinCost+1), hashAt(t, "other", bcrypt.MinCost+1)))

	dummy := sim.DummyHash(dir)

	cost, err := bcrypt.Cost(dummy)
	require.NoError(t, err)
	assert.Equal(t, bcrypt.MinCost+1, cost, "the cost of every hash in the directory")
	// A mismatch, not a malformed-hash error that would return early.
	assert.ErrorIs(t, bcrypt.CompareHashAndPassword(dummy, []byte("pw")), bcrypt.ErrMismatchedHashAndPassword)
	assert.ErrorIs(t, bcrypt.CompareHashAndPassword(dummy, []byte("")), bcrypt.ErrMismatchedHashAndPassword)
	assert.Equal(t, 10, mustCost(t, sim.DummyHash(sim.DemoDirectory())))
}

func mustCost(t *testing.T, hash []byte) int {
	t.Helper()
	cost, err := bcrypt.Cost(hash)
	require.NoError(t, err)
	return cost
}

func TestConcurrentAgents(t *testing.T) {
	t.Parallel() // slow: real bcrypt work under the race detector
	const n = 32
	agents := make([]ciscotest.Agent, n)
	for i := range agents {
		agents[i] = ciscotest.Agent{LoginID: fmt.Sprint(300000 + i), LoginName: fmt.Sprint("agent", i), Password: "pw"}
	}
	clk := newClock()
	s := sim.New(ciscotest.NewDirectory(t, agents...), sim.Config{Now: clk.Now})
	ctx := context.Background()

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Go(func() {
			ext := fmt.Sprint(6000 + i)
			for range 5 {
				steps := []func() error{
					func() error { _, err := s.SignIn(ctx, a.LoginName, a.Password, ext); return err },
					func() error { _, err := s.SetState(ctx, a.LoginID, cisco.StateReady, ""); return err },
					func() error { _, err := s.User(ctx, a.LoginID); return err },
					func() error { _, err := s.Media(ctx, a.LoginID); return err },
					func() error { _, err := s.SetState(ctx, a.LoginID, cisco.StateNotReady, "1"); return err },
					func() error { _, err := s.SignIn(ctx, a.LoginID, a.Password, ext); return err }, // re-login
					func() error { _, err := s.SetState(ctx, a.LoginID, cisco.StateLogout, "28"); return err },
					func() error { _, err := s.SystemInfo(ctx); return err },
				}
				for _, step := range steps {
					if err := step(); err != nil {
						errs[i] = err
						return
					}
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()

	for i, err := range errs {
		assert.NoError(t, err, "agent %d", i)
	}
	for _, a := range agents {
		assert.Equal(t, cisco.StateLogout, user(t, s, a.LoginID).State)
	}
}

func TestConcurrentSignInOneExtension(t *testing.T) {
	const n = 16
	agents := make([]ciscotest.Agent, n)
	for i := range agents {
		agents[i] = ciscotest.Agent{LoginID: fmt.Sprint(400000 + i), Password: "pw"}
	}
	s := sim.New(ciscotest.NewDirectory(t, agents...), sim.Config{})

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Go(func() {
			_, errs[i] = s.SignIn(context.Background(), a.LoginID, a.Password, "5999")
		})
	}
	wg.Wait()

	signedIn := 0
	for _, err := range errs {
		if err == nil {
			signedIn++
			continue
		}
		assert.ErrorIs(t, err, cisco.ErrDeviceBusy)
	}
	assert.Equal(t, 1, signedIn, "exactly one agent holds the extension")
}

func TestTeamAgentsAndAgent(t *testing.T) {
	sim := sim.New(sim.DemoDirectory(), sim.Config{})
	ctx := context.Background()
	tests := []struct {
		team string
		want []string
	}{
		{"5004", []string{"100501", "102312778"}},
		{"5005", []string{"100503", "100600"}},
		{"9999", []string{}},
	}
	for _, tt := range tests {
		got, err := sim.TeamAgents(ctx, tt.team)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "team %s", tt.team)
	}
	for id, want := range map[string]bool{"100501": true, "ciscotest": false, "1": false} {
		got, err := sim.Agent(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, got, "agent %s", id)
	}
}

// A sign-out pending at the end of a call stands when the desktop then
// goes away: the contact center's NOT_READY for a closed desktop does not
// undo it.
func TestDisconnectKeepsAPendingSignOut(t *testing.T) {
	s, _ := newSimulator(t)
	ctx := context.Background()
	signIn(t, s, "ciscotest", "test@123", "5064")
	d, err := s.Ring(ctx, "100501", sim.IncomingCall{From: "4085551234"})
	require.NoError(t, err)
	require.NoError(t, s.CallAction(ctx, "100501", d.ID, cisco.ActionAnswer, ""))

	u, err := s.ForceLogout(ctx, "100501", "28")
	require.NoError(t, err)
	assert.Equal(t, []string{"TALKING", "LOGOUT"}, []string{string(u.State), u.PendingState}, "the call goes on")
	u, err = s.Disconnect(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, "LOGOUT", u.PendingState)

	require.NoError(t, s.CallAction(ctx, "100501", d.ID, cisco.ActionDrop, ""))
	u = user(t, s, "100501")
	assert.Equal(t, []string{"LOGOUT", "28", ""}, []string{string(u.State), u.ReasonCodeID, u.Extension}, "signed out as the call ended, without wrap-up")
}

// A takeover drops the calls; an agent whose sign-out was pending at the
// end of its call is then signed out, and told so.
func TestRestoreAppliesAPendingSignOut(t *testing.T) {
	s, _ := newSimulator(t)
	var got []cisco.Notification
	s.Subscribe(func(n cisco.Notification) { got = append(got, n) })
	s.Restore([]sim.AgentRecord{{LoginID: "100501", State: cisco.StateTalking, Extension: "5064", ReasonCodeID: "-1",
		PendingState: cisco.StateLogout, PendingReasonCodeID: "999"}})

	u := user(t, s, "100501")
	assert.Equal(t, []string{"LOGOUT", "999", ""}, []string{string(u.State), u.ReasonCodeID, u.Extension})
	require.Len(t, got, 1)
	require.NotNil(t, got[0].User)
	assert.Equal(t, cisco.StateLogout, got[0].User.User.State)
	assert.Equal(t, []string{"state", "reasonCodeId", "pendingState", "extension"}, got[0].User.Changed)
	signIn(t, s, "pquser", "pqsup1", "5064") // the extension is free
}

func TestSimulatorOnAgentChange(t *testing.T) {
	var got []sim.AgentRecord
	s := sim.New(ciscotest.NewDirectory(t, testAgents...), sim.Config{
		OnAgentChange: func(r sim.AgentRecord) { got = append(got, r) },
	})
	ctx := context.Background()
	_, err := s.SignIn(ctx, "ciscotest", "test@123", "1001")
	require.NoError(t, err)
	_, err = s.User(ctx, "100503") // reading an agent changes nothing
	require.NoError(t, err)
	_, err = s.SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, cisco.StateNotReady, got[0].State)
	assert.Equal(t, "1001", got[0].Extension)
	assert.Equal(t, cisco.StateReady, got[1].State)
	assert.Equal(t, "-1", got[1].ReasonCodeID)

	// Restore counts what it restores as saved, and reports what it changed.
	got = nil
	talking := recordOf(t, s, "100501")
	talking.State = cisco.StateTalking
	ready := sim.AgentRecord{LoginID: "100503", State: cisco.StateReady, Extension: "1003", ReasonCodeID: "-1"}
	s.Restore([]sim.AgentRecord{talking, ready, {LoginID: "nobody", State: cisco.StateReady}})
	require.Len(t, got, 1)
	assert.Equal(t, "100501", got[0].LoginID)
	assert.Equal(t, cisco.StateNotReady, got[0].State)
	assert.Equal(t, "-1", got[0].ReasonCodeID)
	u, err := s.User(ctx, "100503")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateReady, u.State)
	_, err = s.SignIn(ctx, "pquser", "pqsup1", "1003")
	assert.ErrorIs(t, err, cisco.ErrDeviceBusy, "Restore took the extensions back")

	id, err := s.Authenticate("JDOE", "agent@3")
	require.NoError(t, err)
	assert.Equal(t, "100503", id)
	_, err = s.Authenticate("jdoe", "nope")
	assert.ErrorIs(t, err, cisco.ErrAuthorization)
}

// recordOf returns the agent's current record, as a store would hold it.
func recordOf(t *testing.T, s *sim.Simulator, loginID string) sim.AgentRecord {
	t.Helper()
	u, err := s.User(context.Background(), loginID)
	require.NoError(t, err)
	at, err := time.Parse(cisco.TimeFormat, u.StateChangeTime)
	require.NoError(t, err)
	return sim.AgentRecord{LoginID: loginID, State: u.State, Extension: u.Extension, ReasonCodeID: u.ReasonCodeID, StateChangeTime: at}
}
