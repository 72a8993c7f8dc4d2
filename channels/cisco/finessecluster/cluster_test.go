package finessecluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/channels/cisco/finessecluster"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/internal/testtime"
)

// The suite's accounts: two agents of team 5004 and their supervisor.
var (
	agentA = ciscotest.Account{LoginID: "100501", LoginName: "ciscotest", Password: "test@123", Extension: "1001"}
	agentB = ciscotest.Account{LoginID: "102312778", LoginName: "pquser", Password: "pqsup1", Extension: "1002"}
	// admin is the fixture's administrator account: the nodes read with it
	// what no signed-in agent may.
	admin = ciscotest.Account{LoginName: "finadmin", Password: "admin@123"}
)

// node is one node of a test cluster: its own connector to Finesse, and
// its cluster on NATS.
type node struct {
	fin *finesse.Connector
	nc  *nats.Conn
	*finessecluster.Cluster
}

// logLevel is the nodes' log level: benchmarks log errors only.
var logLevel = zap.InfoLevel

// liveness is short, so that a node that goes is noticed in a moment, and
// scaled, so that a busy machine does not miss a live node's heartbeat.
var liveness = testtime.Scale(finessecluster.DefaultLiveness)

// startNode starts a node called name on the Finesse pair p and the NATS
// server ns.
func startNode(t testing.TB, p *finessetest.Pair, ns *server.Server, name string) *node {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(logLevel)).Named(name)
	fin, err := finesse.New(finesse.Config{
		Sides:          []finesse.Side{{REST: p.A.URL(), XMPP: p.A.XMPPURL()}, {REST: p.B.URL(), XMPP: p.B.XMPPURL()}},
		RootCAs:        p.XMPP.CA().Pool(),
		Logger:         log,
		ConfirmTimeout: 2 * time.Second,
		StatusInterval: 200 * time.Millisecond,
		Admin:          &finesse.Account{Username: admin.LoginName, Password: admin.Password},
	})
	require.NoError(t, err)
	require.NoError(t, fin.Start(testContext(t)))
	t.Cleanup(func() { fin.Close() })
	nc := natstest.Connect(t, ns)
	c, err := finessecluster.New(testContext(t), fin, nc, finessecluster.Config{
		Node: name, Liveness: liveness, Log: log,
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &node{fin: fin, nc: nc, Cluster: c}
}

// stop stops the node as a node that shuts down does: the cluster first,
// then the Finesse sessions.
func (n *node) stop() {
	n.Cluster.Close()
	n.fin.Close()
}

// startPair starts a Finesse pair with the administrator account.
func startPair(t testing.TB) *finessetest.Pair {
	return finessetest.StartPair(t, finessetest.PairConfig{Site: finessetest.SiteConfig{Admin: admin}})
}

// die stops the node as a node that crashes does: its link to NATS and
// its Finesse sessions go, and it says nothing.
func (n *node) die() {
	n.nc.Close()
	n.fin.Close()
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startCluster starts a Finesse pair, NATS, and two nodes on them.
func startCluster(t testing.TB) (p *finessetest.Pair, n1, n2 *node) {
	p = startPair(t)
	ns := natstest.Start(t, "")
	return p, startNode(t, p, ns, "n1"), startNode(t, p, ns, "n2")
}

func TestRequestsGoToTheNodeHoldingTheSession(t *testing.T) {
	p, n1, n2 := startCluster(t)
	r1, r2 := ciscotest.Record(t, n1), ciscotest.Record(t, n2)
	in, err := n1.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateNotReady, in.User.State)

	ctx := cisco.WithRequestID(testContext(t), "ready-1")
	u, err := n2.SetState(ctx, agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateReady, u.State)
	i := slices.IndexFunc(r2.All(), ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
	require.NotEqual(t, -1, i, "node 2 delivered the change before its request returned")
	assert.Equal(t, "ready-1", r2.All()[i].RequestID, "the request's id crossed with it")
	r1.Await(t, "node 1, which holds the session, delivered it too", ciscotest.UserIn(agentA.LoginID, cisco.StateReady))

	got, err := n2.User(testContext(t), agentA.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateReady, got.State)
	codes, err := n2.ReasonCodes(testContext(t), agentA.LoginID, cisco.CategoryNotReady)
	require.NoError(t, err)
	assert.NotEmpty(t, codes, "reads that need the agent's credentials are made by node 1")
	ids, err := n2.SignedInAgents(testContext(t))
	require.NoError(t, err)
	assert.Equal(t, []string{agentA.LoginID}, ids)
	assert.True(t, n1.fin.HasSession(agentA.LoginID))
	assert.False(t, n2.fin.HasSession(agentA.LoginID), "one Finesse session for the agent, on node 1")
	assert.Len(t, logins(p, agentA.LoginID), 1, "one LOGIN reached Finesse")
}

func TestSignInOnAnotherNodeKeepsOneSession(t *testing.T) {
	p, n1, n2 := startCluster(t)
	_, err := n1.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	_, err = n1.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)

	_, err = n2.SignIn(testContext(t), agentA.LoginID, "wrong", agentA.Extension)
	assert.ErrorIs(t, err, cisco.ErrAuthorization, "node 2 checks the password with Finesse itself")
	in, err := n2.SignIn(testContext(t), agentA.LoginID, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	assert.True(t, in.Relogin)
	assert.Equal(t, cisco.StateReady, in.User.State, "a re-login keeps the state")
	assert.True(t, n1.fin.HasSession(agentA.LoginID), "node 1 keeps the session")
	assert.False(t, n2.fin.HasSession(agentA.LoginID), "node 2 opened none")
	assert.Len(t, logins(p, agentA.LoginID), 1, "no second LOGIN")
	id, ok, err := n2.Resolve(testContext(t), agentA.LoginName)
	require.NoError(t, err)
	assert.True(t, ok, "node 2 resolves the loginName node 1 met")
	assert.Equal(t, agentA.LoginID, id)
}

func TestAgentsOfANodeThatGoesAreSignedOutElsewhere(t *testing.T) {
	_, n1, n2 := startCluster(t)
	_, err := n1.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	_, err = n2.SignIn(testContext(t), agentB.LoginName, agentB.Password, agentB.Extension)
	require.NoError(t, err)
	r2 := ciscotest.Record(t, n2)

	n1.stop()
	out := r2.Await(t, "agent A's LOGOUT on node 2", ciscotest.UserIn(agentA.LoginID, cisco.StateLogout))
	got := r2.All()
	i := slices.IndexFunc(got, func(n cisco.Notification) bool { return n.Link != nil && n.Link.LoginID == agentA.LoginID })
	require.NotEqual(t, -1, i, "the link went down first")
	assert.False(t, got[i].Link.Up)
	assert.Less(t, i, slices.IndexFunc(got, ciscotest.UserIn(agentA.LoginID, cisco.StateLogout)))
	assert.Equal(t, agentA.LoginID, out.User.User.LoginID)
	assert.False(t, slices.ContainsFunc(got, ciscotest.UserIn(agentB.LoginID, cisco.StateLogout)), "node 2's own agent stays")

	u, err := n2.User(testContext(t), agentA.LoginID)
	require.NoError(t, err)
	assert.Equal(t, cisco.StateLogout, u.State, "ctibus holds no session of the agent any more")
	_, err = n2.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	assert.ErrorIs(t, err, cisco.ErrInvalidState)
	ids, err := n2.SignedInAgents(testContext(t))
	require.NoError(t, err)
	assert.Equal(t, []string{agentB.LoginID}, ids)

	in, err := n2.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err, "the agent signs in again, on node 2")
	assert.NotEqual(t, cisco.StateLogout, in.User.State)
	assert.True(t, n2.fin.HasSession(agentA.LoginID))
}

// logins returns the LOGIN requests of the agent that Finesse received.
func logins(p *finessetest.Pair, loginID string) []finessetest.Entry {
	var out []finessetest.Entry
	for _, e := range p.Log.Requests() {
		if finessetest.IsLogin(loginID)(e) {
			out = append(out, e)
		}
	}
	return out
}

func TestAgentsOfANodeThatDiesAreSignedOutElsewhere(t *testing.T) {
	_, n1, n2 := startCluster(t)
	_, err := n1.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	r2 := ciscotest.Record(t, n2)
	_, err = n2.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)

	n1.die() // its heartbeat expires: nobody withdraws it
	r2.Await(t, "agent A's LOGOUT on node 2, once node 1's heartbeat expired", ciscotest.UserIn(agentA.LoginID, cisco.StateLogout))
	_, err = n2.SetState(testContext(t), agentA.LoginID, cisco.StateNotReady, "")
	assert.ErrorIs(t, err, cisco.ErrInvalidState, "nobody holds the agent's session")
	in, err := n2.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err, "the agent signs in again on node 2, which takes the record over")
	assert.True(t, in.Relogin, "within Finesse's grace, Finesse still has the agent signed in")
	assert.Equal(t, cisco.StateReady, in.User.State)
	assert.True(t, n2.fin.HasSession(agentA.LoginID))
}

