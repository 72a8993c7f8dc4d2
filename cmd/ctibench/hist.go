package main

import (
	"math/bits"
	"sync"
	"time"
)

// hist is a latency histogram with a relative error under 1.6%: values
// below 128 ns are exact, above they fall in 64 buckets per power of two.
// It is not safe for concurrent use; each reader keeps its own and they are
// merged at the end.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const histBuckets = 128 + 57*64

func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 128 {
		return int(v)
	}
	shift := bits.Len64(v) - 7
	return min(128+(shift-1)*64+int(v>>shift)-64, histBuckets-1)
}

// valueOf is the middle of a bucket.
func valueOf(i int) time.Duration {
	if i < 128 {
		return time.Duration(i)
	}
	shift := (i-128)/64 + 1
	top := uint64((i-128)%64 + 64)
	return time.Duration(top<<shift + (uint64(1)<<shift)/2)
}

func (h *hist) add(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below which a fraction q of the samples fall.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(valueOf(i), h.max)
		}
	}
	return h.max
}

// setLatency records p50, p95, p99 and max under prefix, and keeps the
// histogram in r, from which results of several processes are merged.
func (h *hist) setLatency(r *Result, prefix string) {
	if r.hists == nil {
		r.hists = map[string]*hist{}
	}
	kept := *h
	r.hists[prefix] = &kept
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.set(prefix+"_p50_ms", ms(h.quantile(.50)))
	r.set(prefix+"_p95_ms", ms(h.quantile(.95)))
	r.set(prefix+"_p99_ms", ms(h.quantile(.99)))
	r.set(prefix+"_max_ms", ms(h.max))
}

// lockedHist is a histogram many goroutines add to.
type lockedHist struct {
	mu sync.Mutex
	h  hist
}

func (l *lockedHist) add(d time.Duration) {
	l.mu.Lock()
	l.h.add(d)
	l.mu.Unlock()
}

func (l *lockedHist) merge(o *hist) {
	l.mu.Lock()
	l.h.merge(o)
	l.mu.Unlock()
}
