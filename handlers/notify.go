package handlers

import (
	"sync"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
)

// teamAgentState is the message of Cisco/Team/SetTeamAgentState, the team
// feed of a supervisor: an extension, after Finesse's Team/{id}/Users node.
type teamAgentState struct {
	TeamID  string     `json:"teamId"`
	Data    cisco.User `json:"data"`
	Changed []string   `json:"changed"` // as in SetAgentState
}

// notify turns one of the connector's notifications into events, as
// Finesse's XMPP updates become bus events:
//
//   - a user change is Cisco/Agent/SetAgentState in the agent's workspace,
//     and Cisco/Team/SetTeamAgentState in the workspace of each supervisor
//     of the agent's team;
//   - a calls change is Cisco/Call/CallsStateChange in the agent's workspace;
//   - a failure is Cisco/Error/SetAPIError in the agent's workspace;
//   - a snapshot (a cluster's node starts to watch the agent) publishes
//     nothing: it seeds what the later notifications of the agent are
//     read against (wrapUps, and whether the agent's desktop here is
//     signed in), as if this node had heard of the agent all along.
//
// An event carries the request's id as correlationId only in the workspace
// of whoever made the request. notify runs under the connector's lock, so
// it only publishes, which never blocks.
//
// A node of a cluster receives the notifications of the agents its
// connections are in the workspaces of, or watch (see cisco.Watcher and
// simcluster.Cluster), and publishes the events to its own connections
// only. A sign-out keeps the agent's desktop, signed out, on every node
// that has a part of it, whichever node it came from.
func (h *Cisco) notify(n cisco.Notification) {
	correlation := func(recipient string) string {
		if n.RequestedBy == recipient {
			return n.RequestID
		}
		return ""
	}
	var err error
	switch {
	case n.User != nil:
		u := n.User.User
		if u.State != cisco.StateLogout {
			// Signed in again, maybe on another node: a desktop that
			// waited here for the agent is the agent's again.
			h.desktops.AgentSignedIn(u.LoginID)
		}
		state := agentState(u, n.User.Changed, h.wrapUps.user(u))
		err = h.publishHere(h.desktops.ScopeOf(u.LoginID), "Agent", "SetAgentState", state, correlation(u.LoginID))
		for _, sup := range n.User.Supervisors {
			if err == nil {
				// About the agent: an app watching the supervisor gets it
				// only if its grant covers the agent.
				err = h.bus.PublishLocal(h.desktops.ScopeOf(sup), broker.Event{
					Channel: channel, Topic: "Team", Subtopic: "SetTeamAgentState",
					Message: teamAgentState{TeamID: u.TeamID, Data: u, Changed: state.Changed}, CorrelationID: correlation(sup),
					About: h.desktops.ScopeOf(u.LoginID),
				})
			}
		}
		if u.State == cisco.StateLogout {
			// Keeps this node's part of the desktop, signed out, in
			// background (the node that served the sign-out has already).
			h.desktops.AgentSignedOut(u.LoginID)
		}
	case n.Calls != nil:
		id := n.Calls.LoginID
		err = h.publishHere(h.desktops.ScopeOf(id), "Call", "CallsStateChange",
			calls(n.Calls.Dialogs), correlation(id))
		if u, freed := h.wrapUps.calls(id, n.Calls.Dialogs); freed && err == nil {
			// The wrap-up reason just recorded lets the agent leave
			// wrap-up: the rules of its last SetAgentState no longer
			// hold, and this one says so (it changes no field).
			err = h.publishHere(h.desktops.ScopeOf(id), "Agent", "SetAgentState",
				agentState(u, nil, n.Calls.Dialogs), correlation(id))
		}
	case n.Link != nil:
		// The agent's link to the contact center, as Finesse's desktop
		// reports its notification connection: a reconnect banner for the
		// widgets.
		l := n.Link
		status := "disconnected"
		if l.Up {
			status = "connected"
		}
		err = h.publishHere(h.desktops.ScopeOf(l.LoginID), "Connection", "SetConnectionStatus", connectionPayload{
			Status: status, ResourceID: "ctibus_" + l.Extension, ConnectionID: l.ConnectionID, LoginID: l.LoginID, Extension: l.Extension,
		}, "")
	case n.Snapshot != nil:
		u := n.Snapshot.User
		h.wrapUps.seed(u, n.Snapshot.Dialogs)
		if u.State != cisco.StateLogout {
			h.desktops.AgentSignedIn(u.LoginID)
		} else {
			h.desktops.AgentSignedOut(u.LoginID)
		}
	case n.Failure != nil:
		// A failure Finesse reports after taking the request up: an error
		// event in the agent's workspace, like a handler's error.
		f := n.Failure
		apiErr := &broker.APIError{Type: f.Error.Type, Message: f.Error.Message, Msg: f.Error.Text, Data: f.Error.ErrorData()}
		err = h.bus.PublishLocal(h.desktops.ScopeOf(f.LoginID), broker.ErrorEvent(channel, apiErr, correlation(f.LoginID)))
	}
	if err != nil {
		h.log.Error("publish a notification", zap.Error(err))
	}
}

