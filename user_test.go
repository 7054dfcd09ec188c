package boomer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// userTimeout bounds every wait for a user's goroutine in these tests.
const userTimeout = 10 * time.Second

func TestWaitBetween(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 200 * time.Millisecond
	wait := Between(lo, hi)
	now := time.Now()
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		d := wait.Next(now, now)
		require.GreaterOrEqual(t, d, lo)
		require.LessOrEqual(t, d, hi)
		seen[d] = true
	}
	// 1000 uniform draws from 100,000,001 values are expected to hold 0.005
	// repeats, so more than 10 repeats mean the draws are not spread.
	assert.Greater(t, len(seen), 990, "draws are not spread over the range")

	assert.Equal(t, lo, Between(lo, lo).Next(now, now))
	assert.Equal(t, time.Duration(0), Between(0, 0).Next(now, now))
}

func TestWaitConstant(t *testing.T) {
	start := time.Now()
	wait := Constant(3 * time.Second)
	assert.Equal(t, 3*time.Second, wait.Next(start, start))
	assert.Equal(t, 3*time.Second, wait.Next(start, start.Add(time.Hour)))
	assert.Equal(t, time.Duration(0), Constant(0).Next(start, start))
}

func TestWaitConstantPacing(t *testing.T) {
	start := time.Now()
	cases := []struct {
		name string
		task time.Duration
		want time.Duration
	}{
		{"instant task", 0, time.Second},
		{"short task", 300 * time.Millisecond, 700 * time.Millisecond},
		{"task as long as period", time.Second, 0},
		{"task longer than period", 1500 * time.Millisecond, 0},
	}
	wait := ConstantPacing(time.Second)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, wait.Next(start, start.Add(tc.task)))
		})
	}
}

func TestWaitConstantThroughput(t *testing.T) {
	start := time.Now()
	wait := ConstantThroughput(2)
	assert.Equal(t, 500*time.Millisecond, wait.Next(start, start))
	assert.Equal(t, 300*time.Millisecond, wait.Next(start, start.Add(200*time.Millisecond)))
	assert.Equal(t, time.Duration(0), wait.Next(start, start.Add(time.Second)))
	assert.Equal(t, 4*time.Second, ConstantThroughput(0.25).Next(start, start))
}

func TestWaitInvalidArgumentsPanic(t *testing.T) {
	cases := []struct {
		name string
		make func() WaitTime
		want string
	}{
		{"between negative min", func() WaitTime { return Between(-time.Second, time.Second) }, "boomer.Between(-1s, 1s)"},
		{"between min above max", func() WaitTime { return Between(2*time.Second, time.Second) }, "boomer.Between(2s, 1s)"},
		{"constant negative", func() WaitTime { return Constant(-time.Second) }, "boomer.Constant(-1s)"},
		{"pacing zero", func() WaitTime { return ConstantPacing(0) }, "boomer.ConstantPacing(0s)"},
		{"pacing negative", func() WaitTime { return ConstantPacing(-time.Second) }, "boomer.ConstantPacing(-1s)"},
		{"throughput zero", func() WaitTime { return ConstantThroughput(0) }, "boomer.ConstantThroughput(0)"},
		{"throughput negative", func() WaitTime { return ConstantThroughput(-1) }, "boomer.ConstantThroughput(-1)"},
		{"throughput NaN", func() WaitTime { return ConstantThroughput(math.NaN()) }, "boomer.ConstantThroughput(NaN)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, panicValue(tc.make), tc.want)
		})
	}
}

// panicValue calls f and returns the value it panics with, or nil.
func panicValue(f func() WaitTime) (value any) {
	defer func() { value = recover() }()
	f()
	return nil
}

// taskNames returns the names of a picker's tasks in order.
func taskNames(p *taskPicker) []string {
	names := make([]string, 0, len(p.tasks))
	for _, task := range p.tasks {
		names = append(names, task.Name)
	}
	return names
}

