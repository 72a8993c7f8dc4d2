package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"
	"github.com/ctibus/ctibus/internal/jsonconfig"

	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Directory is the configuration the simulator serves: teams, agents with
// their bcrypt password hashes, reason codes, wrap-up reasons and phone books.
// A Directory is immutable once loaded and safe for concurrent use.
//
// A directory file is one JSON object. Unknown fields are refused, so a
// misspelt field is an error rather than a silent default. Only teams and
// agents are required: when reasonCodes, wrapUpReasons or phoneBooks is
// absent, the demo directory's entries are used, keeping those assigned to
// the file's teams. An empty array means none.
//
//	{
//	  "teams": [
//	    {"id": "5004", "name": "RTTeam2"}
//	  ],
//	  "agents": [
//	    {
//	      "loginId": "100501",           // digits: the peripheral agent ID
//	      "loginName": "ciscotest",      // optional, defaults to loginId; unique without regard to case
//	      "firstName": "Cisco",
//	      "lastName": "Test",
//	      "passwordHash": "$2a$10$...",  // from "ctibus hash-password"; never the password
//	      "teamId": "5004",
//	      "supervisor": false,           // optional
//	      "supervisedTeams": [],         // team ids, supervisors only
//	      "wrapUpTimer": 60,             // optional, seconds, 1 to 7200
//	      "wrapUpOnIncoming": "OPTIONAL",   // optional: OPTIONAL (default), REQUIRED,
//	      "wrapUpOnOutgoing": "NOT_ALLOWED" // NOT_ALLOWED (default) or REQUIRED_WITH_WRAP_UP_DATA
//	    }
//	  ],
//	  "reasonCodes": [
//	    {"id": "1", "category": "NOT_READY", "code": 1, "label": "Break", "forAll": true},
//	    {"id": "28", "category": "LOGOUT", "code": 28, "label": "End of Shift", "forAll": true},
//	    {"id": "6", "category": "NOT_READY", "code": 6, "label": "Back Office", "forAll": false, "teams": ["5004"]}
//	  ],
//	  "wrapUpReasons": [
//	    {"id": "1", "label": "Inprogress", "forAll": true}
//	  ],
//	  "phoneBooks": [
//	    {"id": "1", "name": "Company Directory", "type": "GLOBAL", "contacts": [
//	      {"firstName": "IT", "lastName": "Help Desk", "phoneNumber": "5054", "description": "Internal IT support"}
//	    ]},
//	    {"id": "2", "name": "RTTeam2 Escalations", "type": "TEAM", "teams": ["5004"], "contacts": []}
//	  ],
//	  "devices": ["5000-5999", "6123"] // optional: the extensions agents may sign in on
//	}
//
// (JSON has no comments; they are here to explain the fields.) All ids are
// strings of digits. A reason code's category is NOT_READY or LOGOUT, its code
// 1 to 65535 and unique within the category, its label at most 40
// characters; a wrap-up reason's label is at most 39 bytes. An entry with
// forAll true is visible to every team and lists no teams; otherwise it lists
// the teams that see it. A GLOBAL phone book lists no teams, a TEAM one lists
// at least one. devices lists the contact center's phones, as extensions or
// ranges "first-last" of as many digits; an agent signing in on any other
// extension gets Invalid Device, as on Finesse. Without devices, any
// extension of 3 to 15 digits is one. testdata/agents.example.json is a
// complete example.
type Directory struct {
	teams       map[string]string // team id → name
	agents      []*dirAgent       // in file order
	byLoginID   map[string]*dirAgent
	byLoginName map[string]*dirAgent // keyed by nameKey(loginName)
	// supervisors are the supervisors of each team, by team id, in file
	// order: every change of an agent names its team's signed-in ones.
	supervisors   map[string][]*dirAgent
	reasonCodes   []dirReasonCode
	wrapUpReasons []dirWrapUpReason
	phoneBooks    []dirPhoneBook // GLOBAL books first, then TEAM books, each in file order
	// devices are the extensions agents may sign in on; none listed means
	// any extension of 3 to 15 digits.
	devices []deviceRange
	// dummyHash is compared against when a username is unknown, so that an
	// unknown user costs the same bcrypt work as a wrong password. Its cost is
	// the agents' hashes' one.
	dummyHash []byte
}

