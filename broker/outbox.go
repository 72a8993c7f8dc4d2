package broker

import (
	"sync"
	"time"
)

// outbox is a connection's send queue and the state of its writer. Every
// change to it happens in this file, in the methods below, under mu; the
// writer goroutine (writer.go) and the callers that queue frames only ask
// for transitions.
type outbox struct {
	mu      sync.Mutex    // guards the fields below
	state   writerState   // where the writer stands
	frames  [][]byte      // encoded events waiting, at most Config.SendQueue
	bytes   int           // bytes of frames waiting or being written, at most Config.SendQueueBytes
	spare   [][]byte      // the writer's emptied queue, kept for reuse
	closing *closeFrame   // a close frame asked for; the first request wins
	ping    bool          // the pinger asked for a ping
	pong    []byte        // the payload of a ping to answer; nil when none waits
	slow    bool          // the queue overflowed; later frames are dropped
	batch   bool          // the app opted in to several envelopes per frame
	wake    chan struct{} // wakes a lingering writer; made by the first that lingers
	served  time.Time     // when the reader began serving a request; zero while it serves none
	held    bool          // the reader holds the writer's turn, to write when the request is served

	writers sync.WaitGroup // the writer goroutine, while one runs
}

// writerState is where a connection's writer stands. A writer goroutine
// exists only in writerBusy and writerLingering, and may still be ending
// in writerStopped; writers counts it.
//
//	idle      -> busy       something was queued (the caller starts the writer,
//	                        or, while the reader serves a request, the reader
//	                        holds the turn and writes when it is served)
//	busy      -> lingering  the queue is empty while the app's requests are served
//	lingering -> busy       something was queued (wake), or the linger ran out
//	busy      -> idle       the queue is empty and the writer ends
//	any       -> stopped    a close frame is taken, a write failed, or the reader ended
type writerState uint8

const (
	writerIdle      writerState = iota // no writer runs; the next request starts one
	writerBusy                         // a writer runs and looks at the queue again before it ends
	writerLingering                    // a writer runs, waiting on wake for more
	writerStopped                      // nothing more is written, for good
)

// maxSpare is the longest emptied queue the writer keeps for reuse; a
// larger one, left by a burst, is given back to the garbage collector.
const maxSpare = 64

// queueSize is what an outbox holds.
type queueSize struct {
	frames, bytes int
}

// writeJob is what the writer takes from the outbox for one write.
type writeJob struct {
	frames [][]byte    // events, in order
	ping   bool        // send a ping first
	pong   []byte      // answer a ping with this payload; nil for none
	batch  bool        // several events may share a frame
	close  *closeFrame // send this close frame after the rest, and end
}

// hasData reports whether the job writes anything before its close frame.
func (j *writeJob) hasData() bool { return len(j.frames) > 0 || j.ping || j.pong != nil }

// push queues frame. It reports whether the caller must start a writer,
// and whether the queue overflowed with this frame, in frames (maxFrames)
// or in bytes (maxBytes), with what it held then: the frame is dropped,
// and so is everything pushed after it. A stopped outbox drops the frame.
func (o *outbox) push(frame []byte, maxFrames, maxBytes int) (start, overflowed bool, held queueSize) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == writerStopped || o.slow {
		return false, false, queueSize{}
	}
	if len(o.frames) >= maxFrames || o.bytes > 0 && o.bytes+len(frame) > maxBytes {
		o.slow = true
		return false, true, queueSize{len(o.frames), o.bytes}
	}
	if o.frames == nil && o.spare != nil {
		o.frames, o.spare = o.spare, nil
	}
	o.frames = append(o.frames, frame)
	o.bytes += len(frame)
	return o.wakeLocked(), false, queueSize{}
}

// askClose asks for a close frame; the first request wins. It reports
// whether the caller must start a writer.
func (o *outbox) askClose(cf closeFrame) (start bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing != nil || o.state == writerStopped {
		return false
	}
	o.closing = &cf
	return o.wakeLocked()
}

// askPong asks for the answer to a ping; a later ping's payload replaces
// an earlier one's. It reports whether the caller must start a writer.
func (o *outbox) askPong(payload string) (start bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == writerStopped {
		return false
	}
	o.pong = append(o.pong[:0], payload...)
	if o.pong == nil {
		o.pong = []byte{}
	}
	return o.wakeLocked()
}

