package broker

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type sample struct {
	Doc   string          `json:"doc"`
	Frame json.RawMessage `json:"frame"`
}

// publishedSamples returns the envelopes of the Acqueon documentation that
// are valid JSON, as written there.
func publishedSamples(t testing.TB) []sample {
	t.Helper()
	b, err := os.ReadFile("testdata/samples.json")
	require.NoError(t, err)
	var samples []sample
	require.NoError(t, json.Unmarshal(b, &samples))
	require.NotEmpty(t, samples)
	return samples
}

func TestDecodeAcceptsPublishedSamples(t *testing.T) {
	for _, s := range publishedSamples(t) {
		t.Run(s.Doc, func(t *testing.T) {
			req, err := decodeRequest(s.Frame)
			require.Nil(t, err, "sample %s", s.Frame)
			assert.NotEmpty(t, req.Channel)
			assert.NotEmpty(t, req.Topic)
			assert.NotEmpty(t, req.Subtopic)
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		give string
		want Request
	}{
		{
			give: `{"channel":"Cisco","topic":"Agent","subtopic":"SetReadyState"}`,
			want: Request{Channel: "Cisco", Topic: "Agent", Subtopic: "SetReadyState"},
		},
		{
			give: `{"id":"r1","channel":"CRM","topic":"Screenpop","subtopic":"Show","source":"crm","data":{"a":[1, 2]}}`,
			want: Request{ID: "r1", Channel: "CRM", Topic: "Screenpop", Subtopic: "Show", Source: "crm", Data: json.RawMessage(`{"a":[1, 2]}`)},
		},
		{
			give: `{" Channel ":"Cisco","TOPIC":"Agent","subTopic":"GetAgentState","data ":"5064"}`,
			want: Request{Channel: "Cisco", Topic: "Agent", Subtopic: "GetAgentState", Data: json.RawMessage(`"5064"`)},
		},
		{
			give: `{"channel":"C","topic":"T","subtopic":"S","message":{"x":1}}`,
			want: Request{Channel: "C", Topic: "T", Subtopic: "S", Data: json.RawMessage(`{"x":1}`)},
		},
		{
			give: `{"channel":"C","topic":"T","subtopic":"S","data":null,"id":null,"extra":[1]}`,
			want: Request{Channel: "C", Topic: "T", Subtopic: "S"},
		},
		{
			give: `{"channel":"Cisco","topic":"InboundCall","subtopic":"SetBARGE CALL"}`,
			want: Request{Channel: "Cisco", Topic: "InboundCall", Subtopic: "SetBARGE CALL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := decodeRequest([]byte(tt.give))
			require.Nil(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	long := strings.Repeat("x", maxNameLen+1)
	tests := []struct {
		name     string
		give     string
		wantType string
		wantIn   string // part of errorMessage
		wantID   string
	}{
		{"not JSON", `{"channel":`, ErrTypeInvalidFrame, "not valid JSON", ""},
		{"empty", ``, ErrTypeInvalidFrame, "not valid JSON", ""},
		{"array", `[1,2]`, ErrTypeInvalidFrame, "not a JSON object", ""},
		{"string", `"Cisco"`, ErrTypeInvalidFrame, "not a JSON object", ""},
		{"missing channel", `{"topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "channel: it is missing", ""},
		{"numeric topic", `{"channel":"C","topic":7,"subtopic":"S"}`, ErrTypeInvalidInput, "topic: it must be a string", ""},
		{"empty subtopic", `{"channel":"C","topic":"T","subtopic":""}`, ErrTypeInvalidInput, "subtopic: it is empty", ""},
		{"long channel", `{"channel":"` + long + `","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "longer than", ""},
		{"star in name", `{"channel":"C","topic":"*","subtopic":"S"}`, ErrTypeInvalidInput, `not contain '*'`, ""},
		{"slash in name", `{"channel":"C/D","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, `not contain '/'`, ""},
		{"padded name", `{"channel":" C","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "starts or ends with a space", ""},
		{"control char", `{"channel":"C\u0007","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "printable ASCII", ""},
		{"numeric id", `{"id":5,"channel":"C","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "id: it must be a string", ""},
		{"long id", `{"id":"` + strings.Repeat("i", maxIDLen+1) + `","channel":"C","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "id: it is longer", ""},
		{"id kept on later error", `{"id":"r9","channel":"C","topic":"T"}`, ErrTypeInvalidInput, "subtopic: it is missing", "r9"},
		{"object source", `{"channel":"C","topic":"T","subtopic":"S","source":{}}`, ErrTypeInvalidInput, "source: it must be a string", ""},
		{"data and message", `{"channel":"C","topic":"T","subtopic":"S","data":1,"message":2}`, ErrTypeInvalidInput, "more than once", ""},
		{"key twice by spacing", `{"channel":"C","topic":"T","subtopic":"S","data":1,"data ":2}`, ErrTypeInvalidInput, "more than once", ""},
		{"key twice, id kept", `{"id":"r7","channel":"C","Channel":"D","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, "more than once", "r7"},
		{"id twice", `{"id":"a","ID ":"b","channel":"C","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, `"id" more than once`, ""},
		{"exact key twice", `{"id":"r8","channel":"C","channel":"D","topic":"T","subtopic":"S"}`, ErrTypeInvalidInput, `"channel" more than once`, "r8"},
		{"trailing garbage", `{"channel":"C","topic":"T","subtopic":"S"} x`, ErrTypeInvalidFrame, "not valid JSON", ""},
		{"not UTF-8", "{\"channel\":\"C\",\"topic\":\"T\",\"subtopic\":\"S\",\"data\":\"\xff\"}", ErrTypeInvalidFrame, "not valid UTF-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := decodeRequest([]byte(tt.give))
			require.NotNil(t, err)
			assert.Equal(t, tt.wantType, err.Type)
			assert.Contains(t, err.Message, tt.wantIn)
			assert.NotEmpty(t, err.Msg)
			assert.Equal(t, tt.wantID, req.ID)
		})
	}
}

func TestEncodeEvent(t *testing.T) {
	now := time.Date(2026, 11, 30, 15, 40, 10, 123_456_789, time.FixedZone("IST", 330*60))
	frame, err := encodeEvent(Event{
		Channel: "Cisco", Topic: "Agent", Subtopic: "SetAgentState",
		Message:       json.RawMessage(`{"keep":  "spacing"}`),
		CorrelationID: "r1",
	}, now)
	require.NoError(t, err)

	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(frame, &got))
	assert.Len(t, got["id"], 38, "a quoted UUID")
	assert.JSONEq(t, `"ctibus"`, string(got["source"]))
	assert.Equal(t, `{"keep":  "spacing"}`, string(got["message"]), "raw payloads pass through byte for byte")
	assert.JSONEq(t, `"r1"`, string(got["correlationId"]))
	assert.JSONEq(t, `"2026-11-30T10:10:10.123Z"`, string(got["timestamp"]))
	assert.True(t, strings.HasPrefix(string(frame), `{"id":`), "keys in the documented order")

	frame, err = encodeEvent(Event{Channel: "C", Topic: "T", Subtopic: "S", Source: "crm"}, now)
	require.NoError(t, err)
	assert.NotContains(t, string(frame), "correlationId", "no correlationId without a request id")
	assert.Contains(t, string(frame), `"message":null`)
	assert.Contains(t, string(frame), `"source":"crm"`)
}

// fuzzBudget bounds the frames FuzzDecodeRequest feeds the decoder: the
// default read limit, the largest frame the bus reads.
const fuzzBudget = 64 << 10

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range publishedSamples(f) {
		f.Add([]byte(s.Frame))
	}
	f.Add([]byte(`{"channel":"C","topic":"T","subtopic":"S","data ":{"x":"y"},"message":null}`))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		// The bus never decodes more than its read limit; larger inputs
		// would only slow the search down.
		if len(frame) > fuzzBudget {
			t.Skip("larger than the default read limit")
		}
		if id := peekID(frame); len(id) > maxIDLen || strings.ContainsFunc(id, isControl) {
			t.Fatalf("peekID returned %q from %q", id, frame)
		}
		req, err := decodeRequest(frame)
		if err != nil {
			if err.Type == "" || err.Message == "" || err.Msg == "" {
				t.Fatalf("incomplete error %+v for %q", err, frame)
			}
			return
		}
		for _, name := range []string{req.Channel, req.Topic, req.Subtopic} {
			if why := checkName(name); why != "" {
				t.Fatalf("accepted an invalid name %q (%s) from %q", name, why, frame)
			}
		}
		if req.Data != nil && !json.Valid(req.Data) {
			t.Fatalf("data is not JSON: %q", req.Data)
		}
		if len(req.ID) > maxIDLen || len(req.Source) > maxNameLen {
			t.Fatalf("over-long id or source accepted from %q", frame)
		}
	})
}

func TestPeekID(t *testing.T) {
	long := strings.Repeat("x", peekSize)
	tests := []struct {
		give string
		want string
	}{
		{`{"id":"m1","channel":"Cisco"}`, "m1"},
		{`{"channel":"PubSub","data":{"channel":"A"}," ID ":"m2"}`, "m2"},
		{`{"id":"m3", this is not JSON`, "m3"},
		{`{"data":"` + long + `","id":"far"}`, ""},
		{`{"id":7}`, ""},
		{`{"id":"` + strings.Repeat("i", maxIDLen+1) + `"}`, ""},
		{`["id","m4"]`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.give[:min(len(tt.give), 40)], func(t *testing.T) {
			assert.Equal(t, tt.want, peekID([]byte(tt.give)))
		})
	}
}

func TestPatternMatches(t *testing.T) {
	tests := []struct {
		pattern [3]string
		event   [3]string
		want    bool
	}{
		{[3]string{"Cisco", "Agent", "*"}, [3]string{"Cisco", "Agent", "SetAgentState"}, true},
		{[3]string{"Cisco", "Agent", "*"}, [3]string{"Cisco", "Call", "CallsStateChange"}, false},
		{[3]string{"cisco", "AGENT", "setagentstate"}, [3]string{"Cisco", "Agent", "SetAgentState"}, true},
		{[3]string{"*", "*", "*"}, [3]string{"CRM", "Screenpop", "Show"}, true},
		{[3]string{"*", "Error", "SetAPIError"}, [3]string{"PubSub", "Error", "SetAPIError"}, true},
		{[3]string{"*", "Error", "SetAPIError"}, [3]string{"Cisco", "Error", "SetAPIErrors"}, false},
		{[3]string{"Cisco", "*", "SetANSWER"}, [3]string{"Cisco", "InboundCall", "SetAnswer"}, true},
		{[3]string{"Cisco", "InboundCall", "SetBARGE CALL"}, [3]string{"Cisco", "InboundCall", "SetBARGE CALL"}, true},
		{[3]string{"Cisco", "InboundCall", "SetBARGE CALL"}, [3]string{"Cisco", "InboundCall", "SetBARGE"}, false},
		{[3]string{"Cisco", "Agent", "Set"}, [3]string{"Cisco", "Agent", "SetAgentState"}, false},
		{[3]string{"Cisc", "*", "*"}, [3]string{"Cisco", "Agent", "X"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.pattern[:], "/")+"~"+strings.Join(tt.event[:], "/"), func(t *testing.T) {
			p, err := ParsePattern(tt.pattern[0], tt.pattern[1], tt.pattern[2])
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.matches(lowerTriple(tt.event[0], tt.event[1], tt.event[2])))
		})
	}
}

func TestParsePatternRejects(t *testing.T) {
	tests := []struct {
		give   [3]string
		wantIn string
	}{
		{[3]string{"Cisco", "Agent*", "*"}, `topic: "*" must stand alone`},
		{[3]string{"Cisco", "**", "*"}, `topic: "*" must stand alone`},
		{[3]string{"", "Agent", "*"}, "channel: it is empty"},
		{[3]string{"Cisco", "Agent", "a/b"}, "subtopic: it may not contain '/'"},
		{[3]string{"Cisco", " Agent", "*"}, "topic: it starts or ends with a space"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give[:], "/"), func(t *testing.T) {
			_, err := ParsePattern(tt.give[0], tt.give[1], tt.give[2])
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantIn)
		})
	}
}

func TestFieldsRefusesAKeyTwice(t *testing.T) {
	req := Request{Data: json.RawMessage(`{"ReasonCodeId":"1","reasoncodeid ":"2"}`)}
	_, err := req.Fields()
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, ErrTypeInvalidInput, apiErr.Type)
	assert.Contains(t, apiErr.Message, "data.reasoncodeid")

	req.Data = json.RawMessage(`{"CallID":"1","CallID":"2"}`)
	_, err = req.Fields()
	require.ErrorAs(t, err, &apiErr, "the same key twice, exactly")

	req.Data = json.RawMessage(`{"ReasonCodeId":"1","CallID":"2"}`)
	fields, err := req.Fields()
	require.NoError(t, err)
	code, err := fields.Required("reasonCodeId")
	require.NoError(t, err)
	assert.Equal(t, "1", code)
}

func TestCountMembers(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{`{}`, 0},
		{`{"a":1}`, 1},
		{`{"a":{"b":1,"c":[{"d":2}]},"e":"x:y"}`, 2},
		{`{"a\\":1,"b":"\"}:"}`, 2},
		{`{"a":1,"a":2}`, 2},
	}
	for _, tt := range tests {
		require.True(t, json.Valid([]byte(tt.give)), tt.give)
		assert.Equal(t, tt.want, countMembers([]byte(tt.give)), tt.give)
	}
}

// appendingPayload writes itself: encodeEvent must place it as it places
// the same JSON given raw.
type appendingPayload struct{ json string }

func (p appendingPayload) AppendJSON(b []byte) ([]byte, error) { return append(b, p.json...), nil }

func TestEncodeEventAppendsAppender(t *testing.T) {
	now := time.Date(2026, 11, 30, 15, 40, 10, 0, time.UTC)
	payload := `{"state":"READY","items":{"<a>":"&"}}`
	appended, err := encodeEvent(Event{Channel: "Cisco", Topic: "Agent", Subtopic: "SetAgentState",
		Message: appendingPayload{payload}, CorrelationID: "r1"}, now)
	require.NoError(t, err)
	raw, err := encodeEvent(Event{Channel: "Cisco", Topic: "Agent", Subtopic: "SetAgentState",
		Message: json.RawMessage(payload), CorrelationID: "r1"}, now)
	require.NoError(t, err)
	const idEnd = len(`{"id":"00000000-0000-0000-0000-000000000000"`)
	assert.Equal(t, string(raw[idEnd:]), string(appended[idEnd:]), "the same frame but for the id")
}

func TestAppendUUIDAsString(t *testing.T) {
	for range 100 {
		u := uuid.New()
		assert.Equal(t, u.String(), string(appendUUID(nil, u)))
	}
}
