package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/handlers/handlerstest"
)

// node is one address of a test server, as one node of a cluster.
type node struct {
	addr  string
	conns atomic.Int64 // WebSocket connections it has been asked for
}

// startServer serves the real broker and Cisco channel, wired as
// cmd/ctibus wires them, with a directory of agents at bcrypt's lowest
// cost, on as many addresses as nodes. One broker behind several
// addresses acts as a cluster whose nodes share one bus and one Cisco
// channel.
func startServer(tb testing.TB, agents, nodes int) []*node {
	tb.Helper()
	return startServerWith(tb, broker.Config{RateLimit: 1e6, RateBurst: 1_000_000, RateBytes: 1e12, RateBytesBurst: 1 << 40, MaxConnections: 100_000}, agents, nodes)
}

// startServerWith is startServer with the broker's settings.
func startServerWith(tb testing.TB, cfg broker.Config, agents, nodes int) []*node {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "agents.json")
	require.NoError(tb, writeAgentsFile(path, agents, bcrypt.MinCost))
	dir, err := sim.LoadDirectoryFile(path)
	require.NoError(tb, err)
	bus := broker.New(zap.NewNop(), cfg)
	handlerstest.Wire(tb, bus, sim.New(dir, sim.Config{}), zap.NewNop(), handlerstest.Config{})
	var servers []*httptest.Server
	var out []*node
	for range nodes {
		n := &node{}
		mux := http.NewServeMux()
		mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			n.conns.Add(1)
			bus.ServeHTTP(w, r)
		})
		srv := httptest.NewServer(mux)
		n.addr = strings.TrimPrefix(srv.URL, "http://")
		servers = append(servers, srv)
		out = append(out, n)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(tb, bus.Shutdown(ctx))
		for _, srv := range servers {
			srv.Close()
		}
	})
	return out
}

// runLine runs ctibench with args against the nodes, with this process
// as each node's for /proc, and returns its result line, parsed.
func runLine(t *testing.T, nodes []*node, args ...string) map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(append(nodeArgs(nodes), "-quiet"), args...)
	require.NoError(t, run(context.Background(), args, &stdout, &stderr), stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 1, stdout.String())
	got, err := parseLine(lines[0])
	require.NoError(t, err)
	return got
}

// nodeArgs is -addr and -pid for the nodes, with this process as each
// node's for /proc.
func nodeArgs(nodes []*node) []string {
	var addrs, pids []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
		pids = append(pids, strconv.Itoa(os.Getpid()))
	}
	return []string{"-addr", strings.Join(addrs, ","), "-pid", strings.Join(pids, ",")}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "want an integer, got %q", s)
	return n
}

func TestScenarios(t *testing.T) {
	nodes := startServer(t, 8, 1)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, got map[string]string)
	}{
		{
			name: "connect",
			args: []string{"-scenario", "connect", "-conns", "20", "-settle", "10ms"},
			check: func(t *testing.T, got map[string]string) {
				assert.Equal(t, "20", got["opened"])
				assert.Equal(t, "0", got["errors"])
				assert.Contains(t, got, "rss_per_conn_kb")
				assert.Contains(t, got, "setup_p99_ms")
			},
		},
		{
			name: "connect, register and subscribe",
			args: []string{"-scenario", "connect", "-conns", "20", "-settle", "10ms", "-subscribe"},
			check: func(t *testing.T, got map[string]string) {
				assert.Equal(t, "true", got["subscribe"])
				assert.Equal(t, "20", got["opened"])
				assert.Equal(t, "0", got["errors"])
			},
		},
		{
			name: "fanout",
			args: []string{"-scenario", "fanout", "-conns", "5", "-rate", "200", "-duration", "300ms"},
			check: func(t *testing.T, got map[string]string) {
				published := atoi(t, got["published"])
				assert.Positive(t, published)
				assert.Equal(t, published*5, atoi(t, got["delivered"]))
				assert.Equal(t, "0", got["lost"])
				assert.Equal(t, "0", got["dup"])
			},
		},
		{
			name: "fanout saturated and batched",
			args: []string{"-scenario", "fanout", "-conns", "4", "-rate", "0", "-window", "20", "-batch", "-duration", "300ms"},
			check: func(t *testing.T, got map[string]string) {
				published := atoi(t, got["published"])
				assert.Positive(t, published)
				assert.Equal(t, published*4, atoi(t, got["delivered"]))
				assert.Equal(t, "0", got["lost"])
				assert.Equal(t, "0", got["dup"])
				assert.Equal(t, "true", got["batch"])
			},
		},
		{
			name: "login",
			args: []string{"-scenario", "login", "-conns", "3", "-bcrypt-cost", "4", "-duration", "100ms"},
			check: func(t *testing.T, got map[string]string) {
				assert.Equal(t, "3", got["ok"])
				assert.Equal(t, "0", got["errors"])
				assert.Contains(t, got, "bcrypt_limit_per_s")
			},
		},
		{
			name: "request",
			args: []string{"-scenario", "request", "-conns", "2", "-duration", "200ms"},
			check: func(t *testing.T, got map[string]string) {
				assert.Positive(t, atoi(t, got["requests"]))
			},
		},
		{
			name: "contact-center",
			args: []string{"-scenario", "contact-center", "-agents", "3", "-apps", "2", "-interval", "100ms", "-duration", "500ms"},
			check: func(t *testing.T, got map[string]string) {
				changes := atoi(t, got["changes"])
				assert.Positive(t, changes)
				assert.Equal(t, 2*changes, atoi(t, got["delivered"]))
				assert.Equal(t, "0", got["lost"])
				assert.Equal(t, "0", got["dropped"])
				assert.Equal(t, "0", got["errors"])
				assert.Equal(t, "6", got["conns"])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runLine(t, nodes, tt.args...)
			assert.Equal(t, tt.args[1], got["scenario"])
			assert.Equal(t, "1", got["run"])
			for _, key := range []string{"nodes", "crossed", "crossed_pct", "node1_cpu_pct", "node1_rss_mb"} {
				assert.NotContains(t, got, key, "one node's output is as it was before clusters")
			}
			tt.check(t, got)
		})
	}
}

