package natsbus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ctibus/ctibus/broker"
)

// emptyToken stands for an empty part; no escape produces a lone "%".
const emptyToken = "%"

// upperHex are the digits of an escaped byte.
const upperHex = "0123456789ABCDEF"

// needsEscape reports whether c cannot stand as itself in a token: it is
// the escape character, a NATS separator or wildcard, or not printable
// ASCII (whitespace included).
func needsEscape(c byte) bool {
	return c == '%' || c == '.' || c == '*' || c == '>' || c <= ' ' || c >= 0x7f
}

// appendToken appends s to b as one NATS token (see the package doc).
func appendToken(b *strings.Builder, s string) {
	if s == "" {
		b.WriteString(emptyToken)
		return
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b.WriteString(s[start:i])
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0x0f])
			start = i + 1
		}
	}
	b.WriteString(s[start:])
}

// escape returns s as one NATS token.
func escape(s string) string {
	var b strings.Builder
	appendToken(&b, s)
	return b.String()
}

// errToken is the reason a token is refused.
var errToken = errors.New("natsbus: not an escaped token")

// unescape reverses escape. It accepts only what escape produces, so that
// one string has one subject.
func unescape(tok string) (string, error) {
	switch tok {
	case emptyToken:
		return "", nil
	case "":
		return "", fmt.Errorf("%w: empty", errToken)
	}
	var out []byte // nil until the first escape: most tokens have none
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '%' {
			if needsEscape(c) {
				return "", fmt.Errorf("%w: byte %#02x unescaped", errToken, c)
			}
			if out != nil {
				out = append(out, c)
			}
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("%w: %q cut short", errToken, tok[i:])
		}
		hi, lo := strings.IndexByte(upperHex, tok[i+1]), strings.IndexByte(upperHex, tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("%w: %q is not %%XX in uppercase hex", errToken, tok[i:i+3])
		}
		if c = byte(hi<<4 | lo); !needsEscape(c) {
			return "", fmt.Errorf("%w: %q needs no escape", errToken, tok[i:i+3])
		}
		if out == nil {
			out = append(make([]byte, 0, len(tok)), tok[:i]...)
		}
		out = append(out, c)
		i += 2
	}
	if out == nil {
		return tok, nil
	}
	return string(out), nil
}

// subject returns the subject m is published on, under prefix (which ends
// in ".ev.").
func subject(prefix string, m broker.Message) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(m.Scope) + len(m.Channel) + len(m.Topic) + len(m.Subtopic) + 3)
	b.WriteString(prefix)
	appendToken(&b, string(m.Scope))
	for _, part := range [...]string{m.Channel, m.Topic, m.Subtopic} {
		b.WriteByte('.')
		appendToken(&b, part)
	}
	return b.String()
}

// parseSubject reads the scope and triple back from a subject under prefix.
func parseSubject(prefix, subj string) (broker.Message, error) {
	rest, ok := strings.CutPrefix(subj, prefix)
	if !ok {
		return broker.Message{}, fmt.Errorf("%w: subject outside %s>", errToken, prefix)
	}
	var parts [4]string
	for i := range parts {
		tok, tail, more := strings.Cut(rest, ".")
		if more == (i == len(parts)-1) {
			return broker.Message{}, fmt.Errorf("%w: subject has not 4 tokens after %s", errToken, prefix)
		}
		s, err := unescape(tok)
		if err != nil {
			return broker.Message{}, err
		}
		parts[i], rest = s, tail
	}
	return broker.Message{Scope: broker.Scope(parts[0]), Channel: parts[1], Topic: parts[2], Subtopic: parts[3]}, nil
}
