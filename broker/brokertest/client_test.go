package brokertest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

// recorder is a test that records the failures the client reports, so
// that a test can show that the client reports them.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) took() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	failures := r.failures
	r.failures = nil
	return failures
}

// TestFramesAreCheckedAgainstTheContract runs a bus whose Cisco channel
// answers with an event the contract forbids: the client fails the test
// on it, and on a request the contract forbids unless the test sends it
// with SendInvalid.
func TestFramesAreCheckedAgainstTheContract(t *testing.T) {
	b := broker.New(zaptest.NewLogger(t), broker.Config{})
	b.Handle("Cisco", "Agent", "GetAgentState", broker.HandlerFunc(func(_ context.Context, req *broker.Request) error {
		return req.Conn.Send(broker.Event{Channel: "Cisco", Topic: "Agent", Subtopic: "SetAgentState",
			Message: map[string]any{"data": map[string]any{"state": "SLEEPING"}}, CorrelationID: req.ID})
	}))
	rec := &recorder{TB: t}
	c := brokertest.Dial(rec, brokertest.Serve(t, b, nil))

	c.Register("desktop", "Cisco")
	require.Empty(t, rec.took(), "Register and its answer are in the contract")

	c.Request("s1", "Cisco", "Agent", "GetAgentState", nil)
	c.Expect("Cisco/Agent/SetAgentState")
	failures := rec.took()
	require.Len(t, failures, 1, "an event that breaks its schema fails the test")
	assert.Contains(t, failures[0], "a frame received breaks the contract")
	assert.Contains(t, failures[0], "SLEEPING")

	c.Request("u1", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest"})
	c.ExpectError("Cisco", broker.ErrTypeUnknownAPI, "u1")
	failures = rec.took()
	require.Len(t, failures, 1, "a request that breaks its schema fails the test; the bus's answer does not")
	assert.Contains(t, failures[0], "a frame sent breaks the contract")
	assert.Contains(t, failures[0], "password")

	c.RequestInvalid("u2", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest"})
	c.ExpectError("Cisco", broker.ErrTypeUnknownAPI, "u2")
	c.RequestInvalid("h1", "Cisco", "Call", "SetHOLDX", nil)
	c.ExpectError("Cisco", broker.ErrTypeUnknownAPI, "h1")
	assert.Empty(t, rec.took(), "a test may send what the contract forbids when it says so")
}

// admitAfter refuses with ErrTryAgainLater until it has been asked n times.
type admitAfter struct {
	mu sync.Mutex
	n  int
}

func (a *admitAfter) Admit(context.Context, *broker.Conn, broker.Registration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n > 0 {
		a.n--
		return fmt.Errorf("store down: %w", broker.ErrTryAgainLater)
	}
	return nil
}

func TestExpectOrTryAgainReportsA1013(t *testing.T) {
	b := broker.New(zaptest.NewLogger(t), broker.Config{})
	b.SetAdmitter(&admitAfter{n: 1})
	url := brokertest.Serve(t, b, nil)
	register := func() (brokertest.Frame, bool) {
		c := brokertest.Dial(t, url)
		c.Send(map[string]any{"id": "reg", "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "crm"})
		return c.ExpectOrTryAgain("PubSub/App/Registered")
	}
	_, admitted := register()
	assert.False(t, admitted, "closed with 1013: try again")
	f, admitted := register()
	assert.True(t, admitted)
	assert.Equal(t, "reg", f.CorrelationID)
}
