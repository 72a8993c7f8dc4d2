package natsbus_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/natsbus"
	"github.com/ctibus/ctibus/internal/natstest"
)

// TestForgedFramesFromNATSAreDropped: whoever may publish on the cluster's
// subjects can send anything there; connections still get only JSON
// objects in UTF-8, and the log says what was dropped without saying it.
func TestForgedFramesFromNATSAreDropped(t *testing.T) {
	s := natstest.Start(t, "")
	n := newNode(t, nil, broker.Config{})
	core, logs := observer.New(zapcore.DebugLevel)
	e, err := natsbus.New(natstest.Connect(t, s, nats.NoEcho()), n.b.Deliver, natsbus.Options{Log: zap.New(core)})
	require.NoError(t, err)
	n.b.SetEngine(e)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	receiver := n.app(t, "crm", "S")

	intruder := natstest.Connect(t, s)
	const subject = "ctibus.ev.S.Test.Echo.Echoed"
	forged := []string{
		"FORGED not JSON",
		`["FORGED", "an array"]`,
		`"FORGED a string"`,
		`{"message":"FORGED` + "\xff" + `"}`, // JSON, but not UTF-8
		`{"message":"FORGED", `,              // cut short
		"",
	}
	for _, payload := range forged {
		require.NoError(t, intruder.Publish(subject, []byte(payload)))
	}
	require.NoError(t, intruder.Publish(subject, []byte(` {"id":"0b6f3c1e-2d4a-4e8b-9c7d-1a2b3c4d5e6f","channel":"Test","topic":"Echo","subtopic":"Echoed","source":"ctibus","message":"marker","timestamp":"2026-11-30T16:04:48.729Z"}`)))
	require.NoError(t, intruder.Flush())

	assert.JSONEq(t, `"marker"`, string(receiver.Expect("Test/Echo/Echoed").Message), "the first frame to arrive is the last one sent")
	assert.Equal(t, uint64(len(forged)), e.Dropped(), "every forged frame counted")
	dropped := logs.FilterMessageSnippet("frame from NATS dropped").All()
	assert.NotEmpty(t, dropped)
	assert.LessOrEqual(t, len(dropped), len(forged))
	for _, entry := range logs.All() {
		for k, v := range entry.ContextMap() {
			s, _ := v.(string)
			assert.NotContains(t, s, "FORGED", "field %s of %q carries the payload", k, entry.Message)
		}
	}
	assert.Equal(t, subject, dropped[0].ContextMap()["subject"])
}
