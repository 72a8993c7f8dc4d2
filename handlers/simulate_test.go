package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

func TestPlayScenario(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	sc, err := sim.LoadScenario(strings.NewReader(`{"loop": true, "calls": [
		{"after": "5s", "agent": "100501", "from": "4085551234", "callVariables": {"callVariable1": "ACC-42"}},
		{"after": "7s", "agent": "100503", "from": "4085550001"}
	]}`))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.h.PlayScenario(ctx, sc) }()
	fireNext := func(d time.Duration) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, tm := range e.timers.Running() {
				if tm.Duration() == d {
					return true
				}
			}
			return false
		}, brokertest.Wait, time.Millisecond, "the player waits %s", d)
		e.fire(t, d)
	}

	fireNext(5 * time.Second)
	call := callsOf(t, a.Next())[0]
	assert.Equal(t, "ACC-42", call.variable("callVariable1"))
	assert.Equal(t, "4085551234", call.FromAddress)
	fireNext(7 * time.Second) // jdoe is not signed in: skipped
	fireNext(5 * time.Second) // the loop again: the agent is busy, skipped
	require.Eventually(t, func() bool { return len(e.timers.Running()) == 2 }, brokertest.Wait, time.Millisecond,
		"the ring timeout and the player's next wait")
	cancel()
	require.NoError(t, <-done)

	skipped := e.logs.FilterMessage("scenario call skipped").All()
	require.Len(t, skipped, 2)
	assert.Equal(t, "100503", skipped[0].ContextMap()["agent"])
	assert.Equal(t, "Invalid State", skipped[0].ContextMap()["reason"])
	assert.Equal(t, "Device Busy", skipped[1].ContextMap()["reason"])
	for _, entry := range e.logs.All() {
		for _, field := range entry.Context {
			assert.NotContains(t, field.String, "408555", "a caller's number is in a log line")
		}
	}
}
