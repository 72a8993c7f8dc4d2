package finessetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

// The statuses of a Finesse side, as SystemInfo reports them.
const (
	InService    = "IN_SERVICE"
	OutOfService = "OUT_OF_SERVICE"
)

// The limits and rules of a side.
const (
	// DefaultPresenceGrace is how long Finesse waits after an agent's
	// presence has gone before it signs the agent out with reason 255.
	DefaultPresenceGrace = 60 * time.Second
	// lockoutFailures consecutive wrong passwords block a username for
	// lockoutPeriod, as Finesse does.
	lockoutFailures = 5
	lockoutPeriod   = 5 * time.Minute
	// maxBody bounds a request body.
	maxBody = 64 << 10
	// syncWait bounds the wait for the XMPP component before a request is
	// logged.
	syncWait = 5 * time.Second
)

// SiteConfig describes one Finesse side.
type SiteConfig struct {
	// Sim is the contact center behind the side; both sides of a pair
	// serve the same one. Required.
	Sim *sim.Simulator
	// XMPP is the notification service: the side pushes its notifications
	// through XMPP's component for Domain and watches presence there.
	// Required.
	XMPP *prosodytest.Server
	// Domain is the side's xmppDomain, one of XMPP's domains. Required.
	Domain string
	// Accounts are the agents (and supervisors) of Sim with their
	// passwords: each is registered in prosody on Domain with the same
	// password, as Finesse authenticates XMPP with the agent's own
	// credentials.
	Accounts []ciscotest.Account
	// Admin, if its LoginName is set, is an administrator account: it may
	// read every User and Team, and is no agent.
	Admin ciscotest.Account
	// SecondaryHost is SystemInfo's secondaryNode host (the other side's
	// domain); "" leaves secondaryNode out.
	SecondaryHost string
	// DeploymentType is SystemInfo's deploymentType: UCCE (default) or UCCX.
	DeploymentType string
	// AuthMode is SystemInfo's systemAuthMode: NON_SSO (default), SSO or
	// HYBRID.
	AuthMode string
	// PresenceGrace is how long an agent's presence may be gone from this
	// side before the side applies Finesse's forced logout (reason 255,
	// sim.Simulator.Disconnect). Default DefaultPresenceGrace.
	PresenceGrace time.Duration
	// AfterFunc starts the grace timers; nil means time.AfterFunc. Tests
	// pass a fake (or ciscotest.NoTimers) and call ExpirePresence.
	AfterFunc func(time.Duration, func()) sim.Timer
	// Now is the clock of the password lockout; nil means time.Now.
	Now func() time.Time
	// Log records the side's requests and presence changes; nil gives the
	// side a log of its own. Give both sides one log to see the order
	// across them.
	Log *Log
	// Logf, if set, reports what the side could not do (a push that
	// failed); t.Logf fits.
	Logf func(format string, args ...any)
}

// Site is one side of a Finesse cluster: its REST API over TLS and its
// notifications over prosody. Its methods are safe for concurrent use.
type Site struct {
	cfg    SiteConfig
	sim    *sim.Simulator
	xmpp   *prosodytest.Server
	domain string
	log    *Log
	tls    *tls.Config
	addr   string // host:port, kept across Down and Up
	mux    *http.ServeMux
	client *http.Client // Client's
	grace  time.Duration
	after  func(time.Duration, func()) sim.Timer
	now    func() time.Time
	logf   func(string, ...any)

	// mu guards the fields below. It is never held while calling the
	// simulator, which calls onNotification under its own lock.
	mu           sync.Mutex
	srv          *http.Server                 // nil while down
	status       string                       // InService or OutOfService
	delay        time.Duration                // before each request
	echo         bool                         // requestId echoed into notifications
	payload      prosodytest.PushOptions      // the form of notifications
	timers       map[string]graceTimer        // loginId → grace timer, while its presence is gone
	failures     map[string]int               // username → consecutive wrong passwords
	lockedUntil  map[string]time.Time         // username → end of its lockout
	unauthorized int                          // 401s answered for a wrong or locked password
	exts         map[string]string            // loginId → last extension seen
	flying       map[string]int               // action ("" for all) → requests in flight
	maxFlying    map[string]int               // action → most requests in flight at once
	flyingMoved  chan struct{}                // closed and replaced when flying changes
	dialogs      map[string]map[string]string // loginId → dialog id → its last rendering

	queue queue // notifications to push, in order
}

