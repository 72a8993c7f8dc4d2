package finesse

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// agentSession is a signed-in agent: its credentials, kept in memory until
// sign-out, its XMPP session on one side, its last User and dialogs as
// Finesse's notifications left them, and the request it has in flight.
type agentSession struct {
	c       *Connector
	loginID string
	ext     string // the extension the agent signed in on
	log     *zap.Logger

	slot chan struct{} // one request in flight: Finesse queues an object's requests
	kick chan struct{} // asks the monitor to look at the side again (cap 1)
	stop chan struct{} // closed by end

	mu      sync.Mutex // guards the fields below
	creds   credentials
	side    *side
	xmpp    *xmppSession
	gen     int // of xmpp: stanzas of an older connection are ignored
	user    cisco.User
	dialogs []cisco.Dialog
	// dialogsApplied counts the dialogs updates applied: a read of the
	// dialogs that some update overtook is older than what is shown.
	dialogsApplied uint64
	waiter         *waiter
	prefetch       map[string]*future
	team           map[string]cisco.User // a supervisor's team members not signed in here, as last pushed
	ended          bool
}

// waiter is a request waiting for the notification that shows its effect.
type waiter struct {
	requestID   string // the bus request's id, sent as requestId
	requestedBy string // who asked: the agent, or its supervisor
	// user and dialogs tell whether an update shows the request's effect;
	// nil for a request that does not change that object.
	user    func(u cisco.User) bool
	dialogs func(u Update, before []cisco.Dialog) bool
	// silent keeps the matching User update from the subscribers: the
	// sign-in's outcome is its return value, which the handlers publish.
	silent bool
	// failureOK makes a Call Operation Failure a success of the request,
	// delivered as a Notification.Failure (a transfer to a busy number).
	failureOK bool
	done      chan outcome // buffered: completed once
}

// outcome is how a request ended.
type outcome struct {
	user    cisco.User
	changed []string
	dialog  *cisco.Dialog // the dialog that matched, for MakeCall and the supervisor's calls
	err     error
}

// complete ends w with o, once.
func (w *waiter) complete(o outcome) {
	select {
	case w.done <- o:
	default:
	}
}

// future is a read started ahead of its use: the sign-in starts the reads
// of its events at once, in parallel, and the handlers' calls take them.
type future struct {
	done chan struct{}
	val  any
	err  error
}

func newSession(c *Connector, sd *side, loginID, ext string, creds credentials, u cisco.User) *agentSession {
	return &agentSession{
		c:       c,
		loginID: loginID,
		ext:     ext,
		log:     c.log.With(zap.String("agent", loginID)),
		slot:    make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		creds:   creds,
		side:    sd,
		user:    u,
	}
}

// currentSide returns the side the session is on.
func (s *agentSession) currentSide() *side {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.side
}

// credentials returns the agent's credentials and side for a request.
func (s *agentSession) access() (credentials, *side) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds, s.side
}