func filterOf(include, exclude []string) tagFilter {
	options := map[string]any{}
	if include != nil {
		options["tags"] = toAnyList(include)
	}
	if exclude != nil {
		options["exclude_tags"] = toAnyList(exclude)
	}
	return newTagFilter(options)
}

func toAnyList(items []string) []any {
	list := make([]any, len(items))
	for i, s := range items {
		list[i] = s
	}
	return list
}

func TestCompileTasksTags(t *testing.T) {
	// cart is a set tagged "checkout" whose tasks inherit the tag. Its task
	// add is also tagged "slow".
	checkout := &Task{Name: "checkout", Weight: 1, Fn: noop, Tags: []string{"checkout"}}
	browse := &Task{Name: "browse", Weight: 1, Fn: noop}
	add := &Task{Name: "add", Weight: 1, Fn: noop, Tags: []string{"slow"}}
	pay := &Task{Name: "pay", Weight: 1, Fn: noop}
	cart := &Task{Name: "cart", Weight: 1, Tags: []string{"checkout"}, Set: &TaskSet{Tasks: []*Task{add, pay}}}
	tasks := []*Task{checkout, browse, cart}

	cases := []struct {
		name             string
		include, exclude []string
		want             []string
		wantCart         []string
	}{
		{"no filter", nil, nil, []string{"checkout", "browse", "cart"}, []string{"add", "pay"}},
		{"include", []string{"checkout"}, nil, []string{"checkout", "cart"}, []string{"add", "pay"}},
		{"include nested tag only", []string{"slow"}, nil, []string{"cart"}, []string{"add"}},
		{"exclude", nil, []string{"slow"}, []string{"checkout", "browse", "cart"}, []string{"pay"}},
		{"exclude inherited tag", nil, []string{"checkout"}, []string{"browse"}, nil},
		{"include and exclude", []string{"checkout"}, []string{"slow"}, []string{"checkout", "cart"}, []string{"pay"}},
		{"nothing matches", []string{"none"}, nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := compileTasks(tasks, false, nil, filterOf(tc.include, tc.exclude), nil)
			assert.Equal(t, tc.want, nilIfEmpty(taskNames(p)))
			assert.Equal(t, len(tc.want) == 0, p.empty())
			sub, ok := p.subsets[cart]
			assert.Equal(t, tc.wantCart != nil, ok, "cart kept")
			if ok {
				assert.Equal(t, tc.wantCart, taskNames(sub))
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestCompileTasksDropsEmptySet(t *testing.T) {
	off := &Task{Name: "off", Weight: 0, Fn: noop}
	empty := &Task{Name: "empty", Weight: 1, Set: &TaskSet{Tasks: []*Task{off}}}
	on := &Task{Name: "on", Weight: 1, Fn: noop}

	p := compileTasks([]*Task{empty, on}, false, nil, tagFilter{}, nil)
	assert.Equal(t, []string{"on"}, taskNames(p))
	assert.NotContains(t, p.subsets, empty)
}

func TestCompileTasksSetWaitTime(t *testing.T) {
	parentWait := Constant(time.Second)
	ownWait := Constant(2 * time.Second)
	inherits := &Task{Name: "inherits", Weight: 1, Set: &TaskSet{Tasks: []*Task{{Name: "a", Weight: 1, Fn: noop}}}}
	own := &Task{Name: "own", Weight: 1, Set: &TaskSet{WaitTime: ownWait, Tasks: []*Task{{Name: "b", Weight: 1, Fn: noop}}}}

	p := compileTasks([]*Task{inherits, own}, false, parentWait, tagFilter{}, nil)
	now := time.Now()
	require.Contains(t, p.subsets, inherits)
	require.Contains(t, p.subsets, own)
	assert.Equal(t, time.Second, p.subsets[inherits].wait.Next(now, now))
	assert.Equal(t, 2*time.Second, p.subsets[own].wait.Next(now, now))
}

func TestPickerSequentialOrder(t *testing.T) {
	// Sequential lists keep tasks of weight 0 and ignore weights.
	login := &Task{Name: "login", Weight: 0, Fn: noop}
	browse := &Task{Name: "browse", Weight: 5, Fn: noop}
	buy := &Task{Name: "buy", Weight: 1, Fn: noop}
	p := compileTasks([]*Task{login, browse, buy}, true, nil, tagFilter{}, nil)

	var got []string
	for step := 0; step < 7; step++ {
		got = append(got, p.next(step).Name)
	}
	assert.Equal(t, []string{"login", "browse", "buy", "login", "browse", "buy", "login"}, got)
}

func TestUserClassValidation(t *testing.T) {
	task := func() *Task { return &Task{Name: "t", Weight: 1, Fn: noop} }
	class := func(name string) *UserClass { return &UserClass{Name: name, Tasks: []*Task{task()}} }
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"two bodies", []Option{WithUserClasses(&UserClass{Name: "C", Tasks: []*Task{
			{Name: "both", Weight: 1, Fn: noop, Run: func(*User) {}},
		}})}, `user class "C": task 0 ("both") has 2 bodies`},
		{"no body", []Option{WithUserClasses(&UserClass{Name: "C", Tasks: []*Task{
			{Name: "empty", Weight: 1},
		}})}, `user class "C": task 0 ("empty") has no body`},
		{"empty set", []Option{WithUserClasses(&UserClass{Name: "C", Tasks: []*Task{
			{Name: "set", Weight: 1, Set: &TaskSet{}},
		}})}, `user class "C": task 0 ("set") is a TaskSet without tasks`},
		{"nested task without body", []Option{WithUserClasses(&UserClass{Name: "C", Tasks: []*Task{
			{Name: "set", Weight: 1, Set: &TaskSet{Tasks: []*Task{{Name: "inner", Weight: 1}}}},
		}})}, `task 0 ("set") task 0 ("inner") has no body`},
		{"no tasks", []Option{WithUserClasses(&UserClass{Name: "C"})}, `user class "C": no tasks`},
		{"all weights zero", []Option{WithUserClasses(&UserClass{Name: "C", Tasks: []*Task{
			{Name: "off", Weight: 0, Fn: noop},
		}})}, `user class "C": every task has weight 0`},
		{"duplicate names", []Option{WithUserClasses(class("C"), class("D"), class("C"))}, `two user classes are named "C"`},
		{"tasks and classes", []Option{WithTasks(task()), WithUserClasses(class("C"))}, "both WithTasks and WithUserClasses were given"},
		{"weight and fixed count", []Option{WithUserClasses(&UserClass{Name: "C", Weight: 1, FixedCount: 2, Tasks: []*Task{task()}})},
			`user class "C" sets both Weight and FixedCount`},
		{"negative weight", []Option{WithUserClasses(&UserClass{Name: "C", Weight: -1, Tasks: []*Task{task()}})},
			`user class "C" has Weight -1 and FixedCount 0`},
		{"no name", []Option{WithUserClasses(&UserClass{Tasks: []*Task{task()}})}, "user class has no Name"},
		{"nil class", []Option{WithUserClasses(nil)}, "user class is nil"},
		{"nil test start hook", []Option{WithUserClasses(class("C")), WithTestStart(nil)}, "WithTestStart: hook is nil"},
		{"nil test stop hook", []Option{WithUserClasses(class("C")), WithTestStop(nil)}, "WithTestStop: hook is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.opts...)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestUserClassValidAccepted(t *testing.T) {
	b, err := New(WithUserClasses(
		&UserClass{Name: "Fixed", FixedCount: 2, Tasks: []*Task{{Name: "t", Weight: 1, Run: func(*User) {}}}},
		&UserClass{Name: "Seq", Sequential: true, Tasks: []*Task{
			{Name: "off", Weight: 0, Fn: noop},
			{Name: "set", Weight: 0, Set: &TaskSet{Sequential: true, Tasks: []*Task{{Name: "inner", Fn: noop}}}},
		}},
	))
	require.NoError(t, err)
	assert.NotNil(t, b)
}

// newTestPool returns a Boomer with the given classes and a userPool that
// runs them with an empty tag filter and no master. Every user is stopped
// when the test ends.
func newTestPool(t *testing.T, classes ...*UserClass) (*Boomer, *userPool) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(WithUserClasses(classes...), WithLogger(logger))
	require.NoError(t, err)
	runtimes := map[string]*classRuntime{}
	for _, c := range classes {
		rt := newClassRuntime(c)
		require.True(t, rt.compile(tagFilter{}), "class %q has no task", c.Name)
		runtimes[c.Name] = rt
	}
	pool := newUserPool(b, func(name string) *classRuntime { return runtimes[name] },
		func(u *User, task *Task) { callTask(task, u) })
	t.Cleanup(func() {
		assert.Zero(t, pool.stopAll(0, userTimeout), "users still running at the end of the test")
	})
	return b, pool
}

// startOneUser starts one user of class and returns it.
func startOneUser(t *testing.T, pool *userPool, class string) *User {
	t.Helper()
	counts, unknown := pool.setTargets(map[string]int64{class: 1}, 0)
	require.Empty(t, unknown)
	require.Equal(t, int64(1), counts[class])
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return pool.byClass[class][0]
}

func waitUserDone(t *testing.T, u *User) {
	t.Helper()
	select {
	case <-u.done:
	case <-time.After(userTimeout):
		t.Fatalf("user of class %q did not end within %v", u.ClassName(), userTimeout)
	}
}

func TestUserOnStartFailure(t *testing.T) {
	cases := []struct {
		name    string
		onStart func(*User) error
		want    string
	}{
		{"error", func(*User) error { return errors.New("login failed: HTTP 401") }, "login failed: HTTP 401"},
		{"panic", func(*User) error { panic("no session") }, "panic: no session"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ran, stopped := false, false
			b, pool := newTestPool(t, &UserClass{
				Name:    "Shopper",
				Tasks:   []*Task{{Name: "browse", Weight: 1, Run: func(*User) { ran = true }}},
				OnStart: tc.onStart,
				OnStop:  func(*User) { stopped = true },
			})

			u := startOneUser(t, pool, "Shopper")
			waitUserDone(t, u)

			// u.done is closed after the user's last write, so reading the
			// flags here is race-free.
			assert.False(t, ran, "a task ran after OnStart failed")
			assert.False(t, stopped, "OnStop ran after OnStart failed")
			snap := b.stats.snapshot()
			entry := snap.requests[requestKey{method: "OnStart", name: "Shopper"}]
			require.NotNil(t, entry, "no OnStart failure recorded; entries: %v", snap.requests)
			assert.Equal(t, int64(1), entry.numRequests)
			assert.Equal(t, int64(1), entry.numFailures)
			failure := snap.errors[errorKey{method: "OnStart", name: "Shopper", text: tc.want}]
			require.NotNil(t, failure, "no error %q recorded; errors: %v", tc.want, snap.errors)
			assert.Equal(t, int64(1), failure.occurrences)
		})
	}
}

func TestUserInterrupt(t *testing.T) {
	cases := []struct {
		name      string
		interrupt bool
		want      []string
	}{
		{"returns to parent", true, []string{"top", "sub", "top", "sub", "top", "sub", "OnStop"}},
		{"stays in set without it", false, []string{"top", "sub", "sub", "sub", "sub", "sub", "OnStop"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Only the user's goroutine appends, and the test reads after
			// u.done is closed.
			var events []string
			record := func(u *User, name string) {
				events = append(events, name)
				if len(events) == 6 {
					u.Stop()
				}
			}
			_, pool := newTestPool(t, &UserClass{
				Name:       "Nested",
				Sequential: true,
				Tasks: []*Task{
					{Name: "top", Run: func(u *User) { record(u, "top") }},
					{Name: "set", Set: &TaskSet{Tasks: []*Task{
						{Name: "sub", Weight: 1, Run: func(u *User) {
							record(u, "sub")
							if tc.interrupt {
								u.Interrupt()
							}
						}},
					}}},
				},
				OnStop: func(u *User) { events = append(events, "OnStop") },
			})

			u := startOneUser(t, pool, "Nested")
			waitUserDone(t, u)
			assert.Equal(t, tc.want, events)
		})
	}
}

func TestUserInterruptAtTopLevel(t *testing.T) {
	runs := 0
	_, pool := newTestPool(t, &UserClass{
		Name: "Flat",
		Tasks: []*Task{{Name: "t", Weight: 1, Run: func(u *User) {
			runs++
			u.Interrupt()
			if runs == 3 {
				u.Stop()
			}
		}}},
	})
	u := startOneUser(t, pool, "Flat")
	waitUserDone(t, u)
	assert.Equal(t, 3, runs, "Interrupt at the top level ended the user")
}

func TestUserStopRunsOnStop(t *testing.T) {
	var onStopErr error
	runs, stops := 0, 0
	_, pool := newTestPool(t, &UserClass{
		Name: "Quitter",
		Tasks: []*Task{{Name: "t", Weight: 1, Run: func(u *User) {
			runs++
			u.Stop()
		}}},
		WaitTime: Constant(time.Hour),
		OnStop: func(u *User) {
			stops++
			onStopErr = u.Context().Err()
		},
	})

	u := startOneUser(t, pool, "Quitter")
	waitUserDone(t, u)
	assert.Equal(t, 1, runs, "tasks after Stop")
	assert.Equal(t, 1, stops, "OnStop calls")
	assert.NoError(t, onStopErr, "OnStop's context")
}

// blockingClass returns a class whose task sends its user on started and
// then calls block with the user's context.
func blockingClass(started chan<- *User, block func(ctx context.Context)) *UserClass {
	return &UserClass{
		Name: "Blocker",
		Tasks: []*Task{{Name: "block", Weight: 1, Run: func(u *User) {
			started <- u
			block(u.Context())
		}}},
	}
}

func TestUserStopWithinZero(t *testing.T) {
	started := make(chan *User, 1)
	var onStopErr error
	var taskErr error
	class := blockingClass(started, func(ctx context.Context) {
		<-ctx.Done()
		taskErr = ctx.Err()
	})
	class.OnStop = func(u *User) { onStopErr = u.Context().Err() }
	_, pool := newTestPool(t, class)
	startOneUser(t, pool, "Blocker")
	u := <-started
	ctx := u.Context()

	u.stopWithin(0)
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "context not cancelled when stopWithin(0) returned")
	waitUserDone(t, u)
	assert.ErrorIs(t, taskErr, context.Canceled)
	assert.NoError(t, onStopErr, "OnStop's context is cancelled by the stop")
}

func TestUserStopWithinCancelsRunningTask(t *testing.T) {
	const timeout = 300 * time.Millisecond
	started := make(chan *User, 1)
	var taskErr error
	_, pool := newTestPool(t, blockingClass(started, func(ctx context.Context) {
		<-ctx.Done()
		taskErr = ctx.Err()
	}))
	startOneUser(t, pool, "Blocker")
	u := <-started
	ctx := u.Context()

	stopAt := time.Now()
	u.stopWithin(timeout)
	assert.NoError(t, ctx.Err(), "context cancelled before the stop timeout")
	waitUserDone(t, u)
	assert.ErrorIs(t, taskErr, context.Canceled)
	assert.GreaterOrEqual(t, time.Since(stopAt), timeout, "the task ended before the stop timeout")
}

func TestUserStopWithinLetsTaskFinish(t *testing.T) {
	started := make(chan *User, 1)
	release := make(chan struct{})
	var taskErr error
	runs := 0
	_, pool := newTestPool(t, blockingClass(started, func(ctx context.Context) {
		runs++
		<-release
		taskErr = ctx.Err()
	}))
	startOneUser(t, pool, "Blocker")
	u := <-started

	u.stopWithin(time.Minute)
	close(release)
	waitUserDone(t, u)
	assert.NoError(t, taskErr, "the task's context was cancelled although it finished within the stop timeout")
	assert.Equal(t, 1, runs, "tasks started after the stop")
}

func TestUserStopInterruptsWait(t *testing.T) {
	started := make(chan *User, 1)
	waiting := make(chan struct{})
	class := blockingClass(started, func(context.Context) {})
	// Next is called right before the user sleeps.
	class.WaitTime = WaitFunc(func(_, _ time.Time) time.Duration {
		close(waiting)
		return time.Hour
	})
	_, pool := newTestPool(t, class)
	startOneUser(t, pool, "Blocker")
	u := <-started
	<-waiting

	// The stop timeout is longer than the test, so only the stop request,
	// not a cancelled context, can end the hour-long wait.
	u.stopWithin(time.Hour)
	waitUserDone(t, u)
}

func TestUserContextDuringOnStop(t *testing.T) {
	// A goroutine that the user started reads the user's context while
	// OnStop runs. OnStop waits, without synchronizing with the reader,
	// until the reader has read the context 1000 times more, so the race
	// detector checks reads that overlap the start of OnStop.
	var reads atomic.Int64
	done := make(chan struct{})
	var readers sync.WaitGroup
	_, pool := newTestPool(t, &UserClass{
		Name: "Reader",
		OnStart: func(u *User) error {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for i := 0; i < 10_000_000; i++ {
					if u.Context() == nil {
						panic("user without context")
					}
					reads.Add(1)
					select {
					case <-done:
						return
					default:
					}
				}
			}()
			return nil
		},

		Tasks: []*Task{{Name: "t", Weight: 1, Run: func(u *User) {
			u.Stop()
		}}},

		OnStop: func(*User) {
			target := reads.Load() + 1000
			deadline := time.Now().Add(userTimeout)
			for reads.Load() < target && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		},
	})

	u := startOneUser(t, pool, "Reader")
	waitUserDone(t, u)
	close(done)
	readers.Wait()
}

