package main

import (
	"testing"
	"time"
)

func TestBucketsKeepTwoDigits(t *testing.T) {
	cases := []struct {
		d      time.Duration
		middle time.Duration
	}{
		{0, 500 * time.Nanosecond},
		{99*time.Microsecond + 999, 99*time.Microsecond + 500},
		{100 * time.Microsecond, 105 * time.Microsecond},
		{1260 * time.Microsecond, 1250 * time.Microsecond},
		{51 * time.Millisecond, 51500 * time.Microsecond},
		{99999 * time.Microsecond, 99500 * time.Microsecond},
		{2 * time.Second, 2050 * time.Millisecond},
		{99 * time.Second, 99500 * time.Millisecond},
	}
	for _, tc := range cases {
		i := bucketOf(tc.d)
		if i < 0 || i >= bucketCount {
			t.Fatalf("bucketOf(%v) = %d, outside 0 to %d", tc.d, i, bucketCount-1)
		}
		if got := bucketMiddle(i); got != tc.middle {
			t.Errorf("middle of the bucket of %v = %v, want %v", tc.d, got, tc.middle)
		}
	}
	if i := bucketOf(bucketMax); i != -1 {
		t.Errorf("bucketOf(%v) = %d, want -1 (kept exactly)", bucketMax, i)
	}
	// Buckets are in order of time, so quantiles can walk them.
	last := time.Duration(-1)
	for i := 0; i < bucketCount; i++ {
		if m := bucketMiddle(i); m <= last {
			t.Fatalf("bucket %d's middle %v is not after bucket %d's %v", i, m, i-1, last)
		} else {
			last = m
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	// 1 ms to 100 ms in steps of 1 ms, then one response of 200 s, which
	// is beyond the buckets.
	for ms := 1; ms <= 100; ms++ {
		h.add(time.Duration(ms) * time.Millisecond)
	}
	h.add(200 * time.Second)

	if got, want := h.quantile(0.5), 51500*time.Microsecond; got != want {
		t.Errorf("p50 = %v, want %v", got, want)
	}
	if got, want := h.quantile(0.99), 105*time.Millisecond; got != want {
		t.Errorf("p99 = %v, want %v (the middle of 100 to 110 ms)", got, want)
	}
	if got, want := h.quantile(1), 200*time.Second; got != want {
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
	b.add(300 * time.Second)
	a.merge(&b)
	if a.requests != 5 || a.failures != 1 {
		t.Errorf("merged requests %d, failures %d; want 5, 1", a.requests, a.failures)
	}
	if got := a.quantile(1); got != 300*time.Second {
		t.Errorf("merged p100 = %v, want 5m0s", got)
	}
}
