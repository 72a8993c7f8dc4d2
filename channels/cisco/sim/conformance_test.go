package sim_test

import (
	"testing"
	"time"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

// stoppedTimer is a timer that never fires: the suite's contact center
// answers nothing and times nothing out by itself.
type stoppedTimer struct{}

func (stoppedTimer) Stop() bool { return true }

func TestConnectorSuite(t *testing.T) {
	ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
		s := sim.New(ciscotest.SuiteDirectory(t), sim.Config{
			AfterFunc: func(time.Duration, func()) sim.Timer { return stoppedTimer{} },
		})
		return ciscotest.SimHarness(s, s)
	})
}
