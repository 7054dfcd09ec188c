package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// summary is the figures of one generator over the runs used.
type summary struct {
	generator generator
	kept      int
	discarded int
	failed    int
	allRuns   bool // no run was kept, so the figures use every run that did not fail
	median    float64
	low, high float64
	p50, p99  float64
	failures  int64
	requests  int64
	usedCount int
	wrkRatio  float64
	loopRatio float64
	// pairedWrk and pairedLoop are the medians of the ratios of this
	// generator's run to the run of wrk or the bare loop in the same round.
	pairedWrk  float64
	pairedLoop float64
	hasFigures bool
}

func summarize(g generator, runs []runResult) summary {
	s := summary{generator: g}
	var kept, succeeded []runResult
	for _, r := range runs {
		if r.generator.name != g.name {
			continue
		}
		switch {
		case r.err != nil:
			s.failed++
		case r.kept:
			s.kept++
			kept = append(kept, r)
			succeeded = append(succeeded, r)
		default:
			s.discarded++
			succeeded = append(succeeded, r)
		}
	}
	used := kept
	if len(used) == 0 && len(succeeded) > 0 {
		used = succeeded
		s.allRuns = true
	}
	if len(used) == 0 {
		return s
	}

	var rates, p50s, p99s []float64
	for _, r := range used {
		rates = append(rates, r.perCPUSecond())
		p50s = append(p50s, r.counts.p50Ms)
		p99s = append(p99s, r.counts.p99Ms)
		s.failures += r.counts.failures
		s.requests += r.counts.requests
	}
	s.usedCount = len(used)
	s.median = median(rates)
	s.low, s.high = slices.Min(rates), slices.Max(rates)
	s.p50 = median(p50s)
	s.p99 = median(p99s)
	s.hasFigures = true
	return s
}

// pairedRatio returns the median over the rounds of the ratio of s's run to
// base's run in the same round, using the runs that summarize used for each,
// or 0 when no round has both.
func pairedRatio(runs []runResult, s, base summary) float64 {
	used := func(r runResult, sum summary) bool {
		return r.generator.name == sum.generator.name && r.err == nil && (r.kept || sum.allRuns)
	}
	baseRate := make(map[int]float64)
	for _, r := range runs {
		if used(r, base) && r.perCPUSecond() > 0 {
			baseRate[r.round] = r.perCPUSecond()
		}
	}
	var ratios []float64
	for _, r := range runs {
		if b, ok := baseRate[r.round]; ok && used(r, s) {
			ratios = append(ratios, r.perCPUSecond()/b)
		}
	}
	if len(ratios) == 0 {
		return 0
	}
	return median(ratios)
}

// median returns the median of values, the mean of the middle two for an
// even count. It sorts values.
func median(values []float64) float64 {
	slices.Sort(values)
	n := len(values)
	if n%2 == 1 {
		return values[n/2]
	}
	return (values[n/2-1] + values[n/2]) / 2
}

