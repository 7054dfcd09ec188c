package boomer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// startRecorder collects task start times.
type startRecorder struct {
	mu     sync.Mutex
	starts []time.Time
}

func (r *startRecorder) add() {
	r.mu.Lock()
	r.starts = append(r.starts, time.Now())
	r.mu.Unlock()
}

func (r *startRecorder) snapshot() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.starts...)
}

// countBetween counts the starts in [from, to).
func countBetween(starts []time.Time, from, to time.Time) int {
	n := 0
	for _, s := range starts {
		if !s.Before(from) && s.Before(to) {
			n++
		}
	}
	return n
}

func TestRateLimitEvenlySpaced(t *testing.T) {
	skipIfShort(t)
	server, _ := okServer(t)
	client := newTestClient()
	get := getTask(client, server.URL+"/", "/", nil)
	recorder := &startRecorder{}
	task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		recorder.add()
		get.Run(u)
	}}
	const limit = 200.0
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 1000
		c.SpawnRate = 1000
		c.RunTime = 30 * time.Second
		c.MaxRPS = limit
	}, WithTasks(task))
	require.NoError(t, b.Run(context.Background()))

	starts := recorder.snapshot()
	require.Greater(t, len(starts), 100)
	first, last := starts[0], starts[len(starts)-1]
	for _, s := range starts {
		if s.Before(first) {
			first = s
		}
		if s.After(last) {
			last = s
		}
	}
	achieved := float64(len(starts)-1) / last.Sub(first).Seconds()
	t.Logf("%d task starts from %s to %s: %.2f/s", len(starts), first.Format(time.StampMilli), last.Format(time.StampMilli), achieved)
	assert.InDelta(t, limit, achieved, limit*0.02, "achieved rate")

	const bucket = 100 * time.Millisecond
	buckets := int(last.Sub(first) / bucket)
	counts := make([]int, buckets)
	for _, s := range starts {
		if i := int(s.Sub(first) / bucket); i < buckets {
			counts[i]++
		}
	}
	mean := limit * bucket.Seconds()
	maxCount := 0
	for _, n := range counts {
		maxCount = max(maxCount, n)
	}
	t.Logf("per-%s permit counts: mean %.1f expected, max %d", bucket, mean, maxCount)
	assert.LessOrEqual(t, float64(maxCount), 2*mean, "a %s bucket got more than twice the mean: a burst", bucket)
}

func TestRateLimitRamp(t *testing.T) {
	recorder := &startRecorder{}
	task := &Task{Name: "tick", Weight: 1, Run: func(u *User) {
		recorder.add()
		u.RecordSuccess("tick", "tick", time.Microsecond, 0)
	}}
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 50
		c.SpawnRate = 1000
		c.RunTime = 4 * time.Second
		c.MaxRPS = 200
		c.MaxRPSRamp = 2 * time.Second
	}, WithTasks(task))
	start := time.Now()
	require.NoError(t, b.Run(context.Background()))
	starts := recorder.snapshot()
	// The limit rises linearly to 200/s over 2 s: about 50 permits in the
	// first second, 150 in the second, then 200 per second.
	for i, want := range []float64{50, 150, 200} {
		from := start.Add(time.Duration(i) * time.Second)
		got := countBetween(starts, from, from.Add(time.Second))
		assert.InDelta(t, want, float64(got), want*0.25+5, "permits in second %d", i+1)
	}
}

func TestWorkerShareAddsUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		global float64
		count  int64
	}{{300, 2}, {300, 7}, {10, 3}, {1, 4}, {12.5, 2}, {1000, 1}}
	for _, tc := range cases {
		sum := 0.0
		for i := int64(0); i < tc.count; i++ {
			share := workerShare(tc.global, i, tc.count)
			assert.GreaterOrEqual(t, share, 0.0)
			sum += share
		}
		assert.InDelta(t, tc.global, sum, 1e-9, "shares of %g over %d workers", tc.global, tc.count)
	}
	assert.Equal(t, 43.0, workerShare(300, 0, 7), "the first workers take the remainder")
	assert.Equal(t, 42.0, workerShare(300, 6, 7))
}

