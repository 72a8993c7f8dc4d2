package finessetest

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"

	"github.com/ctibus/ctibus/channels/cisco"
)

// The XML of Finesse's REST API and notifications, written from the
// objects of package cisco as cisco-finesse.md documents them: element
// names in Finesse's case, every value as text, booleans as true/false.

// xmlHeader starts every GET body, as Finesse frames them.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

type wireUser struct {
	XMLName         xml.Name        // User in a GET, user in a notification
	URI             string          `xml:"uri"`
	Roles           []string        `xml:"roles>role"`
	LoginID         string          `xml:"loginId"`
	LoginName       string          `xml:"loginName"`
	FirstName       string          `xml:"firstName"`
	LastName        string          `xml:"lastName"`
	State           string          `xml:"state"`
	StateChangeTime string          `xml:"stateChangeTime"`
	PendingState    string          `xml:"pendingState"`
	ReasonCodeID    string          `xml:"reasonCodeId"`
	ReasonCode      *wireReasonCode `xml:"ReasonCode,omitempty"`
	Settings        wireSettings    `xml:"settings"`
	Extension       string          `xml:"extension"`
	MediaType       string          `xml:"mediaType"`
	TeamID          string          `xml:"teamId"`
	TeamName        string          `xml:"teamName"`
	Teams           *wireTeams      `xml:"teams,omitempty"`
	Dialogs         string          `xml:"dialogs"`
	WrapUpTimer     int             `xml:"wrapUpTimer"`
}

type wireSettings struct {
	WrapUpOnIncoming string `xml:"wrapUpOnIncoming"`
	WrapUpOnOutgoing string `xml:"wrapUpOnOutgoing"`
}

type wireTeams struct {
	Teams []wireTeamRef `xml:"Team"`
}

type wireTeamRef struct {
	ID   string `xml:"id"`
	Name string `xml:"name"`
	URI  string `xml:"uri"`
}

type wireReasonCode struct {
	XMLName    xml.Name
	URI        string `xml:"uri"`
	Category   string `xml:"category"`
	Code       int    `xml:"code"`
	Label      string `xml:"label"`
	ForAll     bool   `xml:"forAll"`
	SystemCode bool   `xml:"systemCode"`
	ID         string `xml:"id"`
}

// userXML renders u as a User: root <User> in a GET, <user> in a
// notification (as Finesse's wire has it).
func userXML(u cisco.User, root string) []byte {
	w := wireUser{
		XMLName:         xml.Name{Local: root},
		URI:             u.URI,
		Roles:           u.Roles,
		LoginID:         u.LoginID,
		LoginName:       u.LoginName,
		FirstName:       u.FirstName,
		LastName:        u.LastName,
		State:           string(u.State),
		StateChangeTime: u.StateChangeTime,
		PendingState:    u.PendingState,
		ReasonCodeID:    u.ReasonCodeID,
		Settings:        wireSettings(u.Settings),
		Extension:       u.Extension,
		MediaType:       u.MediaType,
		TeamID:          u.TeamID,
		TeamName:        u.TeamName,
		Dialogs:         u.Dialogs,
		WrapUpTimer:     u.WrapUpTimer,
	}
	if u.ReasonCode != nil {
		rc := reasonCodeWire(*u.ReasonCode, "ReasonCode")
		w.ReasonCode = &rc
	}
	if len(u.Teams) > 0 {
		w.Teams = &wireTeams{}
		for _, t := range u.Teams {
			w.Teams.Teams = append(w.Teams.Teams, wireTeamRef(t))
		}
	}
	return marshal(w)
}

func reasonCodeWire(rc cisco.ReasonCode, root string) wireReasonCode {
	return wireReasonCode{
		XMLName: xml.Name{Local: root}, URI: rc.URI, Category: string(rc.Category), Code: rc.Code,
		Label: rc.Label, ForAll: rc.ForAll, SystemCode: rc.SystemCode, ID: rc.ID,
	}
}

