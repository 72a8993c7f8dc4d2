// Command ctibus runs the CTI message bus: a WebSocket broker with the Cisco
// channel backed by the embedded Finesse simulator, or with -cti finesse by a
// real Cisco Finesse.
//
// Usage:
//
//	ctibus [flags]              serve
//	ctibus hash-password        read a password on standard input, print its bcrypt hash
//
// Every flag has an environment twin: -addr is CTIBUS_ADDR, -lockout-attempts
// is CTIBUS_LOCKOUT_ATTEMPTS, and so on. A flag on the command line wins.
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctibus:", err)
		os.Exit(1)
	}
}

// run is the whole program, minus the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(stdin, stdout)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the usage
	}
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr)
}
