package boomer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clockStarted reports whether c's tick goroutine runs.
func clockStarted(c *coarseClock) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts > 0
}

func TestCoarseClockFollowsSystemClock(t *testing.T) {
	c := newCoarseClock()
	assert.InDelta(t, time.Now().UnixNano(), c.now(), 1e9, "a stopped clock reads the system clock")
	assert.False(t, c.ticking())

	release := c.start()
	// A read wakes the ticking up; the clock then moves forward.
	require.Eventually(t, func() bool { c.now(); return c.ticking() }, 5*time.Second, time.Millisecond)
	first := c.now()
	require.Eventually(t, func() bool { return c.now() > first }, 5*time.Second, time.Millisecond)
	assert.InDelta(t, time.Now().UnixNano(), c.now(), 1e9)

	release()
	assert.False(t, c.ticking())
	select {
	case <-c.done:
	default:
		t.Fatal("the tick goroutine is still running after release")
	}
}

func TestCoarseClockStopsTickingWithoutReaders(t *testing.T) {
	c := newCoarseClock()
	defer c.start()()
	require.Eventually(t, func() bool { c.now(); return c.ticking() }, 5*time.Second, time.Millisecond)
	// Without reads, the ticking stops after coarseIdleTicks ticks.
	require.Eventually(t, func() bool { return !c.ticking() }, 10*time.Second, time.Millisecond)
	assert.True(t, clockStarted(c), "the goroutine waits for the next reader")
	// And the next read starts it again.
	require.Eventually(t, func() bool { c.now(); return c.ticking() }, 5*time.Second, time.Millisecond)
}

func TestCoarseClockCountsStarts(t *testing.T) {
	c := newCoarseClock()
	first := c.start()
	second := c.start()
	first()
	first() // a second call of the same release does nothing
	assert.True(t, clockStarted(c), "one start is still unreleased")
	second()
	assert.False(t, clockStarted(c))

	third := c.start()
	defer third()
	assert.True(t, clockStarted(c), "the clock starts again")
}

func TestRunStampsRecordsWithCoarseClock(t *testing.T) {
	var b *Boomer
	var startedInTask bool
	task := &Task{Name: "stamp", Weight: 1, Fn: func() {
		startedInTask = clockStarted(b.stats.clock)
		RecordSuccess("GET", "/stamped", time.Millisecond, 1)
	}}
	cfg := DefaultConfig()
	cfg.RunTasks = []string{"stamp"}
	var err error
	b, err = New(WithConfig(cfg), WithTasks(task), WithSignalHandling(false))
	require.NoError(t, err)
	require.NotNil(t, b.stats.clock, "a Boomer's collector uses the system clock")
	var out strings.Builder
	b.stdout = &out

	require.NoError(t, b.Run(context.Background()))
	assert.True(t, startedInTask, "tasks run while the coarse clock is started")
	assert.Contains(t, out.String(), "1 request(s) recorded")
	assert.False(t, clockStarted(b.stats.clock), "Run stops the clock when it returns")
}

func TestCoarseClockRefreshMovesForward(t *testing.T) {
	c := newCoarseClock()
	defer c.start()()
	// A stale time, as when CPU-bound goroutines delay the ticks.
	stale := time.Now().Add(-time.Hour).UnixNano()
	c.stamp.Store(stale)

	before := time.Now().UnixNano()
	got := c.refresh()
	assert.GreaterOrEqual(t, got, before)
	assert.GreaterOrEqual(t, c.stamp.Load(), got, "the refresh is stored")

	// A refresh never moves the clock back.
	future := time.Now().Add(time.Hour).UnixNano()
	c.stamp.Store(future)
	c.refresh()
	assert.Equal(t, future, c.stamp.Load())
}

func TestRecordsRefreshStaleClock(t *testing.T) {
	c := newStatsCollector(nil)
	defer c.clock.start()()
	require.Eventually(t, func() bool { c.clock.now(); return c.clock.ticking() }, 5*time.Second, time.Millisecond)
	// Stall the clock an hour back before every record. With refreshEvery
	// records per shard, at least one shard reaches its refresh, which
	// stamps its record with the current time although no tick ran.
	hourAgo := time.Now().Add(-time.Hour)
	start := time.Now()
	records := refreshEvery * len(c.shards)
	for i := 0; i < records; i++ {
		c.clock.stamp.Store(hourAgo.UnixNano())
		c.recordSuccess("GET", "/stale", 1, 1)
	}

	s := c.snapshot().requests[requestKey{method: "GET", name: "/stale"}]
	require.NotNil(t, s)
	assert.EqualValues(t, records, s.numRequests)
	assert.GreaterOrEqual(t, s.lastRequestTime, unixSeconds(start), "a refresh stamped a record with the current time")
	var current int64
	for second, n := range s.requestsPerSecond {
		if second >= start.Unix() {
			current += n
		}
	}
	assert.Positive(t, current, "records in the current second")
}
