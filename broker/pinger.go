package broker

import (
	"sync"
	"time"
)

// pingSlots spreads the pings of all connections over a ping period: each
// tick of the pinger pings one slot's connections.
const pingSlots = 16

// pinger pings every open connection once per ping period, from one
// goroutine for the whole broker: a ticker per connection would keep a
// goroutine and a timer alive for every idle connection. It runs while
// there are connections.
type pinger struct {
	period time.Duration

	mu    sync.Mutex                    // guards the fields below and Conn.pingSlot
	slots [pingSlots]map[*Conn]struct{} //
	next  int                           // the slot of the next connection
	n     int                           // connections in all slots
	stop  chan struct{}                 // closed to stop the running loop; nil when none runs

	done sync.WaitGroup // the loop, while it runs
}

func (p *pinger) add(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := p.slots[p.next]
	if slot == nil {
		slot = make(map[*Conn]struct{})
		p.slots[p.next] = slot
	}
	slot[c] = struct{}{}
	c.pingSlot = p.next
	p.next = (p.next + 1) % pingSlots
	p.n++
	if p.stop == nil {
		p.stop = make(chan struct{})
		p.done.Add(1)
		go p.loop(p.stop)
	}
}

func (p *pinger) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.slots[c.pingSlot], c)
	if p.n--; p.n == 0 {
		close(p.stop)
		p.stop = nil
	}
}

func (p *pinger) loop(stop chan struct{}) {
	defer p.done.Done()
	tick := time.NewTicker(max(p.period/pingSlots, time.Millisecond))
	defer tick.Stop()
	slot := 0
	var conns []*Conn
	for {
		select {
		case <-tick.C:
		case <-stop:
			return
		}
		p.mu.Lock()
		conns = conns[:0]
		for c := range p.slots[slot] {
			conns = append(conns, c)
		}
		p.mu.Unlock()
		for _, c := range conns {
			c.ping()
		}
		clear(conns)
		slot = (slot + 1) % pingSlots
	}
}
