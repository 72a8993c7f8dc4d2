package simcluster

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"

	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// The methods a node asks the leader for, as the last token of the request
// subject. Directory lookups are not among them: every node answers those.
const (
	methodSignIn             = "signIn" // loginId and extension: the password stays where it was checked
	methodUser               = "user"
	methodSetState           = "setState"
	methodForceLogout        = "forceLogout"
	methodDisconnect         = "disconnect"
	methodMedia              = "media"
	methodDialogs            = "dialogs"
	methodMakeCall           = "makeCall"
	methodCallAction         = "callAction"
	methodWrapUp             = "wrapUp"
	methodSupervisorSetState = "supervisorSetState"
	methodSilentMonitor      = "silentMonitor"
	methodBarge              = "barge"
	methodRing               = "ring"
	methodSignedInAgents     = "signedInAgents"
	methodWatch              = "watch"   // the agents whose notifications the node now wants
	methodUnwatch            = "unwatch" // those it no longer wants
	methodForget             = "forget"  // the node wants none
)

// maxWatchBatch bounds the agents of one watch or unwatch request: a
// node's wants are sent in batches of at most this many.
const maxWatchBatch = 1024

// rpcRequest is a request to the leader.
type rpcRequest struct {
	ID   string  `json:"id,omitempty"`   // the bus request id, for Notification.RequestID
	Call string  `json:"call"`           // unique to the call, the same in every attempt
	Node string  `json:"node,omitempty"` // the node asking: whose stream the reply's numbers count
	Args rpcArgs `json:"args"`
}

// rpcArgs are the arguments of every method; each uses some.
type rpcArgs struct {
	LoginID      string               `json:"loginId,omitempty"` // the agent, or the supervisor
	AgentID      string               `json:"agentId,omitempty"` // the agent a supervisor acts on
	Extension    string               `json:"extension,omitempty"`
	State        cisco.State          `json:"state,omitempty"`
	ReasonCodeID string               `json:"reasonCodeId,omitempty"`
	DialogID     string               `json:"dialogId,omitempty"`
	Action       cisco.Action         `json:"action,omitempty"`
	FromAddress  string               `json:"fromAddress,omitempty"`
	ToAddress    string               `json:"toAddress,omitempty"`
	Reason       string               `json:"reason,omitempty"`
	Vars         []cisco.CallVariable `json:"vars,omitempty"`
	Call         *sim.IncomingCall    `json:"call,omitempty"`
	Agents       []string             `json:"agents,omitempty"` // the loginIds a watch or unwatch names
}

// rpcReply is the leader's answer: a result, an error, or Retry when the
// node stopped leading before it could answer. Term, From and To say which
// notifications the caller must deliver before it returns (see
// Cluster.awaitDelivery).
type rpcReply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
	Retry  bool            `json:"retry,omitempty"`
	Term   uint64          `json:"term,omitempty"` // the leader's term
	From   uint64          `json:"from,omitempty"` // the last notification sent to the asking node before the request was taken up
	To     uint64          `json:"to,omitempty"`   // the last notification sent to it before the reply
}

// rpcError carries an error across NATS: an *Error field by field, a
// context error by name, anything else as text.
type rpcError struct {
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	Text    string `json:"text,omitempty"`
	Data    string `json:"data,omitempty"`    // errorData, when set apart from the message's CTI code
	Context string `json:"context,omitempty"` // "canceled" or "deadline"
	Other   string `json:"other,omitempty"`
}

func encodeError(err error) *rpcError {
	var e *cisco.Error
	switch {
	case errors.As(err, &e):
		return &rpcError{Type: e.Type, Message: e.Message, Text: e.Text, Data: e.Data}
	case errors.Is(err, context.Canceled):
		return &rpcError{Context: "canceled"}
	case errors.Is(err, context.DeadlineExceeded):
		return &rpcError{Context: "deadline"}
	}
	return &rpcError{Other: err.Error()}
}

func (w *rpcError) err() error {
	switch {
	case w.Type != "":
		return &cisco.Error{Type: w.Type, Message: w.Message, Text: w.Text, Data: w.Data}
	case w.Context == "canceled":
		return context.Canceled
	case w.Context == "deadline":
		return context.DeadlineExceeded
	}
	return fmt.Errorf("cisco: leader: %s", w.Other)
}

