package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"

	"context"
	"fmt"
	"slices"
)

// SupervisorSetState sets an agent's state as a supervisor, with Finesse's
// supervisor rules: only NOT_READY (from READY, WORK or WORK_READY) and
// LOGOUT (from any signed-in state; an agent on a call keeps it and is
// signed out when it ends, as a CTI sign-out never hangs up a phone), and only
// for an agent of a team the supervisor supervises. A supervisor cannot
// choose the reason code: reasonCodeID must be "" or "-1", and the agent
// gets the CCE supervisor code 999.
func (s *Simulator) SupervisorSetState(ctx context.Context, supervisorID, agentID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	if err := ctx.Err(); err != nil {
		return cisco.User{}, err
	}
	sup, a, err := s.supervised(supervisorID, agentID)
	if err != nil {
		return cisco.User{}, err
	}
	switch state {
	case cisco.StateReady:
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageSupervisorReady,
			Text: "A supervisor cannot make an agent READY; ask the agent to go READY."}
	case cisco.StateNotReady, cisco.StateLogout:
	default:
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidStateInput,
			Text: fmt.Sprintf("%q is not a state a supervisor can set; use NOT_READY or LOGOUT.", clip.Short(string(state)))}
	}
	if reasonCodeID != "" && reasonCodeID != noReasonCode {
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidReasonCode,
			Text: "A supervisor cannot choose the reason code; send -1 or leave it out, and the agent gets the supervisor code 999."}
	}

	defer s.lock(ctx, sup.loginID)()
	if err := s.signedInLocked(sup); err != nil {
		return cisco.User{}, err
	}
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return cisco.User{}, errInvalidState(fmt.Sprintf("Agent %s is signed out already.", a.loginID))
	}
	now := s.now()
	if state == cisco.StateLogout {
		s.forceLogoutLocked(a, st, supervisorReason, now)
		return s.userLocked(a, st, now), nil
	}
	if !slices.Contains([]cisco.State{cisco.StateReady, cisco.StateWork, cisco.StateWorkReady}, st.state) {
		return cisco.User{}, errInvalidState(fmt.Sprintf("A supervisor can make an agent NOT_READY only from READY, WORK or WORK_READY; agent %s is %s.", a.loginID, st.state))
	}
	if st.call != nil && st.call.wrapping() {
		s.endWrapUpLocked(a, st, now)
	}
	st.state, st.reasonCodeID, st.stateChangeTime = cisco.StateNotReady, supervisorReason, now
	s.emitUserLocked(a, st, now)
	return s.userLocked(a, st, now), nil
}

// SilentMonitor starts the supervisor listening to agentID's active call:
// the supervisor must be signed in (on fromAddress, if given), free and
// NOT_READY, as Finesse on CCE requires, the agent on a team it supervises
// (on toAddress, if given), on an active call that is not itself
// monitoring. The supervisor gets a dialog of callType SUPERVISOR_MONITOR,
// and goes TALKING. The agent sees that dialog too, as a second, passive
// one: it has no actions on it, and it does not change the agent's state.
// Monitoring ends when the supervisor drops it, or the agent leaves the call.
func (s *Simulator) SilentMonitor(ctx context.Context, supervisorID, fromAddress, agentID, toAddress string) (cisco.Dialog, error) {
	if err := ctx.Err(); err != nil {
		return cisco.Dialog{}, err
	}
	sup, a, err := s.supervised(supervisorID, agentID)
	if err != nil {
		return cisco.Dialog{}, err
	}
	defer s.lock(ctx, sup.loginID)()
	sst, st, err := s.monitorPartiesLocked(sup, a, fromAddress, toAddress)
	if err != nil {
		return cisco.Dialog{}, err
	}
	if sst.call != nil {
		return cisco.Dialog{}, errInvalidState("You are on a call; drop it before you monitor an agent.")
	}
	if sst.state != cisco.StateNotReady {
		return cisco.Dialog{}, errInvalidState(fmt.Sprintf("You are %s; go NOT_READY before you monitor an agent, so that no call is routed to you meanwhile.", sst.state))
	}
	var call *dialog
	for _, d := range s.dialogsOfLocked(a.loginID) {
		if p := d.part(a.loginID); d.monitors == nil && p.state == callActive && d.state == callActive {
			call = d
			break
		}
	}
	if call == nil {
		return cisco.Dialog{}, errInvalidState(fmt.Sprintf("Agent %s is not on an active call; monitor once the agent is talking.", a.loginID))
	}
	now := s.now()
	m := s.newDialogLocked(typeMonitor, sst.extension, st.extension)
	m.dnis, m.dialedNumber, m.vars = call.dnis, call.dialedNumber, slices.Clone(call.vars)
	m.monitors, m.monitored = call, a.loginID
	m.state = callActive
	sst.call = newCallSession(sst, originSupervision)
	s.joinLocked(m, sst.extension, sup.loginID, callActive, now)
	s.joinLocked(m, st.extension, a.loginID, callActive, now)
	s.commitLocked(now, m)
	return s.renderLocked(m, sup.loginID), nil
}

