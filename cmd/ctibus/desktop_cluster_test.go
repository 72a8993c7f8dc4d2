package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// softphoneOn connects a softphone, registered on Cisco, to n.
func softphoneOn(t *testing.T, n *server) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, brokertest.WSURL(n.URL))
	c.Register("softphone", "Cisco")
	return c
}

// ciscotestOn signs ciscotest in on 5064 from a softphone on n, and
// returns it with the workspace token.
func ciscotestOn(t *testing.T, n *server) (*brokertest.Client, string) {
	t.Helper()
	phone := softphoneOn(t, n)
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	return phone, token
}

// tokenRefusedOn checks that token admits nobody on any of nodes.
func tokenRefusedOn(t *testing.T, nodes []*server, token string) {
	t.Helper()
	for _, n := range nodes {
		late := brokertest.Dial(t, brokertest.WSURL(n.URL))
		late.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register",
			"source": "late", "data": map[string]string{"token": token}})
		require.Equal(t, "Invalid Credentials", late.Next().Error(t).ErrorType, "node %s", n.URL)
	}
}

// In a cluster a sign-out keeps the agent's desktop on every node that
// holds a part of it; a token admits into it on any node, even one that
// held no part; the same agent's next sign-in reaches every part; and a
// different agent signing in on the desktop's softphone ends it on every
// node, each app told, its tokens revoked everywhere.
func TestClusterKeepsTheDesktopOnEveryNode(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 3, ns.ClientURL())

	phone, token := ciscotestOn(t, nodes[0])
	crm := joinWith(t, nodes[0].URL, "crm", token)
	rec := joinWith(t, nodes[1].URL, "rec", token)

	phone.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	for _, c := range []*brokertest.Client{phone, crm, rec} {
		assert.Equal(t, "LOGOUT", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
	}
	// Signed out, the token still admits, on a node with no part of the
	// desktop too: a widget reloaded, or reconnected to another node.
	late := joinWith(t, nodes[2].URL, "late", token, "out")

	// The same agent signs in again from the phone: every app hears all
	// of it, on every node, without a new token.
	signInOn(t, phone, "back", "ciscotest", "test@123", "5064")
	for _, c := range []*brokertest.Client{crm, rec, late} {
		for range 15 {
			assert.Equal(t, "back", c.Next().CorrelationID)
		}
	}
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	for _, c := range []*brokertest.Client{phone, crm, rec, late} {
		assert.Equal(t, "READY", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
	}

	// Another agent on the phone ends the desktop: every app is told, on
	// every node, and the token no longer works anywhere.
	phone.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	phone.Request("out2", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	for _, c := range []*brokertest.Client{phone, crm, rec, late} {
		assert.Equal(t, "NOT_READY", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
		assert.Equal(t, "LOGOUT", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
	}
	signInOn(t, phone, "jdoe", "jdoe", "agent@3", "5070")
	for _, c := range []*brokertest.Client{crm, rec, late} {
		ended := c.Expect("PubSub/Workspace/Ended")
		assert.Contains(t, string(ended.Message), `"agentId":"100501"`)
	}
	tokenRefusedOn(t, nodes, token)

	// The ended apps hear neither agent: not jdoe on the phone, nor the
	// first agent signing in again elsewhere.
	desk := softphoneOn(t, nodes[1])
	signInOn(t, desk, "elsewhere", "ciscotest", "test@123", "5066")
	phone.Request("jdoe-ready", "Cisco", "Agent", "SetReadyState", nil)
	phone.Expect("Cisco/Agent/SetAgentState")
	for _, c := range []*brokertest.Client{crm, rec, late} {
		c.Request("marker", "Cisco", "General", "GetSystemInfo", nil)
		f := c.Next()
		assert.Equal(t, "Cisco/General/SetSystemInfo", f.Triple(), "nothing of either agent reached it: %s", f.Raw)
	}
}

// A supervisor's sign-out served by a node with no part of the agent's
// desktop keeps the desktop too: its token still admits, and the agent's
// next sign-in reaches the apps.
func TestClusterSupervisorSignOutFromAnotherNodeKeepsTheDesktop(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())

	phone, token := ciscotestOn(t, nodes[0])
	sup := softphoneOn(t, nodes[1])
	signInOn(t, sup, "sup", "supervisor1", "super@1", "5090")

	sup.Request("out", "Cisco", "Team", "SetTeamAgentLogout", map[string]string{"UserName": "ciscotest"})
	assert.Equal(t, "LOGOUT", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")))

	rec := joinWith(t, nodes[1].URL, "rec", token, "out")
	signInOn(t, phone, "again", "ciscotest", "test@123", "5064")
	for range 15 {
		assert.Equal(t, "again", rec.Next().CorrelationID)
	}
}

// A node that stops (a rolling restart, a failover) closes the desktop's
// connection that signed the agent in: the apps of the workspace on other
// nodes hear it lost, as after a closed desktop, and hear it back with the
// next sign-in, wherever it is made.
func TestClusterReportsTheDesktopsConnectionLostWithItsNode(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())

	_, token := ciscotestOn(t, nodes[0])
	crm := joinWith(t, nodes[1].URL, "crm", token)
	crm.Ignore = contactCenterLink // the node may run the contact center too

	require.NoError(t, nodes[0].Stop())
	lost := crm.Expect("Cisco/Connection/SetConnectionStatus")
	assert.Contains(t, string(lost.Message), `"status":"disconnected"`)

	desk := softphoneOn(t, nodes[1])
	signInOn(t, desk, "back", "ciscotest", "test@123", "5064")
	for range 15 {
		f := crm.Next()
		if f.Subtopic == "SetConnectionStatus" {
			assert.Contains(t, string(f.Message), `"status":"connected"`)
		}
	}
}

// When the node running the contact center stops, the agents' apps on the
// other nodes hear their link to it go down and come back, once each, and
// the agent stays signed in, its requests served by the next node.
func TestClusterReportsTheContactCentersMove(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())
	leader := -1
	require.Eventually(t, func() bool {
		leader = slices.IndexFunc(nodes, leads)
		return leader >= 0
	}, 3*brokertest.Wait, 10*time.Millisecond, "no node took the lease")
	survivor := nodes[1-leader]
	phone, _ := ciscotestOn(t, survivor)

	require.NoError(t, nodes[leader].Stop())
	for _, want := range []struct{ status, node string }{
		{"disconnected", fmt.Sprintf("n%d", leader+1)}, // said by the node leaving
		{"connected", fmt.Sprintf("n%d", 2-leader)},    // by the one taking over
	} {
		status, link := connectionStatus(t, phone.Expect("Cisco/Connection/SetConnectionStatus"))
		assert.Equal(t, want.status, status)
		node, _, _ := strings.Cut(link, ":")
		assert.Equal(t, want.node, node, "connectionId %s names the node running the contact center", link)
	}
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")), "the next frame: no link reported twice")
}

// leads reports whether n runs the contact center now, by its log: the
// last of its lines about leading does not say "no longer".
func leads(n *server) bool {
	logs := n.Logs.String()
	i := strings.LastIndex(logs, "leading the cisco contact center")
	return i >= 0 && !strings.HasSuffix(logs[:i], "no longer ")
}

// connectionStatus returns the status and connectionId of a
// SetConnectionStatus frame.
func connectionStatus(t *testing.T, f brokertest.Frame) (status, connectionID string) {
	t.Helper()
	var m struct {
		Status       string `json:"status"`
		ConnectionID string `json:"connectionId"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m), "%s", f.Raw)
	return m.Status, m.ConnectionID
}

// contactCenterLink matches the SetConnectionStatus frames of the agents'
// link to the simulated contact center, which a move of it to another node
// reports: their connectionId names the node and its term ("n1:7"), where
// a bus connection's is a UUID.
func contactCenterLink(f brokertest.Frame) bool {
	var m struct {
		ConnectionID string `json:"connectionId"`
	}
	return f.Triple() == "Cisco/Connection/SetConnectionStatus" &&
		json.Unmarshal(f.Message, &m) == nil && strings.Contains(m.ConnectionID, ":")
}
