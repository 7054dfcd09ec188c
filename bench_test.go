package boomer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/locust-go/boomer/internal/locusttest"
)

// Benchmarks of the worker's hot paths: recording a request, picking a
// task, encoding a report, and running many users. Compare two builds with
// benchstat:
//
//	go test -run='^$' -bench='Record|Pick|Encode' -benchmem -count=10 . > old.txt
//	(change the code)
//	go test -run='^$' -bench='Record|Pick|Encode' -benchmem -count=10 . > new.txt
//	go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt
//
// ns/op is wall time divided by the number of calls, summed over all
// goroutines, as b.RunParallel reports it. cpu-ns/op is the process's CPU
// time (user and system, from getrusage) per call, which on a machine with
// several cores is the cost of one call.

// recordGoroutines are the numbers of concurrent recording goroutines the
// record benchmarks sweep over.
var recordGoroutines = []int{1, 10, 100, 1000, 10000}

// newBenchBoomer returns a Boomer that records into its own collector and
// makes it the target of the package-level RecordSuccess and RecordFailure.
func newBenchBoomer(tb testing.TB) *Boomer {
	tb.Helper()
	b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: func() {}}), WithSignalHandling(false))
	if err != nil {
		tb.Fatal(err)
	}
	previous := current.Swap(b)
	tb.Cleanup(func() { current.Store(previous) })
	// Run stamps records with the coarse clock; so do the benchmarks.
	tb.Cleanup(b.stats.clock.start())
	return b
}

// benchResponseTime returns the i-th response time of a benchmark: 0 to
// 99 ms in steps of 1 ms plus 250 µs, so that the histogram holds 100 keys
// as it does for a real target.
func benchResponseTime(i int) time.Duration {
	return time.Duration(i%100)*time.Millisecond + 250*time.Microsecond
}

// runConcurrently calls record b.N times in total, spread evenly over
// goroutines goroutines that start together. It reports the process's CPU
// time per call as cpu-ns/op.
func runConcurrently(b *testing.B, goroutines int, record func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(goroutines)
	done.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		calls := b.N / goroutines
		if g < b.N%goroutines {
			calls++
		}
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			for i := 0; i < calls; i++ {
				record(i)
			}
		}()
	}
	ready.Wait()

	b.ReportAllocs()
	cpuBefore := processCPUTime()
	b.ResetTimer()
	close(start)
	done.Wait()
	b.StopTimer()
	cpu := processCPUTime() - cpuBefore
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkRecordSuccess records successes through the package-level
// RecordSuccess, the call that task code makes, from 1 to 10,000 goroutines.
func BenchmarkRecordSuccess(b *testing.B) {
	for _, goroutines := range recordGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			boomer := newBenchBoomer(b)
			runConcurrently(b, goroutines, func(i int) {
				RecordSuccess("GET", "/bench", benchResponseTime(i), 512)
			})
			if n := boomer.stats.snapshot().total().numRequests; n != int64(b.N) {
				b.Fatalf("collector holds %d requests after %d calls", n, b.N)
			}
		})
	}
}

// BenchmarkRecordFailure records failures with one error text through the
// package-level RecordFailure, from 1 to 10,000 goroutines.
func BenchmarkRecordFailure(b *testing.B) {
	for _, goroutines := range recordGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			boomer := newBenchBoomer(b)
			runConcurrently(b, goroutines, func(i int) {
				RecordFailure("GET", "/bench", benchResponseTime(i), "connection refused")
			})
			snap := boomer.stats.snapshot()
			if n := snap.total().numFailures; n != int64(b.N) {
				b.Fatalf("collector holds %d failures after %d calls", n, b.N)
			}
		})
	}
}

// BenchmarkRecordDuringReport records 100 request names from GOMAXPROCS
// goroutines, without reports and while another goroutine takes and encodes
// a report every millisecond (the worker reports every 3 s). The difference
// in ns/op is what reporting costs recording; reports is the number of
// reports taken during the timed run.
func BenchmarkRecordDuringReport(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("/bench/%d", i)
	}
	for _, interval := range []time.Duration{0, time.Millisecond} {
		label := "reports=none"
		if interval > 0 {
			label = "reports=every-" + interval.String()
		}
		b.Run(label, func(b *testing.B) {
			boomer := newBenchBoomer(b)
			stop := make(chan struct{})
			var reports atomic.Int64
			var reporter sync.WaitGroup
			if interval > 0 {
				reporter.Add(1)
				go func() {
					defer reporter.Done()
					ticker := time.NewTicker(interval)
					defer ticker.Stop()
					for {
						select {
						case <-stop:
							return
						case <-ticker.C:
						}
						snap := boomer.stats.snapshot()
						if _, err := encodeStats("bench", snap, map[string]int64{"User": 100}); err != nil {
							b.Error(err)
							return
						}
						reports.Add(1)
					}
				}()
			}

			runConcurrently(b, runtime.GOMAXPROCS(0), func(i int) {
				RecordSuccess("GET", names[i%len(names)], benchResponseTime(i), 512)
			})
			close(stop)
			reporter.Wait()
			b.ReportMetric(float64(reports.Load()), "reports")
		})
	}
}

