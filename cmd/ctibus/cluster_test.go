package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
	"github.com/ctibus/ctibus/internal/testtime"
)

// clusterArgs are the flags of a node of a test cluster: a lease short
// enough that a failover takes a fraction of a second.
func clusterArgs(natsURL string, extra ...string) []string {
	return append([]string{"-nats", natsURL, "-log-level", "debug"}, extra...)
}

// startNodes starts n ctibus nodes, in this process, sharing the NATS
// server at natsURL.
func startNodes(t *testing.T, n int, natsURL string, extra ...string) []*server {
	t.Helper()
	nodes := make([]*server, n)
	for i := range nodes {
		nodes[i] = startServer(t, nil, clusterArgs(natsURL, append([]string{"-node", fmt.Sprintf("n%d", i+1)}, extra...)...)...)
	}
	return nodes
}

// signInOn signs the agent in on c, reads the 15 events, and returns the
// agent's state in them and the workspace token.
func signInOn(t *testing.T, c *brokertest.Client, id, username, password, extension string) (state, token string) {
	t.Helper()
	c.Request(id, "Cisco", "Agent", "SetUserInfo",
		map[string]string{"username": username, "password": password, "extension": extension})
	for range 15 {
		f := c.Next()
		require.NotEqual(t, "Error", f.Topic, "sign-in refused: %s", f.Raw)
		if f.Triple() == "Cisco/Agent/SetAgentState" {
			state = agentStateIn(t, f)
		}
	}
	f := c.Expect("PubSub/Workspace/Token")
	var p struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &p))
	return state, p.Token
}

