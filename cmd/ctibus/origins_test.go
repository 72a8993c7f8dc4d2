package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/broker/brokertest"
)

// upgradeStatus dials the server's WebSocket with header and returns the
// HTTP status of the answer.
func upgradeStatus(t *testing.T, s *server, header http.Header) int {
	t.Helper()
	ws, resp, _ := brokertest.DialHeader(brokertest.WSURL(s.URL), header)
	require.NotNil(t, resp)
	resp.Body.Close()
	if ws != nil {
		ws.Close()
	}
	return resp.StatusCode
}

func TestWebSocketOriginsAreConfiguredNotTakenFromHost(t *testing.T) {
	s := startServer(t, nil, "-public-origin", "https://ctibus.example.com", "-allowed-origins", "https://crm.example.com")
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	port := u.Port()

	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no origin: not a browser", nil, http.StatusSwitchingProtocols},
		{"the test page at 127.0.0.1", http.Header{"Origin": {"http://127.0.0.1:" + port}}, http.StatusSwitchingProtocols},
		{"the test page at localhost", http.Header{"Origin": {"http://localhost:" + port}}, http.StatusSwitchingProtocols},
		{"the public origin", http.Header{"Origin": {"https://ctibus.example.com"}, "Host": {"ctibus.example.com"}}, http.StatusSwitchingProtocols},
		{"an allowed site", http.Header{"Origin": {"https://crm.example.com"}}, http.StatusSwitchingProtocols},
		{"a rebinding site", http.Header{"Origin": {"http://evil.example:" + port}, "Host": {"evil.example:" + port}}, http.StatusForbidden},
		{"another site", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, upgradeStatus(t, s, tt.header))
		})
	}
}

func TestHTTPAPIsRefuseFormsOtherSitesAndChallenges(t *testing.T) {
	s := startServer(t, nil)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	body := `{"agent":"100501","channel":"CRM","topic":"Screenpop","subtopic":"Show"}`
	tests := []struct {
		name        string
		path        string
		contentType string
		origin      string
		host        string
		want        int
		wantIn      string
	}{
		{"a form post", "/api/publish", "application/x-www-form-urlencoded", "", "", http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		{"plain text", "/api/simulator/calls", "text/plain;charset=UTF-8", "", "", http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		{"another site's page", "/api/publish", "application/json", "https://evil.example", "", http.StatusForbidden, "-allowed-origins"},
		{"a rebinding site's page", "/api/simulator/calls", "text/plain", "http://evil.example:" + u.Port(), "evil.example:" + u.Port(), http.StatusForbidden, "-allowed-origins"},
		{"JSON without a credential", "/api/publish", "application/json", "", "", http.StatusUnauthorized, "unauthorized"},
		{"JSON from the test page, without a credential", "/api/publish", "application/json", s.URL, "", http.StatusUnauthorized, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.URL+tt.path, strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", tt.contentType)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			req.SetBasicAuth("crm-backend", "cached by the browser")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode, "%s", b)
			assert.Contains(t, string(b), tt.wantIn)
			assert.Empty(t, resp.Header.Values("WWW-Authenticate"), "no challenge, so browsers cache no credentials")
		})
	}
}

func TestPageMayNotBeFramedOrSniffed(t *testing.T) {
	s := startServer(t, nil)
	for _, path := range []string{"/", "/app.js", "/ctibus.js", "/no-such-file"} {
		resp, err := http.Get(s.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "frame-ancestors 'self'", resp.Header.Get("Content-Security-Policy"), path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "SAMEORIGIN", resp.Header.Get("X-Frame-Options"), "%s: for browsers without frame-ancestors", path)
	}
}

func TestOriginFlags(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-h"}, func(string) string { return "" }, nil, io.Discard, &out))
	assert.Contains(t, out.String(), "-public-origin")
	assert.Contains(t, out.String(), "(env CTIBUS_PUBLIC_ORIGIN)")

	cfg, err := parseConfig([]string{"-public-origin", "https://ctibus.example.com", "-allowed-origins", "https://CRM.example.com:443/"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"https://ctibus.example.com", "https://CRM.example.com:443/"}, cfg.origins())

	tests := []struct {
		args   []string
		wantIn string
	}{
		{[]string{"-public-origin", "ctibus.example.com"}, "-public-origin"},
		{[]string{"-public-origin", "*"}, "-public-origin"},
		{[]string{"-public-origin", "https://ctibus.example.com/page"}, "-public-origin"},
		{[]string{"-allowed-origins", "https://crm.example.com,crm2.example.com"}, `-allowed-origins: origin "crm2.example.com"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseConfig(tt.args, func(string) string { return "" }, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantIn)
		})
	}
}

func TestWarnsWhenBrowsersCannotReachTheTestPage(t *testing.T) {
	tests := []struct {
		name      string
		public    string
		listening net.Addr
		warn      bool
	}{
		{"loopback", "", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, false},
		{"every address, no public origin", "", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, true},
		{"every address, a public origin", "https://ctibus.example.com", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			warnWithoutPublicOrigin(config{publicOrigin: tt.public}, tt.listening, zap.New(core))
			assert.Equal(t, tt.warn, logs.FilterMessageSnippet("-public-origin").Len() == 1)
		})
	}
}
