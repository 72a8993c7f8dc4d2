package handlers

import (
	"context"
	"strings"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
)

// setReadyState serves Cisco/Agent/SetReadyState.
func (h *Cisco) setReadyState(ctx context.Context, req *broker.Request) error {
	return h.setState(ctx, req, cisco.StateReady, "")
}

// setNotReadyState serves Cisco/Agent/SetNotReadyState {ReasonCodeId}, an
// extension of the documented API: the docs give only the supervisor's
// version (Team/SetTeamAgentNotReadyState).
func (h *Cisco) setNotReadyState(ctx context.Context, req *broker.Request) error {
	code, err := reasonCodeID(req)
	if err != nil {
		return err
	}
	return h.setState(ctx, req, cisco.StateNotReady, code)
}

func reasonCodeID(req *broker.Request) (string, error) {
	fields, err := req.Fields()
	if err != nil {
		return "", err
	}
	return fields.String("ReasonCodeId")
}

// setState changes the signed-in agent's state; the notifier tells the
// workspace (and the team's supervisors).
func (h *Cisco) setState(ctx context.Context, req *broker.Request, state cisco.State, code string) error {
	ws, err := h.signedIn(req)
	if err != nil {
		return err
	}
	u, err := h.cti.SetState(cisco.WithRequestID(ctx, req.ID), ws.AgentID, state, code)
	if err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("agent state changed", zap.String("agent", ws.AgentID),
		zap.String("state", string(u.State)), zap.String("reasonCodeId", u.ReasonCodeID),
		zap.String("pendingState", u.PendingState))
	return nil
}

// logout serves Cisco/Connection/Logout {ReasonCodeId}: allowed only from
// NOT_READY, with a code of category LOGOUT or, as the docs describe the
// field, a NOT_READY code (see logoutCode). Every app of the workspace gets
// the LOGOUT state (from the notifier), and the desktop stays, signed out:
// its apps hear the same agent's next sign-in without a new token.
func (h *Cisco) logout(ctx context.Context, req *broker.Request) error {
	code, err := reasonCodeID(req)
	if err != nil {
		return err
	}
	ws, err := h.signedIn(req)
	if err != nil {
		return err
	}
	if code, err = h.logoutCode(ctx, ws.AgentID, code); err != nil {
		return err
	}
	unlock := h.desktops.Lock(ws.AgentID)
	defer unlock()
	// The connector publishes the LOGOUT state before SetState returns;
	// the desktop is marked signed out right after, still under the
	// agent's lock, so that no sign-in or grace period comes between.
	if _, err := h.cti.SetState(cisco.WithRequestID(ctx, req.ID), ws.AgentID, cisco.StateLogout, code); err != nil {
		return h.apiError(err)
	}
	conns := h.desktops.KeepSignedOut(ws.AgentID)
	req.Conn.Logger().Info("agent signed out", zap.String("agent", ws.AgentID),
		zap.String("reasonCodeId", code), zap.Int("connections", conns))
	return nil
}

// answer serves a read request of the signed-in agent: read gets what to
// tell, from the agent's loginId, and the workspace receives it as
// Cisco/topic/subtopic, correlated with the request.
func (h *Cisco) answer(req *broker.Request, topic, subtopic string, read func(agentID string) (any, error)) error {
	ws, err := h.signedIn(req)
	if err != nil {
		return err
	}
	// A sign-out served here publishes the LOGOUT before it marks the
	// desktop signed out, both under the agent's lock: checked again under
	// it, a joined app that heard the LOGOUT is told it is signed out, not
	// the agent's state as if it were still signed in.
	unlock := h.desktops.Lock(ws.AgentID)
	defer unlock()
	if ws, err = h.signedIn(req); err != nil {
		return err
	}
	message, err := read(ws.AgentID)
	if err != nil {
		return h.apiError(err)
	}
	return h.publish(ws.Scope, topic, subtopic, message, req.ID)
}

// getAgentState serves Cisco/Agent/GetAgentState with SetAgentState.
func (h *Cisco) getAgentState(ctx context.Context, req *broker.Request) error {
	return h.answer(req, "Agent", "SetAgentState", func(id string) (any, error) {
		u, err := h.cti.User(ctx, id)
		if err != nil {
			return nil, err
		}
		dialogs, err := h.cti.Dialogs(ctx, id)
		return agentState(u, nil, dialogs), err
	})
}

