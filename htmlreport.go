package boomer

import (
	"fmt"
	"html/template"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// Chart geometry of the HTML report, in SVG user units.
const (
	chartWidth   = 860
	chartHeight  = 240
	chartLeft    = 60
	chartRight   = 20
	chartTop     = 20
	chartBottom  = 30
	chartGridGap = 4
)

// chartSeries is one line of a chart.
type chartSeries struct {
	Label  string
	Color  string
	Values []float64
}

// chart is one inline SVG line chart.
type chart struct {
	Title  string
	Unit   string
	Series []chartSeries
}

// svgLine is a drawn series: its polyline points and legend.
type svgLine struct {
	Label  string
	Color  string
	Points string
}

// svgChart is a chart ready for the template.
type svgChart struct {
	Title  string
	Lines  []svgLine
	Grid   []svgTick
	XTicks []svgTick
	Width  int
	Height int
	Left   int
	Right  int
	Bottom int
	Top    int
}

type svgTick struct {
	Pos   float64
	Label string
}

// render scales the series to the chart area. times are the seconds since
// the start of each sample.
func (c chart) render(times []float64) svgChart {
	out := svgChart{Title: c.Title, Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartWidth - chartRight, Top: chartTop, Bottom: chartHeight - chartBottom}
	maxY := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			maxY = math.Max(maxY, v)
		}
	}
	if maxY <= 0 {
		maxY = 1
	}
	maxY = niceCeiling(maxY)
	maxX := 1.0
	if len(times) > 0 {
		maxX = math.Max(times[len(times)-1], 1)
	}
	plotW := float64(out.Right - out.Left)
	plotH := float64(out.Bottom - out.Top)
	x := func(t float64) float64 { return float64(out.Left) + plotW*t/maxX }
	y := func(v float64) float64 { return float64(out.Bottom) - plotH*v/maxY }
	for _, s := range c.Series {
		var points strings.Builder
		for i, v := range s.Values {
			if i >= len(times) {
				break
			}
			fmt.Fprintf(&points, "%.1f,%.1f ", x(times[i]), y(v))
		}
		out.Lines = append(out.Lines, svgLine{Label: s.Label, Color: s.Color, Points: strings.TrimSpace(points.String())})
	}
	for i := 0; i <= chartGridGap; i++ {
		v := maxY * float64(i) / chartGridGap
		out.Grid = append(out.Grid, svgTick{Pos: y(v), Label: trimNumber(v) + c.Unit})
	}
	for i := 0; i <= chartGridGap; i++ {
		t := maxX * float64(i) / chartGridGap
		out.XTicks = append(out.XTicks, svgTick{Pos: x(t), Label: (time.Duration(t) * time.Second).String()})
	}
	return out
}

// niceCeiling rounds v up to 1, 2 or 5 times a power of ten.
func niceCeiling(v float64) float64 {
	magnitude := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*magnitude {
			return m * magnitude
		}
	}
	return 10 * magnitude
}

func trimNumber(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// htmlReport is the data of the HTML template.
type htmlReport struct {
	Title     string
	Start     string
	Duration  string
	Charts    []svgChart
	Rows      []statsRow
	Total     statsRow
	Labels    []string
	Errors    []errorRow
	OpenModel *latenessReport
}

// htmlTemplate parses the report template at its first use. Parsed when
// the package loads, its syntax tree would stay on the heap of every
// worker, where each garbage collection cycle marks it again.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"ms":      formatMs,
		"legendY": func(i int) int { return chartTop + 12 + 14*i },
		"rate": func(v float64) string {
			return fmt.Sprintf("%.2f", v)
		},
	}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin-bottom: 24px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.total td { font-weight: bold; }
