package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/internal/fakeclock"
	"github.com/ctibus/ctibus/session"
)

// The extensions of the call tests' agents.
const (
	extA = "5064" // ciscotest, 100501, team 5004: wrap-up on incoming calls (OPTIONAL), not on outgoing
	extB = "6123" // jdoe, 100503, team 5005
	extP = "5069" // 102312778, team 5004
	extS = "5090" // supervisor1, 100600, team 5005, supervises 5004 and 5005
	extO = "5077" // other, 100700, team 5006: outside supervisor1's teams
)

// The simulator's timers, as the tests fire them.
const (
	answerDelay = 2 * time.Second
	ringTimeout = 20 * time.Second
	wrapUpTimer = 60 * time.Second
)

type callsMessage struct {
	Source     string       `json:"source"`
	Calls      []dialogView `json:"calls"`
	IsNonVoice *bool        `json:"isNonVoice"`
}

type dialogView struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	FromAddress     string `json:"fromAddress"`
	ToAddress       string `json:"toAddress"`
	MediaProperties struct {
		CallType          string `json:"callType"`
		CallVariablesFrom string `json:"callVariablesFrom"`
		DNIS              string `json:"DNIS"`
		WrapUpReason      string `json:"wrapUpReason"`
		CallVariables     []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"callvariables"`
	} `json:"mediaProperties"`
	Participants []struct {
		MediaAddress string   `json:"mediaAddress"`
		State        string   `json:"state"`
		StateCause   string   `json:"stateCause"`
		Actions      []string `json:"actions"`
	} `json:"participants"`
}

// participant returns the state of the participant on ext, or "".
func (d dialogView) participant(ext string) string {
	for _, p := range d.Participants {
		if p.MediaAddress == ext {
			return p.State
		}
	}
	return ""
}

func (d dialogView) variable(name string) string {
	for _, v := range d.MediaProperties.CallVariables {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

func callsOf(t *testing.T, f brokertest.Frame) []dialogView {
	t.Helper()
	require.Equal(t, "Cisco/Call/CallsStateChange", f.Triple(), "frame %s", f.Raw)
	var m callsMessage
	require.NoError(t, json.Unmarshal(f.Message, &m))
	assert.Equal(t, "api", m.Source)
	require.NotNil(t, m.IsNonVoice)
	require.NotNil(t, m.Calls)
	return m.Calls
}

// summary renders a frame as the flows assert it: a SetAgentState as its
// state (and reason code, and pending state, when there are), a
// CallsStateChange as "dialog state/state of the participant on ext" per
// call, "-" for none.
func summary(t *testing.T, f brokertest.Frame, ext string) string {
	t.Helper()
	if f.Subtopic == "SetAgentState" {
		var m struct {
			Data struct {
				State        string `json:"state"`
				ReasonCodeID string `json:"reasonCodeId"`
				PendingState string `json:"pendingState"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(f.Message, &m))
		s := m.Data.State
		if m.Data.ReasonCodeID != "-1" {
			s += " " + m.Data.ReasonCodeID
		}
		if m.Data.PendingState != "" {
			s += " (pending " + m.Data.PendingState + ")"
		}
		return s
	}
	var parts []string
	for _, d := range callsOf(t, f) {
		parts = append(parts, d.State+"/"+d.participant(ext))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// flow reads n frames from c and summarizes them, checking that each
// carries the correlation id wantID ("" for none). A supervisor's team feed
// is skipped: it is checked where it matters.
func flow(t *testing.T, c *brokertest.Client, ext string, n int, wantID string) []string {
	t.Helper()
	var out []string
	for range n {
		f := c.Next()
		for f.Subtopic == "SetTeamAgentState" {
			f = c.Next()
		}
		assert.Equal(t, wantID, f.CorrelationID, "frame %s", f.Raw)
		out = append(out, summary(t, f, ext))
	}
	return out
}

// agentOn signs an agent in on ext and returns its desktop.
func (e *env) agentOn(t *testing.T, username, ext string) *brokertest.Client {
	t.Helper()
	c := e.desktop(t, username+"-phone")
	login(t, c, "login", username, ext)
	return c
}

func ready(t *testing.T, c *brokertest.Client) {
	t.Helper()
	c.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateOf(t, c.Next()).Data.State)
}

// answeredCall signs ciscotest in on extA, rings it from outside and
// answers: the agent's app, and the call it is talking on.
func answeredCall(t *testing.T, e *env) (*brokertest.Client, dialogView) {
	t.Helper()
	return answeredCallOf(t, e, "ciscotest", extA)
}

// answeredCallOf is answeredCall for the agent username on ext.
func answeredCallOf(t *testing.T, e *env, username, ext string) (*brokertest.Client, dialogView) {
	t.Helper()
	a := e.agentOn(t, username, ext)
	ready(t, a)
	call := ring(t, a, "4085551234", 2)
	a.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	flow(t, a, ext, 2, "answer")
	return a, call
}

// ring rings c's own agent with a call from outside and returns the
// dialog, after reading what the agent sees (the call, and RESERVED if
// the agent was READY).
func ring(t *testing.T, c *brokertest.Client, from string, frames int) dialogView {
	t.Helper()
	c.Request("ring", "Cisco", "Simulator", "IncomingCall",
		map[string]any{"from": from, "callVariables": map[string]string{"callVariable1": "ACC-42", "user.acct": "42"}})
	calls := callsOf(t, c.Next())
	require.Len(t, calls, 1)
	for range frames - 1 {
		c.Next()
	}
	return calls[0]
}