func errUnavailable() *cisco.Error {
	return &cisco.Error{
		Type:    cisco.ErrorTypeUnavailable,
		Message: cisco.ErrorMessageUnavailable,
		Text:    "The contact center is not reachable right now; try again in a few seconds.",
	}
}

// call runs method on the leader's simulator: directly when this node
// leads, else by a NATS request. While no node answers (a failover), it
// tries again every retryBackoff until RequestTimeout, then fails with
// ErrUnavailable; a cancelled ctx ends it with ctx's error. Every attempt
// carries the same call id, so that the leader applies the request once.
// Before returning the leader's answer, it waits until this node has
// delivered the notifications sent to it before that answer, unless the
// method is about what this node watches (see Watch).
func call[T any](c *Cluster, ctx context.Context, method string, args rpcArgs) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	body, err := json.Marshal(rpcRequest{ID: cisco.RequestIDOf(ctx), Call: c.nextCallID(), Node: c.cfg.Node, Args: args})
	if err != nil {
		return zero, fmt.Errorf("cisco: encode %s: %w", method, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	for {
		if term := c.serving.Load(); term != 0 {
			w := c.currentWriter()
			v, err := c.dispatch(rctx, c.cfg.Node, method, args)
			// Else the change may not be stored: ask the next leader.
			if w != nil && w.await(w.last(), nil) && c.serving.Load() == term {
				// This node's subscribers get its notifications through NATS too.
				if sent := c.sentTo(c.cfg.Node); sent.term == term && awaits(method) {
					c.awaitDelivery(term, 0, sent.seq)
				}
				t, _ := v.(T)
				return t, err
			}
		} else if rep, ok := c.ask(rctx, method, body); ok && !rep.Retry {
			if awaits(method) {
				c.awaitDelivery(rep.Term, rep.From, rep.To)
			}
			if rep.Error != nil {
				return zero, rep.Error.err()
			}
			var t T
			if err := json.Unmarshal(rep.Result, &t); err != nil {
				return zero, fmt.Errorf("cisco: decode %s reply: %w", method, err)
			}
			return t, nil
		}
		select {
		case <-rctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return zero, ctx.Err()
			}
			return zero, errUnavailable()
		case <-time.After(retryBackoff):
		}
	}
}

// nextCallID returns a call id unique in the cluster: this node's random
// prefix, drawn once, and a counter, so that a request costs no system
// call for randomness.
func (c *Cluster) nextCallID() string {
	return c.callPrefix + strconv.FormatUint(c.calls.Add(1), 36)
}

// newCallPrefix draws the prefix of a node's call ids.
func newCallPrefix() string { return rand.Text()[:16] + "." }

// awaits reports whether a call of method waits for the delivery of what
// the leader sent this node before answering. Watching does not: the bus
// watches under a lock that delivering may take, and what it needs is the
// leader's word that the agents' notifications now come (see Watch).
func awaits(method string) bool {
	switch method {
	case methodWatch, methodUnwatch, methodForget:
		return false
	}
	return true
}

// readOnly reports whether method changes nothing, so that applying it
// twice is harmless and its reply need not be kept for a repeat.
func readOnly(method string) bool {
	switch method {
	case methodUser, methodMedia, methodDialogs, methodSignedInAgents:
		return true
	}
	return false
}

// ask sends one request to the leader. It reports false when none
// answered: none leads, or the leader died holding the request.
func (c *Cluster) ask(ctx context.Context, method string, body []byte) (rpcReply, bool) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, c.subject+"."+method, body)
	if err != nil {
		return rpcReply{}, false
	}
	var rep rpcReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		c.log.Error("undecodable reply from the cisco leader", zap.String("method", method), zap.Error(err))
		return rpcReply{}, false
	}
	return rep, true
}

