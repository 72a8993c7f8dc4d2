package main

// A browser test of the test page's campaign calls, against the real server
// and its simulator. It uses the helpers of page_test.go and callpage_test.go.

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
)

func TestCallPagePreviewCallAccepted(t *testing.T) {
	t.Parallel()
	// The customer's number ends in 9999: it rings until the ring timeout,
	// which is longer than the test, so the dialing state stays on screen.
	s := startServer(t, nil, "-sim-ring-timeout", "1h")
	b := openPage(t, s)
	signInAs(t, b, "ciscotest", "test@123", "5064")
	click(t, b, "#ready-button")
	b.waitFor(t, "READY", agentStateIs("READY"))

	b.do(t, chromedp.SetValue(chromedp.ID("ring-from"), "4085559999"), chromedp.SetValue(chromedp.ID("ring-kind"), "preview"))
	click(t, b, "#ring-button")
	b.waitFor(t, "the preview, and the agent reserved", callIs("ALERTING", "ALERTING")+" && "+agentStateIs("RESERVED_OUTBOUND_PREVIEW"))
	assert.Equal(t, "OUTBOUND_PREVIEW", eval[string](t, b, `document.querySelector("[data-testid=call-type]").textContent`))
	assert.Equal(t, "Campaign preview: call 4085559999?", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Equal(t, []string{"Accept", "Reject (skip)", "Close"}, callButtons(t, b), "the preview's actions: ACCEPT, REJECT, CLOSE")
	assert.Contains(t, eval[string](t, b, `[...document.querySelectorAll("[data-testid=call-vars] > div")].map((d) => d.textContent).join(" ")`),
		"BACampaignDemo campaign", "the campaign's record")
	callID := eval[string](t, b, `document.querySelector("[data-testid=call-id]").textContent`)
	b.screenshot(t, "ctibus-page-preview-1280x800.png")

	click(t, b, callSel("accept"))
	b.waitFor(t, "the customer dialed from the agent's phone, and the agent TALKING",
		callIs("INITIATED", "ALERTING")+" && "+agentStateIs("TALKING"))
	assert.Equal(t, "Ringing 4085559999", eval[string](t, b, `document.querySelector("[data-testid=call-title]").textContent`))
	assert.Equal(t, callID, eval[string](t, b, `document.querySelector("[data-testid=call-id]").textContent`), "the reservation became the call")
	assert.Equal(t, []string{"Drop", "Set reason"}, callButtons(t, b))

	b.do(t, chromedp.Click(chromedp.CSS(`[data-testid=log-row][data-dir=out][data-triple="Cisco/OutboundCall/SetACCEPT"]`)))
	assert.Contains(t, eval[string](t, b, `document.getElementById("log-detail").textContent`), `"CallID": "`+callID+`"`)

	click(t, b, callSel("drop"))
	b.waitFor(t, "the call gone, and the agent READY again", noCalls+" && "+agentStateIs("READY"))
}
