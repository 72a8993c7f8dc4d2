package cisco

// The Finesse ErrorTypes that a Connector returns.
const (
	ErrorTypeAuthorization = "Authorization Failure"
	ErrorTypeInvalidDevice = "Invalid Device"
	ErrorTypeDeviceBusy    = "Device Busy"
	ErrorTypeInvalidState  = "Invalid State"
	ErrorTypeInvalidInput  = "Invalid Input"
	ErrorTypeNotFound      = "User Not Found"
	// ErrorTypeDialogNotFound refuses a call that does not exist or that the
	// agent is not on.
	ErrorTypeDialogNotFound = "Not Found"
	// ErrorTypeInvalidSupervisor refuses a supervisor acting on an agent
	// outside the teams it supervises.
	ErrorTypeInvalidSupervisor = "Invalid Supervisor"
	// ErrorTypeUnavailable reports that the contact center could not be
	// reached in time, as during a cluster's failover; trying again later
	// may succeed.
	ErrorTypeUnavailable = "Unavailable"
	// ErrorTypeCallOperationFailure reports a call operation that the
	// switch refused after Finesse accepted the request.
	ErrorTypeCallOperationFailure = "Call Operation Failure"
	// ErrorTypeGeneric reports a failure of the contact center whose cause
	// it does not tell.
	ErrorTypeGeneric = "Generic Error"
)

// The Finesse ErrorMessages that go with them, as Finesse sends them.
// Finesse mixes CTI constant names and prose here.
const (
	ErrorMessageUnauthorized      = "UNAUTHORIZED"
	ErrorMessageInvalidDevice     = "CF_INVALID_LOGON_DEVICE_SPECIFIED"
	ErrorMessageDeviceBusy        = "CF_DEVICE_BUSY"
	ErrorMessageInvalidState      = "CF_INVALID_OBJECT_STATE"
	ErrorMessageUnknownUser       = "UNKNOWN_USER"
	ErrorMessageInvalidStateInput = "Invalid State specified for user"
	ErrorMessageInvalidReasonCode = "Invalid reasonCodeId specified for user"
	ErrorMessageInvalidCategory   = "Invalid category specified"
	ErrorMessageInvalidDialog     = "Invalid dialogId specified for dialog"
	ErrorMessageInvalidAddress    = "Invalid address specified"
	ErrorMessageInvalidCallData   = "Invalid call variable specified"
	ErrorMessageNotSupervisor     = "The user is not a supervisor"
	ErrorMessageNotTeamMember     = "The agent is not on a team the supervisor supervises"
	ErrorMessageSupervisorReady   = "Supervisor setting state to 'READY' is not allowed"
	ErrorMessageUnavailable       = "SERVICE_UNAVAILABLE"
	ErrorMessageResourceBusy      = "CF_RESOURCE_BUSY"
	// ErrorMessageActionNotAllowed goes with a Generic Error for a call
	// action the participant may not take now; its errorData names the
	// action. Finesse's own text for it varies by release.
	ErrorMessageActionNotAllowed = "The requested action is not allowed for the participant now"
)

// ctiErrorCodes are the CTI error codes Finesse sends as errorData with the
// CTI errorMessages (CF_...), as captured from Finesse on CCE.
var ctiErrorCodes = map[string]string{
	ErrorMessageInvalidState:  "22",
	ErrorMessageResourceBusy:  "33",
	ErrorMessageInvalidDevice: "260",
}

// Error is a Finesse API error.
type Error struct {
	Type    string // Finesse ErrorType, e.g. "Invalid State"
	Message string // Finesse ErrorMessage, e.g. "CF_INVALID_OBJECT_STATE"
	Text    string // one sentence for a person: what went wrong and what to do
	// Data is Finesse's errorData: the CTI error code of a CF_ message (see
	// ErrorData), or a detail such as a parameter's name; "" for none.
	Data string
}

// ErrorData returns Finesse's errorData for e: Data if set, else the CTI
// error code of its Message, if it is a CTI error with a known code.
func (e *Error) ErrorData() string {
	if e.Data != "" {
		return e.Data
	}
	return ctiErrorCodes[e.Message]
}

// Error returns "cisco: " + Type + ": " + Text, or "cisco: " + Type for a
// sentinel, which has no Text.
func (e *Error) Error() string {
	if e.Text == "" {
		return "cisco: " + e.Type
	}
	return "cisco: " + e.Type + ": " + e.Text
}

// Is reports whether target is an *Error of the same Type, so that
// errors.Is(err, ErrInvalidState) matches every Invalid State error whatever
// its Message and Text.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Type == e.Type
}

// Sentinels for errors.Is, one per ErrorType. They carry the Type only.
var (
	ErrAuthorization = &Error{Type: ErrorTypeAuthorization}
	ErrInvalidDevice = &Error{Type: ErrorTypeInvalidDevice}
	ErrDeviceBusy    = &Error{Type: ErrorTypeDeviceBusy}
	ErrInvalidState  = &Error{Type: ErrorTypeInvalidState}
	ErrInvalidInput  = &Error{Type: ErrorTypeInvalidInput}
	ErrNotFound      = &Error{Type: ErrorTypeNotFound}
	// ErrDialogNotFound matches a call that does not exist or that the agent is not on.
	ErrDialogNotFound = &Error{Type: ErrorTypeDialogNotFound}
	// ErrInvalidSupervisor matches a supervisor acting outside its teams.
	ErrInvalidSupervisor = &Error{Type: ErrorTypeInvalidSupervisor}
	// ErrUnavailable matches a contact center that could not be reached in time.
	ErrUnavailable = &Error{Type: ErrorTypeUnavailable}
)
