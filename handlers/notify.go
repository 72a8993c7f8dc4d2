package handlers

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
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
//   - a failure is Cisco/Error/SetAPIError in the agent's workspace.
//
// An event carries the request's id as correlationId only in the workspace
// of whoever made the request. notify runs under the connector's lock, so
// it only publishes, which never blocks.
//
// Every node of a cluster receives every notification (see simcluster.Cluster),
// so each publishes the events to its own connections only. A sign-out
// ends the agent's workspace on every node, whichever node it came from.
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
			h.workspaces.Resume(u.LoginID)
		}
		state := agentState(u, n.User.Changed)
		err = h.publishHere(session.ScopeOf(u.LoginID), "Agent", "SetAgentState", state, correlation(u.LoginID))
		for _, sup := range n.User.Supervisors {
			if err == nil {
				// About the agent: an app watching the supervisor gets it
				// only if its grant covers the agent.
				err = h.bus.PublishLocal(session.ScopeOf(sup), broker.Event{
					Channel: channel, Topic: "Team", Subtopic: "SetTeamAgentState",
					Message: teamAgentState{TeamID: u.TeamID, Data: u, Changed: state.Changed}, CorrelationID: correlation(sup),
					About: session.ScopeOf(u.LoginID),
				})
			}
		}
		if u.State == cisco.StateLogout {
			// Not here: the connector's lock is held, and ending a workspace
			// waits for the agent's lock, which a sign-out holds while it
			// calls the connector.
			h.background.Go(func() { h.endSignedOut(u.LoginID) })
		}
	case n.Calls != nil:
		err = h.publishHere(session.ScopeOf(n.Calls.LoginID), "Call", "CallsStateChange",
			calls(n.Calls.Dialogs), correlation(n.Calls.LoginID))
	case n.Link != nil:
		// The agent's link to Finesse, as Finesse's desktop reports its
		// notification connection: a reconnect banner for the widgets.
		l := n.Link
		status := "disconnected"
		if l.Up {
			status = "connected"
		}
		err = h.publishHere(session.ScopeOf(l.LoginID), "Connection", "SetConnectionStatus", connectionPayload{
			Status: status, ResourceID: "ctibus_" + l.Extension, ConnectionID: l.ConnectionID, LoginID: l.LoginID, Extension: l.Extension,
		}, "")
	case n.Failure != nil:
		// A failure Finesse reports after taking the request up: an error
		// event in the agent's workspace, like a handler's error.
		f := n.Failure
		apiErr := &broker.APIError{Type: f.Error.Type, Message: f.Error.Message, Msg: f.Error.Text, Data: f.Error.ErrorData()}
		err = h.bus.PublishLocal(session.ScopeOf(f.LoginID), broker.ErrorEvent(channel, apiErr, correlation(f.LoginID)))
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

// endSignedOut ends the agent's workspace on this node after a sign-out made
// anywhere: its connections go back to scopes of their own. The node that
// served the sign-out has kept the desktop already, or keeps it now if the
// sign-out waited for the end of a call. An agent signed in again since
// (the notification may arrive after a new sign-in here) keeps its
// workspace.
func (h *Cisco) endSignedOut(agentID string) {
	unlock := h.workspaces.Lock(agentID)
	defer unlock()
	_, keep := h.signOutsAtCallEnd.LoadAndDelete(agentID)
	if _, here := h.workspaces.Get(agentID); !here {
		if keep && !h.workspaces.HasDesktop(agentID) {
			h.revokeUnkept(agentID)
		}
		return
	}
	ctx, cancel := context.WithTimeout(h.stopping, endSignedOutTimeout)
	defer cancel()
	u, err := h.cti.User(ctx, agentID)
	if err != nil {
		h.log.Warn("workspace kept: cannot tell whether its agent is signed out",
			zap.String("agent", agentID), zap.Error(err))
		return
	}
	if u.State != cisco.StateLogout {
		return
	}
	if keep {
		// A supervisor's sign-out served here, applied at the end of the
		// call: the desktop stays, as when it applies at once.
		n := h.workspaces.SignOut(agentID)
		h.log.Info("desktop signed out at the end of its call", zap.String("agent", agentID),
			zap.Int("connections", n))
		return
	}
	conns := h.workspaces.End(agentID)
	h.log.Info("workspace ended: its agent signed out", zap.String("agent", agentID),
		zap.Int("connections", len(conns)))
}

// revokeUnkept revokes the tokens of an agent signed out by a supervisor
// here while its desktop is on other nodes, which end their part of it:
// no desktop is kept, so neither are its tokens.
func (h *Cisco) revokeUnkept(agentID string) {
	ctx, cancel := context.WithTimeout(h.stopping, endSignedOutTimeout)
	defer cancel()
	if err := h.tokens.RevokeAgent(ctx, agentID); err != nil {
		h.log.Error("agent signed out with workspace tokens left valid", zap.String("agent", agentID), zap.Error(err))
	}
}

// endSignedOutTimeout bounds the check of an agent's state after a sign-out.
const endSignedOutTimeout = 10 * time.Second
