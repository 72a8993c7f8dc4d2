package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// expectServerCloses reads from conn until the server closes it, failing the
// test if it is still open after brokertest.Wait.
func expectServerCloses(t *testing.T, conn net.Conn, r io.Reader) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(brokertest.Wait)))
	_, err := io.Copy(io.Discard, r)
	var netErr net.Error
	require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the server kept the connection open: %v", err)
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	s := startServer(t, nil, "-http-idle-timeout", "100ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()

	_, err = fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: ctibus\r\n\r\n")
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.False(t, resp.Close, "the connection is kept alive after the answer")

	// Then it sends nothing more: the server ends it.
	expectServerCloses(t, conn, r)
}

func TestTricklingAPIRequestIsCutOff(t *testing.T) {
	s := startServer(t, nil, "-http-read-timeout", "100ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()

	// Headers promise a body that never comes whole.
	_, err = fmt.Fprint(conn, "POST /api/publish HTTP/1.1\r\nHost: ctibus\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"channel\":")
	require.NoError(t, err)
	expectServerCloses(t, conn, conn)
}

func TestHandshakeHeadersAreBounded(t *testing.T) {
	s := startServer(t, nil)
	req, err := http.NewRequest(http.MethodGet, s.URL+"/healthz", nil)
	require.NoError(t, err)
	// net/http grants 4 KiB above the limit before it refuses.
	req.Header.Set("X-Filler", strings.Repeat("f", maxHeaderBytes+8<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}

func TestUnregisteredWebSocketIsClosedWith4408(t *testing.T) {
	s := startServer(t, nil, "-register-timeout", "100ms", "-max-connections", "1")
	idle := brokertest.Dial(t, brokertest.WSURL(s.URL))
	assert.Equal(t, 4408, idle.ExpectClose())
	// The slot is free again once the server has let go of the connection.
	require.Eventually(t, func() bool {
		ws, resp, err := brokertest.DialHeader(brokertest.WSURL(s.URL), nil)
		if resp != nil {
			resp.Body.Close()
		}
		if err != nil {
			return false
		}
		ws.Close()
		return true
	}, brokertest.Wait, 10*time.Millisecond)
}

// startBinary builds ctibus and starts it with args, returning its process
// and base URL; it is stopped when the test ends. The memory test needs the
// server in a process of its own, built without the race detector.
func startBinary(t *testing.T, args ...string) (*os.Process, string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is needed to build the server")
	}
	bin := filepath.Join(t.TempDir(), "ctibus")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-log-level", "info"}, args...)...)
	cmd.Env = []string{"GOGC=100"} // no CTIBUS_* variable from the environment
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})

	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		lines.Buffer(make([]byte, 64<<10), 1<<20)
		for lines.Scan() {
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(lines.Bytes(), &entry) == nil && entry.Msg == "ctibus listening" {
				addr <- entry.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd.Process, "http://" + a
	case <-time.After(2 * brokertest.Wait):
		t.Fatal("the server did not start")
		return nil, ""
	}
}

// procStatus reads a field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func TestConnectionsThatStopReadingCannotGrowTheServer(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("reads the server's memory from /proc")
	}
	const (
		attackers      = 6
		perConnection  = 4 << 20 // "a few MB each"
		duplicateFrams = 150     // each 60 KB, answered with four copies of its key before the bounds
		registrations  = 3000    // each answered with every channel before the bounds
	)
	// The rate limits are lifted so that what is measured is the memory
	// bounds, not the limiter refusing the attack.
	proc, url := startBinary(t, "-rate-limit", "1000000", "-rate-burst", "1000000",
		"-rate-limit-bytes", "1e12", "-rate-burst-bytes", "1000000000000")
	ws := brokertest.WSURL(url)

	// Warm up: one app registers and leaves, as the attackers will.
	warm := brokertest.Dial(t, ws)
	warm.Register("warm", "Cisco")
	warm.Conn().Close()
	baseline := procStatus(t, proc.Pid, "VmRSS")
	start := time.Now()

	key := strings.Repeat("k", 30<<10)
	duplicate := []byte(`{"id":"d","` + key + `":1,"` + key + `":2,"channel":"A","topic":"B","subtopic":"C"}`)
	var wg sync.WaitGroup
	outcomes := make([]string, attackers)
	for i := range attackers {
		conn, resp, err := websocket.DefaultDialer.Dial(ws, nil)
		require.NoError(t, err)
		resp.Body.Close()
		t.Cleanup(func() { conn.Close() })
		wg.Go(func() {
			// It reads nothing while it provokes answers...
			send := func(frame []byte) bool { return conn.WriteMessage(websocket.TextMessage, frame) == nil }
			sent := true
			for range duplicateFrams {
				if sent = send(duplicate); !sent {
					break
				}
			}
			for n := 0; sent && n < registrations; n++ {
				sent = send(fmt.Appendf(nil, `{"channel":"PubSub","topic":"App","subtopic":"Register","source":"attacker","data":{"channel":"channel-%04d"}}`, n))
			}
			if sent {
				sent = send([]byte(`{"id":"end","channel":"PubSub","topic":"App","subtopic":"Unregister","data":{"channel":"channel-0000"}}`))
			}
			// ...then reads what the server kept for it, up to its last
			// answer or the close.
			for {
				_ = conn.SetReadDeadline(time.Now().Add(2 * brokertest.Wait))
				_, frame, err := conn.ReadMessage()
				var ce *websocket.CloseError
				var netErr net.Error
				switch {
				case errors.As(err, &ce):
					outcomes[i] = "closed " + strconv.Itoa(ce.Code)
					return
				case errors.As(err, &netErr) && netErr.Timeout():
					outcomes[i] = "still waiting"
					return
				case err != nil:
					// A write the peer did not take in time: the
					// server dropped the connection.
					outcomes[i] = "dropped"
					return
				case strings.Contains(string(frame), `"correlationId":"end"`):
					outcomes[i] = "answered"
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("attack took %s", time.Since(start))

	peak := procStatus(t, proc.Pid, "VmHWM")
	t.Logf("server RSS %d MB at rest, peak %d MB; outcomes %v", baseline>>20, peak>>20, outcomes)
	for _, o := range outcomes {
		assert.Contains(t, []string{"answered", "closed 4008", "closed 1006", "dropped"}, o,
			"each attacker is answered in full, or closed as a slow consumer (dropped if it left a write stuck)")
	}
	assert.LessOrEqual(t, peak-baseline, int64(attackers*perConnection),
		"six connections that stop reading grew the server by %d MB", (peak-baseline)>>20)

	code, _ := get(t, url+"/healthz")
	assert.Equal(t, http.StatusOK, code, "the server still serves")
}
