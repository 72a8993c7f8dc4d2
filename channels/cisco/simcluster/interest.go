package simcluster

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/kvstore"

	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

var _ cisco.Watcher = (*Cluster)(nil)

// Routing notifications by interest.
//
// The leader sends a notification only to the nodes that watch an agent it
// names, each in a stream of its own (streamSubject), numbered per node
// within the term; an answer carries the requesting node's numbers, so a
// call still returns once its node has delivered what the leader sent it
// before answering (see awaitDelivery).
//
// A node tells the leader what it watches (tellLeader), one request at a
// time, each computed from what it wants at that moment, so that an
// unwatch and a rewatch that cross cannot leave the leader with the older
// of the two; unwatches go a few hundred at a time (unwatchesPerTell). The leader applies a watch under the simulator's mutex
// (Simulator.Snapshot): it adds the agents to the node's entry, and sends
// the node, first in its stream from that point, a snapshot of each agent,
// whose later changes all follow. It stores each entry in the watches
// bucket before it answers, as it stores agents' records, so that a leader
// taking over loads the table with the agents and calls, before it tells
// anyone anything.

// stream is what the leader sends one node: the agents it watches, and
// the number of the last notification sent to it in the term.
type stream struct {
	subject string
	seq     uint64
	all     bool                // the node watches every agent
	agents  map[string]struct{} // the loginIds it watches
}

// wants reports whether the node watches an agent that n names: the agent
// of the change and, for a User change, the supervisors of its team, who
// hear of it in their team feed. A notification's RequestedBy needs no
// watch: the events carry its correlation id only in those workspaces.
func (st *stream) wants(n cisco.Notification) bool {
	if st.all {
		return true
	}
	if len(st.agents) == 0 {
		return false
	}
	switch {
	case n.User != nil:
		return st.has(n.User.User.LoginID) || slices.ContainsFunc(n.User.Supervisors, st.has)
	case n.Calls != nil:
		return st.has(n.Calls.LoginID)
	case n.Failure != nil:
		return st.has(n.Failure.LoginID)
	case n.Link != nil:
		return st.has(n.Link.LoginID)
	}
	return false
}

// has reports whether the node watches id (cisco.AllAgents: every agent).
func (st *stream) has(id string) bool {
	if id == cisco.AllAgents {
		return st.all
	}
	_, ok := st.agents[id]
	return ok
}

// set records that the node watches id (cisco.AllAgents: every agent), or
// no longer does.
func (st *stream) set(id string, watched bool) {
	switch {
	case id == cisco.AllAgents:
		st.all = watched
	case watched:
		st.agents[id] = struct{}{}
	default:
		delete(st.agents, id)
	}
}

// streamSubject is the subject of node's stream.
func streamSubject(notifies, node string) string { return notifies + "." + kvstore.Token(node) }

// interestRecord is one entry of the interest table as stored: node
// watches LoginID (or cisco.AllAgents).
type interestRecord struct {
	Node    string `json:"node"`
	LoginID string `json:"loginId"`
}

// key returns the record's key in the watches bucket.
func (r interestRecord) key() string {
	id := kvstore.Token(r.LoginID)
	if r.LoginID == cisco.AllAgents {
		id = "_all" // Token spells nothing so: its "_" is followed by hex
	}
	return kvstore.Token(r.Node) + "." + id
}

// startStreams starts term's streams from the stored watches, every
// number at 0. It runs before the term notifies anything.
func (c *Cluster) startStreams(term uint64, watches []interestRecord) {
	c.sentMu.Lock()
	defer c.sentMu.Unlock()
	c.sentTerm = term
	c.streams = map[string]*stream{}
	for _, r := range watches {
		c.streamLocked(r.Node).set(r.LoginID, true)
	}
}

