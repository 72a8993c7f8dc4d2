package finesse

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Update is one Finesse notification: the <Update> that a pubsub event
// message carries, read into the cisco types. At most one of User,
// Dialogs, Errors, SystemInfo and Media is set; a DELETE carries none.
type Update struct {
	Node      string // the pubsub node: /finesse/api/User/{id}, /finesse/api/User/{id}/Dialogs, ...
	Event     string // PUT, POST or DELETE, in upper case whatever Finesse sent
	RequestID string // the echo of a request's requestId header; often empty
	Source    string // the object that changed: /finesse/api/User/{id}, /finesse/api/Dialog/{id}, ...

	User       *cisco.User       // data/user: an agent's User, or a team member's summary
	Dialogs    []cisco.Dialog    // data/dialogs/Dialog or data/Dialog
	Errors     []*cisco.Error    // data/apiErrors: a request failed after Finesse took it up
	SystemInfo *cisco.SystemInfo // data/SystemInfo
	Media      *cisco.Media      // data/Media
}

// The namespaces of a pubsub event message and, for reference, those the
// <notification> element comes in: urn:xmpp:push:0 on Finesse 12.5 and
// later, http://jabber.org/protocol/pubsub before. The parser matches
// <notification> by its local name, so it takes either (and any other).
const (
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	nsPush        = "urn:xmpp:push:0"
	nsPubSub      = "http://jabber.org/protocol/pubsub"
)

// ErrNotNotification reports a stanza that is not a pubsub event message
// carrying a Finesse <Update>: the session ignores it.
var ErrNotNotification = errors.New("finesse: not a pubsub notification")

// ParseNotification reads a Finesse notification from one XMPP <message>
// stanza, as XMPP over WebSocket delivers it whole. The <Update> may be
// escaped XML text in <notification> (newer Finesse) or its child elements
// (older); element names are matched without regard to case or order, and
// optional elements may be missing. A stanza that is not a pubsub event
// is ErrNotNotification; one whose Update cannot be read is another error.
// Neither error quotes the stanza: callers log and count it without the
// payload, which holds an agent's data.
func ParseNotification(stanza []byte) (Update, error) {
	msg, err := parseXMLBytes(stanza)
	if err != nil {
		return Update{}, err
	}
	if !msg.is("message") {
		return Update{}, ErrNotNotification
	}
	var event *element
	for _, c := range msg.all("event") {
		if c.space == nsPubSubEvent {
			event = c
			break
		}
	}
	items := event.child("items")
	item := items.child("item")
	notification := item.child("notification")
	if notification == nil {
		return Update{}, ErrNotNotification
	}
	update := notification.child("Update")
	if update == nil {
		if notification.text == "" {
			return Update{}, errors.New("finesse: empty notification")
		}
		update, err = parseXMLBytes([]byte(notification.text))
		if err != nil {
			return Update{}, fmt.Errorf("finesse: the notification's Update: %w", err)
		}
	}
	if !update.is("Update") {
		return Update{}, fmt.Errorf("finesse: the notification holds <%.40s>, not <Update>", update.name)
	}
	return updateOf(items.attr("node"), update)
}

// updateOf maps an <Update> published on node.
func updateOf(node string, e *element) (Update, error) {
	u := Update{
		Node:      node,
		Event:     strings.ToUpper(e.textOf("event")),
		RequestID: e.textOf("requestId"),
		Source:    e.textOf("source"),
	}
	switch u.Event {
	case "PUT", "POST", "DELETE":
	case "":
		// Finesse always sends one; a missing event reads as a change.
		u.Event = "PUT"
	default:
		return Update{}, fmt.Errorf("finesse: unknown notification event %.20q", u.Event)
	}
	data := e.child("data")
	if data == nil {
		if u.Event == "DELETE" {
			return u, nil
		}
		return Update{}, errors.New("finesse: a notification without data")
	}
	for _, c := range data.children {
		switch {
		case c.is("user"):
			user := userOf(c)
			u.User = &user
		case c.is("dialogs"):
			u.Dialogs = dialogsOf(c)
		case c.is("Dialog"):
			u.Dialogs = append(u.Dialogs, dialogOf(c))
		case c.is("apiErrors"):
			u.Errors = apiErrorsOf(c)
			if len(u.Errors) == 0 {
				return Update{}, errors.New("finesse: an apiErrors notification without apiError")
			}
		case c.is("SystemInfo"):
			info := systemInfoOf(c)
			u.SystemInfo = &info
		case c.is("Media"):
			m := mediaOf(c)
			u.Media = &m
		}
	}
	return u, nil
}
