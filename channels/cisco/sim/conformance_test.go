package sim_test

import (
	"testing"

	"github.com/ctibus/ctibus/channels/cisco/ciscotest"
	"github.com/ctibus/ctibus/channels/cisco/sim"
)

func TestConnectorSuite(t *testing.T) {
	ciscotest.ConnectorSuite(t, func(t *testing.T) ciscotest.Harness {
		s := sim.New(ciscotest.SuiteDirectory(t), sim.Config{AfterFunc: ciscotest.NoTimers})
		return ciscotest.SimHarness(s, s)
	})
}
