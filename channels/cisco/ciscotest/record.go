package ciscotest

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco"
)

// Recorder keeps what a connector delivers to one subscriber, and notes
// whether the subscriber was ever entered twice at once.
type Recorder struct {
	inside  atomic.Int32 // callbacks running now
	overlap atomic.Bool  // two ran at once

	mu    sync.Mutex // guards the fields below
	got   []cisco.Notification
	added chan struct{} // closed, and replaced, on each notification
}

// Record subscribes a Recorder to c until the test ends.
func Record(t testing.TB, c cisco.Connector) *Recorder {
	r := &Recorder{added: make(chan struct{})}
	t.Cleanup(c.Subscribe(r.add))
	return r
}

func (r *Recorder) add(n cisco.Notification) {
	if r.inside.Add(1) != 1 {
		r.overlap.Store(true)
	}
	runtime.Gosched() // give an overlapping call its chance to show
	r.mu.Lock()
	r.got = append(r.got, n)
	close(r.added)
	r.added = make(chan struct{})
	r.mu.Unlock()
	r.inside.Add(-1)
}

// All returns what was received so far, in order.
func (r *Recorder) All() []cisco.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Overlapped reports whether the subscriber was ever called twice at once.
func (r *Recorder) Overlapped() bool { return r.overlap.Load() }

// Await waits until a notification received matches, and returns the
// first that does; the test fails if none comes within the suite's bound
// for a case.
func (r *Recorder) Await(t testing.TB, what string, match func(cisco.Notification) bool) cisco.Notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	for {
		r.mu.Lock()
		for _, n := range r.got {
			if match(n) {
				r.mu.Unlock()
				return n
			}
		}
		added := r.added
		r.mu.Unlock()
		select {
		case <-added:
		case <-ctx.Done():
			require.FailNow(t, "no notification: "+what)
		}
	}
}

// UserIn matches a User notification of the agent in state.
func UserIn(loginID string, state cisco.State) func(cisco.Notification) bool {
	return func(n cisco.Notification) bool {
		return n.User != nil && n.User.User.LoginID == loginID && n.User.User.State == state
	}
}

// DialogIn matches a Calls notification of the agent with a dialog in which
// the agent's participant is in state.
func DialogIn(loginID, extension, state string) func(cisco.Notification) bool {
	return func(n cisco.Notification) bool {
		return n.Calls != nil && n.Calls.LoginID == loginID && slices.ContainsFunc(n.Calls.Dialogs, func(d cisco.Dialog) bool {
			return ParticipantState(d, extension) == state
		})
	}
}

// ParticipantState returns the state of the participant of d on extension,
// or "" if it has none.
func ParticipantState(d cisco.Dialog, extension string) string {
	for _, p := range d.Participants {
		if p.MediaAddress == extension {
			return p.State
		}
	}
	return ""
}
