package finessecluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/kvstore"
)

// Defaults of Config.
const (
	// DefaultLiveness is how long a node's heartbeat lasts unless renewed;
	// it is renewed every third of it.
	DefaultLiveness = 3 * time.Second
	// DefaultRequestTimeout bounds a request forwarded to the owner of an
	// agent's session: above what the owner itself may take (a REST call
	// to Finesse, then the wait for the notification that shows its
	// effect, then a read back).
	DefaultRequestTimeout = finesse.DefaultRequestTimeout*2 + finesse.DefaultConfirmTimeout
	// DefaultPrefix starts subjects and bucket names, as for the simulator's cluster.
	DefaultPrefix = "ctibus"
)

const (
	// deliveryTimeout bounds how long a forwarded request, once answered,
	// waits for this node to deliver the owner's notifications sent before
	// the answer. It runs out only if a broadcast was lost.
	deliveryTimeout = 5 * time.Second
	// maxServing bounds the forwarded requests a node serves at once; one
	// more is answered Unavailable at once rather than queued.
	maxServing = 512
)

// Config holds the tunables of a Cluster. Zero values select the defaults.
type Config struct {
	// Node names this node in heartbeats and logs. Required.
	Node string
	// Prefix starts the NATS subjects and the KV bucket names; it must be a
	// valid bucket name ([A-Za-z0-9_-]). Default "ctibus".
	Prefix string
	// Liveness is how long a node may go without renewing its heartbeat
	// before the others take its agents' sessions for lost. Default 3 s.
	Liveness time.Duration
	// RequestTimeout bounds a request forwarded to another node.
	RequestTimeout time.Duration
	// Log receives lost nodes and failures. Default zap.NewNop().
	Log *zap.Logger
}

// Cluster is a cisco.Connector on Finesse shared by the nodes of a ctibus
// cluster; see the package documentation for how. Build it with New on the
// node's own finesse.Connector; Close leaves the cluster, and the caller
// closes the connector after it.
type Cluster struct {
	fin    *finesse.Connector
	nc     *nats.Conn
	cfg    Config
	log    *zap.Logger
	origin string // this node's incarnation: <node>-<random>, in heartbeats, records and notifications

	owners   jetstream.KeyValue // a.<loginId in hex> → owner; n.<name in hex> → loginId
	nodes    jetstream.KeyValue // <origin> → node, expiring after Liveness
	requests string             // this node's request subject
	notifies string             // the broadcast subject of notifications

	mu       sync.Mutex            // guards the fields below; never held while delivering
	table    map[string]record     // loginId → its owner, as the watch last said
	names    map[string]string     // lower-case loginName or loginId → loginId
	alive    map[string]bool       // origins whose heartbeat the last listing found
	listedAt time.Time             // when the last listing started
	lost     map[string]uint64     // loginId → the revision whose loss was delivered
	known    map[string]cisco.User // loginId → the agent's User as its last notification showed it
	claiming map[string]*claim     // loginIds being signed in here: their records are not tidied

	deliverMu sync.Mutex // serializes deliveries; guards subs
	subs      sim.Subscribers
	seq       atomic.Uint64 // the number of this node's last notification broadcast

	seenMu   sync.Mutex        // guards the fields below
	seen     map[string]uint64 // origin → the number of its last notification delivered here
	seenMore chan struct{}     // closed, and replaced, when seen advances

	serving chan struct{} // a slot per forwarded request being served
	tidy    chan struct{} // asks the loop to tidy this node's records now

	unsubscribeLocal func()
	subs2            []*nats.Subscription
	watcher          jetstream.KeyWatcher
	stop             context.CancelFunc
	wg               sync.WaitGroup
	closeOnce        sync.Once
}

var _ cisco.Connector = (*Cluster)(nil)