// connsPerNode returns how many connections each node was asked for.
func connsPerNode(nodes []*node) []int64 {
	var out []int64
	for _, n := range nodes {
		out = append(out, n.conns.Load())
	}
	return out
}

func TestNodesShareTheConnections(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantKey   string // a value that says every connection did its part
		want      string
		wantConns []int64 // connection i on node i mod 2
	}{
		{"connect", []string{"-scenario", "connect", "-conns", "10", "-settle", "10ms"}, "opened", "10", []int64{5, 5}},
		{"login", []string{"-scenario", "login", "-conns", "3", "-bcrypt-cost", "4", "-duration", "100ms"}, "ok", "3", []int64{2, 1}},
		{"request", []string{"-scenario", "request", "-conns", "2", "-duration", "200ms"}, "conns", "2", []int64{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two brokers of their own share no bus, but hold the same
			// agents: a scenario whose connections stand alone runs on both.
			nodes := append(startServer(t, 4, 1), startServer(t, 4, 1)...)
			got := runLine(t, nodes, tt.args...)
			assert.Equal(t, tt.wantConns, connsPerNode(nodes))
			assert.Equal(t, tt.want, got[tt.wantKey])
			assert.Equal(t, "2", got["nodes"])
			assert.NotContains(t, got, "crossed", "no connection's message reaches another")
			// -pid gave this process for both nodes: the server is their
			// sum, read at the same moment.
			node1, err := strconv.ParseFloat(got["node1_rss_mb"], 64)
			require.NoError(t, err)
			node2, err := strconv.ParseFloat(got["node2_rss_mb"], 64)
			require.NoError(t, err)
			server, err := strconv.ParseFloat(got["server_rss_mb"], 64)
			require.NoError(t, err)
			assert.Positive(t, node1)
			assert.InDelta(t, node1+node2, server, 0.01, "each rounded to three decimals")
			assert.Contains(t, got, "node2_cpu_pct")
		})
	}
}

func TestClusterDeliveriesCross(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		wantCrossedPct int
	}{
		{
			// Subscribers 0-4 on nodes 0, 1, 2, 0, 1; the publisher,
			// connection 5, on node 2: 4 subscribers of 5 are elsewhere.
			name:           "fanout",
			args:           []string{"-scenario", "fanout", "-conns", "5", "-rate", "200", "-duration", "300ms"},
			wantCrossedPct: 80,
		},
		{
			// Agent i's softphone is connection 2i and its other app 2i+1,
			// always on the next node.
			name:           "contact-center",
			args:           []string{"-scenario", "contact-center", "-agents", "3", "-apps", "2", "-interval", "100ms", "-duration", "500ms"},
			wantCrossedPct: 50,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := startServer(t, 4, 3)
			got := runLine(t, nodes, tt.args...)
			assert.Equal(t, []int64{2, 2, 2}, connsPerNode(nodes))
			assert.Equal(t, "3", got["nodes"])
			assert.Equal(t, "0", got["lost"])
			delivered := atoi(t, got["delivered"])
			assert.Positive(t, delivered)
			assert.Equal(t, delivered*tt.wantCrossedPct, 100*atoi(t, got["crossed"]))
			assert.Equal(t, strconv.Itoa(tt.wantCrossedPct), got["crossed_pct"])
		})
	}
}

