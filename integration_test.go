package boomer

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// These tests run the real Locust master from the project's .venv (see
// internal/locusttest). They are skipped with -short.

func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with a real Locust master; skipped with -short")
	}
}

// checkingTransport checks every frame the worker sends against the
// protocol's rules before passing it on, so that the integration tests also
// prove that nothing the worker sends can break the master.
type checkingTransport struct {
	transport
	t       *testing.T
	invalid atomic.Int64

	receiveOnce sync.Once
	received    <-chan []byte
}

// Receive passes the master's frames on, saving them while a corpus capture
// runs.
func (c *checkingTransport) Receive() <-chan []byte {
	c.receiveOnce.Do(func() { c.received = tapReceive(c.transport.Receive()) })
	return c.received
}

func (c *checkingTransport) Send(frame []byte) error {
	if err := checkOutgoingFrame(frame); err != nil {
		if c.invalid.Add(1) <= 5 {
			c.t.Errorf("invalid frame sent to the master: %v\nframe: %x", err, frame)
		}
	}
	return c.transport.Send(frame)
}

// inProcessWorker is a Boomer running in the test process.
type inProcessWorker struct {
	b      *Boomer
	cancel context.CancelFunc
	done   chan error
}

// startWorker runs a Boomer with tasks against the master on port, with
// every outgoing frame checked; see startClassWorker. A positive
// masterTimeout replaces the default lost-master timeout.
func startWorker(t *testing.T, port int, masterTimeout time.Duration, tasks ...*Task) *inProcessWorker {
	t.Helper()
	opts := []Option{WithTasks(tasks...)}
	if masterTimeout > 0 {
		cfg := DefaultConfig()
		cfg.MasterHost = "127.0.0.1"
		cfg.MasterPort = port
		cfg.MasterTimeout = masterTimeout
		opts = append(opts, WithConfig(cfg))
	}
	return startClassWorker(t, port, opts...)
}

// stopAndWait cancels the worker's context and returns Run's error.
func (w *inProcessWorker) stopAndWait(t *testing.T) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not return within 10s of its context ending")
		return nil
	}
}

// testLogWriter sends the worker's log lines to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// httpTask returns a task that GETs url and records the request under name,
// as examples/http does.
func httpTask(taskName, url, name string) *Task {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1000},
	}
	// The task records through its user, not the package-level functions,
	// so that parallel tests with workers of their own do not mix records.
	return &Task{Name: taskName, Weight: 1, Run: func(u *User) {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			u.RecordFailure("GET", name, time.Since(start), err.Error())
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			u.RecordFailure("GET", name, time.Since(start), err.Error())
		case resp.StatusCode >= 400:
			u.RecordFailure("GET", name, time.Since(start), "HTTP "+strconv.Itoa(resp.StatusCode))
		default:
			u.RecordSuccess("GET", name, time.Since(start), n)
		}
	}}
}

var (
	buildMu    sync.Mutex
	builtPaths = map[string]string{}
)

// buildExample builds the example program in dir once per test binary, with
// the test binary's transport, and returns the executable's path.
func buildExample(t testing.TB, dir string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := builtPaths[dir]; ok {
		return path
	}
	out, err := os.MkdirTemp("", "boomer-example-")
	require.NoError(t, err)
	path := filepath.Join(out, filepath.Base(dir))
	cmd := exec.Command("go", "build", "-tags", exampleBuildTags, "-o", path, "./"+dir)
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./%s: %s", dir, output)
	builtPaths[dir] = path
	return path
}

// workerProcess is an example program started as a worker.
type workerProcess struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startWorkerProcess(t testing.TB, bin string, args ...string) *workerProcess {
	t.Helper()
	return startWorkerProcessEnv(t, bin, nil, args...)
}

// startWorkerProcessEnv starts bin with args and the test's environment plus
// env ("NAME=value" entries).
func startWorkerProcessEnv(t testing.TB, bin string, env []string, args ...string) *workerProcess {
	t.Helper()
	p := &workerProcess{logPath: filepath.Join(t.TempDir(), "worker.log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	require.NoError(t, err)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = logFile
	p.cmd.Stderr = logFile
	// The worker dies with the test process, even when cleanups do not run.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", p.log())
		}
	})
	return p
}

