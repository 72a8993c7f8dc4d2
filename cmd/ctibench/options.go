package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the flags.
type options struct {
	scenario    string
	addr        string        // host:port of the server, or of each node of a cluster, comma-separated
	pid         string        // the server's process ids, one per node, comma-separated; "" or "0" for none
	addrs       []string      // addr, split: the nodes
	pids        []int         // pid, split: the nodes' processes, in the order of addrs
	spawn       string        // a ctibus binary to start for each run
	serverArgs  string        // more flags for the spawned server
	runs        int           // runs of the scenario
	conns       int           // connections (connect, fanout subscribers, login agents, request connections)
	agents      int           // contact-center agents; agents in a written file
	apps        int           // contact-center apps per agent
	rate        float64       // fanout messages per second; 0 saturates
	size        int           // fanout message payload in bytes
	window      int           // saturated fanout: messages ahead of the slowest subscriber
	batch       bool          // fanout subscribers opt in to batched frames
	subscribe   bool          // connect: each connection registers and subscribes once open
	interval    time.Duration // contact-center: time between an agent's state changes
	duration    time.Duration // how long the measured phase lasts
	settle      time.Duration // connect: wait before reading the server's RSS
	concurrency int           // connections set up at once
	sources     int           // loopback source addresses to spread connections over
	bcryptCost  int           // cost of the hashes in a written agents file; 0 picks by scenario
	writeAgents string        // write an agents file and exit
	workers     int           // load processes, this one's children, that share the run
	args        []string      // the command line, which workers are given again
	json        bool
	quiet       bool
}

// target is the server under load: one node, or the nodes of a cluster
// behind what would be a load balancer.
type target struct {
	addrs []string // host:port of each node
	pids  []int    // each node's process, in the order of addrs; none to read no /proc
}

func (o options) target() target { return target{addrs: o.addrs, pids: o.pids} }

// scenarioNames lists the scenarios, in the order the usage gives them.
var scenarioNames = []string{"connect", "fanout", "login", "request", "contact-center"}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ctibench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", "connect", "`name`: "+strings.Join(scenarioNames, ", "))
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "server `host:port` (WebSocket at /ws); for a cluster, its nodes' comma-separated: connection i goes to node i mod N, as through a load balancer without sticky sessions")
	fs.StringVar(&o.pid, "pid", "", "the server's process `ids`, to report its CPU and RSS from /proc; for a cluster, one per node in the order of -addr, comma-separated: the sum and each node's")
	fs.StringVar(&o.spawn, "spawn", "", "`path` of a ctibus binary to start for each run, on a free loopback port, with an agents file and limits the scenario needs")
	fs.StringVar(&o.serverArgs, "server-args", "", "more `flags` for the spawned server, space-separated")
	fs.IntVar(&o.runs, "runs", 1, "runs of the scenario; with more than one, a last line gives the medians")
	fs.IntVar(&o.conns, "conns", 0, "connections: connect 1000, fanout subscribers 1000, login agents 100, request connections 1")
	fs.IntVar(&o.agents, "agents", 10_000, "contact-center agents, or agents in the file of -write-agents")
	fs.IntVar(&o.apps, "apps", 3, "contact-center apps (connections) per agent")
	fs.Float64Var(&o.rate, "rate", 100, "fanout messages per second from the publisher; 0 publishes as fast as the slowest subscriber allows")
	fs.IntVar(&o.size, "size", 200, "fanout message payload in `bytes`")
	fs.IntVar(&o.window, "window", 100, "saturated fanout: messages the publisher may be ahead of the slowest subscriber (keep it under the server's -send-queue)")
	fs.BoolVar(&o.batch, "batch", false, `fanout subscribers register with "batch": true, receiving several envelopes per frame`)
	fs.BoolVar(&o.subscribe, "subscribe", false, "connect: each connection registers and subscribes to a pattern once open, timed with its setup")
	fs.DurationVar(&o.interval, "interval", 5*time.Second, "contact-center: time between two state changes of one agent")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of the measured phase")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "connect: wait after the last connection before reading the server's RSS")
	fs.IntVar(&o.concurrency, "concurrency", 64, "connections and sign-ins set up at once")
	fs.IntVar(&o.sources, "sources", 8, "loopback source addresses (127.0.0.2 and up) to spread connections over, 28,000 ephemeral ports each")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 0, "bcrypt cost of the agents file written for -spawn or -write-agents; 0: 10 (the default of ctibus hash-password) for login, 4 otherwise")
	fs.StringVar(&o.writeAgents, "write-agents", "", "write an agents `file` of -agents agents (password "+benchPassword+") and exit")
	fs.IntVar(&o.workers, "workers", 1, "load `processes` to run the scenario's connections in, this tool started again, with the results merged into one: for more connections than one process may open (contact-center, connect, login and request)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per run instead of key=value lines")
	fs.BoolVar(&o.quiet, "quiet", false, "print no readable summary")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: ctibench -scenario NAME [flags]\n"+
			"       ctibench -scenario NAME -addr HOST:PORT,HOST:PORT,... [-pid PID,PID,...] [flags]   (a cluster: connections round-robin over the nodes)\n"+
			"       ctibench -write-agents FILE -agents N [-bcrypt-cost C]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.args = args
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q; see ctibench -h", fs.Arg(0))
	}
	if o.conns == 0 {
		o.conns = map[string]int{"connect": 1000, "fanout": 1000, "login": 100, "request": 1}[o.scenario]
	}
	o.addrs = strings.Split(o.addr, ",")
	var err error
	if o.pids, err = parsePids(o.pid); err != nil {
		return o, err
	}
	return o, o.validate()
}

