package locusttest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFindLocustReturnsExecutable(t *testing.T) {
	path := FindLocust(t)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("FindLocust returned %q, which cannot be read: %v", path, err)
	}
	if info.Mode().Perm()&0o111 == 0 {
		t.Errorf("FindLocust returned %q, which is not executable (mode %v)", path, info.Mode())
	}
}

func TestModuleRootContainsGoMod(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("ModuleRoot: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("read go.mod in module root %s: %v", root, err)
	}
	if !strings.Contains(string(data), "module github.com/locust-go/boomer") {
		t.Errorf("go.mod in %s does not declare module github.com/locust-go/boomer:\n%s", root, data)
	}
}

func TestFreePortCanBeBound(t *testing.T) {
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort returned %d, want a port in 1..65535", port)
	}
}

func TestMasterArgsHeadless(t *testing.T) {
	args := masterArgs("/tmp/locustfile.py", 5557, 0, "/tmp/out/stats", MasterOptions{
		Headless:             true,
		Users:                20,
		SpawnRate:            2.5,
		RunTime:              "15s",
		ExpectWorkersMaxWait: 1500 * time.Millisecond,
		StopTimeout:          "3s",
		Host:                 "http://127.0.0.1:8080",
		LogLevel:             "DEBUG",
		ExtraArgs:            []string{"--exit-code-on-error", "0"},
	})
	want := []string{
		"-f", "/tmp/locustfile.py",
		"--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", "5557",
		"--headless",
		"--expect-workers", "1",
		"--expect-workers-max-wait", "2",
		"-u", "20", "-r", "2.5", "-t", "15s",
		"--csv", "/tmp/out/stats",
		"--stop-timeout", "3s",
		"--host", "http://127.0.0.1:8080",
		"--loglevel", "DEBUG",
		"--exit-code-on-error", "0",
	}
	if !slices.Equal(args, want) {
		t.Errorf("masterArgs:\n got %q\nwant %q", args, want)
	}
}

func TestMasterArgsWebUI(t *testing.T) {
	args := masterArgs("/tmp/locustfile.py", 5557, 8089, "", MasterOptions{})
	want := []string{
		"-f", "/tmp/locustfile.py",
		"--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", "5557",
		"--web-host", "127.0.0.1", "--web-port", "8089",
	}
	if !slices.Equal(args, want) {
		t.Errorf("masterArgs:\n got %q\nwant %q", args, want)
	}
}

// Locust 2.47.0 logs "Gave up waiting for workers to connect" and exits with
// code 1 when --expect-workers-max-wait passes without enough workers.
func TestHeadlessMasterWithoutWorkerExitsWithCode1(t *testing.T) {
	locustfile := WriteLocustfile(t, "WebsiteUser")
	master := StartMaster(t, MasterOptions{
		Locustfile:           locustfile,
		Headless:             true,
		Users:                1,
		SpawnRate:            1,
		RunTime:              "30s",
		ExpectWorkers:        1,
		ExpectWorkersMaxWait: time.Second,
	})

	code, err := master.Wait(60 * time.Second)
	if err != nil {
		t.Fatalf("Wait: %v\n%s", err, master.describe())
	}
	if code != 1 {
		t.Errorf("exit code = %d, want 1\n%s", code, master.describe())
	}
	if log := master.Log(); !strings.Contains(log, "Gave up waiting for workers to connect") {
		t.Errorf("master log does not contain the give-up message:\n%s", log)
	}

	rows, err := master.StatsCSV()
	if err != nil {
		t.Fatalf("StatsCSV: %v", err)
	}
	aggregated, ok := FindStatsRow(rows, "", "Aggregated")
	if !ok {
		t.Fatalf("stats CSV has no Aggregated row: %+v", rows)
	}
	if aggregated.RequestCount != 0 {
		t.Errorf("Aggregated Request Count = %d, want 0", aggregated.RequestCount)
	}
	if aggregated.FailureCount != 0 {
		t.Errorf("Aggregated Failure Count = %d, want 0", aggregated.FailureCount)
	}
	if got := aggregated.Raw["95%"]; got != "N/A" {
		t.Errorf(`Aggregated "95%%" column = %q, want "N/A" for a row without requests`, got)
	}

	failures, err := master.FailuresCSV()
	if err != nil {
		t.Fatalf("FailuresCSV: %v", err)
	}
	if len(failures) != 0 {
		t.Errorf("FailuresCSV = %+v, want no rows", failures)
	}
}

