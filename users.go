package boomer

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// user is one simulated user: a goroutine that runs tasks until its context
// is cancelled.
type user struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// userPool runs the users of all user classes. The master names the classes
// and their absolute target counts; every class runs the pool's tasks.
type userPool struct {
	picker  *taskPicker
	runTask func(*Task)

	mu      sync.Mutex
	byClass map[string][]*user
	// retiring are users told to stop that may still be inside a task.
	retiring []*user
}

func newUserPool(picker *taskPicker, runTask func(*Task)) *userPool {
	return &userPool{
		picker:  picker,
		runTask: runTask,
		byClass: make(map[string][]*user),
	}
}

// setTargets starts and stops users so that each class in targets has
// exactly its target count running. It starts the missing users at once and
// tells the surplus ones to stop after their current task. It returns the
// counts now running per class, for every class named so far.
func (p *userPool) setTargets(targets map[string]int64) map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()

	classes := make([]string, 0, len(targets))
	for class := range targets {
		classes = append(classes, class)
	}
	sort.Strings(classes)

	for _, class := range classes {
		target := max(targets[class], 0)
		users := p.byClass[class]
		for int64(len(users)) < target {
			users = append(users, p.startUser())
		}
		for int64(len(users)) > target {
			last := users[len(users)-1]
			users = users[:len(users)-1]
			last.cancel()
			p.retiring = append(p.retiring, last)
		}
		p.byClass[class] = users
	}
	p.pruneRetiring()
	return p.countsLocked()
}

func (p *userPool) startUser() *user {
	ctx, cancel := context.WithCancel(context.Background())
	u := &user{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for ctx.Err() == nil {
			p.runTask(p.picker.pick())
		}
	}()
	return u
}

// pruneRetiring forgets retiring users that have ended. The caller holds p.mu.
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
	return p.countsLocked()
}

func (p *userPool) countsLocked() map[string]int64 {
	counts := make(map[string]int64, len(p.byClass))
	for class, users := range p.byClass {
		counts[class] = int64(len(users))
	}
	return counts
}

// stopAll tells every user to stop after its current task and waits at most
// wait for them to end. It returns how many users were still inside a task
// when the wait ended; those go on in the background and can still record
// their last request.
func (p *userPool) stopAll(wait time.Duration) int {
	p.mu.Lock()
	for class, users := range p.byClass {
		for _, u := range users {
			u.cancel()
			p.retiring = append(p.retiring, u)
		}
		p.byClass[class] = nil
	}
	pending := append([]*user(nil), p.retiring...)
	p.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	left := len(pending)
	for _, u := range pending {
		select {
		case <-u.done:
			left--
		case <-timer.C:
			return left
		}
	}

	p.mu.Lock()
	p.pruneRetiring()
	p.mu.Unlock()
	return 0
}

// panicReport describes a recovered task panic.
type panicReport struct {
	message   string
	traceback string
}

var (
	goroutineHeader = regexp.MustCompile(`^goroutine \d+ \[[^\]]*\]:\n`)
	frameOffset     = regexp.MustCompile(` \+0x[0-9a-f]+`)
	// frameArguments matches a frame's argument list as the runtime prints
	// it: hex words, "?" after a value that may be stale, "..." and "_" for
	// values it leaves out, and braces around struct and array arguments.
	frameArguments = regexp.MustCompile(`\((?:0x[0-9a-f]+\??|\.\.\.|_|[{}]|, )+\)`)
	// creatorGoroutine matches the parent's id in "created by f in goroutine 7".
	creatorGoroutine = regexp.MustCompile(`(?m) in goroutine \d+$`)
)

// newPanicReport builds the report of a task panic. The master groups
// exceptions by traceback text, so goroutine ids, argument values and code
// offsets, which differ between goroutines, are removed from the stack.
func newPanicReport(task *Task, recovered any, stack []byte) panicReport {
	trace := string(stack)
	trace = goroutineHeader.ReplaceAllString(trace, "")
	trace = frameOffset.ReplaceAllString(trace, "")
	trace = frameArguments.ReplaceAllString(trace, "(...)")
	trace = creatorGoroutine.ReplaceAllString(trace, "")
	return panicReport{
		message:   fmt.Sprintf("task %q panicked: %v", task.Name, recovered),
		traceback: strings.TrimSpace(trace),
	}
}

// callTask runs one task, turning a panic into a panicReport.
func callTask(task *Task) (report *panicReport) {
	defer func() {
		if r := recover(); r != nil {
			pr := newPanicReport(task, r, debug.Stack())
			report = &pr
		}
	}()
	task.Fn()
	return nil
}
