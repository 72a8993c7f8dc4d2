package prosodytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctibus/ctibus/internal/testca"
)

// Install is what to run to get prosody, for the message of a skipped test.
const Install = "apt-get install prosody"

// WebSocketPath is the path where prosody serves XMPP over WebSocket.
// Finesse serves it at /ws/; a connector takes the whole URL from its
// configuration, so tests pass WebSocketURL.
const WebSocketPath = "/xmpp-websocket"

// The limits of a test server.
const (
	// startTimeout bounds how long prosody may take to listen on its ports
	// on a busy machine.
	startTimeout = 30 * time.Second
	// stopTimeout is how long prosody may take to exit after SIGTERM before
	// it is killed.
	stopTimeout = 10 * time.Second
	// startAttempts bounds the starts on new ports after a port was taken.
	startAttempts = 5
)

// watchModule is the prosody module that reports SASL outcomes to the
// component (Server.Authentications).
//
//go:embed lua/mod_ctibus_watch.lua
var watchModule []byte

// Config describes the server to start.
type Config struct {
	// Domains are the XMPP domains, one virtual host each, with the
	// component pubsub.<domain>: one per Finesse side. Required.
	Domains []string
	// CA issues the server's certificate; nil makes a new one. Pass the CA
	// of a REST fixture, or take Server.CA for it, so that one PEM file
	// trusts both.
	CA *testca.CA
	// Debug makes prosody log at debug level (every stanza) to its log file,
	// which a failed test prints.
	Debug bool
}

// Server is a running prosody with its components and proxies. Its methods
// are safe for concurrent use.
type Server struct {
	dir        string
	ca         *testca.CA
	caFile     string
	domains    []string
	httpsAddr  string // prosody's own TLS port, behind the proxies
	components map[string]*component
	proxies    map[string]*Proxy
	cmd        *exec.Cmd
	exited     chan struct{} // closed when prosody has exited; nil before it starts
	exitErr    error         // set before exited is closed
}

// Start runs prosody for the test, and stops it (killing it if it does not
// stop) when the test ends, even after a panic. Without prosody, it skips
// the test, or fails it when CI=true.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := Binary(t)
	if len(cfg.Domains) == 0 {
		t.Fatal("prosodytest: Config.Domains is empty: name one XMPP domain per Finesse side")
	}
	ca := cfg.CA
	if ca == nil {
		ca = testca.New(t)
	}
	dir := t.TempDir()
	s := &Server{
		dir:        dir,
		ca:         ca,
		domains:    append([]string(nil), cfg.Domains...),
		components: map[string]*component{},
		proxies:    map[string]*Proxy{},
	}
	s.caFile = ca.WriteFile(t, dir)

	hosts := []string{"127.0.0.1", "::1", "localhost"}
	for _, d := range cfg.Domains {
		hosts = append(hosts, d, "pubsub."+d)
	}
	certPEM, keyPEM := ca.IssuePEM(t, hosts...)
	writeFile(t, filepath.Join(dir, "server.crt"), certPEM)
	writeFile(t, filepath.Join(dir, "server.key"), keyPEM)
	writeFile(t, filepath.Join(dir, "mod_ctibus_watch.lua"), watchModule)
	for _, d := range []string{"data", "certs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatalf("prosodytest: %v", err)
		}
	}

	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			s.logTail(t)
		}
	})
	// The ports are free when chosen and bound by prosody a moment later,
	// so another process (another test's prosody) may take one first;
	// prosody then logs the failure and runs on. Such a start is detected
	// and retried on other ports.
	for attempt := 1; ; attempt++ {
		err := s.launch(bin, cfg)
		if err == nil {
			break
		}
		report := s.exitReport()
		s.kill()
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			t.Fatalf("prosodytest: start prosody: %v%s", err, report)
		}
		t.Logf("prosodytest: %v; starting again on other ports", err)
	}
	for _, d := range cfg.Domains {
		p, err := newProxy(s.httpsAddr)
		if err != nil {
			t.Fatalf("prosodytest: proxy for %s: %v", d, err)
		}
		s.proxies[d] = p
	}
	return s
}

// Binary returns the path of prosody, or skips the test (fails it under
// CI=true) when prosody is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("prosody")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and prosody is not installed (%v): the XMPP tests cannot run; install prosody: %s", err, Install)
		}
		t.Skipf("skipping the XMPP test: prosody is not installed; install prosody: %s", Install)
	}
	return bin
}

