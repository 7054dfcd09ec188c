package boomer

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the standalone and load control settings.
const (
	// DefaultExitCodeOnError is Locust's default --exit-code-on-error.
	DefaultExitCodeOnError = 1
	// DefaultMaxInFlight caps the tasks running at once in the open model.
	DefaultMaxInFlight = 1000
)

// registerStandaloneFlags defines the flags of standalone runs, with
// Locust's names where Locust has the option, and the load control flags.
func (c *Config) registerStandaloneFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Standalone, "standalone", c.Standalone,
		"run the test in this process without a master, and print a summary at the end")
	usersHelp := "number of concurrent users of a standalone run"
	fs.IntVar(&c.Users, "users", c.Users, usersHelp)
	fs.IntVar(&c.Users, "u", c.Users, usersHelp+" (short for --users)")
	rateHelp := "users started per second in a standalone run"
	fs.Var(&positiveFloat{target: &c.SpawnRate, flag: "--spawn-rate", example: "10 or 0.5"}, "spawn-rate", rateHelp)
	fs.Var(&positiveFloat{target: &c.SpawnRate, flag: "-r", example: "10 or 0.5"}, "r", rateHelp+" (short for --spawn-rate)")
	runTimeHelp := "stop a standalone run after this time, such as 90, 90s, 10m or 1h30m (default: when every user is done, or on SIGINT)"
	fs.Var(&timespanFlag{target: &c.RunTime, flag: "--run-time"}, "run-time", runTimeHelp)
	fs.Var(&timespanFlag{target: &c.RunTime, flag: "-t"}, "t", runTimeHelp+" (short for --run-time)")
	fs.IntVar(&c.Iterations, "iterations", c.Iterations,
		"tasks each user runs before it stops, in a standalone run; 0 means no limit")
	fs.StringVar(&c.Host, "host", c.Host, "target host that tasks read with User.Host in a standalone run")
	fs.StringVar(&c.CSVPrefix, "csv", c.CSVPrefix,
		"write Locust's CSV files PREFIX_stats.csv, PREFIX_failures.csv, PREFIX_exceptions.csv and PREFIX_stats_history.csv")
	fs.StringVar(&c.JSONFile, "json", c.JSONFile, "write the JSON report of a standalone run to this file")
	fs.StringVar(&c.HTMLFile, "html", c.HTMLFile, "write the HTML report of a standalone run, with charts, to this file")
	fs.IntVar(&c.ExitCodeOnError, "exit-code-on-error", c.ExitCodeOnError,
		"exit status of a standalone run in which a request failed, 0 to 255")

	fs.Var(&nonNegativeFloat{target: &c.MaxRPS, flag: "--max-rps"}, "max-rps",
		"most tasks started per second in this process, evenly spaced; 0 means no limit")
	fs.Var(&nonNegativeFloat{target: &c.GlobalMaxRPS, flag: "--global-max-rps"}, "global-max-rps",
		"most tasks started per second by all workers together; each worker takes its share by its index and the master's --expect-workers")
	fs.DurationVar(&c.MaxRPSRamp, "max-rps-ramp", c.MaxRPSRamp,
		"raise the task rate limit from 0 to its target over this time at the start of each test, such as 30s")
	fs.Var(&nonNegativeFloat{target: &c.ArrivalRate, flag: "--arrival-rate"}, "arrival-rate",
		"open model: tasks started per second in this process whatever their latency, in place of users")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", c.MaxInFlight,
		"most tasks running at once with --arrival-rate")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr,
		"serve Prometheus metrics at http://ADDR/metrics, such as 127.0.0.1:9646 (default: off)")
}

// validateStandalone checks the settings of a standalone run.
func (c *Config) validateStandalone() error {
	if c.ArrivalRate > 0 {
		if c.Iterations > 0 {
			return fmt.Errorf("--iterations %d counts tasks per user and does not apply to --arrival-rate: bound the run with --run-time", c.Iterations)
		}
		if c.RunTime <= 0 {
			return fmt.Errorf("--arrival-rate %g needs --run-time: an open-model run has no users that end by themselves", c.ArrivalRate)
		}
	} else if c.Users < 1 {
		return fmt.Errorf("invalid --users %d: use 1 or more", c.Users)
	}
	if c.SpawnRate <= 0 || math.IsInf(c.SpawnRate, 0) || math.IsNaN(c.SpawnRate) {
		return fmt.Errorf("invalid --spawn-rate %g: use a number of users per second above 0, such as 10", c.SpawnRate)
	}
	if c.Iterations < 0 {
		return fmt.Errorf("invalid --iterations %d: use 0 for no limit or a count of tasks per user", c.Iterations)
	}
	if c.RunTime < 0 {
		return fmt.Errorf("invalid --run-time %s: use a positive time such as 90s", c.RunTime)
	}
	if c.ExitCodeOnError < 0 || c.ExitCodeOnError > 255 {
		return fmt.Errorf("invalid --exit-code-on-error %d: use an exit status from 0 to 255", c.ExitCodeOnError)
	}
	return nil
}

