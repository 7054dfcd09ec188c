package boomer

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// scrapeMetrics returns the metric families of a /metrics endpoint.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// metricValue returns the value of the family's metric with the labels.
func metricValue(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	family, ok := families[name]
	require.True(t, ok, "no metric %s", name)
	for _, m := range family.GetMetric() {
		match := true
		for _, pair := range m.GetLabel() {
			if want, ok := labels[pair.GetName()]; ok && want != pair.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no metric %s with labels %v", name, labels)
	return 0
}

func waitMetricsAddr(t *testing.T, b *Boomer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if addr, _ := b.metricsAddr.Load().(string); addr != "" {
			return addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the metrics endpoint did not start")
	return ""
}

var liveTotalRow = regexp.MustCompile(`(?m)^\s+Aggregated\s+(\d+)\s+(\d+) \|`)

func TestMetricsMatchConsoleTotals(t *testing.T) {
	t.Parallel()
	server, _ := okServer(t)
	get := getTask(newTestClient(), server.URL+"/", "/m", nil)
	const limit = 300
	var runs atomic.Int64
	// The first 300 tasks send a request; later ones wait for the stop, so
	// the totals hold still while the test scrapes.
	task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		if runs.Add(1) > limit {
			<-u.Context().Done()
			return
		}
		get.Run(u)
	}}
	out := &lockedBuffer{}
	b := newStandalone(t, out, func(c *Config) {
		c.Users = 10
		c.SpawnRate = 100
		c.RunTime = 6 * time.Second
		c.MetricsAddr = "127.0.0.1:0"
	}, WithTasks(task))
	b.liveConsole = true
	done := make(chan error, 1)
	go func() { done <- b.Run(context.Background()) }()
	addr := waitMetricsAddr(t, b)

	require.Eventually(t, func() bool { return runs.Load() >= limit+10 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(liveTableInterval + 500*time.Millisecond)
	families := scrapeMetrics(t, addr)
	labels := map[string]string{"method": "GET", "name": "/m"}
	scraped := metricValue(t, families, "boomer_requests_total", labels)
	assert.Equal(t, float64(limit), scraped, "boomer_requests_total during the run")
	assert.Equal(t, 0.0, metricValue(t, families, "boomer_request_failures_total", labels))
	assert.Equal(t, float64(limit), metricValue(t, families, "boomer_response_time_seconds", labels), "histogram count")
	assert.Equal(t, 10.0, metricValue(t, families, "boomer_users", nil))
	assert.Equal(t, 1.0, metricValue(t, families, "boomer_state", map[string]string{"state": "running"}))
	assert.Equal(t, 0.0, metricValue(t, families, "boomer_state", map[string]string{"state": "spawning"}))

	// The live table printed during the run shows the same total.
	live, _, _ := strings.Cut(out.String(), "Summary:")
	rows := liveTotalRow.FindAllStringSubmatch(live, -1)
	require.NotEmpty(t, rows, "no live table:\n%s", live)
	lastLive, _ := strconv.Atoi(rows[len(rows)-1][1])
	assert.Equal(t, limit, lastLive, "the last live table's Aggregated requests")

	require.NoError(t, <-done)
	requests, failures := summaryTotals(t, out.String())
	assert.Equal(t, int64(limit), requests, "summary requests")
	assert.Zero(t, failures)
}

func TestMetricsOffByDefault(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	assert.Empty(t, cfg.MetricsAddr, "no metrics endpoint unless --metrics-addr is given")
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.Users = 1
		c.Iterations = 1
	}, WithTasks(&Task{Name: "noop", Weight: 1, Run: func(u *User) {}}))
	require.NoError(t, b.Run(context.Background()))
	addr, _ := b.metricsAddr.Load().(string)
	assert.Empty(t, addr)
}

func TestWorkerMetricsMatchMaster(t *testing.T) {
	skipIfShort(t)
	server := locusttest.NewCountingServer(t)
	master := locusttest.StartMaster(t, locusttest.MasterOptions{
		Locustfile: locusttest.WriteLocustfile(t, "Dummy"),
		Headless:   true,
		Users:      5,
		SpawnRate:  5,
		RunTime:    "12s",
	})
	const limit = 200
	var runs atomic.Int64
	get := httpTask("get", server.URL+"/", "/w")
	task := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		if runs.Add(1) > limit {
			<-u.Context().Done()
			return
		}
		get.Run(u)
	}}
	cfg := DefaultConfig()
	cfg.MasterHost = "127.0.0.1"
	cfg.MasterPort = master.Port
	cfg.MetricsAddr = "127.0.0.1:0"
	w := startClassWorker(t, master.Port, WithConfig(cfg), WithTasks(task))
	addr := waitMetricsAddr(t, w.b)

	require.Eventually(t, func() bool { return runs.Load() >= limit+5 }, 10*time.Second, 10*time.Millisecond)
	// One report interval later every request has been reported.
	time.Sleep(reportInterval + time.Second)
	families := scrapeMetrics(t, addr)
	labels := map[string]string{"method": "GET", "name": "/w"}
	assert.Equal(t, float64(limit), metricValue(t, families, "boomer_requests_total", labels))
	assert.Equal(t, float64(limit), metricValue(t, families, "boomer_response_time_seconds", labels))
	assert.Equal(t, 5.0, metricValue(t, families, "boomer_users", nil))
	assert.Equal(t, 1.0, metricValue(t, families, "boomer_state", map[string]string{"state": "running"}))

	code, err := master.Wait(60 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "master exit code; log:\n%s", master.Log())
	rows, err := master.StatsCSV()
	require.NoError(t, err)
	row, ok := locusttest.FindStatsRow(rows, "GET", "/w")
	require.True(t, ok, "no GET /w row in %v", rows)
	assert.Equal(t, int64(limit), row.RequestCount, "the master's count equals the worker's metrics")
}

