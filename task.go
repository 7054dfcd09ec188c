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
// A task has exactly one body: Fn, Run or Set. Bodies are called from many
// goroutines at once, one per user, and must be safe for concurrent use. A
// panic in a body is recovered and recorded as a failure of request type
// "panic" under the task's name. It is also reported to the master as an
// exception, and the user goes on with its next task.
type Task struct {
	// Name identifies the task in --run-tasks and in panic reports.
	Name string
	// Weight is the task's share of the executions. Zero means the task
	// never runs under load, though --run-tasks can still run it by name.
	// Sequential sets ignore weights.
	Weight int

	// Fn is a body that needs no user, as in the original boomer. It
	// records its requests with RecordSuccess and RecordFailure.
	Fn func()
	// Run is a body that receives its user, whose context ends when the
	// user is stopped and whose State holds per-user data.
	Run func(u *User)
	// Set makes the task a nested TaskSet.
	Set *TaskSet

	// Tags select tasks with the master's --tags and --exclude-tags, as
	// Locust's @tag does. A set's tags apply to all its tasks.
	Tags []string
}

func validateTasks(tasks []*Task) error {
	if len(tasks) == 0 {
		return errors.New("no tasks: pass at least one *boomer.Task")
	}
	for i, t := range tasks {
		if err := validateTask(t, fmt.Sprintf("task %d", i)); err != nil {
			return err
		}
	}
	return nil
}

func validateTask(t *Task, where string) error {
	if t == nil {
		return fmt.Errorf("%s is nil", where)
	}
	bodies := 0
	for _, set := range []bool{t.Fn != nil, t.Run != nil, t.Set != nil} {
		if set {
			bodies++
		}
	}
	if bodies == 0 {
		return fmt.Errorf("%s (%q) has no body: set Task.Fn, Task.Run or Task.Set", where, t.Name)
	}
	if bodies > 1 {
		return fmt.Errorf("%s (%q) has %d bodies: set only one of Task.Fn, Task.Run and Task.Set", where, t.Name, bodies)
	}
	if t.Weight < 0 {
		return fmt.Errorf("%s (%q) has weight %d: weights must be 0 or more", where, t.Name, t.Weight)
	}
	if t.Set != nil {
		if len(t.Set.Tasks) == 0 {
			return fmt.Errorf("%s (%q) is a TaskSet without tasks", where, t.Name)
		}
		for i, sub := range t.Set.Tasks {
			if err := validateTask(sub, fmt.Sprintf("%s (%q) task %d", where, t.Name, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// taskPicker is a compiled list of tasks: the tasks that passed the tag
// filter, their weights and their nested sets. It is read-only after
// construction and safe for concurrent use.
type taskPicker struct {
	tasks []*Task
	// cumulative[i] is the sum of the weights of tasks[0..i].
	cumulative []int
	total      int
	sequential bool
	wait       WaitTime
	// subsets are the compiled nested sets, by task.
	subsets map[*Task]*taskPicker
}

// newTaskPicker compiles a weighted list of tasks without tag filtering. It
// fails when no task has a positive weight.
func newTaskPicker(tasks []*Task) (*taskPicker, error) {
	if err := validateTasks(tasks); err != nil {
		return nil, err
	}
	p := compileTasks(tasks, false, nil, tagFilter{}, nil)
	if p.empty() {
		names := make([]string, 0, len(tasks))
		for _, t := range tasks {
			names = append(names, t.Name)
		}
		return nil, fmt.Errorf("every task has weight 0 (%s): give at least one task a positive Weight", quoteList(names))
	}
	return p, nil
}

// compileTasks builds the picker of one level of tasks. Tasks whose tags do
// not pass the filter, tasks of weight 0 in a weighted list and nested sets
// left without tasks are dropped.
func compileTasks(tasks []*Task, sequential bool, wait WaitTime, filter tagFilter, inherited []string) *taskPicker {
	p := &taskPicker{sequential: sequential, wait: wait, subsets: make(map[*Task]*taskPicker)}
	for _, t := range tasks {
		if !sequential && t.Weight == 0 {
			continue
		}
		tags := append(append([]string(nil), inherited...), t.Tags...)
		if t.Set != nil {
			subWait := t.Set.WaitTime
			if subWait == nil {
				subWait = wait
			}
			sub := compileTasks(t.Set.Tasks, t.Set.Sequential, subWait, filter, tags)
			if sub.empty() {
				continue
			}
			p.subsets[t] = sub
		} else if !filter.passes(tags) {
			continue
		}
		p.tasks = append(p.tasks, t)
		p.total += max(t.Weight, 1)
		p.cumulative = append(p.cumulative, p.total)
	}
	return p
}

func (p *taskPicker) empty() bool {
	return len(p.tasks) == 0
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

// next returns the task a user runs as its step-th task in this list: in
// order for a sequential list, at random by weight otherwise.
func (p *taskPicker) next(step int) *Task {
	if p.sequential {
		return p.tasks[step%len(p.tasks)]
	}
	return p.pick()
}

// tagFilter selects tasks by tag the way Locust's --tags and --exclude-tags
// do. A nil include set selects every task.
type tagFilter struct {
	include map[string]bool
	exclude map[string]bool
}

// newTagFilter builds a filter from the master's parsed options "tags" and
// "exclude_tags", lists of strings or nil.
func newTagFilter(options map[string]any) tagFilter {
	return tagFilter{
		include: stringSet(options["tags"]),
		exclude: stringSet(options["exclude_tags"]),
	}
}

func stringSet(v any) map[string]bool {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	set := make(map[string]bool, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			set[s] = true
		}
	}
	return set
}

func (f tagFilter) passes(tags []string) bool {
	if f.include != nil && !containsAny(f.include, tags) {
		return false
	}
	return !containsAny(f.exclude, tags)
}

func containsAny(set map[string]bool, tags []string) bool {
	for _, tag := range tags {
		if set[tag] {
			return true
		}
	}
	return false
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
