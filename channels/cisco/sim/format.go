package sim

import (
	"github.com/ctibus/ctibus/channels/cisco"

	"fmt"
	"time"
)

// formatTime renders t as a Finesse timestamp, or "" for the zero time:
// Finesse leaves stateChangeTime empty until it has seen a state change.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(cisco.TimeFormat)
}

// formatAgentTime renders the time spent in a state as mm:ss, or hh:mm:ss
// from one hour on, as the Acqueon agentTime field does.
func formatAgentTime(d time.Duration) string {
	if d < 0 {
		// A clock stepped back; a negative duration would read as garbage.
		d = 0
	}
	s := int64(d / time.Second)
	if s < 3600 {
		return fmt.Sprintf("%02d:%02d", s/60, s%60)
	}
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// errAuthorization is the one error for a wrong password and an unknown
// user alike: telling them apart would let a caller list the valid usernames.
func errAuthorization() *cisco.Error {
	return &cisco.Error{
		Type:    cisco.ErrorTypeAuthorization,
		Message: cisco.ErrorMessageUnauthorized,
		Text:    "The username or password is wrong. Check both and try again.",
	}
}
