package finesse

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ctibus/ctibus/channels/cisco"
)

// dialogBody renders a Dialog request from its elements, in order, each
// value escaped; an empty value leaves its element out.
func dialogBody(fields ...string) string {
	var b strings.Builder
	b.WriteString("<Dialog>")
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			continue
		}
		b.WriteString("<" + fields[i] + ">" + xmlText(fields[i+1]) + "</" + fields[i] + ">")
	}
	return b.String()
}

// callVariablesXML renders call variables as a Dialog's mediaProperties.
func callVariablesXML(vars []cisco.CallVariable) string {
	if len(vars) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("<mediaProperties><callvariables>")
	for _, v := range vars {
		b.WriteString("<CallVariable><name>" + xmlText(v.Name) + "</name><value>" + xmlText(v.Value) + "</value></CallVariable>")
	}
	b.WriteString("</callvariables></mediaProperties>")
	return b.String()
}

// newDialog matches an update that adds a dialog the agent did not have.
func newDialog(u Update, before []cisco.Dialog) bool {
	for _, d := range u.Dialogs {
		if !slices.ContainsFunc(before, func(x cisco.Dialog) bool { return x.ID == d.ID }) {
			return true
		}
	}
	return false
}

// postDialog returns the send of a POST on the agent's Dialogs.
func postDialog(loginID, body string) func(ctx context.Context, creds credentials, sd *side) error {
	return func(ctx context.Context, creds credentials, sd *side) error {
		return sd.rest.send(ctx, creds, http.MethodPost, "/finesse/api/User/"+loginID+"/Dialogs", body)
	}
}

// MakeCall places a call from the agent's extension to toAddress
// (POST User/{id}/Dialogs, MAKE_CALL), and returns its dialog.
func (c *Connector) MakeCall(ctx context.Context, loginID, toAddress string, vars []cisco.CallVariable) (cisco.Dialog, error) {
	s, err := c.agentSession(ctx, loginID)
	if err != nil {
		return cisco.Dialog{}, err
	}
	body := dialogBody("requestedAction", "MAKE_CALL", "fromAddress", s.ext, "toAddress", toAddress) + callVariablesXML(vars) + "</Dialog>"
	return s.postNewDialog(ctx, body, "Finesse placed the call but did not show it; check the agent's calls")
}

// postNewDialog POSTs body to the agent's Dialogs and returns the dialog it
// adds; notShown is the error's text when Finesse confirms none.
func (s *agentSession) postNewDialog(ctx context.Context, body, notShown string) (cisco.Dialog, error) {
	w := &waiter{requestID: cisco.RequestIDOf(ctx), requestedBy: s.loginID, dialogs: newDialog}
	o, err := s.request(ctx, w, postDialog(s.loginID, body))
	if err != nil {
		return cisco.Dialog{}, err
	}
	if o.dialog == nil {
		return cisco.Dialog{}, unavailable(notShown)
	}
	return *o.dialog, nil
}

// touches matches an update of dialog id, or one that adds a dialog (a
// consult call, the call a transfer or conference leaves).
func touches(id string) func(u Update, before []cisco.Dialog) bool {
	return func(u Update, before []cisco.Dialog) bool {
		if u.Event == "DELETE" && lastSegment(u.Source) == id {
			return true
		}
		for _, d := range u.Dialogs {
			if d.ID == id {
				return true
			}
		}
		return newDialog(u, before)
	}
}

// changes reports whether u shows the effect of a call action on dialogID
// by the agent on ext: the dialog gone, the agent's participant in another
// state, participants come or gone (a conference), or a new dialog (a
// consult call). An update that only restates the dialog, such as a late
// one of its ringing, does not: completing on it would return before the
// action's own notification is delivered.
func changes(dialogID, ext string) func(u Update, before []cisco.Dialog) bool {
	return func(u Update, before []cisco.Dialog) bool {
		if u.Event == "DELETE" && lastSegment(u.Source) == dialogID {
			return true
		}
		if newDialog(u, before) {
			return true
		}
		i := slices.IndexFunc(before, func(d cisco.Dialog) bool { return d.ID == dialogID })
		for _, d := range u.Dialogs {
			if d.ID != dialogID {
				continue
			}
			if i < 0 {
				return true
			}
			was := before[i]
			return len(d.Participants) != len(was.Participants) ||
				participantStateOf(d, ext) != participantStateOf(was, ext)
		}
		return false
	}
}

// participantStateOf is the state of the participant on ext in d, or "".
func participantStateOf(d cisco.Dialog, ext string) string {
	for _, p := range d.Participants {
		if p.MediaAddress == ext {
			return p.State
		}
	}
	return ""
}

// CallAction asks for action on the agent's participant in dialogID
// (PUT Dialog/{id} with targetMediaAddress and requestedAction).
func (c *Connector) CallAction(ctx context.Context, loginID, dialogID string, action cisco.Action, toAddress string) error {
	s, err := c.agentSession(ctx, loginID)
	if err != nil {
		return err
	}
	to := ""
	if action == cisco.ActionConsult || action == cisco.ActionTransferSST {
		to = toAddress
	}
	body := dialogBody("targetMediaAddress", s.ext, "requestedAction", string(action), "toAddress", to) + "</Dialog>"
	w := &waiter{requestID: cisco.RequestIDOf(ctx), requestedBy: s.loginID, dialogs: changes(dialogID, s.ext), failureOK: true}
	_, err = s.request(ctx, w, putDialog(dialogID, body))
	return err
}

