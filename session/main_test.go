package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/internal/testtime"
)

func TestMain(m *testing.M) {
	brokertest.FixtureChannels("Test") // the channel these tests' brokers handle
	goleak.VerifyTestMain(m)
}

// setupTimeout bounds a test's setup calls to NATS.
var setupTimeout = testtime.Scale(10 * time.Second)

// eventually bounds a wait for something that happens by itself (a
// reconnect, a write on another goroutine): a passing test stops waiting
// as soon as it happens, so the bound is generous for a busy machine.
var eventually = testtime.Scale(30 * time.Second)

// node is one cluster node's client of s: a connection that reconnects
// quickly and for ever, as a server restart needs.
func node(t *testing.T, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc := natstest.Connect(t, s, nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func setupContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	t.Cleanup(cancel)
	return ctx
}