// connect opens the agent's XMPP session on sd: <loginId>@<xmppDomain of
// sd>, presence included. It replaces the session's connection.
func (s *agentSession) connect(ctx context.Context, sd *side) error {
	domain := sd.domain()
	if domain == "" {
		if err := s.c.refresh(ctx, sd); err != nil {
			return err
		}
		if domain = sd.domain(); domain == "" {
			return unavailable("Finesse " + sd.name + " did not say its XMPP domain (SystemInfo xmppDomain); try again later")
		}
	}
	s.mu.Lock()
	creds := credentials{username: s.loginID, password: s.creds.password}
	gen := s.gen + 1
	s.mu.Unlock()
	x, err := dialXMPP(ctx, xmppConfig{
		url:          sd.xmppURL,
		domain:       domain,
		side:         sd.name,
		creds:        creds,
		roots:        s.c.cfg.RootCAs,
		pingInterval: s.c.cfg.PingInterval,
		onStanza:     func(b []byte) { s.handle(gen, b) },
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		x.Close()
		return unavailable("the agent signed out")
	}
	old := s.xmpp
	s.xmpp, s.gen, s.side = x, gen, sd
	teams := teamNodes(s.user)
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	// A supervisor's team feed: Finesse publishes the states of a team's
	// agents on the team's node to the sessions that subscribe to it.
	for _, node := range teams {
		if err := x.subscribe(pubsubDomain(sd), node); err != nil {
			s.log.Info("subscribe to a team node", zap.String("node", node), zap.Error(err))
		}
	}
	return nil
}

// teamNodes returns the team nodes of the teams u supervises.
func teamNodes(u cisco.User) []string {
	if !u.IsSupervisor {
		return nil
	}
	var nodes []string
	for _, t := range u.Teams {
		nodes = append(nodes, "/finesse/api/Team/"+t.ID+"/Users")
	}
	return nodes
}

// pubsubDomain returns the JID of sd's pubsub service.
func pubsubDomain(sd *side) string {
	if info, _ := sd.systemInfo(); info.XMPPPubSubDomain != "" {
		return info.XMPPPubSubDomain
	}
	return "pubsub." + sd.domain()
}

// end closes the session's XMPP session and forgets the credentials. It
// returns at once; the connection closes behind it.
func (s *agentSession) end() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.creds = credentials{}
	s.prefetch = nil
	x, sd, teams := s.xmpp, s.side, teamNodes(s.user)
	close(s.stop)
	s.mu.Unlock()
	if x != nil {
		// Finesse keeps the subscriptions a session leaves behind.
		for _, node := range teams {
			_ = x.unsubscribe(pubsubDomain(sd), node)
		}
		x.Close()
	}
}

// handle reads one stanza of the XMPP connection gen and applies it.
func (s *agentSession) handle(gen int, data []byte) {
	u, err := ParseNotification(data)
	if err != nil {
		if err != ErrNotNotification {
			s.c.unparsed.Add(1)
			s.log.Warn("a Finesse notification could not be read; it is ignored", zap.Error(err), zap.Int("bytes", len(data)))
		}
		return
	}
	if u.SystemInfo != nil {
		s.c.setInfo(s.currentSide(), *u.SystemInfo)
		return
	}
	s.apply(gen, u, false)
}

