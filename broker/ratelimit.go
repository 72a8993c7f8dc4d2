package broker

import "time"

// rateLimiter is a token bucket for the frames of one connection, used by
// its reader alone. Besides refusing frames over the limit, it counts the
// refusals of the current second: a connection refused more than the limit
// itself in one second is sending at over twice the rate, and is closed.
type rateLimiter struct {
	tokens      float64
	last        time.Time
	windowStart time.Time
	refused     int
}

type limitVerdict int

const (
	limitAllow limitVerdict = iota
	limitRefuse
	limitClose
)

func (l *rateLimiter) take(now time.Time, rate float64, burst int) limitVerdict {
	if l.last.IsZero() {
		l.tokens = float64(burst)
	} else {
		l.tokens = min(float64(burst), l.tokens+now.Sub(l.last).Seconds()*rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return limitAllow
	}
	if now.Sub(l.windowStart) >= time.Second {
		l.windowStart, l.refused = now, 0
	}
	l.refused++
	if float64(l.refused) > rate {
		return limitClose
	}
	return limitRefuse
}