// wait returns the process's exit code, or fails the test after timeout.
func (p *workerProcess) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("worker did not exit within %v; log:\n%s", timeout, p.log())
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		return exitErr.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

func (p *workerProcess) log() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

// userCountsFromHistory returns the "User Count" column of the master's
// <prefix>_stats_history.csv.
func userCountsFromHistory(t *testing.T, prefix string) []int {
	t.Helper()
	f, err := os.Open(prefix + "_stats_history.csv")
	require.NoError(t, err)
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, records, "stats history is empty")
	column := -1
	for i, name := range records[0] {
		if name == "User Count" {
			column = i
		}
	}
	require.NotEqual(t, -1, column, "no User Count column in %v", records[0])
	var counts []int
	for _, record := range records[1:] {
		n, err := strconv.Atoi(record[column])
		require.NoError(t, err)
		counts = append(counts, n)
	}
	return counts
}

func TestMasterCountsEveryRequest(t *testing.T) {
	skipIfShort(t)
	const users = 20
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		Headless:   true,
		Users:      users,
		SpawnRate:  users,
		RunTime:    "15s",
	})
	worker := startWorkerProcess(t, buildExample(t, "examples/http"),
		"--master-host", "127.0.0.1", "--master-port", strconv.Itoa(master.Port), "--url", server.URL+"/")

	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "master exit code; log:\n%s", master.Log())
	assert.Equal(t, 0, worker.wait(t, 10*time.Second), "worker exit code")

	rows, err := master.StatsCSV()
	require.NoError(t, err)
	total, ok := locusttest.FindStatsRow(rows, "", "Aggregated")
	require.True(t, ok, "no Aggregated row in %v", rows)
	get, ok := locusttest.FindStatsRow(rows, "GET", "/")
	require.True(t, ok, "no GET / row in %v", rows)

	received := server.Count()
	t.Logf("server received %d requests, master counted %d", received, total.RequestCount)
	assert.Positive(t, total.RequestCount)
	assert.Equal(t, total.RequestCount, get.RequestCount)
	assert.Zero(t, total.FailureCount)
	assert.LessOrEqual(t, total.RequestCount, received, "master counted requests the server never saw")
	assert.LessOrEqual(t, received-total.RequestCount, int64(users), "more requests lost than users in flight at quit")

	counts := userCountsFromHistory(t, master.CSVPrefix)
	assert.Contains(t, counts, users, "the master never showed %d users: %v", users, counts)
	for _, n := range counts {
		assert.LessOrEqual(t, n, users)
	}
}

func TestMasterFailRatioWhenAllFail(t *testing.T) {
	skipIfShort(t)
	const users = 5
	server := locusttest.NewCountingServer(t)
	server.SetStatus("/fail", http.StatusInternalServerError)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		Headless:   true,
		Users:      users,
		SpawnRate:  users,
		RunTime:    "6s",
	})
	worker := startWorkerProcess(t, buildExample(t, "examples/http"),
		"--master-port", strconv.Itoa(master.Port), "--url", server.URL+"/fail")

	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	// Locust exits with 1 when any request failed.
	assert.Equal(t, 1, code, "master exit code; log:\n%s", master.Log())
	assert.Equal(t, 0, worker.wait(t, 10*time.Second), "worker exit code")

	rows, err := master.StatsCSV()
	require.NoError(t, err)
	total, ok := locusttest.FindStatsRow(rows, "", "Aggregated")
	require.True(t, ok)
	assert.Positive(t, total.RequestCount)
	assert.Equal(t, total.RequestCount, total.FailureCount, "fail ratio is not 100%%")
	received := server.CountPath("/fail")
	assert.LessOrEqual(t, total.RequestCount, received)
	assert.LessOrEqual(t, received-total.RequestCount, int64(users))

	failures, err := master.FailuresCSV()
	require.NoError(t, err)
	require.Len(t, failures, 1)
	assert.Equal(t, "GET", failures[0].Method)
	assert.Equal(t, "/fail", failures[0].Name)
	// Locust before 2.25 writes the Python repr of the error text.
	assert.Equal(t, "HTTP 500", strings.Trim(failures[0].Error, "'"))
	assert.Equal(t, total.FailureCount, failures[0].Occurrences)
}

