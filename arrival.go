package boomer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// arrivalMixLength is the length of the cycle of classes in the open
// model, enough to keep weights such as 1:99.
const arrivalMixLength = 1000

// arrivalExecutor runs the open model: it starts one task every 1/rate
// seconds whatever the latency of the tasks before, with at most maxInFlight
// running at once. A start that finds every slot taken waits for a free
// one. Each start's lateness, the time between its schedule and its actual
// start, is recorded, so a target that slows the load generator down
// (coordinated omission) shows in the report instead of hiding in fewer
// requests.
//
// Each task runs with a user of its own, whose context ends when the run
// stops. NOTE: the class's OnStart and OnStop do not run in the open model,
// and User.State starts empty for every task.
type arrivalExecutor struct {
	b           *Boomer
	runTask     func(u *User, task *Task)
	rate        float64
	maxInFlight int
	// classOrder holds the class of each start, cycled. While it is empty,
	// no task starts.
	classOrder atomic.Pointer[[]*classRuntime]

	slots   chan struct{}
	running atomic.Int64
	started atomic.Int64
	// late counts the starts that waited for a free slot.
	late atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	tasks  sync.WaitGroup

	latenessMu sync.Mutex
	// lateness holds each start's lateness in microseconds.
	lateness *hdrhistogram.Histogram
}

func newArrivalExecutor(b *Boomer, runTask func(*User, *Task), rate float64, maxInFlight int) *arrivalExecutor {
	a := &arrivalExecutor{
		b:           b,
		runTask:     runTask,
		rate:        rate,
		maxInFlight: maxInFlight,
		slots:       make(chan struct{}, maxInFlight),
		lateness:    newHistogram(),
	}
	a.setClasses(nil)
	return a
}

// setClasses sets the mix of classes of the next starts: each start takes
// the next class of order, cycled.
func (a *arrivalExecutor) setClasses(order []*classRuntime) {
	a.classOrder.Store(&order)
}

// start begins a test. It must not be called again before stop.
func (a *arrivalExecutor) start() {
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		a.schedule()
	}()
}

// stop ends the schedule and cancels the tasks in flight, waiting at most
// grace for them. It does nothing when no test runs.
func (a *arrivalExecutor) stop(grace time.Duration) {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	<-a.done
	finished := make(chan struct{})
	go func() {
		a.tasks.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(grace):
	}
}

// schedule starts the tasks at their scheduled times, start + i/rate.
func (a *arrivalExecutor) schedule() {
	interval := float64(time.Second) / a.rate
	begin := time.Now()
	// The timer starts stopped, so its channel holds no tick before the
	// first Reset.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for i := int64(0); ; i++ {
		scheduled := begin.Add(time.Duration(float64(i) * interval))
		if wait := time.Until(scheduled); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-a.ctx.Done():
				return
			}
		}
		order := *a.classOrder.Load()
		if len(order) == 0 {
			// No class has users in the latest spawn: this start is skipped.
			continue
		}
		class := order[i%int64(len(order))]
		select {
		case a.slots <- struct{}{}:
		default:
			a.late.Add(1)
			select {
			case a.slots <- struct{}{}:
			case <-a.ctx.Done():
				return
			}
		}
		a.recordLateness(time.Since(scheduled))
		a.started.Add(1)
		a.running.Add(1)
		a.tasks.Add(1)
		go a.runOne(class)
	}
}

func (a *arrivalExecutor) recordLateness(d time.Duration) {
	a.latenessMu.Lock()
	defer a.latenessMu.Unlock()
	_ = a.lateness.RecordValue(min(max(d.Microseconds(), 0), histogramMaxMicros))
}

// runOne runs one task of the class, picked by weight, with a user of its
// own.
func (a *arrivalExecutor) runOne(class *classRuntime) {
	defer a.tasks.Done()
	defer a.running.Add(-1)
	defer func() { <-a.slots }()

	picker := class.picker.Load()
	if picker == nil || picker.empty() {
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	u := &User{
		class:    class,
		b:        a.b,
		cancel:   cancel,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	u.setContext(ctx)
	defer close(u.done)
	task := picker.pick()
	for sub := picker.subsets[task]; sub != nil; sub = sub.subsets[task] {
		picker = sub
		task = picker.pick()
	}
	a.runTask(u, task)
}

func (a *arrivalExecutor) inFlight() int64 {
	return a.running.Load()
}

// latenessSummary returns the number of starts, the sum of their lateness
// in seconds and its 50th, 95th and 99th percentiles in seconds, for the
// metrics endpoint.
func (a *arrivalExecutor) latenessSummary() (count uint64, sumSeconds float64, quantiles map[float64]float64) {
	a.latenessMu.Lock()
	defer a.latenessMu.Unlock()
	count = uint64(a.lateness.TotalCount())
	sumSeconds = a.lateness.Mean() * float64(count) / 1e6
	quantiles = make(map[float64]float64, 3)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		quantiles[q] = percentileMs(a.lateness, q) / 1000
	}
	return count, sumSeconds, quantiles
}

// latenessReport is the summary of the open model's start lateness.
type latenessReport struct {
	Starts      int64   `json:"starts"`
	LateStarts  int64   `json:"starts_waiting_for_a_slot"`
	MaxInFlight int     `json:"max_in_flight"`
	TargetRate  float64 `json:"target_rate"`
	P50Ms       float64 `json:"p50_ms"`
	P95Ms       float64 `json:"p95_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	MeanMs      float64 `json:"mean_ms"`
}

func (a *arrivalExecutor) report() latenessReport {
	a.latenessMu.Lock()
	defer a.latenessMu.Unlock()
	return latenessReport{
		Starts:      a.started.Load(),
		LateStarts:  a.late.Load(),
		MaxInFlight: a.maxInFlight,
		TargetRate:  a.rate,
		P50Ms:       percentileMs(a.lateness, 0.50),
		P95Ms:       percentileMs(a.lateness, 0.95),
		P99Ms:       percentileMs(a.lateness, 0.99),
		MaxMs:       float64(a.lateness.Max()) / 1000,
		MeanMs:      a.lateness.Mean() / 1000,
	}
}
