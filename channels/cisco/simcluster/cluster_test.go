package simcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/internal/testtime"
)

// testLease is short so that failovers take a fraction of a second, and
// scales with testtime's factor: a leader renews it every third of it,
// which a busy machine must manage.
var testLease = testtime.Scale(300 * time.Millisecond)

// eventually bounds the waits for what must happen: generous, since a
// passing test waits only as long as it takes.
var eventually = testtime.Scale(15 * time.Second)

// clusterNode is one ctibus node of a test cluster.
type clusterNode struct {
	*simcluster.Cluster
	name string // its Config.Node
	nc   *nats.Conn
	got  *recorder
}

// startNode joins a node to the cluster on s, with its own connection and
// simulator on dir, and records the notifications it delivers: it watches
// every agent, as a node serving an app granted all agents does.
func startNode(t testing.TB, s *server.Server, dir *sim.Directory, name string, cfg simcluster.Config) *clusterNode {
	t.Helper()
	n := startQuietNode(t, s, dir, name, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	require.NoError(t, n.Watch(ctx, cisco.AllAgents))
	return n
}

// startQuietNode is startNode watching no agent: it receives no
// notification until it watches some.
func startQuietNode(t testing.TB, s *server.Server, dir *sim.Directory, name string, cfg simcluster.Config) *clusterNode {
	t.Helper()
	nc := natstest.Connect(t, s)
	cfg.Node = name
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = testLease
	}
	cfg.Log = zaptest.NewLogger(t).Named(name)
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	c, err := simcluster.New(ctx, dir, nc, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	n := &clusterNode{Cluster: c, name: name, nc: nc, got: &recorder{}}
	c.Subscribe(n.got.add)
	return n
}

// startCluster starts count nodes and waits until one leads; it returns
// the leader first.
func startCluster(t testing.TB, s *server.Server, dir *sim.Directory, count int) []*clusterNode {
	t.Helper()
	var nodes []*clusterNode
	for i := range count {
		nodes = append(nodes, startNode(t, s, dir, fmt.Sprint("node", i), simcluster.Config{}))
	}
	i := waitLeader(t, nodes)
	nodes[0], nodes[i] = nodes[i], nodes[0]
	return nodes
}

// waitLeader waits until exactly one of nodes leads, and returns its index.
func waitLeader(t testing.TB, nodes []*clusterNode) int {
	t.Helper()
	leader := -1
	require.Eventually(t, func() bool {
		leader = -1
		for i, n := range nodes {
			if n.Leader() {
				if leader >= 0 {
					return false
				}
				leader = i
			}
		}
		return leader >= 0
	}, eventually, testLease/10, "no single leader")
	return leader
}

// recorder keeps the notifications a node delivers.
type recorder struct {
	mu  sync.Mutex
	got []cisco.Notification
}

func (r *recorder) add(n cisco.Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
}

func (r *recorder) all() []cisco.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cisco.Notification(nil), r.got...)
}

// storedRecord reads an agent's record as the cluster stored it.
func storedRecord(t *testing.T, s *server.Server, loginID string) sim.AgentRecord {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, s))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	kv, err := js.KeyValue(ctx, "ctibus_cisco_agents")
	require.NoError(t, err)
	e, err := kv.Get(ctx, loginID)
	require.NoError(t, err)
	var r sim.AgentRecord
	require.NoError(t, json.Unmarshal(e.Value(), &r))
	return r
}

var testAgents = ciscotest.Agents()

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*eventually)
	t.Cleanup(cancel)
	return ctx
}

