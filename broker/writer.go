package broker

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// The write side of a connection. Frames wait in the connection's outbox;
// a writer goroutine exists only while there is something to write, and
// writes everything queued with one system call (writev). An idle
// connection therefore holds no goroutine, no timer and no buffer for its
// writes: a contact center keeps tens of thousands of them open.
//
// The writer frames data messages itself (RFC 6455 section 5.2: a server's
// frames are unmasked, and the bus negotiates no extensions) because the
// gorilla writer makes one system call per message. Each write is one call
// on the socket, which the runtime never interleaves with another: the
// control frames gorilla's reader answers with (pong, close) stay whole.

// outbox is a connection's send queue.
type outbox struct {
	mu      sync.Mutex    // guards the fields below
	frames  [][]byte      // encoded events waiting, at most Config.SendQueue
	bytes   int           // bytes of frames waiting or being written, at most Config.SendQueueBytes
	spare   [][]byte      // the writer's emptied queue, kept for reuse
	closing *closeFrame   // a close frame asked for; the first request wins
	ping    bool          // the pinger asked for a ping
	pong    []byte        // the payload of a ping to answer; nil when none waits
	running bool          // a writer goroutine is running, or stopped for good
	stopped bool          // nothing more is written: a close frame went out, a write failed, or the connection ended
	slow    bool          // the queue overflowed
	batch   bool          // the app opted in to several envelopes per frame
	waiting bool          // the writer lingers, waiting on wake
	wake    chan struct{} // wakes a lingering writer; made by the first that lingers

	writers sync.WaitGroup // the writer goroutine, while one runs
}

// maxSpare is the longest emptied queue the writer keeps for reuse; a
// larger one, left by a burst, is given back to the garbage collector.
const maxSpare = 64

// Batches: an app that registers with "batch": true may receive several
// envelopes in one frame, as a JSON array, in order. One frame holds at most
// maxBatchFrames envelopes and, beyond its first envelope, maxBatchBytes.
const (
	maxBatchFrames = 64
	maxBatchBytes  = 32 << 10
)

// enqueue hands a frame to the writer without ever blocking the caller: a
// connection whose queue is full, in frames or in bytes, is a slow consumer
// and is disconnected, so that it never holds up the publisher or the other
// recipients, and never makes the server hold more than the bound for it.
func (c *Conn) enqueue(frame []byte) {
	o := &c.out
	o.mu.Lock()
	if o.stopped || o.slow {
		o.mu.Unlock()
		return
	}
	if len(o.frames) >= c.b.cfg.SendQueue || o.bytes > 0 && o.bytes+len(frame) > c.b.cfg.SendQueueBytes {
		o.slow = true
		queued, queuedBytes := len(o.frames), o.bytes
		o.mu.Unlock()
		c.b.cfg.Metrics.slowConsumer()
		c.Logger().Warn("slow consumer: send queue full, disconnecting",
			zap.Int("frames", queued), zap.Int("bytes", queuedBytes),
			zap.Int("limit", c.b.cfg.SendQueue), zap.Int("limitBytes", c.b.cfg.SendQueueBytes))
		c.requestClose(CloseSlowConsumer, "slow consumer: send queue full")
		// The writer may be stuck in a write to a peer that reads
		// nothing; the write deadline ends that, and this ends the rest.
		time.AfterFunc(c.b.cfg.WriteWait+closeGrace, func() { c.nc.Close() })
		return
	}
	if o.frames == nil && o.spare != nil {
		o.frames, o.spare = o.spare, nil
	}
	o.frames = append(o.frames, frame)
	o.bytes += len(frame)
	start := o.wakeLocked()
	o.mu.Unlock()
	if start {
		go c.writer()
	}
}

