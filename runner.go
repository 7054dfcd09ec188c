package boomer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Protocol timing. Locust's Python worker uses the same intervals
// (locust/runners.py, Locust 2.46).
const (
	heartbeatInterval   = 1 * time.Second
	reportInterval      = 3 * time.Second
	clientReadyInterval = 5 * time.Second
	// reportHoldAfter is how long a master that replied to heartbeats may
	// be silent before periodic reports are held back. A report sent into a
	// partition is dropped with the socket once the master is declared
	// lost, so its requests wait for a later report instead.
	reportHoldAfter = 3 * heartbeatInterval
)

// Shutdown timing. The master waits only 0.5 s for final stats after it sends
// quit, so the worker gives tasks in flight quitGrace to finish, then sends
// its last report and quit, and gives the socket closeFlush to send them.
const (
	quitGrace  = 200 * time.Millisecond
	closeFlush = 1 * time.Second
	// minStopGrace is how long a stop waits at least for tasks in flight
	// before the worker reports client_stopped. A task that ends later still
	// has its requests reported, in the next report.
	minStopGrace = 1 * time.Second
)

// maxExceptionsPerSecond limits exception messages from panicking tasks, so
// that a task that panics on every call cannot flood the master.
const maxExceptionsPerSecond = 10

// worker is one session of a Boomer with a master: the protocol state
// machine of Run.
type worker struct {
	b         *Boomer
	log       *slog.Logger
	transport transport
	users     *userPool

	// state is the protocol state sent in heartbeats: stateReady,
	// stateSpawning or stateRunning.
	state atomic.Value

	// reportMu serializes stats reports, so the report that flushes a stop
	// goes out before client_stopped and no report is sent twice.
	reportMu sync.Mutex

	// Fields below are used only by the control goroutine (run).
	registered         bool
	lastClientReady    time.Time
	clientReadyCount   int
	lastSpawnTimestamp float64
	stopTimeout        time.Duration
	testRunning        bool
	// stopDone receives the result of a stop running in the background; it
	// is nil when no stop runs.
	stopDone chan int
	// ackSeen records that the master sends ack (Locust >= 2.10), and
	// awaitingAck that the worker registered again after a stop and waits
	// for that ack. Spawns in between are stale: the master deleted the
	// worker, and may still send a ramp step it computed before the stop.
	ackSeen     bool
	awaitingAck bool
	// capabilities are the capability bits detected, and registeredAt the
	// time of the first registration with this master.
	capabilities   int
	registeredAt   time.Time
	unknownTypes   map[string]bool
	unknownClasses map[string]bool
	workerIndex    int64

	// classes are the runtimes of the worker's user classes, by name. With
	// plain tasks, a runtime is made for each class name the master sends.
	classesMu sync.Mutex
	classes   map[string]*classRuntime
	filter    tagFilter

	// ready is true from the master's ack (or, from a master without acks,
	// its first spawn) until the worker finds the master lost. It stays true
	// through the new registration after each stop. The health check
	// server's readiness endpoint reads it.
	ready atomic.Bool

	// lastMasterHeartbeat is the Unix time in nanoseconds of the last
	// heartbeat from the master, or 0 before the first one.
	lastMasterHeartbeat atomic.Int64
	// reportsHeld is set from the loss of a master until the worker is
	// registered again. Reports sent meanwhile would go to sockets that a
	// reconnect may drop.
	reportsHeld atomic.Bool

	exceptionLimiter *rate.Limiter
	exceptionsLost   atomic.Int64
	// panickedTasks stores the names of tasks whose panic was logged.
	panickedTasks sync.Map
	// overflowReports counts reports with overflow entries, to rate-limit
	// the warning.
	overflowReports atomic.Int64

	// limiter paces task starts when MaxRPS or GlobalMaxRPS is set; nil
	// otherwise. workerCount is the master's --expect-workers of the
	// current test, from its spawn options.
	limiter     *taskLimiter
	workerCount int64
	// arrival runs the open model when ArrivalRate is set; nil otherwise.
	arrival *arrivalExecutor
}

