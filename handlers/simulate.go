package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/clip"
	"github.com/ctibus/ctibus/session"
)

// Ringer rings an agent's phone with a call from outside: what the
// simulator does on demand, so that a widget's screen pop can be tested
// without a phone system. *sim.Simulator satisfies it; a connector to a
// real contact center does not, and then the simulator's APIs are absent.
type Ringer interface {
	Ring(ctx context.Context, loginID string, call sim.IncomingCall) (cisco.Dialog, error)
}

var _ Ringer = (*sim.Simulator)(nil)

// incomingCall serves Cisco/Simulator/IncomingCall {from, dnis?,
// callVariables?, kind?}, an extension present only on the simulator: it
// rings the requesting connection's own signed-in agent, or reserves it for
// a campaign call (kind preview or progressive).
func (h *Cisco) incomingCall(ctx context.Context, req *broker.Request) error {
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	var call sim.IncomingCall
	if call.From, err = fields.Required("from"); err != nil {
		return err
	}
	if call.DNIS, err = fields.String("dnis"); err != nil {
		return err
	}
	if call.CallVariables, err = callVariables(fields); err != nil {
		return err
	}
	kind, err := fields.String("kind")
	if err != nil {
		return err
	}
	if call.Kind, err = parseKind(kind, "data.kind"); err != nil {
		return err
	}
	d, err := h.ringer.Ring(cisco.WithRequestID(ctx, req.ID), ws.AgentID, call)
	if err != nil {
		return h.apiError(err)
	}
	req.Conn.Logger().Info("simulated incoming call", zap.String("agent", ws.AgentID), zap.String("dialog", d.ID))
	return nil
}

// incomingCallBody is the body of POST /api/simulator/calls.
type incomingCallBody struct {
	Agent         string          `json:"agent"`
	From          string          `json:"from"`
	DNIS          string          `json:"dnis"`
	CallVariables json.RawMessage `json:"callVariables"`
	Kind          string          `json:"kind"`
}

// parseKind reads the kind of a simulated call, naming field when it is
// not one.
func parseKind(kind, field string) (sim.CallKind, error) {
	k, err := sim.ParseCallKind(kind)
	if err != nil {
		return "", broker.InvalidInput(field, fmt.Sprintf("it is %q; give inbound (the default), preview or progressive", clip.Short(kind)))
	}
	return k, nil
}

// SimulatorAPI serves POST /api/simulator/calls: a back-end system or a
// test rings a signed-in agent with a call from outside. It authenticates
// like POST /api/publish (HTTP Basic with the app's name and secret, or a
// Bearer JWT); the app needs grants.publish and the agent in its grant. The
// body is {"agent", "from", "dnis"?, "callVariables"?, "kind"?}; the answer is 201
// {"dialogId"}. Without a simulator behind the bus it answers 404.
func (h *Cisco) SimulatorAPI() http.Handler {
	return h.desktops.AppAPI(func(w http.ResponseWriter, r *http.Request, app *session.App) {
		id, refusal := h.ringFromHTTP(r, app)
		if refusal != nil {
			h.log.Info("simulated call refused", zap.String("app", app.Name), zap.Int("status", refusal.Status), zap.String("error", refusal.Error))
			refusal.Write(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"dialogId": id})
	})
}

// ringFromHTTP rings the agent the body names, or says why not.
func (h *Cisco) ringFromHTTP(r *http.Request, app *session.App) (string, *session.Refusal) {
	if h.ringer == nil {
		return "", &session.Refusal{Status: http.StatusNotFound, Error: "not_found", Message: "This server is connected to a real contact center, not the simulator: calls come from phones."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, session.MaxBody))
	if err != nil {
		return "", invalid(fmt.Sprintf("The body could not be read, or is larger than %d bytes.", session.MaxBody))
	}
	var b incomingCallBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return "", invalid(`The body must be {"agent": "<loginId>", "from": "<number>", "dnis"?: "<number>", "callVariables"?: {...}, "kind"?: "inbound|preview|progressive"}: ` + err.Error())
	}
	if b.Agent == "" || b.From == "" {
		return "", invalid(`Name the agent to ring and the caller: "agent": "<loginId>", "from": "<number>".`)
	}
	call := sim.IncomingCall{From: b.From, DNIS: b.DNIS}
	if call.Kind, err = parseKind(b.Kind, "kind"); err != nil {
		var apiErr *broker.APIError
		errors.As(err, &apiErr)
		return "", invalid(apiErr.Msg)
	}
	if len(b.CallVariables) > 0 && !bytes.Equal(b.CallVariables, []byte("null")) {
		if call.CallVariables, err = parseCallVariables(b.CallVariables, "callVariables"); err != nil {
			var apiErr *broker.APIError
			errors.As(err, &apiErr)
			return "", invalid(apiErr.Msg)
		}
	}
	ctx := r.Context()
	if _, refusal := h.desktops.Reach(ctx, app, b.Agent, "ring agents"); refusal != nil {
		return "", refusal
	}
	d, err := h.ringer.Ring(ctx, b.Agent, call)
	var ce *cisco.Error
	switch {
	case err == nil:
		h.log.Info("simulated incoming call", zap.String("app", app.Name), zap.String("agent", b.Agent), zap.String("dialog", d.ID))
		return d.ID, nil
	case errors.Is(err, cisco.ErrDeviceBusy), errors.Is(err, cisco.ErrInvalidState):
		errors.As(err, &ce)
		return "", &session.Refusal{Status: http.StatusConflict, Error: "conflict", Message: ce.Text}
	case errors.As(err, &ce) && ce.Type == cisco.ErrorTypeInvalidInput:
		return "", invalid(ce.Text)
	}
	h.log.Error("ring an agent", zap.Error(err))
	return "", &session.Refusal{Status: http.StatusInternalServerError, Error: "internal", Message: "The server could not ring the agent; try again."}
}

// invalid refuses a request to ring an agent for its body.
func invalid(message string) *session.Refusal {
	return &session.Refusal{Status: http.StatusBadRequest, Error: "invalid", Message: message}
}

// PlayScenario plays sc on the connector (see sim.Scenario.Play), its
// waits on the handlers' AfterFunc, so that tests play a scenario by
// firing timers. It fails at once if the connector is not the simulator.
// Run it in a goroutine that the server waits for.
func (h *Cisco) PlayScenario(ctx context.Context, sc *sim.Scenario) error {
	if h.ringer == nil {
		return errors.New("play a scenario: the connector is not the simulator")
	}
	return sc.Play(ctx, h.ringer, func(d time.Duration, f func()) sim.Timer { return h.afterFunc(d, f) }, h.log)
}
