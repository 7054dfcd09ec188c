package boomer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"
)

// Column names of Locust's CSV files (locust/stats.py, StatsCSV and
// StatsCSVFileWriter, Locust 2.47.0). In both the stats and the history
// file, the percentile columns follow the "Failures/s" column.
var (
	csvStatsColumns = []string{"Type", "Name", "Request Count", "Failure Count", "Median Response Time",
		"Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
		"Requests/s", "Failures/s"}
	csvFailuresColumns      = []string{"Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"}
	csvExceptionsColumns    = []string{"Count", "Message", "Traceback", "Nodes"}
	csvHistoryColumnsBefore = []string{"Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"}
	csvHistoryColumnsAfter  = []string{"Total Request Count", "Total Failure Count", "Total Median Response Time",
		"Total Average Response Time", "Total Min Response Time", "Total Max Response Time", "Total Average Content Size"}
)

// writeFiles writes the CSV files, the JSON report and the HTML report
// that the configuration requests, and returns every error.
func (r *standaloneRun) writeFiles() error {
	view := r.stats.view()
	history := r.historyCopy()
	var errs []error
	if prefix := r.cfg.CSVPrefix; prefix != "" {
		errs = append(errs,
			writeCSV(prefix+"_stats.csv", statsCSVRecords(view)),
			writeCSV(prefix+"_failures.csv", failuresCSVRecords(view)),
			writeCSV(prefix+"_exceptions.csv", r.exceptionsCSVRecords()),
			writeCSV(prefix+"_stats_history.csv", historyCSVRecords(history)))
	}
	if r.cfg.JSONFile != "" {
		errs = append(errs, r.writeJSON(r.cfg.JSONFile, view, history))
	}
	if r.cfg.HTMLFile != "" {
		errs = append(errs, r.writeHTML(r.cfg.HTMLFile, view, history))
	}
	for _, err := range errs {
		if err != nil {
			r.log.Error("writing a report failed", "error", err)
		}
	}
	return errors.Join(errs...)
}

// checkReportPaths creates the report files a run will write, so that a
// missing directory fails the run at its start rather than at its end.
func checkReportPaths(cfg Config) error {
	type file struct{ flag, path string }
	var files []file
	if cfg.CSVPrefix != "" {
		for _, suffix := range []string{"_stats.csv", "_failures.csv", "_exceptions.csv", "_stats_history.csv"} {
			files = append(files, file{"--csv", cfg.CSVPrefix + suffix})
		}
	}
	if cfg.JSONFile != "" {
		files = append(files, file{"--json", cfg.JSONFile})
	}
	if cfg.HTMLFile != "" {
		files = append(files, file{"--html", cfg.HTMLFile})
	}
	for _, f := range files {
		handle, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("invalid %s: cannot write %s: %w; check that the directory exists and is writable", f.flag, f.path, err)
		}
		handle.Close()
	}
	return nil
}

func writeCSV(path string, records [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write CSV file: %w", err)
	}
	w := csv.NewWriter(f)
	// Python's csv module, which Locust uses, ends rows with \r\n.
	w.UseCRLF = true
	if err := w.WriteAll(records); err != nil {
		f.Close()
		return fmt.Errorf("write CSV file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write CSV file %s: %w", path, err)
	}
	return nil
}

func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// percentileFields returns a row's percentile columns, "N/A" without
// requests as in Locust.
func percentileFields(row statsRow) []string {
	fields := make([]string, len(reportPercentiles))
	for i := range fields {
		if row.Requests == 0 {
			fields[i] = "N/A"
		} else {
			fields[i] = formatNumber(row.PercentilesMs[i])
		}
	}
	return fields
}

// statsCSVRecords returns Locust's _stats.csv: one row per request name
// and the Aggregated row, with times in milliseconds.
func statsCSVRecords(view statsView) [][]string {
	records := [][]string{append(append([]string(nil), csvStatsColumns...), percentileLabels()...)}
	for _, row := range append(append([]statsRow(nil), view.Rows...), view.Total) {
		record := []string{
			row.Method, row.Name,
			strconv.FormatInt(row.Requests, 10), strconv.FormatInt(row.Failures, 10),
			formatNumber(row.MedianMs), formatNumber(row.AverageMs),
			formatNumber(row.MinMs), formatNumber(row.MaxMs), formatNumber(row.AverageBytes),
			formatNumber(row.TotalRPS), formatNumber(row.TotalFailPerSec),
		}
		records = append(records, append(record, percentileFields(row)...))
	}
	return records
}

// failuresCSVRecords returns Locust's _failures.csv, with UTC timestamps in
// Locust's format.
func failuresCSVRecords(view statsView) [][]string {
	records := [][]string{csvFailuresColumns}
	for _, e := range view.Errors {
		records = append(records, []string{
			e.Method, e.Name, e.Error, strconv.FormatInt(e.Occurrences, 10),
			e.FirstSeen.Format("2006-01-02T15:04:05Z"), e.LastSeen.Format("2006-01-02T15:04:05Z"),
		})
	}
	return records
}

