package handlers

import "github.com/ctibus/ctibus/channels/cisco"

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
// changed (nil for none).
func agentState(u cisco.User, changed []string) agentStatePayload {
	if changed == nil {
		changed = []string{}
	}
	return agentStatePayload{Data: u, Rules: newRules(u, nil), Changed: changed}
}

func newRules(u cisco.User, dialog *cisco.Dialog) rules {
	items := actionStates{
		Ready:    enable(u.State == cisco.StateNotReady || u.State == cisco.StateWork || u.State == cisco.StateWorkReady),
		NotReady: enable(u.State == cisco.StateReady || u.State == cisco.StateNotReady || u.State == cisco.StateWork || u.State == cisco.StateWorkReady),
		Logout:   enable(u.State == cisco.StateNotReady),
	}
	return rules{
		SequentialActions: sequentialActions{Items: items, Count: numActionStates},
		ResponseText:      "Success",
		ResponseActual:    responseActual{User: &u, Dialog: dialog},
	}
}

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
		Rules:      newRules(u, dialog),
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
