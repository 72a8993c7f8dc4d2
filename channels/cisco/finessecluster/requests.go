package finessecluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/internal/kvstore"
)

// The methods a node asks an agent's owner for. Reads that need no
// session (system information, media routing domains, teams) are served
// by every node itself.
const (
	methodSignInAs           = "signInAs" // loginId and extension: the password stays where it was checked
	methodUser               = "user"
	methodSetState           = "setState"
	methodForceLogout        = "forceLogout"
	methodDisconnect         = "disconnect"
	methodReasonCodes        = "reasonCodes"
	methodWrapUpReasons      = "wrapUpReasons"
	methodPhoneBooks         = "phoneBooks"
	methodMedia              = "media"
	methodDialogs            = "dialogs"
	methodMakeCall           = "makeCall"
	methodCallAction         = "callAction"
	methodWrapUp             = "wrapUp"
	methodSupervisorSetState = "supervisorSetState"
	methodSilentMonitor      = "silentMonitor"
	methodBarge              = "barge"
	// methodMediaRoutingDomains asks a node holding sessions for the MRDs
	// its agents' Media listed: Finesse lists them nowhere else.
	methodMediaRoutingDomains = "mediaRoutingDomains"
	// methodSignedInAgents asks a node for the agents whose sessions it holds.
	methodSignedInAgents = "signedInAgents"
)

// rpcRequest is a request to an agent's owner. It never holds a password.
type rpcRequest struct {
	Method string  `json:"method"`
	ID     string  `json:"id,omitempty"` // the bus request id, for Notification.RequestID
	Args   rpcArgs `json:"args"`
}

// rpcArgs are the arguments of every method; each uses some.
type rpcArgs struct {
	LoginID      string               `json:"loginId,omitempty"` // the agent, or the supervisor
	AgentID      string               `json:"agentId,omitempty"` // the agent a supervisor acts on
	Extension    string               `json:"extension,omitempty"`
	State        cisco.State          `json:"state,omitempty"`
	ReasonCodeID string               `json:"reasonCodeId,omitempty"`
	Category     cisco.Category       `json:"category,omitempty"`
	DialogID     string               `json:"dialogId,omitempty"`
	Action       cisco.Action         `json:"action,omitempty"`
	FromAddress  string               `json:"fromAddress,omitempty"`
	ToAddress    string               `json:"toAddress,omitempty"`
	Reason       string               `json:"reason,omitempty"`
	Vars         []cisco.CallVariable `json:"vars,omitempty"`
}

// rpcReply is the owner's answer: a result or an error, and the number of
// the owner's last notification broadcast before it.
type rpcReply struct {
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cisco.Error    `json:"error,omitempty"`
	NoSession bool            `json:"noSession,omitempty"` // the owner holds no session of the agent (any more)
	Seq       uint64          `json:"seq"`
}

// errNoSession is a forwarded request whose node no longer holds the
// agent's session.
var errNoSession = errors.New("finesse cluster: the node holds no session of the agent")

func unavailable(text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable, Text: text}
}

// forward sends a request to origin and decodes its result into out.
func (c *Cluster) forward(ctx context.Context, origin, method string, args rpcArgs, out any) error {
	body, err := json.Marshal(rpcRequest{Method: method, ID: cisco.RequestIDOf(ctx), Args: args})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, c.cfg.Prefix+".finesse.req."+origin, body)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return unavailable("The ctibus node that holds the agent's Finesse session did not answer (" + err.Error() + "); try again in a few seconds.")
	}
	var rep rpcReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return unavailable("The ctibus node that holds the agent's Finesse session sent an answer that cannot be read.")
	}
	c.awaitDelivered(ctx, origin, rep.Seq)
	switch {
	case rep.NoSession:
		return errNoSession
	case rep.Error != nil:
		return rep.Error
	case out != nil && len(rep.Result) > 0:
		return json.Unmarshal(rep.Result, out)
	}
	return nil
}

