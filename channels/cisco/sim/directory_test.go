package sim_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

// testHash is the hash of "pw" at the lowest cost, for directories written
// out in tests, where it replaces the placeholder HASH.
var testHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

func hashAt(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	require.NoError(t, err)
	return string(h)
}

// loadDirectory loads doc, whose agents' passwordHash may be HASH: "pw".
func loadDirectory(t *testing.T, doc string) *sim.Directory {
	t.Helper()
	dir, err := sim.LoadDirectory(strings.NewReader(strings.ReplaceAll(doc, "HASH", testHash())))
	require.NoError(t, err)
	return dir
}

// Pieces of directory documents for the error table.
const (
	team1  = `"teams": [{"id": "1", "name": "One"}]`
	agent1 = `{"loginId": "1001", "passwordHash": "HASH", "teamId": "1"}`
	base   = team1 + `, "agents": [` + agent1 + `]`
)

func TestLoadDirectoryErrors(t *testing.T) {
	tests := []struct {
		name      string
		give      string // a directory; ‸ marks where the error must point
		wantField string
		wantMsg   string
	}{
		// JSON syntax
		{
			name:      "syntax",
			give:      `{"teams": [‸}`,
			wantField: "teams",
			wantMsg:   "JSON syntax: invalid character '}'",
		},
		{
			name: "syntax on a later line",
			give: `{
  "teams": [{"id": "1", "name": "One"}],
  "agents": [
    {"loginId": "1001" ‸"teamId": "1"}
  ]
}`,
			wantField: "agents[0]",
			wantMsg:   "JSON syntax: invalid character '\"' after object key:value pair",
		},
		{
			name:      "truncated",
			give:      `{"teams": [{"id": "1"‸`,
			wantField: "teams[0]",
			wantMsg:   "the file ends inside the directory object",
		},
		{
			name:      "trailing data",
			give:      `{` + base + `} ‸{}`,
			wantField: "",
			wantMsg:   "unexpected data after the directory object",
		},

		// Types and unknown fields
		{
			name:      "unknown top-level field",
			give:      `{` + base + `, ‸"agent": []}`,
			wantField: "agent",
			wantMsg:   "unknown field; the fields here are teams, agents, reasonCodes, wrapUpReasons, phoneBooks",
		},
		{
			name: "unknown agent field",
			give: `{
  "teams": [{"id": "1", "name": "One"}],
  "agents": [
    {"loginId": "1001", "passwordHash": "HASH", "teamId": "1"},
    {"loginId": "1002", ‸"passwrdHash": "HASH", "teamId": "1"}
  ]
}`,
			wantField: "agents[1].passwrdHash",
			wantMsg:   "unknown field; the fields here are loginId, loginName, firstName, lastName, passwordHash,",
		},
		{
			name:      "unknown field in an unknown field's place is reported once",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", ‸"teams": ["1"], "passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[0].teams",
			wantMsg:   "unknown field",
		},
		{
			name:      "number for a string",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": ‸1}]}`,
			wantField: "agents[0].teamId",
			wantMsg:   "got a number, want a string in quotes",
		},
		{
			name:      "string for a bool",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", "supervisor": ‸"yes"}]}`,
			wantField: "agents[0].supervisor",
			wantMsg:   "got a string, want true or false",
		},
		{
			name:      "string for a number",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", "code": ‸"1", "label": "Break", "forAll": true}]}`,
			wantField: "reasonCodes[0].code",
			wantMsg:   "got a string, want a whole number",
		},
		{
			name:      "fraction for a whole number",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", "code": ‸1.5, "label": "Break", "forAll": true}]}`,
			wantField: "reasonCodes[0].code",
			wantMsg:   "got 1.5, want a whole number",
		},
		{
			name:      "object for an array",
			give:      `{"teams": ‸{}, "agents": []}`,
			wantField: "teams",
			wantMsg:   "got an object, want an array",
		},
		{
			name:      "string for an object",
			give:      `{` + team1 + `, "agents": [‸"1001"]}`,
			wantField: "agents[0]",
			wantMsg:   "got a string, want an object",
		},
		{
			name:      "not an object",
			give:      `‸[]`,
			wantField: "",
			wantMsg:   "got an array, want an object",
		},

		// Teams
		{
			name:      "no teams",
			give:      `‸{"agents": [` + agent1 + `]}`,
			wantField: "teams",
			wantMsg:   "no teams",
		},
		{
			name:      "team id not digits",
			give:      `{"teams": [{‸"id": "north", "name": "North"}], "agents": []}`,
			wantField: "teams[0].id",
			wantMsg:   `id "north" must be digits`,
		},
		{
			name:      "duplicate team",
			give:      `{"teams": [{"id": "1", "name": "One"}, {‸"id": "1", "name": "Uno"}], "agents": []}`,
			wantField: "teams[1].id",
			wantMsg:   "team 1 is listed twice",
		},
		{
			name:      "team without a name",
			give:      `{"teams": [‸{"id": "1"}], "agents": []}`,
			wantField: "teams[0].name",
			wantMsg:   "missing team name",
		},

		// Agents
		{
			name:      "no agents",
			give:      `{` + team1 + `, ‸"agents": []}`,
			wantField: "agents",
			wantMsg:   "no agents",
		},
		{
			name:      "missing loginId",
			give:      `{` + team1 + `, "agents": [‸{"passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[0].loginId",
			wantMsg:   "missing loginId",
		},
		{
			name:      "loginId not digits",
			give:      `{` + team1 + `, "agents": [{‸"loginId": "jdoe", "passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[0].loginId",
			wantMsg:   `loginId "jdoe" must be digits`,
		},
		{
			name:      "duplicate loginId",
			give:      `{` + team1 + `, "agents": [` + agent1 + `, {‸"loginId": "1001", "loginName": "other", "passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[1].loginId",
			wantMsg:   "loginId 1001 is also the loginId of 1001",
		},
		{
			name: "duplicate loginName in another case",
			give: `{` + team1 + `, "agents": [
{"loginId": "1001", "loginName": "jdoe", "passwordHash": "HASH", "teamId": "1"},
{"loginId": "1002", ‸"loginName": "JDoe", "passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[1].loginName",
			wantMsg:   `loginName "JDoe" is already used by loginId 1001`,
		},
		{
			name: "loginName that is another agent's loginId",
			give: `{` + team1 + `, "agents": [
{"loginId": "1001", ‸"loginName": "1002", "passwordHash": "HASH", "teamId": "1"},
{"loginId": "1002", "loginName": "other", "passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[0].loginName",
			wantMsg:   "is the loginId of another agent",
		},
		{
			name:      "loginName with a colon",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", ‸"loginName": "a:b", "passwordHash": "HASH", "teamId": "1"}]}`,
			wantField: "agents[0].loginName",
			wantMsg:   "must not contain spaces or ':'",
		},
		{
			name: "plain-text password",
			give: `{
  "teams": [{"id": "1", "name": "One"}],
  "agents": [
    {"loginId": "1001", "passwordHash": "HASH", "teamId": "1"},
    {"loginId": "1002", "passwordHash": "HASH", "teamId": "1"},
    {"loginId": "1003", ‸"passwordHash": "hunter22", "teamId": "1"}
  ]
}`,
			wantField: "agents[2].passwordHash",
			wantMsg:   `not a bcrypt hash; the file must hold hashes, never passwords: run "ctibus hash-password"`,
		},
		{
			name:      "bcrypt costs mixed",
			give:      `{` + team1 + `, "agents": [` + agent1 + `, {"loginId": "1002", ‸"passwordHash": "$2a$05$` + strings.Repeat("a", 53) + `", "teamId": "1"}]}`,
			wantField: "agents[1].passwordHash",
			wantMsg:   "bcrypt cost 5 differs from cost 4 of agents[0]; hash every password at one cost",
		},
		{
			name:      "missing hash",
			give:      `{` + team1 + `, "agents": [‸{"loginId": "1001", "teamId": "1"}]}`,
			wantField: "agents[0].passwordHash",
			wantMsg:   `missing password hash; run "ctibus hash-password"`,
		},
		{
			name:      "bcrypt cost below the minimum",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", ‸"passwordHash": "$2a$03$` + strings.Repeat("a", 53) + `", "teamId": "1"}]}`,
			wantField: "agents[0].passwordHash",
			wantMsg:   "bcrypt cost 3 is outside 4 to 31",
		},
		{
			name:      "hash of another scheme",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", ‸"passwordHash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g", "teamId": "1"}]}`,
			wantField: "agents[0].passwordHash",
			wantMsg:   "not a bcrypt hash",
		},
		{
			name:      "team not in teams",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", ‸"teamId": "9"}]}`,
			wantField: "agents[0].teamId",
			wantMsg:   `team "9" is not in teams`,
		},
		{
			name:      "missing team",
			give:      `{` + team1 + `, "agents": [‸{"loginId": "1001", "passwordHash": "HASH"}]}`,
			wantField: "agents[0].teamId",
			wantMsg:   "missing team id",
		},
		{
			name:      "supervised teams without supervisor",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", ‸"supervisedTeams": ["1"]}]}`,
			wantField: "agents[0].supervisedTeams",
			wantMsg:   "only a supervisor supervises teams",
		},
		{
			name:      "supervisor without teams",
			give:      `{` + team1 + `, "agents": [‸{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", "supervisor": true}]}`,
			wantField: "agents[0].supervisedTeams",
			wantMsg:   "a supervisor needs at least one team",
		},
		{
			name:      "supervised team not in teams",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", "supervisor": true, "supervisedTeams": ["1", ‸"2"]}]}`,
			wantField: "agents[0].supervisedTeams[1]",
			wantMsg:   `team "2" is not in teams`,
		},
		{
			name:      "wrap-up timer zero",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", ‸"wrapUpTimer": 0}]}`,
			wantField: "agents[0].wrapUpTimer",
			wantMsg:   "wrapUpTimer 0 is outside 1 to 7200 seconds",
		},
		{
			name:      "wrap-up setting",
			give:      `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", ‸"wrapUpOnIncoming": "SOMETIMES"}]}`,
			wantField: "agents[0].wrapUpOnIncoming",
			wantMsg:   `"SOMETIMES" must be OPTIONAL, REQUIRED, NOT_ALLOWED or REQUIRED_WITH_WRAP_UP_DATA`,
		},

		// Reason codes
		{
			name:      "reason code category",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", ‸"category": "BREAK", "code": 1, "label": "Break", "forAll": true}]}`,
			wantField: "reasonCodes[0].category",
			wantMsg:   `category "BREAK" must be NOT_READY or LOGOUT`,
		},
		{
			name:      "reason code zero",
			give:      `{` + base + `, "reasonCodes": [‸{"id": "1", "category": "NOT_READY", "label": "Break", "forAll": true}]}`,
			wantField: "reasonCodes[0].code",
			wantMsg:   "code 0 is outside 1 to 65535",
		},
		{
			name:      "reason code too big",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", ‸"code": 65536, "label": "Break", "forAll": true}]}`,
			wantField: "reasonCodes[0].code",
			wantMsg:   "code 65536 is outside 1 to 65535",
		},
		{
			name:      "system reason code",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "LOGOUT", ‸"code": 255, "label": "Closed", "forAll": true}]}`,
			wantField: "reasonCodes[0].code",
			wantMsg:   "code 255 is reserved",
		},
		{
			name:      "reason label too long",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", "code": 1, ‸"label": "` + strings.Repeat("é", 41) + `", "forAll": true}]}`,
			wantField: "reasonCodes[0].label",
			wantMsg:   "label is 41 characters; Finesse allows at most 40",
		},
		{
			name:      "reason without label",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", "code": 1, ‸"label": " ", "forAll": true}]}`,
			wantField: "reasonCodes[0].label",
			wantMsg:   "missing label",
		},
		{
			name: "duplicate code in a category",
			give: `{` + base + `, "reasonCodes": [
  {"id": "1", "category": "NOT_READY", "code": 7, "label": "Break", "forAll": true},
  {"id": "2", "category": "NOT_READY", ‸"code": 7, "label": "Lunch", "forAll": true}]}`,
			wantField: "reasonCodes[1].code",
			wantMsg:   "NOT_READY code 7 is already used by reasonCodes[0]",
		},
		{
			name: "duplicate label in a category",
			give: `{` + base + `, "reasonCodes": [
  {"id": "1", "category": "LOGOUT", "code": 7, "label": "Done", "forAll": true},
  {"id": "2", "category": "LOGOUT", "code": 8, ‸"label": "Done", "forAll": true}]}`,
			wantField: "reasonCodes[1].label",
			wantMsg:   `LOGOUT label "Done" is already used by reasonCodes[0]`,
		},
		{
			name: "duplicate reason code id",
			give: `{` + base + `, "reasonCodes": [
  {"id": "1", "category": "NOT_READY", "code": 1, "label": "Break", "forAll": true},
  {‸"id": "1", "category": "LOGOUT", "code": 2, "label": "Done", "forAll": true}]}`,
			wantField: "reasonCodes[1].id",
			wantMsg:   "reason code id 1 is used twice",
		},
		{
			name:      "forAll with teams",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", "code": 1, "label": "Break", "forAll": true, ‸"teams": ["1"]}]}`,
			wantField: "reasonCodes[0].teams",
			wantMsg:   "visible to every team; remove teams or set forAll to false",
		},
		{
			name:      "neither forAll nor teams",
			give:      `{` + base + `, "reasonCodes": [‸{"id": "1", "category": "NOT_READY", "code": 1, "label": "Break"}]}`,
			wantField: "reasonCodes[0].teams",
			wantMsg:   "an entry with forAll false needs the teams that see it",
		},
		{
			name:      "reason code for a team not in teams",
			give:      `{` + base + `, "reasonCodes": [{"id": "1", "category": "NOT_READY", "code": 1, "label": "Break", "teams": [‸"9"]}]}`,
			wantField: "reasonCodes[0].teams[0]",
			wantMsg:   `team "9" is not in teams`,
		},

		// Wrap-up reasons
		{
			name:      "wrap-up label of 40 bytes",
			give:      `{` + base + `, "wrapUpReasons": [{"id": "1", ‸"label": "` + strings.Repeat("x", 40) + `", "forAll": true}]}`,
			wantField: "wrapUpReasons[0].label",
			wantMsg:   "label is 40 bytes; Finesse allows at most 39",
		},
		{
			name: "duplicate wrap-up label",
			give: `{` + base + `, "wrapUpReasons": [{"id": "1", "label": "Sold", "forAll": true},
 {"id": "2", ‸"label": "Sold", "forAll": true}]}`,
			wantField: "wrapUpReasons[1].label",
			wantMsg:   `label "Sold" is already used by wrapUpReasons[0]`,
		},
		{
			name:      "wrap-up id",
			give:      `{` + base + `, "wrapUpReasons": [‸{"label": "Sold", "forAll": true}]}`,
			wantField: "wrapUpReasons[0].id",
			wantMsg:   "missing id",
		},

		// Phone books
		{
			name:      "phone book type",
			give:      `{` + base + `, "phoneBooks": [{"id": "1", "name": "Mine", ‸"type": "PERSONAL", "contacts": []}]}`,
			wantField: "phoneBooks[0].type",
			wantMsg:   `type "PERSONAL" must be GLOBAL or TEAM`,
		},
		{
			name:      "global book with teams",
			give:      `{` + base + `, "phoneBooks": [{"id": "1", "name": "All", "type": "GLOBAL", ‸"teams": ["1"], "contacts": []}]}`,
			wantField: "phoneBooks[0].teams",
			wantMsg:   "a GLOBAL phone book is visible to every agent",
		},
		{
			name:      "team book without teams",
			give:      `{` + base + `, "phoneBooks": [‸{"id": "1", "name": "Ours", "type": "TEAM", "contacts": []}]}`,
			wantField: "phoneBooks[0].teams",
			wantMsg:   "a TEAM phone book needs at least one team",
		},
		{
			name: "contact without a number",
			give: `{` + base + `, "phoneBooks": [{"id": "1", "name": "All", "type": "GLOBAL", "contacts": [
  {"firstName": "A", "phoneNumber": "5001"},
  ‸{"firstName": "B"}]}]}`,
			wantField: "phoneBooks[0].contacts[1].phoneNumber",
			wantMsg:   "missing phone number",
		},
		{
			name:      "phone number too long",
			give:      `{` + base + `, "phoneBooks": [{"id": "1", "name": "All", "type": "GLOBAL", "contacts": [{‸"phoneNumber": "` + strings.Repeat("5", 33) + `"}]}]}`,
			wantField: "phoneBooks[0].contacts[0].phoneNumber",
			wantMsg:   "phone number is 33 characters; Finesse allows at most 32",
		},
		{
			name:      "contact description too long",
			give:      `{` + base + `, "phoneBooks": [{"id": "1", "name": "All", "type": "GLOBAL", "contacts": [{"phoneNumber": "5", ‸"description": "` + strings.Repeat("d", 129) + `"}]}]}`,
			wantField: "phoneBooks[0].contacts[0].description",
			wantMsg:   "description is 129 characters; Finesse allows at most 128",
		},
		{
			name: "duplicate phone book name",
			give: `{` + base + `, "phoneBooks": [{"id": "1", "name": "All", "type": "GLOBAL", "contacts": []},
  {"id": "2", ‸"name": "All", "type": "GLOBAL", "contacts": []}]}`,
			wantField: "phoneBooks[1].name",
			wantMsg:   `name "All" is already used by phoneBooks[0]`,
		},
		// devices
		{
			name:      "a range of two lengths",
			give:      `{` + base + `, "devices": ["5000", ‸"999-1000"]}`,
			wantField: "devices[1]",
			wantMsg:   `"999-1000" is not an extension or a range`,
		},
		{
			name:      "a range upside down",
			give:      `{` + base + `, "devices": [‸"5999-5000"]}`,
			wantField: "devices[0]",
			wantMsg:   "first not above last",
		},
		{
			name:      "not digits",
			give:      `{` + base + `, "devices": [‸"+14085551234"]}`,
			wantField: "devices[0]",
			wantMsg:   "3 to 15 digits",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.ReplaceAll(tt.give, "HASH", testHash())
			i := strings.Index(doc, "‸")
			require.GreaterOrEqual(t, i, 0, "the row marks the error's position with ‸")
			wantLine := strings.Count(doc[:i], "\n") + 1
			wantColumn := utf8.RuneCountInString(doc[strings.LastIndexByte(doc[:i], '\n')+1:i]) + 1
			doc = strings.Replace(doc, "‸", "", 1)

			_, err := sim.LoadDirectory(strings.NewReader(doc))

			var got *sim.DirectoryError
			require.ErrorAs(t, err, &got)
			assert.Equal(t, tt.wantField, got.Field)
			assert.Contains(t, got.Msg, tt.wantMsg)
			assert.Equal(t, wantLine, got.Line, "line")
			assert.Equal(t, wantColumn, got.Column, "column")
			assert.Empty(t, got.File)
		})
	}
}

func TestLoadDirectoryNeverQuotesAPassword(t *testing.T) {
	doc := `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "correct horse battery staple", "teamId": "1"}]}`

	_, err := sim.LoadDirectory(strings.NewReader(doc))

	require.Error(t, err)
	assert.NotContains(t, err.Error(), "horse")
	assert.Contains(t, err.Error(), "ctibus hash-password")
}

func TestLoadDirectoryEmpty(t *testing.T) {
	for _, give := range []string{"", "  \n\t"} {
		_, err := sim.LoadDirectory(strings.NewReader(give))

		var got *sim.DirectoryError
		require.ErrorAs(t, err, &got)
		assert.Contains(t, got.Msg, "empty", "input %q", give)
	}
}

func TestLoadDirectoryFileErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.json")
	doc := `{
  "teams": [{"id": "1", "name": "One"}],
  "agents": [
    {"loginId": "1001", "passwordHash": "HASH", "teamId": "9"}
  ]
}`
	doc = strings.ReplaceAll(doc, "HASH", testHash())
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
	line4 := strings.Split(doc, "\n")[3]
	column := strings.Index(line4, `"teamId"`) + 1

	_, err := sim.LoadDirectoryFile(path)

	assert.EqualError(t, err, fmt.Sprintf(`cisco: %s:4:%d: agents[0].teamId: team "9" is not in teams`, path, column))
	_, err = sim.LoadDirectoryFile(filepath.Join(t.TempDir(), "missing.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestDirectoryErrorString(t *testing.T) {
	tests := []struct {
		give sim.DirectoryError
		want string
	}{
		{
			give: sim.DirectoryError{File: "a.json", Line: 3, Column: 7, Field: "agents[0].teamId", Msg: "bad"},
			want: "cisco: a.json:3:7: agents[0].teamId: bad",
		},
		{
			give: sim.DirectoryError{Line: 3, Column: 7, Field: "agents[0].teamId", Msg: "bad"},
			want: "cisco: directory line 3, column 7: agents[0].teamId: bad",
		},
		{
			give: sim.DirectoryError{File: "a.json", Msg: "empty"},
			want: "cisco: a.json: empty",
		},
		{
			give: sim.DirectoryError{Field: "teams", Msg: "no teams"},
			want: "cisco: directory: teams: no teams",
		},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.give.Error())
		})
	}
}

