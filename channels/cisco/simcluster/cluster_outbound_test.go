package simcluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/natstest"
)

// A campaign call started on any node runs on the node hosting the contact
// center, with its kind and its campaign data, and goes on after a
// takeover like any call.
func TestClusterCampaignCalls(t *testing.T) {
	s := natstest.Start(t, "")
	dir := ciscotest.NewDirectory(t, testAgents...)
	ctx := testContext(t)
	nodes := startCluster(t, s, dir, 2)

	_, err := nodes[1].SignIn(ctx, "100501", "test@123", "1001")
	require.NoError(t, err)
	_, err = nodes[1].Ring(ctx, "100501", sim.IncomingCall{From: "5551234", Kind: sim.KindPreview})
	assert.ErrorIs(t, err, cisco.ErrInvalidState, "a campaign reserves only a READY agent")
	_, err = nodes[1].Ring(ctx, "100501", sim.IncomingCall{From: "5551234", Kind: "predictive"})
	assert.ErrorIs(t, err, cisco.ErrInvalidInput)

	_, err = nodes[1].SetState(ctx, "100501", cisco.StateReady, "")
	require.NoError(t, err)
	d, err := nodes[1].Ring(ctx, "100501", sim.IncomingCall{From: "5551234", Kind: sim.KindPreview,
		CallVariables: []cisco.CallVariable{{Name: "BACampaign", Value: "Renewals"}}})
	require.NoError(t, err)
	assert.Equal(t, "OUTBOUND_PREVIEW", d.MediaProperties.CallType)
	assert.Contains(t, d.MediaProperties.CallVariables, cisco.CallVariable{Name: "BACampaign", Value: "Renewals"})
	for _, n := range nodes {
		u, err := n.User(ctx, "100501")
		require.NoError(t, err)
		assert.Equal(t, cisco.StateReservedOutboundPreview, u.State)
	}
	assert.Equal(t, cisco.StateReservedOutboundPreview, storedRecord(t, s, "100501").State)

	require.NoError(t, nodes[1].CallAction(ctx, "100501", d.ID, cisco.ActionAccept, ""))
	u, err := nodes[0].User(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateTalking, u.State, "accepted: the agent's phone dials the customer")

	for _, n := range nodes {
		require.NoError(t, n.Close())
	}
	again := startCluster(t, s, dir, 2)
	u, err = again[1].User(ctx, "100501")
	require.NoError(t, err)
	assert.Equal(t, cisco.StateTalking, u.State, "the call survived the takeover")
	calls, err := again[1].Dialogs(ctx, "100501")
	require.NoError(t, err)
	require.Len(t, calls, 1)
	assert.Equal(t, d.ID, calls[0].ID)
	assert.Equal(t, "OUTBOUND_PREVIEW", calls[0].MediaProperties.CallType)
	assert.Contains(t, calls[0].MediaProperties.CallVariables, cisco.CallVariable{Name: "BACampaign", Value: "Renewals"})
}