func TestUserPoolTargets(t *testing.T) {
	class := func(name string) *UserClass {
		return &UserClass{Name: name, Tasks: []*Task{{Name: "t", Weight: 1, Run: func(u *User) {
			<-u.Context().Done()
		}}}}
	}
	_, pool := newTestPool(t, class("A"), class("B"))

	counts, unknown := pool.setTargets(map[string]int64{"A": 3, "B": 1, "Ghost": 2}, 0)
	assert.Equal(t, map[string]int64{"A": 3, "B": 1, "Ghost": 0}, counts)
	assert.Equal(t, []string{"Ghost"}, unknown)

	counts, unknown = pool.setTargets(map[string]int64{"A": 1, "B": 1}, 0)
	assert.Equal(t, map[string]int64{"A": 1, "B": 1, "Ghost": 0}, counts)
	assert.Empty(t, unknown)

	assert.Zero(t, pool.stopAll(0, userTimeout))
	assert.Equal(t, map[string]int64{"A": 0, "B": 0, "Ghost": 0}, pool.counts())
	pool.mu.Lock()
	assert.Empty(t, pool.retiring, "ended users kept after stopAll")
	pool.mu.Unlock()
}

// recordingTransport keeps the frames sent to it, in place of a master.
type recordingTransport struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recordingTransport) Send(frame []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, frame)
	return nil
}

