package broker

import (
	"encoding/json"
	"math/big"
	"testing"
)

// FuzzFieldsString checks the one rule for ids sent as numbers: a JSON
// integer is read as exactly its digits, anything else numeric is refused,
// and a string is read as it is.
func FuzzFieldsString(f *testing.F) {
	for _, v := range []string{`"28"`, `28`, `-1`, `1.5`, `1e3`, `1E+3`, `-0`, `12345678901234567890123`, `true`, `null`, `{}`, `"x\u0000"`} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if len(value) > 1<<10 {
			t.Skip("larger than any field")
		}
		req := Request{Data: json.RawMessage(`{"ReasonCodeId":` + value + `}`)}
		fields, err := req.Fields()
		if err != nil {
			return // not a JSON object with that value
		}
		got, err := fields.String("ReasonCodeId")
		var n json.Number
		var s string
		switch {
		case json.Unmarshal([]byte(value), &s) == nil:
			if err != nil || got != s {
				t.Fatalf("string %s read as %q, %v", value, got, err)
			}
		case json.Unmarshal([]byte(value), &n) == nil:
			_, whole := new(big.Int).SetString(string(n), 10)
			if whole != (err == nil) {
				t.Fatalf("number %s: whole %v, error %v", value, whole, err)
			}
			if whole && got != string(n) {
				t.Fatalf("integer %s read as %q", value, got)
			}
		}
		if err != nil {
			apiErr, ok := err.(*APIError)
			if !ok || apiErr.Type != ErrTypeInvalidInput || apiErr.Msg == "" {
				t.Fatalf("error %v for %s", err, value)
			}
		}
	})
}
