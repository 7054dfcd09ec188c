package boomer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// totalsLocustfile is a master locustfile that adds up, across all tests of
// the master's life, the requests of every report it receives, and counts
// worker registrations. It writes the totals as JSON to TOTALS_PATH after
// each event, so a test can compare what reached the master with what a
// server received, at once and across start/stop cycles, where the web UI
// caches its numbers and resets them at each start.
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
