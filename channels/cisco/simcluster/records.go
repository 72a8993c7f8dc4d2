package simcluster

import (
	"github.com/ctibus/ctibus/internal/kvstore"

	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// recordWriter stores a leader's agent and call records in JetStream KV
// during one term, outside the simulator's mutex: the simulator hands it a
// record (queue, under its mutex, which only queues), and a goroutine per
// key with records waiting writes them, one at a time, in the order
// queued, each with a compare-and-set on the revision the previous one
// left (a call that ended is deleted the same way). A record queued while
// its key's write is in flight replaces any other waiting one: KV gets an
// agent's changes in order, and the newest one always.
//
// Records are numbered as they are queued; a request's answer waits (await)
// until every record numbered up to the last one queued when its change was
// made is written, so a reply still means the change is durable, while the
// simulator's mutex is held for memory work only and the writes of
// different agents overlap. A write that fails (a newer leader wrote the
// record, or KV is out of reach) calls failed, and every later one is
// dropped: the term is over.
type recordWriter struct {
	ctx     context.Context    // the term's; cancelled by close
	cancel  context.CancelFunc //
	timeout time.Duration      // bounds one write
	failed  func(key string, err error)
	wg      sync.WaitGroup // the keys' write goroutines

	mu      sync.Mutex             // guards the fields below; taken under the simulator's mutex
	keys    map[storeKey]*keyQueue // the keys written or read this term
	queued  uint64                 // the number of the last record queued
	durable uint64                 // every record numbered up to it is written, or dropped
	done    map[uint64]bool        // records above durable already written
	more    chan struct{}          // closed, and replaced, when durable advances
	broken  bool                   // a write failed: drop the rest
}

// storeKey is a key in one of the buckets.
type storeKey struct {
	kv  jetstream.KeyValue
	key string
}

// keyQueue is one key's records: the revision its last write left, and the
// record waiting for the write in flight.
type keyQueue struct {
	rev     kvstore.Revision // kvstore.Absent while the key has no record
	next    *pending         // nil when none waits
	numbers []uint64         // the records next stands for: itself and those it replaced
	busy    bool             // a goroutine is writing the key's records
}

// pending is a record waiting to be written: a value to encode, or the
// deletion of the key.
type pending struct {
	value  any
	delete bool
}

// newRecordWriter starts a term's writer over the revisions of the records
// stored when it began.
func newRecordWriter(revs map[storeKey]kvstore.Revision, timeout time.Duration,
	failed func(key string, err error)) *recordWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &recordWriter{
		ctx:     ctx,
		cancel:  cancel,
		timeout: timeout,
		failed:  failed,
		keys:    make(map[storeKey]*keyQueue, len(revs)),
		done:    map[uint64]bool{},
		more:    make(chan struct{}),
	}
	for key, rev := range revs {
		w.keys[key] = &keyQueue{rev: rev}
	}
	return w
}

// queue numbers a record for key, value or the key's deletion, and has it
// written after the key's earlier records. It only queues, so it may run
// under the simulator's mutex.
func (w *recordWriter) queue(key storeKey, value any, delete bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queued++
	if w.broken {
		w.doneLocked(w.queued)
		return
	}
	q := w.keys[key]
	if q == nil {
		q = &keyQueue{rev: kvstore.Absent}
		w.keys[key] = q
	}
	q.next = &pending{value: value, delete: delete}
	q.numbers = append(q.numbers, w.queued)
	if !q.busy {
		q.busy = true
		w.wg.Go(func() { w.write(key, q) })
	}
}

// write stores the key's records until none waits.
func (w *recordWriter) write(key storeKey, q *keyQueue) {
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
				w.failed(key.key, err)
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
func (w *recordWriter) store(key storeKey, r *pending, rev kvstore.Revision) (kvstore.Revision, error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	defer cancel()
	if r.delete {
		if rev == kvstore.Absent {
			return rev, nil // never stored
		}
		return kvstore.Absent, kvstore.CompareAndDelete(ctx, key.kv, key.key, rev)
	}
	data, err := json.Marshal(r.value)
	if err != nil {
		return rev, fmt.Errorf("encode record: %w", err)
	}
	return kvstore.CompareAndSet(ctx, key.kv, key.key, data, rev)
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