// waitStats polls the master's web UI until cond holds.
func waitStats(t testing.TB, master *locusttest.Master, what string, cond func(*locusttest.StatsJSON) bool) *locusttest.StatsJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last *locusttest.StatsJSON
	for time.Now().Before(deadline) {
		stats, err := master.Stats()
		if err == nil {
			last = stats
			if cond(stats) {
				return stats
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last stats: %+v\nmaster log:\n%s", what, last, master.Log())
	return nil
}

func workerUsers(stats *locusttest.StatsJSON) int {
	n := 0
	for _, w := range stats.Workers {
		n += w.UserCount
	}
	return n
}

func aggregatedRequests(stats *locusttest.StatsJSON) int64 {
	total, _ := stats.Aggregated()
	return total.NumRequests
}

func TestSpawnRampStopAndSecondTest(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
	})
	worker := startWorker(t, master.Port, 0, httpTask("get", server.URL+"/ramp", "/ramp"))

	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})

	// First test: 10 users, then 30, then 5, each applied as the master's
	// ramp sends them.
	for _, users := range []int{10, 30, 5} {
		require.NoError(t, master.Swarm(users, 100, ""))
		waitStats(t, master, "the worker to run "+strconv.Itoa(users)+" users", func(s *locusttest.StatsJSON) bool {
			return s.UserCount == users && workerUsers(s) == users && s.Workers[0].State == "running"
		})
		session := worker.b.session.Load()
		require.NotNil(t, session)
		assert.Equal(t, map[string]int64{"Dummy": int64(users)}, session.users.counts())
	}

	require.NoError(t, master.Stop())
	stopped := waitStats(t, master, "the worker to be ready again after stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready" && s.WorkerCount == 1
	})
	firstTest := server.CountPath("/ramp")
	// Statistics are cached for up to 2 s by the web UI; wait until they
	// include the report the worker sent before client_stopped.
	stopped = waitStats(t, master, "the first test's last report", func(s *locusttest.StatsJSON) bool {
		return aggregatedRequests(s) == firstTest
	})
	assert.Positive(t, aggregatedRequests(stopped))
	assert.Equal(t, firstTest, aggregatedRequests(stopped), "first test: master total differs from the server's count")

	// Second test on the same worker: the master resets its statistics.
	require.NoError(t, master.Swarm(10, 100, ""))
	waitStats(t, master, "the second test to run 10 users", func(s *locusttest.StatsJSON) bool {
		return s.UserCount == 10 && s.State == "running" && aggregatedRequests(s) > 0
	})
	require.NoError(t, master.Stop())
	waitStats(t, master, "the worker to be ready after the second stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
	secondTest := server.CountPath("/ramp") - firstTest
	final := waitStats(t, master, "the second test's last report", func(s *locusttest.StatsJSON) bool {
		return aggregatedRequests(s) == secondTest
	})
	assert.Positive(t, secondTest)
	assert.Equal(t, secondTest, aggregatedRequests(final), "second test: master total differs from the server's count")

	err := worker.stopAndWait(t)
	assert.ErrorIs(t, err, context.Canceled)
	waitStats(t, master, "the master to drop the worker after its quit", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 0
	})
}

func TestSignalSendsQuitToMaster(t *testing.T) {
	skipIfShort(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
	})
	worker := startWorkerProcess(t, buildExample(t, "examples/simple"),
		"--master-port", strconv.Itoa(master.Port))

	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1
	})
	require.NoError(t, master.Swarm(4, 100, ""))
	waitStats(t, master, "4 users running", func(s *locusttest.StatsJSON) bool {
		return workerUsers(s) == 4 && aggregatedRequests(s) > 0
	})

	require.NoError(t, worker.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, worker.wait(t, 5*time.Second), "worker exit code after SIGTERM")
	require.NoError(t, master.WaitForLog("quit", 10*time.Second))
	waitStats(t, master, "the master to drop the worker", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 0
	})
}

