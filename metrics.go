package boomer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// metricsCollector is a prometheus.Collector over a run's cumulative
// statistics. It computes every value at scrape time; recording a request
// only adds the sample to an HDR histogram.
type metricsCollector struct {
	source   metricsSource
	requests *prometheus.Desc
	failures *prometheus.Desc
	latency  *prometheus.Desc
	current  *prometheus.Desc
	users    *prometheus.Desc
	state    *prometheus.Desc
	lateness *prometheus.Desc
	waited   *prometheus.Desc
}

func newMetricsCollector(source metricsSource) *metricsCollector {
	labels := []string{"method", "name"}
	return &metricsCollector{
		source:   source,
		requests: prometheus.NewDesc("boomer_requests_total", "Requests recorded, failures included, by request type and name.", labels, nil),
		failures: prometheus.NewDesc("boomer_request_failures_total", "Failed requests recorded, by request type and name.", labels, nil),
		latency:  prometheus.NewDesc("boomer_response_time_seconds", "Response times of the recorded requests, by request type and name.", labels, nil),
		current:  prometheus.NewDesc("boomer_current_rps", "Requests per second over Locust's current window: the per-second counts from 12 s to 2 s before the last request.", labels, nil),
		users:    prometheus.NewDesc("boomer_users", "Users running now; tasks in flight in the open model.", nil, nil),
		state:    prometheus.NewDesc("boomer_state", "1 for the run's current state, 0 for the others.", []string{"state"}, nil),
		lateness: prometheus.NewDesc("boomer_open_model_start_lateness_seconds", "Time from each scheduled task start of the open model to its actual start.", nil, nil),
		waited:   prometheus.NewDesc("boomer_open_model_starts_waited_total", "Task starts of the open model that waited for a free slot under --max-in-flight.", nil, nil),
	}
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.source.refresh != nil {
		c.source.refresh()
	}
	ch <- prometheus.MustNewConstMetric(c.users, prometheus.GaugeValue, float64(c.source.users()))
	state := c.source.state()
	for _, s := range metricsStates {
		value := 0.0
		if s == state {
			value = 1
		}
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, value, s)
	}
	if c.source.arrival != nil {
		if a := c.source.arrival(); a != nil {
			count, sum, quantiles := a.latenessSummary()
			ch <- prometheus.MustNewConstSummary(c.lateness, count, sum, quantiles)
			ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, float64(a.late.Load()))
		}
	}
	stats := c.source.stats()
	if stats == nil {
		return
	}
	stats.mu.Lock()
	defer stats.mu.Unlock()
	for key, s := range stats.rows {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.numRequests), key.method, key.name)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.numFailures), key.method, key.name)
		ch <- prometheus.MustNewConstMetric(c.current, prometheus.GaugeValue,
			currentRate(s.requestsPerSecond, stats.lastRequest, stats.start), key.method, key.name)
		ch <- prometheus.MustNewConstHistogram(c.latency, uint64(s.numRequests), s.totalResponseTime/1000,
			bucketCounts(s), key.method, key.name)
	}
}

// bucketCounts returns the cumulative count of response times at or below
// each of metricsBuckets, from the row's HDR histogram.
func bucketCounts(s *requestStats) map[float64]uint64 {
	counts := make(map[float64]uint64, len(metricsBuckets))
	if s.hist == nil {
		return counts
	}
	bars := s.hist.Distribution()
	for _, bound := range metricsBuckets {
		limit := int64(bound * 1e6)
		var n uint64
		for _, bar := range bars {
			if bar.To > limit {
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
	registry := prometheus.NewRegistry()
	registry.MustRegister(newMetricsCollector(source))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
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
