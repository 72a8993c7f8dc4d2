package simcluster

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/kvstore"

	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

var _ cisco.Connector = (*Cluster)(nil)

// Defaults of Config.
const (
	DefaultLeaseTTL       = 3 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultPrefix         = "ctibus"
)

const (
	// leaderKey is the key of the lease in the leader bucket.
	leaderKey = "leader"
	// attemptTimeout bounds one request to the leader; a request unanswered
	// by then (the leader died holding it) is sent again.
	attemptTimeout = time.Second
	// retryBackoff is the pause between attempts while no node leads.
	retryBackoff = 50 * time.Millisecond
	// requestQueue is how many requests the leader serves at once.
	requestQueue = 256
	// requestPending and requestPendingBytes bound the requests NATS holds
	// for the leader while it serves requestQueue of them: a burst waits
	// there rather than being dropped as a slow consumer (a dropped request
	// is sent again only after attemptTimeout). Requests are a few hundred
	// bytes; the bound in bytes caps what large ones could hold.
	requestPending      = 64 << 10
	requestPendingBytes = 32 << 20
	// queueGroup makes a request reach one node, should two briefly lead.
	queueGroup = "leader"
	// deliveryTimeout bounds how long a call waits, after the leader's
	// answer, for this node to deliver the notifications sent it before
	// it. It runs out only if a message was lost; the call then returns
	// anyway.
	deliveryTimeout = 2 * time.Second
	// replyCacheSize and replyCacheAge bound the replies the leader keeps to
	// answer a repeated request without applying it again. A request is
	// repeated within RequestTimeout; the age leaves ample room.
	replyCacheSize = 4096
	replyCacheAge  = 30 * time.Second
)

// Config holds the tunables of a Cluster. Zero values select the
// defaults.
type Config struct {
	// Node names this node in the lease and in logs. Required.
	Node string
	// Prefix starts the NATS subjects and the KV bucket names; it must be a
	// valid bucket name ([A-Za-z0-9_-]). Default "ctibus".
	Prefix string
	// LeaseTTL is how long leadership lasts unless renewed; the leader
	// renews it every LeaseTTL/3. A dead leader is replaced within about
	// LeaseTTL. Default 3 s.
	LeaseTTL time.Duration
	// RequestTimeout bounds a request, retries included, while no node
	// answers. Default 5 s.
	RequestTimeout time.Duration
	// Log receives leadership changes and failures. Default zap.NewNop().
	Log *zap.Logger
	// Simulator configures this node's simulator; its OnAgentChange must
	// be nil.
	Simulator sim.Config
}

