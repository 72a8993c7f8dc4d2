package clip_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/internal/clip"
)

func TestShort(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{"short", "100501", "100501"},
		{"exactly 32 characters", strings.Repeat("é", 32), strings.Repeat("é", 32)},
		{"longer, cut on characters", strings.Repeat("é", 40), strings.Repeat("é", 32) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, clip.Short(tt.give))
		})
	}
}
