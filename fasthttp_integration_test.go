package boomer

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/locust-go/boomer/internal/locusttest"
)

func TestFastHTTPClientResultsInMasterCSV(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	server.SetStatus("/fail", http.StatusInternalServerError)
	down := closedPortURL(t)

	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: locusttest.WriteLocustfile(t, "Shopper"),
		Headless:   true,
		Users:      2,
		SpawnRate:  2,
		RunTime:    "5s",
		Host:       server.URL,
	})

	// The client is created before Run. Relative URLs resolve against the
	// master's --host, which arrives with the first spawn.
	var client atomic.Pointer[FastHTTPClient]
	var item atomic.Int64
	shopper := &UserClass{
		Name:     "Shopper",
		WaitTime: Constant(5 * time.Millisecond),
		Tasks: []*Task{
			{Name: "all", Weight: 1, Run: func(u *User) {
				c := client.Load()
				ctx := u.Context()
				c.Get(ctx, "/ok")
				c.Get(ctx, "/fail")
				c.Get(ctx, down)
				c.Get(ctx, "/body", FastCheck(func(resp *fasthttp.Response) error {
					if !strings.Contains(string(resp.Body()), "expected text") {
						return errors.New("body lacks the expected text")
					}
					return nil
				}))
				c.Get(ctx, fmt.Sprintf("/item/%d", item.Add(1)%3), Name("/item/[id]"))
			}},
		},
	}
	worker := startClassWorker(t, master.Port, WithUserClasses(shopper))
	c, err := NewFastHTTPClient(worker.b, WithTimeout(5*time.Second))
	require.NoError(t, err)
	client.Store(c)

	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "master exit code with failures; log:\n%s", master.Log())

	rows, ok, fail, downRow, body, items := shopperRows(t, master)
	for _, path := range []string{"/item/0", "/item/1", "/item/2"} {
		_, found := locusttest.FindStatsRow(rows, "GET", path)
		assert.False(t, found, "%s has its own row despite Name", path)
	}

	// A quit does not interrupt a request in flight, which the client then
	// records before the worker's last report, and a request not yet sent
	// is not sent. So the master counts exactly the requests the server
	// received, path by path.
	assert.Equal(t, server.CountPath("/ok"), ok.RequestCount, "GET /ok")
	assert.Equal(t, server.CountPath("/fail"), fail.RequestCount, "GET /fail")
	assert.Equal(t, server.CountPath("/body"), body.RequestCount, "GET /body")
	itemCount := server.CountPath("/item/0") + server.CountPath("/item/1") + server.CountPath("/item/2")
	assert.Equal(t, itemCount, items.RequestCount, "GET /item/[id]")
	total, found := locusttest.FindStatsRow(rows, "", "Aggregated")
	require.True(t, found)
	assert.Equal(t, server.Count(), total.RequestCount-downRow.RequestCount, "master total without the closed port")

	texts := failureTexts(t, master)
	assert.Equal(t, "LocustBadStatusCode(code=500)", texts["/fail"])
	assert.Contains(t, texts["/down"], "connection refused")
	assert.Equal(t, "body lacks the expected text", texts["/body"])

	assert.ErrorIs(t, worker.stopAndWait(t), ErrMasterQuit)
}

// pythonFastHTTPLocustfile defines the Shopper class of the Python worker:
// a FastHttpUser that requests /fail, as the Go worker's Shopper does.
const pythonFastHTTPLocustfile = `from locust import FastHttpUser, constant, task


class Shopper(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def fail(self):
        self.client.get("/fail")
`

// startPythonWorker starts `locust --worker` with locustfile, connected to
// the master on port, and stops it when the test ends.
func startPythonWorker(t *testing.T, locustfile string, port int) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "python-worker.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()

	cmd := exec.Command(locusttest.FindLocust(t), "-f", locustfile, "--worker",
		"--master-host", "127.0.0.1", "--master-port", strconv.Itoa(port))
	cmd.Dir = t.TempDir()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())

	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			if data, err := os.ReadFile(logPath); err == nil {
				t.Logf("Python worker log:\n%s", data)
			}
		}
	})
}

func TestFastHTTPClientFailuresMergeWithLocust(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	server.SetStatus("/fail", http.StatusInternalServerError)

	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile:           locusttest.WriteLocustfile(t, "Shopper"),
		Headless:             true,
		Users:                2,
		SpawnRate:            2,
		RunTime:              "4s",
		ExpectWorkers:        2,
		ExpectWorkersMaxWait: 60 * time.Second,
		Host:                 server.URL,
	})
	pythonLocustfile := filepath.Join(t.TempDir(), "locustfile.py")
	require.NoError(t, os.WriteFile(pythonLocustfile, []byte(pythonFastHTTPLocustfile), 0o644))
	startPythonWorker(t, pythonLocustfile, master.Port)

	var client atomic.Pointer[FastHTTPClient]
	var goFailures atomic.Int64
	shopper := &UserClass{
		Name:     "Shopper",
		WaitTime: Constant(50 * time.Millisecond),
		Tasks: []*Task{
			{Name: "fail", Weight: 1, Run: func(u *User) {
				var statusErr *StatusError
				if err := client.Load().Get(u.Context(), "/fail"); errors.As(err, &statusErr) {
					goFailures.Add(1)
				}
			}},
		},
	}
	worker := startClassWorker(t, master.Port, WithUserClasses(shopper))
	c, err := NewFastHTTPClient(worker.b, WithTimeout(5*time.Second))
	require.NoError(t, err)
	client.Store(c)

	code, err := master.Wait(90 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "master exit code with failures; log:\n%s", master.Log())

	// Each worker ran one of the two users, so both recorded failures of
	// GET /fail, and the master shows them in one row.
	failures, err := master.FailuresCSV()
	require.NoError(t, err)
	var failRows []locusttest.FailureRow
	for _, f := range failures {
		if f.Method == "GET" && f.Name == "/fail" {
			failRows = append(failRows, f)
		}
	}
	require.Len(t, failRows, 1, "failure rows of GET /fail: %+v", failRows)
	assert.Equal(t, "LocustBadStatusCode(code=500)", failRows[0].Error)
	assert.Positive(t, goFailures.Load(), "the Go worker recorded no failure")
	assert.Greater(t, failRows[0].Occurrences, goFailures.Load(), "the Python worker added no failure to the row")

	assert.ErrorIs(t, worker.stopAndWait(t), ErrMasterQuit)
}
