package boomer

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// These tests run user classes against the real Locust master from the
// project's .venv, each test with a master of its own, so they run in
// parallel. They are skipped with -short.

// startClassWorker runs a Boomer built from opts (user classes among them)
// against the master on port, with every outgoing frame checked. It logs to
// the test log unless opts set another logger. Its Run ends with the test at
// the latest.
func startClassWorker(t *testing.T, port int, opts ...Option) *inProcessWorker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = port
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defaults := []Option{WithConfig(cfg), WithLogger(logger), WithSignalHandling(false)}
	b, err := New(append(defaults, opts...)...)
	require.NoError(t, err)
	b.newTransport = func(endpoint, identity string, log *slog.Logger) (transport, error) {
		tr, err := newZMQTransport(endpoint, identity, log)
		if err != nil {
			return nil, err
		}
		return &checkingTransport{transport: tr, t: t}, nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	w := &inProcessWorker{b: b, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Errorf("worker did not return within 10s of its context ending")
		}
	})
	return w
}

// startClassMaster starts a master with a web UI for the locustfile at path.
func startClassMaster(t *testing.T, path string, opts locusttest.MasterOptions) *locusttest.Master {
	t.Helper()
	opts.Locustfile = path
	opts.Headless = false
	return locusttest.StartMaster(t, opts)
}

// writePythonLocustfile writes source as a locustfile and returns its path.
func writePythonLocustfile(t *testing.T, source string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "locustfile.py")
	require.NoError(t, os.WriteFile(path, []byte(source), 0o644))
	return path
}

