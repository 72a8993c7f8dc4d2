package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// The operator's view (docs/admin.md): GET /api/admin/snapshot answers an
// app of the apps file granted "admin" with what the people who run the
// bus watch: the agents signed in, the connections and messages of the
// last 15 minutes, the accounts locked, the cluster, and the refusals.
//
// Collection is cheap by design. The broker counts frames already, for
// /metrics; a sampler reads those counters once a second into a ring of
// 900 samples, and nothing is done per message. The agents come from the
// contact center's notifications, which every node receives: a roster in
// memory, refreshed from the connector once a minute. A snapshot is
// assembled from memory in O(agents), and bounded: at most MaxAgents
// agents, 900 samples.

// Defaults of AdminConfig.
const (
	// DefaultAdminMaxAgents is how many agents a snapshot lists at most;
	// the wallboard's counts cover them all.
	DefaultAdminMaxAgents = 1000
	// adminSamples is how many per-second samples the ring keeps: 15 min.
	adminSamples = 900
	// adminResyncEvery is how often the roster is read again from the
	// connector, in case a notification was missed (a failover).
	adminResyncEvery = time.Minute
	// adminClusterMaxAge is how long a reading of the cluster serves
	// snapshots: it costs NATS round trips, not memory reads.
	adminClusterMaxAge = time.Second
	// adminReadTimeout bounds each reading of the connector or the cluster.
	adminReadTimeout = 5 * time.Second
)

// AdminConfig holds the operator's view's settings; zero values select
// defaults.
type AdminConfig struct {
	// Node is this node's name, as snapshots report it. Default "local".
	Node string
	// Metrics are the broker's counters the sampler reads; nil reads zeros.
	Metrics *broker.Metrics
	// Cluster is the cluster this node is in; nil for a node alone.
	Cluster ClusterView
	// Agents are the loginIds of the contact center's agents, so that a
	// locked agent's account can be named: the lockout keeps only hashes.
	Agents []string
	// MaxAgents bounds the agents of a snapshot. Default
	// DefaultAdminMaxAgents.
	MaxAgents int
	// Now tells the time. Default the Cisco handlers' clock.
	Now func() time.Time
}

// ClusterView is what the operator's view reads of a cluster.
type ClusterView interface {
	// View returns the nodes alive and the connections each holds of each
	// workspace.
	View(ctx context.Context) (session.PresenceView, error)
	// Leaseholder returns the node that runs the contact center, or "".
	Leaseholder(ctx context.Context) (string, error)
}

// Admin assembles the operator's view of the bus that h serves. Start its
// sampler with Run.
type Admin struct {
	h           *Cisco
	unsubscribe func() // stops the contact center's notifications; Run calls it
	cfg         AdminConfig
	lockNames   map[session.Account]string // the accounts a snapshot may name: agents' and apps'
	appNames    map[session.Account]string //

	mu      sync.Mutex            // guards the fields below
	ring    rateRing              //
	roster  map[string]rosterUser // loginId -> the agent, signed in
	changed map[string]struct{}   // agents notified during a resync; nil when none runs
	asked   map[string]time.Time  // agents of the presence looked up lately (learn)

	clusterMu   sync.Mutex   // guards the fields below; held while the cluster is read
	clusterView *clusterInfo //
	clusterRead time.Time    //
}

// rosterUser is what the view keeps of a signed-in agent.
type rosterUser struct {
	name             string
	state            cisco.State
	pendingState     string
	reasonID, reason string // the reason code's id and label, "" without one
	since            time.Time
	extension        string
	teamID, teamName string
}

