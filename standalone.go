package boomer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Standalone timing. Locust's headless runner writes its CSV history every
// second and prints its console table every 2 seconds.
const (
	standaloneSampleInterval = 1 * time.Second
	liveTableInterval        = 2 * time.Second
	// endCheckInterval is how often a run checks whether every user ended.
	endCheckInterval = 50 * time.Millisecond
	// standaloneClassName is the class of plain tasks in a standalone run.
	standaloneClassName = "User"
)

// States of a standalone run, as the metrics endpoint reports them.
const (
	stateStopping = "stopping"
	stateStopped  = "stopped"
)

// FailedRequestsError is returned by Run after a standalone run in which
// at least one request failed. boomer.Run exits with ExitCode.
type FailedRequestsError struct {
	Failures int64
	ExitCode int
}

func (e *FailedRequestsError) Error() string {
	return fmt.Sprintf("boomer: %d request(s) failed", e.Failures)
}

// historySample is the run's state at one moment of its history: the
// Aggregated row's current rates, the response time percentiles of the
// last sample interval, the users, and the cumulative Aggregated row.
type historySample struct {
	Time       time.Time
	Users      int64
	RPS        float64
	FailPerSec float64
	// IntervalP50Ms, IntervalP95Ms and IntervalP99Ms are the percentiles of
	// the requests that completed during the sample interval; 0 when none
	// did.
	IntervalP50Ms float64
	IntervalP95Ms float64
	IntervalP99Ms float64
	Total         statsRow
}

// standaloneRun is one test without a master.
type standaloneRun struct {
	b       *Boomer
	cfg     Config
	log     *slog.Logger
	pool    *userPool
	limiter *taskLimiter
	arrival *arrivalExecutor
	stats   *runStats
	classes map[string]*classRuntime
	// spawnOrder is the class of every user to start, in order.
	spawnOrder []string
	start      time.Time
	live       bool

	state atomic.Value
	// spawned counts the users started so far.
	spawned atomic.Int64

	historyMu sync.Mutex
	history   []historySample
	// pending holds the response times folded by scrapes since the last
	// sample, for the sample's interval percentiles.
	pending *hdrhistogram.Histogram

	panickedTasks sync.Map

	exceptionsMu sync.Mutex
	// exceptions are the task panics by message and traceback, as Locust's
	// exceptions table groups them.
	exceptions map[panicReport]int64
}

// runStandalone runs a test without a master until the run time ends, every
// user ended (after its iterations, for example), or ctx ends (SIGINT and
// SIGTERM end ctx). It
// prints the summary and writes the requested files. It returns nil, a
// *FailedRequestsError when a request failed, or an error writing a file.
func (b *Boomer) runStandalone(ctx context.Context) error {
	if err := checkReportPaths(b.cfg); err != nil {
		return err
	}
	r := newStandaloneRun(b)
	b.standalone.Store(r)
	defer b.standalone.Store(nil)
	b.lastStandalone = r
	stopMetrics, err := b.startMetrics(r.metricsSource())
	if err != nil {
		return err
	}
	defer stopMetrics()

	reason := r.run(ctx)
	r.log.Info("standalone run ended", "reason", reason)
	r.printSummary(b.stdout)
	if err := r.writeFiles(); err != nil {
		return err
	}
	if _, failures := r.stats.totals(); failures > 0 {
		return &FailedRequestsError{Failures: failures, ExitCode: r.cfg.ExitCodeOnError}
	}
	return nil
}

func newStandaloneRun(b *Boomer) *standaloneRun {
	r := &standaloneRun{
		b:       b,
		cfg:     b.cfg,
		log:     b.log,
		classes: make(map[string]*classRuntime),
		live:    b.liveConsole,
		stats:   newRunStats(time.Now()),

		exceptions: make(map[panicReport]int64),
	}
	b.test.Store(&TestInfo{Host: b.cfg.Host})
	classes := b.classes
	if len(classes) == 0 {
		classes = []*UserClass{{Name: standaloneClassName, Tasks: b.tasks}}
	}
	for _, c := range classes {
		runtime := newClassRuntime(c)
		runtime.compile(tagFilter{})
		r.classes[c.Name] = runtime
	}
	r.spawnOrder = spawnOrder(classes, b.cfg.Users)
	r.pool = newUserPool(b, func(name string) *classRuntime { return r.classes[name] }, r.runTask)
	r.pool.maxIterations = b.cfg.Iterations
	if target := max(b.cfg.MaxRPS, b.cfg.GlobalMaxRPS); target > 0 {
		r.limiter = newTaskLimiter()
		r.pool.limiter = r.limiter
	}
	if b.cfg.ArrivalRate > 0 {
		r.arrival = newArrivalExecutor(b, r.runTask, b.cfg.ArrivalRate, b.cfg.MaxInFlight)
		// The open model has no users; the order only sets the mix of
		// classes over the tasks it starts.
		var order []*classRuntime
		for _, name := range spawnOrder(classes, arrivalMixLength) {
			order = append(order, r.classes[name])
		}
		r.arrival.setClasses(order)
	}
	r.state.Store(stateReady)
	return r
}

