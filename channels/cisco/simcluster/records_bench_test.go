package simcluster_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/kvstore"
	"github.com/ctibus/ctibus/session"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	recordWritesAgents = flag.Int("record-writes-agents", 20000, "BenchmarkRecordWrites: agents, one record each")
	recordWritesRate   = flag.Int("record-writes-rate", 4000, "BenchmarkRecordWrites: record writes per second")
	recordWritesFor    = flag.Duration("record-writes-for", 30*time.Second, "BenchmarkRecordWrites: how long to write")
	recordWritesNodes  = flag.Int("record-writes-nodes", 4, "BenchmarkRecordWrites: nodes keeping presence entries of 3 apps per agent; 0 for none")
	recordWritesCPU    = flag.String("record-writes-cpuprofile", "", "BenchmarkRecordWrites: write a CPU profile of the writes alone to this file")
	recordWritesURL    = flag.String("record-writes-url", "", "BenchmarkRecordWrites: a NATS server to use instead of one in this process")
	recordWritesProf   = flag.String("record-writes-server-profile", "", "BenchmarkRecordWrites: the -profile address of that server, for its goroutines at a stall")
	recordWritesFill   = flag.Int("record-writes-fill-rate", 0, "BenchmarkRecordWrites: records created per second, as sign-ins create them; 0: at once")
	recordWritesLog    = flag.Bool("record-writes-log", false, "BenchmarkRecordWrites: show the NATS server's log")
	recordWritesDump   = flag.String("record-writes-dump", "", "BenchmarkRecordWrites: a directory for goroutine dumps (at most 5) taken when no write is answered for -record-writes-dump-after")
	recordWritesAfter  = flag.Duration("record-writes-dump-after", time.Second, "BenchmarkRecordWrites: see -record-writes-dump")
)

