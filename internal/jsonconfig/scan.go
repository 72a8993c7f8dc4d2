package jsonconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// encoding/json reports where a config file went wrong poorly: a type
// error carries a field path without array indexes and the offset of the
// end of the value, an unknown field carries only the key. The scanner below
// walks the document token by token alongside the Go types it decodes into,
// so that an error can name the exact field (agents[2].teamId) and its line
// and column. It runs only after decoding has failed, so it costs nothing on
// the good path.

// jsonValue is a value, or an object key, met by scanJSON.
type jsonValue struct {
	path   string       // field path, e.g. agents[2].passwordHash; "" for the root
	offset int64        // where the key or value starts in the document
	typ    reflect.Type // the Go type the value decodes into; nil when there is none
	tok    json.Token   // the value's first token; a json.Delim for an array or object
	key    bool         // an object key rather than a value
	known  bool         // for a key: the struct has a field of that name
	parent reflect.Type // for a key: the struct type of the object
}

// scanFrame is an open array or object.
type scanFrame struct {
	path     string
	typ      reflect.Type // the struct or slice type of the container; nil when unknown
	object   bool
	index    int          // arrays: the index of the next element
	key      string       // objects: the key whose value comes next
	keyType  reflect.Type // objects: the type of that value
	wantsKey bool         // objects: the next token is a key or '}'
}

// scanJSON walks data and calls visit for every key and value in document
// order, until visit returns true or the document ends. On a syntax error it
// returns the error and the path of the value being read.
func scanJSON(data []byte, root reflect.Type, visit func(jsonValue) bool) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*scanFrame
	for {
		off := skipSeparators(data, dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) == 0 {
				return "", nil
			}
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			if len(stack) == 0 {
				return "", err
			}
			top := stack[len(stack)-1]
			if top.object && !top.wantsKey {
				return joinKey(top.path, top.key), err
			}
			return top.path, err
		}

		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].valueDone()
			}
			continue
		}
		if top != nil && top.object && top.wantsKey {
			key, _ := tok.(string)
			ft, known := fieldType(top.typ, key)
			top.key, top.keyType, top.wantsKey = key, ft, false
			v := jsonValue{path: joinKey(top.path, key), offset: off, key: true, known: known, parent: top.typ}
			if visit(v) {
				return "", nil
			}
			continue
		}

		path, typ := "", root
		if top != nil {
			if top.object {
				path, typ = joinKey(top.path, top.key), top.keyType
			} else {
				path, typ = fmt.Sprintf("%s[%d]", top.path, top.index), elemType(top.typ)
			}
		}
		if visit(jsonValue{path: path, offset: off, typ: typ, tok: tok}) {
			return "", nil
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &scanFrame{path: path, typ: deref(typ), object: d == '{', wantsKey: d == '{'})
			continue
		}
		if top != nil {
			top.valueDone()
		}
	}
}

// valueDone moves the frame past the value it was reading.
func (f *scanFrame) valueDone() {
	if f.object {
		f.wantsKey = true
	} else {
		f.index++
	}
}

// skipSeparators returns the offset of the first token at or after off: the
// decoder's offset points past the previous token, before any comma or colon.
func skipSeparators(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// elemType is the element type of a slice type, or nil.
func elemType(t reflect.Type) reflect.Type {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Slice || decodesItself(t) {
		return nil
	}
	return t.Elem()
}

// fieldType finds the field that key decodes into, matching names without
// regard to case as encoding/json does. It reports known=true when t is not a
// struct, since then there is nothing to check the key against.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct || decodesItself(t) {
		return nil, true
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if name := jsonName(f); name != "" && strings.EqualFold(name, key) {
			return f.Type, true
		}
	}
	return nil, false
}

// jsonName is the JSON name of a struct field, or "" if it is not encoded.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

// fieldNames lists the JSON names of struct type t, for a hint.
func fieldNames(t reflect.Type) string {
	t = deref(t)
	var names []string
	for i := range t.NumField() {
		if name := jsonName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// unmarshalerType is json.Unmarshaler: a type that decodes itself, such as
// json.RawMessage, takes any value, and its insides are not checked here.
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodesItself reports whether t decodes itself (json.Unmarshaler).
func decodesItself(t reflect.Type) bool {
	return t != nil && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType))
}

// mismatch describes why tok cannot decode into t, or returns "" if it can.
func mismatch(tok json.Token, t reflect.Type) string {
	t = deref(t)
	if t == nil || tok == nil || decodesItself(t) { // no type to check, or null, which leaves the field alone
		return ""
	}
	got := tokenKind(tok)
	switch t.Kind() {
	case reflect.String:
		if _, ok := tok.(string); ok {
			return ""
		}
		return fmt.Sprintf("got %s, want a string in quotes", got)
	case reflect.Bool:
		if _, ok := tok.(bool); ok {
			return ""
		}
		return fmt.Sprintf("got %s, want true or false", got)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return fmt.Sprintf("got %s, want a whole number", got)
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			return fmt.Sprintf("got %s, want a whole number", n)
		}
		return ""
	case reflect.Slice:
		if tok == json.Delim('[') {
			return ""
		}
		return fmt.Sprintf("got %s, want an array", got)
	case reflect.Struct:
		if tok == json.Delim('{') {
			return ""
		}
		return fmt.Sprintf("got %s, want an object", got)
	}
	return ""
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "true or false"
	}
	return "null"
}

// firstProblem finds the first unknown field or value of the wrong type in
// data, in document order: the error encoding/json reported, but located.
func firstProblem(data []byte, root reflect.Type) (path, msg string, off int64, found bool) {
	_, _ = scanJSON(data, root, func(v jsonValue) bool {
		switch {
		case v.key && !v.known:
			path, off, found = v.path, v.offset, true
			msg = fmt.Sprintf("unknown field; the fields here are %s", fieldNames(v.parent))
		case !v.key:
			if m := mismatch(v.tok, v.typ); m != "" {
				path, off, found, msg = v.path, v.offset, true, m
			}
		}
		return found
	})
	return path, msg, off, found
}

// findPath returns where the value at path starts. A path that is not in the
// document (a missing field) falls back to its nearest ancestor that is.
func findPath(data []byte, root reflect.Type, path string) (int64, bool) {
	for {
		var off int64
		found := false
		_, _ = scanJSON(data, root, func(v jsonValue) bool {
			if strings.EqualFold(v.path, path) {
				// Point at the key of a field, where a reader looks first.
				off, found = v.offset, true
			}
			return found
		})
		if found {
			return off, true
		}
		if path == "" {
			return 0, false
		}
		path = parentPath(path)
	}
}

// parentPath drops the last element of a field path: agents[2].teamId →
// agents[2] → agents → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// lineColumn converts a byte offset in data to a 1-based line and a 1-based
// column counted in characters, as editors count them.
func lineColumn(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}