// parsePids reads -pid: process ids, comma-separated. A lone 0, like
// none, reads no process.
func parsePids(s string) ([]int, error) {
	if s == "" || s == "0" {
		return nil, nil
	}
	var pids []int
	for field := range strings.SplitSeq(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || pid < 1 {
			return nil, fmt.Errorf("-pid %q: want process ids, comma-separated", s)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func (o options) validate() error {
	var errs []error
	if o.writeAgents == "" && !slices.Contains(scenarioNames, o.scenario) {
		errs = append(errs, fmt.Errorf("-scenario %q: want one of %s", o.scenario, strings.Join(scenarioNames, ", ")))
	}
	if o.runs < 1 || o.concurrency < 1 || o.sources < 0 || o.agents < 1 || o.apps < 1 {
		errs = append(errs, errors.New("-runs, -concurrency, -agents and -apps must be positive"))
	}
	if o.conns < 1 && o.scenario != "contact-center" {
		errs = append(errs, errors.New("-conns must be positive"))
	}
	if o.rate < 0 || o.window < 1 || o.size < 32 {
		errs = append(errs, errors.New("-rate must be 0 or more, -window positive, -size at least 32"))
	}
	if o.duration <= 0 || o.interval <= 0 {
		errs = append(errs, errors.New("-duration and -interval must be positive"))
	}
	if o.bcryptCost != 0 && (o.bcryptCost < 4 || o.bcryptCost > 31) {
		errs = append(errs, errors.New("-bcrypt-cost must be 4 to 31"))
	}
	if len(o.pids) > 0 && o.spawn != "" {
		errs = append(errs, errors.New("-pid and -spawn exclude each other: a spawned server's process is known"))
	}
	if len(o.addrs) > 1 && o.spawn != "" {
		errs = append(errs, errors.New("-spawn starts one node: give the nodes of a running cluster with -addr instead"))
	}
	if o.workers < 1 || o.workers > max(o.units(), 1) {
		errs = append(errs, fmt.Errorf("-workers %d: want 1 to %d, one %s per worker at least", o.workers, o.units(), o.unitName()))
	}
	if o.workers > 1 && o.scenario == "fanout" {
		errs = append(errs, errors.New("-workers: fanout runs in one process, where every subscriber checks the one publisher's sequence numbers"))
	}
	if len(o.pids) > 0 && len(o.pids) != len(o.addrs) {
		errs = append(errs, fmt.Errorf("-pid gives %d process ids for %d nodes in -addr: want one per node", len(o.pids), len(o.addrs)))
	}
	for _, addr := range o.addrs {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("-addr %q: %w", addr, err))
		}
	}
	return errors.Join(errs...)
}

// cost is the bcrypt cost of a written agents file.
func (o options) cost() int {
	switch {
	case o.bcryptCost != 0:
		return o.bcryptCost
	case o.scenario == "login" && o.writeAgents == "":
		return 10
	default:
		return 4
	}
}

// agentsNeeded is how many agents a scenario signs in.
func (o options) agentsNeeded() int {
	switch o.scenario {
	case "contact-center":
		return o.agents
	case "login", "request":
		return o.conns
	default:
		return 1
	}
}

// units is how many units a run of the scenario has, which -workers
// shares out: agents in the contact center, each with all its apps;
// connections otherwise.
func (o options) units() int {
	if o.scenario == "contact-center" {
		return o.agents
	}
	return o.conns
}

func (o options) unitName() string {
	if o.scenario == "contact-center" {
		return "agent"
	}
	return "connection"
}

// connsPerUnit is how many connections a unit opens: an agent's apps, or
// one.
func (o options) connsPerUnit() int {
	if o.scenario == "contact-center" {
		return o.apps
	}
	return 1
}

// connsPer is how many connections a scenario opens for units units.
func (o options) connsPer(units int) int {
	if o.scenario == "fanout" {
		return units + 1 // the subscribers and the publisher
	}
	return units * o.connsPerUnit()
}
