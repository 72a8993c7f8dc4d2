package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"

	"maps"
	"slices"
	"strconv"
	"time"
)

// What a cluster stores of the calls, so that the node taking over goes on
// with them: CallRecord (a dialog) and SessionRecord (an agent's time on a
// call, in its AgentRecord).

// CallRecord is a call as a cluster stores it (Config.OnCallChange): the
// dialog, its participants, its call variables and wrap-up reason, and the
// calls it is tied to, by id.
type CallRecord struct {
	ID           string               `json:"id"`
	State        string               `json:"state"`
	From         string               `json:"from"`
	To           string               `json:"to"`
	CallType     string               `json:"callType"`
	DialedNumber string               `json:"dialedNumber,omitempty"`
	DNIS         string               `json:"dnis,omitempty"`
	Vars         []cisco.CallVariable `json:"vars,omitempty"`
	VarsFrom     string               `json:"varsFrom,omitempty"`
	WrapUpReason string               `json:"wrapUpReason,omitempty"`
	Parts        []PartRecord         `json:"parts"`
	ConsultOf    string               `json:"consultOf,omitempty"` // a consult leg: the held call it consults on
	Consult      string               `json:"consult,omitempty"`   // a held call: its consult leg
	Monitors     string               `json:"monitors,omitempty"`  // a monitor dialog: the call it listens to
	Monitored    string               `json:"monitored,omitempty"` // and the agent monitored
	Kind         CallKind             `json:"kind,omitempty"`
	Campaign     []cisco.CallVariable `json:"campaign,omitempty"`
	Reservation  bool                 `json:"reservation,omitempty"`
	// Gone reports a call that has ended and been forgotten: the store
	// deletes it. A gone record carries its ID only.
	Gone bool `json:"-"`
}

// PartRecord is a participant of a stored call.
type PartRecord struct {
	Address  string    `json:"address"`
	Agent    string    `json:"agent,omitempty"`
	State    string    `json:"state"`
	Cause    string    `json:"cause,omitempty"`
	CallType string    `json:"callType,omitempty"`
	Start    time.Time `json:"start"`
	Changed  time.Time `json:"changed"`
}

// SessionRecord is an agent's time on a call, from the first ring to the
// end of wrap-up, as its AgentRecord stores it; the zero value (Origin "")
// means none.
type SessionRecord struct {
	Origin       string      `json:"origin,omitempty"` // how the session began: routed, inside, placed, preview, progressive, supervision
	Phase        string      `json:"phase,omitempty"`  // ringing, talked, unanswered, wrapUp
	Before       cisco.State `json:"before,omitempty"` // the state before the call
	BeforeReason string      `json:"beforeReason,omitempty"`
	WrapUp       string      `json:"wrapUp,omitempty"` // the id of the call wrapped up
	NeedsData    bool        `json:"needsData,omitempty"`
	After        cisco.State `json:"after,omitempty"` // in wrap-up: the state it leads to
	AfterReason  string      `json:"afterReason,omitempty"`
	Dialing      string      `json:"dialing,omitempty"` // the id of a progressive call still dialing the customer
}

var (
	originNames = []string{originRouted: "routed", originInside: "inside", originPlaced: "placed",
		originPreview: "preview", originProgressive: "progressive", originSupervision: "supervision"}
	phaseNames = []string{phaseRinging: "ringing", phaseTalked: "talked", phaseUnanswered: "unanswered", phaseWrapUp: "wrapUp"}
)

// record returns the session's SessionRecord.
func (cs *callSession) record() SessionRecord {
	r := SessionRecord{
		Origin: originNames[cs.origin], Phase: phaseNames[cs.phase],
		Before: cs.before, BeforeReason: cs.beforeReason,
		NeedsData: cs.needsData, After: cs.after, AfterReason: cs.afterReason,
	}
	r.WrapUp, r.Dialing = idOf(cs.wrapUp), idOf(cs.dialing)
	return r
}

