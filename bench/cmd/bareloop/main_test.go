package main

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	// 1 ms to 100 ms in steps of 1 ms, then one response of 2 s, which is
	// beyond the buckets.
	for ms := 1; ms <= 100; ms++ {
		h.add(time.Duration(ms) * time.Millisecond)
	}
	h.add(2 * time.Second)

	if got, want := h.quantile(0.5), 51*time.Millisecond+bucketWidth/2; got != want {
		t.Errorf("p50 = %v, want %v", got, want)
	}
	if got, want := h.quantile(0.99), 100*time.Millisecond; got != want {
		t.Errorf("p99 = %v, want %v (the first response past the buckets' range)", got, want)
	}
	if got, want := h.quantile(1), 2*time.Second; got != want {
		t.Errorf("p100 = %v, want %v", got, want)
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b histogram
	if got := a.quantile(0.5); got != 0 {
		t.Errorf("p50 of an empty histogram = %v, want 0", got)
	}
	a.requests, a.failures = 3, 1
	a.add(time.Millisecond)
	b.requests = 2
	b.add(3 * time.Second)
	a.merge(&b)
	if a.requests != 5 || a.failures != 1 {
		t.Errorf("merged requests %d, failures %d; want 5, 1", a.requests, a.failures)
	}
	if got := a.quantile(1); got != 3*time.Second {
		t.Errorf("merged p100 = %v, want 3s", got)
	}
}
