package boomer

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkCollectorRecord measures the recording hot path, with and without
// the HDR histograms of standalone runs and the metrics endpoint, at 1, 100
// and 10,000 goroutines per CPU. A report interval's snapshot is not part
// of the loop.
func BenchmarkCollectorRecord(b *testing.B) {
	for _, histograms := range []bool{false, true} {
		for _, parallelism := range []int{1, 100, 10000} {
			b.Run(fmt.Sprintf("histograms=%t/goroutines=%dxGOMAXPROCS", histograms, parallelism), func(b *testing.B) {
				c := newStatsCollector(nil)
				defer c.clock.start()()
				c.histograms.Store(histograms)
				b.SetParallelism(parallelism)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ms := 0.25
					for pb.Next() {
						c.recordSuccess("GET", "/bench", ms, 100)
						ms += 0.5
						if ms > 500 {
							ms = 0.25
						}
					}
				})
				b.StopTimer()
				c.snapshot().release()
			})
		}
	}
}

// BenchmarkFoldSnapshot measures a report interval's fold of 10 request
// names with histograms into the run's statistics, which a standalone run
// does every second.
func BenchmarkFoldSnapshot(b *testing.B) {
	c := newStatsCollector(time.Now)
	c.histograms.Store(true)
	run := newRunStats(time.Now())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for name := 0; name < 10; name++ {
			for j := 0; j < 1000; j++ {
				c.recordSuccess("GET", fmt.Sprintf("/n%d", name), float64(j)/10, 100)
			}
		}
		b.StartTimer()
		snap := c.snapshot()
		putHistogram(run.add(snap))
		snap.release()
	}
}
