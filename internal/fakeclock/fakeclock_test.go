package fakeclock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/fakeclock"
)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	c := fakeclock.New(start)
	assert.Equal(t, start, c.Now())
	assert.Equal(t, start, c.Now(), "time stands still")
	c.Advance(90 * time.Second)
	assert.Equal(t, start.Add(90*time.Second), c.Now())

	done := make(chan struct{})
	go func() { // read from another goroutine, as the code under test does
		defer close(done)
		c.Advance(time.Second)
	}()
	_ = c.Now()
	<-done
	assert.Equal(t, start.Add(91*time.Second), c.Now())
}

func TestTimersFireOnlyWhenFired(t *testing.T) {
	var ts fakeclock.Timers
	var fired []string
	a := ts.AfterFunc(time.Second, func() { fired = append(fired, "a") })
	b := ts.AfterFunc(time.Minute, func() { fired = append(fired, "b") })
	c := ts.AfterFunc(time.Hour, func() { fired = append(fired, "c") })
	assert.Equal(t, []*fakeclock.Timer{a, b, c}, ts.Running(), "started, in order")
	assert.Equal(t, time.Minute, b.Duration())

	assert.True(t, b.Stop())
	assert.False(t, b.Stop(), "stopped already")
	assert.False(t, b.Fire(), "a stopped timer does not fire")
	assert.True(t, c.Fire())
	assert.False(t, c.Fire(), "a timer fires once")
	assert.False(t, c.Stop(), "a fired timer is no longer running")
	assert.Equal(t, []string{"c"}, fired)
	assert.Equal(t, []*fakeclock.Timer{a}, ts.Running())

	run, ok := a.Expire()
	require.True(t, ok)
	assert.False(t, a.Stop(), "a Stop after the expiry comes too late")
	assert.Equal(t, []string{"c"}, fired, "an expired timer's function runs when the test runs it")
	run()
	assert.Equal(t, []string{"c", "a"}, fired)
	assert.Empty(t, ts.Running())
	_, ok = a.Expire()
	assert.False(t, ok, "a timer expires once")
}