func TestClusterSignInThroughFollower(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	// A raw client sees every message on the NATS system.
	var (
		wireMu sync.Mutex
		wire   [][]byte
	)
	spy := natstest.Connect(t, s)
	_, err := spy.Subscribe(">", func(m *nats.Msg) {
		wireMu.Lock()
		defer wireMu.Unlock()
		wire = append(wire, append([]byte(m.Subject+" "), m.Data...))
	})
	require.NoError(t, err)
	require.NoError(t, spy.Flush())

	nodes := startCluster(t, s, dir, 3)
	leader, follower := nodes[0], nodes[1]
	ctx := testContext(t)

	loginID, ok, err := follower.Resolve(ctx, "CiscoTest")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "100501", loginID, "a follower resolves a loginName from its own directory")

	_, err = follower.SignIn(ctx, "ciscotest", "wrong-secret", "1001")
	assert.ErrorIs(t, err, cisco.ErrAuthorization)
	in, err := follower.SignIn(ctx, "ciscotest", "test@123", "1001")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateNotReady, in.User.State)
	assert.False(t, in.Relogin)

	for _, n := range nodes {
		u, err := n.User(ctx, "100501")
		require.NoError(t, err)
		assert.Equal(t, cisco.StateNotReady, u.State)
		assert.Equal(t, "1001", u.Extension)
	}
	r := storedRecord(t, s, "100501")
	assert.Equal(t, cisco.StateNotReady, r.State)
	assert.Equal(t, "1001", r.Extension)
	assert.True(t, leader.Leader())

	// The spy's callback runs on a goroutine of its own: wait until it has
	// seen the sign-in reach the leader, then check everything it saw.
	require.Eventually(t, func() bool {
		wireMu.Lock()
		defer wireMu.Unlock()
		return bytesContainAny(wire, []byte(`"loginId":"100501"`))
	}, eventually, 5*time.Millisecond, "the sign-in went to the leader")
	require.NoError(t, spy.Flush())
	wireMu.Lock()
	defer wireMu.Unlock()
	for _, m := range wire {
		assert.False(t, bytes.Contains(m, []byte("wrong-secret")), "a password crossed NATS: %s", m)
		assert.False(t, bytes.Contains(m, []byte("test@123")), "a password crossed NATS: %s", m)
	}
}

func bytesContainAny(msgs [][]byte, sub []byte) bool {
	for _, m := range msgs {
		if bytes.Contains(m, sub) {
			return true
		}
	}
	return false
}