// NewSite starts a side and stops it when the test ends.
func NewSite(t testing.TB, cfg SiteConfig) *Site {
	t.Helper()
	if cfg.Sim == nil || cfg.XMPP == nil || cfg.Domain == "" {
		t.Fatal("finessetest: SiteConfig needs Sim, XMPP and Domain")
	}
	s := &Site{
		cfg:         cfg,
		sim:         cfg.Sim,
		xmpp:        cfg.XMPP,
		domain:      cfg.Domain,
		log:         cfg.Log,
		grace:       cfg.PresenceGrace,
		after:       cfg.AfterFunc,
		now:         cfg.Now,
		logf:        cfg.Logf,
		status:      InService,
		echo:        true,
		timers:      map[string]graceTimer{},
		failures:    map[string]int{},
		lockedUntil: map[string]time.Time{},
		exts:        map[string]string{},
		flying:      map[string]int{},
		maxFlying:   map[string]int{},
		flyingMoved: make(chan struct{}),
		dialogs:     map[string]map[string]string{},
	}
	if s.log == nil {
		s.log = NewLog()
	}
	if s.grace <= 0 {
		s.grace = DefaultPresenceGrace
	}
	if s.after == nil {
		s.after = func(d time.Duration, f func()) sim.Timer { return time.AfterFunc(d, f) }
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	for _, a := range cfg.Accounts {
		if err := s.xmpp.AddUser(s.domain, a.LoginID, a.Password); err != nil {
			t.Fatalf("finessetest: register %s in prosody: %v", a.LoginID, err)
		}
	}
	s.tls = s.xmpp.CA().ServerTLS(t, "127.0.0.1", "::1", "localhost", s.domain)
	s.mux = s.routes()
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: s.xmpp.CA().ClientTLS()}, Timeout: 30 * time.Second}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finessetest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.queue.start(s.push)
	cancelSim := s.sim.Subscribe(s.onNotification)
	cancelPresence := s.xmpp.OnPresence(s.domain, s.onPresence)
	s.mu.Lock()
	s.serveLocked(ln)
	s.mu.Unlock()
	t.Cleanup(func() {
		cancelPresence()
		cancelSim()
		s.mu.Lock()
		srv := s.srv
		s.srv = nil
		for id, gt := range s.timers {
			gt.timer.Stop()
			delete(s.timers, id)
		}
		s.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
		s.queue.stop()
		s.client.CloseIdleConnections()
	})
	return s
}

func (s *Site) serveLocked(ln net.Listener) {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // a client that rejects the certificate is a test's point, not noise
	}
	s.srv = srv
	go func() { _ = srv.Serve(tls.NewListener(ln, s.tls)) }()
}

// URL returns the side's REST base URL (https://127.0.0.1:<port>): its
// -finesse-url.
func (s *Site) URL() string { return "https://" + s.addr }

// XMPPURL returns the side's XMPP-over-WebSocket URL: its -finesse-xmpp-url.
func (s *Site) XMPPURL() string { return s.xmpp.WebSocketURL(s.domain) }

// Domain returns the side's xmppDomain.
func (s *Site) Domain() string { return s.domain }

// CAFile returns a PEM file of the CA of the side's certificates, REST and
// XMPP: its -finesse-ca.
func (s *Site) CAFile() string { return s.xmpp.CAFile() }

// Client returns an HTTP client that trusts the side's CA, one per side,
// whose idle connections are closed when the test ends.
func (s *Site) Client() *http.Client { return s.client }

// Log returns the side's log.
func (s *Site) Log() *Log { return s.log }

// Unauthorized returns how many requests the side refused with 401 for a
// wrong password or a locked account: a test proves with it that nothing
// retried a 401.
func (s *Site) Unauthorized() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unauthorized
}

