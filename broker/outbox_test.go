package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutboxTransitions walks the writer's states through the outbox's
// transitions, as the writer and the callers that queue frames drive them.
func TestOutboxTransitions(t *testing.T) {
	var o outbox
	assert.Equal(t, writerIdle, o.state)

	start, overflowed, _ := o.push([]byte("a"), 4, 100)
	assert.True(t, start, "the first frame starts a writer")
	assert.False(t, overflowed)
	assert.Equal(t, writerBusy, o.state)
	start, _, _ = o.push([]byte("b"), 4, 100)
	assert.False(t, start, "a running writer takes the second frame too")
	assert.True(t, o.askPing() == false && o.askPong("p") == false, "a running writer answers pings too")

	job, step, _ := o.take(true)
	require.Equal(t, stepWrite, step)
	assert.Equal(t, [][]byte{[]byte("a"), []byte("b")}, job.frames, "in order")
	assert.True(t, job.ping)
	assert.Equal(t, []byte("p"), job.pong)
	assert.Equal(t, 2, o.bytes, "counted until written")
	o.written(job.frames, 2)
	assert.Zero(t, o.bytes)

	_, step, wake := o.take(true)
	require.Equal(t, stepLinger, step, "an empty queue while requests are served: linger")
	assert.Equal(t, writerLingering, o.state)
	assert.False(t, o.askPing(), "a lingering writer is woken, not a second one started")
	assert.Equal(t, writerBusy, o.state)
	require.Len(t, wake, 1, "the wake is sent")
	<-wake
	o.lingered()

	job, step, _ = o.take(true)
	require.Equal(t, stepWrite, step)
	assert.True(t, job.ping)
	_, step, _ = o.take(false)
	assert.Equal(t, stepEnd, step, "an empty queue with no request served: end")
	assert.Equal(t, writerIdle, o.state)

	assert.True(t, o.askClose(closeFrame{CloseRateLimited, "rate limited"}), "a close request starts a writer")
	assert.False(t, o.askClose(closeFrame{CloseRegisterTimeout, "later"}), "the first close request wins")
	job, step, _ = o.take(true)
	require.Equal(t, stepWrite, step)
	assert.Equal(t, CloseRateLimited, job.close.code)
	assert.Equal(t, writerStopped, o.state, "the close frame is the last thing written")
	start, overflowed, _ = o.push([]byte("c"), 4, 100)
	assert.False(t, start || overflowed, "a stopped outbox drops frames")
	assert.False(t, o.askPing())
	_, step, _ = o.take(true)
	assert.Equal(t, stepEnd, step)
}

// TestOutboxSlowConsumer checks that an overflowing queue reports what it
// held, drops later frames, and closes without writing what overflowed.
func TestOutboxSlowConsumer(t *testing.T) {
	var o outbox
	o.push([]byte("12345"), 2, 8)
	_, overflowed, held := o.push([]byte("67890"), 2, 8)
	require.True(t, overflowed, "over the bound in bytes")
	assert.Equal(t, queueSize{frames: 1, bytes: 5}, held)
	_, overflowed, _ = o.push([]byte("x"), 2, 8)
	assert.False(t, overflowed, "reported once; later frames are dropped")
	assert.Len(t, o.frames, 1)

	o.askClose(closeFrame{CloseSlowConsumer, "slow consumer"})
	job, step, _ := o.take(true)
	require.Equal(t, stepWrite, step)
	assert.Empty(t, job.frames, "a slow consumer's close goes out at once")
	assert.Equal(t, CloseSlowConsumer, job.close.code)
	assert.Zero(t, o.bytes)
}

// TestOutboxStopWakesLingeringWriter checks that ending a connection wakes
// a writer that lingers, so that endWrites does not wait out the linger.
func TestOutboxStopWakesLingeringWriter(t *testing.T) {
	var o outbox
	o.askPing()
	o.take(true)
	_, step, wake := o.take(true)
	require.Equal(t, stepLinger, step)
	o.stop()
	require.Len(t, wake, 1)
	o.lingered()
	assert.Equal(t, writerStopped, o.state)
	_, step, _ = o.take(true)
	assert.Equal(t, stepEnd, step)
}

// TestOutboxReaderHoldsTheTurnWhileServing checks that what a request
// queues early is left for the reader to write once it is served, and
// that a frame queued after directWindow hands the turn to a writer
// goroutine, which then writes everything, so that a long request holds
// up nothing.
func TestOutboxReaderHoldsTheTurnWhileServing(t *testing.T) {
	var o outbox
	o.beginServe(time.Now())
	assert.True(t, o.serving())
	start, _, _ := o.push([]byte("answer"), 4, 100)
	assert.False(t, start, "no writer goroutine for the answer of a request being served")
	assert.Equal(t, writerBusy, o.state, "the reader holds the writer's turn")
	assert.False(t, o.askPing(), "nor for a ping meanwhile")
	assert.True(t, o.endServe(), "the reader writes once the request is served")
	assert.False(t, o.serving())
	job, step, _ := o.take(false)
	require.Equal(t, stepWrite, step)
	assert.Equal(t, [][]byte{[]byte("answer")}, job.frames)
	assert.True(t, job.ping)
	o.written(job.frames, len("answer"))
	_, step, _ = o.take(false)
	assert.Equal(t, stepEnd, step)
	assert.Equal(t, writerIdle, o.state)

	// A request served for longer than directWindow.
	o.beginServe(time.Now().Add(-directWindow))
	start, _, _ = o.push([]byte("late"), 4, 100)
	assert.True(t, start, "past the window, a writer goroutine writes")
	assert.False(t, o.endServe(), "and the reader has nothing to write")
	job, _, _ = o.take(false)
	o.written(job.frames, len("late"))
	_, step, _ = o.take(false)
	require.Equal(t, stepEnd, step)

	o.beginServe(time.Now())
	start, _, _ = o.push([]byte("early"), 4, 100)
	require.False(t, start)
	require.True(t, o.held)
	o.served = time.Now().Add(-directWindow) // the request runs on
	start, _, _ = o.push([]byte("late"), 4, 100)
	assert.True(t, start, "a frame after the window hands the turn to a writer goroutine")
	assert.False(t, o.endServe(), "which the reader no longer holds")
	job, _, _ = o.take(false)
	assert.Equal(t, [][]byte{[]byte("early"), []byte("late")}, job.frames, "everything queued, in order")
}