// BenchmarkRecordWrites puts on a NATS server the JetStream traffic of the
// contact center's leader at 20,000 agents each changing state every 5 s:
// the agents bucket opened as the cluster opens it, one record per agent
// (created first, at -record-writes-fill-rate a second as sign-ins create
// them, or at once), then 4,000 compare-and-set writes a second spread
// over the agents in an order of their own, one write in flight per agent
// (a change made while its agent's write is in flight waits for it, and
// replaces any change waiting already, as the leader's recordWriter
// does), the lease renewed every second in the leader bucket, and the
// presence heartbeats of 4 nodes holding each agent's 3 apps
// (session.KVPresence, 60,000 entries rewritten every 5 s), each node on
// a connection of its own, the leader's writes on the first. It reports
// the writes' latency, the longest time no write was answered (stall-ms)
// and the longest lease renewal.
//
//	go test -run XXX -bench RecordWrites -benchtime 1x -timeout 20m ./channels/cisco/simcluster/
//
// The server runs in this process unless -record-writes-url names one
// (flags go after -args): a nats-server binary started with -profile
// gives its goroutines at a stall (-record-writes-server-profile) without
// this process's load in its profiles. -record-writes-dump DIR writes
// goroutine dumps when no write is answered for -record-writes-dump-after;
// of this process when the server runs in it, which stops the world for
// as long as the dump of 20,000 goroutines takes and so lengthens the
// stall it observes. -record-writes-agents, -rate, -for and -nodes change
// the load; -record-writes-cpuprofile profiles the writes alone.
func BenchmarkRecordWrites(b *testing.B) {
	agents, rate, run := *recordWritesAgents, *recordWritesRate, *recordWritesFor
	url := *recordWritesURL
	if url == "" {
		url = startRecordServer(b).ClientURL()
	}
	ctx := b.Context()
	js := startPresence(b, url, agents, *recordWritesNodes)
	// The buckets as simcluster.New opens them.
	leases, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket: kvstore.BucketName(simcluster.DefaultPrefix, "cisco_leader"), TTL: 3 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	records, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket: kvstore.BucketName(simcluster.DefaultPrefix, "cisco_agents"), Description: "Cisco agents' states, by loginId",
	})
	if err != nil {
		b.Fatal(err)
	}

	w := &benchWriter{kv: records, keys: make([]benchKey, agents)}
	fillRecords(b, w, agents)

	leaseRev, err := kvstore.Create(ctx, leases, "leader", []byte("node1"))
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var leaseMax atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			start := time.Now()
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			rev, err := kvstore.CompareAndSet(rctx, leases, "leader", []byte("node1"), leaseRev)
			cancel()
			if err != nil {
				b.Errorf("renew the lease: %v", err)
				return
			}
			leaseRev = rev
			if d := time.Since(start); int64(d) > leaseMax.Load() {
				leaseMax.Store(int64(d))
			}
		}
	})
	if *recordWritesDump != "" {
		wg.Go(func() { w.dumpStalls(stop, *recordWritesDump) })
	}

	if *recordWritesCPU != "" {
		f, err := os.Create(*recordWritesCPU)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	w.lastDone.Store(start.UnixNano())
	tick := time.NewTicker(5 * time.Millisecond)
	// Each agent changes every agents/rate seconds, from a moment of its
	// own, as ctibench's agents do: the order of the changes is not the
	// order in which the records were created.
	order := rand.Perm(agents)
	sent := 0
	for now := range tick.C {
		elapsed := now.Sub(start)
		if elapsed >= run {
			break
		}
		for due := int(elapsed.Seconds() * float64(rate)); sent < due; sent++ {
			w.change(ctx, order[sent%agents], sent/agents)
		}
	}
	tick.Stop()
	w.wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if *recordWritesCPU != "" {
		pprof.StopCPUProfile()
	}
	close(stop)
	wg.Wait()

	lat := w.latencies()
	if len(lat) == 0 {
		b.Fatal("no write answered")
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "writes/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(ms(time.Duration(w.stall.Load())), "stall-ms")
	b.ReportMetric(ms(time.Duration(leaseMax.Load())), "lease-max-ms")
	b.ReportMetric(float64(w.coalesced.Load()), "coalesced")
	b.ReportMetric(float64(w.failed.Load()), "errors")
	for _, name := range []string{"cisco_agents", "presence"} {
		kv, err := js.KeyValue(ctx, kvstore.BucketName(simcluster.DefaultPrefix, name))
		if err != nil {
			continue
		}
		if st, err := kv.Status(ctx); err == nil {
			info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
			b.Logf("%s stream: %d messages, %d bytes, %d deleted, first %d, last %d",
				name, info.State.Msgs, info.State.Bytes, info.State.NumDeleted, info.State.FirstSeq, info.State.LastSeq)
		}
	}
}

// startRecordServer starts a NATS server with JetStream on file storage in
// this process, as natstest does, with its log if asked.
func startRecordServer(b *testing.B) *server.Server {
	b.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: b.TempDir(),
		NoLog: !*recordWritesLog, NoSigs: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	if *recordWritesLog {
		s.ConfigureLogger()
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("NATS server not ready")
	}
	b.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// startPresence starts nodes KVPresence writers, each on a connection of
// its own as a node has, for the agents' three apps spread over the nodes
// as ctibench spreads them (agent i's apps on nodes i, i+1 and i+2 mod
// nodes), and returns the JetStream of the first node's connection, the
// leader's. With no nodes it returns a connection of its own.
func startPresence(b *testing.B, url string, agents, nodes int) jetstream.JetStream {
	b.Helper()
	var first jetstream.JetStream
	for n := range max(nodes, 1) {
		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			first = js
		}
		if nodes == 0 {
			break
		}
		p, err := session.NewKVPresence(b.Context(), js, kvstore.BucketName(simcluster.DefaultPrefix, "presence"), fmt.Sprint("node", n+1))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Close(context.Background()) })
		for i := range agents {
			if apps := min(nodes, 3); (n-i%nodes+nodes)%nodes < apps {
				_ = p.Set(b.Context(), fmt.Sprint(200001+i), 1)
			}
		}
	}
	return first
}

// benchWriter writes agents' records, one write in flight per agent, and
// times the writes.
type benchWriter struct {
	kv        jetstream.KeyValue
	wg        sync.WaitGroup
	lastDone  atomic.Int64 // when the last write was answered, in Unix nanoseconds
	stall     atomic.Int64 // the longest time between two answers, in nanoseconds
	coalesced atomic.Int64 // changes that replaced one waiting
	failed    atomic.Int64

	mu   sync.Mutex // guards the fields below
	keys []benchKey
	lat  []time.Duration
}

