package sim

import (
	"slices"
	"time"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Call state: an agent's time on a call (callSession), and the agent
// state it leads to, after Finesse's CCE state table.

// The CCE reason codes the contact center sets after a call.
const (
	supervisorReason = "999"   // a state set by a supervisor
	offHookReason    = "50006" // a call placed from READY ends NOT_READY
	// ronaReason is the CCE system code of an agent made NOT_READY because
	// a routed call rang unanswered (Ring No Answer).
	ronaReason = "32767"
)

// callSession is an agent's time on a call, from the first ring or dial
// to the end of wrap-up. It remembers what the state machine needs after
// the call.
type callSession struct {
	before       cisco.State // the state before the call
	beforeReason string      // and its reason code
	outbound     bool        // the agent placed the call: wrapUpOnOutgoing applies
	acd          bool        // routed by the contact center: READY → RESERVED while ringing
	fromReady    bool        // placed from READY: NOT_READY with 50006 afterwards (CCE)
	noWrapUp     bool        // monitoring or barge-in
	rona         bool        // a routed call rang unanswered: NOT_READY (32767) afterwards
	connected    bool        // the agent talked on it
	pending      cisco.State // READY or NOT_READY asked for during the call
	pendingCode  string      //
	wrapUp       *dialog
	wrapping     bool        // in WORK or WORK_READY, the timer running
	needsData    bool        // in wrap-up: REQUIRED_WITH_WRAP_UP_DATA, so leaving it needs a reason on the call
	after        cisco.State // in wrap-up: the state it leads to
	afterReason  string      //
	wrapTimer    Timer
	wrapGen      int
	reserved     cisco.State // a campaign call: the RESERVED_OUTBOUND* state while it rings
	dialing      *dialog     // a progressive call still dialing the customer, before it reaches the agent
}

// callOfLocked returns the call session of the agent loginID, nil for
// none or for a number outside.
func (s *Simulator) callOfLocked(loginID string) *callSession {
	if st, ok := s.agents[loginID]; ok && loginID != "" {
		return st.call
	}
	return nil
}

// wrapsUpLocked reports whether the agent, leaving d, enters wrap-up: it
// talked, its settings ask for wrap-up on this direction, and d is its last call.
func (s *Simulator) wrapsUpLocked(loginID string, d *dialog) bool {
	cs := s.agents[loginID].call
	if cs == nil || !cs.connected || cs.noWrapUp || cs.pending == cisco.StateLogout {
		return false
	}
	a := s.dir.byLoginID[loginID]
	switch s.wrapUpSettingLocked(a, cs) {
	case "NOT_ALLOWED", "":
		return false
	case "OPTIONAL":
		// The agent may skip wrap-up by choosing, during the call, the
		// state to go to after it.
		if cs.pending != "" {
			return false
		}
	}
	for _, e := range s.dialogsOfLocked(loginID) {
		if p := e.part(loginID); e != d && p != nil && live(p.state) && !passive(e, loginID) {
			return false
		}
	}
	return true
}

// wrapUpSettingLocked returns the agent's wrap-up setting for the call of
// session cs: wrapUpOnOutgoing for a call it placed, else wrapUpOnIncoming.
func (s *Simulator) wrapUpSettingLocked(a *dirAgent, cs *callSession) string {
	if cs.outbound {
		return a.settings.WrapUpOnOutgoing
	}
	return a.settings.WrapUpOnIncoming
}

// checkEndLocked ends a call that has fewer than two parties left. A failed
// call waits for its caller to drop it; a monitor dialog ends when its
// supervisor leaves, taking the agent's passive view with it.
func (s *Simulator) checkEndLocked(d *dialog, now time.Time) {
	if d.state == callDropped {
		return
	}
	var left []*participant
	for _, p := range d.parts {
		if live(p.state) {
			left = append(left, p)
		}
	}
	switch {
	case d.monitors != nil:
		// A monitor dialog lasts as long as its supervisor is on it.
		if slices.ContainsFunc(left, func(p *participant) bool { return p.agent != d.monitored }) {
			return
		}
	case d.state == callFailed && len(left) > 0, // the caller has yet to drop it
		len(left) >= 2, d.reservation && len(left) == 1:
		return
	}
	for _, p := range left {
		s.leaveLocked(d, p, now)
	}
	if d.state != callFailed {
		d.state = callDropped
	}
	if d.consultOf != nil {
		d.consultOf.consult, d.consultOf = nil, nil
	}
	if d.consult != nil {
		d.consult.consultOf, d.consult = nil, nil
	}
}

// settleLocked moves an agent's state to follow its calls (Finesse's CCE
// state table): TALKING while active or dialing, HOLD while every call is
// held, RESERVED while an ACD call rings a READY agent; after the last
// call, wrap-up or the state the agent should return to.
func (s *Simulator) settleLocked(loginID string, now time.Time) {
	a := s.dir.byLoginID[loginID]
	st := s.stateLocked(a)
	cs := st.call
	if cs == nil || cs.wrapping || st.state == cisco.StateLogout {
		return
	}
	var states []string
	for _, d := range s.dialogsOfLocked(loginID) {
		if p := d.part(loginID); live(p.state) && !passive(d, loginID) {
			states = append(states, p.state)
		}
	}
	switch {
	case len(states) == 0:
		s.endCallLocked(a, st, now)
	case slices.ContainsFunc(states, func(x string) bool { return x != callHeld && x != callAlerting }):
		s.setStateLocked(a, st, cisco.StateTalking, noReasonCode, now)
	case slices.Contains(states, callHeld):
		s.setStateLocked(a, st, cisco.StateHold, noReasonCode, now)
	case cs.reserved != "":
		s.setStateLocked(a, st, cs.reserved, noReasonCode, now)
	case cs.acd && cs.before == cisco.StateReady:
		s.setStateLocked(a, st, cisco.StateReserved, noReasonCode, now)
	}
}

// endCallLocked moves an agent whose last call has ended to wrap-up, or to
// the state it should return to: the one it asked for during the call, or
// NOT_READY (50006) after a call placed from READY, or the one before.
func (s *Simulator) endCallLocked(a *dirAgent, st *agentState, now time.Time) {
	cs := st.call
	after, reason := cs.before, cs.beforeReason
	if cs.fromReady {
		after, reason = cisco.StateNotReady, offHookReason
	}
	if cs.pending != "" {
		after, reason = cs.pending, cs.pendingCode
	}
	if cs.rona && cs.pending != cisco.StateLogout {
		after, reason = cisco.StateNotReady, ronaReason
	}
	if after == cisco.StateLogout {
		st.call = nil
		st.state, st.reasonCodeID, st.stateChangeTime = cisco.StateLogout, reason, now
		s.signOutLocked(st, now)
		s.emitUserLocked(a, st, now)
		return
	}
	if cs.wrapUp == nil {
		st.call = nil
		s.setStateLocked(a, st, after, reason, now)
		return
	}
	cs.wrapping, cs.after, cs.afterReason, cs.pending = true, after, reason, ""
	cs.needsData = s.wrapUpSettingLocked(a, cs) == "REQUIRED_WITH_WRAP_UP_DATA"
	work := cisco.StateWork
	if after == cisco.StateReady {
		work = cisco.StateWorkReady
	}
	cs.wrapTimer = s.afterFuncLocked(time.Duration(a.wrapUpTimer)*time.Second, &cs.wrapGen, func(now time.Time) {
		s.endWrapUpLocked(a, st, now)
		s.setStateLocked(a, st, cs.after, cs.afterReason, now)
	})
	s.setStateLocked(a, st, work, noReasonCode, now)
}

// endWrapUpLocked ends the agent's wrap-up and tells it the call is gone;
// the caller then sets the agent's state.
func (s *Simulator) endWrapUpLocked(a *dirAgent, st *agentState, now time.Time) {
	cs := st.call
	if cs.wrapTimer != nil {
		cs.wrapTimer.Stop()
		cs.wrapGen++
	}
	st.call = nil
	d := cs.wrapUp
	if p := d.part(a.loginID); p != nil {
		s.setLocked(p, callDropped, "", now)
	}
	s.emitCallsLocked(a.loginID, d)
	s.forgetLocked(d)
}

// setStateLocked sets the agent's state and notifies it, if it changed.
func (s *Simulator) setStateLocked(a *dirAgent, st *agentState, state cisco.State, reason string, now time.Time) {
	if st.state == state && st.reasonCodeID == reason {
		return
	}
	st.state, st.reasonCodeID, st.stateChangeTime = state, reason, now
	s.emitUserLocked(a, st, now)
}
