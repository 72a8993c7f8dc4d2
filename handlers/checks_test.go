package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/session"
)

// gatedConnector is the simulator with its sign-ins, password check
// included, observed: it records how many run at once, and holds the first
// one until released, so that the others find the bound taken.
type gatedConnector struct {
	*sim.Simulator
	entered chan struct{} // receives once per sign-in that starts
	release chan struct{} // closed to let the first sign-in finish

	mu      sync.Mutex // guards the fields below
	running int
	most    int
	started int
}

func newGatedConnector(s *sim.Simulator) *gatedConnector {
	return &gatedConnector{Simulator: s, entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gatedConnector) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	g.mu.Lock()
	g.running++
	g.started++
	g.most = max(g.most, g.running)
	first := g.started == 1
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	g.entered <- struct{}{}
	if first {
		<-g.release
	}
	return g.Simulator.SignIn(ctx, username, password, extension)
}

func (g *gatedConnector) mostAtOnce() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.most
}

// signInAnswer signs in over a connection of its own and returns the
// errorType of the answer, or "signed in"; or what went wrong, for the test
// to report. It may run on any goroutine.
func signInAnswer(url, username, password, extension string) string {
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return "dial: " + err.Error()
	}
	resp.Body.Close()
	defer ws.Close()
	for _, req := range []map[string]any{
		{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "softphone", "data": map[string]string{"channel": "Cisco"}},
		{"id": "in", "channel": "Cisco", "topic": "Agent", "subtopic": "SetUserInfo",
			"data": map[string]string{"username": username, "password": password, "extension": extension}},
	} {
		if err := ws.WriteJSON(req); err != nil {
			return "write: " + err.Error()
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var f struct {
			Topic, Subtopic string
			Message         struct {
				Data struct{ ErrorType string }
			}
		}
		if err := ws.ReadJSON(&f); err != nil {
			return "read: " + err.Error()
		}
		switch f.Topic + "/" + f.Subtopic {
		case "Error/SetAPIError":
			return f.Message.Data.ErrorType
		case "Agent/Login":
			return "signed in"
		}
	}
}

func TestPasswordChecksAreBounded(t *testing.T) {
	var gate *gatedConnector
	e := newEnvOn(t, handlerstest.Config{Desktops: session.DesktopsConfig{PasswordChecks: session.PasswordChecksConfig{Concurrent: 1, Queue: 1, Wait: time.Minute}}}, broker.Config{},
		func(sim *sim.Simulator) cisco.Connector { gate = newGatedConnector(sim); return gate })

	// The first sign-in, a real agent, holds the only slot.
	first := make(chan string, 1)
	go func() { first <- signInAnswer(e.url, "ciscotest", passwords["ciscotest"], "5064") }()
	<-gate.entered

	// Twelve made-up usernames: one waits in the queue, the others are
	// refused at once, without a password check.
	const flood = 12
	answers := make(chan string, flood)
	for i := range flood {
		go func() { answers <- signInAnswer(e.url, fmt.Sprintf("nobody%d", i), "guess", "5070") }()
	}
	for range flood - 1 {
		assert.Equal(t, broker.ErrTypeUnavailable, <-answers)
	}
	close(gate.release)
	assert.Equal(t, "signed in", <-first)
	assert.Equal(t, "Authorization Failure", <-answers, "the queued one was checked, once the slot was free")
	assert.Equal(t, 1, gate.mostAtOnce(), "never more than one check at once")
	assert.Len(t, gate.entered, 1, "only the queued sign-in reached a password check")
}

func TestPasswordCheckThatWaitsTooLongIsRefused(t *testing.T) {
	var gate *gatedConnector
	apps := newTestApps(t)
	e := newEnvOn(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps, PasswordChecks: session.PasswordChecksConfig{Concurrent: 1, Queue: 5, Wait: 50 * time.Millisecond}}}, broker.Config{},
		func(sim *sim.Simulator) cisco.Connector { gate = newGatedConnector(sim); return gate })
	first := make(chan string, 1)
	go func() { first <- signInAnswer(e.url, "ciscotest", passwords["ciscotest"], "5064") }()
	<-gate.entered

	// The slot stays taken until the others have their answers, whatever
	// the machine's speed: each waits its 50 ms in vain.
	assert.Equal(t, broker.ErrTypeUnavailable, signInAnswer(e.url, "jdoe", passwords["jdoe"], "5065"))
	c := brokertest.Dial(t, e.url)
	f := registerWith(c, "wallboard", map[string]string{"secret": "wall-secret"})
	apiErr := f.Error(t)
	assert.Equal(t, broker.ErrTypeUnavailable, apiErr.ErrorType, "an app secret waits in the same queue")
	assert.Contains(t, apiErr.Msg, "try again")
	code, body := postJSON(t, e.http+"/api/publish", basic("wallboard", "wall-secret"), `{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S"}`)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	var refusal struct{ Error, Message string }
	require.NoError(t, json.Unmarshal([]byte(body), &refusal))
	assert.Equal(t, "unavailable", refusal.Error)

	// An empty secret for a known app, a secret for a JWT app and an
	// unknown name all cost a bcrypt: they wait for the slot like the rest.
	for _, name := range []string{"wallboard", "recorder", "nobody"} {
		secret := map[string]string{"wallboard": "", "recorder": "x", "nobody": "x"}[name]
		code, _ := postJSON(t, e.http+"/api/publish", basic(name, secret), `{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S"}`)
		assert.Equal(t, http.StatusServiceUnavailable, code, "app %q, secret %q", name, secret)
	}

	close(gate.release)
	assert.Equal(t, "signed in", <-first)
	assert.Equal(t, "signed in", signInAnswer(e.url, "jdoe", passwords["jdoe"], "5065"), "a refusal for a busy server counts no failure")
	assert.Equal(t, 1, gate.mostAtOnce())
}
