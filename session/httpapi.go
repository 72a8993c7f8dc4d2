package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/internal/clip"
)

// The HTTP endpoints for back-end systems (POST /api/publish, and a
// channel's own, such as the simulator's POST /api/simulator/calls) share
// their authentication, their grant checks and the shape of their
// refusals.

// Refusal is a refused request to an HTTP endpoint: its status, and its
// JSON body.
type Refusal struct {
	Status  int    `json:"-"`
	Error   string `json:"error"`   // a short code: unauthorized, invalid, forbidden, not_found, conflict, unsupported_media_type
	Message string `json:"message"` // what went wrong and what to do
}

// Write writes the refusal as the response.
func (r Refusal) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_ = json.NewEncoder(w).Encode(r)
}

// AppAPI serves a POST endpoint for the apps of the apps file: it refuses
// other methods, pages of origins the bus does not allow, bodies that are
// not declared JSON, and missing or wrong credentials, then calls serve
// with the app the request authenticated as.
//
// The origin and the content type are checked before the credential: a
// page of another site can make a browser post a form, with the Basic
// credentials it cached for this server, but only as a form or plain text
// (application/json needs a CORS preflight, which nothing here answers)
// and always with its own Origin. For the same reason a refused credential
// gets no WWW-Authenticate: Basic challenge, which would have a browser
// ask for credentials and cache them.
func (d *Desktops) AppAPI(serve func(w http.ResponseWriter, r *http.Request, app *App)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			Refusal{http.StatusMethodNotAllowed, "method_not_allowed", "Use POST."}.Write(w)
			return
		}
		if !d.AllowOrigin(w, r) {
			return
		}
		if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/json" {
			Refusal{http.StatusUnsupportedMediaType, "unsupported_media_type",
				"Send the body as JSON, with the header Content-Type: application/json."}.Write(w)
			return
		}
		if d.bus.Draining() {
			Refusal{http.StatusServiceUnavailable, "unavailable", "The server is shutting down; send it to another node or retry shortly."}.Write(w)
			return
		}
		app, ok := d.AuthenticateApp(w, r)
		if !ok {
			return
		}
		serve(w, r, app)
	})
}

// AllowOrigin reports whether the request's Origin, if any, is one the bus
// allows, or writes the refusal and returns false: a page of another site
// may have a browser send a request with the Basic credentials it cached.
func (d *Desktops) AllowOrigin(w http.ResponseWriter, r *http.Request) bool {
	if !d.bus.OriginAllowed(r) {
		Refusal{http.StatusForbidden, "forbidden",
			"Pages of this origin may not call this API. Call it from a back-end system (which sends no Origin header), or list the page's origin in -allowed-origins."}.Write(w)
		return false
	}
	return true
}

