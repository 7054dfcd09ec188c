package boomer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// nameWidth is the width of the Type and Name columns of console tables;
// longer names are cut.
const (
	typeWidth = 8
	nameWidth = 40
)

// formatMs formats a time in milliseconds with a precision that suits its
// size.
func formatMs(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.0f", ms)
	}
}

// cut shortens s to width runes, marking the cut with an ellipsis.
func cut(s string, width int) string {
	runes := []rune(s)
	if len(runes) <= width {
		return s
	}
	return string(runes[:width-1]) + "…"
}

// printLive prints the live table and the progress line.
func (r *standaloneRun) printLive() {
	r.fold()
	view := r.stats.view()
	w := r.b.stdout
	writeLiveTable(w, view)
	fmt.Fprintln(w, r.progressLine())
	fmt.Fprintln(w)
}

// progressLine returns the elapsed and remaining time and the users.
func (r *standaloneRun) progressLine() string {
	elapsed := time.Since(r.start).Round(time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, "elapsed %s", elapsed)
	if r.cfg.RunTime > 0 {
		fmt.Fprintf(&b, ", remaining %s", max(r.cfg.RunTime-elapsed, 0))
	}
	if r.arrival != nil {
		fmt.Fprintf(&b, ", %d tasks in flight (max %d), %g starts/s", r.arrival.inFlight(), r.cfg.MaxInFlight, r.cfg.ArrivalRate)
	} else {
		fmt.Fprintf(&b, ", users %d (%d of %d started)", r.users(), r.spawned.Load(), len(r.spawnOrder))
	}
	if r.cfg.Iterations > 0 {
		fmt.Fprintf(&b, ", %d iterations per user", r.cfg.Iterations)
	}
	return b.String()
}

// writeLiveTable writes one row per request name: requests, failures,
// median, p95, p99, average, min and max in milliseconds, and the current
// rates.
func writeLiveTable(w io.Writer, view statsView) {
	header := fmt.Sprintf("%-*s %-*s %8s %8s | %7s %7s %7s %7s %7s %7s | %8s %8s",
		typeWidth, "Type", nameWidth, "Name", "# reqs", "# fails", "Med", "95%", "99%", "Avg", "Min", "Max", "req/s", "fails/s")
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, strings.Repeat("-", len(header)))
	row := func(r statsRow) {
		fmt.Fprintf(w, "%-*s %-*s %8d %8d | %7s %7s %7s %7s %7s %7s | %8.2f %8.2f\n",
			typeWidth, cut(r.Method, typeWidth), nameWidth, cut(r.Name, nameWidth), r.Requests, r.Failures,
			formatMs(r.MedianMs), formatMs(percentileOf(r, 0.95)), formatMs(percentileOf(r, 0.99)),
			formatMs(r.AverageMs), formatMs(r.MinMs), formatMs(r.MaxMs), r.CurrentRPS, r.CurrentFailPerS)
	}
	for _, r := range view.Rows {
		row(r)
	}
	fmt.Fprintln(w, strings.Repeat("-", len(header)))
	row(view.Total)
}

// percentileOf returns the row's value of one of reportPercentiles.
func percentileOf(r statsRow, q float64) float64 {
	for i, p := range reportPercentiles {
		if p == q && i < len(r.PercentilesMs) {
			return r.PercentilesMs[i]
		}
	}
	return 0
}

// printSummary prints the final statistics, the percentiles, the failures
// and, in the open model, the start lateness.
func (r *standaloneRun) printSummary(w io.Writer) {
	view := r.stats.view()
	duration := time.Since(r.start).Round(time.Millisecond)
	fmt.Fprintf(w, "\nSummary: %d requests, %d failures in %s\n\n", view.Total.Requests, view.Total.Failures, duration)

	header := fmt.Sprintf("%-*s %-*s %8s %14s | %7s %7s %7s %7s | %8s %10s",
		typeWidth, "Type", nameWidth, "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s")
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, strings.Repeat("-", len(header)))
	row := func(s statsRow) {
		failPercent := 0.0
		if s.Requests > 0 {
			failPercent = 100 * float64(s.Failures) / float64(s.Requests)
		}
		fmt.Fprintf(w, "%-*s %-*s %8d %14s | %7s %7s %7s %7s | %8.2f %10.2f\n",
			typeWidth, cut(s.Method, typeWidth), nameWidth, cut(s.Name, nameWidth), s.Requests,
			fmt.Sprintf("%d(%.2f%%)", s.Failures, failPercent),
			formatMs(s.AverageMs), formatMs(s.MinMs), formatMs(s.MaxMs), formatMs(s.MedianMs), s.TotalRPS, s.TotalFailPerSec)
	}
	for _, s := range view.Rows {
		row(s)
	}
	fmt.Fprintln(w, strings.Repeat("-", len(header)))
	row(view.Total)

	fmt.Fprintf(w, "\nResponse time percentiles in ms (HDR histogram, %d significant digits)\n", histogramDigits)
	labels := percentileLabels()
	var hb strings.Builder
	fmt.Fprintf(&hb, "%-*s %-*s %8s", typeWidth, "Type", nameWidth, "Name", "# reqs")
	for _, label := range labels {
		fmt.Fprintf(&hb, " %8s", label)
	}
	fmt.Fprintln(w, hb.String())
	fmt.Fprintln(w, strings.Repeat("-", hb.Len()))
	percentileRow := func(s statsRow) {
		fmt.Fprintf(w, "%-*s %-*s %8d", typeWidth, cut(s.Method, typeWidth), nameWidth, cut(s.Name, nameWidth), s.Requests)
		for _, v := range s.PercentilesMs {
			fmt.Fprintf(w, " %8s", formatMs(v))
		}
		fmt.Fprintln(w)
	}
	for _, s := range view.Rows {
		percentileRow(s)
	}
	fmt.Fprintln(w, strings.Repeat("-", hb.Len()))
	percentileRow(view.Total)

	if len(view.Errors) > 0 {
		fmt.Fprintln(w, "\nError report")
		fmt.Fprintf(w, "%12s  %s\n", "# occurrences", "Error")
		for _, e := range view.Errors {
			fmt.Fprintf(w, "%12d  %s %s: %s\n", e.Occurrences, e.Method, e.Name, e.Error)
		}
	}
	if r.arrival != nil {
		l := r.arrival.report()
		fmt.Fprintf(w, "\nOpen model: %d starts at %g/s, %d waited for a free slot (max %d in flight)\n",
			l.Starts, l.TargetRate, l.LateStarts, l.MaxInFlight)
		fmt.Fprintf(w, "Start lateness in ms: p50 %s, p95 %s, p99 %s, max %s, mean %s\n",
			formatMs(l.P50Ms), formatMs(l.P95Ms), formatMs(l.P99Ms), formatMs(l.MaxMs), formatMs(l.MeanMs))
	}
	fmt.Fprintln(w)
}

// percentileLabels returns Locust's column names of reportPercentiles,
// such as "50%" and "99.9%" (get_readable_percentiles, Locust 2.47.0).
func percentileLabels() []string {
	labels := make([]string, len(reportPercentiles))
	for i, q := range reportPercentiles {
		labels[i] = strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.6f", q*100), "0"), ".") + "%"
	}
	return labels
}
