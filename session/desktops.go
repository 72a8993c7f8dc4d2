package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
)

// DesktopsConfig holds the desktops' tunables; zero values select defaults.
type DesktopsConfig struct {
	// Grace is how long an agent stays signed in after the last connection
	// of its workspace closes. Default 60 s.
	Grace time.Duration
	// AfterFunc starts the grace timers; tests replace it. Default
	// time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) Timer
	// TokenTTL is how long a workspace token admits other apps. Default 12 h.
	TokenTTL time.Duration
	// TokensPerAgent is how many workspace tokens of one agent admit apps
	// at once; each sign-in displaces the oldest beyond it. Default 32.
	TokensPerAgent int
	// PasswordChecks bounds the password and app-secret checks running or
	// waiting at once (see Desktops.CheckPassword); its zero value selects
	// its defaults.
	PasswordChecks PasswordChecksConfig
	// JWTMaxLifetime is the longest an app's JWT may live, from its issue
	// or from now; a longer-lived one is refused. Default 24 h.
	JWTMaxLifetime time.Duration
	// Apps are the server-side apps allowed to register with credentials;
	// nil allows none.
	Apps *Apps
	// AppLockout locks an app out after wrong secrets, as agents are after
	// wrong passwords; its Now defaults to Now. Keep its Store apart from
	// the agents', so that an app and an agent of one name do not share a
	// count.
	AppLockout LockoutConfig
	// Now tells the time. Default time.Now.
	Now func() time.Time

	// The stores a cluster shares; nil keeps each in this node's memory.

	// TokenStore keeps the workspace tokens.
	TokenStore TokenStore
	// Presence tells which nodes hold connections of an agent's workspace,
	// so that a grace period signs an agent out only when none does.
	Presence Presence
}

// Desktops keeps, for one channel, what the bus adds to the contact
// center's sign-ins: the agents' desktops (workspaces, kept across a
// sign-out), their grace periods and the sweep of abandoned agents, the
// workspace tokens that admit an agent's other apps, the server-side apps
// and their credentials (Register's and the HTTP API's), and the bound on
// password checks. The channel's handlers sign agents in and out; Desktops
// decides who is in which workspace.
//
// Locks, in the order they are taken: an agent's lock (Lock), held by a
// sign-in, a sign-out and the end of a grace period while they call the
// channel; the channel's own (its connector's), under which it delivers
// its notifications and so calls AgentSignedIn and AgentSignedOut, which
// take only the workspaces' lock; the workspaces' lock; the broker's.
// Nothing here takes an agent's lock under another of these.
type Desktops struct {
	bus        *broker.Broker
	channel    Channel
	log        *zap.Logger
	now        func() time.Time
	grace      time.Duration
	presence   Presence
	apps       *Apps
	jwtMaxLife time.Duration // the longest an app's JWT may live

	workspaces *Workspaces
	tokens     *Tokens
	appLockout *Lockout        // app secrets, by app name
	checks     *PasswordChecks // every bcrypt check, agents' and apps'

	stopping   context.Context    // ends at Close: the work in background stops
	stop       context.CancelFunc //
	background sync.WaitGroup     // the work in background, which Close waits for
	// revocations is closed when the watch of a shared token store's
	// revocations has stopped; nil when there is none.
	revocations <-chan struct{}
}

