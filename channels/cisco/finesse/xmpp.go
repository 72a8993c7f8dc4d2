package finesse

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ctibus/ctibus/channels/cisco"
)

// XMPP over WebSocket (RFC 7395) as Finesse's notification service needs
// it: SASL PLAIN over TLS with the agent's credentials, a resource of ours,
// presence, a ping every 10 seconds, and pubsub event messages in. Finesse's
// Openfire supports only this base (no stream management), so a small
// client on gorilla/websocket is all it takes; each WebSocket message is one
// whole stanza, which ParseNotification reads as it comes.

// The XMPP namespaces the client speaks.
const (
	nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsPing    = "urn:xmpp:ping"
)

// Bounds of an XMPP session.
const (
	// maxStanzaBytes bounds one stanza read from Finesse. A Dialogs update
	// with its call variables is a few kilobytes.
	maxStanzaBytes = 1 << 20
	// pingMisses unanswered pings in a row end the session: the 12.5
	// developer guide's 10 seconds with 2 retries.
	pingMisses = 2
	// xmppWriteWait bounds one write.
	xmppWriteWait = 10 * time.Second
)

// DefaultPingInterval is how often a session pings Finesse, as Cisco's
// own sample does: Finesse signs out an agent whose presence is gone.
const DefaultPingInterval = 10 * time.Second

// errXMPPAuth is SASL's not-authorized: the agent's password is wrong.
// A session that gets it is never opened again with the same password.
var errXMPPAuth = &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageUnauthorized, Text: "Finesse's notification service refused the username or password"}

// xmppConfig is what an XMPP session is opened with.
type xmppConfig struct {
	url          string            // wss://<host>:7443/ws/
	domain       string            // the side's xmppDomain, from its SystemInfo
	side         string            // "side A", for errors
	creds        credentials       // the agent's; username is its loginId
	roots        *x509.CertPool    // nil: the system's
	pingInterval time.Duration     // DefaultPingInterval when 0
	onStanza     func(s []byte)    // called with each pubsub event message, in order, from one goroutine
	dialer       *websocket.Dialer // nil: one with roots
}

// xmppSession is an agent's open XMPP session. Its reader calls onStanza
// serially; Close ends it cleanly and waits for its goroutines.
type xmppSession struct {
	conn     *websocket.Conn
	cfg      xmppConfig
	jid      string // the full JID bound
	resource string // our resource in it
	done     chan struct{}
	wg       sync.WaitGroup
	writeMu  sync.Mutex // serializes writes: gorilla allows one writer
	missed   atomic.Int32
	nextID   atomic.Uint64
	closing  atomic.Bool
	errOnce  sync.Once
	err      error // why the session ended; set once before done is closed
	stopOnce sync.Once
	stop     chan struct{} // closed by Close: stops the pinger
	early    [][]byte      // messages read while opening, for the reader to deliver first
}

// newResource returns a resource of ours: Finesse reserves "desktop" for
// its own desktop, and two sessions of one agent must not collide.
func newResource() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ctibus-" + hex.EncodeToString(b[:])
}

