package boomer

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rampStep is how often a ramping limiter re-reads its rate. A permit that
// would wait longer than this at the current rate is reserved again with
// the next rate.
const rampStep = 100 * time.Millisecond

// taskLimiter hands out permits to start tasks, evenly spaced at a rate
// that can ramp up from zero, never two at once. One goroutine reserves one
// permit at a time and passes it to the next waiting user. A rate change
// therefore applies to the next permit, and idle time builds up no permits.
//
// A user takes its permit before it picks its task, so a user stopped while
// waiting drops no picked task. The limiter is restartable: start begins a
// new test with a fresh bucket and ramp, and users waiting across a restart
// keep waiting for a permit of the new test.
type taskLimiter struct {
	permits chan struct{}

	mu     sync.Mutex
	target float64
	ramp   time.Duration
	cancel context.CancelFunc
	done   chan struct{}
	// changed is closed and replaced when the target changes.
	changed chan struct{}
}

func newTaskLimiter() *taskLimiter {
	return &taskLimiter{
		permits: make(chan struct{}),
		changed: make(chan struct{}),
	}
}

// start begins handing out permits at target per second, ramping linearly
// from zero over ramp. It stops the previous run of the limiter first.
func (l *taskLimiter) start(target float64, ramp time.Duration) {
	l.stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.mu.Lock()
	l.target = target
	l.ramp = ramp
	l.cancel = cancel
	l.done = done
	l.mu.Unlock()
	go func() {
		defer close(done)
		l.dispense(ctx, time.Now())
	}()
}

// setTarget changes the target rate of the running test without
// restarting its ramp.
func (l *taskLimiter) setTarget(target float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if target == l.target {
		return
	}
	l.target = target
	close(l.changed)
	l.changed = make(chan struct{})
}

// stop ends the current run; waiting users keep waiting for the next one.
func (l *taskLimiter) stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// rateAt returns the rate at elapsed time into the ramp, and whether the
// ramp still runs, and a channel closed when the target changes.
func (l *taskLimiter) rateAt(elapsed time.Duration) (float64, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ramp <= 0 || elapsed >= l.ramp {
		return l.target, false, l.changed
	}
	return l.target * float64(elapsed) / float64(l.ramp), true, l.changed
}

// A permit handed out late, because the process did not run when it was
// due, is made up for: the permits owed, at most maxCatchUp worth, follow at
// catchUpFactor times the rate instead of being lost. Time in which no user
// waits builds up no permits.
const (
	maxCatchUp    = 100 * time.Millisecond
	catchUpFactor = 1.5
)

// catchUpBurst returns the bucket size that holds maxCatchUp of permits at
// rate r per second.
func catchUpBurst(r float64) int {
	return max(1, int(r*maxCatchUp.Seconds()))
}

// newSchedule returns a limiter at rate r per second whose bucket holds
// tokens permits at t.
func newSchedule(t time.Time, r float64, tokens int) *rate.Limiter {
	burst := catchUpBurst(r)
	limiter := rate.NewLimiter(rate.Limit(r), burst)
	// A new limiter starts full.
	limiter.AllowN(t, burst-tokens)
	return limiter
}

// dispense reserves permits one at a time and passes each to a waiting user.
// The schedule limiter sets when each permit is due, and the spacing
// limiter, with burst 1, keeps permits made up after a late hand-out apart.
func (l *taskLimiter) dispense(ctx context.Context, started time.Time) {
	var schedule *rate.Limiter
	spacing := rate.NewLimiter(1, 1)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		current, ramping, changed := l.rateAt(now.Sub(started))
		if current <= 0 {
			// No permits yet: wait for the ramp or a new target.
			if !sleepUntil(ctx, timer, rampStep, changed) {
				return
			}
			continue
		}
		if schedule == nil {
			// The first permit is due at once.
			schedule = newSchedule(now, current, 1)
		}
		schedule.SetLimitAt(now, rate.Limit(current))
		schedule.SetBurstAt(now, catchUpBurst(current))
		reservation := schedule.ReserveN(now, 1)
		delay := reservation.DelayFrom(now)
		if ramping && delay > rampStep {
			// The rate rises before this permit is due: reserve again then.
			reservation.CancelAt(now)
			if !sleepUntil(ctx, timer, rampStep, changed) {
				return
			}
			continue
		}
		if delay > 0 && !sleepUntil(ctx, timer, delay, changed) {
			if ctx.Err() != nil {
				return
			}
			reservation.CancelAt(time.Now())
			continue
		}

		now = time.Now()
		spacing.SetLimitAt(now, rate.Limit(current*catchUpFactor))
		if gap := spacing.ReserveN(now, 1).DelayFrom(now); gap > 0 && !sleepUntil(ctx, timer, gap, nil) {
			return
		}

		select {
		case l.permits <- struct{}{}:
			continue
		default:
		}
		// No user waits, so the time until one does builds up no permits:
		// the schedule restarts when the permit is taken.
		select {
		case l.permits <- struct{}{}:
			schedule = newSchedule(time.Now(), current, 0)
		case <-ctx.Done():
			return
		}
	}
}

// sleepUntil waits for d. It returns false when ctx ends or changed is
// closed first.
func sleepUntil(ctx context.Context, timer *time.Timer, d time.Duration, changed <-chan struct{}) bool {
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
	case <-changed:
	}
	if !timer.Stop() {
		<-timer.C
	}
	return false
}

// wait blocks until the user gets a permit. It returns false when the user
// must stop first.
func (l *taskLimiter) wait(u *User) bool {
	select {
	case <-l.permits:
		return true
	case <-u.stopping:
		return false
	case <-u.Context().Done():
		return false
	}
}

// workerShare returns the part of a global rate that the worker of the
// given index takes among count workers. The shares of indexes 0 to
// count-1 add up to global exactly: an integral rate is split into whole
// permits per second, the first workers taking one more when it does not
// divide evenly.
func workerShare(global float64, index, count int64) float64 {
	if count <= 1 {
		return global
	}
	if global != math.Trunc(global) {
		return global / float64(count)
	}
	index = min(max(index, 0), count-1)
	share := math.Floor(global / float64(count))
	if float64(index) < global-share*float64(count) {
		share++
	}
	return share
}
