// Package jsonappend appends JSON values to a byte slice exactly as
// encoding/json's Marshal writes them, strings escaped the same way (HTML
// characters and U+2028, U+2029 included). The encoders of the events that
// every request and state change sends are written with it, so that
// encoding one reflects on nothing; each is tested against Marshal's
// output, byte for byte.
package jsonappend

import (
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Strings appends ss as a JSON array of strings, or null when ss is nil.
func Strings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, s)
	}
	return append(b, ']')
}

// Bool appends v as true or false.
func Bool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// QuotedBool appends v as a string, as a bool field with the ",string"
// option is written.
func QuotedBool(b []byte, v bool) []byte {
	b = append(b, '"')
	b = strconv.AppendBool(b, v)
	return append(b, '"')
}

// Int appends v as a JSON number.
func Int(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// QuotedInt appends v as a string, as an integer field with the ",string"
// option is written.
func QuotedInt(b []byte, v int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, v, 10)
	return append(b, '"')
}
