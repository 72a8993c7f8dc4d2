package broker

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// The write side of a connection. Frames wait in the connection's outbox
// (outbox.go); a writer goroutine exists only while there is something to
// write, and writes everything queued with one system call (writev), framed
// by frame.go. An idle connection therefore holds no goroutine, no timer
// and no buffer for its writes: a contact center keeps tens of thousands of
// them open. One pinger (pinger.go) asks every connection for its pings.
//
// Each write is one call on the socket, which the runtime never interleaves
// with another: the control frames gorilla's reader answers with (pong,
// close) stay whole.

// socket is the network connection under a connection's WebSocket. Data
// frames reach it only through send, which the one writer goroutine calls;
// anything else may only close it, to end a stuck write or a connection.
// send refuses to run beside another send: a second writer is a bug, and
// it would interleave frames on the wire.
type socket struct {
	nc      net.Conn
	sending atomic.Bool // a send is in progress
}

// send writes job's frames, framed by w, with a write deadline of wait.
func (s *socket) send(w *frameWriter, wait time.Duration, job *writeJob) error {
	if !s.sending.CompareAndSwap(false, true) {
		panic("broker: two writers on one connection")
	}
	defer s.sending.Store(false)
	return w.write(s.nc, wait, job.frames, job.ping, job.pong, job.batch)
}

// close drops the connection; a write in progress fails.
func (s *socket) close() { s.nc.Close() }

// enqueue hands a frame to the writer without ever blocking the caller: a
// connection whose queue is full, in frames or in bytes, is a slow consumer
// and is disconnected, so that it never holds up the publisher or the other
// recipients, and never makes the server hold more than the bound for it.
func (c *Conn) enqueue(frame []byte) {
	start, overflowed, held := c.out.push(frame, c.b.cfg.SendQueue, c.b.cfg.SendQueueBytes)
	if start {
		go c.writer()
	}
	if !overflowed {
		return
	}
	c.b.cfg.Metrics.slowConsumer()
	c.Logger().Warn("slow consumer: send queue full, disconnecting",
		zap.Int("frames", held.frames), zap.Int("bytes", held.bytes),
		zap.Int("limit", c.b.cfg.SendQueue), zap.Int("limitBytes", c.b.cfg.SendQueueBytes))
	c.requestClose(CloseSlowConsumer, "slow consumer: send queue full")
	// The writer may be stuck in a write to a peer that reads nothing;
	// the write deadline ends that, and this ends the rest.
	time.AfterFunc(c.b.cfg.WriteWait+closeGrace, c.sock.close)
}

// requestClose asks the writer to send a close frame: at once for a slow
// consumer, after the frames already queued otherwise. The first request wins.
func (c *Conn) requestClose(code int, reason string) {
	if c.out.askClose(closeFrame{code, reason}) {
		go c.writer()
	}
}

// pong asks the writer to answer the peer's ping. The writer sends it,
// rather than gorilla's default handler, because gorilla's control writes
// set the socket's write deadline to a second from now, which would cut
// short a large write of the writer's in progress.
func (c *Conn) pong(payload string) {
	if c.out.askPong(payload) {
		go c.writer()
	}
}

// ping asks the writer to send a ping.
func (c *Conn) ping() {
	if c.out.askPing() {
		go c.writer()
	}
}

// setBatch turns batching of several envelopes per frame on or off.
func (c *Conn) setBatch(on bool) { c.out.setBatch(on) }

// batching reports whether the connection receives batched frames.
func (c *Conn) batching() bool { return c.out.batching() }

// endWrites stops the writes of a connection whose reader has ended, and
// waits for a writer that is running.
func (c *Conn) endWrites() {
	c.out.stop()
	c.out.writers.Wait()
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
		// While the app's requests are being served, their answers follow
		// one another closely: wait a moment for the next rather than end
		// and start another goroutine for it.
		job, step, wake := o.take(!lingered && c.working.Load())
		switch step {
		case stepEnd:
			return
		case stepLinger:
			lingered = w.linger(wake)
			o.lingered()
			continue
		}
		lingered = false
		if job.hasData() {
			written := 0
			for _, f := range job.frames {
				written += len(f)
			}
			err := c.sock.send(w, c.b.cfg.WriteWait, &job)
			clear(job.frames)
			if err != nil {
				o.stop()
				c.sock.close()
				return
			}
			o.written(job.frames, written)
		}
		if job.close != nil {
			c.writeClose(*job.close)
			return
		}
	}
}

// writeClose sends a close frame and gives the peer closeGrace to answer
// before the socket is dropped; the reader sees the answer and ends.
func (c *Conn) writeClose(cf closeFrame) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(cf.code, cf.reason), time.Now().Add(c.b.cfg.WriteWait))
	time.AfterFunc(closeGrace, c.sock.close)
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