// wakeLocked reports whether the caller must start a writer, and counts it.
func (o *outbox) wakeLocked() bool {
	if o.waiting {
		o.waiting = false
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	if o.running || o.stopped {
		return false
	}
	o.running = true
	o.writers.Add(1)
	return true
}

// requestClose asks the writer to send a close frame: at once for a slow
// consumer, after the frames already queued otherwise. The first request wins.
func (c *Conn) requestClose(code int, reason string) {
	o := &c.out
	o.mu.Lock()
	if o.closing != nil || o.stopped {
		o.mu.Unlock()
		return
	}
	o.closing = &closeFrame{code, reason}
	start := o.wakeLocked()
	o.mu.Unlock()
	if start {
		go c.writer()
	}
}

// pong asks the writer to answer the peer's ping. The writer sends it,
// rather than gorilla's default handler, because gorilla's control writes
// set the socket's write deadline to a second from now, which would cut
// short a large write of the writer's in progress.
func (c *Conn) pong(payload string) {
	o := &c.out
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return
	}
	o.pong = append(o.pong[:0], payload...)
	if o.pong == nil {
		o.pong = []byte{}
	}
	start := o.wakeLocked()
	o.mu.Unlock()
	if start {
		go c.writer()
	}
}

// ping asks the writer to send a ping.
func (c *Conn) ping() {
	o := &c.out
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return
	}
	o.ping = true
	start := o.wakeLocked()
	o.mu.Unlock()
	if start {
		go c.writer()
	}
}

// setBatch turns batching of several envelopes per frame on or off.
func (c *Conn) setBatch(on bool) {
	c.out.mu.Lock()
	c.out.batch = on
	c.out.mu.Unlock()
}

// batching reports whether the connection receives batched frames.
func (c *Conn) batching() bool {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.batch
}

// endWrites stops the writes of a connection whose reader has ended, and
// waits for a writer that is running.
func (c *Conn) endWrites() {
	o := &c.out
	o.mu.Lock()
	o.stopped = true
	o.frames, o.spare, o.bytes = nil, nil, 0
	o.wakeLocked()
	o.mu.Unlock()
	o.writers.Wait()
}

// writeLoop writes what is queued until nothing is left, then ends; the
// next enqueue starts another. It alone writes data frames to the socket.
func (c *Conn) writeLoop() {
	o := &c.out
	defer o.writers.Done()
	w := writeBuffers.Get().(*frameWriter)
	defer writeBuffers.Put(w)
	lingered := false
	for {
		o.mu.Lock()
		if o.stopped {
			o.mu.Unlock()
			return
		}
		cf := o.closing
		var frames [][]byte
		if cf == nil || cf.code != CloseSlowConsumer {
			frames, o.frames = o.frames, nil
		}
		ping, pong, batch := o.ping, o.pong, o.batch
		o.ping, o.pong = false, nil
		if cf != nil {
			o.stopped = true
			o.frames, o.spare, o.bytes = nil, nil, 0
		}
		if len(frames) == 0 && !ping && pong == nil && cf == nil {
			// While the app's requests are being served, their answers
			// follow one another closely: wait a moment for the next
			// rather than end and start another goroutine for it.
			if lingered || !c.working.Load() {
				o.running = false
				o.mu.Unlock()
				return
			}
			if o.wake == nil {
				o.wake = make(chan struct{}, 1)
			}
			o.waiting = true
			wake := o.wake
			o.mu.Unlock()
			lingered = w.linger(wake)
			o.mu.Lock()
			o.waiting = false
			o.mu.Unlock()
			continue
		}
		lingered = false
		o.mu.Unlock()

		if len(frames) > 0 || ping || pong != nil {
			written := 0
			for _, f := range frames {
				written += len(f)
			}
			err := w.write(c.nc, c.b.cfg.WriteWait, frames, ping, pong, batch)
			clear(frames)
			if err != nil {
				c.stopWrites()
				c.nc.Close()
				return
			}
			o.mu.Lock()
			if !o.stopped {
				// Counted until written: a peer that reads nothing keeps
				// the frames of a stuck write alive too.
				o.bytes -= written
				if o.spare == nil && cap(frames) <= maxSpare {
					o.spare = frames[:0]
				}
			}
			o.mu.Unlock()
		}
		if cf != nil {
			c.writeClose(*cf)
			return
		}
	}
}

// stopWrites marks the connection as written to no more, after a failed write.
func (c *Conn) stopWrites() {
	c.out.mu.Lock()
	c.out.stopped = true
	c.out.frames, c.out.spare, c.out.bytes = nil, nil, 0
	c.out.mu.Unlock()
}