// inFlight counts a request in flight, under "" and under its action, and
// returns the function that ends it.
func (s *Site) inFlight(action string) (done func()) {
	keys := []string{""}
	if action != "" {
		keys = append(keys, action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.flying[k]++
		s.maxFlying[k] = max(s.maxFlying[k], s.flying[k])
	}
	s.flyingMovedLocked()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, k := range keys {
			s.flying[k]--
		}
		s.flyingMovedLocked()
	}
}

func (s *Site) flyingMovedLocked() {
	close(s.flyingMoved)
	s.flyingMoved = make(chan struct{})
}

// WaitInFlight waits until at least n requests of action ("" for any) are
// in flight on the side at once, or ctx ends: with SetDelay, a test holds
// requests in flight and sees how many a connector sends at once.
func (s *Site) WaitInFlight(ctx context.Context, action string, n int) error {
	for {
		s.mu.Lock()
		now, moved := s.flying[action], s.flyingMoved
		s.mu.Unlock()
		if now >= n {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("finessetest: %d %q requests in flight, waiting for %d: %w", now, action, n, ctx.Err())
		}
	}
}

// MaxConcurrent returns the most requests the side has had in flight at
// once, counted from their arrival (a SetDelay included): all of them for
// action "", or those whose Entry.Action is action (LOGIN, READY,
// MAKE_CALL, ...). A test of a failover bounds the sign-ins a connector
// makes at once with it.
func (s *Site) MaxConcurrent(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlying[action]
}

// SetStatus sets the status SystemInfo reports, IN_SERVICE or
// OUT_OF_SERVICE, and notifies it as Finesse does: a SystemInfo update on
// /finesse/api/SystemInfo to every agent online on the side. While out of
// service, every API but SystemInfo answers 503 and no other notification
// is sent; back in service, the side publishes every online agent's User,
// as Finesse publishes the last states after a CTI failover.
func (s *Site) SetStatus(status string) {
	if status != InService && status != OutOfService {
		panic("finessetest: SetStatus(" + status + "): use InService or OutOfService")
	}
	s.mu.Lock()
	was := s.status
	s.status = status
	s.mu.Unlock()
	if was == status {
		return
	}
	si := s.systemInfo(context.Background())
	update := updateXML(systemInfoXML(si), "PUT", "", "/finesse/api/SystemInfo")
	online := s.xmpp.OnlineUsers(s.domain)
	for _, user := range online {
		s.queue.add(push{to: user + "@" + s.domain, node: "/finesse/api/SystemInfo", update: update, always: true})
	}
	if status == InService {
		for _, user := range online {
			u, err := s.sim.User(context.Background(), user)
			if err != nil {
				continue // an account of prosody's that is no agent
			}
			s.queue.add(s.userPushes(u, "")...)
		}
	}
}

// Down takes the side down: its REST port refuses connections and its
// XMPP proxy is cut (prosodytest.Proxy.Cut), as when the node is off.
func (s *Site) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	s.xmpp.Proxy(s.domain).Cut()
}

// Up brings the side back on the same ports.
func (s *Site) Up() error {
	if err := s.xmpp.Proxy(s.domain).Restore(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("finessetest: listen again on %s: %w", s.addr, err)
	}
	s.serveLocked(ln)
	return nil
}

// SetDelay makes the side wait d before it serves each request: a slow
// Finesse. 0 removes the delay.
func (s *Site) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetEchoRequestID chooses whether notifications echo the requestId header
// of the request that caused them (the default, as documented) or carry it
// empty, as captured from real Finesse.
func (s *Site) SetEchoRequestID(echo bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.echo = echo
}

// SetPayload chooses the form of the notifications the side pushes; the
// zero value is Finesse 12.5's (escaped text in urn:xmpp:push:0).
func (s *Site) SetPayload(o prosodytest.PushOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.payload = o
}

// ExpirePresence applies the end of the presence grace to loginID now, as
// if the grace timer had fired: if the agent has no presence on the side,
// the side is in service and up, and the agent is signed in, the side
// forces it out with reason 255 (sim.Simulator.Disconnect: a sign-out when
// the simulator has LogoutOnDisconnect, NOT_READY otherwise, as CCE's
// setting says). It reports whether it did.
func (s *Site) ExpirePresence(loginID string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), syncWait)
	defer cancel()
	_ = s.xmpp.Sync(ctx, s.domain)
	s.stopTimer(loginID)
	return s.expire(loginID)
}

