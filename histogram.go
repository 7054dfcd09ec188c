package boomer

import (
	"math"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HDR histogram settings: response times are recorded in microseconds from
// 1 µs to 1 hour, exact to 3 significant digits (0.1 %). A longer time is
// recorded as 1 hour in the histogram; the exact maximum is kept apart.
const (
	histogramMaxMicros = int64(3600 * 1e6)
	histogramDigits    = 3
)

// histogramPool recycles the per-shard histograms, which take about 190 KB
// each, between report intervals.
var histogramPool = sync.Pool{
	New: func() any { return newHistogram() },
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, histogramMaxMicros, histogramDigits)
}

func getHistogram() *hdrhistogram.Histogram {
	return histogramPool.Get().(*hdrhistogram.Histogram)
}

// putHistogram resets h and returns it to the pool; nil is ignored.
func putHistogram(h *hdrhistogram.Histogram) {
	if h == nil {
		return
	}
	h.Reset()
	histogramPool.Put(h)
}

// recordMicros records a response time given in milliseconds.
func recordMicros(h *hdrhistogram.Histogram, ms float64) {
	us := int64(math.Round(ms * 1000))
	us = min(max(us, 0), histogramMaxMicros)
	// The value is within the histogram's range, so RecordValue cannot fail.
	_ = h.RecordValue(us)
}

// percentileMs returns the value at quantile q (0 to 1) in milliseconds:
// the highest value equivalent to the recorded one at that rank, as
// HdrHistogram reports it.
func percentileMs(h *hdrhistogram.Histogram, q float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return float64(h.ValueAtQuantile(q*100)) / 1000
}

// mergeHistograms returns a and b merged into one; either may be nil.
func mergeHistograms(a, b *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	a.Merge(b)
	return a
}
