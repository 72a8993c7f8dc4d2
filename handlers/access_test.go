package handlers_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/handlers"
	"github.com/ctibus/ctibus/handlers/handlerstest"
	"github.com/ctibus/ctibus/session"
)

// testApps are the server-side apps of the access tests, with the keys
// their credentials are made with.
type testApps struct {
	apps    *session.Apps
	hmacKey []byte
	rsaKey  *rsa.PrivateKey
}

func newTestApps(t *testing.T) *testApps {
	t.Helper()
	secretHash, err := bcrypt.GenerateFromPassword([]byte("wall-secret"), bcrypt.MinCost)
	require.NoError(t, err)
	opsHash, err := bcrypt.GenerateFromPassword([]byte("ops-secret"), bcrypt.MinCost)
	require.NoError(t, err)
	hmacKey := make([]byte, 32)
	_, _ = rand.Read(hmacKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	publicPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	file := map[string]any{"apps": []any{
		map[string]any{"name": "wallboard", "secretHash": string(secretHash), "grants": map[string]any{
			"subscribe": []string{"Cisco/Agent/SetAgentState"}, "teams": []string{"5004"}}},
		map[string]any{"name": "agent-a-crm", "jwt": map[string]any{"algorithm": "HS256", "secret": base64.StdEncoding.EncodeToString(hmacKey)},
			"grants": map[string]any{"subscribe": []string{"*/*/*"}, "agents": []string{"100501"}, "publish": true}},
		map[string]any{"name": "recorder", "jwt": map[string]any{"algorithm": "RS256", "publicKey": publicPEM},
			"grants": map[string]any{"subscribe": []string{"Cisco/Call/*", "Cisco/Agent/SetAgentState"}, "allAgents": true, "publish": true}},
		map[string]any{"name": "team-5005", "jwt": map[string]any{"algorithm": "HS256", "secret": base64.StdEncoding.EncodeToString(hmacKey)},
			"grants": map[string]any{"subscribe": []string{"*/*/*"}, "teams": []string{"5005"}}},
		map[string]any{"name": "monitor", "jwt": map[string]any{"algorithm": "HS256", "secret": base64.StdEncoding.EncodeToString(hmacKey)},
			"grants": map[string]any{"subscribe": []string{"*/*/*"}, "allAgents": true}},
		map[string]any{"name": "ops", "secretHash": string(opsHash), "grants": map[string]any{"admin": true}},
	}}
	b, err := json.Marshal(file)
	require.NoError(t, err)
	apps, err := session.LoadApps(bytes.NewReader(b))
	require.NoError(t, err)
	return &testApps{apps: apps, hmacKey: hmacKey, rsaKey: rsaKey}
}

func (a *testApps) hs256(t *testing.T, sub string, expires time.Time, key []byte) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(expires)}).SignedString(key)
	require.NoError(t, err)
	return s
}

func (a *testApps) rs256(t *testing.T, sub string, expires time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(expires)}).SignedString(a.rsaKey)
	require.NoError(t, err)
	return s
}

// postJSON posts body to url, authenticated by auth (nil for none), and
// returns the status and body of the answer, which must be JSON.
func postJSON(t *testing.T, url string, auth func(*http.Request), body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	return resp.StatusCode, string(b)
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func basic(name, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(name, secret) }
}

// registerWith sends a Register with data and returns the first answer.
func registerWith(c *brokertest.Client, app string, data map[string]string) brokertest.Frame {
	c.SendInvalid(map[string]any{"id": "reg", "channel": "PubSub", "topic": "App", "subtopic": "Register", "source": app, "data": data})
	return c.Next()
}

