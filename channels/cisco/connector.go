package cisco

import (
	"context"
	"errors"
)

// Connector is the agent API of a Cisco contact center, shaped by Finesse.
// Implementations are safe for concurrent use. ciscotest.ConnectorSuite
// checks that an implementation keeps the contract written here.
//
// Methods fail with an *Error whose Type is a Finesse ErrorType (match it with
// errors.Is against ErrAuthorization, ErrInvalidState, ...), or with the
// context's error. The types each method returns for the inputs a contact
// center refuses are written on the method.
//
// Every Notification a call causes is delivered to the subscribers before
// the call returns: a handler that changes an agent's state and then acts
// on it (the sign-out path marks the agent's desktop signed out after its
// LOGOUT) finds the change's notification already delivered. Only a
// failure that the contact center reports after taking a request up
// (Notification.Failure) may arrive later.
type Connector interface {
	// SignIn authenticates username (a loginId, or a loginName matched case-insensitively)
	// with password and signs the agent in on extension, NOT_READY. Signing
	// in again on the same extension succeeds with Relogin set and changes
	// nothing. It fails with ErrAuthorization for a wrong password and an
	// unknown username alike, ErrDeviceBusy for another agent's extension,
	// and ErrInvalidDevice for an extension that is not a phone.
	SignIn(ctx context.Context, username, password, extension string) (SignedIn, error)
	// Resolve returns the loginId of the agent username names, as SignIn
	// finds it (a loginId, or a loginName matched case-insensitively), and
	// false if it names no agent. It checks no password, so what it says
	// must not reach a client: it tells which usernames exist.
	Resolve(ctx context.Context, username string) (loginID string, ok bool, err error)
	// User returns the agent's User object. Like Finesse on CCE, loginID may
	// also be the agent's loginName. An unknown agent is ErrNotFound, here
	// and in every method that names an agent.
	User(ctx context.Context, loginID string) (User, error)
	// SetState sets READY, NOT_READY (with a reason code) or LOGOUT (with a reason code) as the agent.
	// A value that is not a state, or a reason code the agent does not
	// have, is ErrInvalidInput; a change the agent's state does not allow
	// (READY while signed out, a state only the contact center sets) is
	// ErrInvalidState.
	SetState(ctx context.Context, loginID string, state State, reasonCodeID string) (User, error)
	// ForceLogout signs the agent out from any state with a system reason code (255 for a closed desktop).
	ForceLogout(ctx context.Context, loginID, reasonCodeID string) (User, error)
	// Disconnect tells the contact center that the agent's desktop is gone
	// for good (reason code 255): it makes the agent NOT_READY or signs it
	// out, by its own setting.
	Disconnect(ctx context.Context, loginID string) (User, error)
	// ReasonCodes returns the reason codes of category that the agent may
	// choose; a category other than NOT_READY and LOGOUT is ErrInvalidInput.
	ReasonCodes(ctx context.Context, loginID string, category Category) ([]ReasonCode, error)
	// WrapUpReasons returns the wrap-up reasons that the agent may choose.
	WrapUpReasons(ctx context.Context, loginID string) ([]WrapUpReason, error)
	// PhoneBooks returns the phone books the agent sees: global ones first,
	// then those of the agent's team.
	PhoneBooks(ctx context.Context, loginID string) ([]PhoneBook, error)
	// SystemInfo returns the state of the Finesse cluster.
	SystemInfo(ctx context.Context) (SystemInfo, error)
	// MediaRoutingDomains returns the media routing domains of the contact
	// center. Finesse lists them only in each agent's Media, so a connector
	// to Finesse may know no more than voice before an agent signs in.
	MediaRoutingDomains(ctx context.Context) ([]MRD, error)
	// Media returns the agent's Media object in each media routing domain.
	Media(ctx context.Context, loginID string) ([]Media, error)
	// Dialogs returns the agent's calls and tasks.
	Dialogs(ctx context.Context, loginID string) ([]Dialog, error)
	// TeamAgents returns the loginIds of a team's agents, as Finesse's Team
	// object lists its users. An unknown team has none.
	TeamAgents(ctx context.Context, teamID string) ([]string, error)
	// Agent reports whether loginID is an agent of the contact center.
	Agent(ctx context.Context, loginID string) (bool, error)
	// SignedInAgents returns the loginIds of the agents signed in now, in no
	// particular order: the handlers look for agents whose desktops are all
	// gone (an abandoned agent) among them.
	SignedInAgents(ctx context.Context) ([]string, error)

	// Subscribe delivers every change after sign-in (agent states, dialogs,
	// supervisor actions, forced sign-outs, asynchronous failures) to f, in
	// order, as Finesse pushes its notifications. f is called serially,
	// never twice at once, and it must not block nor call the connector
	// (nor cancel), whatever the implementation: a connector may call it
	// while holding its own lock. cancel stops the deliveries.
	Subscribe(f func(Notification)) (cancel func())
	// MakeCall places a call from the agent's extension to toAddress, with
	// call variables (callVariable1..10 and user.<name> ECC variables). A
	// toAddress that is not a number, or call variables out of Finesse's
	// bounds, are ErrInvalidInput; a signed-out agent, or one on a call, is
	// ErrInvalidState.
	MakeCall(ctx context.Context, loginID, toAddress string, vars []CallVariable) (Dialog, error)
	// CallAction asks for action on the agent's participant in dialogID.
	// toAddress is the destination of CONSULT_CALL and TRANSFER_SST, and
	// ignored otherwise. TRANSFER and CONFERENCE complete the consult call of
	// dialogID (either the held call or its consult leg may be named). A
	// dialog the agent is not on is ErrDialogNotFound; an action its
	// participant does not allow now is ErrInvalidState, except those that
	// Finesse on CCE takes up and fails later with a Generic Error (a
	// preview answer, ACCEPT, CLOSE or REJECT, on a call that is not a
	// preview reservation; another action on a preview reservation;
	// TRANSFER_SST before the call is answered). A transfer the switch
	// refuses after taking it up (a busy number) returns nil, and is
	// reported as a Notification.Failure of type Call Operation Failure; a
	// Generic Error is reported as a Failure too, or returned, as the
	// connector learns it: apps see the same error event either way.
	CallAction(ctx context.Context, loginID, dialogID string, action Action, toAddress string) error
	// WrapUp records reason as the wrap-up reason of dialogID; in wrap-up
	// after the call, it also ends the wrap-up. A dialog the agent is not on
	// is ErrDialogNotFound.
	WrapUp(ctx context.Context, loginID, dialogID, reason string) error
	// SupervisorSetState sets NOT_READY or LOGOUT for an agent of a team the
	// supervisor supervises. reasonCodeID must be "" or "-1": the contact
	// center records its own supervisor code. A user who is not a
	// supervisor is ErrAuthorization, an agent outside its teams
	// ErrInvalidSupervisor, READY ErrInvalidState.
	SupervisorSetState(ctx context.Context, supervisorID, agentID string, state State, reasonCodeID string) (User, error)
	// SilentMonitor starts the supervisor, signed in on fromAddress,
	// listening to the active call of agentID, signed in on toAddress ("" to
	// skip either check). It returns the supervisor's monitor dialog.
	SilentMonitor(ctx context.Context, supervisorID, fromAddress, agentID, toAddress string) (Dialog, error)
	// Barge joins the supervisor, signed in on fromAddress, into the call of
	// agentID, signed in on toAddress ("" to skip either check), that it
	// monitors with the monitor dialog dialogID, and returns that call.
	Barge(ctx context.Context, supervisorID, fromAddress, agentID, toAddress, dialogID string) (Dialog, error)
}