func reasonCodesXML(category cisco.Category, codes []cisco.ReasonCode) []byte {
	w := struct {
		XMLName  xml.Name         `xml:"ReasonCodes"`
		Category string           `xml:"category,attr"`
		Codes    []wireReasonCode `xml:"ReasonCode"`
	}{Category: string(category)}
	for _, rc := range codes {
		w.Codes = append(w.Codes, reasonCodeWire(rc, "ReasonCode"))
	}
	return marshal(w)
}

func wrapUpReasonsXML(reasons []cisco.WrapUpReason) []byte {
	type reason struct {
		URI    string `xml:"uri"`
		Label  string `xml:"label"`
		ForAll bool   `xml:"forAll"`
	}
	w := struct {
		XMLName xml.Name `xml:"WrapUpReasons"`
		Reasons []reason `xml:"WrapUpReason"`
	}{}
	for _, r := range reasons {
		w.Reasons = append(w.Reasons, reason{URI: r.URI, Label: r.Label, ForAll: r.ForAll})
	}
	return marshal(w)
}

func phoneBooksXML(books []cisco.PhoneBook) []byte {
	type contact struct {
		FirstName   string `xml:"firstName"`
		LastName    string `xml:"lastName"`
		PhoneNumber string `xml:"phoneNumber"`
		Description string `xml:"description"`
		URI         string `xml:"uri"`
	}
	type book struct {
		URI      string    `xml:"uri"`
		Name     string    `xml:"name"`
		Type     string    `xml:"type"`
		Contacts []contact `xml:"Contacts>Contact"`
	}
	w := struct {
		XMLName xml.Name `xml:"PhoneBooks"`
		Books   []book   `xml:"PhoneBook"`
	}{}
	for _, b := range books {
		wb := book{URI: b.URI, Name: b.Name, Type: b.Type}
		for _, c := range b.Contacts {
			wb.Contacts = append(wb.Contacts, contact(c))
		}
		w.Books = append(w.Books, wb)
	}
	return marshal(w)
}

type wireMedia struct {
	XMLName            xml.Name `xml:"Media"`
	URI                string   `xml:"uri"`
	ID                 string   `xml:"id"`
	Name               string   `xml:"name"`
	Description        string   `xml:"description"`
	MediaClass         string   `xml:"mediaClass,omitempty"`
	State              string   `xml:"state"`
	StateChangeTime    string   `xml:"stateChangeTime"`
	ReasonCodeID       string   `xml:"reasonCodeId"`
	Routable           bool     `xml:"routable"`
	MaxDialogLimit     int      `xml:"maxDialogLimit"`
	InterruptAction    string   `xml:"interruptAction"`
	DialogLogoutAction string   `xml:"dialogLogoutAction"`
	Interruptible      bool     `xml:"interruptible"`
}

// mediaListXML renders the agent's Media, each with the mediaClass of its
// MRD (a field of Finesse 12.6(2)), from which a client learns the MRDs.
func mediaListXML(media []cisco.Media, mrds []cisco.MRD) []byte {
	w := struct {
		XMLName xml.Name    `xml:"MediaList"`
		Media   []wireMedia `xml:"Media"`
	}{}
	for _, m := range media {
		w.Media = append(w.Media, mediaWire(m, mediaClass(mrds, m.ID)))
	}
	return marshal(w)
}

// mediaClass returns the class of the MRD id: voice, chat or email.
func mediaClass(mrds []cisco.MRD, id string) string {
	for _, m := range mrds {
		if m.ID == id {
			return m.MediaClass
		}
	}
	return ""
}

func mediaWire(m cisco.Media, class string) wireMedia {
	return wireMedia{
		URI: m.URI, ID: m.ID, Name: m.Name, Description: m.Description, MediaClass: class,
		State: string(m.State), StateChangeTime: m.StateChangeTime, ReasonCodeID: m.ReasonCodeID,
		Routable: m.Routable, MaxDialogLimit: m.MaxDialogLimit, InterruptAction: m.InterruptAction,
		DialogLogoutAction: m.DialogLogoutAction, Interruptible: m.Interruptible,
	}
}

