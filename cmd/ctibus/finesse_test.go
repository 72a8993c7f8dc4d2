package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

func TestFinesseFlags(t *testing.T) {
	none := func(string) string { return "" }
	var out strings.Builder
	require.NoError(t, run(t.Context(), []string{"-h"}, none, nil, nil, &out))
	for _, name := range []string{"cti", "finesse-url", "finesse-xmpp-url", "finesse-ca"} {
		assert.Contains(t, out.String(), "-"+name+" ")
		assert.Contains(t, out.String(), "(env "+envName(name)+")")
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no URL", []string{"-cti", "finesse"}, "-cti finesse needs -finesse-url"},
		{"not a contact center", []string{"-cti", "avaya"}, `-cti "avaya": use simulator or finesse`},
		{"the simulator's directory", []string{"-cti", "finesse", "-finesse-url", "https://f.test:8445", "-agents", "a.json"}, "-agents: the simulator's options make no sense with -cti finesse"},
		{"a scenario", []string{"-cti", "finesse", "-finesse-url", "https://f.test:8445", "-sim-scenario", "s.json"}, "-sim-scenario"},
		{"a lockout Finesse would beat", []string{"-cti", "finesse", "-finesse-url", "https://f.test:8445", "-lockout-attempts", "5"}, "at most 4"},
		{"XMPP URLs that do not match", []string{"-cti", "finesse", "-finesse-url", "https://a.test:8445,https://b.test:8445", "-finesse-xmpp-url", "wss://a.test:7443/ws/"}, "one XMPP URL per side"},
		{"Finesse flags without Finesse", []string{"-finesse-url", "https://f.test:8445"}, "need -cti finesse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), append([]string{"-addr", "127.0.0.1:0"}, tt.args...), none, nil, nil, &strings.Builder{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	cfg, err := parseConfig(nil, func(k string) string {
		return map[string]string{"CTIBUS_CTI": "finesse", "CTIBUS_FINESSE_URL": "https://f.test:8445"}[k]
	}, &out)
	require.NoError(t, err, "the environment twins")
	assert.True(t, cfg.finesse())
	assert.Equal(t, maxFinesseLockoutAttempts, cfg.lockoutAttempts, "ctibus locks before Finesse does")
}

// startFinesseServer runs ctibus against both sides of p.
func startFinesseServer(t *testing.T, p *finessetest.Pair, args ...string) *server {
	return startServer(t, nil, append([]string{"-cti", "finesse",
		"-finesse-url", p.A.URL() + "," + p.B.URL(),
		"-finesse-xmpp-url", p.A.XMPPURL() + "," + p.B.XMPPURL(),
		"-finesse-ca", p.A.CAFile()}, args...)...)
}

// signInOverTheBus signs ciscotest in on 1001 and returns the triples of
// the sign-in's events.
func signInOverTheBus(t *testing.T, c *brokertest.Client) []string {
	c.Register("softphone", "Cisco")
	c.Request("login", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "test@123", "extension": "1001"})
	var got []string
	for range 16 {
		got = append(got, c.Next().Triple())
	}
	return got
}

