package finesse

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco"
)

// credentials are an agent's Finesse username and password, sent as HTTP
// Basic on every REST call and as SASL PLAIN on every XMPP connection.
// They are never logged: String hides the password.
type credentials struct {
	username string
	password string
}

// String names the user only, so that a credentials value that reaches a
// log by mistake leaks no password.
func (c credentials) String() string { return c.username + ":****" }

// restClient is the REST API of one Finesse side. It never retries: a 401
// must reach ctibus's lockout once per attempt, so that ctibus locks an
// account before Finesse does (five failures), and a retry after a timeout
// could apply a state change twice.
type restClient struct {
	side    string   // "side A" or "side B", for errors and logs
	base    *url.URL // https://finesse-a.example.com:8445
	http    *http.Client
	timeout time.Duration // of one request, whatever the caller's context
	logger  *zap.Logger

	certOnce sync.Once // logs the first certificate problem, once
}

// newRESTClient returns the client of the side named side at base, whose
// certificates are verified against roots (the system's when nil).
func newRESTClient(side string, base *url.URL, roots *x509.CertPool, timeout time.Duration, logger *zap.Logger) *restClient {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &restClient{
		side:    side,
		base:    base,
		http:    &http.Client{Transport: transport, CheckRedirect: noRedirect},
		timeout: timeout,
		logger:  logger,
	}
}

// noRedirect refuses redirects: Finesse's API does not redirect, and a
// redirect must not carry an agent's Basic credentials elsewhere.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// close releases the client's idle connections.
func (c *restClient) close() { c.http.CloseIdleConnections() }

// get reads the object at path (/finesse/api/...) with creds.
func (c *restClient) get(ctx context.Context, creds credentials, path string) (*element, error) {
	return c.do(ctx, creds, http.MethodGet, path, "")
}

// send sends body with method (PUT or POST) to path with creds and the
// request id of ctx as Finesse's requestId header. Finesse takes the
// request up with 202 (or 200); the outcome comes later as a notification.
func (c *restClient) send(ctx context.Context, creds credentials, method, path, body string) error {
	_, err := c.do(ctx, creds, method, path, body)
	return err
}

// do runs one request and reads its reply: an XML object for a GET, nothing
// for a PUT or POST.
func (c *restClient) do(ctx context.Context, creds credentials, method, path, body string) (*element, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base.JoinPath(path)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u = c.base.JoinPath(path[:i])
		u.RawQuery = path[i+1:]
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("finesse: %s %s: %w", method, path, err)
	}
	req.SetBasicAuth(creds.username, creds.password)
	req.Header.Set("Accept", "application/xml")
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	if id := cisco.RequestIDOf(ctx); id != "" && method != http.MethodGet {
		req.Header.Set("requestId", id)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer func() {
		// Drain a little so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		resp.Body.Close()
	}()
	switch {
	case resp.StatusCode == http.StatusOK && method == http.MethodGet,
		resp.StatusCode == http.StatusPartialContent && method == http.MethodGet:
		e, err := parseXML(resp.Body)
		if err != nil {
			return nil, &cisco.Error{Type: cisco.ErrorTypeGeneric, Text: fmt.Sprintf("Finesse %s answered %s with XML that cannot be read: %v", c.side, path, err)}
		}
		return e, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil, nil
	}
	return nil, c.statusError(resp, path)
}

// transportError maps a request that got no reply. A certificate that is
// not trusted is logged once per side: it will not mend by itself.
func (c *restClient) transportError(ctx context.Context, err error) error {
	if text, ok := certificateProblem(err); ok {
		c.certOnce.Do(func() {
			c.logger.Error("the certificate of Finesse is not trusted; give its CA with -finesse-ca",
				zap.String("side", c.side), zap.String("host", c.base.Host), zap.String("reason", text))
		})
		return &cisco.Error{
			Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable,
			Text: fmt.Sprintf("the certificate of Finesse %s (%s) is not trusted: %s; give its CA with -finesse-ca", c.side, c.base.Host, text),
		}
	}
	what := "cannot be reached"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what = "did not answer in time"
	}
	return &cisco.Error{
		Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable,
		Text: fmt.Sprintf("Finesse %s (%s) %s; try again later", c.side, c.base.Host, what),
	}
}

// certificateProblem reports whether err is a failed verification of the
// server's certificate, and why.
func certificateProblem(err error) (string, bool) {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return "signed by an unknown authority", true
	case errors.As(err, &hostname):
		return hostname.Error(), true
	case errors.As(err, &invalid):
		return invalid.Error(), true
	case errors.As(err, &verify):
		return verify.Err.Error(), true
	}
	return "", false
}

// statusError maps a reply that is not a success. Finesse's ApiErrors
// body gives the error; its types are mapped onto those of the contract.
func (c *restClient) statusError(resp *http.Response, path string) error {
	var ce *cisco.Error
	if e, err := parseXML(io.LimitReader(resp.Body, 64<<10)); err == nil && e.is("ApiErrors") {
		if errs := apiErrorsOf(e); len(errs) > 0 {
			ce = errs[0]
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// Finesse answers 401 for two refusals that are not about the
		// credentials (a supervisor outside its teams, a state not
		// allowed); every other 401 (Invalid Authorization User
		// Specified, Authentication Failure) is a refused password.
		if ce != nil && (ce.Type == cisco.ErrorTypeInvalidSupervisor || ce.Type == cisco.ErrorTypeInvalidState) {
			return ce
		}
		return &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageUnauthorized, Text: "Finesse refused the username or password"}
	case resp.StatusCode == http.StatusServiceUnavailable:
		return &cisco.Error{
			Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable, Data: outOfServiceData,
			Text: fmt.Sprintf("Finesse %s is out of service; try again later", c.side),
		}
	case ce == nil && resp.StatusCode == http.StatusNotFound:
		ce = &cisco.Error{Type: "Not Found", Text: "Finesse knows no " + path}
	case ce == nil:
		ce = &cisco.Error{Type: cisco.ErrorTypeGeneric, Text: fmt.Sprintf("Finesse %s answered %s with %s", c.side, path, resp.Status)}
	}
	ce.Type = contractType(ce.Type, resp.StatusCode, path)
	return ce
}

// outOfServiceData marks the Unavailable error of a 503: the side
// answers, and says it is out of service.
const outOfServiceData = "503"

// isOutOfService reports whether err is a side's 503.
func isOutOfService(err error) bool {
	var ce *cisco.Error
	return errors.As(err, &ce) && ce.Type == cisco.ErrorTypeUnavailable && ce.Data == outOfServiceData
}

// contractType maps a Finesse ErrorType onto the types of the contract
// (cisco.ErrorType*), which the simulator returns too.
func contractType(finesse string, status int, path string) string {
	switch finesse {
	case "Parameter Missing", "Bad Request":
		return cisco.ErrorTypeInvalidInput
	case "Invalid Authorization User Specified", "Authentication Failure":
		return cisco.ErrorTypeAuthorization
	case "Service Unavailable":
		return cisco.ErrorTypeUnavailable
	case "Not Found":
		// Finesse says Not Found for a user as for a dialog; the contract
		// tells them apart.
		if status == http.StatusNotFound && !strings.HasPrefix(path, "/finesse/api/Dialog/") {
			return cisco.ErrorTypeNotFound
		}
	}
	return finesse
}

// xmlText escapes s for an element's text.
func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