// Cluster is a Connector shared by several ctibus nodes on one NATS system.
// Each node has its own Simulator on the same directory; the node holding
// the lease in JetStream KV (the leader) runs its simulator and serves the
// others' requests over NATS request/reply, while theirs stay idle.
//
// The leader stores every agent's AgentRecord, and every call's
// CallRecord, in JetStream KV with a compare-and-set on the revision it
// last read or wrote, after the simulator's mutex is released, one write
// at a time per key in the order of the changes (see recordWriter); it
// answers a request only once the records of its change are stored, so a
// reply means the change is durable, and a deposed leader cannot overwrite
// a newer record (it steps down instead). It serves requests naming
// different agents at once, and those naming one agent in the order they
// came. A node taking over restores the agents and the calls (see
// Simulator.Restore), and the calls go on; the apps of the agents signed in
// hear of the move as a LinkChange down and up (see stepDown and lead). The
// leader sends each Notification on NATS to the nodes that watch an agent
// it names (see Watch and interest.go), in a stream per node, and every
// node, the leader included, delivers what it receives to its own
// subscribers, once each, in the leader's order.
//
// A call returns only once the calling node has delivered every
// notification the leader sent it before answering it (or after 2 s,
// should a message be lost), as with a plain Simulator:
// a handler that changes a state and then acts on it finds the change's
// notification already delivered. To that end the leader numbers each
// node's stream within its term (the revision of its lease, which grows
// from term to term), and its answers carry the term and the last number
// sent to the asking node.
//
// Each request carries a call id, and the leader answers a repeated id (a
// request sent again because its answer was slow or lost) with the reply it
// gave, without applying the request again. A leader that dies after
// applying a request but before answering it leaves the request to the next
// leader, which finds its effect stored (agents and calls are restored from
// KV) and applies it to that: the simulator's own rules refuse what is
// already done (a READY agent going READY, an agent on a call placing
// another), so no call is placed or answered twice, though the caller may
// get that refusal for a request that took effect; what may be done again
// (NOT_READY with the same reason) is, to the same state.
//
// Passwords never cross NATS: SignIn checks the password against the
// receiving node's directory, and asks the leader to sign in the loginId.
// Requests made while no node leads are retried until RequestTimeout, then
// fail with ErrUnavailable.
//
// Directory lookups (the agent a username names, reason codes, wrap-up
// reasons, phone books, teams, system info) are answered by the receiving
// node's own simulator.
type Cluster struct {
	sim      *sim.Simulator
	nc       *nats.Conn
	cfg      Config
	log      *zap.Logger
	leases   jetstream.KeyValue // the leader bucket: one key, expiring after LeaseTTL
	records  jetstream.KeyValue // AgentRecords by agentKey
	callRecs jetstream.KeyValue // CallRecords by dialog id
	watches  jetstream.KeyValue // the interest table: an interestRecord by node and loginId
	subject  string             // request subjects: subject + "." + method
	notifies string             // starts the subjects of the nodes' streams: notifies + "." + node
	mine     string             // this node's stream

	// serving is the current leadership term while this node serves
	// requests, 0 otherwise. A call that sees the same term before and after
	// its change knows every write of the change succeeded.
	serving  atomic.Uint64
	conflict chan struct{} // a write lost a compare-and-set: step down

	mu     sync.Mutex    // guards writer
	writer *recordWriter // stores the records of the term being served; nil while not leading

	subMu  sync.Mutex      // guards the fields below; held while delivering
	subs   sim.Subscribers //
	closed bool            // Close has run: deliver nothing more

	sentMu   sync.Mutex         // guards the fields below; taken under the simulator's mutex
	sentTerm uint64             // the term this node leads, or led last
	streams  map[string]*stream // by node: what each node watches, and the last number sent to it in sentTerm

	wantMu       sync.Mutex     // guards wants; a leaf
	wants        map[string]int // how many Watches of each loginId (or cisco.AllAgents) are not undone
	toldMu       sync.Mutex     // serializes telling the leader what this node watches; guards told
	told         map[string]bool
	wantsChanged chan struct{} // wakes tellLoop: wants changed, or telling failed
	ready        chan struct{} // closed once this node's stale interests are forgotten (see forgetStale)
	stopTelling  context.CancelFunc
	telling      sync.WaitGroup // tellLoop

	seenMu  sync.Mutex    // guards the fields below; never held while delivering
	seen    mark          // the newest notification delivered here
	waiting waiters       // the calls waiting for a notification, the soonest due first
	quit    chan struct{} // closed by Close: stop waiting for deliveries

	unreachable bool // the last attempt to take the lease failed; owned by run

	callPrefix string        // starts this node's call ids
	calls      atomic.Uint64 // counts this node's calls, for their ids

	beforeReply atomic.Pointer[func(method string)] // tests only: runs before the leader answers

	notifySub *nats.Subscription // this node's stream
	legacySub *nats.Subscription // the broadcast of a leader of an earlier version
	stop      context.CancelFunc
	wg        sync.WaitGroup // the leadership loop
	closeOnce sync.Once
	closeErr  error
}

