package boomer

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Events of FuzzMessageOrder. The first input byte selects the worker (even:
// plain tasks, odd: the user classes A and B). Each later byte is one event:
// its low four bits select the event and its high four bits are the event's
// parameter. A spawn reads one or two more bytes, and a malformed frame of
// random bytes reads a length byte and that many bytes.
const (
	orderAck              byte = iota // ack with {"index": parameter}
	orderAckNil                       // ack with nil data
	orderHeartbeat                    // heartbeat reply from the master
	orderSpawn                        // spawn built from the parameter bits below
	orderStop                         // stop
	orderQuit                         // quit, then the control loop's shutdown
	orderReconnect                    // reconnect
	orderSpawningComplete             // spawning_complete sent by the master
	orderUpdateUserClass              // update_user_class
	orderCustomMap                    // registered custom message with map data
	orderCustomNil                    // registered custom message with nil data
	orderUnknownType                  // message type without a registered handler
	orderDuplicate                    // the previous frame again
	orderMalformed                    // malformed frame of the shape the parameter picks
	orderStopFinishes                 // the background stop delivers its result
	orderMasterLost                   // heartbeat replies stopped MasterTimeout ago
)

// Bits of a spawn event's parameter. The two low bits move the timestamp: 0
// and 3 up by one second, 1 repeats it and 2 moves it back by one second.
// Each class byte that follows holds a class name index in bits 5 and 6 and
// a target of 0 to 31 in bits 0 to 4. Bit 7 sends the target as an integral
// float, which the worker accepts as a count.
const (
	orderSpawnTimestampMask = 0b0011
	orderSpawnStopTimeout   = 0b0100 // stop_timeout 2 ms instead of 0
	orderSpawnTwoClasses    = 0b1000 // two class bytes instead of one
)

const (
	// orderMaxEvents bounds the events of one input, so that each fuzz
	// iteration stays short.
	orderMaxEvents = 64
	// orderBaseTimestamp is the first spawn timestamp, a Unix time in
	// seconds like the master's time.time().
	orderBaseTimestamp = 1796413290.0
	// orderCustomType is the custom message type the worker registers.
	orderCustomType = "fuzz_custom"
)

// orderClassNames are the class names spawns use. The user class worker has
// A and B, so C and D are unknown to it. The plain task worker runs any name.
var orderClassNames = [4]string{"A", "B", "C", "D"}

// FuzzMessageOrder drives the worker's message handling with random
// sequences of master messages, stop completions and master losses, and
// checks these invariants after every event:
//
//  1. Nothing panics.
//  2. Every frame the worker sends passes checkOutgoingFrame.
//  3. No user is counted from a finished stop, a lost master or a quit
//     until the next applied spawn. After a finished stop every user
//     goroutine has ended, too.
//  4. No spawning or spawning_complete is sent between a client_stopped
//     and the next ack, when the master sent an ack since the start or the
//     last lost master.
//  5. The heartbeat state is ready, spawning or running, and ready while no
//     spawn was applied since the start, the last finished stop or the last
//     lost master.
//  6. spawning_complete reports the applied spawn's targets for the
//     worker's classes, 0 for unknown classes, the earlier counts for classes
//     the spawn does not name, and their sum as user_count.
//  7. Test start and test stop hooks alternate, and have run equally often
//     after a finished stop, a lost master and a quit.
//  8. A spawn is applied exactly when it is valid, newer than the last
//     applied one, and arrives while no stop runs and outside the window of
//     invariant 4.
func FuzzMessageOrder(f *testing.F) {
	for _, seed := range orderSeeds() {
		f.Add(seed.input)
	}

	f.Fuzz(func(t *testing.T, input []byte) {
		if len(input) == 0 {
			return
		}
		h := newOrderHarness(t, input[0]%2 == 1)
		defer h.cleanup()
		h.run(&orderInput{data: input[1:]})
	})
}

// orderInput reads event bytes. Past the end it returns zeros.
type orderInput struct {
	data []byte
	pos  int
}

func (in *orderInput) empty() bool {
	return in.pos >= len(in.data)
}

func (in *orderInput) next() byte {
	if in.empty() {
		return 0
	}
	b := in.data[in.pos]
	in.pos++
	return b
}

func (in *orderInput) take(n int) []byte {
	n = min(n, len(in.data)-in.pos)
	b := in.data[in.pos : in.pos+n]
	in.pos += n
	return b
}

// builtSpawn is a spawn the harness built.
type builtSpawn struct {
	timestamp   float64
	targets     map[string]int64
	stopTimeout float64
	// floats are the classes whose target is sent as a float.
	floats map[string]bool
}

// orderFrame is a frame for the worker, with the spawn it carries when the
// harness built one.
type orderFrame struct {
	desc  string
	bytes []byte
	// spawn is the spawn the frame carries when the harness built it.
	spawn *builtSpawn
	// random is set for random bytes, which may decode as any message.
	random bool
}

// orderPrediction is whether invariant 8 expects an event to apply a spawn,
// when the model can tell.
type orderPrediction struct {
	applied bool
	known   bool
}

// noSpawn is the prediction for events that carry no valid spawn.
var noSpawn = orderPrediction{applied: false, known: true}

// orderModel is what the harness expects of the worker, kept from the events
// it delivered and the frames the worker sent.
type orderModel struct {
	// stopRunning is set from a stop until its result is delivered or the
	// master is lost.
	stopRunning bool
	// stopFinished is set when a stop finished and no spawn was applied
	// since.
	stopFinished bool
	// idle is set while no spawn was applied since the start, the last
	// finished stop, the last lost master or the quit.
	idle bool
	// ackSeen is set by an ack and cleared by a lost master, because the
	// worker then registers anew and also takes a spawn before the ack, as
	// from a master older than Locust 2.10, which never sends ack.
	ackSeen bool
	// unregistered is set from a client_stopped sent after an ack until the
	// next ack: the master has deleted the worker.
	unregistered bool
	// lastTimestamp is the timestamp of the last applied spawn, valid while
	// timestampKnown. A spawn the harness did not build, such as random bytes
	// that decode as one, makes it unknown.
	lastTimestamp  float64
	timestampKnown bool
	// counts are the users the worker should run per class named so far,
	// valid while countsKnown.
	counts      map[string]int64
	countsKnown bool
}

// orderHarness runs one fuzz input against a worker.
type orderHarness struct {
	t           *testing.T
	w           *worker
	rt          *recordingTransport
	withClasses bool
	model       orderModel

	// events describes the events delivered so far, for failure messages.
	events []string
	// checkedFrames is how many of rt.frames the checks have read.
	checkedFrames int
	// previous is the last frame sent to the worker, or nil.
	previous *orderFrame
	// timestampStep is the last generated spawn timestamp, in seconds after
	// orderBaseTimestamp.
	timestampStep int
	quit          bool

	testStarts   atomic.Int64
	testStops    atomic.Int64
	tasksRunning atomic.Int64
	// usersStarted and usersStopped count OnStart and OnStop calls of the
	// user class worker.
	usersStarted atomic.Int64
	usersStopped atomic.Int64
}

func newOrderHarness(t *testing.T, withClasses bool) *orderHarness {
	h := &orderHarness{
		t:           t,
		withClasses: withClasses,
		model: orderModel{
			idle:           true,
			timestampKnown: true,
			counts:         make(map[string]int64),
			countsKnown:    true,
		},
	}

	// One task waits for the user's context, the other ignores it and
	// sleeps 1 ms, so stops both cancel tasks and wait for them.
	waitTask := &Task{Name: "wait", Weight: 1, Run: func(u *User) {
		h.tasksRunning.Add(1)
		defer h.tasksRunning.Add(-1)
		<-u.Context().Done()
	}}
	sleepTask := &Task{Name: "sleep", Weight: 1, Run: func(u *User) {
		h.tasksRunning.Add(1)
		defer h.tasksRunning.Add(-1)
		time.Sleep(time.Millisecond)
		u.RecordSuccess("GET", "/sleep", time.Millisecond, 10)
	}}

	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	opts := []Option{
		WithNodeID(testNodeID),
		WithSignalHandling(false),
		WithLogger(quiet),
		WithTestStart(func(TestInfo) { h.testStarts.Add(1) }),
		WithTestStop(func(TestInfo) { h.testStops.Add(1) }),
	}
	if withClasses {
		onStart := func(*User) error { h.usersStarted.Add(1); return nil }
		onStop := func(*User) { h.usersStopped.Add(1) }
		opts = append(opts, WithUserClasses(
			&UserClass{Name: "A", Tasks: []*Task{waitTask}, OnStart: onStart, OnStop: onStop},
			&UserClass{Name: "B", Tasks: []*Task{sleepTask}, OnStart: onStart, OnStop: onStop},
		))
	} else {
		opts = append(opts, WithTasks(waitTask, sleepTask))
	}
	b, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// The handler sends the data back, so that data decoded from the master
	// goes through SendMessage's checks and then checkOutgoingFrame.
	err = b.RegisterMessage(orderCustomType, func(data any) {
		_ = b.SendMessage("fuzz_echo", data)
	})
	if err != nil {
		t.Fatalf("RegisterMessage: %v", err)
	}

	h.rt = &recordingTransport{}
	b.newTransport = func(string, string, *slog.Logger) (transport, error) { return h.rt, nil }
	h.w, err = newWorker(b)
	if err != nil {
		t.Fatalf("newWorker: %v", err)
	}
	b.session.Store(h.w)
	return h
}

func (h *orderHarness) run(in *orderInput) {
	for range orderMaxEvents {
		if in.empty() || h.quit {
			return
		}
		b := in.next()
		h.step(b&0x0f, b>>4, in)
	}
}

// step delivers one event and checks the invariants.
func (h *orderHarness) step(event, param byte, in *orderInput) {
	switch event {
	case orderAck:
		h.deliver(h.message(fmt.Sprintf("ack index=%d", param), typeAck, map[string]any{"index": int64(param)}))
	case orderAckNil:
		h.deliver(h.message("ack nil", typeAck, nil))
	case orderHeartbeat:
		h.deliver(h.message("heartbeat", typeHeartbeat, nil))
	case orderSpawn:
		spawn := h.readSpawn(param, in)
		h.deliver(orderFrame{desc: describeSpawn(spawn), bytes: h.spawnFrame(spawn), spawn: spawn})
	case orderStop:
		h.deliver(h.message("stop", typeStop, nil))
	case orderQuit:
		h.deliver(h.message("quit", typeQuit, nil))
	case orderReconnect:
		h.deliver(h.message("reconnect", typeReconnect, nil))
	case orderSpawningComplete:
		data := map[string]any{"user_classes_count": map[string]any{"A": int64(param)}, "user_count": int64(param)}
		h.deliver(h.message("spawning_complete from master", typeSpawningComplete, data))
	case orderUpdateUserClass:
		data := map[string]any{"user_class_name": "A", "user_class": map[string]any{"weight": int64(param)}}
		h.deliver(h.message("update_user_class", typeUpdateUserClass, data))
	case orderCustomMap:
		data := map[string]any{"n": int64(param), "list": []any{"x", 1.5, nil}}
		h.deliver(h.message(orderCustomType+" with map data", orderCustomType, data))
	case orderCustomNil:
		h.deliver(h.message(orderCustomType+" with nil data", orderCustomType, nil))
	case orderUnknownType:
		h.deliver(h.message("unknown type", "fuzz_unknown", int64(param)))
	case orderDuplicate:
		if h.previous == nil {
			h.record("duplicate (no previous frame)")
			h.check(nil, noSpawn)
			return
		}
		duplicate := *h.previous
		duplicate.desc = "duplicate of " + strings.TrimPrefix(duplicate.desc, "duplicate of ")
		h.deliver(duplicate)
	case orderMalformed:
		h.deliver(h.malformedFrame(param, in))
	case orderStopFinishes:
		h.finishStop()
	case orderMasterLost:
		h.loseMaster()
	}
}

// deliver hands a frame to the worker as the control loop does, with the
// shutdown that follows a quit, and checks the invariants.
func (h *orderHarness) deliver(f orderFrame) {
	h.record(f.desc)
	h.previous = &f

	// The model follows the message the worker will decode, which for a
	// duplicate or random bytes may be an ack or a stop too.
	if msg, err := decodeMessage(f.bytes); err == nil {
		switch msg.Type {
		case typeAck:
			h.model.ackSeen = true
			h.model.unregistered = false
		case typeStop:
			h.model.stopRunning = true
		}
	}

	// The prediction uses the model from before handleFrame.
	prediction := noSpawn
	switch {
	case f.random:
		prediction = orderPrediction{known: false}
	case f.spawn != nil:
		prediction = h.predictApplied(f.spawn)
	}

	if h.w.handleFrame(f.bytes) {
		h.quit = true
		// run() does the same on quit. The recording transport needs no
		// heartbeat or report loop, so there is none to stop.
		h.w.shutdown(func() {}, &sync.WaitGroup{}, true)
		h.resetModel()
	}
	h.check(f.spawn, prediction)
}

// predictApplied returns whether the worker should apply spawn. The
// prediction is unknown after a spawn of unknown timestamp was applied.
func (h *orderHarness) predictApplied(spawn *builtSpawn) orderPrediction {
	m := &h.model
	if m.stopRunning || m.unregistered {
		return noSpawn
	}
	if !m.timestampKnown {
		return orderPrediction{known: false}
	}
	return orderPrediction{applied: spawn.timestamp > m.lastTimestamp, known: true}
}

// finishStop delivers the result of a stop running in the background, as
// the control loop does when w.stopDone is ready.
func (h *orderHarness) finishStop() {
	if h.w.stopDone == nil {
		h.record("stop finishes (no stop running)")
		h.check(nil, noSpawn)
		return
	}
	h.record("stop finishes")
	h.w.finishStop(<-h.w.stopDone)
	h.model.stopRunning = false
	h.model.stopFinished = true
	h.resetModel()
	h.check(nil, noSpawn)
}

// loseMaster makes the worker's next master check find MasterTimeout of
// silence.
func (h *orderHarness) loseMaster() {
	h.record("master lost")
	if done := h.w.stopDone; done != nil {
		// A stop's goroutine starts at once, while the control loop finds
		// the master lost only on a later ticker event, so the goroutine
		// normally has taken the users by then. Waiting for it makes that
		// order certain here. Its result goes back into the channel,
		// because the control loop has not received it.
		left := <-done
		done <- left
	}
	h.w.lastMasterHeartbeat.Store(time.Now().Add(-time.Hour).UnixNano())
	h.w.checkMaster(time.Now())

	h.model.stopRunning = false
	h.model.ackSeen = false
	h.model.unregistered = false
	h.model.lastTimestamp = 0
	h.model.timestampKnown = true
	h.resetModel()
	h.check(nil, noSpawn)
}

// resetModel records that the worker stopped every user and ended the test.
func (h *orderHarness) resetModel() {
	h.model.idle = true
	for name := range h.model.counts {
		h.model.counts[name] = 0
	}
	h.model.countsKnown = true
}

func (h *orderHarness) record(desc string) {
	h.events = append(h.events, desc)
}

// history lists the events so far, for failure messages.
func (h *orderHarness) history() string {
	var b strings.Builder
	kind := "plain tasks"
	if h.withClasses {
		kind = "user classes A and B"
	}
	fmt.Fprintf(&b, "worker with %s, events:", kind)
	for i, e := range h.events {
		fmt.Fprintf(&b, "\n  %2d. %s", i+1, e)
	}
	return b.String()
}

// fail stops the test with the violated invariant, the events that led to
// it and the details.
func (h *orderHarness) fail(invariant, format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("invariant %s violated after\n%s\n%s", invariant, h.history(), fmt.Sprintf(format, args...))
}

// check runs every invariant after an event. spawn is the spawn the event
// delivered, if the harness built it, and prediction the expectation of
// invariant 8 for the event.
func (h *orderHarness) check(spawn *builtSpawn, prediction orderPrediction) {
	h.t.Helper()
	complete := h.checkFrames()
	h.checkSpawnApplied(spawn, prediction, complete)
	h.checkState()
	h.checkUsers()
	h.checkTestHooks()
}

// checkFrames checks the frames sent since the last check (invariants 2 and
// 4), follows client_stopped in the model and returns the data of a
// spawning_complete among them, or nil.
func (h *orderHarness) checkFrames() map[string]any {
	h.t.Helper()
	h.rt.mu.Lock()
	frames := h.rt.frames[h.checkedFrames:]
	h.checkedFrames = len(h.rt.frames)
	h.rt.mu.Unlock()

	var complete map[string]any
	for _, frame := range frames {
		if err := checkOutgoingFrame(frame); err != nil {
			h.fail("2 (frames pass checkOutgoingFrame)", "frame %x: %v", frame, err)
		}
		msg, err := decodeMessage(frame)
		if err != nil {
			h.fail("2 (frames pass checkOutgoingFrame)", "frame %x passed checkOutgoingFrame but does not decode: %v", frame, err)
		}
		switch msg.Type {
		case typeClientStopped:
			if h.model.ackSeen {
				h.model.unregistered = true
			}
		case typeSpawning, typeSpawningComplete:
			if h.model.unregistered {
				h.fail("4 (no spawning while unregistered)",
					"%s sent after client_stopped and before the next ack; the master has deleted the worker", msg.Type)
			}
			if msg.Type == typeSpawningComplete {
				complete, _ = msg.Data.(map[string]any)
			}
		}
	}
	return complete
}

// checkSpawnApplied compares whether the event applied a spawn with the
// prediction (invariant 8), checks the counts it reports (invariant 6) and
// updates the model.
func (h *orderHarness) checkSpawnApplied(spawn *builtSpawn, prediction orderPrediction, complete map[string]any) {
	h.t.Helper()
	applied := complete != nil
	if prediction.known && applied != prediction.applied {
		m := &h.model
		h.fail("8 (exactly the valid, fresh spawns of a registered worker are applied)",
			"spawn applied: %v, expected %v (valid spawn: %v, stop running: %v, between client_stopped and ack: %v, last applied timestamp: %s)",
			applied, prediction.applied, spawn != nil, m.stopRunning, m.unregistered, describeTimestamp(m.lastTimestamp))
	}
	if !applied {
		return
	}

	h.model.idle = false
	h.model.stopFinished = false
	if spawn == nil {
		// Random bytes that decode as a spawn: the harness cannot tell
		// what the worker should run now.
		h.model.timestampKnown = false
		h.model.countsKnown = false
		return
	}
	h.model.lastTimestamp = spawn.timestamp
	h.model.timestampKnown = true

	got, err := countMap(complete["user_classes_count"])
	if err != nil {
		h.fail("6 (spawning_complete reports the spawn's targets)", "%v", err)
	}
	expected := maps.Clone(h.model.counts)
	for name, n := range spawn.targets {
		if h.hasClass(name) {
			expected[name] = n
		} else {
			expected[name] = 0
		}
	}
	if h.model.countsKnown && !maps.Equal(got, expected) {
		h.fail("6 (spawning_complete reports the spawn's targets)",
			"user_classes_count is %v, expected %v", got, expected)
	}
	total, ok := asInt(complete["user_count"])
	if !ok {
		h.fail("6 (spawning_complete reports the spawn's targets)", "user_count is %T %v, expected an int", complete["user_count"], complete["user_count"])
	}
	if h.model.countsKnown && total != sumCounts(expected) {
		h.fail("6 (spawning_complete reports the spawn's targets)",
			"user_count is %d, expected %d: the targets of the worker's classes and the earlier counts of classes the spawn does not name", total, sumCounts(expected))
	}
	if h.model.countsKnown {
		h.model.counts = expected
	}
}

// countMap converts a decoded user_classes_count.
func countMap(v any) (map[string]int64, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("user_classes_count is %T, expected a map with text keys", v)
	}
	counts := make(map[string]int64, len(m))
	for name, n := range m {
		count, ok := asInt(n)
		if !ok {
			return nil, fmt.Errorf("user_classes_count[%q] is %T %v, expected an int", name, n, n)
		}
		counts[name] = count
	}
	return counts, nil
}

