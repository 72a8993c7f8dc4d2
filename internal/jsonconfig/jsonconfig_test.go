package jsonconfig_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/internal/jsonconfig"
)

type testFile struct {
	Name  string `json:"name"`
	Items []struct {
		ID    int             `json:"id"`
		Extra json.RawMessage `json:"extra"`
	} `json:"items"`
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"type", "{\"name\": \"a\",\n \"items\": [{\"id\": 1}, {\"id\": \"two\"}]}", `thing line 2, column 30: items[1].id: got a string, want a whole number`},
		{"unknown field", "{\"items\": [{\"id\": 1, \"idd\": 2}]}", `thing line 1, column 22: items[0].idd: unknown field; the fields here are id, extra`},
		{"self-decoding value takes anything", "{\"items\": [{\"extra\": {\"x\": [1]}, \"id\": \"x\"}]}", `thing line 1, column 40: items[0].id: got a string, want a whole number`},
		{"syntax", "{\"name\": \"a\",\n \"items\": [}", `thing line 2, column 12: items: JSON syntax: invalid character '}' looking for beginning of value`},
		{"truncated", "{\"name\": \"a\"", `thing line 1, column 13: JSON syntax: the file ends inside the thing object`},
		{"trailing data", "{\"name\": \"a\"} {}", `thing line 1, column 15: unexpected data after the thing object`},
		{"empty", "  ", `thing: empty; the thing is a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonconfig.Read(strings.NewReader(tt.give), "", "thing", 1<<10)
			require.NoError(t, err)
			var f testFile
			err = doc.Decode(&f)
			var cfgErr *jsonconfig.Error
			require.ErrorAs(t, err, &cfgErr)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestErrorfLocatesTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "things.json")
	require.NoError(t, os.WriteFile(path, []byte("{\"name\": \"a\",\n  \"items\": [{\"id\": 1}, {\"id\": 7}]}"), 0o600))
	doc, err := jsonconfig.ReadFile(path, "thing", 1<<10)
	require.NoError(t, err)
	var f testFile
	require.NoError(t, doc.Decode(&f))
	assert.Equal(t, path+":2:25: items[1].id: 7 is too big", doc.Errorf("items[1].id", "%d is too big", 7).Error())
	// A missing field points at the nearest value that is there.
	assert.Equal(t, path+":2:3: items[2].id: missing", doc.Errorf("items[2].id", "missing").Error())
}

func TestReadBoundsTheSize(t *testing.T) {
	_, err := jsonconfig.Read(strings.NewReader(strings.Repeat(" ", 2<<20+1)), "", "thing", 2<<20)
	assert.EqualError(t, err, "thing: larger than 2 MiB")
}
