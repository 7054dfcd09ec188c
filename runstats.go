package boomer

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// reportPercentiles are the percentiles of the summary, the CSV files and
// the JSON report: Locust's PERCENTILES_TO_REPORT (locust/stats.py, Locust
// 2.47.0).
var reportPercentiles = []float64{0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0}

// Locust's current rate window (StatsEntry.current_rps, Locust 2.47.0): the
// mean of the per-second counts from 12 s before the last request to 2 s
// before it, the last two seconds being still incomplete.
const (
	currentRateWindowStart = 12
	currentRateWindowEnd   = 2
	// keptSeconds is how many per-second counts runStats keeps per row.
	keptSeconds = currentRateWindowStart + 8
)

// runStats accumulates the reports of one run into cumulative rows, as a
// Locust master does with the reports of its workers, and adds an HDR
// histogram per row. It is safe for concurrent use.
type runStats struct {
	mu sync.Mutex
	// start is the Unix time (s) the run started, Locust's stats.start_time.
	start float64
	// lastRequest is the Unix time (s) of the last request of any row,
	// Locust's stats.last_request_timestamp; 0 before the first.
	lastRequest float64
	rows        map[requestKey]*requestStats
	total       *requestStats
	errors      map[errorKey]*errorStats
}

// maxRunRows is the maximum number of request rows, and of error rows, in
// a run's cumulative statistics. Each request row holds an HDR
// histogram, so names that are unique per request would otherwise make a
// standalone run, or a worker with the metrics endpoint, grow without
// limit. Further new keys are added to an overflow row.
const maxRunRows = 1000

// Names of the overflow rows of a run's cumulative statistics.
var (
	overflowRunRequestName = fmt.Sprintf("(other names: more than %d in the run)", maxRunRows)
	overflowRunErrorText   = fmt.Sprintf("(other errors: more than %d distinct in the run)", maxRunRows)
)

func newRunStats(start time.Time) *runStats {
	return &runStats{
		start:  unixSeconds(start),
		rows:   make(map[requestKey]*requestStats),
		total:  newRunRow(),
		errors: make(map[errorKey]*errorStats),
	}
}

func newRunRow() *requestStats {
	s := newRequestStats()
	s.hist = newHistogram()
	return s
}

// add merges one report interval. It returns a histogram of the interval's
// response times over all rows, which the caller owns, or nil when the
// interval recorded nothing.
func (r *runStats) add(snap statsSnapshot) *hdrhistogram.Histogram {
	var interval *hdrhistogram.Histogram
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, s := range snap.requests {
		row := r.rows[key]
		if row == nil && len(r.rows) >= maxRunRows {
			key = requestKey{method: key.method, name: overflowRunRequestName}
			row = r.rows[key]
		}
		if row == nil {
			row = newRunRow()
			r.rows[key] = row
		}
		row.merge(s)
		r.total.merge(s)
		if s.hist != nil {
			if interval == nil {
				interval = newHistogram()
			}
			interval.Merge(s.hist)
		}
		r.lastRequest = math.Max(r.lastRequest, s.lastRequestTime)
		pruneSeconds(row, r.lastRequest)
	}
	pruneSeconds(r.total, r.lastRequest)
	for key, e := range snap.errors {
		dst := r.errors[key]
		if dst == nil && len(r.errors) >= maxRunRows {
			key = errorKey{method: key.method, name: overflowRunRequestName, text: overflowRunErrorText}
			dst = r.errors[key]
		}
		if dst == nil {
			copied := *e
			r.errors[key] = &copied
			continue
		}
		dst.occurrences += e.occurrences
		dst.firstSeen = math.Min(dst.firstSeen, e.firstSeen)
		dst.lastSeen = math.Max(dst.lastSeen, e.lastSeen)
	}
	return interval
}

// pruneSeconds drops per-second counts that no current rate reads any more.
func pruneSeconds(s *requestStats, last float64) {
	oldest := int64(last) - keptSeconds
	for second := range s.requestsPerSecond {
		if second < oldest {
			delete(s.requestsPerSecond, second)
		}
	}
	for second := range s.failuresPerSecond {
		if second < oldest {
			delete(s.failuresPerSecond, second)
		}
	}
}

