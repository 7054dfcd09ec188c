package boomer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrMasterQuit is returned by Run when the master sent quit: the master shut
// down or its run time ended.
var ErrMasterQuit = errors.New("boomer: the master sent quit")

// SignalError is returned by Run when the process received SIGINT or SIGTERM.
// The worker sent quit to the master before returning.
type SignalError struct {
	Signal os.Signal
}

func (e *SignalError) Error() string {
	return fmt.Sprintf("boomer: received signal %s", e.Signal)
}

// Boomer is one Locust worker: it registers with a master, runs users that
// execute its tasks, and reports their requests. Create it with New and
// start it with Run. Its Record methods are safe for concurrent use.
type Boomer struct {
	cfg          Config
	tasks        []*Task
	classes      []*UserClass
	onTestStart  []func(TestInfo)
	onTestStop   []func(TestInfo)
	handlers     sync.Map // message type → func(data any)
	log          *slog.Logger
	nodeID       string
	handleSignal bool
	stdout       io.Writer
	newTransport transportFactory
	stats        *statsCollector

	// liveConsole makes a standalone run print its live table; New sets it
	// when stdout is a terminal.
	liveConsole bool
	// runStats holds the cumulative statistics of the worker's run for the
	// metrics endpoint; nil without one.
	runStats atomic.Pointer[runStats]
	// metricsAddr is the address the metrics endpoint listens on, or "".
	metricsAddr atomic.Value

	// session is the worker of the active Run, for tests.
	session atomic.Pointer[worker]
	// standalone is the active standalone run, and lastStandalone the
	// latest, for tests.
	standalone     atomic.Pointer[standaloneRun]
	lastStandalone *standaloneRun
	// test is the current test's information from the master.
	test atomic.Pointer[TestInfo]
}

// Option configures a Boomer in New.
type Option func(*Boomer) error

// WithTasks adds tasks for the users to run.
func WithTasks(tasks ...*Task) Option {
	return func(b *Boomer) error {
		b.tasks = append(b.tasks, tasks...)
		return nil
	}
}

// WithUserClasses adds user classes. The master's spawn messages name the
// classes to run. A name the worker has no class for is reported to the
// master as an error and runs no users. A worker has either user classes or
// plain tasks (WithTasks), not both, because plain tasks serve every class
// name the master sends.
func WithUserClasses(classes ...*UserClass) Option {
	return func(b *Boomer) error {
		b.classes = append(b.classes, classes...)
		return nil
	}
}

// WithTestStart adds a hook called once at the start of every test, before
// its users start, with what the master sent about the test.
func WithTestStart(hook func(TestInfo)) Option {
	return func(b *Boomer) error {
		if hook == nil {
			return errors.New("WithTestStart: hook is nil")
		}
		b.onTestStart = append(b.onTestStart, hook)
		return nil
	}
}

// WithTestStop adds a hook called once at the end of every test, after its
// users stopped: on stop, on quit during a test, and when the master is lost
// during a test.
func WithTestStop(hook func(TestInfo)) Option {
	return func(b *Boomer) error {
		if hook == nil {
			return errors.New("WithTestStop: hook is nil")
		}
		b.onTestStop = append(b.onTestStop, hook)
		return nil
	}
}

// WithConfig sets the master address and the other command-line settings.
// Without it the worker uses DefaultConfig.
func WithConfig(cfg Config) Option {
	return func(b *Boomer) error {
		b.cfg = cfg
		return nil
	}
}

// WithLogger sets the logger for lifecycle events and errors. Without it the
// worker logs to slog.Default. Every record carries the worker's node id.
func WithLogger(l *slog.Logger) Option {
	return func(b *Boomer) error {
		if l == nil {
			return errors.New("WithLogger: logger is nil")
		}
		b.log = l
		return nil
	}
}

// WithSignalHandling sets whether Run stops on SIGINT and SIGTERM. It does by
// default; turn it off when the program handles signals itself and cancels
// Run's context instead.
func WithSignalHandling(on bool) Option {
	return func(b *Boomer) error {
		b.handleSignal = on
		return nil
	}
}

// WithNodeID sets the worker's node id, which is also its ZeroMQ identity.
// The default is "<hostname>_<32 hex digits>", new for every Boomer. The
// master treats the part before the first "_" as the host name.
func WithNodeID(id string) Option {
	return func(b *Boomer) error {
		if err := validateNodeID(id); err != nil {
			return err
		}
		b.nodeID = id
		return nil
	}
}

