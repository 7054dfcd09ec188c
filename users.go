package boomer

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// classRuntime is a user class as the worker runs it.
type classRuntime struct {
	name       string
	tasks      []*Task
	sequential bool
	wait       WaitTime
	onStart    func(u *User) error
	onStop     func(u *User)
	// picker holds the class's tasks compiled with the current test's tag
	// filter.
	picker atomic.Pointer[taskPicker]
}

func newClassRuntime(c *UserClass) *classRuntime {
	return &classRuntime{
		name:       c.Name,
		tasks:      c.Tasks,
		sequential: c.Sequential,
		wait:       c.WaitTime,
		onStart:    c.OnStart,
		onStop:     c.OnStop,
	}
}

// compile builds the class's task picker for a test with the given tag
// filter. It returns false when no task passes the filter.
func (c *classRuntime) compile(filter tagFilter) bool {
	p := compileTasks(c.tasks, c.sequential, c.wait, filter, nil)
	c.picker.Store(p)
	return !p.empty()
}

func validateUserClass(c *UserClass) error {
	if c == nil {
		return fmt.Errorf("user class is nil")
	}
	if c.Name == "" {
		return fmt.Errorf("user class has no Name: set it to the User class name in the master's locustfile")
	}
	if c.Weight < 0 || c.FixedCount < 0 {
		return fmt.Errorf("user class %q has Weight %d and FixedCount %d: neither may be negative", c.Name, c.Weight, c.FixedCount)
	}
	if c.Weight > 0 && c.FixedCount > 0 {
		return fmt.Errorf("user class %q sets both Weight and FixedCount: set one of them", c.Name)
	}
	if err := validateTasks(c.Tasks); err != nil {
		return fmt.Errorf("user class %q: %w", c.Name, err)
	}
	if compileTasks(c.Tasks, c.Sequential, nil, tagFilter{}, nil).empty() {
		return fmt.Errorf("user class %q: every task has weight 0: give at least one task a positive Weight", c.Name)
	}
	return nil
}

// userPool runs the users of all user classes. The master names the classes
// and their absolute target counts.
type userPool struct {
	b *Boomer
	// resolve returns the class runtime for a class name from the master, or
	// nil when the worker has no such class.
	resolve func(name string) *classRuntime
	runTask func(u *User, t *Task)
	// maxIterations, when above zero, is how many tasks each user runs
	// before it stops by itself.
	maxIterations int
	// limiter, when set, gives each task its start permit.
	limiter *taskLimiter

	mu      sync.Mutex
	byClass map[string][]*User
	// retiring are stopped users that may still be running.
	retiring []*User
	started  int
}

func newUserPool(b *Boomer, resolve func(string) *classRuntime, runTask func(*User, *Task)) *userPool {
	return &userPool{
		b:       b,
		resolve: resolve,
		runTask: runTask,
		byClass: make(map[string][]*User),
	}
}

// setTargets starts and stops users so that each class in targets has
// exactly its target count running. It starts the missing users at once and
// stops the surplus ones, each within stopTimeout. It returns the counts now
// running per class, for every class named so far, and the names of classes
// the worker does not have, which run no users.
func (p *userPool) setTargets(targets map[string]int64, stopTimeout time.Duration) (map[string]int64, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneEnded()

	names := make([]string, 0, len(targets))
	for name := range targets {
		names = append(names, name)
	}
	sort.Strings(names)

	var unknown []string
	for _, name := range names {
		target := max(targets[name], 0)
		users := p.byClass[name]
		class := p.resolve(name)
		if class == nil {
			if target > 0 {
				unknown = append(unknown, name)
			}
			target = 0
		}
		for int64(len(users)) < target {
			users = append(users, p.startUser(class))
		}
		for int64(len(users)) > target {
			last := users[len(users)-1]
			users = users[:len(users)-1]
			last.stopWithin(stopTimeout)
			p.retiring = append(p.retiring, last)
		}
		p.byClass[name] = users
	}
	p.pruneRetiring()
	return p.countsLocked(), unknown
}

