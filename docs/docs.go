// Package docs holds the machine-readable contract of the bus beside the
// readable guides: asyncapi.yaml (the WebSocket bus, with a JSON Schema for
// every frame) and openapi.yaml (the HTTP APIs). The binary serves both,
// and the test suite checks every frame its clients exchange against them
// (package contract), so the documents, the server and the tests cannot
// drift apart.
package docs

import (
	_ "embed"
	"net/http"
)

// AsyncAPI is docs/asyncapi.yaml, the AsyncAPI 3.0 document of the bus.
//
//go:embed asyncapi.yaml
var AsyncAPI []byte

// OpenAPI is docs/openapi.yaml, the OpenAPI 3.1 document of the HTTP APIs.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Handler serves doc as YAML. Any origin may read it: the contract is the
// same for every server and holds nothing secret, and tools such as
// AsyncAPI Studio read it from their own origin.
func Handler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodGet {
			_, _ = w.Write(doc)
		}
	})
}
