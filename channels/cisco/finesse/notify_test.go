package finesse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func TestParseNotificationUser(t *testing.T) {
	tests := []struct {
		file      string
		node      string
		event     string
		requestID string
		want      cisco.User
	}{
		{
			file: "user-login.xml", node: "/finesse/api/User/100501", event: "PUT", requestID: "",
			want: cisco.User{
				URI: "/finesse/api/User/100501", LoginID: "100501", LoginName: "ciscotest", FirstName: "Cisco", LastName: "Test",
				Roles: []string{"Agent"}, TeamID: "5004", TeamName: "RTTeam2", Teams: []cisco.Team{}, Extension: "1001",
				State: cisco.StateNotReady, StateChangeTime: "2026-11-30T09:12:01.250Z", ReasonCodeID: "-1",
				Settings:    cisco.Settings{WrapUpOnIncoming: "OPTIONAL", WrapUpOnOutgoing: "REQUIRED"},
				WrapUpTimer: 60, MediaType: "1", Dialogs: "/finesse/api/User/100501/Dialogs",
			},
		},
		{
			// READY comes without reasonCodeId, in another order, with
			// wrapUpOnOutgoing and wrapUpTimer missing.
			file: "user-ready.xml", node: "/finesse/api/User/100600", event: "PUT", requestID: "bus-42",
			want: cisco.User{
				URI: "/finesse/api/User/100600", LoginID: "100600", LoginName: "supervisor1",
				Roles: []string{"Agent", "Supervisor"}, IsSupervisor: true, TeamID: "5005", TeamName: "RTTeam3",
				Teams: []cisco.Team{
					{ID: "5004", Name: "RTTeam2", URI: "/finesse/api/Team/5004"},
					{ID: "5005", Name: "RTTeam3", URI: "/finesse/api/Team/5005"},
				},
				Extension: "1006", State: cisco.StateReady, StateChangeTime: "2026-11-30T09:14:47.981Z", ReasonCodeID: "-1",
				Settings: cisco.Settings{WrapUpOnIncoming: "OPTIONAL"},
			},
		},
		{
			// The older namespace, <User> and a lower-case <reasonCode>
			// whose booleans are capitalised, an empty extension, and
			// event, source and data in the reference's order.
			file: "user-logout-pubsub-ns.xml", node: "/finesse/api/User/100503", event: "PUT", requestID: "",
			want: cisco.User{
				URI: "/finesse/api/User/100503", LoginID: "100503", LoginName: "jdoe", Roles: []string{"Agent"}, Teams: []cisco.Team{},
				State: cisco.StateLogout, ReasonCodeID: "12",
				ReasonCode: &cisco.ReasonCode{
					URI: "/finesse/api/ReasonCode/12", ID: "12", Category: cisco.CategoryLogout, Code: 255,
					Label: "Forced logout", ForAll: true, SystemCode: true,
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			u, err := ParseNotification(readFixture(t, tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.node, u.Node)
			assert.Equal(t, tt.event, u.Event)
			assert.Equal(t, tt.requestID, u.RequestID)
			assert.Equal(t, tt.node, u.Source)
			require.NotNil(t, u.User)
			assert.Equal(t, tt.want, *u.User)
			assert.Empty(t, u.Dialogs)
			assert.Empty(t, u.Errors)
		})
	}
}

func TestParseNotificationErrors(t *testing.T) {
	tests := []struct {
		file      string
		requestID string
		want      cisco.Error
	}{
		{"error-invalid-device.xml", "", cisco.Error{
			Type: cisco.ErrorTypeInvalidDevice, Message: cisco.ErrorMessageInvalidDevice, Data: "260",
			Text: "The device 9999 is not a phone of this peripheral",
		}},
		{"error-invalid-state.xml", "req-7", cisco.Error{
			Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageInvalidState, Data: "22",
			Text: "Finesse refused the request: CF_INVALID_OBJECT_STATE; the agent's state does not allow it now",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			u, err := ParseNotification(readFixture(t, tt.file))
			require.NoError(t, err)
			assert.Equal(t, "PUT", u.Event, "the lower-case put of error updates reads as PUT")
			assert.Equal(t, tt.requestID, u.RequestID)
			require.Len(t, u.Errors, 1)
			assert.Equal(t, tt.want, *u.Errors[0])
			assert.Nil(t, u.User)
		})
	}
}

func TestParseNotificationDialogs(t *testing.T) {
	u, err := ParseNotification(readFixture(t, "dialogs-post-children.xml"))
	require.NoError(t, err)
	assert.Equal(t, "/finesse/api/User/100501/Dialogs", u.Node)
	assert.Equal(t, "POST", u.Event)
	require.Len(t, u.Dialogs, 1)
	d := u.Dialogs[0]
	assert.Equal(t, cisco.Dialog{
		URI: "/finesse/api/Dialog/16777301", ID: "16777301", MediaType: "Voice", State: "ALERTING",
		FromAddress: "4085551234", ToAddress: "1001",
		MediaProperties: cisco.MediaProperties{
			MediaID: "1", DialedNumber: "8005550100", DNIS: "1001", CallType: "PREROUTE_ACD_IN",
			CallVariables: []cisco.CallVariable{
				{Name: "callVariable1", Value: "ACC-42"},
				{Name: "callVariable2", Value: ""},
				{Name: "user.microapp.ToExtVXML[0]", Value: "prompt"},
			},
		},
		Participants: []cisco.Participant{
			{
				MediaAddress: "1001", MediaAddressType: "AGENT_DEVICE", State: "ALERTING",
				StartTime: "2026-11-30T09:20:00.100Z", StateChangeTime: "2026-11-30T09:20:00.100Z", Actions: []string{"ANSWER"},
			},
			{
				MediaAddress: "4085551234", State: "ACTIVE",
				StartTime: "2026-11-30T09:19:58.000Z", StateChangeTime: "2026-11-30T09:19:58.000Z", Actions: []string{},
			},
		},
	}, d)

	del, err := ParseNotification(readFixture(t, "dialog-delete-children.xml"))
	require.NoError(t, err)
	assert.Equal(t, "DELETE", del.Event, "a DELETE carries no data")
	assert.Equal(t, "/finesse/api/Dialog/16777301", del.Source)
	assert.Empty(t, del.Dialogs)
}

func TestParseNotificationRefuses(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		notify bool // ErrNotNotification rather than another error
	}{
		{"not well-formed Update", string(readFixture(t, "not-well-formed.xml")), false},
		{"not XML", "hello", false},
		{"a presence", `<presence from="finesse@finesse-a.test"/>`, true},
		{"a message without event", `<message to="1@a"><body>hi</body></message>`, true},
		{"an event of another namespace", `<message><event xmlns="urn:other"><items node="/x"><item><notification>&lt;Update/&gt;</notification></item></items></event></message>`, true},
		{"an empty notification", `<message><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="/x"><item><notification/></item></items></event></message>`, false},
		{"not an Update", `<message><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="/x"><item><notification>&lt;Other/&gt;</notification></item></items></event></message>`, false},
		{"an unknown event", `<message><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="/x"><item><notification><Update><event>PATCH</event><data/></Update></notification></item></items></event></message>`, false},
		{"a PUT without data", `<message><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="/x"><item><notification><Update><event>PUT</event></Update></notification></item></items></event></message>`, false},
		{"too deep", "<message>" + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</message>", false},
		{"too large", "<message>" + strings.Repeat(" ", MaxDocumentBytes) + "</message>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNotification([]byte(tt.give))
			require.Error(t, err)
			assert.Equal(t, tt.notify, err == ErrNotNotification, "error: %v", err)
			assert.NotContains(t, err.Error(), "WORK_READY", "an error never quotes the payload")
		})
	}
}

func FuzzParseNotification(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	require.NoError(f, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".xml") {
			f.Add(readFixture(f, e.Name()))
		}
	}
	f.Fuzz(func(t *testing.T, stanza []byte) {
		u, err := ParseNotification(stanza)
		if err != nil {
			return
		}
		switch u.Event {
		case "PUT", "POST", "DELETE":
		default:
			t.Fatalf("event %q", u.Event)
		}
		for _, e := range u.Errors {
			if e == nil || e.Type == "" {
				t.Fatal("an apiError without a type")
			}
		}
	})
}