// record is an owner record: the node incarnation that holds the agent's
// session.
type record struct {
	Node      string `json:"node"`
	Origin    string `json:"origin"`
	Extension string `json:"extension,omitempty"` // the extension of the sign-in that made the record
	// Teams are the teams a supervisor supervises: every node publishes
	// the team feed of its teams' agents to it.
	Teams []string `json:"teams,omitempty"`

	rev  uint64    // the record's revision
	seen time.Time // when the watch gave it
}

func ownerKey(loginID string) string { return "a." + kvstore.HexToken(loginID) }
func nameKey(name string) string     { return "n." + kvstore.HexToken(strings.ToLower(name)) }

// New joins the cluster on nc with fin, this node's connector to Finesse,
// already started. It creates the buckets if need be, reads the owners,
// and starts its heartbeat. ctx bounds the setup only.
func New(ctx context.Context, fin *finesse.Connector, nc *nats.Conn, cfg Config) (*Cluster, error) {
	if cfg.Node == "" {
		return nil, errors.New("finesse cluster: Node is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := kvstore.CheckName(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("finesse cluster: prefix %w", err)
	}
	if cfg.Liveness <= 0 {
		cfg.Liveness = DefaultLiveness
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("finesse cluster: jetstream: %w", err)
	}
	owners, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      kvstore.BucketName(cfg.Prefix, "finesse_owners"),
		Description: "the ctibus node that holds each agent's Finesse session",
	})
	if err != nil {
		return nil, fmt.Errorf("finesse cluster: owners: %w", err)
	}
	nodes, err := kvstore.Open(ctx, js, kvstore.Config{
		Bucket:      kvstore.BucketName(cfg.Prefix, "finesse_nodes"),
		Description: "the ctibus nodes alive that hold Finesse sessions",
		TTL:         cfg.Liveness,
	})
	if err != nil {
		return nil, fmt.Errorf("finesse cluster: nodes: %w", err)
	}
	c := &Cluster{
		fin:      fin,
		nc:       nc,
		cfg:      cfg,
		log:      cfg.Log,
		origin:   cfg.Node + "-" + strings.ToLower(rand.Text()[:8]),
		owners:   owners,
		nodes:    nodes,
		notifies: cfg.Prefix + ".finesse.notify",
		table:    map[string]record{},
		names:    map[string]string{},
		alive:    map[string]bool{},
		lost:     map[string]uint64{},
		known:    map[string]cisco.User{},
		claiming: map[string]*claim{},
		seen:     map[string]uint64{},
		seenMore: make(chan struct{}),
		serving:  make(chan struct{}, maxServing),
		tidy:     make(chan struct{}, 1),
	}
	c.requests = cfg.Prefix + ".finesse.req." + c.origin
	if err := c.beat(ctx); err != nil {
		return nil, fmt.Errorf("finesse cluster: heartbeat: %w", err)
	}
	if err := c.start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// start watches the owners, subscribes to requests and notifications, and
// starts the loop.
func (c *Cluster) start(ctx context.Context) error {
	loopCtx, stop := context.WithCancel(context.Background())
	c.stop = stop
	w, err := c.owners.WatchAll(loopCtx)
	if err != nil {
		return fmt.Errorf("finesse cluster: watch the owners: %w", err)
	}
	c.watcher = w
	// The records there are now, before anything is routed.
	for initial := true; initial; {
		select {
		case e := <-w.Updates():
			if e == nil {
				initial = false
				break
			}
			c.apply(e)
		case <-ctx.Done():
			return fmt.Errorf("finesse cluster: read the owners: %w", ctx.Err())
		}
	}
	if err := c.list(ctx); err != nil {
		return fmt.Errorf("finesse cluster: list the nodes: %w", err)
	}
	for subject, handle := range map[string]nats.MsgHandler{c.notifies: c.receive, c.requests: c.serve} {
		sub, err := c.nc.Subscribe(subject, handle)
		if err != nil {
			return fmt.Errorf("finesse cluster: subscribe to %s: %w", subject, err)
		}
		c.subs2 = append(c.subs2, sub)
	}
	if err := c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("finesse cluster: subscribe: %w", err)
	}
	c.unsubscribeLocal = c.fin.Subscribe(c.local)
	c.wg.Add(2)
	go c.watch(w)
	go c.run(loopCtx)
	return nil
}

