package finesse

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// SignIn signs the agent in as Cisco documents it: GET the agent's User
// with its own credentials (the password check; a loginName becomes the
// loginId; is the agent signed in already?), open the agent's XMPP session
// with presence, then PUT LOGIN with the extension. The outcome is the
// User notification that follows, or an apiErrors one (Invalid Device,
// Device Busy). A sign-in on the extension the agent is signed in on
// already is a re-login: Finesse keeps the agent's state.
func (c *Connector) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	v, err := c.Authenticate(ctx, username, password)
	if err != nil {
		return cisco.SignedIn{}, err
	}
	return c.SignInVerified(ctx, v, extension)
}

// Verified is an agent whose password Finesse has just accepted, as
// Authenticate returns it: what SignInVerified needs to sign it in. It
// holds the password in memory, in fields that nothing marshals.
type Verified struct {
	user     cisco.User
	username string
	creds    credentials
	side     *side
}

// User returns the agent's User, as Finesse gave it to the password check.
func (v Verified) User() cisco.User { return v.user }

// Authenticate is the first step of SignIn: GET the agent's User with its
// own credentials, on the side in service. A wrong password and an unknown
// username are both ErrAuthorization; nothing retries either.
func (c *Connector) Authenticate(ctx context.Context, username, password string) (Verified, error) {
	sd := c.activeSide()
	if sd == nil {
		return Verified{}, unavailable("no Finesse side is in service; try again later")
	}
	creds := credentials{username: username, password: password}
	e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+url.PathEscape(username))
	if errors.Is(err, cisco.ErrNotFound) {
		// An unknown username is refused as a wrong password is.
		err = &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageUnauthorized, Text: "Finesse refused the username or password"}
	}
	if err != nil {
		return Verified{}, err
	}
	u := userOf(e)
	if u.LoginID == "" {
		return Verified{}, &cisco.Error{Type: cisco.ErrorTypeGeneric, Text: "Finesse's User has no loginId"}
	}
	return Verified{user: u, username: username, creds: creds, side: sd}, nil
}

// ErrNoSession refuses SignInAs for an agent that has no session here.
var ErrNoSession = errors.New("finesse: the agent has no session on this connector")

// SignInAs signs in again, on extension, an agent whose session this
// connector holds, with the credentials the session keeps: a node of a
// cluster that checked the agent's password itself (Authenticate) asks
// the node holding the session to sign the agent in, without the
// password. An agent with no session here is ErrNoSession.
func (c *Connector) SignInAs(ctx context.Context, loginID, extension string) (cisco.SignedIn, error) {
	s := c.session(loginID)
	if s == nil {
		return cisco.SignedIn{}, ErrNoSession
	}
	creds, sd := s.access()
	if creds.password == "" {
		return cisco.SignedIn{}, ErrNoSession // ended meanwhile
	}
	e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+url.PathEscape(s.loginID))
	if err != nil {
		return cisco.SignedIn{}, err
	}
	return c.SignInVerified(ctx, Verified{user: userOf(e), username: s.loginID, creds: creds, side: sd}, extension)
}

// HasSession reports whether this connector holds the session of the
// agent loginID names.
func (c *Connector) HasSession(loginID string) bool { return c.session(loginID) != nil }

// Release ends the agent's session here, if it has one, without signing
// the agent out: a cluster node whose agent another node has taken over
// lets its own session go.
func (c *Connector) Release(loginID string) {
	if s := c.session(loginID); s != nil {
		c.removeSession(s)
		s.end()
	}
}

