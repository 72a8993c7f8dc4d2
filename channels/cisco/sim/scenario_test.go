package sim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/channels/cisco/sim"
	"github.com/ctibus/ctibus/internal/jsonconfig"
)

func TestLoadScenarioErrors(t *testing.T) {
	tests := []struct {
		give string
		want string // the location and field the error starts with
	}{
		{`{"calls": [{"after": "soon", "agent": "1", "from": "2"}]}`, "line 1, column 13: calls[0].after: "},
		{`{"calls": [{"after": "1s", "from": "2"}]}`, "line 1, column 12: calls[0].agent: "},
		{`{"calls": [{"after": "1s", "agent": "1"}]}`, "line 1, column 12: calls[0].from: "},
		{`{"calls": [{"agent": "1", "from": "2", "ani": "3"}]}`, "line 1, column 40: calls[0].ani: unknown field"},
		{`{"calls": [{"agent": 1, "from": "2"}]}`, "line 1, column 22: calls[0].agent: got a number"},
		{`{"calls": []}`, "line 1, column 2: calls: the list is empty"},
		{`{"loop": true, "calls": [{"agent": "1", "from": "2"}]}`, "line 1, column 2: loop: a looping scenario needs a positive after"},
		{"{\"calls\": [\n  {\"agent\": \"1\", \"from\": \"2\", \"callVariables\": 7}]}", "line 2, column 31: calls[0].callVariables: "},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := sim.LoadScenario(strings.NewReader(tt.give))
			var cfgErr *jsonconfig.Error
			require.ErrorAs(t, err, &cfgErr)
			assert.True(t, strings.HasPrefix(err.Error(), "scenario "+tt.want), "got %q", err)
		})
	}
}

func TestLoadScenarioFileNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.json")
	require.NoError(t, os.WriteFile(path, []byte("{\"calls\": [\n  {\"after\": \"soon\", \"agent\": \"1\", \"from\": \"2\"}]}"), 0o600))
	_, err := sim.LoadScenarioFile(path)
	require.Error(t, err)
	assert.Equal(t, path+`:2:4: calls[0].after: "soon" is not a duration; write it like 5s, 1m30s or 250ms`, err.Error())
}