// New returns a worker for the given options. It validates everything it can
// before any connection is made.
func New(opts ...Option) (*Boomer, error) {
	b := &Boomer{
		cfg:          DefaultConfig(),
		handleSignal: true,
		stdout:       os.Stdout,
		newTransport: newZMQTransport,
	}
	for _, opt := range opts {
		if err := opt(b); err != nil {
			return nil, err
		}
	}
	if err := b.cfg.Validate(); err != nil {
		return nil, err
	}
	if b.nodeID == "" {
		id, err := newNodeID()
		if err != nil {
			return nil, err
		}
		b.nodeID = id
	}
	if err := b.validateBehaviour(); err != nil {
		return nil, err
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("node_id", b.nodeID)
	b.stats = newStatsCollector(nil)
	if f, ok := b.stdout.(*os.File); ok && isTerminal(f) {
		b.liveConsole = true
	}
	return b, nil
}

// validateBehaviour checks the tasks or user classes, and the --run-tasks
// names against them.
func (b *Boomer) validateBehaviour() error {
	if len(b.classes) > 0 && len(b.tasks) > 0 {
		return errors.New("both WithTasks and WithUserClasses were given: put the tasks into a UserClass, or use plain tasks without classes")
	}
	if len(b.classes) > 0 {
		seen := make(map[string]bool, len(b.classes))
		for _, c := range b.classes {
			if err := validateUserClass(c); err != nil {
				return err
			}
			if seen[c.Name] {
				return fmt.Errorf("two user classes are named %q: class names must be unique", c.Name)
			}
			seen[c.Name] = true
		}
	} else if len(b.cfg.RunTasks) > 0 {
		if err := validateTasks(b.tasks); err != nil {
			return err
		}
	} else if _, err := newTaskPicker(b.tasks); err != nil {
		return err
	}
	if len(b.cfg.RunTasks) > 0 {
		if _, err := findTasks(b.allTasks(), b.cfg.RunTasks); err != nil {
			return err
		}
	}
	return nil
}

// allTasks returns the plain tasks and the top-level tasks of every class.
func (b *Boomer) allTasks() []*Task {
	tasks := append([]*Task(nil), b.tasks...)
	for _, c := range b.classes {
		tasks = append(tasks, c.Tasks...)
	}
	return tasks
}

// NodeID returns the worker's node id.
func (b *Boomer) NodeID() string {
	return b.nodeID
}

// RecordSuccess records a successful request. requestType is Locust's
// request type or method ("GET", "grpc"), name the request's name, and
// responseLength its size in bytes. The response time is sent to the master
// as float milliseconds, so sub-millisecond times are kept.
func (b *Boomer) RecordSuccess(requestType, name string, responseTime time.Duration, responseLength int64) {
	b.recordSuccess(requestType, name, durationMillis(responseTime), responseLength)
}

// RecordFailure records a failed request. The failure counts as a request
// too, and exception becomes a row of the master's failure table.
func (b *Boomer) RecordFailure(requestType, name string, responseTime time.Duration, exception string) {
	b.recordFailure(requestType, name, durationMillis(responseTime), exception)
}

func (b *Boomer) recordSuccess(requestType, name string, responseTimeMs float64, responseLength int64) {
	b.stats.recordSuccess(requestType, name, responseTimeMs, responseLength)
}

func (b *Boomer) recordFailure(requestType, name string, responseTimeMs float64, exception string) {
	b.stats.recordFailure(requestType, name, responseTimeMs, exception)
}

func durationMillis(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// Run connects to the master and takes part in its tests until the master
// sends quit, the process receives SIGINT or SIGTERM, or ctx ends. It always
// returns a non-nil error that gives the reason: ErrMasterQuit, a
// *SignalError, an error wrapping ctx.Err(), or a failure. With RunTasks set
// it instead runs those tasks once each without a master and returns nil
// when they are done.
//
// With Config.Standalone set it runs the test without a master until its
// run time ends, every user ran its iterations, or SIGINT, SIGTERM or ctx
// ends it. It prints the summary, writes the requested reports, and returns
// nil, a *FailedRequestsError when a request failed, or a failure.
//
// While Run is active, the package-level RecordSuccess, RecordFailure and
// Events.Publish record into this Boomer.
func (b *Boomer) Run(ctx context.Context) error {
	previous := current.Swap(b)
	defer current.CompareAndSwap(b, previous)
	if b.stats.clock != nil {
		defer b.stats.clock.start()()
	}

	if len(b.cfg.RunTasks) > 0 {
		return b.runTasksOnce()
	}
	if b.handleSignal {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(signals)
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case sig := <-signals:
				cancel(&SignalError{Signal: sig})
			case <-ctx.Done():
			}
		}()
	}
	if b.cfg.Standalone {
		return b.runStandalone(ctx)
	}
	if b.cfg.HealthPort != 0 {
		health, err := startHealthServer(b, b.log)
		if err != nil {
			return err
		}
		defer health.stop()
	}
	w, err := newWorker(b)
	if err != nil {
		return err
	}
	b.session.Store(w)
	defer b.session.Store(nil)
	stopMetrics, err := b.startMetrics(w.metricsSource())
	if err != nil {
		return err
	}
	defer stopMetrics()
	return w.run(ctx)
}