func (r *recordingTransport) Receive() <-chan []byte    { return nil }
func (r *recordingTransport) Reset()                    {}
func (r *recordingTransport) Close(time.Duration) error { return nil }

// newMessageBoomer returns a Boomer whose SendMessage writes to the returned
// transport as if Run were active.
func newMessageBoomer(t *testing.T) (*Boomer, *recordingTransport) {
	t.Helper()
	b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: noop}), WithNodeID("test_node"))
	require.NoError(t, err)
	tr := &recordingTransport{}
	b.session.Store(&worker{b: b, transport: tr})
	return b, tr
}

func TestRegisterMessageRejects(t *testing.T) {
	handler := func(any) {}
	cases := []struct {
		name    string
		msgType string
		handler func(any)
		want    string
	}{
		{"empty type", "", handler, "empty message type"},
		{"spawn", typeSpawn, handler, `"spawn" is a message type of Locust's protocol`},
		{"stop", typeStop, handler, `"stop" is a message type of Locust's protocol`},
		{"heartbeat", typeHeartbeat, handler, `"heartbeat" is a message type of Locust's protocol`},
		{"nil handler", "to_worker", nil, `RegisterMessage("to_worker"): handler is nil`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: noop}))
			require.NoError(t, err)
			err = b.RegisterMessage(tc.msgType, tc.handler)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, registered := b.handlers.Load(tc.msgType)
			assert.False(t, registered)
		})
	}
}

