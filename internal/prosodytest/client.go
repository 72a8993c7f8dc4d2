package prosodytest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	// clientReadLimit bounds one WebSocket message the client accepts.
	clientReadLimit = 1 << 20
)

// ErrNotAuthorized is the SASL failure of a wrong password or an unknown
// account.
var ErrNotAuthorized = errors.New("prosodytest: client: SASL PLAIN failed: not-authorized")

// ClientConfig says where and as whom a Client signs in.
type ClientConfig struct {
	URL      string      // wss:// URL, such as Server.WebSocketURL(domain)
	Domain   string      // the XMPP domain: the stream's to
	User     string      // the JID's local part: an agent's loginId
	Password string      //
	Resource string      // "" lets the server choose
	TLS      *tls.Config // trusts the server's CA: Server.CA().ClientTLS()
}

// Client is a minimal XMPP-over-WebSocket client (RFC 7395) for tests: it
// signs in with SASL PLAIN, binds a resource, sends presence, pings and
// subscribes, and reads the stanzas it receives in order. It stands for a
// Finesse desktop when a test checks the harness or the REST fixture by
// hand; it is not the connector's client. Its methods are not safe for
// concurrent use, except Close.
type Client struct {
	JID string // the full JID bound

	conn    *websocket.Conn
	frames  chan []byte   // stanzas read, in order
	done    chan struct{} // closed when the reader has returned
	closing chan struct{} // closed by Close, to free a reader nobody reads from
	backlog []Stanza      // stanzas read while waiting for an IQ's answer
	nextID  int
	readErr error // set before done is closed
	once    sync.Once
}

// Stanza is a stanza a Client received.
type Stanza struct {
	XMLName xml.Name
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	Inner   []byte `xml:",innerxml"`
	Raw     []byte `xml:"-"` // the whole stanza as received
}

// Notification is a Finesse notification a Client received: a pubsub
// event message from pubsub.<domain>.
type Notification struct {
	From, To  string
	Node      string // /finesse/api/User/<loginId>, ...
	ItemID    string
	Namespace string // of <notification>: NamespacePush or NamespacePubSub
	// Update is the <Update> document: the text of <notification>
	// unescaped, or its child elements as they came.
	Update   []byte
	Elements bool // the Update came as child elements rather than text
}

// DialClient connects to cfg.URL and signs in: SASL PLAIN, then a resource
// bind. It sends no presence: call SendPresence, as a Finesse client must
// before it receives notifications.
func DialClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	d := websocket.Dialer{
		TLSClientConfig:  cfg.TLS,
		Subprotocols:     []string{"xmpp"},
		HandshakeTimeout: 10 * time.Second,
	}
	conn, resp, err := d.DialContext(ctx, cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("prosodytest: client: dial %s: %w", cfg.URL, err)
	}
	resp.Body.Close()
	conn.SetReadLimit(clientReadLimit)
	c := &Client{conn: conn, frames: make(chan []byte, 256), done: make(chan struct{}), closing: make(chan struct{})}
	go c.read()
	if err := c.signIn(ctx, cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.readErr = err
			return
		}
		select {
		case c.frames <- data:
		case <-c.closing:
			return
		}
	}
}

func (c *Client) signIn(ctx context.Context, cfg ClientConfig) error {
	open := fmt.Sprintf("<open xmlns='%s' to='%s' version='1.0'/>", nsFraming, attr(cfg.Domain))
	if err := c.Send(open); err != nil {
		return err
	}
	if _, err := c.expect(ctx, "features"); err != nil {
		return err
	}
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + cfg.User + "\x00" + cfg.Password))
	if err := c.Send(fmt.Sprintf("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>", nsSASL, creds)); err != nil {
		return err
	}
	st, err := c.expect(ctx, "success", "failure")
	if err != nil {
		return err
	}
	if st.XMLName.Local == "failure" {
		if strings.Contains(string(st.Inner), "not-authorized") {
			return ErrNotAuthorized
		}
		return fmt.Errorf("prosodytest: client: SASL PLAIN failed: %s", st.Inner)
	}
	if err := c.Send(open); err != nil {
		return err
	}
	if _, err := c.expect(ctx, "features"); err != nil {
		return err
	}
	resource := ""
	if cfg.Resource != "" {
		resource = "<resource>" + html.EscapeString(cfg.Resource) + "</resource>"
	}
	res, err := c.iq(ctx, "set", cfg.Domain, fmt.Sprintf("<bind xmlns='%s'>%s</bind>", nsBind, resource))
	if err != nil {
		return fmt.Errorf("prosodytest: client: bind: %w", err)
	}
	var bind struct {
		JID string `xml:"jid"`
	}
	if err := xml.Unmarshal(res.Inner, &bind); err != nil || bind.JID == "" {
		return fmt.Errorf("prosodytest: client: bind answered %q", res.Inner)
	}
	c.JID = bind.JID
	return nil
}

// Send writes one stanza.
func (c *Client) Send(stanza string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(stanza)); err != nil {
		return fmt.Errorf("prosodytest: client: %w", err)
	}
	return nil
}

// SendPresence sends available presence with priority 0, as Finesse asks
// of its clients, and waits for the server to echo it back to this
// resource: from then on the server has processed it, and Sync on the
// server shows the client online.
func (c *Client) SendPresence(ctx context.Context) error {
	if err := c.Send("<presence xmlns='jabber:client'><priority>0</priority></presence>"); err != nil {
		return err
	}
	for {
		st, err := c.next(ctx, false)
		if err != nil {
			return err
		}
		if st.XMLName.Local == "presence" && st.From == c.JID && st.Type == "" {
			return nil
		}
		c.backlog = append(c.backlog, st)
	}
}

