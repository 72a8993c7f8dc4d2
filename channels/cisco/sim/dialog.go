package sim

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Dialogs: the calls of the simulator, their participants, and how they
// are rendered as Finesse Dialogs for each viewer.

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

// The first dialog id, and the number a call from outside dials when its
// DNIS is not given.
const (
	firstDialogID = 16777216
	defaultDNIS   = "8005550100"
)

// The stateCauses of a failed participant.
const (
	causeBusy  = "BUSY"
	causeOther = "OTHER"
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

// live reports whether a participant in state is still on the call.
func live(state string) bool {
	switch state {
	case callInitiating, callInitiated, callAlerting, callActive, callHeld, callFailed:
		return true
	}
	return false
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
		if st, _ := s.agentLocked(p.agent); st.call != nil {
			st.call.talked()
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
		st, _ := s.agentLocked(p.agent)
		st.call.wrapUp = d
	}
	s.setLocked(p, state, "", now)
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