// exceptionsCSVRecords returns Locust's _exceptions.csv: one row per task
// panic message and traceback, most frequent first.
func (r *standaloneRun) exceptionsCSVRecords() [][]string {
	r.exceptionsMu.Lock()
	defer r.exceptionsMu.Unlock()
	reports := make([]panicReport, 0, len(r.exceptions))
	for report := range r.exceptions {
		reports = append(reports, report)
	}
	sort.Slice(reports, func(i, j int) bool {
		if r.exceptions[reports[i]] != r.exceptions[reports[j]] {
			return r.exceptions[reports[i]] > r.exceptions[reports[j]]
		}
		return reports[i].message < reports[j].message
	})
	records := [][]string{csvExceptionsColumns}
	for _, report := range reports {
		records = append(records, []string{
			strconv.FormatInt(r.exceptions[report], 10), report.message, report.traceback, r.b.nodeID,
		})
	}
	return records
}

// historyCSVRecords returns Locust's _stats_history.csv without
// --csv-full-history: one Aggregated row per sample, with cumulative
// percentiles and Locust's current rates.
func historyCSVRecords(history []historySample) [][]string {
	header := append(append([]string(nil), csvHistoryColumnsBefore...), percentileLabels()...)
	records := [][]string{append(header, csvHistoryColumnsAfter...)}
	for _, s := range history {
		row := s.Total
		record := []string{
			strconv.FormatInt(s.Time.Unix(), 10), strconv.FormatInt(s.Users, 10), "", "Aggregated",
			fmt.Sprintf("%f", s.RPS), fmt.Sprintf("%f", s.FailPerSec),
		}
		record = append(record, percentileFields(row)...)
		record = append(record,
			strconv.FormatInt(row.Requests, 10), strconv.FormatInt(row.Failures, 10),
			formatNumber(row.MedianMs), formatNumber(row.AverageMs), formatNumber(row.MinMs),
			formatNumber(row.MaxMs), formatNumber(row.AverageBytes))
		records = append(records, record)
	}
	return records
}

// jsonReport is the JSON report of a standalone run. Times are in
// milliseconds, rates per second.
type jsonReport struct {
	StartTime  time.Time         `json:"start_time"`
	EndTime    time.Time         `json:"end_time"`
	DurationS  float64           `json:"duration_s"`
	Users      int               `json:"users"`
	SpawnRate  float64           `json:"spawn_rate"`
	Iterations int               `json:"iterations_per_user"`
	Stats      []jsonRow         `json:"stats"`
	Total      jsonRow           `json:"total"`
	Errors     []errorRow        `json:"errors"`
	Exceptions []jsonException   `json:"exceptions"`
	History    []jsonSample      `json:"history"`
	OpenModel  *latenessReport   `json:"open_model,omitempty"`
	Meta       map[string]string `json:"meta"`
}

// jsonException is a task panic and how often it happened.
type jsonException struct {
	Count     int64  `json:"count"`
	Message   string `json:"msg"`
	Traceback string `json:"traceback"`
}

type jsonRow struct {
	statsRow
	Percentiles map[string]float64 `json:"percentiles_ms"`
}

type jsonSample struct {
	Time          time.Time `json:"time"`
	Users         int64     `json:"users"`
	CurrentRPS    float64   `json:"current_rps"`
	CurrentFailPS float64   `json:"current_fail_per_sec"`
	P50Ms         float64   `json:"interval_p50_ms"`
	P95Ms         float64   `json:"interval_p95_ms"`
	P99Ms         float64   `json:"interval_p99_ms"`
	Requests      int64     `json:"total_requests"`
	Failures      int64     `json:"total_failures"`
}

func newJSONRow(row statsRow) jsonRow {
	out := jsonRow{statsRow: row, Percentiles: make(map[string]float64, len(reportPercentiles))}
	for i, label := range percentileLabels() {
		out.Percentiles[label] = row.PercentilesMs[i]
	}
	return out
}

func (r *standaloneRun) writeJSON(path string, view statsView, history []historySample) error {
	report := jsonReport{
		StartTime:  r.start.UTC(),
		EndTime:    time.Now().UTC(),
		DurationS:  time.Since(r.start).Seconds(),
		Users:      r.cfg.Users,
		SpawnRate:  r.cfg.SpawnRate,
		Iterations: r.cfg.Iterations,
		Stats:      []jsonRow{},
		Total:      newJSONRow(view.Total),
		Errors:     append([]errorRow{}, view.Errors...),
		History:    []jsonSample{},
		Meta: map[string]string{
			"percentiles": fmt.Sprintf("HDR histogram, %d significant digits; 100%% is the exact maximum", histogramDigits),
			"current_rps": "mean of the per-second counts from 12 s to 2 s before the last request, as Locust computes it",
		},
	}
	for _, row := range view.Rows {
		report.Stats = append(report.Stats, newJSONRow(row))
	}
	report.Exceptions = []jsonException{}
	for _, record := range r.exceptionsCSVRecords()[1:] {
		count, _ := strconv.ParseInt(record[0], 10, 64)
		report.Exceptions = append(report.Exceptions, jsonException{Count: count, Message: record[1], Traceback: record[2]})
	}
	for _, s := range history {
		report.History = append(report.History, jsonSample{
			Time: s.Time.UTC(), Users: s.Users, CurrentRPS: s.RPS, CurrentFailPS: s.FailPerSec,
			P50Ms: s.IntervalP50Ms, P95Ms: s.IntervalP95Ms, P99Ms: s.IntervalP99Ms,
			Requests: s.Total.Requests, Failures: s.Total.Failures,
		})
	}
	if r.arrival != nil {
		l := r.arrival.report()
		report.OpenModel = &l
	}
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
