package finessecluster_test

import (
	"testing"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// BenchmarkStateChange measures a state change made on the node that
// holds the agent's Finesse session, and one made from another node,
// which crosses NATS there and back: the difference is what a cluster
// costs a request.
func BenchmarkStateChange(b *testing.B) {
	logLevel = zap.ErrorLevel
	defer func() { logLevel = zap.InfoLevel }()
	_, n1, n2 := startCluster(b)
	ctx := testContext(b)
	if _, err := n1.SignIn(ctx, agentA.LoginName, agentA.Password, agentA.Extension); err != nil {
		b.Fatal(err)
	}
	codes, err := n1.ReasonCodes(ctx, agentA.LoginID, cisco.CategoryNotReady)
	if err != nil || len(codes) == 0 {
		b.Fatal("no NOT_READY reason code", err)
	}
	ready := false // the agent's state: each change goes to the other one
	for _, bb := range []struct {
		name string
		from *node
	}{{"on the owner", n1}, {"from another node", n2}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				state, code := cisco.StateReady, ""
				if ready {
					state, code = cisco.StateNotReady, codes[0].ID
				}
				ready = !ready
				if _, err := bb.from.SetState(ctx, agentA.LoginID, state, code); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
