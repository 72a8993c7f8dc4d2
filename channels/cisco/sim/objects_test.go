package sim_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestUserJSON(t *testing.T) {
	s, clk := newSimulator(t)
	ctx := context.Background()

	agent := signIn(t, s, "ciscotest", "test@123", "5064")
	assert.JSONEq(t, `{
		"uri": "/finesse/api/User/100501",
		"loginId": "100501",
		"loginName": "ciscotest",
		"firstName": "Cisco",
		"lastName": "Test",
		"roles": ["Agent"],
		"issupervisor": false,
		"teamId": "5004",
		"teamName": "RTTeam2",
		"teams": [],
		"extension": "5064",
		"state": "NOT_READY",
		"stateChangeTime": "2026-11-30T15:40:10.123Z",
		"pendingState": "",
		"reasonCodeId": "-1",
		"settings": {"wrapUpOnIncoming": "OPTIONAL", "wrapUpOnOutgoing": "NOT_ALLOWED"},
		"wrapUpTimer": "60",
		"mediaType": "1",
		"dialogs": "/finesse/api/User/100501/Dialogs",
		"agentTime": "00:00"
	}`, marshal(t, agent))

	signIn(t, s, "supervisor1", "super@1", "5069")
	_, err := s.SetState(ctx, "100600", cisco.StateNotReady, "2")
	require.NoError(t, err)
	clk.Advance(65 * time.Second)
	assert.JSONEq(t, `{
		"uri": "/finesse/api/User/100600",
		"loginId": "100600",
		"loginName": "supervisor1",
		"firstName": "Sam",
		"lastName": "Rivera",
		"roles": ["Agent", "Supervisor"],
		"issupervisor": true,
		"teamId": "5005",
		"teamName": "RTTeam3",
		"teams": [
			{"id": "5004", "name": "RTTeam2", "uri": "/finesse/api/Team/5004"},
			{"id": "5005", "name": "RTTeam3", "uri": "/finesse/api/Team/5005"}
		],
		"extension": "5069",
		"state": "NOT_READY",
		"stateChangeTime": "2026-11-30T15:40:10.123Z",
		"pendingState": "",
		"reasonCodeId": "2",
		"ReasonCode": {
			"uri": "/finesse/api/ReasonCode/2",
			"id": "2",
			"category": "NOT_READY",
			"code": "102",
			"label": "Lunch",
			"forAll": "true",
			"systemCode": "false"
		},
		"settings": {"wrapUpOnIncoming": "OPTIONAL", "wrapUpOnOutgoing": "NOT_ALLOWED"},
		"wrapUpTimer": "60",
		"mediaType": "1",
		"dialogs": "/finesse/api/User/100600/Dialogs",
		"agentTime": "01:05"
	}`, marshal(t, user(t, s, "100600")))
}

func TestSignedOutUserJSON(t *testing.T) {
	s := sim.New(sim.DemoDirectory(), sim.Config{})

	assert.JSONEq(t, `{
		"uri": "/finesse/api/User/100503",
		"loginId": "100503",
		"loginName": "jdoe",
		"firstName": "Jane",
		"lastName": "Doe",
		"roles": ["Agent"],
		"issupervisor": false,
		"teamId": "5005",
		"teamName": "RTTeam3",
		"teams": [],
		"extension": "",
		"state": "LOGOUT",
		"stateChangeTime": "",
		"pendingState": "",
		"reasonCodeId": "-1",
		"settings": {"wrapUpOnIncoming": "REQUIRED", "wrapUpOnOutgoing": "OPTIONAL"},
		"wrapUpTimer": "120",
		"mediaType": "1",
		"dialogs": "/finesse/api/User/100503/Dialogs",
		"agentTime": "00:00"
	}`, marshal(t, user(t, s, "100503")))
}

func TestReasonCodesJSON(t *testing.T) {
	s, _ := newSimulator(t)

	got, err := s.ReasonCodes(context.Background(), "100503", cisco.CategoryNotReady)
	require.NoError(t, err)

	assert.JSONEq(t, `[
		{"uri": "/finesse/api/ReasonCode/1", "id": "1", "category": "NOT_READY", "code": "101", "label": "Break", "forAll": "true", "systemCode": "false"},
		{"uri": "/finesse/api/ReasonCode/2", "id": "2", "category": "NOT_READY", "code": "102", "label": "Lunch", "forAll": "true", "systemCode": "false"},
		{"uri": "/finesse/api/ReasonCode/3", "id": "3", "category": "NOT_READY", "code": "103", "label": "Meeting", "forAll": "true", "systemCode": "false"},
		{"uri": "/finesse/api/ReasonCode/4", "id": "4", "category": "NOT_READY", "code": "104", "label": "Training", "forAll": "true", "systemCode": "false"},
		{"uri": "/finesse/api/ReasonCode/5", "id": "5", "category": "NOT_READY", "code": "105", "label": "Coaching", "forAll": "true", "systemCode": "false"},
		{"uri": "/finesse/api/ReasonCode/6", "id": "6", "category": "NOT_READY", "code": "106", "label": "Back Office", "forAll": "false", "systemCode": "false"}
	]`, marshal(t, got))
}

