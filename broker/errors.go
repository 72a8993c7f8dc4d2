package broker

import (
	"fmt"
	"unicode/utf8"
)

// The errorType values of the bus's own rules, sent on PubSub/Error/SetAPIError
// (and on a handled channel's error triple for Unknown API and Not Registered).
// Channels add their own types; these names are part of the wire protocol.
const (
	ErrTypeInvalidFrame       = "Invalid Frame"       // not JSON, not an object, or a binary frame
	ErrTypeInvalidInput       = "Invalid Input"       // an empty, mistyped or over-long field
	ErrTypeParameterMissing   = "Parameter Missing"   // a required field of data is absent, as Finesse says it
	ErrTypeUnknownAPI         = "Unknown API"         // no handler for the triple on a handled channel
	ErrTypeNotRegistered      = "Not Registered"      // the app has not registered (on that channel)
	ErrTypeInvalidPattern     = "Invalid Pattern"     // a subscription pattern that cannot match
	ErrTypeLimitExceeded      = "Limit Exceeded"      // too many subscriptions on one connection
	ErrTypeRateLimited        = "Rate Limited"        // frames sent faster than the connection's rate limit
	ErrTypeForbidden          = "Forbidden"           // outside what the app's grant allows
	ErrTypeInvalidCredentials = "Invalid Credentials" // a workspace token or app credential that admits nothing
	ErrTypeUnavailable        = "Unavailable"         // the server is shutting down
	ErrTypeInternal           = "Internal Error"      // a fault of the server, logged there
)

// APIError is an error that an app sees as a SetAPIError event. Handlers
// return it (possibly wrapped); the broker puts it on the wire, on the
// request's channel, to the requester's scope (see Broker.handlerError).
type APIError struct {
	Type    string // errorType: the category, one of a small documented set
	Message string // errorMessage: the technical detail
	Msg     string // msg: what went wrong and what to do, for a person
	Data    string // errorData: Finesse's detail (a CTI error code, a field's name); "" for none
}

func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Message) }

// errorPacket is the payload of SetAPIError, in the Acqueon shape.
type errorPacket struct {
	Packet string       `json:"packet"`
	Data   errorDetails `json:"data"`
}

// docsErrorPacket is the same error as the docs' SetAPIError sample nests
// it, under the envelope's "data" and a "data " key with a trailing space:
// {"packet":"apierror","data ":{...}}. A widget written from the sample
// reads it there.
type docsErrorPacket struct {
	Packet string       `json:"packet"`
	Data   errorDetails `json:"data "`
}

type errorDetails struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
	Msg          string `json:"msg"`
	ErrorData    string `json:"errorData,omitempty"`
}

// Bounds on what an error echoes, so that an error is never much larger
// than a small constant whatever the request: each key or value quoted in
// it is clipped to maxEcho bytes, and each of its texts to maxErrorText.
const (
	maxEcho      = 64
	maxErrorText = 1024
)

// Clip returns s, or its first 64 bytes (whole characters) and an ellipsis
// if it is longer. Errors quote what a client sent through Clip.
func Clip(s string) string { return clipTo(s, maxEcho) }

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ErrorEvent is the SetAPIError event of e on channel, as the broker sends
// a handler's error, for errors that reach apps another way: those the
// contact center reports after a request was taken up.
func ErrorEvent(channel string, e *APIError, correlationID string) Event {
	return errorEvent(channel, e, correlationID)
}

// errorEvent renders e as channel/Error/SetAPIError, its texts clipped,
// under "message" in the bus's shape and under "data" in the docs' sample's.
func errorEvent(channel string, e *APIError, correlationID string) Event {
	details := errorDetails{
		ErrorType:    clipTo(e.Type, maxEcho),
		ErrorMessage: clipTo(e.Message, maxErrorText),
		Msg:          clipTo(e.Msg, maxErrorText),
		ErrorData:    clipTo(e.Data, maxEcho),
	}
	return Event{
		Channel:       channel,
		Topic:         "Error",
		Subtopic:      "SetAPIError",
		Message:       errorPacket{Packet: "apierror", Data: details},
		Data:          docsErrorPacket{Packet: "apierror", Data: details},
		CorrelationID: correlationID,
	}
}