func TestMetricsReportOpenModelLateness(t *testing.T) {
	t.Parallel()
	server, _ := okServer(t)
	b := newStandalone(t, io.Discard, func(c *Config) {
		c.ArrivalRate = 50
		c.MaxInFlight = 10
		c.RunTime = 3 * time.Second
		c.MetricsAddr = "127.0.0.1:0"
	}, WithTasks(getTask(newTestClient(), server.URL+"/", "/open", nil)))
	done := make(chan error, 1)
	go func() { done <- b.Run(context.Background()) }()
	addr := waitMetricsAddr(t, b)
	time.Sleep(1500 * time.Millisecond)

	families := scrapeMetrics(t, addr)
	family, ok := families["boomer_open_model_start_lateness_seconds"]
	require.True(t, ok, "no lateness summary")
	summary := family.GetMetric()[0].GetSummary()
	assert.Greater(t, summary.GetSampleCount(), uint64(40), "starts in 1.5 s at 50/s")
	assert.Len(t, summary.GetQuantile(), 3)
	assert.GreaterOrEqual(t, summary.GetSampleSum(), 0.0)
	_, ok = families["boomer_open_model_starts_waited_total"]
	assert.True(t, ok, "no waited counter")
	requests := metricValue(t, families, "boomer_requests_total", map[string]string{"name": "/open"})
	assert.Greater(t, requests, 40.0, "requests in 1.5 s at 50/s")
	require.NoError(t, <-done)
}

// fixedMetricsHandler returns a metrics handler over stats, with a fixed
// user count and state.
func fixedMetricsHandler(stats *runStats, users int64, state string) metricsHandler {
	return metricsHandler{source: metricsSource{
		stats: func() *runStats { return stats },
		users: func() int64 { return users },
		state: func() string { return state },
	}}
}

