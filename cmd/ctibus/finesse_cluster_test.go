package main

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco/finesse/finessetest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// startFinesseNodes starts two ctibus nodes in front of p, sharing the NATS
// server at natsURL. Their heartbeats last the default -nats-lease: a node
// that stops withdraws its own at once, and a busy machine does not make
// the other miss it.
func startFinesseNodes(t *testing.T, p *finessetest.Pair, natsURL string) (n1, n2 *server) {
	t.Helper()
	n1 = startFinesseServer(t, p, clusterArgs(natsURL, "-node", "n1")...)
	n2 = startFinesseServer(t, p, clusterArgs(natsURL, "-node", "n2")...)
	return n1, n2
}

// firstOf returns the next frame of c among triples, skipping the others.
func firstOf(c *brokertest.Client, triples ...string) brokertest.Frame {
	for {
		f := c.Next()
		for _, want := range triples {
			if f.Triple() == want {
				return f
			}
		}
	}
}

func TestFinesseClusterServesAnAgentFromEveryNode(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	ns := natstest.Start(t, "")
	n1, n2 := startFinesseNodes(t, p, ns.ClientURL())

	phone := brokertest.Dial(t, brokertest.WSURL(n1.URL))
	phone.Register("softphone", "Cisco")
	state, token := signInOn(t, phone, "login", "ciscotest", "test@123", "1001")
	assert.Equal(t, "NOT_READY", state)
	crm := joinWith(t, n2.URL, "crm", token)

	// The app on node 2 changes the state: node 1, which holds the agent's
	// Finesse session, makes the request, and both apps see the change.
	crm.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	f := crm.Expect("Cisco/Agent/SetAgentState")
	assert.Equal(t, "READY", agentStateIn(t, f))
	assert.Equal(t, "ready", f.CorrelationID)
	assert.Equal(t, "READY", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")))
	crm.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"reasonCodeId": "1"})
	assert.Equal(t, "NOT_READY", agentStateIn(t, crm.Expect("Cisco/Agent/SetAgentState")))
	assert.Equal(t, "NOT_READY", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")))

	// A sign-in on node 2 goes to node 1: one LOGIN and one XMPP session
	// for the agent, whichever node the apps are on.
	desk := brokertest.Dial(t, brokertest.WSURL(n2.URL))
	desk.Register("desk", "Cisco")
	state, _ = signInOn(t, desk, "again", "ciscotest", "test@123", "1001")
	assert.Equal(t, "NOT_READY", state, "a re-login keeps the state")
	for range 15 { // the workspace sees the sign-in's events
		assert.Equal(t, "again", crm.Next().CorrelationID)
	}
	logins := 0
	for _, e := range p.Log.Requests() {
		if finessetest.IsLogin("100501")(e) {
			logins++
		}
	}
	assert.Equal(t, 1, logins, "Finesse got one LOGIN")
	assert.NotContains(t, n1.Logs.String()+n2.Logs.String(), "test@123", "a password is in a log line")

	// Node 1 goes, and the agent's Finesse session with it: the apps on
	// node 2 see the link go down, then the sign-out.
	require.NoError(t, n1.Stop())
	f = firstOf(crm, "Cisco/Connection/SetConnectionStatus", "Cisco/Agent/SetAgentState")
	require.Equal(t, "Cisco/Connection/SetConnectionStatus", f.Triple(), "%s", f.Raw)
	var link struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &link))
	assert.Equal(t, "disconnected", link.Status)
	assert.Equal(t, "LOGOUT", agentStateIn(t, nextOf(crm, "Cisco/Agent/SetAgentState")))

	// The agent signs in again, on node 2, which holds the session now.
	again := brokertest.Dial(t, brokertest.WSURL(n2.URL))
	again.Register("softphone", "Cisco")
	signInOn(t, again, "login2", "ciscotest", "test@123", "1001")
	again.Request("ready2", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateIn(t, again.Expect("Cisco/Agent/SetAgentState")))
}

func TestFinesseClusterLockoutStopsAtFourAttempts(t *testing.T) {
	p := finessetest.StartPair(t, finessetest.PairConfig{})
	ns := natstest.Start(t, "")
	n1, n2 := startFinesseNodes(t, p, ns.ClientURL())
	clients := make([]*brokertest.Client, 2)
	for i, n := range []*server{n1, n2} {
		clients[i] = brokertest.Dial(t, brokertest.WSURL(n.URL))
		clients[i].Register("softphone", "Cisco")
	}
	for i := range maxFinesseLockoutAttempts {
		c, id := clients[i%2], "wrong-"+strconv.Itoa(i)
		c.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": "nope", "extension": "1001"})
		c.ExpectError("Cisco", "Authorization Failure", id)
	}
	for i, c := range clients {
		for _, password := range []string{"nope", "test@123"} {
			id := "locked-" + strconv.Itoa(i) + "-" + password
			c.Request(id, "Cisco", "Agent", "SetUserInfo", map[string]string{"username": "ciscotest", "password": password, "extension": "1001"})
			c.ExpectError("Cisco", "Account Locked", id)
		}
	}
	assert.Equal(t, maxFinesseLockoutAttempts, p.A.Unauthorized()+p.B.Unauthorized(),
		"Finesse saw 4 wrong passwords over the two nodes, and no more: it never locked the real account")
	assert.NotContains(t, n1.Logs.String()+n2.Logs.String(), "nope", "a password is in a log line")
}