// New joins the cluster on nc with a simulator of its own on dir, which
// must be the directory of the other nodes, built with cfg.Simulator
// (whose OnAgentChange must be nil: the cluster stores the records). It
// creates the KV buckets if needed and starts competing for leadership;
// requests made before a leader emerges wait for one. ctx bounds the setup
// only. Close stops it; nc stays the caller's.
func New(ctx context.Context, dir *sim.Directory, nc *nats.Conn, cfg Config) (*Cluster, error) {
	if cfg.Node == "" {
		return nil, errors.New("cisco: cluster: Node is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := kvstore.CheckName(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("cisco: cluster: prefix %w", err)
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cisco: cluster: jetstream: %w", err)
	}
	leases, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      kvstore.BucketName(cfg.Prefix, "cisco_leader"),
		Description: "the node that runs the Cisco contact center",
		TTL:         cfg.LeaseTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("cisco: cluster: leader: %w", err)
	}
	records, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      kvstore.BucketName(cfg.Prefix, "cisco_agents"),
		Description: "Cisco agents' states, by loginId",
	})
	if err != nil {
		return nil, fmt.Errorf("cisco: cluster: agents: %w", err)
	}
	calls, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      kvstore.BucketName(cfg.Prefix, "cisco_calls"),
		Description: "Cisco calls in progress, by dialog id",
	})
	if err != nil {
		return nil, fmt.Errorf("cisco: cluster: calls: %w", err)
	}
	if cfg.Simulator.OnAgentChange != nil || cfg.Simulator.OnCallChange != nil {
		return nil, errors.New("cisco: cluster: the simulator's OnAgentChange and OnCallChange are the cluster's own; leave them nil")
	}
	watches, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      kvstore.BucketName(cfg.Prefix, "cisco_watches"),
		Description: "the Cisco agents whose notifications each node receives, by node and loginId",
	})
	if err != nil {
		return nil, fmt.Errorf("cisco: cluster: watches: %w", err)
	}
	c := &Cluster{
		nc:           nc,
		cfg:          cfg,
		log:          cfg.Log.With(zap.String("node", cfg.Node)),
		leases:       leases,
		records:      records,
		callRecs:     calls,
		watches:      watches,
		subject:      cfg.Prefix + ".cti.call",
		notifies:     cfg.Prefix + ".cti.notify",
		conflict:     make(chan struct{}, 1),
		quit:         make(chan struct{}),
		wants:        map[string]int{},
		told:         map[string]bool{},
		wantsChanged: make(chan struct{}, 1),
		ready:        make(chan struct{}),

		callPrefix: newCallPrefix(),
	}
	simCfg := cfg.Simulator
	simCfg.OnAgentChange = c.save
	simCfg.OnCallChange = c.saveCall
	c.sim = sim.New(dir, simCfg)

	c.mine = streamSubject(c.notifies, cfg.Node)
	if c.notifySub, err = nc.Subscribe(c.mine, c.deliver); err == nil {
		c.legacySub, err = nc.Subscribe(c.notifies, c.deliver)
	}
	if err != nil {
		return nil, fmt.Errorf("cisco: cluster: subscribe to notifications: %w", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	c.stop = stop
	c.wg.Go(func() { c.run(runCtx) })
	tellCtx, stopTelling := context.WithCancel(context.Background())
	c.stopTelling = stopTelling
	c.telling.Go(func() { c.tellLoop(tellCtx) })
	return c, nil
}

// Leader reports whether this node runs the contact center now.
func (c *Cluster) Leader() bool { return c.serving.Load() != 0 }

// Leaseholder returns the name of the node that holds the lease, and so
// runs the contact center, or "" while no node does (between a leader's
// loss and its successor's takeover).
func (c *Cluster) Leaseholder(ctx context.Context) (string, error) {
	e, err := c.leases.Get(ctx, leaderKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("cisco: cluster: read the lease: %w", err)
	}
	return string(e.Value()), nil
}

// Close leaves the cluster: it stops competing for leadership, hands the
// lease over at once if it holds it, and stops delivering notifications.
// The simulator is left idle. Calling Close again does nothing.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.stopTelling()
		c.telling.Wait()
		c.forgetOnClose()
		c.stop()
		c.wg.Wait()
		c.subMu.Lock()
		c.closed = true
		c.subMu.Unlock()
		close(c.quit)
		for _, sub := range []*nats.Subscription{c.notifySub, c.legacySub} {
			if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				c.closeErr = fmt.Errorf("cisco: cluster: unsubscribe: %w", err)
			}
		}
	})
	return c.closeErr
}