// apply applies an update, pushed (gen > 0) or read back by a resync
// (synthetic: delivered only when it changes something), delivers its
// notifications, then completes the waiter it satisfies.
func (s *agentSession) apply(gen int, u Update, synthetic bool) {
	s.c.deliverMu.Lock()
	s.mu.Lock()
	if s.ended || (gen != 0 && gen != s.gen) {
		s.mu.Unlock()
		s.c.deliverMu.Unlock()
		return
	}
	w := s.waiter
	ours := w != nil && (u.RequestID == "" || u.RequestID == w.requestID)
	var (
		notes    []cisco.Notification
		done     *outcome
		signOut  bool
		userNode = "/finesse/api/User/" + s.loginID
	)
	switch {
	case len(u.Errors) > 0:
		e := u.Errors[0]
		switch {
		case ours && !(w.failureOK && e.Type == cisco.ErrorTypeCallOperationFailure):
			done = &outcome{err: e}
		case ours:
			notes = append(notes, cisco.Notification{Failure: &cisco.Failure{LoginID: s.loginID, Error: e}, RequestID: w.requestID, RequestedBy: w.requestedBy})
			done = &outcome{}
		default:
			notes = append(notes, cisco.Notification{Failure: &cisco.Failure{LoginID: s.loginID, Error: e}, RequestID: u.RequestID})
		}
	case u.User != nil && strings.EqualFold(u.Node, userNode):
		prev := s.user
		s.user = *u.User
		changed := changedFields(prev, s.user)
		n := cisco.Notification{
			User:      &cisco.UserChange{User: withAgentTime(s.user, timeNow()), Supervisors: s.c.supervisorsOf(s.user.TeamID), Changed: changed},
			RequestID: u.RequestID,
		}
		matched := w != nil && w.user != nil && ((u.RequestID != "" && u.RequestID == w.requestID) || (u.RequestID == "" && w.user(s.user)))
		if matched {
			n.RequestID, n.RequestedBy = w.requestID, w.requestedBy
			done = &outcome{user: s.user, changed: changed}
		}
		if !(matched && w.silent) && (!synthetic || len(changed) > 0) {
			notes = append(notes, n)
		}
		signOut = s.user.State == cisco.StateLogout && !(matched && w.silent)
	case u.User != nil && strings.HasPrefix(u.Node, "/finesse/api/Team/"):
		// A team member's state, to this supervisor. An agent signed in
		// here is published by its own session, to every supervisor.
		member := *u.User
		if s.c.session(member.LoginID) == nil && member.LoginID != "" {
			if s.team == nil {
				s.team = map[string]cisco.User{}
			}
			prev, seen := s.team[member.LoginID]
			s.team[member.LoginID] = member
			changed := changedFields(prev, member)
			if !seen {
				changed = []string{}
			}
			notes = append(notes, cisco.Notification{
				User:      &cisco.UserChange{User: withAgentTime(member, timeNow()), Supervisors: []string{s.loginID}, Changed: changed},
				RequestID: u.RequestID,
			})
		}
	case strings.EqualFold(u.Node, userNode+"/Dialogs"):
		before := append([]cisco.Dialog{}, s.dialogs...)
		s.applyDialogsLocked(u)
		shown := append([]cisco.Dialog{}, s.dialogs...)
		s.pruneDroppedLocked()
		// A dialogs update that changes nothing (the DELETE of a dialog
		// already shown ended) is not delivered again.
		n := cisco.Notification{Calls: &cisco.CallsChange{LoginID: s.loginID, Dialogs: shown}, RequestID: u.RequestID}
		if w != nil && w.dialogs != nil && ((u.RequestID != "" && u.RequestID == w.requestID) || (u.RequestID == "" && w.dialogs(u, before))) {
			n.RequestID, n.RequestedBy = w.requestID, w.requestedBy
			done = &outcome{user: s.user, dialog: matchedDialog(u, shown)}
		}
		if !reflect.DeepEqual(before, shown) {
			notes = append(notes, n)
		}
	}
	if signOut {
		// Signed out by Finesse, a supervisor or the agent: the session
		// ends with this notification, and SignedInAgents no longer
		// lists the agent once it is delivered.
		s.c.removeSession(s)
	}
	s.mu.Unlock()
	for _, n := range notes {
		s.c.deliverLocked(n)
	}
	s.c.deliverMu.Unlock()
	if done != nil {
		w.complete(*done)
	}
	if signOut {
		go s.end()
	}
}

// matchedDialog returns the dialog an update names, as now shown.
func matchedDialog(u Update, shown []cisco.Dialog) *cisco.Dialog {
	for _, d := range u.Dialogs {
		for i := range shown {
			if shown[i].ID == d.ID {
				return &shown[i]
			}
		}
	}
	return nil
}

// applyDialogsLocked applies a Dialogs update to s.dialogs: a POST or PUT
// adds or replaces its dialogs, a DELETE removes the dialog of its source,
// shown one last time with the agent DROPPED if it was not already.
func (s *agentSession) applyDialogsLocked(u Update) {
	s.dialogsApplied++
	if u.Event == "DELETE" {
		// The dialog of the source, or those the update lists in their
		// last state.
		ids := []string{lastSegment(u.Source)}
		for _, d := range u.Dialogs {
			ids = append(ids, d.ID)
		}
		for i := range s.dialogs {
			if !slices.Contains(ids, s.dialogs[i].ID) {
				continue
			}
			// A copy: the dialogs shown before must not change.
			ps := slices.Clone(s.dialogs[i].Participants)
			for j := range ps {
				if ps[j].MediaAddress == s.ext {
					ps[j].State, ps[j].Actions = "DROPPED", []string{}
				}
			}
			s.dialogs[i].Participants = ps
		}
		return
	}
	for _, d := range u.Dialogs {
		if i := slices.IndexFunc(s.dialogs, func(x cisco.Dialog) bool { return x.ID == d.ID }); i >= 0 {
			s.dialogs[i] = d
		} else {
			s.dialogs = append(s.dialogs, d)
		}
	}
}

