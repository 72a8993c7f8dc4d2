package finessecluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// A closed cluster leaves no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
