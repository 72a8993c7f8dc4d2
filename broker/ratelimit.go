package broker

import "time"

// rateLimiter holds two token buckets for one connection, used by its reader
// alone: one counts frames, the other their bytes, so that large frames cost
// what they weigh. A frame needs a token from the first and its size from
// the second. Besides refusing frames over the limit, it counts the
// refusals of the current second: a connection refused more frames than the
// limit itself in one second is sending at over twice the rate, and is
// closed; so is one refused more bytes in a second than the byte rate and
// the byte burst, whichever is larger (a rate of bytes is easily exceeded
// by a frame or two, a burst is not).
type rateLimiter struct {
	frames       float64 // tokens of the frame bucket
	bytes        float64 // tokens of the byte bucket
	last         time.Time
	windowStart  time.Time
	refused      int // frames refused since windowStart
	refusedBytes int // bytes refused since windowStart
}

type limitVerdict int

const (
	limitAllow limitVerdict = iota
	limitRefuse
	limitClose
)

// rateLimits are a connection's limits, from Config.
type rateLimits struct {
	frames     float64 // per second
	frameBurst int
	bytes      float64 // per second
	bytesBurst int
}

// take decides on a frame of size bytes that arrived at now. It looks at the
// size alone, so that a refused frame costs no decoding.
func (l *rateLimiter) take(now time.Time, size int, lim rateLimits) limitVerdict {
	if l.last.IsZero() {
		l.frames, l.bytes = float64(lim.frameBurst), float64(lim.bytesBurst)
	} else {
		elapsed := now.Sub(l.last).Seconds()
		l.frames = min(float64(lim.frameBurst), l.frames+elapsed*lim.frames)
		l.bytes = min(float64(lim.bytesBurst), l.bytes+elapsed*lim.bytes)
	}
	l.last = now
	if l.frames >= 1 && l.bytes >= float64(size) {
		l.frames--
		l.bytes -= float64(size)
		return limitAllow
	}
	if now.Sub(l.windowStart) >= time.Second {
		l.windowStart, l.refused, l.refusedBytes = now, 0, 0
	}
	l.refused++
	l.refusedBytes += size
	if float64(l.refused) > lim.frames || float64(l.refusedBytes) > max(lim.bytes, float64(lim.bytesBurst)) {
		return limitClose
	}
	return limitRefuse
}