func TestRegisterMessageReplaces(t *testing.T) {
	b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: noop}))
	require.NoError(t, err)
	var got []string
	require.NoError(t, b.RegisterMessage("to_worker", func(any) { got = append(got, "first") }))
	require.NoError(t, b.RegisterMessage("to_worker", func(any) { got = append(got, "second") }))

	handler, ok := b.handlers.Load("to_worker")
	require.True(t, ok)
	handler.(func(any))(nil)
	assert.Equal(t, []string{"second"}, got)
}

func TestSendMessageRejects(t *testing.T) {
	cases := []struct {
		name    string
		msgType string
		data    any
		want    string
	}{
		{"empty type", "", nil, "empty message type"},
		{"stats", typeStats, nil, `"stats" is a message type of Locust's protocol`},
		{"exception", typeException, nil, `"exception" is a message type of Locust's protocol`},
		{"type not UTF-8", "bad\xff", nil, "is not valid UTF-8"},
		{"time value", "from_worker", time.Unix(1, 0), "extension types (such as time.Time)"},
		{"nested time value", "from_worker", map[string]any{"at": []any{time.Unix(1, 0)}}, "extension types"},
		{"string not UTF-8", "from_worker", map[string]any{"k": "bad\xff"}, `string "bad\xff" is not valid UTF-8`},
		{"key not UTF-8", "from_worker", map[string]any{"bad\xff": 1}, `is not valid UTF-8`},
		{"channel", "from_worker", make(chan int), "cannot encode data of type chan int"},
		{"datetime key", "from_worker", map[string]any{"__datetime__": true}, `map key "__datetime__" is reserved`},
		{"nested ObjectId key", "from_worker", []any{map[string]any{"__ObjectId__": true, "as_str": "x"}}, `map key "__ObjectId__" is reserved`},
		{"list key", "from_worker", map[[2]int]int{{1, 2}: 3}, "a map key is a list or a map"},
		{"map key", "from_worker", map[struct{ A int }]int{{A: 1}: 2}, "a map key is a list or a map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, tr := newMessageBoomer(t)
			err := b.SendMessage(tc.msgType, tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, tr.frames, "a rejected message was sent")
		})
	}
}