func TestLoadDirectoryAccepts(t *testing.T) {
	h := testHash()
	tests := []struct {
		name string
		give string
	}{
		{name: "minimal", give: `{` + base + `}`},
		{name: "keys in another case", give: `{"Teams": [{"ID": "1", "Name": "One"}], "AGENTS": [{"LoginId": "1001", "passwordhash": "HASH", "teamID": "1"}]}`},
		{name: "2b hash", give: `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "$2b$` + h[4:] + `", "teamId": "1"}]}`},
		{name: "2y hash", give: `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "$2y$` + h[4:] + `", "teamId": "1"}]}`},
		{name: "null optional fields", give: `{` + team1 + `, "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1", "wrapUpTimer": null, "supervisedTeams": null}]}`},
		{
			name: "same code in both categories",
			give: `{` + base + `, "reasonCodes": [
  {"id": "1", "category": "NOT_READY", "code": 7, "label": "Away", "forAll": true},
  {"id": "2", "category": "LOGOUT", "code": 7, "label": "Away", "forAll": true}]}`,
		},
		{name: "example file", give: mustRead(t, "testdata/agents.example.json")},
		{name: "demo file", give: mustRead(t, "demo.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loadDirectory(t, tt.give)
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestLoadDirectoryVerifiesPasswords(t *testing.T) {
	dir := loadDirectory(t, `{`+team1+`, "agents": [{"loginId": "1001", "passwordHash": "$2y$`+testHash()[4:]+`", "teamId": "1"}]}`)
	s := sim.New(dir, sim.Config{})

	got := signIn(t, s, "1001", "pw", "5064")

	assert.Equal(t, "1001", got.LoginName, "loginName defaults to loginId")
	_, err := s.SignIn(context.Background(), "1001", "PW", "5064")
	assert.ErrorIs(t, err, cisco.ErrAuthorization)
}

func TestLoadDirectoryDefaults(t *testing.T) {
	tests := []struct {
		name           string
		give           string
		wantNotReady   []string
		wantLogout     []string
		wantWrapUps    []string
		wantPhoneBooks []string
	}{
		{
			name:           "demo team 5004",
			give:           `{"teams": [{"id": "5004", "name": "Sales"}], "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "5004"}]}`,
			wantNotReady:   []string{"Break", "Lunch", "Meeting", "Training", "Coaching"},
			wantLogout:     []string{"End of Shift", "Personal", "System Issue"},
			wantWrapUps:    []string{"Inprogress", "Completed", "Pending", "Clerical work", "DataEntry"},
			wantPhoneBooks: []string{"Company Directory", "RTTeam2 Escalations"},
		},
		{
			name:           "demo team 5005",
			give:           `{"teams": [{"id": "5005", "name": "Support"}], "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "5005"}]}`,
			wantNotReady:   []string{"Break", "Lunch", "Meeting", "Training", "Coaching", "Back Office"},
			wantLogout:     []string{"End of Shift", "Personal", "System Issue"},
			wantWrapUps:    []string{"Inprogress", "Completed", "Pending", "Clerical work", "DataEntry"},
			wantPhoneBooks: []string{"Company Directory"},
		},
		{
			name:           "own team",
			give:           `{"teams": [{"id": "1", "name": "One"}], "agents": [{"loginId": "1001", "passwordHash": "HASH", "teamId": "1"}]}`,
			wantNotReady:   []string{"Break", "Lunch", "Meeting", "Training", "Coaching"},
			wantLogout:     []string{"End of Shift", "Personal", "System Issue"},
			wantWrapUps:    []string{"Inprogress", "Completed", "Pending", "Clerical work", "DataEntry"},
			wantPhoneBooks: []string{"Company Directory"},
		},
		{
			name:           "empty sections mean none",
			give:           `{` + base + `, "reasonCodes": [], "wrapUpReasons": [], "phoneBooks": []}`,
			wantNotReady:   []string{},
			wantLogout:     []string{},
			wantWrapUps:    []string{},
			wantPhoneBooks: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sim.New(loadDirectory(t, tt.give), sim.Config{})
			ctx := context.Background()

			notReady, err := s.ReasonCodes(ctx, "1001", cisco.CategoryNotReady)
			require.NoError(t, err)
			logout, err := s.ReasonCodes(ctx, "1001", cisco.CategoryLogout)
			require.NoError(t, err)
			wrapUps, err := s.WrapUpReasons(ctx, "1001")
			require.NoError(t, err)
			books, err := s.PhoneBooks(ctx, "1001")
			require.NoError(t, err)

			assert.Equal(t, tt.wantNotReady, labels(notReady, func(rc cisco.ReasonCode) string { return rc.Label }))
			assert.Equal(t, tt.wantLogout, labels(logout, func(rc cisco.ReasonCode) string { return rc.Label }))
			assert.Equal(t, tt.wantWrapUps, labels(wrapUps, func(w cisco.WrapUpReason) string { return w.Label }))
			assert.Equal(t, tt.wantPhoneBooks, labels(books, func(pb cisco.PhoneBook) string { return pb.Name }))
		})
	}
}

// labels maps items to their labels; an empty list gives an empty, non-nil
// slice, so that a nil list from the simulator would show up as a failure.
func labels[T any](items []T, label func(T) string) []string {
	if items == nil {
		return nil
	}
	out := []string{}
	for _, it := range items {
		out = append(out, label(it))
	}
	return out
}

func TestDemoDirectoryCredentials(t *testing.T) {
	t.Parallel() // slow: real bcrypt work under the race detector
	tests := []struct {
		username       string
		password       string
		wantLoginID    string
		wantName       string
		wantTeam       string
		wantSupervisor bool
		wantTeams      []cisco.Team
	}{
		{username: "ciscotest", password: "test@123", wantLoginID: "100501", wantName: "Cisco Test", wantTeam: "5004 RTTeam2", wantTeams: []cisco.Team{}},
		{username: "102312778", password: "pqsup1", wantLoginID: "102312778", wantName: "Paul Quinn", wantTeam: "5004 RTTeam2", wantTeams: []cisco.Team{}},
		{username: "jdoe", password: "agent@3", wantLoginID: "100503", wantName: "Jane Doe", wantTeam: "5005 RTTeam3", wantTeams: []cisco.Team{}},
		{
			username: "supervisor1", password: "super@1", wantLoginID: "100600", wantName: "Sam Rivera", wantTeam: "5005 RTTeam3",
			wantSupervisor: true,
			wantTeams: []cisco.Team{
				{ID: "5004", Name: "RTTeam2", URI: "/finesse/api/Team/5004"},
				{ID: "5005", Name: "RTTeam3", URI: "/finesse/api/Team/5005"},
			},
		},
	}
	// One simulator for all: the demo hashes cost 10, so each sign-in is
	// slow enough under the race detector to be worth doing once.
	s := sim.New(sim.DemoDirectory(), sim.Config{})
	for i, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			got := signIn(t, s, tt.username, tt.password, "506"+string(rune('4'+i)))

			assert.Equal(t, tt.wantLoginID, got.LoginID)
			assert.Equal(t, tt.wantName, got.FirstName+" "+got.LastName)
			assert.Equal(t, tt.wantTeam, got.TeamID+" "+got.TeamName)
			assert.Equal(t, tt.wantSupervisor, got.IsSupervisor)
			assert.Equal(t, tt.wantTeams, got.Teams)
		})
	}
}

