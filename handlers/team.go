package handlers

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"
)

// registerTeam puts the supervisor requests on the bus: both topics of the
// docs' Silent Monitoring page (Team in the table, Agent in the sample),
// and barge-in on both call topics, with the docs' space in "SetBARGE CALL".
func (h *Cisco) registerTeam() {
	h.bus.Handle(channel, "Team", "SetTeamAgentNotReadyState", broker.HandlerFunc(h.teamAgentNotReady))
	h.bus.Handle(channel, "Team", "SetTeamAgentLogout", broker.HandlerFunc(h.teamAgentLogout))
	h.bus.Handle(channel, "Team", "GetTeamState", broker.HandlerFunc(h.teamState))
	h.bus.Handle(channel, "Team", "SetSilentMonitoring", broker.HandlerFunc(h.silentMonitoring))
	h.bus.Handle(channel, "Agent", "SetSilentMonitoring", broker.HandlerFunc(h.silentMonitoring))
	for _, topic := range callTopics {
		h.bus.Handle(channel, topic, "SetBARGE CALL", broker.HandlerFunc(h.barge))
	}
}

// teamAgentNotReady serves Cisco/Team/SetTeamAgentNotReadyState {UserName,
// State: "NotReady", ReasonCodeId?}. State "Ready" is refused as Finesse
// refuses it: Invalid State, "Supervisor setting state to 'READY' is not
// allowed".
func (h *Cisco) teamAgentNotReady(ctx context.Context, req *broker.Request) error {
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	agent, err := fields.Required("UserName")
	if err != nil {
		return err
	}
	give, err := fields.Required("State")
	if err != nil {
		return err
	}
	state, ok := supervisorState(give)
	if !ok || state == cisco.StateLogout {
		return broker.InvalidInput("data.State", fmt.Sprintf(`it is %q; send "NotReady" (to sign an agent out, use SetTeamAgentLogout)`, clip.Short(give)))
	}
	code, err := fields.String("ReasonCodeId")
	if err != nil {
		return err
	}
	u, err := h.cti.SupervisorSetState(cisco.WithRequestID(ctx, req.ID), ws.AgentID, agent, state, strings.TrimSpace(code))
	if err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("supervisor set an agent's state", zap.String("supervisor", ws.AgentID),
		zap.String("agent", u.LoginID), zap.String("state", string(u.State)))
	return nil
}

// teamAgentLogout serves Cisco/Team/SetTeamAgentLogout {UserName, State?:
// "Logout"}. The agent's desktop is signed out as after its own Logout:
// every app in it gets the LOGOUT state and stays. An agent on a call keeps
// it, with LOGOUT as its pendingState, and is signed out when it ends.
func (h *Cisco) teamAgentLogout(ctx context.Context, req *broker.Request) error {
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	agent, err := fields.Required("UserName")
	if err != nil {
		return err
	}
	if give, err := fields.String("State"); err != nil {
		return err
	} else if state, ok := supervisorState(give); give != "" && (!ok || state != cisco.StateLogout) {
		return broker.InvalidInput("data.State", fmt.Sprintf(`it is %q; send "Logout" or leave it out (to make an agent Not Ready, use SetTeamAgentNotReadyState)`, clip.Short(give)))
	}
	// Only a supervisor learns whether the agent exists, and its loginId:
	// the workspace to end is keyed by it.
	sup, err := h.cti.User(ctx, ws.AgentID)
	if err != nil {
		return h.apiError(err)
	}
	if !sup.IsSupervisor {
		return h.apiError(&cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: "The user is not a supervisor",
			Text: "Only a supervisor can sign other agents out; sign in as a supervisor."})
	}
	target, err := h.cti.User(ctx, agent)
	if err != nil {
		return h.apiError(err)
	}
	unlock := h.desktops.Lock(target.LoginID)
	defer unlock()
	u, err := h.cti.SupervisorSetState(cisco.WithRequestID(ctx, req.ID), ws.AgentID, target.LoginID, cisco.StateLogout, "")
	if err != nil {
		return h.apiError(err)
	}
	if u.State != cisco.StateLogout {
		// On a call, which a sign-out does not hang up: the agent is signed
		// out when it ends, and its desktop is kept then, on every node
		// (see session.Desktops.AgentSignedOut).
		req.Conn.Logger().Info("supervisor signed an agent out at the end of its call", zap.String("supervisor", ws.AgentID),
			zap.String("agent", target.LoginID))
		return nil
	}
	// The agent's desktop stays, signed out, as after the agent's own
	// Logout, here and on every other node that holds a part of it.
	conns := h.desktops.KeepSignedOut(target.LoginID)
	req.Conn.Logger().Info("supervisor signed an agent out", zap.String("supervisor", ws.AgentID),
		zap.String("agent", target.LoginID), zap.Int("connections", conns))
	return nil
}

