package session

import (
	"context"
	"sync"
	"time"

	"github.com/ctibus/ctibus/broker"
)

// WorkspacesConfig holds the workspaces' tunables; zero values select defaults.
type WorkspacesConfig struct {
	// Channel names the channel whose agents the workspaces are, in their
	// scopes (see WorkspaceScope). Required.
	Channel string
	// Grace is how long an agent stays signed in after the last connection
	// of its workspace closes, as Finesse waits for a closed desktop.
	// Default 60 s.
	Grace time.Duration
	// OnExpire is called, without locks held and under the agent's lock (see
	// Lock), when a grace period ends with nobody back: it signs the agent
	// out. Required.
	OnExpire func(agentID string)
	// AfterFunc starts a timer; tests replace it. Default time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) Timer
	// Presence tells the other nodes of a cluster which workspaces have
	// connections here, and tells this node of theirs, so that a grace
	// period ends in a sign-out only when no node holds a connection of
	// the agent. Default: this node alone.
	Presence Presence
}

// Presence is how many connections each node holds of each workspace.
type Presence interface {
	// Set records how many connections of agentID's workspace this node
	// holds (0 removes it).
	Set(ctx context.Context, agentID string, conns int) error
	// Elsewhere reports whether another node holds a connection of
	// agentID's workspace.
	Elsewhere(ctx context.Context, agentID string) (bool, error)
}

// Alone is the Presence of a node without peers: nobody is elsewhere.
var Alone Presence = alone{}

type alone struct{}

func (alone) Set(context.Context, string, int) error          { return nil }
func (alone) Elsewhere(context.Context, string) (bool, error) { return false, nil }

// DefaultGrace is the grace period of WorkspacesConfig.Grace.
const DefaultGrace = 60 * time.Second

// presenceTimeout bounds each call to the Presence.
const presenceTimeout = 5 * time.Second

// Timer is the part of *time.Timer that workspaces use. It is an alias, so
// that one AfterFunc serves the session, the handlers and the simulator,
// whose Timer is the same interface.
type Timer = interface{ Stop() bool }

// Workspace is one agent's share of the bus: the connections of the apps in
// the agent's desktop, which alone receive the agent's events.
//
// The desktop outlives a sign-out: its apps stay in it, signed out, until
// the same agent signs in again (they hear that sign-in), a different
// agent signs in on a connection that signed in to it (it ends), or every
// app has closed for a grace period (it ends).
type Workspace struct {
	AgentID string       // the agent's loginId
	Scope   broker.Scope // where the agent's events are published

	conns     map[*broker.Conn]struct{} // guarded by Workspaces.mu
	owners    map[*broker.Conn]struct{} // the conns that signed in with the password; guarded by Workspaces.mu
	signedOut bool                      // the agent signed out; the desktop waits; guarded by Workspaces.mu
	grace     Timer                     // running while conns is empty; guarded by Workspaces.mu
}

// Workspaces keeps one Workspace per agent signed in here, or signed out
// with apps of its desktop still here.
type Workspaces struct {
	cfg WorkspacesConfig

	agentLocks sync.Map // agentID -> *sync.Mutex, serializing sign-in, sign-out and expiry
	// presenceLocks serializes the Presence.Set calls of each agent, so
	// that an older count is never written after a newer one.
	presenceLocks sync.Map // agentID -> *sync.Mutex

	// mu guards the fields below, the Workspace fields it names, and the
	// scope of the connections they bind: it is held while moving one (it
	// is taken before the broker's lock, never after).
	mu      sync.Mutex
	byAgent map[string]*Workspace
	byConn  map[*broker.Conn]*Workspace
	closing map[*broker.Conn]struct{} // connections whose close already leaves their workspace
	closed  bool                      // Close has run: no grace period starts or ends
}

// NewWorkspaces returns an empty set of workspaces.
func NewWorkspaces(cfg WorkspacesConfig) *Workspaces {
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	if cfg.Presence == nil {
		cfg.Presence = Alone
	}
	if cfg.OnExpire == nil {
		panic("session: WorkspacesConfig.OnExpire is required")
	}
	checkChannelName(cfg.Channel)
	return &Workspaces{
		cfg:     cfg,
		byAgent: make(map[string]*Workspace),
		byConn:  make(map[*broker.Conn]*Workspace),
		closing: make(map[*broker.Conn]struct{}),
	}
}

// ScopeOf returns the scope of agentID's workspace.
func (w *Workspaces) ScopeOf(agentID string) broker.Scope {
	return WorkspaceScope(w.cfg.Channel, agentID)
}

// Lock serializes what changes whether an agent is signed in: a sign-in
// joining its workspace, a sign-out, and the end of a grace period. It
// returns the unlock function.
func (w *Workspaces) Lock(agentID string) (unlock func()) {
	mu := loadMutex(&w.agentLocks, agentID)
	mu.Lock()
	return mu.Unlock
}

