package finessetest

import (
	"slices"
	"sync"

	"github.com/ctibus/ctibus/channels/cisco"
)

// push is one notification to send.
type push struct {
	to     string // a JID; "" sends to the subscribers of node
	node   string
	update []byte
	// always sends it even while the side is out of service or down: the
	// SystemInfo update that announces the change.
	always bool
}

// queue holds the notifications to push, in order, for one goroutine to
// send: the simulator reports changes under its lock, where nothing may
// block. It is unbounded, as a test's traffic is.
type queue struct {
	mu      sync.Mutex // guards items and stopped
	items   []push
	stopped bool
	wake    chan struct{} // signalled when items grow
	done    chan struct{} // closed when the sender has returned
}

func (q *queue) start(send func(push)) {
	q.wake = make(chan struct{}, 1)
	q.done = make(chan struct{})
	go func() {
		defer close(q.done)
		for {
			q.mu.Lock()
			items, stopped := q.items, q.stopped
			q.items = nil
			q.mu.Unlock()
			for _, p := range items {
				send(p)
			}
			if stopped {
				return
			}
			if len(items) == 0 {
				<-q.wake
			}
		}
	}()
}

func (q *queue) add(ps ...push) {
	if len(ps) == 0 {
		return
	}
	q.mu.Lock()
	q.items = append(q.items, ps...)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop sends what is queued, then ends the sender.
func (q *queue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}

// push sends one notification, unless the side is out of service or down.
func (s *Site) push(p push) {
	s.mu.Lock()
	active := s.status == InService && s.srv != nil
	o := s.payload
	s.mu.Unlock()
	if !active && !p.always {
		return
	}
	var err error
	if p.to == "" {
		err = s.xmpp.PushSubscribers(s.domain, p.node, p.update, o)
	} else {
		err = s.xmpp.PushWith(s.domain, p.to, p.node, p.update, o)
	}
	if err != nil {
		s.logf("finessetest: %s: push on %s: %v", s.domain, p.node, err)
	}
}

// requestID returns what a notification carries as requestId.
func (s *Site) requestID(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.echo {
		return ""
	}
	return id
}

// onNotification renders a change of the simulator as Finesse's
// notifications. It runs under the simulator's lock: it renders and
// queues, and calls nothing.
func (s *Site) onNotification(n cisco.Notification) {
	switch {
	case n.User != nil:
		s.queue.add(s.userPushes(n.User.User, n.RequestID)...)
	case n.Calls != nil:
		s.queue.add(s.dialogPushes(n.Calls.LoginID, n.Calls.Dialogs, n.RequestID)...)
	case n.Failure != nil:
		node := "/finesse/api/User/" + n.Failure.LoginID + "/Dialogs"
		s.queue.add(s.errorPush(n.Failure.LoginID, node, n.Failure.Error, n.RequestID))
	}
}

// userPushes renders a User update to the agent, on
// /finesse/api/User/<id>, and to the subscribers of its team's node
// /finesse/api/Team/<teamId>/Users.
func (s *Site) userPushes(u cisco.User, requestID string) []push {
	if u.Extension != "" {
		s.mu.Lock()
		s.exts[u.LoginID] = u.Extension
		s.mu.Unlock()
	}
	source := "/finesse/api/User/" + u.LoginID
	update := updateXML(userXML(u, "user"), "PUT", s.requestID(requestID), source)
	ps := []push{{to: u.LoginID + "@" + s.domain, node: source, update: update}}
	if u.TeamID != "" {
		ps = append(ps, push{node: "/finesse/api/Team/" + u.TeamID + "/Users", update: update})
	}
	return ps
}

// errorPush renders an asynchronous error, an apiErrors update, on node,
// with the lower-case event of the captures.
func (s *Site) errorPush(loginID, node string, e *cisco.Error, requestID string) push {
	data := asyncErrorXML(apiError{Type: e.Type, Message: e.Message, Data: e.ErrorData(), Text: e.Text})
	return push{to: loginID + "@" + s.domain, node: node, update: errorUpdateXML(data, "put", s.requestID(requestID), node)}
}

// dialogPushes turns the agent's dialogs after a change into Finesse's
// Dialogs updates, against what the side last sent the agent: POST for a
// dialog new to the agent (<dialogs><Dialog>, source the agent's
// Dialogs), PUT for one that changed (<dialog>, source the Dialog), and
// DELETE for one the agent has left (<dialogs><Dialog> in its last state,
// source the agent's Dialogs). A dialog listed with the agent's
// participant DROPPED is sent as a PUT, then deleted.
func (s *Site) dialogPushes(loginID string, ds []cisco.Dialog, requestID string) []push {
	rid := s.requestID(requestID)
	to := loginID + "@" + s.domain
	node := "/finesse/api/User/" + loginID + "/Dialogs"
	s.mu.Lock()
	defer s.mu.Unlock()
	ext := s.exts[loginID]
	known := s.dialogs[loginID]
	if known == nil {
		known = map[string]string{}
		s.dialogs[loginID] = known
	}
	var ps []push
	listed := map[string]bool{}
	for _, d := range ds {
		listed[d.ID] = true
		rendered := string(dialogXML(d, "Dialog"))
		last, seen := known[d.ID]
		switch {
		case !seen:
			ps = append(ps, push{to: to, node: node, update: updateXML(dialogsXML([]cisco.Dialog{d}, "dialogs"), "POST", rid, node)})
		case last != rendered:
			ps = append(ps, push{to: to, node: node, update: updateXML(dialogXML(d, "dialog"), "PUT", rid, d.URI)})
		}
		known[d.ID] = rendered
		if leftBy(d, ext) {
			ps = append(ps, push{to: to, node: node, update: updateXML(dialogsXML([]cisco.Dialog{d}, "dialogs"), "DELETE", rid, node)})
			delete(known, d.ID)
		}
	}
	ids := make([]string, 0, len(known))
	for id := range known {
		if !listed[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		last := known[id]
		delete(known, id)
		data := "<dialogs>" + last + "</dialogs>"
		ps = append(ps, push{to: to, node: node, update: updateXML([]byte(data), "DELETE", rid, node)})
	}
	return ps
}

// leftBy reports whether the agent on ext has left d: its participant is
// DROPPED, or the whole dialog is.
func leftBy(d cisco.Dialog, ext string) bool {
	if d.State == "DROPPED" {
		return true
	}
	for _, p := range d.Participants {
		if ext != "" && p.MediaAddress == ext {
			return p.State == "DROPPED"
		}
	}
	return false
}
