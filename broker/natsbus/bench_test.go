package natsbus_test

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// benchWindow is how far the publisher may run ahead of the subscriber,
// well within benchConfig's send queue, so that the benchmark measures
// delivery rather than slow-consumer disconnects.
const benchWindow = 512

var benchConfig = broker.Config{SendQueue: 2 * benchWindow}

var benchEvent = broker.Event{Channel: "Test", Topic: "Call", Subtopic: "Ringing", Source: "softphone",
	Message: json.RawMessage(`{"ani":"4085551234","dnis":"8005550100","callVariable1":"account 42"}`)}

// BenchmarkPublishNATS publishes events on one node that another node,
// through NATS, delivers to one subscriber over WebSocket. Allocations
// count the whole process: both nodes, the subscriber and the NATS server.
func BenchmarkPublishNATS(b *testing.B) {
	s := natstest.Start(b, "")
	benchDelivery(b, newNode(b, s, benchConfig), newNode(b, s, benchConfig))
}

// BenchmarkPublishLocal is BenchmarkPublishNATS's baseline: the same
// events published and delivered on one node alone.
func BenchmarkPublishLocal(b *testing.B) {
	n := newNode(b, nil, benchConfig)
	benchDelivery(b, n, n)
}

// benchDelivery publishes b.N events on from and returns once a subscriber
// on to has read them all.
func benchDelivery(b *testing.B, from, to *node) {
	ws := to.app(b, "crm", "S").Conn()
	ws.SetReadDeadline(time.Time{}) // the test client's last read set one
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, r, err := ws.NextReader()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	b.Cleanup(func() {
		// A close handshake, so that the node sees an app leaving, not a
		// lost connection.
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(brokertest.Wait))
		<-done
		ws.Close()
	})

	// awaitBelow waits until fewer than n events are in flight.
	awaitBelow := func(sent, n int64) {
		deadline := time.Now().Add(brokertest.Wait)
		for sent-received.Load() >= n {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events arrived", received.Load(), sent)
			}
			runtime.Gosched()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for sent := range int64(b.N) {
		awaitBelow(sent, benchWindow)
		if err := from.b.Publish("S", benchEvent); err != nil {
			b.Fatal(err)
		}
	}
	awaitBelow(int64(b.N), 1)
	b.StopTimer()
}

// BenchmarkCrossNodeTraffic counts, at 3 and 5 nodes, the NATS messages
// delivered to nodes per event published, as the NATS server counts them
// (out_msgs over in_msgs of the nodes' connections): counts, not times,
// so the machine's load does not change them. Agents have three apps
// each. "spread" puts an agent's apps on consecutive nodes, as ctibench's
// round robin does (a load balancer without sticky sessions); "together"
// puts them on one node. The event is published by the node of the
// agent's first app. Run it with -benchtime 1x: b.N does not matter.
func BenchmarkCrossNodeTraffic(b *testing.B) {
	const agents, apps, events = 30, 3, 10
	for _, nodeCount := range []int{3, 5} {
		for _, layout := range []string{"spread", "together"} {
			b.Run(fmt.Sprintf("nodes=%d/%s", nodeCount, layout), func(b *testing.B) {
				s := natstest.Start(b, "")
				all := make([]*node, nodeCount)
				for i := range all {
					all[i] = newNode(b, s, benchConfig)
				}
				nodeOf := func(agent, app int) int {
					if layout == "together" {
						return agent % nodeCount
					}
					return (agent*apps + app) % nodeCount
				}
				clients := make([][]*brokertest.Client, agents)
				for i := range clients {
					for j := range apps {
						clients[i] = append(clients[i], all[nodeOf(i, j)].app(b, "app-"+strconv.Itoa(j), "agent:"+strconv.Itoa(i)))
					}
				}
				before := nodeTraffic(b, s, all)
				for range b.N {
					for i := range agents {
						for range events {
							if err := all[nodeOf(i, 0)].b.Publish(broker.Scope("agent:"+strconv.Itoa(i)), benchEvent); err != nil {
								b.Fatal(err)
							}
						}
					}
					for _, apps := range clients {
						for _, c := range apps {
							for range events {
								c.Expect("Test/Call/Ringing")
							}
						}
					}
				}
				after := nodeTraffic(b, s, all)
				published, delivered := after.in-before.in, after.out-before.out
				b.ReportMetric(float64(delivered)/float64(published), "msgs/event")
				b.ReportMetric(float64(after.subs)/float64(nodeCount), "subs/node")
				b.ReportMetric(0, "ns/op") // a count, not a time
			})
		}
	}
}

// traffic is what the NATS server counted for the nodes' connections.
type traffic struct{ in, out, subs int64 }

// nodeTraffic reads the server's counters for the nodes' connections. The
// messages a node sends are its events, those it receives other nodes'.
func nodeTraffic(b *testing.B, s *server.Server, nodes []*node) traffic {
	b.Helper()
	ids := make(map[uint64]bool, len(nodes))
	for _, n := range nodes {
		id, err := n.nc.GetClientID()
		if err != nil {
			b.Fatal(err)
		}
		ids[id] = true
	}
	// The server counts a message to a client as it queues it, while it
	// processes the publish: once it has answered a flush from every node,
	// it has processed, and counted, everything they published.
	for _, n := range nodes {
		if err := n.nc.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	connz, err := s.Connz(&server.ConnzOptions{Limit: 1024})
	if err != nil {
		b.Fatal(err)
	}
	var t traffic
	for _, c := range connz.Conns {
		if ids[c.Cid] {
			t.in += c.InMsgs
			t.out += c.OutMsgs
			t.subs += int64(c.NumSubs)
		}
	}
	return t
}
