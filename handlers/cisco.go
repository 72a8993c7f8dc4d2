package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// channel is the canonical spelling of the Cisco channel on the bus.
const channel = "Cisco"

// The errorType values the Cisco channel adds to Finesse's own.
const (
	ErrTypeAccountLocked = "Account Locked"
)

// Config holds the Cisco handlers' tunables; zero values select defaults.
type Config struct {
	// Grace is how long an agent stays signed in after the last connection of
	// its workspace closes. Default 60 s.
	Grace time.Duration
	// AfterFunc starts the grace timers and the scenario player's waits;
	// tests replace it. Default time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) session.Timer
	// TokenTTL is how long a workspace token admits other apps. Default 12 h.
	TokenTTL time.Duration
	// TokensPerAgent is how many workspace tokens of one agent admit apps
	// at once; each sign-in displaces the oldest beyond it. Default 32.
	TokensPerAgent int
	// LoginAttemptsPerIP caps sign-in attempts per client address and
	// minute. Zero, the default, means no cap.
	LoginAttemptsPerIP int
	// PasswordChecks bounds the password and app-secret checks running or
	// waiting at once; its zero value selects its defaults.
	PasswordChecks session.PasswordChecksConfig
	// JWTMaxLifetime is the longest an app's JWT may live, from its issue
	// or from now; a longer-lived one is refused. Default 24 h.
	JWTMaxLifetime time.Duration
	// Apps are the server-side apps allowed to register with credentials;
	// nil allows none.
	Apps *session.Apps
	// Metrics records sign-ins; nil records nothing.
	Metrics *Metrics
	// Now tells the time. Default time.Now.
	Now func() time.Time

	// The stores a cluster shares; nil keeps each in this node's memory.

	// TokenStore keeps the workspace tokens.
	TokenStore session.TokenStore
	// AppLockoutStore keeps the lockout of app secrets, apart from the
	// agents' so that an app and an agent of one name do not share a count.
	AppLockoutStore session.LockoutStore
	// Presence tells which nodes hold connections of an agent's workspace,
	// so that a grace period signs an agent out only when none does.
	Presence session.Presence
}

// Cisco serves the agent API of the Cisco channel on a broker.
type Cisco struct {
	bus        *broker.Broker
	cti        cisco.Connector
	lockout    *session.Lockout
	appLockout *session.Lockout // app secrets, by app name
	workspaces *session.Workspaces
	tokens     *session.Tokens
	addresses  *session.AddressLimiter
	checks     *session.PasswordChecks // every bcrypt check, agents' and apps'
	apps       *session.Apps
	jwtMaxLife time.Duration // the longest an app's JWT may live
	metrics    *Metrics
	log        *zap.Logger
	now        func() time.Time
	afterFunc  func(d time.Duration, f func()) session.Timer
	grace      time.Duration    // how long an agent may stay without a connection
	presence   session.Presence // which nodes hold connections of a workspace
	// onSignIn, if set, hears of every sign-in made here, which the
	// connector does not notify: the operator's view (NewAdmin sets it,
	// before serving).
	onSignIn func(cisco.User)
	// ringer is the simulator's incoming-call generator, nil when the
	// connector is not a simulator.
	ringer Ringer

	// desktops maps each connection that signed an agent in to that
	// agent's desktop, so that its loss is reported (watchDesktop).
	desktops sync.Map // *broker.Conn → desktop
	// signOutsAtCallEnd holds the agents a supervisor signed out here
	// during a call: their desktops are kept when the call ends.
	signOutsAtCallEnd sync.Map // loginId → struct{}

	stopping   context.Context    // ends at Close: the work in background stops
	stop       context.CancelFunc //
	background sync.WaitGroup     // the work in background, which Close waits for
}