// Close leaves the cluster: this node's heartbeat goes, so the other nodes
// tell their apps at once that this node's agents lost their Finesse
// sessions, which the caller then ends by closing the connector.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		if c.stop != nil {
			c.stop()
		}
		if c.watcher != nil {
			_ = c.watcher.Stop()
		}
		c.wg.Wait()
		for _, sub := range c.subs2 {
			_ = sub.Unsubscribe()
		}
		if c.unsubscribeLocal != nil {
			c.unsubscribeLocal()
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Liveness)
		defer cancel()
		if err := c.nodes.Delete(ctx, c.origin); err != nil {
			c.log.Warn("withdraw this node's heartbeat; the other nodes will miss it when it expires", zap.Error(err))
		}
	})
	return nil
}

// Node returns this node's incarnation, as the other nodes see it.
func (c *Cluster) Node() string { return c.origin }

// beat renews this node's heartbeat.
func (c *Cluster) beat(ctx context.Context) error {
	_, err := c.nodes.Put(ctx, c.origin, []byte(c.cfg.Node))
	return err
}

// list reads which nodes are alive.
func (c *Cluster) list(ctx context.Context) error {
	started := time.Now()
	keys, err := c.nodes.ListKeys(ctx)
	if err != nil {
		return err
	}
	alive := map[string]bool{c.origin: true}
	for k := range keys.Keys() {
		alive[k] = true
	}
	c.mu.Lock()
	c.alive, c.listedAt = alive, started
	c.mu.Unlock()
	return nil
}

// watch applies the owners bucket's changes to the table.
func (c *Cluster) watch(w jetstream.KeyWatcher) {
	defer c.wg.Done()
	for e := range w.Updates() {
		if e != nil {
			c.apply(e)
		}
	}
}

// apply applies one change of the owners bucket.
func (c *Cluster) apply(e jetstream.KeyValueEntry) {
	kind, hexed, ok := strings.Cut(e.Key(), ".")
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch kind {
	case "a":
		id, err := hexDecode(hexed)
		if err != nil {
			return
		}
		if e.Operation() != jetstream.KeyValuePut {
			delete(c.table, id)
			return
		}
		var r record
		if json.Unmarshal(e.Value(), &r) != nil || r.Origin == "" {
			return
		}
		r.rev, r.seen = e.Revision(), time.Now()
		c.table[id] = r
		c.names[strings.ToLower(id)] = id
	case "n":
		name, err := hexDecode(hexed)
		if err != nil || e.Operation() != jetstream.KeyValuePut {
			return
		}
		c.names[name] = string(e.Value())
	}
}

// run renews the heartbeat, finds the nodes that went, and tidies this
// node's records, every third of Liveness.
func (c *Cluster) run(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.Liveness / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			opCtx, cancel := context.WithTimeout(ctx, c.cfg.Liveness/3)
			if err := c.beat(opCtx); err != nil {
				c.log.Warn("renew this node's heartbeat", zap.Error(err))
			}
			if err := c.list(opCtx); err != nil {
				c.log.Warn("list the nodes alive", zap.Error(err))
			} else {
				c.deliverLost()
			}
			c.tidyRecords(opCtx)
			cancel()
		case <-c.tidy:
			opCtx, cancel := context.WithTimeout(ctx, c.cfg.Liveness/3)
			c.tidyRecords(opCtx)
			cancel()
		}
	}
}

// aliveLocked reports whether r's node is alive as far as this node knows:
// its heartbeat was listed, or it was recorded after the last listing
// started (a node that just joined).
func (c *Cluster) aliveLocked(r record) bool {
	return r.Origin == c.origin || c.alive[r.Origin] || r.seen.After(c.listedAt)
}

