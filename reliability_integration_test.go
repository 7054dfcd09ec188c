package boomer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// totalsLocustfile is a master locustfile that adds up, across all tests of
// the master's life, the requests of every report it receives, and counts
// worker registrations. It writes the totals as JSON to TOTALS_PATH after
// each event. A test can then compare what reached the master with what a
// server received, at once and across start/stop cycles. The web UI cannot
// serve here, because it caches its numbers and resets them at each start.
const totalsLocustfile = `import json
import os

from locust import User, constant, events, task

TOTALS_PATH = os.environ["BOOMER_TEST_TOTALS"]
totals = {"requests": 0, "failures": 0, "reports": 0, "connects": 0}


class Dummy(User):
    wait_time = constant(1)

    @task
    def noop(self):
        pass


def save():
    tmp = TOTALS_PATH + ".tmp"
    with open(tmp, "w") as f:
        json.dump(totals, f)
    os.replace(tmp, TOTALS_PATH)


@events.worker_report.add_listener
def on_worker_report(client_id, data, **kwargs):
    for entry in data["stats"]:
        totals["requests"] += entry["num_requests"]
        totals["failures"] += entry["num_failures"]
    totals["reports"] += 1
    save()


@events.worker_connect.add_listener
def on_worker_connect(client_id, **kwargs):
    totals["connects"] += 1
    save()
`

// masterTotals are the numbers totalsLocustfile writes.
type masterTotals struct {
	Requests int64 `json:"requests"`
	Failures int64 `json:"failures"`
	Reports  int64 `json:"reports"`
	Connects int64 `json:"connects"`
}

// countingMaster is a master with a web UI running totalsLocustfile.
type countingMaster struct {
	*locusttest.Master
	totalsPath string
}

func startCountingMaster(t *testing.T, opts locusttest.MasterOptions) *countingMaster {
	t.Helper()
	dir := t.TempDir()
	totalsPath := filepath.Join(dir, "totals.json")
	opts.Env = append(opts.Env, "BOOMER_TEST_TOTALS="+totalsPath)
	master := startClassMaster(t, writePythonLocustfile(t, totalsLocustfile), opts)
	return &countingMaster{Master: master, totalsPath: totalsPath}
}

// totals returns the master's totals so far; all zero before its first event.
func (m *countingMaster) totals(t *testing.T) masterTotals {
	t.Helper()
	var totals masterTotals
	data, err := os.ReadFile(m.totalsPath)
	if os.IsNotExist(err) {
		return totals
	}
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &totals), "totals file %s: %s", m.totalsPath, data)
	return totals
}

