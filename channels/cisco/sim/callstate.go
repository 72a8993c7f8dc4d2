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

// callOrigin is how an agent's call session began: it decides the agent's
// state while its phone rings, the wrap-up setting that applies, and where
// the agent goes after the call.
type callOrigin int

const (
	// originRouted is a call the contact center routed to the agent (ACD):
	// a READY agent is RESERVED while it rings, and NOT_READY (32767) if
	// it rings unanswered.
	originRouted callOrigin = iota
	// originInside is a call from another agent, or transferred by one:
	// the agent's state is kept while it rings.
	originInside
	// originPlaced is a call the agent placed: wrapUpOnOutgoing applies,
	// and one placed from READY ends NOT_READY (50006), as on CCE.
	originPlaced
	// originPreview is a preview campaign's reservation:
	// RESERVED_OUTBOUND_PREVIEW until the agent accepts it.
	originPreview
	// originProgressive is a progressive campaign's call: RESERVED_OUTBOUND
	// while the dialer reaches the customer and the agent's phone rings.
	originProgressive
	// originSupervision is a supervisor monitoring or barging in: no
	// wrap-up follows.
	originSupervision
)

// callPhase is where an agent's call session is.
type callPhase int

const (
	phaseRinging    callPhase = iota // ringing or dialing: the agent has not talked yet
	phaseTalked                      // the agent has talked on the call: wrap-up may follow
	phaseUnanswered                  // a routed call rang unanswered (RONA): NOT_READY (32767) after
	phaseWrapUp                      // in WORK or WORK_READY after the call, the timer running
)

// callSession is an agent's time on a call, from the first ring or dial
// to the end of wrap-up. It remembers what the state machine needs after
// the call.
type callSession struct {
	origin       callOrigin
	phase        callPhase
	before       cisco.State // the state before the call
	beforeReason string      // and its reason code
	pending      cisco.State // READY or NOT_READY asked for during the call
	pendingCode  string      //
	wrapUp       *dialog
	needsData    bool        // in wrap-up: REQUIRED_WITH_WRAP_UP_DATA, so leaving it needs a reason on the call
	after        cisco.State // in wrap-up: the state it leads to
	afterReason  string      //
	wrapTimer    Timer
	wrapGen      int
	dialing      *dialog // a progressive call still dialing the customer, before it reaches the agent
}

// newCallSession starts a call session of origin for an agent in st.
func newCallSession(st *agentState, origin callOrigin) *callSession {
	return &callSession{origin: origin, before: st.state, beforeReason: st.reasonCodeID}
}

// wrapping reports whether the agent is in wrap-up after the call.
func (cs *callSession) wrapping() bool { return cs.phase == phaseWrapUp }

// talked records that the agent talked on the call.
func (cs *callSession) talked() {
	if cs.phase == phaseRinging {
		cs.phase = phaseTalked
	}
}

// callFacts are what decides the state of an agent on a call.
type callFacts struct {
	origin       callOrigin
	phase        callPhase
	before       cisco.State // the state before the call
	beforeReason string
	pending      cisco.State // the state asked for during the call; "" for none
	pendingCode  string
	// parts are the states of the agent's participants still on its calls,
	// passive monitoring views left out; none once its last call ended.
	parts []string
	// wrapUp reports that the ended call leads to wrap-up: the agent
	// talked, and its settings ask for it.
	wrapUp bool
}

// facts returns the session's facts, with the agent's participants in
// parts.
func (cs *callSession) facts(parts []string) callFacts {
	return callFacts{origin: cs.origin, phase: cs.phase, before: cs.before, beforeReason: cs.beforeReason,
		pending: cs.pending, pendingCode: cs.pendingCode, parts: parts, wrapUp: cs.wrapUp != nil}
}

// agentStateOnCall returns the state of an agent on a call, and its reason
// code, as Finesse's CCE state table has it: TALKING while a call is active
// or dialing, HOLD while every call is held, RESERVED (or a campaign's
// RESERVED_OUTBOUND*) while a call rings; once the last call ended, WORK or
// WORK_READY for a wrap-up, else the state after the call (stateAfterCall).
// keep reports that the table has no row for the facts: the agent's state
// stays as it is, as while a call from another agent rings.
func agentStateOnCall(f callFacts) (state cisco.State, reason string, keep bool) {
	switch {
	case len(f.parts) == 0:
		after, reason := stateAfterCall(f)
		if f.wrapUp && after != cisco.StateLogout {
			return workState(after), noReasonCode, false
		}
		return after, reason, false
	case slices.ContainsFunc(f.parts, func(x string) bool { return x != callHeld && x != callAlerting }):
		return cisco.StateTalking, noReasonCode, false
	case slices.Contains(f.parts, callHeld):
		return cisco.StateHold, noReasonCode, false
	case f.origin == originPreview:
		return cisco.StateReservedOutboundPreview, noReasonCode, false
	case f.origin == originProgressive:
		return cisco.StateReservedOutbound, noReasonCode, false
	case f.origin == originRouted && f.before == cisco.StateReady:
		return cisco.StateReserved, noReasonCode, false
	}
	return "", "", true
}