// Ping sends an XEP-0199 ping to the domain and waits for the answer.
func (c *Client) Ping(ctx context.Context, domain string) error {
	_, err := c.iq(ctx, "get", domain, "<ping xmlns='urn:xmpp:ping'/>")
	return err
}

// Subscribe subscribes the client's full JID to node on pubsub.<domain>,
// as a Finesse supervisor subscribes to a team's node.
func (c *Client) Subscribe(ctx context.Context, domain, node string) error {
	_, err := c.iq(ctx, "set", "pubsub."+domain, fmt.Sprintf("<pubsub xmlns='%s'><subscribe node='%s' jid='%s'/></pubsub>",
		NamespacePubSub, attr(node), attr(c.JID)))
	return err
}

// iq sends an IQ and waits for its answer; other stanzas that arrive
// meanwhile are kept for Next.
func (c *Client) iq(ctx context.Context, typ, to, payload string) (Stanza, error) {
	c.nextID++
	id := fmt.Sprintf("c%d", c.nextID)
	if err := c.Send(fmt.Sprintf("<iq xmlns='jabber:client' type='%s' to='%s' id='%s'>%s</iq>", typ, attr(to), id, payload)); err != nil {
		return Stanza{}, err
	}
	for {
		st, err := c.next(ctx, false)
		if err != nil {
			return Stanza{}, err
		}
		if st.XMLName.Local == "iq" && st.ID == id {
			if st.Type == "error" {
				return st, fmt.Errorf("prosodytest: client: iq %s: %s", id, st.Inner)
			}
			return st, nil
		}
		c.backlog = append(c.backlog, st)
	}
}

// expect reads the next stanza, which must be one of names; an <open/> is
// skipped.
func (c *Client) expect(ctx context.Context, names ...string) (Stanza, error) {
	for {
		st, err := c.next(ctx, false)
		if err != nil {
			return Stanza{}, err
		}
		if st.XMLName.Local == "open" {
			continue
		}
		for _, n := range names {
			if st.XMLName.Local == n {
				return st, nil
			}
		}
		return Stanza{}, fmt.Errorf("prosodytest: client: got <%s> %s, want one of %v", st.XMLName.Local, st.Inner, names)
	}
}

// Next returns the next stanza received, or an error when the connection
// has ended or ctx ends first.
func (c *Client) Next(ctx context.Context) (Stanza, error) { return c.next(ctx, true) }

func (c *Client) next(ctx context.Context, backlog bool) (Stanza, error) {
	if backlog && len(c.backlog) > 0 {
		st := c.backlog[0]
		c.backlog = c.backlog[1:]
		return st, nil
	}
	select {
	case data := <-c.frames:
		return parseStanza(data)
	case <-c.done:
		select { // stanzas read before the end come first
		case data := <-c.frames:
			return parseStanza(data)
		default:
		}
		return Stanza{}, fmt.Errorf("prosodytest: client: connection ended: %w", c.readErr)
	case <-ctx.Done():
		return Stanza{}, ctx.Err()
	}
}

func parseStanza(data []byte) (Stanza, error) {
	var st Stanza
	if err := xml.Unmarshal(data, &st); err != nil {
		return Stanza{}, fmt.Errorf("prosodytest: client: unreadable stanza %q: %w", data, err)
	}
	st.Raw = data
	if st.XMLName.Local == "close" {
		return Stanza{}, errors.New("prosodytest: client: the server closed the stream")
	}
	return st, nil
}

// NextNotification returns the next Finesse notification received,
// skipping other stanzas.
func (c *Client) NextNotification(ctx context.Context) (Notification, error) {
	for {
		st, err := c.Next(ctx)
		if err != nil {
			return Notification{}, err
		}
		if n, ok := ParseNotification(st); ok {
			return n, nil
		}
	}
}

// Err waits until the connection ends, as after a Proxy's Cut, and returns
// why, or ctx's error if it ends first.
func (c *Client) Err(ctx context.Context) error {
	select {
	case <-c.done:
		return c.readErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the stream and the connection.
func (c *Client) Close() error {
	c.once.Do(func() {
		_ = c.Send("<close xmlns='" + nsFraming + "'/>")
		close(c.closing)
		c.conn.Close()
	})
	<-c.done
	return nil
}

// ParseNotification reads a Finesse notification out of a message stanza:
// message/event/items[@node]/item/notification, whose text is the escaped
// Update or whose children are the Update.
func ParseNotification(st Stanza) (Notification, bool) {
	if st.XMLName.Local != "message" {
		return Notification{}, false
	}
	var ev struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub#event event"`
		Items   struct {
			Node string `xml:"node,attr"`
			Item struct {
				ID           string `xml:"id,attr"`
				Notification struct {
					XMLName xml.Name
					Inner   []byte `xml:",innerxml"`
					Text    string `xml:",chardata"`
				} `xml:"notification"`
			} `xml:"item"`
		} `xml:"items"`
	}
	if err := xml.Unmarshal(st.Inner, &ev); err != nil {
		return Notification{}, false
	}
	n := ev.Items.Item.Notification
	if n.XMLName.Local != "notification" {
		return Notification{}, false
	}
	out := Notification{From: st.From, To: st.To, Node: ev.Items.Node, ItemID: ev.Items.Item.ID, Namespace: n.XMLName.Space}
	inner := strings.TrimSpace(string(n.Inner))
	if strings.HasPrefix(inner, "<") {
		out.Update, out.Elements = []byte(inner), true
	} else {
		out.Update = []byte(strings.TrimSpace(n.Text))
	}
	return out, true
}