func newWorker(b *Boomer) (*worker, error) {
	endpoint := b.cfg.endpoint()
	tr, err := b.newTransport(endpoint, b.nodeID, b.log)
	if err != nil {
		return nil, fmt.Errorf("open connection to master at %s: %w", endpoint, err)
	}
	w := &worker{
		b:                b,
		log:              b.log,
		transport:        tr,
		unknownTypes:     make(map[string]bool),
		unknownClasses:   make(map[string]bool),
		workerIndex:      -1,
		classes:          make(map[string]*classRuntime),
		exceptionLimiter: rate.NewLimiter(maxExceptionsPerSecond, maxExceptionsPerSecond),
	}
	for _, c := range b.classes {
		w.classes[c.Name] = newClassRuntime(c)
	}
	w.users = newUserPool(b, w.resolveClass, w.runTask)
	if b.cfg.MaxRPS > 0 || b.cfg.GlobalMaxRPS > 0 {
		w.limiter = newTaskLimiter()
		w.users.limiter = w.limiter
	}
	if b.cfg.ArrivalRate > 0 {
		w.arrival = newArrivalExecutor(b, w.runTask, b.cfg.ArrivalRate, b.cfg.MaxInFlight)
	}
	w.state.Store(stateReady)
	return w, nil
}

// rateTarget returns this worker's task rate limit: MaxRPS, or its share of
// GlobalMaxRPS by its worker index among the master's expected workers.
func (w *worker) rateTarget() float64 {
	if w.b.cfg.GlobalMaxRPS == 0 {
		return w.b.cfg.MaxRPS
	}
	count := max(w.workerCount, 1)
	return workerShare(w.b.cfg.GlobalMaxRPS, max(w.workerIndex, 0), count)
}

// updateWorkerCount reads the master's --expect-workers from spawn options
// and applies the new share of a global rate limit.
func (w *worker) updateWorkerCount(options map[string]any) {
	if w.limiter == nil || w.b.cfg.GlobalMaxRPS == 0 {
		return
	}
	count, ok := asInt(options["expect_workers"])
	if !ok || count < 1 {
		if w.workerCount != 1 {
			w.log.Warn("the master sent no expect_workers option; this worker takes the whole --global-max-rps (start the master with --expect-workers)",
				"global_max_rps", w.b.cfg.GlobalMaxRPS)
		}
		count = 1
	}
	if w.workerIndex >= count {
		w.log.Warn("this worker's index is not below the master's --expect-workers, so the workers together exceed --global-max-rps; start the master with --expect-workers set to the number of workers",
			"worker_index", w.workerIndex, "expect_workers", count)
	}
	w.workerCount = count
}

// resolveClass returns the runtime of a class name from the master, or nil
// when the worker has user classes and none of that name. With plain tasks
// every name gets a runtime running those tasks.
func (w *worker) resolveClass(name string) *classRuntime {
	w.classesMu.Lock()
	defer w.classesMu.Unlock()
	if c, ok := w.classes[name]; ok {
		return c
	}
	if len(w.b.classes) > 0 {
		return nil
	}
	c := newClassRuntime(&UserClass{Name: name, Tasks: w.b.tasks})
	c.compile(w.filter)
	w.classes[name] = c
	return c
}

// compileClasses compiles every class for a new test with the tag filter
// from the master's options.
func (w *worker) compileClasses(options map[string]any) {
	w.classesMu.Lock()
	defer w.classesMu.Unlock()
	w.filter = newTagFilter(options)
	for name, c := range w.classes {
		if !c.compile(w.filter) {
			w.log.Error("no task of the user class passes the master's --tags and --exclude-tags; its users only wait for the stop",
				"class", name, "tags", options["tags"], "exclude_tags", options["exclude_tags"])
		}
	}
}

func (w *worker) setState(s string) {
	w.state.Store(s)
}

func (w *worker) protocolState() string {
	return w.state.Load().(string)
}

