package sim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"
)

// The outside numbers the simulator treats specially; any other outside
// number answers after AnswerDelay.
const (
	busySuffix     = "0000" // busy at once
	noAnswerSuffix = "9999" // rings until RingTimeout, then fails
)

// IncomingCall is a call from outside that the simulator rings on an
// agent's phone, as if the contact center had routed it.
type IncomingCall struct {
	From          string               // the caller's number
	DNIS          string               // the number the caller dialed; default 8005550100
	CallVariables []cisco.CallVariable // callVariable1..10 and user.<name>; BA* on a campaign call
	Kind          CallKind             // inbound ("" too), preview or progressive (outbound.go)
}

// Ring delivers an incoming call to a signed-in agent who is not on a call,
// as the contact center routes one: callType ACD_IN, a READY agent goes
// RESERVED (any other state is kept while it rings). It is the simulator's
// own, not part of Connector: a real contact center rings agents by itself.
// It fails with ErrInvalidState if the agent is signed out and with
// ErrDeviceBusy if the agent is on a call or wrapping one up. A call of
// kind preview or progressive is a campaign's instead (outbound.go): it
// needs a READY agent, and reserves it.
func (s *Simulator) Ring(ctx context.Context, loginID string, call IncomingCall) (cisco.Dialog, error) {
	if err := ctx.Err(); err != nil {
		return cisco.Dialog{}, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return cisco.Dialog{}, errNotFound(loginID)
	}
	if err := checkAddress("from", call.From); err != nil {
		return cisco.Dialog{}, err
	}
	if call.DNIS == "" {
		call.DNIS = defaultDNIS
	} else if err := checkAddress("dnis", call.DNIS); err != nil {
		return cisco.Dialog{}, err
	}
	kind, kindErr := ParseCallKind(string(call.Kind))
	if kindErr != nil {
		return cisco.Dialog{}, kindErr
	}
	call.Kind = kind
	ba, rest, baErr := splitCampaignVariables(kind, call.CallVariables)
	if baErr != nil {
		return cisco.Dialog{}, baErr
	}
	vars, err := checkCallVariables(rest)
	if err != nil {
		return cisco.Dialog{}, err
	}

	defer s.lock(ctx, loginID)()
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return cisco.Dialog{}, errSignedOut(loginID)
	}
	if st.call != nil {
		return cisco.Dialog{}, &cisco.Error{Type: cisco.ErrorTypeDeviceBusy, Message: cisco.ErrorMessageDeviceBusy,
			Text: fmt.Sprintf("Agent %s is on a call or wrapping one up; ring them once they are free.", loginID)}
	}
	now := s.now()
	if kind.campaign() {
		d, err := s.reserveLocked(a, st, call, ba, vars, now)
		if err != nil {
			return cisco.Dialog{}, err
		}
		return s.renderLocked(d, loginID), nil
	}
	d := s.newDialogLocked(typeACDIn, call.From, st.extension)
	d.dnis, d.dialedNumber, d.vars = call.DNIS, call.DNIS, vars
	d.state = callAlerting
	s.joinLocked(d, call.From, "", callActive, now)
	st.call = newCallSession(st, originRouted)
	p := s.joinLocked(d, st.extension, loginID, callAlerting, now)
	s.ringLocked(d, p)
	s.commitLocked(now, d)
	return s.renderLocked(d, loginID), nil
}