// dialXMPP opens a session: WebSocket, SASL PLAIN, bind, initial presence.
// ctx bounds the opening only.
func dialXMPP(ctx context.Context, cfg xmppConfig) (*xmppSession, error) {
	if cfg.pingInterval <= 0 {
		cfg.pingInterval = DefaultPingInterval
	}
	u, err := url.Parse(cfg.url)
	if err != nil || (u.Scheme != "wss" && u.Scheme != "ws") {
		return nil, fmt.Errorf("finesse: the XMPP URL of %s must be wss://host:port/path: %q", cfg.side, cfg.url)
	}
	dialer := cfg.dialer
	if dialer == nil {
		dialer = &websocket.Dialer{
			Proxy:            nil,
			HandshakeTimeout: 15 * time.Second,
			TLSClientConfig:  &tls.Config{RootCAs: cfg.roots, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12},
			Subprotocols:     []string{"xmpp"},
		}
	}
	conn, resp, err := dialer.DialContext(ctx, cfg.url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, dialError(cfg, err)
	}
	if conn.Subprotocol() != "xmpp" {
		conn.Close()
		return nil, &cisco.Error{Type: cisco.ErrorTypeUnavailable, Text: fmt.Sprintf("%s at %s does not speak XMPP over WebSocket", cfg.side, cfg.url)}
	}
	conn.SetReadLimit(maxStanzaBytes)
	s := &xmppSession{conn: conn, cfg: cfg, done: make(chan struct{}), stop: make(chan struct{})}
	if err := s.open(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	s.wg.Add(2)
	go s.read()
	go s.ping()
	return s, nil
}

// dialError maps a failed WebSocket dial.
func dialError(cfg xmppConfig, err error) error {
	if text, ok := certificateProblem(err); ok {
		return &cisco.Error{
			Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable,
			Text: fmt.Sprintf("the certificate of Finesse %s's notification service (%s) is not trusted: %s; give its CA with -finesse-ca", cfg.side, cfg.url, text),
		}
	}
	return &cisco.Error{
		Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable,
		Text: fmt.Sprintf("Finesse %s's notification service at %s cannot be reached; try again later", cfg.side, cfg.url),
	}
}

// open negotiates the stream on a new connection, while no goroutine reads.
func (s *xmppSession) open(ctx context.Context) error {
	if deadline, ok := ctx.Deadline(); ok {
		s.conn.SetReadDeadline(deadline)
		defer s.conn.SetReadDeadline(time.Time{})
	}
	features, err := s.startStream()
	if err != nil {
		return err
	}
	if !hasMechanism(features, "PLAIN") {
		return s.protocolError("offers no SASL PLAIN")
	}
	auth := "\x00" + s.cfg.creds.username + "\x00" + s.cfg.creds.password
	if err := s.write(`<auth xmlns="` + nsSASL + `" mechanism="PLAIN">` + base64.StdEncoding.EncodeToString([]byte(auth)) + `</auth>`); err != nil {
		return err
	}
	reply, err := s.readElement()
	if err != nil {
		return err
	}
	switch {
	case reply.is("success"):
	case reply.is("failure"):
		if reply.child("not-authorized") != nil {
			return errXMPPAuth
		}
		return s.protocolError("refused the sign-in (" + firstChildName(reply) + ")")
	default:
		return s.protocolError("answered SASL with <" + reply.name + ">")
	}
	features, err = s.startStream()
	if err != nil {
		return err
	}
	if err := s.bind(features); err != nil {
		return err
	}
	// A non-negative priority, or Finesse does not deliver notifications.
	if err := s.write(`<presence xmlns="jabber:client"><priority>0</priority></presence>`); err != nil {
		return err
	}
	return s.awaitPresence()
}

// presenceSent is the id of the ping that follows the initial presence.
const presenceSent = "presence-sent"

// awaitPresence pings the server after the initial presence and waits for
// the answer: the server handles one session's stanzas in order, so the
// agent is present when it comes, and the LOGIN that follows cannot reach
// Finesse before the presence it depends on. Messages that come first
// (offline ones) are kept for the reader, in order.
func (s *xmppSession) awaitPresence() error {
	if err := s.write(`<iq xmlns="jabber:client" type="get" id="` + presenceSent + `"><ping xmlns="urn:xmpp:ping"/></iq>`); err != nil {
		return err
	}
	for range maxStanzasBeforePresence {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			return s.connError(err)
		}
		e, err := parseXMLBytes(data)
		switch {
		case err != nil || e.is("message"):
			s.early = append(s.early, data)
		case e.is("iq") && e.attr("id") == presenceSent:
			return nil
		}
	}
	return s.protocolError("sent too much before answering a ping")
}

// maxStanzasBeforePresence bounds what a server may send before it answers
// the ping after the initial presence.
const maxStanzasBeforePresence = 1000