// run is the control loop: it handles the master's messages in order and
// owns the registration state. Heartbeats and periodic reports run on their
// own goroutines so that nothing here can delay them.
func (w *worker) run(ctx context.Context) error {
	w.log.Info("worker starting", "master", w.b.cfg.endpoint(), "version", Version, "zeromq", zmqLibrary)

	loopCtx, stopLoops := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Add(2)
	go func() {
		defer loops.Done()
		w.heartbeatLoop(loopCtx)
	}()
	go func() {
		defer loops.Done()
		w.reportLoop(loopCtx)
	}()
	defer func() {
		stopLoops()
		loops.Wait()
	}()

	go w.checkMasterHost()
	w.sendClientReady()
	ticker := time.NewTicker(heartbeatInterval)
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			reason := context.Cause(ctx)
			var sigErr *SignalError
			if !errors.As(reason, &sigErr) {
				reason = fmt.Errorf("boomer: context ended: %w", ctx.Err())
			}
			w.log.Info("worker shutting down", "reason", reason)
			w.shutdown(stopLoops, &loops, true)
			return reason

		case frame, ok := <-w.transport.Receive():
			if !ok {
				w.users.stopAll(0, quitGrace)
				w.endTest()
				return errors.New("boomer: connection to the master closed unexpectedly")
			}
			if quit := w.handleFrame(frame); quit {
				w.log.Info("quit received from master")
				w.shutdown(stopLoops, &loops, true)
				return ErrMasterQuit
			}

		case left := <-w.stopDone:
			w.finishStop(left)

		case now := <-ticker.C:
			w.checkMaster(now)
			w.checkHeartbeatReplies(now)
			// Half a tick of slack keeps the resend at 5 s, not 6 s, when
			// the ticker fires just before the 5 s mark.
			if !w.registered && now.Sub(w.lastClientReady) >= clientReadyInterval-heartbeatInterval/2 {
				w.reconnectIfIgnored()
				w.sendClientReady()
			}
		}
	}
}

// checkMasterHost warns when the master's host name does not resolve.
// ZeroMQ retries such a connection silently, and the name may resolve later
// (a Kubernetes Service created after the worker), so it is not an error.
func (w *worker) checkMasterHost() {
	host := w.b.cfg.MasterHost
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		w.log.Warn("cannot resolve the master host; the worker keeps retrying the connection", "master_host", host, "error", err)
	}
}

// handleFrame decodes and handles one message. It returns true for quit.
func (w *worker) handleFrame(frame []byte) bool {
	msg, err := decodeMessage(frame)
	if err != nil {
		w.log.Error("invalid message from master ignored", "type", msg.Type, "bytes", len(frame), "error", err)
		return false
	}
	if msg.NodeID != "" && msg.NodeID != w.b.nodeID {
		w.log.Warn("message for another node id handled anyway", "type", msg.Type, "message_node_id", msg.NodeID)
	}

	switch msg.Type {
	case typeAck:
		w.handleAck(msg.Data)
	case typeHeartbeat:
		w.lastMasterHeartbeat.Store(time.Now().UnixNano())
		w.detected(capabilityHeartbeatReplies, "master replies to heartbeats (Locust >= 2.19); lost-master detection is on")
	case typeSpawn:
		w.handleSpawn(msg.Data)
	case typeStop:
		w.handleStop()
	case typeQuit:
		return true
	case typeReconnect:
		w.log.Warn("master asked for a reconnect (it could not decode a message); resetting the socket")
		w.transport.Reset()
	case typeSpawningComplete:
		w.detected(capabilityRampComplete, "master reports finished ramps (Locust >= 2.29)")
	case typeUpdateUserClass, typeLocustfile:
		w.log.Debug("message ignored", "type", msg.Type)
	default:
		if handler, ok := w.b.handlers.Load(msg.Type); ok {
			if err := callHook(func() error { handler.(func(any))(msg.Data); return nil }); err != nil {
				w.log.Error("custom message handler failed", "type", msg.Type, "error", err)
			}
			return false
		}
		if !w.unknownTypes[msg.Type] {
			w.unknownTypes[msg.Type] = true
			w.log.Warn("unknown message type from master ignored (logged once per type)", "type", msg.Type)
		}
	}
	return false
}

