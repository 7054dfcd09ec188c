package boomer

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// healthStatus returns the status code of GET url, or 0 when the request
// fails.
func healthStatus(url string) int {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitHealthStatus waits until GET url returns code.
func waitHealthStatus(t *testing.T, url string, code int, timeout time.Duration, description string) {
	t.Helper()
	var last int
	require.Eventually(t, func() bool {
		last = healthStatus(url)
		return last == code
	}, timeout, 50*time.Millisecond, "%s: GET %s did not return %d (last status %d)", description, url, code, last)
}

func TestHealthEndpointsFollowMaster(t *testing.T) {
	skipIfShort(t)
	masterPort := locusttest.FreePort(t)
	healthPort := locusttest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(healthPort)

	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = masterPort
	cfg.MasterTimeout = MinMasterTimeout
	cfg.HealthHost = "127.0.0.1"
	cfg.HealthPort = healthPort
	startClassWorker(t, masterPort, WithConfig(cfg),
		WithTasks(&Task{Name: "t", Weight: 1, Run: func(u *User) { <-u.Context().Done() }}))

	// No master yet: the process is alive but not ready.
	waitHealthStatus(t, base+HealthLivenessPath, http.StatusOK, 10*time.Second, "liveness without a master")
	assert.Equal(t, http.StatusServiceUnavailable, healthStatus(base+HealthReadinessPath), "readiness without a master")

	first := locusttest.StartMaster(t, locusttest.MasterOptions{Locustfile: "examples/locustfile.py", Port: masterPort})
	waitHealthStatus(t, base+HealthReadinessPath, http.StatusOK, 20*time.Second, "readiness after the master's ack")

	// A test start and stop keeps the worker registered, so it stays ready.
	require.NoError(t, first.Swarm(2, 100, ""))
	waitStats(t, first, "2 users", func(s *locusttest.StatsJSON) bool { return workerUsers(s) == 2 })
	require.NoError(t, first.Stop())
	waitStats(t, first, "the worker to be ready after the stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
	assert.Equal(t, http.StatusOK, healthStatus(base+HealthReadinessPath), "readiness after a stop")

	require.NoError(t, first.Signal(syscall.SIGKILL))
	_, _ = first.Wait(10 * time.Second)
	require.True(t, first.Exited(), "master still running after SIGKILL")
	waitHealthStatus(t, base+HealthReadinessPath, http.StatusServiceUnavailable, cfg.MasterTimeout+10*time.Second, "readiness after the master was lost")
	assert.Equal(t, http.StatusOK, healthStatus(base+HealthLivenessPath), "liveness must not depend on the master")

	second := locusttest.StartMaster(t, locusttest.MasterOptions{Locustfile: "examples/locustfile.py", Port: masterPort})
	waitHealthStatus(t, base+HealthReadinessPath, http.StatusOK, 30*time.Second, "readiness with a restarted master")
	waitStats(t, second, "the worker to register with the restarted master", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == 1 })
}

func TestHealthPortInUseFailsRun(t *testing.T) {
	skipIfShort(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer listener.Close()
	port := listener.Addr().(*net.TCPAddr).Port

	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = locusttest.FreePort(t)
	cfg.HealthHost = "127.0.0.1"
	cfg.HealthPort = port
	b, err := New(WithConfig(cfg), WithSignalHandling(false),
		WithTasks(&Task{Name: "t", Weight: 1, Run: func(u *User) {}}))
	require.NoError(t, err)
	err = b.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:"+strconv.Itoa(port))
	assert.Contains(t, err.Error(), "--health-port")
}

func TestSIGTERMExitsWithoutMaster(t *testing.T) {
	skipIfShort(t)
	healthPort := locusttest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(healthPort)
	bin := buildExample(t, "examples/simple")
	worker := startWorkerProcessEnv(t, bin,
		[]string{EnvHealthPort + "=" + strconv.Itoa(healthPort)},
		"--master-port", strconv.Itoa(locusttest.FreePort(t)), "--health-host", "127.0.0.1")

	// The port comes from the environment variable alone.
	waitHealthStatus(t, base+HealthLivenessPath, http.StatusOK, 10*time.Second, "liveness of the worker process")
	assert.Equal(t, http.StatusServiceUnavailable, healthStatus(base+HealthReadinessPath), "readiness without a master")

	require.NoError(t, worker.cmd.Process.Signal(syscall.SIGTERM))
	// The worker gives tasks quitGrace and the socket closeFlush, far less
	// than the 10 s terminationGracePeriodSeconds of the Kubernetes manifests.
	assert.Equal(t, 0, worker.wait(t, 10*time.Second), "exit status after SIGTERM with no master")
	assert.Contains(t, worker.log(), "received signal terminated")
}
