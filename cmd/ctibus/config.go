package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/kvstore"
	"github.com/ctibus/ctibus/session"
)

// config is everything the flags set.
type config struct {
	addr             string
	allowedOrigins   string
	publicOrigin     string
	readLimit        int64
	sendQueue        int
	sendQueueBytes   int
	maxChannels      int
	registerTimeout  time.Duration
	rateBytes        float64
	rateBytesBurst   int
	httpIdleTimeout  time.Duration
	pprofAddr        string // Go's profiling endpoints; "" for none
	httpReadTimeout  time.Duration
	maxConnections   int
	maxSubscriptions int
	drainTimeout     time.Duration
	agents           string
	lockoutAttempts  int
	lockoutDuration  time.Duration
	gracePeriod      time.Duration
	apps             string
	tokenTTL         time.Duration
	tokensPerAgent   int
	jwtMaxLifetime   time.Duration
	rateLimit        float64
	rateBurst        int
	maxConnsPerIP    int
	loginsPerIP      int
	passwordChecks   int
	checkQueue       int
	checkWait        time.Duration
	trustedProxies   string
	logLevel         string
	logFormat        string
	simAnswerDelay   time.Duration
	simRingTimeout   time.Duration
	simScenario      string
	simOnDisconnect  string // "not-ready" or "logout": CCE's logout on agent disconnect
	nats             string
	natsEmbedded     bool
	natsListen       string
	natsCreds        string
	natsTokenFile    string
	natsStore        string
	natsPrefix       string
	natsLease        time.Duration
	node             string

	cti               string   // "simulator" or "finesse"
	finesseURL        string   // REST base URL of each side, side A first
	finesseXMPPURL    string   // XMPP over WebSocket of each side, same order
	finesseCA         string   // PEM file of the CAs trusted for REST and XMPP
	finesseAdmin      string   // optional administrator username
	finesseAdminFile  string   // file holding its password
	simulatorFlagsSet []string // the simulator's flags given, refused with -cti finesse
}