func TestWorkspaceToken(t *testing.T) {
	e := newEnv(t)
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", "5064")
	assert.GreaterOrEqual(t, len(tok), 22, "at least 128 bits")

	crm := brokertest.Dial(t, e.url)
	assert.Equal(t, "PubSub/App/Registered", registerWith(crm, "crm", map[string]string{"channel": "Cisco", "token": tok}).Triple())
	crm.Subscribe("*", "*", "*")
	phone.Request("r", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateOf(t, crm.Next()).Data.State, "the app joined the agent's workspace")
	phone.Next()
	crm.Request("g", "Cisco", "Agent", "GetAgentState", nil)
	assert.Equal(t, "g", crm.Next().CorrelationID)
	phone.Next()

	// A re-login from the phone gives a new token to the phone alone.
	signIn(phone, "again", "ciscotest", passwords["ciscotest"], "5064")
	expectSignedIn(t, phone, "again")
	expectLogin(t, crm, "again")
	crm.Request("m", "Cisco", "General", "GetSystemInfo", nil)
	assert.Equal(t, "Cisco/General/SetSystemInfo", crm.Next().Triple(), "the crm app got no token")
	phone.Next()

	for _, bad := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", " ", tok + "x"} {
		c := brokertest.Dial(t, e.url)
		f := registerWith(c, "crm", map[string]string{"channel": "Cisco", "token": bad})
		assert.Equal(t, broker.ErrTypeInvalidCredentials, f.Error(t).ErrorType, "token %q", bad)
		c.Request("g", "Cisco", "Agent", "GetAgentState", nil)
		c.ExpectError("Cisco", broker.ErrTypeNotRegistered, "g") // joined nothing, registered nothing
	}

	// A sign-out keeps the desktop, and its token; another agent signing
	// in on the phone ends it and revokes every token of the workspace.
	phone.Request("nr", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	phone.Next()
	crm.Next()
	phone.Request("out", "Cisco", "Connection", "Logout", map[string]string{"ReasonCodeId": "28"})
	phone.Next()
	crm.Next()
	kept := brokertest.Dial(t, e.url)
	assert.Equal(t, "PubSub/App/Registered", registerWith(kept, "crm", map[string]string{"channel": "Cisco", "token": tok}).Triple())
	login(t, phone, "other", "jdoe", "5070")
	crm.Expect("PubSub/Workspace/Ended")
	late := brokertest.Dial(t, e.url)
	assert.Equal(t, broker.ErrTypeInvalidCredentials, registerWith(late, "crm", map[string]string{"channel": "Cisco", "token": tok}).Error(t).ErrorType)

	for _, entry := range e.logs.All() {
		buf, err := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()).EncodeEntry(entry.Entry, entry.Context)
		require.NoError(t, err)
		assert.NotContains(t, buf.String(), tok, "a token is in a log line")
	}
}

func TestWorkspaceTokenExpires(t *testing.T) {
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{TokenTTL: time.Hour}})
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", "5064")
	e.clock.Advance(59 * time.Minute)
	ok := brokertest.Dial(t, e.url)
	assert.Equal(t, "PubSub/App/Registered", registerWith(ok, "crm", map[string]string{"token": tok}).Triple())
	e.clock.Advance(time.Minute)
	late := brokertest.Dial(t, e.url)
	assert.Equal(t, broker.ErrTypeInvalidCredentials, registerWith(late, "crm", map[string]string{"token": tok}).Error(t).ErrorType)
}

