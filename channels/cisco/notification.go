package cisco

import "context"

// Notification is one change the contact center reports after sign-in, as
// Finesse pushes a User or Dialogs update over XMPP. Exactly one of User,
// Calls, Failure, Link and Snapshot is set.
type Notification struct {
	User    *UserChange  // an agent's User changed
	Calls   *CallsChange // an agent's dialogs changed
	Failure *Failure     // a request the contact center took up failed later
	Link    *LinkChange  // an agent's link to the contact center went down or came back
	// Snapshot is an agent as it is, not a change: what a Watcher sends
	// where a node starts to watch the agent, so that the subscribers seed
	// what they derive from the agent's notifications (it announces
	// nothing to the apps). A lone simulator and Finesse never send it.
	Snapshot *AgentSnapshot
	// RequestID is the id of the request that caused the change (see
	// WithRequestID), as Finesse echoes its requestId header; "" for a change
	// nobody asked for, such as a timer or a call from outside.
	RequestID string
	// RequestedBy is the loginId of the agent or supervisor whose request
	// caused the change; "" when nobody's did.
	RequestedBy string
}

// Failure is an error that Finesse reports after it accepted the request,
// in an update of the agent's Dialogs with apiErrors: a call operation
// that fails at the switch (Call Operation Failure). The handlers publish
// it in the agent's workspace as Cisco/Error/SetAPIError, as they publish
// a request's own error.
type Failure struct {
	LoginID string // the agent whose request failed
	Error   *Error
}

// LinkChange reports that the connector's link to the contact center for
// one signed-in agent (its notification connection to Finesse, or the node
// running a cluster's simulator) went down, or came back, while the agent
// stays signed in. The handlers publish it in the agent's workspace as
// Cisco/Connection/SetConnectionStatus. A lone simulator, which has no such
// link, never sends it.
type LinkChange struct {
	LoginID      string
	Extension    string // the extension the agent is signed in on
	Up           bool   // true: back; false: down
	ConnectionID string // names the link: the resource of the agent's XMPP session, or "<node>:<term>"
}

// AgentSnapshot is an agent's User and current dialogs at one point of the
// notifications: every later change of the agent follows it.
type AgentSnapshot struct {
	User    User
	Dialogs []Dialog
}

// UserChange carries an agent's User after a change.
type UserChange struct {
	User User
	// Supervisors are the loginIds of the signed-in supervisors of the
	// agent's team: the audience of Finesse's team feed.
	Supervisors []string
	// Changed names the fields of User that differ from the agent's
	// previous notification (or sign-in), in the order of ChangedFields:
	// a widget tells a transition ("state") from a pending-state update
	// ("pendingState"). Empty when the notification answers a request that
	// changed nothing.
	Changed []string
}

// ChangedFields are the fields of User that UserChange.Changed may name,
// in the order it names them.
var ChangedFields = []string{"state", "reasonCodeId", "pendingState", "extension"}

// CallsChange carries all of an agent's current dialogs after one of them
// changed. A dialog that has just ended for the agent is included one last
// time, with the agent's participant DROPPED; after that it is gone, as
// after Finesse's DELETE.
type CallsChange struct {
	LoginID string
	Dialogs []Dialog
}

type requestIDKey struct{}

// WithRequestID returns a context that carries the id of the bus request
// being served, so that the notifications it causes carry it as
// Notification.RequestID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDOf returns the request id that WithRequestID put in ctx, or "".
// A connector copies it into the notifications the request causes.
func RequestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