// stateAfterCall returns the state an agent goes to when its last call
// ends (after wrap-up, if one follows), and its reason code: the state it
// asked for during the call, or NOT_READY (32767) after a routed call that
// rang unanswered unless it asked to sign out, or NOT_READY (50006) after a
// call it placed from READY, or the state before the call.
func stateAfterCall(f callFacts) (cisco.State, string) {
	switch {
	case f.phase == phaseUnanswered && f.pending != cisco.StateLogout:
		return cisco.StateNotReady, ronaReason
	case f.pending != "":
		return f.pending, f.pendingCode
	case f.origin == originPlaced && f.before == cisco.StateReady:
		return cisco.StateNotReady, offHookReason
	}
	return f.before, f.beforeReason
}

// workState is the wrap-up state that leads to after: WORK_READY before
// READY, WORK before anything else.
func workState(after cisco.State) cisco.State {
	if after == cisco.StateReady {
		return cisco.StateWorkReady
	}
	return cisco.StateWork
}

// callOfLocked returns the call session of the agent loginID, nil for
// none or for a number outside.
func (s *Simulator) callOfLocked(loginID string) *callSession {
	if st, ok := s.agentLocked(loginID); ok && loginID != "" {
		return st.call
	}
	return nil
}

// wrapsUpLocked reports whether the agent, leaving d, enters wrap-up: it
// talked, its settings ask for wrap-up on this direction, and d is its last call.
func (s *Simulator) wrapsUpLocked(loginID string, d *dialog) bool {
	cs := s.agents[loginID].call
	if cs == nil || cs.phase != phaseTalked || cs.origin == originSupervision || cs.pending == cisco.StateLogout {
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
	if cs.origin == originPlaced {
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

// settleLocked moves an agent's state to follow its calls, as
// agentStateOnCall derives it from Finesse's CCE state table; after the
// last call, endCallLocked starts the wrap-up or returns the agent to the
// state it should be in.
func (s *Simulator) settleLocked(loginID string, now time.Time) {
	a := s.dir.byLoginID[loginID]
	st := s.stateLocked(a)
	cs := st.call
	if cs == nil || cs.wrapping() || st.state == cisco.StateLogout {
		return
	}
	var parts []string
	for _, d := range s.dialogsOfLocked(loginID) {
		if p := d.part(loginID); live(p.state) && !passive(d, loginID) {
			parts = append(parts, p.state)
		}
	}
	if len(parts) == 0 {
		s.endCallLocked(a, st, now)
		return
	}
	if state, reason, keep := agentStateOnCall(cs.facts(parts)); !keep {
		s.setStateLocked(a, st, state, reason, now)
	}
}

// endCallLocked moves an agent whose last call has ended to wrap-up, or to
// the state it should return to: the one it asked for during the call, or
// NOT_READY (50006) after a call placed from READY, or the one before.
func (s *Simulator) endCallLocked(a *dirAgent, st *agentState, now time.Time) {
	cs := st.call
	after, reason := stateAfterCall(cs.facts(nil))
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
	cs.phase, cs.after, cs.afterReason, cs.pending = phaseWrapUp, after, reason, ""
	cs.needsData = s.wrapUpSettingLocked(a, cs) == "REQUIRED_WITH_WRAP_UP_DATA"
	s.startWrapUpTimerLocked(a, st, cs)
	s.setStateLocked(a, st, workState(after), noReasonCode, now)
}

// startWrapUpTimerLocked starts the timer that ends the agent's wrap-up
// after its team's wrap-up time.
func (s *Simulator) startWrapUpTimerLocked(a *dirAgent, st *agentState, cs *callSession) {
	cs.wrapTimer = s.afterFuncLocked(time.Duration(a.wrapUpTimer)*time.Second, &cs.wrapGen, func(now time.Time) {
		s.touchLocked(a.loginID, st)
		s.endWrapUpLocked(a, st, now)
		s.setStateLocked(a, st, cs.after, cs.afterReason, now)
	})
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
