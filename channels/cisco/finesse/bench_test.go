package finesse_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/finesse"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/internal/prosodytest"
)

// benchPair starts a pair serving n agents, herd0..herdN-1 on extensions
// 40000 and up, and a quiet connector on it.
func benchPair(b *testing.B, n int) (*finessetest.Pair, *finesse.Connector, []ciscotest.Account) {
	b.Helper()
	s, accounts := herd(b, n)
	p := finessetest.StartPair(b, finessetest.PairConfig{Sim: s, Accounts: accounts})
	c, err := finesse.New(finesse.Config{
		Sides:   []finesse.Side{{REST: p.A.URL(), XMPP: p.A.XMPPURL()}, {REST: p.B.URL(), XMPP: p.B.XMPPURL()}},
		RootCAs: p.XMPP.CA().Pool(), Logger: zap.NewNop(), FailoverJitter: -1, FailoverConcurrency: 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return p, c, accounts
}

// signInEvents signs a in and reads what the 15 sign-in events need, in
// the order the handlers read it.
func signInEvents(ctx context.Context, c *finesse.Connector, a ciscotest.Account) error {
	in, err := c.SignIn(ctx, a.LoginName, a.Password, a.Extension)
	if err != nil {
		return err
	}
	id := in.User.LoginID
	if _, err := c.Dialogs(ctx, id); err != nil {
		return err
	}
	if _, err := c.MediaRoutingDomains(ctx); err != nil {
		return err
	}
	if _, err := c.Media(ctx, id); err != nil {
		return err
	}
	if _, err := c.SystemInfo(ctx); err != nil {
		return err
	}
	for _, cat := range []cisco.Category{cisco.CategoryLogout, cisco.CategoryNotReady} {
		if _, err := c.ReasonCodes(ctx, id, cat); err != nil {
			return err
		}
	}
	if _, err := c.PhoneBooks(ctx, id); err != nil {
		return err
	}
	_, err = c.WrapUpReasons(ctx, id)
	return err
}

// BenchmarkSignIn measures a sign-in and the reads of its 15 events, on a
// Finesse that answers at once and on one that takes 20 ms per request.
func BenchmarkSignIn(b *testing.B) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("finesse-delay=%s", delay), func(b *testing.B) {
			p, c, accounts := benchPair(b, 1)
			p.A.SetDelay(delay)
			a := accounts[0]
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if err := signInEvents(ctx, c, a); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := c.ForceLogout(ctx, a.LoginID, ""); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSignInFinesseAlone measures what Finesse alone takes for the
// same sign-in, without ctibus's bookkeeping: GET User, an XMPP session
// with presence, PUT LOGIN, the User notification, then the seven reads
// one after another.
func BenchmarkSignInFinesseAlone(b *testing.B) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("finesse-delay=%s", delay), func(b *testing.B) { signInFinesseAlone(b, delay) })
	}
}

func signInFinesseAlone(b *testing.B, delay time.Duration) {
	p, _, accounts := benchPair(b, 1)
	p.A.SetDelay(delay)
	a := accounts[0]
	client := p.A.Client()
	ctx := context.Background()
	get := func(path string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", p.A.URL()+path, nil)
		req.SetBasicAuth(a.LoginName, a.Password)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	for b.Loop() {
		get("/finesse/api/User/" + a.LoginName)
		x, err := prosodytest.DialClient(ctx, prosodytest.ClientConfig{
			URL: p.A.XMPPURL(), Domain: finessetest.DomainA, User: a.LoginID, Password: a.Password, TLS: p.XMPP.CA().ClientTLS(),
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.SendPresence(ctx); err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, "PUT", p.A.URL()+"/finesse/api/User/"+a.LoginID,
			strings.NewReader("<User><state>LOGIN</state><extension>"+a.Extension+"</extension></User>"))
		req.SetBasicAuth(a.LoginName, a.Password)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if _, err := x.NextNotification(ctx); err != nil {
			b.Fatal(err)
		}
		for _, path := range []string{"/Dialogs", "/Media", "/ReasonCodes?category=LOGOUT", "/ReasonCodes?category=NOT_READY", "/PhoneBooks", "/WrapUpReasons"} {
			get("/finesse/api/User/" + a.LoginID + path)
		}
		get("/finesse/api/SystemInfo")
		b.StopTimer()
		x.Close()
		if _, err := p.Sim.ForceLogout(ctx, a.LoginID, "255"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkSessionMemory reports the heap that each signed-in agent's
// session takes: its XMPP connection, its REST client's share, its state.
func BenchmarkSessionMemory(b *testing.B) {
	const n = 100
	for b.Loop() {
		b.StopTimer()
		_, c, accounts := benchPair(b, n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		signInAll(b, c, accounts)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/session")
		c.Close()
		b.StartTimer()
	}
}

// BenchmarkFailover measures how long the agents of a side that goes down
// take to be signed in on the other side, at the default bound of 20 at
// once: from Down until every agent's presence is on side B.
func BenchmarkFailover(b *testing.B) {
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		p, c, accounts := benchPair(b, n)
		signInAll(b, c, accounts)
		var mu sync.Mutex
		onB := map[string]bool{}
		all := make(chan struct{})
		cancel := p.XMPP.OnPresence(finessetest.DomainB, func(pr prosodytest.Presence) {
			mu.Lock()
			defer mu.Unlock()
			if pr.Available && !onB[pr.User] {
				onB[pr.User] = true
				if len(onB) == n {
					close(all)
				}
			}
		})
		b.StartTimer()
		start := time.Now()
		p.A.Down()
		<-all
		b.ReportMetric(time.Since(start).Seconds(), "s/failover")
		b.StopTimer()
		cancel()
		c.Close()
		b.StartTimer()
	}
}
