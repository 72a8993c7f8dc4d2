// Package handlerstest wires the Cisco channel's handlers and their
// desktops onto a broker for tests, as cmd/ctibus wires them, so that the
// tests of several packages build the same server.
package handlerstest

import (
	"testing"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/handlers"
	"github.com/ctibus/ctibus/session"
)

// Config holds the settings of what Wire builds; zero values select the
// defaults of each.
type Config struct {
	Cisco    handlers.Config        // the Cisco handlers'
	Desktops session.DesktopsConfig // the desktops', tokens' and apps'
	Lockout  session.LockoutConfig  // the agents' sign-in lockout's
}

// Wire serves the Cisco channel over cti on bus: the desktops of its
// agents (session.Desktops over handlers.Channel) and its handlers, both
// registered. The desktops close when the test ends, after the cleanups
// registered later than Wire, such as the bus's shutdown.
func Wire(tb testing.TB, bus *broker.Broker, cti cisco.Connector, log *zap.Logger, cfg Config) (*handlers.Cisco, *session.Desktops) {
	tb.Helper()
	desktops := session.NewDesktops(bus, handlers.NewChannel(cti, log), log, cfg.Desktops)
	h := handlers.NewCisco(bus, cti, desktops, session.NewLockout(cfg.Lockout), log, cfg.Cisco)
	desktops.Register()
	h.Register()
	tb.Cleanup(desktops.Close)
	return h, desktops
}
