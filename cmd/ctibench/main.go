// Command ctibench is a load generator that speaks the ctibus protocol. It
// drives a running server (or one it starts with -spawn) through one
// scenario, bounded in time and count, and prints one result line per run
// in a stable key=value format, a readable summary, or with -json one JSON
// object per run.
//
// Against a cluster, -addr lists the nodes and connection i goes to node
// i mod N, as through a load balancer without sticky sessions; the result
// adds nodes=N, the share of deliveries that crossed from one node to
// another (crossed, crossed_pct) where a scenario has one, and with -pid
// (one id per node) each node's CPU and RSS besides their sum.
//
// Usage:
//
//	ctibench -scenario connect -conns 10000 -pid $(pidof ctibus)
//	ctibench -scenario fanout -addr 10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080
//	ctibench -scenario fanout -spawn /tmp/ctibus -conns 1000 -rate 100
//	ctibench -scenario login -spawn /tmp/ctibus -conns 200
//	ctibench -scenario request -spawn /tmp/ctibus -conns 1
//	ctibench -scenario contact-center -spawn /tmp/ctibus -agents 6500 -apps 3
//	ctibench -write-agents agents.json -agents 10000 -bcrypt-cost 4
//
// Scenarios are described in docs/performance.md, with the results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctibench:", err)
		os.Exit(1)
	}
}

// run is the whole program, minus the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if opts.writeAgents != "" {
		return writeAgentsFile(opts.writeAgents, opts.agents, opts.cost())
	}
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "ctibench: warning:", err)
	}
	var results []Result
	for i := range opts.runs {
		res, err := runOnce(ctx, opts, stderr)
		if err != nil {
			return fmt.Errorf("%s run %d: %w", opts.scenario, i+1, err)
		}
		res.set("run", i+1)
		results = append(results, res)
		if err := res.print(stdout, opts.json); err != nil {
			return err
		}
		if !opts.json && !opts.quiet {
			res.summary(stderr)
		}
	}
	if len(results) > 1 {
		med := median(results)
		med.set("run", "median")
		return med.print(stdout, opts.json)
	}
	return nil
}

// runOnce runs the scenario once, against a server it starts if asked.
func runOnce(ctx context.Context, opts options, log io.Writer) (Result, error) {
	target := opts.target()
	if opts.spawn != "" {
		srv, err := spawn(ctx, opts, log)
		if err != nil {
			return Result{}, err
		}
		defer srv.stop()
		target.addrs, target.pids = []string{srv.addr}, []int{srv.pid}
	}
	scenario, ok := scenarios[opts.scenario]
	if !ok {
		return Result{}, fmt.Errorf("unknown scenario %q", opts.scenario)
	}
	l, err := newLoad(opts, target, opts.connsNeeded())
	if err != nil {
		return Result{}, err
	}
	defer l.close()
	load1 := loadAverage()
	res, err := scenario(ctx, l, log)
	if err != nil {
		return Result{}, err
	}
	// Other work on the machine skews every number: say how busy it was.
	res.set("load1_before", load1)
	return res, nil
}