// startStream opens (or restarts) the stream and returns its features.
func (s *xmppSession) startStream() (*element, error) {
	if err := s.write(`<open xmlns="` + nsFraming + `" to="` + xmlAttr(s.cfg.domain) + `" version="1.0"/>`); err != nil {
		return nil, err
	}
	open, err := s.readElement()
	if err != nil {
		return nil, err
	}
	if !open.is("open") {
		return nil, s.protocolError("answered the stream's open with <" + open.name + ">")
	}
	features, err := s.readElement()
	if err != nil {
		return nil, err
	}
	if !features.is("features") {
		return nil, s.protocolError("sent <" + features.name + "> for its features")
	}
	return features, nil
}

// bind binds a resource of ours, and opens the legacy session where the
// server still requires it.
func (s *xmppSession) bind(features *element) error {
	resource := newResource()
	s.resource = resource
	if err := s.write(`<iq xmlns="jabber:client" type="set" id="bind"><bind xmlns="` + nsBind + `"><resource>` + resource + `</resource></bind></iq>`); err != nil {
		return err
	}
	reply, err := s.readElement()
	if err != nil {
		return err
	}
	if !reply.is("iq") || reply.attr("type") != "result" {
		return s.protocolError("refused to bind a resource")
	}
	s.jid = reply.path("bind", "jid").textOrEmpty()
	if sess := features.child("session"); sess != nil && sess.child("optional") == nil {
		if err := s.write(`<iq xmlns="jabber:client" type="set" id="session"><session xmlns="` + nsSession + `"/></iq>`); err != nil {
			return err
		}
		if reply, err = s.readElement(); err != nil {
			return err
		}
		if !reply.is("iq") || reply.attr("type") != "result" {
			return s.protocolError("refused to open the session")
		}
	}
	return nil
}

// hasMechanism reports whether features offer the SASL mechanism.
func hasMechanism(features *element, mechanism string) bool {
	for _, m := range features.child("mechanisms").all("mechanism") {
		if m.text == mechanism {
			return true
		}
	}
	return false
}

func firstChildName(e *element) string {
	if len(e.children) == 0 {
		return "no reason"
	}
	return e.children[0].name
}

// protocolError reports a server that does not answer as Finesse does.
func (s *xmppSession) protocolError(what string) error {
	return &cisco.Error{Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable,
		Text: fmt.Sprintf("Finesse %s's notification service %s", s.cfg.side, what)}
}

// readElement reads one stanza as a tree.
func (s *xmppSession) readElement() (*element, error) {
	_, data, err := s.conn.ReadMessage()
	if err != nil {
		return nil, s.connError(err)
	}
	e, err := parseXMLBytes(data)
	if err != nil {
		return nil, s.protocolError("sent a stanza that cannot be read")
	}
	if e.is("error") && e.space == "http://etherx.jabber.org/streams" {
		return nil, s.protocolError("ended the stream (" + firstChildName(e) + ")")
	}
	return e, nil
}

// connError maps a failed read or write.
func (s *xmppSession) connError(err error) error {
	var ne net.Error
	what := "closed the connection"
	if errors.As(err, &ne) && ne.Timeout() {
		what = "did not answer in time"
	}
	return &cisco.Error{Type: cisco.ErrorTypeUnavailable, Message: cisco.ErrorMessageUnavailable,
		Text: fmt.Sprintf("Finesse %s's notification service %s", s.cfg.side, what)}
}

// write sends one stanza.
func (s *xmppSession) write(stanza string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(xmppWriteWait))
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(stanza)); err != nil {
		return s.connError(err)
	}
	return nil
}