// SignedIn is the outcome of a successful SignIn.
type SignedIn struct {
	User    User // the agent after sign-in
	Relogin bool // Relogin: the agent was already signed in; state kept
	// Changed names the fields of User that the sign-in changed, as
	// UserChange.Changed; empty for a re-login.
	Changed []string `json:"changed"`
}

// State is a voice agent state of Finesse. An agent sets READY, NOT_READY and
// LOGOUT; the contact center sets the others.
type State string

// The agent states of Finesse (CCE).
const (
	StateLogout                  State = "LOGOUT"
	StateNotReady                State = "NOT_READY"
	StateReady                   State = "READY"
	StateReserved                State = "RESERVED"
	StateReservedOutbound        State = "RESERVED_OUTBOUND"
	StateReservedOutboundPreview State = "RESERVED_OUTBOUND_PREVIEW"
	StateTalking                 State = "TALKING"
	StateHold                    State = "HOLD"
	StateWork                    State = "WORK"
	StateWorkReady               State = "WORK_READY"
	StateUnknown                 State = "UNKNOWN"
)

// Known reports whether s is one of the Finesse agent states.
func (s State) Known() bool {
	switch s {
	case StateLogout, StateNotReady, StateReady, StateReserved, StateReservedOutbound,
		StateReservedOutboundPreview, StateTalking, StateHold, StateWork, StateWorkReady, StateUnknown:
		return true
	}
	return false
}