// Subscribe delivers every change after sign-in of the agents this node
// watches (see Watch) to f, in the order the leader made them, with the
// snapshots that start a watch. f runs on the goroutine that receives them,
// with the subscription lock held: it must not block for long, and must not
// call the connector (nor cancel).
func (c *Cluster) Subscribe(f func(cisco.Notification)) (cancel func()) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	id := c.subs.Add(f)
	return func() {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		c.subs.Remove(id)
	}
}

// mark places a notification in a stream: the leadership term it was sent in
// (the lease's revision when the term began) and its number in the term,
// from 1.
type mark struct {
	term, seq uint64
}

// reached reports whether a node that has delivered m has delivered want,
// or one of a later term (whose leader does not send the rest of want's).
func (m mark) reached(want mark) bool {
	return m.term > want.term || m.term == want.term && m.seq >= want.seq
}

// waiter is a call waiting for its node to deliver notification at.
type waiter struct {
	at    mark
	done  chan struct{} // closed once at is delivered
	index int           // in waiters
}

// waiters is a heap of waiters, the soonest due first (container/heap), so
// that a delivery wakes only the calls it lets go: at thousands of changes
// a second, waking every waiting call on every delivery cost the leader a
// quarter of its CPU.
type waiters []*waiter

func (h waiters) Len() int           { return len(h) }
func (h waiters) Less(i, j int) bool { return !h[i].at.reached(h[j].at) }
func (h waiters) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiters) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiters) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.index = -1
	return w
}

// notifyMsg is a notification as sent in a node's stream (or, by a leader
// of an earlier version, broadcast): Seq numbers it in the stream, within
// Term.
type notifyMsg struct {
	Term         uint64             `json:"term"`
	Seq          uint64             `json:"seq"`
	Notification cisco.Notification `json:"notification"`
}

// deliver hands a notification of this node's stream to its subscribers, then
// records that it did, for the calls waiting for it.
func (c *Cluster) deliver(m *nats.Msg) {
	var msg notifyMsg
	if err := json.Unmarshal(m.Data, &msg); err != nil {
		c.log.Error("undecodable cisco notification", zap.Error(err))
		return
	}
	// lock order: connector (2), then whatever the subscribers take
	// (workspaces 4, broker 5); see docs/locking.md.
	c.subMu.Lock()
	if c.closed {
		c.subMu.Unlock()
		return
	}
	c.subs.Deliver(msg.Notification)
	c.subMu.Unlock()

	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	// A straggler from an older term is delivered, but moves nothing back.
	if m := (mark{term: msg.Term, seq: msg.Seq}); !c.seen.reached(m) {
		c.seen = m
		for len(c.waiting) > 0 && m.reached(c.waiting[0].at) {
			close(heap.Pop(&c.waiting).(*waiter).done)
		}
	}
}

// awaitDelivery waits until this node has delivered notification `to` of
// term, or one of a later term (whose leader does not send the rest of
// term), or deliveryTimeout passes. from is the last number sent before the
// leader took up the request: the ones after it were sent after this node
// subscribed, so they come, while the earlier ones may predate its
// subscription and never come to a node that has delivered nothing of term
// yet. The leader itself, subscribed before leading, passes 0.
func (c *Cluster) awaitDelivery(term, from, to uint64) {
	if to == 0 {
		return
	}
	want := mark{term: term, seq: to}
	c.seenMu.Lock()
	switch {
	case c.seen.reached(want):
		c.seenMu.Unlock()
		return
	case c.seen.term < term && to == from:
		c.seenMu.Unlock()
		return // nothing was sent for the request, and what came before may never come
	}
	w := &waiter{at: want, done: make(chan struct{})}
	heap.Push(&c.waiting, w)
	c.seenMu.Unlock()

	timer := time.NewTimer(deliveryTimeout)
	defer timer.Stop()
	select {
	case <-w.done:
		return
	case <-c.quit:
	case <-timer.C:
		c.seenMu.Lock()
		seen := c.seen
		c.seenMu.Unlock()
		c.log.Warn("cisco notifications not delivered in time; answering anyway",
			zap.Uint64("term", term), zap.Uint64("want", to), zap.Uint64("delivered", seen.seq))
	}
	c.seenMu.Lock()
	if w.index >= 0 { // not let go meanwhile
		heap.Remove(&c.waiting, w.index)
	}
	c.seenMu.Unlock()
}