// NewAdmin returns the operator's view of h's bus. It follows the
// contact center's notifications from now, so that no change made before
// Run starts is missed; Run stops following them when it returns.
func NewAdmin(h *Cisco, cfg AdminConfig) *Admin {
	if cfg.Node == "" {
		cfg.Node = "local"
	}
	if cfg.MaxAgents <= 0 {
		cfg.MaxAgents = DefaultAdminMaxAgents
	}
	if cfg.Now == nil {
		cfg.Now = h.now
	}
	a := &Admin{h: h, cfg: cfg, roster: make(map[string]rosterUser), asked: make(map[string]time.Time),
		lockNames: make(map[session.Account]string, len(cfg.Agents)), appNames: make(map[session.Account]string)}
	h.onSignIn = a.signedIn
	a.unsubscribe = h.cti.Subscribe(a.observe)
	for _, id := range cfg.Agents {
		a.lockNames[session.AgentAccount(id)] = id
	}
	for _, name := range h.desktops.AppNames() {
		a.appNames[session.NameAccount(name)] = name
	}
	return a
}

// Run samples the broker's counters every second and keeps the roster of
// agents, until ctx ends.
func (a *Admin) Run(ctx context.Context) {
	defer a.unsubscribe()
	a.sample() // the baseline the first second is counted from
	a.resync(ctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	resync := time.NewTicker(adminResyncEvery)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			a.sample()
		case <-resync.C:
			a.resync(ctx)
		}
	}
}

// sample adds one second to the ring.
func (a *Admin) sample() {
	totals := a.cfg.Metrics.Totals()
	conns := a.h.bus.Connections()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ring.add(a.cfg.Now(), conns, totals)
}

// observe keeps the roster as the contact center reports changes. It runs
// under the connector's lock, so it only writes memory.
func (a *Admin) observe(n cisco.Notification) {
	if n.User == nil {
		return
	}
	u := n.User.User
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.changed != nil {
		a.changed[u.LoginID] = struct{}{}
	}
	if u.State == cisco.StateLogout {
		delete(a.roster, u.LoginID)
		return
	}
	a.roster[u.LoginID] = rosterOf(u)
}

// signedIn adds an agent signed in on this node: the connector notifies
// changes after sign-in, not the sign-in itself.
func (a *Admin) signedIn(u cisco.User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.changed != nil {
		a.changed[u.LoginID] = struct{}{}
	}
	a.roster[u.LoginID] = rosterOf(u)
}

// learn adds the agents that another node signed in, whose workspaces the
// cluster's presence shows but the roster lacks: that node's sign-in
// reached only its own view. Each is asked for at most every
// adminResyncEvery/6, so that a desktop left signed out costs little.
func (a *Admin) learn(ctx context.Context, present map[string]map[string]int, now time.Time) {
	var unknown []string
	a.mu.Lock()
	for id := range present {
		if _, known := a.roster[id]; !known && now.Sub(a.asked[id]) >= adminResyncEvery/6 {
			a.asked[id] = now
			unknown = append(unknown, id)
		}
	}
	for id, at := range a.asked {
		if now.Sub(at) >= adminResyncEvery/6 {
			delete(a.asked, id)
		}
	}
	a.mu.Unlock()
	for _, id := range unknown {
		u, err := a.h.cti.User(ctx, id)
		if err != nil || u.State == cisco.StateLogout {
			continue
		}
		a.mu.Lock()
		if _, known := a.roster[id]; !known { // a notification is newer
			a.roster[id] = rosterOf(u)
		}
		a.mu.Unlock()
	}
}