// deliverLost tells this node's subscribers, once per record, that the
// agents whose owners went have lost their Finesse sessions.
func (c *Cluster) deliverLost() {
	c.mu.Lock()
	var gone []lostSession
	for id, r := range c.table {
		if c.aliveLocked(r) || c.lost[id] == r.rev {
			continue
		}
		c.lost[id] = r.rev
		u, ok := c.known[id]
		if !ok {
			u = cisco.User{LoginID: id, URI: "/finesse/api/User/" + id}
		}
		u.Extension = cmp.Or(u.Extension, r.Extension)
		gone = append(gone, lostSession{user: u, link: r.Origin})
		c.known[id] = signedOut(u)
		c.log.Warn("the node holding an agent's Finesse session is gone; the agent must sign in again",
			zap.String("agent", id), zap.String("owner", r.Node))
	}
	c.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	for _, g := range gone {
		u := g.user
		if u.Extension != "" {
			c.subs.Deliver(cisco.Notification{Link: &cisco.LinkChange{LoginID: u.LoginID, Extension: u.Extension, ConnectionID: g.link}})
		}
		changed := []string{"state"}
		if u.Extension != "" {
			changed = append(changed, "extension")
		}
		c.subs.Deliver(cisco.Notification{User: &cisco.UserChange{User: signedOut(u), Changed: changed}})
	}
}

// lostSession is an agent whose session went with its node.
type lostSession struct {
	user cisco.User // as last known, on the extension it was signed in on
	link string     // names the link that went: the node incarnation that held it
}

// signedOut is u signed out.
func signedOut(u cisco.User) cisco.User {
	u.State, u.Extension, u.PendingState, u.ReasonCodeID, u.ReasonCode = cisco.StateLogout, "", "", "-1", nil
	u.StateChangeTime = time.Now().UTC().Format(cisco.TimeFormat)
	return u
}

// tidyRecords deletes the records of this node whose sessions ended, and
// lets go of a session whose agent another node took over.
func (c *Cluster) tidyRecords(ctx context.Context) {
	c.mu.Lock()
	var ended []string
	var revs []kvstore.Revision
	var taken []string
	for id, r := range c.table {
		switch {
		case r.Origin == c.origin && c.claiming[id] == nil && !c.fin.HasSession(id):
			ended, revs = append(ended, id), append(revs, kvstore.Revision(r.rev))
		case r.Origin != c.origin && c.claiming[id] == nil && c.aliveLocked(r) && c.fin.HasSession(id):
			taken = append(taken, id)
		}
	}
	c.mu.Unlock()
	for i, id := range ended {
		if err := kvstore.CompareAndDelete(ctx, c.owners, ownerKey(id), revs[i]); err != nil && !kvstore.IsConflict(err) {
			c.log.Warn("delete the record of an agent signed out", zap.String("agent", id), zap.Error(err))
		}
	}
	for _, id := range taken {
		c.log.Warn("another node took over the agent's Finesse session; this node lets its own go", zap.String("agent", id))
		c.fin.Release(id)
	}
}

// local receives the notifications of this node's sessions: it delivers
// them here and broadcasts them. It runs under the connector's delivery
// lock, so it only publishes, which does not block.
func (c *Cluster) local(n cisco.Notification) {
	if u := n.User; u != nil {
		id := u.User.LoginID
		if _, elsewhere := c.owner(id); elsewhere && !c.fin.HasSession(id) {
			// The team feed of a supervisor signed in here, about an
			// agent another node holds: that node's own notification
			// reaches every supervisor of the agent's team.
			return
		}
		n.User = c.withSupervisors(*u)
	}
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	seq := c.seq.Add(1)
	data, err := json.Marshal(notifyMsg{Origin: c.origin, Seq: seq, N: n})
	if err == nil {
		err = c.nc.Publish(c.notifies, data)
	}
	if err != nil {
		c.log.Warn("broadcast a Finesse notification; the other nodes miss it", zap.Error(err))
	}
	c.subs.Deliver(n)
	if n.User != nil && n.User.User.State == cisco.StateLogout {
		select {
		case c.tidy <- struct{}{}:
		default:
		}
	}
}

