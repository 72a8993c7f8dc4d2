package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// String returns the string field key ("" if absent or null). The docs
// show ids and codes as strings ("28", "5064") but apps send them as JSON
// numbers too, so an integer is taken as its digits, exactly as written
// (no float rounding: 12345678901234567890 stays itself). A fraction or an
// exponent (1.5, 1e3) names no id, and any other type is not a string:
// both are Invalid Input errors naming data.key.
func (f Fields) String(key string) (string, error) {
	raw, ok := f[strings.ToLower(key)]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		if !isInteger(raw) {
			return "", invalidInput("data."+key, fmt.Sprintf("%s is not a whole number; send the id as a string or an integer", Clip(string(raw))))
		}
		return string(raw), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalidInput("data."+key, "it must be a string or an integer")
	}
	return s, nil
}

// name returns the string field key ("" if absent or null), for the bus's
// own names (channel, topic, subtopic), which are never numbers.
func (f Fields) name(key string) (string, error) {
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

// isInteger tells whether a JSON number is written as an integer: an
// optional minus and digits, without fraction or exponent.
func isInteger(n []byte) bool {
	digits := bytes.TrimPrefix(n, []byte("-"))
	if len(digits) == 0 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Bool returns the flag field key (false if absent or null): a JSON
// boolean, or the strings "true" and "false" in any case ("" is false),
// since the docs type the flags as Boolean but apps copy string samples.
func (f Fields) Bool(key string) (bool, error) {
	raw, ok := f[strings.ToLower(key)]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return false, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, invalidInput("data."+key, "it must be true or false")
}

// Has tells whether the field key is present and not null.
func (f Fields) Has(key string) bool {
	raw, ok := f[strings.ToLower(key)]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// Required returns the string field key, which must be present and not
// empty. An absent (or null) field is Parameter Missing, as Finesse answers
// a request without a required parameter, with the field's name as
// errorData; an empty one is Invalid Input.
func (f Fields) Required(key string) (string, error) {
	if !f.Has(key) {
		return "", parameterMissing(key)
	}
	s, err := f.String(key)
	if err == nil && s == "" {
		err = invalidInput("data."+key, "it is empty")
	}
	return s, err
}

// RequiredText is Required for a field that is text and never an id, such
// as a password: a number is refused rather than read, and the error does
// not quote the value.
func (f Fields) RequiredText(key string) (string, error) {
	if !f.Has(key) {
		return "", parameterMissing(key)
	}
	var s string
	if err := json.Unmarshal(f[strings.ToLower(key)], &s); err != nil {
		return "", invalidInput("data."+key, "it must be a string")
	}
	if s == "" {
		return "", invalidInput("data."+key, "it is empty")
	}
	return s, nil
}

// parameterMissing is the error for a required field of data that is absent.
func parameterMissing(key string) *APIError {
	key = Clip(key)
	return &APIError{
		Type:    ErrTypeParameterMissing,
		Message: fmt.Sprintf("data.%s: %s Parameter missing", key, key),
		Msg:     fmt.Sprintf("The field %q is missing from data; send it.", key),
		Data:    key,
	}
}

// InvalidInput returns the Invalid Input error for a request field.
func InvalidInput(field, why string) *APIError { return invalidInput(field, why) }