// SignInVerified is the rest of SignIn, for an agent Authenticate
// accepted: the XMPP session, then the LOGIN.
func (c *Connector) SignInVerified(ctx context.Context, v Verified, extension string) (cisco.SignedIn, error) {
	u, sd, creds, password := v.user, v.side, v.creds, v.creds.password
	c.learn(v.username, u)
	// One sign-in of an agent at a time, so that two never open two
	// sessions of one agent.
	unlock := c.lockAgent(u.LoginID)
	defer unlock()
	s := c.session(u.LoginID)
	if s != nil {
		s.mu.Lock()
		s.creds.password = password // just checked by Finesse
		s.mu.Unlock()
		if u.State != cisco.StateLogout && u.Extension == extension {
			return cisco.SignedIn{User: s.currentUser(), Relogin: true, Changed: []string{}}, nil
		}
		if u.State == cisco.StateLogout {
			// Signed out behind the session's back: start again.
			c.removeSession(s)
			s.end()
			s = nil
		}
	}
	if s == nil {
		s = newSession(c, sd, u.LoginID, extension, creds, u)
		if err := s.connect(ctx, sd); err != nil {
			s.end()
			return cisco.SignedIn{}, err
		}
		if u.State != cisco.StateLogout && u.Extension == extension {
			// Signed in already, not through this connector (another
			// node's, or before a restart): the session is ours now.
			c.addSession(ctx, s)
			return cisco.SignedIn{User: s.currentUser(), Relogin: true, Changed: []string{}}, nil
		}
	}
	w := &waiter{
		requestID:   cisco.RequestIDOf(ctx),
		requestedBy: u.LoginID,
		user: func(u cisco.User) bool {
			return u.State != cisco.StateLogout && u.Extension == extension
		},
		silent: true,
	}
	body := "<User><state>LOGIN</state><extension>" + xmlText(extension) + "</extension></User>"
	o, err := s.request(ctx, w, func(ctx context.Context, creds credentials, sd *side) error {
		return sd.rest.send(ctx, creds, http.MethodPut, "/finesse/api/User/"+u.LoginID, body)
	})
	if err != nil {
		if c.session(u.LoginID) != s {
			s.end()
		}
		return cisco.SignedIn{}, err
	}
	if c.session(u.LoginID) != s {
		c.addSession(ctx, s)
	}
	return cisco.SignedIn{User: withAgentTime(o.user, timeNow()), Changed: o.changed}, nil
}

// addSession makes s the agent's session, starts the reads of the
// sign-in's events, and watches its XMPP session.
func (c *Connector) addSession(ctx context.Context, s *agentSession) {
	u := s.currentUser()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.end()
		return
	}
	old := c.sessions[s.loginID]
	c.sessions[s.loginID] = s
	if old != nil && old != s {
		defer old.end()
	}
	if u.IsSupervisor {
		teams := map[string]bool{}
		for _, t := range u.Teams {
			teams[t.ID] = true
		}
		c.teams[s.loginID] = teams
	}
	c.wg.Add(1)
	c.mu.Unlock()
	c.prefetchSignIn(s)
	go c.monitor(s)
	s.log.Info("agent signed in on Finesse", zap.String("side", s.currentSide().name), zap.String("extension", s.ext))
}

// prefetchSignIn starts, in parallel, the reads that the sign-in's events
// need after the sign-in itself, so that a slow Finesse costs one round
// trip rather than eight.
func (c *Connector) prefetchSignIn(s *agentSession) {
	id := s.loginID
	s.startPrefetch("dialogs", func(ctx context.Context) (any, error) { return c.readDialogs(ctx, s) })
	s.startPrefetch("media", func(ctx context.Context) (any, error) { return c.readMedia(ctx, s) })
	for _, cat := range []cisco.Category{cisco.CategoryNotReady, cisco.CategoryLogout} {
		s.startPrefetch("reasonCodes:"+string(cat), func(ctx context.Context) (any, error) { return c.readReasonCodes(ctx, s, id, cat) })
	}
	s.startPrefetch("wrapUpReasons", func(ctx context.Context) (any, error) { return c.readWrapUpReasons(ctx, s, id) })
	s.startPrefetch("phoneBooks", func(ctx context.Context) (any, error) { return c.readPhoneBooks(ctx, s, id) })
}