// fire waits for a timer of duration d to run, then fires it; there must
// be one only. It waits because the simulator may start the timer after
// the notification the test has just read, under the same lock.
func (e *env) fire(t *testing.T, d time.Duration) {
	t.Helper()
	running := func() []*fakeclock.Timer {
		var found []*fakeclock.Timer
		for _, tm := range e.timers.Running() {
			if tm.Duration() == d {
				found = append(found, tm)
			}
		}
		return found
	}
	require.Eventually(t, func() bool { return len(running()) > 0 }, brokertest.Wait, time.Millisecond, "a timer of %s starts", d)
	found := running()
	require.Len(t, found, 1, "running timers of %s", d)
	require.True(t, found[0].Fire())
}

func TestInboundCallAnsweredHeldRetrievedDroppedAndWrappedUp(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	ready(t, a)

	a.Request("ring", "Cisco", "Simulator", "IncomingCall",
		map[string]any{"from": "4085551234", "dnis": "8005551000", "callVariables": map[string]string{"callVariable1": "ACC-42", "user.acct": "42"}})
	first := a.Next()
	call := callsOf(t, first)[0]
	assert.Equal(t, "ACD_IN", call.MediaProperties.CallType)
	assert.Equal(t, "4085551234", call.FromAddress)
	assert.Equal(t, extA, call.ToAddress)
	assert.Equal(t, "8005551000", call.MediaProperties.DNIS)
	assert.Equal(t, "ACC-42", call.variable("callVariable1"))
	assert.Equal(t, "42", call.variable("user.acct"))
	assert.Len(t, call.MediaProperties.CallVariables, 11, "callVariable1..10 and the ECC variable")
	assert.Equal(t, []string{"ANSWER"}, call.Participants[1].Actions)
	got := []string{summary(t, first, extA)}
	got = append(got, flow(t, a, extA, 1, "ring")...)

	steps := []struct {
		topic, subtopic string
		data            map[string]any
	}{
		{"InboundCall", "SetANSWER", map[string]any{"MediaAddress ": extA, "CallID": call.ID}},
		{"InboundCall", "SetHOLD", map[string]any{"MediaAddress": extA, "CallId": call.ID}},
		{"OutboundCall", "SetRETRIEVE", map[string]any{"callID": call.ID}},
		{"InboundCall", "SetDROP", map[string]any{"MediaAddress": extA, "CallID": call.ID}},
	}
	for _, s := range steps {
		a.Request(s.subtopic, "Cisco", s.topic, s.subtopic, s.data)
		got = append(got, flow(t, a, extA, 2, s.subtopic)...)
	}
	// WrapUpCall records the reason; the agent leaves wrap-up by a state.
	a.Request("wrap", "Cisco", "Agent", "WrapUpCall", map[string]any{"callID": call.ID, "wrapup": "2", "customwrapup": "", "iscustomwrapup": false})
	got = append(got, flow(t, a, extA, 1, "wrap")...)
	wrapped := callsOf(t, a.Seen[len(a.Seen)-1])
	require.Len(t, wrapped, 1)
	assert.Equal(t, "Completed", wrapped[0].MediaProperties.WrapUpReason, "wrap-up reason 2, by its label")
	a.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	got = append(got, flow(t, a, extA, 2, "ready")...)
	assert.Equal(t, []string{
		"ALERTING/ALERTING", "RESERVED",
		"ACTIVE/ACTIVE", "TALKING",
		"ACTIVE/HELD", "HOLD",
		"ACTIVE/ACTIVE", "TALKING",
		"DROPPED/WRAP_UP", "WORK_READY",
		"DROPPED/WRAP_UP",
		"DROPPED/DROPPED", "READY",
	}, got)
	last := callsOf(t, a.Seen[len(a.Seen)-2])
	require.Len(t, last, 1)
	assert.Equal(t, "Completed", last[0].MediaProperties.WrapUpReason)

	a.Request("state", "Cisco", "Call", "GetCallState", nil)
	assert.Empty(t, callsOf(t, a.Next()), "the call is gone")
	assert.Empty(t, e.timers.Running(), "the wrap-up timer stopped")
}

func TestWrapUpTimer(t *testing.T) {
	tests := []struct {
		name   string
		user   string              // "" for ciscotest
		during []map[string]string // SetNotReadyState requests during the call
		want   []string
	}{
		{
			name: "READY before the call: WORK_READY, then READY",
			want: []string{"DROPPED/WRAP_UP", "WORK_READY", "DROPPED/DROPPED", "READY"},
		},
		{
			name:   "NOT_READY asked during the call: WORK, then NOT_READY",
			user:   "other", // wrap-up REQUIRED_WITH_WRAP_UP_DATA: not skipped
			during: []map[string]string{{"ReasonCodeId": "2"}},
			want:   []string{"TALKING (pending NOT_READY)", "DROPPED/WRAP_UP", "WORK", "DROPPED/DROPPED", "NOT_READY 2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			user, ext := "ciscotest", extA
			if tt.user != "" {
				user, ext = tt.user, extO
			}
			a := e.agentOn(t, user, ext)
			ready(t, a)
			call := ring(t, a, "4085551234", 2)
			a.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
			flow(t, a, ext, 2, "answer")

			var got []string
			for _, data := range tt.during {
				a.Request("nr", "Cisco", "Agent", "SetNotReadyState", data)
				got = append(got, flow(t, a, ext, 1, "nr")...)
			}
			a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
			got = append(got, flow(t, a, ext, 2, "drop")...)
			e.fire(t, wrapUpTimer)
			got = append(got, flow(t, a, ext, 2, "")...)
			assert.Equal(t, tt.want, got)
		})
	}
}