// putDialog returns the send of a PUT on a Dialog.
func putDialog(dialogID, body string) func(ctx context.Context, creds credentials, sd *side) error {
	return func(ctx context.Context, creds credentials, sd *side) error {
		return sd.rest.send(ctx, creds, http.MethodPut, "/finesse/api/Dialog/"+url.PathEscape(dialogID), body)
	}
}

// WrapUp records reason as the wrap-up reason of dialogID
// (UPDATE_CALL_DATA with mediaProperties/wrapUpReason).
func (c *Connector) WrapUp(ctx context.Context, loginID, dialogID, reason string) error {
	s, err := c.agentSession(ctx, loginID)
	if err != nil {
		return err
	}
	body := dialogBody("targetMediaAddress", s.ext, "requestedAction", "UPDATE_CALL_DATA") +
		"<mediaProperties><wrapUpReason>" + xmlText(reason) + "</wrapUpReason></mediaProperties></Dialog>"
	w := &waiter{requestID: cisco.RequestIDOf(ctx), requestedBy: s.loginID, dialogs: touches(dialogID),
		user: func(u cisco.User) bool { return u.State != cisco.StateWork && u.State != cisco.StateWorkReady }}
	_, err = s.request(ctx, w, putDialog(dialogID, body))
	return err
}

// supervise checks that supervisorID is a signed-in supervisor, and
// returns its session and the addresses of a monitoring or barge-in
// request: fromAddress, or else the supervisor's extension; toAddress, or
// else the extension agentID is signed in on.
func (c *Connector) supervise(ctx context.Context, supervisorID, fromAddress, agentID, toAddress string) (sup *agentSession, from, to string, err error) {
	u, err := c.User(ctx, supervisorID)
	if err != nil {
		return nil, "", "", err
	}
	if !u.IsSupervisor {
		return nil, "", "", &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: cisco.ErrorMessageNotSupervisor, Text: "Only a supervisor may monitor or barge into a call."}
	}
	if sup, err = c.agentSession(ctx, supervisorID); err != nil {
		return nil, "", "", err
	}
	from, to = cmp.Or(fromAddress, sup.ext), toAddress
	if to == "" {
		if s := c.session(agentID); s != nil {
			to = s.ext
		} else if a, err := c.User(ctx, agentID); err == nil {
			to = a.Extension
		} else {
			return nil, "", "", err
		}
	}
	return sup, from, to, nil
}

// SilentMonitor starts the supervisor listening to the agent's call (POST
// the supervisor's Dialogs, SILENT_MONITOR), and returns its monitor dialog.
func (c *Connector) SilentMonitor(ctx context.Context, supervisorID, fromAddress, agentID, toAddress string) (cisco.Dialog, error) {
	sup, fromAddress, toAddress, err := c.supervise(ctx, supervisorID, fromAddress, agentID, toAddress)
	if err != nil {
		return cisco.Dialog{}, err
	}
	body := dialogBody("requestedAction", "SILENT_MONITOR", "fromAddress", fromAddress, "toAddress", toAddress) + "</Dialog>"
	return sup.postNewDialog(ctx, body, "Finesse started the monitoring but did not show it; check the supervisor's calls")
}

// Barge joins the supervisor into the call it monitors with dialogID
// (POST the supervisor's Dialogs, BARGE_CALL with associatedDialogUri),
// and returns that call.
func (c *Connector) Barge(ctx context.Context, supervisorID, fromAddress, agentID, toAddress, dialogID string) (cisco.Dialog, error) {
	sup, fromAddress, toAddress, err := c.supervise(ctx, supervisorID, fromAddress, agentID, toAddress)
	if err != nil {
		return cisco.Dialog{}, err
	}
	body := dialogBody("requestedAction", "BARGE_CALL", "fromAddress", fromAddress, "toAddress", toAddress,
		"associatedDialogUri", "/finesse/api/Dialog/"+dialogID) + "</Dialog>"
	joined := func(u Update, before []cisco.Dialog) bool {
		for _, d := range u.Dialogs {
			if d.ID != dialogID && participantState(d, sup.ext) == "ACTIVE" {
				return true
			}
		}
		return false
	}
	w := &waiter{requestID: cisco.RequestIDOf(ctx), requestedBy: sup.loginID, dialogs: joined}
	o, err := sup.request(ctx, w, postDialog(sup.loginID, body))
	if err != nil {
		return cisco.Dialog{}, err
	}
	if o.dialog == nil || o.dialog.ID == dialogID {
		for _, d := range sup.currentDialogs() {
			if d.ID != dialogID && participantState(d, sup.ext) == "ACTIVE" {
				return d, nil
			}
		}
		return cisco.Dialog{}, unavailable("Finesse joined the call but did not show it; check the supervisor's calls")
	}
	return *o.dialog, nil
}
