package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/docs"
	"github.com/ctibus/ctibus/handlers"
	"github.com/ctibus/ctibus/session"
	"github.com/ctibus/ctibus/web"
)

func serve(ctx context.Context, cfg config, logOut io.Writer) error {
	log, err := newLogger(cfg, logOut)
	if err != nil {
		return err
	}
	defer log.Sync()

	var dir *sim.Directory
	if !cfg.finesse() {
		if dir, err = loadDirectory(cfg, log); err != nil {
			return err
		}
	}
	apps, err := loadApps(cfg, log)
	if err != nil {
		return err
	}
	proxies, _ := cfg.proxies() // checked by parseConfig
	scenario, err := loadScenario(cfg, log)
	if err != nil {
		return err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	busMetrics := broker.NewMetrics(registry)
	bus := broker.New(log, broker.Config{ // unnamed: connection loggers, which handlers use too, derive from it
		ReadLimit:           cfg.readLimit,
		SendQueue:           cfg.sendQueue,
		SendQueueBytes:      cfg.sendQueueBytes,
		MaxConnections:      cfg.maxConnections,
		MaxSubscriptions:    cfg.maxSubscriptions,
		MaxChannels:         cfg.maxChannels,
		RegisterTimeout:     cfg.registerTimeout,
		AllowedOrigins:      cfg.origins(),
		RateLimit:           cfg.rateLimit,
		RateBurst:           cfg.rateBurst,
		RateBytes:           cfg.rateBytes,
		RateBytesBurst:      cfg.rateBytesBurst,
		MaxConnectionsPerIP: cfg.maxConnsPerIP,
		TrustedProxies:      proxies,
		Metrics:             busMetrics,
	})
	afterFunc := func(d time.Duration, f func()) session.Timer { return bus.AfterFunc(d, f) } // a panic in a timer ends no session
	simCfg := sim.Config{AnswerDelay: cfg.simAnswerDelay, RingTimeout: cfg.simRingTimeout,
		LogoutOnDisconnect: cfg.simOnDisconnect == "logout",
		AfterFunc:          afterFunc}
	var shared sharedState
	leave := func() {}         // leaves the cluster, once the bus has drained
	var fin *finesse.Connector // nil with the simulator
	switch {
	case cfg.finesse():
		if fin, err = startFinesse(ctx, cfg, log); err != nil {
			return err
		}
		defer fin.Close() // after the handlers, which sign no one out at Close
		shared.cti = fin
		if cfg.clustered() {
			var leaveCluster func()
			if shared, leaveCluster, err = joinCluster(cfg, log, registry, bus, finesseCluster(cfg, log, fin)); err != nil {
				return err
			}
			leave = sync.OnceFunc(leaveCluster)
			defer leave() // before fin.Close: the other nodes hear at once that this node's sessions end
		}
		registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ctibus_finesse_unreadable_notifications_total",
			Help: "Finesse notifications that could not be read, and were skipped (logged without their payload).",
		}, func() float64 { return float64(fin.Unparsed()) }))
	case !cfg.clustered():
		shared.cti = sim.New(dir, simCfg)
	default:
		var leaveCluster func()
		shared, leaveCluster, err = joinCluster(cfg, log, registry, bus, simulatorCluster(cfg, log, dir, simCfg))
		if err != nil {
			return err
		}
		leave = sync.OnceFunc(leaveCluster)
		defer leave()
	}
	lockout := session.NewLockout(session.LockoutConfig{
		Attempts: cfg.lockoutAttempts, Duration: cfg.lockoutDuration, Store: shared.lockout,
	})
	ciscoLog := log.Named("cisco")
	desktops := session.NewDesktops(bus, handlers.NewChannel(shared.cti, ciscoLog), ciscoLog, session.DesktopsConfig{
		AfterFunc:      afterFunc,
		Grace:          cfg.gracePeriod,
		TokenTTL:       cfg.tokenTTL,
		TokensPerAgent: cfg.tokensPerAgent,
		JWTMaxLifetime: cfg.jwtMaxLifetime,
		PasswordChecks: session.PasswordChecksConfig{
			Concurrent: cfg.passwordChecks, Queue: cfg.checkQueue, Wait: cfg.checkWait,
		},
		Apps: apps,
		// Wrong app secrets count by the agents' rules, in a store of
		// their own.
		AppLockout: session.LockoutConfig{Attempts: cfg.lockoutAttempts, Duration: cfg.lockoutDuration, Store: shared.appLockout},
		TokenStore: shared.tokens,
		Presence:   shared.presence,
	})
	if w, ok := shared.cti.(cisco.Watcher); ok && shared.engine != nil {
		// The contact center's notifications follow the bus's interest.
		bus.SetEngine(watchingEngine{Engine: shared.engine, cti: w, workspaces: string(desktops.EveryWorkspace())})
	}
	ciscoAPI := handlers.NewCisco(bus, shared.cti, desktops, lockout, ciscoLog, handlers.Config{
		AfterFunc:          afterFunc,
		LoginAttemptsPerIP: cfg.loginsPerIP,
		Metrics:            handlers.NewMetrics(registry, lockout),
	})
	desktops.Register()
	ciscoAPI.Register()
	closeDesktops := sync.OnceFunc(desktops.Close)
	defer closeDesktops() // before the cluster is left
	// The operator's view names a locked agent by the loginIds it knows:
	// the agents file's; Finesse's agents are not listed here.
	var agents []string
	if dir != nil {
		agents = dir.LoginIDs()
	}
	admin := handlers.NewAdmin(ciscoAPI, handlers.AdminConfig{
		Node: cmp.Or(shared.node, cfg.node), Metrics: busMetrics, Cluster: shared.cluster, Agents: agents,
	})

	mux := http.NewServeMux()
	mux.Handle("/ws", bus)
	mux.Handle("/api/publish", desktops.PublishAPI())
	mux.Handle("/api/simulator/calls", ciscoAPI.SimulatorAPI())
	mux.Handle("/api/admin/snapshot", admin.SnapshotAPI())
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if bus.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		if fin != nil && !fin.Ready() {
			http.Error(w, "no Finesse side is in service", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/asyncapi.yaml", docs.Handler(docs.AsyncAPI))
	mux.Handle("/openapi.yaml", docs.Handler(docs.OpenAPI))
	mux.Handle("/", web.Handler())

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	if cfg.pprofAddr != "" {
		stopPprof, err := servePprof(cfg.pprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	srv := &http.Server{
		Handler:           readTimeout(mux, "/ws", cfg.httpReadTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       cfg.httpIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info("ctibus listening", zap.String("addr", addr),
		zap.String("websocket", "ws://"+addr+"/ws"), zap.String("page", "http://"+addr+"/"))
	warnWithoutPublicOrigin(cfg, ln.Addr(), log)

	// The scenario player, the sweeper of abandoned agents and the
	// operator's view's sampler are owned here: they stop when the drain
	// begins, or when serve returns.
	bgCtx, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	if scenario != nil {
		background.Go(func() {
			if err := ciscoAPI.PlayScenario(bgCtx, scenario); err != nil {
				log.Error("scenario", zap.Error(err))
			}
		})
	}
	if cfg.clustered() {
		background.Go(func() { desktops.SweepAbandoned(bgCtx, sweepPeriod(cfg.gracePeriod)) })
	}
	background.Go(func() { admin.Run(bgCtx) })
	defer func() {
		stopBackground()
		background.Wait()
	}()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("draining", zap.Duration("timeout", cfg.drainTimeout))
	stopBackground() // no new calls while draining
	background.Wait()
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	busErr := bus.Shutdown(drainCtx)
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Warn("http server shutdown", zap.Error(err))
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if busErr != nil {
		log.Warn("drain timed out; remaining connections were dropped", zap.Error(busErr))
	}
	closeDesktops()
	leave() // at once, rather than when the lease runs out: another node takes over
	log.Info("stopped")
	return nil
}

// maxHeaderBytes bounds the headers of one HTTP request: a browser's
// handshake needs a few kilobytes.
const maxHeaderBytes = 64 << 10

// readTimeout gives every request but those to the long-lived path (the
// WebSocket endpoint, whose reader keeps its own deadlines for as long as
// the connection lives) d to arrive whole, body included, so that a client
// trickling a body cannot hold a connection.
func readTimeout(h http.Handler, longLived string, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != longLived {
			// The headers are in: ReadHeaderTimeout bounded them.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}

// sweepPeriod is how often a node of a cluster looks for abandoned agents:
// often enough that one is signed out at most a quarter of a grace period
// late.
func sweepPeriod(grace time.Duration) time.Duration {
	return max(grace/4, 250*time.Millisecond)
}

func loadDirectory(cfg config, log *zap.Logger) (*sim.Directory, error) {
	if cfg.agents == "" {
		log.Warn(`USING THE BUILT-IN DEMO DIRECTORY: anyone can sign in as the demo agents listed in the README section "Demo agents". Pass -agents FILE to use your own agents.`)
		return sim.DemoDirectory(), nil
	}
	dir, err := sim.LoadDirectoryFile(cfg.agents)
	if err != nil {
		return nil, fmt.Errorf("-agents: %w", err)
	}
	log.Info("agent directory loaded", zap.String("file", cfg.agents))
	return dir, nil
}

func loadScenario(cfg config, log *zap.Logger) (*sim.Scenario, error) {
	if cfg.simScenario == "" {
		return nil, nil
	}
	sc, err := sim.LoadScenarioFile(cfg.simScenario)
	if err != nil {
		return nil, fmt.Errorf("-sim-scenario: %w", err)
	}
	log.Info("simulator scenario loaded", zap.String("file", cfg.simScenario),
		zap.Int("calls", len(sc.Calls)), zap.Bool("loop", sc.Loop))
	return sc, nil
}

func loadApps(cfg config, log *zap.Logger) (*session.Apps, error) {
	if cfg.apps == "" {
		return nil, nil
	}
	apps, err := session.LoadAppsFile(cfg.apps)
	if err != nil {
		return nil, fmt.Errorf("-apps: %w", err)
	}
	log.Info("server-side apps loaded", zap.String("file", cfg.apps))
	return apps, nil
}

func newLogger(cfg config, out io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.logLevel)
	if err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	if cfg.logFormat == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(out), level)), nil
}

// hashPassword reads one password line from in and prints its bcrypt hash,
// for the passwordHash fields of an -agents file. The password is read from
// standard input, never from the command line, where other users could see it.
func hashPassword(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("hash-password: no password on standard input; try: printf '%s\\n' 'secret' | ctibus hash-password")
	}
	hash, err := sim.HashPassword(password)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, hash)
	return err
}