func TestLimiterRestartKeepsWaiters(t *testing.T) {
	t.Parallel()
	l := newTaskLimiter()
	newUser := func() *User {
		u := &User{stopping: make(chan struct{}), done: make(chan struct{})}
		u.setContext(context.Background())
		return u
	}
	// A stopped user leaves without a permit.
	stopped := newUser()
	stopped.requestStop()
	assert.False(t, l.wait(stopped), "a stopped user gets no permit")

	// A user waiting while no test runs gets its permit from the next one.
	waiter := newUser()
	got := make(chan bool, 1)
	go func() { got <- l.wait(waiter) }()
	select {
	case <-got:
		t.Fatal("a permit was handed out before the limiter started")
	case <-time.After(200 * time.Millisecond):
	}
	l.start(0.1, 0) // the first permit is due at once, the next in 10 s
	select {
	case ok := <-got:
		assert.True(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting user got no permit after the start")
	}

	// After a restart at a higher rate, a waiter is served at the new rate,
	// not 10 s later at the old one.
	go func() { got <- l.wait(waiter) }()
	time.Sleep(50 * time.Millisecond)
	l.start(100, 0)
	select {
	case ok := <-got:
		assert.True(t, ok)
	case <-time.After(2 * time.Second):
		t.Fatal("the waiter was not served after the restart")
	}
	l.stop()
}

func TestGlobalRateSharedByTwoWorkers(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile:    locusttest.WriteLocustfile(t, "Dummy"),
		Headless:      true,
		Users:         40,
		SpawnRate:     40,
		RunTime:       "20s",
		ExpectWorkers: 2,
	})
	const global = 300.0
	recorders := []*startRecorder{{}, {}}
	for _, recorder := range recorders {
		get := httpTask("get", server.URL+"/", "/")
		task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
			recorder.add()
			get.Run(u)
		}}
		cfg := DefaultConfig()
		cfg.MasterHost = "127.0.0.1"
		cfg.MasterPort = master.Port
		cfg.GlobalMaxRPS = global
		startClassWorker(t, master.Port, WithConfig(cfg), WithTasks(task))
	}
	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "master exit code; log:\n%s", master.Log())

	var all []time.Time
	for i, recorder := range recorders {
		starts := recorder.snapshot()
		require.NotEmpty(t, starts, "worker %d ran no task", i)
		all = append(all, starts...)
	}
	first := all[0]
	for _, s := range all {
		if s.Before(first) {
			first = s
		}
	}
	// Both workers run from the first spawn; the window leaves 3 s for the
	// ramp and ends well before the master's run time.
	from, to := first.Add(3*time.Second), first.Add(15*time.Second)
	total := countBetween(all, from, to)
	rate := float64(total) / to.Sub(from).Seconds()
	perWorker := []int{countBetween(recorders[0].snapshot(), from, to), countBetween(recorders[1].snapshot(), from, to)}
	t.Logf("task starts per worker in 12 s: %v, together %.2f/s", perWorker, rate)
	assert.InDelta(t, global, rate, global*0.03, "the workers together")
	for i, n := range perWorker {
		assert.InDelta(t, global/2, float64(n)/to.Sub(from).Seconds(), global/2*0.05, "worker %d takes half", i)
	}
}

func TestOpenModelKeepsArrivalRateWhileTargetStalls(t *testing.T) {
	skipIfShort(t)
	var stalled atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stalled.Load() {
			time.Sleep(2 * time.Second)
		}
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(server.Close)

	for _, tc := range []struct {
		name        string
		maxInFlight int
	}{{"below the cap", 500}, {"at the cap", 50}} {
		t.Run(tc.name, func(t *testing.T) {
			client := newTestClient()
			get := getTask(client, server.URL+"/", "/", nil)
			recorder := &startRecorder{}
			task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
				recorder.add()
				get.Run(u)
			}}
			out := &lockedBuffer{}
			b := newStandalone(t, out, func(c *Config) {
				c.ArrivalRate = 100
				c.MaxInFlight = tc.maxInFlight
				c.RunTime = 6 * time.Second
			}, WithTasks(task))
			start := time.Now()
			stallFrom, stallTo := start.Add(2*time.Second), start.Add(4*time.Second)
			go func() {
				time.Sleep(time.Until(stallFrom))
				stalled.Store(true)
				time.Sleep(time.Until(stallTo))
				stalled.Store(false)
			}()
			require.NoError(t, b.Run(context.Background()))
			stalled.Store(false)

			starts := recorder.snapshot()
			during := countBetween(starts, stallFrom.Add(100*time.Millisecond), stallTo)
			report := b.lastStandalone.arrival.report()
			t.Logf("%d starts during the stall, lateness p50 %.2f ms p99 %.2f ms max %.2f ms, %d waited for a slot",
				during, report.P50Ms, report.P99Ms, report.MaxMs, report.LateStarts)
			assert.Contains(t, out.String(), "Start lateness in ms")
			if tc.maxInFlight >= 500 {
				// 1.9 s at 100 starts per second, whatever the latency.
				assert.InDelta(t, 190, float64(during), 20, "starts during the stall")
				assert.Zero(t, report.LateStarts, "no start waited for a slot")
				assert.Less(t, report.P99Ms, 100.0, "starts stay on schedule")
			} else {
				// The cap of 50 fills after 0.5 s of the stall; later starts
				// wait, and their lateness shows it.
				assert.Less(t, during, 150, "starts during the stall are held by the cap")
				assert.Positive(t, report.LateStarts, "starts waited for a slot")
				assert.Greater(t, report.MaxMs, 1000.0, "the lateness shows the stall")
			}
		})
	}
}

