package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// With -workers N, ctibench runs a scenario in N processes: itself, started
// again with the same arguments and, in workerEnv, the units of the run
// (agents or connections) each runs. A process may hold only so many open
// files; N processes hold N times as many connections.
//
// The coordinating process talks to each worker over its standard input
// and output, one line at a time:
//
//	worker: mark NAME        reached the mark NAME (a moment the result measures from or to)
//	coordinator: go          every worker has reached it: carry on
//	worker: result {JSON}    the worker's result, with its latency histograms
//
// so that every worker's measured phase starts and ends together, and the
// server's usage read at a mark covers all of them. The coordinator merges
// the results into the one a single process would print (mergeResults).

// workerEnv names the environment variable that makes ctibench a worker:
// "FIRST,COUNT", the run's units it runs.
const workerEnv = "CTIBENCH_WORKER"

// workerStopWait bounds a worker's exit once the run is cancelled.
const workerStopWait = 5 * time.Second

// maxWorkerLine bounds a line from a worker: a result with its histograms.
const maxWorkerLine = 16 << 20

// barrier is a worker's side of the marks.
type barrier struct {
	in  *bufio.Reader // the coordinator's "go" lines
	out io.Writer     // this worker's marks, then its result
}

// wait tells the coordinator that this worker reached the mark, and
// returns when every worker has.
func (b *barrier) wait(name string) error {
	if _, err := fmt.Fprintf(b.out, "mark %s\n", name); err != nil {
		return fmt.Errorf("mark %s: %w", name, err)
	}
	line, err := b.in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("mark %s: the coordinating ctibench is gone: %w", name, err)
	}
	if line != "go\n" {
		return fmt.Errorf("mark %s: unexpected %q from the coordinating ctibench", name, line)
	}
	return nil
}

// runWorker is ctibench started by another with -workers: it runs the share
// of the run that share names ("FIRST,COUNT") against the nodes its
// arguments give, meets the other workers at each mark, and writes its
// result on stdout.
func runWorker(ctx context.Context, share string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	first, count, ok := parseShare(share)
	if !ok || first+count > opts.units() {
		return fmt.Errorf("%s=%q: want FIRST,COUNT within the run's %d %ss", workerEnv, share, opts.units(), opts.unitName())
	}
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "ctibench: warning:", err)
	}
	l, err := newLoad(opts, opts.target(), first, count)
	if err != nil {
		return err
	}
	defer l.close()
	l.barrier = &barrier{in: bufio.NewReader(stdin), out: stdout}
	res, err := scenarios[opts.scenario](ctx, l, stderr)
	if err != nil {
		return err
	}
	b, err := json.Marshal(workerResult{Keys: res.keys, Values: res, Hists: encodeHists(res.hists)})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "result %s\n", b)
	return err
}

func parseShare(s string) (first, count int, ok bool) {
	a, b, found := strings.Cut(s, ",")
	first, err1 := strconv.Atoi(a)
	count, err2 := strconv.Atoi(b)
	return first, count, found && err1 == nil && err2 == nil && first >= 0 && count > 0
}

// workerResult is a worker's result on the wire.
type workerResult struct {
	Keys   []string            `json:"keys"`
	Values Result              `json:"values"`
	Hists  map[string]histJSON `json:"hists"`
}

// histJSON is a histogram on the wire: its non-empty buckets.
type histJSON struct {
	N       uint64      `json:"n"`
	Max     int64       `json:"max_ns"`
	Buckets [][2]uint64 `json:"buckets"` // bucket index, count
}

func encodeHists(hs map[string]*hist) map[string]histJSON {
	out := map[string]histJSON{}
	for prefix, h := range hs {
		j := histJSON{N: h.n, Max: int64(h.max)}
		for i, c := range h.counts {
			if c > 0 {
				j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
			}
		}
		out[prefix] = j
	}
	return out
}