func TestWrapUpReasonsJSON(t *testing.T) {
	s, _ := newSimulator(t)

	got, err := s.WrapUpReasons(context.Background(), "100501")
	require.NoError(t, err)

	// The shape of Acqueon's SetWrapupCode sample, plus the id.
	assert.JSONEq(t, `[
		{"uri": "/finesse/api/User/100501/WrapUpReason/1", "id": "1", "label": "Inprogress", "forAll": "true"},
		{"uri": "/finesse/api/User/100501/WrapUpReason/2", "id": "2", "label": "Completed", "forAll": "true"},
		{"uri": "/finesse/api/User/100501/WrapUpReason/3", "id": "3", "label": "Pending", "forAll": "true"},
		{"uri": "/finesse/api/User/100501/WrapUpReason/4", "id": "4", "label": "Clerical work", "forAll": "true"},
		{"uri": "/finesse/api/User/100501/WrapUpReason/5", "id": "5", "label": "DataEntry", "forAll": "true"}
	]`, marshal(t, got))
}

func TestPhoneBooksJSON(t *testing.T) {
	s, _ := newSimulator(t)

	got, err := s.PhoneBooks(context.Background(), "100501")
	require.NoError(t, err)

	assert.JSONEq(t, `[
		{"uri": "/finesse/api/PhoneBook/1", "name": "Company Directory", "type": "GLOBAL", "contacts": [
			{"firstName": "IT", "lastName": "Help Desk", "phoneNumber": "5054", "description": "Internal IT support", "uri": "/finesse/api/PhoneBook/1/Contact/1"},
			{"firstName": "Maria", "lastName": "Lopez", "phoneNumber": "5060", "description": "Customer care manager", "uri": "/finesse/api/PhoneBook/1/Contact/2"},
			{"firstName": "Billing", "lastName": "Escalations", "phoneNumber": "8005550142", "description": "Billing back office", "uri": "/finesse/api/PhoneBook/1/Contact/3"},
			{"firstName": "Facilities", "lastName": "Desk", "phoneNumber": "5056", "description": "Building and facilities", "uri": "/finesse/api/PhoneBook/1/Contact/4"},
			{"firstName": "Security", "lastName": "Desk", "phoneNumber": "5055", "description": "Site security, all hours", "uri": "/finesse/api/PhoneBook/1/Contact/5"}
		]},
		{"uri": "/finesse/api/PhoneBook/2", "name": "RTTeam2 Escalations", "type": "TEAM", "contacts": [
			{"firstName": "Tier 2", "lastName": "Support", "phoneNumber": "5070", "description": "Technical escalations", "uri": "/finesse/api/PhoneBook/2/Contact/6"},
			{"firstName": "Quality", "lastName": "Team", "phoneNumber": "5071", "description": "Call reviews and complaints", "uri": "/finesse/api/PhoneBook/2/Contact/7"},
			{"firstName": "Omar", "lastName": "Haddad", "phoneNumber": "5072", "description": "RTTeam2 team lead", "uri": "/finesse/api/PhoneBook/2/Contact/8"}
		]}
	]`, marshal(t, got))
}

func TestSystemInfoJSON(t *testing.T) {
	s, clk := newSimulator(t)
	clk.Advance(time.Second)

	got, err := s.SystemInfo(context.Background())
	require.NoError(t, err)

	assert.JSONEq(t, `{
		"uri": "/finesse/api/SystemInfo",
		"currentTimestamp": "2026-11-30T15:40:11.123Z",
		"timeDiffSeconds": 0,
		"deploymentType": "UCCE",
		"lastCTIHeartbeatStatus": "Success",
		"lastSuccessCTIHeartbeatTime": "1796053210000",
		"ctiVersion": "23",
		"ctiHeartbeatInterval": "2",
		"peripheralId": "5000",
		"primaryNode": {"host": "finesse-a.ctibus.local", "httpsPort": "8445", "xmppPort": "5222", "xmppSecurePort": "5223"},
		"secondaryNode": {"host": "finesse-b.ctibus.local", "httpsPort": "8445", "xmppPort": "5222", "xmppSecurePort": "5223"},
		"status": "IN_SERVICE",
		"statusReason": "",
		"systemAuthMode": "NON_SSO",
		"timezoneOffset": "0",
		"xmppDomain": "finesse-a.ctibus.local",
		"xmppPubSubDomain": "pubsub.finesse-a.ctibus.local",
		"license": ""
	}`, marshal(t, got))
}