// Join binds c, an app admitted with a workspace token, to agentID's
// workspace, creating it if the agent has none here, and moves c into the
// workspace's scope. A workspace it creates for a signed-out agent is a
// part of the agent's kept desktop, signed out (another node, or none,
// holds the rest). A connection bound to another agent leaves that
// workspace first. Call it under Lock(agentID).
func (w *Workspaces) Join(agentID string, c *broker.Conn, signedOut bool) *Workspace {
	ws, _ := w.join(agentID, c, false, signedOut)
	return ws
}

// Ended is a desktop that a sign-in ended: a different agent signed in on
// a connection that had signed in to it while its agent was signed out.
type Ended struct {
	AgentID string         // whose desktop it was
	Conns   []*broker.Conn // its other apps, now back in scopes of their own
}

// SignIn binds c, where agentID has just signed in, to agentID's workspace
// as Join does, and brings a signed-out desktop back: its apps hear the
// sign-in. If c had signed in to the signed-out desktop of another agent,
// that desktop ends and is returned, so that its apps can be told and its
// tokens revoked. Call it under Lock(agentID).
func (w *Workspaces) SignIn(agentID string, c *broker.Conn) (*Workspace, *Ended) {
	return w.join(agentID, c, true, false)
}

func (w *Workspaces) join(agentID string, c *broker.Conn, owner, signedOut bool) (*Workspace, *Ended) {
	w.mu.Lock()
	var left string // the agent c leaves, if any
	var ended *Ended
	if old := w.byConn[c]; old != nil && old.AgentID != agentID {
		_, owned := old.owners[c]
		w.leaveLocked(old, c)
		left = old.AgentID
		if owned && old.signedOut && w.byAgent[old.AgentID] == old {
			ended = &Ended{AgentID: old.AgentID, Conns: w.endLocked(old)}
		}
	}
	ws := w.byAgent[agentID]
	if ws == nil {
		ws = &Workspace{AgentID: agentID, Scope: w.ScopeOf(agentID), signedOut: signedOut,
			conns: make(map[*broker.Conn]struct{}), owners: make(map[*broker.Conn]struct{})}
		w.byAgent[agentID] = ws
	}
	if ws.grace != nil {
		ws.grace.Stop()
		ws.grace = nil
	}
	if owner {
		ws.signedOut = false
		ws.owners[c] = struct{}{}
	}
	_, watched := w.closing[c]
	w.closing[c] = struct{}{}
	ws.conns[c] = struct{}{}
	w.byConn[c] = ws
	// Moved under the lock, so that the connection's scope and byConn agree
	// whatever End runs at the same time for another agent.
	c.SetScope(ws.Scope)
	w.mu.Unlock()
	if left != "" {
		w.syncPresence(left)
	}
	w.syncPresence(agentID)
	if !watched { // once per connection, however often it signs in
		w.watchClose(c)
	}
	return ws, ended
}

// watchClose makes c leave its workspace when it closes.
func (w *Workspaces) watchClose(c *broker.Conn) {
	c.OnClose(func() {
		w.Leave(c)
		w.mu.Lock()
		delete(w.closing, c)
		w.mu.Unlock()
	})
}

// Of returns the workspace c is bound to, if its agent is signed in.
func (w *Workspaces) Of(c *broker.Conn) (*Workspace, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws, ok := w.byConn[c]
	if !ok || ws.signedOut {
		return nil, false
	}
	return ws, true
}

// Get returns agentID's workspace, if the agent is signed in here.
func (w *Workspaces) Get(agentID string) (*Workspace, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws, ok := w.byAgent[agentID]
	if !ok || ws.signedOut {
		return nil, false
	}
	return ws, true
}

// Apps returns, by agent, how many connections of apps this node holds in
// each workspace it keeps, signed in or not: the operator's view shows it.
func (w *Workspaces) Apps() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	apps := make(map[string]int, len(w.byAgent))
	for agentID, ws := range w.byAgent {
		apps[agentID] = len(ws.conns)
	}
	return apps
}

// Resume brings agentID's signed-out desktop back when the agent signs in
// again on another node: its apps hear that sign-in, and may act as the
// agent again.
func (w *Workspaces) Resume(agentID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ws := w.byAgent[agentID]; ws != nil {
		ws.signedOut = false
	}
}

// SignOut keeps agentID's desktop after the agent signed out: its apps stay
// in the workspace's scope, where the next sign-in of the agent reaches
// them, but no request of theirs acts as the agent (Of finds nothing). It
// returns how many apps stay. Call it under Lock(agentID).
func (w *Workspaces) SignOut(agentID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.byAgent[agentID]
	if ws == nil {
		return 0
	}
	ws.signedOut = true
	return len(ws.conns)
}

// Leave unbinds c from its workspace. When the last connection leaves, the
// grace period starts.
func (w *Workspaces) Leave(c *broker.Conn) {
	w.mu.Lock()
	ws := w.byConn[c]
	if ws != nil {
		w.leaveLocked(ws, c)
	}
	w.mu.Unlock()
	if ws != nil {
		w.syncPresence(ws.AgentID)
	}
}

