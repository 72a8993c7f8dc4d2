package main

// Browser tests of the test page's call panel and supervisor panel, against
// the real server and its simulator, with other agents on Go WebSocket
// clients. They use the browser helpers of page_test.go.

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// callSel selects the page's only call, or the button of one of its
// actions when action is not "".
func callSel(action string) string {
	if action == "" {
		return `[data-testid=call]`
	}
	return fmt.Sprintf(`[data-testid=call] [data-action=%q]`, action)
}

// callIs is an expression: the page shows exactly one call, the agent's
// participant in state mine and the dialog in state dialog ("" for any).
func callIs(mine, dialog string) string {
	return fmt.Sprintf(`(() => {
		const c = document.querySelectorAll("[data-testid=call]");
		return c.length === 1 && c[0].dataset.myState === %s && (%s === "" || c[0].dataset.dialogState === %s);
	})()`, jsString(mine), jsString(dialog), jsString(dialog))
}

// agentStateIs is an expression: the agent panel shows state.
func agentStateIs(state string) string {
	return fmt.Sprintf(`document.getElementById("agent-state").textContent === %s`, jsString(state))
}

// noCalls is an expression: the page shows no call.
const noCalls = `document.querySelectorAll("[data-testid=call]").length === 0 && !document.getElementById("calls-card").hidden`

// callButtons returns the labels of the call's buttons that are shown.
func callButtons(t *testing.T, b *tab) []string {
	t.Helper()
	return eval[[]string](t, b, `[...document.querySelectorAll("[data-testid=call] button")]
		.filter((e) => !e.closest("[hidden]")).map((e) => e.textContent)`)
}

// click waits until a button is shown, enabled and not waiting for an
// earlier request, and clicks it.
func click(t *testing.T, b *tab, sel string) {
	t.Helper()
	b.waitFor(t, sel+" to be usable", fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		return e && !e.closest("[hidden]") && !e.disabled && e.getAttribute("aria-disabled") !== "true";
	})()`, jsString(sel)))
	b.do(t, chromedp.Click(chromedp.CSS(sel)))
}

// signInAs signs an agent in on the page and waits for its state.
func signInAs(t *testing.T, b *tab, username, password, ext string) {
	t.Helper()
	b.do(t, chromedp.SetValue(chromedp.ID("username"), username), chromedp.SetValue(chromedp.ID("password"), password),
		chromedp.SetValue(chromedp.ID("extension"), ext))
	click(t, b, "#login-button")
	b.waitFor(t, username+" signed in", `!document.getElementById("agent-panel").hidden && document.getElementById("login-form").hidden`)
}

// goAgent signs an agent in on a Go WebSocket client and reads its sign-in.
func goAgent(t *testing.T, s *server, username, password, ext string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, brokertest.WSURL(s.URL))
	c.Register(username+"-phone", "Cisco")
	c.Request("login", "Cisco", "Agent", "SetUserInfo", map[string]string{"username": username, "password": password, "extension": ext})
	for range 16 { // the 15 events and the workspace token
		f := c.Next()
		require.NotEqual(t, "Cisco/Error/SetAPIError", f.Triple(), "sign in %s: %s", username, f.Raw)
	}
	return c
}

// nextOf reads c's frames up to the next one with the triple.
func nextOf(c *brokertest.Client, triple string) brokertest.Frame {
	for {
		if f := c.Next(); f.Triple() == triple {
			return f
		}
	}
}

// stateOf decodes a SetAgentState into its state and reason code.
func stateOf(t *testing.T, f brokertest.Frame) (state, reason string) {
	t.Helper()
	var m struct {
		Data struct {
			State        string `json:"state"`
			ReasonCodeID string `json:"reasonCodeId"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m), "frame %s", f.Raw)
	return m.Data.State, m.Data.ReasonCodeID
}

// goCall is a call as a Go client sees it: the dialog and the state of the
// participant on ext.
type goCall struct {
	ID, State, Mine, CallType string
}

