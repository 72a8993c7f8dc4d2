package finesse

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// The defaults of Config's timeouts and bounds.
const (
	// DefaultRequestTimeout bounds one REST call to Finesse.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultConfirmTimeout is how long a request waits for the
	// notification that shows its effect before it reads the object to
	// see whether it took effect.
	DefaultConfirmTimeout = 5 * time.Second
	// DefaultStatusInterval is how often each side's SystemInfo is read.
	DefaultStatusInterval = 10 * time.Second
	// DefaultReconnectBudget is how long a lost XMPP session tries its own
	// side again before it moves to the other: well inside Finesse's 60
	// seconds, after which Finesse signs out an agent whose presence is
	// gone.
	DefaultReconnectBudget = 30 * time.Second
	// DefaultFailoverConcurrency bounds the sign-ins on the other side that
	// run at once when a whole side fails.
	DefaultFailoverConcurrency = 20
	// DefaultFailoverJitter is the largest random delay before an agent
	// moves to the other side, so that a side's agents do not all sign in
	// at the same instant.
	DefaultFailoverJitter = 2 * time.Second
)

// Side is one Finesse server of a cluster (side A or side B).
type Side struct {
	// REST is the base URL of Finesse's REST API: https://<host>:8445.
	REST string
	// XMPP is the URL of XMPP over WebSocket: wss://<host>:7443/ws/ when
	// empty, with the host of REST.
	XMPP string
}

// Account is a Finesse user's credentials.
type Account struct {
	Username string
	Password string
}

// Config configures a Connector. Sides is required; every other field has
// a default.
type Config struct {
	// Sides are the Finesse servers of the cluster, side A first; one or two.
	Sides []Side
	// RootCAs are the CAs trusted for both REST and XMPP (Finesse ships
	// self-signed certificates); nil trusts the system's roots. TLS is
	// always verified.
	RootCAs *x509.CertPool
	// Admin, optional, is a Finesse administrator account that reads what no
	// signed-in agent may: another agent's User (Resolve, User, Agent of
	// agents not signed in through this connector), teams, and SystemInfo
	// where it needs credentials. It never signs anyone in, and never opens
	// XMPP.
	Admin *Account
	// Logger logs the sides' status changes, sessions lost and moved, and
	// unreadable notifications (never their payload, never a password).
	Logger *zap.Logger

	RequestTimeout      time.Duration // DefaultRequestTimeout when 0
	ConfirmTimeout      time.Duration // DefaultConfirmTimeout when 0
	StatusInterval      time.Duration // DefaultStatusInterval when 0
	PingInterval        time.Duration // DefaultPingInterval when 0
	ReconnectBudget     time.Duration // DefaultReconnectBudget when 0
	FailoverConcurrency int           // DefaultFailoverConcurrency when 0
	FailoverJitter      time.Duration // DefaultFailoverJitter when 0; negative for none
}

// ErrSSONotSupported refuses a Finesse whose SystemInfo says SSO or
// hybrid authentication.
var ErrSSONotSupported = errors.New("finesse: single sign-on is not supported yet: this version signs agents in with Finesse's Basic authentication (systemAuthMode NON_SSO) only")

// Connector is a cisco.Connector on Cisco Finesse. Build it with New, then
// Start it; Close ends every agent's session.
type Connector struct {
	cfg      Config
	log      *zap.Logger
	sides    []*side
	failover chan struct{} // a slot per failover sign-in in flight

	unparsed atomic.Int64 // notifications that could not be read

	signing sync.Map // loginId → *sync.Mutex: one sign-in of an agent at a time

	deliverMu sync.Mutex // serializes deliveries to subscribers; taken before any session's mu

	mu       sync.Mutex                 // guards the fields below; never held while taking a session's mu
	sessions map[string]*agentSession   // loginId → the agent's session
	names    map[string]string          // lower-case loginName or loginId → loginId, as sign-ins met them
	known    map[string]cisco.User      // loginId → the agent's User as last read
	teams    map[string]map[string]bool // supervisor loginId → the teams it supervises
	subs     map[int]func(cisco.Notification)
	nextSub  int
	mrds     []cisco.MRD // as an agent's MediaList last gave them
	closed   bool

	stop chan struct{}  // closed by Close
	wg   sync.WaitGroup // the pollers and the sessions' monitors
}

var _ cisco.Connector = (*Connector)(nil)