func TestMasterCleanupStopsRunningMaster(t *testing.T) {
	locustfile := WriteLocustfile(t, "WebsiteUser")

	var master *Master
	var logAfterCleanup string
	t.Run("start", func(t *testing.T) {
		// Cleanups run last-in first-out. The first TempDir call registers
		// the removal of the master's log, so the log capture registered
		// next runs after the master's cleanup and before the removal.
		t.TempDir()
		t.Cleanup(func() { logAfterCleanup = master.Log() })

		// Without --expect-workers-max-wait the master waits for a worker
		// forever, so only the cleanup at the end of this subtest stops it.
		master = StartMaster(t, MasterOptions{Locustfile: locustfile, Headless: true})
		if err := master.WaitForLog("Starting Locust 2.47.0", 30*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	if master == nil {
		t.Fatal("subtest did not start the master")
	}
	if !master.Exited() {
		t.Fatalf("master still running after its test's cleanup; command: %q", master.Args)
	}
	// The master is still waiting for its worker, and Locust 2.47.0
	// installs its SIGTERM handler only after that wait, so SIGTERM
	// kills it.
	code, err := master.Wait(time.Second)
	if err == nil || !strings.Contains(err.Error(), "killed by signal terminated") {
		t.Errorf("Wait after cleanup: code %d, error %v, want the error \"killed by signal terminated\"\n%s",
			code, err, logAfterCleanup)
	}
	if strings.Contains(logAfterCleanup, "Got SIGTERM signal") {
		t.Errorf("master handled SIGTERM while waiting for workers, so the comment on Master.Signal is wrong:\n%s",
			logAfterCleanup)
	}
}

func TestWebUIMasterWithoutWorker(t *testing.T) {
	locustfile := WriteLocustfile(t, "WebsiteUser", "AdminUser")
	master := StartMaster(t, MasterOptions{Locustfile: locustfile})

	if !strings.HasPrefix(master.WebURL, "http://127.0.0.1:") {
		t.Errorf("WebURL = %q, want http://127.0.0.1:PORT", master.WebURL)
	}

	stats, err := master.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if stats.WorkerCount != 0 {
		t.Errorf("worker_count = %d, want 0", stats.WorkerCount)
	}
	if len(stats.Workers) != 0 {
		t.Errorf("workers = %+v, want none", stats.Workers)
	}
	if stats.State != "ready" {
		t.Errorf("state = %q, want ready", stats.State)
	}
	if stats.UserCount != 0 {
		t.Errorf("user_count = %d, want 0", stats.UserCount)
	}
	aggregated, ok := stats.Aggregated()
	if !ok {
		t.Fatalf("stats has no Aggregated entry: %+v", stats.Stats)
	}
	if aggregated.NumRequests != 0 {
		t.Errorf("Aggregated num_requests = %d, want 0", aggregated.NumRequests)
	}

	// Locust accepts the swarm without a worker and only logs a warning.
	if err := master.Swarm(2, 1, "http://127.0.0.1:1"); err != nil {
		t.Fatalf("Swarm: %v", err)
	}
	if err := master.WaitForLog("You can't start a distributed test before at least one worker", 10*time.Second); err != nil {
		t.Error(err)
	}
	if err := master.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}

	waited := master.WaitStats(t, 10*time.Second, func(s *StatsJSON) bool { return s.State == "ready" })
	if waited.WorkerCount != 0 {
		t.Errorf("worker_count after swarm = %d, want 0", waited.WorkerCount)
	}

	if _, err := master.StatsCSV(); err == nil {
		t.Error("StatsCSV on a master without --csv returned no error")
	}

	if err := master.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	code, err := master.Wait(30 * time.Second)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, master.describe())
	}
	if log := master.Log(); !strings.Contains(log, "Got SIGTERM signal") {
		t.Errorf("master log does not show that it handled SIGTERM:\n%s", log)
	}
}

func TestWebUIMasterLoadsWrittenUserClasses(t *testing.T) {
	locustfile := WriteLocustfile(t, "WebsiteUser", "AdminUser")
	master := StartMaster(t, MasterOptions{Locustfile: locustfile})

	resp, err := http.Get(master.WebURL + "/tasks")
	if err != nil {
		t.Fatalf("GET /tasks: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /tasks: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /tasks returned %s: %s", resp.Status, body)
	}

	var tasks struct {
		PerClass map[string]struct {
			Tasks map[string]json.RawMessage `json:"tasks"`
		} `json:"per_class"`
	}
	if err := json.Unmarshal(body, &tasks); err != nil {
		t.Fatalf("decode /tasks %s: %v", body, err)
	}
	for _, name := range []string{"WebsiteUser", "AdminUser"} {
		class, ok := tasks.PerClass[name]
		if !ok {
			t.Errorf("/tasks has no User class %s: %s", name, body)
			continue
		}
		if _, ok := class.Tasks["noop"]; !ok {
			t.Errorf("/tasks class %s has no noop task: %s", name, body)
		}
	}
	if len(tasks.PerClass) != 2 {
		t.Errorf("/tasks lists %d User classes, want 2: %s", len(tasks.PerClass), body)
	}
}

