package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
	phone.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": 2.5})
	phone.ExpectError("Cisco", "Invalid Input", "nr")
	got := toast.ExpectError("Cisco", "Invalid Input", "nr")
	assert.Contains(t, got.ErrorMessage, "2.5 is not a whole number")
}