// restoreSession rebuilds a session from its record, with the calls it
// names found in dialogs; it reports false if the record is not one this
// simulator knows, or names a call that is not there.
func restoreSession(r SessionRecord, pending cisco.State, pendingCode string, dialogs map[string]*dialog) (*callSession, bool) {
	origin, phase := slices.Index(originNames, r.Origin), slices.Index(phaseNames, r.Phase)
	if origin < 0 || phase < 0 {
		return nil, false
	}
	cs := &callSession{
		origin: callOrigin(origin), phase: callPhase(phase),
		before: r.Before, beforeReason: r.BeforeReason, pending: pending, pendingCode: pendingCode,
		needsData: r.NeedsData, after: r.After, afterReason: r.AfterReason,
	}
	var ok bool
	if r.WrapUp != "" {
		if cs.wrapUp, ok = dialogs[r.WrapUp]; !ok {
			return nil, false
		}
	}
	if r.Dialing != "" {
		if cs.dialing, ok = dialogs[r.Dialing]; !ok {
			return nil, false
		}
	}
	if cs.wrapping() && cs.wrapUp == nil {
		return nil, false
	}
	return cs, true
}

// record returns the dialog's CallRecord.
func (d *dialog) record() CallRecord {
	r := CallRecord{
		ID: d.id, State: d.state, From: d.from, To: d.to, CallType: d.callType,
		DialedNumber: d.dialedNumber, DNIS: d.dnis, Vars: slices.Clone(d.vars), VarsFrom: d.varsFrom,
		WrapUpReason: d.wrapUpReason, Monitored: d.monitored,
		Kind: d.kind, Campaign: slices.Clone(d.campaign), Reservation: d.reservation,
		Parts: make([]PartRecord, len(d.parts)),
	}
	for i, p := range d.parts {
		r.Parts[i] = PartRecord{Address: p.address, Agent: p.agent, State: p.state, Cause: p.cause,
			CallType: p.callType, Start: p.start, Changed: p.changed}
	}
	r.ConsultOf, r.Consult, r.Monitors = idOf(d.consultOf), idOf(d.consult), idOf(d.monitors)
	return r
}

// matches reports whether r records d as it is now. It allocates nothing,
// as it runs for every call at the end of every change.
func (d *dialog) matches(r CallRecord) bool {
	if r.ID != d.id || r.State != d.state || r.From != d.from || r.To != d.to || r.CallType != d.callType ||
		r.DialedNumber != d.dialedNumber || r.DNIS != d.dnis || r.VarsFrom != d.varsFrom ||
		r.WrapUpReason != d.wrapUpReason || r.Monitored != d.monitored || r.Kind != d.kind ||
		r.Reservation != d.reservation || r.ConsultOf != idOf(d.consultOf) || r.Consult != idOf(d.consult) ||
		r.Monitors != idOf(d.monitors) || !slices.Equal(r.Vars, d.vars) || !slices.Equal(r.Campaign, d.campaign) ||
		len(r.Parts) != len(d.parts) {
		return false
	}
	for i, p := range d.parts {
		x := r.Parts[i]
		if x.Address != p.address || x.Agent != p.agent || x.State != p.state || x.Cause != p.cause ||
			x.CallType != p.callType || !x.Start.Equal(p.start) || !x.Changed.Equal(p.changed) {
			return false
		}
	}
	return true
}

// idOf returns the dialog's id, "" for none.
func idOf(d *dialog) string {
	if d == nil {
		return ""
	}
	return d.id
}

// saveCallsLocked hands OnCallChange the record of every call that changed
// since it was last saved, and a gone record for each call forgotten since.
func (s *Simulator) saveCallsLocked() {
	if s.onCallChange == nil {
		return
	}
	for id, d := range s.dialogs {
		if saved, ok := s.savedCalls[id]; !ok || !d.matches(saved) {
			r := d.record()
			s.savedCalls[id] = r
			s.onCallChange(r) // lock order: as OnAgentChange
		}
	}
	for id := range s.savedCalls {
		if _, ok := s.dialogs[id]; !ok {
			delete(s.savedCalls, id)
			s.onCallChange(CallRecord{ID: id, Gone: true})
		}
	}
}