func TestPanickingTaskIsReportedAndUserGoesOn(t *testing.T) {
	skipIfShort(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
	})
	var calls atomic.Int64
	task := &Task{Name: "explode", Weight: 1, Fn: func() {
		time.Sleep(10 * time.Millisecond)
		if calls.Add(1)%2 == 0 {
			panic("boom")
		}
		RecordSuccess("custom", "calm", time.Millisecond, 1)
	}}
	startWorker(t, master.Port, 0, task)

	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == 1 })
	require.NoError(t, master.Swarm(2, 100, ""))
	stats := waitStats(t, master, "panics and successes in the stats", func(s *locusttest.StatsJSON) bool {
		panics, ok := s.Entry(panicRequestType, "explode")
		calm, ok2 := s.Entry("custom", "calm")
		return ok && ok2 && panics.NumFailures >= 5 && calm.NumRequests >= 5
	})
	panics, _ := stats.Entry(panicRequestType, "explode")
	assert.Equal(t, panics.NumRequests, panics.NumFailures)

	exceptions, err := master.Exceptions()
	require.NoError(t, err)
	require.NotEmpty(t, exceptions, "no exception reached the master")
	assert.Contains(t, exceptions[0].Msg, `task "explode" panicked: boom`)
	assert.Contains(t, exceptions[0].Traceback, "panic")
	// Tracebacks are normalised, so all panics of this task group into one row.
	assert.Len(t, exceptions, 1)
}

func TestReconnectKeepsWorkerRegistered(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
	})
	worker := startWorker(t, master.Port, 0, httpTask("get", server.URL+"/r", "/r"))
	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == 1 })
	require.NoError(t, master.Swarm(3, 100, ""))
	waitStats(t, master, "3 users", func(s *locusttest.StatsJSON) bool { return workerUsers(s) == 3 })

	// A frame with invalid UTF-8 in a str makes the master drop it and send
	// reconnect to the worker, which opens a new socket with the same identity.
	session := worker.b.session.Load()
	require.NotNil(t, session)
	bad := []byte{0x93, 0xa3, 'f', 'o', 'o', 0xc0, 0xa2, 0xff, 0xfe}
	require.NoError(t, session.transport.(*checkingTransport).transport.Send(bad))
	require.NoError(t, master.WaitForLog("Will reset client", 10*time.Second))

	before := aggregatedRequests(waitStats(t, master, "requests", func(s *locusttest.StatsJSON) bool { return true }))
	waitStats(t, master, "the worker to keep reporting after the reconnect", func(s *locusttest.StatsJSON) bool {
		return aggregatedRequests(s) > before && s.WorkerCount == 1 && workerUsers(s) == 3
	})
	stopAndCheckExact(t, master, server, "/r")
}

