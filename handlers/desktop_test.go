package handlers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
)

// joinWithToken dials an app that joins a workspace with its token.
func (e *env) joinWithToken(t *testing.T, app, tok string) *brokertest.Client {
	t.Helper()
	c := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(c, app, map[string]string{"channel": "Cisco", "token": tok}).Triple())
	return c
}

func logout(t *testing.T, phone *brokertest.Client, id string, apps ...*brokertest.Client) {
	t.Helper()
	phone.Request(id, "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	for _, c := range append([]*brokertest.Client{phone}, apps...) {
		f := c.Next()
		assert.Equal(t, id, f.CorrelationID)
		assert.Equal(t, "LOGOUT", agentStateOf(t, f).Data.State)
	}
}

func TestJoinedAppsStayInTheDesktopAcrossALogout(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", "5064")
	crm := e.joinWithToken(t, "crm", tok)

	logout(t, phone, "out", crm)
	// Signed out, the crm app cannot act as the agent, and is told so by
	// GetAppState.
	crm.Request("g", "Cisco", "Agent", "GetAgentState", nil)
	crm.ExpectError("Cisco", "Invalid State", "g")
	phone.ExpectError("Cisco", "Invalid State", "g") // the apps of a desktop share their errors, signed in or not
	crm.Request("app", "Cisco", "General", "GetAppState", nil)
	var v appStateView
	require.NoError(t, json.Unmarshal(crm.Expect("Cisco/General/GetAppState").Message, &v))
	assert.Equal(t, "LOGOUT", v.CTIState.State)

	// The same agent signs in again from the phone: the crm app hears it,
	// without a new token, and acts as the agent again.
	signIn(phone, "back", "ciscotest", passwords["ciscotest"], "5064")
	expectSignedIn(t, phone, "back")
	expectLogin(t, crm, "back")
	crm.Request("g2", "Cisco", "Agent", "GetAgentState", nil)
	f := crm.Next()
	assert.Equal(t, "g2", f.CorrelationID)
	assert.Equal(t, "NOT_READY", agentStateOf(t, f).Data.State)
	assert.Equal(t, "g2", phone.Next().CorrelationID)
}

func TestAnotherAgentOnTheDesktopEndsIt(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", "5064")
	crm := e.joinWithToken(t, "crm", tok)
	logout(t, phone, "out", crm)

	login(t, phone, "other", "jdoe", "5070")
	f := crm.Next()
	require.Equal(t, "PubSub/Workspace/Ended", f.Triple(), "frame %s", f.Raw)
	var ended struct {
		AgentID string `json:"agentId"`
	}
	require.NoError(t, json.Unmarshal(f.Message, &ended))
	assert.Equal(t, "100501", ended.AgentID)

	crm.Request("g", "Cisco", "Agent", "GetAgentState", nil)
	crm.ExpectError("Cisco", "Invalid State", "g")
	late := brokertest.Dial(t, e.url)
	assert.Equal(t, broker.ErrTypeInvalidCredentials,
		registerWith(late, "crm", map[string]string{"token": tok}).Error(t).ErrorType, "the token no longer works")

	// The first agent signs in again elsewhere: the crm app is no longer in
	// that desktop. Its first frame after is the answer to its own marker.
	first := e.desktop(t, "softphone")
	login(t, first, "again", "ciscotest", "5064")
	crm.Request("marker", "Cisco", "General", "GetSystemInfo", nil)
	assert.Equal(t, "marker", crm.Expect("Cisco/General/SetSystemInfo").CorrelationID)
}

func TestSignedOutDesktopLeftByEveryAppEndsAfterTheGracePeriod(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", "5064")
	logout(t, phone, "out")

	// Within the grace period the token still admits (a desktop reloaded).
	phone.Conn().Close()
	require.Eventually(t, func() bool { return len(e.timers.Running()) == 1 }, brokertest.Wait, time.Millisecond)
	back := e.joinWithToken(t, "crm", tok)
	back.Conn().Close()
	require.Eventually(t, func() bool { return len(e.timers.Running()) == 1 }, brokertest.Wait, time.Millisecond)
	e.timers.Running()[0].Fire()

	late := brokertest.Dial(t, e.url)
	assert.Equal(t, broker.ErrTypeInvalidCredentials,
		registerWith(late, "crm", map[string]string{"token": tok}).Error(t).ErrorType, "the desktop ended, and its tokens")
}