// The agents' wrap-up settings, as Finesse on CCE applies them: OPTIONAL
// lets the agent skip wrap-up by choosing its next state during the call,
// REQUIRED does not, and REQUIRED_WITH_WRAP_UP_DATA also keeps the agent in
// wrap-up until the call has a wrap-up reason.
func TestWrapUpSettings(t *testing.T) {
	t.Run("OPTIONAL: a state chosen during the call skips wrap-up", func(t *testing.T) {
		e := newEnv(t)
		a, call := answeredCall(t, e)
		a.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
		a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
		assert.Equal(t, []string{"TALKING (pending NOT_READY)"}, flow(t, a, extA, 1, "nr"))
		assert.Equal(t, []string{"DROPPED/DROPPED", "NOT_READY 2"}, flow(t, a, extA, 2, "drop"))
		a.Request("state", "Cisco", "Call", "GetCallState", nil)
		assert.Empty(t, callsOf(t, a.Next()), "the call is gone")
		assert.Empty(t, e.timers.Running(), "no wrap-up timer")
	})

	t.Run("REQUIRED: wrap-up even after a state chosen during the call", func(t *testing.T) {
		e := newEnv(t)
		o := e.agentOn(t, "other", extO) // wrapUpOnOutgoing REQUIRED
		o.Request("dial", "Cisco", "InboundCall", "SetMakeCall", map[string]any{"toAddress": "4085551234"})
		flow(t, o, extO, 3, "dial")
		e.fire(t, answerDelay)
		call := callsOf(t, o.Next())[0]
		o.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
		o.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
		assert.Equal(t, []string{"TALKING (pending NOT_READY)"}, flow(t, o, extO, 1, "nr"))
		assert.Equal(t, []string{"DROPPED/WRAP_UP", "WORK"}, flow(t, o, extO, 2, "drop"))
		o.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
		assert.Equal(t, []string{"DROPPED/DROPPED", "READY"}, flow(t, o, extO, 2, "ready"), "REQUIRED needs no wrap-up data")
	})

	t.Run("REQUIRED_WITH_WRAP_UP_DATA: no leaving wrap-up without a reason", func(t *testing.T) {
		e := newEnv(t)
		o, call := droppedCallWithWrapUpData(t, e)
		assert.Equal(t, "DROPPED/WRAP_UP", summary(t, o.Next(), extO))
		work := o.Next()
		assert.Equal(t, "WORK_READY", summary(t, work, extO))
		assert.Equal(t, map[string]string{"READY": "Disable", "NOT_READY": "Disable", "LOGOUT": "Disable"},
			stateActionsOf(t, work), "the actions offered are those the contact center accepts: none yet")

		o.Request("early", "Cisco", "Agent", "SetReadyState", nil)
		assert.Contains(t, o.ExpectError("Cisco", "Invalid State", "early").Msg, "WrapUpCall")
		o.Request("early-nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
		assert.Contains(t, o.ExpectError("Cisco", "Invalid State", "early-nr").Msg, "wrap-up reason")
		o.Request("asked", "Cisco", "Agent", "GetAgentState", nil)
		assert.Equal(t, map[string]string{"READY": "Disable", "NOT_READY": "Disable", "LOGOUT": "Disable"},
			stateActionsOf(t, o.Expect("Cisco/Agent/SetAgentState")), "GetAgentState says the same")

		o.Request("wrap", "Cisco", "Agent", "WrapUpCall", map[string]any{"callID": call.ID, "wrapup": "2"})
		f := o.Next()
		assert.Equal(t, "DROPPED/WRAP_UP", summary(t, f, extO), "the reason is recorded; wrap-up goes on")
		assert.Equal(t, "Completed", callsOf(t, f)[0].MediaProperties.WrapUpReason)
		freed := o.Next()
		assert.Equal(t, "wrap", freed.CorrelationID)
		assert.Equal(t, "WORK_READY", summary(t, freed, extO))
		assert.Empty(t, agentStateOf(t, freed).Changed, "no field of the User changed, only what the agent may do")
		assert.Equal(t, map[string]string{"READY": "Enable", "NOT_READY": "Enable", "LOGOUT": "Disable"}, stateActionsOf(t, freed))
		o.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
		assert.Equal(t, []string{"DROPPED/DROPPED", "READY"}, flow(t, o, extO, 2, "ready"))
	})
}

// droppedCallWithWrapUpData signs "other" in, whose wrap-up on incoming
// calls is REQUIRED_WITH_WRAP_UP_DATA, rings it from outside, answers and
// asks to drop the call ("drop"): the drop's events are left to read.
func droppedCallWithWrapUpData(t *testing.T, e *env) (*brokertest.Client, dialogView) {
	t.Helper()
	o, call := answeredCallOf(t, e, "other", extO)
	o.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	return o, call
}

// stateActionsOf returns the SequentialActions items of a SetAgentState.
func stateActionsOf(t *testing.T, f brokertest.Frame) map[string]string {
	t.Helper()
	require.Equal(t, "Cisco/Agent/SetAgentState", f.Triple(), "frame %s", f.Raw)
	var m struct {
		Rules struct {
			SequentialActions struct {
				Items map[string]string `json:"items"`
			} `json:"SequentialActions"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m))
	return m.Rules.SequentialActions.Items
}

// The actions a SetAgentState offers are those the contact center accepts
// then: during a call, READY and NOT_READY as the pending state, and
// nothing once a supervisor's sign-out is pending; after a wrap-up that
// timed out without a reason, no stale rule is left.
func TestStateActionsFollowTheCall(t *testing.T) {
	e := newEnv(t)
	a, call := answeredCall(t, e)
	a.Request("asked", "Cisco", "Agent", "GetAgentState", nil)
	talking := a.Expect("Cisco/Agent/SetAgentState")
	assert.Equal(t, "TALKING", summary(t, talking, extA))
	assert.Equal(t, map[string]string{"READY": "Enable", "NOT_READY": "Enable", "LOGOUT": "Disable"}, stateActionsOf(t, talking))
	a.Request("pend", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "TALKING (pending READY)", summary(t, a.Next(), extA), "accepted, as offered")

	sup := e.agentOn(t, "supervisor1", extS)
	sup.Request("out", "Cisco", "Team", "SetTeamAgentLogout", map[string]string{"UserName": "ciscotest"})
	pending := a.Expect("Cisco/Agent/SetAgentState")
	assert.Equal(t, "TALKING (pending LOGOUT)", summary(t, pending, extA))
	assert.Equal(t, map[string]string{"READY": "Disable", "NOT_READY": "Disable", "LOGOUT": "Disable"}, stateActionsOf(t, pending))
	a.Request("refused", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
	a.ExpectError("Cisco", "Invalid State", "refused")
	a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"DROPPED/DROPPED", "LOGOUT 999"}, flow(t, a, extA, 2, "drop"))
}

func TestWrapUpTimerEndsAWrapUpThatNeededAReason(t *testing.T) {
	e := newEnv(t)
	o, _ := droppedCallWithWrapUpData(t, e)
	assert.Equal(t, []string{"DROPPED/WRAP_UP", "WORK_READY"}, flow(t, o, extO, 2, "drop"))
	e.fire(t, wrapUpTimer)
	assert.Equal(t, []string{"DROPPED/DROPPED", "READY"}, flow(t, o, extO, 2, ""), "the end of wrap-up, and nothing between")
	o.Request("asked", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, map[string]string{"READY": "Disable", "NOT_READY": "Enable", "LOGOUT": "Disable"},
		stateActionsOf(t, o.Expect("Cisco/Agent/SetAgentState")))
}

// A routed call that rings unanswered makes the agent NOT_READY with the
// RONA code and goes to the next READY agent of the team, as on CCE.
func TestRingNoAnswer(t *testing.T) {
	t.Run("the caller is offered to another READY agent of the team", func(t *testing.T) {
		e := newEnv(t)
		a := e.agentOn(t, "ciscotest", extA)
		p := e.agentOn(t, "102312778", extP)
		b := e.agentOn(t, "jdoe", extB) // READY, but on another team
		ready(t, a)
		ready(t, p)
		ready(t, b)
		call := ring(t, a, "4085551234", 2)

		e.fire(t, ringTimeout)
		assert.Equal(t, []string{"ALERTING/DROPPED", "NOT_READY 32767"}, flow(t, a, extA, 2, ""), "the call goes on without the agent")
		offered := p.Next()
		assert.Equal(t, []string{"ALERTING/ALERTING", "RESERVED"}, append([]string{summary(t, offered, extP)}, flow(t, p, extP, 1, "")...))
		again := callsOf(t, offered)[0]
		assert.Equal(t, call.ID, again.ID, "the same caller")
		assert.Equal(t, "4085551234", again.FromAddress)
		assert.Equal(t, extP, again.ToAddress)
		assert.Equal(t, "ACC-42", again.variable("callVariable1"), "with its call data")

		p.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": again.ID})
		assert.Equal(t, []string{"ACTIVE/ACTIVE", "TALKING"}, flow(t, p, extP, 2, "answer"))
		b.Request("state", "Cisco", "Agent", "GetAgentState", nil)
		assert.Equal(t, "READY", agentStateOf(t, b.Next()).Data.State, "the other team's agent was never offered the call")
	})

	t.Run("with nobody READY the call ends", func(t *testing.T) {
		e := newEnv(t)
		a := e.agentOn(t, "ciscotest", extA)
		e.agentOn(t, "102312778", extP) // NOT_READY
		ready(t, a)
		ring(t, a, "4085551234", 2)
		e.fire(t, ringTimeout)
		assert.Equal(t, []string{"DROPPED/DROPPED", "NOT_READY 32767"}, flow(t, a, extA, 2, ""))
		a.Request("state", "Cisco", "Call", "GetCallState", nil)
		assert.Empty(t, callsOf(t, a.Next()))
		assert.Empty(t, e.timers.Running())
	})
}

func TestCallsToNumbersOutside(t *testing.T) {
	tests := []struct {
		name      string
		to        string
		fire      []time.Duration
		want      []string
		wantCause string
	}{
		{
			name: "answers after the delay",
			to:   "4085551234",
			fire: []time.Duration{answerDelay},
			want: []string{"INITIATED/INITIATED", "TALKING", "ALERTING/INITIATED", "ACTIVE/ACTIVE", "DROPPED/DROPPED", "NOT_READY 50006"},
		},
		{
			name:      "busy",
			to:        "4085550000",
			want:      []string{"INITIATED/INITIATED", "TALKING", "FAILED/FAILED", "FAILED/DROPPED", "NOT_READY 50006"},
			wantCause: "BUSY",
		},
		{
			name:      "never answers",
			to:        "4085559999",
			fire:      []time.Duration{ringTimeout},
			want:      []string{"INITIATED/INITIATED", "TALKING", "ALERTING/INITIATED", "FAILED/FAILED", "FAILED/DROPPED", "NOT_READY 50006"},
			wantCause: "OTHER",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agentOn(t, "ciscotest", extA)
			ready(t, a)
			a.Request("dial", "Cisco", "InboundCall", "SetMakeCall", map[string]any{"ToAddress ": tt.to})
			got := flow(t, a, extA, 3, "dial")
			for _, d := range tt.fire {
				e.fire(t, d)
				got = append(got, flow(t, a, extA, 1, "")...)
			}
			call := callsOf(t, a.Seen[len(a.Seen)-1])[0]
			assert.Equal(t, "OUT", call.MediaProperties.CallType)
			assert.Equal(t, tt.wantCause, call.Participants[0].StateCause)
			a.Request("drop", "Cisco", "OutboundCall", "SetDROP", map[string]string{"CallID": call.ID})
			got = append(got, flow(t, a, extA, 2, "drop")...)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAgentToAgentCall(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	b := e.agentOn(t, "jdoe", extB)
	o := e.agentOn(t, "other", extO)
	spy := e.desktop(t, "spy")
	spy.Subscribe("*", "*", "*")
	login(t, spy, "spy", "other", extO)
	expectLogin(t, o, "spy")

	a.Request("dial", "Cisco", "InboundCall", "SetMakeCall", map[string]any{"toAddress": extB})
	gotA := flow(t, a, extA, 3, "dial")
	gotB := flow(t, b, extB, 1, "")
	call := callsOf(t, b.Seen[len(b.Seen)-1])[0]
	assert.Equal(t, "AGENT_INSIDE", call.MediaProperties.CallType)
	assert.Equal(t, extA, call.FromAddress)
	assert.Equal(t, extB, call.ToAddress)

	b.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"MediaAddress": extB, "CallID": call.ID})
	gotA = append(gotA, flow(t, a, extA, 1, "")...)
	gotB = append(gotB, flow(t, b, extB, 2, "answer")...)
	a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	gotA = append(gotA, flow(t, a, extA, 2, "drop")...)
	gotB = append(gotB, flow(t, b, extB, 2, "")...)
	e.fire(t, wrapUpTimer)
	gotB = append(gotB, flow(t, b, extB, 2, "")...)

	assert.Equal(t, []string{"INITIATED/INITIATED", "TALKING", "ALERTING/INITIATED", "ACTIVE/ACTIVE", "DROPPED/DROPPED", "NOT_READY"}, gotA,
		"an outgoing call from NOT_READY returns there, without wrap-up")
	assert.Equal(t, []string{"ALERTING/ALERTING", "ACTIVE/ACTIVE", "TALKING", "DROPPED/WRAP_UP", "WORK", "DROPPED/DROPPED", "NOT_READY"}, gotB,
		"a direct call rings a NOT_READY agent without changing its state; wrap-up follows the incoming call")

	// Nobody else heard of the call.
	for _, c := range []*brokertest.Client{o, spy} {
		c.Request("done", "Cisco", "General", "GetSystemInfo", nil)
		for c.Next().CorrelationID != "done" {
		}
		for _, f := range c.Seen {
			assert.NotContains(t, string(f.Message), call.ID, "%s", f.Raw)
			assert.NotContains(t, string(f.Message), `"mediaAddress":"`+extA, "%s", f.Raw)
		}
	}
}

// consult puts a on a call from outside, answered, and consults b; it
// returns the call and the consult leg once b's phone rings.
func consult(t *testing.T, e *env, a, b *brokertest.Client) (call, leg dialogView) {
	t.Helper()
	ready(t, a)
	call = ring(t, a, "4085551234", 2)
	a.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	a.Next()
	a.Next()
	a.Request("consult", "Cisco", "InboundCall", "SetCONSULT", map[string]string{"MediaAddress ": extA, "CallID": call.ID, "toAddress": extB})
	assert.Equal(t, []string{"ACTIVE/HELD,INITIATED/INITIATED", "ACTIVE/HELD,ALERTING/INITIATED"}, flow(t, a, extA, 2, "consult"))
	legs := callsOf(t, b.Next())
	require.Len(t, legs, 1)
	assert.Equal(t, "CONSULT", legs[0].MediaProperties.CallType)
	assert.Equal(t, "ACC-42", legs[0].variable("callVariable1"), "the consult carries the call's data")
	return call, legs[0]
}

func TestConsultCompleted(t *testing.T) {
	tests := []struct {
		name         string
		subtopic     string
		callID       func(call, leg dialogView) string
		wantA        []string
		wantB        string
		wantCallType string
	}{
		{
			name:         "as a transfer",
			subtopic:     "SetTRANSFER",
			callID:       func(call, _ dialogView) string { return call.ID },
			wantA:        []string{"ACTIVE/WRAP_UP,DROPPED/DROPPED", "WORK_READY"},
			wantB:        "ACTIVE/ACTIVE",
			wantCallType: "TRANSFER",
		},
		{
			name:         "as a conference",
			subtopic:     "SetCONFERENCE",
			callID:       func(_, leg dialogView) string { return leg.ID },
			wantA:        []string{"ACTIVE/ACTIVE,DROPPED/DROPPED"},
			wantB:        "ACTIVE/ACTIVE",
			wantCallType: "CONFERENCE",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agentOn(t, "ciscotest", extA)
			b := e.agentOn(t, "jdoe", extB)
			call, leg := consult(t, e, a, b)
			b.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": leg.ID})
			assert.Equal(t, []string{"ACTIVE/ACTIVE", "TALKING"}, flow(t, b, extB, 2, "answer"))
			held := callsOf(t, a.Next())
			assert.Contains(t, held[0].Participants[1].Actions, "TRANSFER")
			assert.Contains(t, held[0].Participants[1].Actions, "CONFERENCE")

			a.Request("complete", "Cisco", "InboundCall", tt.subtopic, map[string]string{"CallID": tt.callID(call, leg)})
			assert.Equal(t, tt.wantA, flow(t, a, extA, len(tt.wantA), "complete"))
			f := b.Next()
			assert.Equal(t, tt.wantB, summary(t, f, extB))
			now := callsOf(t, f)[0]
			assert.Equal(t, call.ID, now.ID, "the call from outside survives")
			assert.Equal(t, tt.wantCallType, now.MediaProperties.CallType)
			assert.Equal(t, "ACTIVE", now.participant("4085551234"), "the caller is talking to B")
		})
	}
}