// NewDesktops returns the desktops of ch's agents on bus. Call Register to
// admit apps with credentials.
func NewDesktops(bus *broker.Broker, ch Channel, log *zap.Logger, cfg DesktopsConfig) *Desktops {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Presence == nil {
		cfg.Presence = Alone
	}
	if cfg.AppLockout.Now == nil {
		cfg.AppLockout.Now = cfg.Now
	}
	stopping, stop := context.WithCancel(context.Background())
	d := &Desktops{
		bus:        bus,
		channel:    ch,
		log:        log,
		now:        cfg.Now,
		grace:      cfg.Grace,
		presence:   cfg.Presence,
		apps:       cfg.Apps,
		jwtMaxLife: cfg.JWTMaxLifetime,
		tokens:     NewTokens(TokensConfig{TTL: cfg.TokenTTL, PerAgent: cfg.TokensPerAgent, Now: cfg.Now, Store: cfg.TokenStore}),
		// Wrong app secrets are locked out like wrong passwords: each costs
		// a bcrypt comparison, and nothing else would limit them.
		appLockout: NewLockout(cfg.AppLockout),
		checks:     NewPasswordChecks(cfg.PasswordChecks),
		stopping:   stopping,
		stop:       stop,
	}
	d.workspaces = NewWorkspaces(WorkspacesConfig{
		Channel:   ch.Name(),
		Grace:     cfg.Grace,
		AfterFunc: cfg.AfterFunc,
		OnExpire:  d.signOutAbandoned,
		Presence:  cfg.Presence,
	})
	if w, ok := cfg.TokenStore.(RevocationWatcher); ok {
		// A desktop that ends on another node ends here too: that node
		// revoked its tokens in the store this one shares.
		done, err := w.WatchRevocations(stopping, d.endRevoked)
		if err != nil {
			log.Error("desktops that end on other nodes will not end here: cannot watch the revocations of workspace tokens", zap.Error(err))
		}
		d.revocations = done
	}
	return d
}

// Register admits, on the bus, the apps that present a workspace token or
// app credentials in their Register (see Admit).
func (d *Desktops) Register() { d.bus.SetAdmitter(d) }

// Close stops the work in background, such as ending the workspaces of
// agents signed out on other nodes, and waits for it; and it stops the
// grace periods, so that a node that stops signs nobody out. Call it once
// the broker has drained.
func (d *Desktops) Close() {
	d.workspaces.Close()
	d.stop()
	if d.revocations != nil {
		<-d.revocations
	}
	d.background.Wait()
}

// Lock serializes what changes whether agentID is signed in: a sign-in
// joining its workspace, a sign-out, and the end of a grace period. It
// returns the unlock function.
func (d *Desktops) Lock(agentID string) (unlock func()) { return d.workspaces.Lock(agentID) }

// Of returns the workspace c is bound to, if its agent is signed in.
func (d *Desktops) Of(c *broker.Conn) (*Workspace, bool) { return d.workspaces.Of(c) }

// Get returns agentID's workspace, if the agent is signed in here.
func (d *Desktops) Get(agentID string) (*Workspace, bool) { return d.workspaces.Get(agentID) }

// ScopeOf returns the scope of agentID's workspace, on whichever nodes it
// lives.
func (d *Desktops) ScopeOf(agentID string) broker.Scope { return d.workspaces.ScopeOf(agentID) }

// EveryWorkspace stands for every workspace of the channel as the scope an
// event is about (broker.Event.About): only apps granted all agents get it.
func (d *Desktops) EveryWorkspace() broker.Scope { return EveryWorkspace(d.channel.Name()) }

// CheckPassword runs check, a bcrypt comparison, within the bound on
// password checks that agents' sign-ins and apps' secrets share; it
// returns ErrBusy if check could not start in time.
func (d *Desktops) CheckPassword(ctx context.Context, check func() error) error {
	return d.checks.Do(ctx, check)
}

// SignIn binds c, where agentID has just signed in, to the agent's
// workspace, and brings a signed-out desktop of the agent back. If c had
// signed in to the signed-out desktop of another agent, that desktop ends:
// its apps are told (PubSub/Workspace/Ended) and its tokens revoked. Call
// it under Lock(agentID), before publishing the sign-in's events.
func (d *Desktops) SignIn(ctx context.Context, c *broker.Conn, agentID string) *Workspace {
	ws, ended := d.workspaces.SignIn(agentID, c)
	if ended != nil {
		d.endDesktop(ctx, c, ended)
	}
	return ws
}

// workspaceEndedPayload is the message of PubSub/Workspace/Ended.
type workspaceEndedPayload struct {
	AgentID string `json:"agentId"`
	Reason  string `json:"reason"`
}