// route runs a request that acts as, or reads, the agent loginID: on the
// node that holds its session, or here if none does (where the connector
// answers for an agent signed in through no node).
func route[T any](ctx context.Context, c *Cluster, loginID, method string, args rpcArgs, here func(context.Context) (T, error)) (T, error) {
	if origin, elsewhere := c.owner(loginID); elsewhere {
		var out T
		err := c.forward(ctx, origin, method, args, &out)
		if !errors.Is(err, errNoSession) {
			return out, err
		}
	}
	if _, lost := c.lostHere(loginID); lost && method != methodUser {
		var zero T
		return zero, &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageInvalidState,
			Text: "The agent is signed out: the ctibus node that held its Finesse session is gone. Sign in again."}
	}
	return here(ctx)
}

// serve answers a request forwarded by another node, in a goroutine of its
// own: requests to Finesse take seconds, and NATS calls a subscription's
// handler serially.
func (c *Cluster) serve(m *nats.Msg) {
	select {
	case c.serving <- struct{}{}:
	default:
		c.reply(m, nil, unavailable("This ctibus node serves too many forwarded requests right now; try again."))
		return
	}
	go func() {
		defer func() { <-c.serving }()
		var req rpcRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			c.reply(m, nil, &cisco.Error{Type: cisco.ErrorTypeGeneric, Text: "a forwarded request could not be read"})
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
		defer cancel()
		if req.ID != "" {
			ctx = cisco.WithRequestID(ctx, req.ID)
		}
		v, err := c.serveLocally(ctx, req.Method, req.Args)
		c.reply(m, v, err)
	}()
}

// serveLocally runs a forwarded request on this node's connector: the
// agent's session is here.
func (c *Cluster) serveLocally(ctx context.Context, method string, a rpcArgs) (any, error) {
	switch method {
	case methodSignInAs, methodMediaRoutingDomains, methodSignedInAgents:
	default:
		if !c.fin.HasSession(a.LoginID) {
			return nil, errNoSession
		}
	}
	f := c.fin
	switch method {
	case methodSignInAs:
		c.awaitClaims(ctx, a.LoginID)
		in, err := f.SignInAs(ctx, a.LoginID, a.Extension)
		if errors.Is(err, finesse.ErrNoSession) {
			err = errNoSession
		}
		return in, err
	case methodMediaRoutingDomains:
		return f.MediaRoutingDomains(ctx)
	case methodSignedInAgents:
		return f.SignedInAgents(ctx)
	case methodUser:
		return f.User(ctx, a.LoginID)
	case methodSetState:
		return f.SetState(ctx, a.LoginID, a.State, a.ReasonCodeID)
	case methodForceLogout:
		return f.ForceLogout(ctx, a.LoginID, a.ReasonCodeID)
	case methodDisconnect:
		return f.Disconnect(ctx, a.LoginID)
	case methodReasonCodes:
		return f.ReasonCodes(ctx, a.LoginID, a.Category)
	case methodWrapUpReasons:
		return f.WrapUpReasons(ctx, a.LoginID)
	case methodPhoneBooks:
		return f.PhoneBooks(ctx, a.LoginID)
	case methodMedia:
		return f.Media(ctx, a.LoginID)
	case methodDialogs:
		return f.Dialogs(ctx, a.LoginID)
	case methodMakeCall:
		return f.MakeCall(ctx, a.LoginID, a.ToAddress, a.Vars)
	case methodCallAction:
		return nil, f.CallAction(ctx, a.LoginID, a.DialogID, a.Action, a.ToAddress)
	case methodWrapUp:
		return nil, f.WrapUp(ctx, a.LoginID, a.DialogID, a.Reason)
	case methodSupervisorSetState:
		return f.SupervisorSetState(ctx, a.LoginID, a.AgentID, a.State, a.ReasonCodeID)
	case methodSilentMonitor:
		return f.SilentMonitor(ctx, a.LoginID, a.FromAddress, a.AgentID, a.ToAddress)
	case methodBarge:
		return f.Barge(ctx, a.LoginID, a.FromAddress, a.AgentID, a.ToAddress, a.DialogID)
	}
	return nil, &cisco.Error{Type: cisco.ErrorTypeGeneric, Text: fmt.Sprintf("a forwarded request names no method this node knows (%.40q); are the nodes of one version?", method)}
}