func (h *orderHarness) hasClass(name string) bool {
	return !h.withClasses || name == "A" || name == "B"
}

// checkState checks the heartbeat state (invariant 5).
func (h *orderHarness) checkState() {
	h.t.Helper()
	state := h.w.protocolState()
	if state != stateReady && state != stateSpawning && state != stateRunning {
		h.fail("5 (heartbeat state)", "state is %q, expected ready, spawning or running", state)
	}
	// After a quit no heartbeat is sent, so the state no longer matters.
	if h.model.idle && !h.quit && state != stateReady {
		h.fail("5 (heartbeat state)", "state is %q, expected ready: no spawn was applied since the start, the last finished stop or the last lost master", state)
	}
}

// checkUsers checks that no user is counted while the worker is idle, and
// that every user goroutine ended once a stop finished (invariant 3).
func (h *orderHarness) checkUsers() {
	h.t.Helper()
	if !h.model.idle {
		return
	}
	for name, n := range h.w.users.counts() {
		if n != 0 {
			h.fail("3 (no users after a stop)", "users.counts()[%q] is %d, expected 0", name, n)
		}
	}
	if !h.model.stopFinished {
		// A lost master and a quit do not wait for the users to end.
		return
	}

	running := 0
	p := h.w.users
	p.mu.Lock()
	for _, users := range p.byClass {
		running += countRunning(users)
	}
	running += countRunning(p.retiring)
	p.mu.Unlock()
	if running > 0 {
		h.fail("3 (no users after a stop)", "%d users of the pool have not ended after the stop finished", running)
	}
	if n := h.tasksRunning.Load(); n != 0 {
		h.fail("3 (no users after a stop)", "%d task bodies still run after the stop finished", n)
	}
	if started, stopped := h.usersStarted.Load(), h.usersStopped.Load(); started != stopped {
		h.fail("3 (no users after a stop)", "OnStart ran %d times and OnStop %d times, expected equal counts after the stop finished", started, stopped)
	}
}

