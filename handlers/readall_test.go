package handlers

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReadAllRunsEveryReadAndReportsTheFirstError checks that the sign-in's
// reads all run, and that the error reported is the first in their order,
// whichever failed first in time.
func TestReadAllRunsEveryReadAndReportsTheFirstError(t *testing.T) {
	var ran atomic.Int32
	first, second := errors.New("first"), errors.New("second")
	// The second read fails at once; the first fails only once the
	// third has run, so the second's error is the earlier in time.
	third := make(chan struct{})
	err := readAll(
		func() error { <-third; ran.Add(1); return first },
		func() error { ran.Add(1); return second },
		func() error { ran.Add(1); close(third); return nil },
	)
	assert.Equal(t, first, err)
	assert.Equal(t, int32(3), ran.Load())
	assert.NoError(t, readAll(func() error { return nil }, func() error { return nil }))
}