func TestServerSideAppsSeeOnlyTheirGrant(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})

	wall := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(wall, "wallboard", map[string]string{"secret": "wall-secret"}).Triple())
	wall.Request("wide", "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "Cisco", "topic": "*", "subtopic": "*"})
	wall.ExpectError("PubSub", broker.ErrTypeForbidden, "wide")
	wall.Subscribe("Cisco", "Agent", "SetAgentState")

	crmA := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(crmA, "agent-a-crm",
		map[string]string{"jwt": apps.hs256(t, "agent-a-crm", time.Now().Add(time.Hour), apps.hmacKey)}).Triple())
	crmA.Subscribe("*", "*", "*")

	recorder := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(recorder, "recorder",
		map[string]string{"channel": "Cisco", "jwt": apps.rs256(t, "recorder", time.Now().Add(time.Hour))}).Triple())
	recorder.Subscribe("Cisco", "Agent", "SetAgentState")

	// Agents A (100501, team 5004), P (102312778, team 5004), B (100503, team 5005).
	a := e.desktop(t, "a-phone")
	p := e.desktop(t, "p-phone")
	b := e.desktop(t, "b-phone")
	login(t, a, "a", "ciscotest", "5064")
	login(t, p, "p", "102312778", "5069")
	login(t, b, "b", "jdoe", "6123")
	for _, c := range []*brokertest.Client{a, p, b} {
		c.Request("r", "Cisco", "Agent", "SetReadyState", nil)
		c.Next()
		c.Send(map[string]any{"channel": "CRM", "topic": "Note", "subtopic": "Added", "data": "note"})
		c.Request("w", "Cisco", "Agent", "GetWrapupReasonCode", nil)
		c.Next()
	}
	// Markers: the last event each watcher may see.
	b.Request("end", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	b.Next()
	a.Request("end", "Cisco", "Agent", "SetNotReadyState", map[string]string{"ReasonCodeId": "1"})
	a.Next()
	for range 8 { // three sign-ins, three Ready, two Not Ready
		recorder.Expect("Cisco/Agent/SetAgentState")
	}
	for f := wall.Next(); f.CorrelationID != "end"; f = wall.Next() {
	}
	for f := crmA.Next(); f.CorrelationID != "end"; f = crmA.Next() {
	}

	agentsSeen := func(c *brokertest.Client) map[string]bool {
		seen := map[string]bool{}
		for _, f := range c.Seen {
			for _, id := range []string{"100501", "102312778", "100503"} {
				if strings.Contains(string(f.Message), id) { // not Raw: a random event id may hold the digits
					seen[id] = true
				}
			}
		}
		return seen
	}
	assert.Equal(t, map[string]bool{"100501": true, "102312778": true}, agentsSeen(wall), "team 5004 only")
	for _, f := range wall.Seen[3:] { // after Registered, the refused subscription and Subscribed
		assert.Equal(t, "Cisco/Agent/SetAgentState", f.Triple())
	}
	assert.Equal(t, map[string]bool{"100501": true}, agentsSeen(crmA), "agent A only, across every event type")
	triples := map[string]bool{}
	for _, f := range crmA.Seen {
		triples[f.Triple()] = true
	}
	assert.True(t, triples["Cisco/Agent/SetWrapupCode"] && triples["CRM/Note/Added"] && triples["Cisco/Agent/SetAgentState"], "%v", triples)
	assert.Equal(t, map[string]bool{"100501": true, "102312778": true, "100503": true}, agentsSeen(recorder), "all agents")

	// Publishing over the socket follows the grant.
	wall.Request("pub", "CRM", "Note", "Added", "from the wallboard")
	wall.ExpectError("PubSub", broker.ErrTypeForbidden, "pub")
}

