// Command loadbench compares HTTP load generators by requests per CPU-second
// of the generator process: wrk, a bare Go loop without the boomer library,
// examples/http under a headless Locust master with a net/http task, with
// boomer.HTTPClient and with boomer.FastHTTPClient, and Locust's FastHttpUser.
// All of them send GET requests to one nginx on 127.0.0.1, pinned to one
// core, while each generator is pinned to another core.
//
//	go run ./bench/cmd/loadbench                        # make bench
//	go run ./bench/cmd/loadbench --rounds 1 --duration 2s --quiet-wait 0
//
// The generators run one after the other, several rounds, in an order that
// rotates each round. Before each run loadbench waits for the machine to be
// idle, and it discards runs during which other processes used more than
// --max-other-cpu of the machine. It prints a markdown table and writes it,
// with every run, to --out. It exits with status 1 when a run failed or a
// generator sent no request, and never because of a figure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	rounds      int
	duration    time.Duration
	users       int
	targetCPU   int
	genCPU      int
	only        string
	quietIdle   float64
	quietWait   time.Duration
	maxOtherCPU float64
	out         string
	locust      string
	keepDir     bool
	profileDir  string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.IntVar(&o.rounds, "rounds", 5, "rounds; each round runs every generator once")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one run, in whole seconds")
	fs.IntVar(&o.users, "users", 50, "concurrent connections (wrk), goroutines (bare loop) or users (workers, Locust)")
	fs.IntVar(&o.targetCPU, "target-cpu", 0, "core that nginx and the Locust master are pinned to")
	fs.IntVar(&o.genCPU, "generator-cpu", 1, "core that each generator is pinned to")
	fs.StringVar(&o.only, "generators", "wrk,bare,worker,helper,fasthttp,locust", "comma-separated generators to run, from: wrk, bare, worker, helper, fasthttp, locust")
	fs.Float64Var(&o.quietIdle, "quiet-idle", 0.90, "idle share of the machine's CPU over 1 s (0 to 1) that counts as quiet before a run")
	fs.DurationVar(&o.quietWait, "quiet-wait", 60*time.Second, "longest wait for a quiet machine before each run; 0 does not wait")
	fs.Float64Var(&o.maxOtherCPU, "max-other-cpu", 0.10, "share of the machine's CPU (0 to 1) that other processes may use during a run before the run is discarded")
	fs.StringVar(&o.out, "out", "bench-results.md", "markdown file the table and the runs are written to")
	fs.StringVar(&o.locust, "locust", ".venv/bin/locust", "locust executable, relative to the module root or absolute")
	fs.BoolVar(&o.keepDir, "keep-dir", false, "keep the temporary directory with the logs and CSV files")
	fs.StringVar(&o.profileDir, "profile-dir", "", "directory that receives a CPU profile of every run of the bare loop and the workers (their --cpuprofile); profiling adds a few percent of CPU")
	if err := fs.Parse(args); err != nil {
		return o, err
	}

	switch {
	case o.rounds < 1:
		return o, fmt.Errorf("invalid --rounds %d: use 1 or more", o.rounds)
	case o.duration < time.Second || o.duration%time.Second != 0:
		return o, fmt.Errorf("invalid --duration %s: use whole seconds, 1s or more, because wrk and Locust take seconds", o.duration)
	case o.users < 1:
		return o, fmt.Errorf("invalid --users %d: use 1 or more", o.users)
	case o.targetCPU == o.genCPU:
		return o, fmt.Errorf("--target-cpu and --generator-cpu are both %d: pin them to different cores", o.genCPU)
	case o.targetCPU < 0 || o.targetCPU >= runtime.NumCPU() || o.genCPU < 0 || o.genCPU >= runtime.NumCPU():
		return o, fmt.Errorf("--target-cpu %d or --generator-cpu %d is not a core of this machine (0 to %d)", o.targetCPU, o.genCPU, runtime.NumCPU()-1)
	case o.quietIdle < 0 || o.quietIdle > 1:
		return o, fmt.Errorf("invalid --quiet-idle %v: use a share from 0 to 1", o.quietIdle)
	case o.maxOtherCPU < 0 || o.maxOtherCPU > 1:
		return o, fmt.Errorf("invalid --max-other-cpu %v: use a share from 0 to 1", o.maxOtherCPU)
	}
	if _, err := selectGenerators(o.only); err != nil {
		return o, err
	}
	return o, nil
}

