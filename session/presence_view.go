package session

import (
	"context"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// nodeKeyPrefix starts the key of a node's own heartbeat in the presence
// bucket.
const nodeKeyPrefix = "node."

// writeNode writes this node's heartbeat, which says it is alive.
func (p *KVPresence) writeNode(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
	defer cancel()
	if _, err := p.kv.Put(ctx, nodeKeyPrefix+p.node, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return unavailable("put presence", err)
	}
	return nil
}

// PresenceView is what a presence bucket holds at one moment.
type PresenceView struct {
	// Nodes are the nodes alive: those whose heartbeat is in the bucket,
	// sorted. A node that died drops out three heartbeats later.
	Nodes []string
	// Apps maps each agent whose workspace has connections anywhere to how
	// many each node holds.
	Apps map[string]map[string]int
}

// View reads the whole bucket: one pass over its entries, each the latest
// value of its key, so it costs O(nodes + workspaces) and no request per
// key.
func (p *KVPresence) View(ctx context.Context) (PresenceView, error) {
	ctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
	defer cancel()
	w, err := p.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return PresenceView{}, unavailable("read presence", err)
	}
	defer w.Stop()
	view := PresenceView{Apps: make(map[string]map[string]int)}
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return PresenceView{}, unavailable("read presence", ctx.Err())
		}
		if e == nil { // every current value has been delivered
			break
		}
		view.add(e.Key(), e.Value())
	}
	slices.Sort(view.Nodes)
	return view, nil
}

// add records one entry of the bucket; keys it cannot read are skipped.
func (v *PresenceView) add(key string, value []byte) {
	if node, ok := strings.CutPrefix(key, nodeKeyPrefix); ok {
		v.Nodes = append(v.Nodes, node)
		return
	}
	hexAgent, node, ok := strings.Cut(key, ".")
	agent, err := hex.DecodeString(hexAgent)
	n, nerr := strconv.Atoi(string(value))
	if !ok || err != nil || nerr != nil || n <= 0 {
		return
	}
	if v.Apps[string(agent)] == nil {
		v.Apps[string(agent)] = make(map[string]int)
	}
	v.Apps[string(agent)][node] = n
}
