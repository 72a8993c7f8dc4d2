package main

// Browser tests: the bundled test page against the real server, and the unit
// tests of ctibus.js (web/testdata/client.test.html), in headless Chromium.
// Without a browser they skip, or fail when CI=true; see findChrome.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// chromeNames are the executables findChrome looks for on PATH, in order.
var chromeNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// errNoChrome says that no browser was found, and how to get one.
var errNoChrome = errors.New("no Chromium-family browser: looked for $CTIBUS_CHROME, then " +
	strings.Join(chromeNames, ", ") + " on PATH; install one (Debian/Ubuntu: sudo apt-get install chromium) " +
	"or set CTIBUS_CHROME to the browser's path")

// findChrome returns the browser the tests drive: $CTIBUS_CHROME when set
// (a path or a name on PATH), else the first of chromeNames on PATH.
func findChrome(getenv func(string) string) (string, error) {
	if want := getenv("CTIBUS_CHROME"); want != "" {
		path, err := exec.LookPath(want)
		if err != nil {
			return "", fmt.Errorf("CTIBUS_CHROME=%q: %w", want, err)
		}
		return path, nil
	}
	for _, name := range chromeNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errNoChrome
}

// waitTimeout bounds every wait for the page; the waits poll, so a passing
// test takes only as long as the page does. It scales as brokertest.Wait
// does.
var waitTimeout = brokertest.Wait

// tab is one tab of headless Chromium, with what its page reported as errors.
type tab struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string // guarded by mu: uncaught exceptions, console.error calls, browser log errors
}

// newBrowser starts headless Chromium for the test, in a fresh profile, and
// stops it when the test ends. Every browser test starts here: without a
// browser it skips the test, or fails it when CI=true, where skipping would
// hide that nothing ran.
func newBrowser(t *testing.T) *tab {
	t.Helper()
	path, err := findChrome(os.Getenv)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the browser tests cannot run: %v", err)
		}
		t.Skipf("skipping the browser test: %v", err)
	}

	profile := t.TempDir() // removed after the browser has exited: cleanups run last-in first-out
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // tests may run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &tab{}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	b.ctx = ctx
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first run starts the browser and ties it to ctx, which must have
	// no deadline; the waits below derive their own.
	require.NoError(t, chromedp.Do(ctx), "start %s", path)
	return b
}

// record keeps what the page reported as an error, such as an asset that
// failed to load. It runs in the tab's event loop, so it only appends.
func (b *tab) record(ev any) {
	var text string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text = d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		text = fmt.Sprintf("uncaught at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		text = "console.error: " + strings.Join(args, " ")
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		text = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, text)
}

// pageErrors returns the errors the page has reported so far.
func (b *tab) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// do runs actions with the wait timeout.
func (b *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...), "page: %s", b.describe())
}

// waitFor polls a JavaScript expression until it is truthy.
func (b *tab) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("Boolean("+expr+")",
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout)))
	require.NoError(t, err, "waiting for %s\n  (%s)\npage: %s", what, expr, b.describe())
}

// eval returns the value of a JavaScript expression.
func eval[T any](t *testing.T, b *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, "evaluate %s", expr)
	return v
}