func selectGenerators(list string) ([]generator, error) {
	var selected []generator
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, g := range generators {
			if g.name == name {
				selected = append(selected, g)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown generator %q in --generators: use wrk, bare, worker, helper, fasthttp or locust", name)
		}
	}
	return selected, nil
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// run runs the benchmark and writes the report. It returns false when a run
// failed or a generator sent no request.
func run(ctx context.Context, o options) (bool, error) {
	root, err := moduleRoot()
	if err != nil {
		return false, err
	}
	locust := o.locust
	if !filepath.IsAbs(locust) {
		locust = filepath.Join(root, locust)
	}
	if err := checkTools(locust); err != nil {
		return false, err
	}
	selected, _ := selectGenerators(o.only)

	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return false, err
	}
	if o.keepDir {
		logf("logs and CSV files are kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	s := &setup{
		root:      root,
		dir:       dir,
		locust:    locust,
		workerBin: filepath.Join(dir, "http-worker"),
		loopBin:   filepath.Join(dir, "bareloop"),
		users:     o.users,
		duration:  o.duration,
		genCPU:    o.genCPU,
		helperCPU: o.targetCPU,
	}
	if o.profileDir != "" {
		if s.profileDir, err = filepath.Abs(o.profileDir); err != nil {
			return false, err
		}
		if err := os.MkdirAll(s.profileDir, 0o755); err != nil {
			return false, fmt.Errorf("invalid --profile-dir: %w", err)
		}
	}
	for pkg, out := range map[string]string{"./examples/http": s.workerBin, "./bench/cmd/bareloop": s.loopBin} {
		build := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		build.Dir = root
		if output, err := build.CombinedOutput(); err != nil {
			return false, fmt.Errorf("go build %s: %v\n%s", pkg, err, output)
		}
	}

	target, err := startNginx(dir, o.targetCPU)
	if err != nil {
		return false, err
	}
	defer target.stop()
	s.url = target.url
	logf("nginx on %s pinned to core %d; generators pinned to core %d", target.url, o.targetCPU, o.genCPU)

	var runs []runResult
	for round := 0; round < o.rounds; round++ {
		for i := range selected {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			// The order rotates each round, so that no generator always
			// runs right after the same other one.
			g := selected[(i+round)%len(selected)]
			quiet := waitQuiet(ctx, o.quietIdle, o.quietWait)
			r := measure(ctx, s, target, g, round, o.maxOtherCPU)
			r.quietChecked = o.quietWait > 0
			r.startedQuiet = quiet
			runs = append(runs, r)
			logf("%s", r.summary(o.rounds))
		}
	}

	report := buildReport(o, runs, selected)
	fmt.Print(report)
	if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", o.out, err)
	}
	logf("report written to %s", o.out)

	ok := true
	for _, g := range selected {
		var requests int64
		for _, r := range runs {
			if r.generator.name == g.name {
				requests += r.counts.requests
				if r.err != nil {
					ok = false
				}
			}
		}
		if requests == 0 {
			logf("%s sent no request", g.label)
			ok = false
		}
	}
	return ok, nil
}

// runResult is one run of one generator.
type runResult struct {
	generator    generator
	round        int
	counts       counts
	cpu          time.Duration // generator process, user + system
	wall         time.Duration
	otherShare   float64 // share of the machine's CPU used by other processes
	quietChecked bool
	startedQuiet bool
	kept         bool
	err          error
}

func (r runResult) perCPUSecond() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return float64(r.counts.requests) / r.cpu.Seconds()
}

func (r runResult) summary(rounds int) string {
	status := "kept"
	switch {
	case r.err != nil:
		status = "failed: " + r.err.Error()
	case !r.kept:
		status = fmt.Sprintf("discarded: other processes used %.0f%% of the machine", 100*r.otherShare)
	}
	return fmt.Sprintf("round %d/%d %s: %d requests, %d failures, %.2f CPU-s, %.0f requests/CPU-s, others %.0f%%: %s",
		r.round+1, rounds, r.generator.name, r.counts.requests, r.counts.failures, r.cpu.Seconds(), r.perCPUSecond(), 100*r.otherShare, status)
}

// measure runs one generator and measures the CPU that every other process
// of the machine used meanwhile: the machine's busy time minus the
// generator, nginx, the Locust master and loadbench itself.
func measure(ctx context.Context, s *setup, target *nginx, g generator, round int, maxOther float64) runResult {
	r := runResult{generator: g, round: round}
	tag := fmt.Sprintf("%s-round%d", g.name, round+1)

	machineBefore, err := readMachineCPU()
	if err != nil {
		r.err = err
		return r
	}
	targetBefore, err := target.cpu()
	if err != nil {
		r.err = fmt.Errorf("read nginx CPU time: %w", err)
		return r
	}
	selfBefore := selfCPU()
	start := time.Now()

	var helperCPU time.Duration
	r.counts, r.cpu, helperCPU, r.err = g.run(ctx, s, tag)

	r.wall = time.Since(start)
	machineAfter, err := readMachineCPU()
	if err != nil && r.err == nil {
		r.err = err
	}
	targetAfter, err := target.cpu()
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("read nginx CPU time: %w", err)
	}
	ours := r.cpu + helperCPU + (targetAfter - targetBefore) + (selfCPU() - selfBefore)
	total := machineAfter.total - machineBefore.total
	if total > 0 {
		other := machineAfter.busy() - machineBefore.busy() - ours
		r.otherShare = max(float64(other)/float64(total), 0)
	}
	if r.err == nil && r.counts.requests == 0 {
		r.err = errors.New("no request sent")
	}
	r.kept = r.err == nil && r.otherShare <= maxOther
	return r
}

// waitQuiet waits until the machine was idle for at least minIdle of its CPU
// time over one second, for at most maxWait. It returns whether the machine
// was quiet; a zero maxWait returns false at once.
func waitQuiet(ctx context.Context, minIdle float64, maxWait time.Duration) bool {
	if maxWait <= 0 {
		return false
	}
	deadline := time.Now().Add(maxWait)
	for ctx.Err() == nil {
		idle, err := idleShare(time.Second)
		if err != nil {
			logf("measure idle CPU: %v", err)
			return false
		}
		if idle >= minIdle {
			return true
		}
		if time.Now().After(deadline) {
			logf("machine still busy after %s (idle %.0f%%, want %.0f%%); running anyway", maxWait, 100*idle, 100*minIdle)
			return false
		}
	}
	return false
}

func checkTools(locust string) error {
	for _, tool := range []string{"nginx", "wrk", "taskset", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found in PATH: run `make bench-deps` as root, or install it with apt-get", tool)
		}
	}
	if _, err := os.Stat(locust); err != nil {
		return fmt.Errorf("locust executable %s not found: run `make deps` or pass --locust", locust)
	}
	return nil
}

// moduleRoot returns the nearest directory at or above the working
// directory that contains go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory: run loadbench from the boomer repository")
		}
		dir = parent
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadbench: "+format+"\n", args...)
}
