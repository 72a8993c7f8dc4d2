package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctibus/ctibus/broker"
)

// Channel is what Desktops needs of a contact-center channel (Cisco, and
// the platforms to come): whether an agent is signed in, how to sign one
// out, who is on a team, and who is signed in at all. The contact center
// stays the source of truth for each; Desktops keeps only what the bus
// adds to it (workspaces, tokens, apps, grace periods).
//
// Errors: a method returns an error wrapping ErrUnavailable when the
// contact center is out of reach, so that a credential is tried again
// later rather than refused; SignedIn returns ErrNoAgent for an agent the
// contact center does not know. Any other error is shown to the app as it
// is, so it should be a *broker.APIError that says what went wrong.
type Channel interface {
	// Name names the channel in its workspaces' scopes ("cisco"): lower
	// case letters and digits, so that two channels' scopes cannot meet.
	Name() string
	// SignedIn reports whether agentID is signed in.
	SignedIn(ctx context.Context, agentID string) (bool, error)
	// SignOut tells the contact center that agentID is to be signed out,
	// for reason. It returns ErrNotSignedIn if the agent was not signed in.
	SignOut(ctx context.Context, agentID string, reason SignOutReason) error
	// TeamMembers returns the agents of a team, by loginId.
	TeamMembers(ctx context.Context, team string) ([]string, error)
	// SignedInAgents returns every agent signed in, by loginId.
	SignedInAgents(ctx context.Context) ([]string, error)
}

// SignOutReason says why Desktops signs an agent out.
type SignOutReason int

// The reasons of a sign-out.
const (
	// Abandoned: no app of the agent's desktop came back within the grace
	// period. A contact center may make such an agent not ready instead
	// (Finesse: a forced logout with reason code 255, by its setting).
	Abandoned SignOutReason = iota + 1
)

func (r SignOutReason) String() string {
	switch r {
	case Abandoned:
		return "abandoned"
	}
	return fmt.Sprintf("SignOutReason(%d)", int(r))
}

// ErrNoAgent says that the contact center knows no such agent.
var ErrNoAgent = errors.New("session: no such agent")

// ErrNotSignedIn says that the agent to sign out is not signed in.
var ErrNotSignedIn = errors.New("session: the agent is not signed in")

// WorkspacePrefix starts the scope of every agent's workspace, on every
// channel, and no other scope.
const WorkspacePrefix = "agent:"

// WorkspaceScope returns the scope of agentID's workspace on channel:
// "agent:<channel>:<agentID>", such as agent:cisco:100501. The channel's
// name is in it so that two platforms' agent ids cannot share a workspace.
func WorkspaceScope(channel, agentID string) broker.Scope {
	return EveryWorkspace(channel) + broker.Scope(agentID)
}

// EveryWorkspace returns the prefix of the scopes of every workspace on
// channel. As the scope an event is about (broker.Event.About), it stands
// for all of them: only apps granted all agents watch it.
func EveryWorkspace(channel string) broker.Scope {
	return broker.Scope(WorkspacePrefix + channel + ":")
}

// checkChannelName panics unless name is a channel name fit for a scope:
// lower case ASCII letters and digits, at least one.
func checkChannelName(name string) {
	ok := name != ""
	for _, r := range name {
		ok = ok && ('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}
	if !ok {
		panic(fmt.Sprintf("session: channel name %q: use lower case letters and digits", name))
	}
}
