package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ctibus/ctibus/docs"
)

// httpResource is the name docs/openapi.yaml is compiled under.
const httpResource = "https://github.com/ctibus/ctibus/docs/openapi.yaml"

// HTTP checks the answers of the HTTP APIs against the OpenAPI document
// (docs/openapi.yaml).
type HTTP struct {
	compiler *jsonschema.Compiler
	doc      openAPIDocument

	mu      sync.Mutex                    // guards schemas
	schemas map[string]*jsonschema.Schema // by location in the document
}

// openAPIDocument is the part of an OpenAPI document the checks read.
type openAPIDocument struct {
	Paths map[string]map[string]struct {
		Responses map[string]openAPIResponse `json:"responses"`
	} `json:"paths"`
	Components struct {
		Responses map[string]openAPIResponse `json:"responses"`
	} `json:"components"`
}

type openAPIResponse struct {
	Ref     string                     `json:"$ref"`
	Content map[string]json.RawMessage `json:"content"`
}

// DefaultHTTP returns the checks of the embedded document, loaded once.
var DefaultHTTP = sync.OnceValues(func() (*HTTP, error) { return LoadHTTP(docs.OpenAPI) })

// LoadHTTP reads the OpenAPI document doc.
func LoadHTTP(doc []byte) (*HTTP, error) {
	// OpenAPI 3.1's schemas are JSON Schema 2020-12.
	compiler, asJSON, err := compilerOf(doc, httpResource, jsonschema.Draft2020)
	if err != nil {
		return nil, err
	}
	h := &HTTP{compiler: compiler, schemas: map[string]*jsonschema.Schema{}}
	if err := json.Unmarshal(asJSON, &h.doc); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return h, nil
}

// CheckResponse checks the JSON body of an answer with status to method on
// path: the document must describe that status for that operation, and
// the body must satisfy its schema.
func (h *HTTP) CheckResponse(method, path string, status int, body []byte) error {
	op, ok := h.doc.Paths[path][strings.ToLower(method)]
	if !ok {
		return fmt.Errorf("contract: the OpenAPI document has no operation %s %s", method, path)
	}
	code := strconv.Itoa(status)
	resp, ok := op.Responses[code]
	if !ok {
		return fmt.Errorf("contract: %s %s does not document status %d", method, path, status)
	}
	location := "/paths/" + pointerEscape(path) + "/" + strings.ToLower(method) + "/responses/" + code
	if name, ok := strings.CutPrefix(resp.Ref, "#/components/responses/"); ok {
		resp, location = h.doc.Components.Responses[name], "/components/responses/"+pointerEscape(name)
	}
	if _, ok := resp.Content["application/json"]; !ok {
		return fmt.Errorf("contract: %s %s status %d has no JSON body in the document", method, path, status)
	}
	schema, err := h.schema(location + "/content/application~1json/schema")
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("contract: %s %s status %d: the body is not JSON: %w", method, path, status, err)
	}
	if err := schema.Validate(v); err != nil {
		return fmt.Errorf("contract: %s %s status %d: %w", method, path, status, detailed(err))
	}
	return nil
}

// schema compiles the schema at location (a JSON pointer), once.
func (h *HTTP) schema(location string) (*jsonschema.Schema, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.schemas[location]; ok {
		return s, nil
	}
	s, err := h.compiler.Compile(httpResource + "#" + location)
	if err != nil {
		return nil, fmt.Errorf("contract: compile %s: %w", location, err)
	}
	h.schemas[location] = s
	return s, nil
}

// pointerEscape escapes a key for a JSON pointer (RFC 6901).
func pointerEscape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}