func TestSendMessageNotRunning(t *testing.T) {
	b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: noop}))
	require.NoError(t, err)
	err = b.SendMessage("from_worker", map[string]any{"k": 1})
	assert.ErrorIs(t, err, ErrNotRunning)
	assert.Contains(t, err.Error(), `SendMessage("from_worker")`)
}

func TestSendMessageFrame(t *testing.T) {
	b, tr := newMessageBoomer(t)
	data := map[string]any{"k": []any{1, "x", nil}, "n": map[string]any{"ok": true}}
	require.NoError(t, b.SendMessage("from_worker", data))

	require.Len(t, tr.frames, 1)
	require.NoError(t, checkOutgoingFrame(tr.frames[0]))
	msg, err := decodeMessage(tr.frames[0])
	require.NoError(t, err)
	assert.Equal(t, "from_worker", msg.Type)
	assert.Equal(t, "test_node", msg.NodeID)
	assert.Equal(t, map[string]any{
		"k": []any{int64(1), "x", nil},
		"n": map[string]any{"ok": true},
	}, msg.Data)
}

func TestUserSendMessage(t *testing.T) {
	b, tr := newMessageBoomer(t)
	u := &User{b: b}
	require.NoError(t, u.SendMessage("from_worker", "hello"))
	require.Len(t, tr.frames, 1)
	msg, err := decodeMessage(tr.frames[0])
	require.NoError(t, err)
	assert.Equal(t, "hello", msg.Data)
}