// MakeCall places a call from the agent's extension, as Finesse's
// MAKE_CALL: the agent must be READY or NOT_READY and not on a call; the
// agent goes TALKING at once. toAddress is an extension of a signed-in
// agent (AGENT_INSIDE, which rings that agent) or a number outside (OUT):
// one ending in 0000 is busy, one ending in 9999 never answers, any other
// answers after AnswerDelay.
func (s *Simulator) MakeCall(ctx context.Context, loginID, toAddress string, vars []cisco.CallVariable) (cisco.Dialog, error) {
	if err := ctx.Err(); err != nil {
		return cisco.Dialog{}, err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return cisco.Dialog{}, errNotFound(loginID)
	}
	if err := checkAddress("toAddress", toAddress); err != nil {
		return cisco.Dialog{}, err
	}
	vars, err := checkCallVariables(vars)
	if err != nil {
		return cisco.Dialog{}, err
	}

	defer s.lock(ctx, loginID)()
	st := s.stateLocked(a)
	switch {
	case st.state == cisco.StateLogout:
		return cisco.Dialog{}, errSignedOut(loginID)
	case st.call != nil && st.call.wrapping():
		return cisco.Dialog{}, errInvalidState("You are wrapping up a call; send WrapUpCall, or go READY or NOT_READY, before you make another.")
	case st.state == cisco.StateReservedOutbound || st.state == cisco.StateReservedOutboundPreview:
		return cisco.Dialog{}, errInvalidState("A campaign has reserved you: take its call, or leave the reservation (reject or close a preview), before you make a call.")
	case st.call != nil:
		return cisco.Dialog{}, errInvalidState("You are on a call already; drop it before you make another, or consult with SetCONSULT.")
	case st.state != cisco.StateReady && st.state != cisco.StateNotReady:
		return cisco.Dialog{}, errInvalidState(fmt.Sprintf("An agent cannot make a call from %s; go READY or NOT_READY first.", st.state))
	case toAddress == st.extension:
		return cisco.Dialog{}, errInvalidAddress("toAddress", "That is your own extension; dial another number.")
	}
	now := s.now()
	target, _ := s.targetLocked(toAddress)
	callType := typeOut
	if target != "" {
		callType = typeAgentInside
	}
	// Finesse takes call data from a desktop only on a call it places to
	// a number outside; on a call to an agent it would be another agent's
	// words in that agent's screen pop.
	if target != "" && len(vars) > 0 {
		return cisco.Dialog{}, errCallData("Call variables can be given only on a call to a number outside; call an agent's extension without them.")
	}
	d := s.newDialogLocked(callType, st.extension, toAddress)
	d.vars = vars
	if len(vars) > 0 {
		d.varsFrom = loginID
	}
	d.state = callInitiated
	st.call = newCallSession(st, originPlaced)
	s.joinLocked(d, st.extension, loginID, callInitiated, now)
	s.publishLocked(now, d)
	s.dialLocked(d, toAddress, "", now)
	s.commitLocked(now, d)
	return s.renderLocked(d, loginID), nil
}

// targetLocked resolves a number: the signed-in agent holding it as an
// extension (busy when on a call or in wrap-up), or "" for a number outside.
func (s *Simulator) targetLocked(address string) (agent string, busy bool) {
	id, ok := s.extensions[address]
	if !ok {
		return "", strings.HasSuffix(address, busySuffix)
	}
	return id, s.agents[id].call != nil
}

// dialLocked makes toAddress ring in d, which the agent who dialed is on:
// another agent's phone, or a number outside. A busy destination fails d.
// callType is what a called agent sees ("" for the dialog's).
func (s *Simulator) dialLocked(d *dialog, toAddress, callType string, now time.Time) {
	target, busy := s.targetLocked(toAddress)
	if busy {
		d.state = callFailed
		for _, p := range d.parts {
			if p.state == callInitiated {
				s.setLocked(p, callFailed, causeBusy, now)
			}
		}
		return
	}
	d.state = callAlerting
	if target != "" {
		tst, _ := s.agentLocked(target)
		tst.call = newCallSession(tst, originInside)
	}
	p := s.joinLocked(d, toAddress, target, callAlerting, now)
	p.callType = callType
	s.ringLocked(d, p)
}

// ringLocked starts the timer of a ringing participant: an agent's phone
// and a 9999 number stop ringing after RingTimeout; another number outside
// answers after AnswerDelay.
func (s *Simulator) ringLocked(d *dialog, p *participant) {
	if p.agent == "" && !strings.HasSuffix(p.address, noAnswerSuffix) {
		p.timer = s.afterFuncLocked(s.answerDelay, &p.timerGen, func(now time.Time) {
			s.answerLocked(d, p, now)
			s.commitLocked(now, d)
		})
		return
	}
	p.timer = s.afterFuncLocked(s.ringTimeout, &p.timerGen, func(now time.Time) {
		if cs := s.callOfLocked(p.agent); cs != nil && cs.origin == originRouted {
			s.ronaLocked(d, p, now)
		} else {
			s.unansweredLocked(d, p, causeOther, now)
		}
		s.commitLocked(now, d)
	})
}

