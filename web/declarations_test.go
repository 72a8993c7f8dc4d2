package web

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ctibus/ctibus/docs"
	"github.com/ctibus/ctibus/docs/contract"
)

var update = flag.Bool("update", false, "rewrite the generated part of static/ctibus.d.ts from docs/asyncapi.yaml")

// declarations is the TypeScript declaration file of ctibus.js.
const declarations = "static/ctibus.d.ts"

// The generated part of the declarations lies between these lines.
const (
	generatedBegin = "// ---- generated from docs/asyncapi.yaml by `go test ./web -run TestDeclarations -update`: do not edit below ----"
	generatedEnd   = "// ---- end of the generated part ----"
)

// TestDeclarationsFollowTheContract keeps static/ctibus.d.ts true to the
// contract: its payload types are generated from the schemas of
// docs/asyncapi.yaml, and every request and event triple of the document,
// aliases included, has its entry in the declarations' maps, and no other.
func TestDeclarationsFollowTheContract(t *testing.T) {
	src, err := os.ReadFile(declarations)
	require.NoError(t, err)
	begin := strings.Index(string(src), generatedBegin)
	end := strings.Index(string(src), generatedEnd)
	require.True(t, begin >= 0 && end > begin, "%s marks its generated part", declarations)

	want, err := generateDeclarations(docs.AsyncAPI)
	require.NoError(t, err)
	if *update {
		out := string(src[:begin]) + generatedBegin + "\n" + want + string(src[end:])
		require.NoError(t, os.WriteFile(declarations, []byte(out), 0o644))
		return
	}
	got := string(src[begin+len(generatedBegin)+1 : end])
	assert.Equal(t, want, got, "%s is out of date: run go test ./web -run TestDeclarations -update", declarations)

	c, err := contract.Default()
	require.NoError(t, err)
	assert.Equal(t, c.Requests(), mapKeys(t, got, "RequestData"), "every request of the contract and its aliases, and only those, in RequestData")
	assert.Equal(t, c.Events(), mapKeys(t, got, "EventPayloads"), "every event of the contract, and only those, in EventPayloads")
}

// mapKeys returns the sorted keys of the TypeScript interface name in src.
func mapKeys(t *testing.T, src, name string) []string {
	t.Helper()
	body := regexp.MustCompile(`(?s)export interface ` + name + ` \{\n(.*?)\n\}`).FindStringSubmatch(src)
	require.NotNil(t, body, "interface %s", name)
	var keys []string
	for _, m := range regexp.MustCompile(`(?m)^  "([^"]+)": `).FindAllStringSubmatch(body[1], -1) {
		keys = append(keys, m[1])
	}
	sort.Strings(keys)
	return keys
}

// asyncAPI is the part of the document the declarations come from.
type asyncAPI struct {
	Operations map[string]struct {
		Action   string `yaml:"action"`
		Messages []struct {
			Ref string `yaml:"$ref"`
		} `yaml:"messages"`
	} `yaml:"operations"`
	Components struct {
		Messages map[string]struct {
			Triple  string         `yaml:"x-ctibus-triple"`
			Aliases []string       `yaml:"x-ctibus-aliases"`
			Payload map[string]any `yaml:"payload"`
		} `yaml:"messages"`
		Schemas yaml.Node `yaml:"schemas"` // a node, to keep the document's order
	} `yaml:"components"`
}

// generateDeclarations renders the schemas of the AsyncAPI document doc as
// TypeScript types, and the maps from each triple to its payload.
func generateDeclarations(doc []byte) (string, error) {
	var d asyncAPI
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return "", err
	}
	var b strings.Builder
	nodes := d.Components.Schemas.Content
	for i := 0; i+1 < len(nodes); i += 2 {
		var schema map[string]any
		if err := nodes[i+1].Decode(&schema); err != nil {
			return "", err
		}
		writeDeclaration(&b, nodes[i].Value, schema)
	}

	requests := map[string]string{}
	events := map[string]string{}
	for _, op := range d.Operations {
		for _, ref := range op.Messages {
			m := d.Components.Messages[strings.TrimPrefix(ref.Ref, "#/channels/bus/messages/")]
			if strings.Contains(m.Triple, "*") {
				continue // the messages of free channels and any channel's error: typed by BusEvent
			}
			props, _ := m.Payload["properties"].(map[string]any)
			switch op.Action {
			case "receive":
				for _, t := range append([]string{m.Triple}, m.Aliases...) {
					requests[t] = tsType(props["data"], "")
				}
			case "send":
				events[m.Triple] = tsType(props["message"], "")
			}
		}
	}
	writeMap(&b, "RequestData", "The data of each request the bus handles, by triple (aliases included). Keys of data match ignoring case.", requests)
	writeMap(&b, "EventPayloads", "The message of each event of the bus, by triple.", events)
	return b.String(), nil
}

func writeMap(b *strings.Builder, name, doc string, entries map[string]string) {
	fmt.Fprintf(b, "/** %s */\nexport interface %s {\n", doc, name)
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "  %q: %s;\n", k, entries[k])
	}
	b.WriteString("}\n\n")
}

func writeDeclaration(b *strings.Builder, name string, schema map[string]any) {
	if desc, ok := schema["description"].(string); ok {
		writeDoc(b, "", desc)
	}
	_, isObject := schema["properties"]
	_, hasAlternatives := schema["oneOf"]
	if isObject && !hasAlternatives {
		fmt.Fprintf(b, "export interface %s %s\n\n", name, objectType(schema, ""))
		return
	}
	fmt.Fprintf(b, "export type %s = %s;\n\n", name, tsType(schema, ""))
}