// reply answers a forwarded request. The number it carries is read after
// the request ran: the notifications the request caused were broadcast
// before it returned.
func (c *Cluster) reply(m *nats.Msg, v any, err error) {
	rep := rpcReply{Seq: c.seq.Load()}
	var ce *cisco.Error
	switch {
	case errors.Is(err, errNoSession):
		rep.NoSession = true
	case errors.As(err, &ce):
		rep.Error = ce
	case err != nil:
		rep.Error = &cisco.Error{Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable, Text: "The ctibus node that holds the agent's Finesse session failed: " + err.Error()}
	case v != nil:
		rep.Result, err = json.Marshal(v)
		if err != nil {
			rep.Error = &cisco.Error{Type: cisco.ErrorTypeGeneric, Text: "an answer could not be encoded"}
		}
	}
	data, _ := json.Marshal(rep)
	if err := m.Respond(data); err != nil {
		c.log.Warn("answer a forwarded request", zap.Error(err))
	}
}

// SignIn signs the agent in, as a finesse.Connector does, keeping one
// Finesse session per agent in the cluster. An agent whose session this
// node holds signs in here (Finesse checks the password). Otherwise this
// node checks the password with Finesse itself, then: an agent another
// live node holds is signed in again by that node, with the credentials it
// keeps, the request carrying the loginId and extension only; an agent no
// live node holds is claimed by this node (a compare-and-set on its owner
// record) and signed in here.
func (c *Cluster) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	if c.fin.HasSession(username) {
		return c.fin.SignIn(ctx, username, password, extension)
	}
	v, err := c.fin.Authenticate(ctx, username, password)
	if err != nil {
		return cisco.SignedIn{}, err
	}
	id := v.User().LoginID
	c.beginClaim(id)
	defer c.endClaim(id)
	for range 3 { // a race lost to another node's claim: read again
		val, rev, err := kvstore.Get(ctx, c.owners, ownerKey(id))
		if err != nil {
			return cisco.SignedIn{}, unavailable("The cluster's record of Finesse sessions cannot be read; try again in a few seconds.")
		}
		var r record
		if val != nil && json.Unmarshal(val, &r) == nil && r.Origin != c.origin && c.nodeAlive(ctx, r.Origin) {
			var in cisco.SignedIn
			err := c.forward(ctx, r.Origin, methodSignInAs, rpcArgs{LoginID: id, Extension: extension}, &in)
			if errors.Is(err, cisco.ErrAuthorization) {
				// Finesse has just taken the password given here: what it
				// refused is the one the owner holds, changed since. That
				// is no wrong password of this sign-in's, for the lockout.
				return in, unavailable("Finesse refused the password the ctibus node holding the agent's session signed in with: the password changed since. Close the agent's desktops and sign in again once the session has ended.")
			}
			if !errors.Is(err, errNoSession) {
				return in, err
			}
			// The owner's session ended meanwhile: take the agent over.
		}
		if r.Origin != c.origin || val == nil {
			mine, _ := json.Marshal(record{Node: c.cfg.Node, Origin: c.origin, Extension: extension, Teams: supervised(v.User())})
			rev, err = kvstore.CompareAndSet(ctx, c.owners, ownerKey(id), mine, rev)
			if kvstore.IsConflict(err) {
				continue
			}
			if err != nil {
				return cisco.SignedIn{}, unavailable("The cluster's record of Finesse sessions cannot be written; try again in a few seconds.")
			}
		}
		c.rememberNames(ctx, v.User())
		in, err := c.fin.SignInVerified(ctx, v, extension)
		if err != nil && !c.fin.HasSession(id) {
			_ = kvstore.CompareAndDelete(ctx, c.owners, ownerKey(id), rev)
		}
		return in, err
	}
	return cisco.SignedIn{}, unavailable("Other ctibus nodes are signing this agent in at the same time; try again.")
}

// supervised returns the ids of the teams u supervises.
func supervised(u cisco.User) []string {
	if !u.IsSupervisor {
		return nil
	}
	ids := make([]string, 0, len(u.Teams))
	for _, t := range u.Teams {
		ids = append(ids, t.ID)
	}
	return ids
}

