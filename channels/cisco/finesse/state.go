package finesse

import (
	"context"
	"errors"
	"net/http"

	"github.com/ctibus/ctibus/channels/cisco"
)

// userBody renders a User request: a state, with a reason code when given.
func userBody(state cisco.State, reasonCodeID string) string {
	body := "<User><state>" + xmlText(string(state)) + "</state>"
	if reasonCodeID != "" && reasonCodeID != "-1" {
		body += "<reasonCodeId>" + xmlText(reasonCodeID) + "</reasonCodeId>"
	}
	return body + "</User>"
}

// putUser returns the send of a PUT on loginID's User.
func putUser(loginID, body string) func(ctx context.Context, creds credentials, sd *side) error {
	return func(ctx context.Context, creds credentials, sd *side) error {
		return sd.rest.send(ctx, creds, http.MethodPut, "/finesse/api/User/"+loginID, body)
	}
}

// reached returns the predicate of a state change: the state, or the
// pending state during a call, with the reason code when one was asked.
func reached(state cisco.State, reasonCodeID string) func(u cisco.User) bool {
	return func(u cisco.User) bool {
		if u.State != state && u.PendingState != string(state) {
			return false
		}
		return state == cisco.StateReady || reasonCodeID == "" || reasonCodeID == "-1" || u.ReasonCodeID == reasonCodeID || u.PendingState == string(state)
	}
}

// SetState sets READY, NOT_READY or LOGOUT as the agent.
func (c *Connector) SetState(ctx context.Context, loginID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	s, err := c.agentSession(ctx, loginID)
	if err != nil {
		return cisco.User{}, err
	}
	switch {
	case !state.Known():
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidStateInput, Data: "state",
			Text: "The state must be READY, NOT_READY or LOGOUT."}
	case state != cisco.StateReady && state != cisco.StateNotReady && state != cisco.StateLogout:
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageInvalidState,
			Text: "Only the contact center sets " + string(state) + "; an agent sets READY, NOT_READY or LOGOUT."}
	}
	w := &waiter{requestID: cisco.RequestIDOf(ctx), requestedBy: s.loginID, user: reached(state, reasonCodeID)}
	o, err := s.request(ctx, w, putUser(s.loginID, userBody(state, reasonCodeID)))
	if err != nil {
		return cisco.User{}, err
	}
	return withAgentTime(o.user, timeNow()), nil
}

// ForceLogout signs the agent out from any state. Finesse has no request
// for the system's reason code 255, so the agent is made NOT_READY first
// if needed, then signed out with reasonCodeID if it is one of the agent's
// LOGOUT codes, else with its first one. An agent on a call, whom Finesse
// does not let sign out, has its XMPP session closed instead: Finesse then
// applies reason code 255 itself after 60 seconds.
func (c *Connector) ForceLogout(ctx context.Context, loginID, reasonCodeID string) (cisco.User, error) {
	s := c.session(loginID)
	if s == nil {
		return c.User(ctx, loginID)
	}
	u := s.currentUser()
	if u.State != cisco.StateNotReady && u.State != cisco.StateLogout {
		codes, _ := c.ReasonCodes(ctx, loginID, cisco.CategoryNotReady)
		code := ""
		if len(codes) > 0 {
			code = codes[0].ID
		}
		if _, err := c.SetState(ctx, loginID, cisco.StateNotReady, code); err != nil {
			return c.Disconnect(ctx, loginID)
		}
	}
	codes, _ := c.ReasonCodes(ctx, loginID, cisco.CategoryLogout)
	code := ""
	for _, rc := range codes {
		if rc.ID == reasonCodeID || code == "" {
			code = rc.ID
		}
	}
	u, err := c.SetState(ctx, loginID, cisco.StateLogout, code)
	if err != nil && !errors.Is(err, context.Canceled) {
		return c.Disconnect(ctx, loginID)
	}
	return u, err
}

// Disconnect closes the agent's XMPP session and forgets its credentials:
// Finesse treats the agent as a closed desktop (reason code 255 after 60
// seconds: NOT_READY or signed out, by its own setting).
func (c *Connector) Disconnect(ctx context.Context, loginID string) (cisco.User, error) {
	s := c.session(loginID)
	if s == nil {
		return c.User(ctx, loginID)
	}
	u := s.currentUser()
	c.removeSession(s)
	s.end()
	return u, nil
}

// SupervisorSetState sets NOT_READY or LOGOUT for an agent of a team the
// supervisor supervises, as the supervisor, without a reason code:
// Finesse records its own.
func (c *Connector) SupervisorSetState(ctx context.Context, supervisorID, agentID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	supUser, err := c.User(ctx, supervisorID)
	if err != nil {
		return cisco.User{}, err
	}
	switch {
	case !supUser.IsSupervisor:
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageNotSupervisor,
			Text: "Only a supervisor may change another agent's state."}
	case state == cisco.StateReady:
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageSupervisorReady,
			Text: "A supervisor may make an agent NOT_READY or sign it out, not READY."}
	case state != cisco.StateNotReady && state != cisco.StateLogout:
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidStateInput, Data: "state",
			Text: "A supervisor sets NOT_READY or LOGOUT."}
	case reasonCodeID != "" && reasonCodeID != "-1":
		return cisco.User{}, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidReasonCode, Data: "reasonCodeId",
			Text: "A supervisor sends no reason code: Finesse records its own."}
	}
	sup, err := c.agentSession(ctx, supervisorID)
	if err != nil {
		return cisco.User{}, err
	}
	body := userBody(state, "")
	creds, sd := sup.access()
	if agent := c.session(agentID); agent != nil {
		// The agent's own session sees the change: wait for it there.
		w := &waiter{requestID: cisco.RequestIDOf(ctx), requestedBy: sup.loginID, user: reached(state, "")}
		o, err := agent.request(ctx, w, func(ctx context.Context, _ credentials, _ *side) error {
			return putUser(agent.loginID, body)(ctx, creds, sd)
		})
		if err != nil {
			return cisco.User{}, err
		}
		return withAgentTime(o.user, timeNow()), nil
	}
	if err := putUser(agentID, body)(cisco.WithRequestID(ctx, cisco.RequestIDOf(ctx)), creds, sd); err != nil {
		return cisco.User{}, err
	}
	e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+agentID)
	if err != nil {
		return cisco.User{}, err
	}
	return withAgentTime(userOf(e), timeNow()), nil
}
