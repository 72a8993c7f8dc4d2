package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/channels/cisco/finesse"
)

// startFinesse connects to the Finesse sides that the flags name. A side
// that cannot be reached does not stop the server (readiness tells); a
// Finesse with single sign-on does.
func startFinesse(ctx context.Context, cfg config, log *zap.Logger) (*finesse.Connector, error) {
	var fcfg finesse.Config
	xmpp := splitList(cfg.finesseXMPPURL)
	for i, rest := range splitList(cfg.finesseURL) {
		side := finesse.Side{REST: rest}
		if i < len(xmpp) {
			side.XMPP = xmpp[i]
		}
		fcfg.Sides = append(fcfg.Sides, side)
	}
	if cfg.finesseCA != "" {
		pem, err := os.ReadFile(cfg.finesseCA)
		if err != nil {
			return nil, fmt.Errorf("-finesse-ca: %w", err)
		}
		fcfg.RootCAs = x509.NewCertPool()
		if !fcfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-finesse-ca %s: no PEM certificate in the file", cfg.finesseCA)
		}
	}
	if cfg.finesseAdmin != "" {
		secret, err := os.ReadFile(cfg.finesseAdminFile)
		if err != nil {
			return nil, fmt.Errorf("-finesse-admin-password-file: %w", err)
		}
		password := strings.TrimRight(string(secret), "\r\n")
		if password == "" {
			return nil, fmt.Errorf("-finesse-admin-password-file %s is empty", cfg.finesseAdminFile)
		}
		fcfg.Admin = &finesse.Account{Username: cfg.finesseAdmin, Password: password}
	}
	fcfg.Logger = log.Named("finesse")
	c, err := finesse.New(fcfg)
	if err != nil {
		return nil, fmt.Errorf("-finesse-url: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		if errors.Is(err, finesse.ErrSSONotSupported) {
			return nil, err
		}
		return nil, fmt.Errorf("start the Finesse connector: %w", err)
	}
	if !c.Ready() {
		log.Warn("no Finesse side is in service yet: /readyz answers 503 and sign-ins get Unavailable until one is",
			zap.String("finesse", cfg.finesseURL))
	}
	return c, nil
}
