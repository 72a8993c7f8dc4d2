package prosodytest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The namespaces of a Finesse notification's <notification> element.
const (
	// NamespacePush is the namespace of Finesse 12.5's notifications, as
	// captured on the wire.
	NamespacePush = "urn:xmpp:push:0"
	// NamespacePubSub is the namespace of older Finesse versions'
	// notifications (Cisco's 11.0 samples).
	NamespacePubSub = "http://jabber.org/protocol/pubsub"
)

const (
	nsComponent   = "jabber:component:accept"
	nsStreams     = "http://etherx.jabber.org/streams"
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	nsPing        = "urn:xmpp:ping"
	nsStanzas     = "urn:ietf:params:xml:ns:xmpp-stanzas"

	// writeWait bounds one write to prosody.
	writeWait = 10 * time.Second
)

// Presence is a change of an account's presence, as the component sees it.
type Presence struct {
	Domain    string
	User      string // the JID's local part, lower case
	Resource  string
	Available bool // the resource came online (false: it went away)
	// Online reports whether the user has any resource online after this
	// change: false once the last one has gone.
	Online bool
}

// PushOptions choose the form of a notification; the zero value is the
// form of Finesse 12.5 (escaped text in urn:xmpp:push:0).
type PushOptions struct {
	// Elements sends the <Update> as child elements of <notification>, as
	// older Finesse versions did, instead of escaped text.
	Elements bool
	// Namespace is the namespace of <notification>; "" is NamespacePush.
	Namespace string
}

// component is the external component pubsub.<domain>: Finesse's pubsub
// service as its agents see it.
type component struct {
	domain string
	jid    string // pubsub.<domain>
	conn   net.Conn
	done   chan struct{} // closed when the reader has returned

	writeMu sync.Mutex // serializes writes to conn

	mu        sync.Mutex                     // guards the fields below
	online    map[string]map[string]bool     // user → resources online
	changed   chan struct{}                  // closed and replaced at each presence change
	listeners map[int]func(Presence)         // by id, called in the order of their ids
	listenerN int                            // the id of the next listener
	iqN       int                            // the number of the component's last IQ
	pending   map[string]chan error          // IQ id → its waiter
	subs      map[string]map[string]struct{} // node → subscribed JIDs
	bounces   int                            // messages prosody returned as errors
	auths     map[authKey]int                // SASL outcomes by user, from mod_ctibus_watch
	readErr   error                          // why the reader stopped
}

// dialComponent connects and authenticates the component of domain
// (XEP-0114), retrying while prosody starts.
func (s *Server) dialComponent(ctx context.Context, domain, addr, secret string) (*component, error) {
	for {
		c, err := connectComponent(ctx, domain, addr, secret)
		if err == nil {
			return c, nil
		}
		if s.portTaken() {
			return nil, errPortTaken
		}
		select {
		case <-s.exited:
			return nil, errors.New("prosody exited")
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond): // prosody is still loading its modules
		}
	}
}

func connectComponent(ctx context.Context, domain, addr, secret string) (*component, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &component{
		domain:    domain,
		jid:       "pubsub." + domain,
		conn:      conn,
		done:      make(chan struct{}),
		online:    map[string]map[string]bool{},
		changed:   make(chan struct{}),
		listeners: map[int]func(Presence){},
		pending:   map[string]chan error{},
		subs:      map[string]map[string]struct{}{},
		auths:     map[authKey]int{},
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// One decoder reads the whole stream: it may have read ahead past the
	// handshake. prosody is trusted here, so the stream is not bounded.
	dec := xml.NewDecoder(conn)
	if err := c.handshake(dec, secret); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	go c.read(dec)
	return c, nil
}

// handshake opens the stream and proves the shared secret: the SHA-1 of
// the stream id and the secret, in hex.
func (c *component) handshake(dec *xml.Decoder, secret string) error {
	open := fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='%s'>", nsComponent, nsStreams, c.jid)
	if _, err := io.WriteString(c.conn, open); err != nil {
		return err
	}
	var id string
	for id == "" {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("read stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" {
				return fmt.Errorf("unexpected <%s> instead of a stream header", se.Name.Local)
			}
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			if id == "" {
				return errors.New("stream header without an id")
			}
		}
	}
	sum := sha1.Sum([]byte(id + secret))
	if _, err := io.WriteString(c.conn, "<handshake>"+hex.EncodeToString(sum[:])+"</handshake>"); err != nil {
		return err
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("read handshake reply: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local == "handshake" {
				return dec.Skip()
			}
			var raw struct {
				Inner string `xml:",innerxml"`
			}
			_ = dec.DecodeElement(&raw, &se)
			return fmt.Errorf("handshake refused: <%s>%s", se.Name.Local, raw.Inner)
		}
	}
}

