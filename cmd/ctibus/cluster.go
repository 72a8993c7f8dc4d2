package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/natsbus"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/finessecluster"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/handlers"
	"github.com/ctibus/ctibus/internal/kvstore"
	"github.com/ctibus/ctibus/session"
)

// natsConnectTimeout bounds how long a starting node waits for NATS: a node
// that cannot reach its cluster should say so, not hang.
const natsConnectTimeout = 10 * time.Second

// natsLink is this node's share of NATS: the embedded server if it runs one,
// and its two client connections.
type natsLink struct {
	embedded *natsserver.Server // nil unless -nats-embedded
	// bus carries the broker's events. It is opened with NoEcho, so that a
	// node does not receive its own events back: they are delivered locally
	// before they are published.
	bus *nats.Conn
	// state carries everything else: JetStream's buckets, the contact
	// center's requests and notifications.
	state *nats.Conn
	js    jetstream.JetStream
	node  string // this node's name in the cluster
	// closed has, for each connection, a channel closed once the
	// connection is, its drain done.
	closed map[*nats.Conn]chan struct{}
}

// connect opens one connection with opts and more, and notes when it closes.
func (l *natsLink) connect(urls string, opts []nats.Option, more ...nats.Option) (*nats.Conn, error) {
	closed := make(chan struct{})
	all := append(slices.Clone(opts), more...)
	all = append(all, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	nc, err := nats.Connect(urls, all...)
	if err == nil {
		l.closed[nc] = closed
	}
	return nc, err
}

// connectNATS starts the embedded server if asked to, and connects to NATS.
func connectNATS(cfg config, log *zap.Logger) (*natsLink, error) {
	link := &natsLink{node: cfg.node}
	if link.node == "" {
		host, _ := os.Hostname()
		link.node = nodeName(host)
	}
	var opts []nats.Option
	urls := cfg.nats
	if cfg.natsEmbedded {
		token, tokenFile, err := embeddedToken(cfg)
		if err != nil {
			return nil, err
		}
		srv, err := startEmbedded(cfg, token)
		if err != nil {
			return nil, err
		}
		link.embedded = srv
		urls = srv.ClientURL()
		opts = append(opts, nats.InProcessServer(srv), nats.Token(token))
		if tokenFile == "" {
			log.Info("embedded NATS server running for this node alone: it does not listen", zap.String("store", cfg.natsStore))
		} else {
			log.Info("embedded NATS server running; other nodes join with -nats and -nats-token-file",
				zap.String("nats", "nats://"+srv.Addr().String()), zap.String("token_file", tokenFile), zap.String("store", cfg.natsStore))
		}
	} else {
		auth, err := clientAuth(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
	}
	opts = append(opts,
		nats.Timeout(natsConnectTimeout),
		nats.MaxReconnects(-1), // a node outlives a NATS restart
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: this node closed the connection
				log.Warn("lost NATS; reconnecting", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", zap.String("server", redactURL(nc.ConnectedUrl())))
		}),
		// In the log, not on stderr: a watch of a bucket (the revocations
		// of workspace tokens) reports a missed heartbeat here, and starts
		// again by itself.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("NATS reported an error", zap.String("subject", subject), zap.Error(err))
		}),
	)
	var err error
	link.closed = map[*nats.Conn]chan struct{}{}
	link.state, err = link.connect(urls, opts, nats.Name("ctibus "+link.node))
	if err == nil {
		link.bus, err = link.connect(urls, opts, nats.Name("ctibus "+link.node+" bus"), nats.NoEcho())
	}
	if err == nil {
		link.js, err = jetstream.New(link.state)
	}
	if err != nil {
		link.close()
		return nil, fmt.Errorf("connect to NATS at %s: %w (%s)", redact(urls), err, connectHint(cfg, err))
	}
	log.Info("joined the cluster", zap.String("node", link.node), zap.String("nats", redactURL(link.state.ConnectedUrl())))
	return link, nil
}

// nodeName makes a node name from the host's: unique, since two nodes may
// run on one host, and valid in subjects and keys.
func nodeName(host string) string {
	clean := make([]rune, 0, len(host))
	for _, r := range host {
		if len(clean) == 20 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			clean = append(clean, r)
		}
	}
	if len(clean) == 0 {
		clean = []rune("node")
	}
	return string(clean) + "-" + uuid.NewString()[:8]
}

