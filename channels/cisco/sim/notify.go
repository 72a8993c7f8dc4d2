package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"

	"context"
	"slices"
	"time"
)

// shown is what the agent's apps were last told of its state.
type shown struct {
	state   cisco.State
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
			out = append(out, cisco.ChangedFields[i])
		}
	}
	return out
}

// origin is who caused the changes being made under the lock.
type origin struct {
	requestID string
	by        string
}

// Subscribe delivers every change after sign-in to f, in order. f runs with
// the simulator's mutex held: it must not block, and must not call the
// simulator (nor cancel). The sign-in itself is not notified.
func (s *Simulator) Subscribe(f func(cisco.Notification)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.subs.Add(f)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.subs.Remove(id)
	}
}

// lock takes the mutex for a change requested by `by` with ctx's request
// id; the returned function releases it.
func (s *Simulator) lock(ctx context.Context, by string) (unlock func()) {
	s.mu.Lock()
	s.cur = origin{requestID: cisco.RequestIDOf(ctx), by: by}
	s.tick++
	return func() {
		s.saveLocked()
		s.cur = origin{}
		s.mu.Unlock()
	}
}

func (s *Simulator) emitLocked(n cisco.Notification) {
	n.RequestID, n.RequestedBy = s.cur.requestID, s.cur.by
	// lock order: connector (2), then whatever the subscribers take
	// (workspaces 4, broker 5); see docs/locking.md.
	s.subs.Deliver(n)
}

// emitUserLocked notifies the agent's User as it is now.
func (s *Simulator) emitUserLocked(a *dirAgent, st *agentState, now time.Time) {
	cur := shownOf(st)
	changed := changes(st.shown, cur)
	st.shown = cur
	s.emitLocked(cisco.Notification{User: &cisco.UserChange{User: s.userLocked(a, st, now), Supervisors: s.supervisorsLocked(a), Changed: changed}})
}

// supervisorsLocked returns the signed-in supervisors of a's team, in
// directory order.
func (s *Simulator) supervisorsLocked(a *dirAgent) []string {
	var ids []string
	for _, sup := range s.dir.supervisors[a.teamID] {
		if st, ok := s.agents[sup.loginID]; ok && st.state != cisco.StateLogout {
			ids = append(ids, sup.loginID)
		}
	}
	return ids
}

// supervises reports whether sup supervises team.
func supervises(sup *dirAgent, team string) bool {
	return slices.ContainsFunc(sup.supervised, func(t cisco.Team) bool { return t.ID == team })
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
