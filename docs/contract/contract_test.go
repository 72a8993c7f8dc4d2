package contract_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ctibus/ctibus/docs"
	"github.com/ctibus/ctibus/docs/contract"
)

// TestExamples checks every example of the document, taken from frames the
// server sent, against the schema of its message.
func TestExamples(t *testing.T) {
	c, err := contract.Default()
	require.NoError(t, err)
	var doc struct {
		Operations map[string]struct {
			Action string `yaml:"action"`
		} `yaml:"operations"`
		Components struct {
			Messages map[string]struct {
				Examples []struct {
					Name    string    `yaml:"name"`
					Payload yaml.Node `yaml:"payload"` // a node, to keep the order of the keys
				} `yaml:"examples"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(docs.AsyncAPI, &doc))
	n := 0
	for key, m := range doc.Components.Messages {
		for _, ex := range m.Examples {
			var frame bytes.Buffer
			require.NoError(t, writeJSON(&frame, &ex.Payload))
			if bytes.Contains(frame.Bytes(), []byte(`"timestamp":`)) {
				assert.NoError(t, c.CheckEvent(frame.Bytes()), "%s example %s", key, ex.Name)
			} else {
				assert.NoError(t, c.CheckRequest(frame.Bytes()), "%s example %s", key, ex.Name)
			}
			n++
		}
	}
	assert.Greater(t, n, 30, "the document carries the protocol's examples")
}

// writeJSON writes the YAML node n as JSON, keys in their order.
func writeJSON(w *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		w.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			key, _ := json.Marshal(n.Content[i].Value)
			w.Write(key)
			w.WriteByte(':')
			if err := writeJSON(w, n.Content[i+1]); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	case yaml.SequenceNode:
		w.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeJSON(w, item); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	default:
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		w.Write(b)
	}
	return nil
}

// TestCheck shows what the checks accept and refuse.
func TestCheck(t *testing.T) {
	c, err := contract.Default()
	require.NoError(t, err)
	requests := []struct {
		give    string
		wantErr string
	}{
		{give: `{"id":"login-1","channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo","data":{"username":"ciscotest","password":"test@123","extension":"5064"}}`},
		{give: `{"ID ":"r","Channel":"cisco","topic":"agent","subtopic":"setuserinfo","data ":{"UserName ":"ciscotest","PASSWORD":"x","extension":5064}}`},
		{give: `{"channel":"Cisco","topic":"OutboundCall","subtopic":"SetANSWER","data":{"callid":"1"}}`},
		{give: `{"channel":"Notes","topic":"Memo","subtopic":"Post","data":[1,2]}`},
		{give: `{"channel":"Cisco","topic":"Agent","subtopic":"SetUserInfo","data":{"username":"ciscotest","extension":"5064"}}`, wantErr: "password"},
		{give: `{"channel":"Cisco","topic":"Call","subtopic":"SetHOLDX"}`, wantErr: "no request Cisco/Call/SetHOLDX"},
		{give: `{"channel":"Cisco","topic":"Agent","subtopic":"SetNotReadyState","data":{"ReasonCodeId":"1","reasoncodeid ":"2"}}`, wantErr: "more than once"},
		{give: `{"channel":"PubSub","topic":"App","subtopic":"Register"}`, wantErr: "source"},
		{give: `{"channel":"Cisco","topic":"Agent","subtopic":"SetReadyState","data":{},"message":{}}`, wantErr: "both data and message"},
		{give: `[{"channel":"Notes","topic":"Memo","subtopic":"Post"}]`, wantErr: "not a JSON object"},
	}
	for _, tt := range requests {
		t.Run(tt.give, func(t *testing.T) {
			err := c.CheckRequest([]byte(tt.give))
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
	events := []struct {
		give    string
		wantErr string
	}{
		{give: `{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"Notes","topic":"Memo","subtopic":"Post","source":"AgentDesktop","message":null,"timestamp":"2026-11-30T16:04:48.729Z"}`},
		{give: `[{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"Notes","topic":"Memo","subtopic":"Post","source":"a","message":"a","timestamp":"2026-11-30T16:04:48.729Z"}]`},
		{give: `{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"Cisco","topic":"Call","subtopic":"CallsStateChange","source":"ctibus","message":{"source":"api","calls":null,"isNonVoice":false},"timestamp":"2026-11-30T16:04:48.729Z"}`, wantErr: "calls"},
		{give: `{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"cisco","topic":"Call","subtopic":"CallsStateChange","source":"ctibus","message":{"source":"api","calls":[],"isNonVoice":false},"timestamp":"2026-11-30T16:04:48.729Z"}`, wantErr: "no event cisco/Call/CallsStateChange"},
		{give: `{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"Cisco","topic":"Call","subtopic":"CallsStateChange","source":"ctibus","message":{"source":"api","calls":[],"isNonVoice":false},"timestamp":"2026-11-30 16:04:48"}`, wantErr: "timestamp"},
		{give: `[]`, wantErr: "empty batch"},
		{give: `{"channel":"Notes","id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","topic":"Memo","subtopic":"Post","source":"a","message":"a","timestamp":"2026-11-30T16:04:48.729Z"}`, wantErr: `the key "id" comes after "channel"`},
		{give: `{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"Notes","topic":"Memo","subtopic":"Post","source":"a","message":"a","correlationId":"","timestamp":"2026-11-30T16:04:48.729Z"}`, wantErr: "correlationId"},
		{give: `{"id":"d2a18fe2-657a-41d4-a4a0-b8dec5395e5c","channel":"Cisco","topic":"Call","subtopic":"CallsStateChange","source":"softphone","message":{"source":"api","calls":[],"isNonVoice":false},"timestamp":"2026-11-30T16:04:48.729Z"}`, wantErr: "must come from the bus"},
	}
	for _, tt := range events {
		t.Run(tt.give, func(t *testing.T) {
			err := c.CheckEvent([]byte(tt.give))
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

// TestHTTPExamples checks the examples of the OpenAPI document's answers
// against their schemas.
func TestHTTPExamples(t *testing.T) {
	h, err := contract.DefaultHTTP()
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Example any `yaml:"example"`
				} `yaml:"content"`
			} `yaml:"responses"`
		} `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(docs.OpenAPI, &doc))
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for code, resp := range op.Responses {
				ex := resp.Content["application/json"].Example
				if ex == nil {
					continue
				}
				body, err := json.Marshal(ex)
				require.NoError(t, err)
				status, err := strconv.Atoi(code)
				require.NoError(t, err)
				assert.NoError(t, h.CheckResponse(method, path, status, body), "%s %s %s", method, path, code)
				n++
			}
		}
	}
	assert.GreaterOrEqual(t, n, 2, "the answers' examples")
	assert.ErrorContains(t, h.CheckResponse("GET", "/api/admin/snapshot", 200, []byte(`{"node":"n1"}`)), "missing")
	assert.ErrorContains(t, h.CheckResponse("GET", "/api/admin/snapshot", 418, []byte(`{}`)), "does not document status 418")
}
