package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/docs/contract"
	"github.com/ctibus/ctibus/handlers"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/session"
)

// adminSnapshot is the part of a snapshot the tests read; the contract
// checks the whole.
type adminSnapshot struct {
	Node   string `json:"node"`
	At     string `json:"at"`
	Agents []struct {
		LoginID        string `json:"loginId"`
		Name           string `json:"name"`
		State          string `json:"state"`
		Reason         string `json:"reason"`
		SecondsInState *int64 `json:"secondsInState"`
		Extension      string `json:"extension"`
		TeamID         string `json:"teamId"`
		Apps           int    `json:"apps"`
		Nodes          []struct {
			Node string `json:"node"`
			Apps int    `json:"apps"`
		} `json:"nodes"`
	} `json:"agents"`
	AgentsTotal int `json:"agentsTotal"`
	Teams       []struct {
		TeamID          string         `json:"teamId"`
		Agents          int            `json:"agents"`
		States          map[string]int `json:"states"`
		LongestNotReady *struct {
			LoginID string `json:"loginId"`
			Seconds int64  `json:"seconds"`
		} `json:"longestNotReady"`
	} `json:"teams"`
	Rates struct {
		Connections []int `json:"connections"`
	} `json:"rates"`
	Lockouts struct {
		Agents []struct {
			Name string `json:"name"`
		} `json:"agents"`
		Apps []struct {
			Name string `json:"name"`
		} `json:"apps"`
		UnknownNames int `json:"unknownNames"`
	} `json:"lockouts"`
	Cluster any `json:"cluster"`
}