// nodeAlive reads whether origin's heartbeat is there.
func (c *Cluster) nodeAlive(ctx context.Context, origin string) bool {
	_, rev, err := kvstore.Get(ctx, c.nodes, origin)
	return err != nil || rev != kvstore.Absent // unreadable: do not take the agent over
}

// rememberNames records the names of u, so that every node resolves its
// loginName as this one does.
func (c *Cluster) rememberNames(ctx context.Context, u cisco.User) {
	for _, name := range []string{u.LoginID, u.LoginName} {
		if name == "" {
			continue
		}
		if _, err := c.owners.Put(ctx, nameKey(name), []byte(u.LoginID)); err != nil {
			c.log.Warn("record an agent's name for the other nodes", zap.String("agent", u.LoginID), zap.Error(err))
			return
		}
	}
}

// claim counts the sign-ins of one agent under way on this node.
type claim struct {
	n    int           // sign-ins under way
	done chan struct{} // closed when the last ends
}

func (c *Cluster) beginClaim(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.claiming[id]
	if cl == nil {
		cl = &claim{done: make(chan struct{})}
		c.claiming[id] = cl
	}
	cl.n++
}

func (c *Cluster) endClaim(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.claiming[id]; cl != nil {
		if cl.n--; cl.n == 0 {
			close(cl.done)
			delete(c.claiming, id)
		}
	}
}

// awaitClaims waits for the sign-ins of id under way here to end: a node
// that lost the race to claim an agent asks the winner to sign the agent
// in, and the winner answers once its own sign-in has made the session.
func (c *Cluster) awaitClaims(ctx context.Context, id string) {
	c.mu.Lock()
	cl := c.claiming[id]
	c.mu.Unlock()
	if cl == nil {
		return
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
	}
}

// Resolve returns the loginId username names: as any node met it at a
// sign-in, or as this node's connector finds it.
func (c *Cluster) Resolve(ctx context.Context, username string) (string, bool, error) {
	c.mu.Lock()
	id, ok := c.names[strings.ToLower(username)]
	c.mu.Unlock()
	if ok {
		return id, true, nil
	}
	return c.fin.Resolve(ctx, username)
}

// User returns the agent's User, from the node that holds its session. An
// agent whose node went is signed out, as far as ctibus is concerned.
func (c *Cluster) User(ctx context.Context, loginID string) (cisco.User, error) {
	return route(ctx, c, loginID, methodUser, rpcArgs{LoginID: loginID}, func(ctx context.Context) (cisco.User, error) {
		if u, ok := c.lostHere(loginID); ok {
			return u, nil
		}
		u, err := c.fin.User(ctx, loginID)
		if errors.Is(err, cisco.ErrNotFound) {
			c.mu.Lock()
			known, ok := c.known[loginID]
			c.mu.Unlock()
			if ok {
				return signedOut(known), nil
			}
		}
		return u, err
	})
}

// Agent reports whether loginID is an agent.
func (c *Cluster) Agent(ctx context.Context, loginID string) (bool, error) {
	_, err := c.User(ctx, loginID)
	return cisco.AgentFromUser(err)
}

