package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// counts are the figures of one generator run: requests sent, failures
// among them, and the median and 99th percentile response times in
// milliseconds.
type counts struct {
	requests int64
	failures int64
	p50Ms    float64
	p99Ms    float64
}

var (
	wrkRequests   = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkPercentile = regexp.MustCompile(`(?m)^\s*(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkSocketErrs = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx     = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads the output of wrk 4.x run with --latency. Failures are the
// responses with a status other than 2xx or 3xx plus wrk's socket errors
// (connect, read, write and timeout), which wrk may leave out of its
// request count.
func parseWrk(output string) (counts, error) {
	m := wrkRequests.FindStringSubmatch(output)
	if m == nil {
		return counts{}, fmt.Errorf("wrk output has no %q line", "N requests in")
	}
	var c counts
	c.requests, _ = strconv.ParseInt(m[1], 10, 64)

	found := 0
	for _, p := range wrkPercentile.FindAllStringSubmatch(output, -1) {
		ms, err := wrkMillis(p[2], p[3])
		if err != nil {
			return counts{}, err
		}
		if p[1] == "50" {
			c.p50Ms = ms
		} else {
			c.p99Ms = ms
		}
		found++
	}
	if found != 2 {
		return counts{}, errors.New("wrk output has no 50% and 99% latency lines: run wrk with --latency")
	}

	if m := wrkSocketErrs.FindStringSubmatch(output); m != nil {
		for _, field := range m[1:] {
			n, _ := strconv.ParseInt(field, 10, 64)
			c.failures += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(output); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		c.failures += n
	}
	return c, nil
}

func wrkMillis(value, unit string) (float64, error) {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid wrk latency %q: %w", value+unit, err)
	}
	scale := map[string]float64{"us": 1e-3, "ms": 1, "s": 1e3, "m": 60e3, "h": 3600e3}[unit]
	return v * scale, nil
}

// parseBareLoop reads the JSON object that bench/cmd/bareloop prints.
func parseBareLoop(output string) (counts, error) {
	var out struct {
		Requests *int64  `json:"requests"`
		Failures int64   `json:"failures"`
		P50Ms    float64 `json:"p50_ms"`
		P99Ms    float64 `json:"p99_ms"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(output)), &out); err != nil {
		return counts{}, fmt.Errorf("invalid bareloop output %q: %w", output, err)
	}
	if out.Requests == nil {
		return counts{}, fmt.Errorf("bareloop output %q has no requests field", output)
	}
	return counts{requests: *out.Requests, failures: out.Failures, p50Ms: out.P50Ms, p99Ms: out.P99Ms}, nil
}

// readLocustStats reads the Aggregated row of a Locust <prefix>_stats.csv:
// "Request Count", "Failure Count", "50%" and "99%" (integer milliseconds,
// Locust's rounding). Percentiles are 0 when the row has "N/A".
func readLocustStats(path string) (counts, error) {
	f, err := os.Open(path)
	if err != nil {
		return counts{}, err
	}
	defer f.Close()
	return parseLocustStats(f)
}

func parseLocustStats(r io.Reader) (counts, error) {
	records, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return counts{}, fmt.Errorf("invalid Locust stats CSV: %w", err)
	}
	if len(records) < 2 {
		return counts{}, errors.New("Locust stats CSV has no rows")
	}
	column := make(map[string]int, len(records[0]))
	for i, name := range records[0] {
		column[name] = i
	}
	for _, name := range []string{"Name", "Request Count", "Failure Count", "50%", "99%"} {
		if _, ok := column[name]; !ok {
			return counts{}, fmt.Errorf("Locust stats CSV has no %q column", name)
		}
	}
	for _, row := range records[1:] {
		if len(row) != len(records[0]) || row[column["Name"]] != "Aggregated" {
			continue
		}
		var c counts
		if c.requests, err = strconv.ParseInt(row[column["Request Count"]], 10, 64); err != nil {
			return counts{}, fmt.Errorf("invalid Request Count in Locust stats CSV: %w", err)
		}
		if c.failures, err = strconv.ParseInt(row[column["Failure Count"]], 10, 64); err != nil {
			return counts{}, fmt.Errorf("invalid Failure Count in Locust stats CSV: %w", err)
		}
		c.p50Ms, _ = strconv.ParseFloat(row[column["50%"]], 64)
		c.p99Ms, _ = strconv.ParseFloat(row[column["99%"]], 64)
		return c, nil
	}
	return counts{}, errors.New("Locust stats CSV has no Aggregated row")
}