type dirAgent struct {
	loginID, loginName  string
	firstName, lastName string
	hash                []byte
	teamID, teamName    string
	supervisor          bool
	supervised          []cisco.Team
	wrapUpTimer         int
	settings            cisco.Settings
}

type dirReasonCode struct {
	cisco.ReasonCode
	teams []string
}

type dirWrapUpReason struct {
	id, label string
	forAll    bool
	teams     []string
}

type dirPhoneBook struct {
	cisco.PhoneBook
	teams []string
}

// visibleTo reports whether an entry with forAll and teams is visible to a
// member of team.
func visibleTo(forAll bool, teams []string, team string) bool {
	return forAll || slices.Contains(teams, team)
}

// nameKey folds a loginName for case-insensitive lookup.
func nameKey(name string) string { return strings.ToLower(name) }

// Limits of the directory. The Finesse ones come from Cisco's API tables.
const (
	maxDirectorySize    = 64 << 20 // bytes; 50,000 contacts fit several times over
	maxReasonCodeLabel  = 40       // characters
	maxWrapUpLabel      = 39       // bytes
	maxContactField     = 128      // characters, for names and description
	maxPhoneNumber      = 32       // characters
	maxGlobalPhoneBooks = 10
	maxTeamPhoneBooks   = 300
	maxBookContacts     = 6000
	maxContacts         = 50000
	defaultWrapUpTimer  = 60   // seconds
	maxWrapUpTimer      = 7200 // seconds
	defaultWrapUpIn     = "OPTIONAL"
	defaultWrapUpOut    = "NOT_ALLOWED"
)

// systemReasonCodes are codes the contact center itself reports (255 forced
// logout, 50006 off-hook, the CCX 327xx family). Finesse never lists them,
// and a configured code with one of these numbers would be ambiguous.
var systemReasonCodes = []int{255, 50006, 32755, 32758, 32760, 32762, 32763, 32765, 32767}

// DirectoryError reports a problem in a directory file and where it is.
// It is a jsonconfig.Error, as every config file of ctibus reports one.
type DirectoryError jsonconfig.Error

// Error returns the file, position and field path followed by the message,
// like a compiler: "cisco: agents.json:12:7: agents[2].teamId: ...".
func (e *DirectoryError) Error() string {
	c := jsonconfig.Error(*e)
	c.Kind = "directory"
	return "cisco: " + c.Error()
}

// LoadDirectory reads and checks a directory in the JSON format described on
// Directory. Every problem is a *DirectoryError naming the field path and,
// where the field is in the input, its line and column.
func LoadDirectory(r io.Reader) (*Directory, error) {
	doc, err := jsonconfig.Read(r, "", "directory", maxDirectorySize)
	return load(doc, err)
}

// LoadDirectoryFile reads and checks the directory file at path. See
// LoadDirectory.
func LoadDirectoryFile(path string) (*Directory, error) {
	doc, err := jsonconfig.ReadFile(path, "directory", maxDirectorySize)
	return load(doc, err)
}

func load(doc *jsonconfig.Document, err error) (*Directory, error) {
	if err == nil {
		var f DirectoryFile
		if err = doc.Decode(&f); err == nil {
			d, derr := build(&f)
			if derr == nil {
				return d, nil
			}
			err = doc.Locate((*jsonconfig.Error)(derr))
		}
	}
	if ce := (*jsonconfig.Error)(nil); errors.As(err, &ce) {
		return nil, (*DirectoryError)(ce)
	}
	return nil, fmt.Errorf("cisco: %w", err)
}

// builder accumulates a Directory while checking a DirectoryFile.
type builder struct {
	d *Directory
}

