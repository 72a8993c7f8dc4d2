package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"
)

// callTopics are the topics of the call-control requests: the docs give
// both for most of them, and the bus accepts both for all.
var callTopics = []string{"InboundCall", "OutboundCall"}

// registerCalls puts the call-control requests on the bus. Subtopics match
// ignoring case, so SetAnswer also serves the docs' SetANSWER.
// SetTRANSFER and SetCONFERENCE are extensions: the docs have no page for
// completing a consult. So are SetACCEPT and SetCLOSE, Finesse's other two
// answers to a preview reservation beside the docs' SetREJECT.
func (h *Cisco) registerCalls() {
	actions := []struct {
		subtopic string
		action   cisco.Action
	}{
		{"SetAnswer", cisco.ActionAnswer},
		{"SetHOLD", cisco.ActionHold},
		{"SetRETRIEVE", cisco.ActionRetrieve},
		{"SetDROP", cisco.ActionDrop},
		{"SetREJECT", cisco.ActionReject},
		{"SetACCEPT", cisco.ActionAccept},
		{"SetCLOSE", cisco.ActionClose},
		{"SetCONSULT", cisco.ActionConsult},
		{"SetTRANSFER_SST", cisco.ActionTransferSST},
		{"SetTRANSFER", cisco.ActionTransfer},
		{"SetCONFERENCE", cisco.ActionConference},
	}
	for _, topic := range callTopics {
		h.bus.Handle(channel, topic, "SetMakeCall", broker.HandlerFunc(h.makeCall))
		for _, a := range actions {
			h.bus.Handle(channel, topic, a.subtopic, &CallAction{h: h, action: a.action})
		}
	}
	h.bus.Handle(channel, "Agent", "WrapUpCall", broker.HandlerFunc(h.wrapUpCall))
}

// makeCall serves SetMakeCall {toAddress, callVariables?}: the agent's
// phone dials toAddress. callVariables is an object of name → value
// (callVariable1..10, user.<name>) or Finesse's list of {name, value}.
func (h *Cisco) makeCall(ctx context.Context, req *broker.Request) error {
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	to, err := fields.Required("toAddress")
	if err != nil {
		return err
	}
	vars, err := callVariables(fields)
	if err != nil {
		return err
	}
	d, err := h.cti.MakeCall(cisco.WithRequestID(ctx, req.ID), ws.AgentID, to, vars)
	if err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("call placed", zap.String("agent", ws.AgentID), zap.String("dialog", d.ID),
		zap.String("callType", d.MediaProperties.CallType))
	return nil
}

// CallAction serves one of the requests on a call: SetAnswer, SetHOLD,
// SetRETRIEVE, SetDROP, SetREJECT, SetACCEPT, SetCLOSE (data {MediaAddress?, CallID}),
// SetCONSULT and SetTRANSFER_SST ({MediaAddress?, CallID, toAddress}),
// SetTRANSFER and SetCONFERENCE ({CallID}). MediaAddress, when given, must
// be the agent's extension. The outcome arrives as CallsStateChange and
// SetAgentState events.
type CallAction struct {
	h      *Cisco
	action cisco.Action
}

var _ broker.Handler = (*CallAction)(nil)

// ServeBus asks the connector for the action.
func (c *CallAction) ServeBus(ctx context.Context, req *broker.Request) error {
	h := c.h
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	callID, err := fields.Required("CallID")
	if err != nil {
		return err
	}
	var to string
	if c.action == cisco.ActionConsult || c.action == cisco.ActionTransferSST {
		if to, err = fields.Required("toAddress"); err != nil {
			return err
		}
	}
	if err := h.checkMediaAddress(ctx, ws.AgentID, fields); err != nil {
		return err
	}
	if err := h.cti.CallAction(cisco.WithRequestID(ctx, req.ID), ws.AgentID, callID, c.action, to); err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("call action", zap.String("agent", ws.AgentID), zap.String("dialog", callID),
		zap.String("action", string(c.action)))
	return nil
}

