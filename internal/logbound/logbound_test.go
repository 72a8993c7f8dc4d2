package logbound_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/internal/logbound"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"short", "https://crm.example.com", "https://crm.example.com"},
		{"exactly the bound", strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{"long", strings.Repeat("a", 1<<20), strings.Repeat("a", 128) + "…(1048576 bytes)"},
		{"cut before a split character", strings.Repeat("a", 127) + "é" + "zz", strings.Repeat("a", 127) + "…(131 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := logbound.Clip(tt.give)
			assert.Equal(t, tt.want, got)
			assert.True(t, utf8.ValidString(got))
		})
	}
}

func TestLimiterWritesABurstThenCountsTheRest(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	l := logbound.NewLimiter(2, 3, func() time.Time { return now })
	allowed := 0
	for range 100 {
		if ok, _ := l.Allow(); ok {
			allowed++
		}
	}
	assert.Equal(t, 3, allowed, "the burst, while the clock stands still")

	now = now.Add(time.Second)
	ok, suppressed := l.Allow()
	assert.True(t, ok)
	assert.Equal(t, 97, suppressed, "the next line tells how many were left out")
	ok, suppressed = l.Allow()
	assert.True(t, ok, "two a second")
	assert.Zero(t, suppressed)
	ok, _ = l.Allow()
	assert.False(t, ok)
}