func fail(field, format string, args ...any) *DirectoryError {
	return &DirectoryError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// build checks f and turns it into a Directory. It reports the first problem
// in file order.
func build(f *DirectoryFile) (*Directory, *DirectoryError) {
	b := builder{d: &Directory{
		teams:       map[string]string{},
		byLoginID:   map[string]*dirAgent{},
		byLoginName: map[string]*dirAgent{},
		supervisors: map[string][]*dirAgent{},
	}}
	steps := []func(*DirectoryFile) *DirectoryError{b.teams, b.agents, b.reasonCodes, b.wrapUpReasons, b.phoneBooks, b.devices}
	for _, step := range steps {
		if err := step(f); err != nil {
			return nil, err
		}
	}
	return b.d, nil
}

func (b *builder) teams(f *DirectoryFile) *DirectoryError {
	if len(f.Teams) == 0 {
		return fail("teams", "no teams; every agent belongs to a team")
	}
	for i, t := range f.Teams {
		p := fmt.Sprintf("teams[%d]", i)
		if err := checkID(p+".id", t.ID); err != nil {
			return err
		}
		if _, dup := b.d.teams[t.ID]; dup {
			return fail(p+".id", "team %s is listed twice", t.ID)
		}
		if strings.TrimSpace(t.Name) == "" {
			return fail(p+".name", "missing team name")
		}
		b.d.teams[t.ID] = t.Name
	}
	return nil
}

func (b *builder) agents(f *DirectoryFile) *DirectoryError {
	if len(f.Agents) == 0 {
		return fail("agents", "no agents; nobody could sign in")
	}
	firstCost := 0
	for i, fa := range f.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		a, cost, err := b.agent(p, fa)
		if err != nil {
			return err
		}
		// One cost for all: a sign-in then takes as long whoever signs in,
		// and an unknown username as long as a known one.
		if i == 0 {
			firstCost = cost
		} else if cost != firstCost {
			return fail(p+".passwordHash", "bcrypt cost %d differs from cost %d of agents[0]; hash every password at one cost (ctibus hash-password uses %d), so that the time of a sign-in tells no agent from another or from an unknown name",
				cost, firstCost, bcrypt.DefaultCost)
		}
		if other, dup := b.d.byLoginID[a.loginID]; dup {
			return fail(p+".loginId", "loginId %s is also the loginId of %s", a.loginID, other.loginName)
		}
		if other, dup := b.d.byLoginName[nameKey(a.loginName)]; dup {
			return fail(p+".loginName", "loginName %q is already used by loginId %s (names are compared without regard to case)",
				a.loginName, other.loginID)
		}
		b.d.agents = append(b.d.agents, a)
		b.d.byLoginID[a.loginID] = a
		b.d.byLoginName[nameKey(a.loginName)] = a
		for _, t := range a.supervised {
			b.d.supervisors[t.ID] = append(b.d.supervisors[t.ID], a)
		}
	}
	// Sign-in tries the loginId first, so a loginName that is another
	// agent's loginId would make that agent unreachable by name.
	for i, a := range b.d.agents {
		if other, ok := b.d.byLoginID[a.loginName]; ok && other != a {
			return fail(fmt.Sprintf("agents[%d].loginName", i), "loginName %q is the loginId of another agent; sign-in could not tell them apart", a.loginName)
		}
	}
	b.d.dummyHash = dummyHash(firstCost)
	return nil
}

