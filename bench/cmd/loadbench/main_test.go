package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseWrkLatencyOutput(t *testing.T) {
	data, err := os.ReadFile("testdata/wrk-latency.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseWrk(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if c.requests != 27869 {
		t.Errorf("requests = %d, want 27869", c.requests)
	}
	if c.failures != 0 {
		t.Errorf("failures = %d, want 0", c.failures)
	}
	if c.p50Ms != 1.79 {
		t.Errorf("p50 = %v ms, want 1.79", c.p50Ms)
	}
	if c.p99Ms != 165.77 {
		t.Errorf("p99 = %v ms, want 165.77", c.p99Ms)
	}
}

func TestParseWrkErrorsAndUnits(t *testing.T) {
	output := `  Latency Distribution
     50%  593.00us
     75%  689.00us
     90%  809.00us
     99%    1.23s
  800650 requests in 10.00s, 120.39MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  80045.31
`
	c, err := parseWrk(output)
	if err != nil {
		t.Fatal(err)
	}
	if c.requests != 800650 {
		t.Errorf("requests = %d, want 800650", c.requests)
	}
	if c.failures != 22 {
		t.Errorf("failures = %d, want 10 socket errors + 12 statuses = 22", c.failures)
	}
	if c.p50Ms != 0.593 {
		t.Errorf("p50 = %v ms, want 0.593", c.p50Ms)
	}
	if c.p99Ms != 1230 {
		t.Errorf("p99 = %v ms, want 1230", c.p99Ms)
	}
}

func TestParseWrkWithoutLatency(t *testing.T) {
	_, err := parseWrk("  100 requests in 1.00s, 1MB read\n")
	if err == nil || !strings.Contains(err.Error(), "--latency") {
		t.Errorf("error = %v, want one that asks for --latency", err)
	}
}

func TestParseLocustStatsAggregated(t *testing.T) {
	c, err := readLocustStats("testdata/locust_stats.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := counts{requests: 49388, failures: 0, p50Ms: 1, p99Ms: 6}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
}

func TestParseLocustStatsNoRequests(t *testing.T) {
	csv := "Type,Name,Request Count,Failure Count,50%,99%\n,Aggregated,0,0,N/A,N/A\n"
	c, err := parseLocustStats(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if c != (counts{}) {
		t.Errorf("counts = %+v, want zero", c)
	}
}

func TestParseLocustStatsMissingColumn(t *testing.T) {
	_, err := parseLocustStats(strings.NewReader("Type,Name,Request Count\n,Aggregated,5\n"))
	if err == nil || !strings.Contains(err.Error(), "Failure Count") {
		t.Errorf("error = %v, want one naming the missing column", err)
	}
}

func TestParseBareLoopOutput(t *testing.T) {
	c, err := parseBareLoop(`{"requests":120,"failures":3,"seconds":2.0,"p50_ms":0.5,"p99_ms":2.25}` + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := counts{requests: 120, failures: 3, p50Ms: 0.5, p99Ms: 2.25}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
	if _, err := parseBareLoop(`{"failures":3}`); err == nil {
		t.Error("output without requests parsed without error")
	}
}

func TestParseMachineCPU(t *testing.T) {
	stat := "cpu  203425 46 47175 216285 706 0 6166 90 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
	m, err := parseMachineCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	totalTicks := int64(203425 + 46 + 47175 + 216285 + 706 + 0 + 6166 + 90)
	if want := time.Duration(totalTicks) * 10 * time.Millisecond; m.total != want {
		t.Errorf("total = %v, want %v", m.total, want)
	}
	if want := time.Duration(216285+706) * 10 * time.Millisecond; m.idle != want {
		t.Errorf("idle = %v, want %v", m.idle, want)
	}
}

func TestParseProcessStatSpacesInName(t *testing.T) {
	stat := "29460 (nginx: worker) R 29453 29453 21813 0 -1 4194304 103 0 0 0 250 30 0 0 20 0 1 0 239692"
	cpu, parent, err := parseProcessStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if parent != 29453 {
		t.Errorf("parent = %d, want 29453", parent)
	}
	if want := 280 * 10 * time.Millisecond; cpu != want {
		t.Errorf("cpu = %v, want %v", cpu, want)
	}
}

func TestProcessTreeCPUOfSelf(t *testing.T) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	cpu, err := processTreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 {
		t.Errorf("cpu = %v after 50 ms of busy loop, want more than 0", cpu)
	}
}

func TestMedianAndThousands(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median of 5, 1, 3 = %v, want 3", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4, 1, 3, 2 = %v, want 2.5", got)
	}
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 66123.4: "66,123", 1234567: "1,234,567"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestParseOptionsRejectsBadValues(t *testing.T) {
	cases := map[string][]string{
		"--rounds":     {"--rounds", "0"},
		"--duration":   {"--duration", "1500ms"},
		"--users":      {"--users", "0"},
		"different":    {"--target-cpu", "1", "--generator-cpu", "1"},
		"--quiet-idle": {"--quiet-idle", "2"},
		"unknown":      {"--generators", "wrk,ab"},
		"--max-other":  {"--max-other-cpu", "-1"},
		"--paired":     {"--paired-rounds", "-1"},
	}
	for want, args := range cases {
		_, err := parseOptions(args)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseOptions(%q) error = %v, want one containing %q", args, err, want)
		}
	}
}

