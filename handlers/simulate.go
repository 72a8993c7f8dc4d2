package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// Ringer rings an agent's phone with a call from outside: what the
// simulator does on demand, so that a widget's screen pop can be tested
// without a phone system. *cisco.Simulator satisfies it; a connector to a
// real contact center does not, and then the simulator's APIs are absent.
type Ringer interface {
	Ring(ctx context.Context, loginID string, call cisco.IncomingCall) (cisco.Dialog, error)
}

var _ Ringer = (*cisco.Simulator)(nil)

// incomingCall serves Cisco/Simulator/IncomingCall {from, dnis?,
// callVariables?, kind?}, an extension present only on the simulator: it
// rings the requesting connection's own signed-in agent, or reserves it for
// a campaign call (kind preview or progressive).
func (h *Cisco) incomingCall(ctx context.Context, req *broker.Request) error {
	ws, fields, err := h.signedInWith(req)
	if err != nil {
		return err
	}
	var call cisco.IncomingCall
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
func parseKind(kind, field string) (cisco.CallKind, error) {
	k, err := cisco.ParseCallKind(kind)
	if err != nil {
		return "", broker.InvalidInput(field, fmt.Sprintf("it is %q; give inbound (the default), preview or progressive", clip(kind)))
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
	return h.appAPI(func(w http.ResponseWriter, r *http.Request, app *session.App) {
		id, status, refusal := h.ringFromHTTP(r, app)
		if status != http.StatusCreated {
			h.log.Info("simulated call refused", zap.String("app", app.Name), zap.Int("status", status), zap.String("error", refusal.Error))
			writeError(w, status, refusal)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"dialogId": id})
	})
}

// ringFromHTTP rings the agent the body names, or says why not.
func (h *Cisco) ringFromHTTP(r *http.Request, app *session.App) (string, int, publishError) {
	if h.ringer == nil {
		return "", http.StatusNotFound, publishError{"not_found", "This server is connected to a real contact center, not the simulator: calls come from phones."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxPublishBody))
	if err != nil {
		return "", http.StatusBadRequest, publishError{"invalid", fmt.Sprintf("The body could not be read, or is larger than %d bytes.", maxPublishBody)}
	}
	var b incomingCallBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return "", http.StatusBadRequest, publishError{"invalid", `The body must be {"agent": "<loginId>", "from": "<number>", "dnis"?: "<number>", "callVariables"?: {...}, "kind"?: "inbound|preview|progressive"}: ` + err.Error()}
	}
	if b.Agent == "" || b.From == "" {
		return "", http.StatusBadRequest, publishError{"invalid", `Name the agent to ring and the caller: "agent": "<loginId>", "from": "<number>".`}
	}
	call := cisco.IncomingCall{From: b.From, DNIS: b.DNIS}
	if call.Kind, err = parseKind(b.Kind, "kind"); err != nil {
		var apiErr *broker.APIError
		errors.As(err, &apiErr)
		return "", http.StatusBadRequest, publishError{"invalid", apiErr.Msg}
	}
	if len(b.CallVariables) > 0 && !bytes.Equal(b.CallVariables, []byte("null")) {
		if call.CallVariables, err = parseCallVariables(b.CallVariables, "callVariables"); err != nil {
			var apiErr *broker.APIError
			errors.As(err, &apiErr)
			return "", http.StatusBadRequest, publishError{"invalid", apiErr.Msg}
		}
	}
	ctx := r.Context()
	if scope, status, refusal := h.reachAgent(ctx, app, b.Agent, "ring agents"); scope == "" {
		return "", status, refusal
	}
	d, err := h.ringer.Ring(ctx, b.Agent, call)
	var ce *cisco.Error
	switch {
	case err == nil:
		h.log.Info("simulated incoming call", zap.String("app", app.Name), zap.String("agent", b.Agent), zap.String("dialog", d.ID))
		return d.ID, http.StatusCreated, publishError{}
	case errors.Is(err, cisco.ErrDeviceBusy), errors.Is(err, cisco.ErrInvalidState):
		errors.As(err, &ce)
		return "", http.StatusConflict, publishError{"conflict", ce.Text}
	case errors.As(err, &ce) && ce.Type == cisco.ErrorTypeInvalidInput:
		return "", http.StatusBadRequest, publishError{"invalid", ce.Text}
	}
	h.log.Error("ring an agent", zap.Error(err))
	return "", http.StatusInternalServerError, publishError{"internal", "The server could not ring the agent; try again."}
}