// ronaLocked handles a routed call that rang an agent unanswered, as CCE
// does with its default agent desk settings (Ring No Answer): the agent is
// made NOT_READY with the RONA code once off the call, so that no more
// calls are routed to a desk nobody is at, and the caller is offered to the
// first READY agent of the same team who is free. With nobody READY the
// call ends, as the simulator has no queue to hold it.
func (s *Simulator) ronaLocked(d *dialog, p *participant, now time.Time) {
	st, _ := s.agentLocked(p.agent)
	st.call.phase = phaseUnanswered
	s.leaveLocked(d, p, now)
	team := s.dir.byLoginID[p.agent].teamID
	for _, a := range s.dir.agents {
		st, ok := s.agents[a.loginID]
		if a.teamID != team || !ok || st.state != cisco.StateReady || st.call != nil || d.part(a.loginID) != nil {
			continue
		}
		s.touchLocked(a.loginID, st)
		st.call = newCallSession(st, originRouted)
		d.to = st.extension
		q := s.joinLocked(d, st.extension, a.loginID, callAlerting, now)
		s.ringLocked(d, q)
		return
	}
}

// answerLocked connects a ringing participant.
func (s *Simulator) answerLocked(d *dialog, p *participant, now time.Time) {
	s.setLocked(p, callActive, "", now)
	for _, q := range d.parts {
		if q.state == callInitiated {
			s.setLocked(q, callActive, "", now)
		}
	}
	if d.state == callAlerting || d.state == callInitiated {
		d.state = callActive
	}
}

// unansweredLocked ends a ringing participant's leg: rejected, or not
// answered in time. The agent who dialed it is left FAILED, with cause, to
// drop the call; otherwise the call goes on without it, if anyone is left.
func (s *Simulator) unansweredLocked(d *dialog, p *participant, cause string, now time.Time) {
	s.leaveLocked(d, p, now)
	var caller *participant
	others := 0
	for _, q := range d.parts {
		if live(q.state) {
			others++
			if q.state == callInitiated {
				caller = q
			}
		}
	}
	if caller != nil && others == 1 {
		d.state = callFailed
		s.setLocked(caller, callFailed, cause, now)
	}
}

// CallAction asks for action on the agent's participant in dialogID.
// Every action needs the participant in a state that allows it (the
// actions list of the Dialog says which, as in Finesse); otherwise it fails
// with ErrInvalidState. A dialog that does not exist, or that the agent is
// not on, fails with ErrDialogNotFound.
func (s *Simulator) CallAction(ctx context.Context, loginID, dialogID string, action cisco.Action, toAddress string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return errNotFound(loginID)
	}
	if action == cisco.ActionConsult || action == cisco.ActionTransferSST {
		if err := checkAddress("toAddress", toAddress); err != nil {
			return err
		}
	}

	defer s.lock(ctx, loginID)()
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return errSignedOut(loginID)
	}
	d, p := s.findLocked(loginID, dialogID)
	if p == nil || !live(p.state) {
		if p != nil && p.state == callWrapUp {
			return errInvalidState("This call has ended; only WrapUpCall applies to it now.")
		}
		return errDialogNotFound(dialogID)
	}
	if action == cisco.ActionTransfer || action == cisco.ActionConference {
		return s.completeLocked(a, d, action)
	}
	if actions := s.actionsLocked(d, p); !slices.Contains(actions, string(action)) {
		if text, ok := genericFailure(action, p, actions); ok {
			// Finesse on CCE takes these up (202) and fails them later
			// with a Generic Error on the agent's Dialogs; the call is
			// left as it was.
			s.emitLocked(cisco.Notification{Failure: &cisco.Failure{LoginID: loginID, Error: &cisco.Error{
				Type: cisco.ErrorTypeGeneric, Message: cisco.ErrorMessageActionNotAllowed, Data: string(action), Text: text,
			}}})
			return nil
		}
		return errInvalidState(fmt.Sprintf("You cannot %s a call whose participant is %s; the dialog's actions say what you can do now.",
			actionVerb(action), p.state))
	}
	now := s.now()
	switch action {
	case cisco.ActionAnswer:
		s.stopLocked(p)
		s.answerLocked(d, p, now)
	case cisco.ActionReject, cisco.ActionClose: // a preview reservation: the agent is free again
		d.reservation = false
		s.unansweredLocked(d, p, causeBusy, now)
	case cisco.ActionAccept:
		s.acceptLocked(d, p, now)
	case cisco.ActionHold:
		s.setLocked(p, callHeld, "", now)
	case cisco.ActionRetrieve:
		if other := s.otherActiveLocked(loginID, d); other != nil {
			return errInvalidState(fmt.Sprintf("Call %s is active; hold, drop or complete it before you retrieve this one.", other.id))
		}
		s.setLocked(p, callActive, "", now)
	case cisco.ActionDrop:
		s.leaveLocked(d, p, now)
	case cisco.ActionConsult:
		return s.consultLocked(st, d, p, toAddress, now)
	case cisco.ActionTransferSST:
		return s.transferSSTLocked(st, d, p, toAddress, now)
	default:
		return &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: "Invalid requestedAction specified for dialog",
			Text: fmt.Sprintf("%q is not a call action; use ANSWER, HOLD, RETRIEVE, DROP, ACCEPT, REJECT, CLOSE, CONSULT_CALL, TRANSFER_SST, TRANSFER or CONFERENCE.", clip.Short(string(action)))}
	}
	s.commitLocked(now, d)
	return nil
}

