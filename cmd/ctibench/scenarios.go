package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// scenarioFunc runs a scenario on the connections of l, which its caller
// closes.
type scenarioFunc func(ctx context.Context, l *load, log io.Writer) (Result, error)

var scenarios = map[string]scenarioFunc{
	"connect":        connectScenario,
	"fanout":         fanoutScenario,
	"login":          loginScenario,
	"request":        requestScenario,
	"contact-center": contactCenterScenario,
}

// checkFiles fails early when the open-file limit cannot hold n connections.
func checkFiles(n int) error {
	if lim := fileLimit(); lim != 0 && uint64(n)+64 > lim {
		return fmt.Errorf("%d connections need more open files than the limit of %d; raise it (ulimit -n) for this tool and the server", n, lim)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func closeAll(conns []*client) {
	var wg sync.WaitGroup
	for chunk := range slicesChunk(conns, 256) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range chunk {
				if c != nil {
					c.close()
				}
			}
		}()
	}
	wg.Wait()
}

func slicesChunk(conns []*client, n int) func(func([]*client) bool) {
	return func(yield func([]*client) bool) {
		for i := 0; i < len(conns); i += n {
			if !yield(conns[i:min(i+n, len(conns))]) {
				return
			}
		}
	}
}

// load is what every scenario sets up: a dialer over the nodes, the
// connections it opens, and the meter of the server's and this tool's usage.
//
// With -workers, each process runs a share of the run's units (agents or
// connections): units first to first+count-1 of the run's, whose
// connections are the run's from offset on, so that a connection goes to the
// node it would go to in one process. A worker's marks wait for every other
// worker to reach them, so that the measured phases coincide.
type load struct {
	opts    options
	d       *dialer
	u       usage
	first   int       // the run's index of this process's first unit
	count   int       // units this process runs
	offset  int       // the run's index of conns[0]
	conns   []*client // connection i is the run's offset+i, on node l.node(i); nil until opened
	barrier *barrier  // in a worker, the marks shared with the other workers; nil alone
}

// newLoad prepares the connections of count units from the run's first,
// failing early when the open-file limit cannot hold them. Its caller
// closes it.
func newLoad(opts options, tg target, first, count int) (*load, error) {
	n := opts.connsPer(count)
	if err := checkFiles(n); err != nil {
		return nil, err
	}
	return &load{
		opts: opts, d: newDialer(tg.addrs, opts.sources),
		u: usage{pids: tg.pids}, first: first, count: count,
		offset: first * opts.connsPerUnit(), conns: make([]*client, n),
	}, nil
}

// close closes the connections opened.
func (l *load) close() { closeAll(l.conns) }

// node is the node of connection i.
func (l *load) node(i int) int { return l.d.node(l.offset + i) }

// dial opens connection i, to its node, and returns it with the time the
// dial and upgrade took.
func (l *load) dial(ctx context.Context, i int) (*client, time.Duration, error) {
	return l.d.dial(ctx, l.offset+i)
}

// open opens connection i.
func (l *load) open(ctx context.Context, i int) (*client, error) {
	c, _, err := l.dial(ctx, i)
	if err != nil {
		return nil, err
	}
	l.conns[i] = c
	return c, nil
}

// mark is a moment the result measures from or to: it samples the
// server's and this tool's usage. In a worker, it first waits until every
// worker has reached the same mark.
func (l *load) mark(name string) (usageSample, error) {
	if l.barrier != nil {
		if err := l.barrier.wait(name); err != nil {
			return usageSample{}, err
		}
	}
	return l.u.sample(), nil
}

// openAll opens every connection, -concurrency at once, and sets each up.
func (l *load) openAll(ctx context.Context, setup func(i int, c *client) error) error {
	err := parallel(ctx, len(l.conns), l.opts.concurrency, func(i int) error {
		c, err := l.open(ctx, i)
		if err != nil {
			return err
		}
		return setup(i, c)
	})
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	return nil
}

// nodes is how many nodes the connections are spread over.
func (l *load) nodes() int { return len(l.d.urls) }

// result starts the scenario's result; with several nodes, it says how many.
func (l *load) result(scenario string) Result {
	r := newResult(scenario)
	if l.nodes() > 1 {
		r.set("nodes", l.nodes())
	}
	return r
}

