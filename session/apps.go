package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/internal/jsonconfig"
)

// ErrCredentials refuses an app credential: an unknown app, a wrong secret,
// or a JWT that is forged, expired or for another app. The cases are not
// told apart to the caller.
var ErrCredentials = errors.New("session: app credentials refused")

// App is a server-side app of the apps file, and what its grant allows.
type App struct {
	Name      string
	Subscribe []broker.Pattern // the patterns it may subscribe to
	Agents    []string         // loginIds whose workspaces it may see and publish into
	Teams     []string         // teams whose agents it may see and publish into
	AllAgents bool             // every agent
	Publish   bool             // may publish
	Admin     bool             // may read the operator's view (GET /api/admin/snapshot)

	secretHash []byte         // bcrypt; nil for a JWT app
	hmacKey    []byte         // HS256 key
	rsaKey     *rsa.PublicKey // RS256 key
}

// Apps are the server-side apps allowed on the bus, from an apps file.
type Apps struct {
	byName map[string]*App
	byFold map[string]*App // by name in lower case, for Reserved
	// dummyHash is compared against for an unknown app name, so that the
	// time of an answer does not tell which names exist. Its cost is that
	// of every secret hash in the file.
	dummyHash []byte

	// rememberKey keys the HMACs of remembered secrets: random, made at
	// start and never stored, so that what is remembered cannot be tested
	// against guesses anywhere but in this process.
	rememberKey []byte
	mu          sync.Mutex        // guards remembered
	remembered  map[string][]byte // app name -> HMAC of the last secret bcrypt accepted
}

// appsFile is the JSON format of -apps. docs/security.md has an example.
type appsFile struct {
	Apps []appSpec `json:"apps"`
}

type appSpec struct {
	Name       string    `json:"name"`
	SecretHash string    `json:"secretHash"`
	JWT        *jwtSpec  `json:"jwt"`
	Grants     grantSpec `json:"grants"`
}

type jwtSpec struct {
	Algorithm string `json:"algorithm"` // HS256 or RS256
	Secret    string `json:"secret"`    // HS256: the key, base64
	PublicKey string `json:"publicKey"` // RS256: PEM
}

type grantSpec struct {
	Subscribe []string `json:"subscribe"` // Channel/Topic/Subtopic patterns
	Agents    []string `json:"agents"`
	Teams     []string `json:"teams"`
	AllAgents bool     `json:"allAgents"`
	Publish   bool     `json:"publish"`
	Admin     bool     `json:"admin"`
}

// LoadAppsFile reads an apps file; an error names the file, the line and
// column, and the field: apps.json:4:9: apps[1].secretHash: ...
func LoadAppsFile(path string) (*Apps, error) {
	doc, err := jsonconfig.ReadFile(path, "apps file", maxAppsFile)
	if err != nil {
		return nil, err
	}
	return loadApps(doc)
}

// maxAppsFile bounds an apps file.
const maxAppsFile = 16 << 20

// LoadApps reads an apps file from r. An error is a *jsonconfig.Error that
// names the field, its line and its column.
func LoadApps(r io.Reader) (*Apps, error) {
	doc, err := jsonconfig.Read(r, "", "apps file", maxAppsFile)
	if err != nil {
		return nil, err
	}
	return loadApps(doc)
}