// TestRecordAllocatesNothing checks that recording a request whose key and
// error text the interval already holds allocates nothing.
func TestRecordAllocatesNothing(t *testing.T) {
	newBenchBoomer(t)
	i := 0
	// The first calls create the entry and its histogram keys.
	for ; i < 1000; i++ {
		RecordSuccess("GET", "/bench", benchResponseTime(i), 512)
		RecordFailure("GET", "/bench", benchResponseTime(i), "connection refused")
	}

	success := testing.AllocsPerRun(1000, func() {
		i++
		RecordSuccess("GET", "/bench", benchResponseTime(i), 512)
	})
	if success != 0 {
		t.Errorf("RecordSuccess: %v allocations per call, want 0", success)
	}
	failure := testing.AllocsPerRun(1000, func() {
		i++
		RecordFailure("GET", "/bench", benchResponseTime(i), "connection refused")
	})
	if failure != 0 {
		t.Errorf("RecordFailure: %v allocations per call, want 0", failure)
	}
}

// BenchmarkTaskPick picks the next task of a user from weighted lists of 1,
// 3 and 10 tasks, and from a sequential list.
func BenchmarkTaskPick(b *testing.B) {
	lists := []struct {
		name       string
		tasks      int
		sequential bool
	}{
		{"weighted=1", 1, false},
		{"weighted=3", 3, false},
		{"weighted=10", 10, false},
		{"sequential=10", 10, true},
	}
	for _, list := range lists {
		b.Run(list.name, func(b *testing.B) {
			tasks := make([]*Task, list.tasks)
			for i := range tasks {
				tasks[i] = &Task{Name: fmt.Sprintf("t%d", i), Weight: i + 1, Fn: func() {}}
			}
			picker := compileTasks(tasks, list.sequential, nil, tagFilter{}, nil)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for step := 0; pb.Next(); step++ {
					if picker.next(step) == nil {
						b.Error("picker returned no task")
						return
					}
				}
			})
		})
	}
}

// fillCollector records 30 requests for each name, with 30 distinct response
// times and one failure in ten, all with the same error text.
func fillCollector(c *statsCollector, names []string) {
	for _, name := range names {
		for i := 0; i < 30; i++ {
			ms := float64(i*7%100) + 0.25
			if i%10 == 0 {
				c.recordFailure("GET", name, ms, "HTTP 503")
			} else {
				c.recordSuccess("GET", name, ms, 512)
			}
		}
	}
}

// BenchmarkEncodeStats takes a snapshot of an interval with 10 and 1,000
// request names and encodes it as the worker's stats message, the work of
// one report.
func BenchmarkEncodeStats(b *testing.B) {
	for _, count := range []int{10, 1000} {
		b.Run(fmt.Sprintf("names=%d", count), func(b *testing.B) {
			names := make([]string, count)
			for i := range names {
				names[i] = fmt.Sprintf("/api/items/%d", i)
			}
			var clock atomic.Int64
			clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
			c := newStatsCollector(func() time.Time {
				// Each call moves the clock 100 µs, so the 30,000 requests of
				// 1,000 names span 3 s, the worker's report interval.
				return time.Unix(0, clock.Add(int64(100*time.Microsecond)))
			})
			counts := map[string]int64{"User": 50}

			b.ReportAllocs()
			var size int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				fillCollector(c, names)
				b.StartTimer()

				snap := c.snapshot()
				frame, err := encodeStats("bench", snap, counts)
				if err != nil {
					b.Fatal(err)
				}
				if len(snap.requests) != count {
					b.Fatalf("snapshot has %d names, want %d", len(snap.requests), count)
				}
				size = len(frame)
			}
			b.ReportMetric(float64(size), "bytes/report")
		})
	}
}

