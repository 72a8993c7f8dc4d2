package fakeclock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