func waitWorkerReady(t *testing.T, master *locusttest.Master) {
	t.Helper()
	waitStats(t, master, "the worker to be ready", func(s *locusttest.StatsJSON) bool {
		return s.WorkerCount == 1 && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
}

// stopTest stops the master's test and waits until the worker, which
// registers again after a stop, is ready.
func stopTest(t *testing.T, master *locusttest.Master) {
	t.Helper()
	require.NoError(t, master.Stop())
	waitStats(t, master, "the worker to be ready after the stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
}

// masterUsers returns the user count that the only worker last reported to
// the master, or -1 when the stats list no worker or several.
func masterUsers(s *locusttest.StatsJSON) int {
	if len(s.Workers) != 1 {
		return -1
	}
	return s.Workers[0].UserCount
}

func requestCount(s *locusttest.StatsJSON, method, name string) int64 {
	entry, _ := s.Entry(method, name)
	return entry.NumRequests
}

// classRatios fetches GET /tasks, which Locust 2.47.0 serves from the user
// counts per class that the workers reported (inspectuser.get_ratio), and
// returns each class's share of the users.
func classRatios(t *testing.T, master *locusttest.Master) map[string]float64 {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(master.WebURL + "/tasks")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		PerClass map[string]struct {
			Ratio float64 `json:"ratio"`
		} `json:"per_class"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	ratios := make(map[string]float64, len(body.PerClass))
	for class, entry := range body.PerClass {
		ratios[class] = entry.Ratio
	}
	return ratios
}

// receiveWithin waits for n values on ch and fails the test after timeout.
func receiveWithin[T any](t *testing.T, ch <-chan T, n int, timeout time.Duration, description string) []T {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	values := make([]T, 0, n)
	for len(values) < n {
		select {
		case v := <-ch:
			values = append(values, v)
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s: got %d of %d", timeout, description, len(values), n)
		}
	}
	return values
}

// sleepTask returns a task that takes d, or less when the user is stopped,
// and then records a request of type "task" under name and counts it.
func sleepTask(name string, d time.Duration, runs *atomic.Int64) *Task {
	return &Task{Name: name, Weight: 1, Run: func(u *User) {
		start := time.Now()
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-u.Context().Done():
			return
		}
		runs.Add(1)
		u.RecordSuccess("task", name, time.Since(start), 0)
	}}
}

// userHTTPClient sends the requests of many users to one local server.
var userHTTPClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 200},
}

// getAndRecord GETs url with the user's context and records the request
// under name. A request cut off by the user's stop is not recorded, because
// the server did not fail it.
func getAndRecord(u *User, url, name string) error {
	start := time.Now()
	req, err := http.NewRequestWithContext(u.Context(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := userHTTPClient.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = errors.New(resp.Status)
		}
	}
	switch {
	case err != nil && u.Context().Err() != nil:
		return err
	case err != nil:
		u.RecordFailure("GET", name, time.Since(start), err.Error())
		return err
	default:
		u.RecordSuccess("GET", name, time.Since(start), 0)
		return nil
	}
}

const weightedLocustfile = `from locust import User, constant, task


class A(User):
    weight = 3
    wait_time = constant(1)

    @task
    def noop(self):
        pass


class B(User):
    weight = 1
    wait_time = constant(1)

    @task
    def noop(self):
        pass
`

func TestClassWeights(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	master := startClassMaster(t, writePythonLocustfile(t, weightedLocustfile), locusttest.MasterOptions{})
	var aRuns, bRuns atomic.Int64
	worker := startClassWorker(t, master.Port, WithUserClasses(
		&UserClass{Name: "A", Weight: 3, WaitTime: Constant(200 * time.Millisecond),
			Tasks: []*Task{sleepTask("a", 10*time.Millisecond, &aRuns)}},
		&UserClass{Name: "B", Weight: 1, WaitTime: Constant(200 * time.Millisecond),
			Tasks: []*Task{sleepTask("b", 10*time.Millisecond, &bRuns)}},
	))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(40, 100, ""))
	stats := waitStats(t, master, "40 users and requests of both classes", func(s *locusttest.StatsJSON) bool {
		return masterUsers(s) == 40 && requestCount(s, "task", "a") > 0 && requestCount(s, "task", "b") > 0
	})

	assert.Equal(t, 40, stats.UserCount)
	assert.Equal(t, 40, stats.Workers[0].UserCount)
	session := worker.b.session.Load()
	require.NotNil(t, session)
	assert.Equal(t, map[string]int64{"A": 30, "B": 10}, session.users.counts())
	assert.Positive(t, aRuns.Load())
	assert.Positive(t, bRuns.Load())

	ratios := classRatios(t, master)
	assert.InDelta(t, 0.75, ratios["A"], 1e-9, "A's share on the master's /tasks")
	assert.InDelta(t, 0.25, ratios["B"], 1e-9, "B's share on the master's /tasks")

	stopTest(t, master)
	assert.Equal(t, map[string]int64{"A": 0, "B": 0}, session.users.counts())
}

func TestOnStartOnStopPerUser(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	const users = 100
	server := locusttest.NewCountingServer(t)
	master := startClassMaster(t, locusttest.WriteLocustfile(t, "Shopper"), locusttest.MasterOptions{})
	startClassWorker(t, master.Port, WithUserClasses(&UserClass{
		Name:     "Shopper",
		WaitTime: Constant(500 * time.Millisecond),
		OnStart: func(u *User) error {
			return getAndRecord(u, server.URL+"/login", "/login")
		},
		Tasks: []*Task{{Name: "browse", Weight: 1, Run: func(u *User) {
			_ = getAndRecord(u, server.URL+"/browse", "/browse")
		}}},
		OnStop: func(u *User) {
			_ = getAndRecord(u, server.URL+"/logout", "/logout")
		},
	}))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(users, 100, ""))
	waitStats(t, master, "every user logged in and browsing", func(s *locusttest.StatsJSON) bool {
		return masterUsers(s) == users && requestCount(s, "GET", "/login") == users && requestCount(s, "GET", "/browse") > 0
	})
	assert.Zero(t, server.CountPath("/logout"), "logouts before the stop")

	stopTest(t, master)
	assert.Equal(t, int64(users), server.CountPath("/login"))
	assert.Equal(t, int64(users), server.CountPath("/logout"))
	assert.Positive(t, server.CountPath("/browse"))

	// The logouts ran before the worker sent client_stopped, so its last
	// report carries them.
	final := waitStats(t, master, "the logouts in the master's stats", func(s *locusttest.StatsJSON) bool {
		return requestCount(s, "GET", "/logout") == users
	})
	assert.Equal(t, int64(users), requestCount(final, "GET", "/login"))
	entry, _ := final.Entry("GET", "/logout")
	assert.Zero(t, entry.NumFailures)
}

func TestConstantPacing(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	const (
		users = 3
		// starts is the number of task starts measured per user: 30 periods.
		starts = 31
	)
	master := startClassMaster(t, locusttest.WriteLocustfile(t, "Paced"), locusttest.MasterOptions{})
	var mu sync.Mutex
	startTimes := map[*User][]time.Time{}
	enough := make(chan struct{}, users)
	startClassWorker(t, master.Port, WithUserClasses(&UserClass{
		Name:     "Paced",
		WaitTime: ConstantPacing(time.Second),
		Tasks: []*Task{{Name: "work", Weight: 1, Run: func(u *User) {
			mu.Lock()
			startTimes[u] = append(startTimes[u], time.Now())
			n := len(startTimes[u])
			mu.Unlock()
			if n == starts {
				enough <- struct{}{}
			}
			timer := time.NewTimer(300 * time.Millisecond)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-u.Context().Done():
			}
		}}},
	}))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(users, 100, ""))
	receiveWithin(t, enough, users, 90*time.Second, "every user to start 31 tasks")

	mu.Lock()
	measured := make([][]time.Time, 0, users)
	for _, times := range startTimes {
		measured = append(measured, append([]time.Time(nil), times[:starts]...))
	}
	mu.Unlock()
	require.Len(t, measured, users)
	for i, times := range measured {
		window := times[len(times)-1].Sub(times[0]).Seconds()
		t.Logf("user %d: %d periods in %.3f s", i, starts-1, window)
		// One task starts every second, so a window of W seconds holds W
		// periods.
		assert.InEpsilon(t, float64(starts-1), window, 0.02, "user %d: %d periods in %.3f s", i, starts-1, window)
	}

	stopTest(t, master)
}

func TestStopInterruptsLongWait(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	const (
		users = 2
		wait  = time.Hour
	)
	master := startClassMaster(t, locusttest.WriteLocustfile(t, "Sleeper"), locusttest.MasterOptions{})
	var runs atomic.Int64
	ran := make(chan struct{}, users)
	// remaining receives, from each user's OnStop, how much of its wait
	// was left when it stopped.
	remaining := make(chan time.Duration, users)
	startClassWorker(t, master.Port, WithUserClasses(&UserClass{
		Name:     "Sleeper",
		WaitTime: Constant(wait),
		Tasks: []*Task{{Name: "once", Weight: 1, Run: func(u *User) {
			runs.Add(1)
			u.State = time.Now()
			ran <- struct{}{}
		}}},
		OnStop: func(u *User) {
			taskEnd, ok := u.State.(time.Time)
			if !ok {
				remaining <- -1
				return
			}
			remaining <- time.Until(taskEnd.Add(wait))
		},
	}))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(users, 100, ""))
	receiveWithin(t, ran, users, 30*time.Second, "every user's first task")
	require.NoError(t, master.Stop())

	for i, left := range receiveWithin(t, remaining, users, 15*time.Second, "every user to end") {
		assert.Greater(t, left, wait-time.Minute, "user %d: wait left when it stopped", i)
	}
	waitStats(t, master, "the worker to be ready after the stop", func(s *locusttest.StatsJSON) bool {
		return s.State == "stopped" && len(s.Workers) == 1 && s.Workers[0].State == "ready"
	})
	assert.Equal(t, int64(users), runs.Load(), "tasks run: one per user")
}

// orderServer is an HTTP server that keeps the paths of its requests in the
// order they arrived.
type orderServer struct {
	URL   string
	mu    sync.Mutex
	paths []string
}

func newOrderServer(t *testing.T) *orderServer {
	t.Helper()
	s := &orderServer{}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		_, _ = io.WriteString(w, "ok\n")
	}))
	t.Cleanup(server.Close)
	s.URL = server.URL
	return s
}

// pathsUnder returns the paths received so far that start with prefix.
func (s *orderServer) pathsUnder(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var paths []string
	for _, p := range s.paths {
		if strings.HasPrefix(p, prefix) {
			paths = append(paths, p)
		}
	}
	return paths
}

func TestSequentialTaskSet(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	const cycles = 3
	server := newOrderServer(t)
	// Two classes of equal weight share two users: Buyer runs a sequential
	// TaskSet nested in a task, Seller is a sequential class.
	master := startClassMaster(t, locusttest.WriteLocustfile(t, "Buyer", "Seller"), locusttest.MasterOptions{})
	done := make(chan string, 2)
	steps := func(prefix string) []*Task {
		var buys atomic.Int64
		step := func(name string) *Task {
			return &Task{Name: name, Run: func(u *User) {
				_ = getAndRecord(u, server.URL+prefix+name, prefix+name)
				if name == "buy" && buys.Add(1) == cycles {
					done <- prefix
				}
			}}
		}
		return []*Task{step("login"), step("browse"), step("buy")}
	}
	startClassWorker(t, master.Port, WithUserClasses(
		&UserClass{Name: "Buyer", WaitTime: Constant(20 * time.Millisecond), Tasks: []*Task{
			{Name: "shop", Weight: 1, Set: &TaskSet{Sequential: true, Tasks: steps("/buyer/")}},
		}},
		&UserClass{Name: "Seller", Sequential: true, WaitTime: Constant(20 * time.Millisecond), Tasks: steps("/seller/")},
	))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(2, 100, ""))
	receiveWithin(t, done, 2, 30*time.Second, "three cycles of each class")
	stopTest(t, master)

	for _, prefix := range []string{"/buyer/", "/seller/"} {
		paths := server.pathsUnder(prefix)
		require.GreaterOrEqual(t, len(paths), 3*cycles, "%s requests: %v", prefix, paths)
		order := []string{prefix + "login", prefix + "browse", prefix + "buy"}
		for i, path := range paths {
			if !assert.Equal(t, order[i%3], path, "%s request %d; all: %v", prefix, i, paths) {
				break
			}
		}
	}
}

func TestStopTimeout(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	cases := []struct {
		name        string
		stopTimeout string
		want        time.Duration
		// finish is whether tasks in flight at the stop finish.
		finish bool
	}{
		{"5s lets tasks finish", "5s", 5 * time.Second, true},
		{"none cancels tasks", "", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Users have no wait time, so each is inside a 2 s task when
			// the stop arrives.
			const users = 4
			server := locusttest.NewCountingServer(t)
			server.SetDelay("/slow", 2*time.Second)
			master := startClassMaster(t, locusttest.WriteLocustfile(t, "Slow"), locusttest.MasterOptions{StopTimeout: tc.stopTimeout})
			var started, completed, cancelled, failed atomic.Int64
			firstStarts := make(chan struct{}, users)
			worker := startClassWorker(t, master.Port, WithUserClasses(&UserClass{
				Name: "Slow",
				Tasks: []*Task{{Name: "slow", Weight: 1, Run: func(u *User) {
					if u.State == nil {
						u.State = true
						firstStarts <- struct{}{}
					}
					started.Add(1)
					err := getAndRecord(u, server.URL+"/slow", "/slow")
					switch {
					case err == nil:
						completed.Add(1)
					case u.Context().Err() != nil:
						cancelled.Add(1)
					default:
						failed.Add(1)
					}
				}}},
			}))
			waitWorkerReady(t, master)

			require.NoError(t, master.Swarm(users, 100, ""))
			receiveWithin(t, firstStarts, users, 30*time.Second, "every user's first task")
			assert.Equal(t, tc.want, worker.b.Test().StopTimeout)
			stopTest(t, master)

			assert.Zero(t, failed.Load(), "failed requests")
			assert.Equal(t, started.Load(), completed.Load()+cancelled.Load(), "tasks that did not end")
			if tc.finish {
				assert.Zero(t, cancelled.Load(), "cancelled tasks")
				assert.Equal(t, completed.Load(), server.CountPath("/slow"), "requests the server received")
			} else {
				assert.Equal(t, int64(users), cancelled.Load(), "tasks cancelled by the stop")
				assert.LessOrEqual(t, server.CountPath("/slow"), started.Load())
			}
			want := completed.Load()
			final := waitStats(t, master, "every completed task in the master's stats", func(s *locusttest.StatsJSON) bool {
				return aggregatedRequests(s) == want
			})
			assert.Equal(t, want, requestCount(final, "GET", "/slow"))
		})
	}
}

func TestHostAndHooksPerTest(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	master := startClassMaster(t, locusttest.WriteLocustfile(t, "Visitor"), locusttest.MasterOptions{})
	var starts, stops atomic.Int64
	startInfos := make(chan TestInfo, 3)
	stopInfos := make(chan TestInfo, 3)
	var mu sync.Mutex
	seenHosts := map[string]int{}
	worker := startClassWorker(t, master.Port,
		WithUserClasses(&UserClass{
			Name:     "Visitor",
			WaitTime: Constant(100 * time.Millisecond),
			Tasks: []*Task{{Name: "visit", Weight: 1, Run: func(u *User) {
				host := u.Host()
				mu.Lock()
				seenHosts[host]++
				mu.Unlock()
				u.RecordSuccess("host", host, time.Millisecond, 0)
			}}},
		}),
		WithTestStart(func(info TestInfo) {
			starts.Add(1)
			startInfos <- info
		}),
		WithTestStop(func(info TestInfo) {
			stops.Add(1)
			stopInfos <- info
		}),
	)
	waitWorkerReady(t, master)
	assert.Equal(t, TestInfo{}, worker.b.Test(), "test information before the first test")

	// Nothing listens on these ports: the users only report the host.
	hosts := []string{"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"}
	for i, host := range hosts {
		mu.Lock()
		clear(seenHosts)
		mu.Unlock()

		// 6 users at 3 per second arrive in several spawn messages.
		require.NoError(t, master.Swarm(6, 3, host))
		waitStats(t, master, "6 users reporting "+host, func(s *locusttest.StatsJSON) bool {
			return masterUsers(s) == 6 && requestCount(s, "host", host) > 0
		})
		stopTest(t, master)

		assert.Equal(t, int64(i+1), starts.Load(), "test %d: start hook calls", i+1)
		assert.Equal(t, int64(i+1), stops.Load(), "test %d: stop hook calls", i+1)
		startInfo := receiveWithin(t, startInfos, 1, time.Second, "the start hook")[0]
		stopInfo := receiveWithin(t, stopInfos, 1, time.Second, "the stop hook")[0]
		assert.Equal(t, host, startInfo.Host, "test %d: host in the start hook", i+1)
		assert.Equal(t, host, stopInfo.Host, "test %d: host in the stop hook", i+1)
		mu.Lock()
		assert.Equal(t, map[string]int{host: seenHosts[host]}, seenHosts, "test %d: hosts the users saw", i+1)
		assert.Positive(t, seenHosts[host], "test %d: visits", i+1)
		mu.Unlock()
	}
}

const messagesLocustfile = `import json
import os

from locust import User, constant, events, task
from locust.runners import MasterRunner

OUTPUT = os.environ["BOOMER_TEST_MESSAGE_FILE"]


class Messenger(User):
    wait_time = constant(1)

    @task
    def noop(self):
        pass


def on_from_worker(environment, msg, **kwargs):
    # Written in one step, so the test never reads a partial file.
    with open(OUTPUT + ".tmp", "w") as f:
        json.dump({"node_id": msg.node_id, "data": msg.data}, f)
    os.replace(OUTPUT + ".tmp", OUTPUT)


@events.init.add_listener
def on_init(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("from_worker", on_from_worker)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(
            "to_worker",
            {"none": None, "nested": [1, [2, "x"]], "int": 42, "str": "h\u00e9llo"},
        )
`

func TestCustomMessages(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	output := filepath.Join(t.TempDir(), "from_worker.json")
	master := startClassMaster(t, writePythonLocustfile(t, messagesLocustfile), locusttest.MasterOptions{
		Env: []string{"BOOMER_TEST_MESSAGE_FILE=" + output},
	})
	sendErrs := make(chan error, 1)
	worker := startClassWorker(t, master.Port, WithUserClasses(&UserClass{
		Name:     "Messenger",
		WaitTime: Constant(time.Second),
		OnStart: func(u *User) error {
			err := u.SendMessage("from_worker", map[string]any{"k": []any{1, "x", nil}})
			sendErrs <- err
			return err
		},
		Tasks: []*Task{{Name: "noop", Weight: 1, Run: func(*User) {}}},
	}))
	received := make(chan any, 1)
	require.NoError(t, worker.b.RegisterMessage("to_worker", func(data any) {
		select {
		case received <- data:
		default:
		}
	}))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(1, 100, ""))
	data := receiveWithin(t, received, 1, 30*time.Second, "the master's to_worker message")[0]
	assert.Equal(t, map[string]any{
		"none":   nil,
		"nested": []any{int64(1), []any{int64(2), "x"}},
		"int":    int64(42),
		"str":    "h\u00e9llo",
	}, data)
	sendErr := receiveWithin(t, sendErrs, 1, 30*time.Second, "OnStart's SendMessage")[0]
	require.NoError(t, sendErr, "SendMessage in OnStart")

	var written []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if content, err := os.ReadFile(output); err == nil {
			written = content
			break
		}
	}
	require.NotNil(t, written, "the master's from_worker handler wrote nothing to %s\nmaster log:\n%s", output, master.Log())
	var got struct {
		NodeID string         `json:"node_id"`
		Data   map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(written, &got), "file content: %s", written)
	assert.Equal(t, worker.b.NodeID(), got.NodeID)
	assert.Equal(t, map[string]any{"k": []any{float64(1), "x", nil}}, got.Data)

	stopTest(t, master)
}

// logRecorder passes log output to the test log and keeps its lines.
type logRecorder struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	r.t.Log(line)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return len(p), nil
}

// count returns the number of lines that contain every one of substrings.
func (r *logRecorder) count(substrings ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, line := range r.lines {
		matches := true
		for _, s := range substrings {
			matches = matches && strings.Contains(line, s)
		}
		if matches {
			n++
		}
	}
	return n
}

// waitExceptions polls the master's exceptions until cond holds.
func waitExceptions(t *testing.T, master *locusttest.Master, description string, cond func([]locusttest.ExceptionJSON) bool) []locusttest.ExceptionJSON {
	t.Helper()
	var last []locusttest.ExceptionJSON
	var lastErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		last, lastErr = master.Exceptions()
		if lastErr == nil && cond(last) {
			return last
		}
	}
	t.Fatalf("timed out waiting for %s; last exceptions: %+v, last error: %v", description, last, lastErr)
	return nil
}

func TestUnknownUserClass(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	master := startClassMaster(t, locusttest.WriteLocustfile(t, "A", "Ghost"), locusttest.MasterOptions{})
	logs := &logRecorder{t: t}
	var aRuns atomic.Int64
	worker := startClassWorker(t, master.Port,
		WithUserClasses(&UserClass{Name: "A", WaitTime: Constant(100 * time.Millisecond),
			Tasks: []*Task{sleepTask("a", time.Millisecond, &aRuns)}}),
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	)
	waitWorkerReady(t, master)
	unknownLogs := func() int { return logs.count("unknown class", "class=Ghost") }
	hasGhost := func(exceptions []locusttest.ExceptionJSON) bool {
		return len(exceptions) > 0 && strings.Contains(exceptions[0].Msg, `unknown user class "Ghost"`)
	}

	// The classes have equal weights, so Ghost gets half of the users, in
	// two spawn messages.
	for _, users := range []int{4, 8} {
		require.NoError(t, master.Swarm(users, 100, ""))
		waitStats(t, master, "A's users running", func(s *locusttest.StatsJSON) bool {
			return masterUsers(s) == users/2 && requestCount(s, "task", "a") > 0
		})
	}
	session := worker.b.session.Load()
	require.NotNil(t, session)
	assert.Equal(t, map[string]int64{"A": 4, "Ghost": 0}, session.users.counts())
	ratios := classRatios(t, master)
	assert.InDelta(t, 1.0, ratios["A"], 1e-9, "A's share on the master's /tasks")
	assert.Zero(t, ratios["Ghost"], "Ghost's share on the master's /tasks")
	assert.Equal(t, 1, unknownLogs(), "log lines about Ghost")

	exceptions := waitExceptions(t, master, "the unknown class in the master's exceptions", hasGhost)
	require.Len(t, exceptions, 1)
	assert.Contains(t, exceptions[0].Msg, `this worker has the classes "A"`)
	assert.Equal(t, int64(1), exceptions[0].Count)
	assert.Contains(t, exceptions[0].Nodes, worker.b.NodeID())

	// The master clears its exceptions when a new test starts, so the
	// worker reports the unknown class again.
	stopTest(t, master)
	require.NoError(t, master.Swarm(4, 100, ""))
	exceptions = waitExceptions(t, master, "the unknown class in the second test's exceptions", hasGhost)
	assert.Len(t, exceptions, 1)
	assert.Equal(t, 2, unknownLogs(), "log lines about Ghost after two tests")
	stopTest(t, master)
}

const tagsLocustfile = `from locust import User, constant, tag, task


class Tagged(User):
    wait_time = constant(1)

    @tag("checkout")
    @task
    def checkout(self):
        pass

    @task
    def browse(self):
        pass
`

func TestTagsSelectTasks(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	master := startClassMaster(t, writePythonLocustfile(t, tagsLocustfile), locusttest.MasterOptions{
		ExtraArgs: []string{"--tags", "checkout", "--exclude-tags", "slow"},
	})
	var mu sync.Mutex
	runs := map[string]int{}
	task := func(name string, tags ...string) *Task {
		return &Task{Name: name, Weight: 1, Tags: tags, Run: func(u *User) {
			mu.Lock()
			runs[name]++
			mu.Unlock()
			u.RecordSuccess("task", name, time.Millisecond, 0)
			// Return to the class after one task of the cart set.
			u.Interrupt()
		}}
	}
	worker := startClassWorker(t, master.Port, WithUserClasses(&UserClass{
		Name:     "Tagged",
		WaitTime: Constant(20 * time.Millisecond),
		Tasks: []*Task{
			task("checkout", "checkout"),
			task("browse"),
			task("slow-checkout", "checkout", "slow"),
			{Name: "cart", Weight: 1, Tags: []string{"checkout"}, Set: &TaskSet{Tasks: []*Task{
				task("add"),
				task("pay", "slow"),
			}}},
		},
	}))
	waitWorkerReady(t, master)

	require.NoError(t, master.Swarm(2, 100, ""))
	stats := waitStats(t, master, "the tagged tasks in the stats", func(s *locusttest.StatsJSON) bool {
		return requestCount(s, "task", "checkout") >= 5 && requestCount(s, "task", "add") >= 5
	})
	assert.Equal(t, []any{"checkout"}, worker.b.Test().Options["tags"])
	stopTest(t, master)

	names := make([]string, 0, len(stats.Stats))
	for _, entry := range stats.Stats {
		names = append(names, entry.Name)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"Aggregated", "add", "checkout"}, names, "request names in the master's stats")
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"browse", "slow-checkout", "pay"} {
		assert.Zero(t, runs[name], "runs of %s", name)
	}
}