// describe says what the page shows, for a failure message.
func (b *tab) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout/5)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const text = (id) => document.getElementById(id)?.textContent.trim() ?? "(none)";
		const rows = [...document.querySelectorAll("[data-testid=log-row]")].slice(0, 12)
			.map((r) => r.dataset.dir + " " + r.dataset.triple);
		return "status=" + text("conn-status") + " | state=" + text("agent-state") +
			" | notice=" + (document.getElementById("notice")?.hidden ? "(hidden)" : text("notice-text")) +
			" | newest rows: " + rows.join(", ");
	})()`))
	if err != nil {
		s = "(unreadable: " + err.Error() + ")"
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		s += "\npage errors:\n  " + strings.Join(errs, "\n  ")
	}
	return s
}

// screenshot writes a PNG of the page to $CTIBUS_SCREENSHOT_DIR, or to the
// test's temporary directory, and logs where.
func (b *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("CTIBUS_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	if os.Getenv("CTIBUS_SCREENSHOT_DIR") == "" {
		t.Logf("screenshot: %s (removed after the test; set CTIBUS_SCREENSHOT_DIR to keep it)", path)
	} else {
		t.Logf("screenshot: %s", path)
	}
}

// openPage loads the test page of s and waits for its connection to open.
func openPage(t *testing.T, s *server) *tab {
	t.Helper()
	b := newBrowser(t)
	// The window's own frame takes part of WindowSize; emulate the viewport
	// itself, so that screenshots and layouts are exactly 1280x800.
	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(s.URL+"/"))
	b.waitFor(t, "the connection to open", `document.getElementById("conn-status").dataset.status === "open"`)
	return b
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

// stateIs is an expression: the agent panel shows state and reason.
func stateIs(state, reason string) string {
	return fmt.Sprintf(`!document.getElementById("agent-panel").hidden && `+
		`document.getElementById("agent-state").textContent === %s && `+
		`document.getElementById("agent-reason").textContent === %s`, jsString(state), jsString(reason))
}

// chooseReason selects the option with the label in a reason select.
func chooseReason(t *testing.T, b *tab, selectID, label string) {
	t.Helper()
	b.waitFor(t, label+" in #"+selectID, fmt.Sprintf(`[...document.getElementById(%s).options].some((o) => o.text === %s)`,
		jsString(selectID), jsString(label)))
	value := eval[string](t, b, fmt.Sprintf(`[...document.getElementById(%s).options].find((o) => o.text === %s).value`,
		jsString(selectID), jsString(label)))
	b.do(t, chromedp.SetValue(chromedp.ID(selectID), value))
}

// loginEvents are the events of a sign-in, in the documented order.
var loginEvents = []string{
	"Cisco/Connection/OpenConnection",
	"Cisco/Connection/SetConnectionStatus",
	"Cisco/Agent/SetAgentState",
	"Cisco/Agent/Login",
	"Cisco/General/GetAppState",
	"Cisco/Call/CallsStateChange",
	"Cisco/Media/SetMRDList",
	"Cisco/Media/GetMedia",
	"Cisco/General/SetSystemInfo",
	"Cisco/Media/SetMappedMRD",
	"Cisco/Media/Map",
	"Cisco/Agent/SetLogOutReasonCodes",
	"Cisco/Agent/SetNotReadyReasonCodes",
	"Cisco/Agent/SetPhoneBook",
	"Cisco/Agent/SetWrapupCode",
}

// receivedCisco is an expression: the Cisco events in the log, oldest first.
const receivedCisco = `[...document.querySelectorAll('[data-testid=log-row][data-dir=in]')]
	.map((r) => r.dataset.triple).filter((t) => t.startsWith("Cisco/")).reverse()`

func TestPageSignsInChangesStateAndSignsOut(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)

	assert.True(t, eval[bool](t, b, `[...document.querySelectorAll("input, select, textarea")].every((e) => e.labels.length > 0)`),
		"every field has a label")
	assert.Equal(t, "password", eval[string](t, b, `document.getElementById("password").type`))

	b.do(t, chromedp.Click(chromedp.ID("login-button")))
	b.waitFor(t, "the 15 sign-in events", receivedCisco+`.length >= 15`)
	assert.Equal(t, loginEvents, eval[[]string](t, b, receivedCisco), "the sign-in events in the log, in order")
	b.waitFor(t, "NOT_READY", stateIs("NOT_READY", "—"))
	assert.Equal(t, "Cisco Test", eval[string](t, b, `document.getElementById("agent-name").textContent`))
	assert.Equal(t, "5064", eval[string](t, b, `document.getElementById("agent-extension").textContent`))
	assert.True(t, eval[bool](t, b, `document.getElementById("login-form").hidden`), "the form hides once signed in")

	// The page logs what it sends, with the password masked.
	b.do(t, chromedp.Click(chromedp.CSS(`[data-testid=log-row][data-dir=out][data-triple="Cisco/Agent/SetUserInfo"]`)))
	detail := eval[string](t, b, `document.getElementById("log-detail").textContent`)
	assert.Contains(t, detail, `"password": "••••"`)
	assert.Contains(t, detail, `"username": "ciscotest"`)
	for _, where := range []string{"document.body.innerText", `document.getElementById("log-list").textContent`, `document.getElementById("log-detail").textContent`} {
		assert.NotContains(t, eval[string](t, b, where), "test@123", "the password shows in %s", where)
	}

	b.waitFor(t, "the time in state to tick", `/^\d\d:\d\d$/.test(document.getElementById("agent-time").textContent) && document.getElementById("agent-time").textContent !== "00:00"`)
	b.screenshot(t, "ctibus-page-1280x800.png")
	b.do(t, chromedp.EmulateViewport(420, 860))
	b.waitFor(t, "the narrow layout", `document.documentElement.clientWidth <= 420`)
	assert.LessOrEqual(t, eval[int](t, b, `document.documentElement.scrollWidth`), 420, "nothing overflows sideways at 420 px")
	b.screenshot(t, "ctibus-page-420.png")
	b.do(t, chromedp.EmulateViewport(1280, 800))

	b.do(t, chromedp.WaitEnabled(chromedp.ID("ready-button")), chromedp.Click(chromedp.ID("ready-button")))
	b.waitFor(t, "READY", stateIs("READY", "—"))

	chooseReason(t, b, "not-ready-reason", "Lunch")
	b.do(t, chromedp.WaitEnabled(chromedp.ID("not-ready-button")), chromedp.Click(chromedp.ID("not-ready-button")))
	b.waitFor(t, "NOT_READY for lunch", stateIs("NOT_READY", "Lunch"))

	chooseReason(t, b, "logout-reason", "End of Shift")
	b.do(t, chromedp.WaitEnabled(chromedp.ID("logout-button")), chromedp.Click(chromedp.ID("logout-button")))
	b.waitFor(t, "LOGOUT", `document.getElementById("agent-state").textContent === "LOGOUT"`)
	b.waitFor(t, "the sign-in form again", `!document.getElementById("login-form").hidden`)
	assert.True(t, eval[bool](t, b, `document.getElementById("notice").hidden`), "no error was shown")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

func TestPageShowsTheLockout(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)
	const errorRows = `document.querySelectorAll('[data-testid=log-row][data-dir=in][data-triple="Cisco/Error/SetAPIError"]').length`

	for i := 1; i <= 5; i++ {
		b.do(t, chromedp.SetValue(chromedp.ID("password"), fmt.Sprintf("wrong-%d", i)))
		// Enter in a field submits the form, as a keyboard user would.
		b.do(t, chromedp.WaitEnabled(chromedp.ID("login-button")), chromedp.SendKeys(chromedp.ID("extension"), "\r"))
		b.waitFor(t, fmt.Sprintf("error %d", i), fmt.Sprintf("%s === %d", errorRows, i))
		assert.Equal(t, "The username or password is wrong. Check both and try again.",
			eval[string](t, b, `document.getElementById("notice-text").textContent`), "attempt %d", i)
	}
	b.do(t, chromedp.SetValue(chromedp.ID("password"), "test@123"))
	b.do(t, chromedp.WaitEnabled(chromedp.ID("login-button")), chromedp.Click(chromedp.ID("login-button")))
	b.waitFor(t, "the lockout", errorRows+" === 6")

	b.screenshot(t, "ctibus-page-lockout.png")
	notice := eval[string](t, b, `document.getElementById("notice").innerText`)
	assert.Regexp(t, `(?i)account locked`, notice, "the error type is named")
	assert.Regexp(t, `This account is locked after too many failed sign-ins\. Try again in \d+ seconds\.`, notice)
	assert.True(t, eval[bool](t, b, `document.getElementById("agent-panel").hidden`), "nobody signed in")
	assert.NotContains(t, eval[string](t, b, "document.body.innerText"), "wrong-1", "a password shows on the page")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

func TestPageHandsOverTheWorkspaceToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: s.URL,
		})
		require.NoError(t, err, "grant %s", name)
	}
	b.do(t, chromedp.Click(chromedp.ID("login-button")))
	b.waitFor(t, "the token's copy button", `!document.getElementById("token-row").hidden`)

	b.do(t, chromedp.Click(chromedp.ID("token-copy")))
	b.waitFor(t, "the copy", `document.getElementById("token-copy").textContent === "Copied"`)
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Regexp(t, `^[A-Za-z0-9_-]{43}$`, token, "256 bits, URL-safe base64")

	b.do(t, chromedp.Click(chromedp.CSS(`[data-testid=log-row][data-dir=in][data-triple="PubSub/Workspace/Token"]`)))
	assert.Contains(t, eval[string](t, b, `document.getElementById("log-detail").textContent`), `"token": "••••"`)
	assert.NotContains(t, eval[string](t, b, "document.body.innerText"), token, "the token shows on the page")

	// Another app of the desktop joins the agent's workspace with it.
	widget := brokertest.Dial(t, brokertest.WSURL(s.URL))
	widget.Send(map[string]any{"channel": "PubSub", "topic": "App", "subtopic": "Register", "source": "crm-panel",
		"data": map[string]string{"channel": "Cisco", "token": token}})
	widget.Expect("PubSub/App/Registered")
	b.do(t, chromedp.WaitEnabled(chromedp.ID("ready-button")), chromedp.Click(chromedp.ID("ready-button")))
	assert.Contains(t, string(widget.Expect("Cisco/Agent/SetAgentState").Message), `"state":"READY"`,
		"the widget hears the page's agent")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

func TestPageReportsALostConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)
	b.do(t, chromedp.Click(chromedp.ID("login-button")))
	b.waitFor(t, "NOT_READY", stateIs("NOT_READY", "—"))

	// Every text the status shows from now on, in order: the page may have
	// retried once already by the time the test looks.
	eval[bool](t, b, `(() => {
		const status = document.getElementById("conn-status");
		window.statusTexts = [];
		new MutationObserver(() => window.statusTexts.push(status.textContent))
			.observe(status, {childList: true, characterData: true, subtree: true});
		return true;
	})()`)
	require.NoError(t, s.Stop(), "the server drains")
	b.waitFor(t, "the closed connection", `document.getElementById("conn-status").dataset.status !== "open"`)
	b.waitFor(t, "a status text", `window.statusTexts.length > 0`)
	assert.Regexp(t, `^Disconnected \(1001\) · retrying in \d+\.\d s$|^Reconnecting`,
		eval[string](t, b, `window.statusTexts[0]`), "the first status after the drain")
	assert.Equal(t, "The connection to the bus closed. Once it is back, sign in again to rejoin the agent's workspace.",
		eval[string](t, b, `document.getElementById("notice-text").textContent`))
	assert.True(t, eval[bool](t, b, `document.getElementById("ready-button").disabled && !document.getElementById("login-form").hidden`),
		"the agent's buttons are off and the sign-in form is back")
	b.waitFor(t, "a retry that fails", `/^Disconnected \(1006\) · retrying in/.test(document.getElementById("conn-status").textContent)`)
	// A retry that reaches the listener as it closes is reset rather than
	// refused: the kernel had queued it for an accept that never came.
	for _, e := range b.pageErrors() {
		assert.Regexp(t, `^browser log \(network\): WebSocket connection to '\S+/ws' failed: .*ERR_CONNECTION_(REFUSED|RESET)`, e,
			"the browser logs the failed retries, and nothing else")
	}
}

func TestPageLogToolsAndComposer(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := openPage(t, s)
	const rows = `document.querySelectorAll("[data-testid=log-row]")`
	const visibleRows = `document.querySelectorAll("#log-list li:not([hidden]) [data-testid=log-row]")`

	// A template fills the composer; Send sends it as written.
	b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.getElementById("composer-template");
		s.value = [...s.options].find((o) => o.text === "General/GetSystemInfo").value;
		s.dispatchEvent(new Event("change"));
	})()`))
	text := eval[string](t, b, `document.getElementById("composer-text").value`)
	assert.Contains(t, text, `"subtopic": "GetSystemInfo"`)
	b.do(t, chromedp.Click(chromedp.ID("composer-send")))
	b.waitFor(t, "the answer to the composed request", `document.querySelector('[data-dir=in][data-triple="Cisco/General/SetSystemInfo"]')`)

	// The filter hides what does not match.
	b.do(t, chromedp.SendKeys(chromedp.ID("log-filter"), "general/"))
	b.waitFor(t, "the filter", fmt.Sprintf(`[...%s].every((r) => r.dataset.triple.includes("General/")) && %s.length === 2`, visibleRows, visibleRows))
	b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.getElementById("log-filter");
		f.value = "";
		f.dispatchEvent(new Event("input"));
	})()`))
	b.waitFor(t, "every row again", fmt.Sprintf(`%s.length === %s.length`, visibleRows, rows))

	// Clicking a row shows its JSON.
	b.do(t, chromedp.Click(chromedp.CSS(`[data-dir=in][data-triple="Cisco/General/SetSystemInfo"]`)))
	assert.Contains(t, eval[string](t, b, `document.getElementById("log-detail").textContent`), `"packet": "systeminfo"`)

	// The rows are one Tab stop; the arrow keys move between them.
	assert.Equal(t, 1, eval[int](t, b, `[...document.querySelectorAll("[data-testid=log-row]")].filter((r) => r.tabIndex === 0).length`),
		"one row in the tab order")
	b.do(t, chromedp.Focus(chromedp.CSS(`[data-testid=log-row][tabindex="0"]`)), chromedp.KeyEvent(kb.ArrowDown))
	b.waitFor(t, "the next row, chosen with the keyboard", `document.activeElement.dataset.triple === "Cisco/General/GetSystemInfo" && `+
		`document.getElementById("log-detail-title").textContent.startsWith("Sent Cisco/General/GetSystemInfo")`)

	// Paused, the log holds new entries until resumed.
	before := eval[int](t, b, rows+".length")
	b.do(t, chromedp.Click(chromedp.ID("log-pause")), chromedp.Click(chromedp.ID("composer-send")))
	b.waitFor(t, "held entries", `/held/.test(document.getElementById("log-count").textContent)`)
	assert.Equal(t, before, eval[int](t, b, rows+".length"), "nothing is added while paused")
	b.do(t, chromedp.Click(chromedp.ID("log-pause")))
	b.waitFor(t, "the held entries", fmt.Sprintf("%s.length === %d", rows, before+2))

	// Bad JSON is refused before it is sent.
	b.do(t, chromedp.SetValue(chromedp.ID("composer-text"), `{"channel": "Cisco",`), chromedp.Click(chromedp.ID("composer-send")))
	b.waitFor(t, "the JSON error", `!document.getElementById("composer-error").hidden`)
	assert.Contains(t, eval[string](t, b, `document.getElementById("composer-error").textContent`), "Not valid JSON")

	// A request the bus refuses shows its msg.
	b.do(t, chromedp.SetValue(chromedp.ID("composer-text"), `{"id":"x1","channel":"Cisco","topic":"Agent","subtopic":"GetAgentState"}`),
		chromedp.Click(chromedp.ID("composer-send")))
	b.waitFor(t, "the error", `!document.getElementById("notice").hidden`)
	assert.Equal(t, "Sign in first with Cisco/Agent/SetUserInfo (username, password, extension).",
		eval[string](t, b, `document.getElementById("notice-text").textContent`))

	b.do(t, chromedp.Click(chromedp.ID("log-clear")))
	b.waitFor(t, "an empty log", rows+".length === 0")
	assert.Empty(t, b.pageErrors(), "the page reported errors")
}

// TestPageNeedsNoNetwork checks that the page loads nothing from elsewhere:
// no CDN, no web fonts. The SVG namespace in the icon is a name, not a fetch.
func TestPageNeedsNoNetwork(t *testing.T) {
	s := startServer(t, nil)
	remote := regexp.MustCompile(`(?i)https?://|url\(\s*['"]?//|@import`)
	for _, file := range []string{"/", "/app.js", "/ctibus.js", "/style.css", "/widget.html", "/widget.js"} {
		code, body := get(t, s.URL+file)
		require.Equal(t, http.StatusOK, code, file)
		body = strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
		assert.Empty(t, remote.FindAllString(body, -1), "%s refers to another site", file)
	}
}