// clustered reports whether the node shares its bus and state through NATS.
func (c config) clustered() bool { return c.nats != "" || c.natsEmbedded }

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	bus := broker.DefaultConfig()
	fs := flag.NewFlagSet("ctibus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`address` to listen on; WebSocket at /ws, the test page at /")
	fs.StringVar(&c.allowedOrigins, "allowed-origins", "", "comma-separated `origins` (scheme://host[:port]) of other sites whose pages may connect and call the HTTP APIs; * allows any")
	fs.StringVar(&c.publicOrigin, "public-origin", "", "comma-separated `origins` at which browsers reach this server (https://ctibus.example.com), whose pages may connect; on a loopback -addr, loopback pages of its port may too")
	fs.Int64Var(&c.readLimit, "read-limit", bus.ReadLimit, "largest frame accepted, in `bytes`; a larger one closes the connection with 1009")
	fs.IntVar(&c.sendQueue, "send-queue", bus.SendQueue, "`frames` that may wait for a slow client before it is disconnected with 4008")
	fs.IntVar(&c.sendQueueBytes, "send-queue-bytes", bus.SendQueueBytes, "`bytes` that may wait for a slow client (the frames being written included) before it is disconnected with 4008")
	fs.IntVar(&c.maxChannels, "max-channels", bus.MaxChannels, "channels one connection may be registered on")
	fs.DurationVar(&c.registerTimeout, "register-timeout", bus.RegisterTimeout, "how long a connection may stay open without registering before it is closed with 4408")
	fs.DurationVar(&c.httpIdleTimeout, "http-idle-timeout", 60*time.Second, "how long an idle keep-alive HTTP connection is kept open")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "`address` to serve Go's profiling endpoints on (/debug/pprof/), such as 127.0.0.1:6060; off when empty. Keep it on loopback: it shows the program's internals")
	fs.DurationVar(&c.httpReadTimeout, "http-read-timeout", 10*time.Second, "how long a client may take to send an HTTP request to the API, body included (not the WebSocket, which stays open)")
	fs.IntVar(&c.maxConnections, "max-connections", bus.MaxConnections, "open WebSocket connections at most; more get HTTP 503")
	fs.IntVar(&c.maxSubscriptions, "max-subscriptions", bus.MaxSubscriptions, "subscriptions one connection may hold")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take before connections are dropped")
	fs.StringVar(&c.agents, "agents", "", "JSON agent directory `file` (bcrypt password hashes; see ctibus hash-password); empty uses the built-in demo agents")
	fs.IntVar(&c.lockoutAttempts, "lockout-attempts", session.DefaultLockoutAttempts, "consecutive failed sign-ins that lock an account")
	fs.DurationVar(&c.lockoutDuration, "lockout-duration", session.DefaultLockoutDuration, "how long a locked account stays locked")
	fs.DurationVar(&c.gracePeriod, "grace-period", session.DefaultGrace, "how long an agent stays signed in after its last connection closes")
	fs.StringVar(&c.apps, "apps", "", "JSON `file` of server-side apps: their credentials (bcrypt secret hash or JWT key) and grants; empty allows none")
	fs.DurationVar(&c.tokenTTL, "token-ttl", session.DefaultTokenTTL, "how long a workspace token lets an agent's other apps join its workspace")
	fs.DurationVar(&c.jwtMaxLifetime, "jwt-max-lifetime", session.DefaultJWTMaxLifetime, "longest an app's JWT may live (exp after iat, and after now); a longer-lived one is refused")
	fs.IntVar(&c.tokensPerAgent, "tokens-per-agent", session.DefaultTokensPerAgent, "workspace tokens of one agent that admit apps at once; each sign-in displaces the oldest beyond it")
	fs.Float64Var(&c.rateLimit, "rate-limit", bus.RateLimit, "`frames` per second one connection may send on average; more are refused, and twice as many for a second closes it with 4029")
	fs.IntVar(&c.rateBurst, "rate-burst", bus.RateBurst, "`frames` one connection may send in a burst above -rate-limit")
	fs.Float64Var(&c.rateBytes, "rate-limit-bytes", bus.RateBytes, "`bytes` per second one connection may send on average; more are refused, and twice as many for a second closes it with 4029")
	fs.IntVar(&c.rateBytesBurst, "rate-burst-bytes", bus.RateBytesBurst, "`bytes` one connection may send in a burst above -rate-limit-bytes; at least -read-limit")
	fs.IntVar(&c.maxConnsPerIP, "max-connections-per-ip", bus.MaxConnectionsPerIP, "connections one client address may open; 0 for no cap (the default fits a floor of 500 agents with several apps each behind one NAT address)")
	fs.IntVar(&c.loginsPerIP, "login-attempts-per-ip", session.DefaultLoginAttemptsPerIP, "sign-in attempts one client address may make per minute; 0 for no cap (the default fits a floor of 500 agents signing in at once behind one NAT address)")
	fs.IntVar(&c.passwordChecks, "password-checks", 0, "password and app-secret checks (bcrypt) that may run at once; 0 for the number of CPUs")
	fs.IntVar(&c.checkQueue, "password-check-queue", session.DefaultCheckQueue, "password checks that may wait for a free slot; more are refused at once with Unavailable")
	fs.DurationVar(&c.checkWait, "password-check-wait", session.DefaultCheckWait, "how long a password check may wait for a free slot before it is refused with Unavailable")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated proxy `addresses or CIDRs` whose X-Forwarded-For names the client")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "json", "log `format`: json or console")
	fs.DurationVar(&c.simAnswerDelay, "sim-answer-delay", sim.DefaultAnswerDelay, "simulator: how long a number outside rings before it answers")
	fs.DurationVar(&c.simRingTimeout, "sim-ring-timeout", sim.DefaultRingTimeout, "simulator: how long a phone rings unanswered before the ringing stops")
	fs.StringVar(&c.simOnDisconnect, "sim-on-disconnect", "not-ready", "simulator: what the contact center does with an agent whose desktop stays closed past the grace period: not-ready (CCE's default) or logout")
	fs.StringVar(&c.simScenario, "sim-scenario", "", "simulator: JSON `file` of incoming and campaign calls to play (a timed list, optionally looped) for demos and load tests")

	fs.StringVar(&c.nats, "nats", "", "NATS server `URLs` (comma-separated, with JetStream) to share the bus, sign-ins and lockouts with other ctibus nodes; empty runs this node alone")
	fs.BoolVar(&c.natsEmbedded, "nats-embedded", false, "run a NATS server with JetStream inside this node: alone, for persistence; with -nats-listen, for a quick local cluster whose other nodes join with -nats nats://<-nats-listen> -nats-token-file")
	fs.StringVar(&c.natsListen, "nats-listen", "", "with -nats-embedded: `address` where the embedded NATS server accepts other nodes (they authenticate with -nats-token-file); empty serves this node alone, without listening")
	fs.StringVar(&c.natsCreds, "nats-creds", "", "NATS credentials `file` (user JWT and nkey seed) this node authenticates to -nats with")
	fs.StringVar(&c.natsTokenFile, "nats-token-file", "", "`file` of the token nodes present to an embedded NATS server: -nats-embedded with -nats-listen reads it, or creates it (default nats-token in -nats-store); a node joining it with -nats reads it")
	fs.StringVar(&c.natsStore, "nats-store", "ctibus-data", "with -nats-embedded: `directory` where the embedded NATS server keeps JetStream's data")
	fs.StringVar(&c.natsPrefix, "nats-prefix", simcluster.DefaultPrefix, "`name` of this cluster in NATS: the subjects' first token and the buckets' prefix; clusters sharing a NATS server need different ones")
	fs.DurationVar(&c.natsLease, "nats-lease", simcluster.DefaultLeaseTTL, "how long the node hosting the contact center may go silent before another takes over: the longest failover; with -cti finesse, how long a node may go silent before the others sign its agents out")
	fs.StringVar(&c.node, "node", "", "`name` of this node in the cluster (1 to 32 letters, digits, - or _); empty picks the host name and a random suffix")

	fs.StringVar(&c.cti, "cti", "simulator", "the contact center: `simulator` (the embedded Finesse simulator) or finesse (a real Cisco Finesse, see -finesse-url)")
	fs.StringVar(&c.finesseURL, "finesse-url", "", "with -cti finesse: REST base `URLs` of each Finesse side, comma-separated, side A first: https://finesse-a.example.com:8445,https://finesse-b.example.com:8445")
	fs.StringVar(&c.finesseXMPPURL, "finesse-xmpp-url", "", "with -cti finesse: XMPP over WebSocket `URLs` of each side, same order; default wss://<host of that side's -finesse-url>:7443/ws/")
	fs.StringVar(&c.finesseCA, "finesse-ca", "", "with -cti finesse: PEM `file` of the CAs trusted for Finesse's REST and XMPP (Finesse ships self-signed certificates); empty trusts the system's roots. TLS is always verified")
	fs.StringVar(&c.finesseAdmin, "finesse-admin", "", "with -cti finesse, optional: `username` of a Finesse administrator that reads what agents may not (other agents, teams); its password is read from -finesse-admin-password-file")
	fs.StringVar(&c.finesseAdminFile, "finesse-admin-password-file", "", "with -finesse-admin: `file` holding the administrator's password")

	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (env " + envName(f.Name) + ")" })
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: ctibus [flags]\n       ctibus hash-password < password\n\nFlags (a flag on the command line wins over its environment variable):\n")
		fs.PrintDefaults()
	}

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("environment %s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q; see ctibus -h", fs.Arg(0))
	}
	lockoutSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "agents" || strings.HasPrefix(f.Name, "sim-") {
			c.simulatorFlagsSet = append(c.simulatorFlagsSet, "-"+f.Name)
		}
		lockoutSet = lockoutSet || f.Name == "lockout-attempts"
	})
	if c.finesse() && !lockoutSet {
		// Finesse blocks an account after five wrong passwords in a row:
		// ctibus locks first, so that it never locks a real account.
		c.lockoutAttempts = maxFinesseLockoutAttempts
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	positive := []struct {
		name  string
		value int64
	}{
		{"read-limit", c.readLimit}, {"send-queue", int64(c.sendQueue)}, {"max-connections", int64(c.maxConnections)},
		{"max-subscriptions", int64(c.maxSubscriptions)}, {"lockout-attempts", int64(c.lockoutAttempts)},
		{"drain-timeout", int64(c.drainTimeout)}, {"lockout-duration", int64(c.lockoutDuration)}, {"grace-period", int64(c.gracePeriod)},
		{"token-ttl", int64(c.tokenTTL)}, {"rate-burst", int64(c.rateBurst)},
		{"password-check-queue", int64(c.checkQueue)}, {"tokens-per-agent", int64(c.tokensPerAgent)},
		{"jwt-max-lifetime", int64(c.jwtMaxLifetime)}, {"password-check-wait", int64(c.checkWait)},
		{"send-queue-bytes", int64(c.sendQueueBytes)}, {"max-channels", int64(c.maxChannels)}, {"register-timeout", int64(c.registerTimeout)},
		{"rate-burst-bytes", int64(c.rateBytesBurst)}, {"http-idle-timeout", int64(c.httpIdleTimeout)}, {"http-read-timeout", int64(c.httpReadTimeout)},
		{"sim-answer-delay", int64(c.simAnswerDelay)}, {"nats-lease", int64(c.natsLease)}, {"sim-ring-timeout", int64(c.simRingTimeout)},
	}
	for _, p := range positive {
		if p.value <= 0 {
			errs = append(errs, fmt.Errorf("-%s must be positive", p.name))
		}
	}
	if c.sendQueue < 16 {
		errs = append(errs, errors.New("-send-queue must be at least 16: a sign-in alone queues 16 frames for the signing-in connection (15 events and the workspace token)"))
	}
	if c.simOnDisconnect != "not-ready" && c.simOnDisconnect != "logout" {
		errs = append(errs, fmt.Errorf("-sim-on-disconnect %q: use not-ready or logout", c.simOnDisconnect))
	}
	if c.rateLimit <= 0 {
		errs = append(errs, errors.New("-rate-limit must be positive"))
	}
	if c.checkWait > maxCheckWait {
		errs = append(errs, fmt.Errorf("-password-check-wait must be at most %s: a sign-in holds its try of the lockout while it waits, for 30 s at most", maxCheckWait))
	}
	if c.passwordChecks < 0 {
		errs = append(errs, errors.New("-password-checks must be 0 (the number of CPUs) or more"))
	}
	if c.rateBytes <= 0 {
		errs = append(errs, errors.New("-rate-limit-bytes must be positive"))
	}
	if int64(c.rateBytesBurst) < c.readLimit {
		errs = append(errs, errors.New("-rate-burst-bytes must be at least -read-limit, or the largest frame could never pass"))
	}
	if c.maxConnsPerIP < 0 || c.loginsPerIP < 0 {
		errs = append(errs, errors.New("-max-connections-per-ip and -login-attempts-per-ip must be 0 (no cap) or more"))
	}
	errs = append(errs, c.checkOrigins()...)
	if _, err := c.proxies(); err != nil {
		errs = append(errs, err)
	}
	if err := kvstore.CheckName(c.natsPrefix); err != nil {
		errs = append(errs, fmt.Errorf("-nats-prefix: %w", err))
	}
	if c.node != "" {
		if err := kvstore.CheckName(c.node); err != nil {
			errs = append(errs, fmt.Errorf("-node: %w", err))
		}
	}
	if c.natsEmbedded && c.nats != "" {
		errs = append(errs, errors.New("-nats and -nats-embedded exclude each other: a node either runs the NATS server or joins one"))
	}
	errs = append(errs, c.checkNATSAuth()...)
	if c.natsEmbedded && c.natsListen != "" {
		if _, _, err := net.SplitHostPort(c.natsListen); err != nil {
			errs = append(errs, fmt.Errorf("-nats-listen %q: want host:port", c.natsListen))
		}
	}
	errs = append(errs, c.checkFinesse()...)
	if c.logFormat != "json" && c.logFormat != "console" {
		errs = append(errs, fmt.Errorf("-log-format %q: want json or console", c.logFormat))
	}
	return errors.Join(errs...)
}

