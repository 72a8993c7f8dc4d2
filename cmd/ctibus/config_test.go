package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/natsbus"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/kvstore"
	"github.com/ctibus/ctibus/session"
)

// TestFlagDefaultsAreThePackagesDefaults pins each flag's default to the
// exported default of the package that uses it, so that ctibus -h and a
// library user cannot drift apart.
func TestFlagDefaultsAreThePackagesDefaults(t *testing.T) {
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	bus := broker.DefaultConfig()
	tests := []struct {
		flag      string
		got, want any
	}{
		{"read-limit", c.readLimit, bus.ReadLimit},
		{"send-queue", c.sendQueue, bus.SendQueue},
		{"send-queue-bytes", c.sendQueueBytes, bus.SendQueueBytes},
		{"max-channels", c.maxChannels, bus.MaxChannels},
		{"register-timeout", c.registerTimeout, bus.RegisterTimeout},
		{"max-connections", c.maxConnections, bus.MaxConnections},
		{"max-subscriptions", c.maxSubscriptions, bus.MaxSubscriptions},
		{"rate-limit", c.rateLimit, bus.RateLimit},
		{"rate-burst", c.rateBurst, bus.RateBurst},
		{"rate-limit-bytes", c.rateBytes, bus.RateBytes},
		{"rate-burst-bytes", c.rateBytesBurst, bus.RateBytesBurst},
		{"max-connections-per-ip", c.maxConnsPerIP, bus.MaxConnectionsPerIP},
		{"lockout-attempts", c.lockoutAttempts, session.DefaultLockoutAttempts},
		{"lockout-duration", c.lockoutDuration, session.DefaultLockoutDuration},
		{"grace-period", c.gracePeriod, session.DefaultGrace},
		{"token-ttl", c.tokenTTL, session.DefaultTokenTTL},
		{"tokens-per-agent", c.tokensPerAgent, session.DefaultTokensPerAgent},
		{"jwt-max-lifetime", c.jwtMaxLifetime, session.DefaultJWTMaxLifetime},
		{"login-attempts-per-ip", c.loginsPerIP, session.DefaultLoginAttemptsPerIP},
		{"password-checks", c.passwordChecks, session.PasswordChecksConfig{}.Concurrent},
		{"password-check-queue", c.checkQueue, session.DefaultCheckQueue},
		{"password-check-wait", c.checkWait, session.DefaultCheckWait},
		{"sim-answer-delay", c.simAnswerDelay, sim.DefaultAnswerDelay},
		{"sim-ring-timeout", c.simRingTimeout, sim.DefaultRingTimeout},
		{"sim-on-disconnect", c.simOnDisconnect == "logout", sim.Config{}.LogoutOnDisconnect},
		{"nats-prefix", c.natsPrefix, simcluster.DefaultPrefix},
		{"nats-prefix", c.natsPrefix, natsbus.DefaultPrefix},
		{"nats-lease", c.natsLease, simcluster.DefaultLeaseTTL},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, "-%s", tt.flag)
	}
}

func TestNodeNameFromAnyHostIsAValidName(t *testing.T) {
	for _, host := range []string{"web-1.example.com", "", "ünïcode", "a_very_long_host_name_that_goes_on.example.com", "..."} {
		name := nodeName(host)
		assert.NoError(t, kvstore.CheckName(name), "host %q", host)
		assert.NotEqual(t, name, nodeName(host), "two nodes on host %q get two names", host)
	}
}
