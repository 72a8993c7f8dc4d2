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

// SignIn signs in on node 1, then reads the agent from node 2: the read
// crosses to node 1 and returns once node 2 has delivered node 1's
// notifications sent before it, so that the sign-in's reach node 2 before
// SignIn returns, as the suite expects of one connector.
func (c signedInElsewhere) SignIn(ctx context.Context, username, password, extension string) (cisco.SignedIn, error) {
	in, err := c.n1.SignIn(ctx, username, password, extension)
	if err == nil {
		_, err = c.node.User(ctx, in.User.LoginID)
	}
	return in, err
}

func TestConnectorSuite(t *testing.T) {
	ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
		p := startPair(t)
		ns := natstest.Start(t, "")
		n1, n2 := startNode(t, p, ns, "n1"), startNode(t, p, ns, "n2")
		return ciscotest.SimHarness(signedInElsewhere{node: n2, n1: n1}, p.Sim)
	})
}
