package finesse

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// monitor keeps an agent's XMPP session up until the agent signs out: a
// lost session reconnects to its own side while that side is in service
// (Finesse signs out an agent whose presence is gone for 60 seconds, and
// an agent that moves while its side is in service); when the side is out
// of service or unreachable, the agent moves to the other side.
func (c *Connector) monitor(s *agentSession) {
	defer c.wg.Done()
	for {
		s.mu.Lock()
		x := s.xmpp
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		case <-c.stop:
			return
		case <-x.Done():
			if errors.Is(x.Err(), cisco.ErrAuthorization) {
				c.credentialsRefused(s)
				return
			}
			s.log.Warn("the agent's XMPP session was lost", zap.Error(x.Err()))
			c.link(s, x, false)
		case <-s.kick:
			// The side's status changed: move if it is out of service
			// and the other is in.
			if sd := s.currentSide(); sd.inService() || c.usableOther(sd) == nil {
				continue
			}
			c.link(s, x, false)
		}
		if !c.restore(s) {
			return
		}
		s.mu.Lock()
		x = s.xmpp
		s.mu.Unlock()
		c.link(s, x, true)
	}
}

// link tells the subscribers that the agent's link to Finesse, x, went
// down or came back.
func (c *Connector) link(s *agentSession, x *xmppSession, up bool) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.deliverLocked(cisco.Notification{Link: &cisco.LinkChange{LoginID: s.loginID, Extension: s.ext, Up: up, ConnectionID: x.resource}})
}

// usableOther returns the other side of sd if it is in service, or nil.
func (c *Connector) usableOther(sd *side) *side {
	if o := c.otherSide(sd); o != nil && o.inService() {
		return o
	}
	return nil
}

// restore brings the agent's session back: on its side while the side is
// in service and the reconnect budget lasts, else on the other side. It
// returns false when the session has ended.
func (c *Connector) restore(s *agentSession) bool {
	deadline := time.Now().Add(c.cfg.ReconnectBudget)
	delay := 200 * time.Millisecond
	for {
		select {
		case <-s.stop:
			return false
		case <-c.stop:
			return false
		default:
		}
		sd := s.currentSide()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
		_ = c.refresh(ctx, sd)
		var err error
		switch other := c.usableOther(sd); {
		case sd.inService() && (time.Now().Before(deadline) || other == nil):
			if err = s.connect(ctx, sd); err == nil {
				cancel()
				s.log.Info("the agent's XMPP session is back", zap.String("side", sd.name))
				s.resync(context.Background())
				return true
			}
		case other != nil:
			cancel()
			if err = c.move(s, other); err == nil {
				return true
			}
		default:
			err = unavailable("no Finesse side is in service")
		}
		cancel()
		if errors.Is(err, cisco.ErrAuthorization) {
			c.credentialsRefused(s)
			return false
		}
		s.log.Info("the agent's session is not restored yet", zap.Error(err))
		_, changed := sd.state()
		t := time.NewTimer(delay + jitter(delay))
		select {
		case <-s.stop:
			t.Stop()
			return false
		case <-c.stop:
			t.Stop()
			return false
		case <-changed:
		case <-t.C:
		}
		t.Stop()
		delay = min(2*delay, 5*time.Second)
	}
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// move signs the agent in again on the other side, on the same extension:
// a session of its XMPP domain, presence, PUT LOGIN. At most
// FailoverConcurrency agents move at once, each after a random delay, so
// that a side's failure does not sign all its agents in at one instant.
// Then it reads the agent back and publishes what changed.
func (c *Connector) move(s *agentSession, to *side) error {
	select {
	case c.failover <- struct{}{}:
	case <-s.stop:
		return unavailable("the agent signed out")
	}
	defer func() { <-c.failover }()
	if c.cfg.FailoverJitter > 0 {
		t := time.NewTimer(jitter(c.cfg.FailoverJitter))
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return unavailable("the agent signed out")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout+c.cfg.ConfirmTimeout)
	defer cancel()
	// The agent's requests wait while it moves.
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.slot }()
	from := s.currentSide()
	if err := s.connect(ctx, to); err != nil {
		return err
	}
	body := "<User><state>LOGIN</state><extension>" + xmlText(s.ext) + "</extension></User>"
	w := &waiter{user: func(u cisco.User) bool { return u.State != cisco.StateLogout && u.Extension == s.ext }}
	_, err := s.requestHeld(ctx, w, func(ctx context.Context, creds credentials, sd *side) error {
		return sd.rest.send(ctx, creds, http.MethodPut, "/finesse/api/User/"+s.loginID, body)
	})
	if err != nil {
		return err
	}
	s.log.Info("the agent moved to the other Finesse side", zap.String("from", from.name), zap.String("to", to.name))
	s.resync(ctx)
	return nil
}

// credentialsRefused ends a session whose password Finesse refused while
// restoring it (the password changed): it is never tried again, so that
// ctibus never locks the agent's account, and the agent's apps are told.
func (c *Connector) credentialsRefused(s *agentSession) {
	s.log.Warn("Finesse refused the agent's password while restoring its session; the agent must sign in again")
	c.removeSession(s)
	s.end()
	c.deliverMu.Lock()
	c.deliverLocked(cisco.Notification{Failure: &cisco.Failure{LoginID: s.loginID, Error: &cisco.Error{
		Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageUnauthorized,
		Text: "Finesse refused the agent's password while restoring its session; sign in again.",
	}}})
	c.deliverMu.Unlock()
}
