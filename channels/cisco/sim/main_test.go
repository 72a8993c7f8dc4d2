package sim_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The simulator promises to start no goroutines; prove it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
