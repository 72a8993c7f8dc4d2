package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"

	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The states of a voice Dialog and of its participants (Finesse).
const (
	callInitiating = "INITIATING"
	callInitiated  = "INITIATED"
	callAlerting   = "ALERTING"
	callActive     = "ACTIVE"
	callHeld       = "HELD"
	callFailed     = "FAILED"
	callDropped    = "DROPPED"
	callWrapUp     = "WRAP_UP"
)

// The callTypes the simulator sets.
const (
	typeACDIn       = "ACD_IN"
	typeOut         = "OUT"
	typeAgentInside = "AGENT_INSIDE"
	typeConsult     = "CONSULT"
	typeTransfer    = "TRANSFER"
	typeConference  = "CONFERENCE"
	typeMonitor     = "SUPERVISOR_MONITOR"
)

// The stateCauses of a failed participant.
const (
	causeBusy  = "BUSY"
	causeOther = "OTHER"
)

// The outside numbers the simulator treats specially; any other outside
// number answers after AnswerDelay.
const (
	busySuffix     = "0000" // busy at once
	noAnswerSuffix = "9999" // rings until RingTimeout, then fails
)

// Limits of call data, after Finesse's.
const (
	maxAddress       = 32  // digits in a number
	maxCallVariable  = 40  // bytes in a callVariable1..10 value
	maxECCVariable   = 210 // bytes in a user.<name> ECC value
	maxECCName       = 32  // characters after "user."
	maxECCVariables  = 50  // ECC variables on one call
	maxWrapUpReason  = 39  // bytes, as a WrapUpReason label
	firstDialogID    = 16777216
	defaultDNIS      = "8005550100"
	supervisorReason = "999" // the CCE code for a state set by a supervisor
	offHookReason    = "50006"
	// ronaReason is the CCE system code of an agent made NOT_READY because
	// a routed call rang unanswered (Ring No Answer).
	ronaReason = "32767"
)

// dialog is a call in the simulator. The Dialog that apps see is rendered
// from it for one viewer. Guarded by Simulator.mu, like everything it points to.
type dialog struct {
	id           string
	state        string
	from, to     string
	callType     string
	dialedNumber string
	dnis         string
	vars         []cisco.CallVariable
	varsFrom     string // the loginId of the agent whose MakeCall gave vars; "" for the contact center's data
	wrapUpReason string
	parts        []*participant
	consultOf    *dialog // a consult leg: the held call it consults on
	consult      *dialog // a held call: its consult leg
	monitors     *dialog // a monitor dialog: the call it listens to
	monitored    string  // a monitor dialog: the loginId of the agent monitored

	// Outbound Option (outbound.go).
	kind        CallKind             // a campaign call: preview or progressive; "" otherwise
	campaign    []cisco.CallVariable // a campaign call: its BA* variables
	reservation bool                 // a preview reservation not yet accepted, rejected or closed
}

// participant is a party to a dialog: an agent's device, or a number outside.
type participant struct {
	address  string
	agent    string // loginId; "" outside the contact center
	state    string
	cause    string
	callType string // what this agent's desktop sees, when not the dialog's callType
	start    time.Time
	changed  time.Time
	timer    Timer // answer delay or ring timeout
	timerGen int
	tick     int // Simulator.tick when the state last changed
}

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

// live reports whether a participant in state is still on the call.
func live(state string) bool {
	switch state {
	case callInitiating, callInitiated, callAlerting, callActive, callHeld, callFailed:
		return true
	}
	return false
}

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
	st.call = &callSession{before: st.state, beforeReason: st.reasonCodeID, acd: true}
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
	case st.call != nil && st.call.wrapping:
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
	st.call = &callSession{before: st.state, beforeReason: st.reasonCodeID, outbound: true, fromReady: st.state == cisco.StateReady}
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
		tst := s.agents[target]
		tst.call = &callSession{before: tst.state, beforeReason: tst.reasonCodeID}
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
		if cs := s.callOfLocked(p.agent); cs != nil && cs.acd {
			s.ronaLocked(d, p, now)
		} else {
			s.unansweredLocked(d, p, causeOther, now)
		}
		s.commitLocked(now, d)
	})
}

// callOfLocked returns the call session of the agent loginID, nil for
// none or for a number outside.
func (s *Simulator) callOfLocked(loginID string) *callSession {
	if st, ok := s.agents[loginID]; ok && loginID != "" {
		return st.call
	}
	return nil
}

