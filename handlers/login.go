package handlers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// SetUserInfo signs an agent in: Cisco/Agent/SetUserInfo with data
// {username, password, extension}. On success the requesting connection
// joins the agent's workspace, and 15 events describe the agent to every app
// there. The password goes to the CTI server and nowhere else: not into a
// log line, an event or an error.
type SetUserInfo struct{ h *Cisco }

var _ broker.Handler = (*SetUserInfo)(nil)

// credentials are the fields of a sign-in request.
type credentials struct {
	username, password, extension string
}

func parseCredentials(req *broker.Request) (credentials, error) {
	fields, err := req.Fields()
	if err != nil {
		return credentials{}, err
	}
	var c credentials
	for _, f := range []struct {
		key    string
		dst    *string
		maxLen int
	}{{"username", &c.username, maxUsername}, {"password", &c.password, maxPassword}, {"extension", &c.extension, maxExtension}} {
		read := fields.Required
		if f.dst == &c.password {
			read = fields.RequiredText // a password is never read as a number, nor quoted
		}
		if *f.dst, err = read(f.key); err != nil {
			return credentials{}, err
		}
		if len(*f.dst) > f.maxLen {
			return credentials{}, broker.InvalidInput("data."+f.key, fmt.Sprintf("it is longer than %d bytes", f.maxLen))
		}
	}
	return c, nil
}

// Bounds on sign-in fields: far above real ones, and low enough that the
// lockout's table, which keeps a record for every made-up username it
// counts, and the log lines stay small whatever an attacker sends.
const (
	maxUsername  = 128
	maxPassword  = 256
	maxExtension = 32
)

// ServeBus signs the agent in.
func (s *SetUserInfo) ServeBus(ctx context.Context, req *broker.Request) error {
	h := s.h
	creds, err := parseCredentials(req)
	if err != nil {
		return err
	}
	log := req.Conn.Logger().With(zap.String("username", creds.username), zap.String("extension", creds.extension))
	if !h.addresses.Allow(req.Conn.ClientIP()) {
		h.metrics.login(loginFailed)
		log.Warn("sign-in refused: too many attempts from the client's address", zap.Stringer("client", req.Conn.ClientIP()))
		return &broker.APIError{
			Type:    broker.ErrTypeRateLimited,
			Message: "rate limited: too many sign-in attempts from this address in the last minute",
			Msg:     "Too many sign-in attempts came from your network address. Wait a minute or two, then try again.",
		}
	}

	signed, err := h.signIn(ctx, creds)
	if err != nil {
		var locked *session.LockedError
		switch {
		case errors.As(err, &locked):
			h.metrics.login(loginLocked)
		case errors.Is(err, session.ErrBusy):
			h.metrics.login(loginBusy)
		default:
			h.metrics.login(loginFailed)
		}
		apiErr := h.apiError(err)
		log.Info("sign-in refused", zap.Error(apiErr))
		return apiErr
	}
	agentID := signed.User.LoginID

	unlock := h.desktops.Lock(agentID)
	defer unlock()
	// A grace period may have ended between the sign-in and the lock; the
	// agent is then signed out and must be signed in again.
	if u, err := h.cti.User(ctx, agentID); err != nil {
		return h.apiError(err)
	} else if u.State == cisco.StateLogout {
		if signed, err = h.signIn(ctx, creds); err != nil {
			return h.apiError(err)
		}
	}
	// Read everything first, so that a failure leaves the connection out of
	// the workspace rather than in it with no events.
	events, dialogs, err := h.loginEvents(ctx, req.Conn, signed)
	if err != nil {
		return h.apiError(err)
	}
	ws := h.desktops.SignIn(ctx, req.Conn, agentID)
	h.watchDesktop(req.Conn, agentID, signed.User.Extension)
	for _, ev := range events {
		ev.CorrelationID = req.ID
		if err := h.bus.Publish(ws.Scope, ev); err != nil {
			return err
		}
	}
	// A call that rang or changed between the reads and the join was
	// published to a workspace this connection was not in yet: it hears
	// of it now, after the sign-in's events.
	if now, err := h.cti.Dialogs(ctx, agentID); err == nil && !reflect.DeepEqual(now, dialogs) {
		if err := h.bus.Publish(ws.Scope, broker.Event{Channel: channel, Topic: "Call", Subtopic: "CallsStateChange", Message: calls(now)}); err != nil {
			return err
		}
	}
	h.metrics.login(loginOK)
	if h.onSignIn != nil {
		h.onSignIn(signed.User)
	}
	log.Info("agent signed in", zap.String("agent", agentID), zap.Bool("relogin", signed.Relogin),
		zap.String("state", string(signed.User.State)))
	return h.desktops.SendToken(ctx, req.Conn, agentID, req.ID)
}

// signIn signs in through the lockout, which counts wrong credentials
// against the agent the username names, or else against the username.
func (h *Cisco) signIn(ctx context.Context, c credentials) (cisco.SignedIn, error) {
	account, err := h.lockoutAccount(ctx, c.username)
	if err != nil {
		return cisco.SignedIn{}, err
	}
	var signed cisco.SignedIn
	err = h.lockout.Attempt(ctx, account, func() error {
		// Known and unknown usernames alike take a slot: both cost a bcrypt.
		return h.desktops.CheckPassword(ctx, func() error {
			var err error
			signed, err = h.cti.SignIn(ctx, c.username, c.password, c.extension)
			if errors.Is(err, cisco.ErrAuthorization) {
				return fmt.Errorf("%w: %w", session.ErrBadCredentials, err)
			}
			return err
		})
	})
	return signed, err
}