// New checks cfg and returns a Connector that has not contacted Finesse yet.
func New(cfg Config) (*Connector, error) {
	if len(cfg.Sides) == 0 || len(cfg.Sides) > 2 {
		return nil, fmt.Errorf("finesse: give one or two sides (side A, then side B), not %d", len(cfg.Sides))
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	setDefault(&cfg.RequestTimeout, DefaultRequestTimeout)
	setDefault(&cfg.ConfirmTimeout, DefaultConfirmTimeout)
	setDefault(&cfg.StatusInterval, DefaultStatusInterval)
	setDefault(&cfg.PingInterval, DefaultPingInterval)
	setDefault(&cfg.ReconnectBudget, DefaultReconnectBudget)
	setDefault(&cfg.FailoverJitter, DefaultFailoverJitter)
	if cfg.FailoverConcurrency <= 0 {
		cfg.FailoverConcurrency = DefaultFailoverConcurrency
	}
	c := &Connector{
		cfg:      cfg,
		log:      cfg.Logger,
		failover: make(chan struct{}, cfg.FailoverConcurrency),
		sessions: make(map[string]*agentSession),
		names:    make(map[string]string),
		known:    make(map[string]cisco.User),
		teams:    make(map[string]map[string]bool),
		subs:     make(map[int]func(cisco.Notification)),
		stop:     make(chan struct{}),
	}
	for i, s := range cfg.Sides {
		name := "side " + string(rune('A'+i))
		rest, err := url.Parse(s.REST)
		if err != nil || rest.Scheme != "https" || rest.Host == "" {
			return nil, fmt.Errorf("finesse: the REST URL of %s must be https://<host>:8445, not %q", name, s.REST)
		}
		rest.Path = strings.TrimSuffix(rest.Path, "/")
		xmpp := s.XMPP
		if xmpp == "" {
			xmpp = DefaultXMPPURL(rest)
		}
		if u, err := url.Parse(xmpp); err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
			return nil, fmt.Errorf("finesse: the XMPP URL of %s must be wss://<host>:7443/ws/, not %q", name, xmpp)
		}
		c.sides = append(c.sides, &side{
			name:    name,
			index:   i,
			rest:    newRESTClient(name, rest, cfg.RootCAs, cfg.RequestTimeout, cfg.Logger),
			xmppURL: xmpp,
			changed: make(chan struct{}),
		})
	}
	return c, nil
}

// DefaultXMPPURL returns Finesse's XMPP over WebSocket for a side whose
// REST API is at rest: wss://<host>:7443/ws/.
func DefaultXMPPURL(rest *url.URL) string {
	return "wss://" + rest.Hostname() + ":7443/ws/"
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Start reads each side's SystemInfo, and keeps reading it every
// StatusInterval until Close. A side that cannot be reached does not stop
// it: Ready stays false until one side is IN_SERVICE. A side whose
// SystemInfo says SSO or HYBRID stops it with ErrSSONotSupported.
func (c *Connector) Start(ctx context.Context) error {
	errs := make(chan error, len(c.sides))
	for _, s := range c.sides {
		go func() { errs <- c.refresh(ctx, s) }()
	}
	for range c.sides {
		if err := <-errs; errors.Is(err, ErrSSONotSupported) {
			return err
		}
	}
	for _, s := range c.sides {
		c.wg.Add(1)
		go c.poll(s)
	}
	return nil
}

// Ready reports whether one side is IN_SERVICE.
func (c *Connector) Ready() bool {
	for _, s := range c.sides {
		if s.inService() {
			return true
		}
	}
	return false
}

// Unparsed returns the number of notifications that could not be read
// since New.
func (c *Connector) Unparsed() int64 { return c.unparsed.Load() }

// Close ends every agent's XMPP session (Finesse then treats the agents
// as it treats a closed desktop) and forgets their credentials.
func (c *Connector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	sessions := make([]*agentSession, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.sessions = map[string]*agentSession{}
	c.mu.Unlock()
	for _, s := range sessions {
		s.end()
	}
	c.wg.Wait()
	for _, s := range c.sides {
		s.rest.close()
	}
	return nil
}

// Subscribe delivers every notification to f, serially (see cisco.Connector).
func (c *Connector) Subscribe(f func(cisco.Notification)) (cancel func()) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = f
	return func() {
		c.deliverMu.Lock()
		defer c.deliverMu.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, id)
	}
}

// deliverLocked calls every subscriber with n. The caller holds deliverMu.
func (c *Connector) deliverLocked(n cisco.Notification) {
	c.mu.Lock()
	subs := make([]func(cisco.Notification), 0, len(c.subs))
	for _, f := range c.subs {
		subs = append(subs, f)
	}
	c.mu.Unlock()
	for _, f := range subs {
		f(n)
	}
}

// session returns the session of the agent loginID names (a loginId, or a
// loginName met at sign-in), or nil.
func (c *Connector) session(loginID string) *agentSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[loginID]; ok {
		return s
	}
	if id, ok := c.names[strings.ToLower(loginID)]; ok {
		return c.sessions[id]
	}
	return nil
}

// supervisorsOf returns the signed-in supervisors of team.
func (c *Connector) supervisorsOf(team string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for sup, teams := range c.teams {
		if teams[team] {
			out = append(out, sup)
		}
	}
	return out
}

// activeSide returns the side new sign-ins go to: the first IN_SERVICE, or
// else the first whose status is unknown but that answered, or nil.
func (c *Connector) activeSide() *side {
	for _, s := range c.sides {
		if s.inService() {
			return s
		}
	}
	return nil
}

// otherSide returns the side that is not s, or nil with one side.
func (c *Connector) otherSide(s *side) *side {
	for _, o := range c.sides {
		if o != s {
			return o
		}
	}
	return nil
}

// timeNow is the clock of agentTime.
var timeNow = time.Now

// unavailable is the error of a request while no side is in service.
func unavailable(text string) error {
	return &cisco.Error{Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable, Text: text}
}
