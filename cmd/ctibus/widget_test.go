package main

// Browser tests of the widget bridge: widgets in iframes of the test page
// share the page's connection (CtiBusHost and CtiBusWidget of ctibus.js).

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// inWidget is an expression evaluated in the sample widget's document.
func inWidget(expr string) string {
	return `(() => { const d = document.getElementById("widget-frame").contentDocument; return d && (` + expr + `); })()`
}

// widgetText is an expression: the text of an element of the sample widget.
func widgetText(id string) string {
	return inWidget(fmt.Sprintf(`d.getElementById(%s)?.textContent`, jsString(id)))
}

func TestEmbeddedWidgetHearsTheAgentAndAScreenPop(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := newBrowser(t)
	var mu sync.Mutex
	var sockets []string // the WebSockets the page and its frames opened
	require.NoError(t, chromedp.Listen(b.ctx, func(ev any) {
		if ws, ok := ev.(*network.EventWebSocketCreated); ok {
			mu.Lock()
			sockets = append(sockets, ws.URL)
			mu.Unlock()
		}
	}))
	_, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err, "watch the network")
	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(s.URL+"/"))
	b.waitFor(t, "the connection to open", `document.getElementById("conn-status").dataset.status === "open"`)
	b.waitFor(t, "the widget to be welcomed by the page", inWidget(`d.getElementById("widget-status")?.dataset.status === "open"`))
	assert.Equal(t, "Listening through the desktop page as screenpop.", eval[string](t, b, widgetText("widget-status")))

	signInAs(t, b, "ciscotest", "test@123", "5064")
	b.waitFor(t, "the widget to show NOT_READY", widgetText("widget-agent")+` === "NOT_READY"`)
	click(t, b, "#ready-button")
	b.waitFor(t, "the widget to show READY", widgetText("widget-agent")+` === "READY"`)

	// An incoming call from the simulator pops in the widget.
	b.do(t, chromedp.SetValue(chromedp.ID("ring-var1"), "ACC-77"))
	click(t, b, "#ring-button")
	b.waitFor(t, "the screen pop", inWidget(`!d.getElementById("pop").hidden && d.getElementById("pop-state").textContent === "ALERTING"`))
	assert.Equal(t, "4085551234", eval[string](t, b, widgetText("pop-from")))
	assert.Contains(t, eval[string](t, b, widgetText("pop-variables")), "callVariable1ACC-77")
	b.waitFor(t, "the widget to show RESERVED", widgetText("widget-agent")+` === "RESERVED"`)

	// The widget opened no connection of its own.
	mu.Lock()
	assert.Equal(t, []string{brokertest.WSURL(s.URL)}, sockets, "the page's connection, and no other")
	mu.Unlock()
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

// foreignWidget is a widget page served from another origin: it asks the
// test page's host for everything, and reports to its own server how many
// bridge messages it received when the page asks it to.
const foreignWidget = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>foreign</title><link rel="icon" href="data:,"></head><body>
<script type="module">
import { CtiBusWidget } from %q;
let got = 0;
window.addEventListener("message", (e) => {
  if (e.data && e.data.report) {
    fetch("/report?n=" + got);
    return;
  }
  if (e.data && typeof e.data === "object" && "ctibus-bridge" in e.data) {
    got++;
  }
});
const bus = new CtiBusWidget({ app: "screenpop", hostOrigin: %q, requestTimeout: 60000 });
bus.on("*/*/*", () => got++);
bus.connect().catch(() => {});
bus.subscribe("*", "*", "*").catch(() => {});
bus.subscribe("Cisco", "Call", "CallsStateChange").catch(() => {});
bus.request("Cisco", "Agent", "GetAgentState").catch(() => {});
fetch("/loaded");
</script></body></html>`

func TestForeignWidgetGetsNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	loaded := make(chan struct{}, 1)
	reports := make(chan int, 1)
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loaded":
			loaded <- struct{}{}
		case "/report":
			n, err := strconv.Atoi(r.URL.Query().Get("n"))
			if err != nil {
				n = -1
			}
			reports <- n
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, foreignWidget, s.URL+"/ctibus.js", s.URL)
		}
	}))
	t.Cleanup(foreign.Close)

	b := openPage(t, s)
	b.waitFor(t, "the sample widget to be welcomed", inWidget(`d.getElementById("widget-status")?.dataset.status === "open"`))
	require.True(t, eval[bool](t, b, fmt.Sprintf(`(() => {
		const f = document.createElement("iframe");
		f.id = "foreign-frame";
		f.dataset.ctibusApp = "foreign";
		f.src = %s;
		document.querySelector("[data-testid=widget-card]").append(f);
		return true;
	})()`, jsString(foreign.URL+"/"))))
	select {
	case <-loaded:
	case <-b.ctx.Done():
		t.Fatal("the browser stopped before the foreign widget loaded")
	}

	signInAs(t, b, "ciscotest", "test@123", "5064")
	click(t, b, "#ready-button")
	click(t, b, "#ring-button")
	b.waitFor(t, "the screen pop in the page's own widget", inWidget(`!d.getElementById("pop").hidden`))

	// Asked last, the foreign widget reports after everything the page
	// posted to it before: nothing.
	require.True(t, eval[bool](t, b, `(document.getElementById("foreign-frame").contentWindow.postMessage({report: true}, "*"), true)`))
	var n int
	select {
	case n = <-reports:
	case <-b.ctx.Done():
		t.Fatal("the browser stopped before the foreign widget reported")
	}
	require.Zero(t, n, "bridge messages reached the foreign widget")
}