func countRunning(users []*User) int {
	n := 0
	for _, u := range users {
		select {
		case <-u.done:
		default:
			n++
		}
	}
	return n
}

// checkTestHooks checks that test start and stop hooks alternate
// (invariant 7).
func (h *orderHarness) checkTestHooks() {
	h.t.Helper()
	starts, stops := h.testStarts.Load(), h.testStops.Load()
	if starts < stops || starts > stops+1 {
		h.fail("7 (test hooks alternate)", "test start hooks ran %d times and test stop hooks %d times", starts, stops)
	}
	if h.model.idle && starts != stops {
		h.fail("7 (test hooks alternate)",
			"test start hooks ran %d times and test stop hooks %d times, expected equal counts after a finished stop, a lost master or a quit", starts, stops)
	}
	if !h.model.idle && starts != stops+1 {
		h.fail("7 (test hooks alternate)",
			"test start hooks ran %d times and test stop hooks %d times during a test, expected one more start", starts, stops)
	}
}

// cleanup ends every user and the background stop, so that no goroutine
// outlives the fuzz iteration.
func (h *orderHarness) cleanup() {
	if done := h.w.stopDone; done != nil {
		<-done
	}
	if left := h.w.users.stopAll(0, 5*time.Second); left > 0 {
		h.t.Errorf("%d users still run 5 s after the final stop\n%s", left, h.history())
	}
}