// Master capabilities that the worker detects from what the master sends;
// the master never sends its version.
const (
	capabilityAck = 1 << iota
	capabilityAckIndex
	capabilityHeartbeatReplies
	capabilityNoHeartbeatReplies
	capabilityParsedOptions
	capabilityRampComplete
)

// heartbeatReplyWait is how long after registration the worker waits for a
// heartbeat reply before it concludes that the master sends none.
const heartbeatReplyWait = 5 * time.Second

// detected logs a master capability the first time the worker detects it.
func (w *worker) detected(capability int, description string) {
	if w.capabilities&capability != 0 {
		return
	}
	w.capabilities |= capability
	w.log.Info("master capability detected: "+description, "master", w.b.cfg.endpoint())
}

// checkHeartbeatReplies logs once that the master sends no heartbeat
// replies, after heartbeatReplyWait registered without one.
func (w *worker) checkHeartbeatReplies(now time.Time) {
	if !w.registered || w.registeredAt.IsZero() || w.capabilities&(capabilityHeartbeatReplies|capabilityNoHeartbeatReplies) != 0 {
		return
	}
	if now.Sub(w.registeredAt) >= heartbeatReplyWait {
		w.detected(capabilityNoHeartbeatReplies, "master sends no heartbeat replies (Locust < 2.19); lost-master detection is off")
	}
}

func (w *worker) handleAck(data any) {
	w.detected(capabilityAck, "master acknowledges client_ready (Locust >= 2.10)")
	if index, ok := mapField(data, "index"); ok {
		if n, ok := asInt(index); ok {
			w.workerIndex = n
			w.detected(capabilityAckIndex, "master assigns worker indexes (Locust >= 2.11)")
		}
	}
	w.ackSeen = true
	w.awaitingAck = false
	w.ready.Store(true)
	if w.limiter != nil && w.testRunning {
		w.limiter.setTarget(w.rateTarget())
	}
	if w.registered {
		w.log.Debug("duplicate ack", "worker_index", w.workerIndex)
		return
	}
	w.registered = true
	if w.reportsHeld.Swap(false) {
		// Statistics held back for a lost master go out at once, before a
		// new test can start and claim them.
		w.report()
	}
	if w.registeredAt.IsZero() {
		w.registeredAt = time.Now()
	}
	w.log.Info("registered with master", "worker_index", w.workerIndex, "client_ready_sent", w.clientReadyCount)
	w.clientReadyCount = 0
}

// reconnectAfterAttempts is how many client_ready messages may go
// unanswered before the worker opens a new connection.
const reconnectAfterAttempts = 3

// reconnectIfIgnored opens a new connection after every
// reconnectAfterAttempts unanswered client_ready messages. A master that
// was frozen or busy while the worker replaced its socket can still keep the
// old connection under the worker's identity. Its ROUTER then ignores the
// new connection, and only a later one gets through, once the old one is
// gone.
func (w *worker) reconnectIfIgnored() {
	if w.clientReadyCount == 0 || w.clientReadyCount%reconnectAfterAttempts != 0 {
		return
	}
	w.log.Info("no ack after several client_ready messages; opening a new connection to the master",
		"master", w.b.cfg.endpoint(), "attempts", w.clientReadyCount)
	w.transport.Reset()
}

func (w *worker) sendClientReady() {
	w.lastClientReady = time.Now()
	w.clientReadyCount++
	// Warn after the first unanswered attempt, then about every 30 s.
	if n := w.clientReadyCount; n == 2 || (n > 2 && (n-2)%6 == 0) {
		w.log.Warn("no ack from master yet; check that locust --master runs and listens at this address (--master-host, --master-port); client_ready is resent every 5s",
			"master", w.b.cfg.endpoint(), "attempts", n-1)
	}
	w.send(encodeClientReady(w.b.nodeID))
}

