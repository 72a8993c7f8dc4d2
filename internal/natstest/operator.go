package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Operator is a NATS server in operator mode, the way a NATS shared by
// several services is usually secured: it admits only users of the accounts
// it knows, each user proving itself with a JWT signed by its account and
// the nkey seed that JWT names, both in a credentials file. Tests use it to
// check that nodes authenticate to an external NATS with such a file.
type Operator struct {
	*server.Server
	key      nkeys.KeyPair // signs the accounts
	resolver *server.MemAccResolver
}

// Account is an account of an Operator, which signs its users' JWTs.
type Account struct {
	key nkeys.KeyPair
}

// StartOperator runs a NATS server with JetStream in operator mode on a free
// loopback port, storing in a directory of the test's, and stops it when the
// test ends. It knows no account until NewAccount makes one.
func StartOperator(t testing.TB) *Operator {
	t.Helper()
	o := &Operator{key: newKey(t, nkeys.CreateOperator), resolver: &server.MemAccResolver{}}
	pub := publicKey(t, o.key)
	claims, err := jwt.Decode(encode(t, jwt.NewOperatorClaims(pub), o.key))
	if err != nil {
		t.Fatalf("natstest: decode the operator's JWT: %v", err)
	}
	// JetStream in operator mode runs its internal subscriptions in a
	// system account, which the server cannot make up itself.
	system := newKey(t, nkeys.CreateAccount)
	systemPub := publicKey(t, system)
	if err := o.resolver.Store(systemPub, encode(t, jwt.NewAccountClaims(systemPub), o.key)); err != nil {
		t.Fatalf("natstest: store the system account's JWT: %v", err)
	}
	s, err := server.NewServer(&server.Options{
		Host:             "127.0.0.1",
		Port:             server.RANDOM_PORT,
		JetStream:        true,
		StoreDir:         t.TempDir(),
		TrustedOperators: []*jwt.OperatorClaims{claims.(*jwt.OperatorClaims)},
		AccountResolver:  o.resolver,
		SystemAccount:    systemPub,
		NoLog:            true,
		NoSigs:           true,
	})
	if err != nil {
		t.Fatalf("natstest: new operator-mode server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("natstest: operator-mode server not ready after 10 s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	o.Server = s
	return o
}

// NewAccount makes an account of the operator and gives it to the server,
// with JetStream if jetStream (no limits but the server's), without it
// otherwise.
func (o *Operator) NewAccount(t testing.TB, jetStream bool) *Account {
	t.Helper()
	a := o.UnknownAccount(t)
	pub := publicKey(t, a.key)
	claims := jwt.NewAccountClaims(pub)
	if jetStream {
		claims.Limits.JetStreamLimits = jwt.JetStreamLimits{
			MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit, Streams: jwt.NoLimit, Consumer: jwt.NoLimit,
		}
	}
	if err := o.resolver.Store(pub, encode(t, claims, o.key)); err != nil {
		t.Fatalf("natstest: store the account's JWT: %v", err)
	}
	return a
}

// UnknownAccount makes an account that the server has never been given, as
// one of another NATS deployment would be: its users are refused.
func (o *Operator) UnknownAccount(t testing.TB) *Account {
	t.Helper()
	return &Account{key: newKey(t, nkeys.CreateAccount)}
}

// Creds returns the contents of a credentials file for a new user of the
// account, allowed everything the account is.
func (a *Account) Creds(t testing.TB) []byte {
	t.Helper()
	user := newKey(t, nkeys.CreateUser)
	claims := jwt.NewUserClaims(publicKey(t, user))
	claims.IssuerAccount = publicKey(t, a.key)
	seed, err := user.Seed()
	if err != nil {
		t.Fatalf("natstest: user seed: %v", err)
	}
	creds, err := jwt.FormatUserConfig(encode(t, claims, a.key), seed)
	if err != nil {
		t.Fatalf("natstest: format the credentials: %v", err)
	}
	return creds
}

func newKey(t testing.TB, create func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatalf("natstest: create an nkey: %v", err)
	}
	return kp
}

func publicKey(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatalf("natstest: public key: %v", err)
	}
	return pub
}

func encode(t testing.TB, claims jwt.Claims, signer nkeys.KeyPair) string {
	t.Helper()
	token, err := claims.Encode(signer)
	if err != nil {
		t.Fatalf("natstest: sign a JWT: %v", err)
	}
	return token
}