func TestAppCredentialsRefused(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	hour := time.Now().Add(time.Hour)
	otherKey := bytes.Repeat([]byte{7}, 32)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "agent-a-crm", ExpiresAt: jwt.NewNumericDate(hour)}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	noExpiry, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "agent-a-crm"}).SignedString(apps.hmacKey)
	require.NoError(t, err)

	tests := []struct {
		name string
		app  string
		data map[string]string
	}{
		{"wrong secret", "wallboard", map[string]string{"secret": "guess"}},
		{"unknown app", "nobody", map[string]string{"secret": "wall-secret"}},
		{"secret of another app", "recorder", map[string]string{"secret": "wall-secret"}},
		{"JWT signed with another key", "agent-a-crm", map[string]string{"jwt": apps.hs256(t, "agent-a-crm", hour, otherKey)}},
		{"expired JWT", "agent-a-crm", map[string]string{"jwt": apps.hs256(t, "agent-a-crm", time.Now().Add(-time.Minute), apps.hmacKey)}},
		{"JWT without expiry", "agent-a-crm", map[string]string{"jwt": noExpiry}},
		{"JWT for another app", "recorder", map[string]string{"jwt": apps.hs256(t, "agent-a-crm", hour, apps.hmacKey)}},
		{"JWT with alg none", "agent-a-crm", map[string]string{"jwt": none}},
		{"HS256 JWT for an RS256 app", "recorder", map[string]string{"jwt": apps.hs256(t, "recorder", hour, apps.hmacKey)}},
		{"not a JWT", "recorder", map[string]string{"jwt": "not.a.jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := brokertest.Dial(t, e.url)
			got := registerWith(c, tt.app, tt.data)
			assert.Equal(t, broker.ErrTypeInvalidCredentials, got.Error(t).ErrorType)
			c.Request("s", "PubSub", "Subscription", "Subscribe", map[string]string{"channel": "Cisco", "topic": "*", "subtopic": "*"})
			c.Expect("PubSub/Subscription/Subscribed") // an ordinary, ungranted connection: its own scope only
		})
	}
	c := brokertest.Dial(t, e.url)
	f := registerWith(c, "wallboard", map[string]string{"secret": "wall-secret", "token": "x"})
	assert.Equal(t, broker.ErrTypeInvalidInput, f.Error(t).ErrorType, "one credential at a time")
}

