package testtime

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseFactor(t *testing.T) {
	tests := []struct {
		give string
		want float64
	}{
		{"", 1},
		{"3", 3},
		{"1.5", 1.5},
		{"0", 1},
		{"-2", 1},
		{"fast", 1},
		{"NaN", 1},
		{"+Inf", 1},
		{"1e9", maxFactor},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseFactor(tt.give), "%q", tt.give)
	}
}

func TestScale(t *testing.T) {
	assert.Equal(t, time.Duration(float64(time.Second)*Factor()), Scale(time.Second))
	assert.Equal(t, parseFactor(os.Getenv(EnvVar))*raceFactor, Factor(), "a race build waits twice as long")
}