// spawnMessage is the data of a spawn message (Locust >= 2.0).
type spawnMessage struct {
	timestamp   float64
	targets     map[string]int64
	host        string
	stopTimeout time.Duration
	options     map[string]any
}

func parseSpawn(data any) (spawnMessage, error) {
	m, ok := data.(map[string]any)
	if !ok {
		return spawnMessage{}, fmt.Errorf("data is %T, expected a map", data)
	}
	var s spawnMessage
	if _, ok := m["user_classes_count"]; !ok {
		if _, old := m["num_users"]; old {
			return spawnMessage{}, errors.New("spawn has num_users but no user_classes_count: masters before Locust 2.0 are not supported; upgrade the master")
		}
	}
	ts, ok := asFloat(m["timestamp"])
	if !ok {
		return spawnMessage{}, fmt.Errorf("timestamp is %T (%v), expected a number", m["timestamp"], m["timestamp"])
	}
	s.timestamp = ts

	counts, ok := m["user_classes_count"].(map[string]any)
	if !ok {
		return spawnMessage{}, fmt.Errorf("user_classes_count is %T, expected a map of class name to count (masters before Locust 2.0 are not supported)", m["user_classes_count"])
	}
	s.targets = make(map[string]int64, len(counts))
	for class, v := range counts {
		n, ok := asInt(v)
		if !ok || n < 0 {
			return spawnMessage{}, fmt.Errorf("user_classes_count[%q] is %v, expected a count of 0 or more", class, v)
		}
		s.targets[class] = n
	}

	if host, ok := m["host"].(string); ok {
		s.host = host
	}
	// Masters before Locust 2.2 send no parsed_options.
	if options, ok := m["parsed_options"].(map[string]any); ok {
		s.options = options
	}
	// Masters before Locust 2.13 send nil; nil means no timeout. A timeout
	// longer than a time.Duration holds (about 292 years) is capped, because
	// converting it would overflow.
	if v, ok := asFloat(m["stop_timeout"]); ok && v > 0 {
		const maxSeconds = float64(math.MaxInt64 / int64(time.Second))
		s.stopTimeout = time.Duration(math.Min(v, maxSeconds) * float64(time.Second))
	}
	return s, nil
}

func (w *worker) handleSpawn(data any) {
	if w.stopDone != nil || w.awaitingAck {
		// A spawning message now would make the master, which deleted this
		// worker at client_stopped, reply with quit.
		w.log.Info("spawn ignored: it arrived during a stop, before the master acknowledged the new registration")
		return
	}
	// Locust's worker acknowledges every spawn at once, even one it discards.
	w.send(encodeNilMessage(typeSpawning, w.b.nodeID))

	spawn, err := parseSpawn(data)
	if err != nil {
		w.log.Error("invalid spawn message ignored", "error", err)
		return
	}
	if spawn.timestamp <= w.lastSpawnTimestamp {
		w.log.Debug("spawn with an old timestamp discarded", "timestamp", spawn.timestamp, "last", w.lastSpawnTimestamp)
		return
	}
	w.lastSpawnTimestamp = spawn.timestamp
	w.b.test.Store(&TestInfo{Host: spawn.host, StopTimeout: spawn.stopTimeout, Options: spawn.options})
	if spawn.options != nil {
		w.detected(capabilityParsedOptions, "master sends its options with spawns (Locust >= 2.2)")
	}
	// A spawn also proves registration to a master older than 2.10, which
	// never sends ack.
	w.registered = true
	w.ready.Store(true)
	w.stopTimeout = spawn.stopTimeout

	if !w.testRunning {
		w.startTest(spawn)
	} else if w.limiter != nil {
		w.updateWorkerCount(spawn.options)
		w.limiter.setTarget(w.rateTarget())
	}
	w.setState(stateSpawning)
	var counts map[string]int64
	var unknown []string
	if w.arrival != nil {
		counts, unknown = w.setArrivalMix(spawn.targets)
	} else {
		counts, unknown = w.users.setTargets(spawn.targets, spawn.stopTimeout)
	}
	w.reportUnknownClasses(unknown)
	w.send(encodeSpawningComplete(w.b.nodeID, counts))
	w.setState(stateRunning)
	w.log.Debug("spawn applied", "user_classes_count", counts)
}

