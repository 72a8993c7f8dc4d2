package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker/brokertest"
	"github.com/ctibus/ctibus/internal/natstest"
)

// writeCreds writes a credentials file to a directory of the test's.
func writeCreds(t *testing.T, creds []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "node.creds")
	require.NoError(t, os.WriteFile(file, creds, 0o600))
	return file
}

// secretsOf returns the user JWT and the seed of a credentials file.
func secretsOf(t *testing.T, creds []byte) (userJWT, seed string) {
	t.Helper()
	userJWT, err := jwt.ParseDecoratedJWT(creds)
	require.NoError(t, err)
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	require.NoError(t, err)
	b, err := kp.Seed()
	require.NoError(t, err)
	return userJWT, string(b)
}

// assertNoSecretOf fails if text holds a line of a credentials file other
// than its decoration and comments: the JWT, the seed, or whatever else
// the file holds.
func assertNoSecretOf(t *testing.T, creds []byte, text string) {
	t.Helper()
	for line := range strings.Lines(string(creds)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "---") || strings.HasPrefix(line, "*") {
			continue
		}
		assert.NotContains(t, text, line)
	}
}

func TestNodesJoinAnOperatorModeNATSWithACredentialsFile(t *testing.T) {
	t.Parallel()
	ns := natstest.StartOperator(t)
	creds := ns.NewAccount(t, true).Creds(t)
	file := writeCreds(t, creds)
	nodes := startNodes(t, 2, ns.ClientURL(), "-nats-creds", file)

	phone := brokertest.Dial(t, brokertest.WSURL(nodes[0].URL))
	phone.Register("softphone", "Cisco")
	state, token := signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	assert.Equal(t, "NOT_READY", state)
	crm := joinWith(t, nodes[1].URL, "crm", token)
	phone.Request("ready", "Cisco", "Agent", "SetReadyState", nil)
	assert.Equal(t, "READY", agentStateIn(t, crm.Expect("Cisco/Agent/SetAgentState")), "the nodes share one bus")

	for _, n := range nodes {
		assertNoSecretOf(t, creds, n.Logs.String())
	}
}

func TestNodesWithoutAValidCredentialDoNotStart(t *testing.T) {
	ns := natstest.StartOperator(t)
	good := ns.NewAccount(t, true).Creds(t)
	_, goodSeed := secretsOf(t, good)
	stranger, err := nkeys.CreateUser()
	require.NoError(t, err)
	strangerSeed, err := stranger.Seed()
	require.NoError(t, err)
	wrongSeed := bytes.Replace(good, []byte(goodSeed), strangerSeed, 1)

	tests := []struct {
		name   string
		creds  []byte // nil: no -nats-creds
		wantIn string
	}{
		{"no credential", nil, "NATS requires a credential: give -nats-creds"},
		{"a user of an account the server does not know", ns.UnknownAccount(t).Creds(t), "NATS refused the user of -nats-creds"},
		{"the JWT of a user with another seed", wrongSeed, "its nkey seed is not the one of its user JWT"},
		{"a file that is no credentials file", []byte("not a credentials file\n"), "no user JWT in it"},
		{"a user of an account without JetStream", ns.NewAccount(t, false).Creds(t), "jetstream not enabled for account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"-addr", "127.0.0.1:0", "-nats", ns.ClientURL()}
			if tt.creds != nil {
				args = append(args, "-nats-creds", writeCreds(t, tt.creds))
			}
			var logs syncBuffer
			err := run(context.Background(), args, func(string) string { return "" }, nil, io.Discard, &logs)
			require.Error(t, err, "the node started")
			assert.Contains(t, err.Error(), tt.wantIn)
			assertNoSecretOf(t, tt.creds, err.Error()+logs.String())
		})
	}
}