// endDesktop tells the apps of a signed-out desktop that it ended, because
// a different agent signed in on c, a connection that had signed in to
// it, and revokes its tokens: they would otherwise admit into that other
// agent's next sign-in. The other nodes of a cluster hear of the
// revocation and end their parts of the desktop (endRevoked).
func (d *Desktops) endDesktop(ctx context.Context, c *broker.Conn, ended *Ended) {
	log := c.Logger().With(zap.String("endedAgent", ended.AgentID))
	if err := d.tokens.RevokeAgent(context.WithoutCancel(ctx), ended.AgentID); err != nil {
		log.Error("desktop ended with workspace tokens left valid", zap.Error(err))
	}
	d.tellEnded(ended, log)
	log.Info("desktop ended: another agent signed in on it", zap.Int("connections", len(ended.Conns)))
}

// endRevoked ends this node's part of agentID's desktop, signed out, whose
// tokens another node (or this one) has just revoked: the desktop ended
// there, because a different agent signed in on it, or nobody was left
// in it. A part where the agent is signed in again stays: the agent's
// tokens were revoked before that sign-in, which issued new ones.
func (d *Desktops) endRevoked(agentID string) {
	unlock := d.workspaces.Lock(agentID)
	defer unlock()
	conns, ok := d.workspaces.EndSignedOut(agentID)
	if !ok {
		return
	}
	log := d.log.With(zap.String("endedAgent", agentID))
	d.tellEnded(&Ended{AgentID: agentID, Conns: conns}, log)
	log.Info("desktop ended on another node: its part here ended too", zap.Int("connections", len(conns)))
}

// tellEnded sends PubSub/Workspace/Ended to each app of an ended desktop,
// now back in a scope of its own.
func (d *Desktops) tellEnded(ended *Ended, log *zap.Logger) {
	ev := broker.Event{
		Channel: "PubSub", Topic: "Workspace", Subtopic: "Ended",
		Message: workspaceEndedPayload{AgentID: ended.AgentID,
			Reason: "another agent signed in on the desktop; register again with that agent's workspace token"},
	}
	for _, app := range ended.Conns {
		if err := app.Send(ev); err != nil {
			log.Error("tell an app that its workspace ended", zap.Error(err))
		}
	}
}

// tokenPayload is the message of PubSub/Workspace/Token.
type tokenPayload struct {
	Token     string `json:"token"`
	AgentID   string `json:"agentId"`
	ExpiresAt string `json:"expiresAt"`
}

// tokenTimeFormat is how the expiry of a workspace token is written, as
// the contact center's times are: ISO 8601 in UTC, with milliseconds.
const tokenTimeFormat = "2006-01-02T15:04:05.000Z"

// SendToken gives c, which has just signed agentID in, and c alone, a
// workspace token (PubSub/Workspace/Token, correlated with the sign-in)
// that lets the agent's other apps join the workspace without the
// password. Send it after the sign-in's events.
func (d *Desktops) SendToken(ctx context.Context, c *broker.Conn, agentID, correlationID string) error {
	token, expires, err := d.tokens.Issue(ctx, agentID)
	if err != nil {
		return err
	}
	return c.Send(broker.Event{
		Channel: "PubSub", Topic: "Workspace", Subtopic: "Token",
		Message:       tokenPayload{Token: token, AgentID: agentID, ExpiresAt: expires.UTC().Format(tokenTimeFormat)},
		CorrelationID: correlationID,
	})
}

// KeepSignedOut keeps agentID's desktop after a sign-out served here: its
// apps stay in the workspace's scope, where the agent's next sign-in
// reaches them, but no request of theirs acts as the agent (Of finds
// nothing). The other nodes keep their parts of it when they hear of the
// sign-out (AgentSignedOut). It returns how many apps stay here. Call it
// under Lock(agentID), as soon as the channel has signed the agent out, so
// that no request of the desktop's apps acts as the agent after its LOGOUT.
func (d *Desktops) KeepSignedOut(agentID string) int {
	return d.workspaces.SignOut(agentID)
}