func TestDemoDirectoryHashes(t *testing.T) {
	// The demo file is loaded once per process; it must stay cheap to load
	// and equally costly to attack for every agent.
	for _, loginID := range []string{"100501", "102312778", "100503", "100600"} {
		assert.Contains(t, mustRead(t, "demo.json"), `"loginId": "`+loginID+`"`)
	}
	assert.Equal(t, 4, strings.Count(mustRead(t, "demo.json"), `"passwordHash": "$2a$10$`))
	assert.Same(t, sim.DemoDirectory(), sim.DemoDirectory())
}

func TestDemoDirectorySettings(t *testing.T) {
	s := sim.New(sim.DemoDirectory(), sim.Config{})

	tests := []struct {
		loginID     string
		wantIn      string
		wantOut     string
		wantTimer   int
		wantUserURI string
	}{
		{loginID: "100501", wantIn: "OPTIONAL", wantOut: "NOT_ALLOWED", wantTimer: 60},
		{loginID: "102312778", wantIn: "NOT_ALLOWED", wantOut: "NOT_ALLOWED", wantTimer: 60},
		{loginID: "100503", wantIn: "REQUIRED", wantOut: "OPTIONAL", wantTimer: 120},
		{loginID: "100600", wantIn: "OPTIONAL", wantOut: "NOT_ALLOWED", wantTimer: 60},
	}
	for _, tt := range tests {
		t.Run(tt.loginID, func(t *testing.T) {
			u := user(t, s, tt.loginID)

			assert.Equal(t, cisco.Settings{WrapUpOnIncoming: tt.wantIn, WrapUpOnOutgoing: tt.wantOut}, u.Settings)
			assert.Equal(t, tt.wantTimer, u.WrapUpTimer)
		})
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel() // slow: real bcrypt work under the race detector
	h, err := sim.HashPassword("s3cret!")
	require.NoError(t, err)

	assert.Equal(t, bcrypt.DefaultCost, mustCost(t, []byte(h)))
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret!")))
	loadDirectory(t, `{`+team1+`, "agents": [{"loginId": "1001", "passwordHash": "`+h+`", "teamId": "1"}]}`)

	_, err = sim.HashPassword("")
	assert.Error(t, err)
	_, err = sim.HashPassword(strings.Repeat("x", 73))
	assert.ErrorIs(t, err, bcrypt.ErrPasswordTooLong)
}
