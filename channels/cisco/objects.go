package cisco

import (
	"encoding/json"
	"errors"
	"slices"
)

// The values below marshal to JSON as Finesse objects appear on the Acqueon
// bus: Finesse speaks XML, where every value is text, and the bus renders that
// text as JSON strings. Go fields keep their natural types and carry the
// ",string" option, so "forAll":"true" and "wrapUpTimer":"60" come out as
// the bus expects while Go code reads a bool and an int.

// TimeFormat is the layout of Finesse timestamps (stateChangeTime,
// currentTimestamp): ISO-8601 in UTC with milliseconds, for example
// 2026-11-30T15:40:10.123Z. Format times with t.UTC().Format(TimeFormat).
const TimeFormat = "2006-01-02T15:04:05.000Z"

// User is the Finesse User object of an agent, with the agentTime field that
// Acqueon adds.
type User struct {
	URI             string      `json:"uri"`          // /finesse/api/User/{loginId}
	LoginID         string      `json:"loginId"`      // the peripheral agent ID
	LoginName       string      `json:"loginName"`    // the name the agent signs in with
	FirstName       string      `json:"firstName"`    //
	LastName        string      `json:"lastName"`     //
	Roles           []string    `json:"roles"`        // ["Agent"] or ["Agent","Supervisor"]
	IsSupervisor    bool        `json:"issupervisor"` // a real JSON boolean, as on the bus
	TeamID          string      `json:"teamId"`       // the agent's own team
	TeamName        string      `json:"teamName"`     //
	Teams           []Team      `json:"teams"`        // the teams a supervisor supervises; empty for agents
	Extension       string      `json:"extension"`    // empty while signed out
	State           State       `json:"state"`
	StateChangeTime string      `json:"stateChangeTime"` // TimeFormat; empty until the first state change
	PendingState    string      `json:"pendingState"`    // READY or NOT_READY asked for during a call; "" otherwise
	ReasonCodeID    string      `json:"reasonCodeId"`    // "-1" when the state has no reason code
	ReasonCode      *ReasonCode `json:"ReasonCode,omitempty"`
	Settings        Settings    `json:"settings"`
	WrapUpTimer     int         `json:"wrapUpTimer,string"` // seconds
	MediaType       string      `json:"mediaType"`          // "1": voice
	Dialogs         string      `json:"dialogs"`            // /finesse/api/User/{loginId}/Dialogs
	AgentTime       string      `json:"agentTime"`          // time in the current state when read: mm:ss or hh:mm:ss
}

// Team is a team as it appears in a User's list of supervised teams.
type Team struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URI  string `json:"uri"` // /finesse/api/Team/{id}
}

// Settings holds an agent's wrap-up settings. Each is OPTIONAL, REQUIRED,
// NOT_ALLOWED or REQUIRED_WITH_WRAP_UP_DATA.
type Settings struct {
	WrapUpOnIncoming string `json:"wrapUpOnIncoming"`
	WrapUpOnOutgoing string `json:"wrapUpOnOutgoing"`
}

// ReasonCode is a Finesse reason code: why an agent is NOT_READY or signed out.
// ID identifies the code in requests (reasonCodeId); Code is the number the
// contact center reports.
type ReasonCode struct {
	URI        string   `json:"uri"` // /finesse/api/ReasonCode/{id}
	ID         string   `json:"id"`
	Category   Category `json:"category"`
	Code       int      `json:"code,string"` // 1 to 65535
	Label      string   `json:"label"`
	ForAll     bool     `json:"forAll,string"`     // visible to every team
	SystemCode bool     `json:"systemCode,string"` // defined by the contact center, not an administrator
}

// WrapUpReason is a Finesse wrap-up reason, chosen by an agent after a call.
type WrapUpReason struct {
	URI    string `json:"uri"` // /finesse/api/User/{loginId}/WrapUpReason/{id}
	ID     string `json:"id"`
	Label  string `json:"label"`
	ForAll bool   `json:"forAll,string"` // visible to every team
}

// PhoneBook is a Finesse phone book with its contacts inlined.
type PhoneBook struct {
	URI      string    `json:"uri"` // /finesse/api/PhoneBook/{id}
	Name     string    `json:"name"`
	Type     string    `json:"type"` // GLOBAL or TEAM
	Contacts []Contact `json:"contacts"`
}

// The types of phone book.
const (
	PhoneBookGlobal = "GLOBAL"
	PhoneBookTeam   = "TEAM"
)

// Contact is an entry of a phone book.
type Contact struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	PhoneNumber string `json:"phoneNumber"`
	Description string `json:"description"`
	URI         string `json:"uri"` // /finesse/api/PhoneBook/{phoneBookId}/Contact/{id}
}