func TestMetricsTextFormatParses(t *testing.T) {
	stats := newRunStats(time.Unix(1000, 0))
	// A name with every character the format escapes, and a plain one.
	odd := requestKey{method: "GET", name: "/q?a=\"b\"\\c\nd"}
	plain := requestKey{method: "POST", name: "/login"}
	for key, timesMs := range map[requestKey][]float64{odd: {0.5, 2.5, 3, 5, 40, 90000}, plain: {2}} {
		row := newRunRow()
		for _, ms := range timesMs {
			recordMicros(row.hist, ms)
			row.numRequests++
			row.totalResponseTime += ms
		}
		stats.rows[key] = row
	}
	stats.rows[plain].numFailures = 1

	server := httptest.NewServer(fixedMetricsHandler(stats, 7, stateRunning))
	defer server.Close()

	resp, err := http.Get(server.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, metricsContentType, resp.Header.Get("Content-Type"))
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)

	assert.Equal(t, 6.0, metricValue(t, families, "boomer_requests_total", map[string]string{"name": odd.name}))
	assert.Equal(t, 1.0, metricValue(t, families, "boomer_request_failures_total", map[string]string{"name": plain.name}))
	assert.Equal(t, 7.0, metricValue(t, families, "boomer_users", nil))
	assert.Equal(t, 1.0, metricValue(t, families, "boomer_state", map[string]string{"state": stateRunning}))
	assert.Equal(t, 0.0, metricValue(t, families, "boomer_state", map[string]string{"state": stateStopped}))

	var histogram *dto.Histogram
	for _, m := range families["boomer_response_time_seconds"].GetMetric() {
		for _, pair := range m.GetLabel() {
			if pair.GetName() == "name" && pair.GetValue() == odd.name {
				histogram = m.GetHistogram()
			}
		}
	}
	require.NotNil(t, histogram, "no histogram for the escaped name")
	assert.Equal(t, uint64(6), histogram.GetSampleCount())
	assert.InDelta(t, 90.051, histogram.GetSampleSum(), 1e-9)
	cumulative := map[float64]uint64{}
	for _, bucket := range histogram.GetBucket() {
		cumulative[bucket.GetUpperBound()] = bucket.GetCumulativeCount()
	}
	// A time at a bound counts in that bound's bucket. So 0.5 ms is in the
	// 1 ms bucket, 2.5 ms in 2.5 ms, 3 and 5 ms in 5 ms, 40 ms in 50 ms, and
	// 90 s only in +Inf.
	assert.Equal(t, uint64(1), cumulative[0.001])
	assert.Equal(t, uint64(2), cumulative[0.0025])
	assert.Equal(t, uint64(4), cumulative[0.005])
	assert.Equal(t, uint64(5), cumulative[0.05])
	assert.Equal(t, uint64(5), cumulative[60])
	assert.Equal(t, uint64(6), cumulative[math.Inf(1)])
	assert.Len(t, histogram.GetBucket(), len(metricsBuckets)+1)
}

func TestMetricsHeadHasNoBody(t *testing.T) {
	server := httptest.NewServer(fixedMetricsHandler(nil, 0, stateReady))
	defer server.Close()

	resp, err := http.Head(server.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Empty(t, body)
	assert.NotEqual(t, "0", resp.Header.Get("Content-Length"))
}

func TestMetricsRepairInvalidUTF8(t *testing.T) {
	stats := newRunStats(time.Unix(1000, 0))
	// Both names become "/a\uFFFD" once repaired, so their rows add up.
	for _, name := range []string{"/a\xff", "/a\xfe"} {
		row := newRunRow()
		recordMicros(row.hist, 2)
		row.numRequests = 3
		row.totalResponseTime = 6
		stats.rows[requestKey{method: "GET\xc3", name: name}] = row
	}
	var out metricsWriter
	fixedMetricsHandler(stats, 0, stateRunning).write(&out)

	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(strings.NewReader(out.String()))
	require.NoError(t, err, "page:\n%s", out.String())
	requests := families["boomer_requests_total"].GetMetric()
	require.Len(t, requests, 1, "the two repaired names make one series")
	assert.Equal(t, 6.0, requests[0].GetCounter().GetValue())
	for _, pair := range requests[0].GetLabel() {
		assert.True(t, utf8.ValidString(pair.GetValue()), "label %s=%q", pair.GetName(), pair.GetValue())
	}
	assert.Equal(t, 6.0, metricValue(t, families, "boomer_requests_total", map[string]string{"name": "/a\uFFFD", "method": "GET\uFFFD"}))
}
