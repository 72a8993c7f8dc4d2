package broker

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// The writer frames data messages itself (RFC 6455 section 5.2: a server's
// frames are unmasked, and the bus negotiates no extensions) because the
// gorilla writer makes one system call per message.

// Batches: an app that registers with "batch": true may receive several
// envelopes in one frame, as a JSON array, in order. One frame holds at most
// maxBatchFrames envelopes and, beyond its first envelope, maxBatchBytes.
const (
	maxBatchFrames = 64
	maxBatchBytes  = 32 << 10
)

// frameWriter frames queued events and writes them with one system call.
// The writers share a pool of them, so an idle connection holds none: it
// holds the buffers of a write and the timer a writer lingers with.
type frameWriter struct {
	headers []byte      // the frame headers of one write
	bufs    net.Buffers // headers and payloads, in order
	vec     net.Buffers // what of bufs is still to be written
	flat    []byte      // the write as one buffer, for sockets without writev
	timer   *time.Timer // for lingering; made on first use
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
	w.frame(frames, ping, pong, batch)
	defer w.release()
	return w.writeRest(nc, wait)
}

// frame lays out a write in w.bufs, and w.vec, what is still to be written,
// as all of it: a ping if asked and a pong if one is due (pong non-nil),
// then frames, each in a text frame of its own or, when batch is set,
// several in one frame as a JSON array. release ends it.
func (w *frameWriter) frame(frames [][]byte, ping bool, pong []byte, batch bool) {
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
	w.bufs = bufs
	w.vec = bufs
}

// release forgets the payloads of the write laid out by frame, so that a
// pooled writer keeps no frame alive.
func (w *frameWriter) release() {
	clear(w.bufs)
	w.bufs = w.bufs[:0]
	w.vec = nil
}

// writeRest writes what is left of the write laid out by frame (w.vec),
// with a write deadline of wait.
func (w *frameWriter) writeRest(nc net.Conn, wait time.Duration) error {
	if err := nc.SetWriteDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	if _, ok := nc.(*net.TCPConn); ok {
		_, err := w.vec.WriteTo(nc) // one writev; WriteTo consumes w.vec
		return err
	}
	// Another kind of socket may split a vectored write into several
	// writes; one buffer keeps the frames whole.
	flat := w.flat[:0]
	for _, b := range w.vec {
		flat = append(flat, b...)
	}
	w.flat = flat[:0]
	w.vec = nil
	_, err := nc.Write(flat)
	return err
}

// maxIovec is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovec = 1024

// tryWrite writes what it can of w.vec with one writev that does not wait
// for the socket: what the kernel's send buffer takes now. It drops what
// was written from w.vec and reports whether nothing is left.
func (w *frameWriter) tryWrite(raw syscall.RawConn) (done bool, err error) {
	var n int
	var werr error
	err = raw.Write(func(fd uintptr) bool {
		n, werr = unix.Writev(int(fd), w.vec[:min(len(w.vec), maxIovec)])
		return true // one attempt: never wait for the socket here
	})
	if err == nil && werr != nil && werr != unix.EAGAIN {
		err = werr
	}
	if err != nil {
		return false, err
	}
	for n > 0 && len(w.vec) > 0 {
		if n < len(w.vec[0]) {
			w.vec[0] = w.vec[0][n:]
			break
		}
		n -= len(w.vec[0])
		w.vec = w.vec[1:]
	}
	return len(w.vec) == 0, nil
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