// config renders prosody's configuration. Everything lives in s.dir and
// listens on 127.0.0.1 only; no module that would reach outside (s2s) or
// keep messages for offline users (offline: Finesse's notifications are
// lost when nobody is online) is loaded.
func (s *Server) config(cfg Config, c2sPort, componentPort, httpsPort int, secret string) string {
	level := "info"
	if cfg.Debug {
		level = "debug"
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("-- written by prosodytest for one test")
	p("run_as_root = true") // CI runs as root; nothing here needs a privilege
	p("pidfile = %s", luaString(filepath.Join(s.dir, "prosody.pid")))
	p("data_path = %s", luaString(filepath.Join(s.dir, "data")))
	p("plugin_paths = { %s }", luaString(s.dir))
	p("certificates = %s", luaString(filepath.Join(s.dir, "certs")))
	p("log = { %s = %s }", level, luaString(filepath.Join(s.dir, "prosody.log")))
	p("interfaces = { \"127.0.0.1\" }")
	p("local_interfaces = { \"127.0.0.1\" }")
	p("c2s_ports = { %d }", c2sPort)
	p("c2s_interfaces = { \"127.0.0.1\" }")
	p("component_ports = { %d }", componentPort)
	p("component_interfaces = { \"127.0.0.1\" }")
	p("http_ports = { }")
	p("https_ports = { %d }", httpsPort)
	p("https_interfaces = { \"127.0.0.1\" }")
	p("ssl = { certificate = %s; key = %s }", luaString(filepath.Join(s.dir, "server.crt")), luaString(filepath.Join(s.dir, "server.key")))
	p("https_ssl = { certificate = %s; key = %s }", luaString(filepath.Join(s.dir, "server.crt")), luaString(filepath.Join(s.dir, "server.key")))
	p("http_default_host = %s", luaString(cfg.Domains[0]))
	p("authentication = \"internal_plain\"")
	p("storage = \"internal\"")
	p("c2s_require_encryption = true")
	p("allow_registration = false")
	p("modules_enabled = { \"roster\", \"saslauth\", \"tls\", \"disco\", \"ping\", \"posix\", \"websocket\", \"bosh\", \"ctibus_watch\" }")
	p("modules_disabled = { \"s2s\", \"s2s_auth_certs\", \"offline\" }")
	for _, d := range cfg.Domains {
		p("VirtualHost %s", luaString(d))
		p("Component %s", luaString("pubsub."+d))
		p("\tcomponent_secret = %s", luaString(secret))
	}
	return b.String()
}

// errPortTaken reports that another process holds a port chosen for
// prosody.
var errPortTaken = errors.New("a port chosen for prosody was taken by another process")

// launch writes the configuration on new ports, starts prosody and waits
// until it serves: its components have authenticated with this server's
// secret, and its TLS port presents this server's certificate.
func (s *Server) launch(bin string, cfg Config) error {
	ports, err := choosePorts(3)
	if err != nil {
		return err
	}
	c2sPort, componentPort, httpsPort := ports[0], ports[1], ports[2]
	s.httpsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort))
	secret := randomHex(16)
	configPath := filepath.Join(s.dir, "prosody.cfg.lua")
	if err := os.WriteFile(configPath, []byte(s.config(cfg, c2sPort, componentPort, httpsPort, secret)), 0o600); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(s.dir, "prosody.log")) // a retry reads its own log only

	cmd := exec.Command(bin, "--config", configPath, "-F")
	cmd.Dir = s.dir
	cmd.Stdout = &lockedBuffer{}
	cmd.Stderr = cmd.Stdout
	// If the test binary dies without running its cleanups (a timeout
	// panic ends it with os.Exit), prosody must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	go func() {
		s.exitErr = cmd.Wait()
		close(exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, d := range cfg.Domains {
		c, err := s.dialComponent(ctx, d, net.JoinHostPort("127.0.0.1", strconv.Itoa(componentPort)), secret)
		if err != nil {
			return fmt.Errorf("component of %s: %w", d, err)
		}
		s.components[d] = c
	}
	return s.waitTLS(ctx)
}

// portTaken reports whether prosody has logged that it could not bind one
// of its ports.
func (s *Server) portTaken() bool {
	data, _ := os.ReadFile(filepath.Join(s.dir, "prosody.log"))
	return bytes.Contains(data, []byte("Failed to open server port"))
}

