package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// decodeRequestWithMaps is the envelope decoder as it was before
// decodeRequest read the members in place: a decode into a map, then each
// field again. It is kept as the reference that pins decodeRequest to the
// same answers.
func decodeRequestWithMaps(frame []byte) (Request, *APIError) {
	var req Request
	if !utf8.Valid(frame) {
		return req, &APIError{
			Type:    ErrTypeInvalidFrame,
			Message: "frame is not valid UTF-8",
			Msg:     "Send text frames in UTF-8.",
		}
	}
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if !json.Valid(frame) {
			return req, invalidJSON(frame)
		}
		return req, &APIError{
			Type:    ErrTypeInvalidFrame,
			Message: "frame is not a JSON object",
			Msg:     `Send one JSON object per frame, such as {"channel":"Cisco","topic":"Agent","subtopic":"GetAgentState"}.`,
		}
	}
	fields, duplicate, ok := readObject(frame, func(k string) string {
		if k == "message" {
			return "data"
		}
		return k
	})
	if !ok {
		return req, invalidJSON(frame)
	}
	var apiErr *APIError
	if duplicate != "id" {
		if req.ID, apiErr = optionalString(fields["id"], "id", maxIDLen); apiErr != nil {
			return req, apiErr
		}
	}
	if duplicate != "" {
		return req, invalidInput(duplicate, fmt.Sprintf("the envelope has the key %q more than once (keys are matched ignoring case and spaces, and \"message\" counts as \"data\")", duplicate))
	}
	if req.Channel, apiErr = requiredNameFromMap(fields, "channel"); apiErr != nil {
		return req, apiErr
	}
	if req.Topic, apiErr = requiredNameFromMap(fields, "topic"); apiErr != nil {
		return req, apiErr
	}
	if req.Subtopic, apiErr = requiredNameFromMap(fields, "subtopic"); apiErr != nil {
		return req, apiErr
	}
	if req.Source, apiErr = optionalString(fields["source"], "source", maxNameLen); apiErr != nil {
		return req, apiErr
	}
	if data, ok := fields["data"]; ok && !bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		req.Data = data
	}
	return req, nil
}

// requiredNameFromMap is the reference's requiredName: a key that is
// absent from the map is missing, whatever its value.
func requiredNameFromMap(fields map[string]json.RawMessage, key string) (string, *APIError) {
	raw, ok := fields[key]
	if !ok {
		return "", invalidInput(key, "it is missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalidInput(key, "it must be a string")
	}
	if err := checkName(s); err != "" {
		return "", invalidInput(key, err)
	}
	return s, nil
}

// duplicatedNames counts the folded names that the object frame holds more
// than once: the reference names one of them, in the order of a map's
// iteration, when there are several.
func duplicatedNames(frame []byte) int {
	dec := json.NewDecoder(bytes.NewReader(frame))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	seen := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0
		}
		key := strings.ToLower(strings.TrimSpace(tok.(string)))
		if key == "message" {
			key = "data"
		}
		seen[key]++
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0
		}
	}
	n := 0
	for _, count := range seen {
		if count > 1 {
			n++
		}
	}
	return n
}

// requireSameDecoding checks that decodeRequest answers frame as the
// reference does: the same request, or the same error with the same id.
// A frame with several duplicated keys is refused by both, but the
// reference names one of them at random (a map's order), and reads the id
// when the one it names is not "id": only the refusal is compared there.
func requireSameDecoding(t *testing.T, frame []byte) {
	t.Helper()
	want, wantErr := decodeRequestWithMaps(frame)
	got, gotErr := decodeRequest(frame)
	if wantErr == nil {
		require.Nil(t, gotErr, "frame %q", frame)
		require.Equal(t, want.ID, got.ID, "frame %q", frame)
		require.Equal(t, want.Channel, got.Channel, "frame %q", frame)
		require.Equal(t, want.Topic, got.Topic, "frame %q", frame)
		require.Equal(t, want.Subtopic, got.Subtopic, "frame %q", frame)
		require.Equal(t, want.Source, got.Source, "frame %q", frame)
		require.Equal(t, string(want.Data), string(got.Data), "frame %q", frame)
		require.Equal(t, want.Data == nil, got.Data == nil, "frame %q", frame)
		return
	}
	require.NotNil(t, gotErr, "frame %q: want %s", frame, wantErr.Message)
	require.Equal(t, wantErr.Type, gotErr.Type, "frame %q", frame)
	if duplicatedNames(frame) > 1 {
		return
	}
	require.Equal(t, wantErr.Message, gotErr.Message, "frame %q", frame)
	require.Equal(t, wantErr.Msg, gotErr.Msg, "frame %q", frame)
	require.Equal(t, want.ID, got.ID, "frame %q", frame)
}

