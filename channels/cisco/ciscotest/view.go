package ciscotest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
)

// AppsView returns what the apps of the agents loginIDs can read of c:
// each agent's state, reason code, pending state and extension, and its
// dialogs, with the participants' times left out (they differ from run to
// run). Two connectors that went through the same changes give equal
// views.
func AppsView(tb testing.TB, ctx context.Context, c cisco.Connector, loginIDs ...string) map[string]any {
	tb.Helper()
	out := map[string]any{}
	for _, id := range loginIDs {
		u, err := c.User(ctx, id)
		require.NoError(tb, err)
		ds, err := c.Dialogs(ctx, id)
		require.NoError(tb, err)
		for i := range ds {
			for j := range ds[i].Participants {
				ds[i].Participants[j].StartTime, ds[i].Participants[j].StateChangeTime = "", ""
			}
		}
		out[id] = []any{u.State, u.ReasonCodeID, u.PendingState, u.Extension, ds}
	}
	return out
}