// setArrivalMix makes the open model start tasks of the classes in targets,
// in proportion to their user counts. It returns the users to report, zero
// for every class because the open model runs no users, and the classes
// the worker does not have.
func (w *worker) setArrivalMix(targets map[string]int64) (map[string]int64, []string) {
	names := make([]string, 0, len(targets))
	for name := range targets {
		names = append(names, name)
	}
	sort.Strings(names)
	counts := make(map[string]int64, len(targets))
	var unknown []string
	var weighted []*UserClass
	runtimes := make(map[string]*classRuntime)
	for _, name := range names {
		counts[name] = 0
		if targets[name] <= 0 {
			continue
		}
		class := w.resolveClass(name)
		if class == nil {
			unknown = append(unknown, name)
			continue
		}
		runtimes[name] = class
		weighted = append(weighted, &UserClass{Name: name, Weight: int(min(targets[name], math.MaxInt32))})
	}
	var order []*classRuntime
	if len(weighted) > 0 {
		for _, name := range spawnOrder(weighted, arrivalMixLength) {
			order = append(order, runtimes[name])
		}
	}
	w.arrival.setClasses(order)
	return counts, unknown
}

// startTest prepares a new test: it compiles the user classes with the
// master's tag filter and calls the test start hooks.
func (w *worker) startTest(spawn spawnMessage) {
	w.testRunning = true
	// The master clears its exceptions when a test starts, so unknown
	// classes are reported again in every test.
	clear(w.unknownClasses)
	w.log.Info("test starting", "targets", spawn.targets, "host", spawn.host, "stop_timeout", spawn.stopTimeout)
	w.compileClasses(spawn.options)
	if w.arrival != nil {
		w.arrival.start()
		w.log.Info("open model started", "tasks_per_second", w.arrival.rate, "max_in_flight", w.arrival.maxInFlight)
	}
	if w.limiter != nil {
		w.updateWorkerCount(spawn.options)
		target := w.rateTarget()
		w.limiter.start(target, w.b.cfg.MaxRPSRamp)
		w.log.Info("task rate limit set", "tasks_per_second", target, "ramp", w.b.cfg.MaxRPSRamp,
			"worker_index", w.workerIndex, "expect_workers", w.workerCount)
	}
	info := w.b.Test()
	for _, hook := range w.b.onTestStart {
		if err := callHook(func() error { hook(info); return nil }); err != nil {
			w.log.Error("test start hook failed", "error", err)
		}
	}
	Events.Publish(EventSpawn, int(sumCounts(spawn.targets)))
}

// endTest calls the test stop hooks once for a running test.
func (w *worker) endTest() {
	if !w.testRunning {
		return
	}
	w.testRunning = false
	if w.limiter != nil {
		w.limiter.stop()
	}
	if w.arrival != nil {
		w.arrival.stop(minStopGrace)
	}
	info := w.b.Test()
	for _, hook := range w.b.onTestStop {
		if err := callHook(func() error { hook(info); return nil }); err != nil {
			w.log.Error("test stop hook failed", "error", err)
		}
	}
	Events.Publish(EventStop)
}

// reportUnknownClasses logs each class name the worker has no class for,
// once per test, and reports it to the master as an exception, so that it
// shows in the master's Exceptions tab instead of being hidden in the user
// counts.
func (w *worker) reportUnknownClasses(names []string) {
	for _, name := range names {
		if w.unknownClasses[name] {
			continue
		}
		w.unknownClasses[name] = true
		known := make([]string, 0, len(w.b.classes))
		for _, c := range w.b.classes {
			known = append(known, c.Name)
		}
		msg := fmt.Sprintf("unknown user class %q: this worker has the classes %s; add a boomer.UserClass named %q or remove the class from the master's locustfile",
			name, quoteList(known), name)
		w.log.Error("the master asked for users of an unknown class; none are started (logged once per class and test)",
			"class", name, "known_classes", known)
		w.send(encodeException(w.b.nodeID, msg, "user class "+name+" is not defined in the Go worker"))
	}
}