func TestRequestRefusedEndsTheRun(t *testing.T) {
	// The burst lets the agent sign in and ask a few times; then the rate
	// limit refuses a request, long before it would close the connection.
	nodes := startServerWith(t, broker.Config{RateLimit: 100, RateBurst: 4}, 1, 1)
	// The run lasts far longer than the test waits: only the refusal ends
	// it in time, whatever the machine's speed.
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-addr", nodes[0].addr, "-scenario", "request",
			"-conns", "1", "-duration", "1h", "-quiet"}, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GetAgentState refused")
	case <-time.After(2 * brokertest.Wait):
		t.Fatal("the run still waits for an answer after its request was refused")
	}
}

func TestContactCenterCountsDroppedConnections(t *testing.T) {
	// The burst lets each agent sign in and its apps join; then each
	// softphone sends ten changes a second against a limit of one, and
	// the server closes it at its second refusal within a second. The run
	// says which connections the server ended beside the events they lost.
	nodes := startServerWith(t, broker.Config{RateLimit: 1, RateBurst: 3}, 3, 1)
	got := runLine(t, nodes, "-scenario", "contact-center", "-agents", "3", "-apps", "2",
		"-interval", "100ms", "-duration", "1s")
	assert.Equal(t, "3", got["dropped"], "each agent's softphone, and none of its other apps")
	assert.Positive(t, atoi(t, got["lost"]))
	assert.Positive(t, atoi(t, got["errors"]), "the changes refused before the close")
}

func TestJSONAndMedians(t *testing.T) {
	addr := startServer(t, 1, 1)[0].addr
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-addr", addr, "-scenario", "connect", "-conns", "3",
		"-settle", "1ms", "-runs", "3", "-json", "-quiet"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 4, "one object per run and the medians")
	var keys []string
	for i, line := range lines {
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &obj), line)
		assert.Equal(t, "connect", obj["scenario"])
		assert.EqualValues(t, 3, obj["opened"])
		if i == 0 {
			for k := range obj {
				keys = append(keys, k)
			}
		}
		if i == 3 {
			assert.Equal(t, "median", obj["run"])
		}
		assert.Len(t, obj, len(keys), "every line has the same keys")
	}
}

