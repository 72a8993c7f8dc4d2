package main

import (
	"fmt"
	"net"
	"net/netip"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
)

// origins lists the pages that may open a WebSocket or call the HTTP APIs:
// the server's public origins and the other sites allowed.
func (c config) origins() []string {
	return append(splitList(c.publicOrigin), splitList(c.allowedOrigins)...)
}

// checkOrigins refuses origins a browser would never send, which would
// otherwise silently admit nobody.
func (c config) checkOrigins() []error {
	var errs []error
	for _, o := range splitList(c.publicOrigin) {
		if _, err := broker.NormalizeOrigin(o); err != nil || o == "*" {
			errs = append(errs, fmt.Errorf("-public-origin: %q: want the address browsers reach this server at, such as https://ctibus.example.com", o))
		}
	}
	for _, o := range splitList(c.allowedOrigins) {
		if _, err := broker.NormalizeOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("-allowed-origins: %w", err))
		}
	}
	return errs
}

// warnWithoutPublicOrigin says, when it matters, that browsers reaching the
// server through a name or a non-loopback address will be refused: the
// request's own Host is not trusted, so the server's origin must be told.
func warnWithoutPublicOrigin(cfg config, listening net.Addr, log *zap.Logger) {
	if cfg.publicOrigin != "" {
		return
	}
	if at, err := netip.ParseAddrPort(listening.String()); err == nil && at.Addr().Unmap().IsLoopback() {
		return // the loopback pages of this port are allowed
	}
	log.Warn("no -public-origin: browsers may open the test page only from -allowed-origins or through loopback; pass -public-origin with the address browsers use, such as https://ctibus.example.com",
		zap.Stringer("addr", listening))
}
