package boomer

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// lockedBuffer is a bytes.Buffer safe for a run's output and a test's reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newStandalone returns a Boomer for a standalone run with the given
// settings, printing into out.
func newStandalone(t *testing.T, out io.Writer, configure func(*Config), opts ...Option) *Boomer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Standalone = true
	configure(&cfg)
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	defaults := []Option{WithConfig(cfg), WithLogger(logger), WithSignalHandling(false)}
	b, err := New(append(defaults, opts...)...)
	require.NoError(t, err)
	b.stdout = out
	return b
}

// getTask returns a task that GETs url with client and records the request
// through its user. onDone, when set, gets the measured latency.
func getTask(client *http.Client, url, name string, onDone func(time.Duration)) *Task {
	return &Task{Name: "get", Weight: 1, Run: func(u *User) {
		start := time.Now()
		resp, err := client.Get(url)
		elapsed := time.Since(start)
		if err != nil {
			if u.Context().Err() == nil {
				u.RecordFailure("GET", name, elapsed, err.Error())
			}
			return
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		elapsed = time.Since(start)
		if resp.StatusCode >= 400 {
			u.RecordFailure("GET", name, elapsed, "HTTP "+strconv.Itoa(resp.StatusCode))
		} else {
			u.RecordSuccess("GET", name, elapsed, n)
		}
		if onDone != nil {
			onDone(elapsed)
		}
	}}
}

func newTestClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2000}}
}

// okServer returns an HTTP server on 127.0.0.1 that counts requests.
func okServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var count atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(server.Close)
	return server, &count
}

var summaryLine = regexp.MustCompile(`Summary: (\d+) requests, (\d+) failures`)

// summaryTotals returns the totals of the printed summary.
func summaryTotals(t *testing.T, out string) (requests, failures int64) {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	require.NotNil(t, m, "no summary in the output:\n%s", out)
	requests, _ = strconv.ParseInt(m[1], 10, 64)
	failures, _ = strconv.ParseInt(m[2], 10, 64)
	return requests, failures
}

func TestStandaloneIterationsRunExactly(t *testing.T) {
	t.Parallel()
	server, served := okServer(t)
	client := newTestClient()
	var runs atomic.Int64
	task := getTask(client, server.URL+"/", "/", nil)
	counted := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		runs.Add(1)
		task.Run(u)
	}}
	out := &lockedBuffer{}
	b := newStandalone(t, out, func(c *Config) {
		c.Users = 10
		c.SpawnRate = 100
		c.Iterations = 5
		c.RunTime = time.Minute
	}, WithTasks(counted))

	start := time.Now()
	err := b.Run(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 30*time.Second, "the run must end when every user is done, not at its run time")
	assert.Equal(t, int64(50), runs.Load(), "task runs")
	assert.Equal(t, int64(50), served.Load(), "requests the server received")
	requests, failures := summaryTotals(t, out.String())
	assert.Equal(t, int64(50), requests, "summary requests")
	assert.Zero(t, failures, "summary failures")
	assert.Contains(t, out.String(), "Response time percentiles")
}

func TestStandaloneSpawnRateRamp(t *testing.T) {
	server, _ := okServer(t)
	client := newTestClient()
	task := getTask(client, server.URL+"/", "/", nil)
	paced := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		task.Run(u)
		u.sleep(100 * time.Millisecond)
	}}
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 50
		c.SpawnRate = 10
		c.RunTime = 8 * time.Second
	}, WithTasks(paced))

	type point struct {
		at    time.Duration
		users int64
	}
	var points []point
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- b.Run(context.Background()) }()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
sampling:
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			break sampling
		case <-ticker.C:
			if r := b.standalone.Load(); r != nil && r.state.Load() != stateStopping && r.state.Load() != stateStopped {
				points = append(points, point{time.Since(start), r.users()})
			}
		}
	}
	require.NotEmpty(t, points)
	reached := time.Duration(-1)
	for _, p := range points {
		assert.LessOrEqual(t, p.users, int64(50), "users at %s", p.at)
		if p.users == 50 && reached < 0 {
			reached = p.at
		}
		// 10 users per second: about 10 per elapsed second, the first at 0.
		expected := math.Min(50, math.Floor(p.at.Seconds()*10)+1)
		assert.InDelta(t, expected, float64(p.users), 6, "users at %s", p.at)
	}
	t.Logf("users reached 50 after %s", reached)
	require.Positive(t, reached, "users never reached 50")
	assert.InDelta(t, 4.9, reached.Seconds(), 0.6, "time to reach 50 users")
}

