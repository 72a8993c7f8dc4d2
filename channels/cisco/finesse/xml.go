package finesse

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Finesse's XML is read into a small tree first and mapped to the cisco
// types second: the same object comes as <user> or <User>, <ReasonCode> or
// <reasonCode>, <ApiError><ErrorType> or <apiError><errorType>, with its
// children in any order and optional ones missing, and one tree matched by
// case-insensitive local names reads all of them.

// The bounds of one XML document, whatever its source.
const (
	// MaxDocumentBytes bounds a REST body and a notification. A phone book
	// holds up to 6,000 contacts of a few hundred bytes each.
	MaxDocumentBytes = 4 << 20
	// maxElements bounds the elements of one document.
	maxElements = 100_000
	// maxDepth bounds how deeply elements nest; Finesse's objects nest
	// fewer than ten deep, a notification's stanza adds six.
	maxDepth = 32
)

// errTooLarge reports a document beyond MaxDocumentBytes.
var errTooLarge = errors.New("finesse: XML document larger than 4 MiB")

// element is an XML element with its local name, its own character data
// (trimmed) and its child elements.
type element struct {
	name     string
	space    string
	attrs    []xml.Attr
	text     string
	children []*element
}

// parseXML reads one XML document from r, at most MaxDocumentBytes.
func parseXML(r io.Reader) (*element, error) {
	limited := &io.LimitedReader{R: r, N: MaxDocumentBytes + 1}
	root, err := decodeTree(xml.NewDecoder(limited))
	if limited.N <= 0 {
		return nil, errTooLarge
	}
	return root, err
}

// parseXMLBytes reads one XML document from data.
func parseXMLBytes(data []byte) (*element, error) {
	if len(data) > MaxDocumentBytes {
		return nil, errTooLarge
	}
	return decodeTree(xml.NewDecoder(bytes.NewReader(data)))
}

// decodeTree reads the first element of d and everything in it, bounded in
// elements and depth.
func decodeTree(d *xml.Decoder) (*element, error) {
	d.Strict = true
	var (
		stack []*element
		texts []*strings.Builder
		root  *element
		count int
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil {
				return nil, errors.New("finesse: no XML element")
			}
			return nil, errors.New("finesse: XML document ends inside an element")
		}
		if err != nil {
			return nil, fmt.Errorf("finesse: read XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements {
				return nil, fmt.Errorf("finesse: XML document has more than %d elements", maxElements)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("finesse: XML elements nest deeper than %d", maxDepth)
			}
			e := &element{name: t.Name.Local, space: t.Name.Space, attrs: t.Attr}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, e)
			} else {
				root = e
			}
			stack = append(stack, e)
			texts = append(texts, &strings.Builder{})
		case xml.CharData:
			if len(stack) > 0 {
				texts[len(texts)-1].Write(t)
			}
		case xml.EndElement:
			e := stack[len(stack)-1]
			e.text = strings.TrimSpace(texts[len(texts)-1].String())
			stack, texts = stack[:len(stack)-1], texts[:len(texts)-1]
			if len(stack) == 0 {
				return root, nil
			}
		}
	}
}

// is reports whether e is named name, ignoring case.
func (e *element) is(name string) bool {
	return e != nil && strings.EqualFold(e.name, name)
}

// child returns the first child of e named name (ignoring case), or nil.
func (e *element) child(name string) *element {
	if e == nil {
		return nil
	}
	for _, c := range e.children {
		if c.is(name) {
			return c
		}
	}
	return nil
}

// all returns the children of e named name (ignoring case).
func (e *element) all(name string) []*element {
	if e == nil {
		return nil
	}
	var out []*element
	for _, c := range e.children {
		if c.is(name) {
			out = append(out, c)
		}
	}
	return out
}

// textOf returns the text of e's child named name, or "".
func (e *element) textOf(name string) string {
	if c := e.child(name); c != nil {
		return c.text
	}
	return ""
}

// path follows names from e, one child each step, and returns nil where
// one is missing.
func (e *element) path(names ...string) *element {
	for _, n := range names {
		e = e.child(n)
	}
	return e
}

// attr returns the value of e's attribute name, or "".
func (e *element) attr(name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.attrs {
		if strings.EqualFold(a.Name.Local, name) {
			return a.Value
		}
	}
	return ""
}