func TestFinesseEndToEnd(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	s := startFinesseServer(t, p)
	code, _ := get(t, s.URL+"/readyz")
	assert.Equal(t, http.StatusOK, code, "ready: side A is in service")

	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	assert.Equal(t, []string{
		"Cisco/Connection/OpenConnection", "Cisco/Connection/SetConnectionStatus", "Cisco/Agent/SetAgentState",
		"Cisco/Agent/Login", "Cisco/General/GetAppState", "Cisco/Call/CallsStateChange", "Cisco/Media/SetMRDList",
		"Cisco/Media/GetMedia", "Cisco/General/SetSystemInfo", "Cisco/Media/SetMappedMRD", "Cisco/Media/Map",
		"Cisco/Agent/SetLogOutReasonCodes", "Cisco/Agent/SetNotReadyReasonCodes", "Cisco/Agent/SetPhoneBook",
		"Cisco/Agent/SetWrapupCode", "PubSub/Workspace/Token",
	}, signInOverTheBus(t, c), "the 15 events of a sign-in, built from Finesse's objects, then the token")
	login, ok := p.Log.Find(finessetest.IsLogin("100501"))
	require.True(t, ok, "the LOGIN went to Finesse")
	assert.Equal(t, finessetest.DomainA, login.Side)

	c.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	f := c.Expect("Cisco/Agent/SetAgentState")
	assert.Equal(t, "ready", f.CorrelationID)
	assert.Contains(t, string(f.Message), `"READY"`)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Sim.Ring(ctx, "100501", sim.IncomingCall{From: "4085551234"})
	require.NoError(t, err)
	f = c.Next()
	for f.Subtopic != "CallsStateChange" || !strings.Contains(string(f.Message), "ALERTING") {
		f = c.Next()
	}
	var calls struct {
		Calls []struct {
			ID string `json:"id"`
		} `json:"calls"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &calls))
	require.Len(t, calls.Calls, 1)
	c.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": calls.Calls[0].ID})
	f = c.Next()
	for f.Subtopic != "CallsStateChange" || !strings.Contains(string(f.Message), `"ACTIVE"`) {
		f = c.Next()
	}
	assert.Equal(t, "ACTIVE/ACTIVE", callStates(t, f, "1001"), "the call answered through Finesse")

	// A transfer to a busy number: Finesse takes it up (202), and the
	// switch refuses it later, in an apiErrors notification.
	c.Request("sst", "Cisco", "InboundCall", "SetTRANSFER_SST", map[string]string{"CallID": calls.Calls[0].ID, "toAddress": "4085550000"})
	f = c.Next()
	for f.Topic != "Error" {
		f = c.Next()
	}
	got := f.Error(t)
	assert.Equal(t, "Call Operation Failure", got.ErrorType)
	assert.Equal(t, "sst", f.CorrelationID)
	assert.NotEmpty(t, got.Msg)
	assert.NotContains(t, s.Logs.String(), "test@123", "a password is in a log line")
	_, metrics := get(t, s.URL+"/metrics")
	assert.Contains(t, metrics, "ctibus_finesse_unreadable_notifications_total 0")
}

func TestFinesseWrongPasswordLockout(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	s := startFinesseServer(t, p)
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	for i := range maxFinesseLockoutAttempts {
		id := "wrong-" + string(rune('1'+i))
		c.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "nope", "extension": "1001"})
		c.ExpectError("Cisco", "Authorization Failure", id)
	}
	c.Request("right", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "test@123", "extension": "1001"})
	c.ExpectError("Cisco", "Account Locked", "right")
	assert.Equal(t, maxFinesseLockoutAttempts, p.A.Unauthorized()+p.B.Unauthorized(),
		"Finesse saw each wrong password once and no more: it never locked the real account")
	assert.NotContains(t, s.Logs.String(), "nope", "a password is in a log line")
}

func TestFinesseUnreachableAtStart(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	p.A.Down()
	p.B.Down()
	s := startFinesseServer(t, p)
	code, body := get(t, s.URL+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "Finesse")
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	c.Request("login", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "test@123", "extension": "1001"})
	c.ExpectError("Cisco", "Unavailable", "login")
	require.NoError(t, p.A.Up())
	require.Eventually(t, func() bool { code, _ := get(t, s.URL+"/readyz"); return code == http.StatusOK }, 30*time.Second, 20*time.Millisecond,
		"ready once side A is back in service")
}

func TestFinesseLinkDownAndBack(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	s := startFinesseServer(t, p)
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	signInOverTheBus(t, c)
	p.XMPP.Proxy(finessetest.DomainA).Drop()
	var got []string
	for len(got) < 2 {
		f := c.Next()
		if f.Triple() != "Cisco/Connection/SetConnectionStatus" {
			continue
		}
		var m struct {
			Status string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(f.Message, &m))
		got = append(got, m.Status)
	}
	assert.Equal(t, []string{"disconnected", "connected"}, got, "the agent's link to Finesse went down and came back")
}

// Finesse refuses a device after it took the LOGIN up (202, then an
// apiErrors update); the simulator refuses it itself. Apps see the same on
// both: one Cisco/Error/SetAPIError, after the request and with its id, to
// the connection that asked alone, whose sign-in joined nothing; the
// agent's desktop, signed in elsewhere, hears nothing of it.
func TestInvalidDeviceLooksTheSameOnBothConnectors(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	tests := []struct {
		name string
		url  string
		ext  string // ciscotest's own extension there
	}{
		{"simulator", startServer(t, nil).URL, "5064"},
		{"finesse", startFinesseServer(t, p).URL, "1001"},
	}
	var got []brokertest.APIError
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desk := brokertest.Dial(t, brokertest.WSURL(tt.url))
			desk.Register("softphone", "Cisco")
			signInOn(t, desk, "login", "ciscotest", "test@123", tt.ext)

			other := brokertest.Dial(t, brokertest.WSURL(tt.url))
			other.Register("softphone", "Cisco")
			other.Request("bad", "Cisco", "Agent", "SetUserInfo",
				map[string]string{"username": "ciscotest", "password": "test@123", "extension": "50a7"})
			f := other.Next()
			assert.Equal(t, "bad", f.CorrelationID)
			e := f.Error(t)
			assert.Equal(t, "Invalid Device", e.ErrorType)
			got = append(got, brokertest.APIError{ErrorType: e.ErrorType, ErrorMessage: e.ErrorMessage, ErrorData: e.ErrorData})
			other.ExpectNothingQueued()
			other.Request("state", "Cisco", "Agent", "GetAgentState", nil)
			other.ExpectError("Cisco", "Invalid State", "state")
			desk.ExpectNothingQueued()
		})
	}
	require.Len(t, got, 2)
	assert.Equal(t, got[0], got[1], "the simulator and Finesse give apps the same error")
	assert.Equal(t, brokertest.APIError{ErrorType: "Invalid Device", ErrorMessage: "CF_INVALID_LOGON_DEVICE_SPECIFIED", ErrorData: "260"}, got[0])
}
