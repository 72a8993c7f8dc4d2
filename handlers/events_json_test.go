package handlers

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
)

// TestAgentStateAppendsAsMarshal checks the SetAgentState payload's
// appender against encoding/json, byte for byte: in every state, with and
// without a reason code, teams, roles, changes and a dialog, and with text
// that needs escaping.
func TestAgentStateAppendsAsMarshal(t *testing.T) {
	users := []cisco.User{
		{},
		{URI: "/finesse/api/User/100501", LoginID: "100501", LoginName: "ciscotest", FirstName: "Ana", LastName: "O'Brien",
			Roles: []string{"Agent"}, TeamID: "1", TeamName: "Sales", Teams: []cisco.Team{}, Extension: "5064",
			StateChangeTime: "2026-11-30T15:40:10.123Z", ReasonCodeID: "-1", WrapUpTimer: 60, MediaType: "1",
			Settings: cisco.Settings{WrapUpOnIncoming: "OPTIONAL", WrapUpOnOutgoing: "NOT_ALLOWED"},
			Dialogs:  "/finesse/api/User/100501/Dialogs", AgentTime: "00:05"},
		{LoginName: "<b>&\"\\\u2028\x01é🎧\xff", IsSupervisor: true, Roles: []string{"Agent", "Supervisor"},
			Teams: []cisco.Team{{ID: "2", Name: "Ops & <Support>", URI: "/finesse/api/Team/2"}}, PendingState: "READY",
			ReasonCodeID: "12", ReasonCode: &cisco.ReasonCode{URI: "/finesse/api/ReasonCode/12", ID: "12",
				Category: cisco.Category("NOT_READY"), Code: 32767, Label: "Break <15'>", ForAll: true}},
	}
	states := []cisco.State{cisco.StateLogout, cisco.StateNotReady, cisco.StateReady, cisco.StateWork, cisco.StateWorkReady, cisco.State("TALKING")}
	dialog := &cisco.Dialog{URI: "/finesse/api/Dialog/1", ID: "1", State: "ACTIVE", FromAddress: "<5064>",
		Participants: []cisco.Participant{{}}}
	for _, u := range users {
		for _, state := range states {
			u.State = state
			for _, changed := range [][]string{nil, {"state", "reasonCodeId"}} {
				p := agentState(u, changed, []cisco.Dialog{*dialog})
				requireAppendsAsMarshal(t, p)
				p.Rules = newRules(u, []cisco.Dialog{*dialog}, dialog)
				requireAppendsAsMarshal(t, p)
				p.Rules.ResponseActual.User = nil
				requireAppendsAsMarshal(t, p)
				p.Rules.ResponseActual.Dialog = nil
				p.Rules.SequentialActions.Items = actionStates{}
				p.Changed = nil
				requireAppendsAsMarshal(t, p)
			}
		}
	}
}

func requireAppendsAsMarshal(t *testing.T, p agentStatePayload) {
	t.Helper()
	want, err := json.Marshal(p)
	require.NoError(t, err)
	got, err := p.AppendJSON([]byte("prefix"))
	require.NoError(t, err)
	require.Equal(t, "prefix"+string(want), string(got))
}

// BenchmarkAgentStatePayload compares the SetAgentState payload's appender
// with encoding/json, on a signed-in agent's state.
func BenchmarkAgentStatePayload(b *testing.B) {
	u := cisco.User{URI: "/finesse/api/User/100501", LoginID: "100501", LoginName: "ciscotest", FirstName: "Ana",
		LastName: "Lee", Roles: []string{"Agent"}, TeamID: "1", TeamName: "Sales", Teams: []cisco.Team{}, Extension: "5064",
		State: cisco.StateNotReady, StateChangeTime: "2026-11-30T15:40:10.123Z", ReasonCodeID: "-1", WrapUpTimer: 60,
		MediaType: "1", Dialogs: "/finesse/api/User/100501/Dialogs", AgentTime: "00:05",
		Settings: cisco.Settings{WrapUpOnIncoming: "OPTIONAL", WrapUpOnOutgoing: "NOT_ALLOWED"}}
	p := agentState(u, nil, nil)
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = p.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(p)
		}
	})
}
