package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on the envelope fields. The payload has no limit of its own: the
// connection's read limit bounds the whole frame.
const (
	maxNameLen = 64  // channel, topic, subtopic, source
	maxIDLen   = 128 // the app's request id
)

// Request is an envelope sent by an app: {"id"?, "channel", "topic",
// "subtopic", "source"?, "data"?}.
type Request struct {
	ID       string          // chosen by the app; echoed as correlationId; may be empty
	Channel  string          // as the app spelled it
	Topic    string          // as the app spelled it
	Subtopic string          // as the app spelled it
	Source   string          // as the app wrote it; Conn.App is the name the bus trusts
	Data     json.RawMessage // untouched payload; nil when absent or null

	// Conn is the connection the request arrived on.
	Conn *Conn
}

// Event is an envelope sent by the bus to apps. The bus stamps its id and
// timestamp when it encodes it.
type Event struct {
	Channel  string
	Topic    string
	Subtopic string
	// Source names the app that caused the event; the bus's own events say "ctibus".
	Source string
	// Message is the payload, encoded with encoding/json; a json.RawMessage
	// passes through byte for byte.
	Message any
	// Data, when set, is sent too, as the envelope's "data" after
	// "message": for SetAPIError, whose documented sample carries its
	// payload there.
	Data any
	// CorrelationID is the id of the request that caused the event, if it had one.
	CorrelationID string
	// About, when set, is the scope of whom the event tells, if not of the
	// scope it is published in (a supervisor's team feed tells of other
	// agents): a watcher of the scope then receives it only if it watches
	// About too. Not in the frame that apps receive.
	About Scope
}

// busSource is the source of events that the bus and its handlers publish.
const busSource = "ctibus"

// timestampLayout is ISO-8601 in UTC with milliseconds, as Finesse writes times.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// JSONAppender is an event's payload that writes itself as JSON, as
// encoding/json's Marshal would write it, so that encoding the event
// reflects on nothing. The payloads of the events every request and state
// change sends implement it.
type JSONAppender interface {
	// AppendJSON appends the payload's JSON to b.
	AppendJSON(b []byte) ([]byte, error)
}

// encodeEvent renders ev as one text frame, keys in the documented order:
// {"id","channel","topic","subtopic","source","message","data"?,"correlationId"?,"timestamp"}.
// A json.RawMessage payload is copied byte for byte, as the app sent it; a
// JSONAppender writes itself; anything else goes through json.Marshal. A
// fan-out calls encodeEvent once and hands the bytes to every recipient.
func encodeEvent(ev Event, now time.Time) ([]byte, error) {
	var message []byte // the payload, unless it appends itself
	size := 2048       // what a JSONAppender's event needs: a SetAgentState is about 1,200 bytes
	switch m := ev.Message.(type) {
	case json.RawMessage:
		if m == nil {
			message = []byte("null")
		} else if !json.Valid(m) {
			return nil, fmt.Errorf("encode %s/%s/%s event: message is not valid JSON", ev.Channel, ev.Topic, ev.Subtopic)
		} else {
			message = m
		}
		size = 200 + len(message)
	case JSONAppender:
	default:
		var err error
		if message, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("encode %s/%s/%s event: %w", ev.Channel, ev.Topic, ev.Subtopic, err)
		}
		size = 200 + len(message)
	}
	source := ev.Source
	if source == "" {
		source = busSource
	}

	b := make([]byte, 0, size)
	b = append(b, `{"id":"`...)
	b = appendUUID(b, uuid.New())
	b = append(b, `","channel":`...)
	b = appendString(b, ev.Channel)
	b = append(b, `,"topic":`...)
	b = appendString(b, ev.Topic)
	b = append(b, `,"subtopic":`...)
	b = appendString(b, ev.Subtopic)
	b = append(b, `,"source":`...)
	b = appendString(b, source)
	b = append(b, `,"message":`...)
	if m, ok := ev.Message.(JSONAppender); ok && message == nil {
		var err error
		if b, err = m.AppendJSON(b); err != nil {
			return nil, fmt.Errorf("encode %s/%s/%s event: %w", ev.Channel, ev.Topic, ev.Subtopic, err)
		}
	} else {
		b = append(b, message...)
	}
	if ev.Data != nil {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("encode %s/%s/%s event data: %w", ev.Channel, ev.Topic, ev.Subtopic, err)
		}
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	if ev.CorrelationID != "" {
		b = append(b, `,"correlationId":`...)
		b = appendString(b, ev.CorrelationID)
	}
	b = append(b, `,"timestamp":"`...)
	b = now.UTC().AppendFormat(b, timestampLayout)
	b = append(b, `"}`...)
	return b, nil
}

