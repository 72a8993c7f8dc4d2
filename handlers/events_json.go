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
	items := &r.SequentialActions.Items
	b = append(b, `{"SequentialActions":{"items":{"LOGOUT":`...)
	b = jsonappend.String(b, items.Logout)
	b = append(b, `,"NOT_READY":`...)
	b = jsonappend.String(b, items.NotReady)
	b = append(b, `,"READY":`...)
	b = jsonappend.String(b, items.Ready)
	b = append(b, `},"count":`...)
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
