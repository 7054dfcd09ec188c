package boomer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metricsBuckets are the upper bounds, in seconds, of the response time
// histogram on the metrics endpoint. The counts come from the HDR
// histograms, so the bounds cost nothing on the recording path.
var metricsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metricsStates are the values of the state label of boomer_state.
var metricsStates = []string{stateReady, stateSpawning, stateRunning, stateStopping, stateStopped}

// metricsSource reads a run's state for the metrics endpoint.
type metricsSource struct {
	stats func() *runStats
	users func() int64
	state func() string
	// refresh, when set, folds the latest records into stats before a scrape.
	refresh func()
	// arrival, when set, returns the open model's executor, or nil.
	arrival func() *arrivalExecutor
}

// metricsHandler serves a run's cumulative statistics in Prometheus's text
// exposition format, version 0.0.4. It computes every value at scrape time;
// recording a request only adds the sample to an HDR histogram. The format
// is written here rather than with the Prometheus client library, whose
// package initialization leaves about 200 KB of objects on the heap of
// every worker. The garbage collector marks them on every cycle, which cost
// the worker about 2 % of its CPU time under load (docs/benchmarks.md).
type metricsHandler struct {
	source metricsSource
}

// metricsContentType is the content type of the text exposition format.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

func (h metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var out metricsWriter
	h.write(&out)
	w.Header().Set("Content-Type", metricsContentType)
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.WriteString(w, out.String())
}

// write writes every metric family, in the order of their names.
func (h metricsHandler) write(out *metricsWriter) {
	if h.source.refresh != nil {
		h.source.refresh()
	}
	var rows []metricsRow
	if stats := h.source.stats(); stats != nil {
		rows = snapshotRows(stats)
	}
	var arrival *arrivalExecutor
	if h.source.arrival != nil {
		arrival = h.source.arrival()
	}

	if len(rows) > 0 {
		out.family("boomer_current_rps", "gauge",
			"Requests per second over Locust's current window: the per-second counts from 12 s to 2 s before the last request.")
		for _, row := range rows {
			out.sample("boomer_current_rps", row.labels(), row.currentRPS)
		}
	}
	if arrival != nil {
		count, sum, quantiles := arrival.latenessSummary()
		name := "boomer_open_model_start_lateness_seconds"
		out.family(name, "summary", "Time from each scheduled task start of the open model to its actual start.")
		qs := make([]float64, 0, len(quantiles))
		for q := range quantiles {
			qs = append(qs, q)
		}
		slices.Sort(qs)
		for _, q := range qs {
			out.sample(name, []string{"quantile", formatMetricValue(q)}, quantiles[q])
		}
		out.sample(name+"_sum", nil, sum)
		out.sample(name+"_count", nil, float64(count))

		name = "boomer_open_model_starts_waited_total"
		out.family(name, "counter", "Task starts of the open model that waited for a free slot under --max-in-flight.")
		out.sample(name, nil, float64(arrival.late.Load()))
	}
	if len(rows) > 0 {
		out.family("boomer_request_failures_total", "counter", "Failed requests recorded, by request type and name.")
		for _, row := range rows {
			out.sample("boomer_request_failures_total", row.labels(), float64(row.failures))
		}
		out.family("boomer_requests_total", "counter", "Requests recorded, failures included, by request type and name.")
		for _, row := range rows {
			out.sample("boomer_requests_total", row.labels(), float64(row.requests))
		}
		name := "boomer_response_time_seconds"
		out.family(name, "histogram", "Response times of the recorded requests, by request type and name.")
		for _, row := range rows {
			labels := row.labels()
			for i, bound := range metricsBuckets {
				out.sample(name+"_bucket", append(labels[:len(labels):len(labels)], "le", formatMetricValue(bound)), float64(row.buckets[i]))
			}
			out.sample(name+"_bucket", append(labels[:len(labels):len(labels)], "le", "+Inf"), float64(row.requests))
			out.sample(name+"_sum", labels, row.sumSeconds)
			out.sample(name+"_count", labels, float64(row.requests))
		}
	}

	state := h.source.state()
	out.family("boomer_state", "gauge", "1 for the run's current state, 0 for the others.")
	for _, s := range metricsStates {
		value := 0.0
		if s == state {
			value = 1
		}
		out.sample("boomer_state", []string{"state", s}, value)
	}
	out.family("boomer_users", "gauge", "Users running now; tasks in flight in the open model.")
	out.sample("boomer_users", nil, float64(h.source.users()))
}

// metricsRow is the figures of one request type and name at scrape time.
type metricsRow struct {
	method, name string
	requests     int64
	failures     int64
	currentRPS   float64
	sumSeconds   float64
	// buckets are the cumulative counts at or below each of
	// metricsBuckets.
	buckets []uint64
}

func (r metricsRow) labels() []string {
	return []string{"method", r.method, "name", r.name}
}

