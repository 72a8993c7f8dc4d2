package handlers

import (
	"encoding/json"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/internal/jsonappend"
)

// The SetAgentState payload, which every request and state change of an
// agent sends, written without reflection, as encoding/json writes it
// (events_json_test.go checks it byte for byte).

var _ broker.JSONAppender = agentStatePayload{}

// AppendJSON appends p as JSON, as json.Marshal writes it.
func (p agentStatePayload) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"data":`...)
	b = p.Data.AppendJSON(b)
	b = append(b, `,"rules":`...)
	b, err := p.Rules.appendJSON(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"changed":`...)
	b = jsonappend.Strings(b, p.Changed)
	return append(b, '}'), nil
}

// appendJSON appends r as JSON, as json.Marshal writes it.
func (r *rules) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"SequentialActions":{"items":`...)
	b = appendSortedMap(b, r.SequentialActions.Items)
	b = append(b, `,"count":`...)
	b = jsonappend.Int(b, int64(r.SequentialActions.Count))
	b = append(b, `},"ResponseType":`...)
	b = jsonappend.Int(b, int64(r.ResponseType))
	b = append(b, `,"ResponseText":`...)
	b = jsonappend.String(b, r.ResponseText)
	b = append(b, `,"ResponseActual":{`...)
	actual := r.ResponseActual
	if actual.User != nil {
		b = append(b, `"user":`...)
		b = actual.User.AppendJSON(b)
	}
	if actual.Dialog != nil {
		if actual.User != nil {
			b = append(b, ',')
		}
		dialog, err := json.Marshal(actual.Dialog)
		if err != nil {
			return nil, err
		}
		b = append(b, `"dialog":`...)
		b = append(b, dialog...)
	}
	return append(b, `}}`...), nil
}

// appendSortedMap appends m as a JSON object, keys sorted as json.Marshal
// sorts them, or null when m is nil.
func appendSortedMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var stack [8]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	// Insertion sort: the maps here hold three keys.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, k)
		b = append(b, ':')
		b = jsonappend.String(b, m[k])
	}
	return append(b, '}')
}