func TestMediaJSON(t *testing.T) {
	s, _ := newSimulator(t)
	signIn(t, s, "ciscotest", "test@123", "5064")

	got, err := s.Media(context.Background(), "100501")
	require.NoError(t, err)
	require.Len(t, got, 3)

	assert.JSONEq(t, `{
		"uri": "/finesse/api/User/100501/Media/5001",
		"id": "5001",
		"name": "Cisco_Chat_MRD",
		"description": "Chat MRD",
		"state": "NOT_READY",
		"stateChangeTime": "2026-11-30T15:40:10.123Z",
		"reasonCodeId": "-1",
		"routable": "true",
		"maxDialogLimit": "5",
		"interruptAction": "ACCEPT",
		"dialogLogoutAction": "CLOSE",
		"interruptible": "true"
	}`, marshal(t, got[1]))
}

func TestMRDJSON(t *testing.T) {
	s, _ := newSimulator(t)

	got, err := s.MediaRoutingDomains(context.Background())
	require.NoError(t, err)

	assert.JSONEq(t, `[
		{"id": "1", "name": "Cisco_Voice", "description": "Cisco Voice", "mediaClass": "voice"},
		{"id": "5001", "name": "Cisco_Chat_MRD", "description": "Chat MRD", "mediaClass": "chat"},
		{"id": "5002", "name": "Cisco_Email_MRD", "description": "Email MRD", "mediaClass": "email"}
	]`, marshal(t, got))
}

func TestDialogJSON(t *testing.T) {
	give := cisco.Dialog{
		URI:         "/finesse/api/Dialog/16777217",
		ID:          "16777217",
		MediaType:   "Voice",
		State:       "ALERTING",
		FromAddress: "9095551234",
		ToAddress:   "5064",
		MediaProperties: cisco.MediaProperties{
			MediaID:       "1",
			DialedNumber:  "8005550100",
			DNIS:          "5000",
			CallType:      "ACD_IN",
			CallVariables: []cisco.CallVariable{{Name: "callVariable1", Value: "ACC-42"}},
		},
		Participants: []cisco.Participant{{
			MediaAddress:     "5064",
			MediaAddressType: "AGENT_DEVICE",
			State:            "ALERTING",
			StateCause:       "",
			StartTime:        startStamp,
			StateChangeTime:  startStamp,
			Actions:          []string{"ANSWER"},
		}},
	}

	assert.JSONEq(t, `{
		"uri": "/finesse/api/Dialog/16777217",
		"id": "16777217",
		"mediaType": "Voice",
		"state": "ALERTING",
		"fromAddress": "9095551234",
		"toAddress": "5064",
		"mediaProperties": {
			"mediaId": "1",
			"dialedNumber": "8005550100",
			"DNIS": "5000",
			"callType": "ACD_IN",
			"callvariables": [{"name": "callVariable1", "value": "ACC-42"}]
		},
		"participants": [{
			"mediaAddress": "5064",
			"mediaAddressType": "AGENT_DEVICE",
			"state": "ALERTING",
			"stateCause": "",
			"startTime": "2026-11-30T15:40:10.123Z",
			"stateChangeTime": "2026-11-30T15:40:10.123Z",
			"actions": ["ANSWER"]
		}]
	}`, marshal(t, give))

	s, _ := newSimulator(t)
	dialogs, err := s.Dialogs(context.Background(), "100501")
	require.NoError(t, err)
	assert.JSONEq(t, `[]`, marshal(t, dialogs))
}

func TestUserJSONRoundTrip(t *testing.T) {
	// Handlers may read a User back from the bus; the string-typed numbers
	// and booleans must decode into the Go types.
	s, _ := newSimulator(t)
	signIn(t, s, "supervisor1", "super@1", "5069")
	_, err := s.SetState(context.Background(), "100600", cisco.StateNotReady, "2")
	require.NoError(t, err)
	want := user(t, s, "100600")

	var got cisco.User
	require.NoError(t, json.Unmarshal([]byte(marshal(t, want)), &got))

	assert.Equal(t, want, got)
}