// streamLocked returns node's stream, starting it if needed. A stream
// stays for the rest of the term once started, watching nothing or not:
// its numbers must go on growing.
func (c *Cluster) streamLocked(node string) *stream {
	st := c.streams[node]
	if st == nil {
		st = &stream{subject: streamSubject(c.notifies, node), agents: map[string]struct{}{}}
		c.streams[node] = st
	}
	return st
}

// watchFor is the leader's side of a node's Watch: under the simulator's
// mutex, it adds ids to the node's entry, stores them, and sends the node
// a snapshot of each agent, so that the node has the agents' state at the
// point from which their changes come. An id the directory lacks is
// ignored: the table holds no more than the directory.
func (c *Cluster) watchFor(ctx context.Context, node string, ids []string) error {
	all := false
	var named []string
	for _, id := range ids {
		switch known, err := c.sim.Agent(ctx, id); {
		case id == cisco.AllAgents:
			all = true
		case err != nil:
			return err
		case known:
			named = append(named, id)
		}
	}
	w := c.currentWriter()
	c.sim.Snapshot(named, all, func(snaps []cisco.AgentSnapshot) {
		c.sentMu.Lock() // lock order: under the simulator's mutex, both connector (2)
		defer c.sentMu.Unlock()
		st := c.streamLocked(node)
		if all {
			named = append(named, cisco.AllAgents)
		}
		for _, id := range named {
			c.setWatchLocked(w, st, node, id, true)
		}
		for i := range snaps {
			body, err := json.Marshal(cisco.Notification{Snapshot: &snaps[i]})
			if err != nil {
				c.log.Error("encode an agent's snapshot", zap.Error(err))
				continue
			}
			c.sendLocked(c.sentTerm, st, body)
		}
	})
	return nil
}

// setWatchLocked records in node's stream st whether the node watches id,
// and queues the change to the watches bucket on w (none: not stored).
// The caller holds sentMu.
func (c *Cluster) setWatchLocked(w *recordWriter, st *stream, node, id string, watched bool) {
	st.set(id, watched)
	if w != nil {
		r := interestRecord{Node: node, LoginID: id}
		w.queue(storeKey{c.watches, r.key()}, r, !watched)
	}
}

// unwatchFor is the leader's side of a node's Unwatch: it takes ids (nil:
// every one) out of the node's entry, and deletes them from the bucket.
func (c *Cluster) unwatchFor(node string, ids []string) {
	w := c.currentWriter()
	c.sentMu.Lock()
	defer c.sentMu.Unlock()
	st := c.streams[node]
	if st == nil {
		return
	}
	if ids == nil {
		for id := range st.agents {
			ids = append(ids, id)
		}
		if st.all {
			ids = append(ids, cisco.AllAgents)
		}
	}
	for _, id := range ids {
		if st.has(id) { // else nothing is stored to delete
			c.setWatchLocked(w, st, node, id, false)
		}
	}
}

// Watch makes this node deliver, from the moment it returns, every
// notification that names one of loginIDs (cisco.AllAgents: every one),
// after a Notification.Snapshot of each. It returns once the leader has
// the watch, without waiting for the snapshots to be delivered: the bus
// calls it under its workspaces' lock, which delivering may take. A call
// made after it still returns only once everything the leader sent before
// answering it, the snapshots among them, is delivered here. While no
// leader answers it fails, after RequestTimeout, with ErrUnavailable, and
// this node keeps trying in the background.
func (c *Cluster) Watch(ctx context.Context, loginIDs ...string) error {
	c.wantMu.Lock()
	for _, id := range loginIDs {
		c.wants[id]++
	}
	c.wantMu.Unlock()
	more, err := c.tellLeader(ctx)
	if err != nil || more {
		c.wake()
	}
	if err != nil {
		return fmt.Errorf("cisco: cluster: watch: %w", err)
	}
	return nil
}