// dispatch runs method, asked by node, on this node's simulator.
func (c *Cluster) dispatch(ctx context.Context, node, method string, a rpcArgs) (any, error) {
	s := c.sim
	switch method {
	case methodWatch, methodUnwatch:
		if len(a.Agents) > maxWatchBatch {
			return nil, fmt.Errorf("cisco: %s of %d agents: more than %d", method, len(a.Agents), maxWatchBatch)
		}
		if method == methodWatch {
			return struct{}{}, c.watchFor(ctx, node, a.Agents)
		}
		if len(a.Agents) > 0 {
			c.unwatchFor(node, a.Agents)
		}
		return struct{}{}, nil
	case methodForget:
		c.unwatchFor(node, nil)
		return struct{}{}, nil
	case methodSignIn:
		return s.SignInAs(ctx, a.LoginID, a.Extension)
	case methodUser:
		return s.User(ctx, a.LoginID)
	case methodSetState:
		return s.SetState(ctx, a.LoginID, a.State, a.ReasonCodeID)
	case methodForceLogout:
		return s.ForceLogout(ctx, a.LoginID, a.ReasonCodeID)
	case methodDisconnect:
		return s.Disconnect(ctx, a.LoginID)
	case methodMedia:
		return s.Media(ctx, a.LoginID)
	case methodDialogs:
		return s.Dialogs(ctx, a.LoginID)
	case methodMakeCall:
		return s.MakeCall(ctx, a.LoginID, a.ToAddress, a.Vars)
	case methodCallAction:
		return struct{}{}, s.CallAction(ctx, a.LoginID, a.DialogID, a.Action, a.ToAddress)
	case methodWrapUp:
		return struct{}{}, s.WrapUp(ctx, a.LoginID, a.DialogID, a.Reason)
	case methodSupervisorSetState:
		return s.SupervisorSetState(ctx, a.LoginID, a.AgentID, a.State, a.ReasonCodeID)
	case methodSilentMonitor:
		return s.SilentMonitor(ctx, a.LoginID, a.FromAddress, a.AgentID, a.ToAddress)
	case methodBarge:
		return s.Barge(ctx, a.LoginID, a.FromAddress, a.AgentID, a.ToAddress, a.DialogID)
	case methodSignedInAgents:
		return s.SignedInAgents(ctx)
	case methodRing:
		if a.Call == nil {
			return cisco.Dialog{}, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidAddress, Text: "The incoming call is missing."}
		}
		return s.Ring(ctx, a.LoginID, *a.Call)
	}
	return nil, fmt.Errorf("cisco: unknown cluster request %.32q", method)
}

// SignIn checks the password against this node's directory, then has the
// leader sign the agent in: the password never leaves this node.
func (c *Cluster) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	if err := ctx.Err(); err != nil {
		return cisco.SignedIn{}, err
	}
	loginID, err := c.sim.Authenticate(username, password)
	if err != nil {
		return cisco.SignedIn{}, err
	}
	return call[cisco.SignedIn](c, ctx, methodSignIn, rpcArgs{LoginID: loginID, Extension: extension})
}

// Resolve finds the agent username names in this node's directory, which
// every node shares: nothing crosses NATS.
func (c *Cluster) Resolve(ctx context.Context, username string) (string, bool, error) {
	return c.sim.Resolve(ctx, username)
}

// User returns the agent's User object from the leader.
func (c *Cluster) User(ctx context.Context, loginID string) (cisco.User, error) {
	return call[cisco.User](c, ctx, methodUser, rpcArgs{LoginID: loginID})
}

// SetState sets the agent's state on the leader.
func (c *Cluster) SetState(ctx context.Context, loginID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	return call[cisco.User](c, ctx, methodSetState, rpcArgs{LoginID: loginID, State: state, ReasonCodeID: reasonCodeID})
}

// ForceLogout signs the agent out on the leader.
func (c *Cluster) ForceLogout(ctx context.Context, loginID, reasonCodeID string) (cisco.User, error) {
	return call[cisco.User](c, ctx, methodForceLogout, rpcArgs{LoginID: loginID, ReasonCodeID: reasonCodeID})
}

// Disconnect reports a desktop gone for good to the leader.
func (c *Cluster) Disconnect(ctx context.Context, loginID string) (cisco.User, error) {
	return call[cisco.User](c, ctx, methodDisconnect, rpcArgs{LoginID: loginID})
}

// ReasonCodes returns the agent's reason codes from this node's directory.
func (c *Cluster) ReasonCodes(ctx context.Context, loginID string, category cisco.Category) ([]cisco.ReasonCode, error) {
	return c.sim.ReasonCodes(ctx, loginID, category)
}

// WrapUpReasons returns the agent's wrap-up reasons from this node's directory.
func (c *Cluster) WrapUpReasons(ctx context.Context, loginID string) ([]cisco.WrapUpReason, error) {
	return c.sim.WrapUpReasons(ctx, loginID)
}

// PhoneBooks returns the agent's phone books from this node's directory.
func (c *Cluster) PhoneBooks(ctx context.Context, loginID string) ([]cisco.PhoneBook, error) {
	return c.sim.PhoneBooks(ctx, loginID)
}

