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
	// LoginAttemptsPerIP caps sign-in attempts per client address and
	// minute. Zero, the default, means no cap.
	LoginAttemptsPerIP int
	// Metrics records sign-ins; nil records nothing.
	Metrics *Metrics
	// Now tells the time. Default time.Now.
	Now func() time.Time
	// AfterFunc starts the scenario player's waits; tests replace it.
	// Default time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) session.Timer
}

// Cisco serves the agent API of the Cisco channel on a broker. The
// agents' desktops, their tokens and the server-side apps are the
// session.Desktops' it is given; Cisco signs agents in and out, and turns
// requests and notifications into the Cisco channel's events.
type Cisco struct {
	bus       *broker.Broker
	cti       cisco.Connector
	desktops  *session.Desktops
	lockout   *session.Lockout
	addresses *session.AddressLimiter
	metrics   *Metrics
	log       *zap.Logger
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) session.Timer
	// onSignIn, if set, hears of every sign-in made here, which the
	// connector does not notify: the operator's view (NewAdmin sets it,
	// before serving).
	onSignIn func(cisco.User)
	// ringer is the simulator's incoming-call generator, nil when the
	// connector is not a simulator.
	ringer Ringer

	// watched maps each connection that signed an agent in to that
	// agent's desktop, so that its loss is reported (watchDesktop).
	watched sync.Map // *broker.Conn → desktop

	// wrapUps follows, from the notifications, what the rules of a
	// SetAgentState need beyond the User: the calls of each agent that has
	// some, and the User of each agent in wrap-up (see wrapUpView).
	wrapUps wrapUpViews
}

// NewCisco returns the Cisco channel's handlers, backed by cti, with the
// agents' desktops kept by desktops (made over NewChannel(cti)) and
// sign-ins guarded by lockout. Call Register to put them on bus.
func NewCisco(bus *broker.Broker, cti cisco.Connector, desktops *session.Desktops, lockout *session.Lockout, log *zap.Logger, cfg Config) *Cisco {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) session.Timer { return time.AfterFunc(d, f) }
	}
	ringer, _ := cti.(Ringer)
	return &Cisco{
		bus:       bus,
		cti:       cti,
		desktops:  desktops,
		lockout:   lockout,
		addresses: session.NewAddressLimiter(cfg.LoginAttemptsPerIP, cfg.Now),
		metrics:   cfg.Metrics,
		log:       log,
		now:       cfg.Now,
		afterFunc: cfg.AfterFunc,
		ringer:    ringer,
	}
}

// Register puts every Cisco API on the bus and starts turning the
// connector's notifications into events. The request triples are those of
// the Acqueon documentation; both topics documented for GetAppState work,
// and so on (see registerCalls and registerTeam).
func (h *Cisco) Register() {
	h.cti.Subscribe(h.notify)
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

// signedIn returns the workspace of the agent signed in on the requesting
// connection, or the error that says the connection must sign in first.
func (h *Cisco) signedIn(req *broker.Request) (*session.Workspace, error) {
	ws, ok := h.desktops.Of(req.Conn)
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
		return fromCisco(ce)
	case errors.Is(err, session.ErrBusy):
		return session.BusyError
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
	if _, watched := h.watched.Swap(c, desktop{agentID, extension}); watched {
		return
	}
	c.OnClose(func() {
		v, _ := h.watched.LoadAndDelete(c)
		d := v.(desktop)
		// Signed out meanwhile (Logout, a supervisor), which its LOGOUT
		// said, or c moved to another agent's workspace: nothing is lost.
		if _, here := h.desktops.Get(d.agentID); !here || c.Scope() != h.desktops.ScopeOf(d.agentID) {
			return
		}
		lost := connectionPayload{
			Status:       "disconnected",
			ResourceID:   "ctibus_" + d.extension,
			ConnectionID: c.ID(),
			LoginID:      d.agentID,
			Extension:    d.extension,
		}
		if err := h.publish(h.desktops.ScopeOf(d.agentID), "Connection", "SetConnectionStatus", lost, ""); err != nil {
			h.log.Warn("report a lost desktop", zap.String("agent", d.agentID), zap.Error(err))
		}
	})
}
