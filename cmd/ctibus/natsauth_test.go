package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/ctibus/ctibus/broker/brokertest"
)

func TestEmbeddedNATSAdmitsOnlyTheHoldersOfItsToken(t *testing.T) {
	store := t.TempDir()
	listen := freeAddr(t)
	hub := startServer(t, nil, "-nats-embedded", "-nats-listen", listen, "-nats-store", store)

	tokenFile := filepath.Join(store, "nats-token")
	info, err := os.Stat(tokenFile)
	require.NoError(t, err, "the embedded node writes the token its peers need")
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "readable by the server's user only")
	token, err := readToken(tokenFile)
	require.NoError(t, err)
	assert.NotContains(t, hub.Logs.String(), token, "the token is in no log line")
	assert.Contains(t, hub.Logs.String(), tokenFile, "the log says where peers find it")

	tests := []struct {
		name string
		opts []nats.Option
	}{
		{"no credential", nil},
		{"a wrong token", []nats.Option{nats.Token(strings.Repeat("A", len(token)))}},
		{"a user and password", []nats.Option{nats.UserInfo("ctibus", "ctibus")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect("nats://"+listen, append(tt.opts, nats.NoReconnect())...)
			if nc != nil {
				nc.Close()
			}
			require.Error(t, err, "a stranger got into the cluster's NATS")
			assert.ErrorIs(t, err, nats.ErrAuthorization)
		})
	}

	nc, err := nats.Connect("nats://"+listen, nats.Token(token))
	require.NoError(t, err, "the token of the file admits")
	defer nc.Close()

	// A holder of the token who publishes a frame no node would is
	// counted, not delivered. The node receives the events of the scopes
	// its connections are in: an agent signs in there first.
	phone := brokertest.Dial(t, brokertest.WSURL(hub.URL))
	phone.Register("softphone", "Cisco")
	signInOn(t, phone, "login", "ciscotest", "test@123", "5064")
	require.NoError(t, nc.Publish("ctibus.ev.agent:cisco:100501.Cisco.Agent.SetAgentState", []byte("FORGED")))
	require.NoError(t, nc.Flush())
	require.Eventually(t, func() bool {
		resp, err := http.Get(hub.URL + "/metrics") // no require: Eventually runs this on a goroutine of its own
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return err == nil && strings.Contains(string(body), "\nctibus_cluster_frames_dropped_total 1\n")
	}, brokertest.Wait, 20*time.Millisecond, "the dropped frame is counted")
	assert.NotContains(t, hub.Logs.String(), "FORGED")

	// A restart keeps the token, so that the other nodes get back in.
	nc.Close()
	require.NoError(t, hub.Stop())
	startServer(t, nil, "-nats-embedded", "-nats-listen", listen, "-nats-store", store)
	again, err := readToken(tokenFile)
	require.NoError(t, err)
	assert.Equal(t, token, again)
	nc, err = nats.Connect("nats://"+listen, nats.Token(token))
	require.NoError(t, err, "the old token still admits")
	nc.Close()
}

func TestEmbeddedNATSForANodeAloneDoesNotListen(t *testing.T) {
	store := t.TempDir()
	cfg, err := parseConfig([]string{"-nats-embedded", "-nats-store", store}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	link, err := connectNATS(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer link.close()

	assert.True(t, link.state.IsConnected(), "the node connects in process")
	assert.Nil(t, link.embedded.Addr(), "no network listener")
	_, err = os.Stat(filepath.Join(store, "nats-token"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no token file: nobody else needs one")

}

func TestNATSURLsAreLoggedWithoutTheirCredential(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://ops:hunter2@nats1:4222", "nats://ops:xxxxx@nats1:4222"},
		{"tls://s3cr3t-token@nats1:4222", "tls://xxxxx@nats1:4222"},
		{"nats://%zz@nats1", "(a URL that does not parse)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, redactURL(tt.give))
		})
	}

	var logs syncBuffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-nats", "nats://s3cr3t-token@" + freeAddr(t)},
		func(string) string { return "" }, nil, io.Discard, &logs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connect to NATS at [nats://xxxxx@127.0.0.1:")
	assert.NotContains(t, err.Error()+logs.String(), "s3cr3t-token")
}

func TestNATSAuthFlags(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("abc\n"), 0o600))
	tests := []struct {
		args   []string
		wantIn string
	}{
		{[]string{"-nats-listen", "127.0.0.1:4222"}, "-nats-listen needs -nats-embedded"},
		{[]string{"-nats-creds", "node.creds"}, "-nats-creds needs -nats"},
		{[]string{"-nats", "nats://127.0.0.1:4222", "-nats-creds", "node.creds", "-nats-token-file", "t"}, "exclude each other"},
		{[]string{"-nats-token-file", "t"}, "-nats-token-file needs"},
		{[]string{"-nats-embedded", "-nats-token-file", "t"}, "needs no token file"},
		{[]string{"-nats", "nats://ops:pw@127.0.0.1:4222", "-nats-token-file", "t"}, "give one"},
		{[]string{"-nats", "nats://127.0.0.1:4222", "-nats-creds", filepath.Join(dir, "missing.creds")}, "-nats-creds"},
		{[]string{"-nats", "nats://127.0.0.1:4222", "-nats-token-file", filepath.Join(dir, "missing")}, "is the node with the embedded server started?"},
		{[]string{"-nats", "nats://127.0.0.1:4222", "-nats-token-file", short}, "at least 20 characters"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tt.args...), func(string) string { return "" }, nil, io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantIn)
		})
	}
}