// current is the Boomer that the package-level record functions use.
var current atomic.Pointer[Boomer]

// RecordSuccess records a successful request in the running worker. See
// (*Boomer).RecordSuccess.
func RecordSuccess(requestType, name string, responseTime time.Duration, responseLength int64) {
	if b := runningBoomer(); b != nil {
		b.RecordSuccess(requestType, name, responseTime, responseLength)
	}
}

// RecordFailure records a failed request in the running worker. See
// (*Boomer).RecordFailure.
func RecordFailure(requestType, name string, responseTime time.Duration, exception string) {
	if b := runningBoomer(); b != nil {
		b.RecordFailure(requestType, name, responseTime, exception)
	}
}

var noWorkerWarned atomic.Bool

func runningBoomer() *Boomer {
	if b := current.Load(); b != nil {
		return b
	}
	warnNoWorker()
	return nil
}

func warnNoWorker() {
	if noWorkerWarned.CompareAndSwap(false, true) {
		slog.Error("request recorded while no worker is running; start one with boomer.Run or (*Boomer).Run first (this message is logged once)")
	}
}

// Now returns the current time in milliseconds since the Unix epoch, the unit
// of the response times passed to Events.Publish.
func Now() int64 {
	return time.Now().UnixMilli()
}

// Run is the entry point of a worker program. It defines the worker's flags on
// flag.CommandLine (see Config.RegisterFlags), parses the command line, and
// runs the tasks until the master sends quit or the process receives SIGINT
// or SIGTERM. Invalid flags or tasks print an error and exit with status 2.
// After a standalone run (--standalone) it returns, or exits with the status
// of --exit-code-on-error when a request failed.
func Run(tasks ...*Task) {
	cfg := DefaultConfig()
	if flag.CommandLine.Lookup("master-host") == nil {
		cfg.RegisterFlags(flag.CommandLine)
	}
	// A program that parsed the command line itself before Run failed there
	// on the worker's flags, which were not defined yet; Run parses it with
	// them defined.
	if err := flag.CommandLine.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	b, err := New(WithConfig(cfg), WithTasks(tasks...))
	if err != nil {
		fmt.Fprintf(os.Stderr, "boomer: %v\n", err)
		os.Exit(2)
	}
	err = b.Run(context.Background())
	code := ExitCode(err)
	var failed *FailedRequestsError
	switch {
	case code == 0 && err != nil:
		b.log.Info("worker stopped", "reason", err)
	case errors.As(err, &failed):
		// The summary of the standalone run shows the failures.
	case code != 0:
		fmt.Fprintf(os.Stderr, "boomer: %v\n", err)
	}
	if code != 0 {
		os.Exit(code)
	}
}

// ExitCode returns the exit status that boomer.Run uses for an error from
// (*Boomer).Run. It is 0 for nil, a quit from the master, a signal or an
// ended context, and the ExitCode of a *FailedRequestsError. Any other
// error gives 1.
func ExitCode(err error) int {
	var failed *FailedRequestsError
	var signalErr *SignalError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &failed):
		return failed.ExitCode
	case errors.Is(err, ErrMasterQuit), errors.As(err, &signalErr),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 0
	default:
		return 1
	}
}

func newNodeID() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "boomer"
	}
	// The master reads the part before the first "_" as the host name.
	host = strings.ReplaceAll(host, "_", "-")
	var random [16]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("generate node id: %w", err)
	}
	id := host + "_" + hex.EncodeToString(random[:])
	if len(id) > 255 {
		id = id[len(id)-255:]
	}
	return id, nil
}

// validateNodeID checks the ZeroMQ identity rules: 1 to 255 bytes, valid
// UTF-8 (the master decodes it as text), and no leading zero byte, which
// libzmq reserves.
func validateNodeID(id string) error {
	switch {
	case id == "":
		return errors.New("node id is empty")
	case len(id) > 255:
		return fmt.Errorf("node id is %d bytes long: ZeroMQ allows at most 255", len(id))
	case id[0] == 0:
		return errors.New("node id starts with a zero byte, which ZeroMQ reserves")
	case validText(id) != id:
		return fmt.Errorf("node id %q is not valid UTF-8", id)
	}
	return nil
}
