package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
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