// sentTo returns the last notification this node sent in node's stream
// while leading; its seq is 0 when it sent none in the term.
func (c *Cluster) sentTo(node string) mark {
	c.sentMu.Lock()
	defer c.sentMu.Unlock()
	m := mark{term: c.sentTerm}
	if st := c.streams[node]; st != nil {
		m.seq = st.seq
	}
	return m
}

// broadcast sends one of the leader's notifications to the nodes that
// watch an agent it names (see stream.wants), each numbered in its node's
// stream within term. It runs under the simulator's mutex, so the
// notifications are numbered in the order of the changes, and holds sentMu
// while it publishes (Publish only buffers), so that they leave in that
// order too, those of the leadership loop (see links) and the snapshots of
// watchFor among them. The notification is encoded once, whatever the
// number of nodes.
func (c *Cluster) broadcast(term uint64, n cisco.Notification) {
	c.sentMu.Lock() // lock order: under the simulator's mutex, both connector (2)
	defer c.sentMu.Unlock()
	var body []byte
	for _, st := range c.streams {
		if !st.wants(n) {
			continue
		}
		if body == nil {
			var err error
			if body, err = json.Marshal(n); err != nil {
				c.log.Error("encode cisco notification", zap.Error(err))
				return
			}
		}
		c.sendLocked(term, st, body)
	}
}

// sendLocked publishes an encoded notification as the next of st, in term.
func (c *Cluster) sendLocked(term uint64, st *stream, body []byte) {
	st.seq++
	data := make([]byte, 0, len(body)+64)
	data = append(data, `{"term":`...)
	data = strconv.AppendUint(data, term, 10)
	data = append(data, `,"seq":`...)
	data = strconv.AppendUint(data, st.seq, 10)
	data = append(data, `,"notification":`...)
	data = append(data, body...)
	data = append(data, '}')
	if err := c.nc.Publish(st.subject, data); err != nil {
		c.log.Error("send cisco notification", zap.Error(err))
	}
}

// save is the simulator's OnAgentChange: it queues the record for the
// term's writer, which stores it after the simulator's mutex is released
// (see recordWriter). A node that is not leading stores nothing: its
// simulator is idle.
func (c *Cluster) save(r sim.AgentRecord) {
	if w := c.currentWriter(); w != nil { // lock order: under the simulator's mutex, both connector (2)
		w.queue(storeKey{c.records, agentKey(r.LoginID)}, r, false)
	}
}

// saveCall is the simulator's OnCallChange: as save, for a call; a call
// that ended is deleted.
func (c *Cluster) saveCall(r sim.CallRecord) {
	if w := c.currentWriter(); w != nil {
		w.queue(storeKey{c.callRecs, callKey(r.ID)}, r, r.Gone)
	}
}

// currentWriter returns the writer of the term being served, or nil.
func (c *Cluster) currentWriter() *recordWriter {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writer
}

// writeFailed ends the term when a record could not be stored: someone else
// wrote it (a newer leader), or the store is out of reach. Either way this
// node can no longer vouch for the state.
func (c *Cluster) writeFailed(agent string, err error) {
	c.log.Warn("agent record not stored; stepping down", zap.String("agent", agent), zap.Error(err))
	c.serving.Store(0)
	select {
	case c.conflict <- struct{}{}:
	default:
	}
}

// agentKey is the KV key of an agent's record: the loginId itself when it
// is letters and digits, as loginIds are, else "_" and its hex.
func agentKey(loginID string) string { return kvstore.Token(loginID) }

// callKey is the KV key of a call's record: its dialog id, digits as the
// simulator makes them, else "_" and its hex.
func callKey(dialogID string) string { return kvstore.Token(dialogID) }