func (b *builder) agent(p string, fa FileAgent) (*dirAgent, int, *DirectoryError) {
	if fa.LoginID == "" {
		return nil, 0, fail(p+".loginId", "missing loginId")
	}
	if !isDigits(fa.LoginID) {
		return nil, 0, fail(p+".loginId", "loginId %q must be digits, like the peripheral agent ID", clip.Short(fa.LoginID))
	}
	a := &dirAgent{
		loginID:     fa.LoginID,
		loginName:   fa.LoginName,
		firstName:   fa.FirstName,
		lastName:    fa.LastName,
		teamID:      fa.TeamID,
		supervisor:  fa.Supervisor,
		supervised:  []cisco.Team{},
		wrapUpTimer: defaultWrapUpTimer,
		settings:    cisco.Settings{WrapUpOnIncoming: defaultWrapUpIn, WrapUpOnOutgoing: defaultWrapUpOut},
	}
	if a.loginName == "" {
		a.loginName = a.loginID
	}
	if strings.ContainsFunc(a.loginName, func(r rune) bool { return r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		// A colon cannot travel in an HTTP Basic username.
		return nil, 0, fail(p+".loginName", "loginName %q must not contain spaces or ':'", clip.Short(a.loginName))
	}
	cost, err := checkHash(p+".passwordHash", fa.PasswordHash)
	if err != nil {
		return nil, 0, err
	}
	a.hash = []byte(fa.PasswordHash)
	if err := b.checkTeam(p+".teamId", fa.TeamID); err != nil {
		return nil, 0, err
	}
	a.teamName = b.d.teams[fa.TeamID]
	switch {
	case !fa.Supervisor && len(fa.SupervisedTeams) > 0:
		return nil, 0, fail(p+".supervisedTeams", "only a supervisor supervises teams; set supervisor to true or remove supervisedTeams")
	case fa.Supervisor && len(fa.SupervisedTeams) == 0:
		return nil, 0, fail(p+".supervisedTeams", "a supervisor needs at least one team to supervise")
	}
	if err := b.checkTeams(p+".supervisedTeams", fa.SupervisedTeams); err != nil {
		return nil, 0, err
	}
	for _, id := range fa.SupervisedTeams {
		a.supervised = append(a.supervised, cisco.Team{ID: id, Name: b.d.teams[id], URI: "/finesse/api/Team/" + id})
	}
	if fa.WrapUpTimer != nil {
		if t := *fa.WrapUpTimer; t < 1 || t > maxWrapUpTimer {
			return nil, 0, fail(p+".wrapUpTimer", "wrapUpTimer %d is outside 1 to %d seconds", t, maxWrapUpTimer)
		}
		a.wrapUpTimer = *fa.WrapUpTimer
	}
	for _, s := range []struct {
		field, value string
		dst          *string
	}{
		{"wrapUpOnIncoming", fa.WrapUpOnIncoming, &a.settings.WrapUpOnIncoming},
		{"wrapUpOnOutgoing", fa.WrapUpOnOutgoing, &a.settings.WrapUpOnOutgoing},
	} {
		switch s.value {
		case "":
		case "OPTIONAL", "REQUIRED", "NOT_ALLOWED", "REQUIRED_WITH_WRAP_UP_DATA":
			*s.dst = s.value
		default:
			return nil, 0, fail(p+"."+s.field, "%q must be OPTIONAL, REQUIRED, NOT_ALLOWED or REQUIRED_WITH_WRAP_UP_DATA", clip.Short(s.value))
		}
	}
	return a, cost, nil
}

func (b *builder) reasonCodes(f *DirectoryFile) *DirectoryError {
	entries := f.ReasonCodes
	if entries == nil {
		entries = borrowReasonCodes(b.d.teams)
	}
	ids := map[string]bool{}
	type catKey struct {
		category string
		key      string
	}
	seen := map[catKey]int{} // (category, code or label) → index
	for i, rc := range entries {
		p := fmt.Sprintf("reasonCodes[%d]", i)
		if err := checkID(p+".id", rc.ID); err != nil {
			return err
		}
		if ids[rc.ID] {
			return fail(p+".id", "reason code id %s is used twice", rc.ID)
		}
		ids[rc.ID] = true
		if !cisco.Category(rc.Category).Known() {
			return fail(p+".category", "category %q must be NOT_READY or LOGOUT", clip.Short(rc.Category))
		}
		if rc.Code < 1 || rc.Code > 65535 {
			return fail(p+".code", "code %d is outside 1 to 65535", rc.Code)
		}
		if slices.Contains(systemReasonCodes, rc.Code) {
			return fail(p+".code", "code %d is reserved by the contact center for system reasons", rc.Code)
		}
		if err := checkLabel(p+".label", rc.Label); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(rc.Label); n > maxReasonCodeLabel {
			return fail(p+".label", "label is %d characters; Finesse allows at most %d", n, maxReasonCodeLabel)
		}
		codeKey := catKey{rc.Category, strconv.Itoa(rc.Code)}
		if j, dup := seen[codeKey]; dup {
			return fail(p+".code", "%s code %d is already used by reasonCodes[%d]", rc.Category, rc.Code, j)
		}
		seen[codeKey] = i
		labelKey := catKey{rc.Category, "label:" + rc.Label}
		if j, dup := seen[labelKey]; dup {
			return fail(p+".label", "%s label %q is already used by reasonCodes[%d]", rc.Category, rc.Label, j)
		}
		seen[labelKey] = i
		if err := b.checkAssignment(p, rc.ForAll, rc.Teams); err != nil {
			return err
		}
		b.d.reasonCodes = append(b.d.reasonCodes, dirReasonCode{
			ReasonCode: cisco.ReasonCode{
				URI:      "/finesse/api/ReasonCode/" + rc.ID,
				ID:       rc.ID,
				Category: cisco.Category(rc.Category),
				Code:     rc.Code,
				Label:    rc.Label,
				ForAll:   rc.ForAll,
			},
			teams: slices.Clone(rc.Teams),
		})
	}
	return nil
}

func (b *builder) wrapUpReasons(f *DirectoryFile) *DirectoryError {
	entries := f.WrapUpReasons
	if entries == nil {
		entries = borrowWrapUpReasons(b.d.teams)
	}
	ids := map[string]bool{}
	labels := map[string]int{}
	for i, w := range entries {
		p := fmt.Sprintf("wrapUpReasons[%d]", i)
		if err := checkID(p+".id", w.ID); err != nil {
			return err
		}
		if ids[w.ID] {
			return fail(p+".id", "wrap-up reason id %s is used twice", w.ID)
		}
		ids[w.ID] = true
		if err := checkLabel(p+".label", w.Label); err != nil {
			return err
		}
		if len(w.Label) > maxWrapUpLabel {
			return fail(p+".label", "label is %d bytes; Finesse allows at most %d", len(w.Label), maxWrapUpLabel)
		}
		if j, dup := labels[w.Label]; dup {
			return fail(p+".label", "label %q is already used by wrapUpReasons[%d]", w.Label, j)
		}
		labels[w.Label] = i
		if err := b.checkAssignment(p, w.ForAll, w.Teams); err != nil {
			return err
		}
		b.d.wrapUpReasons = append(b.d.wrapUpReasons, dirWrapUpReason{
			id: w.ID, label: w.Label, forAll: w.ForAll, teams: slices.Clone(w.Teams),
		})
	}
	return nil
}

func (b *builder) phoneBooks(f *DirectoryFile) *DirectoryError {
	entries := f.PhoneBooks
	if entries == nil {
		entries = borrowPhoneBooks(b.d.teams)
	}
	ids := map[string]bool{}
	names := map[string]int{}
	var global, team []dirPhoneBook
	contactID := 0 // Finesse contact ids are unique across books
	for i, pb := range entries {
		p := fmt.Sprintf("phoneBooks[%d]", i)
		if err := checkID(p+".id", pb.ID); err != nil {
			return err
		}
		if ids[pb.ID] {
			return fail(p+".id", "phone book id %s is used twice", pb.ID)
		}
		ids[pb.ID] = true
		if strings.TrimSpace(pb.Name) == "" {
			return fail(p+".name", "missing phone book name")
		}
		if j, dup := names[pb.Name]; dup {
			return fail(p+".name", "name %q is already used by phoneBooks[%d]", pb.Name, j)
		}
		names[pb.Name] = i
		switch pb.Type {
		case cisco.PhoneBookGlobal:
			if len(pb.Teams) > 0 {
				return fail(p+".teams", "a GLOBAL phone book is visible to every agent; remove teams or make it a TEAM book")
			}
			if len(global) == maxGlobalPhoneBooks {
				return fail(p, "more than %d GLOBAL phone books; Finesse allows %d", maxGlobalPhoneBooks, maxGlobalPhoneBooks)
			}
		case cisco.PhoneBookTeam:
			if len(pb.Teams) == 0 {
				return fail(p+".teams", "a TEAM phone book needs at least one team")
			}
			if len(team) == maxTeamPhoneBooks {
				return fail(p, "more than %d TEAM phone books; Finesse allows %d", maxTeamPhoneBooks, maxTeamPhoneBooks)
			}
		default:
			return fail(p+".type", "type %q must be GLOBAL or TEAM", clip.Short(pb.Type))
		}
		if err := b.checkTeams(p+".teams", pb.Teams); err != nil {
			return err
		}
		if len(pb.Contacts) > maxBookContacts {
			return fail(p+".contacts", "%d contacts; Finesse allows at most %d in a phone book", len(pb.Contacts), maxBookContacts)
		}
		book := dirPhoneBook{
			PhoneBook: cisco.PhoneBook{URI: "/finesse/api/PhoneBook/" + pb.ID, Name: pb.Name, Type: pb.Type, Contacts: []cisco.Contact{}},
			teams:     slices.Clone(pb.Teams),
		}
		for j, c := range pb.Contacts {
			cp := fmt.Sprintf("%s.contacts[%d]", p, j)
			if err := checkContact(cp, c); err != nil {
				return err
			}
			if contactID++; contactID > maxContacts {
				return fail(cp, "more than %d contacts in all; Finesse allows %d", maxContacts, maxContacts)
			}
			book.Contacts = append(book.Contacts, cisco.Contact{
				FirstName:   c.FirstName,
				LastName:    c.LastName,
				PhoneNumber: c.PhoneNumber,
				Description: c.Description,
				URI:         fmt.Sprintf("/finesse/api/PhoneBook/%s/Contact/%d", pb.ID, contactID),
			})
		}
		if pb.Type == cisco.PhoneBookGlobal {
			global = append(global, book)
		} else {
			team = append(team, book)
		}
	}
	b.d.phoneBooks = append(global, team...)
	return nil
}

func checkContact(p string, c FileContact) *DirectoryError {
	if strings.TrimSpace(c.PhoneNumber) == "" {
		return fail(p+".phoneNumber", "missing phone number")
	}
	if n := utf8.RuneCountInString(c.PhoneNumber); n > maxPhoneNumber {
		return fail(p+".phoneNumber", "phone number is %d characters; Finesse allows at most %d", n, maxPhoneNumber)
	}
	for _, f := range []struct{ name, value string }{
		{"firstName", c.FirstName}, {"lastName", c.LastName}, {"description", c.Description},
	} {
		if n := utf8.RuneCountInString(f.value); n > maxContactField {
			return fail(p+"."+f.name, "%s is %d characters; Finesse allows at most %d", f.name, n, maxContactField)
		}
	}
	return nil
}

// checkAssignment checks the forAll and teams of a reason code or wrap-up
// reason at path p.
func (b *builder) checkAssignment(p string, forAll bool, teams []string) *DirectoryError {
	switch {
	case forAll && len(teams) > 0:
		return fail(p+".teams", "an entry with forAll true is visible to every team; remove teams or set forAll to false")
	case !forAll && len(teams) == 0:
		return fail(p+".teams", "an entry with forAll false needs the teams that see it")
	}
	return b.checkTeams(p+".teams", teams)
}

func (b *builder) checkTeam(p, id string) *DirectoryError {
	if id == "" {
		return fail(p, "missing team id")
	}
	if _, ok := b.d.teams[id]; !ok {
		return fail(p, "team %q is not in teams", clip.Short(id))
	}
	return nil
}

func (b *builder) checkTeams(p string, ids []string) *DirectoryError {
	for i, id := range ids {
		if err := b.checkTeam(fmt.Sprintf("%s[%d]", p, i), id); err != nil {
			return err
		}
		if slices.Contains(ids[:i], id) {
			return fail(fmt.Sprintf("%s[%d]", p, i), "team %s is listed twice", id)
		}
	}
	return nil
}

func checkID(p, id string) *DirectoryError {
	if id == "" {
		return fail(p, "missing id")
	}
	if !isDigits(id) {
		return fail(p, "id %q must be digits", clip.Short(id))
	}
	return nil
}

func checkLabel(p, label string) *DirectoryError {
	if strings.TrimSpace(label) == "" {
		return fail(p, "missing label")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkHash checks that h is a bcrypt hash and returns its cost. The value
// is never quoted in an error: it might be a password typed in by mistake.
func checkHash(p, h string) (int, *DirectoryError) {
	const howTo = `run "ctibus hash-password" and paste the hash it prints`
	if h == "" {
		return 0, fail(p, "missing password hash; %s", howTo)
	}
	// $2a$10$ then 22 characters of salt and 31 of hash, in bcrypt's base64.
	if len(h) != 60 || h[0] != '$' || h[1] != '2' || !strings.ContainsRune("aby", rune(h[2])) || h[3] != '$' ||
		!isDigits(h[4:6]) || h[6] != '$' || strings.ContainsFunc(h[7:], func(r rune) bool { return !isBcryptBase64(r) }) {
		return 0, fail(p, "not a bcrypt hash; the file must hold hashes, never passwords: %s", howTo)
	}
	cost, _ := strconv.Atoi(h[4:6])
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return 0, fail(p, "bcrypt cost %d is outside %d to %d; %s", cost, bcrypt.MinCost, bcrypt.MaxCost, howTo)
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return 0, fail(p, "not a bcrypt hash (%v); %s", err, howTo)
	}
	return cost, nil
}

func isBcryptBase64(r rune) bool {
	return r == '.' || r == '/' || ('A' <= r && r <= 'Z') || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9')
}

// dummyHash returns a well-formed bcrypt hash of the given cost that no
// password matches. Comparing against it does the full bcrypt work, so it
// costs as much as a real hash of that cost without hashing anything at
// start-up.
func dummyHash(cost int) []byte {
	return fmt.Appendf(nil, "$2a$%02d$%s", cost, strings.Repeat("c", 53))
}

// HashPassword returns the bcrypt hash of password, at bcrypt.DefaultCost,
// for the passwordHash field of a directory file.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("cisco: hash password: the password is empty")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("cisco: hash password: %w", err)
	}
	return string(h), nil
}

