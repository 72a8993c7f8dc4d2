package broker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/internal/logbound"
)

// refuse sends an upgrade with origin and checks that it is refused.
func refuse(t *testing.T, url, origin string) {
	t.Helper()
	ws, resp, err := brokertest.DialHeader(url, http.Header{"Origin": {origin}})
	require.Error(t, err)
	require.Nil(t, ws)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp.Body.Close()
}

func TestRefusedUpgradesCannotFloodTheLog(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	clock := fakeclock.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	b := broker.New(zap.New(core), broker.Config{Now: clock.Now})
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	url := brokertest.WSURL(srv.URL)

	// Nearly the 1 MiB net/http lets a request's headers take.
	huge := "https://" + strings.Repeat("a", 1<<20-8<<10) + ".example"
	refuse(t, url, huge)
	refused := logs.FilterMessage("websocket upgrade refused").All()
	require.Len(t, refused, 1)
	logged := refused[0].ContextMap()["origin"].(string)
	assert.LessOrEqual(t, len(logged), logbound.MaxValue+32, "the logged Origin is clipped")
	assert.True(t, strings.HasPrefix(logged, "https://aaaa"))
	assert.Contains(t, logged, "bytes)", "and says how long it was")

	const flood = 200
	for range flood {
		refuse(t, url, "https://evil.example")
	}
	assert.Len(t, logs.FilterMessage("websocket upgrade refused").All(), logbound.DefaultBurst,
		"a burst of lines, however many refusals, while the clock stands still")

	clock.Advance(time.Second)
	refuse(t, url, "https://evil.example")
	refused = logs.FilterMessage("websocket upgrade refused").All()
	require.Len(t, refused, logbound.DefaultBurst+1)
	last := refused[len(refused)-1].ContextMap()
	assert.Equal(t, int64(flood+1-logbound.DefaultBurst), last["suppressed"], "the next line counts the lines left out")
	assert.Equal(t, "https://evil.example", last["origin"])
}
