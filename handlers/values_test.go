package handlers_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// num is a JSON number written exactly as given.
func num(s string) json.Number { return json.Number(s) }

func TestNumbersAreAcceptedWhereTheDocsShowStringIDs(t *testing.T) {
	e := newEnv(t)
	a := e.desktop(t, "softphone")

	// The docs' sign-in sample, with its ids as numbers.
	a.Request("login", "Cisco", "Agent", "SetUserInfo",
		map[string]any{"username": num("102312778"), "password": passwords["102312778"], "extension": num("5069")})
	events := expectSignedIn(t, a, "login")
	assert.Equal(t, "5069", agentStateOf(t, events[2]).Data.Extension)

	a.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": num("3")})
	assert.Equal(t, "3", agentStateOf(t, a.Next()).Data.ReasonCodeID)
	ready(t, a)

	call := ring(t, a, "4085551234", 2)
	a.Request("answer", "Cisco", "InboundCall", "SetANSWER", map[string]any{"MediaAddress ": num("5069"), "CallID": num(call.ID)})
	assert.Equal(t, []string{"ACTIVE/ACTIVE", "TALKING"}, flow(t, a, extP, 2, "answer"))
	a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]any{"CallID": num(call.ID)})
	flow(t, a, extP, 2, "drop")
	a.Request("wrap", "Cisco", "Agent", "WrapUpCall",
		map[string]any{"callID": num(call.ID), "wrapup": num("2"), "customwrapup": "", "Iscustomwrapup": false})
	f := a.Next()
	assert.Equal(t, "wrap", f.CorrelationID)
	assert.Equal(t, "Completed", callsOf(t, f)[0].MediaProperties.WrapUpReason, "wrap-up reason 2, sent as a number")
}

func TestFractionsAndExponentsAreNotIDs(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)

	tests := []struct {
		name     string
		subtopic string
		topic    string
		data     any
		wantIn   string
	}{
		{"a fraction", "SetNotReadyState", "Agent", map[string]any{"ReasonCodeId": num("1.5")}, "1.5 is not a whole number"},
		{"an exponent", "SetNotReadyState", "Agent", map[string]any{"ReasonCodeId": num("1e3")}, "1e3 is not a whole number"},
		{"a negative exponent", "Logout", "Connection", map[string]any{"ReasonCodeId": num("28E-0")}, "28E-0 is not a whole number"},
		{"a boolean id", "SetHOLD", "InboundCall", map[string]any{"CallID": true}, "a string or an integer"},
		{"an object id", "SetHOLD", "InboundCall", map[string]any{"CallID": map[string]any{}}, "a string or an integer"},
		{"a number for a flag", "WrapUpCall", "Agent", map[string]any{"callID": "1", "customwrapup": "x", "Iscustomwrapup": num("1")}, "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.RequestInvalid("x", "Cisco", tt.topic, tt.subtopic, tt.data)
			got := a.ExpectError("Cisco", "Invalid Input", "x")
			assert.Contains(t, got.ErrorMessage, tt.wantIn)
			assert.Contains(t, got.ErrorMessage, "data.")
		})
	}

	// A large integer is kept digit for digit, not rounded through a float.
	a.Request("big", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": num("12345678901234567890123")})
	got := a.ExpectError("Cisco", "Invalid Input", "big")
	assert.Contains(t, got.Msg, `"12345678901234567890123"`)

	// The refusals changed nothing.
	a.Request("state", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "NOT_READY", agentStateOf(t, a.Next()).Data.State)
}