// NewCisco returns the Cisco channel's handlers, backed by cti, with sign-ins
// guarded by lockout. Call Register to put them on bus.
func NewCisco(bus *broker.Broker, cti cisco.Connector, lockout *session.Lockout, log *zap.Logger, cfg Config) *Cisco {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) session.Timer { return time.AfterFunc(d, f) }
	}
	if cfg.Grace <= 0 {
		cfg.Grace = session.DefaultGrace
	}
	if cfg.Presence == nil {
		cfg.Presence = session.Alone
	}
	ringer, _ := cti.(Ringer)
	stopping, stop := context.WithCancel(context.Background())
	h := &Cisco{
		stopping: stopping,
		stop:     stop,
		bus:      bus,
		cti:      cti,
		lockout:  lockout,
		// Wrong app secrets are locked out like wrong passwords: each costs
		// a bcrypt comparison, and nothing else would limit them.
		appLockout: session.NewLockout(appLockoutConfig(lockout.Config(), cfg.AppLockoutStore)),
		tokens:     session.NewTokens(session.TokensConfig{TTL: cfg.TokenTTL, PerAgent: cfg.TokensPerAgent, Now: cfg.Now, Store: cfg.TokenStore}),
		addresses:  session.NewAddressLimiter(cfg.LoginAttemptsPerIP, cfg.Now),
		checks:     session.NewPasswordChecks(cfg.PasswordChecks),
		apps:       cfg.Apps,
		jwtMaxLife: cfg.JWTMaxLifetime,
		metrics:    cfg.Metrics,
		log:        log,
		now:        cfg.Now,
		afterFunc:  cfg.AfterFunc,
		grace:      cfg.Grace,
		presence:   cfg.Presence,
		ringer:     ringer,
	}
	h.workspaces = session.NewWorkspaces(session.WorkspacesConfig{
		Grace:     cfg.Grace,
		AfterFunc: cfg.AfterFunc,
		OnExpire:  h.signOutAbandoned,
		Presence:  cfg.Presence,
	})
	return h
}

// appLockoutConfig is the agents' lockout rules with a store of the apps' own.
func appLockoutConfig(agents session.LockoutConfig, store session.LockoutStore) session.LockoutConfig {
	agents.Store = store
	return agents
}

// Register puts every Cisco API on the bus, admits the apps that present a
// workspace token or app credentials, and starts turning the connector's
// notifications into events. The request triples are those of the Acqueon
// documentation; both topics documented for GetAppState work, and so on
// (see registerCalls and registerTeam).
func (h *Cisco) Register() {
	h.cti.Subscribe(h.notify)
	h.bus.SetAdmitter(&admission{h})
	h.bus.Handle(channel, "Agent", "SetUserInfo", &SetUserInfo{h})
	h.bus.Handle(channel, "Agent", "SetReadyState", broker.HandlerFunc(h.setReadyState))
	h.bus.Handle(channel, "Agent", "SetNotReadyState", broker.HandlerFunc(h.setNotReadyState))
	h.bus.Handle(channel, "Connection", "Logout", broker.HandlerFunc(h.logout))
	h.bus.Handle(channel, "Agent", "GetAgentState", broker.HandlerFunc(h.getAgentState))
	h.bus.Handle(channel, "General", "GetAppState", broker.HandlerFunc(h.getAppState))
	h.bus.Handle(channel, "Call", "GetAppState", broker.HandlerFunc(h.getAppState))
	h.bus.Handle(channel, "General", "GetSystemInfo", broker.HandlerFunc(h.getSystemInfo))
	h.bus.Handle(channel, "Agent", "GetWrapupReasonCode", broker.HandlerFunc(h.getWrapupReasonCode))
	h.bus.Handle(channel, "Agent", "GetPhoneDirectory", broker.HandlerFunc(h.getPhoneDirectory))
	h.bus.Handle(channel, "Call", "GetCallState", broker.HandlerFunc(h.getCallState))
	h.registerCalls()
	h.registerTeam()
	if h.ringer != nil {
		h.bus.Handle(channel, "Simulator", "IncomingCall", broker.HandlerFunc(h.incomingCall))
	}
}

// Close stops the work the handlers do in background, such as ending the
// workspaces of agents signed out on other nodes, and waits for it; and it
// stops the grace periods, so that a node that stops signs nobody out. Call
// it once the broker has drained.
func (h *Cisco) Close() {
	h.workspaces.Close()
	h.stop()
	h.background.Wait()
}

// signedIn returns the workspace of the agent signed in on the requesting
// connection, or the error that says the connection must sign in first.
func (h *Cisco) signedIn(req *broker.Request) (*session.Workspace, error) {
	ws, ok := h.workspaces.Of(req.Conn)
	if !ok {
		return nil, &broker.APIError{
			Type:    cisco.ErrorTypeInvalidState,
			Message: "CF_INVALID_OBJECT_STATE: no agent is signed in on this connection",
			Msg:     "Sign in first with Cisco/Agent/SetUserInfo (username, password, extension).",
		}
	}
	return ws, nil
}

// signedInWith is signedIn for a request whose data it also reads.
func (h *Cisco) signedInWith(req *broker.Request) (*session.Workspace, broker.Fields, error) {
	ws, err := h.signedIn(req)
	if err != nil {
		return nil, nil, err
	}
	fields, err := req.Fields()
	if err != nil {
		return nil, nil, err
	}
	return ws, fields, nil
}

// publish sends an event of the Cisco channel into scope, correlated with
// the request that caused it.
func (h *Cisco) publish(scope broker.Scope, topic, subtopic string, message any, correlationID string) error {
	return h.bus.Publish(scope, broker.Event{
		Channel: channel, Topic: topic, Subtopic: subtopic,
		Message: message, CorrelationID: correlationID,
	})
}