// SignedInAgents returns the agents whose sessions the live nodes hold,
// as each says: a node's record of an agent outlives the session a moment.
// A node that does not answer is taken at its records' word.
func (c *Cluster) SignedInAgents(ctx context.Context) ([]string, error) {
	ids, err := c.fin.SignedInAgents(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	byNode := map[string][]string{}
	for id, r := range c.table {
		if r.Origin != c.origin && c.aliveLocked(r) {
			byNode[r.Origin] = append(byNode[r.Origin], id)
		}
	}
	c.mu.Unlock()
	for origin, recorded := range byNode {
		var theirs []string
		if err := c.forward(ctx, origin, methodSignedInAgents, rpcArgs{}, &theirs); err != nil {
			theirs = recorded
		}
		ids = append(ids, theirs...)
	}
	return ids, nil
}

// SetState sets the agent's state on the node that holds its session.
func (c *Cluster) SetState(ctx context.Context, loginID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	return route(ctx, c, loginID, methodSetState, rpcArgs{LoginID: loginID, State: state, ReasonCodeID: reasonCodeID},
		func(ctx context.Context) (cisco.User, error) {
			return c.fin.SetState(ctx, loginID, state, reasonCodeID)
		})
}

// ForceLogout signs the agent out on the node that holds its session.
func (c *Cluster) ForceLogout(ctx context.Context, loginID, reasonCodeID string) (cisco.User, error) {
	return route(ctx, c, loginID, methodForceLogout, rpcArgs{LoginID: loginID, ReasonCodeID: reasonCodeID},
		func(ctx context.Context) (cisco.User, error) { return c.fin.ForceLogout(ctx, loginID, reasonCodeID) })
}

// Disconnect ends the agent's session on the node that holds it.
func (c *Cluster) Disconnect(ctx context.Context, loginID string) (cisco.User, error) {
	return route(ctx, c, loginID, methodDisconnect, rpcArgs{LoginID: loginID},
		func(ctx context.Context) (cisco.User, error) { return c.fin.Disconnect(ctx, loginID) })
}

// ReasonCodes reads the agent's reason codes with its session's credentials.
func (c *Cluster) ReasonCodes(ctx context.Context, loginID string, category cisco.Category) ([]cisco.ReasonCode, error) {
	return route(ctx, c, loginID, methodReasonCodes, rpcArgs{LoginID: loginID, Category: category},
		func(ctx context.Context) ([]cisco.ReasonCode, error) {
			return c.fin.ReasonCodes(ctx, loginID, category)
		})
}

// WrapUpReasons reads the agent's wrap-up reasons with its session's credentials.
func (c *Cluster) WrapUpReasons(ctx context.Context, loginID string) ([]cisco.WrapUpReason, error) {
	return route(ctx, c, loginID, methodWrapUpReasons, rpcArgs{LoginID: loginID},
		func(ctx context.Context) ([]cisco.WrapUpReason, error) { return c.fin.WrapUpReasons(ctx, loginID) })
}

// PhoneBooks reads the agent's phone books with its session's credentials.
func (c *Cluster) PhoneBooks(ctx context.Context, loginID string) ([]cisco.PhoneBook, error) {
	return route(ctx, c, loginID, methodPhoneBooks, rpcArgs{LoginID: loginID},
		func(ctx context.Context) ([]cisco.PhoneBook, error) { return c.fin.PhoneBooks(ctx, loginID) })
}

// Media reads the agent's Media with its session's credentials.
func (c *Cluster) Media(ctx context.Context, loginID string) ([]cisco.Media, error) {
	return route(ctx, c, loginID, methodMedia, rpcArgs{LoginID: loginID},
		func(ctx context.Context) ([]cisco.Media, error) { return c.fin.Media(ctx, loginID) })
}

// Dialogs reads the agent's dialogs on the node that holds its session.
func (c *Cluster) Dialogs(ctx context.Context, loginID string) ([]cisco.Dialog, error) {
	return route(ctx, c, loginID, methodDialogs, rpcArgs{LoginID: loginID},
		func(ctx context.Context) ([]cisco.Dialog, error) { return c.fin.Dialogs(ctx, loginID) })
}

// MakeCall places a call from the node that holds the agent's session.
func (c *Cluster) MakeCall(ctx context.Context, loginID, toAddress string, vars []cisco.CallVariable) (cisco.Dialog, error) {
	return route(ctx, c, loginID, methodMakeCall, rpcArgs{LoginID: loginID, ToAddress: toAddress, Vars: vars},
		func(ctx context.Context) (cisco.Dialog, error) { return c.fin.MakeCall(ctx, loginID, toAddress, vars) })
}

// CallAction acts on a call from the node that holds the agent's session.
func (c *Cluster) CallAction(ctx context.Context, loginID, dialogID string, action cisco.Action, toAddress string) error {
	_, err := route(ctx, c, loginID, methodCallAction, rpcArgs{LoginID: loginID, DialogID: dialogID, Action: action, ToAddress: toAddress},
		func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.fin.CallAction(ctx, loginID, dialogID, action, toAddress)
		})
	return err
}

