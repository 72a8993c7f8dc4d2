package session

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// ErrBusy refuses a password check that could not start in time: every
// slot was taken and the queue was full, or the check waited longer than
// its bound. The caller answers Unavailable and the client retries.
var ErrBusy = errors.New("session: too many password checks in progress")

// Defaults of PasswordChecksConfig.
const (
	DefaultCheckQueue = 128
	DefaultCheckWait  = 5 * time.Second
)

// PasswordChecksConfig holds the bound on password checks; zero values
// select defaults.
type PasswordChecksConfig struct {
	// Concurrent is how many checks may run at once. Default: the number
	// of CPUs Go may use (GOMAXPROCS), since a bcrypt check keeps a CPU busy.
	Concurrent int
	// Queue is how many checks may wait for a free slot besides those
	// running; one more is refused at once. Default 128.
	Queue int
	// Wait is how long a check may wait for a slot before it is refused.
	// Default 5 s.
	Wait time.Duration
}

// PasswordChecks bounds the CPU that password checks (bcrypt, by design
// slow) can take, whoever asks for them: agents' passwords and app secrets
// alike, known names and unknown ones alike, so that a flood of made-up
// sign-ins waits in, or is refused by, the same queue as real ones, and
// cannot take every core.
type PasswordChecks struct {
	cfg     PasswordChecksConfig
	slots   chan struct{} // a token per running check
	tickets chan struct{} // a token per running or waiting check
}

// NewPasswordChecks returns the bound of cfg, defaults filled in.
func NewPasswordChecks(cfg PasswordChecksConfig) *PasswordChecks {
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = runtime.GOMAXPROCS(0)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultCheckQueue
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultCheckWait
	}
	return &PasswordChecks{
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.Concurrent),
		tickets: make(chan struct{}, cfg.Concurrent+cfg.Queue),
	}
}

// Config returns the bound's settings, defaults filled in.
func (p *PasswordChecks) Config() PasswordChecksConfig { return p.cfg }

// Do runs check once a slot is free, and returns its error. If the queue
// is full, or no slot frees up within the wait, it returns an error
// wrapping ErrBusy without running check; if ctx ends first, ctx's error.
func (p *PasswordChecks) Do(ctx context.Context, check func() error) error {
	select {
	case p.tickets <- struct{}{}:
	default:
		return fmt.Errorf("%w: %d running and %d waiting", ErrBusy, p.cfg.Concurrent, p.cfg.Queue)
	}
	defer func() { <-p.tickets }()

	wait := time.NewTimer(p.cfg.Wait)
	defer wait.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-wait.C:
		return fmt.Errorf("%w: no check finished within %s", ErrBusy, p.cfg.Wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	return check()
}