// snapshotRows copies the rows of stats, sorted by method and name, under
// its lock. Label values must be valid UTF-8, so invalid bytes in a method
// or name become U+FFFD, as in the reports to the master, and rows whose
// labels become equal are added up.
func snapshotRows(stats *runStats) []metricsRow {
	stats.mu.Lock()
	defer stats.mu.Unlock()
	byKey := make(map[requestKey]*metricsRow, len(stats.rows))
	for key, s := range stats.rows {
		counts := bucketCounts(s)
		labels := requestKey{method: validText(key.method), name: validText(key.name)}
		row := byKey[labels]
		if row == nil {
			row = &metricsRow{method: labels.method, name: labels.name, buckets: make([]uint64, len(metricsBuckets))}
			byKey[labels] = row
		}
		for i, bound := range metricsBuckets {
			row.buckets[i] += counts[bound]
		}
		row.requests += s.numRequests
		row.failures += s.numFailures
		row.currentRPS += currentRate(s.requestsPerSecond, stats.lastRequest, stats.start)
		row.sumSeconds += s.totalResponseTime / 1000
	}
	rows := make([]metricsRow, 0, len(byKey))
	for _, row := range byKey {
		rows = append(rows, *row)
	}
	slices.SortFunc(rows, func(a, b metricsRow) int {
		return cmp.Or(strings.Compare(a.method, b.method), strings.Compare(a.name, b.name))
	})
	return rows
}

// metricsWriter builds a page of the text exposition format.
type metricsWriter struct {
	strings.Builder
}

// family writes the HELP and TYPE lines of a metric family.
func (w *metricsWriter) family(name, kind, help string) {
	w.WriteString("# HELP " + name + " " + helpEscaper.Replace(help) + "\n")
	w.WriteString("# TYPE " + name + " " + kind + "\n")
}

// sample writes one sample line. labels alternate names and values.
func (w *metricsWriter) sample(name string, labels []string, value float64) {
	w.WriteString(name)
	if len(labels) > 0 {
		w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(labels[i] + `="` + labelEscaper.Replace(labels[i+1]) + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatMetricValue(value))
	w.WriteByte('\n')
}

// The text format escapes a backslash and a line feed in HELP text, and a
// double quote too in label values.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatMetricValue formats v as the text format writes floats, with +Inf,
// -Inf and NaN for the special values.
func formatMetricValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// bucketCounts returns the cumulative count of response times at or below
// each of metricsBuckets, from the row's HDR histogram. A bar of
// equivalent values that contains a bound counts as below it, so a time
// exactly at a bound is in that bound's bucket. Times less than 0.1 % above
// a bound can be counted there too.
func bucketCounts(s *requestStats) map[float64]uint64 {
	counts := make(map[float64]uint64, len(metricsBuckets))
	if s.hist == nil {
		return counts
	}
	bars := s.hist.Distribution()
	for _, bound := range metricsBuckets {
		limit := int64(math.Round(bound * 1e6))
		var n uint64
		for _, bar := range bars {
			if bar.From > limit {
				break
			}
			n += uint64(bar.Count)
		}
		counts[bound] = n
	}
	return counts
}

// startMetrics serves the metrics endpoint when Config.MetricsAddr is set.
// It returns a function that shuts the server down.
func (b *Boomer) startMetrics(source metricsSource) (func(), error) {
	if b.cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	listener, err := net.Listen("tcp", b.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: listen on --metrics-addr %s: %w; pick a free port or another address", b.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler{source: source})
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	b.metricsAddr.Store(listener.Addr().String())
	b.log.Info("metrics endpoint listening", "url", "http://"+listener.Addr().String()+"/metrics")
	go func() {
		if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("metrics endpoint failed", "error", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := server.Shutdown(ctx); err != nil {
			b.log.Error("metrics endpoint shutdown failed", "error", err)
		}
		b.metricsAddr.Store("")
	}, nil
}

// metricsSource returns the metrics of a standalone run. A scrape first
// folds what was recorded since the last sample, so it counts every request
// recorded before it.
func (r *standaloneRun) metricsSource() metricsSource {
	return metricsSource{
		stats: func() *runStats {
			r.historyMu.Lock()
			defer r.historyMu.Unlock()
			return r.stats
		},
		users:   r.users,
		state:   func() string { return r.state.Load().(string) },
		refresh: r.fold,
		arrival: func() *arrivalExecutor { return r.arrival },
	}
}

// metricsSource returns the metrics of a worker: its reports to the master,
// added up since the worker started.
func (w *worker) metricsSource() metricsSource {
	if w.b.cfg.MetricsAddr != "" {
		w.b.stats.histograms.Store(true)
		w.b.runStats.Store(newRunStats(time.Now()))
	}
	return metricsSource{
		stats: w.b.runStats.Load,
		users: func() int64 {
			if w.arrival != nil {
				return w.arrival.inFlight()
			}
			return sumCounts(w.users.counts())
		},
		state:   w.protocolState,
		arrival: func() *arrivalExecutor { return w.arrival },
	}
}