// message returns the frame of a master message that carries no valid spawn.
func (h *orderHarness) message(desc, msgType string, data any) orderFrame {
	return orderFrame{desc: desc, bytes: h.frame(msgType, data)}
}

func (h *orderHarness) frame(msgType string, data any) []byte {
	frame, err := msgpack.Marshal([]any{msgType, data, testNodeID})
	if err != nil {
		h.t.Fatalf("encode %s frame: %v", msgType, err)
	}
	return frame
}

// readSpawn builds the spawn of a spawn event from its parameter and class
// bytes.
func (h *orderHarness) readSpawn(param byte, in *orderInput) *builtSpawn {
	switch param & orderSpawnTimestampMask {
	case 1:
	case 2:
		h.timestampStep--
	default:
		h.timestampStep++
	}
	spawn := &builtSpawn{
		timestamp: orderBaseTimestamp + float64(h.timestampStep),
		targets:   make(map[string]int64),
		floats:    make(map[string]bool),
	}
	if param&orderSpawnStopTimeout != 0 {
		spawn.stopTimeout = 0.002
	}
	classes := 1
	if param&orderSpawnTwoClasses != 0 {
		classes = 2
	}
	for range classes {
		b := in.next()
		name := orderClassNames[b>>5&3]
		spawn.targets[name] = int64(b & 31)
		spawn.floats[name] = b&0x80 != 0
	}
	return spawn
}

