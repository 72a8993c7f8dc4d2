package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// A call outlives every node of a cluster: after a restart of them all, the
// agent is still on it, and a supervisor's sign-out made during the call,
// which never hangs it up, still waits for its end.
func TestClusterCallOutlivesARestartOfAllNodes(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	first := startNodes(t, 2, ns.ClientURL())
	phone := brokertest.Dial(t, brokertest.WSURL(first[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	nextStateWhere(t, phone, "READY")
	phone.Request("ring", "Cisco", "Simulator", "IncomingCall",
		map[string]any{"from": "4085551234", "callVariables": map[string]string{"callVariable1": "ACC-42"}})
	call := nextCallWhere(t, phone, "5064", "ALERTING")
	phone.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	nextStateWhere(t, phone, "TALKING")

	sup := brokertest.Dial(t, brokertest.WSURL(first[1].URL))
	sup.Register("supervisor", "Cisco")
	signInOn(t, sup, "sup", "supervisor1", "super@1", "5090")
	sup.Request("out", "Cisco", "Team", "SetTeamAgentLogout", map[string]string{"UserName": "ciscotest"})
	for pending := ""; pending != "LOGOUT"; {
		var m struct {
			Data struct {
				State        string `json:"state"`
				PendingState string `json:"pendingState"`
			} `json:"data"`
		}
		f := nextOf(phone, "Cisco/Agent/SetAgentState")
		require.NoError(t, json.Unmarshal(f.Message, &m), "%s", f.Raw)
		require.Equal(t, "TALKING", m.Data.State, "the sign-out hung the call up")
		pending = m.Data.PendingState
	}
	for _, n := range first {
		require.NoError(t, n.Stop())
	}

	second := startNodes(t, 2, ns.ClientURL())
	crm := joinWith(t, second[1].URL, "crm", token)
	crm.Request("get", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "TALKING", agentStateIn(t, crm.Expect("Cisco/Agent/SetAgentState")), "the call outlived every node")
	crm.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, "999", nextStateWhere(t, crm, "LOGOUT"), "the supervisor's sign-out, at the end of the call")
}