// decodeWorkerResult reads a worker's result line.
func decodeWorkerResult(b []byte) (Result, error) {
	var wire struct {
		Keys   []string            `json:"keys"`
		Values json.RawMessage     `json:"values"`
		Hists  map[string]histJSON `json:"hists"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		return Result{}, err
	}
	var values map[string]any
	dec := json.NewDecoder(bytes.NewReader(wire.Values))
	dec.UseNumber() // keeps 3 an int and 3.5 a float, as the worker set them
	if err := dec.Decode(&values); err != nil {
		return Result{}, err
	}
	r := Result{values: map[string]any{}, hists: map[string]*hist{}}
	for _, k := range wire.Keys {
		v, ok := values[k]
		if !ok {
			return Result{}, fmt.Errorf("key %q has no value", k)
		}
		if num, isNum := v.(json.Number); isNum {
			if i, err := num.Int64(); err == nil {
				v = int(i)
			} else if v, err = num.Float64(); err != nil {
				return Result{}, fmt.Errorf("key %q: %w", k, err)
			}
		}
		r.set(k, v)
	}
	for prefix, j := range wire.Hists {
		h := &hist{n: j.N, max: time.Duration(j.Max)}
		var n uint64
		for _, b := range j.Buckets {
			if b[0] >= histBuckets {
				return Result{}, fmt.Errorf("histogram %q: bucket %d out of range", prefix, b[0])
			}
			h.counts[b[0]] += b[1]
			n += b[1]
		}
		if n != h.n {
			return Result{}, fmt.Errorf("histogram %q: %d samples in the buckets, %d in all", prefix, n, h.n)
		}
		r.hists[prefix] = h
	}
	return r, nil
}

// worker is one load process of a run.
type worker struct {
	i, of        int // worker i of of, from 1
	first, count int // the run's units it runs
	unit         string
	cmd          *exec.Cmd
	stdin        io.WriteCloser
	stderr       *tailWriter
}

func (w *worker) String() string {
	return fmt.Sprintf("worker %d of %d (%ss %d to %d)", w.i, w.of, w.unit, w.first, w.first+w.count-1)
}

// workerEvent is what a worker said or did.
type workerEvent struct {
	w      *worker
	mark   string  // reached a mark
	result *Result // its result
	bad    error   // said something that is not the protocol
	exited bool    // its process ended, with exit
	exit   error
}

// runWorkers runs the scenario once in opts.workers processes against tg,
// meets them at each mark, and merges their results.
func runWorkers(ctx context.Context, opts options, tg target, log io.Writer) (Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return Result{}, fmt.Errorf("-workers: find this program to start it again: %w", err)
	}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel() // stops every worker still running
		wg.Wait()
	}()
	var pids []string
	for _, pid := range tg.pids {
		pids = append(pids, strconv.Itoa(pid))
	}
	// The same arguments, against the running nodes, once, as one process:
	// later flags win over the user's.
	args := append(append([]string{}, opts.args...), "-spawn=", "-addr", strings.Join(tg.addrs, ","),
		"-pid", strings.Join(pids, ","), "-runs", "1", "-workers", "1")
	n, units := opts.workers, opts.units()
	events := make(chan workerEvent)
	send := func(ev workerEvent) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var logMu sync.Mutex
	workers := make([]*worker, n)
	for i := range n {
		first := i * units / n
		w := &worker{i: i + 1, of: n, first: first, count: (i+1)*units/n - first, unit: opts.unitName()}
		w.stderr = &tailWriter{mu: &logMu, out: log, prefix: fmt.Sprintf("ctibench: worker %d: ", w.i)}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", workerEnv, w.first, w.count))
		cmd.Cancel = func() error {
			w.stdin.Close() // ends a wait at a mark
			return cmd.Process.Signal(syscall.SIGTERM)
		}
		cmd.WaitDelay = workerStopWait
		cmd.Stderr = w.stderr
		if w.stdin, err = cmd.StdinPipe(); err != nil {
			return Result{}, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return Result{}, err
		}
		if err := cmd.Start(); err != nil {
			return Result{}, fmt.Errorf("start %s: %w", w, err)
		}
		w.cmd = cmd
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64<<10), maxWorkerLine)
			for sc.Scan() {
				if !send(parseWorkerLine(w, sc.Bytes())) {
					break
				}
			}
			if err := sc.Err(); err != nil {
				send(workerEvent{w: w, bad: err})
			}
			send(workerEvent{w: w, exited: true, exit: cmd.Wait()})
		}()
	}

	reached := map[string]int{}
	results := make([]*Result, n)
	for exited := 0; exited < n; {
		var ev workerEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
		w := ev.w
		switch {
		case ev.bad != nil:
			return Result{}, fmt.Errorf("%s: %w", w, ev.bad)
		case ev.mark != "":
			if reached[ev.mark]++; reached[ev.mark] == n {
				if !opts.quiet {
					logMu.Lock() // the workers' own lines go to log too
					fmt.Fprintf(log, "ctibench: all %d workers at %s\n", n, ev.mark)
					logMu.Unlock()
				}
				for _, w := range workers {
					// A worker that died is reported by its exit.
					_, _ = io.WriteString(w.stdin, "go\n")
				}
			}
		case ev.result != nil:
			results[w.i-1] = ev.result
		case ev.exited:
			exited++
			if ev.exit != nil {
				return Result{}, fmt.Errorf("%s failed (%v)%s; the run is void", w, ev.exit, w.stderr.last())
			}
			if results[w.i-1] == nil {
				return Result{}, fmt.Errorf("%s ended without a result%s; the run is void", w, w.stderr.last())
			}
		}
	}
	parts := make([]Result, n)
	for i, r := range results {
		parts[i] = *r
		if !opts.quiet {
			fmt.Fprintf(log, "ctibench: %s: %s\n", workers[i], r.line())
		}
	}
	return mergeResults(parts)
}

// workerLine is a line of the protocol: "mark NAME" or "result {JSON}".
var workerLine = regexp.MustCompile(`^(mark|result) (.+)$`)

func parseWorkerLine(w *worker, line []byte) workerEvent {
	m := workerLine.FindSubmatch(line)
	switch {
	case m == nil:
		return workerEvent{w: w, bad: fmt.Errorf("unexpected output %q", clipBytes(line, 80))}
	case string(m[1]) == "mark":
		return workerEvent{w: w, mark: string(m[2])}
	}
	r, err := decodeWorkerResult(m[2])
	if err != nil {
		return workerEvent{w: w, bad: fmt.Errorf("its result: %w", err)}
	}
	return workerEvent{w: w, result: &r}
}

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// tailWriter passes a worker's standard error on, a line at a time with
// its name, and keeps its last line for the error that ends a run.
type tailWriter struct {
	mu      *sync.Mutex // shared by the workers: one line at a time
	out     io.Writer
	prefix  string
	partial []byte // a line not yet ended
	lastLn  string // the last whole line; guarded by mu
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := string(t.partial[:i])
		t.partial = t.partial[i+1:]
		if strings.TrimSpace(line) == "" {
			continue
		}
		t.lastLn = line
		fmt.Fprintf(t.out, "%s%s\n", t.prefix, line)
	}
	if len(t.partial) > 4096 {
		t.partial = t.partial[:0] // a line that long is not worth keeping whole
	}
	return len(p), nil
}

// last returns ": " and the worker's last line on standard error, or "".
func (t *tailWriter) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastLn == "" {
		return ""
	}
	return ": " + t.lastLn
}

// How mergeResults merges a key.
type mergeRule int

const (
	mergeSame    mergeRule = iota + 1 // the run's settings: the same in every worker
	mergeFirst                        // the server's usage, read by the first worker at marks every worker met
	mergeSum                          // counts, and rates over the common measured phase
	mergeMax                          // a phase that ends when the slowest worker's ends
	mergeHist                         // a latency percentile: from the merged histogram
	mergeDerived                      // a share or ratio: computed again from the merged counts
)

var mergeRules = map[string]mergeRule{
	"scenario": mergeSame, "subscribe": mergeSame, "nodes": mergeSame, "apps": mergeSame, "interval_ms": mergeSame, "bcrypt_cost": mergeSame,
	"conns": mergeSum, "opened": mergeSum, "errors": mergeSum, "agents": mergeSum, "ok": mergeSum,
	"requests": mergeSum, "changes": mergeSum, "expected": mergeSum, "delivered": mergeSum,
	"lost": mergeSum, "dropped": mergeSum, "crossed": mergeSum, "bench_cpu_pct": mergeSum,
	// Each worker measures bcrypt at the same time as the others, after
	// the same mark: together they measure the machine.
	"bcrypt_limit_per_s": mergeSum,
	"setup_s":            mergeMax,
	"crossed_pct":        mergeDerived, "of_limit_pct": mergeDerived,
}

// nodeKey is a key of one node's usage.
var nodeKey = regexp.MustCompile(`^node[0-9]+_`)

// ruleFor returns how key merges, or 0 for a key with no rule.
func ruleFor(scenario, key string, hists map[string]*hist) mergeRule {
	if r, ok := mergeRules[key]; ok {
		return r
	}
	for _, q := range []string{"_p50_ms", "_p95_ms", "_p99_ms", "_max_ms"} {
		if prefix, ok := strings.CutSuffix(key, q); ok && hists[prefix] != nil {
			return mergeHist
		}
	}
	switch {
	case key == "rss_per_conn_kb" && scenario == "connect":
		return mergeDerived // divided by the connections opened, which differ by worker
	case key == "rss_per_conn_kb", strings.HasPrefix(key, "server_"), nodeKey.MatchString(key):
		return mergeFirst // the contact center divides by the run's connections
	case strings.HasSuffix(key, "_per_s"):
		return mergeSum
	}
	return 0
}

// mergeResults merges the workers' results of one run into the result one
// process would print, with the same keys in the same order.
func mergeResults(parts []Result) (Result, error) {
	first := parts[0]
	scenario, _ := first.values["scenario"].(string)
	hists := map[string]*hist{}
	for prefix := range first.hists {
		var h hist
		for i, p := range parts {
			ph, ok := p.hists[prefix]
			if !ok {
				return Result{}, fmt.Errorf("worker %d has no %s histogram", i+1, prefix)
			}
			h.merge(ph)
		}
		hists[prefix] = &h
	}
	m := Result{values: map[string]any{}}
	for _, k := range first.keys {
		var v any
		switch ruleFor(scenario, k, hists) {
		case mergeSame:
			v = first.values[k]
			for i, p := range parts {
				if p.values[k] != v {
					return Result{}, fmt.Errorf("workers 1 and %d differ on %s: %v and %v", i+1, k, v, p.values[k])
				}
			}
		case mergeFirst:
			v = first.values[k]
		case mergeSum, mergeMax:
			var err error
			if v, err = mergeNumbers(parts, k, ruleFor(scenario, k, hists)); err != nil {
				return Result{}, err
			}
		case mergeHist, mergeDerived:
			v = 0 // a place in the order, filled in below
		default:
			return Result{}, fmt.Errorf("no rule merges the workers' %s", k)
		}
		m.set(k, v)
	}
	for prefix, h := range hists {
		h.setLatency(&m, prefix)
	}
	if _, ok := m.values["crossed_pct"]; ok {
		m.set("crossed_pct", 100*m.get("crossed")/m.get("delivered"))
	}
	if _, ok := m.values["of_limit_pct"]; ok {
		m.set("of_limit_pct", 100*m.get("logins_per_s")/m.get("bcrypt_limit_per_s"))
	}
	if _, ok := m.values["rss_per_conn_kb"]; ok && scenario == "connect" {
		m.set("rss_per_conn_kb", 1024*(m.get("server_rss_mb")-m.get("server_rss_before_mb"))/m.get("opened"))
	}
	return m, nil
}

// mergeNumbers sums the workers' values of key, or takes the largest.
func mergeNumbers(parts []Result, key string, rule mergeRule) (any, error) {
	allInts := true
	var xs []float64
	for i, p := range parts {
		switch x := p.values[key].(type) {
		case int:
			xs = append(xs, float64(x))
		case float64:
			allInts = false
			xs = append(xs, x)
		default:
			return nil, fmt.Errorf("worker %d's %s is %v, not a number", i+1, key, p.values[key])
		}
	}
	var v float64
	for i, x := range xs {
		switch {
		case rule == mergeSum:
			v += x
		case i == 0 || x > v:
			v = x
		}
	}
	if allInts {
		return int(v), nil
	}
	return v, nil
}