func (s *Site) expire(loginID string) bool {
	s.mu.Lock()
	active := s.status == InService && s.srv != nil
	s.mu.Unlock()
	if !active || s.xmpp.Online(s.domain, loginID) {
		return false
	}
	u, err := s.sim.User(context.Background(), loginID)
	if err != nil || u.State == cisco.StateLogout {
		return false
	}
	_, err = s.sim.Disconnect(context.Background(), loginID)
	return err == nil
}

// graceTimer is a running grace timer; token tells it from a later one
// for the same agent.
type graceTimer struct {
	timer sim.Timer
	token *int
}

// onPresence logs a presence change and runs the grace timer of Finesse's
// forced logout. The timer starts outside the lock, so that a fake
// AfterFunc may call back at once.
func (s *Site) onPresence(p prosodytest.Presence) {
	s.log.add(Entry{Side: s.domain, Presence: &p})
	s.stopTimer(p.User)
	if p.Online {
		return
	}
	user, token := p.User, new(int)
	tm := s.after(s.grace, func() {
		s.mu.Lock()
		current := s.timers[user].token == token
		if current {
			delete(s.timers, user)
		}
		s.mu.Unlock()
		if current {
			s.expire(user)
		}
	})
	s.mu.Lock()
	s.timers[user] = graceTimer{timer: tm, token: token}
	s.mu.Unlock()
}

func (s *Site) stopTimer(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gt, ok := s.timers[user]; ok {
		gt.timer.Stop()
		delete(s.timers, user)
	}
}

// GraceTimers returns the loginIds whose presence grace is running.
func (s *Site) GraceTimers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.timers {
		ids = append(ids, id)
	}
	return ids
}

// systemInfo returns the side's SystemInfo.
func (s *Site) systemInfo(ctx context.Context) cisco.SystemInfo {
	si, _ := s.sim.SystemInfo(ctx)
	s.mu.Lock()
	si.Status = s.status
	s.mu.Unlock()
	if si.Status != InService {
		si.StatusReason = "CTI_SERVER_DOWN"
	}
	si.XMPPDomain = s.domain
	si.XMPPPubSubDomain = "pubsub." + s.domain
	si.PrimaryNode.Host = s.domain
	si.SecondaryNode.Host = s.cfg.SecondaryHost
	if s.cfg.DeploymentType != "" {
		si.DeploymentType = s.cfg.DeploymentType
	}
	si.SystemAuthMode = "NON_SSO"
	if s.cfg.AuthMode != "" {
		si.SystemAuthMode = s.cfg.AuthMode
	}
	return si
}

// errStopped is returned to requests the side has no time for.
var errStopped = errors.New("finessetest: the side is stopping")

// wait sleeps the side's delay, or until ctx ends.
func (s *Site) wait(ctx context.Context) error {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errStopped
	}
}

// authenticate checks the request's Basic credentials: an agent of the
// simulator, or the administrator. A wrong password counts toward the
// username's lockout.
func (s *Site) authenticate(r *http.Request) (loginID string, admin bool, e *apiError) {
	user, password, ok := r.BasicAuth()
	if !ok {
		return "", false, &apiError{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageUnauthorized}
	}
	key := strings.ToLower(user)
	now := s.now()
	s.mu.Lock()
	locked := now.Before(s.lockedUntil[key])
	s.mu.Unlock()
	if !locked {
		if s.cfg.Admin.LoginName != "" && strings.EqualFold(user, s.cfg.Admin.LoginName) && password == s.cfg.Admin.Password {
			return "", true, nil
		}
		id, err := s.sim.Authenticate(user, password)
		if err == nil {
			s.mu.Lock()
			delete(s.failures, key)
			s.mu.Unlock()
			return id, false, nil
		}
	}
	s.mu.Lock()
	s.unauthorized++
	if !locked {
		s.failures[key]++
		if s.failures[key] >= lockoutFailures {
			s.lockedUntil[key] = now.Add(lockoutPeriod)
			delete(s.failures, key)
		}
	}
	s.mu.Unlock()
	return "", false, &apiError{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageUnauthorized, Data: user}
}