// AgentSignedIn is told by the channel that agentID is signed in, maybe
// on another node: a desktop that waited here for the agent is the
// agent's again. It takes no agent's lock.
func (d *Desktops) AgentSignedIn(agentID string) { d.workspaces.Resume(agentID) }

// AgentSignedOut is told by the channel that agentID has signed out, on
// whichever node and whoever signed it out: in background, this node's
// part of the agent's desktop is kept, signed out, as the node that served
// the sign-out keeps its own (KeepSignedOut). It takes no agent's lock, so
// the channel may call it while holding its own.
func (d *Desktops) AgentSignedOut(agentID string) {
	// Not now: keeping a desktop waits for the agent's lock, which a
	// sign-out holds while it calls the channel.
	d.background.Go(func() { d.keepSignedOut(agentID) })
}

// keepSignedOutTimeout bounds the check of an agent's state after a sign-out.
const keepSignedOutTimeout = 10 * time.Second

// keepSignedOut keeps this node's part of the agent's desktop, signed out,
// after a sign-out made anywhere: a Logout or a supervisor's sign-out on
// another node, one that waited for the end of a call, or one the contact
// center made itself. An agent signed in again since (the notification
// may arrive after a new sign-in here) keeps its workspace as it is.
func (d *Desktops) keepSignedOut(agentID string) {
	unlock := d.workspaces.Lock(agentID)
	defer unlock()
	if _, here := d.workspaces.Get(agentID); !here {
		return // no part here, or kept already
	}
	ctx, cancel := context.WithTimeout(d.stopping, keepSignedOutTimeout)
	defer cancel()
	signedIn, err := d.channel.SignedIn(ctx, agentID)
	if err != nil {
		d.log.Warn("desktop left signed in: cannot tell whether its agent is signed out",
			zap.String("agent", agentID), zap.Error(err))
		return
	}
	if signedIn {
		return
	}
	n := d.workspaces.SignOut(agentID)
	d.log.Info("desktop kept, signed out", zap.String("agent", agentID), zap.Int("connections", n))
}

// revoke revokes agentID's workspace tokens, logging what if it cannot.
func (d *Desktops) revoke(ctx context.Context, agentID, what string) {
	if err := d.tokens.RevokeAgent(ctx, agentID); err != nil {
		d.log.Error(what, zap.String("agent", agentID), zap.Error(err))
	}
}

// signOutAbandoned tells the channel that an agent's desktop went away and
// did not come back within the grace period. Either way its workspace has
// ended, so its tokens go.
func (d *Desktops) signOutAbandoned(agentID string) {
	log := d.log.With(zap.String("agent", agentID))
	err := d.channel.SignOut(context.Background(), agentID, Abandoned) // the channel publishes the state
	if err != nil && !errors.Is(err, ErrNotSignedIn) {
		log.Error("report an abandoned agent", zap.Error(err))
		return
	}
	// The desktop has gone (or, already signed out, it was left waiting
	// and nobody came back): its tokens go with it.
	d.revoke(context.Background(), agentID, "desktop ended with workspace tokens left valid")
	if err != nil { // already signed out
		log.Info("desktop ended: no app came back within the grace period")
		return
	}
	log.Info("no connection came back within the grace period: the contact center was told")
}

// What the operator's view reads; none of it names a secret.

// WorkspaceApps returns, by agent, how many connections of apps this node
// holds in each workspace it keeps (Workspaces.Apps).
func (d *Desktops) WorkspaceApps() map[string]int { return d.workspaces.Apps() }

// AppNames returns the names of the apps of the apps file, sorted; none
// without one.
func (d *Desktops) AppNames() []string {
	if d.apps == nil {
		return nil
	}
	return d.apps.Names()
}

// LockedApps returns the app accounts locked out now, after wrong secrets
// (Lockout.LockedAccounts): compare them with NameAccount of AppNames.
func (d *Desktops) LockedApps() []LockedAccount { return d.appLockout.LockedAccounts() }