func TestRunTasksUserClass(t *testing.T) {
	var browsed bool
	classes := []*UserClass{{
		Name: "Shopper",
		Tasks: []*Task{
			{Name: "login", Weight: 1, Run: func(u *User) {
				if u.Context().Err() != nil {
					u.RecordFailure("GET", "/login", time.Millisecond, "context cancelled")
					return
				}
				u.RecordSuccess("GET", "/login", 2*time.Millisecond, 10)
			}},
			{Name: "browse", Weight: 1, Run: func(*User) { browsed = true }},
			{Name: "cart", Weight: 1, Set: &TaskSet{Sequential: true, Tasks: []*Task{
				{Name: "add", Run: func(u *User) { u.RecordSuccess("POST", "/cart/add", 3*time.Millisecond, 20) }},
				{Name: "pay", Run: func(u *User) { u.RecordFailure("POST", "/cart/pay", 4*time.Millisecond, "HTTP 402") }},
			}}},
		},
	}}
	cfg := DefaultConfig()
	cfg.RunTasks = []string{"cart", "login"}
	b, err := New(WithConfig(cfg), WithUserClasses(classes...))
	require.NoError(t, err)
	var out bytes.Buffer
	b.stdout = &out

	require.NoError(t, b.Run(context.Background()))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 7, "output:\n%s", out.String())
	assert.Equal(t, `task "cart":`, lines[0])
	assert.Equal(t, "  success: POST /cart/add, 3.000 ms, 20 bytes", lines[1])
	assert.Equal(t, "  failure: POST /cart/pay, 4.000 ms, error: HTTP 402", lines[2])
	assert.Regexp(t, `^  task "cart" done in \S+: 2 request\(s\) recorded$`, lines[3])
	assert.Equal(t, `task "login":`, lines[4])
	assert.Equal(t, "  success: GET /login, 2.000 ms, 10 bytes", lines[5])
	assert.Regexp(t, `^  task "login" done in \S+: 1 request\(s\) recorded$`, lines[6])
	assert.False(t, browsed, "a task not named in --run-tasks ran")
	assert.Nil(t, b.stats.trace, "request printing left on after --run-tasks")
}

