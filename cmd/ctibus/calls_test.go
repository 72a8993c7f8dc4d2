package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// callStates decodes a CallsStateChange into "dialog state/participant
// state" of the participant on ext.
func callStates(t *testing.T, f brokertest.Frame, ext string) string {
	t.Helper()
	require.Equal(t, "Cisco/Call/CallsStateChange", f.Triple(), "frame %s", f.Raw)
	var m struct {
		Calls []struct {
			State        string `json:"state"`
			Participants []struct {
				MediaAddress string `json:"mediaAddress"`
				State        string `json:"state"`
			} `json:"participants"`
		} `json:"calls"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m))
	require.Len(t, m.Calls, 1)
	for _, p := range m.Calls[0].Participants {
		if p.MediaAddress == ext {
			return m.Calls[0].State + "/" + p.State
		}
	}
	return m.Calls[0].State + "/"
}

func TestScenarioRingsASignedInAgent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "scenario.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"loop": true, "calls": [
		{"after": "20ms", "agent": "100501", "from": "4085551234", "callVariables": {"callVariable1": "ACC-42"}}
	]}`), 0o600))
	s := startServer(t, map[string]string{"CTIBUS_SIM_SCENARIO": path}, "-sim-ring-timeout", "1h")
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	c.Request("login", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "test@123", "extension": "5064"})
	// The player may ring as soon as the agent has joined its workspace,
	// before the sign-in's last events: read until the call arrives.
	f := c.Next()
	for f.Subtopic != "CallsStateChange" || !strings.Contains(string(f.Message), "ALERTING") {
		f = c.Next()
	}
	assert.Equal(t, "ALERTING/ALERTING", callStates(t, f, "5064"))
	assert.Contains(t, string(f.Message), "ACC-42")
	assert.Contains(t, s.Logs.String(), "simulator scenario loaded")

	require.NoError(t, s.Stop(), "the player stops with the server")
	assert.NotContains(t, s.Logs.String(), "4085551234", "a caller's number is in a log line")
}

func TestOutsideNumberAnswersAfterTheConfiguredDelay(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "-sim-answer-delay", "10ms")
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	c.Request("login", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "test@123", "extension": "5064"})
	for range 16 {
		c.Next()
	}
	c.Request("dial", "Cisco", "InboundCall", "SetMakeCall", map[string]string{"ToAddress ": "4085551234"})
	var got []string
	for len(got) < 4 {
		if f := c.Next(); f.Subtopic == "CallsStateChange" {
			got = append(got, callStates(t, f, "5064"))
		} else {
			got = append(got, f.Subtopic)
		}
	}
	assert.Equal(t, []string{"INITIATED/INITIATED", "SetAgentState", "ALERTING/INITIATED", "ACTIVE/ACTIVE"}, got)
}

func TestBadScenarioFileStopsTheServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scenario.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"calls": [{"after": "soon", "agent": "100501", "from": "4085551234"}]}`), 0o600))
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-sim-scenario", path},
		func(string) string { return "" }, nil, nil, &strings.Builder{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-sim-scenario")
	assert.Contains(t, err.Error(), "calls[0].after")
}

func TestSimulatorFlags(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), []string{"-h"}, func(string) string { return "" }, nil, nil, &out))
	for _, name := range []string{"sim-answer-delay", "sim-ring-timeout", "sim-scenario", "sim-on-disconnect"} {
		assert.Contains(t, out.String(), "-"+name+" ")
		assert.Contains(t, out.String(), "(env "+envName(name)+")")
	}
	cfg, err := parseConfig(nil, func(k string) string {
		return map[string]string{"CTIBUS_SIM_ANSWER_DELAY": "3s", "CTIBUS_SIM_RING_TIMEOUT": "9s"}[k]
	}, &out)
	require.NoError(t, err)
	assert.Equal(t, []string{"3s", "9s"}, []string{cfg.simAnswerDelay.String(), cfg.simRingTimeout.String()})
	err = run(t.Context(), []string{"-sim-ring-timeout", "0s"}, func(string) string { return "" }, nil, nil, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-sim-ring-timeout must be positive")
	assert.Equal(t, "not-ready", cfg.simOnDisconnect, "CCE's default")
	err = run(t.Context(), []string{"-sim-on-disconnect", "hangup"}, func(string) string { return "" }, nil, nil, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `-sim-on-disconnect "hangup": use not-ready or logout`)
}

// The demo contact center has phones 5000 to 6999; any other extension is
// not a device of it, and Finesse answers Invalid Device.
func TestDemoExtensionsAreDevices(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tests := []struct {
		give      string
		wantError string // "" for a sign-in
	}{
		{give: "4999", wantError: "Invalid Device"},
		{give: "7000", wantError: "Invalid Device"},
		{give: "50640", wantError: "Invalid Device"},
		{give: "5000"},
		{give: "6999"},
	}
	for i, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c := brokertest.Dial(t, brokertest.WSURL(s.URL))
			c.Register("softphone", "Cisco")
			users := []string{"ciscotest", "jdoe"}
			passwords := map[string]string{"ciscotest": "test@123", "jdoe": "agent@3"}
			user := users[i%2]
			c.Request("l", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": user, "password": passwords[user], "extension": tt.give})
			if tt.wantError == "" {
				c.Expect("Cisco/Connection/OpenConnection")
				return
			}
			got := c.ExpectError("Cisco", tt.wantError, "l")
			assert.Equal(t, "CF_INVALID_LOGON_DEVICE_SPECIFIED", got.ErrorMessage)
			assert.Contains(t, got.Msg, "5000-6999", "the error says which phones there are")
		})
	}
}