// handleStop stops all users, reports what they recorded, sends
// client_stopped and registers again, because the master deletes a worker
// that stopped.
//
// The users stop in the background, so that the control loop goes on
// handling the master's messages, a quit and signals while they finish.
func (w *worker) handleStop() {
	if w.stopDone != nil {
		w.log.Debug("stop ignored: a stop is already running")
		return
	}
	w.log.Info("stop received from master; stopping users", "stop_timeout", w.stopTimeout)
	done := make(chan int, 1)
	w.stopDone = done
	timeout := w.stopTimeout
	go func() { done <- w.users.stopAll(timeout, minStopGrace) }()
}

// finishStop completes a stop once the users ended or the wait ran out.
func (w *worker) finishStop(left int) {
	w.stopDone = nil
	if left > 0 {
		w.log.Warn("users still running after the stop timeout and grace; their requests are reported when they finish",
			"users", left, "stop_timeout", w.stopTimeout, "grace", minStopGrace)
	}
	w.endTest()

	w.report()
	w.send(encodeNilMessage(typeClientStopped, w.b.nodeID))
	w.setState(stateReady)
	w.registered = false
	w.awaitingAck = w.ackSeen
	w.sendClientReady()
}

// checkMaster stops the users and registers again when a master that
// replied to heartbeats has been silent for MasterTimeout. A restarted master
// does not know this worker, and a frozen one may never come back.
func (w *worker) checkMaster(now time.Time) {
	last := w.lastMasterHeartbeat.Load()
	if last == 0 {
		return
	}
	silence := now.Sub(time.Unix(0, last))
	if silence < w.b.cfg.MasterTimeout {
		return
	}
	w.log.Warn("master lost: no heartbeat reply; stopping users and registering again; unsent stats go out in the next report",
		"silence", silence.Round(time.Millisecond), "master_timeout", w.b.cfg.MasterTimeout)
	w.lastMasterHeartbeat.Store(0)
	w.reportsHeld.Store(true)
	// A stop in progress is abandoned: the new master does not know it.
	w.stopDone = nil
	w.users.stopAll(0, 0)
	w.endTest()

	w.reportMu.Lock()
	w.transport.Reset()
	w.reportMu.Unlock()

	w.setState(stateReady)
	w.registered = false
	w.ready.Store(false)
	w.awaitingAck = false
	w.ackSeen = false
	w.capabilities = 0
	w.registeredAt = time.Time{}
	w.lastSpawnTimestamp = 0
	w.sendClientReady()
}

// shutdown ends the session within the configured ShutdownTimeout: it stops
// the users, calls the test stop hooks, sends the final report and quit, and
// closes the connection. Tasks in flight get up to quitGrace to finish, so the
// report arrives within the master's 0.5 s wait.
func (w *worker) shutdown(stopLoops context.CancelFunc, loops *sync.WaitGroup, sendQuit bool) {
	timeout := w.b.cfg.ShutdownTimeout
	deadline := time.Now().Add(timeout)
	// The last quarter is for the report and quit to leave.
	hooksDeadline := deadline.Add(-timeout / 4)

	// The users are signalled to stop before the loops are waited for,
	// because with many CPU-bound users each goroutine woken here waits
	// its turn behind them, and stopped users free the CPUs.
	stopLoops()
	if left := w.users.stopAll(0, min(quitGrace, timeout/4)); left > 0 {
		w.log.Warn("users still inside a task at quit; requests they finish now are not reported", "users", left)
	}
	loops.Wait()
	if w.arrival != nil {
		// The open model's tasks get the same grace before the last report.
		w.arrival.stop(min(quitGrace, timeout/4))
	}
	w.endTestBefore(hooksDeadline)
	w.report()
	if sendQuit {
		w.send(encodeNilMessage(typeQuit, w.b.nodeID))
	}
	flush := min(closeFlush, max(time.Until(deadline), 0))
	if err := w.transport.Close(flush); err != nil {
		w.log.Error("closing the connection to the master failed", "error", err)
	}
	Events.Publish(EventQuit)
}

