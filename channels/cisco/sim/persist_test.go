package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/fakeclock"
)

// store keeps the records a simulator hands over, as a cluster's KV does.
type store struct {
	agents map[string]sim.AgentRecord
	calls  map[string]sim.CallRecord
}

func (st *store) agentRecords() []sim.AgentRecord {
	var out []sim.AgentRecord
	for _, r := range st.agents {
		out = append(out, r)
	}
	return out
}

func (st *store) callRecords() []sim.CallRecord {
	var out []sim.CallRecord
	for _, r := range st.calls {
		out = append(out, r)
	}
	return out
}

// storedSimulator returns a simulator whose records go to a store, and its
// timers.
func storedSimulator(t *testing.T, dir *sim.Directory) (*sim.Simulator, *store, *fakeclock.Timers) {
	st := &store{agents: map[string]sim.AgentRecord{}, calls: map[string]sim.CallRecord{}}
	timers := new(fakeclock.Timers)
	s := sim.New(dir, sim.Config{
		AfterFunc:     func(d time.Duration, f func()) sim.Timer { return timers.AfterFunc(d, f) },
		OnAgentChange: func(r sim.AgentRecord) { st.agents[r.LoginID] = r },
		OnCallChange: func(r sim.CallRecord) {
			if r.Gone {
				delete(st.calls, r.ID)
				return
			}
			st.calls[r.ID] = r
		},
	})
	return s, st, timers
}

// appsView is what the agents' apps can read.
func appsView(t *testing.T, s *sim.Simulator) map[string]any {
	t.Helper()
	return ciscotest.AppsView(t, context.Background(), s, "100501", "100503", "102312778")
}

// fireAll fires every running timer, and those they start, until none runs.
func fireAll(timers *fakeclock.Timers) {
	for running := timers.Running(); len(running) > 0; running = timers.Running() {
		for _, tm := range running {
			tm.Fire()
		}
	}
}

// A simulator restored from another's records goes on with its calls as
// the other does: a phone ringing, a call placed to a number outside that
// has yet to answer, a wrap-up, each with its timer running again.
func TestRestoreGoesOnWithTheCalls(t *testing.T) {
	dir := ciscotest.NewDirectory(t, testAgents...)
	ctx := context.Background()
	a, stored, timersA := storedSimulator(t, dir)
	for _, in := range [][3]string{{"ciscotest", "test@123", "1001"}, {"jdoe", "agent@3", "1003"}, {"pquser", "pqsup1", "1002"}} {
		_, err := a.SignIn(ctx, in[0], in[1], in[2])
		require.NoError(t, err)
	}
	for _, id := range []string{"100501", "100503"} {
		_, err := a.SetState(ctx, id, cisco.StateReady, "")
		require.NoError(t, err)
	}
	_, err := a.Ring(ctx, "100501", sim.IncomingCall{From: "5551234",
		CallVariables: []cisco.CallVariable{{Name: "callVariable2", Value: "gold"}}})
	require.NoError(t, err)
	d, err := a.Ring(ctx, "100503", sim.IncomingCall{From: "5559876"})
	require.NoError(t, err)
	require.NoError(t, a.CallAction(ctx, "100503", d.ID, cisco.ActionAnswer, ""))
	require.NoError(t, a.CallAction(ctx, "100503", d.ID, cisco.ActionDrop, ""))
	require.NoError(t, a.WrapUp(ctx, "100503", d.ID, "Sales"))
	_, err = a.MakeCall(ctx, "102312778", "5557777", nil)
	require.NoError(t, err)
	require.Len(t, timersA.Running(), 3, "a ring, a wrap-up and a far end about to answer")

	b, _, timersB := storedSimulator(t, dir)
	var told []cisco.Notification
	b.Subscribe(func(n cisco.Notification) { told = append(told, n) })
	restored := stored.callRecords()
	b.Restore(stored.agentRecords(), restored...)
	want := appsView(t, a)
	assert.Equal(t, cisco.StateReserved, want["100501"].([]any)[0])
	assert.Equal(t, cisco.StateWorkReady, want["100503"].([]any)[0])
	assert.Equal(t, want, appsView(t, b), "the calls as they were")
	assert.Empty(t, told, "a takeover tells the apps nothing new")
	var durations []time.Duration
	for _, tm := range timersA.Running() {
		durations = append(durations, tm.Duration())
	}
	var restarted []time.Duration
	for _, tm := range timersB.Running() {
		restarted = append(restarted, tm.Duration())
	}
	assert.ElementsMatch(t, durations, restarted, "every timer runs again")

	fireAll(timersA)
	fireAll(timersB)
	assert.Equal(t, appsView(t, a), appsView(t, b), "and the calls end as they would have")
	assert.NotEmpty(t, told)
	// The store forgets the calls that ended: the one left is the call to
	// a number outside, which answered.
	require.Len(t, stored.calls, 1)
	for _, r := range stored.calls {
		assert.Equal(t, "ACTIVE", r.State)
		assert.Equal(t, "5557777", r.To)
	}

	// A new call takes an id that no call restored had.
	e, err := b.Ring(ctx, "100503", sim.IncomingCall{From: "5551111"})
	require.NoError(t, err)
	require.Len(t, restored, 3)
	for _, r := range restored {
		assert.NotEqual(t, r.ID, e.ID)
	}
}
