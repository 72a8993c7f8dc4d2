package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/handlers"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The agents of testdata/agents.json, which has cheap password hashes.
var passwords = map[string]string{"ciscotest": "test@123", "102312778": "pqsup1", "jdoe": "agent@3", "supervisor1": "super@1", "other": "other@7"}

// loginEvents are the 15 events of a sign-in, in the documented order.
var loginEvents = []string{
	"Cisco/Connection/OpenConnection",
	"Cisco/Connection/SetConnectionStatus",
	"Cisco/Agent/SetAgentState",
	"Cisco/Agent/Login",
	"Cisco/General/GetAppState",
	"Cisco/Call/CallsStateChange",
	"Cisco/Media/SetMRDList",
	"Cisco/Media/GetMedia",
	"Cisco/General/SetSystemInfo",
	"Cisco/Media/SetMappedMRD",
	"Cisco/Media/Map",
	"Cisco/Agent/SetLogOutReasonCodes",
	"Cisco/Agent/SetNotReadyReasonCodes",
	"Cisco/Agent/SetPhoneBook",
	"Cisco/Agent/SetWrapupCode",
}

type env struct {
	url    string // the WebSocket endpoint
	http   string // the server's base URL
	sim    *sim.Simulator
	h      *handlers.Cisco
	clock  *fakeclock.Clock
	timers *fakeclock.Timers // the grace periods', the simulator's and the player's
	logs   *observer.ObservedLogs
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, handlerstest.Config{})
}

// newEnvWith is newEnv with handler settings; the clock and timers are the
// env's own.
func newEnvWith(t *testing.T, cfg handlerstest.Config) *env {
	t.Helper()
	return newEnvOn(t, cfg, broker.Config{}, nil)
}

// newEnvOn is newEnvWith with broker settings (the env's clock replaces
// their Now), on the connector that wrap makes of the simulator (nil: the
// simulator itself).
func newEnvOn(t *testing.T, cfg handlerstest.Config, busCfg broker.Config, wrap func(*sim.Simulator) cisco.Connector) *env {
	t.Helper()
	return newEnvSim(t, cfg, busCfg, wrap, sim.Config{})
}

// newEnvSim is newEnvOn with simulator settings (the env's clock and
// timers replace their Now and AfterFunc).
func newEnvSim(t *testing.T, cfg handlerstest.Config, busCfg broker.Config, wrap func(*sim.Simulator) cisco.Connector, simCfg sim.Config) *env {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	clk := fakeclock.New(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	ts := &fakeclock.Timers{}

	dir, err := sim.LoadDirectoryFile("testdata/agents.json")
	require.NoError(t, err)
	simCfg.Now = clk.Now
	simCfg.AfterFunc = func(d time.Duration, f func()) sim.Timer { return ts.AfterFunc(d, f) }
	s := sim.New(dir, simCfg)
	busCfg.Now = clk.Now
	bus := broker.New(log, busCfg)
	cfg.Lockout.Now = clk.Now
	cfg.Cisco.AfterFunc, cfg.Cisco.Now = func(d time.Duration, f func()) session.Timer { return ts.AfterFunc(d, f) }, clk.Now
	cfg.Desktops.AfterFunc, cfg.Desktops.Now = func(d time.Duration, f func()) session.Timer { return ts.AfterFunc(d, f) }, clk.Now
	var cti cisco.Connector = s
	if wrap != nil {
		cti = wrap(s)
	}
	h, desktops := handlerstest.Wire(t, bus, cti, log, cfg)

	mux := http.NewServeMux()
	mux.Handle("/ws", bus)
	mux.Handle("/api/publish", desktops.PublishAPI())
	mux.Handle("/api/simulator/calls", h.SimulatorAPI())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, bus.Shutdown(ctx))
		srv.Close()
	})
	return &env{url: brokertest.WSURL(srv.URL), http: srv.URL, sim: s, h: h, clock: clk, timers: ts, logs: logs}
}

// desktop dials and registers an app on the Cisco channel.
func (e *env) desktop(t *testing.T, app string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, e.url)
	c.Register(app, "Cisco")
	return c
}

func signIn(c *brokertest.Client, id, username, password, extension string) {
	c.Request(id, "Cisco", "Agent", "SetUserInfo",
		map[string]string{"username": username, "password": password, "extension": extension})
}

// login signs in and returns the 15 events, checking their order, and
// reads the workspace token that follows them.
func login(t *testing.T, c *brokertest.Client, id, username, extension string) []brokertest.Frame {
	t.Helper()
	signIn(c, id, username, passwords[username], extension)
	return expectSignedIn(t, c, id)
}

// expectSignedIn reads what the signing-in connection receives: the 15
// events, then its workspace token.
func expectSignedIn(t *testing.T, c *brokertest.Client, id string) []brokertest.Frame {
	t.Helper()
	events := expectLogin(t, c, id)
	tok := c.Expect("PubSub/Workspace/Token")
	assert.Equal(t, id, tok.CorrelationID)
	return events
}

