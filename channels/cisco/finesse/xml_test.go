package finesse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
)

func parse(t *testing.T, doc string) *element {
	t.Helper()
	e, err := parseXML(strings.NewReader(doc))
	require.NoError(t, err)
	return e
}

func TestReasonCodesOf(t *testing.T) {
	// The list of 12.5's TeamResource: ids from <id> or from the uri,
	// booleans in any case, the category on the list or on each code.
	e := parse(t, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<ReasonCodes category="NOT_READY">
  <ReasonCode><uri>/finesse/api/ReasonCode/1</uri><category>NOT_READY</category><code>12</code><label>Lunch</label><forAll>True</forAll></ReasonCode>
  <ReasonCode><label>Break</label><id>7</id><code>13</code><forAll>false</forAll><systemCode>true</systemCode><uri>/finesse/api/ReasonCode/7</uri></ReasonCode>
</ReasonCodes>`)
	assert.Equal(t, []cisco.ReasonCode{
		{URI: "/finesse/api/ReasonCode/1", ID: "1", Category: cisco.CategoryNotReady, Code: 12, Label: "Lunch", ForAll: true},
		{URI: "/finesse/api/ReasonCode/7", ID: "7", Category: cisco.CategoryNotReady, Code: 13, Label: "Break", SystemCode: true},
	}, reasonCodesOf(e))
	assert.Equal(t, []cisco.ReasonCode{}, reasonCodesOf(parse(t, `<ReasonCodes category="LOGOUT"/>`)), "an empty list is empty, not nil")
}

func TestWrapUpReasonsAndPhoneBooksOf(t *testing.T) {
	w := parse(t, `<WrapUpReasons><WrapUpReason><uri>finesse/api/User/1234/WrapUpReason/205</uri><label>Product Question</label><forAll>true</forAll></WrapUpReason></WrapUpReasons>`)
	assert.Equal(t, []cisco.WrapUpReason{{URI: "finesse/api/User/1234/WrapUpReason/205", ID: "205", Label: "Product Question", ForAll: true}}, wrapUpReasonsOf(w))

	p := parse(t, `<PhoneBooks>
  <PhoneBook><name>Global</name><type>GLOBAL</type><uri>/finesse/api/PhoneBook/1</uri>
    <Contacts><Contact><firstName>Ann</firstName><phoneNumber>4085550101</phoneNumber><uri>/finesse/api/PhoneBook/1/Contact/3</uri></Contact></Contacts></PhoneBook>
  <PhoneBook><uri>/finesse/api/PhoneBook/2</uri><name>Team</name><type>TEAM</type><contacts>/finesse/api/PhoneBook/2/Contacts</contacts></PhoneBook>
</PhoneBooks>`)
	assert.Equal(t, []cisco.PhoneBook{
		{URI: "/finesse/api/PhoneBook/1", Name: "Global", Type: "GLOBAL", Contacts: []cisco.Contact{{FirstName: "Ann", PhoneNumber: "4085550101", URI: "/finesse/api/PhoneBook/1/Contact/3"}}},
		{URI: "/finesse/api/PhoneBook/2", Name: "Team", Type: "TEAM", Contacts: []cisco.Contact{}},
	}, phoneBooksOf(p), "a book that links its contacts instead of listing them has none inline")
}

func TestSystemInfoOf(t *testing.T) {
	e := parse(t, `<SystemInfo>
  <currentTimestamp>2026-11-30T09:00:00.000Z</currentTimestamp><deploymentType>UCCE</deploymentType>
  <lastSuccessCTIHeartbeatTime>1764493200000</lastSuccessCTIHeartbeatTime>
  <primaryNode><host>finesse-a.test</host><httpsPort>8445</httpsPort><xmppSecurePort>5223</xmppSecurePort></primaryNode>
  <secondaryNode><host>finesse-b.test</host></secondaryNode>
  <status>IN_SERVICE</status><systemAuthMode>NON_SSO</systemAuthMode><timezoneOffset>-300</timezoneOffset>
  <uri>/finesse/api/SystemInfo</uri><xmppDomain>finesse-a.test</xmppDomain><xmppPubSubDomain>pubsub.finesse-a.test</xmppPubSubDomain>
  <ctiServers><ctiServer><host>cg1a</host></ctiServer></ctiServers>
</SystemInfo>`)
	assert.Equal(t, cisco.SystemInfo{
		URI: "/finesse/api/SystemInfo", CurrentTimestamp: "2026-11-30T09:00:00.000Z", DeploymentType: "UCCE",
		LastSuccessCTIHeartbeatTime: 1764493200000,
		PrimaryNode:                 cisco.Node{Host: "finesse-a.test", HTTPSPort: 8445, XMPPSecurePort: 5223},
		SecondaryNode:               cisco.Node{Host: "finesse-b.test"},
		Status:                      "IN_SERVICE", SystemAuthMode: "NON_SSO", TimezoneOffset: -300,
		XMPPDomain: "finesse-a.test", XMPPPubSubDomain: "pubsub.finesse-a.test",
	}, systemInfoOf(e))
}

func TestMediaListOf(t *testing.T) {
	e := parse(t, `<MediaList>
  <Media><uri>/finesse/api/User/100501/Media/1</uri><id>1</id><name>Cisco_Voice</name><description>Voice</description>
    <state>NOT_READY</state><routable>true</routable><maxDialogLimit>1</maxDialogLimit><interruptible>false</interruptible></Media>
  <Media><id>5001</id><name>Cisco_Chat_MRD</name><description>Chat</description><interruptible>true</interruptible></Media>
  <Media><id>5003</id><name>Tasks</name><mediaClass>task</mediaClass></Media>
</MediaList>`)
	media := mediaListOf(e)
	require.Len(t, media, 3)
	assert.Equal(t, cisco.Media{
		URI: "/finesse/api/User/100501/Media/1", ID: "1", Name: "Cisco_Voice", Description: "Voice",
		State: cisco.StateNotReady, Routable: true, MaxDialogLimit: 1,
	}, media[0])
	assert.True(t, media[1].Interruptible)
	assert.Equal(t, []cisco.MRD{
		{ID: "1", Name: "Cisco_Voice", Description: "Voice", MediaClass: "voice"},
		{ID: "5001", Name: "Cisco_Chat_MRD", Description: "Chat", MediaClass: "chat"},
		{ID: "5003", Name: "Tasks", MediaClass: "task"},
	}, mrdsOf(e))
}

func TestTeamUsersOf(t *testing.T) {
	e := parse(t, `<Team><uri>/finesse/api/Team/5004</uri><id>5004</id><name>RTTeam2</name><users>
  <User><loginId>100501</loginId><state>READY</state><reasonCode><category>NOT_READY</category></reasonCode></User>
  <User><firstName>No</firstName></User>
  <User><loginId>102312778</loginId></User>
</users></Team>`)
	assert.Equal(t, []string{"100501", "102312778"}, teamUsersOf(e))
	assert.Equal(t, []string{}, teamUsersOf(parse(t, `<Team><id>9</id></Team>`)))
}

func TestAPIErrorsOf(t *testing.T) {
	// A REST reply's capitalised names.
	e := parse(t, `<ApiErrors><ApiError><ErrorType>Parameter Missing</ErrorType><ErrorData>state</ErrorData><ErrorMessage>State Parameter missing</ErrorMessage></ApiError></ApiErrors>`)
	errs := apiErrorsOf(e)
	require.Len(t, errs, 1)
	assert.Equal(t, cisco.Error{Type: "Parameter Missing", Message: "State Parameter missing", Data: "state", Text: "Finesse refused the request: State Parameter missing"}, *errs[0])
	assert.Empty(t, apiErrorsOf(parse(t, `<ApiErrors/>`)))
	noType := apiErrorsOf(parse(t, `<ApiErrors><ApiError/></ApiErrors>`))
	require.Len(t, noType, 1)
	assert.Equal(t, cisco.ErrorTypeGeneric, noType[0].Type)
}

func TestParseXMLBounds(t *testing.T) {
	_, err := parseXML(strings.NewReader("<a>" + strings.Repeat("<b/>", maxElements) + "</a>"))
	assert.ErrorContains(t, err, "elements")
	_, err = parseXML(strings.NewReader("<a>" + strings.Repeat("x", MaxDocumentBytes) + "</a>"))
	assert.ErrorIs(t, err, errTooLarge)
	_, err = parseXML(strings.NewReader("<a><b></a>"))
	assert.Error(t, err)
	_, err = parseXML(strings.NewReader(""))
	assert.Error(t, err)
}