// restoreCalls rebuilds the calls of records, skipping those that
// name another call not among them, and returns them by id.
func restoreCalls(records []CallRecord) map[string]*dialog {
	byID := map[string]*dialog{}
	for _, r := range records {
		d := &dialog{
			id: r.ID, state: r.State, from: r.From, to: r.To, callType: r.CallType,
			dialedNumber: r.DialedNumber, dnis: r.DNIS, vars: slices.Clone(r.Vars), varsFrom: r.VarsFrom,
			wrapUpReason: r.WrapUpReason, monitored: r.Monitored,
			kind: r.Kind, campaign: slices.Clone(r.Campaign), reservation: r.Reservation,
		}
		for _, p := range r.Parts {
			d.parts = append(d.parts, &participant{address: p.Address, agent: p.Agent, state: p.State, cause: p.Cause,
				callType: p.CallType, start: p.Start, changed: p.Changed})
		}
		byID[r.ID] = d
	}
	for _, r := range records {
		d := byID[r.ID]
		link := func(id string) (*dialog, bool) {
			if id == "" {
				return nil, true
			}
			e, ok := byID[id]
			return e, ok
		}
		var ok1, ok2, ok3 bool
		d.consultOf, ok1 = link(r.ConsultOf)
		d.consult, ok2 = link(r.Consult)
		d.monitors, ok3 = link(r.Monitors)
		if !ok1 || !ok2 || !ok3 {
			delete(byID, r.ID)
		}
	}
	return byID
}

// dialogNumber returns the number of a dialog id, 0 if it is not one.
func dialogNumber(id string) int64 {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// keepCallsLocked takes the restored calls whose agents all came back on
// them; the others are dropped, with the sessions that need them, and the
// agents of those sessions come back as if no call had survived.
func (s *Simulator) keepCallsLocked(dialogs map[string]*dialog) {
	onCall := func(agent string) bool {
		st, ok := s.agents[agent]
		return ok && st.call != nil && st.state != cisco.StateLogout
	}
	for id, d := range dialogs {
		for _, p := range d.parts {
			if p.agent != "" && (live(p.state) || p.state == callWrapUp) && !onCall(p.agent) {
				delete(dialogs, id)
				break
			}
		}
	}
	kept := func(d *dialog) bool { return d == nil || dialogs[d.id] == d }
	for id, st := range s.agents {
		cs := st.call
		if cs == nil {
			continue
		}
		keep := kept(cs.wrapUp) && kept(cs.dialing)
		if keep && !cs.wrapping() && cs.dialing == nil {
			keep = slices.ContainsFunc(slices.Collect(maps.Values(dialogs)), func(d *dialog) bool {
				p := d.part(id)
				return p != nil && live(p.state)
			})
		}
		if !keep {
			st.call = nil
		}
	}
	for _, d := range dialogs {
		if !kept(d.consultOf) || !kept(d.consult) {
			d.consultOf, d.consult = nil, nil
		}
		if !kept(d.monitors) {
			d.monitors = nil
		}
	}
	maps.Copy(s.dialogs, dialogs)
}

// restartTimersLocked starts again, after a takeover, the timers of the
// calls restored: rings, far ends answering, the dialer of a progressive
// call, and wrap-ups, each for its whole time.
func (s *Simulator) restartTimersLocked() {
	dialing := map[*dialog]string{} // progressive calls still dialing the customer: the agent reserved
	for id, st := range s.agents {
		cs := st.call
		switch {
		case cs == nil:
		case cs.dialing != nil:
			dialing[cs.dialing] = id
		case cs.wrapping():
			s.startWrapUpTimerLocked(s.dir.byLoginID[id], st, cs)
		}
	}
	for _, d := range s.sortedLocked() {
		for _, p := range d.parts {
			switch agent := dialing[d]; {
			case p.state != callAlerting, d.reservation && p.agent != "":
				// Nothing runs: a preview reservation waits for the agent.
			case agent != "" && p.agent == "":
				st := s.agents[agent]
				s.dialCustomerLocked(s.dir.byLoginID[agent], st, st.call, d, p)
			default:
				s.ringLocked(d, p)
			}
		}
	}
}
