package session

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/internal/clip"
)

var _ broker.Admitter = (*Desktops)(nil)

// The credential fields of Register's data.
const (
	fieldToken  = "token"
	fieldSecret = "secret"
	fieldJWT    = "jwt"
)

// Admit admits the apps that present credentials in their Register: an
// agent's app with a workspace token joins the agent's workspace; a
// server-side app with its secret or a JWT gets its grant. Credentials are
// never logged.
func (d *Desktops) Admit(ctx context.Context, c *broker.Conn, reg broker.Registration) error {
	var present []string
	values := map[string]string{}
	for _, key := range []string{fieldToken, fieldSecret, fieldJWT} {
		v, err := reg.Fields.String(key)
		if err != nil {
			return err
		}
		if v != "" {
			present = append(present, key)
			values[key] = v
		}
	}
	if _, hasToken := values[fieldToken]; (len(present) == 0 || len(present) == 1 && hasToken) && d.apps != nil &&
		d.apps.Reserved(reg.App) && c.App() != reg.App {
		return &broker.APIError{
			Type:    broker.ErrTypeInvalidCredentials,
			Message: fmt.Sprintf("source: %q is reserved for a server-side app of the apps file", clip.Short(reg.App)),
			Msg:     "This name belongs to a server-side app: register with its secret or JWT, or under another name.",
		}
	}
	switch len(present) {
	case 0:
		return nil
	case 1:
	default:
		return broker.InvalidInput("data", fmt.Sprintf("give one credential, not %v", present))
	}
	log := c.Logger()
	if c.App() == "" { // the connection's logger names the app once it is registered
		log = log.With(zap.String("app", reg.App))
	}
	if token, ok := values[fieldToken]; ok {
		return d.joinWithToken(ctx, c, token, log)
	}
	if c.App() != "" {
		// An app's grant is fixed when the connection is admitted; a second
		// admission would add watched workspaces to a connection that
		// already has some.
		return broker.InvalidInput("data", "present an app credential in the connection's first Register")
	}
	app, err := d.authenticate(ctx, reg.App, values[fieldSecret], values[fieldJWT])
	if err != nil {
		switch {
		case errors.Is(err, broker.ErrTryAgainLater):
		case err == BusyError:
			log.Warn("app credentials not checked: too many password checks waiting", zap.String("credential", present[0]))
		default:
			log.Info("app credentials refused", zap.String("credential", present[0]))
		}
		return err
	}
	if err := d.grant(ctx, c, app); err != nil {
		return err
	}
	log.Info("server-side app admitted", zap.Bool("allAgents", app.AllAgents),
		zap.Strings("agents", app.Agents), zap.Strings("teams", app.Teams), zap.Bool("publish", app.Publish))
	return nil
}

// BusyError answers a sign-in or an app secret that could not be checked
// in time: too many checks were running or waiting (ErrBusy).
var BusyError = &broker.APIError{
	Type:    broker.ErrTypeUnavailable,
	Message: "too many sign-ins are being checked: try again shortly",
	Msg:     "The server is busy checking other sign-ins. Wait a few seconds, then try again.",
}

// errTokenRefused answers a workspace token that admits nothing.
var errTokenRefused = &broker.APIError{
	Type:    broker.ErrTypeInvalidCredentials,
	Message: "the workspace token is unknown, expired or revoked",
	Msg:     "This workspace token is not valid (it may have expired, or the agent signed out). Get a new one from the agent's desktop.",
}

func (d *Desktops) joinWithToken(ctx context.Context, c *broker.Conn, token string, log *zap.Logger) error {
	agentID, err := d.tokens.Resolve(ctx, token)
	if errors.Is(err, ErrTokenInvalid) {
		log.Info("workspace token refused")
		return errTokenRefused
	}
	if err != nil {
		return tryAgainLater("check the workspace token", err)
	}
	unlock := d.workspaces.Lock(agentID)
	defer unlock()
	// The workspace may live on other nodes only, or on none after a
	// restart of every node: the contact center says whether the agent is
	// still signed in. A token that still admits while the agent is
	// signed out is one of a kept desktop, here or on another node: its
	// tokens go when it ends. The app joins it, signed out.
	signedIn, err := d.channel.SignedIn(ctx, agentID)
	switch {
	case errors.Is(err, ErrUnavailable):
		return tryAgainLater("check that the agent is signed in", err)
	case errors.Is(err, ErrNoAgent):
		log.Info("workspace token refused: the agent is no longer in the directory")
		return errTokenRefused
	case err != nil:
		return err
	}
	d.workspaces.Join(agentID, c, !signedIn)
	log.Info("app joined a workspace with a token", zap.String("agent", agentID), zap.Bool("signedIn", signedIn))
	return nil
}

