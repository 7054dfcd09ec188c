package boomer

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openFileDescriptors counts the process's open file descriptors.
func openFileDescriptors(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// runOneCycle creates a worker, runs it until it is registering, and ends it.
func runOneCycle(t *testing.T, port int) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = port
	b, err := New(WithConfig(cfg), WithSignalHandling(false),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithTasks(&Task{Name: "t", Weight: 1, Run: func(u *User) { <-u.Context().Done() }}))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	require.Eventually(t, func() bool { return b.session.Load() != nil }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}
}

func TestRunCyclesDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("100 worker cycles; skipped with -short")
	}
	// Nothing listens on this port: each cycle opens and closes its sockets
	// and goroutines without a master.
	port := closedPort(t)
	// The first cycle starts libzmq's own threads and descriptors, which
	// live as long as the process.
	runOneCycle(t, port)
	baseGoroutines := runtime.NumGoroutine()
	baseFDs := openFileDescriptors(t)

	for i := 0; i < 100; i++ {
		runOneCycle(t, port)
	}

	// Goroutines that return after Run, such as the signal watcher, get a
	// moment to end.
	deadline := waitForGoroutines(t, baseGoroutines, "100 cycles")
	for openFileDescriptors(t) > baseFDs && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFileDescriptors(t); n > baseFDs {
		t.Errorf("file descriptors: %d after 100 cycles, %d before", n, baseFDs)
	}
}

func TestStandaloneCyclesDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("40 standalone runs; skipped with -short")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	task := &Task{Name: "t", Weight: 1, Run: func(u *User) {
		u.RecordSuccess("step", "t", time.Millisecond, 1)
	}}
	runCycle := func(configure func(*Config)) {
		cfg := DefaultConfig()
		cfg.Standalone = true
		cfg.MetricsAddr = "127.0.0.1:0"
		configure(&cfg)
		b, err := New(WithConfig(cfg), WithSignalHandling(false), WithLogger(quiet), WithTasks(task))
		require.NoError(t, err)
		b.stdout = io.Discard
		require.NoError(t, b.Run(context.Background()))
	}
	closedModel := func(c *Config) {
		c.Users = 5
		c.SpawnRate = 1000
		c.Iterations = 3
		c.MaxRPS = 1000
	}
	openModel := func(c *Config) {
		c.ArrivalRate = 200
		c.RunTime = 200 * time.Millisecond
	}
	runCycle(closedModel)
	runCycle(openModel)
	baseGoroutines := runtime.NumGoroutine()

	for i := 0; i < 20; i++ {
		runCycle(closedModel)
		runCycle(openModel)
	}

	waitForGoroutines(t, baseGoroutines, "40 standalone runs")
}

// waitForGoroutines waits up to 5 s for the goroutine count to fall to base,
// fails the test with every stack when it does not, and returns the deadline
// of the wait. It polls in a plain loop, because assert.Eventually runs its
// condition on a goroutine of its own.
func waitForGoroutines(t *testing.T, base int, after string) time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		stacks := make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		t.Errorf("goroutines: %d after %s, %d before:\n%s", n, after, base, stacks)
	}
	return deadline
}
