package handlers

import (
	"slices"

	"github.com/ctibus/ctibus/channels/cisco"
)

// The payloads of the Cisco channel's events. Where the Acqueon docs show a
// payload it is followed; the others are modelled on the Finesse object
// they stand for. docs/protocol.md has an example of each.

// agentStatePayload is the message of SetAgentState: the Finesse User, and
// the rules block of the Acqueon sample.
type agentStatePayload struct {
	Data  cisco.User `json:"data"`
	Rules rules      `json:"rules"`
	// Changed names the fields of data that this event changed (state,
	// reasonCodeId, pendingState, extension); [] when it reports the
	// current state.
	Changed []string `json:"changed"`
}

type rules struct {
	SequentialActions sequentialActions `json:"SequentialActions"`
	ResponseType      int               `json:"ResponseType"`
	ResponseText      string            `json:"ResponseText"`
	ResponseActual    responseActual    `json:"ResponseActual"`
}

// sequentialActions says which state requests the agent may make now, as
// "Enable" or "Disable" per action, so that a widget can set its buttons.
type sequentialActions struct {
	Items actionStates `json:"items"`
	Count int          `json:"count"`
}

// actionStates is "Enable" or "Disable" for each state request, as the
// object {"LOGOUT","NOT_READY","READY"}: the fields in the order of their
// keys, as a map of them was written.
type actionStates struct {
	Logout   string `json:"LOGOUT"`
	NotReady string `json:"NOT_READY"`
	Ready    string `json:"READY"`
}

// numActionStates is the count of actionStates' fields, the count the
// rules block gives.
const numActionStates = 3

type responseActual struct {
	User *cisco.User `json:"user,omitempty"` // absent when no agent is signed in

	Dialog *cisco.Dialog `json:"dialog,omitempty"`
}

// agentState is the SetAgentState of u, which changed the fields named in
// changed (nil for none); dialogs are the agent's current calls, which
// decide whether its wrap-up may end yet.
func agentState(u cisco.User, changed []string, dialogs []cisco.Dialog) agentStatePayload {
	if changed == nil {
		changed = []string{}
	}
	return agentStatePayload{Data: u, Rules: newRules(u, dialogs, nil), Changed: changed}
}

func newRules(u cisco.User, dialogs []cisco.Dialog, dialog *cisco.Dialog) rules {
	items := stateActions(u, dialogs)
	return rules{
		SequentialActions: sequentialActions{Items: items, Count: numActionStates},
		ResponseText:      "Success",
		ResponseActual:    responseActual{User: &u, Dialog: dialog},
	}
}

// stateActions says which of READY, NOT_READY and LOGOUT the contact center
// accepts from the agent now, as Finesse on CCE does: LOGOUT from NOT_READY
// only; during a call or a campaign's reservation, READY and NOT_READY as
// the pending state, unless a sign-out is pending already; in wrap-up,
// both, unless the wrap-up still needs a wrap-up reason.
func stateActions(u cisco.User, dialogs []cisco.Dialog) actionStates {
	var ready, notReady, logout bool
	switch u.State {
	case cisco.StateNotReady:
		ready, notReady, logout = true, true, true
	case cisco.StateReady:
		notReady = true
	case cisco.StateWork, cisco.StateWorkReady:
		free := !wrapUpNeedsReason(u, dialogs)
		ready, notReady = free, free
	case cisco.StateReserved, cisco.StateReservedOutbound, cisco.StateReservedOutboundPreview,
		cisco.StateTalking, cisco.StateHold:
		pend := u.PendingState != string(cisco.StateLogout)
		ready, notReady = pend, pend
	}
	return actionStates{Ready: enable(ready), NotReady: enable(notReady), Logout: enable(logout)}
}

// wrapUpNeedsReason reports whether the agent is wrapping up a call that
// has no wrap-up reason yet while its setting for that call is
// REQUIRED_WITH_WRAP_UP_DATA: the contact center then refuses READY and
// NOT_READY until WrapUpCall gives one.
func wrapUpNeedsReason(u cisco.User, dialogs []cisco.Dialog) bool {
	d, ok := wrapUpDialog(u, dialogs)
	if !ok {
		return false
	}
	// The setting is wrapUpOnOutgoing for a call the agent placed (from
	// its extension), else wrapUpOnIncoming.
	setting := u.Settings.WrapUpOnIncoming
	if d.FromAddress == u.Extension {
		setting = u.Settings.WrapUpOnOutgoing
	}
	return setting == wrapUpWithData && d.MediaProperties.WrapUpReason == ""
}

