package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/session"
)

// maxPublishBody bounds a POST /api/publish body, like the WebSocket read limit.
const maxPublishBody = 64 << 10

// PublishAPI serves POST /api/publish: a back-end system with an app
// credential publishes one envelope into one agent's workspace, as the app
// it authenticates as. The body is an envelope with the agent's loginId:
// {"agent", "channel", "topic", "subtopic", "data"?, "id"?}. Authenticate
// with HTTP Basic (app name and secret) or a Bearer JWT.
func (h *Cisco) PublishAPI() http.Handler {
	return h.appAPI(func(w http.ResponseWriter, r *http.Request, app *session.App) {
		if status, refusal := h.publishFromHTTP(r, app); status != http.StatusAccepted {
			h.log.Info("publish refused", zap.String("app", app.Name), zap.Int("status", status), zap.String("error", refusal.Error))
			writeError(w, status, refusal)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, `{"status":"accepted"}`)
	})
}

// publishFromHTTP publishes the request's envelope, or says why not: it
// returns the HTTP status and, unless it is 202, the refusal.
func (h *Cisco) publishFromHTTP(r *http.Request, app *session.App) (int, publishError) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxPublishBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusBadRequest, publishError{"invalid", fmt.Sprintf("The body is larger than %d bytes.", maxPublishBody)}
	case err != nil:
		return http.StatusBadRequest, publishError{"invalid", "The body could not be read."}
	}
	req, err := broker.ParseRequest(body)
	if err != nil {
		var apiErr *broker.APIError
		errors.As(err, &apiErr)
		return http.StatusBadRequest, publishError{"invalid", "The body is not a valid envelope: " + apiErr.Message + "."}
	}
	var target struct {
		Agent string `json:"agent"`
	}
	if json.Unmarshal(body, &target) != nil || target.Agent == "" {
		return http.StatusBadRequest, publishError{"invalid", `Name the agent whose workspace gets the envelope: "agent": "<loginId>".`}
	}
	if h.bus.Handled(req.Channel) {
		return http.StatusForbidden, publishError{"forbidden", fmt.Sprintf("No app may publish on the %s channel: its events come from the server. Use a channel of your own, such as CRM.", req.Channel)}
	}
	scope, status, refusal := h.reachAgent(r.Context(), app, target.Agent, "publish")
	if scope == "" {
		return status, refusal
	}
	if err := h.bus.Publish(scope, broker.Event{
		Channel: req.Channel, Topic: req.Topic, Subtopic: req.Subtopic,
		Source: app.Name, Message: req.Data, CorrelationID: req.ID,
	}); err != nil {
		return http.StatusInternalServerError, publishError{"internal", "The server could not publish the envelope; try again."}
	}
	return http.StatusAccepted, publishError{}
}
