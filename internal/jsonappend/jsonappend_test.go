package jsonappend

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestStringAsMarshal(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ back`, "<script>&</script>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"é ü 中文 🎧", "\u2028\u2029", "bad \xff\xfe utf-8", "\xed\xa0\x80", "tail\xe2\x82"} {
		assert.Equal(t, marshal(t, s), string(String(nil, s)), "%q", s)
	}
}

func FuzzStringAsMarshal(f *testing.F) {
	f.Add("<a href=\"x\">\u2028\xff</a>")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(String(nil, s)))
	})
}

func TestValuesAsMarshal(t *testing.T) {
	assert.Equal(t, marshal(t, []string(nil)), string(Strings(nil, nil)))
	assert.Equal(t, marshal(t, []string{}), string(Strings(nil, []string{})))
	assert.Equal(t, marshal(t, []string{"a", "<b>"}), string(Strings(nil, []string{"a", "<b>"})))
	for _, v := range []bool{true, false} {
		assert.Equal(t, marshal(t, v), string(Bool(nil, v)))
		assert.Equal(t, marshal(t, struct {
			V bool `json:"v,string"`
		}{v})[5:], string(QuotedBool(nil, v))+"}")
	}
	for _, v := range []int64{0, -1, 60, math.MaxInt64, math.MinInt64} {
		assert.Equal(t, marshal(t, v), string(Int(nil, v)))
		assert.Equal(t, marshal(t, struct {
			V int64 `json:"v,string"`
		}{v})[5:], string(QuotedInt(nil, v))+"}")
	}
}