// maxCheckWait bounds -password-check-wait well under the 30 s for which
// the lockout keeps an attempt's try reserved: a try that timed out while
// its password waited would let one more password be checked.
const maxCheckWait = 20 * time.Second

// proxies parses -trusted-proxies: addresses or CIDR prefixes.
func (c config) proxies() ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range splitList(c.trustedProxies) {
		if p, err := netip.ParsePrefix(item); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxies: %q is neither an address nor a CIDR prefix", item)
		}
		prefixes = append(prefixes, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return prefixes, nil
}

func splitList(s string) []string {
	var list []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

// envName is a flag's environment twin: -lockout-attempts is CTIBUS_LOCKOUT_ATTEMPTS.
func envName(flagName string) string {
	return "CTIBUS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// maxFinesseLockoutAttempts is -lockout-attempts at most with Finesse,
// which blocks an account at its fifth wrong password in a row.
const maxFinesseLockoutAttempts = 4

// finesse reports whether the contact center is a real Cisco Finesse.
func (c config) finesse() bool { return c.cti == "finesse" }

// checkFinesse checks -cti and the Finesse flags.
func (c config) checkFinesse() []error {
	var errs []error
	switch c.cti {
	case "simulator":
		if c.finesseURL != "" || c.finesseXMPPURL != "" || c.finesseCA != "" || c.finesseAdmin != "" {
			errs = append(errs, errors.New("the -finesse-* flags need -cti finesse; without it ctibus runs the simulator"))
		}
		return errs
	case "finesse":
	default:
		return []error{fmt.Errorf("-cti %q: use simulator or finesse", c.cti)}
	}
	if c.finesseURL == "" {
		errs = append(errs, errors.New("-cti finesse needs -finesse-url: the REST URL of each Finesse side, comma-separated, side A first (https://finesse-a.example.com:8445,https://finesse-b.example.com:8445)"))
	}
	if n, m := len(splitList(c.finesseURL)), len(splitList(c.finesseXMPPURL)); m > 0 && m != n {
		errs = append(errs, fmt.Errorf("-finesse-xmpp-url names %d sides and -finesse-url %d: give one XMPP URL per side, in the same order, or none for the defaults", m, n))
	}
	if len(splitList(c.finesseURL)) > 2 {
		errs = append(errs, errors.New("-finesse-url: a Finesse cluster has two sides at most, side A then side B"))
	}
	if (c.finesseAdmin == "") != (c.finesseAdminFile == "") {
		errs = append(errs, errors.New("-finesse-admin and -finesse-admin-password-file go together"))
	}
	if c.lockoutAttempts > maxFinesseLockoutAttempts {
		errs = append(errs, fmt.Errorf("-lockout-attempts must be at most %d with -cti finesse: Finesse blocks an account for 5 minutes after 5 wrong passwords, and ctibus must lock first", maxFinesseLockoutAttempts))
	}
	if len(c.simulatorFlagsSet) > 0 {
		errs = append(errs, fmt.Errorf("%s: the simulator's options make no sense with -cti finesse, where agents sign in with their Finesse accounts and calls come from phones; remove them",
			strings.Join(c.simulatorFlagsSet, ", ")))
	}
	return errs
}
