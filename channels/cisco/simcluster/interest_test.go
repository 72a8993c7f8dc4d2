package simcluster_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
)

// startQuietCluster is startCluster with nodes that watch no agent.
func startQuietCluster(t *testing.T, s *server.Server, dir *sim.Directory, count int) []*clusterNode {
	t.Helper()
	var nodes []*clusterNode
	for i := range count {
		nodes = append(nodes, startQuietNode(t, s, dir, fmt.Sprint("node", i), simcluster.Config{LeaseTTL: steadyLease}))
	}
	i := waitLeader(t, nodes)
	nodes[0], nodes[i] = nodes[i], nodes[0]
	return nodes
}

// wire records the notifications the leader sends, by the node whose
// stream carries them, as NATS carries them. One publisher's messages reach
// a subscriber in the order sent: once the wire has one, it has every one
// the leader sent before it.
type wire struct {
	mu     sync.Mutex
	byNode map[string][]cisco.Notification
	legacy int // messages on the broadcast subject of earlier versions
}

func tapWire(t *testing.T, s *server.Server) *wire {
	t.Helper()
	w := &wire{byNode: map[string][]cisco.Notification{}}
	spy := natstest.Connect(t, s)
	_, err := spy.Subscribe("ctibus.cti.notify.>", func(m *nats.Msg) {
		var msg struct {
			Notification cisco.Notification `json:"notification"`
		}
		if !assert.NoError(t, json.Unmarshal(m.Data, &msg)) {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		node := strings.TrimPrefix(m.Subject, "ctibus.cti.notify.")
		w.byNode[node] = append(w.byNode[node], msg.Notification)
	})
	require.NoError(t, err)
	_, err = spy.Subscribe("ctibus.cti.notify", func(*nats.Msg) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.legacy++
	})
	require.NoError(t, err)
	require.NoError(t, spy.Flush())
	return w
}

// await waits until node's stream has carried a notification that matches.
func (w *wire) await(t *testing.T, node string, match func(cisco.Notification) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, n := range w.byNode[node] {
			if match(n) {
				return true
			}
		}
		return false
	}, eventually, testLease/10, "node %s's stream never carried it", node)
}

// agents returns the agents named by what node's stream carried, each once.
func (w *wire) agents(node string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for _, n := range w.byNode[node] {
		id := agentOf(n)
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	return ids
}

// agentOf returns the agent a notification is about.
func agentOf(n cisco.Notification) string {
	switch {
	case n.User != nil:
		return n.User.User.LoginID
	case n.Calls != nil:
		return n.Calls.LoginID
	case n.Link != nil:
		return n.Link.LoginID
	case n.Failure != nil:
		return n.Failure.LoginID
	case n.Snapshot != nil:
		return n.Snapshot.User.LoginID
	}
	return ""
}

// A node receives the notifications of the agents it watches, and no
// other: the leader sends each one only in the streams of the nodes that
// watch an agent it names, and a node that watches nothing receives
// nothing, though it serves the requests that caused them.
func TestClusterNotifiesOnlyTheNodesThatWatch(t *testing.T) {
	s := natstest.Start(t, "")
	w := tapWire(t, s)
	nodes := startQuietCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 3)
	leader, a, b := nodes[0], nodes[1], nodes[2]
	ctx := testContext(t)
	require.NoError(t, a.Watch(ctx, "100501"))
	require.NoError(t, b.Watch(ctx, "100503"))

	// Each node changes the agent the other watches.
	_, err := b.SignIn(ctx, "ciscotest", "test@123", "1001")
	require.NoError(t, err)
	_, err = b.SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)
	_, err = a.SignIn(ctx, "jdoe", "agent@3", "1003")
	require.NoError(t, err)
	_, err = a.SetState(ctx, "100503", cisco.StateReady, "")
	require.NoError(t, err)
	// Sent last: once the wire has it, it has all.
	w.await(t, b.name, ciscotest.UserIn("100503", cisco.StateReady))

	assert.Equal(t, []string{"100501"}, w.agents(a.name), "a's stream: its agent's snapshot and changes")
	assert.Equal(t, []string{"100503"}, w.agents(b.name))
	assert.Empty(t, w.agents(leader.name), "the leader watches nothing: its stream carries nothing")
	assert.Zero(t, w.legacy, "nothing is broadcast")
	for _, n := range a.got.all() {
		assert.Equal(t, "100501", agentOf(n))
	}
	assert.Empty(t, leader.got.all())
}

// A node that starts to watch an agent gets first the agent as it stands,
// on its call, then every change after: the point from which its stream
// carries the agent is the snapshot's.
func TestClusterWatchStartsWithTheAgentsSnapshot(t *testing.T) {
	s := natstest.Start(t, "")
	nodes := startQuietCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 2)
	leader, late := nodes[0], nodes[1]
	ctx := testContext(t)
	_, err := leader.SignIn(ctx, "jdoe", "agent@3", "1003")
	require.NoError(t, err)
	d, err := leader.Ring(ctx, "100503", sim.IncomingCall{From: "5551234"})
	require.NoError(t, err)
	require.NoError(t, leader.CallAction(ctx, "100503", d.ID, cisco.ActionAnswer, ""))

	require.NoError(t, late.Watch(ctx, "100503"))
	require.NoError(t, leader.CallAction(ctx, "100503", d.ID, cisco.ActionDrop, ""))
	// A call waits for the delivery of what the leader sent its node.
	_, err = late.User(ctx, "100503")
	require.NoError(t, err)

	got := late.got.all()
	require.NotEmpty(t, got)
	snap := got[0].Snapshot
	require.NotNil(t, snap, "the first notification is the snapshot: %+v", got[0])
	assert.Equal(t, cisco.StateTalking, snap.User.State)
	require.Len(t, snap.Dialogs, 1)
	assert.Equal(t, d.ID, snap.Dialogs[0].ID)
	var after []string
	for _, n := range got[1:] {
		require.Nil(t, n.Snapshot, "one snapshot, at the start")
		if n.Calls != nil {
			after = append(after, "calls")
		}
	}
	assert.NotEmpty(t, after, "the drop came after the snapshot")
}

