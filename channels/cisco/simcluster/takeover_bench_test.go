package simcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
)

// BenchmarkTakeover measures how long a node taking the lease over needs
// before it serves, with 20,000 agents signed in: it reads every agent's
// record from KV, restores them into its simulator, and tells each
// agent's apps that their link is back. Requests wait meanwhile, and the
// takeover must end within half a lease (1.5 s by default) or the node
// gives the lease up. Each round starts a node and closes the leader, which
// hands over at once; the time is the one the new leader logs ("took"),
// from taking the lease to serving, so the wait for the lease is not in it.
//
//	go test -run XXX -bench Takeover -benchtime 5x ./channels/cisco/simcluster/
func BenchmarkTakeover(b *testing.B) {
	const agents = 20_000
	s := natstest.Start(b, "")
	dir := ciscotest.NewDirectory(b, crowd(agents)...)
	ctx := b.Context()
	cfg := simcluster.Config{LeaseTTL: simcluster.DefaultLeaseTTL}
	logs, took := observer.New(zap.InfoLevel)
	start := func(i int) *simcluster.Cluster {
		cfg.Node, cfg.Log = fmt.Sprint("node", i), zap.New(logs)
		c, err := simcluster.New(ctx, dir, natstest.Connect(b, s), cfg)
		require.NoError(b, err)
		return c
	}
	leader := start(0)
	waitLeading(b, leader)
	storeSignedIn(b, ctx, s, dir, agents)

	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		next := start(i + 1)
		require.NoError(b, leader.Close())
		waitLeading(b, next)
		leader = next
		entries := took.FilterMessage("leading the cisco contact center").FilterField(zap.String("node", cfg.Node)).All()
		require.Len(b, entries, 1)
		fields := entries[0].ContextMap()
		require.EqualValues(b, agents, fields["agents"], "every record restored")
		total += fields["took"].(time.Duration)
	}
	b.StopTimer()
	require.NoError(b, leader.Close())
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/takeover")
}

// waitLeading waits until c serves as leader.
func waitLeading(b *testing.B, c *simcluster.Cluster) {
	b.Helper()
	require.Eventually(b, c.Leader, time.Minute, time.Millisecond, "no takeover")
}

// storeSignedIn stores a record of each of the directory's first n crowd
// agents signed in, as a leader would have: the records a lone simulator
// writes as they sign in, written to the cluster's bucket.
func storeSignedIn(b *testing.B, ctx context.Context, s *server.Server, dir *sim.Directory, n int) {
	b.Helper()
	kv := agentsBucket(b, ctx, s)
	var records []sim.AgentRecord
	lone := sim.New(dir, sim.Config{OnAgentChange: func(r sim.AgentRecord) { records = append(records, r) }})
	for i, a := range crowd(n) {
		_, err := lone.SignInAs(ctx, a.LoginID, fmt.Sprint(10000+i))
		require.NoError(b, err)
	}
	for _, r := range records {
		data, err := json.Marshal(r)
		require.NoError(b, err)
		_, err = kv.Put(ctx, r.LoginID, data)
		require.NoError(b, err)
	}
}