// getAppState serves GetAppState on topic General (the docs' sample) or Call
// (the docs' table), answering on the triple it was asked on. The docs'
// prerequisite is registration only: on a connection where no agent is
// signed in it answers the requester alone that nobody is (state LOGOUT),
// so that a widget can decide on load whether to show a sign-in form.
func (h *Cisco) getAppState(ctx context.Context, req *broker.Request) error {
	topic := "General"
	if strings.EqualFold(req.Topic, "Call") {
		topic = "Call"
	}
	if _, ok := h.desktops.Of(req.Conn); !ok {
		return req.Conn.Send(broker.Event{
			Channel: channel, Topic: topic, Subtopic: "GetAppState",
			Message: notSignedInAppState(), CorrelationID: req.ID,
		})
	}
	return h.answer(req, topic, "GetAppState", func(id string) (any, error) {
		u, err := h.cti.User(ctx, id)
		if err != nil {
			return nil, err
		}
		dialogs, err := h.cti.Dialogs(ctx, id)
		return appState(u, dialogs), err
	})
}

// getSystemInfo serves Cisco/General/GetSystemInfo with SetSystemInfo. It
// needs registration on Cisco but no sign-in, so that a desktop can check
// the CTI server before its agent signs in.
func (h *Cisco) getSystemInfo(ctx context.Context, req *broker.Request) error {
	info, err := h.cti.SystemInfo(ctx)
	if err != nil {
		return h.apiError(err)
	}
	return h.publish(req.Conn.Scope(), "General", "SetSystemInfo",
		systemInfoPayload{Packet: "systeminfo", SystemInfo: info}, req.ID)
}

// getWrapupReasonCode serves Cisco/Agent/GetWrapupReasonCode with SetWrapupCode.
func (h *Cisco) getWrapupReasonCode(ctx context.Context, req *broker.Request) error {
	return h.answer(req, "Agent", "SetWrapupCode", func(id string) (any, error) {
		reasons, err := h.cti.WrapUpReasons(ctx, id)
		return packet{Packet: "WrapUpCodes", Data: reasons}, err
	})
}

// getPhoneDirectory serves Cisco/Agent/GetPhoneDirectory with SetPhoneDirectory.
func (h *Cisco) getPhoneDirectory(ctx context.Context, req *broker.Request) error {
	return h.answer(req, "Agent", "SetPhoneDirectory", func(id string) (any, error) {
		books, err := h.cti.PhoneBooks(ctx, id)
		return packet{Packet: "phoneBook", Data: books}, err
	})
}

// getCallState serves Cisco/Call/GetCallState with CallsStateChange; an
// agent with no call gets an empty list.
func (h *Cisco) getCallState(ctx context.Context, req *broker.Request) error {
	return h.answer(req, "Call", "CallsStateChange", func(id string) (any, error) {
		dialogs, err := h.cti.Dialogs(ctx, id)
		return calls(dialogs), err
	})
}

// logoutCode returns the LOGOUT reason code to record for the code a
// Logout gave. The docs call the field "the Not Ready reason code id",
// while Finesse signs an agent out only with a code of category LOGOUT (or
// none, when the team has no LOGOUT codes). So a NOT_READY code of the
// agent's stands for the first of the agent's LOGOUT codes, in the order
// of SetLogOutReasonCodes, or for none ("-1") when there are none; any
// other code goes to the contact center as it is, which accepts it only
// if it is one of the agent's LOGOUT codes.
func (h *Cisco) logoutCode(ctx context.Context, agentID, code string) (string, error) {
	if code == "" || code == "-1" {
		return code, nil
	}
	logoutCodes, err := h.cti.ReasonCodes(ctx, agentID, cisco.CategoryLogout)
	if err != nil {
		return "", h.apiError(err)
	}
	for _, rc := range logoutCodes {
		if rc.ID == code {
			return code, nil
		}
	}
	notReadyCodes, err := h.cti.ReasonCodes(ctx, agentID, cisco.CategoryNotReady)
	if err != nil {
		return "", h.apiError(err)
	}
	for _, rc := range notReadyCodes {
		if rc.ID != code {
			continue
		}
		if len(logoutCodes) == 0 {
			return "-1", nil
		}
		return logoutCodes[0].ID, nil
	}
	return code, nil
}