func TestSummarizeUsesKeptRuns(t *testing.T) {
	g := generators[0]
	runs := []runResult{
		{generator: g, counts: counts{requests: 100}, cpu: time.Second, kept: true},
		{generator: g, counts: counts{requests: 300}, cpu: time.Second, kept: true},
		{generator: g, counts: counts{requests: 900}, cpu: time.Second, kept: false},
	}
	s := summarize(g, runs)
	if s.kept != 2 || s.discarded != 1 || s.allRuns {
		t.Errorf("kept %d, discarded %d, allRuns %v; want 2, 1, false", s.kept, s.discarded, s.allRuns)
	}
	if s.median != 200 {
		t.Errorf("median = %v, want 200 from the kept runs only", s.median)
	}

	for i := range runs {
		runs[i].kept = false
	}
	s = summarize(g, runs)
	if !s.allRuns || s.median != 300 {
		t.Errorf("with no run kept: allRuns %v, median %v; want true, 300", s.allRuns, s.median)
	}
}

func TestBuildReportRatiosOfFastHTTPRow(t *testing.T) {
	selected, err := selectGenerators("wrk,bare,fasthttp")
	if err != nil {
		t.Fatal(err)
	}
	wrk, bare, fast := selected[0], selected[1], selected[2]
	runs := []runResult{
		{generator: wrk, counts: counts{requests: 1000}, cpu: time.Second, kept: true},
		{generator: bare, counts: counts{requests: 400}, cpu: time.Second, kept: true},
		{generator: fast, counts: counts{requests: 600}, cpu: time.Second, kept: true},
	}

	report := buildReport(options{rounds: 1, duration: time.Second, users: 1, genCPU: 1}, runs, selected, nil)

	var row string
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "| "+fast.label+" |") {
			row = line
		}
	}
	if row == "" {
		t.Fatalf("no row for %q in the report:\n%s", fast.label, report)
	}
	// 600 of wrk's 1,000 and of the bare loop's 400 requests per CPU-second.
	if !strings.Contains(row, "| 600 | 600 – 600 | 0.60 | 1.50 |") {
		t.Errorf("fasthttp row %q lacks the median 600 and the ratios 0.60 to wrk and 1.50 to the bare loop", row)
	}
}

