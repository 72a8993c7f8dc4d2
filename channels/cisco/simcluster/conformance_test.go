package simcluster_test

import (
	"testing"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/channels/cisco/simcluster"
	"github.com/ctibus/ctibus/internal/natstest"
)

// TestConnectorSuite runs the conformance suite on a follower of a
// two-node cluster, whose every change goes through the leader over NATS.
func TestConnectorSuite(t *testing.T) {
	ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
		s := natstest.Start(t, "")
		dir := ciscotest.SuiteDirectory(t)
		cfg := simcluster.Config{Simulator: sim.Config{AfterFunc: ciscotest.NoTimers}}
		nodes := []*clusterNode{startNode(t, s, dir, "node0", cfg), startNode(t, s, dir, "node1", cfg)}
		follower := nodes[1-waitLeader(t, nodes)]
		return ciscotest.SimHarness(follower.Cluster, follower.Cluster)
	})
}