// pruneDroppedLocked forgets the dialogs the agent has left: shown once
// with the agent DROPPED, they are gone after, as after Finesse's DELETE.
func (s *agentSession) pruneDroppedLocked() {
	s.dialogs = slices.DeleteFunc(s.dialogs, func(d cisco.Dialog) bool {
		return participantState(d, s.ext) == "DROPPED" || d.State == "DROPPED"
	})
}

// participantState returns the state of ext's participant in d, or "".
func participantState(d cisco.Dialog, ext string) string {
	for _, p := range d.Participants {
		if p.MediaAddress == ext {
			return p.State
		}
	}
	return ""
}

// changedFields names the fields of cisco.ChangedFields that differ.
func changedFields(a, b cisco.User) []string {
	out := []string{}
	if a.State != b.State {
		out = append(out, "state")
	}
	if a.ReasonCodeID != b.ReasonCodeID {
		out = append(out, "reasonCodeId")
	}
	if a.PendingState != b.PendingState {
		out = append(out, "pendingState")
	}
	if a.Extension != b.Extension {
		out = append(out, "extension")
	}
	return out
}

// request runs one request of the agent: it waits for the agent's slot,
// registers w, sends, and waits for the notification that shows the
// effect. Without one in ConfirmTimeout, it reads the agent's objects
// back; if they show the effect the request succeeds, else it is
// Unavailable.
func (s *agentSession) request(ctx context.Context, w *waiter, send func(ctx context.Context, creds credentials, sd *side) error) (outcome, error) {
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return outcome{}, ctx.Err()
	case <-s.stop:
		return outcome{}, unavailable("the agent signed out")
	}
	defer func() { <-s.slot }()
	return s.requestHeld(ctx, w, send)
}

// requestHeld is request for a caller that holds the agent's slot.
func (s *agentSession) requestHeld(ctx context.Context, w *waiter, send func(ctx context.Context, creds credentials, sd *side) error) (outcome, error) {
	w.done = make(chan outcome, 1)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return outcome{}, unavailable("the agent signed out")
	}
	creds, sd := s.creds, s.side
	if status, _ := sd.state(); status != statusInService {
		s.mu.Unlock()
		return outcome{}, unavailable("Finesse " + sd.name + " is not in service; try again later")
	}
	s.waiter = w
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.waiter == w {
			s.waiter = nil
		}
		s.mu.Unlock()
	}()
	if err := send(cisco.WithRequestID(ctx, w.requestID), creds, sd); err != nil {
		return outcome{}, err
	}
	t := time.NewTimer(s.c.cfg.ConfirmTimeout)
	defer t.Stop()
	select {
	case o := <-w.done:
		return o, o.err
	case <-ctx.Done():
		return outcome{}, ctx.Err()
	case <-t.C:
	}
	s.resync(ctx)
	select {
	case o := <-w.done:
		return o, o.err
	default:
		return outcome{}, unavailable("Finesse took the request up but did not confirm it; check the agent's state and try again")
	}
}

// resync reads the agent's User and dialogs back from its side and
// publishes what changed since the notifications last said.
func (s *agentSession) resync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.c.cfg.RequestTimeout)
	defer cancel()
	creds, sd := s.access()
	if e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+s.loginID); err == nil {
		u := userOf(e)
		s.apply(0, Update{Node: "/finesse/api/User/" + s.loginID, Event: "PUT", User: &u}, true)
	} else {
		s.log.Info("resynchronize the agent's User", zap.Error(err))
	}
	read := s.dialogsRead()
	if e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+s.loginID+"/Dialogs"); err == nil {
		s.resyncDialogs(dialogsOf(e), read)
	}
}