// lockAgent serializes the sign-ins of loginID, and returns the unlock.
func (c *Connector) lockAgent(loginID string) (unlock func()) {
	v, _ := c.signing.LoadOrStore(loginID, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// learn remembers the agent a username named, and its last User.
func (c *Connector) learn(username string, u cisco.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names[strings.ToLower(username)] = u.LoginID
	c.names[strings.ToLower(u.LoginID)] = u.LoginID
	if u.LoginName != "" {
		c.names[strings.ToLower(u.LoginName)] = u.LoginID
	}
	c.known[u.LoginID] = u
}

// Resolve returns the loginId username names: from the agents this
// connector has signed in, or else read with the administrator account.
// Without one, an agent never signed in here is not known (false): its
// failed sign-ins then count against the name typed.
func (c *Connector) Resolve(ctx context.Context, username string) (string, bool, error) {
	c.mu.Lock()
	id, ok := c.names[strings.ToLower(username)]
	c.mu.Unlock()
	if ok {
		return id, true, nil
	}
	u, err := c.adminUser(ctx, username)
	switch {
	case errors.Is(err, cisco.ErrNotFound), errors.Is(err, errNoAdmin):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	c.learn(username, u)
	return u.LoginID, true, nil
}

// errNoAdmin reports a read that needs the administrator account, which
// the configuration does not give.
var errNoAdmin = errors.New("finesse: no administrator account")

// adminUser reads a User with the administrator account.
func (c *Connector) adminUser(ctx context.Context, username string) (cisco.User, error) {
	if c.cfg.Admin == nil {
		return cisco.User{}, errNoAdmin
	}
	sd := c.activeSide()
	if sd == nil {
		return cisco.User{}, unavailable("no Finesse side is in service; try again later")
	}
	e, err := sd.rest.get(ctx, c.adminCreds(), "/finesse/api/User/"+url.PathEscape(username))
	if err != nil {
		return cisco.User{}, err
	}
	return userOf(e), nil
}

func (c *Connector) adminCreds() credentials {
	return credentials{username: c.cfg.Admin.Username, password: c.cfg.Admin.Password}
}

// User returns the agent's User: as its notifications left it when the
// agent is signed in here, else read with the administrator account, else
// as last seen (signed out), else ErrNotFound.
func (c *Connector) User(ctx context.Context, loginID string) (cisco.User, error) {
	if s := c.session(loginID); s != nil {
		// Read from Finesse, which may be a step ahead of the
		// notifications (the User update of an answered call comes
		// after the Dialogs one); as the notifications left it if
		// Finesse cannot answer now.
		creds, sd := s.access()
		if e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+s.loginID); err == nil {
			return withAgentTime(userOf(e), timeNow()), nil
		}
		return s.currentUser(), nil
	}
	u, err := c.adminUser(ctx, loginID)
	if err == nil {
		c.learn(loginID, u)
		return withAgentTime(u, timeNow()), nil
	}
	if !errors.Is(err, errNoAdmin) {
		return cisco.User{}, err
	}
	if u, ok := c.lastKnown(loginID); ok {
		return u, nil
	}
	return cisco.User{}, notFound(loginID)
}

// lastKnown returns the agent as last seen, signed out since it has no
// session here.
func (c *Connector) lastKnown(loginID string) (cisco.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.names[strings.ToLower(loginID)]
	if !ok {
		return cisco.User{}, false
	}
	u := c.known[id]
	if u.State != cisco.StateLogout {
		u.State, u.Extension, u.PendingState, u.ReasonCodeID, u.ReasonCode = cisco.StateLogout, "", "", "-1", nil
	}
	return u, true
}

func notFound(loginID string) error {
	return &cisco.Error{Type: cisco.ErrorTypeNotFound, Message: cisco.ErrorMessageUnknownUser, Text: "Finesse knows no agent " + loginID}
}

// Agent reports whether loginID is an agent of the contact center.
func (c *Connector) Agent(ctx context.Context, loginID string) (bool, error) {
	_, err := c.User(ctx, loginID)
	return cisco.AgentFromUser(err)
}

// SignedInAgents returns the agents signed in through this connector.
func (c *Connector) SignedInAgents(context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.sessions))
	for id := range c.sessions {
		ids = append(ids, id)
	}
	return ids, nil
}

// TeamAgents returns the loginIds of a team's agents, read with the
// administrator account or a signed-in supervisor of the team; without
// either, those of the team signed in here.
func (c *Connector) TeamAgents(ctx context.Context, teamID string) ([]string, error) {
	creds, ok := c.teamReader(teamID)
	if sd := c.activeSide(); ok && sd != nil {
		e, err := sd.rest.get(ctx, creds, "/finesse/api/Team/"+url.PathEscape(teamID))
		switch {
		case errors.Is(err, cisco.ErrNotFound):
			return []string{}, nil
		case err != nil:
			return nil, err
		}
		return teamUsersOf(e), nil
	}
	c.mu.Lock()
	sessions := make([]*agentSession, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	out := []string{}
	for _, s := range sessions {
		if s.currentUser().TeamID == teamID {
			out = append(out, s.loginID)
		}
	}
	return out, nil
}

// teamReader returns credentials that may read team: the administrator's,
// or a signed-in supervisor's of that team.
func (c *Connector) teamReader(teamID string) (credentials, bool) {
	if c.cfg.Admin != nil {
		return c.adminCreds(), true
	}
	for _, sup := range c.supervisorsOf(teamID) {
		if s := c.session(sup); s != nil {
			creds, _ := s.access()
			if creds.password != "" {
				return creds, true
			}
		}
	}
	return credentials{}, false
}

// agentSession returns the session of an agent a request acts as: an
// agent with none is signed out (ErrInvalidState) or unknown (ErrNotFound).
func (c *Connector) agentSession(ctx context.Context, loginID string) (*agentSession, error) {
	if s := c.session(loginID); s != nil {
		return s, nil
	}
	known, err := c.Agent(ctx, loginID)
	if err != nil {
		return nil, err
	}
	if !known {
		return nil, notFound(loginID)
	}
	return nil, &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageInvalidState,
		Text: "The agent is not signed in through ctibus; sign in first."}
}