// read handles prosody's stanzas until the connection ends.
func (c *component) read(dec *xml.Decoder) {
	defer close(c.done)
	var err error
	defer func() {
		c.mu.Lock()
		c.readErr = err
		for id, w := range c.pending {
			w <- fmt.Errorf("prosodytest: component of %s: connection lost: %v", c.domain, err)
			delete(c.pending, id)
		}
		c.mu.Unlock()
	}()
	for {
		var tok xml.Token
		tok, err = dec.Token()
		if err != nil {
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var st Stanza
		if err = dec.DecodeElement(&st, &se); err != nil {
			return
		}
		c.handle(st)
	}
}

func (c *component) handle(st Stanza) {
	switch st.XMLName.Local {
	case "presence":
		c.presence(st)
	case "iq":
		c.iq(st)
	case "message":
		if st.Type == "error" {
			c.mu.Lock()
			c.bounces++
			c.mu.Unlock()
			return
		}
		if st.From == c.domain {
			c.sasl(st)
		}
	}
}

// presence records an account's presence change and tells the listeners.
func (c *component) presence(st Stanza) {
	if st.Type != "" && st.Type != "unavailable" {
		return // probes and subscription requests: Finesse's presence watch has none
	}
	bare, resource, _ := strings.Cut(st.From, "/")
	user, domain, ok := strings.Cut(bare, "@")
	if !ok || domain != c.domain {
		return
	}
	user = strings.ToLower(user)
	available := st.Type == ""
	c.mu.Lock()
	rs := c.online[user]
	if available {
		if rs == nil {
			rs = map[string]bool{}
			c.online[user] = rs
		}
		rs[resource] = true
	} else {
		delete(rs, resource)
		if len(rs) == 0 {
			delete(c.online, user)
		}
	}
	p := Presence{Domain: c.domain, User: user, Resource: resource, Available: available, Online: len(c.online[user]) > 0}
	close(c.changed)
	c.changed = make(chan struct{})
	ids := slices.Sorted(maps.Keys(c.listeners))
	listeners := make([]func(Presence), len(ids))
	for i, id := range ids {
		listeners[i] = c.listeners[id]
	}
	c.mu.Unlock()
	for _, f := range listeners {
		f(p)
	}
}

// pubsubRequest is the payload of a subscription IQ (XEP-0060).
type pubsubRequest struct {
	XMLName     xml.Name `xml:"pubsub"`
	Subscribe   *subRef  `xml:"subscribe"`
	Unsubscribe *subRef  `xml:"unsubscribe"`
}

type subRef struct {
	Node string `xml:"node,attr"`
	JID  string `xml:"jid,attr"`
}

// iq completes the component's own IQs and answers the ones sent to it:
// pings, and subscriptions to nodes.
func (c *component) iq(st Stanza) {
	switch st.Type {
	case "result", "error":
		c.mu.Lock()
		w, ok := c.pending[st.ID]
		delete(c.pending, st.ID)
		c.mu.Unlock()
		if ok {
			if st.Type == "error" {
				w <- fmt.Errorf("prosodytest: iq %s: error: %s", st.ID, st.Inner)
			} else {
				w <- nil
			}
		}
		return
	}
	var ping struct {
		XMLName xml.Name `xml:"urn:xmpp:ping ping"`
	}
	if xml.Unmarshal(st.Inner, &ping) == nil {
		_ = c.write(fmt.Sprintf("<iq type='result' from='%s' to='%s' id='%s'/>", c.jid, attr(st.From), attr(st.ID)))
		return
	}
	var req pubsubRequest
	if xml.Unmarshal(st.Inner, &req) != nil || req.XMLName.Space != NamespacePubSub || st.Type != "set" ||
		(req.Subscribe == nil) == (req.Unsubscribe == nil) {
		c.replyError(st, "cancel", "service-unavailable")
		return
	}
	ref := req.Subscribe
	if ref == nil {
		ref = req.Unsubscribe
	}
	// Finesse lets a user subscribe itself only.
	if bareJID(ref.JID) != bareJID(st.From) || ref.Node == "" {
		c.replyError(st, "auth", "forbidden")
		return
	}
	c.mu.Lock()
	if req.Subscribe != nil {
		if c.subs[ref.Node] == nil {
			c.subs[ref.Node] = map[string]struct{}{}
		}
		c.subs[ref.Node][ref.JID] = struct{}{}
	} else {
		delete(c.subs[ref.Node], ref.JID)
	}
	c.mu.Unlock()
	if req.Subscribe != nil {
		_ = c.write(fmt.Sprintf("<iq type='result' from='%s' to='%s' id='%s'><pubsub xmlns='%s'><subscription node='%s' jid='%s' subscription='subscribed'/></pubsub></iq>",
			c.jid, attr(st.From), attr(st.ID), NamespacePubSub, attr(ref.Node), attr(ref.JID)))
	} else {
		_ = c.write(fmt.Sprintf("<iq type='result' from='%s' to='%s' id='%s'/>", c.jid, attr(st.From), attr(st.ID)))
	}
}

func (c *component) replyError(st Stanza, kind, condition string) {
	_ = c.write(fmt.Sprintf("<iq type='error' from='%s' to='%s' id='%s'><error type='%s'><%s xmlns='%s'/></error></iq>",
		c.jid, attr(st.From), attr(st.ID), kind, condition, nsStanzas))
}

// write sends one stanza.
func (c *component) write(s string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if _, err := io.WriteString(c.conn, s); err != nil {
		return fmt.Errorf("prosodytest: component of %s: %w", c.domain, err)
	}
	return nil
}

// sync sends a ping to the domain and waits for its answer. prosody writes
// to the component in order, so once the answer is read every stanza routed
// to the component before the ping has been handled.
func (c *component) sync(ctx context.Context) error {
	c.mu.Lock()
	if c.readErr != nil {
		err := c.readErr
		c.mu.Unlock()
		return fmt.Errorf("prosodytest: component of %s: %w", c.domain, err)
	}
	c.iqN++
	id := fmt.Sprintf("sync-%d", c.iqN)
	w := make(chan error, 1)
	c.pending[id] = w
	c.mu.Unlock()
	if err := c.write(fmt.Sprintf("<iq type='get' from='%s' to='%s' id='%s'><ping xmlns='%s'/></iq>", c.jid, c.domain, id, nsPing)); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return err
	}
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ctx.Err()
	}
}

