package handlers

import (
	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// teamAgentState is the message of Cisco/Team/SetTeamAgentState, the team
// feed of a supervisor: an extension, after Finesse's Team/{id}/Users node.
type teamAgentState struct {
	TeamID string     `json:"teamId"`
	Data   cisco.User `json:"data"`
}

// notify turns one of the connector's notifications into events, as
// Finesse's XMPP updates become bus events:
//
//   - a user change is Cisco/Agent/SetAgentState in the agent's workspace,
//     and Cisco/Team/SetTeamAgentState in the workspace of each supervisor
//     of the agent's team;
//   - a calls change is Cisco/Call/CallsStateChange in the agent's workspace.
//
// An event carries the request's id as correlationId only in the workspace
// of whoever made the request. notify runs under the connector's lock, so
// it only publishes, which never blocks.
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
		err = h.publish(session.ScopeOf(u.LoginID), "Agent", "SetAgentState", agentState(u), correlation(u.LoginID))
		for _, sup := range n.User.Supervisors {
			if err == nil {
				err = h.publish(session.ScopeOf(sup), "Team", "SetTeamAgentState",
					teamAgentState{TeamID: u.TeamID, Data: u}, correlation(sup))
			}
		}
	case n.Calls != nil:
		err = h.publish(session.ScopeOf(n.Calls.LoginID), "Call", "CallsStateChange",
			calls(n.Calls.Dialogs), correlation(n.Calls.LoginID))
	}
	if err != nil {
		h.log.Error("publish a notification", zap.Error(err))
	}
}
