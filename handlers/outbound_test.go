package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/session"
)

// campaignData is a campaign record as a dialer hands it over: Outbound
// Option's BA* variables beside a call variable and an ECC variable.
var campaignData = map[string]string{
	"BACampaign": "Renewals", "BAAccountNumber": "ACC-7", "BADialedListID": "88",
	"callVariable1": "ACC-42", "user.acct": "42",
}

// preview reserves c's own READY agent for a preview call and returns the
// reservation, after reading what the agent sees (the dialog, then
// RESERVED_OUTBOUND_PREVIEW).
func preview(t *testing.T, c *brokertest.Client, ext string) dialogView {
	t.Helper()
	c.Request("preview", "Cisco", "Simulator", "IncomingCall",
		map[string]any{"from": "4085551234", "kind": "preview", "callVariables": campaignData})
	f := c.Next()
	offer := callsOf(t, f)[0]
	assert.Equal(t, []string{"ALERTING/ALERTING", "RESERVED_OUTBOUND_PREVIEW"},
		append([]string{summary(t, f, ext)}, flow(t, c, ext, 1, "preview")...))
	return offer
}

func TestPreviewCallAcceptedDialsTheCustomer(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	ready(t, a)
	offer := preview(t, a, extA)

	assert.Equal(t, "OUTBOUND_PREVIEW", offer.MediaProperties.CallType)
	assert.Equal(t, "4085551234", offer.FromAddress, "the customer the campaign calls")
	require.Len(t, offer.Participants, 1, "only the agent: the customer is not called yet")
	assert.Equal(t, []string{"ACCEPT", "CLOSE", "REJECT"}, offer.Participants[0].Actions)
	a.Request("dial", "Cisco", "InboundCall", "SetMakeCall", map[string]any{"toAddress": "4085550123"})
	assert.Contains(t, a.ExpectError("Cisco", "Invalid State", "dial").Msg, "reserved", "no call of its own while reserved")
	var names []string
	for _, v := range offer.MediaProperties.CallVariables {
		names = append(names, v.Name)
	}
	assert.Equal(t, []string{"callVariable1", "callVariable2", "callVariable3", "callVariable4", "callVariable5",
		"callVariable6", "callVariable7", "callVariable8", "callVariable9", "callVariable10",
		"BACampaign", "BAAccountNumber", "BAResponse", "BAStatus", "BADialedListID", "BATimeZone", "BABuddyName",
		"user.acct"}, names, "every BA* variable, set or empty, as callVariable1..10")
	assert.Equal(t, "Renewals", offer.variable("BACampaign"))
	assert.Equal(t, "ACC-7", offer.variable("BAAccountNumber"))
	assert.Equal(t, "88", offer.variable("BADialedListID"))
	assert.Equal(t, "ACC-42", offer.variable("callVariable1"))

	a.Request("accept", "Cisco", "OutboundCall", "SetACCEPT", map[string]string{"CallID": offer.ID})
	accepted := a.Next()
	assert.Empty(t, callsOf(t, accepted)[0].Participants[0].Actions, "an ACCEPTED participant has no actions")
	got := []string{summary(t, accepted, extA)}
	got = append(got, flow(t, a, extA, 2, "accept")...)
	e.fire(t, answerDelay)
	answered := a.Next()
	got = append(got, summary(t, answered, extA))
	assert.Equal(t, []string{"ACCEPTED/ACCEPTED", "ALERTING/INITIATED", "TALKING", "ACTIVE/ACTIVE"}, got)

	call := callsOf(t, answered)[0]
	assert.Equal(t, offer.ID, call.ID, "the reservation becomes the call")
	assert.Equal(t, "OUTBOUND_PREVIEW", call.MediaProperties.CallType)
	assert.Equal(t, "ACTIVE", call.participant("4085551234"), "the customer answered")
	assert.Equal(t, "Renewals", call.variable("BACampaign"), "the campaign's data stays on the call")

	a.Request("drop", "Cisco", "OutboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"DROPPED/WRAP_UP", "WORK_READY"}, flow(t, a, extA, 2, "drop"),
		"wrap-up as after a call the agent received")
}

