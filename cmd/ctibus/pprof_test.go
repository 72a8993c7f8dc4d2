package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logged returns the field of the first log entry with the message.
func logged(logs, msg, field string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == msg {
			s, _ := entry[field].(string)
			return s
		}
	}
	return ""
}

func TestPprofOnlyWhereAsked(t *testing.T) {
	off := startServer(t, nil)
	_, body := get(t, off.URL+"/debug/pprof/goroutine?debug=1")
	assert.NotContains(t, body, "goroutine profile:", "no profiling endpoints unless asked")
	assert.Empty(t, logged(off.Logs.String(), "profiling endpoints", "url"))

	on := startServer(t, nil, "-pprof-addr", "127.0.0.1:0")
	url := logged(on.Logs.String(), "profiling endpoints", "url")
	require.NotEmpty(t, url, on.Logs.String())
	status, body := get(t, url+"goroutine?debug=1")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "goroutine profile:")
	assert.NotContains(t, on.Logs.String(), "not a loopback address")
	_, body = get(t, on.URL+"/debug/pprof/goroutine?debug=1")
	assert.NotContains(t, body, "goroutine profile:", "not on the bus's own address")
}
