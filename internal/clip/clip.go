// Package clip shortens what a client sent before an answer quotes it, so
// that a huge or hostile value cannot bloat an error sent on the wire.
package clip

// maxRunes is how many characters of a quoted value an answer keeps.
const maxRunes = 32

// Short returns s, or its first 32 characters and an ellipsis if it is
// longer.
func Short(s string) string {
	if r := []rune(s); len(r) > maxRunes {
		return string(r[:maxRunes]) + "…"
	}
	return s
}
