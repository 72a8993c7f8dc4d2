package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// The HTTP endpoints for back-end systems (POST /api/publish, POST
// /api/simulator/calls) share their authentication, their grant checks and
// the shape of their refusals.

// publishError is the JSON body of a refused request to an HTTP endpoint.
type publishError struct {
	Error   string `json:"error"`   // a short code: unauthorized, invalid, forbidden, not_found, conflict, unsupported_media_type
	Message string `json:"message"` // what went wrong and what to do
}

// appAPI serves a POST endpoint for the apps of the apps file: it refuses
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
func (h *Cisco) appAPI(serve func(w http.ResponseWriter, r *http.Request, app *session.App)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, publishError{"method_not_allowed", "Use POST."})
			return
		}
		if !h.originAllowed(w, r) {
			return
		}
		if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, publishError{"unsupported_media_type",
				"Send the body as JSON, with the header Content-Type: application/json."})
			return
		}
		if h.bus.Draining() {
			writeError(w, http.StatusServiceUnavailable, publishError{"unavailable", "The server is shutting down; send it to another node or retry shortly."})
			return
		}
		app, ok := h.authenticateApp(w, r)
		if !ok {
			return
		}
		serve(w, r, app)
	})
}

// originAllowed reports whether the request's Origin, if any, is one the
// bus allows, or answers the refusal: a page of another site may have a
// browser send a request with the Basic credentials it cached.
func (h *Cisco) originAllowed(w http.ResponseWriter, r *http.Request) bool {
	if !h.bus.OriginAllowed(r) {
		writeError(w, http.StatusForbidden, publishError{"forbidden",
			"Pages of this origin may not call this API. Call it from a back-end system (which sends no Origin header), or list the page's origin in -allowed-origins."})
		return false
	}
	return true
}

// authenticateApp returns the app a request authenticates as, or answers
// the refusal and returns false.
func (h *Cisco) authenticateApp(w http.ResponseWriter, r *http.Request) (*session.App, bool) {
	app, err := h.authenticateHTTP(r)
	var locked *session.LockedError
	if errors.As(err, &locked) {
		seconds := int(math.Ceil(locked.Until.Sub(h.now()).Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		writeError(w, http.StatusTooManyRequests, publishError{"locked",
			fmt.Sprintf("Too many wrong secrets for this app; it is locked for %d seconds. Check the secret, then retry.", seconds)})
		return nil, false
	}
	if errors.Is(err, session.ErrBusy) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, publishError{"unavailable",
			"The server is busy checking other credentials. Wait a few seconds, then retry."})
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusUnauthorized, publishError{"unauthorized",
			"Authenticate as an app of the apps file: HTTP Basic with the app's name and secret, or a Bearer JWT signed with its key."})
		return nil, false
	}
	return app, true
}

func (h *Cisco) authenticateHTTP(r *http.Request) (*session.App, error) {
	if h.apps == nil {
		return nil, session.ErrCredentials
	}
	if name, secret, ok := r.BasicAuth(); ok {
		return h.authenticateSecret(r.Context(), name, secret)
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return h.apps.AuthenticateJWT(strings.TrimSpace(token), h.jwtMaxLife)
	}
	return nil, session.ErrCredentials
}

// reachAgent checks that app may act on agent's workspace (what it may do
// is named by action, such as "publish"): the app has the right, the agent
// is in its grant, exists, and is signed in. It returns the scope of the
// agent's workspace (on whichever nodes it lives), or "" with the HTTP
// status and the refusal.
func (h *Cisco) reachAgent(ctx context.Context, app *session.App, agent, action string) (broker.Scope, int, publishError) {
	if !app.Publish {
		return "", http.StatusForbidden, publishError{"forbidden", fmt.Sprintf("This app may not %s; allow it in the apps file (grants.publish).", action)}
	}
	if !app.AllAgents {
		granted, err := h.grantedAgents(ctx, app)
		if err != nil {
			return "", http.StatusInternalServerError, publishError{"internal", "The server could not check the app's grant; try again."}
		}
		if !granted[agent] {
			return "", http.StatusForbidden, publishError{"forbidden", fmt.Sprintf("This app's grant does not include agent %q.", clip(agent))}
		}
	}
	if known, err := h.cti.Agent(ctx, agent); err != nil || !known {
		return "", http.StatusNotFound, publishError{"not_found", fmt.Sprintf("There is no agent %q.", clip(agent))}
	}
	if u, err := h.cti.User(ctx, agent); err != nil {
		return "", http.StatusServiceUnavailable, publishError{"unavailable", "The server could not reach the contact center; try again in a few seconds."}
	} else if u.State == cisco.StateLogout {
		return "", http.StatusNotFound, publishError{"not_found", fmt.Sprintf("Agent %q is not signed in, so nobody would receive it; try again once the agent is signed in.", agent)}
	}
	return session.ScopeOf(agent), 0, publishError{}
}

// authenticateSecret checks an app's secret. A secret already proven on
// this node passes at once, locked or not: the lockout is there to stop
// guesses, and must not let guesses lock out the back end that holds the
// secret. Any other secret goes through the app lockout, which counts it,
// and the bound on password checks, which prices it a bcrypt.
func (h *Cisco) authenticateSecret(ctx context.Context, name, secret string) (*session.App, error) {
	if app, ok := h.apps.Remembered(name, secret); ok {
		return app, nil
	}
	var app *session.App
	err := h.appLockout.Attempt(ctx, session.NameAccount(name), func() error {
		return h.checks.Do(ctx, func() error {
			var err error
			app, err = h.apps.AuthenticateSecret(name, secret)
			if errors.Is(err, session.ErrCredentials) {
				return fmt.Errorf("%w: %w", session.ErrBadCredentials, err)
			}
			return err
		})
	})
	return app, err
}

func writeError(w http.ResponseWriter, status int, refusal publishError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(refusal)
}