// lockoutAccount is the lockout account a username counts against: the
// agent's, whether typed as its loginId or its loginName in any case, so
// that an agent has one count and not one per name; for a name that is
// no agent's, the name's own, ignoring case. Either way the attempt then
// goes the same way, to the same answers, so nothing tells the two apart.
func (h *Cisco) lockoutAccount(ctx context.Context, username string) (session.Account, error) {
	loginID, ok, err := h.cti.Resolve(ctx, username)
	if err != nil {
		return session.Account{}, err
	}
	if !ok {
		return session.NameAccount(username), nil
	}
	return session.AgentAccount(loginID), nil
}

// loginEvents reads everything the 15 events of a sign-in describe, then
// renders them in the documented order, and returns the dialogs it read.
// Nothing is published unless all of it could be read, so an app never sees
// half a sign-in.
func (h *Cisco) loginEvents(ctx context.Context, conn *broker.Conn, signed cisco.SignedIn) ([]broker.Event, []cisco.Dialog, error) {
	u := signed.User
	id := u.LoginID
	// The eight reads are independent: they run together, so that a
	// sign-in waits for the slowest, not for their sum (Finesse answers
	// each over the network). The first error in this order is reported.
	var (
		dialogs                    []cisco.Dialog
		mrds                       []cisco.MRD
		media                      []cisco.Media
		info                       cisco.SystemInfo
		logoutCodes, notReadyCodes []cisco.ReasonCode
		books                      []cisco.PhoneBook
		wrapUps                    []cisco.WrapUpReason
	)
	err := readAll(
		func() (err error) { dialogs, err = h.cti.Dialogs(ctx, id); return err },
		func() (err error) { mrds, err = h.cti.MediaRoutingDomains(ctx); return err },
		func() (err error) { media, err = h.cti.Media(ctx, id); return err },
		func() (err error) { info, err = h.cti.SystemInfo(ctx); return err },
		func() (err error) { logoutCodes, err = h.cti.ReasonCodes(ctx, id, cisco.CategoryLogout); return err },
		func() (err error) {
			notReadyCodes, err = h.cti.ReasonCodes(ctx, id, cisco.CategoryNotReady)
			return err
		},
		func() (err error) { books, err = h.cti.PhoneBooks(ctx, id); return err },
		func() (err error) { wrapUps, err = h.cti.WrapUpReasons(ctx, id); return err },
	)
	if err != nil {
		return nil, nil, err
	}

	connection := connectionPayload{
		Status:       "connected",
		ResourceID:   "ctibus_" + u.Extension,
		ConnectionID: conn.ID(),
		LoginID:      id,
		Extension:    u.Extension,
	}
	opened := connection
	opened.Status = "opened"
	mapped := make([]mappedMRD, 0, len(media))
	byClass := make(map[string]string, len(mrds))
	classOf := make(map[string]string, len(mrds))
	for _, m := range mrds {
		byClass[m.MediaClass] = m.ID
		classOf[m.ID] = m.MediaClass
	}
	for _, m := range media {
		mapped = append(mapped, mappedMRD{ID: m.ID, Name: m.Name, MediaClass: classOf[m.ID], State: m.State})
	}

	event := func(topic, subtopic string, message any) broker.Event {
		return broker.Event{Channel: channel, Topic: topic, Subtopic: subtopic, Message: message}
	}
	return []broker.Event{
		event("Connection", "OpenConnection", opened),
		event("Connection", "SetConnectionStatus", connection),
		event("Agent", "SetAgentState", agentState(u, signed.Changed, dialogs)),
		event("Agent", "Login", loginPayload{Status: "success", Relogin: signed.Relogin, User: u}),
		event("General", "GetAppState", appState(u, dialogs)),
		event("Call", "CallsStateChange", calls(dialogs)),
		event("Media", "SetMRDList", packet{Packet: "MRDList", Data: mrds}),
		event("Media", "GetMedia", packet{Packet: "Media", Data: media}),
		event("General", "SetSystemInfo", systemInfoPayload{Packet: "systeminfo", SystemInfo: info}),
		event("Media", "SetMappedMRD", packet{Packet: "MappedMRD", Data: mapped}),
		event("Media", "Map", packet{Packet: "Map", Data: byClass}),
		event("Agent", "SetLogOutReasonCodes", reasonCodes{Packet: "ReasonCodes", Category: cisco.CategoryLogout, Data: logoutCodes}),
		event("Agent", "SetNotReadyReasonCodes", reasonCodes{Packet: "ReasonCodes", Category: cisco.CategoryNotReady, Data: notReadyCodes}),
		event("Agent", "SetPhoneBook", packet{Packet: "phoneBook", Data: books}),
		event("Agent", "SetWrapupCode", packet{Packet: "WrapUpCodes", Data: wrapUps}),
	}, dialogs, nil
}

// readAll runs the reads together, the first on the calling goroutine, and
// returns the error of the first one, in their order, that failed.
func readAll(reads ...func() error) error {
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, read := range reads[1:] {
		wg.Go(func() { errs[i+1] = read() })
	}
	errs[0] = reads[0]()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
