package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/docs"
	"github.com/ctibus/ctibus/docs/contract"
)

// TestServesTheContract reads the contract from a running server, as a
// tool that talks to it would: the AsyncAPI document compiles, and both
// documents are the ones in docs/.
func TestServesTheContract(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		path string
		want []byte
	}{
		{path: "/asyncapi.yaml", want: docs.AsyncAPI},
		{path: "/openapi.yaml", want: docs.OpenAPI},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Origin", "https://studio.asyncapi.com")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "application/yaml", resp.Header.Get("Content-Type"))
			assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"), "tools of any origin may read the contract")
			assert.Equal(t, string(tt.want), string(body))
		})
	}
	_, body := get(t, s.URL+"/asyncapi.yaml")
	_, err := contract.Load([]byte(body))
	assert.NoError(t, err, "the served document compiles")

	resp, err := http.Post(s.URL+"/asyncapi.yaml", "application/yaml", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}