// docsError is an error frame read the way the docs' SetAPIError sample
// nests it: data → "data ".
func docsError(t *testing.T, f brokertest.Frame) brokertest.APIError {
	t.Helper()
	var env struct {
		Data struct {
			Packet string              `json:"packet"`
			Data   brokertest.APIError `json:"data "`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(f.Raw, &env))
	require.Equal(t, "apierror", env.Data.Packet, "frame %s", f.Raw)
	return env.Data.Data
}

func TestErrorsReachEveryAppOfTheWorkspace(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", extA)
	toast := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(toast, "toast", map[string]string{"channel": "Cisco", "token": tok}).Triple())
	other := e.agentOn(t, "jdoe", extB)
	stranger := e.desktop(t, "not-signed-in")

	// An error a request causes after the sign-in reaches every app of the
	// workspace, with the request's id, in both shapes.
	phone.Request("r1", "Cisco", "Agent", "SetReadyState", nil)
	phone.Next()
	toast.Next()
	phone.Request("r2", "Cisco", "Agent", "SetReadyState", nil)
	for _, c := range []*brokertest.Client{phone, toast} {
		got := c.ExpectError("Cisco", "Invalid State", "r2")
		f := c.Seen[len(c.Seen)-1]
		assert.Equal(t, got, docsError(t, f), "the docs' nesting carries the same error")
	}
	// So does one a listening app causes, for the phone to show.
	toast.RequestInvalid("w1", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": num("1.5")})
	toast.ExpectError("Cisco", "Invalid Input", "w1")
	phone.ExpectError("Cisco", "Invalid Input", "w1")

	// Errors that stay with one connection: before a sign-in, and the
	// bus's own about one connection's frames.
	stranger.Request("s1", "Cisco", "Agent", "GetAgentState", nil)
	stranger.ExpectError("Cisco", "Invalid State", "s1")
	phone.SendRaw([]byte(`{"id":"bad",`))
	phone.ExpectError("PubSub", "Invalid Frame", "")
	phone.RequestInvalid("u1", "Cisco", "Agent", "NoSuchThing", nil)
	phone.ExpectError("Cisco", "Unknown API", "u1")
	phone.RequestInvalid("p1", "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "Cisco", "topic": "**", "subtopic": "*"})
	phone.ExpectError("PubSub", "Invalid Pattern", "p1")

	// The marker comes next for the listening app and the other agent:
	// none of those errors reached them.
	phone.Request("marker", "Cisco", "Agent", "GetAgentState", nil)
	phone.Next()
	assert.Equal(t, "marker", toast.Expect("Cisco/Agent/SetAgentState").CorrelationID)
	other.Request("marker2", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "marker2", other.Expect("Cisco/Agent/SetAgentState").CorrelationID)
}

func TestLogoutTakesTheNotReadyReasonCodeIDAsTheDocsCallIt(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	events := login(t, phone, "login", "ciscotest", extA)
	var logoutCodes struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(events[11].Message, &logoutCodes), "SetLogOutReasonCodes")
	require.NotEmpty(t, logoutCodes.Data)

	phone.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": "2"})
	phone.Next()
	phone.Request("out", "Cisco", "Connection", "Logout", map[string]any{"ReasonCodeId": num("2")})
	m := agentStateOf(t, phone.Next())
	assert.Equal(t, "LOGOUT", m.Data.State)
	assert.Equal(t, logoutCodes.Data[0].ID, m.Data.ReasonCodeID, "the first of the agent's LOGOUT codes is recorded")

	// A LOGOUT code is recorded as it is.
	login(t, phone, "again", "ciscotest", extA)
	phone.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]any{"ReasonCodeId": "1"})
	phone.Next()
	last := logoutCodes.Data[len(logoutCodes.Data)-1].ID
	phone.Request("out2", "Cisco", "Connection", "Logout", map[string]any{"ReasonCodeId": last})
	assert.Equal(t, last, agentStateOf(t, phone.Next()).Data.ReasonCodeID)
}

