// Package logbound bounds what a client can make the server write to its
// log: a header value is clipped before it is logged, and a flood of
// refusals writes a few lines a second, each saying how many it stands for.
package logbound

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxValue is how many bytes of a client's value (a header, a subject) a
// log line keeps: enough to recognise it, too few to fill a disk with.
const MaxValue = 128

// Clip returns s if it fits in MaxValue bytes, or its first MaxValue bytes
// (cut on a character boundary) followed by its full length.
func Clip(s string) string {
	if len(s) <= MaxValue {
		return s
	}
	cut := MaxValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// Default rate of a Limiter: a flood of refusals writes at most this many
// lines a second, after a burst of as many.
const (
	DefaultPerSecond = 5
	DefaultBurst     = 5
)

// Limiter is a token bucket for log lines, safe for concurrent use.
type Limiter struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu         sync.Mutex // guards the fields below
	tokens     float64
	last       time.Time
	suppressed int // lines refused since the last one allowed
}

// NewLimiter returns a Limiter of perSecond lines a second and bursts of
// burst, telling the time with now (time.Now if nil).
func NewLimiter(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{perSecond: perSecond, burst: float64(burst), now: now, tokens: float64(burst)}
}

// Allow reports whether a line may be written now and, if so, how many
// lines were refused since the last one allowed, for that line to say.
func (l *Limiter) Allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.perSecond)
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
