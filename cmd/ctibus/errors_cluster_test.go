package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

func TestClusterWorkspaceErrorsReachAppsOnOtherNodes(t *testing.T) {
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())
	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	toast := joinWith(t, nodes[1].URL, "toast", token)

	// The phone's refused request reaches the widget on the other node.
	phone.RequestInvalid("nr", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": 2.5})
	phone.ExpectError("Cisco", "Invalid Input", "nr")
	got := toast.ExpectError("Cisco", "Invalid Input", "nr")
	assert.Contains(t, got.ErrorMessage, "2.5 is not a whole number")
}

func TestClusterCallOperationFailureReachesAppsOnOtherNodes(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, "")
	nodes := startNodes(t, 2, ns.ClientURL())
	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	_, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	toast := joinWith(t, nodes[1].URL, "toast", token)

	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	phone.Expect("Cisco/Agent/SetAgentState")
	phone.Request("ring", "Cisco", "Simulator", "IncomingCall", map[string]string{"from": "4085551234"})
	var calls struct {
		Calls []struct {
			ID string `json:"id"`
		} `json:"calls"`
	}
	require.NoError(t, json.Unmarshal(phone.Expect("Cisco/Call/CallsStateChange").Message, &calls))
	require.Len(t, calls.Calls, 1)
	phone.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": calls.Calls[0].ID})
	phone.Request("sst", "Cisco", "InboundCall", "SetTRANSFER_SST", map[string]string{"CallID": calls.Calls[0].ID, "toAddress": "4085550000"})

	for _, app := range []*brokertest.Client{phone, toast} {
		f := app.Next()
		for f.Topic != "Error" {
			f = app.Next()
		}
		got := f.Error(t)
		assert.Equal(t, "sst", f.CorrelationID, "frame %s", f.Raw)
		assert.Equal(t, "Call Operation Failure", got.ErrorType)
		assert.Equal(t, "33", got.ErrorData)
	}
}
