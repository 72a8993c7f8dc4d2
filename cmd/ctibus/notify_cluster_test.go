package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// An app admitted on a node that had no interest in its agent gets every
// event from its admission on, read against the agent's state as it was
// then: "other" is in a wrap-up that needs a reason, on a call, when its
// CRM joins on a node that never served it; when the reason is recorded,
// the CRM hears that the agent may now leave wrap-up, as the softphone
// does on the node that followed the call all along.
func TestClusterLateNodeLearnsTheWrapUp(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 3, ns.ClientURL(), "-agents", "../../handlers/testdata/agents.json")

	phone := softphoneOn(t, nodes[0])
	_, token := signInOn(t, phone, "login", "other", "other@7", "5070")
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	nextStateWhere(t, phone, "READY")
	phone.Request("ring", "Cisco", "Simulator", "IncomingCall", map[string]any{"from": "4085551234"})
	call := nextCallWhere(t, phone, "5070", "ALERTING")
	phone.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	nextStateWhere(t, phone, "TALKING")
	phone.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	nextStateWhere(t, phone, "WORK_READY")

	crm := joinWith(t, nodes[2].URL, "crm", token)
	phone.Request("wrap", "Cisco", "Agent", "WrapUpCall", map[string]any{"callID": call.ID, "wrapup": "2"})
	for _, c := range []*brokertest.Client{phone, crm} {
		assert.Equal(t, "WRAP_UP", nextCallWhere(t, c, "5070", "WRAP_UP").Mine)
		freed := c.Next()
		require.Equal(t, "Cisco/Agent/SetAgentState", freed.Triple(), "the wrap-up freed: %s", freed.Raw)
		assert.Equal(t, map[string]string{"READY": "Enable", "NOT_READY": "Enable", "LOGOUT": "Disable"}, stateActionsOf(t, freed))
	}
	crm.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	for _, c := range []*brokertest.Client{phone, crm} {
		nextStateWhere(t, c, "READY")
	}
}

// A supervisor's node hears of its team's agents though no app of theirs
// is there: the team feed follows the supervisor's interest.
func TestClusterSupervisorHearsTheTeamOnItsNode(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 3, ns.ClientURL())

	sup := softphoneOn(t, nodes[1])
	signInOn(t, sup, "sup", "supervisor1", "super@1", "5090")
	sup.Subscribe("*", "*", "*")
	phone := softphoneOn(t, nodes[0])
	signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	nextStateWhere(t, phone, "READY")
	for {
		f := nextOf(sup, "Cisco/Team/SetTeamAgentState")
		if agentStateIn(t, f) == "READY" {
			break
		}
	}
}

// stateActionsOf returns the SequentialActions items of a SetAgentState.
func stateActionsOf(t *testing.T, f brokertest.Frame) map[string]string {
	t.Helper()
	var m struct {
		Rules struct {
			SequentialActions struct {
				Items map[string]string `json:"items"`
			} `json:"SequentialActions"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m), "%s", f.Raw)
	return m.Rules.SequentialActions.Items
}
