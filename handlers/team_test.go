package handlers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/session"
)

// teamFeed decodes a Cisco/Team/SetTeamAgentState event.
func teamFeed(t *testing.T, f brokertest.Frame) (teamID, loginID, state, reason string) {
	t.Helper()
	require.Equal(t, "Cisco/Team/SetTeamAgentState", f.Triple(), "frame %s", f.Raw)
	var m struct {
		TeamID string `json:"teamId"`
		Data   struct {
			LoginID      string `json:"loginId"`
			State        string `json:"state"`
			ReasonCodeID string `json:"reasonCodeId"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m))
	return m.TeamID, m.Data.LoginID, m.Data.State, m.Data.ReasonCodeID
}

// drain reads c up to the answer to a marker request, so that everything
// sent to c before it has been seen.
func drain(c *brokertest.Client) {
	c.Request("marker", "Cisco", "General", "GetSystemInfo", nil)
	for c.Next().CorrelationID != "marker" {
	}
}

func TestSupervisorMovesAnAgentToNotReady(t *testing.T) {
	e := newEnv(t)
	s := e.agentOn(t, "supervisor1", extS)
	a := e.agentOn(t, "ciscotest", extA)
	o := e.agentOn(t, "other", extO)
	ready(t, a)
	ready(t, o)
	team, who, state, _ := teamFeed(t, s.Next())
	assert.Equal(t, []string{"5004", "100501", "READY"}, []string{team, who, state}, "the team feed reports the agent's state")

	s.Request("snr", "Cisco", "Team", "SetTeamAgentNotReadyState", map[string]string{"Username": "100501", "State": "NotReady", "ReasonCodeId": "-1"})
	f := a.Next()
	assert.Empty(t, f.CorrelationID, "the agent did not ask")
	m := agentStateOf(t, f)
	assert.Equal(t, "NOT_READY", m.Data.State)
	assert.Equal(t, "999", m.Data.ReasonCodeID, "the supervisor reason code")
	f = s.Next()
	assert.Equal(t, "snr", f.CorrelationID)
	_, who, state, reason := teamFeed(t, f)
	assert.Equal(t, []string{"100501", "NOT_READY", "999"}, []string{who, state, reason})

	drain(s)
	for _, f := range s.Seen {
		assert.NotContains(t, string(f.Message), "100700", "the supervisor saw an agent of another team: %s", f.Raw)
	}
}

func TestSupervisorRefusals(t *testing.T) {
	e := newEnv(t)
	s := e.agentOn(t, "supervisor1", extS)
	a := e.agentOn(t, "ciscotest", extA)
	p := e.agentOn(t, "102312778", extP)
	e.agentOn(t, "other", extO)
	ready(t, a)
	s.Next() // the team feed

	tests := []struct {
		name            string
		by              *brokertest.Client
		topic, subtopic string
		data            map[string]string
		wantType        string
		wantMessage     string // the errorMessage, or a part of errorMessage+msg
	}{
		{"READY", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "100501", "State": "Ready"}, "Invalid State", "Supervisor setting state to 'READY' is not allowed"},
		{"an agent outside the teams", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "100700", "State": "NotReady"}, "Invalid Supervisor", "100700"},
		{"by an agent", p, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "100501", "State": "NotReady"}, "Authorization Failure", "supervisor"},
		{"from NOT_READY", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "102312778", "State": "NotReady"}, "Invalid State", "READY, WORK or WORK_READY"},
		{"with a reason code", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "100501", "State": "NotReady", "ReasonCodeId": "2"}, "Invalid Input", "999"},
		{"without UserName", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"State": "NotReady"}, "Parameter Missing", "UserName Parameter missing"},
		{"an unknown state", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "100501", "State": "Away"}, "Invalid Input", "State"},
		{"an unknown agent", s, "Team", "SetTeamAgentNotReadyState", map[string]string{"UserName": "999", "State": "NotReady"}, "User Not Found", "999"},
		{"sign out outside the teams", s, "Team", "SetTeamAgentLogout", map[string]string{"UserName": "100700", "State": "Logout"}, "Invalid Supervisor", "100700"},
		{"sign out by an agent", p, "Team", "SetTeamAgentLogout", map[string]string{"UserName": "100501", "State": "Logout"}, "Authorization Failure", "supervisor"},
		{"monitor outside the teams", s, "Team", "SetSilentMonitoring", map[string]string{"UserName": "100700"}, "Invalid Supervisor", "100700"},
		{"monitor by an agent", p, "Team", "SetSilentMonitoring", map[string]string{"UserName": "100501"}, "Authorization Failure", "supervisor"},
		{"monitor an agent not on a call", s, "Agent", "SetSilentMonitoring", map[string]string{"fromAddress": extS, "toAddress": extA, "UserName": "100501"}, "Invalid State", "active call"},
		{"barge outside the teams", s, "InboundCall", "SetBARGE CALL", map[string]string{"Username": "100700", "CallId": "1"}, "Invalid Supervisor", "100700"},
		{"barge into an unknown call", s, "InboundCall", "SetBARGE CALL", map[string]string{"Username": "100501", "CallId": "1"}, "Not Found", "Invalid dialogId specified for dialog"},
		{"barge naming the wrong extension", s, "InboundCall", "SetBARGE CALL", map[string]string{"Username": "100501", "toAddress": extP, "CallId": "1"}, "Invalid Input", "toAddress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.by.RequestInvalid("x", "Cisco", tt.topic, tt.subtopic, tt.data)
			got := tt.by.ExpectError("Cisco", tt.wantType, "x")
			assert.Contains(t, got.ErrorMessage+" "+got.Msg, tt.wantMessage)
		})
	}
	a.Request("g", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "READY", agentStateOf(t, a.Next()).Data.State, "nothing changed")
}

func TestSupervisorSignsAnAgentOut(t *testing.T) {
	e := newEnv(t)
	s := e.agentOn(t, "supervisor1", extS)
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", extA)
	crm := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(crm, "crm", map[string]string{"channel": "Cisco", "token": tok}).Triple())
	ready(t, phone)
	crm.Next()
	s.Next()
	call := ring(t, phone, "4085551234", 2)
	crm.Next()
	crm.Next()
	s.Next() // RESERVED
	phone.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	flow(t, phone, extA, 2, "answer")
	flow(t, crm, extA, 2, "answer")
	s.Next() // TALKING

	// A CTI sign-out does not hang up the phone: the agent is signed out
	// when its call ends, without wrap-up.
	s.Request("out", "Cisco", "Team", "SetTeamAgentLogout", map[string]string{"UserName ": "ciscotest", "State": "Logout"})
	for _, c := range []*brokertest.Client{phone, crm} {
		assert.Equal(t, []string{"TALKING (pending LOGOUT)"}, flow(t, c, extA, 1, ""))
	}
	f := s.Next()
	assert.Equal(t, "out", f.CorrelationID)
	_, who, state, _ := teamFeed(t, f)
	assert.Equal(t, []string{"100501", "TALKING"}, []string{who, state})
	phone.Request("calls", "Cisco", "Call", "GetCallState", nil)
	assert.Equal(t, "ACTIVE/ACTIVE", summary(t, phone.Next(), extA), "the call goes on")
	crm.Next()

	phone.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"DROPPED/DROPPED", "LOGOUT 999"}, flow(t, phone, extA, 2, "drop"))
	assert.Equal(t, []string{"DROPPED/DROPPED", "LOGOUT 999"}, flow(t, crm, extA, 2, "drop"))
	_, who, state, _ = teamFeed(t, s.Next())
	assert.Equal(t, []string{"100501", "LOGOUT"}, []string{who, state})

	// The desktop is signed out once the sign-out applies; until then an
	// app may still act as the agent. Every answer reaches both apps.
	deadline := time.Now().Add(brokertest.Wait)
	for polls := 1; ; polls++ {
		crm.Request("g", "Cisco", "Agent", "GetAgentState", nil)
		if f := crm.Next(); f.Subtopic == "SetAPIError" || time.Now().After(deadline) {
			assert.Equal(t, "Invalid State", f.Error(t).ErrorType, "the desktop is signed out")
			for ; polls > 1; polls-- {
				phone.Next()
			}
			phone.ExpectError("Cisco", "Invalid State", "g") // the apps of a desktop share their errors, signed in or not
			break
		}
	}
	// The desktop stays, signed out: the token still admits into it, and
	// the agent's next sign-in from the phone reaches the crm app.
	late := brokertest.Dial(t, e.url)
	assert.Equal(t, "PubSub/App/Registered", registerWith(late, "crm", map[string]string{"token": tok}).Triple())
	signIn(phone, "back", "ciscotest", passwords["ciscotest"], extA)
	expectSignedIn(t, phone, "back")
	expectLogin(t, crm, "back")
	left, err := e.sim.Dialogs(t.Context(), "100501")
	require.NoError(t, err)
	assert.Empty(t, left, "call %s is gone", call.ID)
}

func TestSilentMonitoringAndBargeIn(t *testing.T) {
	e := newEnv(t)
	s := e.agentOn(t, "supervisor1", extS)
	a, call := answeredCall(t, e)
	// The team feed reaches the supervisor from the agent's requests, in no
	// fixed order with the supervisor's own answers: wait for the last one.
	for {
		if _, who, state, _ := teamFeed(t, s.Next()); who == "100501" && state == "TALKING" {
			break
		}
	}

	s.Request("barge-first", "Cisco", "InboundCall", "SetBARGE CALL", map[string]string{"Username": "100501", "CallId": call.ID})
	assert.Contains(t, s.ExpectError("Cisco", "Invalid State", "barge-first").Msg, "SetSilentMonitoring", "barge only into a monitored call")

	// Finesse on CCE lets only a NOT_READY supervisor monitor.
	s.Request("sready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateOf(t, s.Next()).Data.State)
	s.Next() // its team feed
	s.Request("mon-ready", "Cisco", "Agent", "SetSilentMonitoring", map[string]string{"UserName": "100501"})
	assert.Contains(t, s.ExpectError("Cisco", "Invalid State", "mon-ready").Msg, "NOT_READY")
	s.Request("snr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "2"})
	assert.Equal(t, "NOT_READY", agentStateOf(t, s.Next()).Data.State)
	s.Next() // its team feed

	s.Request("mon", "Cisco", "Agent", "SetSilentMonitoring", map[string]string{"fromAddress": extS, "toAddress": extA, "UserName": "100501"})
	f := s.Next()
	assert.Equal(t, "mon", f.CorrelationID)
	monitor := callsOf(t, f)
	require.Len(t, monitor, 1)
	assert.Equal(t, "SUPERVISOR_MONITOR", monitor[0].MediaProperties.CallType)
	assert.Equal(t, "ACC-42", monitor[0].variable("callVariable1"))
	assert.Equal(t, "TALKING", agentStateOf(t, s.Next()).Data.State)
	_, who, state, _ := teamFeed(t, s.Next())
	assert.Equal(t, []string{"100600", "TALKING"}, []string{who, state}, "a supervisor of its own team sees itself")

	// The agent sees a second, passive dialog, and stays TALKING.
	f = a.Next()
	assert.Empty(t, f.CorrelationID)
	seen := callsOf(t, f)
	require.Len(t, seen, 2)
	assert.Equal(t, []string{call.ID, monitor[0].ID}, []string{seen[0].ID, seen[1].ID})
	assert.Equal(t, "SUPERVISOR_MONITOR", seen[1].MediaProperties.CallType)
	for _, p := range seen[1].Participants {
		if p.MediaAddress == extA {
			assert.Empty(t, p.Actions, "the agent cannot act on the monitoring")
		}
	}
	a.Request("drop-mon", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": monitor[0].ID})
	a.ExpectError("Cisco", "Invalid State", "drop-mon")
	a.Request("hold", "Cisco", "InboundCall", "SetHOLD", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"ACTIVE/HELD,ACTIVE/ACTIVE", "HOLD"}, flow(t, a, extA, 2, "hold"), "the passive dialog is not a call of the agent's")
	a.Request("retrieve", "Cisco", "InboundCall", "SetRETRIEVE", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"ACTIVE/ACTIVE,ACTIVE/ACTIVE", "TALKING"}, flow(t, a, extA, 2, "retrieve"))

	s.Request("mon-again", "Cisco", "Team", "SetSilentMonitoring", map[string]string{"UserName": "100501"})
	assert.Equal(t, "mon-again", nextOf(s, "Cisco/Error/SetAPIError").CorrelationID, "the team feed of the hold comes first")

	// Barge-in makes the call a conference, for everyone on it.
	s.Request("barge", "Cisco", "OutboundCall", "SetBARGE CALL", map[string]string{"fromAddress": extS, "toAddress": extA, "Username": "100501", "CallId": monitor[0].ID})
	f = nextOf(s, "Cisco/Call/CallsStateChange")
	assert.Equal(t, "barge", f.CorrelationID)
	views := callsOf(t, f)
	require.Len(t, views, 2)
	assert.Equal(t, []string{call.ID, "ACTIVE", "CONFERENCE"}, []string{views[0].ID, views[0].participant(extS), views[0].MediaProperties.CallType})
	assert.Equal(t, "DROPPED", views[1].State, "the monitor dialog ends")

	f = a.Next()
	assert.Empty(t, f.CorrelationID)
	mine := callsOf(t, f)
	require.Len(t, mine, 2, "the call, and the monitor dialog one last time")
	assert.Equal(t, "ACTIVE", mine[0].participant(extS), "the supervisor joined the agent's call")
	assert.Equal(t, "CONFERENCE", mine[0].MediaProperties.CallType)
	assert.Equal(t, "DROPPED", mine[1].State)

	// The agent leaves; the supervisor and the caller talk on.
	a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"ACTIVE/WRAP_UP", "WORK_READY"}, flow(t, a, extA, 2, "drop"))
	assert.Equal(t, "ACTIVE/ACTIVE", summary(t, nextOf(s, "Cisco/Call/CallsStateChange"), extS))
	s.Request("sdrop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, []string{"DROPPED/DROPPED", "NOT_READY 2"}, flow(t, s, extS, 2, "sdrop"), "no wrap-up after supervising")
	drain(a)
	assert.Equal(t, "DROPPED/WRAP_UP", summary(t, a.Seen[len(a.Seen)-2], extA), "the agent in wrap-up saw the call end")
}

// nextOf reads c's frames up to the next one with the triple.
func nextOf(c *brokertest.Client, triple string) brokertest.Frame {
	for {
		if f := c.Next(); f.Triple() == triple {
			return f
		}
	}
}

func TestMonitoringEndsWhenTheAgentLeaves(t *testing.T) {
	e := newEnv(t)
	s := e.agentOn(t, "supervisor1", extS)
	a, call := answeredCall(t, e)
	drain(s)
	s.Request("mon", "Cisco", "Team", "SetSilentMonitoring", map[string]string{"UserName": "ciscotest"})
	assert.Equal(t, []string{"ACTIVE/ACTIVE", "TALKING"}, flow(t, s, extS, 2, "mon"))
	s.Next() // the supervisor's own state on its team feed

	a.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	var got []string
	for len(got) < 2 {
		if f := s.Next(); f.Subtopic != "SetTeamAgentState" {
			got = append(got, summary(t, f, extS))
		}
	}
	assert.Equal(t, []string{"DROPPED/DROPPED", "NOT_READY"}, got)
}

func TestSupervisorReadsItsTeams(t *testing.T) {
	e := newEnv(t)
	s := e.agentOn(t, "supervisor1", extS)
	a := e.agentOn(t, "ciscotest", extA)
	ready(t, a)
	teamFeed(t, s.Next())

	s.Request("team", "Cisco", "Team", "GetTeamState", nil)
	var got [][3]string
	for _, wantTeam := range []string{"5004", "5005"} {
		f := s.Expect("Cisco/Team/SetTeamState")
		assert.Equal(t, "team", f.CorrelationID)
		var m struct {
			TeamID string `json:"teamId"`
			Agents []struct {
				LoginID string `json:"loginId"`
				State   string `json:"state"`
			} `json:"agents"`
		}
		require.NoError(t, json.Unmarshal(f.Message, &m))
		assert.Equal(t, wantTeam, m.TeamID)
		for _, a := range m.Agents {
			got = append(got, [3]string{m.TeamID, a.LoginID, a.State})
		}
	}
	assert.Equal(t, [][3]string{
		{"5004", "100501", "READY"},
		{"5004", "102312778", "LOGOUT"},
		{"5005", "100503", "LOGOUT"},
		{"5005", "100600", "NOT_READY"},
	}, got)
	drain(s)
	for _, f := range s.Seen {
		assert.NotContains(t, string(f.Message), `"loginId":"100700"`, "an agent of another team")
	}

	a.Request("no", "Cisco", "Team", "GetTeamState", nil)
	a.ExpectError("Cisco", "Authorization Failure", "no")
}

func TestTeamGrantSeesOnlyItsTeamThroughASupervisorsFeed(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	// The grant of team 5005 watches the supervisor (a member of 5005, who
	// supervises 5004 and 5005) and jdoe (5005); not ciscotest (5004).
	grant := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(grant, "team-5005",
		map[string]string{"jwt": apps.hs256(t, "team-5005", time.Now().Add(time.Hour), apps.hmacKey)}).Triple())
	grant.Subscribe("*", "*", "*")

	s := e.agentOn(t, "supervisor1", extS)
	a := e.agentOn(t, "ciscotest", extA)
	j := e.agentOn(t, "jdoe", "6123")
	ready(t, a)
	_, id, _, _ := teamFeed(t, s.Next())
	require.Equal(t, "100501", id, "the supervisor's own feed is whole")
	s.Request("team", "Cisco", "Team", "GetTeamState", nil)
	s.Expect("Cisco/Team/SetTeamState")
	s.Expect("Cisco/Team/SetTeamState")
	j.Request("end", "Cisco", "Agent", "SetReadyState", nil)
	j.Next()

	for f := grant.Next(); f.CorrelationID != "end"; f = grant.Next() {
	}
	team, id, state, _ := teamFeed(t, grant.Next())
	assert.Equal(t, [3]string{"5005", "100503", "READY"}, [3]string{team, id, state}, "its own team's agent, through the feed")
	for _, f := range grant.Seen {
		assert.NotContains(t, string(f.Message), `"100501"`, "an agent of team 5004: %s", f.Raw)
		assert.NotContains(t, string(f.Message), `"102312778"`, "an agent of team 5004: %s", f.Raw)
		assert.NotEqual(t, "Cisco/Team/SetTeamState", f.Triple(), "it lists team 5004")
	}
}