// callsFor decodes a CallsStateChange, with ext's participant.
func callsFor(t *testing.T, f brokertest.Frame, ext string) []goCall {
	t.Helper()
	var m struct {
		Calls []struct {
			ID              string `json:"id"`
			State           string `json:"state"`
			MediaProperties struct {
				CallType string `json:"callType"`
			} `json:"mediaProperties"`
			Participants []struct {
				MediaAddress string `json:"mediaAddress"`
				State        string `json:"state"`
			} `json:"participants"`
		} `json:"calls"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &m), "frame %s", f.Raw)
	var out []goCall
	for _, c := range m.Calls {
		call := goCall{ID: c.ID, State: c.State, CallType: c.MediaProperties.CallType}
		for _, p := range c.Participants {
			if p.MediaAddress == ext {
				call.Mine = p.State
			}
		}
		out = append(out, call)
	}
	return out
}

// nextCallWhere reads c's frames up to a CallsStateChange whose only call
// has ext's participant in state mine.
func nextCallWhere(t *testing.T, c *brokertest.Client, ext, mine string) goCall {
	t.Helper()
	for {
		f := nextOf(c, "Cisco/Call/CallsStateChange")
		if calls := callsFor(t, f, ext); len(calls) == 1 && calls[0].Mine == mine {
			return calls[0]
		}
	}
}

// nextStateWhere reads c's frames up to a SetAgentState in state and
// returns its reason code.
func nextStateWhere(t *testing.T, c *brokertest.Client, state string) string {
	t.Helper()
	for {
		if got, reason := stateOf(t, nextOf(c, "Cisco/Agent/SetAgentState")); got == state {
			return reason
		}
	}
}

func TestCallPageRingAnswerHoldRetrieveDropWrapUp(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)
	assert.True(t, eval[bool](t, b, `document.getElementById("calls-card").hidden`), "no call panel before sign-in")

	signInAs(t, b, "ciscotest", "test@123", "5064")
	b.waitFor(t, "the call panel", noCalls)
	assert.Equal(t, "No calls", eval[string](t, b, `document.getElementById("calls-count").textContent`))
	click(t, b, "#ready-button")
	b.waitFor(t, "READY", agentStateIs("READY"))

	// Ring me, with a call variable of our own.
	b.do(t, chromedp.SetValue(chromedp.ID("ring-var1"), "ACC-77"))
	click(t, b, "#ring-button")
	b.waitFor(t, "the call ringing, and the agent RESERVED", callIs("ALERTING", "ALERTING")+" && "+agentStateIs("RESERVED"))
	assert.Equal(t, "Incoming call from 4085551234", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Equal(t, "ACD_IN", eval[string](t, b, `document.querySelector("[data-testid=call-type]").textContent`))
	assert.Equal(t, "ALERTING", eval[string](t, b, `document.querySelector("[data-testid=call-my-state]").textContent`))
	assert.Equal(t, "4085551234", eval[string](t, b, `document.querySelector("[data-testid=call-from]").textContent`))
	assert.Equal(t, "5064", eval[string](t, b, `document.querySelector("[data-testid=call-to]").textContent`))
	assert.Equal(t, "callVariable1ACC-77 user.acct42", eval[string](t, b,
		`[...document.querySelectorAll("[data-testid=call-vars] > div")].map((d) => d.textContent).join(" ")`),
		"the variables that are set, and only those")
	assert.Equal(t, []string{"Answer"}, callButtons(t, b), "only what a ringing call allows: Finesse lists ANSWER alone")
	assert.Equal(t, "Incoming call from 4085551234.", eval[string](t, b, `document.getElementById("calls-status").textContent`),
		"announced")
	callID := eval[string](t, b, `document.querySelector("[data-testid=call-id]").textContent`)
	require.Regexp(t, `^\d+$`, callID)

	// Answer from the keyboard: the focus stays on the call.
	b.waitFor(t, "Answer to be usable", `document.querySelector('[data-action=answer]').getAttribute("aria-disabled") === "false"`)
	b.do(t, chromedp.Focus(chromedp.CSS(callSel("answer"))), chromedp.KeyEvent(kb.Enter))
	b.waitFor(t, "the call answered, and the agent TALKING", callIs("ACTIVE", "ACTIVE")+" && "+agentStateIs("TALKING"))
	assert.Equal(t, []string{"Hold", "Drop", "Consult", "Single-step transfer", "Set reason"}, callButtons(t, b))
	b.waitFor(t, "the focus on the call's first button", `document.activeElement.dataset.action === "hold"`)
	assert.Equal(t, "Talking with 4085551234", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))

	click(t, b, callSel("hold"))
	b.waitFor(t, "the call held, and the agent on HOLD", callIs("HELD", "ACTIVE")+" && "+agentStateIs("HOLD"))
	assert.Equal(t, []string{"Retrieve", "Drop", "Set reason"}, callButtons(t, b))
	click(t, b, callSel("retrieve"))
	b.waitFor(t, "the call retrieved", callIs("ACTIVE", "ACTIVE")+" && "+agentStateIs("TALKING"))

	// The composer's call templates name the call.
	b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.getElementById("composer-template");
		s.value = [...s.options].find((o) => o.text === "InboundCall/SetHOLD").value;
		s.dispatchEvent(new Event("change"));
	})()`))
	assert.Contains(t, eval[string](t, b, `document.getElementById("composer-text").value`), `"CallID": "`+callID+`"`)

	b.waitFor(t, "the call's clock to tick", `/^\d\d:\d\d$/.test(document.querySelector("[data-testid=call-time]").textContent)`)
	b.screenshot(t, "ctibus-page-call-1280x800.png")
	b.do(t, chromedp.EmulateViewport(420, 860))
	b.waitFor(t, "the narrow layout", `document.documentElement.clientWidth <= 420`)
	assert.LessOrEqual(t, eval[int](t, b, `document.documentElement.scrollWidth`), 420, "nothing overflows sideways at 420 px")
	b.do(t, chromedp.ScrollIntoView(chromedp.ID("calls-card")))
	b.screenshot(t, "ctibus-page-call-420.png")
	b.do(t, chromedp.EmulateViewport(1280, 800))

	// ciscotest wraps up after incoming calls (OPTIONAL), and was READY.
	click(t, b, callSel("drop"))
	b.waitFor(t, "wrap-up", callIs("WRAP_UP", "DROPPED")+" && "+agentStateIs("WORK_READY"))
	assert.Equal(t, []string{"Set reason"}, callButtons(t, b), "only the wrap-up reason")
	chooseReason(t, b, "call-"+callID+"-wrapup", "Completed")
	click(t, b, callSel("wrap-up"))
	b.waitFor(t, "the reason recorded, still in wrap-up", `document.querySelector("[data-testid=call-wrapUp]").textContent === "Completed"`+" && "+agentStateIs("WORK_READY"))
	click(t, b, "#ready-button")
	b.waitFor(t, "the wrap-up ended, and the agent READY", noCalls+" && "+agentStateIs("READY"))
	assert.Equal(t, "The call with 4085551234 ended.", eval[string](t, b, `document.getElementById("calls-status").textContent`))

	b.do(t, chromedp.Click(chromedp.CSS(`[data-testid=log-row][data-dir=out][data-triple="Cisco/Agent/WrapUpCall"]`)))
	detail := eval[string](t, b, `document.getElementById("log-detail").textContent`)
	assert.Contains(t, detail, `"wrapup": "2"`, "the reason's id")
	assert.Contains(t, detail, `"callID": "`+callID+`"`)
	assert.True(t, eval[bool](t, b, `document.getElementById("notice").hidden`), "no error was shown")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