func loadApps(doc *jsonconfig.Document) (*Apps, error) {
	var file appsFile
	if err := doc.Decode(&file); err != nil {
		return nil, err
	}
	if len(file.Apps) == 0 {
		return nil, doc.Errorf("apps", "the file lists no apps")
	}
	apps := &Apps{byName: make(map[string]*App, len(file.Apps)), byFold: make(map[string]*App, len(file.Apps)),
		remembered: make(map[string][]byte)}
	apps.rememberKey = make([]byte, 32)
	_, _ = rand.Read(apps.rememberKey) // never fails: crypto/rand panics rather than return short
	cost, secretApps := bcrypt.MinCost, 0
	for i, spec := range file.Apps {
		app, err := spec.build()
		if err != nil {
			// build's errors start with the field inside the app: "name: ...".
			field, msg, _ := strings.Cut(err.Error(), ": ")
			return nil, doc.Errorf(fmt.Sprintf("apps[%d].%s", i, field), "%s", msg)
		}
		if _, dup := apps.byName[app.Name]; dup {
			return nil, doc.Errorf(fmt.Sprintf("apps[%d].name", i), "%q is listed twice", app.Name)
		}
		if other, dup := apps.byFold[strings.ToLower(app.Name)]; dup {
			return nil, doc.Errorf(fmt.Sprintf("apps[%d].name", i), "%q differs from %q only in case; names are reserved ignoring case", app.Name, other.Name)
		}
		apps.byName[app.Name] = app
		apps.byFold[strings.ToLower(app.Name)] = app
		if c, err := bcrypt.Cost(app.secretHash); err == nil {
			// One cost for all, as for agents: the time of an answer then
			// tells no app from another or from an unknown name.
			if secretApps > 0 && c != cost {
				return nil, doc.Errorf(fmt.Sprintf("apps[%d].secretHash", i), "bcrypt cost %d differs from cost %d of the apps before; hash every secret at one cost (ctibus hash-password uses %d)", c, cost, bcrypt.DefaultCost)
			}
			cost, secretApps = c, secretApps+1
		}
	}
	var err error
	if apps.dummyHash, err = bcrypt.GenerateFromPassword([]byte("not an app secret"), cost); err != nil {
		return nil, err
	}
	return apps, nil
}

func (s appSpec) build() (*App, error) {
	app := &App{
		Name:      s.Name,
		Agents:    s.Grants.Agents,
		Teams:     s.Grants.Teams,
		AllAgents: s.Grants.AllAgents,
		Publish:   s.Grants.Publish,
		Admin:     s.Grants.Admin,
	}
	if s.Name == "" || strings.ContainsAny(s.Name, "*/") || strings.TrimSpace(s.Name) != s.Name {
		return nil, fmt.Errorf("name: %q is not a valid app name", s.Name)
	}
	switch {
	case (s.SecretHash == "") == (s.JWT == nil):
		return nil, errors.New("secretHash: give exactly one of secretHash and jwt")
	case s.SecretHash != "":
		if _, err := bcrypt.Cost([]byte(s.SecretHash)); err != nil {
			return nil, errors.New("secretHash: not a bcrypt hash; make one with: ctibus hash-password")
		}
		app.secretHash = []byte(s.SecretHash)
	default:
		if err := s.JWT.keys(app); err != nil {
			return nil, fmt.Errorf("jwt.%w", err)
		}
	}
	for j, p := range s.Grants.Subscribe {
		segments := strings.Split(p, "/")
		if len(segments) != 3 {
			return nil, fmt.Errorf("grants.subscribe[%d]: %q: want Channel/Topic/Subtopic, with * for any one segment", j, p)
		}
		pattern, err := broker.ParsePattern(segments[0], segments[1], segments[2])
		if err != nil {
			return nil, fmt.Errorf("grants.subscribe[%d]: %q: %w", j, p, err)
		}
		app.Subscribe = append(app.Subscribe, pattern)
	}
	return app, nil
}

func (j *jwtSpec) keys(app *App) error {
	switch j.Algorithm {
	case "HS256":
		key, err := base64.StdEncoding.DecodeString(j.Secret)
		if err != nil || len(key) < 32 {
			return errors.New("secret: want a base64 key of at least 32 bytes, such as the output of: openssl rand -base64 32")
		}
		app.hmacKey = key
	case "RS256":
		key, err := jwt.ParseRSAPublicKeyFromPEM([]byte(j.PublicKey))
		if err != nil {
			return fmt.Errorf("publicKey: %w", err)
		}
		app.rsaKey = key
	default:
		return fmt.Errorf("algorithm: %q: want HS256 or RS256", j.Algorithm)
	}
	return nil
}