// startAdmin serves the operator's view of e's bus, its sampler running,
// and returns the snapshot's URL.
func startAdmin(t *testing.T, e *env, cfg handlers.AdminConfig) string {
	t.Helper()
	a := handlers.NewAdmin(e.h, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	srv := httptest.NewServer(a.SnapshotAPI())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return srv.URL + "/api/admin/snapshot"
}

// getSnapshot sends a request to the snapshot and returns the status and
// body of the answer, which the OpenAPI document must describe.
func getSnapshot(t *testing.T, method, url string, prepare func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if prepare != nil {
		prepare(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	doc, err := contract.DefaultHTTP()
	require.NoError(t, err)
	assert.NoError(t, doc.CheckResponse("GET", "/api/admin/snapshot", resp.StatusCode, body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "no challenge a browser would answer and cache")
	if resp.StatusCode == http.StatusOK {
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	}
	return resp.StatusCode, string(body)
}

func TestAdminSnapshotRefusesAllButAdmins(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	url := startAdmin(t, e, handlers.AdminConfig{})
	with := func(fs ...func(*http.Request)) func(*http.Request) {
		return func(r *http.Request) {
			for _, f := range fs {
				f(r)
			}
		}
	}
	origin := func(o string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Origin", o) } }

	tests := []struct {
		name      string
		method    string
		prepare   func(*http.Request)
		want      int
		wantError string
	}{
		{"no credential", http.MethodGet, nil, http.StatusUnauthorized, "unauthorized"},
		{"a wrong secret", http.MethodGet, basic("ops", "not-the-secret"), http.StatusUnauthorized, "unauthorized"},
		{"an unknown app", http.MethodGet, basic("nobody", "ops-secret"), http.StatusUnauthorized, "unauthorized"},
		{"a forged JWT", http.MethodGet, bearer(apps.hs256(t, "ops", time.Now().Add(time.Hour), make([]byte, 32))), http.StatusUnauthorized, "unauthorized"},
		{"an app without the grant, by secret", http.MethodGet, basic("wallboard", "wall-secret"), http.StatusForbidden, "forbidden"},
		{"an app without the grant, by JWT", http.MethodGet, bearer(apps.rs256(t, "recorder", time.Now().Add(time.Hour))), http.StatusForbidden, "forbidden"},
		{"an admin from a page of another site", http.MethodGet, with(basic("ops", "ops-secret"), origin("https://evil.example")), http.StatusForbidden, "forbidden"},
		{"an admin posting", http.MethodPost, basic("ops", "ops-secret"), http.StatusMethodNotAllowed, "method_not_allowed"},
		{"an admin", http.MethodGet, basic("ops", "ops-secret"), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := getSnapshot(t, tt.method, url, tt.prepare)
			assert.Equal(t, tt.want, status, body)
			var refusal struct {
				Error string `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &refusal))
			assert.Equal(t, tt.wantError, refusal.Error)
		})
	}
}

// awaitSnapshot polls the admin's snapshot until ok accepts it: the
// sampler reads the agents signed in as it starts, which may be after the
// test signed them in.
func awaitSnapshot(t *testing.T, url, what string, ok func(adminSnapshot) bool) adminSnapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := getSnapshot(t, http.MethodGet, url, basic("ops", "ops-secret"))
		require.Equal(t, http.StatusOK, status, body)
		var s adminSnapshot
		require.NoError(t, json.Unmarshal([]byte(body), &s))
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "the snapshot never showed "+what, "last: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdminSnapshotShowsAgentsTeamsAndLockouts: the view lists the agents
// signed in, at most MaxAgents of them, with their state and time in it;
// the wallboard counts them all, team by team; locked accounts are named
// if they are an agent's or an app's, and only counted otherwise; no
// password, secret or token is in it.
func TestAdminSnapshotShowsAgentsTeamsAndLockouts(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	url := startAdmin(t, e, handlers.AdminConfig{
		Node: "n1", MaxAgents: 2, Agents: []string{"100501", "102312778", "100503", "100600", "100700"},
	})
	snapshot := func(t *testing.T) adminSnapshot {
		t.Helper()
		status, body := getSnapshot(t, http.MethodGet, url, basic("ops", "ops-secret"))
		require.Equal(t, http.StatusOK, status, body)
		var s adminSnapshot
		require.NoError(t, json.Unmarshal([]byte(body), &s))
		return s
	}

	p := e.desktop(t, "p-phone")
	pToken := token(t, p, "102312778", "5069")
	p.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	p.Next()
	b := e.desktop(t, "b-phone")
	login(t, b, "b", "jdoe", "6123")
	e.clock.Advance(60 * time.Second)
	a := e.desktop(t, "a-phone")
	login(t, a, "a", "ciscotest", "5064")
	a.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
	a.Next()
	e.clock.Advance(30 * time.Second)

	s := awaitSnapshot(t, url, "the three agents", func(s adminSnapshot) bool { return s.AgentsTotal == 3 })
	assert.Equal(t, "n1", s.Node)
	require.Len(t, s.Agents, 2, "at most MaxAgents are listed")
	ag := s.Agents[0]
	assert.Equal(t, []string{"100501", "Cisco Test", "NOT_READY", "5064", "5004"}, []string{ag.LoginID, ag.Name, ag.State, ag.Extension, ag.TeamID})
	assert.NotEmpty(t, ag.Reason)
	require.NotNil(t, ag.SecondsInState)
	assert.Equal(t, int64(30), *ag.SecondsInState)
	assert.Equal(t, 1, ag.Apps)
	require.Len(t, ag.Nodes, 1)
	assert.Equal(t, "n1", ag.Nodes[0].Node)
	assert.Equal(t, "100503", s.Agents[1].LoginID)
	require.Len(t, s.Teams, 2)
	assert.Equal(t, "5004", s.Teams[0].TeamID)
	assert.Equal(t, map[string]int{"NOT_READY": 1, "READY": 1}, s.Teams[0].States, "the wallboard counts the agent not listed")
	require.NotNil(t, s.Teams[0].LongestNotReady)
	assert.Equal(t, "100501", s.Teams[0].LongestNotReady.LoginID)
	assert.Equal(t, "5005", s.Teams[1].TeamID)
	require.NotNil(t, s.Teams[1].LongestNotReady)
	assert.Equal(t, int64(90), s.Teams[1].LongestNotReady.Seconds, "jdoe, NOT_READY since sign-in")
	assert.Nil(t, s.Cluster, "a node alone")
	assert.LessOrEqual(t, len(s.Rates.Connections), 900)

	// A state change shows in the next snapshot: the roster follows the
	// contact center's notifications, delivered before the request returns.
	a.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	a.Next()
	assert.Equal(t, "READY", snapshot(t).Agents[0].State)
	a.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	a.Next()
	a.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	a.Expect("Cisco/Agent/SetAgentState")
	assert.Equal(t, 2, snapshot(t).AgentsTotal, "a signed-out agent leaves the view")

	// Lock an agent's account, a name that is nobody's, and an app.
	c := e.desktop(t, "guesser")
	for i := range 5 {
		for _, name := range []string{"other", "nobody-at-all"} {
			signIn(c, "g", name, "wrong", "5099")
			c.Next()
		}
		status, _ := getSnapshot(t, http.MethodGet, url, basic("wallboard", "wrong"))
		require.Equal(t, http.StatusUnauthorized, status, "attempt %d", i)
	}
	s = snapshot(t)
	require.Len(t, s.Lockouts.Agents, 1)
	assert.Equal(t, "100700", s.Lockouts.Agents[0].Name)
	require.Len(t, s.Lockouts.Apps, 1)
	assert.Equal(t, "wallboard", s.Lockouts.Apps[0].Name)
	assert.Equal(t, 1, s.Lockouts.UnknownNames, "counted, never named")

	_, body := getSnapshot(t, http.MethodGet, url, basic("ops", "ops-secret"))
	for _, secret := range []string{pToken, "wrong", "nobody-at-all", "ops-secret", "wall-secret", passwords["ciscotest"], passwords["jdoe"], passwords["102312778"]} {
		assert.NotContains(t, body, secret)
	}
}

// TestAdminSnapshotIsBounded: however many agents sign in, a snapshot
// lists at most MaxAgents; its samples are bounded by the ring.
func TestAdminSnapshotIsBounded(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	url := startAdmin(t, e, handlers.AdminConfig{MaxAgents: 1})
	for _, u := range []struct{ name, ext string }{{"ciscotest", "5064"}, {"jdoe", "6123"}, {"other", "5070"}} {
		login(t, e.desktop(t, u.name), "in", u.name, u.ext)
	}
	s := awaitSnapshot(t, url, "the three agents", func(s adminSnapshot) bool { return s.AgentsTotal == 3 })
	assert.Len(t, s.Agents, 1)
	total := 0
	for _, team := range s.Teams {
		total += team.Agents
	}
	assert.Equal(t, 3, total, "the wallboard counts every agent")
}

// TestAdminSnapshotCountsConnections: the sampler records the
// connections open each second.
func TestAdminSnapshotCountsConnections(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	url := startAdmin(t, e, handlers.AdminConfig{})
	for range 3 {
		brokertest.Dial(t, e.url)
	}
	awaitSnapshot(t, url, "a sample with three connections", func(s adminSnapshot) bool {
		n := len(s.Rates.Connections)
		return n > 0 && s.Rates.Connections[n-1] == 3
	})
}