// resyncDialogs replaces the agent's dialogs with those Finesse lists, and
// publishes them if they differ; a dialog that is gone is shown once with
// the agent DROPPED.
//
// read was the count of dialogs updates applied when the read was sent
// (dialogsRead): if a notification was applied since, it is at least as
// new as the read, which is dropped rather than shown over it.
func (s *agentSession) resyncDialogs(now []cisco.Dialog, read uint64) {
	s.mu.Lock()
	if s.dialogsApplied != read {
		s.mu.Unlock()
		return
	}
	var gone []string
	for _, d := range s.dialogs {
		if !slices.ContainsFunc(now, func(x cisco.Dialog) bool { return x.ID == d.ID }) {
			gone = append(gone, d.ID)
		}
	}
	s.mu.Unlock()
	node := "/finesse/api/User/" + s.loginID + "/Dialogs"
	for _, id := range gone {
		s.apply(0, Update{Node: node, Event: "DELETE", Source: "/finesse/api/Dialog/" + id}, true)
	}
	s.apply(0, Update{Node: node, Event: "PUT", Dialogs: now}, true)
}

// dialogsRead returns the count of dialogs updates applied, for a read of
// the dialogs about to be sent (resyncDialogs).
func (s *agentSession) dialogsRead() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogsApplied
}

// currentDialogs returns the agent's dialogs.
func (s *agentSession) currentDialogs() []cisco.Dialog {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.dialogs)
	if out == nil {
		out = []cisco.Dialog{}
	}
	return out
}

// currentUser returns the agent's User, with agentTime.
func (s *agentSession) currentUser() cisco.User {
	s.mu.Lock()
	u := s.user
	s.mu.Unlock()
	return withAgentTime(u, time.Now())
}

// withAgentTime sets agentTime, the time in the current state: mm:ss, or
// hh:mm:ss from an hour.
func withAgentTime(u cisco.User, now time.Time) cisco.User {
	t, err := time.Parse(cisco.TimeFormat, u.StateChangeTime)
	if err != nil {
		return u
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	secs := int(d / time.Second)
	if secs >= 3600 {
		u.AgentTime = fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	} else {
		u.AgentTime = fmt.Sprintf("%02d:%02d", secs/60, secs%60)
	}
	return u
}

// startPrefetch starts a read whose result the next call of key takes.
func (s *agentSession) startPrefetch(key string, read func(ctx context.Context) (any, error)) {
	f := &future{done: make(chan struct{})}
	s.mu.Lock()
	if s.prefetch == nil {
		s.prefetch = map[string]*future{}
	}
	s.prefetch[key] = f
	s.mu.Unlock()
	go func() {
		defer close(f.done)
		ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.RequestTimeout)
		defer cancel()
		f.val, f.err = read(ctx)
	}()
}

// takePrefetch returns the read started for key, once, or nil.
func (s *agentSession) takePrefetch(key string) *future {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.prefetch[key]
	delete(s.prefetch, key)
	return f
}

// prefetched runs read, or takes its result if the sign-in started it.
func prefetched[T any](ctx context.Context, s *agentSession, key string, read func(ctx context.Context) (T, error)) (T, error) {
	if s != nil {
		if f := s.takePrefetch(key); f != nil {
			select {
			case <-f.done:
				if f.err != nil {
					var zero T
					return zero, f.err
				}
				return f.val.(T), nil
			case <-ctx.Done():
				var zero T
				return zero, ctx.Err()
			}
		}
	}
	return read(ctx)
}

// removeSession forgets s as the agent's session.
func (c *Connector) removeSession(s *agentSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[s.loginID] == s {
		delete(c.sessions, s.loginID)
		delete(c.teams, s.loginID)
	}
}