func TestPublishAPI(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	a := e.desktop(t, "a-phone")
	login(t, a, "a", "ciscotest", "5064")
	a.Subscribe("CRM", "*", "*")
	crmJWT := apps.hs256(t, "agent-a-crm", time.Now().Add(time.Hour), apps.hmacKey)
	recorderJWT := apps.rs256(t, "recorder", time.Now().Add(time.Hour))

	post := func(auth func(*http.Request), body string) (int, string) {
		return postJSON(t, e.http+"/api/publish", auth, body)
	}
	popFor := func(agent string) string {
		return fmt.Sprintf(`{"id":"pop-1","agent":%q,"channel":"CRM","topic":"Screenpop","subtopic":"Show","data":{"ani":"4085551234"}}`, agent)
	}

	code, body := post(bearer(crmJWT), popFor("100501"))
	assert.Equal(t, http.StatusAccepted, code, body)
	got := a.Expect("CRM/Screenpop/Show")
	assert.Equal(t, "agent-a-crm", got.Source)
	assert.Equal(t, "pop-1", got.CorrelationID)
	assert.JSONEq(t, `{"ani":"4085551234"}`, string(got.Message))

	tests := []struct {
		name       string
		auth       func(*http.Request)
		body       string
		want       int
		wantInBody string
	}{
		{"no credentials", nil, popFor("100501"), http.StatusUnauthorized, "unauthorized"},
		{"wrong secret", basic("wallboard", "nope"), popFor("100501"), http.StatusUnauthorized, "unauthorized"},
		{"forged JWT", bearer(apps.hs256(t, "agent-a-crm", time.Now().Add(time.Hour), bytes.Repeat([]byte{1}, 32))), popFor("100501"), http.StatusUnauthorized, "unauthorized"},
		{"not JSON", bearer(crmJWT), `{"agent":`, http.StatusBadRequest, "invalid"},
		{"no agent", bearer(crmJWT), `{"channel":"CRM","topic":"Screenpop","subtopic":"Show"}`, http.StatusBadRequest, "agent"},
		{"bad envelope", bearer(crmJWT), `{"agent":"100501","channel":"CRM","topic":"Screen*","subtopic":"Show"}`, http.StatusBadRequest, "topic"},
		{"may not publish", basic("wallboard", "wall-secret"), popFor("100501"), http.StatusForbidden, "grants.publish"},
		{"agent outside the grant", bearer(crmJWT), popFor("100503"), http.StatusForbidden, "100503"},
		{"on the Cisco channel", bearer(crmJWT), `{"agent":"100501","channel":"Cisco","topic":"Agent","subtopic":"SetAgentState"}`, http.StatusForbidden, "Cisco"},
		{"unknown agent", bearer(recorderJWT), popFor("999"), http.StatusNotFound, "no agent"},
		{"agent not signed in", bearer(recorderJWT), popFor("100503"), http.StatusNotFound, "not signed in"},
		{"too large", bearer(crmJWT), `{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S","data":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusBadRequest, "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(tt.auth, tt.body)
			assert.Equal(t, tt.want, code, body)
			assert.Contains(t, body, tt.wantInBody)
			var refusal struct{ Error, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &refusal))
			assert.NotEmpty(t, refusal.Message)
		})
	}
	resp, err := http.Get(e.http + "/api/publish")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	a.Request("m", "Cisco", "General", "GetSystemInfo", nil)
	assert.Equal(t, "m", a.Next().CorrelationID, "no refused envelope reached the workspace")
}

func TestLoginAttemptsPerAddress(t *testing.T) {
	e := newEnvWith(t, handlerstest.Config{Cisco: handlers.Config{LoginAttemptsPerIP: 3}})
	c := e.desktop(t, "softphone")
	for i := range 3 {
		signIn(c, fmt.Sprint(i), fmt.Sprintf("user%d", i), "x", "5064")
		c.ExpectError("Cisco", "Authorization Failure", fmt.Sprint(i))
	}
	signIn(c, "4", "ciscotest", "test@123", "5064")
	e4 := c.ExpectError("Cisco", broker.ErrTypeRateLimited, "4")
	assert.Contains(t, e4.Msg, "Wait a minute")
	e.clock.Advance(2 * time.Minute) // the sliding minute forgets the attempts
	login(t, c, "5", "ciscotest", "5064")
}

func TestLoginAttemptsPerAddressSlide(t *testing.T) {
	e := newEnvWith(t, handlerstest.Config{Cisco: handlers.Config{LoginAttemptsPerIP: 3}})
	c := e.desktop(t, "softphone")
	e.clock.Advance(50 * time.Second) // 09:00:50
	for i := range 3 {
		signIn(c, fmt.Sprint(i), fmt.Sprintf("user%d", i), "x", "5064")
		c.ExpectError("Cisco", "Authorization Failure", fmt.Sprint(i))
	}
	// A new minute of the clock is not a new window: three attempts came
	// 15 s ago.
	e.clock.Advance(15 * time.Second) // 09:01:05
	signIn(c, "burst", "ciscotest", "test@123", "5064")
	c.ExpectError("Cisco", broker.ErrTypeRateLimited, "burst")
	e.clock.Advance(2 * time.Minute)
	login(t, c, "later", "ciscotest", "5064")
}

func TestLoginAttemptsPerIPv6AddressCountTheSlash64(t *testing.T) {
	e := newEnvOn(t, handlerstest.Config{Cisco: handlers.Config{LoginAttemptsPerIP: 2}}, behindProxy, nil)
	from := func(addr string) *brokertest.Client {
		c := dialFrom(t, e, addr)
		c.Register("softphone", "Cisco")
		return c
	}
	for i, addr := range []string{"2001:db8:0:1::1", "2001:db8:0:1::2"} {
		c := from(addr)
		signIn(c, "in", fmt.Sprintf("user%d", i), "x", "5064")
		c.ExpectError("Cisco", "Authorization Failure", "in")
	}
	third := from("2001:db8:0:1:ffff::3")
	signIn(third, "in", "ciscotest", "test@123", "5064")
	third.ExpectError("Cisco", broker.ErrTypeRateLimited, "in")
	other := from("2001:db8:0:2::1") // another /64
	login(t, other, "in", "ciscotest", "5064")
}

func TestSubscribingBeforeTheCredentialDoesNotWidenTheGrant(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	wall := brokertest.Dial(t, e.url)
	wall.Subscribe("*", "*", "*") // before any Register: an ordinary connection may
	require.Equal(t, "PubSub/App/Registered", registerWith(wall, "wallboard", map[string]string{"secret": "wall-secret"}).Triple())
	wall.Subscribe("Cisco", "Agent", "SetAgentState")

	a := e.desktop(t, "a-phone")
	login(t, a, "a", "ciscotest", "5064")
	a.Send(map[string]any{"channel": "CRM", "topic": "Screenpop", "subtopic": "Show", "data": "customer data"})
	a.Request("r", "Cisco", "Agent", "SetReadyState", nil)
	a.Next()
	f := wall.Next() // the sign-in's SetAgentState: the */*/* subscription is gone
	assert.Equal(t, "NOT_READY", agentStateOf(t, f).Data.State, "only what the grant covers: %s", f.Raw)
	assert.Equal(t, "READY", agentStateOf(t, wall.Next()).Data.State, "the CRM message and the other sign-in events never came")

	again := registerWith(wall, "wallboard", map[string]string{"secret": "wall-secret"})
	assert.Equal(t, broker.ErrTypeInvalidInput, again.Error(t).ErrorType, "one admission per connection")
}

func TestWrongAppSecretsLockTheApp(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	post := func(secret string) (int, http.Header) {
		req, err := http.NewRequest(http.MethodPost, e.http+"/api/publish", strings.NewReader(`{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("wallboard", secret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for range 5 {
		code, _ := post("guess")
		assert.Equal(t, http.StatusUnauthorized, code)
	}
	code, header := post("wall-secret")
	assert.Equal(t, http.StatusTooManyRequests, code, "locked, even with the right secret")
	assert.Equal(t, "300", header.Get("Retry-After"))

	c := brokertest.Dial(t, e.url)
	assert.Equal(t, broker.ErrTypeInvalidCredentials, registerWith(c, "wallboard", map[string]string{"secret": "wall-secret"}).Error(t).ErrorType)

	e.clock.Advance(5 * time.Minute)
	code, _ = post("wall-secret")
	assert.Equal(t, http.StatusForbidden, code, "unlocked: the wallboard may not publish, but it is let in")
}

func TestWrongSecretsDoNotLockOutTheAppThatHoldsTheRightOne(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	// The wallboard's back end connects, and its secret is proven.
	wall := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(wall, "wallboard", map[string]string{"secret": "wall-secret"}).Triple())

	// An attacker locks the name with five wrong secrets, then keeps guessing.
	for range 5 {
		c := brokertest.Dial(t, e.url)
		assert.Equal(t, "the app credentials are not valid", registerWith(c, "wallboard", map[string]string{"secret": "guess"}).Error(t).ErrorMessage)
	}
	code, body := postJSON(t, e.http+"/api/publish", basic("wallboard", "another guess"), `{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S"}`)
	assert.Equal(t, http.StatusTooManyRequests, code, "guesses are refused while locked: %s", body)
	guess := brokertest.Dial(t, e.url)
	assert.Equal(t, "too many wrong secrets for this app: locked", registerWith(guess, "wallboard", map[string]string{"secret": "guess"}).Error(t).ErrorMessage)

	// The back end reconnects with its secret, over WebSocket and HTTP.
	again := brokertest.Dial(t, e.url)
	assert.Equal(t, "PubSub/App/Registered", registerWith(again, "wallboard", map[string]string{"secret": "wall-secret"}).Triple(), "the proven secret still connects")
	code, body = postJSON(t, e.http+"/api/publish", basic("wallboard", "wall-secret"), `{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S"}`)
	assert.Equal(t, http.StatusForbidden, code, "let in (the wallboard may not publish): %s", body)

	// The guesses were counted: the lock is still there for the next guess.
	code, _ = postJSON(t, e.http+"/api/publish", basic("wallboard", "guess"), `{"agent":"100501","channel":"CRM","topic":"T","subtopic":"S"}`)
	assert.Equal(t, http.StatusTooManyRequests, code)
}

func TestAllAgentsWatcherSeesAgentsWorkspacesOnly(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	monitor := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(monitor, "monitor",
		map[string]string{"jwt": apps.hs256(t, "monitor", time.Now().Add(time.Hour), apps.hmacKey)}).Triple())
	monitor.Subscribe("*", "*", "*")

	// A connection that never signs in publishes in its own scope, and so
	// does another server-side app over its socket; a Subscribe answered
	// after each publish shows it was delivered to whoever would get it.
	anon := brokertest.Dial(t, e.url)
	anon.Register("anon", "")
	anon.Send(map[string]any{"channel": "CRM", "topic": "Note", "subtopic": "Added", "data": "anon's own"})
	anon.Subscribe("X", "Y", "Z")
	crmA := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(crmA, "agent-a-crm",
		map[string]string{"jwt": apps.hs256(t, "agent-a-crm", time.Now().Add(time.Hour), apps.hmacKey)}).Triple())
	crmA.Send(map[string]any{"channel": "CRM", "topic": "Note", "subtopic": "Added", "data": "the app's own"})
	crmA.Subscribe("X", "Y", "Z")

	// An agent's workspace is watched; its last event is the marker.
	a := e.desktop(t, "a-phone")
	login(t, a, "a", "ciscotest", "5064")
	a.Send(map[string]any{"channel": "CRM", "topic": "Note", "subtopic": "Added", "data": "in the workspace"})
	a.Request("end", "Cisco", "Agent", "SetReadyState", nil)
	a.Next()

	var notes []string
	for f := monitor.Next(); f.CorrelationID != "end"; f = monitor.Next() {
		if f.Channel == "CRM" {
			notes = append(notes, string(f.Message)+" from "+f.Source)
		}
	}
	assert.Equal(t, []string{`"in the workspace" from a-phone`}, notes)
}

func TestReservedNamesNeedTheirCredential(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps}})
	phone := e.desktop(t, "softphone")
	tok := token(t, phone, "ciscotest", "5064")

	tests := []struct {
		give     string
		data     map[string]string
		wantType string
	}{
		{"wallboard", map[string]string{"channel": "Cisco"}, broker.ErrTypeInvalidCredentials},
		{"WallBoard", nil, broker.ErrTypeInvalidCredentials},
		{"recorder", map[string]string{"token": tok}, broker.ErrTypeInvalidCredentials},
		{"ctibus", nil, broker.ErrTypeInvalidInput},
		{"CTIBUS", map[string]string{"token": tok}, broker.ErrTypeInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c := brokertest.Dial(t, e.url)
			got := registerWith(c, tt.give, tt.data).Error(t)
			assert.Equal(t, tt.wantType, got.ErrorType)
			assert.Contains(t, got.ErrorMessage, tt.give)
			// Not registered: it cannot speak under that name.
			c.Send(map[string]any{"id": "pub", "channel": "CRM", "topic": "Note", "subtopic": "Added", "data": "x"})
			c.ExpectError("PubSub", broker.ErrTypeNotRegistered, "pub")
		})
	}

	// The app itself registers, and may register again on a channel.
	wall := brokertest.Dial(t, e.url)
	require.Equal(t, "PubSub/App/Registered", registerWith(wall, "wallboard", map[string]string{"secret": "wall-secret"}).Triple())
	assert.Equal(t, "PubSub/App/Registered", registerWith(wall, "wallboard", map[string]string{"channel": "CRM"}).Triple())
}