func TestConferenceLeftByItsHost(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	b := e.agentOn(t, "jdoe", extB)
	call, leg := consult(t, e, a, b)
	b.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": leg.ID})
	flow(t, b, extB, 2, "answer")
	a.Next()
	a.Request("conf", "Cisco", "InboundCall", "SetCONFERENCE", map[string]string{"CallID": call.ID})
	a.Next()
	b.Next()

	a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"ACTIVE/WRAP_UP", "WORK_READY"}, flow(t, a, extA, 2, "drop"))
	rest := callsOf(t, b.Next())[0]
	assert.Equal(t, "ACTIVE", rest.State, "B and the caller talk on")
	assert.Equal(t, "ACTIVE", rest.participant("4085551234"))
}

func TestBlindConferenceRefused(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	b := e.agentOn(t, "jdoe", extB)
	call, _ := consult(t, e, a, b)
	a.Request("conf", "Cisco", "InboundCall", "SetCONFERENCE", map[string]string{"CallID": call.ID})
	assert.Contains(t, a.ExpectError("Cisco", "Invalid State", "conf").Msg, "Blind conference is not supported")
	a.Request("xfer", "Cisco", "InboundCall", "SetTRANSFER", map[string]string{"CallID": call.ID})
	assert.Contains(t, a.ExpectError("Cisco", "Invalid State", "xfer").Msg, "SetTRANSFER_SST")
}