// passive reports whether d is a monitor dialog of the agent loginID: one
// the agent sees but cannot act on, and that does not count as a call of
// its own.
func passive(d *dialog, loginID string) bool {
	return d.monitors != nil && d.monitored == loginID
}

// Barge joins the supervisor into the call it monitors with dialogID, which
// becomes a conference (callType CONFERENCE for everyone on it); the
// monitor dialog ends. It fails with
// ErrInvalidState unless dialogID is the supervisor's monitor dialog of
// agentID's call.
func (s *Simulator) Barge(ctx context.Context, supervisorID, fromAddress, agentID, toAddress, dialogID string) (cisco.Dialog, error) {
	if err := ctx.Err(); err != nil {
		return cisco.Dialog{}, err
	}
	sup, a, err := s.supervised(supervisorID, agentID)
	if err != nil {
		return cisco.Dialog{}, err
	}
	defer s.lock(ctx, sup.loginID)()
	sst, _, err := s.monitorPartiesLocked(sup, a, fromAddress, toAddress)
	if err != nil {
		return cisco.Dialog{}, err
	}
	m, p := s.findLocked(sup.loginID, dialogID)
	switch {
	case m == nil:
		return cisco.Dialog{}, errDialogNotFound(dialogID)
	case p == nil || !live(p.state) || m.monitors == nil:
		return cisco.Dialog{}, errInvalidState("You can barge only into a call you are monitoring; start with SetSilentMonitoring and give its dialog id as CallId.")
	case m.monitored != a.loginID:
		return cisco.Dialog{}, errInvalidState(fmt.Sprintf("Dialog %s monitors another agent, not %s.", m.id, a.loginID))
	}
	now := s.now()
	call := m.monitors
	for _, q := range m.parts {
		if live(q.state) {
			s.leaveLocked(m, q, now)
		}
	}
	m.state = callDropped
	s.joinLocked(call, sst.extension, sup.loginID, callActive, now)
	call.callType = typeConference
	for _, q := range call.parts {
		q.callType = ""
	}
	s.commitLocked(now, m, call)
	return s.renderLocked(call, sup.loginID), nil
}

// supervised looks up a supervisor and an agent (by loginId or loginName)
// of a team it supervises.
func (s *Simulator) supervised(supervisorID, agentID string) (sup, a *dirAgent, err error) {
	sup = s.dir.byLoginID[supervisorID]
	if sup == nil {
		return nil, nil, errNotFound(supervisorID)
	}
	if !sup.supervisor {
		return nil, nil, &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageNotSupervisor,
			Text: "Only a supervisor can act on other agents; sign in as a supervisor."}
	}
	if a = s.dir.lookup(agentID); a == nil {
		return nil, nil, errNotFound(agentID)
	}
	if !supervises(sup, a.teamID) {
		return nil, nil, &cisco.Error{Type: cisco.ErrorTypeInvalidSupervisor, Message: cisco.ErrorMessageNotTeamMember,
			Text: fmt.Sprintf("Agent %s is not on a team you supervise; you can act only on the agents of your teams.", a.loginID)}
	}
	return sup, a, nil
}

// monitorPartiesLocked checks that the supervisor and the agent are signed
// in, on the extensions given.
func (s *Simulator) monitorPartiesLocked(sup, a *dirAgent, fromAddress, toAddress string) (sst, st *agentState, err error) {
	if err := s.signedInLocked(sup); err != nil {
		return nil, nil, err
	}
	sst, st = s.stateLocked(sup), s.stateLocked(a)
	if fromAddress != "" && fromAddress != sst.extension {
		return nil, nil, errInvalidAddress("fromAddress", fmt.Sprintf("You are signed in on %s, not %s; give your own extension as fromAddress.", sst.extension, clip.Short(fromAddress)))
	}
	if st.state == cisco.StateLogout {
		return nil, nil, errSignedOut(a.loginID)
	}
	if toAddress != "" && toAddress != st.extension {
		return nil, nil, errInvalidAddress("toAddress", fmt.Sprintf("Agent %s is signed in on %s, not %s; give the agent's extension as toAddress.", a.loginID, st.extension, clip.Short(toAddress)))
	}
	return sst, st, nil
}

func (s *Simulator) signedInLocked(a *dirAgent) error {
	if s.stateLocked(a).state == cisco.StateLogout {
		return errInvalidState("You are signed out; sign in before acting on your team.")
	}
	return nil
}
