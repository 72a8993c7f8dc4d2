package prosodytest

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/testca"
)

// When another process holds a port chosen for prosody (here, a TLS server
// of another CA on the port chosen for WebSocket), Start notices that the
// port is not prosody's and starts again on other ports.
func TestStartAgainWhenAPortWasTaken(t *testing.T) {
	foreign, err := tls.Listen("tcp", "127.0.0.1:0", testca.New(t).ServerTLS(t, "127.0.0.1"))
	require.NoError(t, err)
	defer foreign.Close()
	go func() {
		for {
			c, err := foreign.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()

	calls := 0
	choosePorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[2] = foreign.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	defer func() { choosePorts = freePorts }()

	s := Start(t, Config{Domains: []string{"finesse-a.test"}})
	require.Equal(t, 2, calls)
	require.NoError(t, s.AddUser("finesse-a.test", "100501", "pw"))
	c, err := DialClient(t.Context(), ClientConfig{
		URL: s.WebSocketURL("finesse-a.test"), Domain: "finesse-a.test", User: "100501", Password: "pw", TLS: s.CA().ClientTLS(),
	})
	require.NoError(t, err)
	c.Close()
}