func TestPreviewCallRejectedOrClosed(t *testing.T) {
	tests := []struct {
		name     string
		subtopic string
		during   map[string]string // a state asked for during the reservation
		want     []string
	}{
		{"rejected (skipped)", "SetREJECT", nil, []string{"DROPPED/DROPPED", "READY"}},
		{"closed", "SetCLOSE", nil, []string{"DROPPED/DROPPED", "READY"}},
		{"rejected after asking for NOT_READY", "SetREJECT", map[string]string{"ReasonCodeId": "2"},
			[]string{"RESERVED_OUTBOUND_PREVIEW (pending NOT_READY)", "DROPPED/DROPPED", "NOT_READY 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agentOn(t, "ciscotest", extA)
			ready(t, a)
			offer := preview(t, a, extA)
			var got []string
			if tt.during != nil {
				a.Request("nr", "Cisco", "Agent", "SetNotReadyState", tt.during)
				got = append(got, flow(t, a, extA, 1, "nr")...)
			}
			a.Request("answer", "Cisco", "OutboundCall", tt.subtopic, map[string]string{"CallID": offer.ID})
			got = append(got, flow(t, a, extA, 2, "answer")...)
			assert.Equal(t, tt.want, got)
			a.Request("calls", "Cisco", "Call", "GetCallState", nil)
			assert.Empty(t, callsOf(t, a.Next()), "the reservation is gone")
			assert.Empty(t, e.timers.Running(), "nobody was dialed")
		})
	}
}

func TestProgressiveCallLandsOnTheReservedAgent(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	ready(t, a)
	a.Request("ring", "Cisco", "Simulator", "IncomingCall",
		map[string]any{"from": "4085551234", "kind": "progressive", "callVariables": campaignData})
	got := flow(t, a, extA, 1, "ring")
	e.fire(t, answerDelay) // the customer answers the dialer
	landed := a.Next()
	got = append(got, summary(t, landed, extA))
	a.Request("answer", "Cisco", "OutboundCall", "SetAnswer", map[string]string{"CallID": callsOf(t, landed)[0].ID})
	got = append(got, flow(t, a, extA, 2, "answer")...)
	assert.Equal(t, []string{"RESERVED_OUTBOUND", "ALERTING/ALERTING", "ACTIVE/ACTIVE", "TALKING"}, got,
		"reserved first; the call lands once the customer answers, and the agent stays reserved while it rings")

	call := callsOf(t, landed)[0]
	assert.Empty(t, landed.CorrelationID, "the dialer, not the request, delivers the call")
	assert.Equal(t, "OUTBOUND", call.MediaProperties.CallType)
	assert.Equal(t, "ACTIVE", call.participant("4085551234"), "the customer is on the line before the agent")
	assert.Equal(t, []string{"ANSWER"}, call.Participants[1].Actions)
	assert.Equal(t, "Renewals", call.variable("BACampaign"))
}

func TestProgressiveCallThatNeverReachesTheAgent(t *testing.T) {
	tests := []struct {
		name string
		from string
		end  func(e *env, a *brokertest.Client)
		want []string
		id   string
	}{
		{"the customer is busy", "4085550000", func(e *env, _ *brokertest.Client) { e.fire(t, answerDelay) },
			[]string{"RESERVED_OUTBOUND", "READY"}, ""},
		{"the customer never answers", "4085559999", func(e *env, _ *brokertest.Client) { e.fire(t, ringTimeout) },
			[]string{"RESERVED_OUTBOUND", "READY"}, ""},
		{"the agent leaves the reservation", "4085551234", func(_ *env, a *brokertest.Client) {
			a.Request("leave", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
		}, []string{"RESERVED_OUTBOUND", "NOT_READY 2"}, "leave"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agentOn(t, "ciscotest", extA)
			ready(t, a)
			a.Request("ring", "Cisco", "Simulator", "IncomingCall", map[string]any{"from": tt.from, "kind": "progressive"})
			got := flow(t, a, extA, 1, "ring")
			tt.end(e, a)
			got = append(got, flow(t, a, extA, 1, tt.id)...)
			assert.Equal(t, tt.want, got)
			a.Request("calls", "Cisco", "Call", "GetCallState", nil)
			assert.Empty(t, callsOf(t, a.Next()), "no call ever reached the agent")
			// Read after an answer that waited for the simulator's lock:
			// what the change did under it is done.
			assert.Empty(t, e.timers.Running(), "the dialer hung up")
		})
	}
}