func TestOptionsRejects(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"-scenario", "nope"}, "-scenario"},
		{[]string{"-conns", "-1"}, "-conns"},
		{[]string{"-scenario", "fanout", "-rate", "-1"}, "-rate"},
		{[]string{"-bcrypt-cost", "3"}, "-bcrypt-cost"},
		{[]string{"-pid", "1", "-spawn", "/bin/true"}, "-pid and -spawn"},
		{[]string{"-addr", "nohost"}, "-addr"},
		{[]string{"-addr", "127.0.0.1:1,nohost"}, "-addr \"nohost\""},
		{[]string{"-pid", "12,x"}, "-pid"},
		{[]string{"-pid", "-3"}, "-pid"},
		{[]string{"-addr", "127.0.0.1:1", "-pid", "1,2"}, "2 process ids for 1 nodes"},
		{[]string{"-addr", "127.0.0.1:1,127.0.0.1:2", "-spawn", "/bin/true"}, "-spawn starts one node"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-scenario", "request", "-conns", "2", "-workers", "3"}, "-workers 3: want 1 to 2, one connection per worker"},
		{[]string{"-scenario", "contact-center", "-agents", "2", "-workers", "0"}, "one agent per worker"},
		{[]string{"-scenario", "fanout", "-workers", "2"}, "fanout runs in one process"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			err := run(context.Background(), tt.give, &bytes.Buffer{}, &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestWriteAgentsFileLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.json")
	require.NoError(t, run(context.Background(), []string{"-write-agents", path, "-agents", "5"}, &bytes.Buffer{}, &bytes.Buffer{}))
	_, err := sim.LoadDirectoryFile(path)
	require.NoError(t, err)
}

func TestEachEnvelope(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{`{"a":1}`, []string{`{"a":1}`}},
		{`[{"a":1}]`, []string{`{"a":1}`}},
		{`[{"a":"x]},{"},{"b":[1,{"c":2}]}]`, []string{`{"a":"x]},{"}`, `{"b":[1,{"c":2}]}`}},
		{`[{"a":"\"}"},{"b":2}]`, []string{`{"a":"\"}"}`, `{"b":2}`}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var got []string
			eachEnvelope([]byte(tt.give), func(env []byte) { got = append(got, string(env)) })
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFields(t *testing.T) {
	env := []byte(`{"id":"x","channel":"Bench","topic":"Msg","subtopic":"Tick","source":"p","message":{"seq":42,"t":17,"correlationId":"inner"},"correlationId":"c123","timestamp":"t"}`)
	assert.Equal(t, "Tick", string(stringField(env, "subtopic")))
	assert.Equal(t, "c123", string(correlationID(env)), "the envelope's, not the message's")
	seq, ok := intField(env, "seq")
	assert.True(t, ok)
	assert.EqualValues(t, 42, seq)
	_, ok = intField(env, "missing")
	assert.False(t, ok)
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	assert.InEpsilon(t, 500e3, float64(h.quantile(.5)), 0.02)
	assert.InEpsilon(t, 990e3, float64(h.quantile(.99)), 0.02)
	assert.Equal(t, time.Millisecond, h.max)
	assert.Equal(t, time.Millisecond, h.quantile(1))
}

func TestTickFrameSize(t *testing.T) {
	frame := tickFrame(nil, 123, time.Unix(0, 1_700_000_000_000_000_000), 200)
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(frame, &env))
	assert.Len(t, env.Data, 200)
}

// BenchmarkLogin measures a sign-in over a real WebSocket against the real
// server, from SetUserInfo to the 15th event, with a directory at bcrypt's
// lowest cost; the metric ns-without-bcrypt/op subtracts the comparison
// that cost takes (BenchmarkBcrypt).
func BenchmarkLogin(b *testing.B) {
	const agents = 2000
	addr := startServer(b, agents, 1)[0].addr
	d := newDialer([]string{addr}, 0)
	ctx := context.Background()
	bcryptTime := compareTime(b, bcrypt.MinCost)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, _, err := d.dial(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.register("bench", map[string]any{"channel": "Cisco"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := c.sendSignIn(i%agents, "login"); err != nil {
			b.Fatal(err)
		}
		if _, err := c.await(lastLoginEvent, "login"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c.close()
		b.StartTimer()
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp-float64(bcryptTime.Nanoseconds()), "ns-without-bcrypt/op")
}

// compareTime is the time of one bcrypt comparison at cost.
func compareTime(tb testing.TB, cost int) time.Duration {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), cost)
	require.NoError(tb, err)
	const n = 20
	start := time.Now()
	for range n {
		_ = bcrypt.CompareHashAndPassword(hash, []byte(benchPassword))
	}
	return time.Since(start) / n
}

// BenchmarkBcrypt is the limit bcrypt alone sets on sign-ins: one
// comparison per sign-in. With -cpu 2 (RunParallel on both cores), its
// inverse is the machine's sign-ins per second.
func BenchmarkBcrypt(b *testing.B) {
	for _, cost := range []int{bcrypt.MinCost, bcrypt.DefaultCost} {
		b.Run("cost="+strconv.Itoa(cost), func(b *testing.B) {
			hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), cost)
			require.NoError(b, err)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = bcrypt.CompareHashAndPassword(hash, []byte(benchPassword))
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
		})
	}
}

func TestRefusalUnavailable(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{`{"packet":"apierror","data":{"errorType":"Unavailable","errorMessage":"SERVICE_UNAVAILABLE"}}`, true},
		{`{"packet":"apierror","data":{"errorType":"Authorization Failure","errorMessage":"UNAUTHORIZED"}}`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, (&refusal{message: json.RawMessage(tt.give)}).unavailable())
		})
	}
}

// BenchmarkRequest measures a GetAgentState round trip over a real
// WebSocket against the real server, one at a time on one connection: the
// request scenario in one process, for profiles of the request path.
func BenchmarkRequest(b *testing.B) {
	addr := startServer(b, 1, 1)[0].addr
	d := newDialer([]string{addr}, 0)
	ctx := context.Background()
	c, _, err := d.dial(ctx, 0)
	require.NoError(b, err)
	defer c.close()
	_, err = c.signIn(0, "agent-0")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.request("q", "Cisco", "Agent", "GetAgentState", "", nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.await("Cisco/Agent/SetAgentState", "q"); err != nil {
			b.Fatal(err)
		}
	}
}