type wireDialog struct {
	XMLName         xml.Name            // Dialog, or dialog in a PUT notification
	URI             string              `xml:"uri"`
	ID              string              `xml:"id"`
	MediaType       string              `xml:"mediaType"`
	State           string              `xml:"state"`
	FromAddress     string              `xml:"fromAddress"`
	ToAddress       string              `xml:"toAddress"`
	MediaProperties wireMediaProperties `xml:"mediaProperties"`
	Participants    []wireParticipant   `xml:"participants>Participant"`
}

type wireMediaProperties struct {
	MediaID       string             `xml:"mediaId"`
	DialedNumber  string             `xml:"dialedNumber"`
	DNIS          string             `xml:"DNIS"`
	CallType      string             `xml:"callType"`
	WrapUpReason  string             `xml:"wrapUpReason"`
	CallVariables []wireCallVariable `xml:"callvariables>CallVariable"`
}

type wireCallVariable struct {
	Name  string `xml:"name"`
	Value string `xml:"value"`
}

type wireParticipant struct {
	Actions          []string `xml:"actions>action"`
	MediaAddress     string   `xml:"mediaAddress"`
	MediaAddressType string   `xml:"mediaAddressType"`
	StartTime        string   `xml:"startTime"`
	State            string   `xml:"state"`
	StateCause       string   `xml:"stateCause"`
	StateChangeTime  string   `xml:"stateChangeTime"`
}

func dialogWire(d cisco.Dialog) wireDialog {
	w := wireDialog{
		XMLName: xml.Name{Local: "Dialog"},
		URI:     d.URI, ID: d.ID, MediaType: d.MediaType, State: d.State, FromAddress: d.FromAddress, ToAddress: d.ToAddress,
		MediaProperties: wireMediaProperties{
			MediaID: d.MediaProperties.MediaID, DialedNumber: d.MediaProperties.DialedNumber, DNIS: d.MediaProperties.DNIS,
			CallType: d.MediaProperties.CallType, WrapUpReason: d.MediaProperties.WrapUpReason,
		},
	}
	for _, v := range d.MediaProperties.CallVariables {
		w.MediaProperties.CallVariables = append(w.MediaProperties.CallVariables, wireCallVariable(v))
	}
	for _, p := range d.Participants {
		w.Participants = append(w.Participants, wireParticipant{
			Actions: p.Actions, MediaAddress: p.MediaAddress, MediaAddressType: p.MediaAddressType,
			StartTime: p.StartTime, State: p.State, StateCause: p.StateCause, StateChangeTime: p.StateChangeTime,
		})
	}
	return w
}

// dialogXML renders one Dialog, with root name root (Dialog, or dialog in a
// PUT notification).
func dialogXML(d cisco.Dialog, root string) []byte {
	w := dialogWire(d)
	w.XMLName = xml.Name{Local: root}
	return marshal(w)
}

// dialogsXML renders a <Dialogs> list (a GET) or <dialogs> (a
// notification's data).
func dialogsXML(ds []cisco.Dialog, root string) []byte {
	w := struct {
		XMLName xml.Name
		Dialogs []wireDialog `xml:"Dialog"`
	}{XMLName: xml.Name{Local: root}}
	for _, d := range ds {
		w.Dialogs = append(w.Dialogs, dialogWire(d))
	}
	return marshal(w)
}

type wireNode struct {
	Host           string `xml:"host"`
	HTTPSPort      int    `xml:"httpsPort"`
	XMPPPort       int    `xml:"xmppPort"`
	XMPPSecurePort int    `xml:"xmppSecurePort"`
}