func TestPairedRatiosFollowRounds(t *testing.T) {
	selected, err := selectGenerators("wrk,bare,worker")
	if err != nil {
		t.Fatal(err)
	}
	wrk, bare, worker := selected[0], selected[1], selected[2]
	run := func(g generator, round int, requests int64, kept bool) runResult {
		return runResult{generator: g, round: round, counts: counts{requests: requests}, cpu: time.Second, kept: kept}
	}
	// The machine runs twice as fast in round 1 as in round 0; the worker
	// sends 0.9 of the bare loop's rate in both rounds, while the ratio of
	// the medians mixes the rounds. Round 2's worker run is discarded, so
	// that round is left out of the worker's ratios.
	runs := []runResult{
		run(wrk, 0, 1000, true), run(bare, 0, 400, true), run(worker, 0, 360, true),
		run(wrk, 1, 2000, true), run(bare, 1, 800, true), run(worker, 1, 720, true),
		run(wrk, 2, 1500, true), run(bare, 2, 500, true), run(worker, 2, 100, false),
	}
	report := buildReport(options{rounds: 3, duration: time.Second, users: 1, genCPU: 1}, runs, selected, nil)

	var row string
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "| "+worker.label+" |") {
			row = line
		}
	}
	if row == "" {
		t.Fatalf("no row for %q in the report:\n%s", worker.label, report)
	}
	// Median of the worker's kept runs: 540; of the bare loop's: 500; of
	// wrk's: 1,500. By round: 0.36 of wrk and 0.90 of the bare loop.
	if !strings.Contains(row, "| 540 | 360 – 720 | 0.36 | 1.08 | 0.36 | 0.90 |") {
		t.Errorf("worker row %q lacks the ratios of medians 0.36 and 1.08 and the ratios by round 0.36 and 0.90", row)
	}
}

func TestReportOfPairedRounds(t *testing.T) {
	pair := func(round int, bare, worker int64, kept bool) pairedRun {
		return pairedRun{
			round:  round,
			bare:   runResult{generator: generatorNamed("bare"), counts: counts{requests: bare}, cpu: time.Second},
			worker: runResult{generator: generatorNamed("worker"), counts: counts{requests: worker}, cpu: 2 * time.Second},
			kept:   kept,
		}
	}
	// The worker gets twice the bare loop's CPU time in every round. The
	// fourth round is discarded, so its ratio of 0.5 is left out of the
	// median, and the fifth failed.
	pairs := []pairedRun{
		pair(0, 1000, 1900, true),
		pair(1, 2000, 3900, true),
		pair(2, 1500, 2850, true),
		pair(3, 1000, 1000, false),
	}
	failed := pair(4, 0, 0, false)
	failed.bare.err = errors.New("not run, because the worker ended before its users started")
	pairs = append(pairs, failed)

	report := buildReport(options{rounds: 1, duration: time.Second, users: 1, genCPU: 1}, nil, nil, pairs)

	if !strings.Contains(report, "Worker / bare loop: median 0.950 of 3 kept round(s), 0.950 – 0.975.") {
		t.Errorf("report lacks the median 0.950 of the three kept rounds:\n%s", report)
	}
	if !strings.Contains(report, "| 2 | 2,000 | 1,950 | 0.97 | 0% | not checked | kept |") {
		t.Errorf("report lacks round 2's row with 2,000 and 1,950 requests per CPU-second:\n%s", report)
	}
	if !strings.Contains(report, "| 4 | 1,000 | 500 | 0.50 | 0% | not checked | discarded |") {
		t.Errorf("report lacks round 4's row, discarded:\n%s", report)
	}
	if !strings.Contains(report, "failed: not run, because the worker ended before its users started |") {
		t.Errorf("report lacks round 5's failure:\n%s", report)
	}
}

func TestWatchLogSeesAppendedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.log")
	if err := os.WriteFile(path, []byte("worker starting\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	found := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go watchLog(path, testStartLine, found, stop)

	select {
	case <-found:
		t.Fatal("watchLog reported the line before it was written")
	case <-time.After(100 * time.Millisecond):
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("level=INFO msg=\"test starting\" targets=map[User:50]\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	select {
	case <-found:
	case <-time.After(10 * time.Second):
		t.Fatal("watchLog did not report the appended line within 10 s")
	}
}

func TestWatchLogStopsWithoutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.log")
	found := make(chan struct{})
	stop := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		watchLog(path, testStartLine, found, stop)
		close(returned)
	}()
	close(stop)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("watchLog still runs 10 s after stop was closed")
	}
	select {
	case <-found:
		t.Error("watchLog reported a line that no file contains")
	default:
	}
}
