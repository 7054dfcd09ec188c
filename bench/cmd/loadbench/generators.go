package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// setup contains the paths, the target and the load settings that every
// generator run uses.
type setup struct {
	root      string // module root
	dir       string // directory for binaries, CSV files and logs
	locust    string // locust executable
	workerBin string // examples/http built
	loopBin   string // bench/cmd/bareloop built
	url       string // the nginx target
	users     int
	duration  time.Duration
	genCPU    int // core the generators are pinned to
	helperCPU int // core of the Locust master, shared with nginx
	// profileDir, when set, receives a CPU profile of each run of the bare
	// loop and the workers.
	profileDir string
}

// generator is one load generator under test.
type generator struct {
	name  string
	label string
	// run sends load for s.duration and returns what it counted, the CPU
	// time of the generator process and the CPU time of helper processes
	// (the Locust master) that are not part of the generator.
	run func(ctx context.Context, s *setup, tag string) (c counts, cpu, helperCPU time.Duration, err error)
}

var generators = []generator{
	{name: "wrk", label: "wrk", run: runWrk},
	{name: "bare", label: "bare Go loop (net/http, no stats)", run: runBareLoop},
	{name: "worker", label: "boomer worker, net/http task (examples/http)", run: runWorker("nethttp")},
	{name: "helper", label: "boomer worker, boomer.HTTPClient task", run: runWorker("helper")},
	{name: "fasthttp", label: "boomer worker, boomer.FastHTTPClient task", run: runWorker("fasthttp")},
	{name: "locust", label: "Locust FastHttpUser (one process)", run: runLocust},
}

// process is a started child process whose output goes to a log file and,
// for stdout, also into a buffer.
type process struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	log    string
	done   chan error
}

// startProcess starts name with args pinned to cpu with taskset, in its own
// process group, logging to dir/tag.log.
func startProcess(s *setup, cpu int, tag, name string, args ...string) (*process, error) {
	logPath := filepath.Join(s.dir, tag+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &process{log: logPath, done: make(chan error, 1)}
	p.cmd = exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
	p.cmd.Dir = s.root
	p.cmd.Stdout = io.MultiWriter(&p.stdout, logFile)
	p.cmd.Stderr = logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.done <- p.cmd.Wait()
		logFile.Close()
	}()
	return p, nil
}

// wait waits for the process to exit, at most until timeout, and then kills
// its process group. It returns the exit error, or an error naming the
// timeout, and the process's CPU time from its rusage.
func (p *process) wait(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-p.done:
	case <-timer.C:
		p.kill()
		<-p.done
		err = fmt.Errorf("%s still running after %s; killed (log %s)", p.cmd.Args[3], timeout, p.log)
	case <-ctx.Done():
		p.kill()
		<-p.done
		err = ctx.Err()
	}
	var usage *syscall.Rusage
	if p.cmd.ProcessState != nil {
		usage, _ = p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	}
	return rusageCPU(usage), err
}

func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// seconds formats d as whole seconds, the form wrk and Locust accept.
func seconds(d time.Duration) string {
	return strconv.Itoa(int(d/time.Second)) + "s"
}

func runWrk(ctx context.Context, s *setup, tag string) (counts, time.Duration, time.Duration, error) {
	p, err := startProcess(s, s.genCPU, tag, "wrk",
		"-t1", "-c"+strconv.Itoa(s.users), "-d"+seconds(s.duration), "--latency", s.url)
	if err != nil {
		return counts{}, 0, 0, err
	}
	cpu, err := p.wait(ctx, s.duration+30*time.Second)
	if err != nil {
		return counts{}, cpu, 0, fmt.Errorf("wrk: %w; %s", err, tail(p.log))
	}
	c, err := parseWrk(p.stdout.String())
	return c, cpu, 0, err
}

func runBareLoop(ctx context.Context, s *setup, tag string) (counts, time.Duration, time.Duration, error) {
	args := []string{"--url", s.url, "--users", strconv.Itoa(s.users), "--duration", s.duration.String(),
		"--max-conns", strconv.Itoa(s.users)}
	if s.profileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(s.profileDir, tag+".pprof"))
	}
	p, err := startProcess(s, s.genCPU, tag, s.loopBin, args...)
	if err != nil {
		return counts{}, 0, 0, err
	}
	cpu, err := p.wait(ctx, s.duration+30*time.Second)
	if err != nil {
		return counts{}, cpu, 0, fmt.Errorf("bareloop: %w; %s", err, tail(p.log))
	}
	c, err := parseBareLoop(p.stdout.String())
	return c, cpu, 0, err
}