func TestSingleStepTransferToABusyNumber(t *testing.T) {
	e := newEnv(t)
	a, call := answeredCall(t, e)

	a.Request("sst", "Cisco", "InboundCall", "SetTRANSFER_SST", map[string]string{"CallID": call.ID, "toAddress": "4085550000"})
	got := a.ExpectError("Cisco", "Call Operation Failure", "sst")
	assert.Contains(t, got.Msg, "the call stays with you")
	assert.Equal(t, "CF_RESOURCE_BUSY", got.ErrorMessage)
	a.Request("state", "Cisco", "Call", "GetCallState", nil)
	assert.Equal(t, "ACTIVE/ACTIVE", summary(t, a.Next(), extA), "the call is still the agent's")
}

func TestSingleStepTransfer(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	b := e.agentOn(t, "jdoe", extB)
	ready(t, a)
	call := ring(t, a, "4085551234", 2)
	a.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	flow(t, a, extA, 2, "answer")

	a.Request("sst", "Cisco", "InboundCall", "SetTRANSFER_SST", map[string]string{"MediaAddress ": extA, "CallID": call.ID, "ToAddress ": extB})
	assert.Equal(t, []string{"ALERTING/WRAP_UP", "WORK_READY"}, flow(t, a, extA, 2, "sst"))
	f := b.Next()
	assert.Equal(t, "ALERTING/ALERTING", summary(t, f, extB))
	assert.Equal(t, "TRANSFER", callsOf(t, f)[0].MediaProperties.CallType)
	b.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"ACTIVE/ACTIVE", "TALKING"}, flow(t, b, extB, 2, "answer"))
}