func TestHeadlessMasterHasNoWebUI(t *testing.T) {
	locustfile := WriteLocustfile(t, "WebsiteUser")
	master := StartMaster(t, MasterOptions{
		Locustfile:           locustfile,
		Headless:             true,
		ExpectWorkersMaxWait: time.Second,
	})

	if master.WebURL != "" {
		t.Errorf("WebURL = %q, want empty for a headless master", master.WebURL)
	}
	if _, err := master.Stats(); err == nil {
		t.Error("Stats on a headless master returned no error")
	}
	if err := master.Swarm(1, 1, ""); err == nil {
		t.Error("Swarm on a headless master returned no error")
	}
	if _, err := master.Wait(60 * time.Second); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestWaitForLogFailsAfterExit(t *testing.T) {
	locustfile := WriteLocustfile(t, "WebsiteUser")
	master := StartMaster(t, MasterOptions{
		Locustfile:           locustfile,
		Headless:             true,
		ExpectWorkersMaxWait: time.Second,
	})

	err := master.WaitForLog("text that Locust never prints", 60*time.Second)
	if err == nil {
		t.Fatal("WaitForLog found text that Locust never prints")
	}
	if !master.Exited() {
		t.Errorf("WaitForLog returned before the master exited: %v", err)
	}
	if !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitForLog error does not say that the master exited: %v", err)
	}
}

func TestCountingServerCountsPerPath(t *testing.T) {
	server := NewCountingServer(t)
	server.SetStatus("/fail", http.StatusInternalServerError)

	if !strings.HasPrefix(server.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT", server.URL)
	}

	requests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/", http.StatusOK, "ok\n"},
		{"/a", http.StatusOK, "ok\n"},
		{"/a", http.StatusOK, "ok\n"},
		{"/fail", http.StatusInternalServerError, "Internal Server Error\n"},
	}
	for _, request := range requests {
		resp, err := http.Post(server.URL+request.path, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatalf("POST %s: %v", request.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("read %s: %v", request.path, err)
		}
		if resp.StatusCode != request.wantStatus {
			t.Errorf("POST %s status = %d, want %d", request.path, resp.StatusCode, request.wantStatus)
		}
		if string(body) != request.wantBody {
			t.Errorf("POST %s body = %q, want %q", request.path, body, request.wantBody)
		}
	}

	if got := server.Count(); got != 4 {
		t.Errorf("Count() = %d, want 4", got)
	}
	for path, want := range map[string]int64{"/": 1, "/a": 2, "/fail": 1, "/never": 0} {
		if got := server.CountPath(path); got != want {
			t.Errorf("CountPath(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestCountingServerDelayCountsCanceledRequest(t *testing.T) {
	server := NewCountingServer(t)
	server.SetDelay("/slow", time.Minute)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+"/slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(request)
		if err == nil {
			resp.Body.Close()
			err = errors.New("GET /slow with a one-minute delay returned " + resp.Status)
		}
		result <- err
	}()

	// Cancel only after the server has counted the request, so the count
	// does not depend on how fast the handler runs.
	deadline := time.Now().Add(10 * time.Second)
	for server.CountPath("/slow") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("GET /slow error = %v, want context.Canceled", err)
	}
	if got := server.CountPath("/slow"); got != 1 {
		t.Errorf("CountPath(/slow) = %d, want 1", got)
	}

	server.SetDelay("/slow", 0)
	resp, err := http.Get(server.URL + "/slow")
	if err != nil {
		t.Fatalf("GET /slow after removing the delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /slow after removing the delay: status %d, want 200", resp.StatusCode)
	}
	if got := server.CountPath("/slow"); got != 2 {
		t.Errorf("CountPath(/slow) = %d, want 2", got)
	}
}

func TestWriteLocustfileRejectsInvalidName(t *testing.T) {
	for _, name := range []string{"", "1User", "Web User", "User-1"} {
		recorder := &fatalRecorder{TB: t}
		func() {
			defer func() { _ = recover() }()
			WriteLocustfile(recorder, name)
		}()
		if !recorder.failed {
			t.Errorf("WriteLocustfile(%q) did not fail the test", name)
		}
	}
}

// fatalRecorder records a Fatal/Fatalf call and panics to stop the caller,
// as the real Fatal stops the goroutine.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.failed = true
	panic("fatal")
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed = true
	panic("fatal")
}

func (r *fatalRecorder) Helper() {}
