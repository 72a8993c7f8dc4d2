package natstest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"
)

func TestStartServesJetStreamKV(t *testing.T) {
	dir := t.TempDir()
	s := Start(t, dir)
	nc := Connect(t, s)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe", Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = kv.Put(ctx, "k", []byte("v"))
	require.NoError(t, err)
	e, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(e.Value()))
}

func TestOperatorAdmitsTheUsersOfItsAccountsOnly(t *testing.T) {
	o := StartOperator(t)
	creds := o.NewAccount(t, true).Creds(t)
	nc := Connect(t, o.Server, nats.UserCredentialBytes(creds))
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe"})
	require.NoError(t, err, "the account has JetStream")

	_, err = nats.Connect(o.ClientURL(), nats.UserCredentialBytes(o.UnknownAccount(t).Creds(t)), nats.NoReconnect())
	require.ErrorIs(t, err, nats.ErrAuthorization, "a user of an account the server does not know")
	_, err = nats.Connect(o.ClientURL(), nats.NoReconnect())
	require.ErrorIs(t, err, nats.ErrAuthorization, "no credential")

	// The user's JWT with a seed of another user: the server checks the
	// signature of its nonce, not only the JWT.
	seed, err := jwt.ParseDecoratedUserNKey(creds)
	require.NoError(t, err)
	own, err := seed.Seed()
	require.NoError(t, err)
	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	otherSeed, err := other.Seed()
	require.NoError(t, err)
	forged := bytes.Replace(creds, own, otherSeed, 1)
	require.NotEqual(t, creds, forged)
	_, err = nats.Connect(o.ClientURL(), nats.UserCredentialBytes(forged), nats.NoReconnect())
	require.ErrorIs(t, err, nats.ErrAuthorization, "a user's JWT with another seed")
}