// withSupervisors returns u with the supervisors of the agent's team
// signed in on any node, not only here.
func (c *Cluster) withSupervisors(u cisco.UserChange) *cisco.UserChange {
	team := u.User.TeamID
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, r := range c.table {
		if slices.Contains(r.Teams, team) && c.aliveLocked(r) && !slices.Contains(u.Supervisors, id) {
			u.Supervisors = append(slices.Clone(u.Supervisors), id)
		}
	}
	return &u
}

// notifyMsg is a notification as broadcast.
type notifyMsg struct {
	Origin string             `json:"origin"`
	Seq    uint64             `json:"seq"`
	N      cisco.Notification `json:"n"`
}

// receive delivers another node's notification here.
func (c *Cluster) receive(m *nats.Msg) {
	var msg notifyMsg
	if err := json.Unmarshal(m.Data, &msg); err != nil || msg.Origin == c.origin {
		return
	}
	if u := msg.N.User; u != nil {
		c.mu.Lock()
		c.known[u.User.LoginID] = u.User
		c.mu.Unlock()
	}
	c.deliverMu.Lock()
	c.subs.Deliver(msg.N)
	c.deliverMu.Unlock()
	c.seenMu.Lock()
	if msg.Seq > c.seen[msg.Origin] {
		c.seen[msg.Origin] = msg.Seq
		close(c.seenMore)
		c.seenMore = make(chan struct{})
	}
	c.seenMu.Unlock()
}

// awaitDelivered waits until this node has delivered origin's
// notifications up to seq, or deliveryTimeout.
func (c *Cluster) awaitDelivered(ctx context.Context, origin string, seq uint64) {
	timeout := time.NewTimer(deliveryTimeout)
	defer timeout.Stop()
	for {
		c.seenMu.Lock()
		done, more := c.seen[origin] >= seq, c.seenMore
		c.seenMu.Unlock()
		if done {
			return
		}
		select {
		case <-more:
		case <-timeout.C:
			c.log.Warn("a forwarded request's notifications did not all arrive; answering anyway", zap.String("owner", origin))
			return
		case <-ctx.Done():
			return
		}
	}
}

// Subscribe delivers every notification of every node to f, serially.
func (c *Cluster) Subscribe(f func(cisco.Notification)) (cancel func()) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	id := c.subs.Add(f)
	return func() {
		c.deliverMu.Lock()
		defer c.deliverMu.Unlock()
		c.subs.Remove(id)
	}
}

// owner returns the live node that holds the session of the agent loginID
// names, and whether it is another node.
func (c *Cluster) owner(loginID string) (origin string, elsewhere bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, r, ok := c.recordLocked(loginID)
	if !ok || !c.aliveLocked(r) || r.Origin == c.origin {
		return "", false
	}
	return r.Origin, true
}

// recordLocked returns the loginId of the agent loginID names (a loginId,
// or a loginName a node met at a sign-in) and its owner record.
func (c *Cluster) recordLocked(loginID string) (id string, r record, ok bool) {
	id, known := c.names[strings.ToLower(loginID)]
	if !known {
		id = loginID
	}
	r, ok = c.table[id]
	return id, r, ok
}

// lostHere returns the agent as signed out if its owner went and no node
// holds its session now.
func (c *Cluster) lostHere(loginID string) (cisco.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, r, ok := c.recordLocked(loginID)
	if !ok || c.aliveLocked(r) || c.fin.HasSession(id) {
		return cisco.User{}, false
	}
	u, ok := c.known[id]
	if !ok {
		return cisco.User{}, false
	}
	return signedOut(u), true
}

func hexDecode(s string) (string, error) {
	b, err := hex.DecodeString(s)
	return string(b), err
}
