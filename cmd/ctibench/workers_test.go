package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain makes this test binary ctibench when a -workers run starts it
// again as one of its workers.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(workerEnv); ok {
		os.Exit(mainExit())
	}
	os.Exit(m.Run())
}

// runWorkersLine runs ctibench with args against the nodes, without
// -quiet, and returns its result line, parsed, its keys in order, and
// each worker's line, parsed.
func runWorkersLine(t *testing.T, nodes []*node, args ...string) (merged map[string]string, keys []string, workers []map[string]string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(nodeArgs(nodes), args...)
	require.NoError(t, run(context.Background(), args, &stdout, &stderr), stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 1, stdout.String())
	merged, err := parseLine(lines[0])
	require.NoError(t, err)
	for field := range strings.FieldsSeq(lines[0]) {
		k, _, _ := strings.Cut(field, "=")
		keys = append(keys, k)
	}
	for line := range strings.SplitSeq(stderr.String(), "\n") {
		// "ctibench: worker 1 of 2 (agents 0 to 1): key=value ..."
		if _, rest, ok := strings.Cut(line, "): scenario="); ok && strings.HasPrefix(line, "ctibench: worker ") {
			w, err := parseLine("scenario=" + rest)
			require.NoError(t, err)
			workers = append(workers, w)
		}
	}
	return merged, keys, workers
}

// lineKeys returns the keys of a result line, in order.
func lineKeys(t *testing.T, nodes []*node, args ...string) []string {
	t.Helper()
	_, keys, _ := runWorkersLine(t, nodes, args...)
	return keys
}

func sumOf(t *testing.T, workers []map[string]string, key string) int {
	t.Helper()
	total := 0
	for _, w := range workers {
		total += atoi(t, w[key])
	}
	return total
}

func TestWorkersShareTheContactCenter(t *testing.T) {
	args := []string{"-scenario", "contact-center", "-agents", "5", "-apps", "3", "-interval", "100ms", "-duration", "500ms"}
	alone := lineKeys(t, startServer(t, 5, 3), args...)

	nodes := startServer(t, 5, 3)
	got, keys, workers := runWorkersLine(t, nodes, append(args, "-workers", "2")...)
	require.Len(t, workers, 2, "each worker's own line is shown")
	assert.Equal(t, alone, keys, "the same keys in the same order as one process")
	// Agents 0-1 in worker 1, 2-4 in worker 2; connection i of the run on
	// node i mod 3 in either, as in one process.
	assert.Equal(t, []int64{5, 5, 5}, connsPerNode(nodes))
	assert.Equal(t, "2", workers[0]["agents"])
	assert.Equal(t, "3", workers[1]["agents"])
	assert.Equal(t, "5", got["agents"])
	assert.Equal(t, "15", got["conns"])
	assert.Equal(t, "3", got["nodes"])

	changes := atoi(t, got["changes"])
	assert.Positive(t, changes)
	assert.Equal(t, sumOf(t, workers, "changes"), changes)
	assert.Equal(t, sumOf(t, workers, "delivered"), atoi(t, got["delivered"]))
	assert.Equal(t, 3*changes, atoi(t, got["delivered"]), "each of an agent's apps got each change")
	assert.Equal(t, 3*changes, atoi(t, got["expected"]))
	assert.Equal(t, "0", got["lost"])
	assert.Equal(t, "0", got["dropped"])
	assert.Equal(t, "0", got["errors"])
	// An agent's three apps are on three nodes: two of three deliveries
	// crossed, in every worker and in all.
	assert.Equal(t, 2*atoi(t, got["delivered"]), 3*atoi(t, got["crossed"]))
	assert.Equal(t, "66.667", got["crossed_pct"])

	// The merged maximum is the larger worker's; the merged p99 lies
	// between the workers' (TestMergeResults checks it is the merged
	// histogram's).
	p99 := func(m map[string]string, key string) float64 {
		v, err := strconv.ParseFloat(m[key], 64)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, max(p99(workers[0], "event_max_ms"), p99(workers[1], "event_max_ms")), p99(got, "event_max_ms"))
	assert.GreaterOrEqual(t, p99(got, "event_p99_ms"), min(p99(workers[0], "event_p99_ms"), p99(workers[1], "event_p99_ms")))
	assert.LessOrEqual(t, p99(got, "event_p99_ms"), max(p99(workers[0], "event_p99_ms"), p99(workers[1], "event_p99_ms")))
	assert.Contains(t, got, "node3_rss_per_conn_kb")
}