// wrapUpDialog returns the call the agent is wrapping up, if any.
func wrapUpDialog(u cisco.User, dialogs []cisco.Dialog) (cisco.Dialog, bool) {
	for _, d := range dialogs {
		if slices.ContainsFunc(d.Participants, func(p cisco.Participant) bool {
			return p.MediaAddress == u.Extension && p.State == wrapUpParticipant
		}) {
			return d, true
		}
	}
	return cisco.Dialog{}, false
}

// Finesse's names that wrapUpNeedsReason reads.
const (
	wrapUpParticipant = "WRAP_UP"                    // the agent's participant state in wrap-up
	wrapUpWithData    = "REQUIRED_WITH_WRAP_UP_DATA" // the wrap-up setting that needs a reason
)

func enable(ok bool) string {
	if ok {
		return "Enable"
	}
	return "Disable"
}

// appStatePayload is the message of GetAppState. Unlike the Acqueon sample,
// userInfo never carries the password.
type appStatePayload struct {
	CTIState ctiState `json:"ctiState"`
}

type ctiState struct {
	UserInfo   userInfo    `json:"userInfo"`
	State      cisco.State `json:"State"`
	AgentState cisco.State `json:"agentState"`
	MakeCall   any         `json:"makeCall"`
	Rules      rules       `json:"rules"`
}

type userInfo struct {
	Extension       string `json:"extension"`
	Username        string `json:"username"`
	IsMobileAgent   bool   `json:"ismobileagent"`
	MobileAgentMode string `json:"mobileagentmode"`
	MobileNumber    string `json:"mobilenumber"`
}

func appState(u cisco.User, dialogs []cisco.Dialog) appStatePayload {
	var dialog *cisco.Dialog
	if len(dialogs) > 0 {
		dialog = &dialogs[0]
	}
	return appStatePayload{CTIState: ctiState{
		UserInfo:   userInfo{Extension: u.Extension, Username: u.LoginID},
		State:      u.State,
		AgentState: u.State,
		Rules:      newRules(u, dialogs, dialog),
	}}
}

// notSignedInAppState is the message of GetAppState on a connection where
// no agent is signed in: the state is LOGOUT, userInfo is empty and no
// action is enabled, so that a widget can tell on load that it must show a
// sign-in form.
func notSignedInAppState() appStatePayload {
	items := actionStates{Ready: enable(false), NotReady: enable(false), Logout: enable(false)}
	return appStatePayload{CTIState: ctiState{
		State:      cisco.StateLogout,
		AgentState: cisco.StateLogout,
		Rules: rules{
			SequentialActions: sequentialActions{Items: items, Count: numActionStates},
			ResponseText:      "Success",
		},
	}}
}

// callsPayload is the message of CallsStateChange, as the Acqueon sample.
type callsPayload struct {
	Source     string         `json:"source"`
	Calls      []cisco.Dialog `json:"calls"`
	IsNonVoice bool           `json:"isNonVoice"`
}

func calls(dialogs []cisco.Dialog) callsPayload {
	if dialogs == nil {
		dialogs = []cisco.Dialog{}
	}
	return callsPayload{Source: "api", Calls: dialogs}
}

// packet is the {"packet", "data"} shape of the Acqueon list events.
type packet struct {
	Packet string `json:"packet"`
	Data   any    `json:"data"`
}

// reasonCodes is the message of SetNotReadyReasonCodes and SetLogOutReasonCodes.
type reasonCodes struct {
	Packet   string             `json:"packet"`
	Category cisco.Category     `json:"category"`
	Data     []cisco.ReasonCode `json:"data"`
}

// systemInfoPayload is the message of SetSystemInfo, as the Acqueon sample.
type systemInfoPayload struct {
	Packet     string           `json:"packet"`
	SystemInfo cisco.SystemInfo `json:"systeminfo"`
}

// connectionPayload is the message of OpenConnection and SetConnectionStatus,
// after Finesse's notification connection status ({status, resourceID}).
type connectionPayload struct {
	Status       string `json:"status"`
	ResourceID   string `json:"resourceID"`
	ConnectionID string `json:"connectionId"`
	LoginID      string `json:"loginId"`
	Extension    string `json:"extension"`
}

// loginPayload is the message of Login.
type loginPayload struct {
	Status  string     `json:"status"`
	Relogin bool       `json:"relogin"`
	User    cisco.User `json:"user"`
}

// mappedMRD is one media routing domain the agent is mapped to.
type mappedMRD struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	MediaClass string      `json:"mediaClass"`
	State      cisco.State `json:"state"`
}