// rejectStandaloneOnly reports standalone settings given to a worker.
func (c *Config) rejectStandaloneOnly() error {
	set := map[string]bool{
		"--csv":        c.CSVPrefix != "",
		"--json":       c.JSONFile != "",
		"--html":       c.HTMLFile != "",
		"--iterations": c.Iterations != 0,
		"--run-time":   c.RunTime != 0,
	}
	for _, name := range []string{"--csv", "--json", "--html", "--iterations", "--run-time"} {
		if set[name] {
			return fmt.Errorf("%s applies only to standalone runs: add --standalone, or set it on the master when running as a worker", name)
		}
	}
	return nil
}

// validateLoadControl checks the rate limit settings of both modes.
func (c *Config) validateLoadControl() error {
	for _, v := range []struct {
		flag  string
		value float64
	}{{"--max-rps", c.MaxRPS}, {"--global-max-rps", c.GlobalMaxRPS}, {"--arrival-rate", c.ArrivalRate}} {
		if v.value < 0 || math.IsNaN(v.value) || math.IsInf(v.value, 0) {
			return fmt.Errorf("invalid %s %g: use a rate per second of 0 (off) or more", v.flag, v.value)
		}
	}
	if c.MaxRPS > 0 && c.GlobalMaxRPS > 0 {
		return fmt.Errorf("--max-rps %g and --global-max-rps %g were both given: set one of them", c.MaxRPS, c.GlobalMaxRPS)
	}
	if c.ArrivalRate > 0 && (c.MaxRPS > 0 || c.GlobalMaxRPS > 0) {
		return errors.New("--arrival-rate sets the task rate itself: leave out --max-rps and --global-max-rps")
	}
	if c.ArrivalRate > 0 && c.MaxInFlight < 1 {
		return fmt.Errorf("invalid --max-in-flight %d: use 1 or more", c.MaxInFlight)
	}
	if c.MaxRPSRamp < 0 {
		return fmt.Errorf("invalid --max-rps-ramp %s: use 0 or a positive time such as 30s", c.MaxRPSRamp)
	}
	if c.MaxRPSRamp > 0 && c.MaxRPS == 0 && c.GlobalMaxRPS == 0 {
		return fmt.Errorf("--max-rps-ramp %s needs a target: add --max-rps or --global-max-rps", c.MaxRPSRamp)
	}
	if c.MetricsAddr != "" {
		if _, _, err := splitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("invalid --metrics-addr %q: %v; use HOST:PORT such as 127.0.0.1:9646", c.MetricsAddr, err)
		}
	}
	return nil
}

// timespanPattern is Locust's time span syntax (locust/util/timespan.py,
// Locust 2.47.0): hours, minutes and seconds, each optional, in that order.
// It is compiled at its first use, like the other patterns of the package.
var timespanPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)
})

// maxTimespan is the longest time span accepted, far beyond any test and
// within what a time.Duration holds.
const maxTimespan = 100 * 365 * 24 * time.Hour

// parseTimespan parses a time span as Locust's --run-time does: "90" is
// 90 seconds, and "1h30m", "10m" and "90s" combine hours, minutes and
// seconds.
func parseTimespan(value string) (time.Duration, error) {
	value = strings.TrimSpace(value)
	if seconds, err := strconv.ParseUint(value, 10, 32); err == nil {
		if time.Duration(seconds)*time.Second > maxTimespan {
			return 0, fmt.Errorf("invalid time span %q: use at most %s", value, maxTimespan)
		}
		return time.Duration(seconds) * time.Second, nil
	}
	parts := timespanPattern().FindStringSubmatch(value)
	if value == "" || parts == nil {
		return 0, fmt.Errorf("invalid time span %q: use a number of seconds or hours, minutes and seconds, such as 90, 90s, 10m or 1h30m", value)
	}
	var total time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		if parts[i+1] == "" {
			continue
		}
		n, err := strconv.ParseUint(parts[i+1], 10, 32)
		if err != nil || n > uint64(maxTimespan/unit) || total > maxTimespan-time.Duration(n)*unit {
			return 0, fmt.Errorf("invalid time span %q: use at most %s", value, maxTimespan)
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

// timespanFlag is a flag.Value in Locust's time span syntax.
type timespanFlag struct {
	target *time.Duration
	flag   string
}

func (f *timespanFlag) String() string {
	if f.target == nil || *f.target == 0 {
		return ""
	}
	return f.target.String()
}

func (f *timespanFlag) Set(value string) error {
	d, err := parseTimespan(value)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("invalid %s %q: use a time above zero, such as 90s", f.flag, value)
	}
	*f.target = d
	return nil
}

// positiveFloat is a flag.Value for a number above zero.
type positiveFloat struct {
	target  *float64
	flag    string
	example string
}

func (f *positiveFloat) String() string {
	if f.target == nil {
		return ""
	}
	return strconv.FormatFloat(*f.target, 'g', -1, 64)
}

func (f *positiveFloat) Set(value string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Errorf("invalid %s %q: use a number above 0, such as %s", f.flag, value, f.example)
	}
	*f.target = v
	return nil
}

// nonNegativeFloat is a flag.Value for a rate of 0 (off) or more.
type nonNegativeFloat struct {
	target *float64
	flag   string
}

func (f *nonNegativeFloat) String() string {
	if f.target == nil {
		return ""
	}
	return strconv.FormatFloat(*f.target, 'g', -1, 64)
}

func (f *nonNegativeFloat) Set(value string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Errorf("invalid %s %q: use a rate per second of 0 (off) or more, such as 200", f.flag, value)
	}
	*f.target = v
	return nil
}

func splitHostPort(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return host, port, nil
}
