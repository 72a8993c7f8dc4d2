package cisco

import (
	"context"
	"slices"
	"time"
)

// Notification is one change the contact center reports after sign-in, as
// Finesse pushes a User or Dialogs update over XMPP. Exactly one of User,
// Calls and Failure is set.
type Notification struct {
	User    *UserChange  // an agent's User changed
	Calls   *CallsChange // an agent's dialogs changed
	Failure *Failure     // a request the contact center took up failed later
	// RequestID is the id of the request that caused the change (see
	// WithRequestID), as Finesse echoes its requestId header; "" for a change
	// nobody asked for, such as a timer or a call from outside.
	RequestID string
	// RequestedBy is the loginId of the agent or supervisor whose request
	// caused the change; "" when nobody's did.
	RequestedBy string
}

// Failure is an error that Finesse reports after it accepted the request,
// in an update of the agent's Dialogs with apiErrors: a call operation
// that fails at the switch (Call Operation Failure).
type Failure struct {
	LoginID string // the agent whose request failed
	Error   *Error
}

// UserChange carries an agent's User after a change.
type UserChange struct {
	User User
	// Supervisors are the loginIds of the signed-in supervisors of the
	// agent's team: the audience of Finesse's team feed.
	Supervisors []string
	// Changed names the fields of User that differ from the agent's
	// previous notification (or sign-in), in the order of changedFields:
	// a widget tells a transition ("state") from a pending-state update
	// ("pendingState"). Empty when the notification answers a request that
	// changed nothing.
	Changed []string
}

// The fields of User that Changed may name, in order.
var changedFields = []string{"state", "reasonCodeId", "pendingState", "extension"}

// shown is what the agent's apps were last told of its state.
type shown struct {
	state   State
	reason  string
	pending string
	ext     string
}

func shownOf(st *agentState) shown {
	return shown{state: st.state, reason: st.reasonCodeID, pending: pendingState(st), ext: st.extension}
}

// changes lists the fields that differ between two shown states, never nil.
func changes(was, now shown) []string {
	diff := []bool{was.state != now.state, was.reason != now.reason, was.pending != now.pending, was.ext != now.ext}
	out := []string{}
	for i, d := range diff {
		if d {
			out = append(out, changedFields[i])
		}
	}
	return out
}

// CallsChange carries all of an agent's current dialogs after one of them
// changed. A dialog that has just ended for the agent is included one last
// time, with the agent's participant DROPPED; after that it is gone, as
// after Finesse's DELETE.
type CallsChange struct {
	LoginID string
	Dialogs []Dialog
}

// Timer is the part of *time.Timer that the simulator uses.
type Timer interface{ Stop() bool }

type requestIDKey struct{}

// WithRequestID returns a context that carries the id of the bus request
// being served, so that the notifications it causes carry it as
// Notification.RequestID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// origin is who caused the changes being made under the lock.
type origin struct {
	requestID string
	by        string
}

// subscriber is one Subscribe callback.
type subscriber struct {
	id int
	f  func(Notification)
}

// Subscribe delivers every change after sign-in to f, in order. f runs with
// the simulator's mutex held: it must not block, and must not call the
// simulator (nor cancel). The sign-in itself is not notified.
func (s *Simulator) Subscribe(f func(Notification)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSub++
	id := s.nextSub
	s.subs = append(s.subs, subscriber{id: id, f: f})
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.subs = slices.DeleteFunc(s.subs, func(sub subscriber) bool { return sub.id == id })
	}
}

// lock takes the mutex for a change requested by `by` with ctx's request
// id; the returned function releases it.
func (s *Simulator) lock(ctx context.Context, by string) (unlock func()) {
	s.mu.Lock()
	s.cur = origin{requestID: requestID(ctx), by: by}
	s.tick++
	return func() {
		s.saveLocked()
		s.cur = origin{}
		s.mu.Unlock()
	}
}

func (s *Simulator) emitLocked(n Notification) {
	n.RequestID, n.RequestedBy = s.cur.requestID, s.cur.by
	for _, sub := range s.subs {
		sub.f(n)
	}
}

// emitUserLocked notifies the agent's User as it is now.
func (s *Simulator) emitUserLocked(a *dirAgent, st *agentState, now time.Time) {
	cur := shownOf(st)
	changed := changes(st.shown, cur)
	st.shown = cur
	s.emitLocked(Notification{User: &UserChange{User: s.userLocked(a, st, now), Supervisors: s.supervisorsLocked(a), Changed: changed}})
}

// supervisorsLocked returns the signed-in supervisors of a's team.
func (s *Simulator) supervisorsLocked(a *dirAgent) []string {
	var ids []string
	for _, sup := range s.dir.agents {
		if !sup.supervisor || !supervises(sup, a.teamID) {
			continue
		}
		if st, ok := s.agents[sup.loginID]; ok && st.state != StateLogout {
			ids = append(ids, sup.loginID)
		}
	}
	return ids
}

// supervises reports whether sup supervises team.
func supervises(sup *dirAgent, team string) bool {
	return slices.ContainsFunc(sup.supervised, func(t Team) bool { return t.ID == team })
}

// afterFunc starts a timer that runs f under the mutex, unless stopped or
// superseded first: gen must still equal *current when it fires.
func (s *Simulator) afterFuncLocked(d time.Duration, current *int, f func(now time.Time)) Timer {
	*current++
	gen := *current
	return s.afterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if *current != gen {
			return // stopped or replaced while waiting for the mutex
		}
		*current++
		s.cur = origin{}
		s.tick++
		f(s.now())
		s.saveLocked()
	})
}