func (c *component) close() {
	c.conn.Close()
	<-c.done
}

// Push sends update, a Finesse <Update> document, on node to the JID to
// (an agent's bare JID <loginId>@<domain>, or a full JID), from
// pubsub.<domain>, in the form of Finesse 12.5: escaped text in
// urn:xmpp:push:0. An error means the stanza could not be written; a
// recipient who is offline is not an error (see Bounces).
func (s *Server) Push(domain, to, node string, update []byte) error {
	return s.PushWith(domain, to, node, update, PushOptions{})
}

// PushWith is Push in the form o chooses.
func (s *Server) PushWith(domain, to, node string, update []byte, o PushOptions) error {
	c, err := s.componentOf(domain)
	if err != nil {
		return err
	}
	msg, err := NotificationStanza(c.jid, to, node, update, o)
	if err != nil {
		return err
	}
	return c.write(msg)
}

// PushSubscribers sends update on node to every JID subscribed to node on
// domain (see Subscribers), as Finesse sends team notifications.
func (s *Server) PushSubscribers(domain, node string, update []byte, o PushOptions) error {
	for _, jid := range s.Subscribers(domain, node) {
		if err := s.PushWith(domain, jid, node, update, o); err != nil {
			return err
		}
	}
	return nil
}

// NotificationStanza renders the message that carries a Finesse
// notification, as Finesse's pubsub service sends it:
//
//	<message from='pubsub.<domain>' to='<to>' id='...'>
//	  <event xmlns='http://jabber.org/protocol/pubsub#event'>
//	    <items node='/finesse/api/User/1001001'>
//	      <item id='...'><notification xmlns='urn:xmpp:push:0'>&lt;Update&gt;...</notification></item>
//
// update must be well-formed XML when o.Elements is set, and valid UTF-8
// without control characters in any case, or the stanza would end prosody's
// stream.
func NotificationStanza(from, to, node string, update []byte, o PushOptions) (string, error) {
	if err := checkText(update); err != nil {
		return "", err
	}
	ns := o.Namespace
	if ns == "" {
		ns = NamespacePush
	}
	var payload string
	if o.Elements {
		if err := wellFormed(update); err != nil {
			return "", fmt.Errorf("prosodytest: the update is not well-formed XML: %w", err)
		}
		payload = string(update)
	} else {
		payload = escapeText(update)
	}
	return fmt.Sprintf("<message from='%s' to='%s' id='%s'><event xmlns='%s'><items node='%s'><item id='%s'><notification xmlns='%s'>%s</notification></item></items></event></message>",
		attr(from), attr(to), randomHex(4), nsPubSubEvent, attr(node), randomHex(16), attr(ns), payload), nil
}

