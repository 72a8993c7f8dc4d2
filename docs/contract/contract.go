// Package contract checks frames against the AsyncAPI document of the bus
// (docs/asyncapi.yaml): a request an app sends against the schema of its
// triple, an event the bus sends against the schema of its own. The test
// client uses it on every frame, so a frame the contract does not describe
// fails the test that produced it.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/ctibus/ctibus/docs"
)

// resource is the name the document is compiled under; schema errors
// name locations inside it.
const resource = "https://github.com/ctibus/ctibus/docs/asyncapi.yaml"

// Contract holds the compiled schemas of every message of the document.
type Contract struct {
	// requests maps a request's triple, and each of its aliases, folded to
	// lower case (routing ignores case) to its message.
	requests map[string]*message
	// spellings holds every request triple and alias as the document
	// spells it.
	spellings []string
	// events maps an event's triple, in the bus's canonical spelling, to
	// its message.
	events map[string]*message
	// handled holds the channels the bus handles itself, folded: a triple
	// on any other channel is an app-to-app message.
	handled map[string]bool
	// appRequest and appEvent are the messages of a free channel.
	appRequest, appEvent *message
	// anyError is the error of a handled channel the document does not
	// name, such as one a test of the broker registers.
	anyError *message
	// envelope is the schema of any event envelope, for fixture channels.
	envelope *message
	// fixtures holds the folded names of channels that a test's server
	// handles beside the bus's own (see WithFixtures).
	fixtures map[string]bool
}

// message is one message of the document.
type message struct {
	key    string // its key under components/messages
	schema *jsonschema.Schema
	// dataKeys maps the folded keys of a request's data to the spelling
	// its schema names, since the bus matches them ignoring case and
	// surrounding white space.
	dataKeys map[string]string
}

// busName is the source of the bus's own events.
const busName = "ctibus"

// Default returns the contract of the embedded document, loaded once.
var Default = sync.OnceValues(func() (*Contract, error) { return Load(docs.AsyncAPI) })

// Load compiles the AsyncAPI document doc.
func Load(doc []byte) (*Contract, error) {
	// AsyncAPI's schema format is a superset of draft 7.
	compiler, asJSON, err := compilerOf(doc, resource, jsonschema.Draft7)
	if err != nil {
		return nil, err
	}
	var d document
	if err := json.Unmarshal(asJSON, &d); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	c := &Contract{requests: map[string]*message{}, events: map[string]*message{}, handled: map[string]bool{}}
	for name, op := range d.Operations {
		for _, ref := range op.Messages {
			key := strings.TrimPrefix(ref.Ref, "#/channels/bus/messages/")
			m, ok := d.Components.Messages[key]
			if !ok {
				return nil, fmt.Errorf("contract: operation %s names message %q, which does not exist", name, key)
			}
			schema, err := compiler.Compile(resource + "#/components/messages/" + key + "/payload")
			if err != nil {
				return nil, fmt.Errorf("contract: message %s: %w", key, err)
			}
			compiled := &message{key: key, schema: schema, dataKeys: d.dataKeys(m)}
			if err := c.add(op.Action, m, compiled); err != nil {
				return nil, fmt.Errorf("contract: message %s: %w", key, err)
			}
		}
	}
	envelope, err := compiler.Compile(resource + "#/components/schemas/EventEnvelope")
	if err != nil {
		return nil, fmt.Errorf("contract: the event envelope: %w", err)
	}
	c.envelope = &message{key: "EventEnvelope", schema: envelope}
	if c.appRequest == nil || c.appEvent == nil || c.anyError == nil {
		return nil, errors.New("contract: the document lacks the app-to-app messages (x-ctibus-triple */*/*) or the error of any channel (*/Error/SetAPIError)")
	}
	return c, nil
}