// AuthenticateApp returns the app of the apps file an HTTP request
// authenticates as (HTTP Basic with its name and secret, or a Bearer JWT
// signed with its key), or writes the refusal and returns false: locked
// out, too busy to check, or not an app. AppAPI's endpoints call it after
// their own checks; an endpoint of another method (the operator's view's
// GET) calls AllowOrigin and then it.
func (d *Desktops) AuthenticateApp(w http.ResponseWriter, r *http.Request) (*App, bool) {
	app, err := d.authenticateHTTP(r)
	var locked *LockedError
	if errors.As(err, &locked) {
		seconds := int(math.Ceil(locked.Until.Sub(d.now()).Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		Refusal{http.StatusTooManyRequests, "locked",
			fmt.Sprintf("Too many wrong secrets for this app; it is locked for %d seconds. Check the secret, then retry.", seconds)}.Write(w)
		return nil, false
	}
	if errors.Is(err, ErrBusy) {
		w.Header().Set("Retry-After", "5")
		Refusal{http.StatusServiceUnavailable, "unavailable",
			"The server is busy checking other credentials. Wait a few seconds, then retry."}.Write(w)
		return nil, false
	}
	if err != nil {
		Refusal{http.StatusUnauthorized, "unauthorized",
			"Authenticate as an app of the apps file: HTTP Basic with the app's name and secret, or a Bearer JWT signed with its key."}.Write(w)
		return nil, false
	}
	return app, true
}

func (d *Desktops) authenticateHTTP(r *http.Request) (*App, error) {
	if d.apps == nil {
		return nil, ErrCredentials
	}
	if name, secret, ok := r.BasicAuth(); ok {
		return d.authenticateSecret(r.Context(), name, secret)
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return d.apps.AuthenticateJWT(strings.TrimSpace(token), d.jwtMaxLife)
	}
	return nil, ErrCredentials
}

// Reach checks that app may act on agent's workspace (what it may do is
// named by action, such as "publish"): the app has the right, the agent is
// in its grant, exists, and is signed in. It returns the scope of the
// agent's workspace (on whichever nodes it lives), or the refusal.
func (d *Desktops) Reach(ctx context.Context, app *App, agent, action string) (broker.Scope, *Refusal) {
	if !app.Publish {
		return "", &Refusal{http.StatusForbidden, "forbidden", fmt.Sprintf("This app may not %s; allow it in the apps file (grants.publish).", action)}
	}
	if !app.AllAgents {
		granted, err := d.grantedAgents(ctx, app)
		if err != nil {
			return "", &Refusal{http.StatusInternalServerError, "internal", "The server could not check the app's grant; try again."}
		}
		if !granted[agent] {
			return "", &Refusal{http.StatusForbidden, "forbidden", fmt.Sprintf("This app's grant does not include agent %q.", clip.Short(agent))}
		}
	}
	signedIn, err := d.channel.SignedIn(ctx, agent)
	switch {
	case errors.Is(err, ErrNoAgent):
		return "", &Refusal{http.StatusNotFound, "not_found", fmt.Sprintf("There is no agent %q.", clip.Short(agent))}
	case err != nil:
		return "", &Refusal{http.StatusServiceUnavailable, "unavailable", "The server could not reach the contact center; try again in a few seconds."}
	case !signedIn:
		return "", &Refusal{http.StatusNotFound, "not_found", fmt.Sprintf("Agent %q is not signed in, so nobody would receive it; try again once the agent is signed in.", agent)}
	}
	return d.ScopeOf(agent), nil
}

// MaxBody bounds the body of a request to an HTTP endpoint, like the
// WebSocket read limit.
const MaxBody = 64 << 10

// readBody reads the body of a request to an HTTP endpoint, up to MaxBody,
// or says why it cannot.
func readBody(r *http.Request) ([]byte, *Refusal) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &Refusal{http.StatusBadRequest, "invalid", fmt.Sprintf("The body is larger than %d bytes.", MaxBody)}
	case err != nil:
		return nil, &Refusal{http.StatusBadRequest, "invalid", "The body could not be read."}
	}
	return body, nil
}

// PublishAPI serves POST /api/publish: a back-end system with an app
// credential publishes one envelope into one agent's workspace, as the app
// it authenticates as. The body is an envelope with the agent's loginId:
// {"agent", "channel", "topic", "subtopic", "data"?, "id"?}. Authenticate
// with HTTP Basic (app name and secret) or a Bearer JWT.
func (d *Desktops) PublishAPI() http.Handler {
	return d.AppAPI(func(w http.ResponseWriter, r *http.Request, app *App) {
		if refusal := d.publishFromHTTP(r, app); refusal != nil {
			d.log.Info("publish refused", zap.String("app", app.Name), zap.Int("status", refusal.Status), zap.String("error", refusal.Error))
			refusal.Write(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, `{"status":"accepted"}`)
	})
}

// publishFromHTTP publishes the request's envelope, or says why not.
func (d *Desktops) publishFromHTTP(r *http.Request, app *App) *Refusal {
	body, refusal := readBody(r)
	if refusal != nil {
		return refusal
	}
	req, err := broker.ParseRequest(body)
	if err != nil {
		var apiErr *broker.APIError
		errors.As(err, &apiErr)
		return &Refusal{http.StatusBadRequest, "invalid", "The body is not a valid envelope: " + apiErr.Message + "."}
	}
	var target struct {
		Agent string `json:"agent"`
	}
	if json.Unmarshal(body, &target) != nil || target.Agent == "" {
		return &Refusal{http.StatusBadRequest, "invalid", `Name the agent whose workspace gets the envelope: "agent": "<loginId>".`}
	}
	if d.bus.Handled(req.Channel) {
		return &Refusal{http.StatusForbidden, "forbidden", fmt.Sprintf("No app may publish on the %s channel: its events come from the server. Use a channel of your own, such as CRM.", req.Channel)}
	}
	scope, refusal := d.Reach(r.Context(), app, target.Agent, "publish")
	if refusal != nil {
		return refusal
	}
	if err := d.bus.Publish(scope, broker.Event{
		Channel: req.Channel, Topic: req.Topic, Subtopic: req.Subtopic,
		Source: app.Name, Message: req.Data, CorrelationID: req.ID,
	}); err != nil {
		return &Refusal{http.StatusInternalServerError, "internal", "The server could not publish the envelope; try again."}
	}
	return nil
}