// endTestBefore calls the test stop hooks and waits for them until deadline.
// Hooks that have not returned by then go on in the background.
func (w *worker) endTestBefore(deadline time.Time) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.endTest()
	}()
	timer := time.NewTimer(max(time.Until(deadline), 0))
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		w.log.Warn("test stop hooks still running at the shutdown deadline; the worker exits without waiting for them",
			"shutdown_timeout", w.b.cfg.ShutdownTimeout)
	}
}

func (w *worker) heartbeatLoop(ctx context.Context) {
	ticker := time.NewTicker(heartbeatInterval)
	defer ticker.Stop()
	cpu := newCPUMeter()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			w.send(encodeHeartbeat(w.b.nodeID, w.protocolState(), cpu.percent(), residentMemoryBytes()))
		}
	}
}

func (w *worker) reportLoop(ctx context.Context) {
	ticker := time.NewTicker(reportInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			if w.holdReports(now) {
				continue
			}
			w.report()
		}
	}
}

// holdReports reports whether periodic reports wait: while a master that
// replied to heartbeats has not replied for reportHoldAfter, and from the
// loss of a master until the worker is registered again. Masters that never
// reply are never silent.
func (w *worker) holdReports(now time.Time) bool {
	if w.reportsHeld.Load() {
		return true
	}
	last := w.lastMasterHeartbeat.Load()
	return last != 0 && now.Sub(time.Unix(0, last)) > reportHoldAfter
}

// report sends everything recorded since the previous report.
func (w *worker) report() {
	w.reportMu.Lock()
	defer w.reportMu.Unlock()
	snap := w.b.stats.snapshot()
	if snap.overflowRequests > 0 || snap.overflowErrors > 0 {
		if n := w.overflowReports.Add(1); n == 1 || n%100 == 0 {
			w.log.Warn("too many distinct request names or errors in one report interval; the rest are recorded under overflow entries (logged every 100 intervals)",
				"max_names", maxRequestKeys, "max_errors", maxErrorKeys,
				"overflow_requests", snap.overflowRequests, "overflow_errors", snap.overflowErrors)
		}
	}
	w.send(encodeStats(w.b.nodeID, snap, w.users.counts()))
	if stats := w.b.runStats.Load(); stats != nil {
		putHistogram(stats.add(snap))
	}
	snap.release()
}

// send queues an encoded message. Encoding errors are programming errors in
// this package; they are logged, never sent.
func (w *worker) send(frame []byte, err error) {
	if err != nil {
		w.log.Error("message not sent: encoding failed", "error", err)
		return
	}
	if err := w.transport.Send(frame); err != nil {
		w.log.Error("message not sent", "error", err)
	}
}

// runTask runs one task for a user and reports a panic as a failed request
// and as an exception message.
func (w *worker) runTask(u *User, task *Task) {
	start := time.Now()
	report := callTask(task, u)
	if report == nil {
		return
	}
	w.b.RecordFailure(panicRequestType, task.Name, time.Since(start), report.message)
	if !w.exceptionLimiter.Allow() {
		if n := w.exceptionsLost.Add(1); n == 1 || n%1000 == 0 {
			w.log.Warn("task panics exceed the exception rate limit; they are still counted as failures",
				"task", task.Name, "exceptions_not_sent", n, "limit_per_second", maxExceptionsPerSecond)
		}
		return
	}
	if _, seen := w.panickedTasks.LoadOrStore(task.Name, true); !seen {
		w.log.Error("task panicked; it is recorded as a failure and sent to the master as an exception (logged once per task)",
			"task", task.Name, "panic", report.message, "traceback", report.traceback)
	}
	w.send(encodeException(w.b.nodeID, report.message, report.traceback))
}

// panicRequestType is the request type under which a task panic is recorded.
const panicRequestType = "panic"
