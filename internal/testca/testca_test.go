package testca_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/testca"
)

// handshake runs a TLS handshake between a server presenting serverCfg's
// certificate and a client with clientCfg, dialing serverName.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config, serverName string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(*tls.Conn).Handshake()
		_, _ = io.Copy(io.Discard, c)
	}()
	cfg := clientCfg.Clone()
	cfg.ServerName = serverName
	c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err == nil {
		c.Close()
	}
	ln.Close()
	<-done
	return err
}

func TestCertificatesVerifyAgainstTheirCAOnly(t *testing.T) {
	ca, other := testca.New(t), testca.New(t)
	server := ca.ServerTLS(t, "127.0.0.1", "finesse-a.test")

	assert.NoError(t, handshake(t, server, ca.ClientTLS(), "127.0.0.1"))
	assert.NoError(t, handshake(t, server, ca.ClientTLS(), "finesse-a.test"))
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, handshake(t, server, other.ClientTLS(), "127.0.0.1"), &unknown)
	var hostname x509.HostnameError
	assert.ErrorAs(t, handshake(t, server, ca.ClientTLS(), "finesse-b.test"), &hostname)
}

func TestWriteFileHoldsThePEM(t *testing.T) {
	ca := testca.New(t)
	path := ca.WriteFile(t, t.TempDir())
	assert.Equal(t, "ca.pem", filepath.Base(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, ca.PEM(), data)
	pool := x509.NewCertPool()
	assert.True(t, pool.AppendCertsFromPEM(data))
}
