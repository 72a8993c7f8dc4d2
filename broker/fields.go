package broker

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Fields is a request's data object, with keys matched like envelope keys:
// ignoring case and surrounding spaces, since the published samples write
// "MediaAddress " and both "CallID" and "callID".
type Fields map[string]json.RawMessage

// Fields decodes the request's data as an object; absent data gives no
// fields. Anything else is an Invalid Input error naming "data".
func (r *Request) Fields() (Fields, error) {
	if len(r.Data) == 0 {
		return Fields{}, nil
	}
	trimmed := bytes.TrimSpace(r.Data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalidInput("data", "it must be a JSON object")
	}
	fields, duplicate, ok := readObject(r.Data, func(k string) string { return k })
	switch {
	case !ok:
		return nil, invalidInput("data", "it must be a JSON object")
	case duplicate != "":
		// Which of the two would win is not defined: refuse both.
		return nil, invalidInput("data."+duplicate, "the key appears more than once (keys are matched ignoring case and spaces)")
	}
	return fields, nil
}

// String returns the string field key ("" if absent or null). A present
// value of another type is an Invalid Input error naming data.key.
func (f Fields) String(key string) (string, error) {
	raw, ok := f[strings.ToLower(key)]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalidInput("data."+key, "it must be a string")
	}
	return s, nil
}

// Required returns the string field key, which must be present and not empty.
func (f Fields) Required(key string) (string, error) {
	s, err := f.String(key)
	if err == nil && s == "" {
		err = invalidInput("data."+key, "it is missing or empty")
	}
	return s, err
}

// InvalidInput returns the Invalid Input error for a request field.
func InvalidInput(field, why string) *APIError { return invalidInput(field, why) }