// setCrossed records, with several nodes, how many deliveries crossed
// from one node to another: those to a connection on another node than
// the connection whose message caused them.
func (l *load) setCrossed(r *Result, crossed, delivered int64) {
	if l.nodes() > 1 {
		r.set("crossed", int(crossed))
		r.set("crossed_pct", 100*float64(crossed)/float64(delivered))
	}
}

// connect opens N connections and holds them idle: connections per second,
// setup latency, and the server's RSS per connection.
func connectScenario(ctx context.Context, l *load, log io.Writer) (Result, error) {
	opts := l.opts
	n, u := l.count, l.u
	var lat lockedHist
	var failed atomic.Int64
	var lastErr atomic.Value
	before, err := l.mark("before")
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	err = parallel(ctx, n, opts.concurrency, func(i int) error {
		began := time.Now()
		c, took, err := l.dial(ctx, i)
		if err == nil && opts.subscribe {
			if err = c.register("app-"+strconv.Itoa(i), nil); err == nil {
				err = c.subscribe("Bench", "Msg", "*")
			}
			took = time.Since(began)
		}
		if err != nil {
			lastErr.Store(err.Error())
			if failed.Add(1) > int64(n/100+10) {
				return fmt.Errorf("more than 1%% of the connections failed; last: %w", err)
			}
			return nil
		}
		l.conns[i] = c
		lat.add(took)
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	opened, err := l.mark("opened")
	if err != nil {
		return Result{}, err
	}
	if err := sleepCtx(ctx, opts.settle); err != nil {
		return Result{}, err
	}
	idle, err := l.mark("idle")
	if err != nil {
		return Result{}, err
	}
	ok := n - int(failed.Load())

	r := l.result("connect")
	r.set("conns", n)
	r.set("subscribe", opts.subscribe)
	r.set("opened", ok)
	r.set("errors", int(failed.Load()))
	r.set("conns_per_s", float64(ok)/elapsed.Seconds())
	lat.h.setLatency(&r, "setup")
	u.set(&r, before, opened)
	if len(u.pids) > 0 && ok > 0 {
		r.set("server_rss_before_mb", float64(before.server.rssKB)/1024)
		u.setRSS(&r, idle) // the idle connections' memory, not the storm's
		r.set("rss_per_conn_kb", float64(idle.server.rssKB-before.server.rssKB)/float64(ok))
	}
	if e, _ := lastErr.Load().(string); e != "" && !opts.quiet {
		fmt.Fprintln(log, "ctibench: last connection error:", e)
	}
	return r, nil
}

// subscriber is one fanout subscriber and what it received.
type subscriber struct {
	c      *client
	last   atomic.Int64 // highest sequence number received; -1 before any
	seen   []uint64     // bit set of sequence numbers received
	got    int64        // distinct messages
	dups   int64        // messages received more than once
	frames int64        // frames read, batched or not
	lat    hist
}

func (s *subscriber) readLoop(done chan<- struct{}) {
	defer close(done)
	for {
		frame, err := s.c.read()
		if err != nil {
			return
		}
		now := time.Now()
		s.frames++
		eachEnvelope(frame, func(env []byte) {
			if !bytes.Equal(stringField(env, "subtopic"), []byte("Tick")) {
				return
			}
			seq, ok1 := intField(env, "seq")
			sent, ok2 := intField(env, "t")
			if !ok1 || !ok2 {
				return
			}
			word := int(seq / 64)
			for word >= len(s.seen) {
				s.seen = append(s.seen, 0)
			}
			if bit := uint64(1) << (seq % 64); s.seen[word]&bit != 0 {
				s.dups++
			} else {
				s.seen[word] |= bit
				s.got++
			}
			s.lat.add(now.Sub(time.Unix(0, sent)))
			if seq > s.last.Load() {
				s.last.Store(seq)
			}
		})
	}
}

// tickFrame renders the publisher's message: data of size bytes that
// carries the sequence number and the send time.
func tickFrame(buf []byte, seq int64, now time.Time, size int) []byte {
	buf = append(buf[:0], `{"channel":"Bench","topic":"Msg","subtopic":"Tick","data":{"seq":`...)
	dataStart := len(buf) - len(`{"seq":`)
	buf = strconv.AppendInt(buf, seq, 10)
	buf = append(buf, `,"t":`...)
	buf = strconv.AppendInt(buf, now.UnixNano(), 10)
	buf = append(buf, `,"pad":"`...)
	pad := size - (len(buf) - dataStart) - 2
	for range max(pad, 0) {
		buf = append(buf, 'x')
	}
	return append(buf, `"}}`...)
}

// fanout: N subscribers in one workspace on one pattern, one publisher.
func fanoutScenario(ctx context.Context, l *load, log io.Writer) (Result, error) {
	opts := l.opts
	// Subscriber i is connection i, the publisher connection n: with
	// several nodes, each node's subscribers receive what the publisher's
	// node carries over to theirs.
	n, u := opts.conns, l.u
	subs := make([]*subscriber, n)

	// One sign-in, then everyone joins with the workspace token: faster
	// than bcrypt for each.
	first, err := l.open(ctx, 0)
	if err != nil {
		return Result{}, err
	}
	token, err := first.signIn(0, "sub-0")
	if err != nil {
		return Result{}, err
	}
	if opts.batch {
		if err := first.join("sub-0", token, true); err != nil {
			return Result{}, err
		}
	}
	setupStart := time.Now()
	err = parallel(ctx, n, opts.concurrency, func(i int) error {
		c := first
		if i > 0 {
			var err error
			if c, err = l.open(ctx, i); err != nil {
				return err
			}
			if err := c.join("sub-"+strconv.Itoa(i), token, opts.batch); err != nil {
				return err
			}
		}
		if err := c.subscribe("Bench", "Msg", "*"); err != nil {
			return err
		}
		subs[i] = &subscriber{c: c}
		subs[i].last.Store(-1)
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("set up subscribers: %w", err)
	}
	pub, err := l.open(ctx, n)
	if err != nil {
		return Result{}, err
	}
	if err := pub.join("publisher", token, false); err != nil {
		return Result{}, err
	}
	if !opts.quiet {
		fmt.Fprintf(log, "ctibench: %d subscribers ready in %s\n", n, time.Since(setupStart).Round(time.Millisecond))
	}
	readers := make([]chan struct{}, n)
	for i, s := range subs {
		readers[i] = make(chan struct{})
		go s.readLoop(readers[i])
	}
	// The publisher reads nothing it needs, but must read to answer pings.
	go func() {
		for {
			if _, err := pub.read(); err != nil {
				return
			}
		}
	}()

	minLast := func() int64 {
		m := int64(1<<63 - 1)
		for _, s := range subs {
			m = min(m, s.last.Load())
		}
		return m
	}
	var interval time.Duration
	if opts.rate > 0 {
		interval = time.Duration(float64(time.Second) / opts.rate)
	}
	before := u.sample()
	start := time.Now()
	end := start.Add(opts.duration)
	next := start
	var buf []byte
	var seq, slowest int64 = 0, -1
	for ctx.Err() == nil {
		now := time.Now()
		// The first tick goes out however late this loop starts, so that
		// a run on a busy machine still measures something.
		if now.After(end) && seq > 0 {
			break
		}
		if interval > 0 {
			if wait := next.Sub(now); wait > 0 {
				time.Sleep(wait)
				now = time.Now()
			} else if -wait > 100*time.Millisecond {
				next = now // fell behind: skip rather than burst
			}
			next = next.Add(interval)
		} else {
			for seq-slowest > int64(opts.window) {
				if slowest = minLast(); seq-slowest > int64(opts.window) {
					time.Sleep(100 * time.Microsecond)
					if time.Now().After(end) {
						break
					}
				}
			}
			now = time.Now()
		}
		buf = tickFrame(buf, seq, now, opts.size)
		if err := pub.send(buf); err != nil {
			return Result{}, fmt.Errorf("publish: %w", err)
		}
		seq++
	}
	published := seq
	pubElapsed := time.Since(start)
	// The tail: wait for the last message to reach everyone, or give up.
	deadline := time.Now().Add(5 * time.Second)
	for minLast() < published-1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	drained := time.Since(start)
	after := u.sample()
	l.close()
	for _, done := range readers {
		<-done
	}

	var lat hist
	var got, dups, frames, crossed int64
	for i, s := range subs {
		lat.merge(&s.lat)
		got += s.got
		dups += s.dups
		frames += s.frames
		if l.d.node(i) != l.d.node(n) {
			crossed += s.got
		}
	}
	r := l.result("fanout")
	r.set("subscribers", n)
	r.set("rate", opts.rate)
	r.set("size", opts.size)
	r.set("batch", opts.batch)
	r.set("published", int(published))
	r.set("expected", int(published)*n)
	r.set("delivered", int(got))
	r.set("lost", int(published)*n-int(got))
	r.set("dup", int(dups))
	l.setCrossed(&r, crossed, got)
	r.set("publish_per_s", float64(published)/pubElapsed.Seconds())
	r.set("deliveries_per_s", float64(got)/drained.Seconds())
	if frames > 0 {
		r.set("envelopes_per_frame", float64(got+dups)/float64(frames))
	}
	lat.setLatency(&r, "latency")
	u.set(&r, before, after)
	return r, nil
}

// bcryptLimit measures sign-ins per second that bcrypt alone allows on
// this machine at cost: one comparison per sign-in, on every core.
func bcryptLimit(cost int, d time.Duration) (float64, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), cost)
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				_ = bcrypt.CompareHashAndPassword(hash, []byte(benchPassword))
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// login: N agents sign in at once.
func loginScenario(ctx context.Context, l *load, log io.Writer) (Result, error) {
	opts := l.opts
	n, u := l.count, l.u
	err := l.openAll(ctx, func(i int, c *client) error {
		return c.register("agent-"+strconv.Itoa(l.first+i), map[string]any{"channel": "Cisco"})
	})
	if err != nil {
		return Result{}, err
	}
	var lat lockedHist
	var failed atomic.Int64
	var wg sync.WaitGroup
	var lastDone atomic.Int64
	ready := make(chan struct{})
	for i, c := range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			sent := time.Now()
			id := string(timeID('l', sent))
			if err := c.sendSignIn(l.first+i, id); err != nil {
				failed.Add(1)
				return
			}
			if _, err := c.await(lastLoginEvent, id); err != nil {
				failed.Add(1)
				return
			}
			done := time.Now()
			lat.add(done.Sub(sent))
			for {
				prev := lastDone.Load()
				if done.UnixNano() <= prev || lastDone.CompareAndSwap(prev, done.UnixNano()) {
					break
				}
			}
		}()
	}
	before, err := l.mark("before")
	if err != nil {
		close(ready)
		wg.Wait()
		return Result{}, err
	}
	start := time.Now()
	close(ready)
	wg.Wait()
	after, err := l.mark("after")
	if err != nil {
		return Result{}, err
	}
	elapsed := time.Unix(0, lastDone.Load()).Sub(start)

	r := l.result("login")
	r.set("agents", n)
	r.set("bcrypt_cost", opts.cost())
	r.set("ok", int(lat.h.n))
	r.set("errors", int(failed.Load()))
	r.set("logins_per_s", float64(lat.h.n)/elapsed.Seconds())
	lat.h.setLatency(&r, "login")
	u.set(&r, before, after)
	// The same machine's limit, measured with the server idle.
	limit, err := bcryptLimit(opts.cost(), min(2*time.Second, max(opts.duration, 200*time.Millisecond)))
	if err != nil {
		return Result{}, err
	}
	r.set("bcrypt_limit_per_s", limit)
	r.set("of_limit_pct", 100*r.get("logins_per_s")/limit)
	return r, nil
}