// isPreviewAction reports whether a is one of Finesse's answers to a
// preview reservation.
func isPreviewAction(a cisco.Action) bool {
	return a == cisco.ActionAccept || a == cisco.ActionClose || a == cisco.ActionReject
}

// genericFailure tells whether an action that the participant p, whose
// actions are allowed, may not take now is one that Finesse on CCE fails
// after taking it up, with a Generic Error (the developer guide's
// asynchronous errors of Dialog—Take Action on Participant and of the
// preview reservation's API), and what to tell the agent:
//
//   - a preview answer (ACCEPT, CLOSE, REJECT) on a call that is not a
//     preview reservation, a ringing call among them;
//   - any other action on a preview reservation;
//   - TRANSFER_SST before the call is answered.
//
// Any other action not allowed is refused at once, with Invalid State.
func genericFailure(action cisco.Action, p *participant, allowed []string) (string, bool) {
	switch {
	case isPreviewAction(action) && p.state == callAlerting:
		return fmt.Sprintf("Only a campaign's preview reservation can be %sed; a ringing call can only be answered (ANSWER), or left to ring.",
			strings.TrimSuffix(actionVerb(action), "e")), true
	case isPreviewAction(action):
		return fmt.Sprintf("This call is not a campaign's preview reservation, so you cannot %s it; its actions say what you can do now.", actionVerb(action)), true
	case slices.Contains(allowed, string(cisco.ActionAccept)):
		return fmt.Sprintf("This is a campaign's preview reservation: accept, reject or close it (ACCEPT, REJECT, CLOSE); %s is not one of its actions.", action), true
	case action == cisco.ActionTransferSST && (p.state == callAlerting || p.state == callInitiating || p.state == callInitiated):
		return "A call can be transferred once it is answered; answer it, or wait for the other party to answer, then transfer.", true
	}
	return "", false
}

func actionVerb(a cisco.Action) string {
	switch a {
	case cisco.ActionConsult:
		return "consult on"
	case cisco.ActionTransferSST:
		return "transfer"
	}
	return strings.ToLower(string(a))
}

// consultLocked holds d and dials toAddress on a new consult leg.
func (s *Simulator) consultLocked(st *agentState, d *dialog, p *participant, toAddress string, now time.Time) error {
	if toAddress == st.extension {
		return errInvalidAddress("toAddress", "That is your own extension; consult another number.")
	}
	s.setLocked(p, callHeld, "", now)
	c := s.newDialogLocked(typeConsult, st.extension, toAddress)
	c.dnis, c.dialedNumber, c.vars, c.varsFrom = d.dnis, toAddress, slices.Clone(d.vars), d.varsFrom
	c.consultOf, d.consult = d, c
	c.state = callInitiated
	s.joinLocked(c, st.extension, p.agent, callInitiated, now)
	s.publishLocked(now, d, c)
	s.dialLocked(c, toAddress, "", now)
	s.commitLocked(now, c)
	return nil
}

// transferSSTLocked hands d to toAddress in one step: the agent leaves,
// and toAddress rings in its place. A busy destination fails at the switch
// after the request was taken up, as Finesse reports it: a Failure
// notification (Call Operation Failure, CF_RESOURCE_BUSY), and the call
// stays.
func (s *Simulator) transferSSTLocked(st *agentState, d *dialog, p *participant, toAddress string, now time.Time) error {
	if toAddress == st.extension {
		return errInvalidAddress("toAddress", "That is your own extension; transfer to another number.")
	}
	if _, busy := s.targetLocked(toAddress); busy {
		s.emitLocked(cisco.Notification{Failure: &cisco.Failure{LoginID: p.agent, Error: &cisco.Error{
			Type: cisco.ErrorTypeCallOperationFailure, Message: cisco.ErrorMessageResourceBusy,
			Text: fmt.Sprintf("%s is busy; the call stays with you. Try another number, or later.", toAddress),
		}}})
		return nil
	}
	s.leaveLocked(d, p, now)
	s.dialLocked(d, toAddress, typeTransfer, now)
	s.commitLocked(now, d)
	return nil
}