// boolOf reads Finesse's booleans: "true" in any case is true, anything
// else false.
func boolOf(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

// intOf reads a number, 0 when it is missing or not one.
func intOf(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// lastSegment returns what follows the last "/" of a URI: the id of the
// object it names.
func lastSegment(uri string) string {
	return path.Base("/" + strings.TrimRight(uri, "/"))
}

// userOf maps a <User> (or <user>) to a cisco.User.
func userOf(e *element) cisco.User {
	u := cisco.User{
		URI:             e.textOf("uri"),
		LoginID:         e.textOf("loginId"),
		LoginName:       e.textOf("loginName"),
		FirstName:       e.textOf("firstName"),
		LastName:        e.textOf("lastName"),
		TeamID:          e.textOf("teamId"),
		TeamName:        e.textOf("teamName"),
		Extension:       e.textOf("extension"),
		State:           cisco.State(e.textOf("state")),
		StateChangeTime: e.textOf("stateChangeTime"),
		PendingState:    e.textOf("pendingState"),
		ReasonCodeID:    e.textOf("reasonCodeId"),
		WrapUpTimer:     intOf(e.textOf("wrapUpTimer")),
		MediaType:       e.textOf("mediaType"),
		Dialogs:         e.textOf("dialogs"),
		Roles:           []string{},
		Teams:           []cisco.Team{},
		Settings: cisco.Settings{
			WrapUpOnIncoming: e.path("settings", "wrapUpOnIncoming").textOrEmpty(),
			WrapUpOnOutgoing: e.path("settings", "wrapUpOnOutgoing").textOrEmpty(),
		},
	}
	if u.ReasonCodeID == "" {
		// Finesse leaves reasonCodeId out of READY (observed on 12.5).
		u.ReasonCodeID = "-1"
	}
	for _, r := range e.child("roles").all("role") {
		u.Roles = append(u.Roles, r.text)
		if strings.EqualFold(r.text, "Supervisor") {
			u.IsSupervisor = true
		}
	}
	for _, t := range e.child("teams").all("Team") {
		u.Teams = append(u.Teams, cisco.Team{ID: t.textOf("id"), Name: t.textOf("name"), URI: t.textOf("uri")})
	}
	if rc := e.child("ReasonCode"); rc != nil && len(rc.children) > 0 {
		code := reasonCodeOf(rc)
		u.ReasonCode = &code
	}
	if u.URI == "" && u.LoginID != "" {
		u.URI = "/finesse/api/User/" + u.LoginID
	}
	return u
}

// textOrEmpty returns e's text, or "" for a missing element.
func (e *element) textOrEmpty() string {
	if e == nil {
		return ""
	}
	return e.text
}

// reasonCodeOf maps a <ReasonCode> (or <reasonCode>). Its id is <id> when
// given, else the last segment of its uri.
func reasonCodeOf(e *element) cisco.ReasonCode {
	rc := cisco.ReasonCode{
		URI:        e.textOf("uri"),
		ID:         e.textOf("id"),
		Category:   cisco.Category(e.textOf("category")),
		Code:       intOf(e.textOf("code")),
		Label:      e.textOf("label"),
		ForAll:     boolOf(e.textOf("forAll")),
		SystemCode: boolOf(e.textOf("systemCode")),
	}
	if rc.ID == "" && rc.URI != "" {
		rc.ID = lastSegment(rc.URI)
	}
	return rc
}

// reasonCodesOf maps <ReasonCodes>.
func reasonCodesOf(e *element) []cisco.ReasonCode {
	out := []cisco.ReasonCode{}
	for _, rc := range e.all("ReasonCode") {
		code := reasonCodeOf(rc)
		if code.Category == "" {
			code.Category = cisco.Category(e.attr("category"))
		}
		out = append(out, code)
	}
	return out
}

// wrapUpReasonsOf maps <WrapUpReasons>.
func wrapUpReasonsOf(e *element) []cisco.WrapUpReason {
	out := []cisco.WrapUpReason{}
	for _, w := range e.all("WrapUpReason") {
		r := cisco.WrapUpReason{URI: w.textOf("uri"), ID: w.textOf("id"), Label: w.textOf("label"), ForAll: boolOf(w.textOf("forAll"))}
		if r.ID == "" && r.URI != "" {
			r.ID = lastSegment(r.URI)
		}
		out = append(out, r)
	}
	return out
}

// phoneBooksOf maps <PhoneBooks>, with the contacts each book lists inline
// (TeamResource's PhoneBooks inlines them under <Contacts> or <contacts>).
func phoneBooksOf(e *element) []cisco.PhoneBook {
	out := []cisco.PhoneBook{}
	for _, b := range e.all("PhoneBook") {
		book := cisco.PhoneBook{URI: b.textOf("uri"), Name: b.textOf("name"), Type: b.textOf("type"), Contacts: contactsOf(b.child("contacts"))}
		out = append(out, book)
	}
	return out
}

// contactsOf maps <Contacts>; a missing one has no contacts.
func contactsOf(e *element) []cisco.Contact {
	out := []cisco.Contact{}
	for _, c := range e.all("Contact") {
		out = append(out, cisco.Contact{
			FirstName:   c.textOf("firstName"),
			LastName:    c.textOf("lastName"),
			PhoneNumber: c.textOf("phoneNumber"),
			Description: c.textOf("description"),
			URI:         c.textOf("uri"),
		})
	}
	return out
}

// systemInfoOf maps <SystemInfo>.
func systemInfoOf(e *element) cisco.SystemInfo {
	node := func(n *element) cisco.Node {
		return cisco.Node{
			Host:           n.textOf("host"),
			HTTPSPort:      intOf(n.textOf("httpsPort")),
			XMPPPort:       intOf(n.textOf("xmppPort")),
			XMPPSecurePort: intOf(n.textOf("xmppSecurePort")),
		}
	}
	hb, _ := strconv.ParseInt(strings.TrimSpace(e.textOf("lastSuccessCTIHeartbeatTime")), 10, 64)
	return cisco.SystemInfo{
		URI:                         e.textOf("uri"),
		CurrentTimestamp:            e.textOf("currentTimestamp"),
		DeploymentType:              e.textOf("deploymentType"),
		LastCTIHeartbeatStatus:      e.textOf("lastCTIHeartbeatStatus"),
		LastSuccessCTIHeartbeatTime: hb,
		CTIVersion:                  e.textOf("ctiVersion"),
		CTIHeartbeatInterval:        intOf(e.textOf("ctiHeartbeatInterval")),
		PeripheralID:                e.textOf("peripheralId"),
		PrimaryNode:                 node(e.child("primaryNode")),
		SecondaryNode:               node(e.child("secondaryNode")),
		Status:                      e.textOf("status"),
		StatusReason:                e.textOf("statusReason"),
		SystemAuthMode:              e.textOf("systemAuthMode"),
		TimezoneOffset:              intOf(e.textOf("timezoneOffset")),
		XMPPDomain:                  e.textOf("xmppDomain"),
		XMPPPubSubDomain:            e.textOf("xmppPubSubDomain"),
		License:                     e.textOf("license"),
	}
}

// mediaOf maps one <Media>.
func mediaOf(e *element) cisco.Media {
	return cisco.Media{
		URI:                e.textOf("uri"),
		ID:                 e.textOf("id"),
		Name:               e.textOf("name"),
		Description:        e.textOf("description"),
		State:              cisco.State(e.textOf("state")),
		StateChangeTime:    e.textOf("stateChangeTime"),
		ReasonCodeID:       e.textOf("reasonCodeId"),
		Routable:           boolOf(e.textOf("routable")),
		MaxDialogLimit:     intOf(e.textOf("maxDialogLimit")),
		InterruptAction:    e.textOf("interruptAction"),
		DialogLogoutAction: e.textOf("dialogLogoutAction"),
		Interruptible:      boolOf(e.textOf("interruptible")),
	}
}

// mediaListOf maps <MediaList>.
func mediaListOf(e *element) []cisco.Media {
	out := []cisco.Media{}
	for _, m := range e.all("Media") {
		out = append(out, mediaOf(m))
	}
	return out
}

// mrdsOf derives the media routing domains from an agent's <MediaList>:
// Finesse gives an agent one Media per MRD. mediaClass (12.6(2)) is read
// when present, else guessed from the name (Cisco_Voice is voice).
func mrdsOf(e *element) []cisco.MRD {
	out := []cisco.MRD{}
	for _, m := range e.all("Media") {
		class := m.textOf("mediaClass")
		if class == "" {
			class = guessMediaClass(m.textOf("name"))
		}
		out = append(out, cisco.MRD{ID: m.textOf("id"), Name: m.textOf("name"), Description: m.textOf("description"), MediaClass: class})
	}
	return out
}

// guessMediaClass names the class of an MRD from its name, as Cisco names
// the packaged ones (Cisco_Voice, Cisco_Chat_MRD, Cisco_Email_MRD).
func guessMediaClass(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.Contains(lower, "chat"):
		return "chat"
	case strings.Contains(lower, "mail"):
		return "email"
	case strings.Contains(lower, "voice"):
		return "voice"
	}
	return ""
}

// dialogOf maps one <Dialog>. Real CCE captures have no mediaId: a voice
// dialog's is 1.
func dialogOf(e *element) cisco.Dialog {
	mp := e.child("mediaProperties")
	d := cisco.Dialog{
		URI:         e.textOf("uri"),
		ID:          e.textOf("id"),
		MediaType:   e.textOf("mediaType"),
		State:       e.textOf("state"),
		FromAddress: e.textOf("fromAddress"),
		ToAddress:   e.textOf("toAddress"),
		MediaProperties: cisco.MediaProperties{
			MediaID:           mp.textOf("mediaId"),
			DialedNumber:      mp.textOf("dialedNumber"),
			DNIS:              mp.textOf("DNIS"),
			CallType:          mp.textOf("callType"),
			CallVariables:     []cisco.CallVariable{},
			CallVariablesFrom: mp.textOf("callVariablesFrom"),
			WrapUpReason:      mp.textOf("wrapUpReason"),
		},
		Participants: []cisco.Participant{},
	}
	if d.MediaProperties.MediaID == "" && strings.EqualFold(d.MediaType, "Voice") {
		d.MediaProperties.MediaID = "1"
	}
	if d.ID == "" && d.URI != "" {
		d.ID = lastSegment(d.URI)
	}
	for _, v := range mp.child("callvariables").all("CallVariable") {
		d.MediaProperties.CallVariables = append(d.MediaProperties.CallVariables, cisco.CallVariable{Name: v.textOf("name"), Value: v.textOf("value")})
	}
	for _, p := range e.child("participants").all("Participant") {
		part := cisco.Participant{
			MediaAddress:     p.textOf("mediaAddress"),
			MediaAddressType: p.textOf("mediaAddressType"),
			State:            p.textOf("state"),
			StateCause:       p.textOf("stateCause"),
			StartTime:        p.textOf("startTime"),
			StateChangeTime:  p.textOf("stateChangeTime"),
			Actions:          []string{},
		}
		for _, a := range p.child("actions").all("action") {
			part.Actions = append(part.Actions, a.text)
		}
		d.Participants = append(d.Participants, part)
	}
	return d
}

// dialogsOf maps <Dialogs> (REST) or <dialogs> (a notification's data).
func dialogsOf(e *element) []cisco.Dialog {
	out := []cisco.Dialog{}
	for _, d := range e.all("Dialog") {
		out = append(out, dialogOf(d))
	}
	return out
}

// teamUsersOf returns the loginIds of the users a <Team> lists.
func teamUsersOf(e *element) []string {
	out := []string{}
	for _, u := range e.child("users").all("User") {
		if id := u.textOf("loginId"); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// apiErrorsOf maps <ApiErrors><ApiError> (a REST reply) or
// <apiErrors><apiError> (a notification) to cisco errors: the ErrorType,
// ErrorMessage and ErrorData as Finesse sends them, and CCE's
// peripheralErrorText, when it comes, as the sentence for a person.
func apiErrorsOf(e *element) []*cisco.Error {
	var out []*cisco.Error
	for _, a := range e.all("ApiError") {
		ce := &cisco.Error{
			Type:    a.textOf("errorType"),
			Message: a.textOf("errorMessage"),
			Data:    a.textOf("errorData"),
			Text:    a.textOf("peripheralErrorText"),
		}
		if ce.Type == "" {
			ce.Type = cisco.ErrorTypeGeneric
		}
		if ce.Text == "" {
			ce.Text = describe(ce)
		}
		out = append(out, ce)
	}
	return out
}

// describe writes the sentence of an error Finesse sent without one.
func describe(e *cisco.Error) string {
	what := "Finesse refused the request"
	if e.Message != "" {
		what += ": " + e.Message
	}
	switch e.Type {
	case cisco.ErrorTypeAuthorization:
		return what + "; check the username and password"
	case cisco.ErrorTypeInvalidDevice:
		return what + "; check that the extension is a phone of the contact center"
	case cisco.ErrorTypeDeviceBusy:
		return what + "; another agent is signed in on this extension"
	case cisco.ErrorTypeInvalidState:
		return what + "; the agent's state does not allow it now"
	case cisco.ErrorTypeCallOperationFailure:
		return what + "; the call could not be completed"
	}
	return what
}