// Watches are counted: an agent stays watched until each Watch is undone,
// an unwatch that crosses a rewatch loses nothing, and once the last
// Watch is undone the agent's notifications stop coming.
func TestClusterWatchesAreCounted(t *testing.T) {
	s := natstest.Start(t, "")
	w := tapWire(t, s)
	nodes := startQuietCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 2)
	leader, n := nodes[0], nodes[1]
	ctx := testContext(t)
	_, err := leader.SignIn(ctx, "ciscotest", "test@123", "1001")
	require.NoError(t, err)
	_, err = leader.SignIn(ctx, "jdoe", "agent@3", "1003")
	require.NoError(t, err)
	rec := ciscotest.Record(t, n)

	require.NoError(t, n.Watch(ctx, "100501"))
	require.NoError(t, n.Watch(ctx, "100501"))
	n.Unwatch("100501")
	_, err = leader.SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)
	rec.Await(t, "a change while one watch is left", ciscotest.UserIn("100501", cisco.StateReady))

	// The last watch undone and done again at once: whichever order the
	// leader hears them in, the agent stays watched.
	for range 20 {
		n.Unwatch("100501")
		require.NoError(t, n.Watch(ctx, "100501"))
	}
	_, err = leader.SetState(ctx, "100501", cisco.StateNotReady, "2")
	require.NoError(t, err)
	rec.Await(t, "a change after the rewatches", ciscotest.UserIn("100501", cisco.StateNotReady))

	// Undone for good: the next Watch (of another agent) returns once the
	// leader has heard of it, and of the unwatch before it.
	n.Unwatch("100501")
	require.NoError(t, n.Watch(ctx, "100503"))
	_, err = leader.ForceLogout(ctx, "100501", "28")
	require.NoError(t, err)
	_, err = leader.SetState(ctx, "100503", cisco.StateReady, "")
	require.NoError(t, err)
	w.await(t, n.name, ciscotest.UserIn("100503", cisco.StateReady))
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, got := range w.byNode[n.name] {
		assert.False(t, ciscotest.UserIn("100501", cisco.StateLogout)(got), "a change of an agent no longer watched")
	}
}

// A leader taking over loads what each node watches with the agents: the
// link down and back reaches the node that watches the agent, and its
// changes after the move too, while a node that watches nothing still
// receives nothing.
func TestClusterFailoverKeepsTheWatches(t *testing.T) {
	s := natstest.Start(t, "")
	w := tapWire(t, s)
	nodes := startQuietCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 3)
	ctx := testContext(t)
	watcher, other := nodes[1], nodes[2]
	require.NoError(t, watcher.Watch(ctx, "100501"))
	_, err := other.SignIn(ctx, "ciscotest", "test@123", "1001")
	require.NoError(t, err)
	rec := ciscotest.Record(t, watcher)

	require.NoError(t, nodes[0].Close())
	rec.Await(t, "the link back", func(n cisco.Notification) bool { return n.Link != nil && n.Link.Up })
	_, err = other.SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)
	rec.Await(t, "a change after the move", ciscotest.UserIn("100501", cisco.StateReady))
	var links []bool
	for _, n := range rec.All() {
		if n.Link != nil {
			links = append(links, n.Link.Up)
		}
	}
	assert.Equal(t, []bool{false, true}, links, "down, then back")
	assert.Empty(t, w.agents(other.name), "the node that watches nothing")
	assert.Empty(t, other.got.all())
}

// TestClusterUnwatchesGoAFewAtATime: a node that stops watching many
// agents at once, as when its connections close together, tells the
// leader a few hundred at a time, so that the leader's deletes of the
// stored watches do not hold its answers; in the end it tells of all.
func TestClusterUnwatchesGoAFewAtATime(t *testing.T) {
	s := natstest.Start(t, "")
	nodes := startQuietCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 2)
	n := nodes[1] // not the leader: it asks over NATS
	var mu sync.Mutex
	var requests []int
	unwatched := map[string]bool{}
	spy := natstest.Connect(t, s)
	_, err := spy.Subscribe("ctibus.cti.call.unwatch", func(m *nats.Msg) {
		var req struct {
			Args struct {
				Agents []string `json:"agents"`
			} `json:"args"`
		}
		if !assert.NoError(t, json.Unmarshal(m.Data, &req)) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, len(req.Args.Agents))
		for _, id := range req.Args.Agents {
			unwatched[id] = true
		}
	})
	require.NoError(t, err)
	require.NoError(t, spy.Flush())

	const agents = 600 // the leader ignores agents it does not know, and the node counts them all the same
	ids := make([]string, agents)
	for i := range ids {
		ids[i] = fmt.Sprintf("9%05d", i)
	}
	require.NoError(t, n.Watch(testContext(t), ids...))
	n.Unwatch(ids...)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(unwatched) == agents
	}, eventually, 10*time.Millisecond, "every agent unwatched in the end")
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, len(requests), 3, "600 agents take three requests at least")
	for _, size := range requests {
		assert.LessOrEqual(t, size, 250, "agents in one unwatch request")
	}
}