// term is what a node holds while it leads. The leadership loop owns it.
type term struct {
	id      uint64             // the lease's revision when taken: grows from term to term
	rev     kvstore.Revision   // the lease's revision
	expires time.Time          // when the lease expires at the latest, unless renewed
	unsub   func()             // stops the simulator's notifications going out
	records *recordWriter      // stores the agents' records
	reqs    *nats.Subscription // the requests
	cancel  context.CancelFunc // stops the request worker
	wg      sync.WaitGroup     // the request worker
	// down is true while the agents' apps were last told that their link to
	// the contact center is down: by this term's goodbye, or by the last
	// term's, before this one has told them it is back. The lease is then
	// released as a goodbye, so that the next leader does not tell them
	// again (see release).
	down bool
}

// run is the leadership loop: it takes the lease when free, renews it
// every LeaseTTL/3 while held, and steps down when that fails.
func (c *Cluster) run(ctx context.Context) {
	var t *term
	tick := time.NewTicker(c.cfg.LeaseTTL / 3)
	defer tick.Stop()
	for {
		switch {
		case t == nil:
			t = c.lead(ctx)
		case c.serving.Load() == 0: // a record write lost its compare-and-set
			c.stepDown(t, false)
			t = nil
		default:
			if !c.renew(ctx, t) {
				c.stepDown(t, false)
				t = nil
			}
		}
		select {
		case <-ctx.Done():
			if t != nil {
				c.stepDown(t, true)
			}
			return
		case <-tick.C:
		case <-c.conflict:
		}
	}
}

// leaseMargin is how long before the lease expires, as last renewed, the
// leader stops trying to renew it and steps down, so that it stops serving
// before another node may take over.
func leaseMargin(ttl time.Duration) time.Duration { return ttl / 6 }

// renew renews the lease of term t, and reports whether it still holds it.
// An attempt that fails for want of an answer (NATS or JetStream slow under
// load, or out of reach for a moment) is made again until the lease, as
// last renewed, is about to expire: a slow answer must not end a term that
// still has time. Only a lease taken by another node, or one expired,
// ends it. It runs on the leadership loop, which neither serves requests
// nor takes the simulator's mutex, so a backlog of requests delays it only
// as far as it delays NATS.
func (c *Cluster) renew(ctx context.Context, t *term) bool {
	var unanswered time.Time // when the first attempt left that got no answer
	for {
		sent := time.Now()
		left := t.expires.Sub(sent) - leaseMargin(c.cfg.LeaseTTL)
		if left <= 0 {
			c.log.Warn("cisco lease not renewed in time; stepping down")
			return false
		}
		opCtx, cancel := context.WithTimeout(ctx, min(left, c.cfg.LeaseTTL/3))
		rev, err := kvstore.CompareAndSet(opCtx, c.leases, leaderKey, []byte(c.cfg.Node), t.rev)
		cancel()
		switch {
		case err == nil:
			t.rev, t.expires = rev, sent.Add(c.cfg.LeaseTTL)
			return true
		case ctx.Err() != nil || c.serving.Load() != t.id:
			return false
		case kvstore.IsConflict(err) && !unanswered.IsZero() && c.renewedMeanwhile(ctx, t, unanswered):
			return true
		case kvstore.IsConflict(err):
			c.log.Warn("cisco lease lost; stepping down", zap.Error(err))
			return false
		}
		if unanswered.IsZero() {
			unanswered = sent
		}
		c.log.Debug("renew cisco lease; trying again", zap.Error(err))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(retryBackoff):
		}
	}
}

// renewedMeanwhile reports whether an attempt to renew the lease that got
// no answer, the first of which left at since, renewed it after all: the
// lease still names this node, at a newer revision. No other node writes
// this node's name, so the revision is this term's; it expires at the
// latest LeaseTTL after since.
func (c *Cluster) renewedMeanwhile(ctx context.Context, t *term, since time.Time) bool {
	opCtx, cancel := context.WithTimeout(ctx, c.cfg.LeaseTTL/3)
	defer cancel()
	value, rev, err := kvstore.Get(opCtx, c.leases, leaderKey)
	if err != nil || string(value) != c.cfg.Node || rev <= t.rev {
		return false
	}
	t.rev, t.expires = rev, since.Add(c.cfg.LeaseTTL)
	return true
}