// runWorker returns the run of examples/http under a headless Locust master
// with the given --client.
func runWorker(client string) func(context.Context, *setup, string) (counts, time.Duration, time.Duration, error) {
	return func(ctx context.Context, s *setup, tag string) (counts, time.Duration, time.Duration, error) {
		return runWorkerProcess(ctx, s, tag, client, nil)
	}
}

// testStartLine is the message the worker logs when the master's first
// spawn message arrives, which is when its users start.
const testStartLine = "test starting"

// runWorkerProcess runs examples/http under a headless Locust master with
// the given --client. When started is not nil, it is closed once the
// worker's log shows that its users started.
func runWorkerProcess(ctx context.Context, s *setup, tag, client string, started chan<- struct{}) (counts, time.Duration, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return counts{}, 0, 0, err
	}
	csvPrefix := filepath.Join(s.dir, tag)
	users := strconv.Itoa(s.users)
	master, err := startProcess(s, s.helperCPU, tag+"-master", s.locust,
		"-f", filepath.Join(s.root, "examples", "locustfile.py"),
		"--master", "--headless", "-u", users, "-r", users, "-t", seconds(s.duration),
		"--expect-workers", "1", "--expect-workers-max-wait", "30",
		"--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
		"--csv", csvPrefix, "--only-summary", "--loglevel", "WARNING")
	if err != nil {
		return counts{}, 0, 0, err
	}
	args := []string{"--url", s.url, "--client", client, "--max-conns", users,
		"--master-host", "127.0.0.1", "--master-port", strconv.Itoa(port)}
	if s.profileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(s.profileDir, tag+".pprof"))
	}
	worker, err := startProcess(s, s.genCPU, tag, s.workerBin, args...)
	if err != nil {
		master.kill()
		<-master.done
		return counts{}, 0, 0, err
	}
	if started != nil {
		stopWatching := make(chan struct{})
		defer close(stopWatching)
		go watchLog(worker.log, testStartLine, started, stopWatching)
	}

	// The master quits the worker at the end of the run, and both exit.
	masterCPU, masterErr := master.wait(ctx, s.duration+90*time.Second)
	cpu, workerErr := worker.wait(ctx, 30*time.Second)
	if workerErr != nil {
		return counts{}, cpu, masterCPU, fmt.Errorf("worker: %w; %s", workerErr, tail(worker.log))
	}
	c, err := readLocustStats(csvPrefix + "_stats.csv")
	if err != nil {
		// Locust exits with 1 when a request failed, so its exit
		// status is reported only when the CSV is missing too.
		return counts{}, cpu, masterCPU, fmt.Errorf("master (exit: %v): %w; %s", masterErr, err, tail(master.log))
	}
	return c, cpu, masterCPU, nil
}

// watchLog closes found once the file at path contains line, checking every
// 20 ms until stop is closed.
func watchLog(path, line string, found chan<- struct{}, stop <-chan struct{}) {
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		if data, err := os.ReadFile(path); err == nil && bytes.Contains(data, []byte(line)) {
			close(found)
			return
		}
		select {
		case <-ticker.C:
		case <-stop:
			return
		}
	}
}

func runLocust(ctx context.Context, s *setup, tag string) (counts, time.Duration, time.Duration, error) {
	csvPrefix := filepath.Join(s.dir, tag)
	users := strconv.Itoa(s.users)
	p, err := startProcess(s, s.genCPU, tag, s.locust,
		"-f", filepath.Join(s.root, "bench", "locustfile_fasthttp.py"),
		"--headless", "-u", users, "-r", users, "-t", seconds(s.duration),
		// The locustfile requests "/", which Locust appends to the host.
		"-H", strings.TrimSuffix(s.url, "/"),
		"--csv", csvPrefix, "--only-summary", "--loglevel", "WARNING")
	if err != nil {
		return counts{}, 0, 0, err
	}
	cpu, waitErr := p.wait(ctx, s.duration+60*time.Second)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return counts{}, cpu, 0, fmt.Errorf("locust: %w; %s", waitErr, tail(p.log))
	}
	c, err := readLocustStats(csvPrefix + "_stats.csv")
	if err != nil {
		return counts{}, cpu, 0, fmt.Errorf("locust (exit: %v): %w; %s", waitErr, err, tail(p.log))
	}
	return c, cpu, 0, nil
}
