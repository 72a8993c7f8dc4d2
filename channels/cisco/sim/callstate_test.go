package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/channels/cisco"
)

// The rows are Finesse's voice state table for CCE (Cisco Finesse
// Developer Guide 12.5, "User—Change Agent State" and the state diagrams),
// the rows a call drives; the rows an agent drives (READY, NOT_READY,
// LOGOUT by request) are SetState's, and tested there.
func TestAgentStateOnCallFollowsTheCCEStateTable(t *testing.T) {
	const (
		ready    = cisco.StateReady
		notReady = cisco.StateNotReady
	)
	tests := []struct {
		from       cisco.State // the state before the change, for the reader
		trigger    string
		give       callFacts
		want       cisco.State
		wantReason string
		wantKeep   bool
	}{
		{notReady, "the agent places a call while NOT_READY",
			callFacts{origin: originPlaced, before: notReady, beforeReason: "2", parts: []string{callInitiated}},
			cisco.StateTalking, noReasonCode, false},
		{ready, "inbound call offered",
			callFacts{origin: originRouted, before: ready, beforeReason: noReasonCode, parts: []string{callAlerting}},
			cisco.StateReserved, noReasonCode, false},
		{notReady, "a call from another agent rings: the state is kept",
			callFacts{origin: originInside, before: notReady, beforeReason: "2", parts: []string{callAlerting}},
			"", "", true},
		{ready, "Outbound Option reservation, preview",
			callFacts{origin: originPreview, before: ready, parts: []string{callAlerting}},
			cisco.StateReservedOutboundPreview, noReasonCode, false},
		{ready, "Outbound Option reservation, progressive: the agent's phone rings",
			callFacts{origin: originProgressive, before: ready, parts: []string{callAlerting}},
			cisco.StateReservedOutbound, noReasonCode, false},
		{cisco.StateReserved, "the reservation is not taken: the caller hangs up",
			callFacts{origin: originRouted, before: ready, beforeReason: noReasonCode},
			ready, noReasonCode, false},
		{cisco.StateReserved, "answered",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, parts: []string{callActive}},
			cisco.StateTalking, noReasonCode, false},
		{cisco.StateReservedOutboundPreview, "the outbound call connects",
			callFacts{origin: originPreview, phase: phaseTalked, before: ready, parts: []string{callActive}},
			cisco.StateTalking, noReasonCode, false},
		{cisco.StateReservedOutbound, "the outbound call connects",
			callFacts{origin: originProgressive, phase: phaseTalked, before: ready, parts: []string{callActive}},
			cisco.StateTalking, noReasonCode, false},
		{cisco.StateReservedOutboundPreview, "the reservation closes; the agent was READY before it",
			callFacts{origin: originPreview, before: ready, beforeReason: noReasonCode},
			ready, noReasonCode, false},
		{cisco.StateReservedOutboundPreview, "the reservation closes; NOT_READY was pending",
			callFacts{origin: originPreview, before: ready, pending: notReady, pendingCode: "1"},
			notReady, "1", false},
		{cisco.StateTalking, "call dropped; back to READY, the state before the call",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, beforeReason: noReasonCode},
			ready, noReasonCode, false},
		{cisco.StateTalking, "call dropped; back to NOT_READY, the state before the call",
			callFacts{origin: originInside, phase: phaseTalked, before: notReady, beforeReason: "2"},
			notReady, "2", false},
		{cisco.StateTalking, "wrap-up enabled, and the agent chose NOT_READY during the call",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, pending: notReady, pendingCode: "1", wrapUp: true},
			cisco.StateWork, noReasonCode, false},
		{cisco.StateTalking, "wrap-up enabled, and the agent was READY before the call",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, wrapUp: true},
			cisco.StateWorkReady, noReasonCode, false},
		{cisco.StateTalking, "wrap-up enabled, and the agent chose READY during the call",
			callFacts{origin: originInside, phase: phaseTalked, before: notReady, beforeReason: "2", pending: ready, pendingCode: noReasonCode, wrapUp: true},
			cisco.StateWorkReady, noReasonCode, false},
		{cisco.StateTalking, "call put on hold",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, parts: []string{callHeld}},
			cisco.StateHold, noReasonCode, false},
		{cisco.StateHold, "call retrieved",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, parts: []string{callActive}},
			cisco.StateTalking, noReasonCode, false},
		{cisco.StateHold, "consult call placed while the first is held",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, parts: []string{callHeld, callInitiated}},
			cisco.StateTalking, noReasonCode, false},
		{cisco.StateHold, "held call dropped, wrap-up enabled (same rules as from TALKING)",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, wrapUp: true},
			cisco.StateWorkReady, noReasonCode, false},
		{cisco.StateHold, "held call dropped, no wrap-up (same rules as from TALKING)",
			callFacts{origin: originInside, phase: phaseTalked, before: notReady, beforeReason: "2"},
			notReady, "2", false},
		// CCE's own codes, which the table leaves to the system.
		{cisco.StateTalking, "a call placed from READY ends NOT_READY with the off-hook code",
			callFacts{origin: originPlaced, phase: phaseTalked, before: ready, beforeReason: noReasonCode},
			notReady, offHookReason, false},
		{cisco.StateReserved, "a routed call rang unanswered (RONA): NOT_READY with its code",
			callFacts{origin: originRouted, phase: phaseUnanswered, before: ready, beforeReason: noReasonCode},
			notReady, ronaReason, false},
		{cisco.StateReserved, "RONA after the agent asked to sign out: the sign-out wins",
			callFacts{origin: originRouted, phase: phaseUnanswered, before: ready, pending: cisco.StateLogout, pendingCode: "3"},
			cisco.StateLogout, "3", false},
		{cisco.StateTalking, "a sign-out asked for during the call applies when it ends, without wrap-up",
			callFacts{origin: originRouted, phase: phaseTalked, before: ready, pending: cisco.StateLogout, pendingCode: "3", wrapUp: true},
			cisco.StateLogout, "3", false},
		{cisco.StateNotReady, "a supervisor monitors a call",
			callFacts{origin: originSupervision, before: notReady, beforeReason: "2", parts: []string{callActive}},
			cisco.StateTalking, noReasonCode, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+": "+tt.trigger, func(t *testing.T) {
			state, reason, keep := agentStateOnCall(tt.give)
			assert.Equal(t, tt.want, state)
			assert.Equal(t, tt.wantReason, reason)
			assert.Equal(t, tt.wantKeep, keep)
		})
	}
}

// The rows of the table that end a wrap-up: the timer expires, and the
// agent goes where the call led.
func TestWrapUpLeadsWhereTheCallLed(t *testing.T) {
	tests := []struct {
		from       cisco.State
		give       callFacts
		want       cisco.State
		wantReason string
	}{
		{cisco.StateWork, callFacts{origin: originRouted, phase: phaseTalked, before: cisco.StateReady, pending: cisco.StateNotReady, pendingCode: "1", wrapUp: true},
			cisco.StateNotReady, "1"},
		{cisco.StateWorkReady, callFacts{origin: originRouted, phase: phaseTalked, before: cisco.StateReady, beforeReason: noReasonCode, wrapUp: true},
			cisco.StateReady, noReasonCode},
		{cisco.StateWork, callFacts{origin: originPlaced, phase: phaseTalked, before: cisco.StateReady, wrapUp: true},
			cisco.StateNotReady, offHookReason},
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			work, _, _ := agentStateOnCall(tt.give)
			assert.Equal(t, tt.from, work, "the wrap-up state")
			state, reason := stateAfterCall(tt.give)
			assert.Equal(t, tt.want, state)
			assert.Equal(t, tt.wantReason, reason)
		})
	}
}