// checkMediaAddress refuses a MediaAddress that is not the agent's extension.
func (h *Cisco) checkMediaAddress(ctx context.Context, agentID string, fields broker.Fields) error {
	addr, err := fields.String("MediaAddress")
	if err != nil || addr == "" {
		return err
	}
	u, err := h.cti.User(ctx, agentID)
	if err != nil {
		return h.apiError(err)
	}
	if strings.TrimSpace(addr) != u.Extension {
		return broker.InvalidInput("data.MediaAddress",
			fmt.Sprintf("it is %q, but you are signed in on %s; give your extension or leave it out", clip.Short(addr), u.Extension))
	}
	return nil
}

// wrapUpCall serves Cisco/Agent/WrapUpCall {callID, wrapup, customwrapup,
// Iscustomwrapup}: the wrap-up reason is the label of the agent's wrap-up
// reason whose id (or label) is wrapup, or, when Iscustomwrapup is true,
// the text customwrapup; a request that gives both is refused. During the call it is recorded on the dialog; in
// wrap-up after the call it is recorded and the wrap-up ends.
func (h *Cisco) wrapUpCall(ctx context.Context, req *broker.Request) error {
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	callID, err := fields.Required("callID")
	if err != nil {
		return err
	}
	custom, err := fields.Bool("Iscustomwrapup")
	if err != nil {
		return err
	}
	if err := oneWrapUpReason(fields); err != nil {
		return err
	}
	var reason string
	if custom {
		if reason, err = fields.Required("customwrapup"); err != nil {
			return err
		}
	} else if reason, err = h.wrapUpLabel(ctx, ws.AgentID, fields); err != nil {
		return err
	}
	if err := h.cti.WrapUp(cisco.WithRequestID(ctx, req.ID), ws.AgentID, callID, reason); err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("call wrapped up", zap.String("agent", ws.AgentID), zap.String("dialog", callID))
	return nil
}

// oneWrapUpReason refuses a WrapUpCall that gives both a wrap-up reason
// and a text, as the docs' own sample does: Finesse on CCE records one
// wrap-up reason per call (mediaProperties.wrapUpReason), so one of the two
// would be lost without a word.
func oneWrapUpReason(fields broker.Fields) error {
	code, err := fields.String("wrapup")
	if err != nil {
		return err
	}
	text, err := fields.String("customwrapup")
	if err != nil {
		return err
	}
	if strings.TrimSpace(code) != "" && strings.TrimSpace(text) != "" {
		return broker.InvalidInput("data",
			"both wrapup and customwrapup are given, but a call records one wrap-up reason; send wrapup (a reason id) with Iscustomwrapup false, or customwrapup (your text) with Iscustomwrapup true and no wrapup")
	}
	return nil
}

// wrapUpLabel resolves the wrapup field, an id or a label of one of the
// agent's wrap-up reasons, to the label Finesse records.
func (h *Cisco) wrapUpLabel(ctx context.Context, agentID string, fields broker.Fields) (string, error) {
	give, err := fields.Required("wrapup")
	if err != nil {
		return "", err
	}
	reasons, err := h.cti.WrapUpReasons(ctx, agentID)
	if err != nil {
		return "", h.apiError(err)
	}
	for _, r := range reasons {
		if r.ID == give || strings.EqualFold(r.Label, give) {
			return r.Label, nil
		}
	}
	return "", broker.InvalidInput("data.wrapup",
		fmt.Sprintf("%q is not one of your wrap-up reasons; choose an id from Cisco/Agent/GetWrapupReasonCode, or send Iscustomwrapup true with customwrapup", clip.Short(give)))
}

// callVariables reads the optional callVariables field: an object of name
// → string value, or a list of {name, value}.
func callVariables(fields broker.Fields) ([]cisco.CallVariable, error) {
	raw, ok := fields["callvariables"]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	return parseCallVariables(raw, "data.callVariables")
}

func parseCallVariables(raw json.RawMessage, field string) ([]cisco.CallVariable, error) {
	list, err := cisco.ParseCallVariables(raw)
	if err != nil {
		return nil, broker.InvalidInput(field, `it must be an object of names and string values, such as {"callVariable1": "ACC-42", "user.acct": "42"}`)
	}
	return list, nil
}
