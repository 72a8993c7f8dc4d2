package natsbus_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ctibus/ctibus/broker/brokertest"
)

func TestMain(m *testing.M) {
	brokertest.FixtureChannels("Test", "Feed") // the channels on which these tests' handlers answer
	goleak.VerifyTestMain(m)
}
