package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/session"
)

// TestHTTPAPIsRefuseWhatABrowserCanBeMadeToSend: a page of another site
// can make a browser post a form, or plain text, to the APIs with the Basic
// credentials it cached for the server. Even with the right credential,
// such a post publishes nothing; nor does a JSON post from a page of
// another origin. A refused credential is not answered with a challenge
// that would make a browser ask for one and cache it.
func TestHTTPAPIsRefuseWhatABrowserCanBeMadeToSend(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	a := e.desktop(t, "a-phone")
	login(t, a, "a", "ciscotest", "5064")
	a.Subscribe("CRM", "*", "*")
	recorderJWT := apps.rs256(t, "recorder", time.Now().Add(time.Hour))
	pop := `{"agent":"100501","channel":"CRM","topic":"Screenpop","subtopic":"Show","id":"%s"}`
	call := `{"agent":"100503","from":"4085551234"}`

	tests := []struct {
		name        string
		path        string
		body        string
		contentType string
		origin      string
		want        int
		wantError   string
	}{
		{"a form", "/api/publish", pop, "application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"plain text", "/api/publish", pop, "text/plain", "", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"a multipart form", "/api/simulator/calls", call, "multipart/form-data; boundary=x", "", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no content type", "/api/simulator/calls", call, "", "", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"JSON from another site", "/api/publish", pop, "application/json", "https://evil.example", http.StatusForbidden, "forbidden"},
		{"a form from another site", "/api/simulator/calls", call, "text/plain", "https://evil.example", http.StatusForbidden, "forbidden"},
		{"an opaque origin", "/api/publish", pop, "application/json", "null", http.StatusForbidden, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.http+tt.path, strings.NewReader(strings.Replace(tt.body, "%s", tt.name, 1)))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+recorderJWT)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode, "%s", body)
			assert.Contains(t, string(body), `"error":"`+tt.wantError+`"`)
		})
	}

	// JSON from a back end is published, and is the first CRM event the
	// agent's app receives: nothing above was.
	code, body := postJSON(t, e.http+"/api/publish", bearer(recorderJWT), strings.Replace(pop, "%s", "marker", 1))
	assert.Equal(t, http.StatusAccepted, code, body)
	assert.Equal(t, "marker", a.Expect("CRM/Screenpop/Show").CorrelationID)

	req, err := http.NewRequest(http.MethodPost, e.http+"/api/publish", strings.NewReader(strings.Replace(pop, "%s", "x", 1)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json; charset=utf-8") // JSON too
	req.SetBasicAuth("recorder", "a guess")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("WWW-Authenticate"), "no challenge: a browser would cache what the user types")
}
