package session_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/session"
)

func TestWorkspaceScopeNamesTheChannel(t *testing.T) {
	scope := session.WorkspaceScope("cisco", "100501")
	assert.Equal(t, broker.Scope("agent:cisco:100501"), scope)
	assert.True(t, strings.HasPrefix(string(scope), string(session.EveryWorkspace("cisco"))))
	assert.True(t, strings.HasPrefix(string(scope), session.WorkspacePrefix))
	assert.False(t, strings.HasPrefix(string(session.WorkspaceScope("genesys", "100501")), string(session.EveryWorkspace("cisco"))),
		"another platform's agent of the same id is in another workspace")
}

func TestWorkspacesRefuseAChannelNameThatCouldMeetAnother(t *testing.T) {
	for _, name := range []string{"", "Cisco", "cisco:1", "a b"} {
		assert.Panics(t, func() {
			session.NewWorkspaces(session.WorkspacesConfig{Channel: name, OnExpire: func(string) {}})
		}, "channel %q", name)
	}
	assert.NotPanics(t, func() {
		session.NewWorkspaces(session.WorkspacesConfig{Channel: "cisco2", OnExpire: func(string) {}})
	})
}