// SystemInfo returns the simulated Finesse cluster's state, which every
// node knows.
func (c *Cluster) SystemInfo(ctx context.Context) (cisco.SystemInfo, error) {
	return c.sim.SystemInfo(ctx)
}

// MediaRoutingDomains returns the media routing domains, which every node knows.
func (c *Cluster) MediaRoutingDomains(ctx context.Context) ([]cisco.MRD, error) {
	return c.sim.MediaRoutingDomains(ctx)
}

// Media returns the agent's Media objects from the leader.
func (c *Cluster) Media(ctx context.Context, loginID string) ([]cisco.Media, error) {
	return call[[]cisco.Media](c, ctx, methodMedia, rpcArgs{LoginID: loginID})
}

// Dialogs returns the agent's calls from the leader.
func (c *Cluster) Dialogs(ctx context.Context, loginID string) ([]cisco.Dialog, error) {
	return call[[]cisco.Dialog](c, ctx, methodDialogs, rpcArgs{LoginID: loginID})
}

// TeamAgents returns a team's agents from this node's directory.
func (c *Cluster) TeamAgents(ctx context.Context, teamID string) ([]string, error) {
	return c.sim.TeamAgents(ctx, teamID)
}

// Agent reports whether loginID is in this node's directory.
func (c *Cluster) Agent(ctx context.Context, loginID string) (bool, error) {
	return c.sim.Agent(ctx, loginID)
}

// SignedInAgents returns the loginIds of the agents signed in, from the
// leader.
func (c *Cluster) SignedInAgents(ctx context.Context) ([]string, error) {
	return call[[]string](c, ctx, methodSignedInAgents, rpcArgs{})
}

// MakeCall places a call on the leader.
func (c *Cluster) MakeCall(ctx context.Context, loginID, toAddress string, vars []cisco.CallVariable) (cisco.Dialog, error) {
	return call[cisco.Dialog](c, ctx, methodMakeCall, rpcArgs{LoginID: loginID, ToAddress: toAddress, Vars: vars})
}

// CallAction acts on a call on the leader.
func (c *Cluster) CallAction(ctx context.Context, loginID, dialogID string, action cisco.Action, toAddress string) error {
	_, err := call[struct{}](c, ctx, methodCallAction, rpcArgs{LoginID: loginID, DialogID: dialogID, Action: action, ToAddress: toAddress})
	return err
}

// WrapUp records a wrap-up reason on the leader.
func (c *Cluster) WrapUp(ctx context.Context, loginID, dialogID, reason string) error {
	_, err := call[struct{}](c, ctx, methodWrapUp, rpcArgs{LoginID: loginID, DialogID: dialogID, Reason: reason})
	return err
}

// SupervisorSetState sets an agent's state for a supervisor on the leader.
func (c *Cluster) SupervisorSetState(ctx context.Context, supervisorID, agentID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	return call[cisco.User](c, ctx, methodSupervisorSetState,
		rpcArgs{LoginID: supervisorID, AgentID: agentID, State: state, ReasonCodeID: reasonCodeID})
}

// SilentMonitor starts a supervisor's monitoring on the leader.
func (c *Cluster) SilentMonitor(ctx context.Context, supervisorID, fromAddress, agentID, toAddress string) (cisco.Dialog, error) {
	return call[cisco.Dialog](c, ctx, methodSilentMonitor,
		rpcArgs{LoginID: supervisorID, FromAddress: fromAddress, AgentID: agentID, ToAddress: toAddress})
}

// Barge joins a supervisor into a call on the leader.
func (c *Cluster) Barge(ctx context.Context, supervisorID, fromAddress, agentID, toAddress, dialogID string) (cisco.Dialog, error) {
	return call[cisco.Dialog](c, ctx, methodBarge,
		rpcArgs{LoginID: supervisorID, FromAddress: fromAddress, AgentID: agentID, ToAddress: toAddress, DialogID: dialogID})
}

// Ring rings the agent's phone with a call from outside, on the leader, as
// Simulator.Ring does.
func (c *Cluster) Ring(ctx context.Context, loginID string, in sim.IncomingCall) (cisco.Dialog, error) {
	return call[cisco.Dialog](c, ctx, methodRing, rpcArgs{LoginID: loginID, Call: &in})
}
