package boomer

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

func TestWorkerStartedBeforeMaster(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	server := locusttest.NewCountingServer(t)
	port := locusttest.FreePort(t)
	worker := startWorker(t, port, 0, httpTask("get", server.URL+"/early", "/early"))

	// The worker sends client_ready into the void for 30 s.
	time.Sleep(30 * time.Second)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		Port:       port,
	})
	waitStats(t, master, "the early worker to register", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].ID == worker.b.NodeID()
	})
	require.NoError(t, master.Swarm(2, 100, ""))
	waitStats(t, master, "requests from the early worker", func(s *locusttest.StatsJSON) bool {
		return workerUsers(s) == 2 && aggregatedRequests(s) > 0
	})
	stopAndCheckExact(t, master, server, "/early")
}

func TestMasterFrozenThenResumed(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
	})
	worker := startWorker(t, master.Port, 0, &Task{Name: "wait", Weight: 1, Run: func(u *User) {
		select {
		case <-time.After(10 * time.Millisecond):
			u.RecordSuccess("custom", "tick", 10*time.Millisecond, 0)
		case <-u.Context().Done():
		}
	}})
	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == 1 })
	require.NoError(t, master.Swarm(3, 100, ""))
	waitStats(t, master, "3 users", func(s *locusttest.StatsJSON) bool { return workerUsers(s) == 3 })

	require.NoError(t, master.Signal(syscall.SIGSTOP))
	frozen := time.Now()
	// Within the lost-master timeout and a few seconds, the worker stops
	// its users by itself.
	require.Eventually(t, func() bool {
		session := worker.b.session.Load()
		return session != nil && sumCounts(session.users.counts()) == 0
	}, DefaultMasterTimeout+5*time.Second, 100*time.Millisecond, "users still running with a frozen master")

	time.Sleep(time.Until(frozen.Add(70 * time.Second)))
	require.NoError(t, master.Signal(syscall.SIGCONT))

	// Depending on which the resumed master handles first, it either stops
	// the test because its only worker went missing, or takes the worker's
	// new registration and dispatches the running test's users to it again.
	waitStats(t, master, "the worker to register again with the resumed master", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].ID == worker.b.NodeID()
	})
	require.NoError(t, master.Stop())
	waitStats(t, master, "the worker to be ready after a stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
	require.NoError(t, master.Swarm(2, 100, ""))
	stats := waitStats(t, master, "a new test on the resumed master", func(s *locusttest.StatsJSON) bool {
		tick, ok := s.Entry("custom", "tick")
		return workerUsers(s) == 2 && ok && tick.NumRequests > 0
	})
	assert.Equal(t, 2, stats.UserCount)
}