// TestClientModule runs the unit tests of ctibus.js in the browser. The test
// page and ctibus.js are served from web/ on disk, as in a checkout; the
// binary does not ship the tests.
func TestClientModule(t *testing.T) {
	b := newBrowser(t)
	files := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "..", "web"))))
	t.Cleanup(files.Close)

	b.do(t, chromedp.Navigate(files.URL+"/testdata/client.test.html"))
	b.waitFor(t, "the tests to finish", `document.body.dataset.done === "true"`)

	type failure struct{ Name, Error string }
	results := eval[struct {
		Passed   int
		Failed   int
		Failures []failure
	}](t, b, `window.ctibusTestResults`)
	for _, f := range results.Failures {
		t.Errorf("ctibus.js: %s\n%s", f.Name, f.Error)
	}
	assert.Zero(t, results.Failed, "failed cases")
	assert.GreaterOrEqual(t, results.Passed, 20, "the cases ran")
	t.Logf("ctibus.js: %d cases passed", results.Passed)
	assert.Empty(t, b.pageErrors(), "the test page reported errors")
}

func TestFindChrome(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	_, err := findChrome(getenv)
	require.ErrorIs(t, err, errNoChrome)
	assert.Contains(t, err.Error(), "sudo apt-get install chromium")
	assert.Contains(t, err.Error(), "CTIBUS_CHROME")

	fake := filepath.Join(dir, "chromium-browser")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755))
	path, err := findChrome(getenv)
	require.NoError(t, err)
	assert.Equal(t, fake, path, "found on PATH")

	env["CTIBUS_CHROME"] = filepath.Join(dir, "missing")
	_, err = findChrome(getenv)
	require.Error(t, err, "a CTIBUS_CHROME that is not there is an error, not a fallback")
	assert.Contains(t, err.Error(), "CTIBUS_CHROME=")

	env["CTIBUS_CHROME"] = fake
	path, err = findChrome(getenv)
	require.NoError(t, err)
	assert.Equal(t, fake, path)
}
