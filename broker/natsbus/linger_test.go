package natsbus

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
	"github.com/ctibus/ctibus/internal/natstest"
)

// TestIdleSubscriptionsGoAFewAtATime: the scopes a node leaves at once are
// unsubscribed from unsubscribesPerTick at a time, oldest first, once the
// linger has passed; a scope wanted again meanwhile stays.
func TestIdleSubscriptionsGoAFewAtATime(t *testing.T) {
	s := natstest.Start(t, "")
	e, err := New(natstest.Connect(t, s, nats.NoEcho()), func(broker.Message) {}, Options{Linger: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })

	const scopes = 2*unsubscribesPerTick + 10
	interests := make([]broker.Interest, scopes)
	for i := range interests {
		interests[i] = broker.Interest{Scope: broker.Scope(fmt.Sprintf("S%03d", i))}
	}
	require.NoError(t, e.Want(interests...))
	held := s.NumSubscriptions()
	for _, in := range interests {
		e.Unwant(in)
	}
	require.NoError(t, e.Want(interests[0])) // back before the linger is over

	e.unsubscribeIdleOnce(time.Now())
	assert.Equal(t, scopes, e.Subscriptions(), "nothing goes before the linger")

	later := time.Now().Add(2 * time.Hour)
	for _, left := range []int{scopes - unsubscribesPerTick, scopes - 2*unsubscribesPerTick, 1, 1} {
		e.unsubscribeIdleOnce(later)
		assert.Equal(t, left, e.Subscriptions())
	}
	require.NoError(t, e.nc.Flush())
	assert.Equal(t, held-scopes+1, s.NumSubscriptions(), "the server lost the idle ones")
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.NotNil(t, e.subs[e.subjectOf(interests[0])], "the scope wanted again is kept")
	assert.Nil(t, e.idle, "nothing left to drop")
}
