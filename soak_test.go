package boomer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// The soak test runs only when BOOMER_SOAK is set (`make soak`). Its length
// and user count come from BOOMER_SOAK_DURATION (default 10m) and
// BOOMER_SOAK_USERS (default 500).
const (
	envSoak         = "BOOMER_SOAK"
	envSoakDuration = "BOOMER_SOAK_DURATION"
	envSoakUsers    = "BOOMER_SOAK_USERS"

	// soakCycle is how long each test of the soak runs before its stop.
	soakCycle = 45 * time.Second
	// soakSampleInterval is how often the worker's resources are sampled.
	soakSampleInterval = 10 * time.Second
)

// soakSample is the worker process's resource use at one time.
type soakSample struct {
	elapsed    time.Duration
	goroutines int
	heapInuse  uint64
	rss        uint64
	users      int64
}

func TestSoak(t *testing.T) {
	if os.Getenv(envSoak) == "" {
		t.Skip("soak test: run with `make soak` (sets " + envSoak + "=1)")
	}
	duration := 10 * time.Minute
	if value := os.Getenv(envSoakDuration); value != "" {
		d, err := time.ParseDuration(value)
		require.NoError(t, err, "invalid %s=%q: use a duration such as 10m", envSoakDuration, value)
		duration = d
	}
	users := 500
	if value := os.Getenv(envSoakUsers); value != "" {
		n, err := strconv.Atoi(value)
		require.NoError(t, err, "invalid %s=%q: use a user count such as 500", envSoakUsers, value)
		users = n
	}

	baselineGoroutines := runtime.NumGoroutine()
	server := locusttest.NewCountingServer(t)
	master := startCountingMaster(t, locusttest.MasterOptions{})
	port := master.Port

	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = port
	cfg.MasterTimeout = 4 * time.Second
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: users}}
	class := &UserClass{
		Name:     "Dummy",
		WaitTime: Between(50*time.Millisecond, 150*time.Millisecond),
		Tasks: []*Task{{Name: "get", Weight: 1, Run: func(u *User) {
			start := time.Now()
			resp, err := client.Get(server.URL + "/soak")
			if err != nil {
				u.RecordFailure("GET", "/soak", time.Since(start), err.Error())
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			u.RecordSuccess("GET", "/soak", time.Since(start), n)
		}}},
	}
	// At debug level, the soak's log would hold a line per spawn message.
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	worker := startClassWorker(t, port, WithConfig(cfg), WithUserClasses(class), WithLogger(logger))
	registered := master.waitRegistered(t, "the worker to register", 0)

	userCount := func() int64 {
		if session := worker.b.session.Load(); session != nil {
			return sumCounts(session.users.counts())
		}
		return -1
	}
	start := time.Now()
	var samples []soakSample
	sample := func() {
		var mem runtime.MemStats
		runtime.ReadMemStats(&mem)
		samples = append(samples, soakSample{
			elapsed:    time.Since(start).Round(time.Second),
			goroutines: runtime.NumGoroutine(),
			heapInuse:  mem.HeapInuse,
			rss:        uint64(residentMemoryBytes()),
			users:      userCount(),
		})
	}

	// countedBefore is what masters that are gone counted; the server's
	// count is compared with it plus the current master's total.
	var countedBefore, lostAtRestart int64
	restarted := false
	cycles := 0
	for time.Since(start) < duration {
		cycles++
		require.NoError(t, master.Swarm(users, 100, ""), "cycle %d", cycles)
		cycleEnd := time.Now().Add(soakCycle)
		restartNow := !restarted && time.Since(start) > duration/2
		for time.Now().Before(cycleEnd) {
			time.Sleep(soakSampleInterval)
			sample()
			if restartNow && time.Now().After(cycleEnd.Add(-soakCycle/2)) {
				break
			}
		}

		if restartNow {
			// SIGKILL the master mid-test and start a new one on its port.
			restarted = true
			require.NoError(t, master.Signal(syscall.SIGKILL))
			_, _ = master.Wait(10 * time.Second)
			killedTotals := master.totals(t)
			master = startCountingMaster(t, locusttest.MasterOptions{Port: port})
			registered = master.waitRegistered(t, "the worker to register with the restarted master", 0)
			require.Eventually(t, func() bool { return userCount() == 0 }, 10*time.Second, 100*time.Millisecond,
				"users still running after the master was lost")
			// Requests held back while the master was lost go to the new
			// master; wait for two report intervals to let them arrive.
			time.Sleep(2*reportInterval + time.Second)
			countedBefore += killedTotals.Requests
			lostAtRestart = server.CountPath("/soak") - countedBefore - master.totals(t).Requests
			t.Logf("master restart at %s: server %d, old master %d, new master %d, lost %d",
				time.Since(start).Round(time.Second), server.CountPath("/soak"), killedTotals.Requests,
				master.totals(t).Requests, lostAtRestart)
			assert.GreaterOrEqual(t, lostAtRestart, int64(0), "requests counted twice across the restart")
			countedBefore += lostAtRestart
			continue
		}

		require.NoError(t, master.Stop(), "cycle %d", cycles)
		registered = master.waitRegistered(t, fmt.Sprintf("cycle %d: the worker to register after the stop", cycles), registered.Connects)
		received := server.CountPath("/soak")
		assert.Equal(t, received, countedBefore+registered.Requests, "cycle %d: master total differs from the server's count", cycles)
		time.Sleep(2 * time.Second)
	}

	// Quit in the middle of a last test.
	require.NoError(t, master.Swarm(users, 100, ""))
	time.Sleep(10 * time.Second)
	require.ErrorIs(t, worker.stopAndWait(t), context.Canceled)
	require.NoError(t, master.WaitForLog("The last worker quit", 10*time.Second))
	received := server.CountPath("/soak")
	counted := countedBefore + master.totals(t).Requests
	assert.LessOrEqual(t, counted, received, "the masters counted more requests than the server received")
	assert.LessOrEqual(t, received-counted, int64(users), "more requests missing at quit than users in flight")

	// Goroutines return to the baseline once the worker ended; the HTTP
	// client's idle connections are closed first.
	client.CloseIdleConnections()
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= baselineGoroutines+5 }, 10*time.Second, 100*time.Millisecond,
		"goroutines: %d, baseline %d", runtime.NumGoroutine(), baselineGoroutines)
	sample()

	var report strings.Builder
	fmt.Fprintf(&report, "soak: %s, %d users, %d tests, one master restart\n", duration, users, cycles)
	fmt.Fprintf(&report, "requests: server %d, masters %d, lost at the master restart %d, lost at quit %d\n",
		received, counted-lostAtRestart, lostAtRestart, received-counted)
	fmt.Fprintf(&report, "%8s %10s %10s %10s %6s\n", "elapsed", "goroutines", "heap MiB", "RSS MiB", "users")
	for _, s := range samples {
		fmt.Fprintf(&report, "%8s %10d %10.1f %10.1f %6d\n", s.elapsed, s.goroutines,
			float64(s.heapInuse)/(1<<20), float64(s.rss)/(1<<20), s.users)
	}
	t.Log("\n" + report.String())
	if path := os.Getenv("BOOMER_SOAK_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(report.String()), 0o644))
	}
}