func TestCallErrors(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	b := e.agentOn(t, "jdoe", extB)
	stranger := e.desktop(t, "not-signed-in")
	ready(t, a)
	call := ring(t, a, "4085551234", 2)

	tests := []struct {
		name            string
		by              *brokertest.Client
		topic, subtopic string
		data            any
		wantType        string
		wantIn          string
	}{
		{"not signed in", stranger, "InboundCall", "SetHOLD", map[string]string{"CallID": call.ID}, "Invalid State", "Sign in"},
		{"no CallID", a, "InboundCall", "SetAnswer", map[string]string{"MediaAddress": extA}, "Parameter Missing", "CallID Parameter missing"},
		{"unknown call", a, "InboundCall", "SetHOLD", map[string]string{"CallID": "42"}, "Not Found", "Invalid dialogId specified for dialog"},
		{"another agent's call", b, "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID}, "Not Found", "CallID"},
		{"hold a ringing call", a, "InboundCall", "SetHOLD", map[string]string{"CallID": call.ID}, "Invalid State", "ALERTING"},
		{"retrieve a ringing call", a, "OutboundCall", "SetRETRIEVE", map[string]string{"CallID": call.ID}, "Invalid State", "ALERTING"},
		{"drop a ringing call", a, "InboundCall", "SetDROP", map[string]string{"CallID": call.ID}, "Invalid State", "ALERTING"},
		{"transfer a ringing call", a, "InboundCall", "SetTRANSFER_SST", map[string]string{"CallID": call.ID, "toAddress": extB}, "Generic Error", "answered"},
		{"consult without toAddress", a, "InboundCall", "SetCONSULT", map[string]string{"CallID": call.ID}, "Parameter Missing", "toAddress Parameter missing"},
		{"complete without a consult", a, "InboundCall", "SetTRANSFER", map[string]string{"CallID": call.ID}, "Invalid State", "SetCONSULT"},
		{"not my extension", a, "InboundCall", "SetAnswer", map[string]string{"MediaAddress": extB, "CallID": call.ID}, "Invalid Input", "MediaAddress"},
		{"make a call on a call", a, "InboundCall", "SetMakeCall", map[string]string{"toAddress": "4085551234"}, "Invalid State", "already"},
		{"make a call to no number", b, "InboundCall", "SetMakeCall", map[string]string{"toAddress": "sales"}, "Invalid Input", "toAddress"},
		{"make a call without toAddress", b, "InboundCall", "SetMakeCall", nil, "Parameter Missing", "toAddress Parameter missing"},
		{"bad call variable", b, "InboundCall", "SetMakeCall", map[string]any{"toAddress": "4085551234", "callVariables": map[string]string{"callVariable11": "x"}}, "Invalid Input", "callVariable11"},
		{"unknown wrap-up reason", a, "Agent", "WrapUpCall", map[string]string{"callID": call.ID, "wrapup": "99"}, "Invalid Input", "wrapup"},
		{"custom wrap-up that is not a boolean", a, "Agent", "WrapUpCall", map[string]any{"callID": call.ID, "customwrapup": "x", "Iscustomwrapup": "maybe"}, "Invalid Input", "Iscustomwrapup"},
		{"ring a busy agent", a, "Simulator", "IncomingCall", map[string]string{"from": "4085551234"}, "Device Busy", "on a call"},
		{"ring from no number", b, "Simulator", "IncomingCall", map[string]string{"from": "anonymous"}, "Invalid Input", "from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.by.RequestInvalid("x", "Cisco", tt.topic, tt.subtopic, tt.data)
			got := tt.by.ExpectError("Cisco", tt.wantType, "x")
			assert.Contains(t, got.ErrorMessage+" "+got.Msg, tt.wantIn)
		})
	}

	// The refusals changed nothing.
	a.Request("state", "Cisco", "Call", "GetCallState", nil)
	assert.Equal(t, "ALERTING/ALERTING", summary(t, a.Next(), extA))
}