// spawnFrame encodes a spawn as a Locust 2.x master sends it.
func (h *orderHarness) spawnFrame(spawn *builtSpawn) []byte {
	counts := make(map[string]any, len(spawn.targets))
	for name, n := range spawn.targets {
		if spawn.floats[name] {
			counts[name] = float64(n)
		} else {
			counts[name] = n
		}
	}
	return h.frame(typeSpawn, map[string]any{
		"timestamp":          spawn.timestamp,
		"user_classes_count": counts,
		"host":               "http://127.0.0.1:8089",
		"stop_timeout":       spawn.stopTimeout,
		"parsed_options":     map[string]any{},
	})
}

// describeTimestamp formats a spawn timestamp relative to
// orderBaseTimestamp, or 0 as none.
func describeTimestamp(timestamp float64) string {
	if timestamp == 0 {
		return "none"
	}
	return fmt.Sprintf("base%+.0f", timestamp-orderBaseTimestamp)
}

func describeSpawn(spawn *builtSpawn) string {
	names := make([]string, 0, len(spawn.targets))
	for name := range spawn.targets {
		names = append(names, name)
	}
	sort.Strings(names)
	targets := make([]string, 0, len(names))
	for _, name := range names {
		targets = append(targets, fmt.Sprintf("%s=%d", name, spawn.targets[name]))
	}
	return fmt.Sprintf("spawn timestamp=%s {%s} stop_timeout=%gs",
		describeTimestamp(spawn.timestamp), strings.Join(targets, " "), spawn.stopTimeout)
}