// startEmbedded runs the NATS server of -nats-embedded, which admits the
// clients that present token.
func startEmbedded(cfg config, token string) (*natsserver.Server, error) {
	opts := &natsserver.Options{
		JetStream:     true,
		StoreDir:      cfg.natsStore,
		NoSigs:        true, // ctibus handles the signals and stops the server itself
		NoLog:         true,
		DontListen:    cfg.natsListen == "", // a node alone connects in process
		Authorization: token,
	}
	if cfg.natsListen != "" {
		host, port, _ := net.SplitHostPort(cfg.natsListen) // checked by validate
		opts.Host = host
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("-nats-listen %q: bad port", cfg.natsListen)
		}
		opts.Port = n
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(natsConnectTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server: not ready after %s (is %s in use?)", natsConnectTimeout, cfg.natsListen)
	}
	return srv, nil
}

// close drains the connections, so that what was published is sent, and
// stops the embedded server last.
func (l *natsLink) close() {
	for _, nc := range []*nats.Conn{l.bus, l.state} {
		switch {
		case nc == nil:
		case !nc.IsConnected():
			nc.Close() // nothing to drain to: don't wait for NATS to come back
		case nc.Drain() != nil:
			nc.Close()
		default:
			l.waitClosed(nc)
		}
	}
	if l.embedded != nil {
		l.embedded.Shutdown()
		l.embedded.WaitForShutdown()
	}
}

// waitClosed waits for a draining connection to finish, a bounded time.
func (l *natsLink) waitClosed(nc *nats.Conn) {
	select {
	case <-l.closed[nc]:
	case <-time.After(natsConnectTimeout):
		nc.Close()
	}
}

// sharedState is what the nodes of a cluster share. A node alone keeps
// everything in its memory: its simulator is the contact center and the
// nil stores select the in-memory ones.
type sharedState struct {
	cti        cisco.Connector
	lockout    session.LockoutStore
	appLockout session.LockoutStore
	tokens     session.TokenStore
	presence   session.Presence
	node       string               // this node's name in the cluster; "" alone
	cluster    handlers.ClusterView // what the operator's view reads; nil alone
	engine     broker.Engine        // carries the bus's events between nodes; nil alone
}

// watchingEngine is the bus's Engine on a node whose contact center
// brings it only the notifications of the agents it watches (a
// cisco.Watcher: the simulator's cluster): as the broker asks for the
// events of a scope, it watches the agents the scope stands for, so that
// the notifications a node turns into events follow the same interest as
// the events other nodes publish. An agent's workspace stands for the
// agent; a prefix that covers the agents' workspaces (an app granted all
// agents) for every agent. The broker asks before it tells the app it
// joined, and so the app's admission waits for the watch too.
type watchingEngine struct {
	broker.Engine
	cti        cisco.Watcher
	workspaces string // the prefix of the agents' workspaces' scopes
}

// Want brings the events of is from the other nodes, and watches the
// agents they stand for.
func (e watchingEngine) Want(is ...broker.Interest) error {
	err := e.Engine.Want(is...)
	if ids := e.agents(is); len(ids) > 0 {
		// The connector bounds the wait (its RequestTimeout), and keeps
		// trying after an error.
		err = errors.Join(err, e.cti.Watch(context.Background(), ids...))
	}
	return err
}

// Unwant undoes one Want of each of is.
func (e watchingEngine) Unwant(is ...broker.Interest) {
	e.Engine.Unwant(is...)
	if ids := e.agents(is); len(ids) > 0 {
		e.cti.Unwatch(ids...)
	}
}

// agents returns the loginIds that is stand for, cisco.AllAgents for a
// prefix that covers every agent's workspace. A scope of another kind
// stands for none.
func (e watchingEngine) agents(is []broker.Interest) []string {
	var ids []string
	for _, i := range is {
		s := string(i.Scope)
		switch {
		case i.Prefix && (strings.HasPrefix(e.workspaces, s) || strings.HasPrefix(s, e.workspaces)):
			ids = append(ids, cisco.AllAgents)
		case !i.Prefix && len(s) > len(e.workspaces) && strings.HasPrefix(s, e.workspaces):
			ids = append(ids, s[len(e.workspaces):])
		}
	}
	return ids
}

// clusterView is what the operator's view reads of the cluster: the
// presence bucket and who runs the contact center.
type clusterView struct {
	presence    *session.KVPresence
	leaseholder func(context.Context) (string, error)
}

func (v clusterView) View(ctx context.Context) (session.PresenceView, error) {
	return v.presence.View(ctx)
}

func (v clusterView) Leaseholder(ctx context.Context) (string, error) {
	return v.leaseholder(ctx)
}

// sharedCTI is the contact center as the nodes of a cluster share it.
type sharedCTI interface {
	cisco.Connector
	Close() error
}

// joinCTI shares the contact center through NATS, for node: the
// simulator's cluster, or Finesse's. leaseholder names the node that runs
// the contact center, "" when none does.
type joinCTI func(ctx context.Context, nc *nats.Conn, node string) (cti sharedCTI, leaseholder func(context.Context) (string, error), err error)

