package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

// TestMain writes demoAgents for the servers of the tests, and checks that
// no test leaves a goroutine behind.
//
// The tests that mostly wait (for a lease, a timer, NATS or the browser)
// run in parallel with each other: one after the other, the package would
// take minutes under -race on a busy machine, and -count=3 would run out
// of go test's ten minutes. The others, and those that measure the server
// (TestConnectionsThatStopReadingCannotGrowTheServer), run alone.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctibus-test-")
	if err == nil {
		demoAgents, err = writeCheapDemo(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctibus tests:", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// demoAgents is the file of the demo directory with its passwords hashed
// at bcrypt.MinCost: the same agents, passwords, teams, codes and phones,
// but a sign-in that costs a millisecond, not most of a second of CPU
// under -race. Every server the tests start uses it, unless the test
// passes -agents or CTIBUS_AGENTS itself ("-agents", "" for the demo
// directory itself).
var demoAgents string

// writeCheapDemo writes demoAgents into dir, from the demo directory's
// source and ciscotest's passwords of its agents.
func writeCheapDemo(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "..", "channels", "cisco", "sim", "demo.json"))
	if err != nil {
		return "", err
	}
	var demo sim.DirectoryFile
	if err := json.Unmarshal(b, &demo); err != nil {
		return "", err
	}
	passwords := map[string]string{}
	for _, a := range ciscotest.Agents() {
		passwords[a.LoginID] = a.Password
	}
	for i, a := range demo.Agents {
		password, ok := passwords[a.LoginID]
		if !ok {
			return "", fmt.Errorf("demo agent %s: ciscotest.Agents does not know its password", a.LoginID)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			return "", err
		}
		demo.Agents[i].PasswordHash = string(hash)
	}
	if b, err = json.Marshal(demo); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "demo-agents.json")
	return path, os.WriteFile(path, b, 0o600)
}

// withCheapDemo adds -agents demoAgents to args, unless they or env name
// an agents file.
func withCheapDemo(args []string, env map[string]string) []string {
	// A Finesse contact center has its own agents: -agents is refused with -cti finesse.
	if slices.Contains(args, "-agents") || env["CTIBUS_AGENTS"] != "" ||
		slices.Contains(args, "finesse") || env["CTIBUS_CTI"] == "finesse" {
		return args
	}
	return append([]string{"-agents", demoAgents}, args...)
}

// syncBuffer collects the server's log lines; run writes them from its goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is ctibus started through run, as the binary starts it.
type server struct {
	URL  string // http://127.0.0.1:port
	Logs *syncBuffer
	stop context.CancelFunc
	done chan struct{} // closed when run has returned err
	err  error
}

// Stop sends the equivalent of SIGTERM and returns run's result.
func (s *server) Stop() error {
	s.stop()
	<-s.done
	return s.err
}