// compilerOf reads a YAML document and returns a compiler of the schemas in
// it, under the name resource, and the document as JSON.
func compilerOf(doc []byte, resource string, draft *jsonschema.Draft) (*jsonschema.Compiler, []byte, error) {
	var tree map[string]any
	if err := yaml.Unmarshal(doc, &tree); err != nil {
		return nil, nil, fmt.Errorf("contract: read the document: %w", err)
	}
	asJSON, err := json.Marshal(tree)
	if err != nil {
		return nil, nil, fmt.Errorf("contract: the document is not JSON data: %w", err)
	}
	root, err := jsonschema.UnmarshalJSON(bytes.NewReader(asJSON))
	if err != nil {
		return nil, nil, fmt.Errorf("contract: %w", err)
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(draft)
	if err := compiler.AddResource(resource, root); err != nil {
		return nil, nil, fmt.Errorf("contract: %w", err)
	}
	return compiler, asJSON, nil
}

// add files m under its triple and aliases: a message the bus receives is
// a request, one it sends an event.
func (c *Contract) add(action string, m docMessage, compiled *message) error {
	if m.Triple == "*/Error/SetAPIError" {
		c.anyError = compiled
		return nil
	}
	if m.Triple == "*/*/*" {
		if action == "receive" {
			c.appRequest = compiled
		} else {
			c.appEvent = compiled
		}
		return nil
	}
	channel, _, _ := strings.Cut(m.Triple, "/")
	c.handled[strings.ToLower(channel)] = true
	switch action {
	case "receive":
		for _, t := range append([]string{m.Triple}, m.Aliases...) {
			c.requests[strings.ToLower(t)] = compiled
			c.spellings = append(c.spellings, t)
		}
	case "send":
		c.events[m.Triple] = compiled
	default:
		return fmt.Errorf("action %q is neither send nor receive", action)
	}
	return nil
}

// WithFixtures returns a copy of c for the tests of a server that handles
// channels of their own beside the bus's (the broker's tests handle
// "Test"): the events the server sends on them are checked as envelopes,
// since the contract cannot know their payloads. The bus's own channels are
// checked in full all the same.
func (c *Contract) WithFixtures(channels ...string) *Contract {
	cc := *c
	cc.fixtures = map[string]bool{}
	for _, ch := range channels {
		cc.fixtures[strings.ToLower(ch)] = true
	}
	return &cc
}

// Requests returns the triples of every request, aliases included, in
// the spelling of the document, sorted.
func (c *Contract) Requests() []string {
	s := slices.Clone(c.spellings)
	sort.Strings(s)
	return s
}

// Events returns the triples of every event, sorted.
func (c *Contract) Events() []string { return sortedKeys(c.events) }

func sortedKeys(m map[string]*message) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckRequest checks a frame an app sends: one envelope, whose keys it
// folds as the bus does, against the schema of its triple, or of an
// app-to-app message on a free channel.
func (c *Contract) CheckRequest(frame []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(frame))
	if err != nil {
		return fmt.Errorf("request %s is not JSON: %w", clip(frame), err)
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("request %s is not a JSON object", clip(frame))
	}
	env, err := foldKeys(raw, nil, "")
	if err != nil {
		return fmt.Errorf("request %s: %w", clip(frame), err)
	}
	for _, k := range []string{"id", "data", "message"} {
		if env[k] == nil {
			delete(env, k) // null is the same as absent
		}
	}
	if m, ok := env["message"]; ok {
		if _, both := env["data"]; both {
			return fmt.Errorf("request %s: has both data and message", clip(frame))
		}
		env["data"] = m
		delete(env, "message")
	}
	triple, ok := tripleOf(env)
	if !ok {
		return fmt.Errorf("request %s: channel, topic and subtopic must be strings", clip(frame))
	}
	m := c.appRequest
	if c.handled[strings.ToLower(env["channel"].(string))] {
		if m, ok = c.requests[strings.ToLower(triple)]; !ok {
			return fmt.Errorf("request %s: the contract has no request %s", clip(frame), triple)
		}
		if data, isObject := env["data"].(map[string]any); isObject {
			if env["data"], err = foldKeys(data, m.dataKeys, "data."); err != nil {
				return fmt.Errorf("request %s: %w", clip(frame), err)
			}
		}
	}
	if err := m.schema.Validate(env); err != nil {
		return fmt.Errorf("request %s does not match %s: %w", clip(frame), m.key, detailed(err))
	}
	return nil
}

// CheckEvent checks a frame the bus sends: one envelope, or a batch of
// them (a JSON array), each against the schema of its triple, or of an
// app-to-app message on a free channel.
func (c *Contract) CheckEvent(frame []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(frame))
	if err != nil {
		return fmt.Errorf("event %s is not JSON: %w", clip(frame), err)
	}
	if batch, ok := v.([]any); ok {
		var raws []json.RawMessage
		if err := json.Unmarshal(frame, &raws); err != nil {
			return fmt.Errorf("batch %s: %w", clip(frame), err)
		}
		if len(batch) == 0 {
			return fmt.Errorf("event %s is an empty batch", clip(frame))
		}
		for i, e := range batch {
			if err := c.checkEvent(e, raws[i]); err != nil {
				return fmt.Errorf("batch %s, envelope %d: %w", clip(frame), i, err)
			}
		}
		return nil
	}
	if err := c.checkEvent(v, frame); err != nil {
		return fmt.Errorf("event %s: %w", clip(frame), err)
	}
	return nil
}