// Scenario is a timed list of incoming calls that the simulator plays, for
// demos and load tests. In a file:
//
//	{"loop": true, "calls": [
//	  {"after": "5s", "agent": "100501", "from": "4085551234", "dnis": "8005550100",
//	   "callVariables": {"callVariable1": "ACC-42", "user.acct": "42"}},
//	  {"after": "30s", "agent": "100501", "from": "6505550199", "kind": "preview"}
//	]}
//
// after is the wait before the call, counted from the previous call (or
// from the start); loop plays the list again and again. kind is inbound
// (the default), preview or progressive.
type Scenario struct {
	Loop  bool
	Calls []ScenarioCall
}

// ScenarioCall is one call of a Scenario.
type ScenarioCall struct {
	After time.Duration
	Agent string
	Call  cisco.IncomingCall
}

// LoadScenarioFile reads a scenario file. An error names the call and the
// field: calls[2].after: ...
func LoadScenarioFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc, err := LoadScenario(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

// maxScenario bounds a scenario file.
const maxScenario = 16 << 20

// LoadScenario reads a scenario (see Scenario).
func LoadScenario(r io.Reader) (*Scenario, error) {
	var file struct {
		Loop  bool `json:"loop"`
		Calls []struct {
			After         string          `json:"after"`
			Agent         string          `json:"agent"`
			From          string          `json:"from"`
			DNIS          string          `json:"dnis"`
			CallVariables json.RawMessage `json:"callVariables"`
			Kind          string          `json:"kind"`
		} `json:"calls"`
	}
	dec := json.NewDecoder(io.LimitReader(r, maxScenario))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf(`scenario: %w; the file is {"loop": bool, "calls": [{"after": "5s", "agent": "<loginId>", "from": "<number>", "dnis"?, "callVariables"?, "kind"?}]}`, err)
	}
	if len(file.Calls) == 0 {
		return nil, errors.New("scenario: calls: the list is empty; give at least one call")
	}
	sc := &Scenario{Loop: file.Loop}
	var total time.Duration
	for i, c := range file.Calls {
		field := func(name string) string { return fmt.Sprintf("scenario: calls[%d].%s", i, name) }
		after, err := time.ParseDuration(c.After)
		if c.After == "" {
			after, err = 0, nil
		}
		if err != nil || after < 0 {
			return nil, fmt.Errorf("%s: %q is not a duration; write it like 5s, 1m30s or 250ms", field("after"), c.After)
		}
		if c.Agent == "" {
			return nil, fmt.Errorf("%s: missing; give the loginId of the agent to ring", field("agent"))
		}
		if c.From == "" {
			return nil, fmt.Errorf("%s: missing; give the caller's number", field("from"))
		}
		kind, err := cisco.ParseCallKind(c.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a kind of call; give inbound (the default), preview or progressive", field("kind"), clip(c.Kind))
		}
		call := cisco.IncomingCall{From: c.From, DNIS: c.DNIS, Kind: kind}
		if len(c.CallVariables) > 0 {
			vars, err := parseCallVariables(c.CallVariables, "callVariables")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field("callVariables"), err)
			}
			call.CallVariables = vars
		}
		total += after
		sc.Calls = append(sc.Calls, ScenarioCall{After: after, Agent: c.Agent, Call: call})
	}
	if sc.Loop && total <= 0 {
		return nil, errors.New("scenario: a looping scenario needs a positive after on at least one call, or it would ring without pause")
	}
	return sc, nil
}

// PlayScenario rings the scenario's calls until it ends (or, looping,
// until ctx is done), and returns nil then. A call for an agent who is not
// signed in, or who is busy, is skipped and logged. Its waits run on the
// handlers' AfterFunc, so tests play a scenario by firing timers. Run it in
// a goroutine that the server waits for.
func (h *Cisco) PlayScenario(ctx context.Context, sc *Scenario) error {
	if h.ringer == nil {
		return errors.New("play a scenario: the connector is not the simulator")
	}
	for {
		for i, c := range sc.Calls {
			if err := h.wait(ctx, c.After); err != nil {
				return nil
			}
			d, err := h.ringer.Ring(ctx, c.Agent, c.Call)
			if err != nil {
				// Only the error's type: its text may quote the caller's number.
				reason := "internal"
				var ce *cisco.Error
				if errors.As(err, &ce) {
					reason = ce.Type
				}
				h.log.Info("scenario call skipped", zap.Int("call", i), zap.String("agent", c.Agent), zap.String("reason", reason))
				continue
			}
			h.log.Debug("scenario call rang", zap.Int("call", i), zap.String("agent", c.Agent), zap.String("dialog", d.ID))
		}
		if !sc.Loop {
			return nil
		}
	}
}

// wait returns after d, or with ctx's error when ctx ends first.
func (h *Cisco) wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	fired := make(chan struct{})
	t := h.afterFunc(d, func() { close(fired) })
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