// waitTLS waits until prosody's TLS port completes a handshake that
// verifies against the CA.
func (s *Server) waitTLS(ctx context.Context) error {
	for {
		d := tls.Dialer{Config: s.ca.ClientTLS()}
		c, err := d.DialContext(ctx, "tcp", s.httpsAddr)
		if err == nil {
			c.Close()
			return nil
		}
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) || s.portTaken() {
			return errPortTaken
		}
		select {
		case <-s.exited:
			return errors.New("prosody exited")
		case <-ctx.Done():
			return fmt.Errorf("TLS port %s: %w", s.httpsAddr, err)
		case <-time.After(20 * time.Millisecond): // prosody is still loading its modules
		}
	}
}

// kill ends a prosody that failed to start, and its components.
func (s *Server) kill() {
	for d, c := range s.components {
		c.close()
		delete(s.components, d)
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// stop ends prosody and the Go parts around it.
func (s *Server) stop(t testing.TB) {
	for _, p := range s.proxies {
		p.close()
	}
	for _, c := range s.components {
		c.close()
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Logf("prosodytest: prosody did not stop %v after SIGTERM; killing it", stopTimeout)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// exitReport says why prosody is not there, if it exited.
func (s *Server) exitReport() string {
	select {
	case <-s.exited:
		out := s.cmd.Stdout.(*lockedBuffer).String()
		return fmt.Sprintf(" (prosody exited: %v; output: %s)", s.exitErr, strings.TrimSpace(out))
	default:
		return ""
	}
}

// logTail prints the end of prosody's log to the test log.
func (s *Server) logTail(t testing.TB) {
	data, err := os.ReadFile(filepath.Join(s.dir, "prosody.log"))
	if err != nil {
		return
	}
	const max = 8 << 10
	if len(data) > max {
		data = data[len(data)-max:]
	}
	t.Logf("prosodytest: the end of prosody's log:\n%s", data)
}

// CA returns the certificate authority of the server's certificate.
func (s *Server) CA() *testca.CA { return s.ca }

// CAFile returns the path of a PEM file of the CA: a -finesse-ca file.
func (s *Server) CAFile() string { return s.caFile }

// Domains returns the server's XMPP domains, in the order of Config.Domains.
func (s *Server) Domains() []string { return append([]string(nil), s.domains...) }

// WebSocketURL returns the wss:// URL of XMPP over WebSocket for domain,
// through the domain's Proxy. The URL's host is 127.0.0.1, which the
// certificate names; the XMPP domain is chosen by the stream's to
// attribute, as with Finesse, whose URL names the node and whose JIDs name
// the xmppDomain.
func (s *Server) WebSocketURL(domain string) string {
	return "wss://" + s.Proxy(domain).Addr() + WebSocketPath
}

// BOSHURL returns the https:// URL of BOSH for domain, through its Proxy.
func (s *Server) BOSHURL(domain string) string {
	return "https://" + s.Proxy(domain).Addr() + "/http-bind"
}

// Proxy returns the proxy in front of domain's WebSocket and BOSH port.
// It panics for a domain the server does not serve.
func (s *Server) Proxy(domain string) *Proxy {
	p, ok := s.proxies[domain]
	if !ok {
		panic("prosodytest: no domain " + domain)
	}
	return p
}

// componentOf returns domain's component, or an error naming the domain.
func (s *Server) componentOf(domain string) (*component, error) {
	c, ok := s.components[domain]
	if !ok {
		return nil, fmt.Errorf("prosodytest: no domain %q (the server has %s)", domain, strings.Join(s.domains, ", "))
	}
	return c, nil
}

// choosePorts picks prosody's ports: freePorts, or in this package's tests
// a port taken on purpose.
var choosePorts = freePorts

// freePorts returns n ports that were free on 127.0.0.1 a moment ago.
// prosody binds them itself, so they are released first (see Start for
// what happens when another process takes one meanwhile).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("prosodytest: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// luaString quotes s as a Lua string literal, escaping every byte that is
// not a letter, a digit or a safe punctuation mark, so that no value (a
// password, a path) can end the literal.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("/._-@+:,= ", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// lockedBuffer collects prosody's output, written by os/exec's goroutine
// and read by the test's.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