// maxDeviceEntries bounds the extensions and ranges of "devices".
const maxDeviceEntries = 10000

// deviceRange is a run of extensions of one length, first to last.
type deviceRange struct{ first, last string }

func (b *builder) devices(f *DirectoryFile) *DirectoryError {
	if len(f.Devices) > maxDeviceEntries {
		return fail("devices", "%d entries; at most %d (use ranges)", len(f.Devices), maxDeviceEntries)
	}
	for i, entry := range f.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		first, last, isRange := strings.Cut(entry, "-")
		if !isRange {
			last = first
		}
		if !validExtension(first) || !validExtension(last) || len(first) != len(last) || first > last {
			return fail(p, "%q is not an extension or a range \"first-last\" of 3 to 15 digits, both of one length, first not above last", clip.Short(entry))
		}
		b.d.devices = append(b.d.devices, deviceRange{first, last})
	}
	return nil
}

// isDevice reports whether ext is a phone of the contact center.
func (d *Directory) isDevice(ext string) bool {
	if len(d.devices) == 0 {
		return validExtension(ext)
	}
	return slices.ContainsFunc(d.devices, func(r deviceRange) bool {
		return len(ext) == len(r.first) && isDigits(ext) && r.first <= ext && ext <= r.last
	})
}

// Devices returns the extensions agents may sign in on, as the directory
// lists them: extensions and ranges "first-last". Empty means any
// extension of 3 to 15 digits.
func (d *Directory) Devices() []string {
	out := make([]string, 0, len(d.devices))
	for _, r := range d.devices {
		if r.first == r.last {
			out = append(out, r.first)
		} else {
			out = append(out, r.first+"-"+r.last)
		}
	}
	return out
}

// LoginIDs returns the loginIds of the directory's agents, in file order.
func (d *Directory) LoginIDs() []string {
	out := make([]string, 0, len(d.agents))
	for _, a := range d.agents {
		out = append(out, a.loginID)
	}
	return out
}