// startServer runs ctibus on a free port with args added, and stops it when
// the test ends.
func startServer(t testing.TB, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	s := &server{Logs: logs, stop: cancel, done: make(chan struct{})}
	getenv := func(k string) string { return env[k] }
	args = withCheapDemo(args, env)
	go func() {
		defer close(s.done)
		s.err = run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), io.Discard, logs)
	}()

	require.Eventually(t, func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "ctibus listening" {
				s.URL = "http://" + entry.Addr
				return true
			}
		}
		return false
	}, brokertest.Wait, 5*time.Millisecond, "the server did not start: %s", logs)
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(brokertest.Wait):
			t.Error("the server did not stop")
		}
	})
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestServesHealthReadinessAndThePage(t *testing.T) {
	s := startServer(t, nil, "-agents", "")
	code, body := get(t, s.URL+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, _ = get(t, s.URL+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	code, body = get(t, s.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "ctibus")

	logs := s.Logs.String()
	assert.Contains(t, logs, "BUILT-IN DEMO DIRECTORY")
	assert.Contains(t, logs, `Demo agents`)
	assert.Equal(t, 1, strings.Count(logs, "ctibus listening"))
}

func TestDemoAgentSignsInThroughTheBinary(t *testing.T) {
	s := startServer(t, nil, "-agents", "", "-log-level", "debug")
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	c.Request("login", "Cisco", "Agent", "SetUserInfo",
		map[string]string{"username": "ciscotest", "password": "test@123", "extension": "5064"})
	var subtopics []string
	for range 15 {
		subtopics = append(subtopics, c.Next().Subtopic)
	}
	assert.Equal(t, "SetAgentState", subtopics[2])
	assert.Equal(t, "SetWrapupCode", subtopics[14])
	assert.NotContains(t, s.Logs.String(), "test@123", "the password is in a log line")
}

func TestShutdownDrainsAndClosesWith1001(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")

	require.NoError(t, s.Stop(), "a drain exits cleanly")
	assert.Equal(t, websocket.CloseGoingAway, c.ExpectClose())
	assert.Contains(t, s.Logs.String(), `"draining"`)
	assert.Contains(t, s.Logs.String(), `"stopped"`)
}

func TestFlagsAndTheirEnvironmentTwins(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-h"}, func(string) string { return "" }, nil, io.Discard, &out))
	usage := out.String()
	for _, name := range []string{"addr", "allowed-origins", "read-limit", "send-queue", "max-connections", "max-subscriptions",
		"drain-timeout", "agents", "lockout-attempts", "lockout-duration", "grace-period", "apps", "token-ttl",
		"rate-limit", "rate-burst", "max-connections-per-ip", "login-attempts-per-ip", "trusted-proxies",
		"sim-answer-delay", "sim-ring-timeout", "sim-scenario", "log-level", "log-format",
		"nats", "nats-embedded", "nats-listen", "nats-store", "nats-prefix", "nats-lease", "node",
		"send-queue-bytes", "max-channels", "register-timeout", "rate-limit-bytes", "rate-burst-bytes",
		"http-idle-timeout", "http-read-timeout", "pprof-addr"} {
		assert.Regexp(t, "\n  -"+regexp.QuoteMeta(name)+"[ \n]", usage, "flag %s is listed", name)
		assert.Contains(t, usage, "(env "+envName(name)+")", "flag %s names its environment twin", name)
	}
	assert.Contains(t, usage, `(default "127.0.0.1:8080")`)
	assert.Contains(t, usage, "-register-timeout duration\n", "pinned name")
	assert.Contains(t, usage, "(default 30s)")

	defaults, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, defaults.registerTimeout, "pinned: -register-timeout 30s")
	assert.Equal(t, 1<<20, defaults.sendQueueBytes)
	assert.Equal(t, 2000, defaults.maxConnsPerIP, "pinned in the README: a floor behind one NAT address")
	assert.Equal(t, 600, defaults.loginsPerIP, "pinned in the README: a floor behind one NAT address")

	env := map[string]string{"CTIBUS_LOCKOUT_ATTEMPTS": "2", "CTIBUS_SEND_QUEUE": "64"}
	cfg, err := parseConfig([]string{"-send-queue", "128"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 2, cfg.lockoutAttempts, "taken from the environment")
	assert.Equal(t, 128, cfg.sendQueue, "the command line wins")

	tests := []struct {
		args   []string
		env    map[string]string
		wantIn string
	}{
		{[]string{"-send-queue", "4"}, nil, "at least 16"},
		{[]string{"-log-format", "xml"}, nil, "want json or console"},
		{[]string{"-grace-period", "0s"}, nil, "-grace-period must be positive"},
		{nil, map[string]string{"CTIBUS_READ_LIMIT": "lots"}, "CTIBUS_READ_LIMIT"},
		{[]string{"stray"}, nil, `unexpected argument "stray"`},
		{[]string{"-log-level", "loud"}, nil, "-log-level"},
		{[]string{"-trusted-proxies", "10.0.0.1,proxy.example"}, nil, `"proxy.example" is neither`},
		{[]string{"-rate-limit", "0"}, nil, "-rate-limit must be positive"},
		{[]string{"-max-connections-per-ip", "-1"}, nil, "0 (no cap) or more"},
		{[]string{"-rate-burst-bytes", "1000"}, nil, "-rate-burst-bytes must be at least -read-limit"},
		{[]string{"-register-timeout", "0s"}, nil, "-register-timeout must be positive"},
		{[]string{"-send-queue-bytes", "0"}, nil, "-send-queue-bytes must be positive"},
		{[]string{"-nats", "nats://127.0.0.1:4222", "-nats-embedded"}, nil, "exclude each other"},
		{[]string{"-nats-prefix", "a.b"}, nil, "-nats-prefix"},
		{[]string{"-node", "node 1"}, nil, "-node"},
		{[]string{"-nats-embedded", "-nats-listen", "4222"}, nil, "want host:port"},
		{[]string{"-nats-lease", "0s"}, nil, "-nats-lease must be positive"},
		{[]string{"-password-check-wait", "1m"}, nil, "-password-check-wait must be at most 20s"},
		{[]string{"-password-checks", "-1"}, nil, "-password-checks must be 0 (the number of CPUs) or more"},
		{[]string{"-tokens-per-agent", "0"}, nil, "-tokens-per-agent must be positive"},
		{[]string{"-jwt-max-lifetime", "0s"}, nil, "-jwt-max-lifetime must be positive"},
		{nil, map[string]string{"CTIBUS_NATS": "nats://127.0.0.1:1"}, "connect to NATS"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, nil, io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantIn)
		})
	}
}

func TestBadAgentsFileStopsTheServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"teams":[{"id":"1","name":"A"}],
"agents":[{"loginId":"7","loginName":"a","firstName":"A","lastName":"B","passwordHash":"plain-text","teamId":"1"}]}`), 0o600))
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-agents", path},
		func(string) string { return "" }, nil, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agents[0].passwordHash")
	assert.Contains(t, err.Error(), "hash-password")
}

func TestHashPasswordAndAnAgentsFile(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"hash-password"}, func(string) string { return "" },
		strings.NewReader("s3cret!\n"), &out, io.Discard))
	hash := strings.TrimSpace(out.String())
	assert.True(t, strings.HasPrefix(hash, "$2"), "a bcrypt hash: %q", hash)
	assert.NotContains(t, hash, "s3cret!")

	err := run(context.Background(), []string{"hash-password"}, func(string) string { return "" },
		strings.NewReader(""), io.Discard, io.Discard)
	require.Error(t, err)

	path := filepath.Join(t.TempDir(), "agents.json")
	file := `{"teams":[{"id":"9001","name":"Night"}],
"agents":[{"loginId":"900001","loginName":"night1","firstName":"Nia","lastName":"Night","passwordHash":"` + hash + `","teamId":"9001"}]}`
	require.NoError(t, os.WriteFile(path, []byte(file), 0o600))
	s := startServer(t, map[string]string{"CTIBUS_AGENTS": path})
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	c.Request("l", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "night1", "password": "s3cret!", "extension": "7001"})
	c.Expect("Cisco/Connection/OpenConnection")
	assert.NotContains(t, s.Logs.String(), "BUILT-IN DEMO DIRECTORY")
	scanner := bufio.NewScanner(strings.NewReader(s.Logs.String()))
	for scanner.Scan() {
		assert.NotContains(t, scanner.Text(), "s3cret!")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	c.Request("bad", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "nope", "extension": "5064"})
	c.Expect("Cisco/Error/SetAPIError")
	c.Request("ok", "cisco", "AGENT", "setuserinfo", map[string]string{"username": "ciscotest", "password": "test@123", "extension": "5064"})
	for range 16 { // the 15 events and the workspace token
		c.Next()
	}

	// A handler's time is recorded once it returns, which may be after its
	// last frame arrived.
	var body string
	require.Eventually(t, func() bool {
		_, body = get(t, s.URL+"/metrics")
		return strings.Contains(body, `ctibus_handler_duration_seconds_count{api="Cisco/Agent/SetUserInfo"} 2`)
	}, brokertest.Wait, 10*time.Millisecond)
	for _, want := range []string{
		"ctibus_connections_open 1",
		`ctibus_logins_total{result="ok"} 1`,
		`ctibus_logins_total{result="failed"} 1`,
		`ctibus_logins_total{result="locked"} 0`,
		`ctibus_logins_total{result="busy"} 0`,
		"ctibus_lockouts_active 0",
		`ctibus_frames_in_total{channel="Cisco"} 2`,
		`ctibus_frames_in_total{channel="PubSub"} 1`,
		`ctibus_handler_duration_seconds_count{api="Cisco/Agent/SetUserInfo"} 2`,
		"ctibus_slow_consumer_disconnects_total 0",
		"go_goroutines",
	} {
		assert.Contains(t, body, want)
	}
}

func TestBadAppsFileStopsTheServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"apps":[{"name":"crm","secretHash":"hunter2","grants":{}}]}`), 0o600))
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-apps", path},
		func(string) string { return "" }, nil, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apps[0].secretHash")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestTokensPerAgentFlag(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "-tokens-per-agent", "1")
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register("softphone", "Cisco")
	var tokens []string
	for _, id := range []string{"first", "second"} {
		c.Request(id, "Cisco", "Agent", "SetUserInfo",
			map[string]string{"username": "ciscotest", "password": "test@123", "extension": "5064"})
		for f := c.Next(); ; f = c.Next() {
			if f.Triple() == "PubSub/Workspace/Token" {
				var p struct{ Token string }
				require.NoError(t, json.Unmarshal(f.Message, &p))
				tokens = append(tokens, p.Token)
				break
			}
		}
	}
	for i, want := range []string{"PubSub/Error/SetAPIError", "PubSub/App/Registered"} {
		app := brokertest.Dial(t, brokertest.WSURL(s.URL))
		app.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "crm",
			"data": map[string]string{"token": tokens[i]}})
		assert.Equal(t, want, app.Next().Triple(), "token %d of 2", i+1)
	}
}
