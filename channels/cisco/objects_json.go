package cisco

import "github.com/ctibus/ctibus/internal/jsonappend"

// The objects of every state change, written without reflection: each
// AppendJSON writes what encoding/json's Marshal writes for the object,
// byte for byte (objects_json_test.go checks it), keys in the fields'
// order. A field added to one of these types must be added here too; the
// test fails until it is.

// AppendJSON appends u as JSON, as json.Marshal writes it.
func (u *User) AppendJSON(b []byte) []byte {
	b = append(b, `{"uri":`...)
	b = jsonappend.String(b, u.URI)
	b = append(b, `,"loginId":`...)
	b = jsonappend.String(b, u.LoginID)
	b = append(b, `,"loginName":`...)
	b = jsonappend.String(b, u.LoginName)
	b = append(b, `,"firstName":`...)
	b = jsonappend.String(b, u.FirstName)
	b = append(b, `,"lastName":`...)
	b = jsonappend.String(b, u.LastName)
	b = append(b, `,"roles":`...)
	b = jsonappend.Strings(b, u.Roles)
	b = append(b, `,"issupervisor":`...)
	b = jsonappend.Bool(b, u.IsSupervisor)
	b = append(b, `,"teamId":`...)
	b = jsonappend.String(b, u.TeamID)
	b = append(b, `,"teamName":`...)
	b = jsonappend.String(b, u.TeamName)
	b = append(b, `,"teams":`...)
	if u.Teams == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range u.Teams {
			if i > 0 {
				b = append(b, ',')
			}
			b = u.Teams[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"extension":`...)
	b = jsonappend.String(b, u.Extension)
	b = append(b, `,"state":`...)
	b = jsonappend.String(b, string(u.State))
	b = append(b, `,"stateChangeTime":`...)
	b = jsonappend.String(b, u.StateChangeTime)
	b = append(b, `,"pendingState":`...)
	b = jsonappend.String(b, u.PendingState)
	b = append(b, `,"reasonCodeId":`...)
	b = jsonappend.String(b, u.ReasonCodeID)
	if u.ReasonCode != nil {
		b = append(b, `,"ReasonCode":`...)
		b = u.ReasonCode.AppendJSON(b)
	}
	b = append(b, `,"settings":{"wrapUpOnIncoming":`...)
	b = jsonappend.String(b, u.Settings.WrapUpOnIncoming)
	b = append(b, `,"wrapUpOnOutgoing":`...)
	b = jsonappend.String(b, u.Settings.WrapUpOnOutgoing)
	b = append(b, `},"wrapUpTimer":`...)
	b = jsonappend.QuotedInt(b, int64(u.WrapUpTimer))
	b = append(b, `,"mediaType":`...)
	b = jsonappend.String(b, u.MediaType)
	b = append(b, `,"dialogs":`...)
	b = jsonappend.String(b, u.Dialogs)
	b = append(b, `,"agentTime":`...)
	b = jsonappend.String(b, u.AgentTime)
	return append(b, '}')
}

// AppendJSON appends t as JSON, as json.Marshal writes it.
func (t *Team) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonappend.String(b, t.ID)
	b = append(b, `,"name":`...)
	b = jsonappend.String(b, t.Name)
	b = append(b, `,"uri":`...)
	b = jsonappend.String(b, t.URI)
	return append(b, '}')
}

// AppendJSON appends r as JSON, as json.Marshal writes it.
func (r *ReasonCode) AppendJSON(b []byte) []byte {
	b = append(b, `{"uri":`...)
	b = jsonappend.String(b, r.URI)
	b = append(b, `,"id":`...)
	b = jsonappend.String(b, r.ID)
	b = append(b, `,"category":`...)
	b = jsonappend.String(b, string(r.Category))
	b = append(b, `,"code":`...)
	b = jsonappend.QuotedInt(b, int64(r.Code))
	b = append(b, `,"label":`...)
	b = jsonappend.String(b, r.Label)
	b = append(b, `,"forAll":`...)
	b = jsonappend.QuotedBool(b, r.ForAll)
	b = append(b, `,"systemCode":`...)
	b = jsonappend.QuotedBool(b, r.SystemCode)
	return append(b, '}')
}
