package handlers

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// agentLister is the part of a connector that names the agents signed in;
// the simulator and the cluster have it.
type agentLister interface {
	SignedInAgents(ctx context.Context) ([]string, error)
}

// sweepTimeout bounds one look at the signed-in agents.
const sweepTimeout = 10 * time.Second

// SweepAbandoned signs out, every period until ctx ends, each agent who is
// signed in while no node of the cluster has held a connection of its
// workspace for a whole grace period. The grace timers of the workspaces
// cover every agent whose last connection closed on a live node; this
// covers the agents whose apps were all on a node that died, and the agents
// found signed in when every node restarted, if no app comes back. Every
// node may sweep: a second sign-out of one agent changes nothing.
//
// It does nothing on a connector that cannot list the agents signed in.
func (h *Cisco) SweepAbandoned(ctx context.Context, period time.Duration) {
	lister, ok := h.cti.(agentLister)
	if !ok {
		return
	}
	alone := make(map[string]time.Time) // agent -> since when no node holds a connection of it
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.sweep(ctx, lister, alone)
	}
}

// sweep looks at every signed-in agent once, and signs out those alone for
// a whole grace period.
func (h *Cisco) sweep(ctx context.Context, lister agentLister, alone map[string]time.Time) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	ids, err := lister.SignedInAgents(ctx)
	if err != nil {
		h.log.Warn("look for abandoned agents", zap.Error(err))
		return
	}
	now := h.now()
	signedIn := make(map[string]bool, len(ids))
	for _, id := range ids {
		signedIn[id] = true
		if !h.abandoned(ctx, id) {
			delete(alone, id)
			continue
		}
		since, seen := alone[id]
		switch {
		case !seen:
			alone[id] = now
		case now.Sub(since) >= h.grace:
			delete(alone, id)
			h.signOutIfAbandoned(ctx, id)
		}
	}
	for id := range alone {
		if !signedIn[id] {
			delete(alone, id)
		}
	}
}

// abandoned reports whether no node holds a connection of agentID's
// workspace; when it cannot tell, the agent is not abandoned.
func (h *Cisco) abandoned(ctx context.Context, agentID string) bool {
	if _, here := h.workspaces.Get(agentID); here {
		return false // this node's grace timer, if any, decides
	}
	elsewhere, err := h.presence.Elsewhere(ctx, agentID)
	return err == nil && !elsewhere
}

// signOutIfAbandoned signs agentID out unless an app came back meanwhile.
func (h *Cisco) signOutIfAbandoned(ctx context.Context, agentID string) {
	unlock := h.workspaces.Lock(agentID)
	defer unlock()
	if !h.abandoned(ctx, agentID) {
		return
	}
	h.signOutAbandoned(agentID)
}
