package finessetest

import (
	"strconv"
	"testing"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

// The XMPP domains of a Pair's sides: what each side's SystemInfo names in
// xmppDomain, and so the domain of its agents' JIDs.
const (
	DomainA = "finesse-a.test"
	DomainB = "finesse-b.test"
)

// PairConfig describes a Pair. The zero value serves
// ciscotest.SuiteDirectory.
type PairConfig struct {
	// Sim is the contact center; nil makes one of ciscotest.SuiteDirectory
	// whose timers never fire (ciscotest.NoTimers) and that signs an agent
	// out when its desktop is gone (LogoutOnDisconnect), as Finesse's
	// presence rule does on CCX.
	Sim *sim.Simulator
	// Accounts are Sim's agents with their passwords; nil is
	// SuiteAccounts().
	Accounts []ciscotest.Account
	// XMPP is a prosody serving DomainA and DomainB to reuse, so that the
	// cases of a suite do not start one each; nil starts one for the test.
	// A reused server keeps the accounts and subscriptions of earlier
	// pairs.
	XMPP *prosodytest.Server
	// Site holds the settings both sides share. Its Sim, XMPP, Domain,
	// Accounts, SecondaryHost and Log are set by StartPair.
	Site SiteConfig
}

// Pair is a Finesse cluster: side A (DomainA) and side B (DomainB) on one
// prosody, serving one contact center, with one Log.
type Pair struct {
	A, B *Site
	XMPP *prosodytest.Server
	Sim  *sim.Simulator
	Log  *Log
}

// StartPair starts prosody and both sides for the test. Without prosody
// the test is skipped (failed under CI=true).
func StartPair(t testing.TB, cfg PairConfig) *Pair {
	t.Helper()
	x := cfg.XMPP
	if x == nil {
		x = prosodytest.Start(t, prosodytest.Config{Domains: []string{DomainA, DomainB}})
	}
	s := cfg.Sim
	if s == nil {
		s = sim.New(ciscotest.SuiteDirectory(t), sim.Config{AfterFunc: ciscotest.NoTimers, LogoutOnDisconnect: true})
	}
	accounts := cfg.Accounts
	if accounts == nil {
		accounts = SuiteAccounts()
	}
	p := &Pair{XMPP: x, Sim: s, Log: NewLog()}
	side := func(domain, other string) *Site {
		c := cfg.Site
		c.Sim, c.XMPP, c.Domain, c.Accounts, c.SecondaryHost, c.Log = s, x, domain, accounts, other, p.Log
		return NewSite(t, c)
	}
	p.A = side(DomainA, DomainB)
	p.B = side(DomainB, DomainA)
	return p
}

// SuiteAccounts returns the accounts of ciscotest.SuiteDirectory with their
// passwords: ciscotest.Agents and the suite's outsider.
func SuiteAccounts() []ciscotest.Account {
	var out []ciscotest.Account
	for _, a := range ciscotest.Agents() {
		out = append(out, ciscotest.Account{LoginID: a.LoginID, LoginName: a.LoginName, Password: a.Password})
	}
	return append(out, ciscotest.SimHarness(nil, nil).Outsider)
}

// Crowd returns n agents of team 5004, for load and failover tests, and
// their accounts: loginIds 3000001 on, loginNames crowd1 on, password
// "pw-<loginId>", extensions 40001 on, one each. Pass the agents to
// ciscotest.NewDirectory and the accounts to PairConfig.Accounts.
func Crowd(n int) ([]ciscotest.Agent, []ciscotest.Account) {
	agents := make([]ciscotest.Agent, n)
	accounts := make([]ciscotest.Account, n)
	for i := range n {
		id := strconv.Itoa(3000001 + i)
		agents[i] = ciscotest.Agent{
			LoginID: id, LoginName: "crowd" + strconv.Itoa(i+1), FirstName: "Crowd", LastName: strconv.Itoa(i + 1),
			Password: "pw-" + id, TeamID: "5004",
		}
		accounts[i] = ciscotest.Account{LoginID: id, LoginName: agents[i].LoginName, Password: agents[i].Password, Extension: strconv.Itoa(40001 + i)}
	}
	return agents, accounts
}
