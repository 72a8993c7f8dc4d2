package broker

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
)

// newTestConns returns a broker with n connections in scope "ws", each
// subscribed to Feed/*/* and, if drain, with a goroutine emptying its queue
// as its writer would. They have no socket: the fan-out never touches one.
func newTestConns(tb testing.TB, n int, drain bool) (*Broker, func()) {
	b := New(zap.NewNop(), Config{})
	p, err := ParsePattern("Feed", "*", "*")
	if err != nil {
		tb.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{}, n)
	b.mu.Lock()
	for i := range n {
		c := &Conn{
			id:       strconv.Itoa(i),
			b:        b,
			send:     make(chan []byte, b.cfg.SendQueue),
			channels: map[string]string{},
			patterns: []Pattern{p},
			log:      zap.NewNop(),
		}
		c.publishInterestLocked()
		b.joinLocked(c, "ws")
		if !drain {
			done <- struct{}{}
			continue
		}
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-c.send:
				case <-stop:
					return
				}
			}
		}()
	}
	b.mu.Unlock()
	return b, func() {
		close(stop)
		for range n {
			<-done
		}
		b.cancel()
	}
}

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

func BenchmarkEncodeEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeEvent(benchEvent, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

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