// malformedFrame returns a frame that the worker must reject or ignore,
// picked by param, or random bytes for param 0.
func (h *orderHarness) malformedFrame(param byte, in *orderInput) orderFrame {
	marshal := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			h.t.Fatalf("encode malformed frame: %v", err)
		}
		return b
	}
	spawnData := func(edit func(map[string]any)) map[string]any {
		data := map[string]any{
			"timestamp":          orderBaseTimestamp + 1e6,
			"user_classes_count": map[string]any{"A": 1},
			"host":               nil,
			"stop_timeout":       nil,
			"parsed_options":     map[string]any{},
		}
		edit(data)
		return data
	}

	if param == 0 {
		b := in.take(int(in.next() & 31))
		return orderFrame{desc: fmt.Sprintf("random bytes %x", b), bytes: append([]byte(nil), b...), random: true}
	}
	desc, frame := h.malformedShape(param, marshal, spawnData)
	return orderFrame{desc: "malformed: " + desc, bytes: frame}
}

// malformedShape returns a frame of a wrong shape, picked by param from 1 to
// 15.
func (h *orderHarness) malformedShape(param byte, marshal func(any) []byte, spawnData func(func(map[string]any)) map[string]any) (string, []byte) {
	switch param {
	case 1:
		return "map instead of an array", marshal(map[string]any{"type": typeSpawn})
	case 2:
		return "array of 2", marshal([]any{typeAck, nil})
	case 3:
		return "array of 4", marshal([]any{typeAck, nil, testNodeID, nil})
	case 4:
		return "type is an int", marshal([]any{7, nil, testNodeID})
	case 5:
		return "node id is an int", marshal([]any{typeHeartbeat, nil, 5})
	case 6:
		return "empty frame", []byte{}
	case 7:
		return "spawn data is a string", h.frame(typeSpawn, "spawn")
	case 8:
		return "spawn with a negative count", h.frame(typeSpawn, spawnData(func(d map[string]any) {
			d["user_classes_count"] = map[string]any{"A": -1}
		}))
	case 9:
		return "spawn with num_users only (masters before Locust 2.0)", h.frame(typeSpawn, spawnData(func(d map[string]any) {
			delete(d, "user_classes_count")
			d["num_users"] = 3
		}))
	case 10:
		return "spawn without timestamp", h.frame(typeSpawn, spawnData(func(d map[string]any) {
			delete(d, "timestamp")
		}))
	case 11:
		return "spawn with a string timestamp", h.frame(typeSpawn, spawnData(func(d map[string]any) {
			d["timestamp"] = "now"
		}))
	case 12:
		return "spawn with user_classes_count a list", h.frame(typeSpawn, spawnData(func(d map[string]any) {
			d["user_classes_count"] = []any{"A", 1}
		}))
	case 13:
		return "spawn with a fractional count", h.frame(typeSpawn, spawnData(func(d map[string]any) {
			d["user_classes_count"] = map[string]any{"A": 1.5}
		}))
	case 14:
		return "ack with a string index", h.frame(typeAck, map[string]any{"index": "zero"})
	default:
		spawn := h.spawnFrame(&builtSpawn{timestamp: orderBaseTimestamp + 1e6, targets: map[string]int64{"A": 1}})
		return "truncated spawn", spawn[:len(spawn)/2]
	}
}