// Reserved reports whether name, ignoring case, is the name of an app of
// the file: only a connection that presents that app's credential may
// register under it, so that nobody else's messages carry it as source.
func (a *Apps) Reserved(name string) bool {
	_, ok := a.byFold[strings.ToLower(name)]
	return ok
}

// Names returns the names of the apps of the file, sorted.
func (a *Apps) Names() []string {
	names := make([]string, 0, len(a.byName))
	for name := range a.byName {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Remembered returns the app named name if secret is the secret bcrypt
// last accepted for it, compared in constant time through an HMAC keyed
// by this process. It costs no bcrypt, so that a back end may present its
// secret on every request, and it holds while the app is locked out: the
// lockout refuses guesses, not the secret already proven.
func (a *Apps) Remembered(name, secret string) (*App, bool) {
	sum := a.rememberMAC(secret)
	a.mu.Lock()
	want, ok := a.remembered[name]
	a.mu.Unlock()
	if !ok || !hmac.Equal(sum, want) {
		return nil, false
	}
	return a.byName[name], true
}

func (a *Apps) rememberMAC(secret string) []byte {
	mac := hmac.New(sha256.New, a.rememberKey)
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// AuthenticateSecret returns the app named name if secret is its secret,
// checked with bcrypt, and remembers the secret for Remembered. An unknown
// name, an app with a JWT key and an empty secret cost the same bcrypt
// work as a wrong secret, against a dummy hash of the file's one cost, so
// that the time of an answer does not tell which names exist.
func (a *Apps) AuthenticateSecret(name, secret string) (*App, error) {
	app, ok := a.byName[name]
	if !ok || app.secretHash == nil || secret == "" {
		_ = bcrypt.CompareHashAndPassword(a.dummyHash, []byte(secret))
		return nil, ErrCredentials
	}
	if bcrypt.CompareHashAndPassword(app.secretHash, []byte(secret)) != nil {
		return nil, ErrCredentials
	}
	sum := a.rememberMAC(secret)
	a.mu.Lock()
	a.remembered[name] = sum
	a.mu.Unlock()
	return app, nil
}

// DefaultJWTMaxLifetime is the longest a JWT may live by default: a token
// that lives longer is refused, so that a leaked one cannot admit for ever.
const DefaultJWTMaxLifetime = 24 * time.Hour

// ErrJWTLifetime refuses a JWT that would live longer than allowed; it is
// wrapped with ErrCredentials.
var ErrJWTLifetime = errors.New("session: the JWT lives longer than allowed")

// AuthenticateJWT returns the app a JWT speaks for: the app named by its
// "sub" claim, whose key must have signed it with the app's algorithm. The
// token must carry an expiry ("exp") that has not passed and that is at
// most maxLifetime after its issue ("iat", if it has one) and after now;
// maxLifetime zero or less is DefaultJWTMaxLifetime.
func (a *Apps) AuthenticateJWT(token string, maxLifetime time.Duration) (*App, error) {
	if maxLifetime <= 0 {
		maxLifetime = DefaultJWTMaxLifetime
	}
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
		return nil, ErrCredentials
	}
	app, ok := a.byName[claims.Subject]
	if !ok || app.secretHash != nil {
		return nil, ErrCredentials
	}
	method, key := "HS256", any(app.hmacKey)
	if app.rsaKey != nil {
		method, key = "RS256", app.rsaKey
	}
	var verified jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &verified,
		func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{method}), jwt.WithExpirationRequired(), jwt.WithSubject(app.Name))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	expires := verified.ExpiresAt.Time
	if expires.Sub(time.Now()) > maxLifetime ||
		verified.IssuedAt != nil && expires.Sub(verified.IssuedAt.Time) > maxLifetime {
		return nil, fmt.Errorf("%w: %w: at most %s", ErrCredentials, ErrJWTLifetime, maxLifetime)
	}
	return app, nil
}