func TestWorkerRateLimitRestartsPerTest(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{Locustfile: "examples/locustfile.py"})
	recorder := &startRecorder{}
	get := httpTask("get", server.URL+"/limited", "/limited")
	task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		recorder.add()
		get.Run(u)
	}}
	const limit = 100.0
	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = master.Port
	cfg.MaxRPS = limit
	cfg.MaxRPSRamp = time.Second
	startClassWorker(t, master.Port, WithConfig(cfg), WithTasks(task))
	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})

	for test := 1; test <= 2; test++ {
		require.NoError(t, master.Swarm(50, 50, ""))
		waitStats(t, master, "50 users", func(s *locusttest.StatsJSON) bool {
			return s.UserCount == 50 && workerUsers(s) == 50
		})
		started := time.Now()
		time.Sleep(5 * time.Second)
		// After the 1 s ramp the rate holds at the limit.
		from, to := started.Add(1500*time.Millisecond), started.Add(4500*time.Millisecond)
		rate := float64(countBetween(recorder.snapshot(), from, to)) / to.Sub(from).Seconds()
		t.Logf("test %d: %.1f task starts per second", test, rate)
		assert.InDelta(t, limit, rate, limit*0.05, "test %d: rate with 50 users and --max-rps %g", test, limit)

		require.NoError(t, master.Stop())
		waitStats(t, master, "the worker to be ready after the stop", func(s *locusttest.StatsJSON) bool {
			return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
		})
		stoppedAt := time.Now()
		time.Sleep(500 * time.Millisecond)
		assert.Zero(t, countBetween(recorder.snapshot(), stoppedAt, time.Now()), "no task starts between tests")
	}
}

func TestWorkerOpenModelUnderMaster(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		Headless:   true,
		Users:      5,
		SpawnRate:  5,
		RunTime:    "10s",
	})
	recorder := &startRecorder{}
	get := httpTask("get", server.URL+"/open", "/open")
	task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		recorder.add()
		get.Run(u)
	}}
	const arrivalRate = 50.0
	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = master.Port
	cfg.ArrivalRate = arrivalRate
	cfg.MaxInFlight = 20
	startClassWorker(t, master.Port, WithConfig(cfg), WithTasks(task))

	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "master exit code; log:\n%s", master.Log())

	starts := recorder.snapshot()
	require.NotEmpty(t, starts, "the open model started no task")
	from, to := starts[0].Add(time.Second), starts[0].Add(8*time.Second)
	rate := float64(countBetween(starts, from, to)) / to.Sub(from).Seconds()
	t.Logf("%d task starts, %.1f per second in the steady window", len(starts), rate)
	assert.InDelta(t, arrivalRate, rate, arrivalRate*0.05, "open model rate under the master")

	rows, err := master.StatsCSV()
	require.NoError(t, err)
	row, ok := locusttest.FindStatsRow(rows, "GET", "/open")
	require.True(t, ok, "no GET /open row in %v", rows)
	received := server.CountPath("/open")
	assert.LessOrEqual(t, row.RequestCount, received, "the master counted requests the server never saw")
	assert.GreaterOrEqual(t, row.RequestCount, received-int64(cfg.MaxInFlight), "more requests lost than tasks in flight at quit")
}
