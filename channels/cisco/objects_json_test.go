package cisco

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomText picks strings that try every escape of encoding/json.
func randomText(rng *rand.Rand) string {
	texts := []string{"", "100501", "NOT_READY", "Ana <Ops> & Co", `say "hi" \ bye`, "tab\there\nline", "\x00\x1f\x7f",
		"Zoë 中文 🎧", "\u2028\u2029", "bad \xff utf-8", "/finesse/api/User/100501"}
	return texts[rng.IntN(len(texts))]
}

// randomUser fills every field of a User, nil and empty slices and a
// missing reason code included.
func randomUser(rng *rand.Rand) User {
	u := User{
		URI: randomText(rng), LoginID: randomText(rng), LoginName: randomText(rng), FirstName: randomText(rng),
		LastName: randomText(rng), IsSupervisor: rng.IntN(2) == 0, TeamID: randomText(rng), TeamName: randomText(rng),
		Extension: randomText(rng), State: State(randomText(rng)), StateChangeTime: randomText(rng),
		PendingState: randomText(rng), ReasonCodeID: randomText(rng),
		Settings:    Settings{WrapUpOnIncoming: randomText(rng), WrapUpOnOutgoing: randomText(rng)},
		WrapUpTimer: rng.IntN(7200) - 10, MediaType: randomText(rng), Dialogs: randomText(rng), AgentTime: randomText(rng),
	}
	switch rng.IntN(3) {
	case 0:
		u.Roles = []string{}
	case 1:
		u.Roles = []string{randomText(rng), randomText(rng)}
	}
	switch rng.IntN(3) {
	case 0:
		u.Teams = []Team{}
	case 1:
		u.Teams = []Team{{ID: randomText(rng), Name: randomText(rng), URI: randomText(rng)}, {}}
	}
	if rng.IntN(2) == 0 {
		u.ReasonCode = &ReasonCode{URI: randomText(rng), ID: randomText(rng), Category: Category(randomText(rng)),
			Code: rng.IntN(65536), Label: randomText(rng), ForAll: rng.IntN(2) == 0, SystemCode: rng.IntN(2) == 0}
	}
	return u
}

// TestAppendJSONAsMarshal checks the appenders against encoding/json, on
// Users that try every field and every escape.
func TestAppendJSONAsMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2_000 {
		u := randomUser(rng)
		want, err := json.Marshal(u)
		require.NoError(t, err)
		require.Equal(t, string(want), string(u.AppendJSON(nil)))
	}
	var zero User
	want, err := json.Marshal(zero)
	require.NoError(t, err)
	require.Equal(t, string(want), string(zero.AppendJSON(nil)), "the zero User")
}