// eventKeys is the order of an event's keys (protocol 2.3).
var eventKeys = []string{"id", "channel", "topic", "subtopic", "source", "message", "data", "correlationId", "timestamp"}

// checkKeyOrder checks that the keys of the event raw come in the
// documented order, which a schema cannot say.
func checkKeyOrder(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	last := -1
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		i := slices.Index(eventKeys, key)
		if i < last {
			return fmt.Errorf("the key %q comes after %q; the keys of an event come in the order %s", key, eventKeys[last], strings.Join(eventKeys, ", "))
		}
		last = max(last, i)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

func (c *Contract) checkEvent(v any, raw []byte) error {
	env, ok := v.(map[string]any)
	if !ok {
		return errors.New("not a JSON object")
	}
	if err := checkKeyOrder(raw); err != nil {
		return err
	}
	triple, ok := tripleOf(env)
	if !ok {
		return errors.New("channel, topic and subtopic must be strings")
	}
	// Only the bus sends as "ctibus", a name no app may register: an
	// event from it is one of the contract's events, or the error of a
	// channel handled by the server (its triple <channel>/Error/SetAPIError).
	// Any other source is an app, which publishes on free channels only.
	m := c.appEvent
	if env["source"] == busName {
		_, topic, _ := strings.Cut(triple, "/")
		channel := strings.ToLower(env["channel"].(string))
		if m, ok = c.events[triple]; !ok && topic == "Error/SetAPIError" && !c.handled[channel] {
			m, ok = c.anyError, true
		} else if !ok && c.fixtures[channel] {
			m, ok = c.envelope, true
		}
		if !ok {
			return fmt.Errorf("the contract has no event %s", triple)
		}
	} else if c.handled[strings.ToLower(env["channel"].(string))] {
		return fmt.Errorf("an event on %s must come from the bus, not from %v", triple, env["source"])
	}
	if err := m.schema.Validate(env); err != nil {
		return fmt.Errorf("does not match %s: %w", m.key, detailed(err))
	}
	return nil
}

// foldKeys returns obj with its keys trimmed and folded to lower case, as
// the bus reads them, then spelled as canon names them; a key given twice
// after folding is an error, as it is to the bus.
func foldKeys(obj map[string]any, canon map[string]string, prefix string) (map[string]any, error) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		folded := strings.ToLower(strings.TrimSpace(k))
		if name, ok := canon[folded]; ok {
			folded = name
		}
		if _, dup := out[folded]; dup {
			return nil, fmt.Errorf("the key %s%q is given more than once", prefix, folded)
		}
		out[folded] = v
	}
	return out, nil
}

func tripleOf(env map[string]any) (string, bool) {
	parts := make([]string, 3)
	for i, k := range []string{"channel", "topic", "subtopic"} {
		s, ok := env[k].(string)
		if !ok {
			return "", false
		}
		parts[i] = s
	}
	return strings.Join(parts, "/"), true
}

// detailed spells out every failed keyword of a schema error.
func detailed(err error) error {
	var v *jsonschema.ValidationError
	if errors.As(err, &v) {
		return errors.New(strings.ReplaceAll(fmt.Sprintf("%#v", v), resource, ""))
	}
	return err
}

// clip keeps error messages readable when a frame is large.
func clip(frame []byte) string {
	const max = 300
	if len(frame) > max {
		return string(frame[:max]) + "…"
	}
	return string(frame)
}

// document is the part of the AsyncAPI document the index needs.
type document struct {
	Operations map[string]struct {
		Action   string `json:"action"`
		Messages []struct {
			Ref string `json:"$ref"`
		} `json:"messages"`
	} `json:"operations"`
	Components struct {
		Messages map[string]docMessage `json:"messages"`
		Schemas  map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type docMessage struct {
	Triple  string   `json:"x-ctibus-triple"`
	Aliases []string `json:"x-ctibus-aliases"`
	Payload struct {
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"payload"`
}

// dataKeys returns the folded names of the properties of m's data schema,
// each mapped to its spelling there.
func (d document) dataKeys(m docMessage) map[string]string {
	var data struct {
		Ref string `json:"$ref"`
	}
	if err := json.Unmarshal(m.Payload.Properties["data"], &data); err != nil {
		return nil // a boolean schema: no data to fold
	}
	name, ok := strings.CutPrefix(data.Ref, "#/components/schemas/")
	if !ok {
		return nil
	}
	keys := map[string]string{}
	for k := range d.Components.Schemas[name].Properties {
		keys[strings.ToLower(k)] = k
	}
	return keys
}