// A preview answer on an ordinary ringing call, as any action a call does
// not allow that Finesse on CCE takes up before it fails, is a Generic
// Error that arrives after the request, in the whole workspace, with the
// request's id; the call rings on.
func TestPreviewActionsRefusedOnAnOrdinaryCall(t *testing.T) {
	tests := []struct {
		subtopic string
		wantData string
		wantMsg  string
	}{
		{"SetREJECT", "REJECT", "ANSWER"},
		{"SetACCEPT", "ACCEPT", "accepted"},
		{"SetCLOSE", "CLOSE", "closed"},
	}
	e := newEnv(t)
	a := e.desktop(t, "softphone")
	tok := token(t, a, "ciscotest", extA)
	crm := e.desktop(t, "crm")
	crm.RegisterWith("crm", map[string]string{"channel": "Cisco", "token": tok})
	ready(t, a)
	call := ring(t, a, "4085551234", 2)
	for range 3 { // READY, the call, RESERVED
		crm.Next()
	}
	for _, tt := range tests {
		t.Run(tt.subtopic, func(t *testing.T) {
			a.Request("x", "Cisco", "OutboundCall", tt.subtopic, map[string]string{"CallID": call.ID})
			for _, c := range []*brokertest.Client{a, crm} {
				refusal := c.ExpectError("Cisco", "Generic Error", "x")
				assert.Equal(t, "The requested action is not allowed for the participant now", refusal.ErrorMessage)
				assert.Equal(t, tt.wantData, refusal.ErrorData)
				assert.Contains(t, refusal.Msg, tt.wantMsg)
			}
		})
	}
	a.Request("calls", "Cisco", "Call", "GetCallState", nil)
	assert.Equal(t, "ALERTING/ALERTING", summary(t, a.Next(), extA), "the call still rings")
}

// Finesse's other Generic Errors of call actions: an action a preview
// reservation does not have, and a single-step transfer before the call is
// answered. Other actions not allowed stay Invalid State, at once.
func TestCallActionsFinesseFailsLater(t *testing.T) {
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	ready(t, a)
	a.Request("ring", "Cisco", "Simulator", "IncomingCall", map[string]any{"from": "6505550123", "kind": "preview"})
	offer := callsOf(t, a.Next())[0]
	a.Next() // RESERVED_OUTBOUND_PREVIEW
	a.Request("hold", "Cisco", "OutboundCall", "SetHOLD", map[string]string{"CallID": offer.ID})
	refusal := a.ExpectError("Cisco", "Generic Error", "hold")
	assert.Equal(t, "HOLD", refusal.ErrorData)
	assert.Contains(t, refusal.Msg, "preview reservation")
	a.Request("close", "Cisco", "OutboundCall", "SetCLOSE", map[string]string{"CallID": offer.ID})
	assert.Equal(t, []string{"DROPPED/DROPPED", "READY"}, flow(t, a, extA, 2, "close"), "the reservation was left as it was")

	call := ring(t, a, "4085551234", 2)
	a.Request("sst", "Cisco", "InboundCall", "SetTRANSFER_SST", map[string]string{"CallID": call.ID, "toAddress": "4085550000"})
	refusal = a.ExpectError("Cisco", "Generic Error", "sst")
	assert.Equal(t, "TRANSFER_SST", refusal.ErrorData)
	assert.Contains(t, refusal.Msg, "answered")
	a.Request("hold", "Cisco", "InboundCall", "SetHOLD", map[string]string{"CallID": call.ID})
	assert.Equal(t, "CF_INVALID_OBJECT_STATE", a.ExpectError("Cisco", "Invalid State", "hold").ErrorMessage)
	a.Request("calls", "Cisco", "Call", "GetCallState", nil)
	assert.Equal(t, "ALERTING/ALERTING", summary(t, a.Next(), extA), "the call still rings")
}