// appendUUID appends u in its canonical form, as u.String() writes it,
// without the string.
func appendUUID(b []byte, u uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

// appendString appends s as a JSON string. The names it is given were
// validated as printable on the way in, so the fast path is the common one.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// decodeRequest parses one text frame. Keys are matched after trimming white
// space and ignoring case, because the published samples write "data " and
// "ToAddress "; unknown keys are ignored so that apps may add their own.
// "message" is accepted in place of "data", since the bus is symmetric and
// apps copy event samples. A key given twice, exactly or after folding, is
// refused: a plain decode into a map would keep one of them silently. On
// error the returned Request still carries the id if one could be read, so
// that the error can be correlated.
//
// It reads the members where they lie in the frame, without a map or a
// copy of the payload: Data is a slice of frame.
func decodeRequest(frame []byte) (Request, *APIError) {
	var req Request
	if !utf8.Valid(frame) {
		// A text frame must be UTF-8 (RFC 6455), and a browser drops a
		// connection that receives one that is not: relayed as it is, the
		// frame would cut the other apps of the workspace off the bus.
		return req, &APIError{
			Type:    ErrTypeInvalidFrame,
			Message: "frame is not valid UTF-8",
			Msg:     "Send text frames in UTF-8.",
		}
	}
	if !json.Valid(frame) {
		return req, invalidJSON(frame)
	}
	start := skipSpace(frame, 0)
	if frame[start] != '{' {
		return req, &APIError{
			Type:    ErrTypeInvalidFrame,
			Message: "frame is not a JSON object",
			Msg:     `Send one JSON object per frame, such as {"channel":"Cisco","topic":"Agent","subtopic":"GetAgentState"}.`,
		}
	}
	var stack [16]member
	members := readMembers(frame, start, stack[:0])
	var fields [numEnvelopeKeys][]byte // the value of each envelope key, or nil
	for i := range members {
		if m := &members[i]; m.key >= 0 {
			fields[m.key] = m.value
		}
	}
	duplicate := duplicateKey(members)

	var apiErr *APIError
	if duplicate != "id" {
		// Read the id first, so that any later error can be correlated.
		if req.ID, apiErr = optionalString(fields[keyID], "id", maxIDLen); apiErr != nil {
			return req, apiErr
		}
	}
	if duplicate != "" {
		return req, invalidInput(duplicate, fmt.Sprintf("the envelope has the key %q more than once (keys are matched ignoring case and spaces, and \"message\" counts as \"data\")", duplicate))
	}
	if req.Channel, apiErr = requiredName(fields[keyChannel], "channel"); apiErr != nil {
		return req, apiErr
	}
	if req.Topic, apiErr = requiredName(fields[keyTopic], "topic"); apiErr != nil {
		return req, apiErr
	}
	if req.Subtopic, apiErr = requiredName(fields[keySubtopic], "subtopic"); apiErr != nil {
		return req, apiErr
	}
	if req.Source, apiErr = optionalString(fields[keySource], "source", maxNameLen); apiErr != nil {
		return req, apiErr
	}
	if data := fields[keyData]; data != nil && string(data) != "null" {
		req.Data = data
	}
	return req, nil
}

// The keys of an envelope, as indexes of envelopeKeys; "message" is "data".
const (
	keyID = iota
	keyChannel
	keyTopic
	keySubtopic
	keySource
	keyData
	numEnvelopeKeys
)

// envelopeKeys names the keys, lowered, by their index.
var envelopeKeys = [numEnvelopeKeys]string{"id", "channel", "topic", "subtopic", "source", "data"}

// member is one member of a request's envelope, read in place.
type member struct {
	raw   []byte // the key as written, between its quotes
	name  string // the key folded: trimmed of white space, lowered, "message" as "data"
	key   int    // the envelope key it is, or -1
	value []byte // the value as written, without the white space around it
}

// readMembers appends the members of the object at frame[start], which
// json.Valid has checked, in the order they are written.
func readMembers(frame []byte, start int, members []member) []member {
	i := skipSpace(frame, start+1)
	for frame[i] != '}' {
		end := endOfString(frame, i)
		raw := frame[i+1 : end-1]
		i = skipSpace(frame, skipSpace(frame, end)+1) // past the colon
		valueEnd := endOfValue(frame, i)
		m := member{raw: raw, value: frame[i:valueEnd]}
		m.name, m.key = foldKey(raw)
		members = append(members, m)
		i = skipSpace(frame, valueEnd)
		if frame[i] == ',' {
			i = skipSpace(frame, i+1)
		}
	}
	return members
}

// foldKey folds a key as written (between its quotes): trimmed of white
// space, lowered, and "message" taken as "data", as strings.TrimSpace and
// strings.ToLower fold the decoded key. It returns the envelope key it
// names, or -1. Keys in plain ASCII, every envelope key as apps write it,
// fold without allocating.
func foldKey(raw []byte) (name string, key int) {
	plain := true
	for _, c := range raw {
		if c >= utf8.RuneSelf || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		trimmed := bytes.TrimSpace(raw)
		for k, want := range envelopeKeys {
			if asciiEqualFold(trimmed, want) {
				return want, k
			}
		}
		if asciiEqualFold(trimmed, "message") {
			return envelopeKeys[keyData], keyData
		}
		return string(bytes.ToLower(trimmed)), -1
	}
	name = strings.ToLower(strings.TrimSpace(unquoteKey(raw)))
	if name == "message" {
		name = "data"
	}
	return name, slices.Index(envelopeKeys[:], name)
}

// unquoteKey decodes a key as written between its quotes, escapes and all.
func unquoteKey(raw []byte) string {
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	_ = json.Unmarshal(quoted, &s) // valid: json.Valid checked the frame
	return s
}

// asciiEqualFold reports whether b is want, which is lower-case ASCII,
// ignoring the case of ASCII letters.
func asciiEqualFold(b []byte, want string) bool {
	if len(b) != len(want) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// duplicateKey names, clipped, a key that members hold twice: two keys
// that differ as written but fold to the same name, which it names folded;
// else a key written twice to the letter (escapes decoded), which it names
// lowered and trimmed. It returns "" when every key is once.
func duplicateKey(members []member) string {
	exact := -1 // the first member whose key was written before to the letter
	var first map[string]int
	if len(members) > 16 {
		first = make(map[string]int, len(members))
	}
	for j := range members {
		i := -1
		if first != nil {
			if at, ok := first[members[j].name]; ok {
				i = at
			} else {
				first[members[j].name] = j
			}
		} else {
			for k := range j {
				if members[k].name == members[j].name {
					i = k
					break
				}
			}
		}
		if i < 0 {
			continue
		}
		if !sameKey(members[i].raw, members[j].raw) {
			return Clip(members[j].name)
		}
		if exact < 0 {
			exact = j
		}
	}
	if exact < 0 {
		return ""
	}
	return Clip(strings.ToLower(strings.TrimSpace(unquoteKey(members[exact].raw))))
}

// sameKey reports whether two keys as written decode to the same string.
func sameKey(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return false
	}
	return unquoteKey(a) == unquoteKey(b)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index just past the string that starts at b[i],
// in valid JSON.
func endOfString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// endOfValue returns the index just past the value that starts at b[i], in
// valid JSON.
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = endOfString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number, true, false or null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
			i++
		}
		return i
	}
}

