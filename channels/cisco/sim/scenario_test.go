package sim_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco/sim"
)

func TestLoadScenarioErrors(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{`{"calls": [{"after": "soon", "agent": "1", "from": "2"}]}`, "calls[0].after"},
		{`{"calls": [{"after": "1s", "from": "2"}]}`, "calls[0].agent"},
		{`{"calls": [{"after": "1s", "agent": "1"}]}`, "calls[0].from"},
		{`{"calls": [{"agent": "1", "from": "2", "ani": "3"}]}`, "ani"},
		{`{"calls": []}`, "empty"},
		{`{"loop": true, "calls": [{"agent": "1", "from": "2"}]}`, "positive after"},
		{`{"calls": [{"agent": "1", "from": "2", "callVariables": 7}]}`, "calls[0].callVariables"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := sim.LoadScenario(strings.NewReader(tt.give))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
