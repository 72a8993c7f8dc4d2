package session_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/session"
)

func TestAppsFileRefusesMixedCostsAndNamesOfOneCase(t *testing.T) {
	at := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte("secret"), cost)
		require.NoError(t, err)
		return string(h)
	}
	_, err := session.LoadApps(strings.NewReader(`{"apps":[{"name":"a","secretHash":"` + at(4) + `"},{"name":"b","secretHash":"` + at(4) + `"}]}`))
	require.NoError(t, err, "one cost for all")

	tests := []struct {
		name    string
		give    string
		wantErr string
	}{
		{"mixed costs", `{"apps":[{"name":"a","secretHash":"` + at(4) + `"},{"name":"b","secretHash":"` + at(5) + `"}]}`,
			"apps file line 1, column 111: apps[1].secretHash: bcrypt cost 5 differs from cost 4 of the apps before"},
		{"names of one case", `{"apps":[{"name":"wallboard","secretHash":"` + at(4) + `"},{"name":"WallBoard","secretHash":"` + at(4) + `"}]}`,
			`apps file line 1, column 108: apps[1].name: "WallBoard" differs from "wallboard" only in case`},
		{"unknown field", `{"apps":[{"name":"a",` + "\n" + `"secret":"x"}]}`,
			"apps file line 2, column 1: apps[0].secret: unknown field; the fields here are name, secretHash, jwt, grants"},
		{"no apps", `{"apps":[]}`, "apps file line 1, column 2: apps: the file lists no apps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := session.LoadApps(strings.NewReader(tt.give))
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestAppsFileGrantsAdmin(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("secret"), 4)
	require.NoError(t, err)
	apps, err := session.LoadApps(strings.NewReader(`{"apps":[
		{"name":"ops","secretHash":"` + string(h) + `","grants":{"admin":true}},
		{"name":"crm","secretHash":"` + string(h) + `","grants":{"publish":true}}]}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"crm", "ops"}, apps.Names())
	ops, err := apps.AuthenticateSecret("ops", "secret")
	require.NoError(t, err)
	assert.True(t, ops.Admin)
	crm, err := apps.AuthenticateSecret("crm", "secret")
	require.NoError(t, err)
	assert.False(t, crm.Admin, "admin is granted by name, never implied")
}
