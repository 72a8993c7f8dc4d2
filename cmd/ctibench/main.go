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
// With -workers N, the connections are shared out over N processes, this
// program started again, whose results merge into one: a run may then hold
// more connections than one process may open (see workers.go).
//
// Usage:
//
//	ctibench -scenario connect -conns 10000 -pid $(pidof ctibus)
//	ctibench -scenario fanout -addr 10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080
//	ctibench -scenario fanout -spawn /tmp/ctibus -conns 1000 -rate 100
//	ctibench -scenario login -spawn /tmp/ctibus -conns 200
//	ctibench -scenario request -spawn /tmp/ctibus -conns 1
//	ctibench -scenario contact-center -spawn /tmp/ctibus -agents 6500 -apps 3
//	ctibench -scenario contact-center -addr 127.0.0.1:18081,127.0.0.1:18082 -agents 20000 -workers 4
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

func main() { os.Exit(mainExit()) }

// mainExit runs the program, or with workerEnv set one worker of another's
// -workers, and returns its exit code.
func mainExit() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if share, ok := os.LookupEnv(workerEnv); ok {
		err = runWorker(ctx, share, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctibench:", err)
		return 1
	}
	return 0
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
	load1 := loadAverage()
	var res Result
	var err error
	if opts.workers > 1 {
		res, err = runWorkers(ctx, opts, target, log)
	} else {
		res, err = runAlone(ctx, opts, target, scenario, log)
	}
	if err != nil {
		return Result{}, err
	}
	// Other work on the machine skews every number: say how busy it was.
	res.set("load1_before", load1)
	return res, nil
}

// runAlone runs the scenario in this process.
func runAlone(ctx context.Context, opts options, tg target, scenario scenarioFunc, log io.Writer) (Result, error) {
	l, err := newLoad(opts, tg, 0, opts.units())
	if err != nil {
		return Result{}, err
	}
	defer l.close()
	return scenario(ctx, l, log)
}
