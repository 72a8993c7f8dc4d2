package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// In a cluster the desktop is kept on the node that served the sign-out;
// its end revokes the agent's tokens on every node.
func TestClusterKeepsTheDesktopOnTheNodeOfTheSignOut(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())

	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	crm := joinWith(t, nodes[0].URL, "crm", token)

	phone.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	for _, c := range []*brokertest.Client{phone, crm} {
		assert.Equal(t, "LOGOUT", agentStateIn(t, c.Expect("Cisco/Agent/SetAgentState")))
	}

	// The same agent signs in again from the phone: the crm app hears all
	// of it, without a new token, and the token still admits on any node.
	signInOn(t, phone, "back", "ciscotest", "test@123", "5064")
	for range 15 {
		assert.Equal(t, "back", crm.Next().CorrelationID)
	}
	joinWith(t, nodes[1].URL, "rec", token, "back")

	// Another agent on the phone ends the desktop: the crm app is told, and
	// the token no longer works, on either node.
	phone.Request("out2", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	assert.Equal(t, "LOGOUT", agentStateIn(t, crm.Expect("Cisco/Agent/SetAgentState")))
	phone.Expect("Cisco/Agent/SetAgentState")
	signInOn(t, phone, "jdoe", "jdoe", "agent@3", "5070")
	crm.Expect("PubSub/Workspace/Ended")
	for _, n := range nodes {
		late := brokertest.Dial(t, brokertest.WSURL(n.URL))
		late.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register",
			"source": "late", "data": map[string]string{"token": token}})
		require.Equal(t, "Invalid Credentials", late.Next().Error(t).ErrorType, "node %s", n.URL)
	}
}

// A supervisor's sign-out served by a node with no part of the agent's
// desktop keeps none: the other node ends its part, and the tokens go.
func TestClusterSupervisorSignOutFromAnotherNodeRevokesTheTokens(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())

	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	sup := brokertest.Dial(t, brokertest.WSURL(nodes[1].URL))
	sup.Register("supervisor", "Cisco")
	signInOn(t, sup, "sup", "supervisor1", "super@1", "5090")

	sup.Request("out", "Cisco", "Team", "SetTeamAgentLogout", map[string]string{"UserName": "ciscotest"})
	assert.Equal(t, "LOGOUT", agentStateIn(t, phone.Expect("Cisco/Agent/SetAgentState")))

	// The agent signs in again elsewhere: the old token admits nobody.
	desk := brokertest.Dial(t, brokertest.WSURL(nodes[1].URL))
	desk.Register("softphone", "Cisco")
	signInOn(t, desk, "again", "ciscotest", "test@123", "5064")
	for _, n := range nodes {
		late := brokertest.Dial(t, brokertest.WSURL(n.URL))
		late.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register",
			"source": "late", "data": map[string]string{"token": token}})
		require.Equal(t, "Invalid Credentials", late.Next().Error(t).ErrorType, "node %s", n.URL)
	}
}
