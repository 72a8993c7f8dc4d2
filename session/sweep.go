package session

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// sweepTimeout bounds one look at the signed-in agents.
const sweepTimeout = 10 * time.Second

// SweepAbandoned signs out, every period until ctx ends, each agent who is
// signed in while no node of the cluster has held a connection of its
// workspace for a whole grace period. The grace timers of the workspaces
// cover every agent whose last connection closed on a live node; this
// covers the agents whose apps were all on a node that died, and the agents
// found signed in when every node restarted, if no app comes back. Every
// node may sweep: a second sign-out of one agent changes nothing.
func (d *Desktops) SweepAbandoned(ctx context.Context, period time.Duration) {
	alone := make(map[string]time.Time) // agent -> since when no node holds a connection of it
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d.sweep(ctx, alone)
	}
}

// sweep looks at every signed-in agent once, and signs out those alone for
// a whole grace period.
func (d *Desktops) sweep(ctx context.Context, alone map[string]time.Time) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	ids, err := d.channel.SignedInAgents(ctx)
	if err != nil {
		d.log.Warn("look for abandoned agents", zap.Error(err))
		return
	}
	now := d.now()
	signedIn := make(map[string]bool, len(ids))
	for _, id := range ids {
		signedIn[id] = true
		if !d.abandoned(ctx, id) {
			delete(alone, id)
			continue
		}
		since, seen := alone[id]
		switch {
		case !seen:
			alone[id] = now
		case now.Sub(since) >= d.grace:
			delete(alone, id)
			d.signOutIfAbandoned(ctx, id)
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
func (d *Desktops) abandoned(ctx context.Context, agentID string) bool {
	if _, here := d.workspaces.Get(agentID); here {
		return false // this node's grace timer, if any, decides
	}
	elsewhere, err := d.presence.Elsewhere(ctx, agentID)
	return err == nil && !elsewhere
}

// signOutIfAbandoned signs agentID out unless an app came back meanwhile.
func (d *Desktops) signOutIfAbandoned(ctx context.Context, agentID string) {
	unlock := d.workspaces.Lock(agentID)
	defer unlock()
	if !d.abandoned(ctx, agentID) {
		return
	}
	d.signOutAbandoned(agentID)
}