// lead takes the lease if it is free and starts a term: it restores the
// stored agents into the simulator, tells their apps that their link to the
// contact center is back, then serves requests. It returns nil if the lease
// is held elsewhere or the takeover failed.
func (c *Cluster) lead(ctx context.Context) *term {
	opCtx, cancel := context.WithTimeout(ctx, c.cfg.LeaseTTL/3)
	defer cancel()
	holder, rev, err := kvstore.Get(opCtx, c.leases, leaderKey)
	if err == nil && rev != kvstore.Absent && len(holder) > 0 {
		c.unreachable = false
		return nil // held
	}
	// A lease naming no node is a leader's goodbye (see release).
	bye := rev != kvstore.Absent
	sent := time.Now()
	if err == nil {
		rev, err = kvstore.CompareAndSet(opCtx, c.leases, leaderKey, []byte(c.cfg.Node), rev)
	}
	switch {
	case kvstore.IsConflict(err) || ctx.Err() != nil:
		c.unreachable = false
		return nil
	case err != nil:
		// Log an outage once, not on every attempt.
		level := zap.WarnLevel
		if c.unreachable {
			level = zap.DebugLevel
		}
		c.unreachable = true
		c.log.Log(level, "take cisco lease", zap.Error(err))
		return nil
	}
	c.unreachable = false
	t := &term{id: uint64(rev), rev: rev, expires: sent.Add(c.cfg.LeaseTTL), down: bye}
	// The takeover must be done before the lease, not renewed meanwhile, expires.
	loadCtx, cancelLoad := context.WithTimeout(ctx, c.cfg.LeaseTTL/2)
	defer cancelLoad()
	revs := map[storeKey]kvstore.Revision{}
	records, err := load[sim.AgentRecord](loadCtx, c.records, revs)
	var calls []sim.CallRecord
	if err == nil {
		calls, err = load[sim.CallRecord](loadCtx, c.callRecs, revs)
	}
	var watches []interestRecord
	if err == nil {
		watches, err = load[interestRecord](loadCtx, c.watches, revs)
	}
	if err != nil {
		c.log.Error("load agent and call records and the nodes' watches; giving the lease up", zap.Error(err))
		c.release(t)
		return nil
	}
	t.records = newRecordWriter(revs, c.cfg.LeaseTTL, c.writeFailed)
	c.mu.Lock()
	c.writer = t.records
	c.mu.Unlock()
	c.startStreams(t.id, watches)
	t.unsub = c.sim.Subscribe(func(n cisco.Notification) { c.broadcast(t.id, n) })
	c.sim.Restore(records, calls...)
	if !t.records.await(t.records.last(), nil) { // a record Restore rewrote was not stored
		c.stepDown(t, false)
		return nil
	}
	links := c.links(t)
	if !t.down { // the last leader went without a goodbye
		c.tell(t, links, false)
	}
	c.tell(t, links, true)

	// The subscription hands requests to the worker one by one, and waits
	// while the worker serves requestQueue of them: the rest wait in NATS's
	// pending queue, which holds far more than a channel would.
	reqs := make(chan *nats.Msg)
	workCtx, stop := context.WithCancel(context.Background())
	t.cancel = stop
	t.reqs, err = c.nc.QueueSubscribe(c.subject+".*", queueGroup, func(m *nats.Msg) {
		select {
		case reqs <- m:
		case <-workCtx.Done():
			c.respond(m, rpcReply{Retry: true})
		}
	})
	if err == nil {
		err = t.reqs.SetPendingLimits(requestPending, requestPendingBytes)
	}
	if err != nil {
		c.log.Error("subscribe to cisco requests; giving the lease up", zap.Error(err))
		c.stepDown(t, false)
		return nil
	}
	t.wg.Go(func() { c.work(workCtx, t, reqs) })
	c.serving.Store(t.id)
	// took is the takeover, from taking the lease to serving: while it
	// runs, requests wait.
	c.log.Info("leading the cisco contact center", zap.Int("agents", len(records)), zap.Int("calls", len(calls)),
		zap.Duration("took", time.Since(sent)))
	return t
}