func TestTheDocsWrapUpSampleIsRefusedWithWhatToSend(t *testing.T) {
	e := newEnv(t)
	a, call := answeredCall(t, e)

	// The docs' sample: a reason code and a text, with iscustomwrapup true.
	a.Request("sample", "Cisco", "Agent", "WrapUpCall",
		map[string]any{"callID": call.ID, "wrapup": "2", "customwrapup": "Data", "iscustomwrapup": true})
	got := a.ExpectError("Cisco", "Invalid Input", "sample")
	assert.Contains(t, got.ErrorMessage, "both wrapup and customwrapup are given")
	assert.Contains(t, got.ErrorMessage, "send wrapup (a reason id) with Iscustomwrapup false, or customwrapup (your text) with Iscustomwrapup true")
	// Nor is the text dropped when the flag is false.
	a.Request("flag-off", "Cisco", "Agent", "WrapUpCall",
		map[string]any{"callID": call.ID, "wrapup": "2", "customwrapup": "Data", "iscustomwrapup": false})
	a.ExpectError("Cisco", "Invalid Input", "flag-off")

	// Either half alone is recorded.
	a.Request("text", "Cisco", "Agent", "WrapUpCall",
		map[string]any{"callID": call.ID, "customwrapup": "Data", "iscustomwrapup": true})
	assert.Equal(t, "Data", callsOf(t, a.Next())[0].MediaProperties.WrapUpReason)
	a.Request("code", "Cisco", "Agent", "WrapUpCall",
		map[string]any{"callID": call.ID, "wrapup": "2", "customwrapup": "", "iscustomwrapup": false})
	assert.Equal(t, "Completed", callsOf(t, a.Next())[0].MediaProperties.WrapUpReason)
}

func TestFinesseErrorTypesAndErrorData(t *testing.T) {
	e := newEnv(t)

	// Sign-in refusals, before any workspace: to the requester.
	c := e.desktop(t, "softphone")
	tests := []struct {
		name                  string
		data                  map[string]any
		wantType, wantMessage string
		wantData              string
	}{
		{"a required field absent", map[string]any{"username": "jdoe", "password": passwords["jdoe"]}, "Parameter Missing", "data.extension: extension Parameter missing", "extension"},
		{"a required field null", map[string]any{"username": "jdoe", "password": passwords["jdoe"], "extension": nil}, "Parameter Missing", "data.extension: extension Parameter missing", "extension"},
		{"a required field empty", map[string]any{"username": "jdoe", "password": passwords["jdoe"], "extension": ""}, "Invalid Input", "data.extension: it is empty", ""},
		{"an invalid device", map[string]any{"username": "jdoe", "password": passwords["jdoe"], "extension": "50a7"}, "Invalid Device", "CF_INVALID_LOGON_DEVICE_SPECIFIED", "260"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.RequestInvalid("x", "Cisco", "Agent", "SetUserInfo", tt.data)
			got := c.ExpectError("Cisco", tt.wantType, "x")
			assert.Equal(t, tt.wantMessage, got.ErrorMessage)
			assert.Equal(t, tt.wantData, got.ErrorData)
			assert.Equal(t, got, docsError(t, c.Seen[len(c.Seen)-1]))
		})
	}

	// A call operation the switch refuses, in the workspace.
	phone := e.desktop(t, "phone")
	tok := token(t, phone, "ciscotest", extA)
	toast := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(toast, "toast", map[string]string{"channel": "Cisco", "token": tok}).Triple())
	ready(t, phone)
	toast.Next()
	phone.Request("again", "Cisco", "Agent", "SetReadyState", nil)
	phone.ExpectError("Cisco", "Invalid State", "again") // READY already
	assert.Equal(t, "22", toast.ExpectError("Cisco", "Invalid State", "again").ErrorData, "CF_INVALID_OBJECT_STATE")

	call := ring(t, phone, "4085551234", 2)
	toast.Next()
	toast.Next()
	phone.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]any{"CallID": call.ID})
	flow(t, phone, extA, 2, "answer")
	flow(t, toast, extA, 2, "answer")
	phone.Request("sst", "Cisco", "InboundCall", "SetTRANSFER_SST", map[string]any{"CallID": call.ID, "toAddress": "4085550000"})
	for _, app := range []*brokertest.Client{phone, toast} {
		got := app.ExpectError("Cisco", "Call Operation Failure", "sst")
		assert.Equal(t, "CF_RESOURCE_BUSY", got.ErrorMessage)
		assert.Equal(t, "33", got.ErrorData)
	}
}