// addUsers starts n more users of a class, whatever the users that ended
// by themselves, for a standalone ramp.
func (p *userPool) addUsers(name string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	class := p.resolve(name)
	for range n {
		p.byClass[name] = append(p.byClass[name], p.startUser(class))
	}
}

func (p *userPool) startUser(class *classRuntime) *User {
	ctx, cancel := context.WithCancel(context.Background())
	p.started++
	u := &User{
		class:    class,
		b:        p.b,
		index:    p.started,
		cancel:   cancel,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	u.setContext(ctx)
	go p.runUser(u)
	return u
}

// runUser is the life of one user: OnStart, tasks until stopped, OnStop.
func (p *userPool) runUser(u *User) {
	defer close(u.done)
	defer u.cancel()
	class := u.class

	if class.onStart != nil {
		start := time.Now()
		if err := callHook(func() error { return class.onStart(u) }); err != nil {
			u.b.RecordFailure("OnStart", class.name, time.Since(start), err.Error())
			return
		}
	}

	if picker := class.picker.Load(); picker != nil && !picker.empty() {
		p.runLevel(u, picker, true)
	} else {
		// No task passed the tag filter: the user only waits for its stop.
		select {
		case <-u.stopping:
		case <-u.Context().Done():
		}
	}

	if class.onStop != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(u.Context()), onStopTimeout)
		defer cancel()
		u.setContext(ctx)
		start := time.Now()
		if err := callHook(func() error { class.onStop(u); return nil }); err != nil {
			u.b.RecordFailure("OnStop", class.name, time.Since(start), err.Error())
		}
	}
}

// runLevel runs the tasks of one level until the user stops or, below the
// top level, until a task calls Interrupt.
func (p *userPool) runLevel(u *User, picker *taskPicker, top bool) {
	for step := 0; !u.stopRequested(); step++ {
		// The permit comes before the pick, so a stop while waiting drops
		// no picked task. A nested set passes it on to its first task.
		if p.limiter != nil && !u.permit {
			if !p.limiter.wait(u) {
				return
			}
			u.permit = true
		}
		task := picker.next(step)
		if sub := picker.subsets[task]; sub != nil {
			// The parent goes on at once when the nested set returns.
			p.runLevel(u, sub, false)
			continue
		}
		u.permit = false
		// The clock is read only for a wait time, which may depend on the
		// task's run time: a read costs up to 80 ns on some virtual
		// machines.
		var start time.Time
		if picker.wait != nil {
			start = time.Now()
		}
		p.runTask(u, task)
		u.iterations++
		if p.maxIterations > 0 && u.iterations >= p.maxIterations {
			u.requestStop()
		}
		if u.interrupted {
			u.interrupted = false
			if !top {
				return
			}
		}
		if picker.wait != nil && !u.stopRequested() {
			u.sleep(picker.wait.Next(start, time.Now()))
		}
	}
}

// callHook calls a lifecycle hook and turns a panic into an error.
func callHook(hook func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return hook()
}

// stopWithin makes the user stop after its current task and cancels its
// context when timeout runs out, or at once for a zero timeout.
func (u *User) stopWithin(timeout time.Duration) {
	u.requestStop()
	if timeout <= 0 {
		u.cancel()
		return
	}
	go func() {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-u.done:
		case <-timer.C:
			u.cancel()
		}
	}()
}

// pruneRetiring removes retiring users that have ended. The caller holds p.mu.
func (p *userPool) pruneRetiring() {
	kept := p.retiring[:0]
	for _, u := range p.retiring {
		select {
		case <-u.done:
		default:
			kept = append(kept, u)
		}
	}
	clear(p.retiring[len(kept):])
	p.retiring = kept
}

// counts returns the users running per class, zeros included for every
// class named so far.
func (p *userPool) counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneEnded()
	return p.countsLocked()
}

// pruneEnded removes users that ended by themselves, after a failed OnStart
// or a call to User.Stop, so that counts show live users and the next spawn
// replaces them, as Locust does. The caller holds p.mu.
func (p *userPool) pruneEnded() {
	for class, users := range p.byClass {
		live := users[:0]
		for _, u := range users {
			select {
			case <-u.done:
			default:
				live = append(live, u)
			}
		}
		clear(users[len(live):])
		p.byClass[class] = live
	}
}