func systemInfoXML(si cisco.SystemInfo) []byte {
	w := struct {
		XMLName                     xml.Name  `xml:"SystemInfo"`
		CurrentTimestamp            string    `xml:"currentTimestamp"`
		DeploymentType              string    `xml:"deploymentType"`
		LastCTIHeartbeatStatus      string    `xml:"lastCTIHeartbeatStatus"`
		LastSuccessCTIHeartbeatTime int64     `xml:"lastSuccessCTIHeartbeatTime"`
		CTIVersion                  string    `xml:"ctiVersion"`
		CTIHeartbeatInterval        int       `xml:"ctiHeartbeatInterval"`
		License                     string    `xml:"license"`
		PeripheralID                string    `xml:"peripheralId"`
		PrimaryNode                 wireNode  `xml:"primaryNode"`
		SecondaryNode               *wireNode `xml:"secondaryNode,omitempty"`
		Status                      string    `xml:"status"`
		StatusReason                string    `xml:"statusReason"`
		SystemAuthMode              string    `xml:"systemAuthMode"`
		TimezoneOffset              int       `xml:"timezoneOffset"`
		URI                         string    `xml:"uri"`
		XMPPDomain                  string    `xml:"xmppDomain"`
		XMPPPubSubDomain            string    `xml:"xmppPubSubDomain"`
	}{
		CurrentTimestamp: si.CurrentTimestamp, DeploymentType: si.DeploymentType,
		LastCTIHeartbeatStatus: si.LastCTIHeartbeatStatus, LastSuccessCTIHeartbeatTime: si.LastSuccessCTIHeartbeatTime,
		CTIVersion: si.CTIVersion, CTIHeartbeatInterval: si.CTIHeartbeatInterval, License: si.License,
		PeripheralID: si.PeripheralID, PrimaryNode: wireNode(si.PrimaryNode), Status: si.Status,
		StatusReason: si.StatusReason, SystemAuthMode: si.SystemAuthMode, TimezoneOffset: si.TimezoneOffset,
		URI: si.URI, XMPPDomain: si.XMPPDomain, XMPPPubSubDomain: si.XMPPPubSubDomain,
	}
	if si.SecondaryNode.Host != "" {
		n := wireNode(si.SecondaryNode)
		w.SecondaryNode = &n
	}
	return marshal(w)
}

// teamXML renders a Team with a summary of each of its users, as Finesse's
// Team object lists them (lower-case reasonCode).
func teamXML(id, name string, users []cisco.User) []byte {
	type user struct {
		URI             string          `xml:"uri"`
		LoginID         string          `xml:"loginId"`
		LoginName       string          `xml:"loginName"`
		FirstName       string          `xml:"firstName"`
		LastName        string          `xml:"lastName"`
		Dialogs         string          `xml:"dialogs"`
		Extension       string          `xml:"extension"`
		PendingState    string          `xml:"pendingState"`
		State           string          `xml:"state"`
		StateChangeTime string          `xml:"stateChangeTime"`
		ReasonCodeID    string          `xml:"reasonCodeId"`
		ReasonCode      *wireReasonCode `xml:"reasonCode,omitempty"`
	}
	w := struct {
		XMLName xml.Name `xml:"Team"`
		URI     string   `xml:"uri"`
		ID      string   `xml:"id"`
		Name    string   `xml:"name"`
		Users   []user   `xml:"users>User"`
	}{URI: "/finesse/api/Team/" + id, ID: id, Name: name}
	for _, u := range users {
		wu := user{
			URI: u.URI, LoginID: u.LoginID, LoginName: u.LoginName, FirstName: u.FirstName, LastName: u.LastName,
			Dialogs: u.Dialogs, Extension: u.Extension, PendingState: u.PendingState, State: string(u.State),
			StateChangeTime: u.StateChangeTime, ReasonCodeID: u.ReasonCodeID,
		}
		if u.ReasonCode != nil {
			rc := reasonCodeWire(*u.ReasonCode, "reasonCode")
			wu.ReasonCode = &rc
		}
		w.Users = append(w.Users, wu)
	}
	return marshal(w)
}