// SystemInfo is the Finesse SystemInfo object, with the timeDiffSeconds field
// that Acqueon adds.
type SystemInfo struct {
	URI                         string  `json:"uri"`                                // /finesse/api/SystemInfo
	CurrentTimestamp            string  `json:"currentTimestamp"`                   // TimeFormat
	TimeDiffSeconds             float64 `json:"timeDiffSeconds"`                    // a JSON number: the bus's clock minus Finesse's
	DeploymentType              string  `json:"deploymentType"`                     // UCCE or UCCX
	LastCTIHeartbeatStatus      string  `json:"lastCTIHeartbeatStatus"`             // Success or Failure
	LastSuccessCTIHeartbeatTime int64   `json:"lastSuccessCTIHeartbeatTime,string"` // Unix milliseconds
	CTIVersion                  string  `json:"ctiVersion"`
	CTIHeartbeatInterval        int     `json:"ctiHeartbeatInterval,string"` // seconds
	PeripheralID                string  `json:"peripheralId"`
	PrimaryNode                 Node    `json:"primaryNode"`
	SecondaryNode               Node    `json:"secondaryNode"`
	Status                      string  `json:"status"` // IN_SERVICE, OUT_OF_SERVICE or PARTIAL_SERVICE
	StatusReason                string  `json:"statusReason"`
	SystemAuthMode              string  `json:"systemAuthMode"`        // NON_SSO, SSO or HYBRID
	TimezoneOffset              int     `json:"timezoneOffset,string"` // minutes east of UTC
	XMPPDomain                  string  `json:"xmppDomain"`
	XMPPPubSubDomain            string  `json:"xmppPubSubDomain"`
	License                     string  `json:"license"`
}

// Node is a Finesse server of the cluster.
type Node struct {
	Host           string `json:"host"`
	HTTPSPort      int    `json:"httpsPort,string"`
	XMPPPort       int    `json:"xmppPort,string"`
	XMPPSecurePort int    `json:"xmppSecurePort,string"`
}

// MRD is a media routing domain: a kind of work (voice, chat, email) that
// the contact center routes to agents.
type MRD struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	MediaClass  string `json:"mediaClass"` // voice, chat or email
}

// Media is an agent's state in one media routing domain.
type Media struct {
	URI                string `json:"uri"` // /finesse/api/User/{loginId}/Media/{mrdId}
	ID                 string `json:"id"`  // the MRD id
	Name               string `json:"name"`
	Description        string `json:"description"`
	State              State  `json:"state"`
	StateChangeTime    string `json:"stateChangeTime"` // TimeFormat
	ReasonCodeID       string `json:"reasonCodeId"`
	Routable           bool   `json:"routable,string"`       // whether the contact center may route work to the agent
	MaxDialogLimit     int    `json:"maxDialogLimit,string"` // tasks the agent may hold at once
	InterruptAction    string `json:"interruptAction"`       // ACCEPT or IGNORE
	DialogLogoutAction string `json:"dialogLogoutAction"`    // CLOSE or TRANSFER
	Interruptible      bool   `json:"interruptible,string"`  // whether other media may interrupt this one
}

// Dialog is a Finesse voice Dialog: a call and its participants.
type Dialog struct {
	URI             string          `json:"uri"` // /finesse/api/Dialog/{id}
	ID              string          `json:"id"`
	MediaType       string          `json:"mediaType"` // Voice
	State           string          `json:"state"`     // INITIATING, INITIATED, ALERTING, ACTIVE, FAILED, DROPPED
	FromAddress     string          `json:"fromAddress"`
	ToAddress       string          `json:"toAddress"`
	MediaProperties MediaProperties `json:"mediaProperties"`
	Participants    []Participant   `json:"participants"`
}

// MediaProperties holds the call data of a Dialog.
type MediaProperties struct {
	MediaID       string         `json:"mediaId"` // 1 for voice
	DialedNumber  string         `json:"dialedNumber"`
	DNIS          string         `json:"DNIS"`
	CallType      string         `json:"callType"` // ACD_IN, OUT, AGENT_INSIDE, CONSULT, ...
	CallVariables []CallVariable `json:"callvariables"`
	// CallVariablesFrom is the loginId of the agent who gave the call
	// variables when placing the call to a number outside, carried with
	// them onto a consult leg or a transfer; absent when they are the
	// contact center's. A screen pop trusts only data without it.
	CallVariablesFrom string `json:"callVariablesFrom,omitempty"`
	WrapUpReason      string `json:"wrapUpReason,omitempty"` // set by WrapUpCall
}

// CallVariable is a call variable (callVariable1..10) or an ECC variable
// (user.<name>) of a Dialog.
type CallVariable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParseCallVariables reads call variables as a bus request gives them: a
// list of {"name", "value"} objects, or an object of names and string
// values ({"callVariable1": "ACC-42", "user.acct": "42"}), listed then by
// name. It checks the JSON only, not the names nor the values.
func ParseCallVariables(raw json.RawMessage) ([]CallVariable, error) {
	var list []CallVariable
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	var byName map[string]string
	if err := json.Unmarshal(raw, &byName); err != nil {
		return nil, errors.New(`call variables must be an object of names and string values, such as {"callVariable1": "ACC-42", "user.acct": "42"}`)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		list = append(list, CallVariable{Name: name, Value: byName[name]})
	}
	return list, nil
}

// Participant is a party to a Dialog.
type Participant struct {
	MediaAddress     string   `json:"mediaAddress"`     // an extension or number
	MediaAddressType string   `json:"mediaAddressType"` // AGENT_DEVICE, ...
	State            string   `json:"state"`            // ALERTING, ACTIVE, HELD, DROPPED, WRAP_UP, ...
	StateCause       string   `json:"stateCause"`
	StartTime        string   `json:"startTime"`       // TimeFormat
	StateChangeTime  string   `json:"stateChangeTime"` // TimeFormat
	Actions          []string `json:"actions"`         // the requested actions allowed now: ANSWER, HOLD, DROP, ...
}
