package finesse

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// The status of a side, as its SystemInfo says or as its silence does.
const (
	statusUnknown      = ""               // not read yet
	statusInService    = "IN_SERVICE"     // requests go through
	statusOutOfService = "OUT_OF_SERVICE" // Finesse answers 503; sessions wait
	statusPartial      = "PARTIAL_SERVICE"
	statusUnreachable  = "UNREACHABLE" // no answer: its agents move to the other side
)

// side is one Finesse server: its REST client, its XMPP URL, and its status.
type side struct {
	name    string // "side A"
	index   int
	rest    *restClient
	xmppURL string

	mu      sync.Mutex       // guards the fields below
	status  string           // one of the status constants
	info    cisco.SystemInfo // the last SystemInfo read
	readAt  time.Time        // when info was read, by our clock
	changed chan struct{}    // closed and replaced when status changes
}

// inService reports whether requests may go to s.
func (s *side) inService() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status == statusInService
}

// state returns s's status and the channel closed at its next change.
func (s *side) state() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, s.changed
}

// systemInfo returns the last SystemInfo read from s, with timeDiffSeconds.
func (s *side) systemInfo() (cisco.SystemInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info, s.info.XMPPDomain != ""
}

// domain returns s's XMPP domain, as its SystemInfo names it.
func (s *side) domain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info.XMPPDomain
}

// setStatus records s's status, and reports whether it changed.
func (s *side) setStatus(status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == status {
		return false
	}
	s.status = status
	close(s.changed)
	s.changed = make(chan struct{})
	return true
}

// setInfo records a SystemInfo read from s (or pushed by it) and its status.
func (c *Connector) setInfo(s *side, info cisco.SystemInfo) {
	now := time.Now()
	if t, err := time.Parse(cisco.TimeFormat, info.CurrentTimestamp); err == nil {
		info.TimeDiffSeconds = float64(now.Sub(t).Milliseconds()) / 1000
	}
	s.mu.Lock()
	if info.XMPPDomain == "" {
		info.XMPPDomain = s.info.XMPPDomain
	}
	s.info, s.readAt = info, now
	s.mu.Unlock()
	status := info.Status
	if status == statusPartial {
		// Finesse answers 503 in partial service too.
		status = statusOutOfService
	}
	c.statusChanged(s, status)
}

// statusChanged records status, logs a change, and resynchronizes the
// side's sessions when it comes back in service.
func (c *Connector) statusChanged(s *side, status string) {
	was, _ := s.state()
	if !s.setStatus(status) {
		return
	}
	c.log.Info("Finesse side status", zap.String("side", s.name), zap.String("status", status), zap.String("was", was))
	switch {
	case status == statusInService && was != statusUnknown:
		for _, a := range c.sessionsOn(s) {
			go a.resync(context.Background())
		}
	case status == statusOutOfService || status == statusUnreachable:
		// Their monitors move them if the other side is in service.
		for _, a := range c.sessionsOn(s) {
			select {
			case a.kick <- struct{}{}:
			default:
			}
		}
	}
}

// sessionsOn returns the sessions on side s.
func (c *Connector) sessionsOn(s *side) []*agentSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*agentSession
	for _, a := range c.sessions {
		if a.currentSide() == s {
			out = append(out, a)
		}
	}
	return out
}

// refresh reads s's SystemInfo: without credentials, which Finesse
// allows for SystemInfo, or else with the administrator's. It never uses
// an agent's credentials: a 401 would count toward that agent's lockout.
func (c *Connector) refresh(ctx context.Context, s *side) error {
	e, err := s.rest.get(ctx, credentials{}, "/finesse/api/SystemInfo")
	if errors.Is(err, cisco.ErrAuthorization) && c.cfg.Admin != nil {
		e, err = s.rest.get(ctx, credentials{c.cfg.Admin.Username, c.cfg.Admin.Password}, "/finesse/api/SystemInfo")
	}
	switch {
	case errors.Is(err, cisco.ErrAuthorization):
		// SystemInfo needs credentials here and none were given: the
		// side answers, so it is taken as in service; requests will
		// tell otherwise.
		c.statusChanged(s, statusInService)
		return nil
	case isOutOfService(err):
		c.statusChanged(s, statusOutOfService)
		return err
	case err != nil:
		c.statusChanged(s, statusUnreachable)
		return err
	}
	info := systemInfoOf(e)
	if mode := strings.ToUpper(info.SystemAuthMode); mode == "SSO" || mode == "HYBRID" {
		c.log.Error("Finesse uses single sign-on, which this version does not support",
			zap.String("side", s.name), zap.String("systemAuthMode", info.SystemAuthMode))
		return ErrSSONotSupported
	}
	c.setInfo(s, info)
	return nil
}

// poll refreshes s every StatusInterval until Close.
func (c *Connector) poll(s *side) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
		_ = c.refresh(ctx, s)
		cancel()
	}
}