// apiError is one error of Finesse's synchronous ApiErrors body, or of an
// asynchronous apiErrors notification.
type apiError struct {
	Type    string // ErrorType: Invalid State, Authorization Failure, ...
	Message string // ErrorMessage: CF_INVALID_OBJECT_STATE, UNAUTHORIZED, ...
	Data    string // ErrorData: a CTI code, a parameter's name, a user id
	// Text is the human-readable sentence, sent as CCE's peripheralErrorText
	// in an apiErrors notification; a synchronous ApiErrors body has no
	// place for it.
	Text string
}

// apiErrorsXML renders a synchronous error body:
// <ApiErrors><ApiError><ErrorType>...
func apiErrorsXML(e apiError) []byte {
	w := struct {
		XMLName xml.Name `xml:"ApiErrors"`
		Error   struct {
			ErrorType    string `xml:"ErrorType"`
			ErrorMessage string `xml:"ErrorMessage"`
			ErrorData    string `xml:"ErrorData"`
		} `xml:"ApiError"`
	}{}
	w.Error.ErrorType, w.Error.ErrorMessage, w.Error.ErrorData = e.Type, e.Message, e.Data
	return marshal(w)
}

// asyncErrorXML renders the data of an apiErrors notification, with the
// lower-camel names of the captures.
func asyncErrorXML(e apiError) []byte {
	w := struct {
		XMLName xml.Name `xml:"apiErrors"`
		Error   struct {
			ErrorType           string `xml:"errorType"`
			ErrorMessage        string `xml:"errorMessage"`
			PeripheralErrorText string `xml:"peripheralErrorText,omitempty"`
			ErrorData           string `xml:"errorData"`
		} `xml:"apiError"`
	}{}
	w.Error.ErrorType, w.Error.ErrorMessage, w.Error.ErrorData = e.Type, e.Message, e.Data
	w.Error.PeripheralErrorText = e.Text
	return marshal(w)
}

// updateXML wraps data in a notification's <Update>, in the order of the
// User captures: data, event, requestId, source.
func updateXML(data []byte, event, requestID, source string) []byte {
	return update(data, [][2]string{{"event", event}, {"requestId", requestID}, {"source", source}})
}

// errorUpdateXML wraps an apiErrors in an <Update>, in the order of the
// error captures: data, requestId, source, event. Finesse's element order
// varies, and a client must not depend on it.
func errorUpdateXML(data []byte, event, requestID, source string) []byte {
	return update(data, [][2]string{{"requestId", requestID}, {"source", source}, {"event", event}})
}

func update(data []byte, fields [][2]string) []byte {
	var b bytes.Buffer
	b.WriteString("<Update>\n  <data>")
	b.Write(data)
	b.WriteString("</data>")
	for _, f := range fields {
		b.WriteString("\n  <" + f[0] + ">")
		_ = xml.EscapeText(&b, []byte(f[1]))
		b.WriteString("</" + f[0] + ">")
	}
	b.WriteString("\n</Update>")
	return b.Bytes()
}

func marshal(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		panic("finessetest: marshal: " + err.Error()) // the wire types marshal always
	}
	return b
}

// requestBody is what a PUT or POST body of the User and Dialog APIs may
// hold.
type requestBody struct {
	XMLName            xml.Name
	State              *string `xml:"state"`
	Extension          *string `xml:"extension"`
	ReasonCodeID       *string `xml:"reasonCodeId"`
	RequestedAction    *string `xml:"requestedAction"`
	FromAddress        string  `xml:"fromAddress"`
	ToAddress          string  `xml:"toAddress"`
	TargetMediaAddress string  `xml:"targetMediaAddress"`
	AssociatedDialog   string  `xml:"associatedDialogUri"`
	MediaProperties    struct {
		WrapUpReason  *string            `xml:"wrapUpReason"`
		CallVariables []wireCallVariable `xml:"callvariables>CallVariable"`
	} `xml:"mediaProperties"`
}

// lastSegment returns what follows the last / of a URI.
func lastSegment(uri string) string {
	return uri[strings.LastIndexByte(uri, '/')+1:]
}

func itoa(i int) string { return strconv.Itoa(i) }