func TestWrapUpDuringTheCall(t *testing.T) {
	e := newEnv(t)
	a, call := answeredCall(t, e)
	a.Request("wrap", "Cisco", "Agent", "WrapUpCall", map[string]any{"callID": call.ID, "customwrapup": "Called back", "Iscustomwrapup": true})
	f := a.Next()
	assert.Equal(t, "wrap", f.CorrelationID)
	assert.Equal(t, "Called back", callsOf(t, f)[0].MediaProperties.WrapUpReason)
	assert.Equal(t, "ACTIVE/ACTIVE", summary(t, f, extA), "the call goes on")
}

func TestSimulatorAPI(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	a := e.agentOn(t, "ciscotest", extA)
	crmJWT := apps.hs256(t, "agent-a-crm", time.Now().Add(time.Hour), apps.hmacKey)
	recorderJWT := apps.rs256(t, "recorder", time.Now().Add(time.Hour))
	post := func(auth func(*http.Request), body string) (int, string) {
		return postJSON(t, e.http+"/api/simulator/calls", auth, body)
	}

	code, body := post(bearer(crmJWT), `{"agent":"100501","from":"4085551234","callVariables":{"callVariable2":"VIP"}}`)
	require.Equal(t, 201, code, body)
	var created struct {
		DialogID string `json:"dialogId"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	f := a.Next()
	assert.Empty(t, f.CorrelationID)
	calls := callsOf(t, f)
	require.Len(t, calls, 1)
	assert.Equal(t, created.DialogID, calls[0].ID)
	assert.Equal(t, "VIP", calls[0].variable("callVariable2"))

	tests := []struct {
		name   string
		auth   func(*http.Request)
		body   string
		want   int
		wantIn string
	}{
		{"no credentials", nil, `{"agent":"100501","from":"4085551234"}`, 401, "unauthorized"},
		{"the agent is on a call", bearer(crmJWT), `{"agent":"100501","from":"4085551234"}`, 409, "on a call"},
		{"not JSON", bearer(crmJWT), `{"agent":`, 400, "invalid"},
		{"an unknown field", bearer(crmJWT), `{"agent":"100501","from":"4085551234","ani":"1"}`, 400, "ani"},
		{"no caller", bearer(crmJWT), `{"agent":"100501"}`, 400, "from"},
		{"bad call variables", bearer(crmJWT), `{"agent":"100501","from":"1","callVariables":[1]}`, 400, "callVariables"},
		{"may not publish", basic("wallboard", "wall-secret"), `{"agent":"100501","from":"4085551234"}`, 403, "grants.publish"},
		{"agent outside the grant", bearer(crmJWT), `{"agent":"100503","from":"4085551234"}`, 403, "100503"},
		{"unknown agent", bearer(recorderJWT), `{"agent":"999","from":"4085551234"}`, 404, "no agent"},
		{"agent not signed in", bearer(recorderJWT), `{"agent":"100503","from":"4085551234"}`, 404, "not signed in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(tt.auth, tt.body)
			assert.Equal(t, tt.want, code, body)
			assert.Contains(t, body, tt.wantIn)
			var refusal struct{ Error, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &refusal))
			assert.NotEmpty(t, refusal.Message)
		})
	}
	for _, entry := range e.logs.All() {
		assert.NotContains(t, fmt.Sprint(entry.Message, entry.Context), "4085551234", "a caller's number is in a log line")
	}
}

func TestAgentCannotPutCallDataIntoAColleaguesScreenPop(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	b := e.agentOn(t, "jdoe", extB)
	forged := map[string]string{"callVariable1": "ACC-VIP", "user.acct": "1"}

	a.Request("dial", "Cisco", "InboundCall", "SetMakeCall", map[string]any{"toAddress": extB, "callVariables": forged})
	refusal := a.ExpectError("Cisco", "Invalid Input", "dial")
	assert.Equal(t, "Invalid call variable specified", refusal.ErrorMessage)
	assert.Contains(t, refusal.Msg, "number outside")
	b.Request("nothing", "Cisco", "Call", "GetCallState", nil)
	assert.Empty(t, callsOf(t, b.Next()), "the colleague's phone never rang")

	// On a call to a number outside the desktop's data is taken, and it
	// says whose it is wherever it goes: here, onto a consult leg.
	a.Request("out", "Cisco", "InboundCall", "SetMakeCall", map[string]any{"toAddress": "4085551234", "callVariables": forged})
	flow(t, a, extA, 3, "out")
	e.fire(t, answerDelay)
	out := callsOf(t, a.Next())[0]
	assert.Equal(t, "ACC-VIP", out.variable("callVariable1"))
	assert.Equal(t, "100501", out.MediaProperties.CallVariablesFrom)
	a.Request("consult", "Cisco", "InboundCall", "SetCONSULT", map[string]string{"CallID": out.ID, "toAddress": extB})
	legs := callsOf(t, b.Next())
	require.Len(t, legs, 1)
	assert.Equal(t, "ACC-VIP", legs[0].variable("callVariable1"))
	assert.Equal(t, "100501", legs[0].MediaProperties.CallVariablesFrom, "the colleague's screen pop can tell an agent's data from the contact center's")

	// The contact center's data carries no mark.
	b2 := e.agentOn(t, "other", extO)
	ready(t, b2)
	assert.Empty(t, ring(t, b2, "4085551234", 2).MediaProperties.CallVariablesFrom)
}

// changedOf reads the next SetAgentState of c, skipping other events, and
// returns its state and the fields it names as changed.
func changedOf(t *testing.T, c *brokertest.Client) (string, []string) {
	t.Helper()
	return changedIn(t, nextOf(c, "Cisco/Agent/SetAgentState"))
}

func changedIn(t *testing.T, f brokertest.Frame) (string, []string) {
	t.Helper()
	var m struct {
		Data struct {
			State string `json:"state"`
		} `json:"data"`
		Changed []string `json:"changed"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m))
	require.NotNil(t, m.Changed, "frame %s", f.Raw)
	return m.Data.State, m.Changed
}

