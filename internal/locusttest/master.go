package locusttest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// webUIStartTimeout bounds how long StartMaster waits for the web UI to
	// respond. It leaves room for a slow start on a loaded CI machine.
	webUIStartTimeout = 30 * time.Second

	// stopGracePeriod is how long the cleanup waits after SIGTERM before it
	// sends SIGKILL.
	stopGracePeriod = 5 * time.Second

	// logTailBytes is how much of the master's log goes into failure messages.
	logTailBytes = 4000
)

// MasterOptions configures StartMaster. Only Locustfile is required.
type MasterOptions struct {
	// Locustfile is the path of the locustfile that defines the User classes.
	// A relative path is resolved against the working directory.
	Locustfile string

	// Headless starts the test without the web UI. The master waits for
	// ExpectWorkers workers, runs for RunTime and then exits.
	Headless bool

	// Users is passed as -u when greater than 0. Locust's default is 1.
	Users int

	// SpawnRate, in users per second, is passed as -r when greater than 0.
	// Locust's default is 1.
	SpawnRate float64

	// RunTime is passed as -t when set, for example "15s" or "1m30s".
	// A headless master without it runs until it gets a signal.
	RunTime string

	// ExpectWorkers is passed as --expect-workers. It defaults to 1 when
	// Headless is set. Without Headless, Locust uses it only with --autostart.
	ExpectWorkers int

	// ExpectWorkersMaxWait is passed as --expect-workers-max-wait, rounded up
	// to whole seconds. After that time without enough workers, Locust 2.47.0
	// logs "Gave up waiting for workers to connect" and exits with code 1.
	// Zero means wait forever, which is Locust's default.
	ExpectWorkersMaxWait time.Duration

	// CSVPrefix is passed as --csv. When it is empty and Headless is set,
	// the master writes its CSV files under t.TempDir().
	CSVPrefix string

	// StopTimeout is passed as --stop-timeout when set, for example "5s".
	StopTimeout string

	// Port is the master's ZeroMQ port. Zero picks a free port; a test that
	// restarts a master on the same port passes the first master's Port.
	Port int

	// Host is passed as --host when set.
	Host string

	// LogLevel is passed as --loglevel when set, for example "DEBUG".
	LogLevel string

	// ExtraArgs are appended to the command line after all other arguments.
	ExtraArgs []string

	// Env entries ("KEY=value") are added to the environment that the
	// master inherits from the test process.
	Env []string
}

// Master is a running `locust --master` process. StartMaster registers a
// cleanup that stops it, so tests need not stop it themselves.
type Master struct {
	// Port is the port of the master's ZeroMQ socket on 127.0.0.1, which
	// workers connect to.
	Port int

	// WebURL is the base URL of the web UI, such as "http://127.0.0.1:34567".
	// It is empty for a headless master.
	WebURL string

	// CSVPrefix is the absolute prefix of the CSV files, or empty when the
	// master writes none.
	CSVPrefix string

	// LogPath is the file that receives the master's stdout and stderr.
	LogPath string

	// Args is the full command line, for failure messages.
	Args []string

	cmd  *exec.Cmd
	done chan struct{}

	mu       sync.Mutex
	exitCode int
	waitErr  error

	httpClient *http.Client
}

// StartMaster starts `locust --master` on 127.0.0.1 in its own process group
// and returns once the process runs. For a master with a web UI it also waits
// until GET / returns 200. The test fails if the master cannot be started.
func StartMaster(t testing.TB, opts MasterOptions) *Master {
	t.Helper()

	locust := FindLocust(t)
	if opts.Locustfile == "" {
		t.Fatal("MasterOptions.Locustfile is empty; pass the path of a locustfile, for example from WriteLocustfile")
	}
	locustfile, err := filepath.Abs(opts.Locustfile)
	if err != nil {
		t.Fatalf("resolve locustfile path %q: %v", opts.Locustfile, err)
	}
	if _, err := os.Stat(locustfile); err != nil {
		t.Fatalf("locustfile not found: %v", err)
	}

	// The master runs in its own directory so that a locust.conf or
	// pyproject.toml in the test's directory cannot change its options.
	runDir := t.TempDir()

	m := &Master{
		Port:       opts.Port,
		LogPath:    filepath.Join(runDir, "master.log"),
		done:       make(chan struct{}),
		httpClient: &http.Client{Timeout: 10 * time.Second},
	}

	if m.Port == 0 {
		m.Port = FreePort(t)
	}

	csvPrefix := opts.CSVPrefix
	if csvPrefix == "" && opts.Headless {
		csvPrefix = filepath.Join(runDir, "stats")
	}
	if csvPrefix != "" {
		if m.CSVPrefix, err = filepath.Abs(csvPrefix); err != nil {
			t.Fatalf("resolve CSV prefix %q: %v", csvPrefix, err)
		}
	}

	webPort := 0
	if !opts.Headless {
		webPort = FreePort(t)
		m.WebURL = fmt.Sprintf("http://127.0.0.1:%d", webPort)
	}

	m.Args = append([]string{locust}, masterArgs(locustfile, m.Port, webPort, m.CSVPrefix, opts)...)

	logFile, err := os.Create(m.LogPath)
	if err != nil {
		t.Fatalf("create master log file: %v", err)
	}
	defer logFile.Close()

	m.cmd = exec.Command(m.Args[0], m.Args[1:]...)
	m.cmd.Dir = runDir
	m.cmd.Stdout = logFile
	m.cmd.Stderr = logFile
	// PYTHONUNBUFFERED makes the log file current, which WaitForLog relies on.
	m.cmd.Env = append(append(os.Environ(), "PYTHONUNBUFFERED=1"), opts.Env...)
	// Pdeathsig kills the master when the test process dies without running
	// its cleanups, for example after a panic.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start locust master %q: %v", strings.Join(m.Args, " "), err)
	}
	go m.reap()
	t.Cleanup(func() { m.cleanup(t) })

	if !opts.Headless {
		if err := m.waitForWebUI(webUIStartTimeout); err != nil {
			t.Fatalf("%v\n%s", err, m.describe())
		}
	}
	return m
}