// statsRow is one row of a report, computed from the cumulative statistics.
// Times are in milliseconds and rates in requests per second.
type statsRow struct {
	Method          string    `json:"method"`
	Name            string    `json:"name"`
	Requests        int64     `json:"num_requests"`
	Failures        int64     `json:"num_failures"`
	MedianMs        float64   `json:"median_response_time"`
	AverageMs       float64   `json:"avg_response_time"`
	MinMs           float64   `json:"min_response_time"`
	MaxMs           float64   `json:"max_response_time"`
	AverageBytes    float64   `json:"avg_content_length"`
	TotalRPS        float64   `json:"total_rps"`
	TotalFailPerSec float64   `json:"total_fail_per_sec"`
	CurrentRPS      float64   `json:"current_rps"`
	CurrentFailPerS float64   `json:"current_fail_per_sec"`
	PercentilesMs   []float64 `json:"-"`
}

// errorRow is one row of the failure table.
type errorRow struct {
	Method      string    `json:"method"`
	Name        string    `json:"name"`
	Error       string    `json:"error"`
	Occurrences int64     `json:"occurrences"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
}

// statsView is the state of the run at one moment: its rows sorted by name
// then method, the "Aggregated" total and the failures.
type statsView struct {
	Rows   []statsRow
	Total  statsRow
	Errors []errorRow
}

// view computes the report rows.
func (r *runStats) view() statsView {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]requestKey, 0, len(r.rows))
	for key := range r.rows {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].method < keys[j].method
	})
	var v statsView
	for _, key := range keys {
		v.Rows = append(v.Rows, r.row(key, r.rows[key]))
	}
	v.Total = r.row(requestKey{name: "Aggregated"}, r.total)

	for key, e := range r.errors {
		v.Errors = append(v.Errors, errorRow{
			Method:      key.method,
			Name:        key.name,
			Error:       key.text,
			Occurrences: e.occurrences,
			FirstSeen:   unixTime(e.firstSeen),
			LastSeen:    unixTime(e.lastSeen),
		})
	}
	sort.Slice(v.Errors, func(i, j int) bool {
		a, b := v.Errors[i], v.Errors[j]
		if a.Occurrences != b.Occurrences {
			return a.Occurrences > b.Occurrences
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Error < b.Error
	})
	return v
}

// totals returns the request and failure counts of the Aggregated row.
func (r *runStats) totals() (requests, failures int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total.numRequests, r.total.numFailures
}

// row computes one report row. The caller holds r.mu.
func (r *runStats) row(key requestKey, s *requestStats) statsRow {
	row := statsRow{
		Method:          key.method,
		Name:            key.name,
		Requests:        s.numRequests,
		Failures:        s.numFailures,
		MaxMs:           s.maxResponseTime,
		CurrentRPS:      currentRate(s.requestsPerSecond, r.lastRequest, r.start),
		CurrentFailPerS: currentRate(s.failuresPerSecond, r.lastRequest, r.start),
	}
	if s.hasMin {
		row.MinMs = s.minResponseTime
	}
	if s.numRequests > 0 {
		row.AverageMs = s.totalResponseTime / float64(s.numRequests)
		row.AverageBytes = float64(s.totalContentLength) / float64(s.numRequests)
	}
	if elapsed := r.lastRequest - r.start; r.lastRequest > 0 && elapsed > 0 {
		row.TotalRPS = float64(s.numRequests) / elapsed
		row.TotalFailPerSec = float64(s.numFailures) / elapsed
	}
	row.MedianMs = min(percentileMs(s.hist, 0.5), s.maxResponseTime)
	row.PercentilesMs = make([]float64, len(reportPercentiles))
	for i, q := range reportPercentiles {
		if q == 1 {
			// The exact maximum, not the top of its histogram bucket.
			row.PercentilesMs[i] = s.maxResponseTime
			continue
		}
		// The top of a histogram bucket can exceed the exact maximum.
		row.PercentilesMs[i] = min(percentileMs(s.hist, q), s.maxResponseTime)
	}
	return row
}

// currentRate returns Locust's current rate of a row (StatsEntry.current_rps
// and current_fail_per_sec, Locust 2.47.0). That is the mean of the
// per-second counts from max(last-12, start) up to, not including, last-2.
// Here last is the Unix second of the run's last request and start the
// run's start. It is 0 before the first request and while that range is
// empty.
func currentRate(perSecond map[int64]int64, last, start float64) float64 {
	if last == 0 {
		return 0
	}
	from := max(int64(last)-currentRateWindowStart, int64(start))
	to := int64(last) - currentRateWindowEnd
	if to <= from {
		return 0
	}
	var sum int64
	for second := from; second < to; second++ {
		sum += perSecond[second]
	}
	return float64(sum) / float64(to-from)
}

func unixTime(seconds float64) time.Time {
	return time.Unix(0, int64(seconds*1e9)).UTC()
}
