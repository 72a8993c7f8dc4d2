package simcluster_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
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