// askPing asks for a ping. It reports whether the caller must start a writer.
func (o *outbox) askPing() (start bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == writerStopped {
		return false
	}
	o.ping = true
	return o.wakeLocked()
}

// setBatch turns batching of several envelopes per frame on or off.
func (o *outbox) setBatch(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batch = on
}

// batching reports whether batching is on.
func (o *outbox) batching() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.batch
}

// stop ends all writes: what waits is dropped, a lingering writer is woken
// to end, and no writer starts again.
func (o *outbox) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopLocked()
}

func (o *outbox) stopLocked() {
	o.wakeLingererLocked()
	o.state = writerStopped
	o.frames, o.spare, o.bytes = nil, nil, 0
}

// directWindow is how long into a request served on the reader what is
// queued for the connection waits for the reader to write it (writeDirect)
// rather than for a writer goroutine: the answers of most requests, queued
// microseconds in. After it, a writer goroutine takes over, so that a long
// request (a sign-in's bcrypt, a call to Finesse) holds up no event.
const directWindow = time.Millisecond

// beginServe records that the reader serves a request of the connection.
func (o *outbox) beginServe(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.served = now
}

// endServe records that the request is served, and reports whether the
// reader holds the writer's turn and must write (writeDirect).
func (o *outbox) endServe() (write bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.served = time.Time{}
	write, o.held = o.held, false
	return write
}

// serving reports whether the reader is serving a request.
func (o *outbox) serving() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.served.IsZero()
}

// wakeLocked wakes a lingering writer, and reports whether the caller must
// start one, counting it in writers. Within directWindow of a request's
// start on the reader, the turn goes to the reader instead (held); past
// it, a turn the reader holds goes to a writer goroutine.
func (o *outbox) wakeLocked() (start bool) {
	o.wakeLingererLocked()
	direct := !o.served.IsZero() && time.Since(o.served) < directWindow
	if o.held && !direct {
		o.held = false
		return true // counted in writers when the reader took the turn
	}
	if o.state != writerIdle {
		return false
	}
	o.state = writerBusy
	o.writers.Add(1)
	if direct {
		o.held = true
		return false
	}
	return true
}

// wakeLingererLocked moves a lingering writer back to work.
func (o *outbox) wakeLingererLocked() {
	if o.state != writerLingering {
		return
	}
	o.state = writerBusy
	select {
	case o.wake <- struct{}{}:
	default: // a wake is pending already
	}
}

// writerStep is what the writer does next.
type writerStep uint8

const (
	stepWrite  writerStep = iota // write the job
	stepLinger                   // wait on the wake channel, then take again
	stepEnd                      // end the goroutine
)

// take is the writer's turn: it hands over everything queued, or, when
// nothing is, tells the writer to linger (the app's requests are being
// served, mayLinger, and the writer did not just linger in vain) or to end.
// A close frame stops the outbox: it is the last thing written, and a slow
// consumer's close frame goes out without the frames that overflowed.
func (o *outbox) take(mayLinger bool) (job writeJob, step writerStep, wake <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == writerStopped {
		return writeJob{}, stepEnd, nil
	}
	job = writeJob{close: o.closing, ping: o.ping, pong: o.pong, batch: o.batch}
	if job.close == nil || job.close.code != CloseSlowConsumer {
		job.frames, o.frames = o.frames, nil
	}
	o.ping, o.pong = false, nil
	if job.close != nil {
		o.stopLocked()
		return job, stepWrite, nil
	}
	if job.hasData() {
		return job, stepWrite, nil
	}
	if !mayLinger {
		o.state = writerIdle
		return writeJob{}, stepEnd, nil
	}
	if o.wake == nil {
		o.wake = make(chan struct{}, 1)
	}
	o.state = writerLingering
	return writeJob{}, stepLinger, o.wake
}

// lingered records that the writer has stopped lingering, woken or not.
func (o *outbox) lingered() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == writerLingering {
		o.state = writerBusy
	}
}

// written gives back what a write of frames held: their bytes no longer
// count against the bound, and their slice is kept for reuse. The frames
// of a stuck write count until it ends, since they stay alive too.
func (o *outbox) written(frames [][]byte, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == writerStopped {
		return
	}
	o.bytes -= bytes
	if o.spare == nil && cap(frames) <= maxSpare {
		o.spare = frames[:0]
	}
}