// buildReport returns the markdown report: the settings, one row per
// generator, the paired rounds and one row per run.
func buildReport(o options, runs []runResult, selected []generator, pairs []pairedRun) string {
	summaries := make([]summary, len(selected))
	var wrk, loop *summary
	for i, g := range selected {
		summaries[i] = summarize(g, runs)
		switch g.name {
		case "wrk":
			wrk = &summaries[i]
		case "bare":
			loop = &summaries[i]
		}
	}
	for i := range summaries {
		s := &summaries[i]
		if wrk != nil && wrk.hasFigures && wrk.median > 0 {
			s.wrkRatio = s.median / wrk.median
			s.pairedWrk = pairedRatio(runs, *s, *wrk)
		}
		if loop != nil && loop.hasFigures && loop.median > 0 {
			s.loopRatio = s.median / loop.median
			s.pairedLoop = pairedRatio(runs, *s, *loop)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Requests per CPU-second of the load generator\n\n")
	fmt.Fprintf(&b, "Date: %s. Machine: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machineDescription())
	fmt.Fprintf(&b, "Settings: %d round(s) of %s per generator, %d users or connections, GET %s from nginx pinned to core %d, "+
		"each generator pinned to core %d. A run is discarded when other processes used more than %.0f%% of the machine's CPU during it.\n\n",
		o.rounds, o.duration, o.users, "/", o.targetCPU, o.genCPU, 100*o.maxOtherCPU)

	b.WriteString("| generator | runs kept / discarded / failed | requests per CPU-second (median) | min – max | ratio to wrk | ratio to bare loop | ratio to wrk, by round | ratio to bare loop, by round | p50 ms | p99 ms | failed requests |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	anyAllRuns := false
	for _, s := range summaries {
		if !s.hasFigures {
			fmt.Fprintf(&b, "| %s | %d / %d / %d | – | – | – | – | – | – | – | – | – |\n", s.generator.label, s.kept, s.discarded, s.failed)
			continue
		}
		mark := ""
		if s.allRuns {
			mark = " *"
			anyAllRuns = true
		}
		fmt.Fprintf(&b, "| %s | %d / %d / %d | %s%s | %s – %s | %s | %s | %s | %s | %s | %s | %d of %d |\n",
			s.generator.label, s.kept, s.discarded, s.failed,
			thousands(s.median), mark, thousands(s.low), thousands(s.high),
			ratio(s.wrkRatio), ratio(s.loopRatio), ratio(s.pairedWrk), ratio(s.pairedLoop),
			millis(s.p50), millis(s.p99), s.failures, s.requests)
	}
	if anyAllRuns {
		b.WriteString("\n\\* No run of this generator was kept, so the figures are over its discarded runs: they are noisy.\n")
	}
	b.WriteString("\nThe ratios by round are medians of the ratios of runs in the same round, " +
		"which cancel the machine's drift between rounds; the other ratios divide the medians.\n")
	b.WriteString("\nPercentiles come from wrk --latency, the bare loop's histogram (two significant digits), " +
		"Locust's CSV (Locust's rounding, whole milliseconds below 100 ms) for the workers and Locust.\n")

	if len(pairs) > 0 {
		writePairs(&b, o, pairs)
	}

	b.WriteString("\n### Runs\n\n")
	b.WriteString("| round | generator | requests | failures | CPU-s | wall s | requests per CPU-second | other processes | machine quiet at start | status |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		status := "kept"
		switch {
		case r.err != nil:
			status = "failed: " + strings.ReplaceAll(firstLine(r.err.Error()), "|", `\|`)
		case !r.kept:
			status = "discarded"
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %.2f | %.1f | %s | %.0f%% | %s | %s |\n",
			r.round+1, r.generator.name, r.counts.requests, r.counts.failures, r.cpu.Seconds(), r.wall.Seconds(),
			thousands(r.perCPUSecond()), 100*r.otherShare, quietText(r), status)
	}
	return b.String()
}

func machineDescription() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	kernel := "unknown kernel"
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("%d cores (%s), %s, %s", runtime.NumCPU(), model, kernel, runtime.Version())
}

// thousands formats v rounded to an integer with comma separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func ratio(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func millis(v float64) string {
	return fmt.Sprintf("%.2f", v)
}

func quietText(r runResult) string {
	switch {
	case !r.quietChecked:
		return "not checked"
	case r.startedQuiet:
		return "yes"
	default:
		return "no"
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// writePairs writes the section of the paired rounds.
func writePairs(b *strings.Builder, o options, pairs []pairedRun) {
	b.WriteString("\n### Bare loop and worker at the same time\n\n")
	fmt.Fprintf(b, "In each of these rounds the bare loop and the worker with the net/http task run at the same time, "+
		"both pinned to core %d. The bare loop starts when the worker's users start, and both send for %s. "+
		"Sharing the core, both see the same speed of the machine, so the ratio of a round does not carry the drift between runs.\n\n",
		o.genCPU, o.duration)
	b.WriteString("| round | bare loop, requests per CPU-second | worker, requests per CPU-second | worker / bare loop | other processes | machine quiet at start | status |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	var ratios []float64
	for _, p := range pairs {
		status := "kept"
		switch {
		case p.err() != nil:
			status = "failed: " + strings.ReplaceAll(firstLine(p.err().Error()), "|", `\|`)
		case !p.kept:
			status = "discarded"
		default:
			ratios = append(ratios, p.ratio())
		}
		quiet := quietText(runResult{quietChecked: p.quietChecked, startedQuiet: p.startedQuiet})
		fmt.Fprintf(b, "| %d | %s | %s | %s | %.0f%% | %s | %s |\n", p.round+1, thousands(p.bare.perCPUSecond()),
			thousands(p.worker.perCPUSecond()), ratio(p.ratio()), 100*p.otherShare, quiet, status)
	}
	if len(ratios) == 0 {
		b.WriteString("\nNo paired round was kept.\n")
		return
	}
	fmt.Fprintf(b, "\nWorker / bare loop: median %.3f of %d kept round(s), %.3f – %.3f.\n",
		median(ratios), len(ratios), slices.Min(ratios), slices.Max(ratios))
}
