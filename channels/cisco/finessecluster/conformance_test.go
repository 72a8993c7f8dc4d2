package finessecluster_test

import (
	"context"
	"testing"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// signedInElsewhere is node 2 of a cluster whose agents all sign in on node
// 1: every request of the suite after the sign-in crosses NATS to the node
// that holds the agent's Finesse session.
type signedInElsewhere struct {
	*node // node 2: every method but SignIn
	n1    *node
}

func (c signedInElsewhere) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	return c.n1.SignIn(ctx, username, password, extension)
}

func TestConnectorSuite(t *testing.T) {
	ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
		p := startPair(t)
		ns := natstest.Start(t, "")
		n1, n2 := startNode(t, p, ns, "n1"), startNode(t, p, ns, "n2")
		return ciscotest.SimHarness(signedInElsewhere{node: n2, n1: n1}, p.Sim)
	})
}