// supervisorState reads the State of a supervisor request: NotReady,
// Not_Ready, Not Ready, Ready or Logout, in any case.
func supervisorState(s string) (cisco.State, bool) {
	switch strings.NewReplacer("_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s))) {
	case "notready":
		return cisco.StateNotReady, true
	case "ready":
		return cisco.StateReady, true
	case "logout":
		return cisco.StateLogout, true
	}
	return "", false
}

// silentMonitoring serves Cisco/Team/SetSilentMonitoring (and the sample's
// Cisco/Agent/SetSilentMonitoring) {fromAddress?, toAddress?, UserName}:
// the supervisor, on fromAddress, starts listening to the agent's active
// call. The supervisor's workspace gets the monitor dialog.
func (h *Cisco) silentMonitoring(ctx context.Context, req *broker.Request) error {
	ws, err := h.signedIn(req)
	if err != nil {
		return err
	}
	p, err := parseSupervision(req, false)
	if err != nil {
		return err
	}
	d, err := h.cti.SilentMonitor(cisco.WithRequestID(ctx, req.ID), ws.AgentID, p.from, p.agent, p.to)
	if err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("supervisor monitors a call", zap.String("supervisor", ws.AgentID),
		zap.String("agent", p.agent), zap.String("dialog", d.ID))
	return nil
}

// barge serves Cisco/InboundCall|OutboundCall/SetBARGE CALL {fromAddress?,
// toAddress?, Username, CallId}: CallId is the supervisor's monitor dialog;
// the supervisor joins the call it listens to.
func (h *Cisco) barge(ctx context.Context, req *broker.Request) error {
	ws, err := h.signedIn(req)
	if err != nil {
		return err
	}
	p, err := parseSupervision(req, true)
	if err != nil {
		return err
	}
	d, err := h.cti.Barge(cisco.WithRequestID(ctx, req.ID), ws.AgentID, p.from, p.agent, p.to, p.callID)
	if err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("supervisor barged into a call", zap.String("supervisor", ws.AgentID),
		zap.String("agent", p.agent), zap.String("dialog", d.ID))
	return nil
}

// supervision holds the fields of a monitoring or barge request.
type supervision struct {
	from, to, agent, callID string
}

func parseSupervision(req *broker.Request, needCall bool) (supervision, error) {
	var p supervision
	fields, err := req.Fields()
	if err != nil {
		return p, err
	}
	if p.agent, err = fields.Required("UserName"); err != nil {
		return p, err
	}
	if p.from, err = fields.String("fromAddress"); err != nil {
		return p, err
	}
	if p.to, err = fields.String("toAddress"); err != nil {
		return p, err
	}
	if needCall {
		if p.callID, err = fields.Required("CallId"); err != nil {
			return p, err
		}
	}
	p.from, p.to = strings.TrimSpace(p.from), strings.TrimSpace(p.to)
	return p, nil
}

// teamState serves Cisco/Team/GetTeamState, an extension: the supervisor's
// workspace gets one Cisco/Team/SetTeamState per team it supervises, with
// the User of every agent of the team, so that a supervisor's desktop can
// show its teams at once rather than as their states change. It is one
// event per team, not per agent, so that a large team cannot overflow the
// supervisor's send queue. Finesse reads the same with GET Team/{id}/Users.
func (h *Cisco) teamState(ctx context.Context, req *broker.Request) error {
	ws, err := h.signedIn(req)
	if err != nil {
		return err
	}
	sup, err := h.cti.User(ctx, ws.AgentID)
	if err != nil {
		return h.apiError(err)
	}
	if !sup.IsSupervisor {
		return &broker.APIError{
			Type:    cisco.ErrorTypeAuthorization,
			Message: "The user is not a supervisor",
			Msg:     "Only a supervisor can read the state of a team; sign in as a supervisor.",
		}
	}
	for _, team := range sup.Teams {
		ids, err := h.cti.TeamAgents(ctx, team.ID)
		if err != nil {
			return h.apiError(err)
		}
		state := teamStatePayload{TeamID: team.ID, TeamName: team.Name, Agents: make([]cisco.User, 0, len(ids))}
		for _, id := range ids {
			u, err := h.cti.User(ctx, id)
			if err != nil {
				return h.apiError(err)
			}
			state.Agents = append(state.Agents, u)
		}
		// About a whole team: an app watching the supervisor gets it only
		// if its grant covers every agent.
		if err := h.bus.Publish(ws.Scope, broker.Event{
			Channel: channel, Topic: "Team", Subtopic: "SetTeamState",
			Message: state, CorrelationID: req.ID, About: h.desktops.EveryWorkspace(),
		}); err != nil {
			return err
		}
	}
	return nil
}

// teamStatePayload is the message of Cisco/Team/SetTeamState.
type teamStatePayload struct {
	TeamID   string       `json:"teamId"`
	TeamName string       `json:"teamName"`
	Agents   []cisco.User `json:"agents"`
}