// Every SetAgentState names the fields it changed, so that a widget can
// tell a transition from a pending-state update, or from a report.
func TestSetAgentStateNamesWhatChanged(t *testing.T) {
	e := newEnv(t)
	a := e.desktop(t, "softphone")
	state, changed := changedIn(t, login(t, a, "login", "ciscotest", extA)[2])
	assert.Equal(t, "NOT_READY", state)
	assert.Equal(t, []string{"state", "extension"}, changed, "a first sign-in")
	again := e.desktop(t, "crm")
	state, changed = changedIn(t, login(t, again, "again", "ciscotest", extA)[2])
	assert.Equal(t, []any{"NOT_READY", []string{}}, []any{state, changed}, "a re-login changes nothing")
	changedOf(t, a) // the re-login's SetAgentState reaches the workspace too

	steps := []struct {
		name        string
		do          func()
		wantState   string
		wantChanged []string
	}{
		{"READY", func() { a.Request("r", "Cisco", "Agent", "SetReadyState", nil) }, "READY", []string{"state"}},
		{"a call rings", func() { a.Request("ring", "Cisco", "Simulator", "IncomingCall", map[string]any{"from": "4085551234"}) }, "RESERVED", []string{"state"}},
		{"answered", func() {
			a.Request("calls", "Cisco", "Call", "GetCallState", nil)
			call := callsOf(t, nextOf(a, "Cisco/Call/CallsStateChange"))[0]
			a.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
		}, "TALKING", []string{"state"}},
		{"NOT_READY asked during the call", func() {
			a.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
		}, "TALKING", []string{"pendingState"}},
		{"the same again", func() {
			a.Request("nr2", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
		}, "TALKING", []string{}},
		{"a report", func() { a.Request("get", "Cisco", "Agent", "GetAgentState", nil) }, "TALKING", []string{}},
		{"the call ends", func() {
			a.Request("calls", "Cisco", "Call", "GetCallState", nil)
			call := callsOf(t, nextOf(a, "Cisco/Call/CallsStateChange"))[0]
			a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
		}, "NOT_READY", []string{"state", "reasonCodeId", "pendingState"}},
		{"another reason code", func() {
			a.Request("nr3", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
		}, "NOT_READY", []string{"reasonCodeId"}},
		{"sign-out", func() { a.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"}) },
			"LOGOUT", []string{"state", "reasonCodeId", "extension"}},
	}
	for _, s := range steps {
		s.do()
		state, changed := changedOf(t, a)
		assert.Equal(t, []any{s.wantState, s.wantChanged}, []any{state, changed}, s.name)
	}
}
