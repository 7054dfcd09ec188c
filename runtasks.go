package boomer

import (
	"context"
	"fmt"
	"time"
)

// runTasksOnce runs the tasks named in Config.RunTasks once each, in order,
// without a master, and prints every request they record. It is meant for
// debugging task code. It returns an error naming the tasks that panicked.
func (b *Boomer) runTasksOnce() error {
	tasks, err := findTasks(b.allTasks(), b.cfg.RunTasks)
	if err != nil {
		return err
	}
	b.stats.trace = b.stdout
	defer func() { b.stats.trace = nil }()

	var panicked []string
	for _, task := range tasks {
		fmt.Fprintf(b.stdout, "task %q:\n", task.Name)
		start := time.Now()
		report := b.runTaskOnce(task)
		elapsed := time.Since(start)
		if report != nil {
			b.RecordFailure(panicRequestType, task.Name, elapsed, report.message)
			fmt.Fprintf(b.stdout, "  %s\n%s\n", report.message, report.traceback)
			panicked = append(panicked, task.Name)
		}
		snap := b.stats.snapshot()
		fmt.Fprintf(b.stdout, "  task %q done in %s: %d request(s) recorded\n", task.Name, elapsed.Round(time.Microsecond), snap.total().numRequests)
	}
	if len(panicked) > 0 {
		return fmt.Errorf("--run-tasks: tasks panicked: %s", quoteList(panicked))
	}
	return nil
}

// runTaskOnce runs a task once with a user of its own: a nested set runs each
// of its tasks once, in order. When the task belongs to a user class, the
// class's OnStart runs first and its OnStop last, so the task finds the
// user's State as under load. It returns the first panic.
func (b *Boomer) runTaskOnce(task *Task) *panicReport {
	class := b.classOf(task)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime := &classRuntime{name: "run-tasks"}
	if class != nil {
		runtime = newClassRuntime(class)
	}
	u := &User{
		class:    runtime,
		b:        b,
		cancel:   cancel,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	u.setContext(ctx)

	if runtime.onStart != nil {
		start := time.Now()
		if err := callHook(func() error { return runtime.onStart(u) }); err != nil {
			b.RecordFailure("OnStart", runtime.name, time.Since(start), err.Error())
			return nil
		}
	}
	report := runBody(task, u)
	if runtime.onStop != nil {
		start := time.Now()
		if err := callHook(func() error { runtime.onStop(u); return nil }); err != nil {
			b.RecordFailure("OnStop", runtime.name, time.Since(start), err.Error())
		}
	}
	return report
}

// runBody runs a task body once, or each task of a nested set once, in
// order, and returns the first panic.
func runBody(task *Task, u *User) *panicReport {
	if task.Set == nil {
		return callTask(task, u)
	}
	var first *panicReport
	for _, sub := range task.Set.Tasks {
		if report := runBody(sub, u); report != nil && first == nil {
			first = report
		}
	}
	return first
}

// classOf returns the user class whose top-level tasks include task, or nil.
func (b *Boomer) classOf(task *Task) *UserClass {
	for _, c := range b.classes {
		for _, t := range c.Tasks {
			if t == task {
				return c
			}
		}
	}
	return nil
}
