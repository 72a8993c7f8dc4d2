package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/session"
)

// maxPublishBody bounds a POST /api/publish body, like the WebSocket read limit.
const maxPublishBody = 64 << 10

// publishError is the JSON body of a refused POST /api/publish.
type publishError struct {
	Error   string `json:"error"`   // a short code: unauthorized, invalid, forbidden, not_found
	Message string `json:"message"` // what went wrong and what to do
}

// PublishAPI serves POST /api/publish: a back-end system with an app
// credential publishes one envelope into one agent's workspace, as the app
// it authenticates as. The body is an envelope with the agent's loginId:
// {"agent", "channel", "topic", "subtopic", "data"?, "id"?}. Authenticate
// with HTTP Basic (app name and secret) or a Bearer JWT.
func (h *Cisco) PublishAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, publishError{"method_not_allowed", "Use POST."})
			return
		}
		app, err := h.authenticateHTTP(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="ctibus", Bearer realm="ctibus"`)
			writeError(w, http.StatusUnauthorized, publishError{"unauthorized",
				"Authenticate as an app of the apps file: HTTP Basic with the app's name and secret, or a Bearer JWT signed with its key."})
			return
		}
		log := h.log.With(zap.String("app", app.Name))
		if status, refusal := h.publishFromHTTP(r, app); status != http.StatusAccepted {
			log.Info("publish refused", zap.Int("status", status), zap.String("error", refusal.Error))
			writeError(w, status, refusal)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, `{"status":"accepted"}`)
	})
}

func (h *Cisco) authenticateHTTP(r *http.Request) (*session.App, error) {
	if h.apps == nil {
		return nil, session.ErrCredentials
	}
	if name, secret, ok := r.BasicAuth(); ok {
		return h.apps.AuthenticateSecret(name, secret)
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return h.apps.AuthenticateJWT(strings.TrimSpace(token))
	}
	return nil, session.ErrCredentials
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
		return http.StatusBadRequest, publishError{"invalid", apiErr.Msg}
	}
	var target struct {
		Agent string `json:"agent"`
	}
	if json.Unmarshal(body, &target) != nil || target.Agent == "" {
		return http.StatusBadRequest, publishError{"invalid", `Name the agent whose workspace gets the envelope: "agent": "<loginId>".`}
	}

	ctx := r.Context()
	switch {
	case !app.Publish:
		return http.StatusForbidden, publishError{"forbidden", "This app may not publish; allow it in the apps file (grants.publish)."}
	case h.bus.Handled(req.Channel):
		return http.StatusForbidden, publishError{"forbidden", fmt.Sprintf("No app may publish on the %s channel: its events come from the server. Use a channel of your own, such as CRM.", req.Channel)}
	}
	if !app.AllAgents {
		granted, err := h.grantedAgents(ctx, app)
		if err != nil {
			return http.StatusInternalServerError, publishError{"internal", "The server could not check the app's grant; try again."}
		}
		if !granted[target.Agent] {
			return http.StatusForbidden, publishError{"forbidden", fmt.Sprintf("This app's grant does not include agent %q.", target.Agent)}
		}
	}
	if known, err := h.cti.Agent(ctx, target.Agent); err != nil || !known {
		return http.StatusNotFound, publishError{"not_found", fmt.Sprintf("There is no agent %q.", target.Agent)}
	}
	ws, signedIn := h.workspaces.Get(target.Agent)
	if !signedIn {
		return http.StatusNotFound, publishError{"not_found", fmt.Sprintf("Agent %q is not signed in, so nobody would receive the envelope; try again once the agent is signed in.", target.Agent)}
	}
	if err := h.bus.Publish(ws.Scope, broker.Event{
		Channel: req.Channel, Topic: req.Topic, Subtopic: req.Subtopic,
		Source: app.Name, Message: req.Data, CorrelationID: req.ID,
	}); err != nil {
		return http.StatusInternalServerError, publishError{"internal", "The server could not publish the envelope; try again."}
	}
	return http.StatusAccepted, publishError{}
}

func writeError(w http.ResponseWriter, status int, refusal publishError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(refusal)
}
