// Package jsonconfig loads the JSON configuration files of ctibus (the
// agent directory, the apps file, simulator scenarios) one way: strictly
// (unknown fields and trailing data are errors, and so is a file over its
// size bound), and with errors that name the field path and its line and
// column, like a compiler: "agents.json:12:7: agents[2].teamId: ...".
//
// It walks the document alongside the Go types it decodes into only after
// decoding has failed, or to locate a problem the caller found in a value,
// so it costs nothing on the good path.
package jsonconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
)

// Error reports a problem in a config document and where it is.
type Error struct {
	File   string // the file name; "" when the document was not read from a file
	Kind   string // what the document is, for a message without a file: "directory", "apps file", ...
	Line   int    // 1-based line of the offending value; 0 when unknown
	Column int    // 1-based column, in characters; 0 when unknown
	Field  string // the field path, e.g. agents[2].passwordHash; "" when the problem is the whole document
	Msg    string // what is wrong and, where it helps, how to fix it
}

// Error returns the file, position and field path followed by the message:
// "agents.json:12:7: agents[2].teamId: ...", or without a file
// "directory line 12, column 7: agents[2].teamId: ...".
func (e *Error) Error() string {
	var b strings.Builder
	kind := e.Kind
	if kind == "" {
		kind = "document"
	}
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "%s line %d, column %d: ", kind, e.Line, e.Column)
	default:
		b.WriteString(kind + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Document is a config document read whole, ready to decode.
type Document struct {
	data []byte
	file string
	kind string
	root reflect.Type // the type Decode decoded into; nil before
}

// Read reads a document of kind (for messages: "directory") from r, up to
// limit bytes: a larger one is an *Error. file names it in errors; "" for
// none.
func Read(r io.Reader, file, kind string, limit int64) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s: %w", kind, err)
	}
	d := &Document{data: data, file: file, kind: kind}
	if int64(len(data)) > limit {
		return nil, d.located(&Error{Msg: "larger than " + size(limit)})
	}
	return d, nil
}

// ReadFile reads the document of kind at path; see Read.
func ReadFile(path, kind string, limit int64) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load the %s: %w", kind, err)
	}
	defer f.Close()
	return Read(f, path, kind, limit)
}

// size renders a byte count for a message.
func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Decode decodes the document into v, a pointer to a struct, refusing
// unknown fields and anything after the top-level value. Every problem is
// an *Error that names the field and its line and column.
func (d *Document) Decode(v any) error {
	d.root = reflect.TypeOf(v)
	dec := json.NewDecoder(bytes.NewReader(d.data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		end := skipSeparators(d.data, dec.InputOffset())
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			line, col := lineColumn(d.data, end)
			return d.located(&Error{Line: line, Column: col, Msg: fmt.Sprintf("unexpected data after the %s object", d.kind)})
		}
		return nil
	}
	if errors.Is(err, io.EOF) {
		return d.located(&Error{Msg: fmt.Sprintf("empty; the %s is a JSON object", d.kind)})
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		path, _ := scanJSON(d.data, d.root, func(jsonValue) bool { return false })
		line, col := lineColumn(d.data, int64(len(d.data)))
		return d.located(&Error{Line: line, Column: col, Field: path, Msg: fmt.Sprintf("JSON syntax: the file ends inside the %s object", d.kind)})
	}
	if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
		path, _ := scanJSON(d.data, d.root, func(jsonValue) bool { return false })
		// The offset is just past the character that broke the syntax.
		line, col := lineColumn(d.data, se.Offset-1)
		return d.located(&Error{Line: line, Column: col, Field: path, Msg: "JSON syntax: " + se.Error()})
	}
	// A type error or an unknown field: encoding/json stops at the first
	// one in document order, as firstProblem does.
	if path, msg, off, ok := firstProblem(d.data, d.root); ok {
		line, col := lineColumn(d.data, off)
		return d.located(&Error{Line: line, Column: col, Field: path, Msg: msg})
	}
	return d.located(&Error{Msg: strings.TrimPrefix(err.Error(), "json: ")})
}

// Errorf reports a problem with the value at field (a path such as
// agents[2].teamId), found after Decode: the error names where the value
// is, or where its nearest enclosing value is when the field is missing.
func (d *Document) Errorf(field, format string, args ...any) *Error {
	return d.Locate(&Error{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Locate completes e, whose Field and Msg are set, with the document's file
// and kind and the line and column of e.Field, and returns it.
func (d *Document) Locate(e *Error) *Error {
	if e.Line == 0 && d.root != nil {
		if off, ok := findPath(d.data, d.root, e.Field); ok {
			e.Line, e.Column = lineColumn(d.data, off)
		}
	}
	return d.located(e)
}

func (d *Document) located(e *Error) *Error {
	e.File, e.Kind = d.file, d.kind
	return e
}