// completeLocked completes the consult of d (the held call or its consult
// leg) as a transfer or a conference. The consult leg must be answered: a
// blind conference is not supported, and a blind transfer is SetTRANSFER_SST.
func (s *Simulator) completeLocked(a *dirAgent, d *dialog, action cisco.Action) error {
	orig, c := d, d.consult
	if d.consultOf != nil {
		orig, c = d.consultOf, d
	}
	if c == nil {
		return errInvalidState("This call has no consult call to complete; start one with SetCONSULT.")
	}
	held, leg := orig.part(a.loginID), c.part(a.loginID)
	if held == nil || held.state != callHeld || leg == nil || !live(leg.state) {
		return errInvalidState("Completing a consult needs the original call held and you on the consult call; retrieve or consult again.")
	}
	var joining []*participant
	for _, q := range c.parts {
		if q != leg && live(q.state) {
			joining = append(joining, q)
		}
	}
	if c.state != callActive || leg.state != callActive || len(joining) == 0 {
		if action == cisco.ActionConference {
			return errInvalidState("Blind conference is not supported: wait until the consult call is answered, then conference.")
		}
		return errInvalidState("The consult call has not been answered: wait for it, or transfer blind with SetTRANSFER_SST.")
	}
	now := s.now()
	c.parts = slices.DeleteFunc(c.parts, func(q *participant) bool { return slices.Contains(joining, q) })
	orig.parts = append(orig.parts, joining...)
	orig.consult, c.consultOf = nil, nil
	s.setLocked(leg, callDropped, "", now)
	c.state = callDropped
	if action == cisco.ActionConference {
		orig.callType = typeConference
		for _, q := range orig.parts {
			q.callType = ""
		}
		s.setLocked(held, callActive, "", now)
	} else {
		for _, q := range joining {
			q.callType = typeTransfer
		}
		s.leaveLocked(orig, held, now)
	}
	s.commitLocked(now, c, orig)
	return nil
}

// otherActiveLocked returns a call other than d on which the agent is
// active, dialing or failed, if any.
func (s *Simulator) otherActiveLocked(loginID string, d *dialog) *dialog {
	for _, e := range s.dialogsOfLocked(loginID) {
		if p := e.part(loginID); e != d && p != nil && live(p.state) && p.state != callHeld && p.state != callAlerting && !passive(e, loginID) {
			return e
		}
	}
	return nil
}

// WrapUp records reason as the dialog's wrap-up reason, during the call or
// in wrap-up after it, as Finesse's UPDATE_CALL_DATA does: it never ends
// the wrap-up, which the agent leaves by going READY or NOT_READY (or the
// wrap-up timer ends).
func (s *Simulator) WrapUp(ctx context.Context, loginID, dialogID, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a := s.dir.byLoginID[loginID]
	if a == nil {
		return errNotFound(loginID)
	}
	if reason == "" || len(reason) > maxWrapUpReason {
		return &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: "Invalid wrapUpReason specified for dialog",
			Text: fmt.Sprintf("A wrap-up reason is 1 to %d bytes; choose one of the wrap-up reasons or write a shorter one.", maxWrapUpReason)}
	}
	defer s.lock(ctx, loginID)()
	st := s.stateLocked(a)
	if st.state == cisco.StateLogout {
		return errSignedOut(loginID)
	}
	d, p := s.findLocked(loginID, dialogID)
	if p == nil || (!live(p.state) && p.state != callWrapUp) {
		return errDialogNotFound(dialogID)
	}
	now := s.now()
	d.wrapUpReason = reason
	if p.state == callWrapUp {
		s.emitCallsLocked(loginID)
		return nil
	}
	s.commitLocked(now, d)
	return nil
}

// Dialogs returns the agent's current calls: those it is on, and the one
// it is wrapping up.
func (s *Simulator) Dialogs(ctx context.Context, loginID string) ([]cisco.Dialog, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.dir.byLoginID[loginID] == nil {
		return nil, errNotFound(loginID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []cisco.Dialog{}
	for _, d := range s.dialogsOfLocked(loginID) {
		out = append(out, s.renderLocked(d, loginID))
	}
	return out, nil
}
