package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	gopath "path"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/web"
)

func TestHandlerServesThePageAndTheClient(t *testing.T) {
	s := httptest.NewServer(web.Handler())
	t.Cleanup(s.Close)

	tests := []struct {
		path     string
		wantType string
		wantIn   string
		wantCORS string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="app.js">`, ""},
		{"/app.js", "text/javascript; charset=utf-8", `from "./ctibus.js"`, ""},
		{"/style.css", "text/css; charset=utf-8", "@media", ""},
		{"/ctibus.js", "text/javascript; charset=utf-8", "export class CtiBus", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(s.URL + tt.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tt.wantType, resp.Header.Get("Content-Type"), "a module script needs a JavaScript type")
			assert.Contains(t, string(body), tt.wantIn)
			assert.Equal(t, tt.wantCORS, resp.Header.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "frame-ancestors 'self'", resp.Header.Get("Content-Security-Policy"), "no other site may frame the page")
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		})
	}
}

func TestHandlerDoesNotShipTheClientTests(t *testing.T) {
	s := httptest.NewServer(web.Handler())
	t.Cleanup(s.Close)
	resp, err := http.Get(s.URL + "/testdata/client.test.html")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestHandlerServesEveryModule follows the test page's imports from app.js,
// as a browser does: every module it reaches is served as JavaScript, with
// the page's headers, and refers to nothing on another site.
func TestHandlerServesEveryModule(t *testing.T) {
	s := httptest.NewServer(web.Handler())
	t.Cleanup(s.Close)

	imports := regexp.MustCompile(`(?m)^import [^;]* from "(\.\.?/[^"]+)";`)
	remote := regexp.MustCompile(`(?i)https?://|//[a-z0-9.-]+\.[a-z]{2,}/`)
	seen := map[string]bool{}
	queue := []string{"/app.js"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if seen[path] {
			continue
		}
		seen[path] = true
		resp, err := http.Get(s.URL + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s is imported, so it must be served", path)
		assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"), "%s: a module script needs a JavaScript type", path)
		assert.Equal(t, "frame-ancestors 'self'", resp.Header.Get("Content-Security-Policy"), path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		assert.Empty(t, remote.FindAllString(string(body), -1), "%s refers to another site", path)
		for _, m := range imports.FindAllStringSubmatch(string(body), -1) {
			queue = append(queue, gopath.Join(gopath.Dir(path), m[1]))
		}
	}
	assert.Contains(t, seen, "/ctibus.js")
	assert.Contains(t, seen, "/page/agent.js")
	assert.Greater(t, len(seen), 5, "the page's panels are modules of their own: %v", seen)
}