// stepDown ends a term: no more requests, broadcasts or writes, the
// simulator idle, the lease released if still held. A leader that leaves
// (Close) says goodbye first: once its last change is broadcast, it tells
// the apps of the agents signed in that their link is down, while the
// lease is still its own, so that no new leader's word comes before.
func (c *Cluster) stepDown(t *term, goodbye bool) {
	c.serving.Store(0)
	c.mu.Lock()
	c.writer = nil
	c.mu.Unlock()
	if t.reqs != nil {
		_ = t.reqs.Unsubscribe() // fails only on a closed connection, which delivers nothing more
	}
	if t.cancel != nil {
		t.cancel()
		t.wg.Wait()
	}
	if t.unsub != nil {
		t.unsub()
	}
	if goodbye {
		c.tell(t, c.links(t), false)
	}
	c.sim.Restore(nil)
	if t.records != nil {
		t.records.close()
	}
	c.release(t)
	c.log.Info("no longer leading the cisco contact center")
}

// release frees the lease if it is still this term's, so that another
// node takes over without waiting for it to expire. It deletes it, or,
// while the apps were last told that their link is down (t.down), leaves
// it naming no node: a goodbye that the next leader reads in the lease
// itself, in order with every write of it, before it tells the apps the
// link is back. A goodbye expires with the lease, unrenewed.
func (c *Cluster) release(t *term) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LeaseTTL/3)
	defer cancel()
	var err error
	if t.down {
		_, err = kvstore.CompareAndSet(ctx, c.leases, leaderKey, nil, t.rev)
	} else {
		err = kvstore.CompareAndDelete(ctx, c.leases, leaderKey, t.rev)
	}
	if err != nil && !kvstore.IsConflict(err) && !errors.Is(err, nats.ErrConnectionClosed) {
		c.log.Debug("release cisco lease", zap.Error(err))
	}
}

// load reads every record of bucket kv, and notes each one's revision in
// revs.
func load[R any](ctx context.Context, kv jetstream.KeyValue, revs map[storeKey]kvstore.Revision) ([]R, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	defer func() { _ = w.Stop() }()
	// Sized for every record at once: growing a slice of 20,000 records
	// step by step was a sixth of a takeover.
	var records []R
	if status, err := kv.Status(ctx); err == nil {
		records = make([]R, 0, status.Values())
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%s: watch closed", kv.Bucket())
			}
			if e == nil { // all current records seen
				return records, nil
			}
			var r R
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				return nil, fmt.Errorf("%s record %s: %w", kv.Bucket(), e.Key(), err)
			}
			records = append(records, r)
			revs[storeKey{kv, e.Key()}] = kvstore.Revision(e.Revision())
		}
	}
}

// links returns the link to the contact center of each agent signed in on
// this node's simulator, as term t runs it: on the agent's extension, named
// "<node>:<term>".
func (c *Cluster) links(t *term) []cisco.LinkChange {
	ctx := context.Background()
	ids, _ := c.sim.SignedInAgents(ctx) // fails only on a done ctx
	name := c.cfg.Node + ":" + strconv.FormatUint(t.id, 10)
	links := make([]cisco.LinkChange, 0, len(ids))
	for _, id := range ids {
		if u, err := c.sim.User(ctx, id); err == nil && u.State != cisco.StateLogout {
			links = append(links, cisco.LinkChange{LoginID: id, Extension: u.Extension, ConnectionID: name})
		}
	}
	return links
}

// tell sends, in term t, that links went down or came back up (see
// cisco.LinkChange): the contact center moves to another node.
func (c *Cluster) tell(t *term, links []cisco.LinkChange, up bool) {
	for _, l := range links {
		l.Up = up
		c.broadcast(t.id, cisco.Notification{Link: &l})
	}
	t.down = !up
}