// Category is the category of a reason code: the state it explains.
type Category string

// The reason code categories of Finesse.
const (
	CategoryNotReady Category = "NOT_READY"
	CategoryLogout   Category = "LOGOUT"
)

// Known reports whether c is a reason code category.
func (c Category) Known() bool {
	return c == CategoryNotReady || c == CategoryLogout
}

// Action is a requested action on a participant of a Dialog, named as
// Finesse names it.
type Action string

// The actions of CallAction. TRANSFER and CONFERENCE complete a consult.
const (
	ActionAnswer      Action = "ANSWER"
	ActionHold        Action = "HOLD"
	ActionRetrieve    Action = "RETRIEVE"
	ActionDrop        Action = "DROP"
	ActionReject      Action = "REJECT"
	ActionConsult     Action = "CONSULT_CALL"
	ActionTransferSST Action = "TRANSFER_SST"
	ActionTransfer    Action = "TRANSFER"
	ActionConference  Action = "CONFERENCE"
)

// The preview actions of Finesse on CCE (Dialog—Accept, Close, or Reject an
// Outbound Option Preview Reservation). REJECT is ActionReject.
const (
	ActionAccept Action = "ACCEPT"
	ActionClose  Action = "CLOSE"
)

// AgentFromUser turns the error of a User read into Agent's answer: no
// error is an agent, ErrNotFound is no agent, and any other error is
// passed on, for a connector whose only way to know an agent is to read it.
func AgentFromUser(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, err
}

// AllAgents, given to Watcher.Watch, stands for every agent, present and
// future. No loginId is spelled so.
const AllAgents = "*"

// Watcher is a Connector shared by several nodes that brings each node
// only the notifications of the agents it watches: those that name one of
// them (the agent of a change, or a supervisor of its team for a User
// change). A lone connector delivers every notification and needs none;
// the bus watches an agent while this node holds a connection in the
// agent's workspace or watching it.
type Watcher interface {
	// Watch makes the connector deliver, from the moment it returns, every
	// later notification that names one of loginIDs (AllAgents: every
	// notification), preceded by a Notification.Snapshot of each agent
	// named (with AllAgents, of each agent on a call or in wrap-up). Each
	// Watch of an agent is undone by one Unwatch: the connector counts
	// them. An error means the connector could not confirm the interest in
	// time; it keeps trying, and notifications may be missed meanwhile.
	Watch(ctx context.Context, loginIDs ...string) error
	// Unwatch undoes one Watch of each of loginIDs. It does not wait.
	Unwatch(loginIDs ...string)
}
