package natsbus_test

import (
	"encoding/json"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

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