func TestWorkersShareConnectAndRequest(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, got map[string]string, workers []map[string]string)
	}{
		{
			name: "connect",
			args: []string{"-scenario", "connect", "-conns", "9", "-settle", "10ms"},
			check: func(t *testing.T, got map[string]string, workers []map[string]string) {
				assert.Equal(t, "9", got["opened"])
				assert.Equal(t, []string{"3", "3", "3"}, []string{workers[0]["opened"], workers[1]["opened"], workers[2]["opened"]})
				assert.Contains(t, got, "rss_per_conn_kb")
			},
		},
		{
			name: "request",
			args: []string{"-scenario", "request", "-conns", "3", "-duration", "200ms"},
			check: func(t *testing.T, got map[string]string, workers []map[string]string) {
				assert.Equal(t, sumOf(t, workers, "requests"), atoi(t, got["requests"]))
				assert.Positive(t, atoi(t, got["requests"]))
				assert.Equal(t, "3", got["conns"])
			},
		},
		{
			name: "login",
			args: []string{"-scenario", "login", "-conns", "3", "-bcrypt-cost", "4", "-duration", "100ms"},
			check: func(t *testing.T, got map[string]string, workers []map[string]string) {
				assert.Equal(t, "3", got["ok"])
				assert.Equal(t, "0", got["errors"])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alone := lineKeys(t, startServer(t, 3, 1), tt.args...)
			got, keys, workers := runWorkersLine(t, startServer(t, 3, 1), append(tt.args, "-workers", "3")...)
			require.Len(t, workers, 3)
			assert.Equal(t, alone, keys, "the same keys in the same order as one process")
			tt.check(t, got, workers)
		})
	}
}

func TestWorkerThatFailsEndsTheRun(t *testing.T) {
	// The server knows agents 0-3: worker 2 runs agents 3-5 and cannot
	// sign in agents 4 and 5, while worker 1 waits for it at the start of the
	// measured phase.
	nodes := startServer(t, 4, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(context.Background(), []string{"-addr", nodes[0].addr, "-scenario", "contact-center",
			"-agents", "6", "-apps", "2", "-duration", "1h", "-workers", "2", "-quiet"}, &bytes.Buffer{}, &stderr)
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "worker 2 of 2 (agents 3 to 5) failed (exit status 1)")
		assert.Contains(t, err.Error(), "sign in bench", "the worker's own error")
		assert.Contains(t, err.Error(), "the run is void")
	case <-time.After(time.Minute):
		t.Fatal("the run goes on after a worker failed")
	}
}

// TestMergeResults checks the merge on results sent as workers send them:
// counts and rates summed, percentiles from the merged histogram (never
// the workers' percentiles averaged), shares computed again.
func TestMergeResults(t *testing.T) {
	var all hist
	part := func(delivered, crossed int, lat time.Duration, setup float64) Result {
		r := newResult("contact-center")
		r.set("agents", 10)
		r.set("apps", 3)
		r.set("delivered", delivered)
		r.set("crossed", crossed)
		r.set("crossed_pct", 100*float64(crossed)/float64(delivered))
		r.set("events_per_s", float64(delivered)/10)
		r.set("setup_s", setup)
		var h hist
		for range delivered {
			h.add(lat)
			all.add(lat)
		}
		h.setLatency(&r, "event")
		r.set("server_cpu_pct", 50.0)
		b, err := json.Marshal(workerResult{Keys: r.keys, Values: r, Hists: encodeHists(r.hists)})
		require.NoError(t, err)
		back, err := decodeWorkerResult(b)
		require.NoError(t, err)
		return back
	}
	// 100 fast deliveries in one worker, 300 slow in the other: the
	// averages of the percentiles (50.5 ms) are nobody's latency.
	got, err := mergeResults([]Result{part(100, 100, time.Millisecond, 2.5), part(300, 0, 100*time.Millisecond, 4)})
	require.NoError(t, err)
	var want Result
	want.values = map[string]any{}
	all.setLatency(&want, "event")

	assert.Equal(t, 20, got.values["agents"])
	assert.Equal(t, 3, got.values["apps"])
	assert.Equal(t, 400, got.values["delivered"])
	assert.Equal(t, 100, got.values["crossed"])
	// A float that is whole crosses as an integer, and prints the same.
	assert.Equal(t, 25.0, got.get("crossed_pct"))
	assert.Equal(t, 40.0, got.get("events_per_s"))
	assert.Equal(t, 4.0, got.get("setup_s"))
	assert.Equal(t, 50.0, got.get("server_cpu_pct"), "the server's, not a sum of its readings")
	for _, k := range []string{"event_p50_ms", "event_p95_ms", "event_p99_ms", "event_max_ms"} {
		assert.Equal(t, want.values[k], got.values[k], k)
	}
	assert.InDelta(t, 100, got.get("event_p50_ms"), 2, "three quarters of the deliveries took 100 ms")
	assert.Equal(t, []string{"scenario", "agents", "apps", "delivered", "crossed", "crossed_pct", "events_per_s",
		"setup_s", "event_p50_ms", "event_p95_ms", "event_p99_ms", "event_max_ms", "server_cpu_pct"}, got.keys)

	_, err = mergeResults([]Result{part(1, 0, 0, 0), func() Result { r := part(1, 0, 0, 0); r.set("mystery", 1); return r }()})
	require.NoError(t, err, "a key only a later worker has is not merged")
	r := part(1, 0, 0, 0)
	r.set("mystery", 1)
	_, err = mergeResults([]Result{r, r})
	require.ErrorContains(t, err, "no rule merges the workers' mystery")
}