// benchKey is one agent's record: its revision, and whether a write is in
// flight and a change waits for it.
type benchKey struct {
	rev     kvstore.Revision
	busy    bool
	waiting bool
	change  int
}

// agentRecord is agent i's record after its change-th change: what the
// leader stores, in the size it stores.
func agentRecord(i, change int) []byte {
	state, reason := cisco.StateNotReady, "22"
	if change%2 == 1 {
		state, reason = cisco.StateReady, "-1"
	}
	now := time.Now().UTC()
	data, err := json.Marshal(sim.AgentRecord{
		LoginID: fmt.Sprint(200001 + i), State: state, Extension: fmt.Sprint(2001 + i),
		ReasonCodeID: reason, StateChangeTime: now, MediaChangeTime: now,
	})
	if err != nil {
		panic(err)
	}
	return data
}

// fillRecords creates every agent's record.
func fillRecords(b *testing.B, w *benchWriter, agents int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	next := atomic.Int64{}
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if rate := *recordWritesFill; rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
				}
				if i >= agents {
					return
				}
				rev, err := kvstore.Create(b.Context(), w.kv, fmt.Sprint(200001+i), agentRecord(i, 0))
				if err != nil {
					errs <- err
					return
				}
				w.mu.Lock()
				w.keys[i].rev = rev
				w.mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// change has agent i's record written after its change-th change: at
// once if no write of the agent's is in flight, else after it.
func (w *benchWriter) change(ctx context.Context, i, change int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := &w.keys[i]
	if k.busy {
		if k.waiting {
			w.coalesced.Add(1)
		}
		k.waiting, k.change = true, change
		return
	}
	k.busy, k.change = true, change
	w.wg.Go(func() { w.write(ctx, i) })
}

// write stores agent i's changes until none waits.
func (w *benchWriter) write(ctx context.Context, i int) {
	key := fmt.Sprint(200001 + i)
	for {
		w.mu.Lock()
		k := &w.keys[i]
		rev, change := k.rev, k.change
		w.mu.Unlock()

		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		newRev, err := kvstore.CompareAndSet(wctx, w.kv, key, agentRecord(i, change), rev)
		cancel()
		done := time.Now()
		if err != nil {
			w.failed.Add(1)
			// The write may have happened: read the revision to go on from.
			if _, got, gerr := kvstore.Get(ctx, w.kv, key); gerr == nil {
				newRev = got
			} else {
				newRev = rev
			}
		}
		if gap := done.UnixNano() - w.lastDone.Swap(done.UnixNano()); gap > w.stall.Load() {
			w.stall.Store(gap)
		}

		w.mu.Lock()
		w.lat = append(w.lat, done.Sub(start))
		k.rev = newRev
		if !k.waiting {
			k.busy = false
			w.mu.Unlock()
			return
		}
		k.waiting = false
		w.mu.Unlock()
	}
}

// latencies returns the writes' latencies, sorted.
func (w *benchWriter) latencies() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.Sort(w.lat)
	return w.lat
}

// dumpStalls writes the process's goroutines to dir, at most 5 times, when
// no write has been answered for a second while writes are in flight.
func (w *benchWriter) dumpStalls(stop <-chan struct{}, dir string) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last time.Time
	for n := 0; n < 5; {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		since := time.Since(time.Unix(0, w.lastDone.Load()))
		if since < *recordWritesAfter || time.Since(last) < 2*time.Second {
			continue
		}
		last = time.Now()
		n++
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("stall-%d.txt", n)))
		if err != nil {
			return
		}
		fmt.Fprintf(f, "no write answered for %v\n", since)
		if *recordWritesProf != "" {
			if resp, err := http.Get("http://" + *recordWritesProf + "/debug/pprof/goroutine?debug=2"); err == nil {
				_, _ = io.Copy(f, resp.Body)
				resp.Body.Close()
			}
		} else {
			_ = pprof.Lookup("goroutine").WriteTo(f, 2)
		}
		f.Close()
	}
}