svg.chart { display: block; margin-bottom: 24px; background: #fff; }
svg.chart text { font-size: 11px; fill: #444; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Started {{.Start}}, ran {{.Duration}}. Times are in milliseconds; percentiles come from HDR histograms.</p>
<h2>Requests</h2>
<table>
<tr><th>Type</th><th>Name</th><th># requests</th><th># failures</th><th>Median</th><th>Average</th><th>Min</th><th>Max</th><th>Average size (bytes)</th><th>req/s</th><th>failures/s</th></tr>
{{range .Rows}}<tr><td>{{.Method}}</td><td>{{.Name}}</td><td>{{.Requests}}</td><td>{{.Failures}}</td><td>{{ms .MedianMs}}</td><td>{{ms .AverageMs}}</td><td>{{ms .MinMs}}</td><td>{{ms .MaxMs}}</td><td>{{printf "%.0f" .AverageBytes}}</td><td>{{rate .TotalRPS}}</td><td>{{rate .TotalFailPerSec}}</td></tr>
{{end}}{{with .Total}}<tr class="total"><td></td><td>{{.Name}}</td><td>{{.Requests}}</td><td>{{.Failures}}</td><td>{{ms .MedianMs}}</td><td>{{ms .AverageMs}}</td><td>{{ms .MinMs}}</td><td>{{ms .MaxMs}}</td><td>{{printf "%.0f" .AverageBytes}}</td><td>{{rate .TotalRPS}}</td><td>{{rate .TotalFailPerSec}}</td></tr>{{end}}
</table>
<h2>Response time percentiles</h2>
<table>
<tr><th>Type</th><th>Name</th>{{range .Labels}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Method}}</td><td>{{.Name}}</td>{{range .PercentilesMs}}<td>{{ms .}}</td>{{end}}</tr>
{{end}}{{with .Total}}<tr class="total"><td></td><td>{{.Name}}</td>{{range .PercentilesMs}}<td>{{ms .}}</td>{{end}}</tr>{{end}}
</table>
{{if .Errors}}<h2>Failures</h2>
<table>
<tr><th>Method</th><th>Name</th><th>Error</th><th>Occurrences</th></tr>
{{range .Errors}}<tr><td>{{.Method}}</td><td>{{.Name}}</td><td>{{.Error}}</td><td>{{.Occurrences}}</td></tr>
{{end}}</table>{{end}}
{{with .OpenModel}}<h2>Open model</h2>
<p>{{.Starts}} task starts at {{.TargetRate}}/s, {{.LateStarts}} waited for a free slot (at most {{.MaxInFlight}} in flight).
Start lateness: p50 {{ms .P50Ms}} ms, p95 {{ms .P95Ms}} ms, p99 {{ms .P99Ms}} ms, max {{ms .MaxMs}} ms.</p>{{end}}
<h2>Charts</h2>
{{range .Charts}}<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
<text x="{{.Left}}" y="14" font-weight="bold">{{.Title}}</text>
{{$c := .}}{{range .Grid}}<line x1="{{$c.Left}}" x2="{{$c.Right}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#e4e4e4"/><text x="{{$c.Left}}" dx="-4" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="{{$c.Bottom}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{end}}<line x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}" stroke="#888"/>
{{range $i, $l := .Lines}}<polyline class="series" fill="none" stroke="{{$l.Color}}" stroke-width="2" points="{{$l.Points}}"/>
<text x="{{$c.Right}}" y="{{legendY $i}}" text-anchor="end" fill="{{$l.Color}}">{{$l.Label}}</text>
{{end}}</svg>
{{end}}
</body>
</html>
`))
})

// Series colours of the charts.
const (
	colorRequests = "#1f77b4"
	colorFailures = "#d62728"
	colorP50      = "#2ca02c"
	colorP95      = "#ff7f0e"
	colorP99      = "#9467bd"
	colorUsers    = "#17becf"
)

func (r *standaloneRun) writeHTML(path string, view statsView, history []historySample) error {
	times := make([]float64, len(history))
	var rps, fails, p50, p95, p99, users []float64
	for i, s := range history {
		times[i] = s.Time.Sub(r.start).Seconds()
		rps = append(rps, s.RPS)
		fails = append(fails, s.FailPerSec)
		p50 = append(p50, s.IntervalP50Ms)
		p95 = append(p95, s.IntervalP95Ms)
		p99 = append(p99, s.IntervalP99Ms)
		users = append(users, float64(s.Users))
	}
	charts := []chart{
		{Title: "Requests per second (Locust's current rate)", Series: []chartSeries{
			{Label: "requests/s", Color: colorRequests, Values: rps}}},
		{Title: "Failures per second (Locust's current rate)", Series: []chartSeries{
			{Label: "failures/s", Color: colorFailures, Values: fails}}},
		{Title: "Response time percentiles of each second (ms)", Series: []chartSeries{
			{Label: "p50", Color: colorP50, Values: p50},
			{Label: "p95", Color: colorP95, Values: p95},
			{Label: "p99", Color: colorP99, Values: p99}}},
		{Title: "Users", Series: []chartSeries{{Label: "users", Color: colorUsers, Values: users}}},
	}
	data := htmlReport{
		Title:    "boomer standalone run",
		Start:    r.start.UTC().Format(time.RFC3339),
		Duration: time.Since(r.start).Round(time.Millisecond).String(),
		Rows:     view.Rows,
		Total:    view.Total,
		Labels:   percentileLabels(),
		Errors:   view.Errors,
	}
	for _, c := range charts {
		data.Charts = append(data.Charts, c.render(times))
	}
	if r.arrival != nil {
		l := r.arrival.report()
		data.OpenModel = &l
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := htmlTemplate().Execute(f, data); err != nil {
		f.Close()
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	return nil
}