// apiError translates an error of the CTI side or of the lockout into what
// the app sees. Finesse errors keep their type and message.
func (h *Cisco) apiError(err error) error {
	var ce *cisco.Error
	var locked *session.LockedError
	switch {
	case errors.As(err, &locked):
		seconds := int(math.Ceil(locked.Until.Sub(h.now()).Seconds()))
		return &broker.APIError{
			Type:    ErrTypeAccountLocked,
			Message: fmt.Sprintf("ACCOUNT_LOCKED: too many failed sign-ins; %d seconds left", seconds),
			Msg:     fmt.Sprintf("This account is locked after too many failed sign-ins. Try again in %d seconds.", seconds),
		}
	case errors.As(err, &ce):
		return &broker.APIError{Type: ce.Type, Message: ce.Message, Msg: ce.Text, Data: ce.ErrorData()}
	case errors.Is(err, session.ErrBusy):
		return errBusy
	case errors.Is(err, session.ErrUnavailable):
		return &broker.APIError{
			Type:    broker.ErrTypeUnavailable,
			Message: "the cluster's shared state is unreachable",
			Msg:     "The server cannot reach the state it shares with its cluster. Try again in a few seconds.",
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &broker.APIError{
			Type:    broker.ErrTypeUnavailable,
			Message: "the request was cancelled: " + err.Error(),
			Msg:     "The server stopped before the request finished. Reconnect and send it again.",
		}
	}
	return err // an Internal Error, logged by the broker
}

// errBusy answers a sign-in or an app secret that could not be checked in
// time: too many checks were running or waiting.
var errBusy = &broker.APIError{
	Type:    broker.ErrTypeUnavailable,
	Message: "too many sign-ins are being checked: try again shortly",
	Msg:     "The server is busy checking other sign-ins. Wait a few seconds, then try again.",
}

// signOutAbandoned tells the contact center that an agent's desktop went
// away and did not come back within the grace period, as Finesse does (a
// forced logout with reason code 255): the agent goes NOT_READY or is
// signed out, by the contact center's setting (-sim-on-disconnect). Either
// way its workspace has ended, so its tokens go.
func (h *Cisco) signOutAbandoned(agentID string) {
	log := h.log.With(zap.String("agent", agentID))
	u, err := h.cti.Disconnect(context.Background(), agentID) // the notifier publishes the state
	if err != nil && !errors.Is(err, cisco.ErrInvalidState) {
		log.Error("report an abandoned agent", zap.Error(err))
		return
	}
	// The desktop has gone (or, already signed out, it was left waiting
	// and nobody came back): its tokens go with it.
	if err := h.tokens.RevokeAgent(context.Background(), agentID); err != nil {
		log.Error("desktop ended with workspace tokens left valid", zap.Error(err))
	}
	if u.LoginID == "" { // already signed out
		log.Info("desktop ended: no app came back within the grace period")
		return
	}
	log.Info("no connection came back within the grace period",
		zap.String("state", string(u.State)), zap.String("pendingState", u.PendingState),
		zap.String("reasonCodeId", u.ReasonCodeID))
}

// desktop is the agent a connection signed in, on which extension.
type desktop struct {
	agentID, extension string
}

// watchDesktop arranges for the loss of c, which has just signed agentID in
// on extension, to be reported to the agent's workspace as a
// SetConnectionStatus "disconnected", as Finesse reports its notification
// connection going down: the widgets left there, and the server-side apps
// watching the agent, can show a reconnect banner. The next sign-in's
// SetConnectionStatus "connected" reports it up again. A connection that
// signs in again only updates what it reports.
func (h *Cisco) watchDesktop(c *broker.Conn, agentID, extension string) {
	if _, watched := h.desktops.Swap(c, desktop{agentID, extension}); watched {
		return
	}
	c.OnClose(func() {
		v, _ := h.desktops.LoadAndDelete(c)
		d := v.(desktop)
		// Signed out meanwhile (Logout, a supervisor), which took c out of
		// the workspace's scope: nothing is lost.
		if _, here := h.workspaces.Get(d.agentID); !here || c.Scope() != session.ScopeOf(d.agentID) {
			return
		}
		lost := connectionPayload{
			Status:       "disconnected",
			ResourceID:   "ctibus_" + d.extension,
			ConnectionID: c.ID(),
			LoginID:      d.agentID,
			Extension:    d.extension,
		}
		if err := h.publish(session.ScopeOf(d.agentID), "Connection", "SetConnectionStatus", lost, ""); err != nil {
			h.log.Warn("report a lost desktop", zap.String("agent", d.agentID), zap.Error(err))
		}
	})
}