// token signs in and returns the workspace token the sign-in gives.
func token(t *testing.T, c *brokertest.Client, username, extension string) string {
	t.Helper()
	signIn(c, "tok", username, passwords[username], extension)
	expectLogin(t, c, "tok")
	var p struct {
		Token     string `json:"token"`
		AgentID   string `json:"agentId"`
		ExpiresAt string `json:"expiresAt"`
	}
	require.NoError(t, json.Unmarshal(c.Expect("PubSub/Workspace/Token").Message, &p))
	require.NotEmpty(t, p.Token)
	return p.Token
}

func expectLogin(t *testing.T, c *brokertest.Client, id string) []brokertest.Frame {
	t.Helper()
	var got []string
	var frames []brokertest.Frame
	for range loginEvents {
		f := c.Next()
		got = append(got, f.Triple())
		frames = append(frames, f)
		require.Equal(t, id, f.CorrelationID, "frame %s", f.Raw)
		if f.Subtopic == "SetAPIError" {
			break
		}
	}
	require.Equal(t, loginEvents, got)
	return frames
}

type userMessage struct {
	Data struct {
		LoginID      string `json:"loginId"`
		State        string `json:"state"`
		ReasonCodeID string `json:"reasonCodeId"`
		Extension    string `json:"extension"`
	} `json:"data"`
	Changed []string `json:"changed"`
}

func agentStateOf(t *testing.T, f brokertest.Frame) userMessage {
	t.Helper()
	require.Equal(t, "Cisco/Agent/SetAgentState", f.Triple(), "frame %s", f.Raw)
	var m userMessage
	require.NoError(t, json.Unmarshal(f.Message, &m))
	return m
}