func TestRunTasksUnknownTaskInClass(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RunTasks = []string{"checkout"}
	_, err := New(WithConfig(cfg), WithUserClasses(&UserClass{Name: "Shopper", Tasks: []*Task{
		{Name: "login", Weight: 1, Run: func(*User) {}},
		{Name: "cart", Weight: 1, Set: &TaskSet{Tasks: []*Task{{Name: "add", Weight: 1, Run: func(*User) {}}}}},
	}}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown task "checkout" in --run-tasks: known tasks are "login", "cart"`)
}

func TestUserPoolReplacesEndedUsers(t *testing.T) {
	var started atomic.Int64
	stopSelf := make(chan struct{})
	class := &UserClass{Name: "A", Tasks: []*Task{{Name: "t", Weight: 1, Run: func(u *User) {
		if started.Add(1) == 1 {
			<-stopSelf
			u.Stop()
			return
		}
		<-u.Context().Done()
	}}}}
	_, pool := newTestPool(t, class)

	counts, _ := pool.setTargets(map[string]int64{"A": 2}, 0)
	assert.Equal(t, map[string]int64{"A": 2}, counts)

	// The first user stops itself; the pool no longer counts it.
	close(stopSelf)
	require.Eventually(t, func() bool { return pool.counts()["A"] == 1 }, userTimeout, time.Millisecond)

	// The next spawn with the same target starts a replacement.
	counts, _ = pool.setTargets(map[string]int64{"A": 2}, 0)
	assert.Equal(t, map[string]int64{"A": 2}, counts)
	assert.Eventually(t, func() bool { return started.Load() == 3 }, userTimeout, time.Millisecond,
		"the replacement user never ran its task")
	assert.Zero(t, pool.stopAll(0, userTimeout))
}