// ronaLocked handles a routed call that rang an agent unanswered, as CCE
// does with its default agent desk settings (Ring No Answer): the agent is
// made NOT_READY with the RONA code once off the call, so that no more
// calls are routed to a desk nobody is at, and the caller is offered to the
// first READY agent of the same team who is free. With nobody READY the
// call ends, as the simulator has no queue to hold it.
func (s *Simulator) ronaLocked(d *dialog, p *participant, now time.Time) {
	s.agents[p.agent].call.rona = true
	s.leaveLocked(d, p, now)
	team := s.dir.byLoginID[p.agent].teamID
	for _, a := range s.dir.agents {
		st, ok := s.agents[a.loginID]
		if a.teamID != team || !ok || st.state != cisco.StateReady || st.call != nil || d.part(a.loginID) != nil {
			continue
		}
		st.call = &callSession{before: st.state, beforeReason: st.reasonCodeID, acd: true}
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
	if !slices.Contains(s.actionsLocked(d, p), string(action)) {
		if action == cisco.ActionReject && p.state == callAlerting {
			return errInvalidState("Only a campaign's preview reservation can be rejected; a ringing call can only be answered (ANSWER), or left to ring.")
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
			Text: fmt.Sprintf("%q is not a call action; use ANSWER, HOLD, RETRIEVE, DROP, ACCEPT, REJECT, CLOSE, CONSULT_CALL, TRANSFER_SST, TRANSFER or CONFERENCE.", clip(string(action)))}
	}
	s.commitLocked(now, d)
	return nil
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

// newDialogLocked creates a dialog with the next id.
func (s *Simulator) newDialogLocked(callType, from, to string) *dialog {
	s.lastDialog++
	d := &dialog{id: strconv.FormatInt(s.lastDialog, 10), from: from, to: to, callType: callType, dialedNumber: to}
	s.dialogs[d.id] = d
	return d
}

// joinLocked adds a participant to d.
func (s *Simulator) joinLocked(d *dialog, address, agent, state string, now time.Time) *participant {
	p := &participant{address: address, agent: agent, start: now}
	d.parts = append(d.parts, p)
	s.setLocked(p, state, "", now)
	return p
}

// setLocked changes a participant's state. An agent who goes ACTIVE has
// talked on the call, so wrap-up may follow it.
func (s *Simulator) setLocked(p *participant, state, cause string, now time.Time) {
	p.state, p.cause, p.changed, p.tick = state, cause, now, s.tick
	if state == callActive && p.agent != "" {
		if cs := s.agents[p.agent].call; cs != nil {
			cs.connected = true
		}
	}
}

// leaveLocked takes a participant off the call: an agent who leaves its
// last call and has wrap-up goes WRAP_UP, anyone else DROPPED.
func (s *Simulator) leaveLocked(d *dialog, p *participant, now time.Time) {
	s.stopLocked(p)
	state := callDropped
	if p.agent != "" && s.wrapsUpLocked(p.agent, d) {
		state = callWrapUp
		s.agents[p.agent].call.wrapUp = d
	}
	s.setLocked(p, state, "", now)
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

func (s *Simulator) stopLocked(p *participant) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
		p.timerGen++
	}
}

// commitLocked settles the dialogs that changed: ends those with fewer
// than two parties left, ends monitoring that lost its agent, tells every
// agent on them, then moves the agents' states to follow their calls.
func (s *Simulator) commitLocked(now time.Time, ds ...*dialog) {
	for _, d := range ds {
		s.checkEndLocked(d, now)
	}
	for _, m := range s.sortedLocked() {
		if m.monitors != nil && slices.Contains(ds, m.monitors) && live(m.state) && !monitorable(m.monitors, m.monitored) {
			for _, p := range m.parts {
				s.leaveLocked(m, p, now)
			}
			m.state = callDropped
			ds = append(ds, m)
		}
	}
	s.publishLocked(now, ds...)
	for _, d := range ds {
		s.forgetLocked(d)
	}
}

// publishLocked tells every agent on the dialogs (or just off them) its
// current dialogs, then moves the agents' states to follow their calls.
func (s *Simulator) publishLocked(now time.Time, ds ...*dialog) {
	var agents []string
	for _, d := range ds {
		for _, p := range d.parts {
			if p.agent != "" && s.concerns(p) && !slices.Contains(agents, p.agent) {
				agents = append(agents, p.agent)
			}
		}
	}
	for _, id := range agents {
		s.emitCallsLocked(id, ds...)
	}
	for _, id := range agents {
		s.settleLocked(id, now)
	}
}

// concerns reports whether the agent of p is to hear about its dialog: it
// is on it or wrapping it up, or it has just left it. Once gone, an agent
// hears no more of a call.
func (s *Simulator) concerns(p *participant) bool {
	return live(p.state) || p.state == callWrapUp || p.tick == s.tick
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

// monitorable reports whether agent is still on call d, so that a
// supervisor may listen to it.
func monitorable(d *dialog, agent string) bool {
	p := d.part(agent)
	return live(d.state) && p != nil && (p.state == callActive || p.state == callHeld)
}

// forgetLocked drops d from the simulator once nobody is on it or wrapping
// it up.
func (s *Simulator) forgetLocked(d *dialog) {
	for _, p := range d.parts {
		if live(p.state) || p.state == callWrapUp {
			return
		}
	}
	if d.consultOf != nil || d.consult != nil {
		return
	}
	delete(s.dialogs, d.id)
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

// emitCallsLocked notifies the agent's current dialogs, and those of also
// it was on that have just ended.
func (s *Simulator) emitCallsLocked(loginID string, also ...*dialog) {
	ds := s.dialogsOfLocked(loginID)
	for _, d := range also {
		if p := d.part(loginID); p != nil && s.concerns(p) && !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	sortDialogs(ds)
	out := make([]cisco.Dialog, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.renderLocked(d, loginID))
	}
	s.emitLocked(cisco.Notification{Calls: &cisco.CallsChange{LoginID: loginID, Dialogs: out}})
}

// dialogsOfLocked returns the dialogs the agent is on or wrapping up, oldest first.
func (s *Simulator) dialogsOfLocked(loginID string) []*dialog {
	var out []*dialog
	for _, d := range s.sortedLocked() {
		if p := d.part(loginID); p != nil && (live(p.state) || p.state == callWrapUp) {
			out = append(out, d)
		}
	}
	return out
}

func (s *Simulator) sortedLocked() []*dialog {
	out := make([]*dialog, 0, len(s.dialogs))
	for _, d := range s.dialogs {
		out = append(out, d)
	}
	sortDialogs(out)
	return out
}

func sortDialogs(ds []*dialog) {
	sort.Slice(ds, func(i, j int) bool {
		return len(ds[i].id) < len(ds[j].id) || (len(ds[i].id) == len(ds[j].id) && ds[i].id < ds[j].id)
	})
}

// findLocked finds the dialog and the agent's participant in it, the
// participant nil if there is none.
func (s *Simulator) findLocked(loginID, dialogID string) (*dialog, *participant) {
	d := s.dialogs[dialogID]
	if d == nil {
		return nil, nil
	}
	return d, d.part(loginID)
}

// part returns the agent's participant in d, preferring one still on the call.
func (d *dialog) part(loginID string) *participant {
	var found *participant
	for _, p := range d.parts {
		if p.agent == loginID {
			if live(p.state) {
				return p
			}
			found = p
		}
	}
	return found
}

// actionsLocked lists what the agent's participant p may request now, as
// Finesse's participant actions.
func (s *Simulator) actionsLocked(d *dialog, p *participant) []string {
	if p.agent == "" {
		return []string{}
	}
	switch p.state {
	case callAlerting:
		if d.reservation {
			return []string{"ACCEPT", "CLOSE", "REJECT"}
		}
		return []string{"ANSWER"}
	case callInitiating, callInitiated:
		return []string{"DROP", "UPDATE_CALL_DATA"}
	case callActive:
		if passive(d, p.agent) {
			return []string{} // the agent monitored only sees it
		}
		if d.monitors != nil {
			return []string{"BARGE_CALL", "DROP"}
		}
		if d.consult != nil || d.consultOf != nil {
			return []string{"HOLD", "DROP", "UPDATE_CALL_DATA"}
		}
		return []string{"HOLD", "DROP", "UPDATE_CALL_DATA", "CONSULT_CALL", "TRANSFER_SST"}
	case callHeld:
		actions := []string{"RETRIEVE", "DROP", "UPDATE_CALL_DATA"}
		if c := d.consult; c != nil {
			if leg := c.part(p.agent); leg != nil && leg.state == callActive && c.state == callActive {
				actions = append(actions, "TRANSFER", "CONFERENCE")
			}
		}
		return actions
	case callFailed:
		return []string{"DROP"}
	case callWrapUp:
		return []string{"UPDATE_CALL_DATA"}
	}
	return []string{}
}

// renderLocked renders d as viewer's desktop sees it.
func (s *Simulator) renderLocked(d *dialog, viewer string) cisco.Dialog {
	callType := d.callType
	if p := d.part(viewer); p != nil && p.callType != "" {
		callType = p.callType
	}
	vars := make([]cisco.CallVariable, 0, 10+len(d.vars))
	for i := 1; i <= 10; i++ {
		name := "callVariable" + strconv.Itoa(i)
		v := cisco.CallVariable{Name: name}
		for _, cv := range d.vars {
			if cv.Name == name {
				v.Value = cv.Value
			}
		}
		vars = append(vars, v)
	}
	vars = append(vars, campaignVariablesOf(d)...)
	for _, cv := range d.vars {
		if strings.HasPrefix(cv.Name, "user.") {
			vars = append(vars, cv)
		}
	}
	out := cisco.Dialog{
		URI:         "/finesse/api/Dialog/" + d.id,
		ID:          d.id,
		MediaType:   "Voice",
		State:       d.state,
		FromAddress: d.from,
		ToAddress:   d.to,
		MediaProperties: cisco.MediaProperties{
			MediaID:           "1",
			DialedNumber:      d.dialedNumber,
			DNIS:              d.dnis,
			CallType:          callType,
			CallVariables:     vars,
			CallVariablesFrom: d.varsFrom,
			WrapUpReason:      d.wrapUpReason,
		},
		Participants: make([]cisco.Participant, 0, len(d.parts)),
	}
	for _, p := range d.parts {
		kind := ""
		if p.agent != "" {
			kind = "AGENT_DEVICE"
		}
		out.Participants = append(out.Participants, cisco.Participant{
			MediaAddress:     p.address,
			MediaAddressType: kind,
			State:            p.state,
			StateCause:       p.cause,
			StartTime:        formatTime(p.start),
			StateChangeTime:  formatTime(p.changed),
			Actions:          s.actionsLocked(d, p),
		})
	}
	return out
}

// checkAddress validates a phone number or extension: 1 to 32 digits,
// with an optional leading +.
func checkAddress(field, address string) *cisco.Error {
	digits := strings.TrimPrefix(address, "+")
	if digits == "" || len(digits) > maxAddress || !isDigits(digits) {
		return errInvalidAddress(field, fmt.Sprintf("%s %q is not a number: give 1 to %d digits, optionally after a +.", field, clip(address), maxAddress))
	}
	return nil
}

// checkCallVariables validates call data and returns it in order:
// callVariable1..10 (names matched without regard to case), then the ECC
// variables user.<name> in the order given.
func checkCallVariables(vars []cisco.CallVariable) ([]cisco.CallVariable, *cisco.Error) {
	var std [10]*cisco.CallVariable
	var ecc []cisco.CallVariable
	for _, v := range vars {
		lower := strings.ToLower(v.Name)
		if n, ok := strings.CutPrefix(lower, "callvariable"); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i < 1 || i > 10 || !isDigits(n) {
				return nil, errCallData(fmt.Sprintf("%q is not a call variable; use callVariable1 to callVariable10, or user.<name> for an ECC variable.", clip(v.Name)))
			}
			if len(v.Value) > maxCallVariable {
				return nil, errCallData(fmt.Sprintf("%s is longer than %d bytes; shorten it.", v.Name, maxCallVariable))
			}
			std[i-1] = &cisco.CallVariable{Name: "callVariable" + n, Value: v.Value}
			continue
		}
		name, ok := strings.CutPrefix(v.Name, "user.")
		if !ok || name == "" || len(name) > maxECCName || strings.ContainsFunc(name, func(r rune) bool {
			return !(r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			return nil, errCallData(fmt.Sprintf("%q is not a call variable; use callVariable1 to callVariable10, or user.<name> (up to %d letters, digits, _ . -) for an ECC variable.", clip(v.Name), maxECCName))
		}
		if len(v.Value) > maxECCVariable {
			return nil, errCallData(fmt.Sprintf("%s is longer than %d bytes; shorten it.", v.Name, maxECCVariable))
		}
		ecc = append(ecc, v)
	}
	if len(ecc) > maxECCVariables {
		return nil, errCallData(fmt.Sprintf("A call carries at most %d ECC variables.", maxECCVariables))
	}
	var out []cisco.CallVariable
	for _, v := range std {
		if v != nil {
			out = append(out, *v)
		}
	}
	return append(out, ecc...), nil
}

func errCallData(text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidCallData, Text: text}
}

func errInvalidAddress(field, text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidAddress + ": " + field, Text: text}
}

func errInvalidState(text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageInvalidState, Text: text}
}

func errSignedOut(loginID string) *cisco.Error {
	return errInvalidState(fmt.Sprintf("Agent %s is signed out; sign in first.", loginID))
}

func errDialogNotFound(dialogID string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeDialogNotFound, Message: cisco.ErrorMessageInvalidDialog,
		Text: fmt.Sprintf("You are not on a call with id %q; check the CallID against your CallsStateChange events.", clip(dialogID))}
}