// peekSize is how much of a frame peekID reads.
const peekSize = 512

// peekID returns the id of an envelope that will not be decoded (it came
// over the rate limit), reading no further than its first peekSize bytes,
// so that the refusal costs a small constant whatever the frame's size.
// It returns "" when the id is not a string among the keys that fit there,
// which the protocol's examples always are.
func peekID(frame []byte) string {
	dec := json.NewDecoder(bytes.NewReader(frame[:min(len(frame), peekSize)]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if dec.Decode(&value) != nil {
			return ""
		}
		if strings.ToLower(strings.TrimSpace(key)) != "id" {
			continue
		}
		var id string
		if json.Unmarshal(value, &id) != nil || len(id) > maxIDLen || strings.ContainsFunc(id, isControl) {
			return ""
		}
		return id
	}
	return ""
}

func invalidJSON(frame []byte) *APIError {
	var v any
	err := json.Unmarshal(frame, &v)
	detail := "frame is not valid JSON"
	if err != nil {
		detail += ": " + err.Error()
	}
	return &APIError{
		Type:    ErrTypeInvalidFrame,
		Message: detail,
		Msg:     "The message could not be read. Send one JSON object per text frame, with double-quoted keys and strings.",
	}
}

// invalidInput names field, clipped: a key may be as long as the frame.
func invalidInput(field, why string) *APIError {
	field = Clip(field)
	return &APIError{
		Type:    ErrTypeInvalidInput,
		Message: fmt.Sprintf("%s: %s", field, why),
		Msg:     fmt.Sprintf("The field %q is not valid: %s.", field, why),
	}
}

// requiredName reads a channel, topic or subtopic from its value as
// written (nil when absent).
func requiredName(raw []byte, key string) (string, *APIError) {
	if raw == nil {
		return "", invalidInput(key, "it is missing")
	}
	s, ok := stringValue(raw)
	if !ok {
		return "", invalidInput(key, "it must be a string")
	}
	if err := checkName(s); err != "" {
		return "", invalidInput(key, err)
	}
	return s, nil
}

// optionalString reads a string from its value as written (nil when
// absent); absent and null read as "".
func optionalString(raw []byte, key string, maxLen int) (string, *APIError) {
	if raw == nil || string(raw) == "null" {
		return "", nil
	}
	s, ok := stringValue(raw)
	if !ok {
		return "", invalidInput(key, "it must be a string")
	}
	if len(s) > maxLen {
		return "", invalidInput(key, fmt.Sprintf("it is longer than %d bytes", maxLen))
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return "", invalidInput(key, "it contains control characters")
	}
	return s, nil
}

// stringValue decodes a JSON value as written into a string, as
// encoding/json would: null is "", anything else but a string is refused.
func stringValue(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// checkName says what is wrong with a channel, topic, subtopic or app name,
// or returns "". Names are printable, so that they are safe in logs, and may
// contain inner spaces ("SetBARGE CALL"); "*" and "/" are reserved for
// subscription patterns and for writing triples as Channel/Topic/Subtopic.
func checkName(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case len(s) > maxNameLen:
		return fmt.Sprintf("it is longer than %d bytes", maxNameLen)
	case strings.TrimSpace(s) != s:
		return "it starts or ends with a space"
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return "it may contain only printable ASCII characters"
		}
		if r == '*' || r == '/' {
			return fmt.Sprintf("it may not contain %q", r)
		}
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ParseRequest decodes and checks an envelope as the bus reads one from a
// frame, for envelopes that arrive another way (the HTTP publish API). The
// error is an *APIError.
func ParseRequest(frame []byte) (Request, error) {
	req, err := decodeRequest(frame)
	if err != nil {
		return req, err
	}
	return req, nil
}

// readObject reads a JSON object's members, with keys lowered, trimmed of
// white space and then passed through alias. It reports a key that appears
// twice, exactly or after folding: a plain decode into a map would keep one
// of them silently. ok is false if b is not a valid JSON object.
func readObject(b []byte, alias func(string) string) (fields map[string]json.RawMessage, duplicate string, ok bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, "", false
	}
	fields = make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		key := alias(strings.ToLower(strings.TrimSpace(k)))
		if _, dup := fields[key]; dup {
			duplicate = Clip(key)
		}
		fields[key] = v
	}
	if duplicate == "" && countMembers(b) != len(raw) {
		duplicate = exactDuplicate(b)
	}
	return fields, duplicate, true
}

// countMembers counts the members of the valid JSON object b, without
// decoding it: the colons at its top level, outside strings.
func countMembers(b []byte) int {
	n, depth, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 1:
			n++
		}
	}
	return n
}

// exactDuplicate names a key that b, a valid JSON object, holds twice to
// the letter. It is the slow path of readObject, for frames that have one.
func exactDuplicate(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	_, _ = dec.Token() // '{'
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return Clip(strings.ToLower(strings.TrimSpace(key)))
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}