// BenchmarkUserCapacity starts 50,000 users whose task sleeps for a second,
// the way the worker starts them for a spawn message, then stops them. It
// reports the start rate (users-per-s: from the spawn until every user has
// run its first task), the memory held while they run (heap-MiB and
// stack-MiB from runtime.MemStats after a GC, rss-MiB from /proc), and the
// bytes per user. It ignores b.N beyond running the cycle b.N times, so run
// it with -benchtime=1x:
//
//	go test -run='^$' -bench=UserCapacity -benchtime=1x -count=3 .
func BenchmarkUserCapacity(b *testing.B) {
	const users = 50000
	boomer := newBenchBoomer(b)

	var started atomic.Int64
	allStarted := make(chan struct{})
	task := &Task{Name: "sleep", Weight: 1, Run: func(u *User) {
		// Only the first run of each user counts towards the start rate.
		if u.State == nil {
			u.State = true
			if started.Add(1) == users {
				close(allStarted)
			}
		}
		timer := time.NewTimer(time.Second)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-u.Context().Done():
		}
	}}
	class := newClassRuntime(&UserClass{Name: "Sleeper", Weight: 1, Tasks: []*Task{task}})
	class.compile(tagFilter{})
	runTask := func(u *User, t *Task) { callTask(t, u) }

	var baseline runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&baseline)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			started.Store(0)
			allStarted = make(chan struct{})
		}
		pool := newUserPool(boomer, func(string) *classRuntime { return class }, runTask)

		spawnStart := time.Now()
		counts, unknown := pool.setTargets(map[string]int64{"Sleeper": users}, 0)
		select {
		case <-allStarted:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d users started within a minute", started.Load(), users)
		}
		spawnTime := time.Since(spawnStart)
		if counts["Sleeper"] != users || len(unknown) > 0 {
			b.Fatalf("setTargets: counts %v, unknown classes %v", counts, unknown)
		}

		b.StopTimer()
		var held runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&held)
		rss := residentMemoryBytes()
		const mib = 1 << 20
		b.ReportMetric(users/spawnTime.Seconds(), "users-per-s")
		b.ReportMetric(float64(held.HeapInuse)/mib, "heap-MiB")
		b.ReportMetric(float64(held.StackInuse)/mib, "stack-MiB")
		b.ReportMetric(float64(rss)/mib, "rss-MiB")
		inUse := int64(held.HeapInuse+held.StackInuse) - int64(baseline.HeapInuse+baseline.StackInuse)
		b.ReportMetric(float64(inUse)/users, "bytes-per-user")

		if left := pool.stopAll(0, 10*time.Second); left > 0 {
			b.Fatalf("%d users still running 10 s after the stop", left)
		}
		b.StartTimer()
	}
}

// BenchmarkUserCapacityWithMaster runs 50,000 users whose task sleeps for a
// second under a real headless Locust master that spawns 10,000 users per
// second. It reports the spawn rate the worker reached (users-per-s, from
// its first user to its 50,000th), the time that took, and the memory held
// with every user running. Run it with -benchtime=1x; it takes about 20 s.
//
//	go test -run='^$' -bench=UserCapacityWithMaster -benchtime=1x .
func BenchmarkUserCapacityWithMaster(b *testing.B) {
	const users = 50000
	for i := 0; i < b.N; i++ {
		master := locusttest.StartMaster(b, locusttest.MasterOptions{
			Locustfile:           "examples/locustfile.py",
			Headless:             true,
			Users:                users,
			SpawnRate:            10000,
			RunTime:              "15s",
			ExpectWorkersMaxWait: 30 * time.Second,
			LogLevel:             "WARNING",
		})
		cfg := DefaultConfig()
		cfg.MasterHost = "127.0.0.1"
		cfg.MasterPort = master.Port
		sleep := &Task{Name: "sleep", Weight: 1, Run: func(u *User) {
			timer := time.NewTimer(time.Second)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-u.Context().Done():
			}
		}}
		boomer, err := New(WithConfig(cfg), WithTasks(sleep), WithSignalHandling(false),
			WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- boomer.Run(context.Background()) }()

		// The user pool is polled every 10 ms, so the times are exact to
		// about 10 ms.
		var first, last time.Time
		deadline := time.Now().Add(60 * time.Second)
		for last.IsZero() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			w := boomer.session.Load()
			if w == nil {
				continue
			}
			running := sumCounts(w.users.counts())
			if running > 0 && first.IsZero() {
				first = time.Now()
			}
			if running >= users {
				last = time.Now()
			}
		}
		if last.IsZero() {
			b.Fatalf("the worker did not run %d users within 60 s; master log:\n%s", users, master.Log())
		}
		var held runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&held)
		rss := residentMemoryBytes()

		select {
		case err := <-done:
			if !errors.Is(err, ErrMasterQuit) {
				b.Fatalf("worker stopped with %v, want the master's quit", err)
			}
		case <-time.After(60 * time.Second):
			b.Fatalf("worker still running 60 s after its users started; master log:\n%s", master.Log())
		}

		const mib = 1 << 20
		elapsed := last.Sub(first)
		b.ReportMetric(users/max(elapsed.Seconds(), 0.01), "users-per-s")
		b.ReportMetric(elapsed.Seconds(), "spawn-s")
		b.ReportMetric(float64(held.HeapInuse+held.StackInuse)/mib, "heap+stack-MiB")
		b.ReportMetric(float64(rss)/mib, "rss-MiB")
	}
}