// escapeText escapes text as Finesse does in its notifications: &, < and >
// as entities, line breaks kept.
func escapeText(b []byte) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(string(b))
}

// attr escapes s for an attribute in single quotes.
func attr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}

func checkText(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("prosodytest: the update is not valid UTF-8")
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Errorf("prosodytest: the update holds the control character %U, which XML forbids", r)
		}
	}
	return nil
}

func wellFormed(b []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if roots != 1 {
				return fmt.Errorf("%d root elements, want 1", roots)
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.ProcInst:
			return errors.New("a processing instruction (<?xml ...?>) cannot go inside a stanza")
		}
	}
}

func bareJID(jid string) string {
	bare, _, _ := strings.Cut(jid, "/")
	return strings.ToLower(bare)
}

// Online reports whether user@domain has a resource online with available
// presence, as far as the component has seen; call Sync first to see every
// presence prosody has routed.
func (s *Server) Online(domain, user string) bool {
	c, err := s.componentOf(domain)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.online[strings.ToLower(user)]) > 0
}

// WaitPresence waits until user@domain is online (online true) or has no
// resource online (false), or ctx ends.
func (s *Server) WaitPresence(ctx context.Context, domain, user string, online bool) error {
	c, err := s.componentOf(domain)
	if err != nil {
		return err
	}
	user = strings.ToLower(user)
	for {
		c.mu.Lock()
		now, changed := len(c.online[user]) > 0, c.changed
		c.mu.Unlock()
		if now == online {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("prosodytest: %s@%s online=%v: %w", user, domain, online, ctx.Err())
		}
	}
}

// OnPresence calls f with every presence change on domain, in order, from
// the component's reader: f must not block, nor call back into the server's
// waiting methods (Sync, WaitPresence). cancel stops the calls.
func (s *Server) OnPresence(domain string, f func(Presence)) (cancel func()) {
	c, err := s.componentOf(domain)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.listenerN
	c.listenerN++
	c.listeners[id] = f
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.listeners, id)
	}
}

// Sync waits until the component has handled every stanza prosody routed to
// it before the call: after it, Online and the OnPresence listeners have
// seen every presence prosody had processed when Sync was called.
func (s *Server) Sync(ctx context.Context, domain string) error {
	c, err := s.componentOf(domain)
	if err != nil {
		return err
	}
	return c.sync(ctx)
}

// Subscribers returns the JIDs subscribed to node on domain, sorted.
func (s *Server) Subscribers(domain, node string) []string {
	c, err := s.componentOf(domain)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var jids []string
	for jid := range c.subs[node] {
		jids = append(jids, jid)
	}
	slices.Sort(jids)
	return jids
}

// Bounces returns how many messages prosody has returned to domain's
// component as undeliverable, such as a notification to an agent with no
// resource online.
func (s *Server) Bounces(domain string) int {
	c, err := s.componentOf(domain)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bounces
}

// OnlineUsers returns the users of domain with a resource online, sorted.
func (s *Server) OnlineUsers(domain string) []string {
	c, err := s.componentOf(domain)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	users := make([]string, 0, len(c.online))
	for u := range c.online {
		users = append(users, u)
	}
	slices.Sort(users)
	return users
}

// authKey counts one outcome of one user's SASL authentications.
type authKey struct {
	user    string
	success bool
}

// sasl records a SASL outcome that mod_ctibus_watch reported.
func (c *component) sasl(st Stanza) {
	var report struct {
		XMLName xml.Name `xml:"urn:ctibus:prosodytest sasl"`
		Outcome string   `xml:"outcome,attr"`
		User    string   `xml:"user,attr"`
	}
	if xml.Unmarshal(st.Inner, &report) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auths[authKey{strings.ToLower(report.User), report.Outcome == "success"}]++
}

// Authentications returns how many times user@domain has signed in to
// XMPP (succeeded) and failed to (a wrong password), as prosody has seen
// so far; call Sync first to count every attempt prosody has processed. A
// test proves with it that a connector reconnected, and that it never
// retried a password Finesse refused.
func (s *Server) Authentications(domain, user string) (succeeded, failed int) {
	c, err := s.componentOf(domain)
	if err != nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	user = strings.ToLower(user)
	return c.auths[authKey{user, true}], c.auths[authKey{user, false}]
}