func TestClusterErrorsRoundTrip(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	nodes := startCluster(t, s, dir, 2)
	follower := nodes[1]
	ctx := testContext(t)
	_, err := follower.SignIn(ctx, "jdoe", "agent@3", "1003")
	require.NoError(t, err)

	// The same requests to a lone simulator give the errors to expect.
	alone := sim.New(dir, sim.Config{})
	_, err = alone.SignIn(ctx, "jdoe", "agent@3", "1003")
	require.NoError(t, err)

	tests := []struct {
		name   string
		call   func(c cisco.Connector) error
		wantIs error
	}{
		{
			name: "signed out agent goes READY",
			call: func(c cisco.Connector) error {
				_, err := c.SetState(ctx, "100501", cisco.StateReady, "")
				return err
			},
			wantIs: cisco.ErrInvalidState,
		},
		{
			name: "unknown agent",
			call: func(c cisco.Connector) error {
				_, err := c.User(ctx, "999999")
				return err
			},
			wantIs: cisco.ErrNotFound,
		},
		{
			name: "missing reason code",
			call: func(c cisco.Connector) error {
				_, err := c.SetState(ctx, "100503", cisco.StateLogout, "")
				return err
			},
			wantIs: cisco.ErrInvalidInput,
		},
		{
			name: "extension in use",
			call: func(c cisco.Connector) error {
				_, err := c.SignIn(ctx, "ciscotest", "test@123", "1003")
				return err
			},
			wantIs: cisco.ErrDeviceBusy,
		},
		{
			name: "unknown dialog",
			call: func(c cisco.Connector) error {
				return c.CallAction(ctx, "100503", "12345", cisco.ActionAnswer, "")
			},
			wantIs: cisco.ErrDialogNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.call(alone)
			require.Error(t, want)
			err := tt.call(follower)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Equal(t, want, err, "Type, Message and Text survive the trip")
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := follower.User(cancelled, "100503")
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestClusterConcurrentSetState(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	nodes := startCluster(t, s, dir, 3)
	ctx := testContext(t)
	_, err := nodes[1].SignIn(ctx, "100501", "test@123", "1001")
	require.NoError(t, err)

	const perNode = 25
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded = map[string]bool{} // request ids
		failures  []error
	)
	for k, n := range nodes[:2] { // the leader and a follower
		wg.Go(func() {
			for i := range perNode {
				state, reason := cisco.StateReady, ""
				if i%2 == 1 {
					state, reason = cisco.StateNotReady, "1"
				}
				id := fmt.Sprintf("node%d-%d", k, i)
				_, err := n.SetState(cisco.WithRequestID(ctx, id), "100501", state, reason)
				mu.Lock()
				switch {
				case err == nil:
					succeeded[id] = true
				case !errors.Is(err, cisco.ErrInvalidState): // READY while READY is refused
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	require.NotEmpty(t, succeeded)

	// Each change reaches every node exactly once, in the same order. A
	// last change marks the end: a duplicate of an earlier one would have
	// been delivered before it.
	_, err = nodes[2].SetState(cisco.WithRequestID(ctx, "marker"), "100501", cisco.StateNotReady, "2")
	require.NoError(t, err)
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			got := n.got.all()
			return len(got) > 0 && got[len(got)-1].RequestID == "marker"
		}, eventually, 10*time.Millisecond)
	}
	want := nodes[0].got.all()
	want = want[:len(want)-1] // the marker
	ids := map[string]bool{}
	for _, n := range want {
		require.NotNil(t, n.User)
		assert.Equal(t, "100501", n.RequestedBy)
		ids[n.RequestID] = true
	}
	assert.Equal(t, succeeded, ids)
	for _, n := range nodes[1:] {
		assert.Equal(t, nodes[0].got.all(), n.got.all())
	}

	// No update was lost: the store, every node and the marker's
	// notification agree.
	last := nodes[0].got.all()[len(want)].User.User
	r := storedRecord(t, s, "100501")
	assert.Equal(t, last.State, r.State)
	assert.Equal(t, last.ReasonCodeID, r.ReasonCodeID)
	assert.Equal(t, last.StateChangeTime, r.StateChangeTime.UTC().Format(cisco.TimeFormat))
	for _, n := range nodes {
		u, err := n.User(ctx, "100501")
		require.NoError(t, err)
		assert.Equal(t, last.State, u.State)
		assert.Equal(t, last.ReasonCodeID, u.ReasonCodeID)
		assert.Equal(t, last.StateChangeTime, u.StateChangeTime)
	}
}

func TestClusterFailover(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, leader *clusterNode)
	}{
		{
			name: "leader closes",
			stop: func(t *testing.T, leader *clusterNode) { require.NoError(t, leader.Close()) },
		},
		{
			name: "leader loses NATS",
			stop: func(t *testing.T, leader *clusterNode) { leader.nc.Close() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natstest.Start(t, "")
			dir := ciscotest.NewDirectory(t, testAgents...)
			nodes := startCluster(t, s, dir, 3)
			ctx := testContext(t)
			_, err := nodes[1].SignIn(ctx, "100501", "test@123", "1001")
			require.NoError(t, err)
			ready, err := nodes[2].SetState(ctx, "100501", cisco.StateReady, "")
			require.NoError(t, err)

			tt.stop(t, nodes[0])
			// Made at once, during the failover: it waits for the new leader,
			// and succeeds only if one took over before the request timed out.
			u, err := nodes[1].SetState(ctx, "100501", cisco.StateNotReady, "2")
			require.NoError(t, err)
			assert.Equal(t, cisco.StateNotReady, u.State)

			survivors := nodes[1:]
			next := survivors[waitLeader(t, survivors)]
			assert.False(t, nodes[0].Leader())
			got, err := next.User(ctx, "100501")
			require.NoError(t, err)
			assert.Equal(t, "2", got.ReasonCodeID)
			assert.Equal(t, "1001", got.Extension)
			assert.NotEqual(t, ready.StateChangeTime, got.StateChangeTime)
			assert.Equal(t, cisco.StateNotReady, storedRecord(t, s, "100501").State)
		})
	}
}

func TestClusterUnavailable(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	ctx := testContext(t)

	// A node that died holding the lease keeps every other from leading
	// until the lease expires: ten times the request's timeout after the
	// node has started.
	const timeout = 300 * time.Millisecond
	deadLease := testtime.Scale(10 * timeout)
	js, err := jetstream.New(natstest.Connect(t, s))
	require.NoError(t, err)
	leases, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "ctibus_cisco_leader", TTL: deadLease, Storage: jetstream.FileStorage,
	})
	require.NoError(t, err)
	_, err = leases.Create(ctx, "leader", []byte("dead"))
	require.NoError(t, err)
	n := startQuietNode(t, s, dir, "node0", simcluster.Config{LeaseTTL: deadLease, RequestTimeout: timeout})
	_, err = leases.Put(ctx, "leader", []byte("dead")) // its last renewal, now
	require.NoError(t, err)

	_, err = n.User(ctx, "100501")
	assert.ErrorIs(t, err, cisco.ErrUnavailable)
	var ce *cisco.Error
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Text, "try again")
	assert.False(t, n.Leader(), "unavailable, not an answer: the dead node's lease still held")

	// Once the dead node's lease expires, a node leads and answers.
	n2 := startQuietNode(t, s, dir, "node1", simcluster.Config{LeaseTTL: deadLease, RequestTimeout: 3 * deadLease})
	u, err := n2.User(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State)
}

