package handlers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/broker"
)

// TestRateRingKeepsTheLast900Seconds: the first reading is the baseline,
// each later one a second's difference, and the ring keeps the newest 900,
// oldest first.
func TestRateRingKeepsTheLast900Seconds(t *testing.T) {
	var r rateRing
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	assert.Empty(t, r.series().Connections)
	assert.Empty(t, r.series().End, "no sample yet")
	for i := range 1001 { // the baseline, then 1000 seconds
		r.add(start.Add(time.Duration(i)*time.Second), i, broker.Totals{FramesIn: uint64(i * i), FramesOut: uint64(2 * i)})
	}
	s := r.series()
	assert.Len(t, s.Connections, 900)
	assert.Len(t, s.MessagesIn, 900)
	assert.Equal(t, int32(101), s.Connections[0], "the oldest kept: second 101")
	assert.Equal(t, int32(1000), s.Connections[899])
	assert.Equal(t, uint32(101*101-100*100), s.MessagesIn[0])
	assert.Equal(t, uint32(2), s.MessagesOut[899])
	assert.Equal(t, "2026-11-30T09:16:40.000Z", s.End)
}
