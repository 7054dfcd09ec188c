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
// rotates each round. Then, in --paired-rounds more rounds, the bare loop and
// the worker with the net/http task run at the same time on the generator
// core, which gives their ratio without the machine's drift between runs.
// Before each run loadbench waits for the machine to be idle, and it
// discards runs during which other processes used more than
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
	rounds int
	// pairedRounds is the number of rounds in which the bare loop and the
	// worker run at the same time.
	pairedRounds int
	duration     time.Duration
	users        int
	targetCPU    int
	genCPU       int
	only         string
	quietIdle    float64
	quietWait    time.Duration
	maxOtherCPU  float64
	out          string
	locust       string
	keepDir      bool
	profileDir   string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.IntVar(&o.rounds, "rounds", 5, "rounds; each round runs every generator once")
	fs.IntVar(&o.pairedRounds, "paired-rounds", 5, "rounds, after the others, in which the bare loop and the worker with the net/http task run at the same time on the generator core; 0 skips them")
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
	case o.pairedRounds < 0:
		return o, fmt.Errorf("invalid --paired-rounds %d: use 0 to skip them, or 1 or more", o.pairedRounds)
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

	var pairs []pairedRun
	for round := 0; round < o.pairedRounds; round++ {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		quiet := waitQuiet(ctx, o.quietIdle, o.quietWait)
		p := measurePaired(ctx, s, target, round, o.maxOtherCPU)
		p.quietChecked = o.quietWait > 0
		p.startedQuiet = quiet
		pairs = append(pairs, p)
		logf("%s", p.summary(o.pairedRounds))
	}

	report := buildReport(o, runs, selected, pairs)
	fmt.Print(report)
	if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", o.out, err)
	}
	logf("report written to %s", o.out)

	ok := true
	for _, p := range pairs {
		if p.err() != nil {
			ok = false
		}
	}
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
// of the machine used meanwhile.
func measure(ctx context.Context, s *setup, target *nginx, g generator, round int, maxOther float64) runResult {
	r := runResult{generator: g, round: round}
	tag := fmt.Sprintf("%s-round%d", g.name, round+1)
	share, wall, err := otherCPU(target, func() time.Duration {
		var helperCPU time.Duration
		r.counts, r.cpu, helperCPU, r.err = g.run(ctx, s, tag)
		return r.cpu + helperCPU
	})
	r.otherShare, r.wall = share, wall
	if err != nil && r.err == nil {
		r.err = err
	}
	if r.err == nil && r.counts.requests == 0 {
		r.err = errors.New("no request sent")
	}
	r.kept = r.err == nil && r.otherShare <= maxOther
	return r
}

// otherCPU calls run, which returns the CPU time of the processes it ran,
// and returns the share of the machine's CPU that every other process used
// meanwhile: the machine's busy time minus those processes, nginx and
// loadbench itself. It also returns the wall time of run.
func otherCPU(target *nginx, run func() time.Duration) (float64, time.Duration, error) {
	machineBefore, err := readMachineCPU()
	if err != nil {
		return 0, 0, err
	}
	targetBefore, err := target.cpu()
	if err != nil {
		return 0, 0, fmt.Errorf("read nginx CPU time: %w", err)
	}
	selfBefore := selfCPU()
	start := time.Now()

	runCPU := run()

	wall := time.Since(start)
	machineAfter, err := readMachineCPU()
	if err != nil {
		return 0, wall, err
	}
	targetAfter, err := target.cpu()
	if err != nil {
		return 0, wall, fmt.Errorf("read nginx CPU time: %w", err)
	}
	ours := runCPU + (targetAfter - targetBefore) + (selfCPU() - selfBefore)
	total := machineAfter.total - machineBefore.total
	if total <= 0 {
		return 0, wall, nil
	}
	other := machineAfter.busy() - machineBefore.busy() - ours
	return max(float64(other)/float64(total), 0), wall, nil
}

// pairedRun is one round in which the bare loop and the worker with the
// net/http task ran at the same time on the generator core.
type pairedRun struct {
	round        int
	bare, worker runResult
	otherShare   float64
	quietChecked bool
	startedQuiet bool
	kept         bool
}

// err returns the error of the bare loop's run, else the worker's.
func (p pairedRun) err() error {
	if p.bare.err != nil {
		return p.bare.err
	}
	return p.worker.err
}

// ratio returns the worker's requests per CPU-second over the bare loop's,
// or 0 when the bare loop has none.
func (p pairedRun) ratio() float64 {
	if p.bare.perCPUSecond() <= 0 {
		return 0
	}
	return p.worker.perCPUSecond() / p.bare.perCPUSecond()
}

func (p pairedRun) summary(rounds int) string {
	status := "kept"
	switch {
	case p.err() != nil:
		status = "failed: " + p.err().Error()
	case !p.kept:
		status = fmt.Sprintf("discarded: other processes used %.0f%% of the machine", 100*p.otherShare)
	}
	return fmt.Sprintf("paired round %d/%d: bare %.0f requests/CPU-s, worker %.0f requests/CPU-s, worker/bare %.3f, others %.0f%%: %s",
		p.round+1, rounds, p.bare.perCPUSecond(), p.worker.perCPUSecond(), p.ratio(), 100*p.otherShare, status)
}

// measurePaired runs the worker with the net/http task and the bare loop at
// the same time, both pinned to the generator core, so that both see the
// same speed of the machine. The bare loop starts when the worker's users
// start, and both then send for s.duration.
func measurePaired(ctx context.Context, s *setup, target *nginx, round int, maxOther float64) pairedRun {
	p := pairedRun{
		round:  round,
		bare:   runResult{generator: generatorNamed("bare"), round: round},
		worker: runResult{generator: generatorNamed("worker"), round: round},
	}
	tag := fmt.Sprintf("paired-round%d", round+1)
	share, wall, err := otherCPU(target, func() time.Duration {
		started := make(chan struct{})
		workerDone := make(chan struct{})
		var masterCPU time.Duration
		go func() {
			defer close(workerDone)
			p.worker.counts, p.worker.cpu, masterCPU, p.worker.err = runWorkerProcess(ctx, s, tag+"-worker", "nethttp", started)
		}()
		select {
		case <-started:
			p.bare.counts, p.bare.cpu, _, p.bare.err = runBareLoop(ctx, s, tag+"-bare")
		case <-workerDone:
			p.bare.err = errors.New("not run, because the worker ended before its users started")
		}
		<-workerDone
		return p.bare.cpu + p.worker.cpu + masterCPU
	})
	p.otherShare = share
	p.bare.wall, p.worker.wall = wall, wall
	for _, r := range []*runResult{&p.bare, &p.worker} {
		if r.err == nil && err != nil {
			r.err = err
		}
		if r.err == nil && r.counts.requests == 0 {
			r.err = errors.New("no request sent")
		}
	}
	p.kept = p.err() == nil && share <= maxOther
	return p
}

// generatorNamed returns the generator called name from generators.
func generatorNamed(name string) generator {
	for _, g := range generators {
		if g.name == name {
			return g
		}
	}
	panic("loadbench: no generator named " + name)
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