// agentStateIn returns the state in a SetAgentState frame.
func agentStateIn(t *testing.T, f brokertest.Frame) string {
	t.Helper()
	var m struct {
		Data struct {
			State string `json:"state"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m), "%s", f.Raw)
	return m.Data.State
}

// joinWith connects app to the node at url, joins a workspace with token and
// subscribes to everything. Events of the requests named in before (and of
// the sign-in, "login"), published on another node just before the app
// joined, may reach it after: a node delivers an event to the connections in
// the workspace when the event arrives. The app ignores them, whenever they
// come.
//
// While the contact center fails over, a node cannot tell whether the
// token's agent is still signed in and closes the connection with 1013
// (try again later); the app then connects again, as ctibus.js does.
func joinWith(t *testing.T, url, app, token string, before ...string) *brokertest.Client {
	t.Helper()
	before = append(before, "login")
	for deadline := time.Now().Add(2 * brokertest.Wait); ; {
		c := brokertest.Dial(t, brokertest.WSURL(url))
		c.Ignore = func(f brokertest.Frame) bool { return slices.Contains(before, f.CorrelationID) }
		c.Send(map[string]any{"id": "reg", "channel": "PubSub", "topic": "App", "subtopic": "Register",
			"source": app, "data": map[string]string{"channel": "Cisco", "token": token}})
		if _, admitted := c.ExpectOrTryAgain("PubSub/App/Registered"); !admitted {
			require.True(t, time.Now().Before(deadline), "the node kept answering 1013 (try again later)")
			time.Sleep(retryPause) // a client's pause before it reconnects, not a wait for an outcome
			continue
		}
		c.Request("", "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "*", "topic": "*", "subtopic": "*"})
		c.Expect("PubSub/Subscription/Subscribed")
		return c
	}
}

// retryPause is how long a test app waits before it connects again.
const retryPause = 100 * time.Millisecond

func TestClusterNodesShareOneBus(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 3, ns.ClientURL())

	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	state, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	assert.Equal(t, "NOT_READY", state)
	crm := joinWith(t, nodes[1].URL, "crm", token)      // the same agent's apps, on the other nodes
	recorder := joinWith(t, nodes[2].URL, "rec", token) //
	other := brokertest.Dial(t, brokertest.WSURL(nodes[1].URL))
	other.Register("softphone", "Cisco")
	signInOn(t, other, "login", "jdoe", "agent@3", "5066")
	other.Subscribe("*", "*", "*")

	// An event of the agent reaches its apps on every node, and only them.
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	for _, c := range []*brokertest.Client{phone, crm, recorder} {
		f := c.Expect("Cisco/Agent/SetAgentState")
		assert.Equal(t, "READY", agentStateIn(t, f))
	}

	// App-to-app messages cross nodes within the workspace, never out of it.
	crm.Request("pop", "CRM", "Screen", "Pop", map[string]string{"ani": "5551234"})
	f := recorder.Expect("CRM/Screen/Pop")
	assert.Equal(t, "crm", f.Source)
	// The recorder's answer reaches node 1 after the message, through the
	// same NATS server: by the time the crm app has it, node 1 has queued
	// whatever it made of the message, a copy back from NATS included.
	recorder.Request("ack", "CRM", "Screen", "Ack", nil)
	assert.Equal(t, "rec", crm.Expect("CRM/Screen/Ack").Source)
	other.ExpectNothingQueued()

	// A sign-in on another node keeps the agent's state.
	desk := brokertest.Dial(t, brokertest.WSURL(nodes[2].URL))
	desk.Register("softphone", "Cisco")
	state, _ = signInOn(t, desk, "again", "ciscotest", "test@123", "5064")
	assert.Equal(t, "READY", state, "a re-login on another node keeps the state")
	for _, c := range []*brokertest.Client{phone, crm, recorder} {
		for range 15 { // the workspace sees the sign-in's events; the crm app, not its own message
			assert.Equal(t, "again", c.Next().CorrelationID)
		}
	}

	// A sign-out on one node keeps the desktop, signed out, on every node.
	phone.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"reasonCodeId": "1"})
	phone.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	for _, c := range []*brokertest.Client{phone, crm} {
		assert.Equal(t, "NOT_READY", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
		assert.Equal(t, "LOGOUT", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
	}
	crm.Request("r", "Cisco", "Agent", "SetReadyState", nil)
	crm.ExpectError("Cisco", "Invalid State", "r")
	late := brokertest.Dial(t, brokertest.WSURL(nodes[1].URL))
	late.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register",
		"source": "late", "data": map[string]string{"channel": "Cisco", "token": token}})
	assert.Equal(t, "PubSub/App/Registered", late.Next().Triple(), "the token admits into the kept desktop, on any node")
	late.Request("r", "Cisco", "Agent", "SetReadyState", nil)
	late.ExpectError("Cisco", "Invalid State", "r")
}

// burstWait bounds each answer to a burst of sign-ins: an attempt waits
// for the checks of those before it, which with the demo agents' own
// hashes take over a second each under -race on a busy 2-core machine.
// A passing test stops waiting as soon as the answers come.
var burstWait = testtime.Scale(time.Minute)

func TestClusterLockoutIsShared(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	// The bound on waiting for a password check is not under test here:
	// give it the most it may have.
	nodes := startNodes(t, 3, ns.ClientURL(), "-password-check-wait", "20s")
	clients := make([]*brokertest.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = brokertest.Dial(t, brokertest.WSURL(n.URL))
		clients[i].Register("softphone", "Cisco")
	}

	// Five failures spread over three nodes, by the agent's loginName and
	// its loginId in turn, lock the agent on all of them, by either name.
	for i, username := range []string{"ciscotest", "100501", "CiscoTest", "100501", "ciscotest"} {
		c := clients[i%3]
		id := "bad" + strconv.Itoa(i)
		c.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": username, "password": "wrong", "extension": "5064"})
		assert.Equal(t, "Authorization Failure", c.ExpectError("Cisco", "Authorization Failure", id).ErrorType)
	}
	for i, c := range clients {
		for _, username := range []string{"CISCOTEST", "ciscotest", "100501"} {
			id := username + "-right" + strconv.Itoa(i)
			c.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": username, "password": "test@123", "extension": "5064"})
			c.ExpectError("Cisco", "Account Locked", id)
		}
	}

	// Fifty wrong attempts in parallel over the nodes, by both names of an
	// agent, verify at most five passwords: the others are refused as
	// locked without a check. A made-up name gets the same answers, and
	// has a count of its own.
	for _, usernames := range [][]string{{"jdoe", "100503", "JDOE"}, {"nobody", "NOBODY"}} {
		assert.Equal(t, map[string]int{"Authorization Failure": 5, "Account Locked": 45},
			wrongInParallel(nodes, usernames), "attempts as %v", usernames)
	}
	for i, c := range clients {
		id := "jdoe-right" + strconv.Itoa(i)
		c.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "Jdoe", "password": "agent@3", "extension": "5066"})
		c.ExpectError("Cisco", "Account Locked", id)
	}
}

// wrongInParallel makes 50 sign-in attempts with a wrong password at once,
// spread over the nodes, and counts the answers by errorType. Each node
// gets every one of usernames.
func wrongInParallel(nodes []*server, usernames []string) map[string]int {
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for i := range 50 {
		url := brokertest.WSURL(nodes[i%len(nodes)].URL)
		username := usernames[i/len(nodes)%len(usernames)]
		wg.Go(func() {
			answer, err := attemptSignIn(url, username, "wrong")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				answers["error: "+err.Error()]++
			case answer.ErrorType == "Authorization Failure" || answer.ErrorType == "Account Locked":
				answers[answer.ErrorType]++
			default: // say what it was
				answers[answer.ErrorType+": "+answer.ErrorMessage]++
			}
		})
	}
	wg.Wait()
	return answers
}

// attemptSignIn signs in once on a connection of its own, and returns the
// error of the answer (zero for a success). It does not use testing.T: it
// runs on goroutines of its own.
func attemptSignIn(url, username, password string) (brokertest.APIError, error) {
	ws, _, err := brokertest.DialHeader(url, nil)
	if err != nil {
		return brokertest.APIError{}, err
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(burstWait))
	if err := ws.WriteJSON(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register",
		"source": "softphone", "data": map[string]string{"channel": "Cisco"}}); err != nil {
		return brokertest.APIError{}, err
	}
	var registered struct {
		Subtopic string `json:"subtopic"`
	}
	if err := ws.ReadJSON(&registered); err != nil || registered.Subtopic != "Registered" {
		return brokertest.APIError{}, fmt.Errorf("register: %v %q", err, registered.Subtopic)
	}
	if err := ws.WriteJSON(map[string]any{"id": "a", "channel": "Cisco", "topic": "Agent", "subtopic": "SetUserInfo",
		"data": map[string]string{"username": username, "password": password, "extension": "5066"}}); err != nil {
		return brokertest.APIError{}, err
	}
	var f struct {
		Subtopic string `json:"subtopic"`
		Message  struct {
			Data brokertest.APIError `json:"data"`
		} `json:"message"`
	}
	if err := ws.ReadJSON(&f); err != nil {
		return brokertest.APIError{}, err
	}
	return f.Message.Data, nil
}

func TestClusterStateSurvivesARestartOfAllNodes(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	first := startNodes(t, 2, ns.ClientURL())
	phone := brokertest.Dial(t, brokertest.WSURL(first[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")))
	intruder := brokertest.Dial(t, brokertest.WSURL(first[1].URL))
	intruder.Register("softphone", "Cisco")
	for i := range 5 {
		id := "bad" + strconv.Itoa(i)
		intruder.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "jdoe", "password": "wrong", "extension": "5066"})
		intruder.ExpectError("Cisco", "Authorization Failure", id)
	}
	for _, n := range first {
		require.NoError(t, n.Stop())
	}

	second := startNodes(t, 2, ns.ClientURL())
	crm := joinWith(t, second[1].URL, "crm", token)
	crm.Request("get", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "READY", agentStateIn(t, crm.Expect("Cisco/Agent/SetAgentState")), "the state outlived every node")
	// On the crm app's node: the answer to its GetAgentState may still be
	// on its way through NATS, and would reach a desk that joins the
	// workspace on the other node meanwhile (delivery is at most once, in
	// flight included: docs/cluster.md).
	desk := brokertest.Dial(t, brokertest.WSURL(second[1].URL))
	desk.Register("softphone", "Cisco")
	state, _ := signInOn(t, desk, "again", "ciscotest", "test@123", "5064")
	assert.Equal(t, "READY", state)
	desk.Request("jdoe", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "jdoe", "password": "agent@3", "extension": "5066"})
	desk.ExpectError("Cisco", "Account Locked", "jdoe")
}

func TestEmbeddedNATSServesAClusterAndKeepsState(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	listen := freeAddr(t)
	hub := startServer(t, nil, "-nats-embedded", "-nats-listen", listen, "-nats-store", store)
	peer := startServer(t, nil, "-nats", "nats://"+listen, "-nats-token-file", filepath.Join(store, "nats-token"))

	phone := brokertest.Dial(t, brokertest.WSURL(hub.URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	crm := joinWith(t, peer.URL, "crm", token)
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateIn(t, crm.Expect("Cisco/Agent/SetAgentState")))

	// One node with its embedded server keeps the state over a restart.
	require.NoError(t, peer.Stop())
	require.NoError(t, hub.Stop())
	again := startServer(t, nil, "-nats-embedded", "-nats-listen", listen, "-nats-store", store)
	desk := brokertest.Dial(t, brokertest.WSURL(again.URL))
	desk.Register("softphone", "Cisco")
	state, _ := signInOn(t, desk, "again", "ciscotest", "test@123", "5064")
	assert.Equal(t, "READY", state)
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// process is a ctibus binary running in a process of its own, which a test
// can kill without warning.
type process struct {
	URL  string
	Logs *syncBuffer
	cmd  *exec.Cmd
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// buildBinary builds ctibus once for the tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ctibus-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "ctibus")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

// startProcess runs the ctibus binary with args and returns once it listens.
// The process is killed when the test ends, if it still runs.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"-addr", "127.0.0.1:0"}, withCheapDemo(args, nil)...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, Logs: &syncBuffer{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	listening := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			p.Logs.Write(append(scanner.Bytes(), '\n'))
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(scanner.Bytes(), &entry) == nil && entry.Msg == "ctibus listening" {
				listening <- entry.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case addr := <-listening:
		p.URL = "http://" + addr
	case <-time.After(2 * brokertest.Wait):
		t.Fatal("the ctibus process did not start")
	}
	return p
}

// kill ends the process at once, as a crash or a lost machine would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

// testLease is the contact center's lease in the tests that kill a node:
// short, since a takeover waits it out, yet long enough that a node on a
// busy machine renews it in time (every third of it) and keeps leading.
// It does not scale with testtime's factor: a takeover must fit, with
// room, in the 5 s that a request waits for a leader.
const testLease = "2s"

func TestClusterOutlivesAKilledNode(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and kills ctibus processes")
	}
	ns := natstest.Start(t, "")
	var nodes []*process
	for i := range 3 {
		nodes = append(nodes, startProcess(t, clusterArgs(ns.ClientURL(), "-node", fmt.Sprintf("p%d", i+1), "-nats-lease", testLease)...))
	}
	// Whichever node takes the contact center's lease first leads: which
	// one depends on how fast each started.
	const leading = "leading the cisco contact center"
	leader := -1
	require.Eventually(t, func() bool {
		leader = slices.IndexFunc(nodes, func(p *process) bool { return strings.Contains(p.Logs.String(), leading) })
		return leader >= 0
	}, 3*brokertest.Wait, 10*time.Millisecond, "no node took the lease")
	other, third := nodes[(leader+1)%3], nodes[(leader+2)%3]

	phone := brokertest.Dial(t, brokertest.WSURL(nodes[leader].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	phone.Expect("Cisco/Agent/SetAgentState")
	crm := joinWith(t, third.URL, "crm", token, "ready")

	// The node that took the contact center's lease dies. The phone
	// reconnects to another node and rejoins with its token, as the
	// browser client does.
	nodes[leader].kill(t)
	phone.ExpectClose()
	phone = joinWith(t, other.URL, "softphone", token, "ready")
	// It hears the link back, or not, as it rejoined before or after.
	ignore := phone.Ignore
	phone.Ignore = func(f brokertest.Frame) bool { return ignore(f) || contactCenterLink(f) }
	phone.Request("get", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "READY", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")), "the state outlived its node")
	assert.True(t, strings.Contains(other.Logs.String(), leading) || strings.Contains(third.Logs.String(), leading),
		"another node took over")

	// The apps that stayed hear the agent's link to the contact center go
	// down, said by the next leader, as the dead one could not, and back.
	for _, want := range []string{"disconnected", "connected"} {
		status, _ := connectionStatus(t, crm.Expect("Cisco/Connection/SetConnectionStatus"))
		assert.Equal(t, want, status)
	}

	// Nothing published after the reconnect is lost.
	crm.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"reasonCodeId": "1"})
	assert.Equal(t, "NOT_READY", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")))
	crm.Expect("Cisco/Agent/SetAgentState")
	for i := range 100 {
		crm.Request(strconv.Itoa(i), "CRM", "Screen", "Pop", map[string]int{"n": i})
	}
	for i := range 100 {
		f := phone.Expect("CRM/Screen/Pop")
		require.Equal(t, strconv.Itoa(i), f.CorrelationID, "in order, none lost")
	}
}

func TestClusterWithoutNATSAnswersUnavailableThenRecovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := natstest.Start(t, dir)
	port := ns.Addr().(*net.TCPAddr).Port
	nodes := startNodes(t, 2, ns.ClientURL())
	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	desk := brokertest.Dial(t, brokertest.WSURL(nodes[1].URL))
	desk.Register("softphone", "Cisco")

	ns.Shutdown()
	ns.WaitForShutdown()
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "SERVICE_UNAVAILABLE", slowError(t, phone).ErrorMessage, "the contact center is unreachable")
	desk.Request("login", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "jdoe", "password": "agent@3", "extension": "5066"})
	e := slowError(t, desk)
	assert.Equal(t, "Unavailable", e.ErrorType, "the lockout is unreachable")
	assert.Contains(t, e.Msg, "Try again")
	// A token that cannot be checked is not refused, which would make the
	// app give it up: the connection closes, for the app to come back.
	crm := brokertest.Dial(t, brokertest.WSURL(nodes[1].URL))
	crm.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register",
		"source": "crm", "data": map[string]string{"channel": "Cisco", "token": token}})
	require.NoError(t, crm.Conn().SetReadDeadline(time.Now().Add(3*brokertest.Wait)))
	_, frame, err := crm.Conn().ReadMessage()
	var closed *websocket.CloseError
	require.ErrorAs(t, err, &closed, "no answer before the close: %s", frame)
	assert.Equal(t, broker.CloseTryAgainLater, closed.Code)

	// NATS comes back where it was: the nodes reconnect by themselves.
	natstest.StartOn(t, dir, port)
	for deadline := time.Now().Add(2 * brokertest.Wait); ; {
		phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
		f := slowFrame(t, phone)
		for contactCenterLink(f) { // heard if the phone's node was back on NATS when the next leader took over
			f = slowFrame(t, phone)
		}
		if f.Triple() == "Cisco/Agent/SetAgentState" {
			assert.Equal(t, "READY", agentStateIn(t, f))
			break
		}
		e := f.Error(t)
		if e.ErrorType == "Invalid State" {
			// An earlier try was applied by a leader that could not answer
			// it (see simcluster.Cluster): the next leader refuses it as
			// already done, and the agent is READY.
			phone.Request("get", "Cisco", "Agent", "GetAgentState", nil)
			assert.Equal(t, "READY", agentStateIn(t, slowFrame(t, phone)))
			break
		}
		require.Equal(t, "Unavailable", e.ErrorType)
		require.True(t, time.Now().Before(deadline), "the nodes did not reconnect to NATS")
	}
}

// slowFrame reads the next frame, waiting longer than brokertest does: a
// request to an unreachable cluster takes its whole timeout.
func slowFrame(t *testing.T, c *brokertest.Client) brokertest.Frame {
	t.Helper()
	require.NoError(t, c.Conn().SetReadDeadline(time.Now().Add(3*brokertest.Wait)))
	var f brokertest.Frame
	_, b, err := c.Conn().ReadMessage()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &f))
	f.Raw = b
	return f
}

// slowError is slowFrame for an error of the Cisco channel.
func slowError(t *testing.T, c *brokertest.Client) brokertest.APIError {
	t.Helper()
	return slowFrame(t, c).Error(t)
}

func TestClusterSignsOutAnAgentWhoseNodeDiedAlone(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and kills ctibus processes")
	}
	ns := natstest.Start(t, "")
	args := func(node string) []string {
		return clusterArgs(ns.ClientURL(), "-node", node, "-nats-lease", testLease, "-grace-period", "1s")
	}
	doomed := startProcess(t, args("doomed")...)
	survivor := startProcess(t, args("survivor")...)
	phone := brokertest.Dial(t, brokertest.WSURL(doomed.URL))
	phone.Register("softphone", "Cisco")
	signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	phone.Expect("Cisco/Agent/SetAgentState")

	// The agent's only app was on the node that dies, and does not come
	// back: no grace timer runs anywhere, yet the survivor signs the agent
	// out once a grace period has passed without a connection.
	doomed.kill(t)
	desk := brokertest.Dial(t, brokertest.WSURL(survivor.URL))
	desk.Register("softphone", "Cisco")
	require.Eventually(t, func() bool {
		return strings.Contains(survivor.Logs.String(), "no connection came back within the grace period")
	}, 2*brokertest.Wait, 50*time.Millisecond, "the abandoned agent was not signed out")
	state, _ := signInOn(t, desk, "again", "ciscotest", "test@123", "5064")
	assert.Equal(t, "NOT_READY", state, "a new sign-in, not a re-login that keeps READY")
}

func TestUnreachableNATSStopsTheNodeWithoutItsPassword(t *testing.T) {
	var logs syncBuffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-nats", "nats://ops:hunter2@" + freeAddr(t)},
		func(string) string { return "" }, nil, io.Discard, &logs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connect to NATS at [nats://ops:xxxxx@127.0.0.1:")
	assert.Contains(t, err.Error(), "JetStream")
	assert.NotContains(t, err.Error()+logs.String(), "hunter2")
}

func TestClusterConcurrentChangesOfOneAgentAgree(t *testing.T) {
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())
	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	crm := joinWith(t, nodes[1].URL, "crm", token)

	// Two apps on two nodes change the agent's state at once. Some changes
	// are refused (the agent is READY already, say); those that are made
	// must reach both apps in one order, and the last must be the state.
	const changes = 40
	for i := range changes {
		for _, app := range []struct {
			c      *brokertest.Client
			prefix string
		}{{phone, "p"}, {crm, "c"}} {
			id := fmt.Sprint(app.prefix, i)
			if i%2 == 0 {
				app.c.Request(id, "Cisco", "Agent", "SetReadyState", nil)
			} else {
				app.c.Request(id, "Cisco", "Agent", "SetNotReadyState", map[string]string{"reasonCodeId": "1"})
			}
		}
	}
	// changesSeen reads until the app has the answers to wantOwn of its
	// requests (ids starting with prefix), at least min state changes, and
	// the answer to id if not "".
	changesSeen := func(c *brokertest.Client, prefix string, wantOwn, min int, id string) (seen []string, last string) {
		t.Helper()
		own, done := 0, id == ""
		for own < wantOwn || len(seen) < min || !done {
			f := c.Next()
			switch {
			case f.CorrelationID == id:
				done, last = true, agentStateIn(t, f)
			case f.Triple() == "Cisco/Agent/SetAgentState":
				seen = append(seen, f.CorrelationID+" "+agentStateIn(t, f))
				if strings.HasPrefix(f.CorrelationID, prefix) {
					own++
				}
			case f.Topic == "Error":
				// The workspace's errors reach every app in it: count
				// this app's own, and pass over the other's.
				if strings.HasPrefix(f.CorrelationID, prefix) {
					own++
				}
			default:
				t.Fatalf("unexpected frame %s", f.Raw)
			}
		}
		return seen, last
	}
	phoneSaw, _ := changesSeen(phone, "p", changes, 0, "")
	crmSaw, _ := changesSeen(crm, "c", changes, 0, "")
	phone.Request("final", "Cisco", "Agent", "GetAgentState", nil)
	more, state := changesSeen(phone, "p", 0, len(crmSaw)-len(phoneSaw), "final")
	phoneSaw = append(phoneSaw, more...)
	more, _ = changesSeen(crm, "c", 0, len(phoneSaw)-len(crmSaw), "final")
	crmSaw = append(crmSaw, more...)

	require.NotEmpty(t, phoneSaw)
	assert.Equal(t, phoneSaw, crmSaw, "one order on both nodes")
	assert.True(t, strings.HasSuffix(phoneSaw[len(phoneSaw)-1], " "+state), "the last change is the state: %s, %s", phoneSaw[len(phoneSaw)-1], state)
}
