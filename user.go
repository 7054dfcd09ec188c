package boomer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// UserClass describes one kind of simulated user, as a User class does in a
// locustfile. The master's spawn messages name user classes with a target
// count each. A worker runs the UserClass of that Name, so the names must
// match the classes of the master's locustfile.
//
// Each user runs OnStart once, then its tasks until it is stopped, waiting
// WaitTime between two tasks, then OnStop once.
type UserClass struct {
	// Name is the class name the master uses, such as "WebsiteUser".
	Name string
	// Weight and FixedCount have Locust's meaning. The master's locustfile
	// decides the counts of a distributed test, so a worker only validates
	// them: at most one of the two may be set, and neither may be negative.
	Weight     int
	FixedCount int

	// Tasks are the tasks of the class. A user picks them at random by
	// weight, or runs them in order, again and again, when Sequential is set.
	Tasks      []*Task
	Sequential bool

	// WaitTime is the pause after each task; nil means no pause.
	WaitTime WaitTime

	// OnStart runs once when a user starts, before its first task, for
	// example to log in. An error, or a panic, is recorded as a failure of
	// request type "OnStart" and ends that user without OnStop.
	OnStart func(u *User) error
	// OnStop runs once when a user that started stops, for example to log
	// out. Its context is not cancelled by the stop, but ends after
	// onStopTimeout.
	OnStop func(u *User)
}

// TaskSet is a group of tasks that runs as one task of a UserClass or of
// another TaskSet. A user that picks it stays in the set and runs its tasks
// until one of them calls User.Interrupt. The user then returns to the
// parent and picks its next task there.
type TaskSet struct {
	// Tasks are picked at random by weight, or run in order when Sequential
	// is set.
	Tasks      []*Task
	Sequential bool
	// WaitTime is the pause after each task of the set; nil means the
	// parent's wait time.
	WaitTime WaitTime
}

// onStopTimeout bounds the context of OnStop.
const onStopTimeout = 10 * time.Second

// User is one running simulated user. Its tasks and hooks receive it; it is
// only valid during those calls and must not be kept after the user stops.
// Methods other than Interrupt are safe for concurrent use.
type User struct {
	// State is free for the class's own use: OnStart typically stores a
	// session or a connection here, and tasks read it. Only this user's
	// goroutine touches it.
	State any

	class *classRuntime
	b     *Boomer
	index int

	// ctx holds the user's context. OnStop replaces it with one that the
	// stop does not cancel, while other goroutines may read it.
	ctx    atomic.Pointer[contextBox]
	cancel context.CancelFunc
	// stopping is closed when the user must stop after its current task.
	stopping chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	// interrupted is set by Interrupt and read by the user's goroutine.
	interrupted bool
	// permit records that the user holds a task start permit, and
	// iterations counts the tasks it ran. Only the user's goroutine uses
	// them.
	permit     bool
	iterations int
}

// Context returns the user's context. It is cancelled when the user is
// stopped: at once for a stop without stop timeout, or when the master's
// stop timeout runs out. Pass it to blocking calls so that they end promptly.
func (u *User) Context() context.Context {
	return u.ctx.Load().ctx
}

// contextBox wraps a context for atomic.Pointer.
type contextBox struct {
	ctx context.Context
}

func (u *User) setContext(ctx context.Context) {
	u.ctx.Store(&contextBox{ctx: ctx})
}

// ClassName returns the name of the user's class.
func (u *User) ClassName() string {
	return u.class.name
}

// Test returns what the master sent about the current test: host, stop
// timeout and options.
func (u *User) Test() TestInfo {
	return u.b.Test()
}

// Host returns the target host of the current test, as set on the master.
func (u *User) Host() string {
	return u.b.Host()
}

// Stop makes the user stop after its current task. OnStop then runs as for a
// stop from the master.
func (u *User) Stop() {
	u.requestStop()
}

// Interrupt makes the user leave the innermost TaskSet it runs after the
// current task and go on in the parent. It must be called from the user's
// own task. In the class's top level it does nothing.
func (u *User) Interrupt() {
	u.interrupted = true
}

// RecordSuccess records a successful request; see Boomer.RecordSuccess.
func (u *User) RecordSuccess(requestType, name string, responseTime time.Duration, responseLength int64) {
	u.b.RecordSuccess(requestType, name, responseTime, responseLength)
}

// RecordFailure records a failed request; see Boomer.RecordFailure.
func (u *User) RecordFailure(requestType, name string, responseTime time.Duration, exception string) {
	u.b.RecordFailure(requestType, name, responseTime, exception)
}

// SendMessage sends a custom message to the master; see Boomer.SendMessage.
func (u *User) SendMessage(msgType string, data any) error {
	return u.b.SendMessage(msgType, data)
}

// requestStop makes the user stop after its current task and interrupts its
// wait. It does not cancel the context.
func (u *User) requestStop() {
	u.stopOnce.Do(func() { close(u.stopping) })
}

func (u *User) stopRequested() bool {
	select {
	case <-u.stopping:
		return true
	default:
		return false
	}
}

// sleep waits for d, and returns early when the user must stop.
func (u *User) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-u.stopping:
	case <-u.Context().Done():
	}
}
