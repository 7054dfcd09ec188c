package boomer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Task is a unit of work that a simulated user runs again and again. Each
// time a user is free it picks one of its tasks at random, in proportion to
// the weights, so Weight is an execution ratio: a task of weight 20 runs
// about twice as often as one of weight 10.
//
// Fn is called from many goroutines at once, one per user, and must be safe
// for concurrent use. It records its requests with RecordSuccess and
// RecordFailure (or Events.Publish). A panic in Fn is recovered, recorded as
// a failure of the task and reported to the master as an exception; the user
// then goes on with its next task.
type Task struct {
	// Name identifies the task in --run-tasks and in panic reports.
	Name string
	// Weight is the task's share of the executions. Zero means the task never
	// runs under load, though --run-tasks can still run it by name.
	Weight int
	// Fn is the task body.
	Fn func()
}

// taskPicker chooses tasks at random by weight. It is read-only after
// construction and safe for concurrent use.
type taskPicker struct {
	tasks []*Task
	// cumulative[i] is the sum of the weights of tasks[0..i].
	cumulative []int
	total      int
}

func validateTasks(tasks []*Task) error {
	if len(tasks) == 0 {
		return errors.New("no tasks: pass at least one *boomer.Task")
	}
	for i, t := range tasks {
		if t == nil {
			return fmt.Errorf("task %d is nil", i)
		}
		if t.Fn == nil {
			return fmt.Errorf("task %d (%q) has no Fn: set Task.Fn to the function to run", i, t.Name)
		}
		if t.Weight < 0 {
			return fmt.Errorf("task %d (%q) has weight %d: weights must be 0 or more", i, t.Name, t.Weight)
		}
	}
	return nil
}

func newTaskPicker(tasks []*Task) (*taskPicker, error) {
	if err := validateTasks(tasks); err != nil {
		return nil, err
	}
	p := &taskPicker{}
	names := make([]string, 0, len(tasks))
	for _, t := range tasks {
		names = append(names, t.Name)
		if t.Weight == 0 {
			continue
		}
		p.total += t.Weight
		p.tasks = append(p.tasks, t)
		p.cumulative = append(p.cumulative, p.total)
	}
	if p.total == 0 {
		return nil, fmt.Errorf("every task has weight 0 (%s): give at least one task a positive Weight", quoteList(names))
	}
	return p, nil
}

// pick returns a task chosen at random by weight. Every user draws on its
// own, so users do not run the same task in lock-step.
func (p *taskPicker) pick() *Task {
	if len(p.tasks) == 1 {
		return p.tasks[0]
	}
	n := rand.IntN(p.total)
	i := sort.SearchInts(p.cumulative, n+1)
	return p.tasks[i]
}

// findTasks returns the tasks with the given names, in the order given, or an
// error that lists the known names.
func findTasks(tasks []*Task, names []string) ([]*Task, error) {
	byName := make(map[string]*Task, len(tasks))
	known := make([]string, 0, len(tasks))
	for _, t := range tasks {
		if _, dup := byName[t.Name]; !dup {
			known = append(known, t.Name)
		}
		byName[t.Name] = t
	}
	found := make([]*Task, 0, len(names))
	for _, name := range names {
		t, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("unknown task %q in --run-tasks: known tasks are %s", name, quoteList(known))
		}
		found = append(found, t)
	}
	return found, nil
}

func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}