func masterArgs(locustfile string, port, webPort int, csvPrefix string, opts MasterOptions) []string {
	args := []string{
		"-f", locustfile,
		"--master",
		"--master-bind-host", "127.0.0.1",
		"--master-bind-port", strconv.Itoa(port),
	}

	expectWorkers := opts.ExpectWorkers
	if opts.Headless {
		args = append(args, "--headless")
		if expectWorkers <= 0 {
			expectWorkers = 1
		}
	} else {
		args = append(args, "--web-host", "127.0.0.1", "--web-port", strconv.Itoa(webPort))
	}
	if expectWorkers > 0 {
		args = append(args, "--expect-workers", strconv.Itoa(expectWorkers))
	}
	if opts.ExpectWorkersMaxWait > 0 {
		seconds := int((opts.ExpectWorkersMaxWait + time.Second - 1) / time.Second)
		args = append(args, "--expect-workers-max-wait", strconv.Itoa(seconds))
	}

	if opts.Users > 0 {
		args = append(args, "-u", strconv.Itoa(opts.Users))
	}
	if opts.SpawnRate > 0 {
		args = append(args, "-r", strconv.FormatFloat(opts.SpawnRate, 'f', -1, 64))
	}
	if opts.RunTime != "" {
		args = append(args, "-t", opts.RunTime)
	}
	if csvPrefix != "" {
		args = append(args, "--csv", csvPrefix)
	}
	if opts.StopTimeout != "" {
		args = append(args, "--stop-timeout", opts.StopTimeout)
	}
	if opts.Host != "" {
		args = append(args, "--host", opts.Host)
	}
	if opts.LogLevel != "" {
		args = append(args, "--loglevel", opts.LogLevel)
	}
	return append(args, opts.ExtraArgs...)
}

// reap waits for the process and records how it ended.
func (m *Master) reap() {
	err := m.cmd.Wait()

	m.mu.Lock()
	m.exitCode = m.cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		m.waitErr = err
	} else if status, ok := m.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		m.waitErr = fmt.Errorf("locust master was killed by signal %v", status.Signal())
	}
	m.mu.Unlock()

	close(m.done)
}

// PID returns the process id of the locust master.
func (m *Master) PID() int {
	return m.cmd.Process.Pid
}

// Exited reports whether the master process has ended.
func (m *Master) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the master to exit and returns its exit code.
// The error is non-nil when the timeout passes first (the code is then -1),
// or when the process was killed by a signal instead of exiting.
func (m *Master) Wait(timeout time.Duration) (exitCode int, err error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	select {
	case <-m.done:
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.exitCode, m.waitErr
	case <-timer.C:
		return -1, fmt.Errorf("locust master (pid %d) still running after %v", m.cmd.Process.Pid, timeout)
	}
}

// Signal sends sig to the master's process group. Signalling a master that
// has already exited does nothing.
//
// Locust 2.47.0 handles SIGTERM by stopping the test, printing the final
// stats and exiting, but it installs that handler only after startup. A
// headless master that is still waiting for --expect-workers has no handler
// yet, so SIGTERM kills it at once, without final stats, and Wait reports the
// signal as an error.
func (m *Master) Signal(sig syscall.Signal) error {
	if m.Exited() {
		return nil
	}
	err := syscall.Kill(-m.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Log returns the master's stdout and stderr so far.
func (m *Master) Log() string {
	data, err := os.ReadFile(m.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read master log %s: %v)", m.LogPath, err)
	}
	return string(data)
}

// WaitForLog polls the master's log every 100 ms until it contains substr.
// It returns an error when timeout passes or the master exits first.
func (m *Master) WaitForLog(substr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		// Check the exit state before reading, so a line written just
		// before the exit is still found.
		exited := m.Exited()
		if strings.Contains(m.Log(), substr) {
			return nil
		}
		if exited {
			return fmt.Errorf("locust master exited before its log contained %q\n%s", substr, m.describe())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %q in the locust master log\n%s", timeout, substr, m.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe returns the command line and the end of the log, for failure
// messages.
func (m *Master) describe() string {
	log := m.Log()
	if len(log) > logTailBytes {
		log = "...\n" + log[len(log)-logTailBytes:]
	}
	return fmt.Sprintf("command: %s\nlog (%s):\n%s", strings.Join(m.Args, " "), m.LogPath, log)
}

// cleanup stops a master that is still running: SIGTERM to the process
// group, then SIGKILL after stopGracePeriod. When the test failed, it logs
// the end of the master's output.
func (m *Master) cleanup(t testing.TB) {
	if !m.Exited() {
		_ = m.Signal(syscall.SIGTERM)
		if _, err := m.Wait(stopGracePeriod); err != nil && !m.Exited() {
			t.Logf("locust master did not exit %v after SIGTERM; sending SIGKILL", stopGracePeriod)
			_ = m.Signal(syscall.SIGKILL)
			if _, err := m.Wait(stopGracePeriod); err != nil && !m.Exited() {
				t.Errorf("locust master (pid %d) still running after SIGKILL: %v", m.cmd.Process.Pid, err)
			}
		}
	}
	if t.Failed() {
		t.Logf("locust master output:\n%s", m.describe())
	}
}