// stopAndCheckExact stops the master's test, waits for its only worker to be
// ready again, and waits until the master's total equals the number of
// requests the server received for path.
func stopAndCheckExact(t *testing.T, master *locusttest.Master, server *locusttest.CountingServer, path string) {
	t.Helper()
	require.NoError(t, master.Stop())
	waitStats(t, master, "the worker to be ready after the stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
	received := server.CountPath(path)
	waitStats(t, master, "every request counted", func(s *locusttest.StatsJSON) bool {
		return aggregatedRequests(s) == received
	})
}

func TestWorkerRegistersWithRestartedMaster(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	first := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
	})
	worker := startWorker(t, first.Port, 3*time.Second, httpTask("get", server.URL+"/restart", "/restart"))
	waitStats(t, first, "the worker to be ready", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == 1 })
	require.NoError(t, first.Swarm(2, 100, ""))
	waitStats(t, first, "2 users", func(s *locusttest.StatsJSON) bool { return workerUsers(s) == 2 })

	require.NoError(t, first.Signal(syscall.SIGKILL))
	// Wait reports the kill as an error; only the exit matters here.
	_, _ = first.Wait(10 * time.Second)
	require.True(t, first.Exited(), "first master still running after SIGKILL")

	second := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		Port:       first.Port,
	})
	restarted := time.Now()
	waitStats(t, second, "the worker to register with the new master", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].ID == worker.b.NodeID()
	})
	session := worker.b.session.Load()
	require.NotNil(t, session)
	assert.Equal(t, int64(0), sumCounts(session.users.counts()), "users still running after the master was lost")

	// The worker takes part in the new master's first test, within 20 s of
	// the restart. It sent the statistics held back from the first master's
	// test when it registered, so the new test's start clears them and the
	// new test's count is exact.
	beforeTest := server.CountPath("/restart")
	require.NoError(t, second.Swarm(2, 100, ""))
	waitStats(t, second, "requests in the new master's test", func(s *locusttest.StatsJSON) bool {
		return workerUsers(s) == 2 && aggregatedRequests(s) > 0
	})
	assert.Less(t, time.Since(restarted), 20*time.Second, "the worker took part in a test later than 20 s after the restart")
	require.NoError(t, second.Stop())
	waitStats(t, second, "the worker to be ready after the stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
	inTest := server.CountPath("/restart") - beforeTest
	waitStats(t, second, "the new test's requests, exactly", func(s *locusttest.StatsJSON) bool {
		return aggregatedRequests(s) == inTest
	})
}

func TestWorkerConnectsOverIPv6(t *testing.T) {
	skipIfShort(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		// The last --master-bind-host wins, so the master listens on ::1 only.
		ExtraArgs: []string{"--master-bind-host", "::1"},
	})
	cfg := DefaultConfig()
	cfg.MasterHost = "::1"
	cfg.MasterPort = master.Port
	worker := startClassWorker(t, master.Port, WithConfig(cfg),
		WithTasks(&Task{Name: "t", Weight: 1, Run: func(u *User) { <-u.Context().Done() }}))

	waitStats(t, master, "the worker to register over IPv6", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].ID == worker.b.NodeID()
	})
}

// masterVersionUnderTest returns the minor version of the Locust master the
// tests run, from LOCUST_VERSION_UNDER_TEST ("2.12.1"). The Makefile sets it
// for each master of its version matrix, and the default is 2.47.
func masterVersionUnderTest(t *testing.T) int {
	t.Helper()
	version := os.Getenv("LOCUST_VERSION_UNDER_TEST")
	if version == "" {
		return 47
	}
	parts := strings.Split(version, ".")
	require.GreaterOrEqual(t, len(parts), 2, "invalid LOCUST_VERSION_UNDER_TEST %q: use a version such as 2.12.1", version)
	require.Equal(t, "2", parts[0], "LOCUST_VERSION_UNDER_TEST %q: only Locust 2.x masters are supported", version)
	minor, err := strconv.Atoi(parts[1])
	require.NoError(t, err, "invalid LOCUST_VERSION_UNDER_TEST %q", version)
	return minor
}

func TestWorkerLogsMasterCapabilities(t *testing.T) {
	skipIfShort(t)
	minor := masterVersionUnderTest(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: "examples/locustfile.py",
		Headless:   true,
		Users:      2,
		SpawnRate:  2,
		RunTime:    "8s",
	})
	logs := &syncBuffer{}
	worker := startClassWorker(t, master.Port,
		WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		WithTasks(&Task{Name: "t", Weight: 1, Run: func(u *User) { <-u.Context().Done() }}))

	_, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.ErrorIs(t, worker.stopAndWait(t), ErrMasterQuit)

	expected := map[string]bool{
		"master acknowledges client_ready (Locust >= 2.10)":    minor >= 10,
		"master assigns worker indexes (Locust >= 2.11)":       minor >= 11,
		"master replies to heartbeats (Locust >= 2.19)":        minor >= 19,
		"master sends no heartbeat replies (Locust < 2.19)":    minor < 19,
		"master sends its options with spawns (Locust >= 2.2)": minor >= 2,
	}
	text := logs.String()
	for line, want := range expected {
		assert.Equal(t, want, strings.Contains(text, line), "log line %q for Locust 2.%d; log:\n%s", line, minor, text)
	}
}