func TestClusterRestartRestoresAgents(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	ctx := testContext(t)

	first := startCluster(t, s, dir, 2)
	_, err := first[1].SignIn(ctx, "100501", "test@123", "1001")
	require.NoError(t, err)
	ready, err := first[1].SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)
	_, err = first[1].SignIn(ctx, "100503", "agent@3", "1003")
	require.NoError(t, err)
	d, err := first[1].Ring(ctx, "100503", sim.IncomingCall{From: "5551234"})
	require.NoError(t, err)
	require.NoError(t, first[1].CallAction(ctx, "100503", d.ID, cisco.ActionAnswer, ""))
	talking, err := first[0].User(ctx, "100503")
	require.NoError(t, err)
	require.Equal(t, cisco.StateTalking, talking.State)
	require.Equal(t, cisco.StateTalking, storedRecord(t, s, "100503").State)
	for _, n := range first {
		require.NoError(t, n.Close())
	}

	second := startCluster(t, s, dir, 2)
	for _, n := range second {
		u, err := n.User(ctx, "100501")
		require.NoError(t, err)
		assert.Equal(t, cisco.StateReady, u.State)
		assert.Equal(t, "1001", u.Extension)
		assert.Equal(t, ready.StateChangeTime, u.StateChangeTime)

		// The call survives: the agent on it is still TALKING, on it.
		u, err = n.User(ctx, "100503")
		require.NoError(t, err)
		assert.Equal(t, talking.State, u.State)
		assert.Equal(t, talking.StateChangeTime, u.StateChangeTime)
		assert.Equal(t, "1003", u.Extension)
		calls, err := n.Dialogs(ctx, "100503")
		require.NoError(t, err)
		require.Len(t, calls, 1)
		assert.Equal(t, d.ID, calls[0].ID)
		assert.Equal(t, "ACTIVE", calls[0].State)
	}
	assert.Equal(t, cisco.StateTalking, storedRecord(t, s, "100503").State)

	// The extensions came back too: another agent cannot take 1003.
	_, err = second[1].SignIn(ctx, "pquser", "pqsup1", "1003")
	assert.ErrorIs(t, err, cisco.ErrDeviceBusy)
}

func TestClusterStaleLeaderStepsDown(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	nodes := startCluster(t, s, dir, 2)
	ctx := testContext(t)
	_, err := nodes[1].SignIn(ctx, "100501", "test@123", "1001")
	require.NoError(t, err)

	// A newer leader signed the agent out behind this one's back.
	js, err := jetstream.New(natstest.Connect(t, s))
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx, "ctibus_cisco_agents")
	require.NoError(t, err)
	out := storedRecord(t, s, "100501")
	out.State, out.Extension, out.ReasonCodeID = cisco.StateLogout, "", "28"
	data, err := json.Marshal(out)
	require.NoError(t, err)
	_, err = kv.Put(ctx, "100501", data)
	require.NoError(t, err)

	// The stale leader's write loses; the request goes to a leader that
	// knows the agent is signed out.
	_, err = nodes[1].SetState(ctx, "100501", cisco.StateReady, "")
	assert.ErrorIs(t, err, cisco.ErrInvalidState)
	u, err := nodes[1].User(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State)
	assert.Equal(t, cisco.StateLogout, storedRecord(t, s, "100501").State)
}