func TestStandaloneRunTimeWritesCSV(t *testing.T) {
	server, _ := okServer(t)
	client := newTestClient()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	tasks := []*Task{
		getTask(client, server.URL+"/", "/ok", nil),
		{Name: "fail", Weight: 1, Run: getTask(client, failing.URL+"/", "/fail", nil).Run},
	}
	dir := t.TempDir()
	prefix := filepath.Join(dir, "run")
	out := &lockedBuffer{}
	b := newStandalone(t, out, func(c *Config) {
		c.Users = 5
		c.SpawnRate = 50
		c.RunTime = 10 * time.Second
		c.CSVPrefix = prefix
		c.JSONFile = filepath.Join(dir, "run.json")
		c.ExitCodeOnError = 3
	}, WithTasks(append(tasks, &Task{Name: "pause", Weight: 1, Run: func(u *User) { u.sleep(20 * time.Millisecond) }})...))

	start := time.Now()
	err := b.Run(context.Background())
	elapsed := time.Since(start)
	var failed *FailedRequestsError
	require.ErrorAs(t, err, &failed, "a run with failures returns *FailedRequestsError")
	assert.Equal(t, 3, failed.ExitCode)
	t.Logf("the run took %s", elapsed)
	assert.InDelta(t, 10, elapsed.Seconds(), standaloneSampleInterval.Seconds(), "run duration, within one report interval")

	requests, failures := summaryTotals(t, out.String())
	assert.Positive(t, requests)
	assert.Positive(t, failures)
	assert.Equal(t, failed.Failures, failures)

	rows := readCSVFile(t, prefix+"_stats.csv")
	header := rows[0]
	assert.Equal(t, locustStatsColumns, header, "_stats.csv columns")
	total := findRecord(t, rows, "", "Aggregated")
	assert.Equal(t, strconv.FormatInt(requests, 10), total[2], "Request Count of Aggregated")
	assert.Equal(t, strconv.FormatInt(failures, 10), total[3], "Failure Count of Aggregated")
	okRow := findRecord(t, rows, "GET", "/ok")
	failRow := findRecord(t, rows, "GET", "/fail")
	okCount, _ := strconv.ParseInt(okRow[2], 10, 64)
	failCount, _ := strconv.ParseInt(failRow[2], 10, 64)
	assert.Equal(t, requests, okCount+failCount, "rows add up to the Aggregated row")
	for i := range header[4:] {
		_, err := strconv.ParseFloat(total[4+i], 64)
		assert.NoError(t, err, "column %q of Aggregated is not a number: %q", header[4+i], total[4+i])
	}

	failuresCSV := readCSVFile(t, prefix+"_failures.csv")
	assert.Equal(t, locustFailuresColumns, failuresCSV[0], "_failures.csv columns")
	require.Len(t, failuresCSV, 2, "one failure row: %v", failuresCSV)
	assert.Equal(t, []string{"GET", "/fail", "HTTP 503"}, failuresCSV[1][:3])
	assert.Equal(t, strconv.FormatInt(failures, 10), failuresCSV[1][3])

	history := readCSVFile(t, prefix+"_stats_history.csv")
	assert.Equal(t, locustHistoryColumns, history[0], "_stats_history.csv columns")
	assert.GreaterOrEqual(t, len(history)-1, 9, "about one history row per second")
	last := history[len(history)-1]
	assert.Equal(t, strconv.FormatInt(requests, 10), last[len(locustHistoryColumns)-7], "Total Request Count of the last history row")

	exceptions := readCSVFile(t, prefix+"_exceptions.csv")
	assert.Equal(t, []string{"Count", "Message", "Traceback", "Nodes"}, exceptions[0])

	var report struct {
		Total struct {
			Requests int64 `json:"num_requests"`
			Failures int64 `json:"num_failures"`
		} `json:"total"`
		History []json.RawMessage `json:"history"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &report))
	assert.Equal(t, requests, report.Total.Requests, "JSON total requests")
	assert.Equal(t, failures, report.Total.Failures, "JSON total failures")
	assert.NotEmpty(t, report.History)
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, "parse %s", path)
	require.NotEmpty(t, rows, "%s is empty", path)
	return rows
}

func findRecord(t *testing.T, rows [][]string, method, name string) []string {
	t.Helper()
	for _, row := range rows[1:] {
		if row[0] == method && row[1] == name {
			return row
		}
	}
	t.Fatalf("no row %q %q in %v", method, name, rows)
	return nil
}

// Column names of Locust 2.47.0's CSV files, as `locust --headless --csv`
// writes them. TestCSVColumnsMatchLocust checks them against a real run.
var (
	locustStatsColumns    = strings.Split("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%", ",")
	locustFailuresColumns = strings.Split("Method,Name,Error,Occurrences,First Seen,Last Seen", ",")
	locustHistoryColumns  = strings.Split("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size", ",")
)

func TestHDRPercentilesMatchRawLatencies(t *testing.T) {
	t.Parallel()
	// The server delays one response in ten by up to 30 ms, so the
	// latencies spread over two orders of magnitude.
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rand.IntN(10) == 0 {
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		}
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(server.Close)
	client := newTestClient()
	var mu sync.Mutex
	var raw []time.Duration
	task := getTask(client, server.URL+"/", "/", func(d time.Duration) {
		mu.Lock()
		raw = append(raw, d)
		mu.Unlock()
	})
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 20
		c.SpawnRate = 1000
		c.Iterations = 150
		c.RunTime = time.Minute
	}, WithTasks(task))
	require.NoError(t, b.Run(context.Background()))

	r := b.lastStandalone
	require.NotNil(t, r)
	view := r.stats.view()
	require.Len(t, view.Rows, 1)
	row := view.Rows[0]
	require.Equal(t, int64(len(raw)), row.Requests, "every measured request is in the row")
	sorted := append([]time.Duration(nil), raw...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i, q := range reportPercentiles {
		// Nearest rank, rounded as HdrHistogram rounds it.
		rank := max(int(q*float64(len(sorted))+0.5), 1)
		want := float64(sorted[rank-1]) / float64(time.Millisecond)
		got := row.PercentilesMs[i]
		// 3 significant digits: within 0.1 % of the value, plus the 1 µs
		// resolution.
		tolerance := want*0.001 + 0.0015
		assert.InDelta(t, want, got, tolerance, "percentile %g: raw %.4f ms, HDR %.4f ms", q, want, got)
	}
	assert.InDelta(t, float64(sorted[len(sorted)/2])/1e6, row.MedianMs, float64(sorted[len(sorted)/2])/1e9+0.0015, "median")
}

func TestStandaloneFlagErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"run time word", []string{"--standalone", "-t", "soon"}, `"soon"`},
		{"run time zero", []string{"--standalone", "--run-time", "0s"}, "--run-time"},
		{"spawn rate zero", []string{"--standalone", "-r", "0"}, `invalid -r "0"`},
		{"spawn rate text", []string{"--standalone", "--spawn-rate", "fast"}, `invalid --spawn-rate "fast"`},
		{"negative rps", []string{"--max-rps", "-5"}, `invalid --max-rps "-5"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.RegisterFlags(fs)
			err := fs.Parse(tc.args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	invalid := []struct {
		name      string
		configure func(*Config)
		want      string
	}{
		{"no users", func(c *Config) { c.Standalone = true; c.Users = 0 }, "invalid --users 0: use 1 or more"},
		{"negative iterations", func(c *Config) { c.Standalone = true; c.Iterations = -1 }, "invalid --iterations -1"},
		{"exit code", func(c *Config) { c.Standalone = true; c.ExitCodeOnError = 300 }, "invalid --exit-code-on-error 300"},
		{"csv without standalone", func(c *Config) { c.CSVPrefix = "x" }, "--csv applies only to standalone runs: add --standalone"},
		{"both limits", func(c *Config) { c.MaxRPS = 1; c.GlobalMaxRPS = 2 }, "set one of them"},
		{"ramp without limit", func(c *Config) { c.MaxRPSRamp = time.Second }, "--max-rps-ramp 1s needs a target"},
		{"arrival without run time", func(c *Config) { c.Standalone = true; c.ArrivalRate = 10 }, "--arrival-rate 10 needs --run-time"},
		{"metrics address", func(c *Config) { c.MetricsAddr = "localhost" }, `invalid --metrics-addr "localhost"`},
		{"run tasks and standalone", func(c *Config) { c.Standalone = true; c.RunTasks = []string{"a"} }, "--run-tasks and --standalone"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.configure(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseTimespan(t *testing.T) {
	t.Parallel()
	cases := map[string]time.Duration{
		"90":     90 * time.Second,
		"90s":    90 * time.Second,
		"10m":    10 * time.Minute,
		"1h30m":  90 * time.Minute,
		"1h":     time.Hour,
		"2m5s":   125 * time.Second,
		"1h2m3s": time.Hour + 2*time.Minute + 3*time.Second,
	}
	for value, want := range cases {
		got, err := parseTimespan(value)
		require.NoError(t, err, value)
		assert.Equal(t, want, got, value)
	}
	for _, bad := range []string{"", "1.5m", "m", "10x", "1m1h", "-5", "4294967295h", "876001h", "99999999999"} {
		_, err := parseTimespan(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestCSVColumnsMatchLocust(t *testing.T) {
	skipIfShort(t)
	t.Parallel()
	locust := locusttest.FindLocust(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "locust")
	cmd := exec.Command(locust, "-f", locusttest.WriteLocustfile(t, "Idle"), "--headless", "-u", "1", "-r", "1",
		"-t", "2s", "--csv", prefix, "--only-summary", "--web-port", strconv.Itoa(locusttest.FreePort(t)))
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "locust --headless --csv failed:\n%s", output)

	ours := map[string][]string{
		"_stats.csv":         statsCSVRecords(statsView{})[0],
		"_failures.csv":      failuresCSVRecords(statsView{})[0],
		"_exceptions.csv":    csvExceptionsColumns,
		"_stats_history.csv": historyCSVRecords(nil)[0],
	}
	for suffix, columns := range ours {
		raw, err := os.ReadFile(prefix + suffix)
		require.NoError(t, err)
		firstLine, _, _ := strings.Cut(string(raw), "\n")
		assert.True(t, strings.HasSuffix(firstLine, "\r"), "Locust ends %s rows with \\r\\n", suffix)
		header, err := csv.NewReader(strings.NewReader(string(raw))).Read()
		require.NoError(t, err, suffix)
		assert.Equal(t, header, columns, "columns of %s", suffix)
	}
	assert.Equal(t, locustStatsColumns, ours["_stats.csv"])
	assert.Equal(t, locustFailuresColumns, ours["_failures.csv"])
	assert.Equal(t, locustHistoryColumns, ours["_stats_history.csv"])
}

func TestSpawnOrderKeepsClassMix(t *testing.T) {
	t.Parallel()
	classes := []*UserClass{{Name: "A", Weight: 3}, {Name: "B", Weight: 1}, {Name: "C", FixedCount: 2}}
	order := spawnOrder(classes, 10)
	require.Len(t, order, 10)
	counts := map[string]int{}
	for _, name := range order {
		counts[name]++
	}
	assert.Equal(t, map[string]int{"A": 6, "B": 2, "C": 2}, counts)
	firstFour := map[string]int{}
	for _, name := range order[:4] {
		firstFour[name]++
	}
	assert.Equal(t, 1, firstFour["C"], "the classes are interleaved: %v", order)
	fixed := map[string]int{}
	for _, name := range spawnOrder([]*UserClass{{Name: "A"}, {Name: "B", FixedCount: 5}}, 7) {
		fixed[name]++
	}
	assert.Equal(t, map[string]int{"A": 2, "B": 5}, fixed, "a fixed count first, the rest by weight")
}

func TestStandaloneUserClassesWithIterations(t *testing.T) {
	t.Parallel()
	server, served := okServer(t)
	client := newTestClient()
	var started sync.Map
	var runs sync.Map
	classFor := func(name string, weight int) *UserClass {
		get := getTask(client, server.URL+"/"+name, "/"+name, nil)
		return &UserClass{
			Name:   name,
			Weight: weight,
			OnStart: func(u *User) error {
				u.State = name
				counter, _ := started.LoadOrStore(name, new(atomic.Int64))
				counter.(*atomic.Int64).Add(1)
				return nil
			},
			Tasks: []*Task{{Name: "get", Weight: 1, Run: func(u *User) {
				counter, _ := runs.LoadOrStore(u.State, new(atomic.Int64))
				counter.(*atomic.Int64).Add(1)
				get.Run(u)
			}}},
		}
	}
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 8
		c.SpawnRate = 100
		c.Iterations = 2
	}, WithUserClasses(classFor("Heavy", 3), classFor("Light", 1)))
	require.NoError(t, b.Run(context.Background()))

	load := func(m *sync.Map, key string) int64 {
		v, ok := m.Load(key)
		if !ok {
			return 0
		}
		return v.(*atomic.Int64).Load()
	}
	assert.Equal(t, int64(6), load(&started, "Heavy"), "Heavy users")
	assert.Equal(t, int64(2), load(&started, "Light"), "Light users")
	assert.Equal(t, int64(12), load(&runs, "Heavy"), "Heavy task runs")
	assert.Equal(t, int64(4), load(&runs, "Light"), "Light task runs")
	assert.Equal(t, int64(16), served.Load())
}

func TestStandalonePanicsInExceptionsCSV(t *testing.T) {
	t.Parallel()
	prefix := filepath.Join(t.TempDir(), "run")
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 3
		c.SpawnRate = 100
		c.Iterations = 4
		c.CSVPrefix = prefix
	}, WithTasks(&Task{Name: "boom", Weight: 1, Run: func(u *User) { panic("kaboom") }}))
	var failed *FailedRequestsError
	require.ErrorAs(t, b.Run(context.Background()), &failed)
	assert.Equal(t, int64(12), failed.Failures, "every panic is a failure")

	rows := readCSVFile(t, prefix+"_exceptions.csv")
	require.Len(t, rows, 2, "one row for one message and traceback: %v", rows)
	assert.Equal(t, "12", rows[1][0], "Count")
	assert.Equal(t, `task "boom" panicked: kaboom`, rows[1][1], "Message")
	assert.Contains(t, rows[1][2], "standalone_test.go", "Traceback")
	assert.Equal(t, b.NodeID(), rows[1][3], "Nodes")
}

func TestStandaloneEndsWhenUsersStop(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 4
		c.SpawnRate = 100
	}, WithTasks(&Task{Name: "once", Weight: 1, Run: func(u *User) {
		runs.Add(1)
		u.RecordSuccess("step", "once", time.Millisecond, 0)
		u.Stop()
	}}))
	done := make(chan error, 1)
	go func() { done <- b.Run(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("a run without run time did not end after every user stopped")
	}
	assert.Equal(t, int64(4), runs.Load())
}

func TestStandaloneRejectsUnwritableReport(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	missing := filepath.Join(t.TempDir(), "no-such-dir", "report.html")
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Iterations = 1
		c.HTMLFile = missing
	}, WithTasks(&Task{Name: "count", Weight: 1, Run: func(u *User) { runs.Add(1) }}))
	err := b.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid --html: cannot write "+missing)
	assert.Zero(t, runs.Load(), "the run fails before any task")
}

// FuzzParseTimespan checks that any --run-time value either parses to a
// non-negative time or fails with an error that quotes it.
func FuzzParseTimespan(f *testing.F) {
	for _, seed := range []string{"90", "90s", "10m", "1h30m", "1h2m3s", "", "1.5m", "-5", "99999999999h"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		d, err := parseTimespan(value)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(strings.TrimSpace(value))) {
				t.Errorf("error %q does not quote the value %q", err, value)
			}
			return
		}
		if d < 0 {
			t.Errorf("parseTimespan(%q) = %s, a negative time", value, d)
		}
	})
}
