package boomer

import (
	"context"
	"fmt"
	"time"
)

// runTasksOnce runs the tasks named in Config.RunTasks once each, in order,
// without a master, and prints every request they record. It is meant for
// debugging task code.
func (b *Boomer) runTasksOnce() error {
	tasks, err := findTasks(b.allTasks(), b.cfg.RunTasks)
	if err != nil {
		return err
	}
	b.printRequests = true
	defer func() { b.printRequests = false }()

	for _, task := range tasks {
		fmt.Fprintf(b.stdout, "task %q:\n", task.Name)
		start := time.Now()
		report := b.runTaskOnce(task)
		elapsed := time.Since(start)
		if report != nil {
			b.RecordFailure(panicRequestType, task.Name, elapsed, report.message)
			fmt.Fprintf(b.stdout, "  %s\n%s\n", report.message, report.traceback)
		}
		snap := b.stats.snapshot()
		fmt.Fprintf(b.stdout, "  task %q done in %s: %d request(s) recorded\n", task.Name, elapsed.Round(time.Microsecond), snap.total().numRequests)
	}
	return nil
}

// runTaskOnce runs a task once with a user of its own: a nested set runs each
// of its tasks once, in order. It returns the first panic.
func (b *Boomer) runTaskOnce(task *Task) *panicReport {
	if task.Set != nil {
		var first *panicReport
		for _, sub := range task.Set.Tasks {
			if report := b.runTaskOnce(sub); report != nil && first == nil {
				first = report
			}
		}
		return first
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := &User{
		class:    &classRuntime{name: "run-tasks"},
		b:        b,
		cancel:   cancel,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	u.setContext(ctx)
	return callTask(task, u)
}
