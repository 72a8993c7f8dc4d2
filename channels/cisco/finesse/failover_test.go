package finesse_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

// herdSize agents fail over together in TestHerdFailover.
const herdSize = 200

func TestHerdFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("200 agents failing over: not in -short")
	}
	s, accounts := herd(t, herdSize)
	p := startPair(t, finessetest.PairConfig{Sim: s, Accounts: accounts})
	leaks := goleak.IgnoreCurrent()
	const bound = 8
	c := connect(t, p, options{quiet: true, config: func(cfg *finesse.Config) { cfg.FailoverConcurrency = bound }})
	signInAll(t, c, accounts)
	require.False(t, t.Failed())

	var mu sync.Mutex
	onB := map[string]bool{}
	all := make(chan struct{})
	defer p.XMPP.OnPresence(finessetest.DomainB, func(pr prosodytest.Presence) {
		mu.Lock()
		defer mu.Unlock()
		if pr.Available && !onB[pr.User] {
			onB[pr.User] = true
			if len(onB) == herdSize {
				close(all)
			}
		}
	})()
	p.A.Down()
	waitFor(t, all, "every agent signed in on side B")
	logins := p.B.MaxConcurrent("LOGIN")
	assert.LessOrEqual(t, logins, bound, "at most the bound of sign-ins on side B at once")
	assert.Positive(t, logins)
	for _, a := range accounts[:3] {
		_, err := c.SetState(testContext(t), a.LoginID, cisco.StateReady, "")
		assert.NoError(t, err, "%s works through side B", a.LoginID)
	}
	require.NoError(t, c.Close())
	goleak.VerifyNone(t, leaks)
}

// herd returns a contact center of n agents, herd0 to herd<n-1> of team
// 5004, and their accounts on extensions 40000 and up.
func herd(tb testing.TB, n int) (*sim.Simulator, []ciscotest.Account) {
	var agents []ciscotest.Agent
	var accounts []ciscotest.Account
	for i := range n {
		a := ciscotest.Agent{LoginID: fmt.Sprint(300000 + i), LoginName: fmt.Sprintf("herd%d", i), Password: fmt.Sprintf("pw-%d", i), TeamID: "5004"}
		agents = append(agents, a)
		accounts = append(accounts, ciscotest.Account{LoginID: a.LoginID, LoginName: a.LoginName, Password: a.Password, Extension: fmt.Sprint(40000 + i)})
	}
	return sim.New(ciscotest.NewDirectory(tb, agents...), sim.Config{AfterFunc: ciscotest.NoTimers, LogoutOnDisconnect: true}), accounts
}

// signInAll signs accounts in, 16 at a time.
func signInAll(tb testing.TB, c *finesse.Connector, accounts []ciscotest.Account) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, a := range accounts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := c.SignIn(context.Background(), a.LoginName, a.Password, a.Extension); err != nil {
				tb.Error(err)
			}
		})
	}
	wg.Wait()
}
