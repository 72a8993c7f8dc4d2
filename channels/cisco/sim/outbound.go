package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"

	"fmt"
	"strings"
	"time"
)

// CallKind says how a simulated call reaches an agent: routed to it from
// outside, or dialed by an Outbound Option campaign.
type CallKind string

// The kinds of simulated call. The zero value is KindInbound.
const (
	// KindInbound is a call from outside routed to the agent (ACD_IN).
	KindInbound CallKind = "inbound"
	// KindPreview is a preview campaign: the agent is reserved
	// (RESERVED_OUTBOUND_PREVIEW) and sees the customer's record first; it
	// accepts (ACCEPT: its phone dials the customer), rejects (REJECT: skip
	// the customer for now) or closes it (CLOSE: never call the customer
	// again). callType OUTBOUND_PREVIEW.
	KindPreview CallKind = "preview"
	// KindProgressive is a progressive or predictive campaign: the dialer
	// reserves the agent (RESERVED_OUTBOUND), dials the customer first, and
	// rings the agent only once the customer answers. callType OUTBOUND.
	KindProgressive CallKind = "progressive"
)

// ParseCallKind reads a kind as the simulator's call sources give it: ""
// is KindInbound; anything but inbound, preview and progressive is Invalid
// Input.
func ParseCallKind(s string) (CallKind, error) {
	switch k := CallKind(s); k {
	case "":
		return KindInbound, nil
	case KindInbound, KindPreview, KindProgressive:
		return k, nil
	}
	return "", &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: msgInvalidKind,
		Text: fmt.Sprintf("kind %q is not a kind of call; give inbound (the default), preview or progressive.", clip.Short(s))}
}

// campaign reports whether k is dialed by a campaign.
func (k CallKind) campaign() bool { return k == KindPreview || k == KindProgressive }

// The callTypes of Outbound Option calls, and the state of an accepted
// preview reservation.
const (
	typeOutbound        = "OUTBOUND"
	typeOutboundPreview = "OUTBOUND_PREVIEW"
	callAccepted        = "ACCEPTED"
)

const msgInvalidKind = "Invalid kind specified for call"

// campaignVariables are Outbound Option's call variables on CCE, in the order
// a campaign call lists them: Finesse's BA* media properties.
var campaignVariables = []string{"BACampaign", "BAAccountNumber", "BAResponse", "BAStatus", "BADialedListID", "BATimeZone", "BABuddyName"}

// splitCampaignVariables takes the BA* variables (names matched without
// regard to case) out of vars, checked and named as Finesse names them. A
// BA* variable is campaign data: only a campaign call may carry it.
func splitCampaignVariables(kind CallKind, vars []cisco.CallVariable) (ba, rest []cisco.CallVariable, err *cisco.Error) {
	for _, v := range vars {
		name := ""
		for _, n := range campaignVariables {
			if strings.EqualFold(v.Name, n) {
				name = n
			}
		}
		switch {
		case name == "":
			rest = append(rest, v)
			continue
		case !kind.campaign():
			return nil, nil, errCallData(fmt.Sprintf("%s is campaign data; give it on a preview or progressive call, or leave it out.", name))
		case len(v.Value) > maxCallVariable:
			return nil, nil, errCallData(fmt.Sprintf("%s is longer than %d bytes; shorten it.", name, maxCallVariable))
		}
		ba = append(ba, cisco.CallVariable{Name: name, Value: v.Value})
	}
	return ba, rest, nil
}

// campaignVariablesOf renders every BA* variable of a campaign call, those
// not given empty, as callVariable1..10 are.
func campaignVariablesOf(d *dialog) []cisco.CallVariable {
	if !d.kind.campaign() {
		return nil
	}
	out := make([]cisco.CallVariable, 0, len(campaignVariables))
	for _, name := range campaignVariables {
		v := cisco.CallVariable{Name: name}
		for _, cv := range d.campaign {
			if cv.Name == name {
				v.Value = cv.Value
			}
		}
		out = append(out, v)
	}
	return out
}