func TestReloginsDisplaceTheOldestTokens(t *testing.T) {
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{TokensPerAgent: 2}})
	phone := e.desktop(t, "softphone")
	var issued []string
	for range 3 {
		issued = append(issued, token(t, phone, "ciscotest", "5064"))
	}
	tests := []struct {
		give string
		want string
	}{
		{issued[0], "PubSub/Error/SetAPIError"},
		{issued[1], "PubSub/App/Registered"},
		{issued[2], "PubSub/App/Registered"},
	}
	for i, tt := range tests {
		c := brokertest.Dial(t, e.url)
		assert.Equal(t, tt.want, registerWith(c, "crm", map[string]string{"channel": "Cisco", "token": tt.give}).Triple(), "token %d of 3", i)
	}
}

func TestLongLivedJWTsAreRefused(t *testing.T) {
	apps := newTestApps(t)
	e := newEnvWith(t, handlerstest.Config{Desktops: session.DesktopsConfig{Apps: apps.apps, JWTMaxLifetime: 24 * time.Hour}})
	signed := func(issued, expires time.Time) string {
		claims := jwt.RegisteredClaims{Subject: "agent-a-crm", ExpiresAt: jwt.NewNumericDate(expires)}
		if !issued.IsZero() {
			claims.IssuedAt = jwt.NewNumericDate(issued)
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(apps.hmacKey)
		require.NoError(t, err)
		return s
	}
	now := time.Now()
	// Agent 100599 is outside the grant: an app let in gets 403.
	tests := []struct {
		name     string
		give     string
		want     string
		wantCode int
	}{
		{"a day less a minute, no iat", signed(time.Time{}, now.Add(24*time.Hour-time.Minute)), "PubSub/App/Registered", http.StatusForbidden},
		{"an hour, issued now", signed(now, now.Add(time.Hour)), "PubSub/App/Registered", http.StatusForbidden},
		{"a year, no iat", signed(time.Time{}, now.Add(365*24*time.Hour)), "PubSub/Error/SetAPIError", http.StatusUnauthorized},
		{"25 hours from its iat, 23 left", signed(now.Add(-2*time.Hour), now.Add(23*time.Hour)), "PubSub/Error/SetAPIError", http.StatusUnauthorized},
		{"a day and a minute from now, iat in the future", signed(now.Add(time.Hour), now.Add(24*time.Hour+time.Minute)), "PubSub/Error/SetAPIError", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := brokertest.Dial(t, e.url)
			f := registerWith(c, "agent-a-crm", map[string]string{"jwt": tt.give})
			assert.Equal(t, tt.want, f.Triple(), "%s", f.Raw)
			code, _ := postJSON(t, e.http+"/api/publish", bearer(tt.give), `{"agent":"100599","channel":"CRM","topic":"T","subtopic":"S"}`)
			assert.Equal(t, tt.wantCode, code)
		})
	}
}