// total returns the number of users running, over all classes.
func (p *userPool) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneEnded()
	n := 0
	for _, users := range p.byClass {
		n += len(users)
	}
	return n
}

func (p *userPool) countsLocked() map[string]int64 {
	counts := make(map[string]int64, len(p.byClass))
	for class, users := range p.byClass {
		counts[class] = int64(len(users))
	}
	return counts
}

// stopAll stops every user, each within stopTimeout, and waits at most
// stopTimeout+grace for them to end, OnStop included. It returns how many
// users were still running when the wait ended; those go on in the
// background and can still record their last requests.
func (p *userPool) stopAll(stopTimeout, grace time.Duration) int {
	p.mu.Lock()
	for class, users := range p.byClass {
		p.retiring = append(p.retiring, users...)
		p.byClass[class] = nil
	}
	// Users already retiring get the new timeout too, so a quit during a
	// long stop cancels them at once.
	for _, u := range p.retiring {
		u.stopWithin(stopTimeout)
	}
	pending := append([]*User(nil), p.retiring...)
	p.mu.Unlock()

	timer := time.NewTimer(stopTimeout + grace)
	defer timer.Stop()
wait:
	for _, u := range pending {
		select {
		case <-u.done:
		case <-timer.C:
			break wait
		}
	}

	left := 0
	for _, u := range pending {
		select {
		case <-u.done:
		default:
			left++
		}
	}
	p.mu.Lock()
	p.pruneRetiring()
	p.mu.Unlock()
	return left
}

// panicReport describes a recovered task panic.
type panicReport struct {
	message   string
	traceback string
}

// tracePatterns match the parts of a goroutine stack that differ between
// goroutines running the same code. They are compiled at the first task
// panic, so a worker without panics keeps none on its heap.
type tracePatterns struct {
	goroutineHeader *regexp.Regexp
	frameOffset     *regexp.Regexp
	// frameArguments matches a frame's argument list as the runtime prints
	// it: hex words, "?" after a value that may be stale, "..." and "_" for
	// values it leaves out, and braces around struct and array arguments.
	frameArguments *regexp.Regexp
	// creatorGoroutine matches the parent's id in "created by f in goroutine 7".
	creatorGoroutine *regexp.Regexp
}

var compileTracePatterns = sync.OnceValue(func() *tracePatterns {
	return &tracePatterns{
		goroutineHeader:  regexp.MustCompile(`^goroutine \d+ \[[^\]]*\]:\n`),
		frameOffset:      regexp.MustCompile(` \+0x[0-9a-f]+`),
		frameArguments:   regexp.MustCompile(`\((?:0x[0-9a-f]+\??|\.\.\.|_|[{}]|, )+\)`),
		creatorGoroutine: regexp.MustCompile(`(?m) in goroutine \d+$`),
	}
})

// newPanicReport builds the report of a task panic. The master groups
// exceptions by traceback text, so goroutine ids, argument values and code
// offsets, which differ between goroutines, are removed from the stack.
func newPanicReport(task *Task, recovered any, stack []byte) panicReport {
	p := compileTracePatterns()
	trace := string(stack)
	trace = p.goroutineHeader.ReplaceAllString(trace, "")
	trace = p.frameOffset.ReplaceAllString(trace, "")
	trace = p.frameArguments.ReplaceAllString(trace, "(...)")
	trace = p.creatorGoroutine.ReplaceAllString(trace, "")
	return panicReport{
		message:   fmt.Sprintf("task %q panicked: %v", task.Name, recovered),
		traceback: strings.TrimSpace(trace),
	}
}

// callTask runs one task body, turning a panic into a panicReport. u may be
// nil for a task with an Fn body.
func callTask(task *Task, u *User) (report *panicReport) {
	defer func() {
		if r := recover(); r != nil {
			pr := newPanicReport(task, r, debug.Stack())
			report = &pr
		}
	}()
	switch {
	case task.Fn != nil:
		task.Fn()
	case task.Run != nil:
		task.Run(u)
	}
	return nil
}
