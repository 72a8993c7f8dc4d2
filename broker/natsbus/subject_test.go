package natsbus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctibus/ctibus/broker"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "agent:cisco:100501", want: "agent:cisco:100501"},
		{give: "conn:0b9d2f52-7d7e-4c1a-9a57-4f3d6f3c2b10", want: "conn:0b9d2f52-7d7e-4c1a-9a57-4f3d6f3c2b10"},
		{give: "Cisco", want: "Cisco"},
		{give: "", want: "%"},
		{give: "%", want: "%25"},
		{give: "100%", want: "100%25"},
		{give: "a.b", want: "a%2Eb"},
		{give: "*", want: "%2A"},
		{give: ">", want: "%3E"},
		{give: "floor 2.east", want: "floor%202%2Eeast"},
		{give: "tab\there\r\n", want: "tab%09here%0D%0A"},
		{give: "\x00\x7f", want: "%00%7F"},
		{give: "café", want: "caf%C3%A9"},
		{give: "a/b:c-d_e#f", want: "a/b:c-d_e#f"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := escape(tt.give)
			assert.Equal(t, tt.want, got)
			back, err := unescape(got)
			require.NoError(t, err)
			assert.Equal(t, tt.give, back)
		})
	}
}

func TestUnescapeRefusesWhatEscapeDoesNotProduce(t *testing.T) {
	tests := []struct {
		give string
	}{
		{give: ""},        // not a token
		{give: "a.b"},     // two tokens
		{give: "*"},       // a wildcard
		{give: ">"},       // a wildcard
		{give: "a b"},     // whitespace
		{give: "caf\xc3"}, // a raw byte outside printable ASCII
		{give: "%2e"},     // lowercase hex: "%2E" is the one spelling of "."
		{give: "%41"},     // "A" needs no escape
		{give: "%2"},      // cut short
		{give: "a%"},      // cut short
		{give: "%%"},      // not hex
		{give: "%G0"},     // not hex
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := unescape(tt.give)
			assert.ErrorIs(t, err, errToken)
		})
	}
}

func TestSubjectRoundTrip(t *testing.T) {
	const prefix = "ctibus.ev."
	tests := []struct {
		give broker.Message
		want string
	}{
		{
			give: broker.Message{Scope: "agent:cisco:100501", Channel: "Cisco", Topic: "Agent", Subtopic: "SetAgentState"},
			want: "ctibus.ev.agent:cisco:100501.Cisco.Agent.SetAgentState",
		},
		{
			give: broker.Message{Scope: "floor 2.east", Channel: "CRM", Topic: "Screen.pop", Subtopic: ""},
			want: "ctibus.ev.floor%202%2Eeast.CRM.Screen%2Epop.%",
		},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			subj := subject(prefix, tt.give)
			assert.Equal(t, tt.want, subj)
			got, err := parseSubject(prefix, subj)
			require.NoError(t, err)
			assert.Equal(t, tt.give, got)
		})
	}
}

func TestParseSubjectRefusesMalformed(t *testing.T) {
	const prefix = "ctibus.ev."
	for _, subj := range []string{
		"other.ev.s.C.T.S",
		"ctibus.ev.s.C.T",
		"ctibus.ev.s.C.T.S.extra",
		"ctibus.ev.s..T.S",
		"ctibus.ev.s.C.T.%2e",
	} {
		t.Run(subj, func(t *testing.T) {
			_, err := parseSubject(prefix, subj)
			assert.ErrorIs(t, err, errToken)
		})
	}
}

// FuzzEscape checks that every string maps to one valid NATS token and
// back, and that every token unescape accepts is what escape produces.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "%", "agent:cisco:100501", "conn:0b9d2f52-7d7e-4c1a-9a57-4f3d6f3c2b10", "a.b*c>d e", "café\x00\xff", "%2E", "%%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := escape(s)
		if tok == "" {
			t.Fatalf("escape(%q) is empty", s)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c == '.' || c == '*' || c == '>' || c <= ' ' || c >= 0x7f {
				t.Fatalf("escape(%q) = %q: byte %#02x is not allowed in a NATS token", s, tok, c)
			}
		}
		back, err := unescape(tok)
		if err != nil || back != s {
			t.Fatalf("unescape(escape(%q)) = %q, %v", s, back, err)
		}
		if u, err := unescape(s); err == nil && escape(u) != s {
			t.Fatalf("unescape(%q) = %q, whose escape is %q", s, u, escape(u))
		}
	})
}