func TestSignInsOnTwoNodesAtOnceMakeOneSession(t *testing.T) {
	p, n1, n2 := startCluster(t)
	errs := make(chan error, 2)
	for _, n := range []*node{n1, n2} {
		go func() {
			_, err := n.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
			errs <- err
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	assert.NotEqual(t, n1.fin.HasSession(agentA.LoginID), n2.fin.HasSession(agentA.LoginID),
		"one node holds the agent's Finesse session")
	assert.Len(t, logins(p, agentA.LoginID), 1, "one LOGIN reached Finesse")
}

func TestTeamFeedReachesASupervisorOnAnotherNode(t *testing.T) {
	p, n1, n2 := startCluster(t)
	sup := ciscotest.Account{LoginID: "100600", LoginName: "supervisor1", Password: "super@1", Extension: "1006"}
	_, err := n2.SignIn(testContext(t), sup.LoginName, sup.Password, sup.Extension)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return len(p.XMPP.Subscribers(finessetest.DomainA, "/finesse/api/Team/5004/Users")) > 0
	}, 30*time.Second, 10*time.Millisecond, "the supervisor's session subscribes to its team's node")
	_, err = n1.SignIn(testContext(t), agentA.LoginName, agentA.Password, agentA.Extension)
	require.NoError(t, err)
	r1, r2 := ciscotest.Record(t, n1), ciscotest.Record(t, n2)

	_, err = n1.SetState(testContext(t), agentA.LoginID, cisco.StateReady, "")
	require.NoError(t, err)
	n := r1.Await(t, "agent A's READY on node 1", ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
	assert.Contains(t, n.User.Supervisors, sup.LoginID, "node 1 names the supervisor signed in on node 2")
	// Node 2 gets node 1's notification, and Finesse's team feed to the
	// supervisor's own session: it delivers the change once.
	r2.Await(t, "agent A's READY on node 2", ciscotest.UserIn(agentA.LoginID, cisco.StateReady))
	_, err = n1.SetState(testContext(t), agentA.LoginID, cisco.StateNotReady, notReadyCode(t, n1))
	require.NoError(t, err)
	r2.Await(t, "agent A's NOT_READY on node 2", ciscotest.UserIn(agentA.LoginID, cisco.StateNotReady))
	var readies int
	for _, n := range r2.All() {
		if ciscotest.UserIn(agentA.LoginID, cisco.StateReady)(n) {
			readies++
			assert.Contains(t, n.User.Supervisors, sup.LoginID)
		}
	}
	assert.Equal(t, 1, readies, "one READY on node 2, not one per way it came")
}

// notReadyCode returns the id of the agent's first NOT_READY reason code.
func notReadyCode(t *testing.T, n *node) string {
	t.Helper()
	codes, err := n.ReasonCodes(testContext(t), agentA.LoginID, cisco.CategoryNotReady)
	require.NoError(t, err)
	require.NotEmpty(t, codes)
	return codes[0].ID
}