// spawnOrder returns the class of each of n users, in the order they
// start. FixedCount classes get their count first, the rest is shared by
// Weight (0 counts as 1) with the largest remainders rounded up, and the
// classes are interleaved so every prefix of the order keeps the mix.
func spawnOrder(classes []*UserClass, n int) []string {
	counts := make([]int, len(classes))
	left := n
	weightSum := 0
	for i, c := range classes {
		if c.FixedCount > 0 {
			counts[i] = min(c.FixedCount, left)
			left -= counts[i]
		} else {
			weightSum += max(c.Weight, 1)
		}
	}
	if weightSum > 0 && left > 0 {
		type remainder struct {
			index int
			frac  float64
		}
		var rems []remainder
		assigned := 0
		for i, c := range classes {
			if c.FixedCount > 0 {
				continue
			}
			exact := float64(left) * float64(max(c.Weight, 1)) / float64(weightSum)
			counts[i] = int(exact)
			assigned += counts[i]
			rems = append(rems, remainder{i, exact - float64(counts[i])})
		}
		sort.SliceStable(rems, func(a, b int) bool { return rems[a].frac > rems[b].frac })
		for k := 0; assigned < left; k++ {
			counts[rems[k%len(rems)].index]++
			assigned++
		}
	}
	order := make([]string, 0, n)
	started := make([]int, len(classes))
	for len(order) < n {
		best := -1
		for i := range classes {
			if started[i] >= counts[i] {
				continue
			}
			if best < 0 || float64(started[i])/float64(counts[i]) < float64(started[best])/float64(counts[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		started[best]++
		order = append(order, classes[best].Name)
	}
	return order
}

// run drives the test and returns why it ended.
func (r *standaloneRun) run(ctx context.Context) string {
	r.b.stats.histograms.Store(true)
	r.b.stats.discard()
	r.historyMu.Lock()
	r.start = time.Now()
	r.stats = newRunStats(r.start)
	r.historyMu.Unlock()
	r.log.Info("standalone run starting", "users", r.cfg.Users, "spawn_rate", r.cfg.SpawnRate,
		"run_time", r.cfg.RunTime, "iterations", r.cfg.Iterations, "arrival_rate", r.cfg.ArrivalRate)
	r.runHooks(r.b.onTestStart, "test start")
	Events.Publish(EventSpawn, r.cfg.Users)
	if r.limiter != nil {
		r.limiter.start(max(r.cfg.MaxRPS, r.cfg.GlobalMaxRPS), r.cfg.MaxRPSRamp)
	}

	var deadline <-chan time.Time
	if r.cfg.RunTime > 0 {
		timer := time.NewTimer(r.cfg.RunTime)
		defer timer.Stop()
		deadline = timer.C
	}
	sample := time.NewTicker(standaloneSampleInterval)
	defer sample.Stop()
	var liveTable <-chan time.Time
	if r.live {
		ticker := time.NewTicker(liveTableInterval)
		defer ticker.Stop()
		liveTable = ticker.C
	}
	endCheck := time.NewTicker(endCheckInterval)
	defer endCheck.Stop()

	spawnInterval := time.Duration(float64(time.Second) / r.cfg.SpawnRate)
	spawnTimer := time.NewTimer(0)
	defer spawnTimer.Stop()
	spawnC := spawnTimer.C
	if r.arrival != nil {
		spawnTimer.Stop()
		spawnC = nil
		r.arrival.start()
		r.state.Store(stateRunning)
	} else {
		r.state.Store(stateSpawning)
	}

	reason := ""
	for reason == "" {
		select {
		case <-ctx.Done():
			reason = "interrupted: " + context.Cause(ctx).Error()
		case <-deadline:
			reason = fmt.Sprintf("run time %s reached", r.cfg.RunTime)
		case <-spawnC:
			r.spawnDue(spawnInterval)
			if int(r.spawned.Load()) < len(r.spawnOrder) {
				spawnTimer.Reset(r.nextSpawnIn(spawnInterval))
			} else {
				spawnC = nil
				r.state.Store(stateRunning)
				r.log.Info("all users spawned", "users", r.spawned.Load())
			}
		case <-sample.C:
			r.sample()
		case <-liveTable:
			r.printLive()
		case <-endCheck.C:
			// Users end by themselves after their iterations, a failed
			// OnStart or User.Stop; a run without users has nothing to do.
			if spawnC == nil && r.arrival == nil && r.pool.total() == 0 {
				reason = "every user ended"
				if r.cfg.Iterations > 0 {
					reason = fmt.Sprintf("every user ran its %d iterations", r.cfg.Iterations)
				}
			}
		}
	}
	r.stop()
	return reason
}

// spawnDue starts the users due by now at the spawn rate, so a late timer
// does not slow the ramp.
func (r *standaloneRun) spawnDue(interval time.Duration) {
	due := int(time.Since(r.start)/interval) + 1
	due = min(due, len(r.spawnOrder))
	for i := int(r.spawned.Load()); i < due; i++ {
		r.pool.addUsers(r.spawnOrder[i], 1)
		r.spawned.Add(1)
	}
}

// nextSpawnIn returns the time until the next user is due.
func (r *standaloneRun) nextSpawnIn(interval time.Duration) time.Duration {
	next := r.start.Add(time.Duration(r.spawned.Load()) * interval)
	return max(time.Until(next), 0)
}

// stop ends the users and the load, and takes the last statistics.
func (r *standaloneRun) stop() {
	r.state.Store(stateStopping)
	if r.arrival != nil {
		r.arrival.stop(minStopGrace)
	}
	if left := r.pool.stopAll(0, minStopGrace); left > 0 {
		r.log.Warn("users still inside a task after the stop grace; their later requests are not in the report", "users", left, "grace", minStopGrace)
	}
	if r.limiter != nil {
		r.limiter.stop()
	}
	r.runHooks(r.b.onTestStop, "test stop")
	Events.Publish(EventStop)
	r.sample()
	r.state.Store(stateStopped)
}

func (r *standaloneRun) runHooks(hooks []func(TestInfo), what string) {
	info := r.b.Test()
	for _, hook := range hooks {
		if err := callHook(func() error { hook(info); return nil }); err != nil {
			r.log.Error(what+" hook failed", "error", err)
		}
	}
}

// users returns the users running now: live users, or tasks in flight in
// the open model.
func (r *standaloneRun) users() int64 {
	if r.arrival != nil {
		return r.arrival.inFlight()
	}
	return int64(r.pool.total())
}

// fold adds what was recorded since the last fold to the run's statistics.
func (r *standaloneRun) fold() {
	r.historyMu.Lock()
	defer r.historyMu.Unlock()
	r.pending = mergeHistograms(r.pending, r.foldLocked())
}

// foldLocked takes a snapshot into the run's statistics and returns the
// histogram of its response times, or nil. The caller holds historyMu.
func (r *standaloneRun) foldLocked() *hdrhistogram.Histogram {
	snap := r.b.stats.snapshot()
	interval := r.stats.add(snap)
	snap.release()
	return interval
}

// sample folds what was recorded since the last sample into the run's
// statistics and appends a history sample.
func (r *standaloneRun) sample() {
	r.historyMu.Lock()
	defer r.historyMu.Unlock()
	interval := mergeHistograms(r.pending, r.foldLocked())
	r.pending = nil
	view := r.stats.view()
	s := historySample{
		Time:       time.Now(),
		Users:      r.users(),
		RPS:        view.Total.CurrentRPS,
		FailPerSec: view.Total.CurrentFailPerS,
		Total:      view.Total,
	}
	if interval != nil {
		s.IntervalP50Ms = percentileMs(interval, 0.50)
		s.IntervalP95Ms = percentileMs(interval, 0.95)
		s.IntervalP99Ms = percentileMs(interval, 0.99)
	}
	r.history = append(r.history, s)
}

// historyCopy returns the samples taken so far.
func (r *standaloneRun) historyCopy() []historySample {
	r.historyMu.Lock()
	defer r.historyMu.Unlock()
	return append([]historySample(nil), r.history...)
}

// runTask runs one task and records a panic as a failure.
func (r *standaloneRun) runTask(u *User, task *Task) {
	start := time.Now()
	report := callTask(task, u)
	if report == nil {
		return
	}
	r.b.RecordFailure(panicRequestType, task.Name, time.Since(start), report.message)
	r.exceptionsMu.Lock()
	r.exceptions[*report]++
	r.exceptionsMu.Unlock()
	if _, seen := r.panickedTasks.LoadOrStore(task.Name, true); !seen {
		r.log.Error("task panicked; it is recorded as a failure (logged once per task)",
			"task", task.Name, "panic", report.message, "traceback", report.traceback)
	}
}

// isTerminal reports whether f is a terminal, for the live table.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