// simulatorCluster shares one simulator on dir among the nodes.
func simulatorCluster(cfg config, log *zap.Logger, dir *sim.Directory, simCfg sim.Config) joinCTI {
	return func(ctx context.Context, nc *nats.Conn, node string) (sharedCTI, func(context.Context) (string, error), error) {
		cluster, err := simcluster.New(ctx, dir, nc, simcluster.Config{
			Node: node, Prefix: cfg.natsPrefix, LeaseTTL: cfg.natsLease, Log: log.Named("cluster"), Simulator: simCfg,
		})
		if err != nil {
			return nil, nil, err
		}
		return cluster, cluster.Leaseholder, nil
	}
}

// finesseCluster shares the agents' Finesse sessions among the nodes: each
// stays on the node that signed its agent in.
func finesseCluster(cfg config, log *zap.Logger, fin *finesse.Connector) joinCTI {
	return func(ctx context.Context, nc *nats.Conn, node string) (sharedCTI, func(context.Context) (string, error), error) {
		cluster, err := finessecluster.New(ctx, fin, nc, finessecluster.Config{
			Node: node, Prefix: cfg.natsPrefix, Liveness: cfg.natsLease, Log: log.Named("cluster"),
		})
		if err != nil {
			return nil, nil, err
		}
		noLeaseholder := func(context.Context) (string, error) { return "", nil }
		return cluster, noLeaseholder, nil
	}
}

// joinCluster connects the node to NATS, carries the bus's events through
// it and opens the shared stores. leave undoes it all, in the reverse order.
func joinCluster(cfg config, log *zap.Logger, reg prometheus.Registerer, bus *broker.Broker, join joinCTI) (shared sharedState, leave func(), err error) {
	link, err := connectNATS(cfg, log)
	if err != nil {
		return shared, nil, err
	}
	var undo []func()
	leaveAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		link.close()
	}
	defer func() {
		if err != nil {
			leaveAll() // not leave: returning an error has set it to nil
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), natsConnectTimeout)
	defer cancel()

	engine, err := natsbus.New(link.bus, bus.Deliver, natsbus.Options{Prefix: cfg.natsPrefix, Log: log.Named("natsbus")})
	if err != nil {
		return shared, nil, fmt.Errorf("carry the bus over NATS: %w", err)
	}
	bus.SetEngine(engine)
	shared.engine = engine
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "ctibus_cluster_frames_dropped_total",
		Help: "Frames received from NATS that were not JSON objects in UTF-8, so no node sent them: dropped.",
	}, func() float64 { return float64(engine.Dropped()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "ctibus_cluster_events_received_total",
		Help: "Events received from other nodes through NATS: those of the scopes this node's connections are in or watch.",
	}, func() float64 { return float64(engine.Received()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ctibus_cluster_subscriptions",
		Help: "NATS subscriptions this node holds for events: one per scope its connections are in or watch, and one to all events while it serves an app granted all agents; each kept 10 s after the last connection that wanted it.",
	}, func() float64 { return float64(engine.Subscriptions()) }))
	undo = append(undo, func() {
		if err := engine.Close(); err != nil {
			log.Warn("stop carrying the bus over NATS", zap.Error(err))
		}
	})

	bucket := func(holds string) string { return kvstore.BucketName(cfg.natsPrefix, holds) }
	if shared.lockout, err = session.NewKVLockoutStore(ctx, link.js, bucket("lockout"), cfg.lockoutDuration); err == nil {
		shared.appLockout, err = session.NewKVLockoutStore(ctx, link.js, bucket("app_lockout"), cfg.lockoutDuration)
	}
	if err == nil {
		shared.tokens, err = session.NewKVTokenStore(ctx, link.js, bucket("tokens"), cfg.tokenTTL)
	}
	if err != nil {
		return shared, nil, fmt.Errorf("open the cluster's buckets: %w", err)
	}
	presence, err := session.NewKVPresence(ctx, link.js, bucket("presence"), link.node)
	if err != nil {
		return shared, nil, fmt.Errorf("open the cluster's presence bucket: %w", err)
	}
	shared.presence = presence
	undo = append(undo, func() {
		if err := presence.Close(context.Background()); err != nil {
			log.Warn("withdraw this node's presence", zap.Error(err))
		}
	})

	cti, leaseholder, err := join(ctx, link.state, link.node)
	if err != nil {
		return shared, nil, fmt.Errorf("join the contact center's cluster: %w", err)
	}
	shared.cti = cti
	shared.node, shared.cluster = link.node, clusterView{presence: presence, leaseholder: leaseholder}
	undo = append(undo, func() {
		if err := cti.Close(); err != nil {
			log.Warn("leave the contact center's cluster", zap.Error(err))
		}
	})
	return shared, leaveAll, nil
}