// request: GetAgentState to SetAgentState round trips, one at a time on
// each connection, each connection an agent of its own.
func requestScenario(ctx context.Context, l *load, log io.Writer) (Result, error) {
	opts := l.opts
	n, u := l.count, l.u
	err := l.openAll(ctx, func(i int, c *client) error {
		_, err := c.signIn(l.first+i, "agent-"+strconv.Itoa(l.first+i))
		return err
	})
	if err != nil {
		return Result{}, err
	}
	hists := make([]hist, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	before, err := l.mark("before")
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	end := start.Add(opts.duration)
	for i, c := range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = roundTrips(ctx, c, end, &hists[i])
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return Result{}, err
		}
	}
	after, err := l.mark("after")
	if err != nil {
		return Result{}, err
	}
	var lat hist
	for i := range hists {
		lat.merge(&hists[i])
	}
	r := l.result("request")
	r.set("conns", n)
	r.set("requests", int(lat.n))
	r.set("requests_per_s", float64(lat.n)/elapsed.Seconds())
	lat.setLatency(&r, "rtt")
	u.set(&r, before, after)
	return r, nil
}

func roundTrips(ctx context.Context, c *client, end time.Time, lat *hist) error {
	var buf []byte
	// The first round trip goes out however late this goroutine starts, so
	// that a run on a busy machine still measures something.
	for first := true; ctx.Err() == nil && (first || time.Now().Before(end)); first = false {
		sent := time.Now()
		id := timeID('q', sent)
		buf = append(buf[:0], `{"id":"`...)
		buf = append(buf, id...)
		buf = append(buf, `","channel":"Cisco","topic":"Agent","subtopic":"GetAgentState"}`...)
		if err := c.send(buf); err != nil {
			return err
		}
		var refused error
		for answered := false; !answered; {
			frame, err := c.read()
			if err != nil {
				return err
			}
			eachEnvelope(frame, func(env []byte) {
				if bytes.Equal(correlationID(env), id) {
					answered = true
					// An error is the only answer: no state follows it.
					if bytes.Equal(stringField(env, "subtopic"), []byte("SetAPIError")) {
						var e envelope
						_ = json.Unmarshal(env, &e)
						refused = fmt.Errorf("GetAgentState refused (is the server's -rate-limit above the load?): %s", e.Message)
					}
				}
			})
		}
		if refused != nil {
			return refused
		}
		lat.add(time.Since(sent))
	}
	return nil
}