// resync reads every signed-in agent from the connector. An agent notified
// meanwhile keeps what the notification said, which is newer.
func (a *Admin) resync(ctx context.Context) {
	a.mu.Lock()
	a.changed = make(map[string]struct{})
	a.mu.Unlock()
	fresh := make(map[string]rosterUser)
	readCtx, cancel := context.WithTimeout(ctx, adminReadTimeout)
	defer cancel()
	ids, err := a.h.cti.SignedInAgents(readCtx)
	for _, id := range ids {
		if err != nil {
			break
		}
		var u cisco.User
		if u, err = a.h.cti.User(readCtx, id); err == nil && u.State != cisco.StateLogout {
			fresh[id] = rosterOf(u)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := a.changed
	a.changed = nil
	if err != nil {
		if ctx.Err() == nil { // not stopping
			a.h.log.Warn("operator's view: read the signed-in agents", zap.Error(err))
		}
		return // keep the roster the notifications keep
	}
	for id := range changed {
		delete(fresh, id)
		if u, ok := a.roster[id]; ok {
			fresh[id] = u
		}
	}
	a.roster = fresh
}

func rosterOf(u cisco.User) rosterUser {
	r := rosterUser{
		name:         joinName(u.FirstName, u.LastName),
		state:        u.State,
		pendingState: u.PendingState,
		extension:    u.Extension,
		teamID:       u.TeamID,
		teamName:     u.TeamName,
	}
	if u.ReasonCode != nil {
		r.reasonID, r.reason = u.ReasonCode.ID, u.ReasonCode.Label
	}
	r.since, _ = time.Parse(cisco.TimeFormat, u.StateChangeTime) // zero if unknown
	return r
}

func joinName(first, last string) string {
	switch {
	case first == "":
		return last
	case last == "":
		return first
	}
	return first + " " + last
}

// rateRing is the last adminSamples seconds of the bus, one sample a second.
type rateRing struct {
	samples [adminSamples]rateSample
	next    int           // where the next sample goes
	n       int           // samples kept, at most adminSamples
	last    time.Time     // when the newest was taken
	prev    broker.Totals // the counters at the newest sample
	started bool          // prev holds a reading
}

type rateSample struct {
	conns   int32
	in, out uint32 // frames in the second before the sample
}

// add records a sample taken at now; the first only sets the baseline.
func (r *rateRing) add(now time.Time, conns int, t broker.Totals) {
	if !r.started {
		r.prev, r.started = t, true
		r.last = now
		return
	}
	r.samples[r.next] = rateSample{
		conns: int32(min(conns, 1<<31-1)),
		in:    uint32(min(t.FramesIn-r.prev.FramesIn, 1<<32-1)),
		out:   uint32(min(t.FramesOut-r.prev.FramesOut, 1<<32-1)),
	}
	r.next = (r.next + 1) % adminSamples
	r.n = min(r.n+1, adminSamples)
	r.prev, r.last = t, now
}

// series returns the samples, oldest first.
func (r *rateRing) series() adminRates {
	rates := adminRates{
		Step: 1, Connections: make([]int32, 0, r.n), MessagesIn: make([]uint32, 0, r.n), MessagesOut: make([]uint32, 0, r.n),
	}
	if r.n > 0 {
		rates.End = r.last.UTC().Format(cisco.TimeFormat)
	}
	for i := range r.n {
		s := r.samples[(r.next-r.n+i+adminSamples)%adminSamples]
		rates.Connections = append(rates.Connections, s.conns)
		rates.MessagesIn = append(rates.MessagesIn, s.in)
		rates.MessagesOut = append(rates.MessagesOut, s.out)
	}
	return rates
}

// The snapshot, as docs/openapi.yaml (AdminSnapshot) describes it.
type (
	adminSnapshot struct {
		Node        string        `json:"node"`
		At          string        `json:"at"`
		Agents      []adminAgent  `json:"agents"`
		AgentsTotal int           `json:"agentsTotal"`
		Teams       []adminTeam   `json:"teams"`
		Rates       adminRates    `json:"rates"`
		Counters    adminCounters `json:"counters"`
		Lockouts    adminLockouts `json:"lockouts"`
		Cluster     *clusterInfo  `json:"cluster"`
	}
	adminAgent struct {
		LoginID        string          `json:"loginId"`
		Name           string          `json:"name"`
		State          cisco.State     `json:"state"`
		PendingState   string          `json:"pendingState"`
		ReasonCodeID   string          `json:"reasonCodeId"`
		Reason         string          `json:"reason"`
		StateSince     string          `json:"stateSince"`
		SecondsInState *int64          `json:"secondsInState"`
		Extension      string          `json:"extension"`
		TeamID         string          `json:"teamId"`
		TeamName       string          `json:"teamName"`
		Apps           int             `json:"apps"`
		Nodes          []adminNodeApps `json:"nodes"`
	}
	adminNodeApps struct {
		Node string `json:"node"`
		Apps int    `json:"apps"`
	}
	adminTeam struct {
		TeamID          string         `json:"teamId"`
		TeamName        string         `json:"teamName"`
		Agents          int            `json:"agents"`
		States          map[string]int `json:"states"`
		LongestNotReady *adminLongest  `json:"longestNotReady"`
	}
	adminLongest struct {
		LoginID string `json:"loginId"`
		Name    string `json:"name"`
		Reason  string `json:"reason"`
		Seconds int64  `json:"seconds"`
	}
	adminRates struct {
		End         string   `json:"end"`
		Step        int      `json:"step"`
		Connections []int32  `json:"connections"`
		MessagesIn  []uint32 `json:"messagesIn"`
		MessagesOut []uint32 `json:"messagesOut"`
	}
	adminCounters struct {
		Connections             int    `json:"connections"`
		SlowConsumerDisconnects uint64 `json:"slowConsumerDisconnects"`
		RateLimitedFrames       uint64 `json:"rateLimitedFrames"`
		InvalidFrames           uint64 `json:"invalidFrames"`
	}
	adminLockouts struct {
		Agents       []adminLock `json:"agents"`
		Apps         []adminLock `json:"apps"`
		UnknownNames int         `json:"unknownNames"`
	}
	adminLock struct {
		Name  string `json:"name"`
		Until string `json:"until"`
	}
	clusterInfo struct {
		Nodes       []string `json:"nodes"`
		Leaseholder string   `json:"leaseholder"`
		Error       string   `json:"error,omitempty"`

		apps map[string]map[string]int // agent -> node -> connections
	}
)

// snapshot assembles the view now.
func (a *Admin) snapshot(ctx context.Context) adminSnapshot {
	now := a.cfg.Now()
	cluster := a.cluster(ctx, now)
	var local map[string]int
	if cluster == nil {
		local = a.h.desktops.WorkspaceApps()
	}
	totals := a.cfg.Metrics.Totals()
	snap := adminSnapshot{
		Node:    a.cfg.Node,
		At:      now.UTC().Format(cisco.TimeFormat),
		Agents:  []adminAgent{},
		Teams:   []adminTeam{},
		Cluster: cluster,
		Counters: adminCounters{
			Connections:             a.h.bus.Connections(),
			SlowConsumerDisconnects: totals.SlowConsumers,
			RateLimitedFrames:       totals.RateLimited,
			InvalidFrames:           totals.Invalid,
		},
		Lockouts: a.lockouts(),
	}

	a.mu.Lock()
	snap.Rates = a.ring.series()
	snap.AgentsTotal = len(a.roster)
	ids := make([]string, 0, len(a.roster))
	for id := range a.roster {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	teams := map[string]*adminTeam{}
	for i, id := range ids {
		u := a.roster[id]
		var seconds *int64
		since := ""
		if !u.since.IsZero() {
			s := max(int64(now.Sub(u.since)/time.Second), 0)
			seconds, since = &s, u.since.UTC().Format(cisco.TimeFormat)
		}
		t := teams[u.teamID]
		if t == nil {
			t = &adminTeam{TeamID: u.teamID, TeamName: u.teamName, States: map[string]int{}}
			teams[u.teamID] = t
		}
		t.Agents++
		t.States[string(u.state)]++
		if u.state == cisco.StateNotReady && seconds != nil &&
			(t.LongestNotReady == nil || *seconds > t.LongestNotReady.Seconds) {
			t.LongestNotReady = &adminLongest{LoginID: id, Name: u.name, Reason: u.reason, Seconds: *seconds}
		}
		if i >= a.cfg.MaxAgents {
			continue // counted on the wallboard, not listed
		}
		agent := adminAgent{
			LoginID: id, Name: u.name, State: u.state, PendingState: u.pendingState,
			ReasonCodeID: u.reasonID, Reason: u.reason, StateSince: since, SecondsInState: seconds,
			Extension: u.extension, TeamID: u.teamID, TeamName: u.teamName, Nodes: []adminNodeApps{},
		}
		if cluster != nil {
			for node, n := range cluster.apps[id] {
				agent.Nodes = append(agent.Nodes, adminNodeApps{Node: node, Apps: n})
				agent.Apps += n
			}
			slices.SortFunc(agent.Nodes, func(x, y adminNodeApps) int { return cmp.Compare(x.Node, y.Node) })
		} else if n := local[id]; n > 0 {
			agent.Nodes = append(agent.Nodes, adminNodeApps{Node: a.cfg.Node, Apps: n})
			agent.Apps = n
		}
		snap.Agents = append(snap.Agents, agent)
	}
	a.mu.Unlock()

	for _, t := range teams {
		snap.Teams = append(snap.Teams, *t)
	}
	slices.SortFunc(snap.Teams, func(x, y adminTeam) int { return cmp.Compare(x.TeamID, y.TeamID) })
	return snap
}

// lockouts names the accounts locked now: agents by loginId, apps by name,
// and the names that are nobody's by their number only, since the lockout
// keeps a hash of them, never the name.
func (a *Admin) lockouts() adminLockouts {
	out := adminLockouts{Agents: []adminLock{}, Apps: []adminLock{}}
	for _, l := range a.h.lockout.LockedAccounts() {
		if id, ok := a.lockNames[l.Account]; ok {
			out.Agents = append(out.Agents, adminLock{Name: id, Until: l.Until.UTC().Format(cisco.TimeFormat)})
		} else {
			out.UnknownNames++
		}
	}
	for _, l := range a.h.desktops.LockedApps() {
		if name, ok := a.appNames[l.Account]; ok {
			out.Apps = append(out.Apps, adminLock{Name: name, Until: l.Until.UTC().Format(cisco.TimeFormat)})
		} else {
			out.UnknownNames++
		}
	}
	byName := func(x, y adminLock) int { return cmp.Compare(x.Name, y.Name) }
	slices.SortFunc(out.Agents, byName)
	slices.SortFunc(out.Apps, byName)
	return out
}

// cluster reads the cluster, at most once per adminClusterMaxAge however
// many operators poll; nil for a node alone.
func (a *Admin) cluster(ctx context.Context, now time.Time) *clusterInfo {
	if a.cfg.Cluster == nil {
		return nil
	}
	a.clusterMu.Lock()
	defer a.clusterMu.Unlock()
	if a.clusterView != nil && now.Sub(a.clusterRead) < adminClusterMaxAge {
		return a.clusterView
	}
	ctx, cancel := context.WithTimeout(ctx, adminReadTimeout)
	defer cancel()
	info := &clusterInfo{Nodes: []string{}}
	view, err := a.cfg.Cluster.View(ctx)
	if err == nil {
		info.Nodes, info.apps = view.Nodes, view.Apps
		info.Leaseholder, err = a.cfg.Cluster.Leaseholder(ctx)
		a.learn(ctx, view.Apps, now)
	}
	if err != nil {
		info.Error = "The cluster's state could not be read from NATS; the nodes and the lease are unknown until it can."
		a.h.log.Warn("operator's view: read the cluster", zap.Error(err))
	}
	a.clusterView, a.clusterRead = info, now
	return info
}

// SnapshotAPI serves GET /api/admin/snapshot to the apps granted admin.
// It authenticates as the other HTTP APIs do; the answer is never cached.
func (a *Admin) SnapshotAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			session.Refusal{Status: http.StatusMethodNotAllowed, Error: "method_not_allowed", Message: "Use GET."}.Write(w)
			return
		}
		if !a.h.desktops.AllowOrigin(w, r) {
			return
		}
		app, ok := a.h.desktops.AuthenticateApp(w, r)
		if !ok {
			return
		}
		if !app.Admin {
			session.Refusal{Status: http.StatusForbidden, Error: "forbidden",
				Message: "This app may not read the operator's view; allow it in the apps file (grants.admin)."}.Write(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(a.snapshot(r.Context()))
	})
}