// publishHere is publish to this node's connections only.
func (h *Cisco) publishHere(scope broker.Scope, topic, subtopic string, message any, correlationID string) error {
	return h.bus.PublishLocal(scope, broker.Event{
		Channel: channel, Topic: topic, Subtopic: subtopic,
		Message: message, CorrelationID: correlationID,
	})
}

// wrapUpViews keeps, from the connector's notifications, the calls of
// each agent that has some and the User of each agent in wrap-up: the
// rules of a SetAgentState made from a notification depend on whether the
// agent's wrap-up still needs a reason (wrapUpNeedsReason), which the User
// alone does not tell. Entries go when the agent has no calls and is out
// of wrap-up, so it holds no more than the agents on calls.
type wrapUpViews struct {
	mu    sync.Mutex // guards views; a leaf lock, taken under the connector's
	views map[string]*wrapUpView
}

// wrapUpView is what wrapUpViews keeps of one agent.
type wrapUpView struct {
	dialogs []cisco.Dialog // the agent's calls, as last notified; nil for none
	user    *cisco.User    // the agent's User while in wrap-up, else nil
}

// user records u and returns the agent's calls as last notified.
func (w *wrapUpViews) user(u cisco.User) []cisco.Dialog {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.views[u.LoginID]
	var dialogs []cisco.Dialog
	if v != nil {
		dialogs = v.dialogs
	}
	if u.State == cisco.StateWork || u.State == cisco.StateWorkReady {
		v = w.viewLocked(u.LoginID)
		v.user = &u
	} else if v != nil {
		v.user = nil
	}
	w.dropIfEmptyLocked(u.LoginID)
	return dialogs
}

// calls records the agent's calls, and reports whether they free the
// agent's wrap-up, which needed a reason before them; it then returns the
// agent's User.
func (w *wrapUpViews) calls(loginID string, dialogs []cisco.Dialog) (cisco.User, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.viewLocked(loginID)
	before := v.dialogs
	v.dialogs = nil
	if len(dialogs) > 0 {
		v.dialogs = dialogs
	}
	var u cisco.User
	var freed bool
	if v.user != nil {
		// Still in wrap-up, now with the reason it needed; not a wrap-up
		// that ends (its call listed DROPPED, the new state to follow).
		_, wrapping := wrapUpDialog(*v.user, dialogs)
		freed = wrapping && wrapUpNeedsReason(*v.user, before) && !wrapUpNeedsReason(*v.user, dialogs)
	}
	if freed {
		u = *v.user
	}
	w.dropIfEmptyLocked(loginID)
	return u, freed
}

// seed replaces what w keeps of the agent with its User and calls as a
// snapshot gives them: what the notifications before it would have left.
func (w *wrapUpViews) seed(u cisco.User, dialogs []cisco.Dialog) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.viewLocked(u.LoginID)
	v.dialogs, v.user = nil, nil
	if len(dialogs) > 0 {
		v.dialogs = dialogs
	}
	if u.State == cisco.StateWork || u.State == cisco.StateWorkReady {
		v.user = &u
	}
	w.dropIfEmptyLocked(u.LoginID)
}

func (w *wrapUpViews) viewLocked(loginID string) *wrapUpView {
	if w.views == nil {
		w.views = map[string]*wrapUpView{}
	}
	v := w.views[loginID]
	if v == nil {
		v = &wrapUpView{}
		w.views[loginID] = v
	}
	return v
}

func (w *wrapUpViews) dropIfEmptyLocked(loginID string) {
	if v := w.views[loginID]; v != nil && v.dialogs == nil && v.user == nil {
		delete(w.views, loginID)
	}
}