// FuzzDecodeRequestMatchesMaps pins decodeRequest to the decoder it
// replaced, on any input.
func FuzzDecodeRequestMatchesMaps(f *testing.F) {
	for _, s := range publishedSamples(f) {
		f.Add([]byte(s.Frame))
	}
	for _, frame := range envelopeVariants() {
		f.Add([]byte(frame))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > fuzzBudget {
			t.Skip("larger than the default read limit")
		}
		requireSameDecoding(t, frame)
	})
}

// envelopeVariants are envelopes that try the decoder's rules: keys
// spelled every way, escaped, doubled, values of every kind.
func envelopeVariants() []string {
	return []string{
		`{"channel":"C","topic":"T","subtopic":"S","data ":{"x":"y"},"message":null}`,
		`{"\u0069d":"r1","channel":"C","topic":"T","subtopic":"S"}`,
		`{"id":"r1","i\u0064":"r2","channel":"C","topic":"T","subtopic":"S"}`,
		`{"\u0130D":"r1","channel":"C","topic":"T","subtopic":"S"}`,
		`{"\u00a0channel\u2003":"C","topic":"T","subtopic":"S"}`,
		`{"channel":null,"topic":"T","subtopic":"S"}`,
		`{"id":"a\u0000","channel":"C","topic":"T","subtopic":"S"}`,
		`{"id":"\ud800","channel":"C","topic":"T","subtopic":"S"}`,
		`{"channel":"C\/D","topic":"T","subtopic":"S"}`,
		`{"channel":"C","topic":"T","subtopic":"S","x":1,"X":2}`,
		`{"channel":"C","topic":"T","subtopic":"S","message":1,"message":2}`,
		`{"message":1,"message":2,"data":3,"channel":"C","topic":"T","subtopic":"S"}`,
		` { "channel" : "C" , "topic" : "T" , "subtopic" : "S" , "data" : [ 1 , { "a" : "}" } ] } `,
		`{"channel":"C","topic":"T","subtopic":"S","data":-1.5e+3}`,
		`{"channel":"C","topic":"T","subtopic":"S","data":"\"}"}`,
		`{}`, `[]`, `null`, `{"a":1}x`, `{"channel":"C"`, "\t{\"channel\":\"C\",\"topic\":\"T\",\"subtopic\":\"S\"}\n",
	}
}

// TestDecodeRequestMatchesMaps pins decodeRequest to the decoder it
// replaced, on the published samples and on many random envelopes built
// from the spellings that its rules are about.
func TestDecodeRequestMatchesMaps(t *testing.T) {
	for _, s := range publishedSamples(t) {
		requireSameDecoding(t, s.Frame)
	}
	for _, frame := range envelopeVariants() {
		requireSameDecoding(t, []byte(frame))
	}
	keys := []string{"id", "ID", " Id ", `i\u0064`, `\u0130d`, "channel", "Channel ", "CHANNEL", "topic", " topic",
		"subtopic", "subTopic", "source", "Source", "data", "data ", "Data", "message", "Message ", "extra", "EXTRA", `\u00a0data`}
	values := []string{`"C"`, `"T"`, `"S"`, `"r1"`, `null`, `1`, `true`, `{}`, `[1,"]"]`, `"a b"`, `" pad"`, `"x*y"`,
		`"\u0041"`, `"\u0007"`, `""`, `{"k":{"n":[null]}}`, `"` + strings.Repeat("n", maxNameLen+1) + `"`}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		var b strings.Builder
		b.WriteString("{")
		// Mostly valid envelopes, with now and then a key more or less.
		names := []string{"channel", "topic", "subtopic"}
		n := rng.IntN(4)
		for range n {
			names = append(names, keys[rng.IntN(len(keys))])
		}
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for i, k := range names {
			if i > 0 {
				b.WriteString(",")
			}
			v := values[rng.IntN(len(values))]
			switch k {
			case "channel", "topic", "subtopic":
				if rng.IntN(8) > 0 {
					v = `"` + strings.ToUpper(k[:1]) + `"`
				}
			}
			fmt.Fprintf(&b, `"%s":%s`, k, v)
		}
		b.WriteString("}")
		requireSameDecoding(t, []byte(b.String()))
	}
}