// reserveLocked starts a campaign call for a READY agent who is not on a
// call: a preview reservation, or a progressive call that dials the
// customer first. Ring has checked the call and the agent.
func (s *Simulator) reserveLocked(a *dirAgent, st *agentState, call IncomingCall, ba, vars []cisco.CallVariable, now time.Time) (*dialog, error) {
	if st.state != cisco.StateReady {
		return nil, errInvalidState(fmt.Sprintf("A campaign reserves only a READY agent, and agent %s is %s; make the agent READY first.", a.loginID, st.state))
	}
	cs := newCallSession(st, originProgressive)
	st.call = cs
	if call.Kind == KindPreview {
		cs.origin = originPreview
		d := s.newDialogLocked(typeOutboundPreview, call.From, st.extension)
		d.dnis, d.dialedNumber, d.vars, d.kind, d.campaign = call.DNIS, call.From, vars, call.Kind, ba
		d.state, d.reservation = callAlerting, true
		s.joinLocked(d, st.extension, a.loginID, callAlerting, now)
		s.commitLocked(now, d)
		return d, nil
	}
	// The dialer dials the customer; the agent, reserved meanwhile, is not
	// on the call until the customer answers.
	d := s.newDialogLocked(typeOutbound, call.From, st.extension)
	d.dnis, d.dialedNumber, d.vars, d.kind, d.campaign = call.DNIS, call.From, vars, call.Kind, ba
	d.state = callInitiated
	cs.dialing = d
	s.setStateLocked(a, st, cisco.StateReservedOutbound, noReasonCode, now)
	customer := s.joinLocked(d, call.From, "", callAlerting, now)
	s.dialCustomerLocked(a, st, cs, d, customer)
	return d, nil
}

// dialCustomerLocked starts the dialer's timer on a progressive call's
// customer: the customer answers after AnswerDelay (and the agent's phone
// rings), or is busy at once, or does not answer within RingTimeout.
func (s *Simulator) dialCustomerLocked(a *dirAgent, st *agentState, cs *callSession, d *dialog, customer *participant) {
	wait, answers := s.answerDelay, true
	switch {
	case strings.HasSuffix(customer.address, busySuffix):
		answers = false
	case strings.HasSuffix(customer.address, noAnswerSuffix):
		wait, answers = s.ringTimeout, false
	}
	customer.timer = s.afterFuncLocked(wait, &customer.timerGen, func(now time.Time) {
		s.touchLocked(a.loginID, st)
		if st.call != cs || cs.dialing != d {
			// The reservation ended first (the agent left it, or was
			// signed out): the dialer hangs up on the customer.
			s.hangUpLocked(d, customer, now)
			return
		}
		if !answers {
			s.hangUpLocked(d, customer, now)
			s.endReservationLocked(a, st, now)
			return
		}
		cs.dialing = nil
		s.setLocked(customer, callActive, "", now)
		d.state = callAlerting
		p := s.joinLocked(d, st.extension, a.loginID, callAlerting, now)
		s.ringLocked(d, p)
		s.commitLocked(now, d)
	})
}

// hangUpLocked ends a campaign call that never reached an agent.
func (s *Simulator) hangUpLocked(d *dialog, customer *participant, now time.Time) {
	s.stopLocked(customer)
	s.setLocked(customer, callDropped, "", now)
	d.state = callDropped
	s.forgetLocked(d)
}

// endReservationLocked releases an agent whose progressive call never
// reached it, to the state it was in or asked for meanwhile.
func (s *Simulator) endReservationLocked(a *dirAgent, st *agentState, now time.Time) {
	cs := st.call
	st.call = nil
	state, reason := cs.before, cs.beforeReason
	if cs.pending != "" {
		state, reason = cs.pending, cs.pendingCode
	}
	s.setStateLocked(a, st, state, reason, now)
}

// leaveReservationLocked reports whether the agent is reserved for a
// progressive call still dialing the customer, and if so cancels it: on
// CCE the agent leaves RESERVED_OUTBOUND by going READY or NOT_READY, and
// the state change then applies as from RESERVED_OUTBOUND.
func (s *Simulator) leaveReservationLocked(st *agentState, now time.Time) bool {
	cs := st.call
	if cs == nil || cs.dialing == nil {
		return false
	}
	d := cs.dialing
	for _, p := range d.parts {
		s.hangUpLocked(d, p, now)
	}
	st.call = nil
	return true
}

// acceptLocked accepts a preview reservation: Finesse shows the dialog
// ACCEPTED, then the agent's phone dials the customer on the same dialog.
func (s *Simulator) acceptLocked(d *dialog, p *participant, now time.Time) {
	d.reservation = false
	d.state = callAccepted
	s.setLocked(p, callAccepted, "", now)
	s.emitCallsLocked(p.agent, d) // not settled: the agent stays reserved until its phone dials
	d.state = callInitiated
	s.setLocked(p, callInitiated, "", now)
	s.dialLocked(d, d.from, "", now)
}