// orderSeed is a named seed input of FuzzMessageOrder. The same inputs are
// stored in testdata/fuzz/FuzzMessageOrder under their names.
type orderSeed struct {
	name  string
	input []byte
}

// Values of the first input byte, which selects the worker.
const (
	seedPlainTasks  byte = 0
	seedUserClasses byte = 1
)

func seedEvent(event, param byte) []byte {
	return []byte{param<<4 | event}
}

// seedSpawn encodes a spawn event. step is the timestamp move (0: up, 1:
// repeat, 2: back) and targets are seedTarget bytes, one or two.
func seedSpawn(step byte, stopTimeout bool, targets ...byte) []byte {
	param := step
	if stopTimeout {
		param |= orderSpawnStopTimeout
	}
	if len(targets) == 2 {
		param |= orderSpawnTwoClasses
	}
	return append(seedEvent(orderSpawn, param), targets...)
}

// seedTarget encodes a class byte. class is an index into orderClassNames.
func seedTarget(class, users byte) byte {
	return class<<5 | users
}

func seedInput(worker byte, events ...[]byte) []byte {
	input := []byte{worker}
	for _, e := range events {
		input = append(input, e...)
	}
	return input
}

func orderSeeds() []orderSeed {
	const (
		a, b, c, d = 0, 1, 2, 3
		up         = 0
		repeat     = 1
		back       = 2
	)
	ack := seedEvent(orderAck, 0)
	heartbeat := seedEvent(orderHeartbeat, 0)
	stop := seedEvent(orderStop, 0)
	finish := seedEvent(orderStopFinishes, 0)
	quit := seedEvent(orderQuit, 0)
	duplicate := seedEvent(orderDuplicate, 0)
	lost := seedEvent(orderMasterLost, 0)

	return []orderSeed{
		{"lifecycle", seedInput(seedPlainTasks,
			ack, heartbeat, seedSpawn(up, false, seedTarget(a, 3)), heartbeat,
			stop, finish, ack, heartbeat, quit)},
		{"ramp", seedInput(seedPlainTasks,
			ack, seedSpawn(up, false, seedTarget(a, 10)), seedSpawn(up, false, seedTarget(a, 30)),
			seedSpawn(up, true, seedTarget(a, 5)), stop, finish, ack, quit)},
		{"stale-spawn-after-stop", seedInput(seedPlainTasks,
			ack, seedSpawn(up, false, seedTarget(a, 2)), stop, seedSpawn(up, false, seedTarget(a, 15)),
			finish, seedSpawn(up, false, seedTarget(a, 15)), ack, seedSpawn(up, false, seedTarget(a, 3)),
			stop, finish, quit)},
		{"quit-during-stop", seedInput(seedUserClasses,
			ack, seedSpawn(up, true, seedTarget(a, 5), seedTarget(b, 5)), stop, quit)},
		{"duplicates", seedInput(seedPlainTasks,
			ack, duplicate, seedSpawn(up, false, seedTarget(a, 4)), duplicate, duplicate,
			stop, duplicate, finish, duplicate, ack, duplicate, quit)},
		{"reconnect-mid-test", seedInput(seedPlainTasks,
			ack, seedSpawn(up, false, seedTarget(a, 3)), seedEvent(orderReconnect, 0),
			seedSpawn(up, false, seedTarget(a, 6)), heartbeat, stop, finish, quit)},
		{"master-lost-mid-test", seedInput(seedUserClasses,
			ack, heartbeat, seedSpawn(up, false, seedTarget(a, 3), seedTarget(b, 2)), lost,
			seedEvent(orderAck, 1), seedSpawn(up, false, seedTarget(a, 1), seedTarget(b, 0)), stop, finish, quit)},
		{"master-lost-during-stop", seedInput(seedPlainTasks,
			ack, seedSpawn(up, false, seedTarget(a, 4)), stop, lost, seedSpawn(repeat, false, seedTarget(a, 2)),
			ack, seedSpawn(up, false, seedTarget(b, 1)), finish, stop, finish, quit)},
		{"unknown-classes", seedInput(seedUserClasses,
			ack, seedSpawn(up, false, seedTarget(a, 2), seedTarget(c, 3)),
			seedSpawn(up, false, seedTarget(b, 4), seedTarget(d, 0)), stop, finish, ack,
			seedSpawn(up, false, seedTarget(c, 1)), quit)},
		{"timestamps-repeat-and-back", seedInput(seedPlainTasks,
			ack, seedSpawn(up, false, seedTarget(a, 2)), seedSpawn(repeat, false, seedTarget(a, 5)),
			seedSpawn(back, false, seedTarget(a, 7)), seedSpawn(up, false, seedTarget(a, 7)),
			seedSpawn(up, false, seedTarget(a, 1)), quit)},
		{"zero-targets", seedInput(seedUserClasses,
			ack, seedSpawn(up, false, seedTarget(a, 0), seedTarget(b, 0)), stop, finish, ack,
			seedSpawn(up, false, seedTarget(a, 0)), quit)},
		{"pre-ack-master", seedInput(seedPlainTasks,
			seedSpawn(up, false, seedTarget(a, 2)), stop, finish, seedSpawn(up, false, seedTarget(a, 1)),
			stop, finish, quit)},
		{"other-messages", seedInput(seedUserClasses,
			seedEvent(orderAckNil, 0), seedEvent(orderCustomMap, 3), seedEvent(orderCustomNil, 0),
			seedEvent(orderUnknownType, 1), seedEvent(orderUpdateUserClass, 2),
			seedEvent(orderSpawningComplete, 4), seedSpawn(up, false, seedTarget(a, 1)),
			seedEvent(orderCustomMap, 5), quit)},
		{"malformed", seedInput(seedPlainTasks,
			ack, seedSpawn(up, false, seedTarget(a, 1)),
			append(seedEvent(orderMalformed, 0), 3, 0x93, 0xa4, 's'),
			seedEvent(orderMalformed, 1), seedEvent(orderMalformed, 2), seedEvent(orderMalformed, 3),
			seedEvent(orderMalformed, 4), seedEvent(orderMalformed, 5), seedEvent(orderMalformed, 6),
			seedEvent(orderMalformed, 7), seedEvent(orderMalformed, 8), seedEvent(orderMalformed, 9),
			seedEvent(orderMalformed, 10), seedEvent(orderMalformed, 11), seedEvent(orderMalformed, 12),
			seedEvent(orderMalformed, 13), seedEvent(orderMalformed, 14), seedEvent(orderMalformed, 15),
			duplicate, stop, finish, quit)},
	}
}

// TestMessageOrderSeedFiles checks that testdata/fuzz/FuzzMessageOrder holds
// every seed of orderSeeds in Go's corpus file format.
func TestMessageOrderSeedFiles(t *testing.T) {
	for _, seed := range orderSeeds() {
		path := filepath.Join("testdata", "fuzz", "FuzzMessageOrder", seed.name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed.input)
		got, err := os.ReadFile(path)
		switch {
		case err != nil:
			t.Errorf("seed file of %s: %v; create it with the content\n%s", seed.name, err, want)
		case string(got) != want:
			t.Errorf("%s is\n%s\nexpected the seed from orderSeeds\n%s", path, got, want)
		}
	}
}