// waitTotals polls the master's totals until cond holds, for at most 30 s.
func (m *countingMaster) waitTotals(t *testing.T, what string, cond func(masterTotals) bool) masterTotals {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		totals := m.totals(t)
		if cond(totals) {
			return totals
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; master totals: %+v\nmaster log:\n%s", what, totals, m.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRegistered waits until the master counted more than after worker
// registrations, and returns the totals.
func (m *countingMaster) waitRegistered(t *testing.T, what string, after int64) masterTotals {
	t.Helper()
	return m.waitTotals(t, what, func(totals masterTotals) bool { return totals.Connects > after })
}

func TestExactAcrossStartStopCycles(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	server := locusttest.NewCountingServer(t)
	master := startCountingMaster(t, locusttest.MasterOptions{})
	worker := startWorker(t, master.Port, 0, httpTask("get", server.URL+"/cycle", "/cycle"))
	registered := master.waitRegistered(t, "the worker to register", 0)

	// A fixed seed keeps the cycles the same from run to run.
	rng := rand.New(rand.NewPCG(4, 20))
	for cycle := 1; cycle <= 20; cycle++ {
		users := 1 + rng.IntN(30)
		// Every third cycle ramps slowly, so its stop lands during the ramp.
		rate := 100.0
		if cycle%3 == 0 {
			rate = 5
		}
		require.NoError(t, master.Swarm(users, rate, ""), "cycle %d", cycle)
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		require.NoError(t, master.Stop(), "cycle %d", cycle)

		// The worker sends its last report, client_stopped and client_ready
		// in that order on one socket, so once the master counted the new
		// registration it has counted the report too.
		registered = master.waitRegistered(t, fmt.Sprintf("cycle %d: the worker to register after the stop", cycle), registered.Connects)
		received := server.CountPath("/cycle")
		assert.Positive(t, received, "cycle %d: no request reached the server", cycle)
		assert.Equal(t, received, registered.Requests, "cycle %d (%d users, %.0f/s): master total differs from the server's count", cycle, users, rate)
		assert.Zero(t, registered.Failures, "cycle %d", cycle)
	}

	// Quit in the middle of a test: the final report precedes quit, so
	// only requests still in flight when the tasks' grace ended, at most
	// one per user, may be missing.
	const quitUsers = 10
	require.NoError(t, master.Swarm(quitUsers, 100, ""))
	before := server.CountPath("/cycle")
	master.waitTotals(t, "requests from the last test", func(totals masterTotals) bool {
		return totals.Requests > before+100
	})
	require.ErrorIs(t, worker.stopAndWait(t), context.Canceled)
	require.NoError(t, master.WaitForLog("The last worker quit", 10*time.Second))
	final := master.totals(t)
	received := server.CountPath("/cycle")
	assert.LessOrEqual(t, final.Requests, received, "the master counted more requests than the server received")
	assert.LessOrEqual(t, received-final.Requests, int64(quitUsers), "more requests missing at quit than users in flight")
	t.Logf("quit: server %d, master %d", received, final.Requests)
}

// TestNetworkPartitionThroughProxy runs the worker's connection through a
// proxy and stages partitions: a short hold that neither side notices, a
// hold longer than both sides' timeouts, a cut with resets, and a quit
// during a hold.
func TestNetworkPartitionThroughProxy(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	server := locusttest.NewCountingServer(t)
	master := startCountingMaster(t, locusttest.MasterOptions{})
	proxy := startPartitionProxy(t, "127.0.0.1:"+strconv.Itoa(master.Port))

	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = proxy.Port()
	cfg.MasterTimeout = 4 * time.Second
	cfg.ShutdownTimeout = time.Second
	worker := startClassWorker(t, proxy.Port(), WithConfig(cfg),
		WithTasks(httpTask("get", server.URL+"/p", "/p")))
	registered := master.waitRegistered(t, "the worker to register through the proxy", 0)

	users := func() int64 {
		session := worker.b.session.Load()
		if session == nil {
			return -1
		}
		return sumCounts(session.users.counts())
	}
	// stopAndCheck stops the test, waits for the worker's registration
	// after the stop, and checks that the master counted every request.
	stopAndCheck := func(phase string) {
		t.Helper()
		require.NoError(t, master.Stop(), phase)
		registered = master.waitRegistered(t, phase+": the worker to register after the stop", registered.Connects)
		received := server.CountPath("/p")
		assert.Equal(t, received, registered.Requests, "%s: master total differs from the server's count", phase)
	}

	// A hold shorter than the master's missing-worker check (about 3 s)
	// and the worker's MasterTimeout: traffic resumes where it stopped.
	require.NoError(t, master.Swarm(3, 100, ""))
	require.Eventually(t, func() bool { return users() == 3 }, 10*time.Second, 50*time.Millisecond)
	proxy.Hold()
	time.Sleep(1500 * time.Millisecond)
	proxy.Release()
	time.Sleep(2 * time.Second)
	assert.Equal(t, int64(3), users(), "short hold: users changed")
	assert.Equal(t, registered.Connects, master.totals(t).Connects, "short hold: the worker registered again")
	stopAndCheck("short hold")

	// A hold longer than both timeouts: the master marks the worker
	// missing and the worker stops its users and registers again. Its
	// reports wait while the master is silent, so nothing is lost.
	require.NoError(t, master.Swarm(3, 100, ""))
	require.Eventually(t, func() bool { return users() == 3 }, 10*time.Second, 50*time.Millisecond)
	proxy.Hold()
	held := time.Now()
	require.Eventually(t, func() bool { return users() == 0 }, cfg.MasterTimeout+3*time.Second, 50*time.Millisecond,
		"long hold: users still running with the master out of reach")
	time.Sleep(time.Until(held.Add(12 * time.Second)))
	proxy.Release()
	registered = master.waitRegistered(t, "long hold: the worker to register again", registered.Connects)
	received := server.CountPath("/p")
	registered = master.waitTotals(t, "long hold: every request counted", func(totals masterTotals) bool {
		return totals.Requests >= received
	})
	assert.Equal(t, received, registered.Requests, "long hold: master total differs from the server's count")

	// The worker takes part in the next test. The master may still be
	// stopping the test it lost its only worker in; Swarm then fails and is
	// retried.
	require.Eventually(t, func() bool { return master.Swarm(3, 100, "") == nil }, 10*time.Second, 500*time.Millisecond)
	require.Eventually(t, func() bool { return users() == 3 }, 10*time.Second, 50*time.Millisecond)
	stopAndCheck("after the long hold")

	// A cut resets the connection and refuses new ones for 2 s; ZeroMQ
	// reconnects by itself. Bytes in flight when the connection reset are
	// lost with it, so only the next test is checked for exact counts.
	require.NoError(t, master.Swarm(3, 100, ""))
	require.Eventually(t, func() bool { return users() == 3 }, 10*time.Second, 50*time.Millisecond)
	proxy.Cut()
	time.Sleep(2 * time.Second)
	proxy.Release()
	beforeCut := master.totals(t).Requests
	master.waitTotals(t, "reports again after the cut", func(totals masterTotals) bool {
		return totals.Requests > beforeCut
	})
	require.NoError(t, master.Stop())
	registered = master.waitRegistered(t, "cut: the worker to register after the stop", registered.Connects)
	serverAfterCut := server.CountPath("/p")
	lost := serverAfterCut - registered.Requests
	assert.GreaterOrEqual(t, lost, int64(0), "cut: the master counted requests twice")
	t.Logf("cut: %d requests lost with the reset connection", lost)

	masterAfterCut := registered.Requests
	require.NoError(t, master.Swarm(3, 100, ""))
	require.Eventually(t, func() bool { return users() == 3 }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, master.Stop())
	registered = master.waitRegistered(t, "after the cut: the worker to register after the stop", registered.Connects)
	assert.Equal(t, server.CountPath("/p")-serverAfterCut, registered.Requests-masterAfterCut,
		"after the cut: the master's count of the test differs from the server's")

	// Quit during a hold: Run returns within ShutdownTimeout even though
	// nothing reaches the master.
	require.NoError(t, master.Swarm(3, 100, ""))
	require.Eventually(t, func() bool { return users() == 3 }, 10*time.Second, 50*time.Millisecond)
	proxy.Hold()
	quitStart := time.Now()
	worker.cancel()
	select {
	case err := <-worker.done:
		worker.done <- err
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(cfg.ShutdownTimeout + 2*time.Second):
		t.Fatalf("Run did not return within %s of its context ending during a hold", cfg.ShutdownTimeout+2*time.Second)
	}
	t.Logf("quit during a hold took %s (shutdown timeout %s)", time.Since(quitStart).Round(time.Millisecond), cfg.ShutdownTimeout)
	proxy.Release()
}

// TestTaskThatNeverReturns runs tasks that ignore both the stop and their
// user's context. The stop still ends after the master's stop timeout and
// the grace, a new test runs beside the stuck users, their records count
// when they finally return, and a quit still ends within ShutdownTimeout.
func TestTaskThatNeverReturns(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	const stopTimeout = 2 * time.Second
	master := startCountingMaster(t, locusttest.MasterOptions{StopTimeout: "2s"})

	var (
		testNumber    atomic.Int64
		recorded      atomic.Int64
		stuck         atomic.Int64
		stuckReturned atomic.Int64
		cancelled     atomic.Int64
		role          atomic.Int64
	)
	release := make(chan struct{})
	releaseQuit := make(chan struct{})
	defer close(releaseQuit)
	record := func(u *User, name string) {
		u.RecordSuccess("task", name, time.Millisecond, 0)
		recorded.Add(1)
	}
	task := &Task{Name: "work", Weight: 1, Run: func(u *User) {
		switch testNumber.Load() {
		case 1:
			// Every other user ignores its context; the rest end with it.
			if u.State == nil {
				u.State = role.Add(1)%2 == 0
			}
			if u.State.(bool) {
				<-u.Context().Done()
				cancelled.Add(1)
				record(u, "cancelled")
				return
			}
			stuck.Add(1)
			<-release
			record(u, "released")
			stuckReturned.Add(1)
		case 2:
			time.Sleep(10 * time.Millisecond)
			record(u, "second")
		default:
			<-releaseQuit
		}
	}}
	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = master.Port
	cfg.ShutdownTimeout = time.Second
	// The third test's stop hook blocks too.
	worker := startClassWorker(t, master.Port, WithConfig(cfg),
		WithUserClasses(&UserClass{Name: "Dummy", Tasks: []*Task{task}}),
		WithTestStart(func(TestInfo) { testNumber.Add(1) }),
		WithTestStop(func(TestInfo) {
			if testNumber.Load() == 3 {
				<-releaseQuit
			}
		}))
	registered := master.waitRegistered(t, "the worker to register", 0)
	users := func() int64 { return sumCounts(worker.b.session.Load().users.counts()) }

	// First test: the stop ends after the stop timeout and the grace,
	// although half the users never return.
	const firstUsers = 6
	require.NoError(t, master.Swarm(firstUsers, 100, ""))
	require.Eventually(t, func() bool { return stuck.Load() == firstUsers/2 }, 10*time.Second, 20*time.Millisecond)
	stopped := time.Now()
	require.NoError(t, master.Stop())
	registered = master.waitRegistered(t, "the worker to register after the stop", registered.Connects)
	took := time.Since(stopped)
	t.Logf("stop with stuck tasks took %s (stop timeout %s, grace %s)", took.Round(time.Millisecond), stopTimeout, minStopGrace)
	assert.GreaterOrEqual(t, took, stopTimeout, "the stop did not wait for the stop timeout")
	assert.Less(t, took, stopTimeout+minStopGrace+2*time.Second, "the stop did not end after the stop timeout and the grace")
	assert.Equal(t, int64(firstUsers/2), cancelled.Load(), "tasks that ended with their context")
	assert.Equal(t, recorded.Load(), registered.Requests, "first test: master total differs from the records")
	assert.Zero(t, users(), "users counted after the stop")

	// Second test beside the stuck users; they return in its middle, and
	// their last records count.
	require.NoError(t, master.Swarm(2, 100, ""))
	require.Eventually(t, func() bool { return users() == 2 }, 10*time.Second, 20*time.Millisecond)
	close(release)
	require.Eventually(t, func() bool { return stuckReturned.Load() == firstUsers/2 }, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, master.Stop())
	registered = master.waitRegistered(t, "the worker to register after the second stop", registered.Connects)
	master.waitTotals(t, "every record, the released ones included", func(totals masterTotals) bool {
		return totals.Requests == recorded.Load()
	})
	assert.Equal(t, int64(firstUsers/2), stuck.Load(), "a released user ran its stuck task again")

	// Third test: a quit while every task and the test stop hook are stuck
	// ends within the shutdown timeout.
	require.NoError(t, master.Swarm(2, 100, ""))
	require.Eventually(t, func() bool { return users() == 2 && testNumber.Load() == 3 }, 10*time.Second, 20*time.Millisecond)
	quitStart := time.Now()
	err := worker.stopAndWait(t)
	assert.ErrorIs(t, err, context.Canceled)
	took = time.Since(quitStart)
	t.Logf("quit with stuck tasks and hook took %s (shutdown timeout %s)", took.Round(time.Millisecond), cfg.ShutdownTimeout)
	assert.Less(t, took, cfg.ShutdownTimeout+time.Second, "quit with stuck tasks took longer than the shutdown timeout")
	require.NoError(t, master.WaitForLog("The last worker quit", 10*time.Second))
}

// TestRecordsAfterUserEnded runs tasks that record from goroutines of their
// own, up to a second after the task returned and after its user ended.
// Every record reaches the master once.
func TestRecordsAfterUserEnded(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	master := startCountingMaster(t, locusttest.MasterOptions{})
	var (
		recorded atomic.Int64
		afterEnd atomic.Int64
		pending  sync.WaitGroup
		ended    sync.Map // *User → struct{}
	)
	class := &UserClass{
		Name:     "Dummy",
		WaitTime: Constant(50 * time.Millisecond),
		Tasks: []*Task{{Name: "spawn", Weight: 1, Run: func(u *User) {
			u.RecordSuccess("task", "main", time.Millisecond, 0)
			recorded.Add(1)
			pending.Add(1)
			go func() {
				defer pending.Done()
				time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
				if _, ok := ended.Load(u); ok {
					afterEnd.Add(1)
				}
				u.RecordSuccess("goroutine", "late", time.Millisecond, 0)
				recorded.Add(1)
			}()
		}}},
		OnStop: func(u *User) { ended.Store(u, struct{}{}) },
	}
	startClassWorker(t, master.Port, WithUserClasses(class))
	registered := master.waitRegistered(t, "the worker to register", 0)

	require.NoError(t, master.Swarm(5, 100, ""))
	master.waitTotals(t, "requests", func(totals masterTotals) bool { return totals.Requests > 100 })
	require.NoError(t, master.Stop())
	master.waitRegistered(t, "the worker to register after the stop", registered.Connects)
	pending.Wait()
	master.waitTotals(t, "the goroutines' records", func(totals masterTotals) bool {
		return totals.Requests >= recorded.Load()
	})
	assert.Positive(t, afterEnd.Load(), "no goroutine recorded after its user ended")
	// Another report interval shows that nothing arrives twice.
	time.Sleep(reportInterval + time.Second)
	assert.Equal(t, recorded.Load(), master.totals(t).Requests, "master total differs from the records")
}
