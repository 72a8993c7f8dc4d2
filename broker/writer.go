package broker

import (
	"net"
	"sync/atomic"
	"syscall"
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
	raw     syscall.RawConn // nc's descriptor, for writes that do not wait; made by the first
	sending atomic.Bool     // a send is in progress
	// deadline reports that nc has a write deadline, which sendRest sets
	// and trySend clears; only a send, one at a time, reads or writes it.
	deadline bool
}

// sendRest writes what is left of the write laid out in w, with a write
// deadline of wait.
func (s *socket) sendRest(w *frameWriter, wait time.Duration) error {
	if !s.sending.CompareAndSwap(false, true) {
		panic("broker: two writers on one connection")
	}
	defer s.sending.Store(false)
	s.deadline = true
	return w.writeRest(s.nc, wait)
}

// trySend writes what the socket takes at once of the write laid out in w,
// without waiting for it. It reports whether everything was written; ok is
// false for a socket that cannot be written that way (TLS), which a writer
// goroutine writes to instead.
func (s *socket) trySend(w *frameWriter) (done, ok bool, err error) {
	if s.raw == nil {
		tc, isTCP := s.nc.(*net.TCPConn)
		if !isTCP {
			return false, false, nil
		}
		if s.raw, err = tc.SyscallConn(); err != nil {
			return false, true, err
		}
	}
	if !s.sending.CompareAndSwap(false, true) {
		panic("broker: two writers on one connection")
	}
	defer s.sending.Store(false)
	if s.deadline {
		// The deadline an earlier send left, once passed, fails every
		// write on the socket, this one too, though it never waits: an
		// app that asks something more than WriteWait after its last
		// event would lose its answer and its connection.
		if err := s.nc.SetWriteDeadline(time.Time{}); err != nil {
			return false, true, err
		}
		s.deadline = false
	}
	done, err = w.tryWrite(s.raw)
	return done, true, err
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
	w := writeBuffers.Get().(*frameWriter)
	c.writeFrom(w, writeJob{}, false)
}

// writeFrom is the writer's loop, which ends the writer's turn. With
// laidOut, it first writes job, whose write is laid out in w (and may have
// begun); then what is queued, until nothing is left.
func (c *Conn) writeFrom(w *frameWriter, job writeJob, laidOut bool) {
	o := &c.out
	defer o.writers.Done()
	defer writeBuffers.Put(w)
	lingered := false
	have := laidOut
	for {
		if !have {
			// While the reader serves the app's requests, their answers
			// follow one another closely: wait a moment for the next
			// rather than end and start another goroutine for it.
			var step writerStep
			var wake <-chan struct{}
			job, step, wake = o.take(!lingered && o.serving())
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
				w.frame(job.frames, job.ping, job.pong, job.batch)
			}
		}
		have = false
		if job.hasData() {
			err := c.sock.sendRest(w, c.b.cfg.WriteWait)
			w.release()
			if !c.written(job, err) {
				return
			}
		}
		if job.close != nil {
			c.writeClose(*job.close)
			return
		}
	}
}

// written ends the write of job, which err ended: the outbox gets its
// bytes back, or, after a failed write, the connection is dropped. It
// reports whether the writer goes on.
func (c *Conn) written(job writeJob, err error) bool {
	written := 0
	for _, f := range job.frames {
		written += len(f)
	}
	clear(job.frames)
	if err != nil {
		// The reader ends on the closed socket and logs its own error,
		// which does not tell why.
		c.Logger().Debug("write failed; dropping the connection", zap.Error(err))
		c.out.stop()
		c.sock.close()
		return false
	}
	c.out.written(job.frames, written)
	return true
}

// writeDirect takes the writer's turn on the reader's goroutine, once a
// request served there has queued its answers: it writes what the socket
// takes at once, in one system call and without waiting, and leaves the
// rest, a close frame, or a socket it cannot write that way (TLS) to a
// writer goroutine, so that a peer that reads nothing never holds up the
// reader and the send queue's bounds and the slow-consumer rule stay as
// they are.
func (c *Conn) writeDirect() {
	o := &c.out
	w := writeBuffers.Get().(*frameWriter)
	for {
		job, step, _ := o.take(false)
		if step == stepEnd {
			writeBuffers.Put(w)
			o.writers.Done()
			return
		}
		w.frame(job.frames, job.ping, job.pong, job.batch)
		if job.close != nil {
			go c.writeFrom(w, job, true)
			return
		}
		done, ok, err := c.sock.trySend(w)
		if !ok || (!done && err == nil) {
			go c.writeFrom(w, job, true)
			return
		}
		w.release()
		if !c.written(job, err) {
			writeBuffers.Put(w)
			o.writers.Done()
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
const writerLinger = time.Millisecond

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
