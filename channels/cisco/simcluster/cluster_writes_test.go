package simcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/internal/testtime"
)

// steadyLease is the lease of the tests that must not fail over unless
// they make it happen: long enough that a leader renews it on a machine
// so busy that testLease would lapse now and then, which would refuse a
// request whose answer the failover lost (see Cluster).
var steadyLease = testtime.Scale(2 * time.Second)

// startSteadyCluster is startCluster with steadyLease.
func startSteadyCluster(t testing.TB, s *server.Server, dir *sim.Directory, count int) []*clusterNode {
	t.Helper()
	var nodes []*clusterNode
	for i := range count {
		nodes = append(nodes, startNode(t, s, dir, fmt.Sprint("node", i), simcluster.Config{LeaseTTL: steadyLease}))
	}
	i := waitLeader(t, nodes)
	nodes[0], nodes[i] = nodes[i], nodes[0]
	return nodes
}

// crowd is a directory of agents 200001, 200002, ... on extensions 2001,
// 2002, ..., all with the password "pw".
func crowd(n int) []ciscotest.Agent {
	var agents []ciscotest.Agent
	for i := range n {
		agents = append(agents, ciscotest.Agent{
			LoginID: fmt.Sprint(200001 + i), LoginName: fmt.Sprint("agent", i+1), FirstName: "Agent",
			LastName: fmt.Sprint(i + 1), Password: "pw", TeamID: "5004",
		})
	}
	return agents
}

// signInCrowd signs every agent in on its own extension.
func signInCrowd(t *testing.T, ctx context.Context, c cisco.Connector, agents []ciscotest.Agent) {
	t.Helper()
	for i, a := range agents {
		_, err := c.SignIn(ctx, a.LoginID, a.Password, fmt.Sprint(2001+i))
		require.NoError(t, err)
	}
}

// agentsBucket opens the records' bucket as any NATS client can.
func agentsBucket(t testing.TB, ctx context.Context, s *server.Server) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, s))
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx, "ctibus_cisco_agents")
	require.NoError(t, err)
	return kv
}

// seen is what a change leaves of an agent: in its notification, and in
// its stored record.
type seen struct {
	State      cisco.State
	ReasonCode string
	At         string
}

func seenInUser(u cisco.User) seen { return seen{u.State, u.ReasonCodeID, u.StateChangeTime} }

func seenInRecord(r sim.AgentRecord) seen {
	return seen{r.State, r.ReasonCodeID, r.StateChangeTime.UTC().Format(cisco.TimeFormat)}
}

// nextState alternates an agent between READY and NOT_READY.
func nextState(i int) (cisco.State, string) {
	if i%2 == 0 {
		return cisco.StateReady, ""
	}
	return cisco.StateNotReady, "1"
}