func TestLoginPublishesFifteenEventsInOrder(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	events := login(t, c, "login-1", "ciscotest", "5064")

	state := agentStateOf(t, events[2])
	assert.Equal(t, "100501", state.Data.LoginID)
	assert.Equal(t, "NOT_READY", state.Data.State, "a first sign-in lands in NOT_READY")
	assert.Equal(t, "-1", state.Data.ReasonCodeID)
	assert.Equal(t, "5064", state.Data.Extension)

	var wrap struct {
		Packet string `json:"packet"`
		Data   []struct {
			URI, Label, ForAll string
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(events[14].Message, &wrap))
	assert.Equal(t, "WrapUpCodes", wrap.Packet)
	assert.NotEmpty(t, wrap.Data)

	var calls struct {
		Source     string `json:"source"`
		Calls      []any  `json:"calls"`
		IsNonVoice *bool  `json:"isNonVoice"`
	}
	require.NoError(t, json.Unmarshal(events[5].Message, &calls))
	assert.Equal(t, "api", calls.Source)
	assert.NotNil(t, calls.Calls)
	assert.NotNil(t, calls.IsNonVoice)

	var app struct {
		CTIState struct {
			UserInfo map[string]any `json:"userInfo"`
			State    string         `json:"State"`
		} `json:"ctiState"`
	}
	require.NoError(t, json.Unmarshal(events[4].Message, &app))
	assert.Equal(t, "NOT_READY", app.CTIState.State)
	assert.Equal(t, "5064", app.CTIState.UserInfo["extension"])
	assert.NotContains(t, app.CTIState.UserInfo, "password")

	var codes struct {
		Category string `json:"category"`
		Data     []struct {
			Category string `json:"category"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(events[11].Message, &codes))
	assert.Equal(t, "LOGOUT", codes.Category)
	require.NoError(t, json.Unmarshal(events[12].Message, &codes))
	assert.Equal(t, "NOT_READY", codes.Category)
	for _, code := range codes.Data {
		assert.Equal(t, "NOT_READY", code.Category)
	}
	for _, f := range events {
		assert.Equal(t, "ctibus", f.Source)
	}
}

func TestLoginByLoginIDOrLoginNameInAnyCase(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	signIn(c, "a", "102312778", "pqsup1", "5069")
	assert.Equal(t, "102312778", agentStateOf(t, expectSignedIn(t, c, "a")[2]).Data.LoginID)

	d := e.desktop(t, "softphone")
	signIn(d, "b", "CiscoTest", "test@123", "5064")
	assert.Equal(t, "100501", agentStateOf(t, expectSignedIn(t, d, "b")[2]).Data.LoginID)
}

func TestReloginKeepsTheCurrentState(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	login(t, phone, "l1", "ciscotest", "5064")
	phone.Request("r", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateOf(t, phone.Next()).Data.State)

	crm := e.desktop(t, "crm")
	events := login(t, crm, "l2", "ciscotest", "5064")
	assert.Equal(t, "READY", agentStateOf(t, events[2]).Data.State, "a READY agent stays READY")
	var loginMsg struct {
		Relogin bool `json:"relogin"`
	}
	require.NoError(t, json.Unmarshal(events[3].Message, &loginMsg))
	assert.True(t, loginMsg.Relogin)

	// Both apps are in the workspace now: the first sees the re-login too.
	expectLogin(t, phone, "l2")
	crm.Request("n", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
	for _, c := range []*brokertest.Client{phone, crm} {
		m := agentStateOf(t, c.Next())
		assert.Equal(t, "NOT_READY", m.Data.State)
		assert.Equal(t, "2", m.Data.ReasonCodeID)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	for i := range 5 {
		id := fmt.Sprintf("bad-%d", i)
		signIn(c, id, "ciscotest", "wrong", "5064")
		c.ExpectError("Cisco", "Authorization Failure", id)
	}
	signIn(c, "right", "ciscotest", "test@123", "5064")
	locked := c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, "right")
	assert.Contains(t, locked.ErrorMessage, "300 seconds left")
	assert.Contains(t, locked.Msg, "300 seconds")

	e.clock.Advance(4*time.Minute + 30*time.Second)
	signIn(c, "still", "CISCOTEST", "test@123", "5064")
	assert.Contains(t, c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, "still").ErrorMessage, "30 seconds left")

	e.clock.Advance(30 * time.Second)
	login(t, c, "after", "ciscotest", "5064")
}

func TestUnknownUserLooksLikeAWrongPassword(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	signIn(c, "w", "ciscotest", "wrong", "5064")
	wrong := c.ExpectError("Cisco", "Authorization Failure", "w")
	signIn(c, "u", "nobody", "wrong", "5064")
	unknown := c.ExpectError("Cisco", "Authorization Failure", "u")
	assert.Equal(t, wrong, unknown)

	for i := range 4 {
		signIn(c, "u", "nobody", fmt.Sprint(i), "5064")
		c.ExpectError("Cisco", "Authorization Failure", "u")
	}
	signIn(c, "u", "nobody", "x", "5064")
	c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, "u")
}

func TestParallelWrongPasswordsVerifyAtMostFive(t *testing.T) {
	tests := []struct {
		name      string
		usernames []string // the attempts take them in turn
		right     string   // the right password, if they name an agent
	}{
		{"one username", []string{"ciscotest"}, "test@123"},
		{"both names of an agent", []string{"jdoe", "100503", "JDoe"}, "agent@3"},
		{"an unknown username", []string{"nobody", "NoBody"}, "agent@3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			const n = 50
			clients := make([]*brokertest.Client, n)
			for i := range clients {
				clients[i] = e.desktop(t, "attacker")
			}
			for i, c := range clients {
				signIn(c, fmt.Sprint(i), tt.usernames[i%len(tt.usernames)], "guess", "5070")
			}
			counts := map[string]int{}
			for i, c := range clients {
				f := c.Expect("Cisco/Error/SetAPIError")
				assert.Equal(t, fmt.Sprint(i), f.CorrelationID)
				counts[f.Error(t).ErrorType]++
			}
			// An Authorization Failure means a password was verified.
			assert.Equal(t, map[string]int{"Authorization Failure": 5, handlers.ErrTypeAccountLocked: 45}, counts)

			c := e.desktop(t, "softphone")
			for _, username := range tt.usernames {
				signIn(c, username, username, tt.right, "5070")
				c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, username)
			}
		})
	}
}

func TestLockoutCountsPerAgent(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	// Four failures by the agent's loginName, the fifth by its loginId.
	for i := range 4 {
		id := fmt.Sprintf("bad-%d", i)
		signIn(c, id, "jdoe", "wrong", "5070")
		c.ExpectError("Cisco", "Authorization Failure", id)
	}
	signIn(c, "fifth", "100503", "wrong", "5070")
	c.ExpectError("Cisco", "Authorization Failure", "fifth")

	for _, username := range []string{"JDOE", "jdoe", "100503"} {
		signIn(c, username, username, "agent@3", "5070")
		locked := c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, username)
		assert.Contains(t, locked.ErrorMessage, "300 seconds left", "%s is locked with the agent", username)
	}

	// Another agent is not locked, and the agent's lock ends for both names.
	login(t, e.desktop(t, "softphone"), "other", "ciscotest", "5064")
	e.clock.Advance(5 * time.Minute)
	signIn(c, "after", "100503", "agent@3", "5070")
	expectSignedIn(t, c, "after")
}

func TestUnknownUsernameHasItsOwnCountAndLooksTheSame(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	// The agent jdoe and the made-up jdoe2, nobody's name, fail in turn.
	var agent, unknown []brokertest.APIError
	for i := range 5 {
		for _, username := range []string{"jdoe", "JDoe2"} {
			id := fmt.Sprintf("%s-%d", username, i)
			signIn(c, id, username, "wrong", "5070")
			f := c.Expect("Cisco/Error/SetAPIError")
			require.Equal(t, id, f.CorrelationID)
			if username == "jdoe" {
				agent = append(agent, f.Error(t))
			} else {
				unknown = append(unknown, f.Error(t))
			}
		}
	}
	assert.Equal(t, agent, unknown, "five failures of an agent and of a made-up name are answered alike")
	assert.Equal(t, "Authorization Failure", agent[4].ErrorType)

	// Both are locked now, each by its own five failures, and answer alike.
	signIn(c, "agent-locked", "100503", "agent@3", "5070")
	agentLocked := c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, "agent-locked")
	signIn(c, "unknown-locked", "jdoe2", "agent@3", "5070")
	unknownLocked := c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, "unknown-locked")
	assert.Equal(t, agentLocked, unknownLocked)

	// A made-up name counts for itself alone: its failures lock no agent,
	// and an agent's lock locks no made-up name.
	e.clock.Advance(5 * time.Minute)
	for i := range 5 {
		id := fmt.Sprintf("made-up-%d", i)
		signIn(c, id, "nobody", "wrong", "5070")
		c.ExpectError("Cisco", "Authorization Failure", id)
	}
	for i := range 5 {
		id := fmt.Sprintf("jdoe-again-%d", i)
		signIn(c, id, "100503", "wrong", "5070")
		c.ExpectError("Cisco", "Authorization Failure", id)
	}
	signIn(c, "nobody-locked", "NOBODY", "wrong", "5070")
	c.ExpectError("Cisco", handlers.ErrTypeAccountLocked, "nobody-locked")
	login(t, c, "ciscotest", "ciscotest", "5064")
}

func TestAgentsAreIsolated(t *testing.T) {
	e := newEnv(t)
	spyOf := func(app string) *brokertest.Client {
		c := e.desktop(t, app)
		c.Subscribe("*", "*", "*")
		return c
	}
	a1, a2 := spyOf("a-phone"), spyOf("a-crm")
	b1, b2 := spyOf("b-phone"), spyOf("b-crm")
	nobody := spyOf("not-signed-in")

	login(t, a1, "a1", "ciscotest", "5064")
	login(t, a2, "a2", "ciscotest", "5064")
	login(t, b1, "b1", "jdoe", "6123")
	login(t, b2, "b2", "jdoe", "6123")
	for _, c := range []*brokertest.Client{a1, a2, b1, b2} {
		c.Request("r", "Cisco", "Agent", "SetReadyState", nil)
		c.Request("g", "Cisco", "Agent", "GetAgentState", nil)
		c.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Show", "data": "from " + "x"})
	}
	a1.Request("lo", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	b1.Request("lo", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	// Each client reads up to the answer to its own marker (answers go to
	// the whole workspace, so the markers must differ).
	for i, c := range []*brokertest.Client{a1, a2, b1, b2, nobody} {
		done := fmt.Sprint("done-", i)
		c.Request(done, "Cisco", "General", "GetSystemInfo", nil)
		for c.Next().CorrelationID != done {
		}
	}

	for _, f := range append(b1.Seen, b2.Seen...) {
		assert.NotContains(t, string(f.Message), "100501", "agent B's app saw agent A: %s", f.Raw)
		assert.NotContains(t, string(f.Message), "5064")
	}
	for _, f := range append(a1.Seen, a2.Seen...) {
		assert.NotContains(t, string(f.Message), "100503", "agent A's app saw agent B: %s", f.Raw)
		assert.NotContains(t, string(f.Message), "6123")
	}
	var nobodySaw []string
	for _, f := range nobody.Seen {
		nobodySaw = append(nobodySaw, f.Triple())
	}
	assert.Equal(t, []string{"PubSub/App/Registered", "PubSub/Subscription/Subscribed", "Cisco/General/SetSystemInfo"}, nobodySaw,
		"an app that is not signed in sees its own answers only")
}

func TestPasswordNeverLeavesTheLoginHandler(t *testing.T) {
	e := newEnv(t)
	spy := e.desktop(t, "spy")
	spy.Subscribe("*", "*", "*")
	phone := e.desktop(t, "softphone")
	phone.Subscribe("*", "*", "*")
	clients := []*brokertest.Client{spy, phone}

	signIn(phone, "w", "ciscotest", "not-test@123", "5064") // a wrong one, close to the right one
	phone.ExpectError("Cisco", "Authorization Failure", "w")
	signIn(phone, "bad-device", "ciscotest", "test@123", "not-an-extension")
	phone.ExpectError("Cisco", "Invalid Device", "bad-device")
	login(t, phone, "l1", "ciscotest", "5064")
	login(t, spy, "l2", "ciscotest", "5064") // the spy joins the workspace legitimately
	expectLogin(t, phone, "l2")
	for _, c := range clients {
		c.Request("a", "Cisco", "General", "GetAppState", nil)
		c.Request("b", "Cisco", "Call", "GetAppState", nil)
	}
	for _, c := range clients {
		for range 4 {
			c.Next()
		}
	}
	signIn(phone, "num", "jdoe", "agent@3", "5064") // Device Busy, after a right password
	phone.ExpectError("Cisco", "Device Busy", "num")

	secrets := []string{"test@123", "agent@3", "not-test@123"}
	for _, c := range clients {
		require.NotEmpty(t, c.Seen)
		for _, f := range c.Seen {
			for _, s := range secrets {
				assert.NotContains(t, string(f.Raw), s, "a frame carries a password")
			}
		}
	}
	require.NotZero(t, e.logs.Len())
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, entry := range e.logs.All() {
		buf, err := enc.EncodeEntry(entry.Entry, entry.Context)
		require.NoError(t, err)
		for _, s := range secrets {
			assert.NotContains(t, buf.String(), s, "a log line carries a password")
		}
	}
}

func TestSignInErrors(t *testing.T) {
	e := newEnv(t)
	holder := e.desktop(t, "softphone")
	login(t, holder, "h", "ciscotest", "5064")

	tests := []struct {
		name      string
		register  bool
		data      any
		wantType  string
		wantInMsg string
	}{
		{"not registered on Cisco", false, map[string]string{"username": "jdoe", "password": "agent@3", "extension": "5070"}, "Not Registered", "PubSub/App/Register"},
		{"data is not an object", true, "jdoe", "Invalid Input", "data"},
		{"username is a boolean", true, map[string]any{"username": true, "password": "agent@3", "extension": "5070"}, "Invalid Input", "data.username: it must be a string or an integer"},
		{"password is missing", true, map[string]any{"username": "jdoe", "extension": "5070"}, "Parameter Missing", "password Parameter missing"},
		{"extension is empty", true, map[string]any{"username": "jdoe", "password": "agent@3", "extension": ""}, "Invalid Input", "extension"},
		{"password is a number", true, map[string]any{"username": "jdoe", "password": 1.5, "extension": "5070"}, "Invalid Input", "data.password: it must be a string"},
		{"extension is a fraction", true, map[string]any{"username": "jdoe", "password": "agent@3", "extension": 5070.5}, "Invalid Input", "data.extension: 5070.5 is not a whole number"},
		{"username too long", true, map[string]string{"username": strings.Repeat("u", 129), "password": "agent@3", "extension": "5070"}, "Invalid Input", "data.username: it is longer than 128 bytes"},
		{"wrong password", true, map[string]string{"username": "jdoe", "password": "nope", "extension": "5070"}, "Authorization Failure", ""},
		{"implausible extension", true, map[string]string{"username": "jdoe", "password": "agent@3", "extension": "50a7"}, "Invalid Device", ""},
		{"extension held by another agent", true, map[string]string{"username": "jdoe", "password": "agent@3", "extension": "5064"}, "Device Busy", ""},
		{"signed in elsewhere", true, map[string]string{"username": "ciscotest", "password": "test@123", "extension": "5099"}, "Invalid Device", "5064"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := brokertest.Dial(t, e.url)
			if tt.register {
				c.Register("app", "Cisco")
			} else {
				c.Register("app", "")
			}
			c.RequestInvalid("x", "Cisco", "Agent", "SetUserInfo", tt.data)
			got := c.ExpectError("Cisco", tt.wantType, "x")
			assert.Contains(t, got.ErrorMessage+" "+got.Msg, tt.wantInMsg)

			c.Request("y", "Cisco", "General", "GetSystemInfo", nil)
			if tt.register {
				c.Expect("Cisco/General/SetSystemInfo")
			}
		})
	}
}

func TestAgentStateAPI(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")

	c.Request("g0", "Cisco", "Agent", "GetAgentState", nil)
	c.ExpectError("Cisco", "Invalid State", "g0")

	login(t, c, "l", "ciscotest", "5064")
	steps := []struct {
		subtopic   string
		topic      string
		data       any
		wantState  string
		wantReason string
		wantError  string
	}{
		{subtopic: "GetAgentState", topic: "Agent", wantState: "NOT_READY", wantReason: "-1"},
		{subtopic: "SetNotReadyState", topic: "Agent", data: map[string]string{"ReasonCodeId": "3"}, wantState: "NOT_READY", wantReason: "3"},
		{subtopic: "SetNotReadyState", topic: "Agent", data: map[string]string{"ReasonCodeId": "999"}, wantError: "Invalid Input"},
		{subtopic: "SetNotReadyState", topic: "Agent", data: map[string]string{"ReasonCodeId": "28"}, wantError: "Invalid Input"},
		{subtopic: "SetReadyState", topic: "Agent", wantState: "READY", wantReason: "-1"},
		{subtopic: "SetReadyState", topic: "Agent", wantError: "Invalid State"},
		{subtopic: "Logout", topic: "Connection", data: map[string]string{"ReasonCodeId": "28"}, wantError: "Invalid State"},
		{subtopic: "SetNotReadyState", topic: "Agent", data: map[string]string{"reasoncodeid ": "1"}, wantState: "NOT_READY", wantReason: "1"},
		{subtopic: "GetAgentState", topic: "Agent", wantState: "NOT_READY", wantReason: "1"},
		{subtopic: "Logout", topic: "Connection", data: map[string]string{"ReasonCodeId": "999"}, wantError: "Invalid Input"},
		{subtopic: "Logout", topic: "Connection", data: map[string]string{"ReasonCodeId": "28"}, wantState: "LOGOUT", wantReason: "28"},
		{subtopic: "GetAgentState", topic: "Agent", wantError: "Invalid State"},
	}
	for i, s := range steps {
		id := fmt.Sprintf("%d-%s", i, s.subtopic)
		c.Request(id, "Cisco", s.topic, s.subtopic, s.data)
		if s.wantError != "" {
			c.ExpectError("Cisco", s.wantError, id)
			continue
		}
		f := c.Next()
		assert.Equal(t, id, f.CorrelationID)
		m := agentStateOf(t, f)
		assert.Equal(t, s.wantState, m.Data.State, "step %s", id)
		assert.Equal(t, s.wantReason, m.Data.ReasonCodeID, "step %s", id)
	}
	// After the logout the extension is free for another agent.
	login(t, c, "jdoe", "jdoe", "5064")
}

func TestLogoutEndsTheWorkspace(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	crm := e.desktop(t, "crm")
	login(t, phone, "l1", "ciscotest", "5064")
	login(t, crm, "l2", "ciscotest", "5064")
	expectLogin(t, phone, "l2")

	phone.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	for _, c := range []*brokertest.Client{phone, crm} {
		f := c.Next()
		assert.Equal(t, "out", f.CorrelationID)
		assert.Equal(t, "LOGOUT", agentStateOf(t, f).Data.State)
	}
	// Another agent signing in on the phone ends the desktop: the crm app
	// is told, and does not see that agent.
	login(t, phone, "l3", "jdoe", "5070")
	crm.Expect("PubSub/Workspace/Ended")
	crm.Request("g", "Cisco", "Agent", "GetAgentState", nil)
	crm.ExpectError("Cisco", "Invalid State", "g")
}

func TestReadAPIs(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	c.Request("s0", "Cisco", "General", "GetSystemInfo", nil)
	info := c.Expect("Cisco/General/SetSystemInfo")
	assert.Equal(t, "s0", info.CorrelationID)
	var si struct {
		Packet     string         `json:"packet"`
		SystemInfo map[string]any `json:"systeminfo"`
	}
	require.NoError(t, json.Unmarshal(info.Message, &si))
	assert.Equal(t, "IN_SERVICE", si.SystemInfo["status"])

	for _, api := range [][2]string{{"Agent", "GetWrapupReasonCode"}, {"Agent", "GetPhoneDirectory"}, {"Call", "GetCallState"}} {
		c.Request("before", "Cisco", api[0], api[1], nil)
		c.ExpectError("Cisco", "Invalid State", "before")
	}

	login(t, c, "l", "ciscotest", "5064")
	tests := []struct {
		topic, subtopic string
		want            string
		wantPacket      string
	}{
		{"Agent", "GetWrapupReasonCode", "Cisco/Agent/SetWrapupCode", "WrapUpCodes"},
		{"Agent", "GetPhoneDirectory", "Cisco/Agent/SetPhoneDirectory", "phoneBook"},
		{"Call", "GetCallState", "Cisco/Call/CallsStateChange", ""},
		{"General", "GetAppState", "Cisco/General/GetAppState", ""},
		{"Call", "GetAppState", "Cisco/Call/GetAppState", ""},
		{"general", "getsysteminfo", "Cisco/General/SetSystemInfo", "systeminfo"},
	}
	for _, tt := range tests {
		t.Run(tt.subtopic, func(t *testing.T) {
			c.Request(tt.subtopic, "Cisco", tt.topic, tt.subtopic, nil)
			f := c.Expect(tt.want)
			assert.Equal(t, tt.subtopic, f.CorrelationID)
			var p struct {
				Packet string `json:"packet"`
			}
			require.NoError(t, json.Unmarshal(f.Message, &p))
			assert.Equal(t, tt.wantPacket, p.Packet)
		})
	}
}

// appStateView is what a widget reads of GetAppState to decide whether to
// show a sign-in form.
type appStateView struct {
	CTIState struct {
		UserInfo struct {
			Username  string `json:"username"`
			Extension string `json:"extension"`
		} `json:"userInfo"`
		State string `json:"State"`
		Rules struct {
			SequentialActions struct {
				Items map[string]string `json:"items"`
			} `json:"SequentialActions"`
			ResponseActual map[string]json.RawMessage `json:"ResponseActual"`
		} `json:"rules"`
	} `json:"ctiState"`
}

func TestGetAppStateBeforeSignInAnswersNotSignedIn(t *testing.T) {
	e := newEnv(t)
	widget := e.desktop(t, "widget")
	other := e.desktop(t, "other")
	other.Subscribe("*", "*", "*")

	for _, topic := range []string{"General", "Call"} {
		widget.Request("state-"+topic, "Cisco", topic, "GetAppState", nil)
		f := widget.Next()
		assert.Equal(t, "Cisco/"+topic+"/GetAppState", f.Triple(), "frame %s", f.Raw)
		assert.Equal(t, "state-"+topic, f.CorrelationID)
		var v appStateView
		require.NoError(t, json.Unmarshal(f.Message, &v))
		assert.Equal(t, "LOGOUT", v.CTIState.State)
		assert.Empty(t, v.CTIState.UserInfo.Username)
		assert.Equal(t, map[string]string{"READY": "Disable", "NOT_READY": "Disable", "LOGOUT": "Disable"},
			v.CTIState.Rules.SequentialActions.Items)
		assert.NotContains(t, v.CTIState.Rules.ResponseActual, "user")
	}

	// Once an agent is signed in on the connection, the answer is the agent's.
	login(t, widget, "l", "ciscotest", "5064")
	widget.Request("after", "Cisco", "General", "GetAppState", nil)
	f := widget.Expect("Cisco/General/GetAppState")
	assert.Equal(t, "after", f.CorrelationID)
	var v appStateView
	require.NoError(t, json.Unmarshal(f.Message, &v))
	assert.Equal(t, "NOT_READY", v.CTIState.State)
	assert.Equal(t, "100501", v.CTIState.UserInfo.Username)

	// The not-signed-in answers went to the asking connection alone: the
	// other app's first frame is the answer to its own marker request.
	other.Request("marker", "Cisco", "General", "GetSystemInfo", nil)
	assert.Equal(t, "marker", other.Expect("Cisco/General/SetSystemInfo").CorrelationID, "nothing reached another app before it")
}

func TestGracePeriod(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("the agent rejoins within it and keeps its state", func(t *testing.T) {
		c := e.desktop(t, "softphone")
		login(t, c, "l", "ciscotest", "5064")
		c.Request("r", "Cisco", "Agent", "SetReadyState", nil)
		c.Next()
		c.Conn().Close()
		require.Eventually(t, func() bool { return len(e.timers.Running()) == 1 }, brokertest.Wait, time.Millisecond)
		assert.Equal(t, 60*time.Second, e.timers.Running()[0].Duration())

		d := e.desktop(t, "softphone")
		events := login(t, d, "again", "ciscotest", "5064")
		assert.Equal(t, "READY", agentStateOf(t, events[2]).Data.State)
		assert.Empty(t, e.timers.Running(), "the grace timer stopped")
	})

	t.Run("nobody comes back and the agent goes NOT_READY with 255", func(t *testing.T) {
		c := e.desktop(t, "softphone")
		login(t, c, "l", "jdoe", "5070")
		c.Conn().Close()
		require.Eventually(t, func() bool { return len(e.timers.Running()) == 2 }, brokertest.Wait, time.Millisecond)
		for _, tm := range e.timers.Running() {
			tm.Fire()
		}
		u, err := e.sim.User(ctx, "100503")
		require.NoError(t, err)
		assert.Equal(t, cisco.StateNotReady, u.State, "CCE's default: the agent stays signed in, offered no calls")
		assert.Equal(t, "255", u.ReasonCodeID)

		d := e.desktop(t, "softphone")
		events := login(t, d, "again", "jdoe", "5070")
		m := agentStateOf(t, events[2])
		assert.Equal(t, []string{"NOT_READY", "255"}, []string{m.Data.State, m.Data.ReasonCodeID}, "a re-login keeps the state")
	})
}

// The end of a grace period is what CCE's "logout on agent disconnect"
// setting says, as apps see it: a supervisor's team feed and the agent's
// next sign-in.
func TestClosedDesktop(t *testing.T) {
	tests := []struct {
		give      bool // LogoutOnDisconnect
		wantFeed  []string
		wantLogin []string // state and reason code at the next sign-in
	}{
		{give: false, wantFeed: []string{"100501", "NOT_READY", "255"}, wantLogin: []string{"NOT_READY", "255"}},
		{give: true, wantFeed: []string{"100501", "LOGOUT", "255"}, wantLogin: []string{"NOT_READY", "-1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("logout on disconnect %v", tt.give), func(t *testing.T) {
			e := newEnvSim(t, handlerstest.Config{}, broker.Config{}, nil, sim.Config{LogoutOnDisconnect: tt.give})
			s := e.agentOn(t, "supervisor1", extS)
			a := e.agentOn(t, "ciscotest", extA)
			ready(t, a)
			_, who, state, _ := teamFeed(t, s.Next())
			require.Equal(t, []string{"100501", "READY"}, []string{who, state})

			a.Conn().Close()
			require.Eventually(t, func() bool { return len(e.timers.Running()) == 1 }, brokertest.Wait, time.Millisecond)
			e.fire(t, 60*time.Second)
			_, who, state, reason := teamFeed(t, s.Next())
			assert.Equal(t, tt.wantFeed, []string{who, state, reason})

			again := e.desktop(t, "softphone")
			m := agentStateOf(t, login(t, again, "again", "ciscotest", extA)[2])
			assert.Equal(t, tt.wantLogin, []string{m.Data.State, m.Data.ReasonCodeID})
		})
	}
}

// A closed desktop does not hang up the agent's call: the state it leads to
// waits for the call's end, as pendingState.
func TestClosedDesktopKeepsTheCall(t *testing.T) {
	e := newEnv(t)
	a, call := answeredCall(t, e)
	a.Conn().Close()
	require.Eventually(t, func() bool { return len(e.timers.Running()) == 1 }, brokertest.Wait, time.Millisecond)
	e.fire(t, 60*time.Second)

	back := e.desktop(t, "softphone")
	events := login(t, back, "again", "ciscotest", extA)
	assert.Equal(t, "TALKING (pending NOT_READY)", summary(t, events[2], extA))
	assert.Equal(t, "ACTIVE/ACTIVE", summary(t, events[5], extA), "the call goes on")
	back.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"DROPPED/DROPPED", "NOT_READY 255"}, flow(t, back, extA, 2, "drop"), "its OPTIONAL wrap-up skipped")
}

func TestUnknownCiscoAPI(t *testing.T) {
	e := newEnv(t)
	c := e.desktop(t, "softphone")
	c.RequestInvalid("x", "Cisco", "Agent", "SetAgentState", map[string]string{"state": "READY"})
	assert.True(t, strings.Contains(c.ExpectError("Cisco", broker.ErrTypeUnknownAPI, "x").ErrorMessage, "SetAgentState"))
}

// connectionStatus decodes a SetConnectionStatus into its status and
// connection id.
func connectionStatus(t *testing.T, f brokertest.Frame) (status, connectionID string) {
	t.Helper()
	require.Equal(t, "Cisco/Connection/SetConnectionStatus", f.Triple(), "frame %s", f.Raw)
	var m struct {
		Status       string `json:"status"`
		ConnectionID string `json:"connectionId"`
		LoginID      string `json:"loginId"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m))
	assert.Equal(t, "100501", m.LoginID)
	return m.Status, m.ConnectionID
}

// The widgets of a desktop see its connection go down and come back up,
// as Finesse reports its notification connection, so that a reconnect
// banner can be tested.
func TestLostDesktopIsReported(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	signIn(phone, "login", "ciscotest", passwords["ciscotest"], extA)
	_, first := connectionStatus(t, expectLogin(t, phone, "login")[1])
	var tok struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(phone.Expect("PubSub/Workspace/Token").Message, &tok))
	crm := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(crm, "crm", map[string]string{"channel": "Cisco", "token": tok.Token}).Triple())
	other := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(other, "notes", map[string]string{"channel": "Cisco", "token": tok.Token}).Triple())

	other.Conn().Close() // a widget that leaves is no lost desktop
	phone.Conn().Close()
	status, id := connectionStatus(t, crm.Next())
	assert.Equal(t, []string{"disconnected", first}, []string{status, id}, "the desktop's connection is down")

	back := e.desktop(t, "softphone")
	signIn(back, "again", "ciscotest", passwords["ciscotest"], extA)
	_, second := connectionStatus(t, expectLogin(t, back, "again")[1])
	status, id = connectionStatus(t, nextOf(crm, "Cisco/Connection/SetConnectionStatus"))
	assert.Equal(t, []string{"connected", second}, []string{status, id}, "and up again")
	assert.Equal(t, "again", crm.Seen[len(crm.Seen)-1].CorrelationID)
	drain(crm)
	var reports []string
	for _, f := range crm.Seen {
		if f.Subtopic == "SetConnectionStatus" {
			status, _ := connectionStatus(t, f)
			reports = append(reports, status)
		}
	}
	assert.Equal(t, []string{"disconnected", "connected"}, reports, "one report each, none for the widget that left")
}

// The demo's reason codes have ids that differ from their codes, as in
// production: a widget that sends the code instead of the id fails.
func TestReasonCodeIDIsNotItsCode(t *testing.T) {
	e := newEnv(t)
	a := e.desktop(t, "softphone")
	events := login(t, a, "login", "ciscotest", extA)
	var codes struct {
		Data []struct {
			ID    string `json:"id"`
			Code  string `json:"code"`
			Label string `json:"label"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(events[12].Message, &codes))
	require.NotEmpty(t, codes.Data)
	lunch := codes.Data[1]
	assert.Equal(t, []string{"2", "102", "Lunch"}, []string{lunch.ID, lunch.Code, lunch.Label})

	a.Request("by-code", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": lunch.Code})
	assert.Contains(t, a.ExpectError("Cisco", "Invalid Input", "by-code").Msg, `"102"`)
	a.Request("by-id", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": lunch.ID})
	assert.Equal(t, "NOT_READY 2", summary(t, a.Next(), extA))
}