func TestCampaignCallRefusals(t *testing.T) {
	tests := []struct {
		name      string
		ready     bool
		data      map[string]any
		wantType  string
		wantInMsg string
	}{
		{"an unknown kind", true, map[string]any{"from": "4085551234", "kind": "predictive"}, "Invalid Input", "progressive"},
		{"a kind that is not a string", true, map[string]any{"from": "4085551234", "kind": 1}, "Invalid Input", "kind"},
		{"an agent who is not READY", false, map[string]any{"from": "4085551234", "kind": "preview"}, "Invalid State", "READY"},
		{"campaign data on an inbound call", true,
			map[string]any{"from": "4085551234", "callVariables": map[string]string{"BACampaign": "Renewals"}}, "Invalid Input", "campaign data"},
		{"a BA* variable too long", true,
			map[string]any{"from": "4085551234", "kind": "preview", "callVariables": map[string]string{"BAStatus": strings.Repeat("x", 41)}}, "Invalid Input", "BAStatus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agentOn(t, "ciscotest", extA)
			if tt.ready {
				ready(t, a)
			}
			a.RequestInvalid("ring", "Cisco", "Simulator", "IncomingCall", tt.data)
			refusal := a.ExpectError("Cisco", tt.wantType, "ring")
			assert.Contains(t, refusal.ErrorMessage+" "+refusal.Msg, tt.wantInMsg)
			a.Request("calls", "Cisco", "Call", "GetCallState", nil)
			assert.Empty(t, callsOf(t, a.Next()), "nothing rang")
		})
	}
}

func TestSimulatorAPICampaignCalls(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	a := e.agentOn(t, "ciscotest", extA)
	crmJWT := apps.hs256(t, "agent-a-crm", time.Now().Add(time.Hour), apps.hmacKey)
	post := func(body string) (int, string) {
		return postJSON(t, e.http+"/api/simulator/calls", bearer(crmJWT), body)
	}

	code, body := post(`{"agent":"100501","from":"4085551234","kind":"bogus"}`)
	assert.Equal(t, 400, code, body)
	assert.Contains(t, body, "kind")
	code, body = post(`{"agent":"100501","from":"4085551234","kind":"preview"}`)
	assert.Equal(t, 409, code, body)
	assert.Contains(t, body, "READY", "a campaign reserves only a READY agent")

	ready(t, a)
	code, body = post(`{"agent":"100501","from":"4085551234","kind":"preview","callVariables":{"BACampaign":"Renewals"}}`)
	require.Equal(t, 201, code, body)
	var created struct {
		DialogID string `json:"dialogId"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	f := a.Next()
	assert.Empty(t, f.CorrelationID)
	offer := callsOf(t, f)[0]
	assert.Equal(t, created.DialogID, offer.ID)
	assert.Equal(t, "OUTBOUND_PREVIEW", offer.MediaProperties.CallType)
	assert.Equal(t, "Renewals", offer.variable("BACampaign"))
	assert.Equal(t, []string{"RESERVED_OUTBOUND_PREVIEW"}, flow(t, a, extA, 1, ""))
}

func TestScenarioCampaignCalls(t *testing.T) {
	sc, err := sim.LoadScenario(strings.NewReader(`{"calls": [
		{"agent": "100501", "from": "4085551234"},
		{"agent": "100501", "from": "4085551234", "kind": "inbound"},
		{"agent": "100501", "from": "4085551234", "kind": "preview", "callVariables": {"BACampaign": "Renewals"}},
		{"agent": "100501", "from": "4085551234", "kind": "progressive"}
	]}`))
	require.NoError(t, err)
	var kinds []sim.CallKind
	for _, c := range sc.Calls {
		kinds = append(kinds, c.Call.Kind)
	}
	assert.Equal(t, []sim.CallKind{sim.KindInbound, sim.KindInbound, sim.KindPreview, sim.KindProgressive}, kinds)

	_, err = sim.LoadScenario(strings.NewReader(`{"calls": [{"agent": "1", "from": "2", "kind": "predictive"}]}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "calls[0].kind")

	// Played, a preview call reserves the agent as the other sources do.
	e := newEnv(t)
	a := e.agentOn(t, "ciscotest", extA)
	ready(t, a)
	require.NoError(t, e.h.PlayScenario(t.Context(), &sim.Scenario{Calls: sc.Calls[2:3]}))
	offer := callsOf(t, a.Next())[0]
	assert.Equal(t, "OUTBOUND_PREVIEW", offer.MediaProperties.CallType)
	assert.Equal(t, "Renewals", offer.variable("BACampaign"))
	assert.Equal(t, []string{"RESERVED_OUTBOUND_PREVIEW"}, flow(t, a, extA, 1, ""))
}
