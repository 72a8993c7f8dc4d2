package broker

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ctibus/ctibus/internal/logbound"
)

// A page's origin decides whether a browser may open a WebSocket or call
// an HTTP API: it is the one thing about a browser's request that another
// site cannot choose. The request's own Host header is no guide: a site
// that rebinds its DNS name to this server's address makes the browser
// send its own name as both Origin and Host.

// ErrOrigin describes an origin that cannot be configured.
var ErrOrigin = errors.New("want http://host[:port] or https://host[:port], without a path")

// origin is a parsed Origin: scheme, lowered host without brackets, and
// port, the scheme's default when the origin names none.
type origin struct {
	scheme, host, port string
}

func parseOrigin(s string) (origin, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return origin{}, false
	}
	o := origin{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		o.port = map[string]string{"http": "80", "https": "443"}[o.scheme]
	}
	return o, true
}

// String writes o as browsers do: no default port.
func (o origin) String() string {
	if o.port == map[string]string{"http": "80", "https": "443"}[o.scheme] {
		if strings.Contains(o.host, ":") {
			return o.scheme + "://[" + o.host + "]"
		}
		return o.scheme + "://" + o.host
	}
	return o.scheme + "://" + net.JoinHostPort(o.host, o.port)
}

// NormalizeOrigin checks a configured origin and writes it as a browser
// sends it in its Origin header: lower case, no trailing slash, no default
// port ("https://CRM.example.com:443/" is "https://crm.example.com").
func NormalizeOrigin(s string) (string, error) {
	if s == "*" {
		return s, nil
	}
	o, ok := parseOrigin(s)
	if !ok {
		return "", fmt.Errorf("origin %q: %w", logbound.Clip(s), ErrOrigin)
	}
	return o.String(), nil
}

// originPolicy holds the configured origins.
type originPolicy struct {
	any     bool            // "*" was configured
	allowed map[string]bool // normalized origins
}

func newOriginPolicy(configured []string) originPolicy {
	p := originPolicy{allowed: make(map[string]bool)}
	for _, s := range configured {
		if s = strings.TrimSpace(s); s == "*" {
			p.any = true
		} else if o, ok := parseOrigin(strings.TrimRight(s, "/")); ok {
			p.allowed[o.String()] = true
		}
	}
	return p
}

// OriginAllowed reports whether r may use the bus as far as its origin
// goes: it sends no Origin (it is not a browser's page, so no other site
// can ride a user's browser through it), or its Origin is configured, or
// it is a loopback page of a request that arrived on loopback.
func (b *Broker) OriginAllowed(r *http.Request) bool {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return true
	}
	if b.origins.any {
		return true
	}
	if len(values) > 1 {
		return false
	}
	o, ok := parseOrigin(values[0])
	if !ok {
		return false // "null" (a sandboxed or file page) among others
	}
	return b.origins.allowed[o.String()] || loopbackPage(r, o)
}

// checkOrigin is the upgrader's origin check.
func (b *Broker) checkOrigin(r *http.Request) bool { return b.OriginAllowed(r) }

// loopbackPage reports whether o is a loopback page (localhost, 127.0.0.1,
// [::1]) on the very port r arrived on, and r arrived on a loopback address
// straight from its client. Only a process of this machine can have sent
// such a request, and the page at that address is this server's: a
// developer's test page works with no configuration, while a rebinding
// site's origin keeps its own name and is refused. A request relayed by a
// proxy gets no such pass: its client may be anywhere.
func loopbackPage(r *http.Request, o origin) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return false
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	at, err := netip.ParseAddrPort(local.String())
	if err != nil || !at.Addr().Unmap().IsLoopback() {
		return false
	}
	if o.port != fmt.Sprint(at.Port()) {
		return false
	}
	if o.host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(o.host)
	return err == nil && addr.Unmap().IsLoopback()
}
