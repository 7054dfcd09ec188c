package boomer

import (
	"fmt"
	"time"
)

// runTasksOnce runs the tasks named in Config.RunTasks once each, in order,
// without a master, and prints every request they record. It is meant for
// debugging task code.
func (b *Boomer) runTasksOnce() error {
	tasks, err := findTasks(b.tasks, b.cfg.RunTasks)
	if err != nil {
		return err
	}
	b.printRequests = true
	defer func() { b.printRequests = false }()

	for _, task := range tasks {
		fmt.Fprintf(b.stdout, "task %q:\n", task.Name)
		start := time.Now()
		report := callTask(task)
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
