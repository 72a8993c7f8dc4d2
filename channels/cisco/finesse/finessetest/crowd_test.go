package finessetest_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

// signInAs signs one agent in on site by hand, from a goroutine of the
// test: XMPP, presence, LOGIN, and its notification. It returns errors
// rather than failing, as goroutines other than the test's must.
func signInAs(ctx context.Context, p *finessetest.Pair, site *finessetest.Site, a ciscotest.Account) (*prosodytest.Client, error) {
	c, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
		URL: site.XMPPURL(), Domain: site.Domain(), User: a.LoginID, Password: a.Password, Resource: "ctibus-crowd",
		TLS: p.XMPP.CA().ClientTLS(),
	})
	if err != nil {
		return nil, err
	}
	if err := c.SendPresence(ctx); err != nil {
		c.Close()
		return nil, err
	}
	body := "<User><state>LOGIN</state><extension>" + a.Extension + "</extension></User>"
	req, err := http.NewRequestWithContext(ctx, "PUT", site.URL()+"/finesse/api/User/"+a.LoginID, strings.NewReader(body))
	if err != nil {
		c.Close()
		return nil, err
	}
	req.SetBasicAuth(a.LoginName, a.Password)
	resp, err := site.Client().Do(req)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		c.Close()
		return nil, fmt.Errorf("%s: LOGIN answered %d", a.LoginID, resp.StatusCode)
	}
	n, err := c.NextNotification(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	var u struct {
		State     string `xml:"data>user>state"`
		Extension string `xml:"data>user>extension"`
	}
	if err := xml.Unmarshal(n.Update, &u); err != nil || u.State != "NOT_READY" || u.Extension != a.Extension {
		c.Close()
		return nil, fmt.Errorf("%s: LOGIN notified %s", a.LoginID, n.Update)
	}
	return c, nil
}

// signInAll signs every account in on site at once.
func signInAll(ctx context.Context, p *finessetest.Pair, site *finessetest.Site, accounts []ciscotest.Account) ([]*prosodytest.Client, []error) {
	clients := make([]*prosodytest.Client, len(accounts))
	errs := make([]error, len(accounts))
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Go(func() { clients[i], errs[i] = signInAs(ctx, p, site, a) })
	}
	wg.Wait()
	return clients, errs
}

func TestCrowdFailsOverFromSideAToSideB(t *testing.T) {
	ctx := testContext(t)
	agents, accounts := finessetest.Crowd(40)
	s := sim.New(ciscotest.NewDirectory(t, agents...), sim.Config{AfterFunc: ciscotest.NoTimers, LogoutOnDisconnect: true})
	p := finessetest.StartPair(t, finessetest.PairConfig{Sim: s, Accounts: accounts})

	onA, errs := signInAll(ctx, p, p.A, accounts)
	for i, err := range errs {
		require.NoError(t, err, accounts[i].LoginID)
		t.Cleanup(func() { onA[i].Close() })
	}

	// Side A goes down: every session on it ends, and each agent signs in
	// again on side B, on the same extension, keeping its state.
	p.A.Down()
	for _, c := range onA {
		assert.Error(t, c.Err(ctx))
	}
	onB, errs := signInAll(ctx, p, p.B, accounts)
	for i, err := range errs {
		require.NoError(t, err, accounts[i].LoginID)
		t.Cleanup(func() { onB[i].Close() })
	}
	for _, a := range accounts {
		online, found := p.Log.Find(finessetest.IsOnline(finessetest.DomainB, a.LoginID))
		require.True(t, found)
		login, found := p.Log.Find(func(e finessetest.Entry) bool {
			return finessetest.IsLogin(a.LoginID)(e) && e.Side == finessetest.DomainB
		})
		require.True(t, found)
		assert.Less(t, online.Seq, login.Seq, a.LoginID)
	}
	ids, err := s.SignedInAgents(ctx)
	require.NoError(t, err)
	assert.Len(t, ids, len(accounts))
	assert.Zero(t, p.A.Unauthorized()+p.B.Unauthorized())
	// Side A came down without applying its presence rule.
	for _, a := range accounts {
		assert.False(t, p.A.ExpirePresence(a.LoginID))
	}
}