func writeDoc(b *strings.Builder, indent, desc string) {
	desc = strings.ReplaceAll(strings.TrimSpace(desc), "*/", "*\\/")
	fmt.Fprintf(b, "%s/** %s */\n", indent, strings.ReplaceAll(desc, "\n", "\n"+indent+" * "))
}

var identifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// objectType renders an object schema with properties as a type literal.
func objectType(schema map[string]any, indent string) string {
	props, _ := schema["properties"].(map[string]any)
	var required []string
	for _, r := range asSlice(schema["required"]) {
		required = append(required, fmt.Sprint(r))
	}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{\n")
	inner := indent + "  "
	for _, k := range names {
		p := props[k]
		if pm, ok := p.(map[string]any); ok {
			if desc, ok := pm["description"].(string); ok {
				writeDoc(&b, inner, desc)
			}
		}
		key := k
		if !identifier.MatchString(k) {
			key = fmt.Sprintf("%q", k)
		}
		optional := "?"
		if slices.Contains(required, k) {
			optional = ""
		}
		fmt.Fprintf(&b, "%s%s%s: %s;\n", inner, key, optional, tsType(p, inner))
	}
	if extra, ok := schema["additionalProperties"].(map[string]any); ok {
		fmt.Fprintf(&b, "%s[key: string]: %s;\n", inner, tsType(extra, inner))
	}
	b.WriteString(indent + "}")
	return b.String()
}

// tsType renders a schema as a TypeScript type. Keywords TypeScript cannot
// express (patterns, lengths, if/then/else, not) are left to the schema.
func tsType(s any, indent string) string {
	if s == false {
		return "never"
	}
	schema, ok := s.(map[string]any)
	if !ok {
		return "unknown"
	}
	if ref, ok := schema["$ref"].(string); ok {
		return strings.TrimPrefix(ref, "#/components/schemas/")
	}
	if c, ok := schema["const"]; ok {
		return literal(c)
	}
	if e, ok := schema["enum"]; ok {
		var parts []string
		for _, v := range asSlice(e) {
			parts = append(parts, literal(v))
		}
		return strings.Join(parts, " | ")
	}
	for _, combinator := range []string{"oneOf", "anyOf"} {
		if alts, ok := schema[combinator]; ok {
			var parts []string
			for _, a := range asSlice(alts) {
				parts = append(parts, tsType(a, indent))
			}
			return strings.Join(parts, " | ")
		}
	}
	if all, ok := schema["allOf"]; ok {
		var parts []string
		for _, a := range asSlice(all) {
			parts = append(parts, tsType(a, indent))
		}
		return strings.Join(parts, " & ")
	}
	var parts []string
	types := asSlice(schema["type"])
	if t, ok := schema["type"].(string); ok {
		types = []any{t}
	}
	for _, t := range types {
		switch t {
		case "string":
			parts = append(parts, "string")
		case "integer", "number":
			parts = append(parts, "number")
		case "boolean":
			parts = append(parts, "boolean")
		case "null":
			parts = append(parts, "null")
		case "array":
			item := tsType(schema["items"], indent)
			if strings.ContainsAny(item, "|&") {
				item = "(" + item + ")"
			}
			parts = append(parts, item+"[]")
		case "object":
			if _, ok := schema["properties"]; ok {
				parts = append(parts, objectType(schema, indent))
			} else if extra, ok := schema["additionalProperties"].(map[string]any); ok {
				parts = append(parts, "{ [key: string]: "+tsType(extra, indent)+" }")
			} else {
				parts = append(parts, "{ [key: string]: unknown }")
			}
		}
	}
	if len(parts) == 0 {
		if _, ok := schema["properties"]; ok {
			return objectType(schema, indent)
		}
		return "unknown"
	}
	return strings.Join(parts, " | ")
}

func literal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestPackage checks the npm package of the client: no dependencies, an
// exports map that gives the declarations with the module, and every file
// it ships present.
func TestPackage(t *testing.T) {
	b, err := os.ReadFile("static/package.json")
	require.NoError(t, err)
	var pkg struct {
		Type    string                     `json:"type"`
		Exports map[string]json.RawMessage `json:"exports"`
		Types   string                     `json:"types"`
		Files   []string                   `json:"files"`
	}
	require.NoError(t, json.Unmarshal(b, &pkg))
	var all map[string]any
	require.NoError(t, json.Unmarshal(b, &all))
	for _, deps := range []string{"dependencies", "peerDependencies", "optionalDependencies", "bundleDependencies"} {
		assert.NotContains(t, all, deps, "the client has no runtime dependencies")
	}
	assert.Equal(t, "module", pkg.Type)
	var root struct {
		Types   string `json:"types"`
		Default string `json:"default"`
	}
	require.NoError(t, json.Unmarshal(pkg.Exports["."], &root))
	assert.Equal(t, "./ctibus.d.ts", root.Types)
	assert.Equal(t, "./ctibus.js", root.Default)
	assert.Equal(t, "./ctibus.d.ts", pkg.Types)
	for _, f := range pkg.Files {
		_, err := os.Stat("static/" + f)
		assert.NoError(t, err, "the package ships %s", f)
	}
}

// TestHandlerServesTheDeclarations serves the declarations beside the
// client, as TypeScript, to pages and tools of any origin.
func TestHandlerServesTheDeclarations(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/ctibus.d.ts")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/typescript; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, string(body), "export class CtiBus")
}