func TestClusterReplyFollowsNotifications(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	nodes := startCluster(t, s, dir, 2)
	ctx := testContext(t)
	_, err := nodes[1].SignIn(ctx, "100501", "test@123", "1001")
	require.NoError(t, err)

	tests := []struct {
		name string
		node *clusterNode
	}{
		{name: "follower", node: nodes[1]},
		{name: "leader", node: nodes[0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const rounds = 200
			for i := range rounds {
				state, reason := cisco.StateReady, ""
				if i%2 == 1 {
					state, reason = cisco.StateNotReady, "1"
				}
				id := fmt.Sprintf("%s-%d", tt.name, i)
				_, err := tt.node.SetState(cisco.WithRequestID(ctx, id), "100501", state, reason)
				require.NoError(t, err)
				// As with a plain simulator, the change is delivered before the call returns.
				require.True(t, delivered(tt.node.got.all(), id, state), "round %d: %s not delivered before the reply", i, state)
			}
		})
	}
}

// delivered reports whether got holds the User notification of request id
// with state.
func delivered(got []cisco.Notification, id string, state cisco.State) bool {
	for _, n := range got {
		if n.RequestID == id && n.User != nil && n.User.User.State == state {
			return true
		}
	}
	return false
}

func TestClusterRepeatedRequestAppliedOnce(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	nodes := startCluster(t, s, dir, 2)
	leader, follower := nodes[0], nodes[1]
	ctx := testContext(t)
	_, err := follower.SignIn(ctx, "100501", "test@123", "1001")
	require.NoError(t, err)

	// Count the MakeCall requests on the wire.
	var (
		sentMu   sync.Mutex
		sent     int
		repeated = make(chan struct{})
	)
	spy := natstest.Connect(t, s)
	_, err = spy.Subscribe("ctibus.cti.call.makeCall", func(*nats.Msg) {
		sentMu.Lock()
		defer sentMu.Unlock()
		sent++
		if sent == 2 {
			close(repeated)
		}
	})
	require.NoError(t, err)
	require.NoError(t, spy.Flush())

	// The leader applies the first attempt, but answers only once the
	// follower has given up waiting and sent it again.
	var slowed sync.Once
	simcluster.SetBeforeReply(leader.Cluster, func(method string) {
		if method != "makeCall" {
			return
		}
		slowed.Do(func() {
			select {
			case <-repeated:
			case <-time.After(eventually):
			}
		})
	})

	d, err := follower.MakeCall(cisco.WithRequestID(ctx, "call-1"), "100501", "5551234", nil)
	require.NoError(t, err, "the repeat must not be applied as a second call")
	sentMu.Lock()
	assert.Equal(t, 2, sent, "the request was sent again")
	sentMu.Unlock()

	calls, err := follower.Dialogs(ctx, "100501")
	require.NoError(t, err)
	require.Len(t, calls, 1)
	assert.Equal(t, d.ID, calls[0].ID)
}

func TestClusterSignedInAgents(t *testing.T) {
	s := natstest.Start(t, "")
	nodes := startCluster(t, s, ciscotest.NewDirectory(t, testAgents...), 2)
	leader, follower := nodes[0], nodes[1]
	ctx := testContext(t)
	for _, n := range nodes {
		ids, err := n.SignedInAgents(ctx)
		require.NoError(t, err)
		assert.Empty(t, ids)
	}
	_, err := follower.SignIn(ctx, "jdoe", "agent@3", "1003")
	require.NoError(t, err)
	_, err = leader.SignIn(ctx, "ciscotest", "test@123", "1001")
	require.NoError(t, err)
	for _, n := range nodes {
		ids, err := n.SignedInAgents(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"100501", "100503"}, ids, "sorted, on every node")
	}
	_, err = follower.ForceLogout(ctx, "100503", "255")
	require.NoError(t, err)
	ids, err := follower.SignedInAgents(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"100501"}, ids)

	u, err := follower.Disconnect(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, []string{"NOT_READY", "255"}, []string{string(u.State), u.ReasonCodeID}, "a closed desktop on CCE's default")
	ids, err = leader.SignedInAgents(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"100501"}, ids, "still signed in")
}