// syncPresence tells the Presence how many connections of agentID's
// workspace this node holds now. The count is read under the agent's
// presence lock, so that the last call writes the latest count whatever
// order the callers came in. It runs without w.mu: the Presence may be a
// network away.
func (w *Workspaces) syncPresence(agentID string) {
	mu := loadMutex(&w.presenceLocks, agentID)
	mu.Lock()
	defer mu.Unlock()
	w.mu.Lock()
	n := 0
	if ws := w.byAgent[agentID]; ws != nil {
		n = len(ws.conns)
	}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	// A count that could not be written is the Presence's to write again
	// (KVPresence does at its next heartbeat); nothing here can do better.
	_ = w.cfg.Presence.Set(ctx, agentID, n)
}

func (w *Workspaces) leaveLocked(ws *Workspace, c *broker.Conn) {
	delete(ws.conns, c)
	delete(ws.owners, c)
	delete(w.byConn, c)
	if len(ws.conns) == 0 && w.byAgent[ws.AgentID] == ws && ws.grace == nil && !w.closed {
		ws.grace = w.cfg.AfterFunc(w.cfg.Grace, func() { w.expire(ws, false) })
	}
}

// expire ends ws if nobody came back during its grace period, here or on
// another node. If another node holds a connection of the agent, ws ends
// here without a sign-out: that node's own grace period decides.
//
// If the Presence cannot tell, the agent stays signed in and the grace
// period runs once more (retried). If it still cannot tell, the agent is
// signed out as a node alone would: an agent left signed in with no
// desktop is offered calls that nobody answers, and a cluster that has
// lost its Presence for two grace periods has lost its NATS too.
func (w *Workspaces) expire(ws *Workspace, retried bool) {
	unlock := w.Lock(ws.AgentID)
	defer unlock()
	// Under the agent's lock nothing joins ws, so its connections can only
	// go; ws stays current while the Presence is asked.
	if !w.abandoned(ws) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	elsewhere, err := w.cfg.Presence.Elsewhere(ctx, ws.AgentID)
	cancel()
	if err != nil && !retried {
		w.mu.Lock()
		if w.byAgent[ws.AgentID] == ws && len(ws.conns) == 0 && !w.closed {
			ws.grace = w.cfg.AfterFunc(w.cfg.Grace, func() { w.expire(ws, true) })
		}
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	current := w.byAgent[ws.AgentID] == ws && len(ws.conns) == 0 && !w.closed
	if current {
		delete(w.byAgent, ws.AgentID)
	}
	w.mu.Unlock()
	if current && (err != nil || !elsewhere) {
		w.cfg.OnExpire(ws.AgentID)
	}
}

// abandoned reports whether ws is still the agent's workspace, with no
// connection here, and the workspaces still open.
func (w *Workspaces) abandoned(ws *Workspace) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byAgent[ws.AgentID] == ws && len(ws.conns) == 0 && !w.closed
}

// Close stops every grace period, running or to come: a node that stops
// signs nobody out. Its agents stay signed in, for the other nodes of its
// cluster or for its own restart, whose sweep of abandoned agents (or a
// returning app) decides.
func (w *Workspaces) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for _, ws := range w.byAgent {
		if ws.grace != nil {
			ws.grace.Stop()
			ws.grace = nil
		}
	}
}

// EndSignedOut ends agentID's desktop here if the agent is signed out of
// it: its connections go back to scopes of their own, and they are
// returned. It reports false, and changes nothing, if this node holds no
// part of the desktop or the agent is signed in. Call it under
// Lock(agentID).
func (w *Workspaces) EndSignedOut(agentID string) ([]*broker.Conn, bool) {
	w.mu.Lock()
	ws := w.byAgent[agentID]
	if ws == nil || !ws.signedOut {
		w.mu.Unlock()
		return nil, false
	}
	conns := w.endLocked(ws)
	w.mu.Unlock()
	w.syncPresence(agentID)
	return conns, true
}

// endLocked removes ws: its connections go back to scopes of their own,
// and they are returned.
func (w *Workspaces) endLocked(ws *Workspace) []*broker.Conn {
	delete(w.byAgent, ws.AgentID)
	if ws.grace != nil {
		ws.grace.Stop()
		ws.grace = nil
	}
	conns := make([]*broker.Conn, 0, len(ws.conns))
	for c := range ws.conns {
		delete(w.byConn, c)
		c.ResetScope()
		conns = append(conns, c)
	}
	return conns
}

// loadMutex returns the mutex of key in locks, making it if it is absent.
// It loads first: LoadOrStore alone would allocate a mutex on every call,
// and these are taken on every request of an agent.
func loadMutex(locks *sync.Map, key string) *sync.Mutex {
	if m, ok := locks.Load(key); ok {
		return m.(*sync.Mutex)
	}
	m, _ := locks.LoadOrStore(key, new(sync.Mutex))
	return m.(*sync.Mutex)
}
