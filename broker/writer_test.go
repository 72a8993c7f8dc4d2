package broker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordConn is a socket that records what is written to it.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordConn) Write(p []byte) (int, error)      { return r.buf.Write(p) }
func (r *recordConn) SetWriteDeadline(time.Time) error { return nil }

// readFrames splits b into frames as a client would, checking that each is
// final and unmasked.
func readFrames(t *testing.T, b []byte) (opcodes []byte, payloads []string) {
	t.Helper()
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 2)
		require.Equal(t, byte(0x80), b[0]&0xf0, "final, no extension bits")
		require.Zero(t, b[1]&0x80, "a server's frames are not masked")
		n, b0 := int(b[1]&0x7f), b[2:]
		switch n {
		case 126:
			n, b0 = int(binary.BigEndian.Uint16(b0)), b0[2:]
		case 127:
			n, b0 = int(binary.BigEndian.Uint64(b0)), b0[8:]
		}
		opcodes = append(opcodes, b[0]&0x0f)
		payloads = append(payloads, string(b0[:n]))
		b = b0[n:]
	}
	return opcodes, payloads
}

func TestFrameWriterFramesEachEnvelope(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70000}
	var frames [][]byte
	var want []string
	for _, n := range sizes {
		f := strings.Repeat("x", n)
		frames = append(frames, []byte(f))
		want = append(want, f)
	}
	var conn recordConn
	var w frameWriter
	require.NoError(t, w.write(&conn, time.Second, frames, true, nil, false))
	opcodes, payloads := readFrames(t, conn.buf.Bytes())
	require.Len(t, payloads, len(sizes)+1)
	assert.Equal(t, byte(0x9), opcodes[0], "the ping goes first")
	assert.Empty(t, payloads[0])
	for i := range sizes {
		assert.Equal(t, byte(0x1), opcodes[i+1], "a text frame")
		assert.Equal(t, want[i], payloads[i+1], "frame of %d bytes", sizes[i])
	}
}

func TestFrameWriterBatches(t *testing.T) {
	var frames [][]byte
	for i := range 2*maxBatchFrames + 1 {
		frames = append(frames, []byte(`{"n":`+strings.Repeat("1", i%3+1)+`}`))
	}
	big := []byte(`"` + strings.Repeat("y", maxBatchBytes) + `"`)
	frames = append(frames, big, []byte(`{"after":true}`))
	var conn recordConn
	var w frameWriter
	require.NoError(t, w.write(&conn, time.Second, frames, false, nil, true))
	_, payloads := readFrames(t, conn.buf.Bytes())

	var got [][]byte
	for _, p := range payloads {
		require.True(t, strings.HasPrefix(p, "[") || strings.HasPrefix(p, "{") || strings.HasPrefix(p, `"`), p[:1])
		if p[0] != '[' {
			got = append(got, []byte(p))
			continue
		}
		require.True(t, strings.HasSuffix(p, "]"))
		var arr []any
		require.NoError(t, json.Unmarshal([]byte(p), &arr), "a batch is a JSON array")
		assert.LessOrEqual(t, len(arr), maxBatchFrames)
		for _, part := range splitTopLevel(p[1 : len(p)-1]) {
			got = append(got, []byte(part))
		}
	}
	require.Len(t, got, len(frames), "every envelope once")
	for i := range frames {
		assert.Equal(t, string(frames[i]), string(got[i]), "envelope %d in order", i)
	}
}

// splitTopLevel splits the elements of a JSON array's inside; the test's
// envelopes hold no commas in strings.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func TestFrameWriterAllocatesNothingOnceWarm(t *testing.T) {
	frames := make([][]byte, 64)
	for i := range frames {
		frames[i] = benchFrame
	}
	var w frameWriter
	var conn net.Conn = discardConn{}
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.write(conn, time.Second, frames, true, nil, false); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