// Unwatch undoes one Watch of each of loginIDs. The leader hears of it in
// the background, once no Watch of an agent is left.
func (c *Cluster) Unwatch(loginIDs ...string) {
	c.wantMu.Lock()
	for _, id := range loginIDs {
		if c.wants[id]--; c.wants[id] <= 0 {
			delete(c.wants, id)
		}
	}
	c.wantMu.Unlock()
	c.wake()
}

// wake has tellLoop tell the leader what this node watches now.
func (c *Cluster) wake() {
	select {
	case c.wantsChanged <- struct{}{}:
	default:
	}
}

// tellRetry is how long tellLoop waits before trying again to tell the
// leader what this node watches, and between two rounds of unwatches.
const tellRetry = time.Second

// unwatchesPerTell bounds the agents one tellLeader unwatches. The leader
// deletes each from the watches bucket, one write per agent, and every
// answer it gives waits for the writes queued before it: the thousands of
// agents a node stops watching when its connections close at once would
// hold its answers until their writes time out, and it would step down.
const unwatchesPerTell = 250

// tellLoop forgets this node's stale interests once, then tells the
// leader what this node watches whenever that changes, until ctx ends.
func (c *Cluster) tellLoop(ctx context.Context) {
	c.forgetStale(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wantsChanged:
		}
		for {
			if more, err := c.tellLeader(ctx); err == nil && !more {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(tellRetry):
			}
		}
	}
}

// tellLeader brings the leader's entry for this node to what it wants:
// it watches the agents wanted and not told yet, and unwatches those told
// and no longer wanted. One runs at a time, each deciding from the wants
// of its own moment, so that the last word the leader gets is the latest:
// an unwatch that crosses a rewatch of the agent either goes first, or
// finds the agent wanted again and is not sent. A Watch whose agents
// another tellLeader told meanwhile sends nothing. It unwatches at most
// unwatchesPerTell agents, and reports whether more are left.
func (c *Cluster) tellLeader(ctx context.Context) (more bool, err error) {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	c.toldMu.Lock()
	defer c.toldMu.Unlock()
	var watch, unwatch []string
	c.wantMu.Lock()
	for id := range c.wants {
		if !c.told[id] {
			watch = append(watch, id)
		}
	}
	for id := range c.told {
		if c.wants[id] == 0 {
			unwatch = append(unwatch, id)
		}
	}
	c.wantMu.Unlock()
	if len(unwatch) > unwatchesPerTell {
		unwatch, more = unwatch[:unwatchesPerTell], true
	}
	for batch := range slices.Chunk(watch, maxWatchBatch) {
		if _, err := call[struct{}](c, ctx, methodWatch, rpcArgs{Agents: batch}); err != nil {
			return false, err
		}
		for _, id := range batch {
			c.told[id] = true
		}
	}
	if len(unwatch) > 0 {
		if _, err := call[struct{}](c, ctx, methodUnwatch, rpcArgs{Agents: unwatch}); err != nil {
			return false, err
		}
		for _, id := range unwatch {
			delete(c.told, id)
		}
	}
	return more, nil
}

// forgetStale clears the leader's entry for this node, left by a node of
// the same name that did not leave (it stopped without Close), before
// this node tells it anything: it would bring notifications nobody here
// wants. It gives up after RequestTimeout; the stale entry then only costs
// traffic.
func (c *Cluster) forgetStale(ctx context.Context) {
	defer close(c.ready)
	if _, err := call[struct{}](c, ctx, methodForget, rpcArgs{}); err != nil && ctx.Err() == nil {
		c.log.Debug("forget this node's earlier watches", zap.Error(err))
	}
}

// forgetOnClose clears the leader's entry for this node as it leaves, if
// it has one, waiting at most attemptTimeout.
func (c *Cluster) forgetOnClose() {
	c.toldMu.Lock()
	defer c.toldMu.Unlock()
	if len(c.told) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
	defer cancel()
	if _, err := call[struct{}](c, ctx, methodForget, rpcArgs{}); err != nil {
		c.log.Debug("forget this node's watches", zap.Error(err))
	}
	clear(c.told)
}