func TestCallPageDialsAnotherAgent(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	jane := goAgent(t, s, "jdoe", "agent@3", "6123")
	b := openPage(t, s)
	signInAs(t, b, "ciscotest", "test@123", "5064")
	b.waitFor(t, "NOT_READY", agentStateIs("NOT_READY"))

	// A busy number fails at once; the call stays until dropped.
	b.do(t, chromedp.SetValue(chromedp.ID("dial-to"), "4085550000"))
	click(t, b, "#dial-button")
	b.waitFor(t, "the busy call", callIs("FAILED", "FAILED"))
	assert.Equal(t, "4085550000 is busy", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Equal(t, []string{"Drop"}, callButtons(t, b))
	click(t, b, callSel("drop"))
	b.waitFor(t, "the busy call gone", noCalls+" && "+agentStateIs("NOT_READY"))

	// Enter in the number dials.
	b.do(t, chromedp.SetValue(chromedp.ID("dial-to"), "6123"), chromedp.SendKeys(chromedp.ID("dial-to"), "\r"))
	call := nextCallWhere(t, jane, "6123", "ALERTING")
	assert.Equal(t, "AGENT_INSIDE", call.CallType)
	b.waitFor(t, "the other agent's phone ringing", callIs("INITIATED", "ALERTING"))
	assert.Equal(t, "Ringing 6123", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Equal(t, call.ID, eval[string](t, b, `document.querySelector("[data-testid=call-id]").textContent`))

	jane.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	b.waitFor(t, "the call answered", callIs("ACTIVE", "ACTIVE")+" && "+agentStateIs("TALKING"))
	assert.Equal(t, "AGENT_INSIDE", eval[string](t, b, `document.querySelector("[data-testid=call-type]").textContent`))
	assert.Equal(t, "Talking with 6123", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Contains(t, eval[string](t, b, `document.querySelector("[data-testid=call-parties]").textContent`), "6123 active")

	// A request the bus refuses shows its error in plain words.
	click(t, b, "#ring-button")
	b.waitFor(t, "the refusal", `!document.getElementById("notice").hidden`)
	assert.Equal(t, "Device Busy", eval[string](t, b, `document.getElementById("notice-title").textContent`))
	assert.NotEmpty(t, eval[string](t, b, `document.getElementById("notice-text").textContent`))
	b.waitFor(t, "Ring me to be usable again", `document.getElementById("ring-button").getAttribute("aria-disabled") === "false"`)

	click(t, b, callSel("drop"))
	b.waitFor(t, "the call ended", noCalls+" && "+agentStateIs("NOT_READY"))
	assert.Equal(t, "The call with 6123 ended.", eval[string](t, b, `document.getElementById("calls-status").textContent`))
	assert.Equal(t, "WRAP_UP", nextCallWhere(t, jane, "6123", "WRAP_UP").Mine, "jdoe wraps up after incoming calls")
	assert.True(t, eval[bool](t, b, `document.getElementById("notice").hidden`), "the next request cleared the error")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

func TestCallPageSupervisor(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)
	signInAs(t, b, "supervisor1", "super@1", "5090")
	b.waitFor(t, "the team panel", `!document.getElementById("team-card").hidden`)
	assert.Equal(t, "Supervising RTTeam2 (5004), RTTeam3 (5005)", eval[string](t, b, `document.getElementById("team-teams").textContent`))
	assert.Contains(t, eval[string](t, b, `document.getElementById("team-hint").textContent`), "as of your sign-in")
	// The teams' state at sign-in: ciscotest and pquser (5004), jdoe and the supervisor (5005).
	b.waitFor(t, "the team's agents", `document.querySelectorAll("[data-testid=team-agent]").length === 4`)
	assert.NotContains(t, eval[string](t, b, "document.body.innerText"), "super@1", "the password shows on the page")

	agent := goAgent(t, s, "ciscotest", "test@123", "5064")
	agent.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	nextStateWhere(t, agent, "READY")
	row := `[data-testid=team-agent][data-login-id="100501"]`
	b.waitFor(t, "the agent READY on the team panel", fmt.Sprintf(`document.querySelector(%s)?.dataset.state === "READY"`, jsString(row)))
	assert.Equal(t, "Cisco Test", eval[string](t, b, fmt.Sprintf(`document.querySelector(%s).querySelector("[data-testid=team-agent-name]").textContent`, jsString(row))))
	assert.Equal(t, []string{"not-ready", "sign-out"}, eval[[]string](t, b, fmt.Sprintf(
		`[...document.querySelectorAll(%s)].filter((e) => !e.disabled).map((e) => e.dataset.action)`, jsString(row+" button"))),
		"Monitor needs a call, Barge a monitored one")

	click(t, b, row+` [data-action="not-ready"]`)
	assert.Equal(t, "999", nextStateWhere(t, agent, "NOT_READY"), "the agent is NOT_READY, with the supervisor's reason code")
	b.waitFor(t, "the agent NOT_READY on the team panel", fmt.Sprintf(`document.querySelector(%s).dataset.state === "NOT_READY"`, jsString(row)))
	assert.Contains(t, eval[string](t, b, fmt.Sprintf(`document.querySelector(%s).textContent`, jsString(row))), "set by a supervisor")

	// The agent takes a call; the supervisor monitors it, then barges in.
	agent.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	nextStateWhere(t, agent, "READY")
	agent.Request("ring", "Cisco", "Simulator", "IncomingCall", map[string]any{"from": "4085551234", "callVariables": map[string]string{"callVariable1": "ACC-42"}})
	call := nextCallWhere(t, agent, "5064", "ALERTING")
	agent.Request("answer", "Cisco", "InboundCall", "SetAnswer", map[string]string{"CallID": call.ID})
	nextStateWhere(t, agent, "TALKING")
	b.waitFor(t, "the agent TALKING on the team panel", fmt.Sprintf(`document.querySelector(%s).dataset.state === "TALKING"`, jsString(row)))

	click(t, b, row+` [data-action="monitor"]`)
	b.waitFor(t, "the monitor dialog", callIs("ACTIVE", "ACTIVE")+` && document.querySelector("[data-testid=call-type]").textContent === "SUPERVISOR_MONITOR"`)
	assert.Equal(t, "Monitoring 5064", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Equal(t, []string{"Barge in", "Drop"}, callButtons(t, b))
	assert.Contains(t, eval[string](t, b, `document.querySelector("[data-testid=call-vars]").textContent`), "ACC-42", "the call's data")
	b.waitFor(t, "Barge in on the team panel", fmt.Sprintf(`!document.querySelector(%s).disabled`, jsString(row+` [data-action="barge"]`)))
	b.waitFor(t, "the supervisor's clock to tick", `/^\d\d:\d\d$/.test(document.querySelector("[data-testid=call-time]").textContent)`)
	b.screenshot(t, "ctibus-page-supervisor-1280x800.png")
	b.do(t, chromedp.EmulateViewport(420, 860))
	b.waitFor(t, "the narrow layout", `document.documentElement.clientWidth <= 420`)
	assert.LessOrEqual(t, eval[int](t, b, `document.documentElement.scrollWidth`), 420, "nothing overflows sideways at 420 px")
	b.screenshot(t, "ctibus-page-supervisor-420.png")
	b.do(t, chromedp.EmulateViewport(1280, 800))

	click(t, b, row+` [data-action="barge"]`)
	b.waitFor(t, "the supervisor in the call", callIs("ACTIVE", "ACTIVE")+` && document.querySelector("[data-testid=call-type]").textContent === "CONFERENCE"`)
	assert.Equal(t, call.ID, eval[string](t, b, `document.querySelector("[data-testid=call-id]").textContent`), "the agent's call itself")
	// The agent's call, and its passive view of the monitoring one last time.
	for joined := false; !joined; {
		for _, c := range callsFor(t, nextOf(agent, "Cisco/Call/CallsStateChange"), "5090") {
			joined = joined || c.ID == call.ID && c.Mine == "ACTIVE" && c.CallType == "CONFERENCE"
		}
	}

	// Signing the agent out does not hang up its call: the sign-out
	// applies when the agent leaves it.
	click(t, b, row+` [data-action="sign-out"]`)
	nextStateWhere(t, agent, "TALKING")
	agent.Request("drop", "Cisco", "InboundCall", "SetDROP", map[string]string{"CallID": call.ID})
	assert.Equal(t, "999", nextStateWhere(t, agent, "LOGOUT"))
	b.waitFor(t, "the agent LOGOUT on the team panel", fmt.Sprintf(`document.querySelector(%s).dataset.state === "LOGOUT"`, jsString(row)))
	assert.True(t, eval[bool](t, b, fmt.Sprintf(`[...document.querySelectorAll(%s)].every((e) => e.disabled)`, jsString(row+" button"))),
		"nothing more to do for a signed-out agent")
	assert.True(t, eval[bool](t, b, `!!document.querySelector('[data-testid=team-agent][data-login-id="100600"] .ta-actions[hidden]')`),
		"the supervisor is on its own team's list, without actions on itself")

	// The composer has the supervisor requests.
	options := eval[[]string](t, b, `[...document.getElementById("composer-template").options].map((o) => o.text)`)
	for _, want := range []string{"Team/SetTeamAgentNotReadyState", "Team/SetTeamAgentLogout", "Team/SetSilentMonitoring", "InboundCall/SetBARGE CALL"} {
		assert.True(t, slices.Contains(options, want), "template %s", want)
	}
	assert.True(t, eval[bool](t, b, `document.getElementById("notice").hidden`), "no error was shown")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}
