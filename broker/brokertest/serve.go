package brokertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/broker"
)

// shutdownWait bounds the broker's Shutdown at the end of a test.
const shutdownWait = 5 * time.Second

// Serve serves h (b itself when nil) on a loopback port until the test
// ends, then shuts b down, its connections closed, and the server; it
// returns the WebSocket URL of the server's /ws.
func Serve(tb testing.TB, b *broker.Broker, h http.Handler) string {
	tb.Helper()
	if h == nil {
		h = b
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		assert.NoError(tb, b.Shutdown(ctx))
		srv.Close()
	})
	return WSURL(srv.URL)
}
