package simcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
)

// BenchmarkClusterRequests measures what three nodes on one NATS server,
// all in this process, serve when 50 agents each send one request after
// another, agent i through node i mod 3 (so two thirds of the requests go
// to the leader over NATS): state changes (SetState, READY and NOT_READY
// in turn, each stored in KV before its answer) and reads (User). It
// reports requests per second over the three nodes.
//
//	go test -run XXX -bench ClusterRequests -benchtime 4000x ./channels/cisco/simcluster/
func BenchmarkClusterRequests(b *testing.B) {
	const agents = 50
	for _, kind := range []string{"state-changes", "reads"} {
		b.Run(kind, func(b *testing.B) {
			s := natstest.Start(b, "")
			crowd := crowd(agents)
			dir := ciscotest.NewDirectory(b, crowd...)
			nodes := startSteadyCluster(b, s, dir, 3)
			ctx := b.Context()
			for i, a := range crowd {
				if _, err := nodes[i%3].SignIn(ctx, a.LoginID, a.Password, fmt.Sprint(2001+i)); err != nil {
					b.Fatal(err)
				}
			}
			perAgent := max(b.N/agents, 1)
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				errs []error
			)
			b.ResetTimer()
			start := time.Now()
			for i, a := range crowd {
				n := nodes[i%3]
				wg.Go(func() {
					for k := range perAgent {
						var err error
						if kind == "reads" {
							_, err = n.User(ctx, a.LoginID)
						} else {
							state, reason := nextState(k)
							_, err = n.SetState(ctx, a.LoginID, state, reason)
						}
						if err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if len(errs) > 0 {
				b.Fatal(errs[0])
			}
			b.ReportMetric(float64(perAgent*agents)/elapsed.Seconds(), "requests/s")
		})
	}
}

// BenchmarkNotifyTraffic counts the notifications NATS delivers to the
// nodes per change of an agent's state, at 3 and 5 nodes: 30 agents, each
// with 3 apps, either "spread" over the nodes (app j of agent i on node
// (3i+j) mod n) or "together" on one node (agent i's on node i mod n). A
// node watches the agents of its apps, when the connector lets it
// (cisco.Watcher); a connector that broadcasts delivers each notification
// to every node. It reports deliveries per change, a count, not a time.
//
//	go test -run XXX -bench NotifyTraffic -benchtime 10x ./channels/cisco/simcluster/
func BenchmarkNotifyTraffic(b *testing.B) {
	const agents, apps = 30, 3
	type watcher interface {
		Watch(ctx context.Context, loginIDs ...string) error
	}
	for _, nodeCount := range []int{3, 5} {
		for _, layout := range []string{"spread", "together"} {
			b.Run(fmt.Sprintf("nodes=%d/%s", nodeCount, layout), func(b *testing.B) {
				s := natstest.Start(b, "")
				crowd := crowd(agents)
				dir := ciscotest.NewDirectory(b, crowd...)
				ctx := b.Context()
				var nodes []*simcluster.Cluster
				for i := range nodeCount {
					c, err := simcluster.New(ctx, dir, natstest.Connect(b, s), simcluster.Config{
						Node: fmt.Sprint("node", i), LeaseTTL: steadyLease})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = c.Close() })
					nodes = append(nodes, c)
				}
				nodeOf := func(agent, app int) int {
					if layout == "together" {
						return agent % nodeCount
					}
					return (agent*apps + app) % nodeCount
				}
				for i, a := range crowd {
					for j := range apps {
						if w, ok := any(nodes[nodeOf(i, j)]).(watcher); ok {
							if err := w.Watch(ctx, a.LoginID); err != nil {
								b.Fatal(err)
							}
						}
					}
					if _, err := nodes[nodeOf(i, 0)].SignIn(ctx, a.LoginID, a.Password, fmt.Sprint(2001+i)); err != nil {
						b.Fatal(err)
					}
				}
				// Count what NATS carries to the nodes: a message in a
				// node's stream reaches that node; a broadcast, every node.
				// The leader's messages reach the spy in the order sent, so
				// once it has every one about the last agent changed (to
				// each node that watches it, or broadcast), it has all.
				last := crowd[agents-1].LoginID
				lastTo := 1
				if _, ok := any(nodes[0]).(watcher); ok {
					distinct := map[int]bool{}
					for j := range apps {
						distinct[nodeOf(agents-1, j)] = true
					}
					lastTo = len(distinct)
				}
				var perNode, broadcast, aboutLast atomic.Int64
				count := func(n *atomic.Int64) nats.MsgHandler {
					return func(m *nats.Msg) {
						n.Add(1)
						if bytes.Contains(m.Data, []byte(`"LoginID":"`+last+`"`)) || bytes.Contains(m.Data, []byte(`"loginId":"`+last+`"`)) {
							aboutLast.Add(1)
						}
					}
				}
				spy := natstest.Connect(b, s)
				if _, err := spy.Subscribe("ctibus.cti.notify.>", count(&perNode)); err != nil {
					b.Fatal(err)
				}
				if _, err := spy.Subscribe("ctibus.cti.notify", count(&broadcast)); err != nil {
					b.Fatal(err)
				}
				if err := spy.Flush(); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				changes := 0
				for k := range b.N {
					state, reason := nextState(k)
					for i, a := range crowd {
						if _, err := nodes[nodeOf(i, 0)].SetState(ctx, a.LoginID, state, reason); err != nil {
							b.Fatal(err)
						}
						changes++
					}
				}
				b.StopTimer()
				deadline := time.Now().Add(eventually)
				for aboutLast.Load() < int64(b.N*lastTo) {
					if time.Now().After(deadline) {
						b.Fatalf("%d notifications about %s, want %d", aboutLast.Load(), last, b.N*lastTo)
					}
					time.Sleep(time.Millisecond) // polling a count, not waiting for luck
				}
				delivered := perNode.Load() + broadcast.Load()*int64(nodeCount)
				b.ReportMetric(float64(delivered)/float64(changes), "deliveries/change")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
