package broker

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
)

// newTestConns returns a broker with n connections in scope "ws", each
// subscribed to Feed/*/*. With drain, each has a real writer, which writes
// its frames to a socket that discards them; without, each acts as if its
// writer were busy, so that frames stay queued and no goroutine runs.
func newTestConns(tb testing.TB, n int, drain bool) (*Broker, func()) {
	p, err := ParsePattern("Feed", "*", "*")
	if err != nil {
		tb.Fatal(err)
	}
	return newTestConnsWith(tb, n, drain, func(int) Pattern { return p })
}

// newTestConnsWith is newTestConns with the pattern of connection i.
func newTestConnsWith(tb testing.TB, n int, drain bool, pattern func(i int) Pattern) (*Broker, func()) {
	b := New(zap.NewNop(), Config{SendQueue: 1024})
	conns := make([]*Conn, n)
	b.mu.Lock()
	for i := range n {
		c := &Conn{
			id:       strconv.Itoa(i),
			b:        b,
			sock:     socket{nc: discardConn{}},
			patterns: []Pattern{pattern(i)},
			log:      zap.NewNop(),
		}
		c.writer = c.writeLoop
		if !drain {
			c.out.state = writerBusy
			c.out.frames = make([][]byte, 0, b.cfg.SendQueue)
		}
		c.publishInterestLocked()
		b.joinLocked(c, "ws")
		conns[i] = c
	}
	b.mu.Unlock()
	return b, func() {
		for _, c := range conns {
			if drain {
				c.endWrites()
			}
		}
		b.cancel()
	}
}

// discardConn is a socket that accepts every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

var benchEvent = Event{Channel: "Feed", Topic: "Call", Subtopic: "Ringing", Source: "softphone",
	Message: json.RawMessage(`{"ani":"4085551234","dnis":"8005550100","callVariable1":"account 42"}`)}

func BenchmarkDecodeRequest(b *testing.B) {
	frame := []byte(`{"id":"r-1","channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo","data":{"username":"ciscotest","password":"test@123","extension":"5064"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := decodeRequest(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteMatch(b *testing.B) {
	bus := New(zap.NewNop(), Config{})
	defer bus.cancel()
	for _, api := range []string{"SetUserInfo", "SetReadyState", "SetNotReadyState", "GetAgentState", "GetAppState", "Logout"} {
		bus.Handle("Cisco", "Agent", api, HandlerFunc(func(context.Context, *Request) error { return nil }))
	}
	b.ReportAllocs()
	for b.Loop() {
		t := lowerTriple("Cisco", "Agent", "GetAgentState")
		if _, _, found, _ := bus.lookup(t); !found {
			b.Fatal("no route")
		}
	}
}

func BenchmarkPatternMatch(b *testing.B) {
	p, _ := ParsePattern("Cisco", "*", "SetAgentState")
	t := lowerTriple("Cisco", "Agent", "SetAgentState")
	b.ReportAllocs()
	for b.Loop() {
		if !p.matches(t) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkSubscriptionMatch10000 publishes into a scope whose 10,000
// connections each subscribed to a pattern of their own; one matches.
func BenchmarkSubscriptionMatch10000(b *testing.B) {
	bus, stop := newTestConnsWith(b, 10_000, true, func(i int) Pattern {
		p, err := ParsePattern("Feed", "T"+strconv.Itoa(i), "*")
		if err != nil {
			b.Fatal(err)
		}
		return p
	})
	defer stop()
	ev := benchEvent
	ev.Topic = "T5000"
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.Publish("ws", ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "patterns/s")
}

func BenchmarkEncodeEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeEvent(benchEvent, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanOut1000 publishes to 1,000 subscribers whose writers frame
// and write each event to a socket that discards it.
func BenchmarkFanOut1000(b *testing.B) {
	bus, stop := newTestConns(b, 1000, true)
	defer stop()
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.Publish("ws", benchEvent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkFanOutEnqueue1000 is the publisher's share of a fan-out to
// 1,000 subscribers: encode once, match and queue for each.
func BenchmarkFanOutEnqueue1000(b *testing.B) {
	bus, stop := newTestConns(b, 1000, false)
	defer stop()
	conns := bus.connsLocked()
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.Publish("ws", benchEvent); err != nil {
			b.Fatal(err)
		}
		for _, c := range conns {
			c.out.frames = c.out.frames[:0]
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "deliveries/s")
}

var benchFrame, _ = encodeEvent(benchEvent, time.Time{})

// BenchmarkWriteFrames is a writer's work for 64 queued events: frame them
// and hand them to the socket in one write.
func BenchmarkWriteFrames(b *testing.B) {
	for _, batch := range []bool{false, true} {
		b.Run(map[bool]string{false: "frame-each", true: "batch"}[batch], func(b *testing.B) {
			frames := make([][]byte, 64)
			for i := range frames {
				frames[i] = benchFrame
			}
			var w frameWriter
			var conn net.Conn = discardConn{}
			b.ReportAllocs()
			b.SetBytes(int64(64 * len(benchFrame)))
			for b.Loop() {
				if err := w.write(conn, time.Second, frames, false, nil, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFanOutEncodesOnce checks that publishing to 1,000 subscribers costs
// the same allocations as publishing to one: the event is encoded once and
// the same bytes are queued for everyone.
func TestFanOutEncodesOnce(t *testing.T) {
	// No drainers: their wake-ups would allocate in the scheduler. The
	// queues hold the runs' events.
	one, stopOne := newTestConns(t, 1, false)
	defer stopOne()
	many, stopMany := newTestConns(t, 1000, false)
	defer stopMany()
	publish := func(bus *Broker) func() {
		return func() {
			if err := bus.Publish("ws", benchEvent); err != nil {
				t.Fatal(err)
			}
		}
	}
	allocsOne := testing.AllocsPerRun(100, publish(one))
	allocsMany := testing.AllocsPerRun(100, publish(many))
	if allocsMany != allocsOne {
		t.Fatalf("publishing to 1,000 subscribers allocates %.0f times, to one %.0f: the fan-out does work per subscriber", allocsMany, allocsOne)
	}
}