// Every answer means the change is stored: an agent's record, read from
// KV as soon as the answer is in, is the one the answer shows, while other
// agents change at the same time through other nodes.
func TestClusterAnswerFollowsTheStoredRecord(t *testing.T) {
	s := natstest.Start(t, "")
	agents := crowd(6)
	dir := ciscotest.NewDirectory(t, agents...)
	nodes := startSteadyCluster(t, s, dir, 3)
	ctx := testContext(t)
	signInCrowd(t, ctx, nodes[1], agents)
	kv := agentsBucket(t, ctx, s)

	const rounds = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	for k, a := range agents {
		wg.Go(func() {
			for i := range rounds {
				state, reason := nextState(i)
				node := nodes[(k+i)%len(nodes)] // the leader, then the followers
				u, err := node.SetState(ctx, a.LoginID, state, reason)
				var problem string
				if err == nil {
					var e jetstream.KeyValueEntry
					e, err = kv.Get(ctx, a.LoginID)
					if err == nil {
						var r sim.AgentRecord
						err = json.Unmarshal(e.Value(), &r)
						if got := seenInRecord(r); err == nil && got != seenInUser(u) {
							problem = fmt.Sprintf("%s round %d: answered %+v, stored %+v", a.LoginID, i, seenInUser(u), got)
						}
					}
				}
				if err != nil {
					problem = fmt.Sprintf("%s round %d: %v", a.LoginID, i, err)
				}
				if problem != "" {
					mu.Lock()
					problems = append(problems, problem)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Empty(t, problems)
}

// An agent's records reach KV in the order of its changes, even when its
// changes come from several nodes at once and other agents' records are
// written alongside: a watcher of its key sees a subsequence of the
// changes notified, ending with the last.
func TestClusterAgentRecordsStoredInOrder(t *testing.T) {
	s := natstest.Start(t, "")
	agents := crowd(5)
	dir := ciscotest.NewDirectory(t, agents...)
	nodes := startSteadyCluster(t, s, dir, 3)
	ctx := testContext(t)
	signInCrowd(t, ctx, nodes[1], agents)
	hot := agents[0].LoginID

	kv := agentsBucket(t, ctx, s)
	w, err := kv.Watch(ctx, hot, jetstream.UpdatesOnly())
	require.NoError(t, err)
	defer func() { assert.NoError(t, w.Stop()) }()

	const rounds = 40
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
	)
	record := func(err error) {
		// READY while READY, or NOT_READY with the same code, is refused
		// when another node's change came first.
		if err != nil && !errors.Is(err, cisco.ErrInvalidState) {
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
		}
	}
	for k, n := range nodes { // the hot agent from every node at once
		wg.Go(func() {
			for i := range rounds {
				state, reason := nextState(i + k)
				_, err := n.SetState(ctx, hot, state, reason)
				record(err)
			}
		})
	}
	for k, a := range agents[1:] { // and the others alongside
		wg.Go(func() {
			for i := range rounds {
				state, reason := nextState(i)
				_, err := nodes[k%len(nodes)].SetState(ctx, a.LoginID, state, reason)
				record(err)
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	last, err := nodes[2].SetState(cisco.WithRequestID(ctx, "marker"), hot, cisco.StateNotReady, "2")
	require.NoError(t, err)

	// The node that made the marker has delivered its notification when
	// the call returns; another node may still be on its way to it.
	var notified []seen
	for _, n := range nodes[2].got.all() {
		if n.User != nil && n.User.User.LoginID == hot {
			notified = append(notified, seenInUser(n.User.User))
		}
	}
	require.Equal(t, seenInUser(last), notified[len(notified)-1])

	var stored []seen
	for len(stored) == 0 || stored[len(stored)-1] != seenInUser(last) {
		select {
		case e := <-w.Updates():
			require.NotNil(t, e)
			var r sim.AgentRecord
			require.NoError(t, json.Unmarshal(e.Value(), &r))
			stored = append(stored, seenInRecord(r))
		case <-ctx.Done():
			require.FailNow(t, "the last change was never stored", "stored %v", stored)
		}
	}
	assert.True(t, isSubsequence(stored, notified), "stored out of order:\nstored   %v\nnotified %v", stored, notified)
	assert.Equal(t, seenInUser(last), seenInRecord(storedRecord(t, s, hot)), "an older record overwrote the last")
}

// isSubsequence reports whether sub appears in all in order, not
// necessarily side by side.
func isSubsequence(sub, all []seen) bool {
	i := 0
	for _, x := range all {
		if i < len(sub) && sub[i] == x {
			i++
		}
	}
	return i == len(sub)
}

// A change whose record cannot be stored is not answered as done, even
// while the leader serves other agents' requests at once: here a newer
// leader signed one agent out behind this one's back, so the leader's
// write of that agent loses, and the request goes to a leader that knows
// the agent is signed out.
func TestClusterUnstoredChangeIsNotAnswered(t *testing.T) {
	s := natstest.Start(t, "")
	agents := crowd(6)
	dir := ciscotest.NewDirectory(t, agents...)
	nodes := startSteadyCluster(t, s, dir, 2)
	ctx := testContext(t)
	signInCrowd(t, ctx, nodes[1], agents)
	stale := agents[2].LoginID

	kv := agentsBucket(t, ctx, s)
	out := storedRecord(t, s, stale)
	out.State, out.Extension, out.ReasonCodeID = cisco.StateLogout, "", "28"
	data, err := json.Marshal(out)
	require.NoError(t, err)
	_, err = kv.Put(ctx, stale, data)
	require.NoError(t, err)

	errs := make([]error, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Go(func() {
			_, errs[i] = nodes[1].SetState(ctx, a.LoginID, cisco.StateReady, "")
		})
	}
	wg.Wait()

	assert.ErrorIs(t, errs[2], cisco.ErrInvalidState, "answered as done, though not stored")
	u, err := nodes[1].User(ctx, stale)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State)
	for i, a := range agents {
		if i == 2 {
			continue
		}
		// A change stored just before the leader stepped down is applied
		// again by the next one, which refuses READY while READY.
		if errs[i] != nil {
			assert.ErrorIs(t, errs[i], cisco.ErrInvalidState, a.LoginID)
		}
		u, err := nodes[1].User(ctx, a.LoginID)
		require.NoError(t, err)
		assert.Equal(t, cisco.StateReady, u.State, a.LoginID)
		assert.Equal(t, cisco.StateReady, storedRecord(t, s, a.LoginID).State, a.LoginID)
	}
}