// read delivers pubsub event messages until the connection ends, answers
// the server's pings, and counts any stanza in as a sign of life.
func (s *xmppSession) read() {
	defer s.wg.Done()
	for _, data := range s.early {
		s.cfg.onStanza(data)
	}
	s.early = nil
	for {
		s.conn.SetReadDeadline(time.Now().Add(time.Duration(pingMisses+1) * s.cfg.pingInterval))
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			s.end(s.connError(err))
			return
		}
		s.missed.Store(0)
		e, err := parseXMLBytes(data)
		if err != nil {
			// Not XML: hand it on, the parser counts it.
			s.cfg.onStanza(data)
			continue
		}
		switch {
		case e.is("message"):
			s.cfg.onStanza(data)
		case e.is("iq") && e.attr("type") == "get" && e.child("ping") != nil:
			_ = s.write(`<iq xmlns="jabber:client" type="result" id="` + xmlAttr(e.attr("id")) + `" to="` + xmlAttr(e.attr("from")) + `"/>`)
		case e.is("close"), e.is("error") && e.space == "http://etherx.jabber.org/streams":
			s.end(s.protocolError("closed the stream"))
			return
		}
	}
}

// ping pings the server every interval, and ends the session after
// pingMisses pings in a row got no answer (nor anything else).
func (s *xmppSession) ping() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.done:
			return
		case <-t.C:
		}
		if s.missed.Add(1) > pingMisses {
			s.end(s.protocolError("did not answer " + strconv.Itoa(pingMisses) + " pings"))
			s.conn.Close()
			return
		}
		id := "ping-" + strconv.FormatUint(s.nextID.Add(1), 10)
		if err := s.write(`<iq xmlns="jabber:client" type="get" id="` + id + `" to="` + xmlAttr(s.cfg.domain) + `"><ping xmlns="` + nsPing + `"/></iq>`); err != nil {
			s.end(err)
			s.conn.Close()
			return
		}
	}
}

// end records why the session ended and closes done, once.
func (s *xmppSession) end(err error) {
	s.errOnce.Do(func() {
		if s.closing.Load() {
			err = nil
		}
		s.err = err
		close(s.done)
	})
}

// Done is closed when the session has ended, by Close or by a failure.
func (s *xmppSession) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil after Close, else an Unavailable
// *cisco.Error. It is valid once Done is closed.
func (s *xmppSession) Err() error {
	<-s.done
	return s.err
}

// Close ends the session cleanly: unavailable presence, the stream's close,
// then the connection. It waits for the session's goroutines, so it must
// not be called from onStanza.
func (s *xmppSession) Close() {
	s.stopOnce.Do(func() {
		s.closing.Store(true)
		close(s.stop)
		_ = s.write(`<presence xmlns="jabber:client" type="unavailable"/>`)
		_ = s.write(`<close xmlns="` + nsFraming + `"/>`)
		s.writeMu.Lock()
		s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		s.writeMu.Unlock()
		s.conn.Close()
	})
	s.wg.Wait()
	s.end(nil)
}

// subscribe subscribes the session's full JID to a pubsub node of the
// side's pubsub service (Finesse's team nodes need it). The answer comes
// to the reader, which ignores it: Finesse's notifications follow.
func (s *xmppSession) subscribe(pubsubDomain, node string) error {
	id := "sub-" + strconv.FormatUint(s.nextID.Add(1), 10)
	return s.write(`<iq xmlns="jabber:client" type="set" id="` + id + `" to="` + xmlAttr(pubsubDomain) + `"><pubsub xmlns="` + nsPubSub +
		`"><subscribe node="` + xmlAttr(node) + `" jid="` + xmlAttr(s.jid) + `"/></pubsub></iq>`)
}

// unsubscribe undoes subscribe: Finesse keeps a subscription that a
// session leaves behind.
func (s *xmppSession) unsubscribe(pubsubDomain, node string) error {
	id := "unsub-" + strconv.FormatUint(s.nextID.Add(1), 10)
	return s.write(`<iq xmlns="jabber:client" type="set" id="` + id + `" to="` + xmlAttr(pubsubDomain) + `"><pubsub xmlns="` + nsPubSub +
		`"><unsubscribe node="` + xmlAttr(node) + `" jid="` + xmlAttr(s.jid) + `"/></pubsub></iq>`)
}

// xmlAttr escapes s for an attribute value.
func xmlAttr(s string) string { return xmlText(s) }
