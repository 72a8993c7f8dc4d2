package simcluster

import (
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/kvstore"

	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// recordWriter stores a leader's agent records in JetStream KV during one
// term, outside the simulator's mutex: the simulator hands it a record
// (queue, under its mutex, which only queues), and a goroutine per agent
// with records waiting writes them, one at a time, in the order queued,
// each with a compare-and-set on the revision the previous one left. A
// record queued while its agent's write is in flight replaces any other
// waiting one: KV gets the agent's changes in order, and the newest one
// always.
//
// Records are numbered as they are queued; a request's answer waits (await)
// until every record numbered up to the last one queued when its change was
// made is written, so a reply still means the change is durable, while the
// simulator's mutex is held for memory work only and the writes of
// different agents overlap. A write that fails (a newer leader wrote the
// record, or KV is out of reach) calls failed, and every later one is
// dropped: the term is over.
type recordWriter struct {
	kv      jetstream.KeyValue
	ctx     context.Context    // the term's; cancelled by close
	cancel  context.CancelFunc //
	timeout time.Duration      // bounds one write
	failed  func(agent string, err error)
	wg      sync.WaitGroup // the agents' write goroutines

	mu      sync.Mutex             // guards the fields below; taken under the simulator's mutex
	agents  map[string]*agentQueue // by KV key
	queued  uint64                 // the number of the last record queued
	durable uint64                 // every record numbered up to it is written, or dropped
	done    map[uint64]bool        // records above durable already written
	more    chan struct{}          // closed, and replaced, when durable advances
	broken  bool                   // a write failed: drop the rest
}

// agentQueue is one agent's records: the revision its last write left, and
// the record waiting for the write in flight.
type agentQueue struct {
	rev     kvstore.Revision // kvstore.Absent while the agent has no record
	next    *sim.AgentRecord // nil when none waits
	numbers []uint64         // the records next stands for: itself and those it replaced
	busy    bool             // a goroutine is writing the agent's records
}

// newRecordWriter starts a term's writer over the revisions of the records
// stored when it began.
func newRecordWriter(kv jetstream.KeyValue, revs map[string]kvstore.Revision, timeout time.Duration,
	failed func(agent string, err error)) *recordWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &recordWriter{
		kv:      kv,
		ctx:     ctx,
		cancel:  cancel,
		timeout: timeout,
		failed:  failed,
		agents:  make(map[string]*agentQueue, len(revs)),
		done:    map[uint64]bool{},
		more:    make(chan struct{}),
	}
	for key, rev := range revs {
		w.agents[key] = &agentQueue{rev: rev}
	}
	return w
}

// queue numbers r and has it written after the agent's earlier records. It
// only queues, so it may run under the simulator's mutex.
func (w *recordWriter) queue(r sim.AgentRecord) {
	key := agentKey(r.LoginID)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queued++
	if w.broken {
		w.doneLocked(w.queued)
		return
	}
	q := w.agents[key]
	if q == nil {
		q = &agentQueue{rev: kvstore.Absent}
		w.agents[key] = q
	}
	q.next = &r
	q.numbers = append(q.numbers, w.queued)
	if !q.busy {
		q.busy = true
		w.wg.Go(func() { w.write(key, q) })
	}
}

// write stores the agent's records until none waits.
func (w *recordWriter) write(key string, q *agentQueue) {
	for {
		w.mu.Lock()
		r, numbers, rev := q.next, q.numbers, q.rev
		q.next, q.numbers = nil, nil
		if r == nil || w.broken {
			for _, n := range numbers {
				w.doneLocked(n)
			}
			q.busy = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()

		rev, err := w.store(key, r, rev)
		if err != nil {
			// Tell the cluster before any waiting answer learns that the
			// record is settled, so that it answers "try again" rather
			// than a success.
			w.mu.Lock()
			first := !w.broken
			w.broken = true
			w.mu.Unlock()
			if first {
				w.failed(r.LoginID, err)
			}
		}
		w.mu.Lock()
		q.rev = rev
		for _, n := range numbers {
			w.doneLocked(n)
		}
		w.mu.Unlock()
	}
}

// store writes one record over revision rev.
func (w *recordWriter) store(key string, r *sim.AgentRecord, rev kvstore.Revision) (kvstore.Revision, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return rev, fmt.Errorf("encode agent record: %w", err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	defer cancel()
	return kvstore.CompareAndSet(ctx, w.kv, key, data, rev)
}

// doneLocked settles record n, and moves durable past every settled
// record that follows it.
func (w *recordWriter) doneLocked(n uint64) {
	w.done[n] = true
	advanced := false
	for w.done[w.durable+1] {
		delete(w.done, w.durable+1)
		w.durable++
		advanced = true
	}
	if advanced {
		close(w.more)
		w.more = make(chan struct{})
	}
}

// last returns the number of the last record queued: a change made before
// it is read is in a record numbered up to it.
func (w *recordWriter) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued
}

// await waits until every record numbered up to n is written or dropped,
// and reports whether all of them were written. It gives up, reporting
// false, when stop is closed.
func (w *recordWriter) await(n uint64, stop <-chan struct{}) bool {
	for {
		w.mu.Lock()
		durable, broken, more := w.durable, w.broken, w.more
		w.mu.Unlock()
		if durable >= n {
			return !broken
		}
		select {
		case <-more:
		case <-stop:
			return false
		}
	}
}

// close stops the writes in flight and waits for their goroutines; the
// records still waiting are dropped.
func (w *recordWriter) close() {
	w.mu.Lock()
	w.broken = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
}
