package sim

// DirectoryFile is the format of an agents file, as LoadDirectory reads it
// and a tool that writes one (ctibench, a test) encodes it with
// encoding/json: one type, so that the reader and the writers cannot
// disagree. LoadDirectory checks every field; the README's "Your own agents"
// describes them.
type DirectoryFile struct {
	Teams         []FileTeam         `json:"teams"`
	Agents        []FileAgent        `json:"agents"`
	ReasonCodes   []FileReasonCode   `json:"reasonCodes,omitempty"`
	WrapUpReasons []FileWrapUpReason `json:"wrapUpReasons,omitempty"`
	PhoneBooks    []FilePhoneBook    `json:"phoneBooks,omitempty"`
	Devices       []string           `json:"devices,omitempty"` // the extensions agents may sign in on
}

// FileTeam is a team of an agents file.
type FileTeam struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// FileAgent is an agent of an agents file.
type FileAgent struct {
	LoginID          string   `json:"loginId"`
	LoginName        string   `json:"loginName,omitempty"` // "": the loginId
	FirstName        string   `json:"firstName"`
	LastName         string   `json:"lastName"`
	PasswordHash     string   `json:"passwordHash"` // bcrypt, one cost for all
	TeamID           string   `json:"teamId"`
	Supervisor       bool     `json:"supervisor,omitempty"`
	SupervisedTeams  []string `json:"supervisedTeams,omitempty"`
	WrapUpTimer      *int     `json:"wrapUpTimer,omitempty"` // nil: the default
	WrapUpOnIncoming string   `json:"wrapUpOnIncoming,omitempty"`
	WrapUpOnOutgoing string   `json:"wrapUpOnOutgoing,omitempty"`
}

// FileReasonCode is a reason code of an agents file.
type FileReasonCode struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Code     int      `json:"code"`
	Label    string   `json:"label"`
	ForAll   bool     `json:"forAll,omitempty"`
	Teams    []string `json:"teams,omitempty"`
}

// FileWrapUpReason is a wrap-up reason of an agents file.
type FileWrapUpReason struct {
	ID     string   `json:"id"`
	Label  string   `json:"label"`
	ForAll bool     `json:"forAll,omitempty"`
	Teams  []string `json:"teams,omitempty"`
}

// FilePhoneBook is a phone book of an agents file.
type FilePhoneBook struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Type     string        `json:"type"`
	Teams    []string      `json:"teams,omitempty"`
	Contacts []FileContact `json:"contacts"`
}

// FileContact is a contact of a phone book.
type FileContact struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	PhoneNumber string `json:"phoneNumber"`
	Description string `json:"description,omitempty"`
}