// tryAgainLater is the error of a credential that could not be checked,
// its store (or the contact center) being out of reach in a cluster: the
// bus closes the connection, and the app reconnects and presents it again,
// where a refusal would make it give the credential up.
func tryAgainLater(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, broker.ErrTryAgainLater, err)
}

func (d *Desktops) authenticate(ctx context.Context, name, secret, jwt string) (*App, error) {
	refused := &broker.APIError{
		Type:    broker.ErrTypeInvalidCredentials,
		Message: "the app credentials are not valid",
		Msg:     `The app's name ("source") and credential do not match an app the server knows. Check both against the apps file.`,
	}
	if d.apps == nil {
		return nil, refused
	}
	var app *App
	var err error
	if secret != "" {
		app, err = d.authenticateSecret(ctx, name, secret)
	} else {
		app, err = d.apps.AuthenticateJWT(jwt, d.jwtMaxLife)
	}
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		return nil, &broker.APIError{
			Type:    broker.ErrTypeInvalidCredentials,
			Message: "too many wrong secrets for this app: locked",
			Msg:     "Too many wrong secrets were given for this app; it is locked for a few minutes. Check the secret, then retry.",
		}
	case errors.Is(err, ErrBusy):
		return nil, BusyError
	case errors.Is(err, ErrCredentials):
		return nil, refused
	case errors.Is(err, ErrUnavailable):
		return nil, tryAgainLater("check the app's secret", err)
	case err != nil:
		return nil, err
	case app.Name != name:
		return nil, refused
	}
	return app, nil
}

// authenticateSecret checks an app's secret. A secret already proven on
// this node passes at once, locked or not: the lockout is there to stop
// guesses, and must not let guesses lock out the back end that holds the
// secret. Any other secret goes through the app lockout, which counts it,
// and the bound on password checks, which prices it a bcrypt.
func (d *Desktops) authenticateSecret(ctx context.Context, name, secret string) (*App, error) {
	if app, ok := d.apps.Remembered(name, secret); ok {
		return app, nil
	}
	var app *App
	err := d.appLockout.Attempt(ctx, NameAccount(name), func() error {
		return d.checks.Do(ctx, func() error {
			var err error
			app, err = d.apps.AuthenticateSecret(name, secret)
			if errors.Is(err, ErrCredentials) {
				return fmt.Errorf("%w: %w", ErrBadCredentials, err)
			}
			return err
		})
	})
	return app, err
}

// grant restricts c to app's grant and lets it see the workspaces of the
// agents the grant names.
func (d *Desktops) grant(ctx context.Context, c *broker.Conn, app *App) error {
	if app.AllAgents {
		c.SetGrant(broker.Grant{Subscribe: app.Subscribe, Publish: app.Publish})
		c.WatchAll(string(d.EveryWorkspace()))
		return nil
	}
	agents, err := d.grantedAgents(ctx, app)
	if err != nil {
		return err // before the grant: a refused Register changes nothing
	}
	c.SetGrant(broker.Grant{Subscribe: app.Subscribe, Publish: app.Publish})
	scopes := make([]broker.Scope, 0, len(agents))
	for id := range agents {
		scopes = append(scopes, d.ScopeOf(id))
	}
	c.Watch(scopes...)
	return nil
}

// grantedAgents returns the loginIds an app's grant names, teams resolved.
func (d *Desktops) grantedAgents(ctx context.Context, app *App) (map[string]bool, error) {
	agents := make(map[string]bool, len(app.Agents))
	for _, id := range app.Agents {
		agents[id] = true
	}
	for _, team := range app.Teams {
		ids, err := d.channel.TeamMembers(ctx, team)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			agents[id] = true
		}
	}
	return agents, nil
}