// contact-center: A agents with W apps each; every agent changes state
// every interval, and each change reaches the agent's W apps.
func contactCenterScenario(ctx context.Context, l *load, log io.Writer) (Result, error) {
	opts := l.opts
	a, w := l.count, opts.apps
	n := a * w
	// Agent i's apps are connections i*w to i*w+w-1, the softphone first:
	// with several nodes, round robin puts its next apps on the next nodes
	// (all away from the softphone's while W <= N), where they receive what
	// the softphone's node carries over. With -workers, a worker holds
	// whole agents: all of an agent's apps are in one process.
	u, conns := l.u, l.conns
	softphone := func(k int) int { return k / w * w }
	idle, err := l.mark("idle")
	if err != nil {
		return Result{}, err
	}
	// Each connection is read from the moment it is set up: a connection
	// that nobody reads answers no ping, and the server closes it once its
	// pong wait is over, which a long setup outlasts.
	const shards = 64
	var lats [shards]lockedHist
	var delivered, crossed, apiErrors, dropped atomic.Int64
	// stopping is set before this tool closes the connections: a read that
	// fails before then is a connection the server ended, whose events and
	// the changes its agent could no longer send are lost.
	var stopping atomic.Bool
	var readers sync.WaitGroup
	read := func(k int, c *client) {
		crosses := l.node(k) != l.node(softphone(k))
		readers.Add(1)
		go func() {
			defer readers.Done()
			var local hist
			defer lats[k%shards].merge(&local)
			for {
				frame, err := c.read()
				if err != nil {
					if !stopping.Load() {
						dropped.Add(1)
					}
					return
				}
				now := time.Now()
				eachEnvelope(frame, func(env []byte) {
					switch string(stringField(env, "subtopic")) {
					case "SetAgentState":
						if id := correlationID(env); len(id) > 0 && id[0] == 'c' {
							if d, ok := sinceID(id, now); ok {
								local.add(d)
								delivered.Add(1)
								if crosses {
									crossed.Add(1)
								}
							}
						}
					case "SetAPIError":
						apiErrors.Add(1)
					}
				})
			}
		}()
	}
	stop := func() {
		stopping.Store(true)
		l.close()
		readers.Wait()
	}

	setupStart := time.Now()
	err = parallel(ctx, a, opts.concurrency, func(i int) error {
		c, err := l.open(ctx, i*w)
		if err != nil {
			return err
		}
		token, err := c.signIn(l.first+i, "softphone")
		if err != nil {
			return err
		}
		read(i*w, c)
		for j := 1; j < w; j++ {
			c, err := l.open(ctx, i*w+j)
			if err != nil {
				return err
			}
			if err := c.join("app-"+strconv.Itoa(j), token, false); err != nil {
				return err
			}
			read(i*w+j, c)
		}
		if !opts.quiet && (i+1)%1000 == 0 {
			fmt.Fprintf(log, "ctibench: %d agents signed in\n", i+1)
		}
		return nil
	})
	if err != nil {
		stop()
		return Result{}, fmt.Errorf("set up: %w", err)
	}
	setup := time.Since(setupStart)
	if !opts.quiet {
		fmt.Fprintf(log, "ctibench: %d agents, %d connections ready in %s\n", a, n, setup.Round(time.Millisecond))
	}

	var changes atomic.Int64
	var drivers sync.WaitGroup
	before, err := l.mark("before")
	if err != nil {
		stop()
		return Result{}, err
	}
	start := time.Now()
	end := start.Add(opts.duration)
	for i := range a {
		drivers.Add(1)
		go func() {
			defer drivers.Done()
			c := conns[i*w]
			next := start.Add(time.Duration(rand.Int64N(int64(opts.interval))))
			ready := true
			var buf []byte
			for {
				if next.After(end) || sleepCtx(ctx, time.Until(next)) != nil {
					return
				}
				id := timeID('c', time.Now())
				buf = append(buf[:0], `{"id":"`...)
				buf = append(buf, id...)
				if ready {
					buf = append(buf, `","channel":"Cisco","topic":"Agent","subtopic":"SetReadyState"}`...)
				} else {
					buf = append(buf, `","channel":"Cisco","topic":"Agent","subtopic":"SetNotReadyState","data":{"ReasonCodeId":"1"}}`...)
				}
				if c.send(buf) != nil {
					return
				}
				changes.Add(1)
				ready = !ready
				next = next.Add(opts.interval)
			}
		}()
	}
	drivers.Wait()
	measured, err := l.mark("measured")
	if err != nil {
		stop()
		return Result{}, err
	}
	want := changes.Load() * int64(w)
	deadline := time.Now().Add(5 * time.Second)
	for delivered.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	var lat hist
	for i := range lats {
		lat.merge(&lats[i].h)
	}
	r := l.result("contact-center")
	r.set("agents", a)
	r.set("apps", w)
	r.set("conns", n)
	r.set("interval_ms", float64(opts.interval)/float64(time.Millisecond))
	r.set("setup_s", setup.Seconds())
	r.set("changes", int(changes.Load()))
	r.set("expected", int(want))
	r.set("delivered", int(delivered.Load()))
	r.set("lost", int(want-delivered.Load()))
	r.set("dropped", int(dropped.Load()))
	r.set("errors", int(apiErrors.Load()))
	l.setCrossed(&r, crossed.Load(), delivered.Load())
	r.set("events_per_s", float64(delivered.Load())/opts.duration.Seconds())
	lat.setLatency(&r, "event")
	u.set(&r, before, measured)
	// The server holds every process's connections: its growth is divided
	// by the run's, which every worker knows.
	if len(u.pids) > 0 {
		all := opts.connsPer(opts.agents)
		r.set("rss_per_conn_kb", float64(measured.server.rssKB-idle.server.rssKB)/float64(all))
		if len(u.pids) > 1 {
			for k := range u.pids {
				growth := measured.nodes[k].rssKB - idle.nodes[k].rssKB
				r.set("node"+strconv.Itoa(k+1)+"_rss_per_conn_kb", float64(growth)/float64(connsOnNode(all, k, len(u.pids))))
			}
		}
	}
	return r, nil
}

// connsOnNode is how many of n connections round robin puts on node k of
// nodes.
func connsOnNode(n, k, nodes int) int {
	on := n / nodes
	if k < n%nodes {
		on++
	}
	return max(on, 1)
}