// WrapUp records a wrap-up reason from the node that holds the agent's session.
func (c *Cluster) WrapUp(ctx context.Context, loginID, dialogID, reason string) error {
	_, err := route(ctx, c, loginID, methodWrapUp, rpcArgs{LoginID: loginID, DialogID: dialogID, Reason: reason},
		func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.fin.WrapUp(ctx, loginID, dialogID, reason)
		})
	return err
}

// SupervisorSetState changes an agent's state from the node that holds
// the supervisor's session.
func (c *Cluster) SupervisorSetState(ctx context.Context, supervisorID, agentID string, state cisco.State, reasonCodeID string) (cisco.User, error) {
	return route(ctx, c, supervisorID, methodSupervisorSetState,
		rpcArgs{LoginID: supervisorID, AgentID: agentID, State: state, ReasonCodeID: reasonCodeID},
		func(ctx context.Context) (cisco.User, error) {
			return c.fin.SupervisorSetState(ctx, supervisorID, agentID, state, reasonCodeID)
		})
}

// agentExtension returns toAddress, or else the extension agentID is
// signed in on, read from the node that holds its session: the
// supervisor's node may not know it.
func (c *Cluster) agentExtension(ctx context.Context, agentID, toAddress string) string {
	if toAddress != "" {
		return toAddress
	}
	if _, elsewhere := c.owner(agentID); !elsewhere {
		return ""
	}
	u, err := c.User(ctx, agentID)
	if err != nil {
		return ""
	}
	return u.Extension
}

// SilentMonitor starts monitoring from the node that holds the
// supervisor's session.
func (c *Cluster) SilentMonitor(ctx context.Context, supervisorID, fromAddress, agentID, toAddress string) (cisco.Dialog, error) {
	toAddress = c.agentExtension(ctx, agentID, toAddress)
	return route(ctx, c, supervisorID, methodSilentMonitor,
		rpcArgs{LoginID: supervisorID, FromAddress: fromAddress, AgentID: agentID, ToAddress: toAddress},
		func(ctx context.Context) (cisco.Dialog, error) {
			return c.fin.SilentMonitor(ctx, supervisorID, fromAddress, agentID, toAddress)
		})
}

// Barge joins the call from the node that holds the supervisor's session.
func (c *Cluster) Barge(ctx context.Context, supervisorID, fromAddress, agentID, toAddress, dialogID string) (cisco.Dialog, error) {
	toAddress = c.agentExtension(ctx, agentID, toAddress)
	return route(ctx, c, supervisorID, methodBarge,
		rpcArgs{LoginID: supervisorID, FromAddress: fromAddress, AgentID: agentID, ToAddress: toAddress, DialogID: dialogID},
		func(ctx context.Context) (cisco.Dialog, error) {
			return c.fin.Barge(ctx, supervisorID, fromAddress, agentID, toAddress, dialogID)
		})
}

// SystemInfo reads Finesse's system information here.
func (c *Cluster) SystemInfo(ctx context.Context) (cisco.SystemInfo, error) {
	return c.fin.SystemInfo(ctx)
}

// MediaRoutingDomains returns the media routing domains as an agent's
// Media lists them: read by this node if it holds a session, else by a
// node that does, else voice only.
func (c *Cluster) MediaRoutingDomains(ctx context.Context) ([]cisco.MRD, error) {
	if here, err := c.fin.SignedInAgents(ctx); err == nil && len(here) == 0 {
		if origin := c.anyOwner(); origin != "" {
			var mrds []cisco.MRD
			if err := c.forward(ctx, origin, methodMediaRoutingDomains, rpcArgs{}, &mrds); err == nil && len(mrds) > 0 {
				return mrds, nil
			}
		}
	}
	return c.fin.MediaRoutingDomains(ctx)
}

// anyOwner returns another live node that holds sessions, or "".
func (c *Cluster) anyOwner() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.table {
		if r.Origin != c.origin && c.aliveLocked(r) {
			return r.Origin
		}
	}
	return ""
}

// TeamAgents reads a team's agents here.
func (c *Cluster) TeamAgents(ctx context.Context, teamID string) ([]string, error) {
	return c.fin.TeamAgents(ctx, teamID)
}