// behindProxy is a bus behind a proxy on the loopback address, which says
// in X-Forwarded-For which client it speaks for.
var behindProxy = broker.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// dialFrom connects through the proxy as the client at addr.
func dialFrom(t *testing.T, e *env, addr string) *brokertest.Client {
	t.Helper()
	ws, resp, err := brokertest.DialHeader(e.url, http.Header{"X-Forwarded-For": {addr}})
	require.NoError(t, err)
	resp.Body.Close()
	return brokertest.Wrap(t, ws)
}

func TestConnectionsPerIPv6AddressCountTheSlash64(t *testing.T) {
	busCfg := behindProxy
	busCfg.MaxConnectionsPerIP = 2
	e := newEnvOn(t, handlerstest.Config{}, busCfg, nil)
	dialFrom(t, e, "2001:db8:0:1::1")
	dialFrom(t, e, "2001:db8:0:1::2")
	_, resp, err := brokertest.DialHeader(e.url, http.Header{"X-Forwarded-For": {"2001:db8:0:1:ffff::3"}})
	require.Error(t, err, "a third address of the same /64")
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	dialFrom(t, e, "2001:db8:0:2::1") // another /64
	dialFrom(t, e, "192.0.2.1")
	dialFrom(t, e, "192.0.2.2") // IPv4 addresses count one by one
}
