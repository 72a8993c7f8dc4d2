package handlers

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/session"
)

// Channel is the Cisco channel as session.Desktops sees it: the contact
// center behind a Connector says who is signed in and who is on a team,
// and signs out the agents whose desktops were abandoned.
type Channel struct {
	cti cisco.Connector
	log *zap.Logger
}

var _ session.Channel = (*Channel)(nil)

// channelName names the Cisco channel in its workspaces' scopes
// (agent:cisco:<loginId>); the bus spells the channel "Cisco".
const channelName = "cisco"

// NewChannel returns the Cisco channel backed by cti.
func NewChannel(cti cisco.Connector, log *zap.Logger) *Channel {
	return &Channel{cti: cti, log: log}
}

// Name returns "cisco".
func (*Channel) Name() string { return channelName }

// SignedIn reports whether the agent is signed in, in any state but LOGOUT.
func (ch *Channel) SignedIn(ctx context.Context, agentID string) (bool, error) {
	known, err := ch.cti.Agent(ctx, agentID)
	if err != nil {
		return false, channelError(err)
	}
	if !known {
		return false, session.ErrNoAgent
	}
	u, err := ch.cti.User(ctx, agentID)
	if err != nil {
		return false, channelError(err)
	}
	return u.State != cisco.StateLogout, nil
}

// SignOut reports an abandoned desktop as Finesse does, with a forced
// logout of reason code 255: the agent goes NOT_READY or is signed out, by
// the contact center's setting (-sim-on-disconnect). The notifier
// publishes the state.
func (ch *Channel) SignOut(ctx context.Context, agentID string, reason session.SignOutReason) error {
	if reason != session.Abandoned {
		return fmt.Errorf("sign %s out: the Cisco channel has no sign-out for reason %s", agentID, reason)
	}
	u, err := ch.cti.Disconnect(ctx, agentID)
	if errors.Is(err, cisco.ErrInvalidState) {
		return fmt.Errorf("%w: %w", session.ErrNotSignedIn, err)
	}
	if err != nil {
		return fmt.Errorf("report agent %s's abandoned desktop: %w", agentID, err)
	}
	ch.log.Info("abandoned desktop reported to the contact center", zap.String("agent", agentID),
		zap.String("state", string(u.State)), zap.String("pendingState", u.PendingState),
		zap.String("reasonCodeId", u.ReasonCodeID))
	return nil
}

// TeamMembers returns the loginIds of the team's agents.
func (ch *Channel) TeamMembers(ctx context.Context, team string) ([]string, error) {
	ids, err := ch.cti.TeamAgents(ctx, team)
	return ids, channelError(err)
}

// SignedInAgents returns the loginIds of the agents signed in.
func (ch *Channel) SignedInAgents(ctx context.Context) ([]string, error) {
	ids, err := ch.cti.SignedInAgents(ctx)
	return ids, channelError(err)
}

// channelError is a connector's error as session.Channel returns it: a
// Finesse error as the app sees it, wrapping session.ErrUnavailable too
// when the contact center is out of reach.
func channelError(err error) error {
	var ce *cisco.Error
	if !errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, cisco.ErrUnavailable) {
		return fmt.Errorf("%w: %w", session.ErrUnavailable, fromCisco(ce))
	}
	return fromCisco(ce)
}

// fromCisco is a Finesse error as the app sees it: its type and message kept.
func fromCisco(ce *cisco.Error) *broker.APIError {
	return &broker.APIError{Type: ce.Type, Message: ce.Message, Msg: ce.Text, Data: ce.ErrorData()}
}
