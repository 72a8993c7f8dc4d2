package finesse

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ctibus/ctibus/channels/cisco"
)

// restServer is a TLS server that answers every request with handle, and
// a client of it that trusts its certificate.
func restServer(t *testing.T, handle http.HandlerFunc) (*restClient, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(handle)
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	base, err := url.Parse(srv.URL)
	require.NoError(t, err)
	c := newRESTClient("side A", base, roots, 5*time.Second, zap.NewNop())
	t.Cleanup(c.close)
	return c, srv
}

var agent = credentials{username: "ciscotest", password: "test@123"}

func TestRESTGet(t *testing.T) {
	c, _ := restServer(t, func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "ciscotest" || pass != "test@123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		assert.Equal(t, "/finesse/api/User/ciscotest", r.URL.Path)
		assert.Empty(t, r.Header.Get("requestId"), "a GET sends no requestId")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><User><loginId>100501</loginId><state>LOGOUT</state></User>`)
	})
	e, err := c.get(cisco.WithRequestID(context.Background(), "r1"), agent, "/finesse/api/User/ciscotest")
	require.NoError(t, err)
	assert.Equal(t, "100501", userOf(e).LoginID)
}

func TestRESTSendRequestID(t *testing.T) {
	got := make(chan http.Header, 2)
	bodies := make(chan string, 2)
	c, _ := restServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Clone()
		bodies <- string(b)
		w.WriteHeader(http.StatusAccepted)
	})
	body := `<User><state>LOGIN</state><extension>1001</extension></User>`
	require.NoError(t, c.send(cisco.WithRequestID(context.Background(), "bus-7"), agent, http.MethodPut, "/finesse/api/User/100501", body))
	h := <-got
	assert.Equal(t, "bus-7", h.Get("requestId"), "the bus request id is Finesse's requestId")
	assert.Equal(t, "application/xml", h.Get("Content-Type"))
	assert.Equal(t, body, <-bodies)

	require.NoError(t, c.send(context.Background(), agent, http.MethodPut, "/finesse/api/User/100501", body))
	assert.NotContains(t, <-got, "Requestid", "no request id, no header")
}

func TestRESTErrors(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		status   int
		body     string
		wantType string
		wantMsg  string
	}{
		{"401 is a refused password", "/finesse/api/User/x", 401, `<ApiErrors><ApiError><ErrorType>Invalid Authorization User Specified</ErrorType></ApiError></ApiErrors>`, cisco.ErrorTypeAuthorization, cisco.ErrorMessageUnauthorized},
		{"401 without a body", "/finesse/api/User/x", 401, ``, cisco.ErrorTypeAuthorization, cisco.ErrorMessageUnauthorized},
		{"401 Invalid Supervisor stays", "/finesse/api/User/x", 401, `<ApiErrors><ApiError><ErrorType>Invalid Supervisor</ErrorType><ErrorMessage>x</ErrorMessage></ApiError></ApiErrors>`, cisco.ErrorTypeInvalidSupervisor, "x"},
		{"Parameter Missing is Invalid Input", "/finesse/api/User/x", 400, `<ApiErrors><ApiError><ErrorType>Parameter Missing</ErrorType><ErrorData>state</ErrorData><ErrorMessage>State Parameter missing</ErrorMessage></ApiError></ApiErrors>`, cisco.ErrorTypeInvalidInput, "State Parameter missing"},
		{"Invalid State", "/finesse/api/User/x", 400, `<ApiErrors><ApiError><ErrorType>Invalid State</ErrorType><ErrorMessage>CF_INVALID_OBJECT_STATE</ErrorMessage></ApiError></ApiErrors>`, cisco.ErrorTypeInvalidState, cisco.ErrorMessageInvalidState},
		{"an unknown user", "/finesse/api/User/x", 404, `<ApiErrors><ApiError><ErrorType>Not Found</ErrorType><ErrorMessage>UNKNOWN_USER</ErrorMessage></ApiError></ApiErrors>`, cisco.ErrorTypeNotFound, cisco.ErrorMessageUnknownUser},
		{"an unknown user without a body", "/finesse/api/User/x", 404, ``, cisco.ErrorTypeNotFound, ""},
		{"an unknown dialog", "/finesse/api/Dialog/9", 404, `<ApiErrors><ApiError><ErrorType>Not Found</ErrorType><ErrorMessage>Invalid dialogId specified for dialog</ErrorMessage></ApiError></ApiErrors>`, cisco.ErrorTypeDialogNotFound, cisco.ErrorMessageInvalidDialog},
		{"503 is Unavailable", "/finesse/api/User/x", 503, `<ApiErrors><ApiError><ErrorType>Service Unavailable</ErrorType><ErrorMessage>SERVER_OUT_OF_SERVICE</ErrorMessage></ApiError></ApiErrors>`, cisco.ErrorTypeUnavailable, cisco.ErrorMessageUnavailable},
		{"500 is a generic error", "/finesse/api/User/x", 500, `oops`, cisco.ErrorTypeGeneric, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			c, _ := restServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			err := c.send(context.Background(), agent, http.MethodPut, tt.path, "<User/>")
			var ce *cisco.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wantType, ce.Type)
			assert.Equal(t, tt.wantMsg, ce.Message)
			assert.NotEmpty(t, ce.Text)
			assert.NotContains(t, ce.Error(), "test@123")
			assert.Equal(t, int32(1), calls.Load(), "never retried")
		})
	}
}

func TestRESTTimeoutIsUnavailable(t *testing.T) {
	release := make(chan struct{})
	c, _ := restServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	c.timeout = 100 * time.Millisecond
	_, err := c.get(context.Background(), agent, "/finesse/api/SystemInfo")
	assert.ErrorIs(t, err, cisco.ErrUnavailable)
	assert.ErrorContains(t, err, "did not answer in time")
}

func TestRESTUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	core, logs := observer.New(zap.InfoLevel)
	c := newRESTClient("side B", base, x509.NewCertPool(), 5*time.Second, zap.New(core))
	defer c.close()
	for range 2 {
		_, err := c.get(context.Background(), agent, "/finesse/api/SystemInfo")
		assert.ErrorIs(t, err, cisco.ErrUnavailable)
		assert.ErrorContains(t, err, "side B")
		assert.ErrorContains(t, err, "certificate")
		assert.ErrorContains(t, err, "-finesse-ca")
	}
	require.Equal(t, 1, logs.Len(), "the certificate problem is logged once")
	assert.Equal(t, "side B", logs.All()[0].ContextMap()["side"])
}

func TestRESTBodyBounded(t *testing.T) {
	c, _ := restServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<PhoneBooks>")
		io.WriteString(w, strings.Repeat("<!-- padding -->", MaxDocumentBytes/16+1))
		io.WriteString(w, "</PhoneBooks>")
	})
	_, err := c.get(context.Background(), agent, "/finesse/api/TeamResource/5004/PhoneBooks")
	assert.ErrorContains(t, err, "cannot be read")
}