// writeClose sends a close frame and gives the peer closeGrace to answer
// before the socket is dropped; the reader sees the answer and ends.
func (c *Conn) writeClose(cf closeFrame) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(cf.code, cf.reason), time.Now().Add(c.b.cfg.WriteWait))
	time.AfterFunc(closeGrace, func() { c.nc.Close() })
}

// frameWriter frames queued events and writes them with one system call.
// The writers share a pool of them, so an idle connection holds none.
type frameWriter struct {
	headers []byte      // the frame headers of one write
	bufs    net.Buffers // headers and payloads, in order
	vec     net.Buffers // what of bufs is still to be written
	flat    []byte      // the write as one buffer, for sockets without writev
	timer   *time.Timer // for lingering; made on first use
}

// writerLinger is how long a writer waits for more frames, while its
// connection's requests are being served, before it ends.
const writerLinger = dispatcherLinger

// linger waits for wake or writerLinger, and reports whether the time ran out.
func (w *frameWriter) linger(wake <-chan struct{}) bool {
	if w.timer == nil {
		w.timer = time.NewTimer(writerLinger)
	} else {
		w.timer.Reset(writerLinger)
	}
	select {
	case <-wake:
		w.timer.Stop()
		return false
	case <-w.timer.C:
		return true
	}
}

var writeBuffers = sync.Pool{New: func() any { return new(frameWriter) }}

// Fixed parts of frames.
var (
	pingFrame = []byte{0x80 | websocket.PingMessage, 0}
	openArray = []byte{'['}
	comma     = []byte{','}
	endArray  = []byte{']'}
)

// maxHeader is the longest header of a server's frame: opcode, 127, 8 bytes.
const maxHeader = 10

// write sends a ping if asked and a pong if one is due (pong non-nil), then
// frames, each in a text frame of its own or, when batch is set, several in
// one frame as a JSON array.
func (w *frameWriter) write(nc net.Conn, wait time.Duration, frames [][]byte, ping bool, pong []byte, batch bool) error {
	if cap(w.headers) < maxHeader*len(frames) {
		w.headers = make([]byte, 0, max(maxHeader*len(frames), maxHeader*maxSpare))
	}
	headers := w.headers[:0]
	bufs := w.bufs[:0]
	if ping {
		bufs = append(bufs, pingFrame)
	}
	if pong != nil {
		// A ping's payload is at most 125 bytes, so the header is two.
		at := len(headers)
		headers = append(headers, 0x80|websocket.PongMessage, byte(len(pong)))
		bufs = append(bufs, headers[at:], pong)
	}
	for len(frames) > 0 {
		n, size := 1, len(frames[0])
		if batch {
			for n < len(frames) && n < maxBatchFrames && size+1+len(frames[n]) <= maxBatchBytes+len(frames[0]) {
				size += 1 + len(frames[n])
				n++
			}
		}
		if n == 1 {
			at := len(headers)
			headers = appendFrameHeader(headers, size)
			bufs = append(bufs, headers[at:], frames[0])
			frames = frames[1:]
			continue
		}
		at := len(headers)
		headers = appendFrameHeader(headers, size+2)
		bufs = append(bufs, headers[at:], openArray, frames[0])
		for _, f := range frames[1:n] {
			bufs = append(bufs, comma, f)
		}
		bufs = append(bufs, endArray)
		frames = frames[n:]
	}
	w.headers = headers
	saved := bufs
	defer func() {
		clear(saved)
		w.bufs = saved[:0]
	}()
	if err := nc.SetWriteDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	if _, ok := nc.(*net.TCPConn); ok {
		w.vec = bufs                // WriteTo consumes it
		_, err := w.vec.WriteTo(nc) // one writev
		return err
	}
	// Another kind of socket may split a vectored write into several
	// writes; one buffer keeps the frames whole.
	flat := w.flat[:0]
	for _, b := range bufs {
		flat = append(flat, b...)
	}
	w.flat = flat[:0]
	_, err := nc.Write(flat)
	return err
}

// appendFrameHeader appends the header of a final, unmasked text frame
// whose payload is n bytes long.
func appendFrameHeader(b []byte, n int) []byte {
	b = append(b, 0x80|websocket.TextMessage)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

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
