package boomer

import (
	"errors"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noop() {}

func TestPickerRatio(t *testing.T) {
	light := &Task{Name: "light", Weight: 10, Fn: noop}
	heavy := &Task{Name: "heavy", Weight: 20, Fn: noop}
	p, err := newTaskPicker([]*Task{light, heavy})
	require.NoError(t, err)

	// With 300,000 picks one standard deviation of a share is below 0.1 %,
	// so a 1 % tolerance cannot fail by chance.
	const picks = 300_000
	counts := map[*Task]int{}
	for i := 0; i < picks; i++ {
		counts[p.pick()]++
	}

	assert.InDelta(t, 1.0/3, float64(counts[light])/picks, 0.01)
	assert.InDelta(t, 2.0/3, float64(counts[heavy])/picks, 0.01)
}

func TestPickerSkipsWeightZero(t *testing.T) {
	never1 := &Task{Name: "never1", Weight: 0, Fn: noop}
	sometimes := &Task{Name: "sometimes", Weight: 1, Fn: noop}
	never2 := &Task{Name: "never2", Weight: 0, Fn: noop}
	often := &Task{Name: "often", Weight: 3, Fn: noop}
	p, err := newTaskPicker([]*Task{never1, sometimes, never2, often})
	require.NoError(t, err)

	counts := map[*Task]int{}
	for i := 0; i < 10_000; i++ {
		counts[p.pick()]++
	}

	assert.Zero(t, counts[never1])
	assert.Zero(t, counts[never2])
	assert.Positive(t, counts[sometimes])
	assert.Positive(t, counts[often])
}

func TestPickerSingleTask(t *testing.T) {
	only := &Task{Name: "only", Weight: 5, Fn: noop}
	p, err := newTaskPicker([]*Task{{Name: "off", Weight: 0, Fn: noop}, only})
	require.NoError(t, err)

	for i := 0; i < 100; i++ {
		require.Same(t, only, p.pick())
	}
}

func TestPickerRejects(t *testing.T) {
	cases := []struct {
		name  string
		tasks []*Task
		want  []string
	}{
		{"no tasks", nil, []string{"no tasks"}},
		{"all weights zero", []*Task{
			{Name: "foo", Weight: 0, Fn: noop},
			{Name: "bar", Weight: 0, Fn: noop},
		}, []string{"every task has weight 0", `"foo"`, `"bar"`}},
		{"negative weight", []*Task{
			{Name: "foo", Weight: 1, Fn: noop},
			{Name: "bar", Weight: -1, Fn: noop},
		}, []string{`task 1 ("bar") has weight -1`}},
		{"nil Fn", []*Task{
			{Name: "foo", Weight: 1},
		}, []string{`task 0 ("foo") has no body`}},
		{"nil task", []*Task{
			{Name: "foo", Weight: 1, Fn: noop},
			nil,
		}, []string{"task 1 is nil"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newTaskPicker(tc.tasks)
			require.Error(t, err)
			assert.Nil(t, p)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestFindTasks(t *testing.T) {
	foo := &Task{Name: "foo", Weight: 1, Fn: noop}
	bar := &Task{Name: "bar", Weight: 0, Fn: noop}
	tasks := []*Task{foo, bar}

	found, err := findTasks(tasks, []string{"bar", "foo", "bar"})
	require.NoError(t, err)
	assert.Equal(t, []*Task{bar, foo, bar}, found)
}

func TestFindTasksUnknown(t *testing.T) {
	tasks := []*Task{
		{Name: "foo", Weight: 1, Fn: noop},
		{Name: "bar", Weight: 1, Fn: noop},
	}

	found, err := findTasks(tasks, []string{"foo", "baz"})
	require.Error(t, err)
	assert.Nil(t, found)
	assert.Contains(t, err.Error(), `unknown task "baz"`)
	assert.Contains(t, err.Error(), `known tasks are "foo", "bar"`)
}

func TestCallTaskNoPanic(t *testing.T) {
	ran := false
	report := callTask(&Task{Name: "ok", Weight: 1, Fn: func() { ran = true }}, nil)
	assert.Nil(t, report)
	assert.True(t, ran)
}

// panicInNewGoroutine runs task in a goroutine that this function starts, so
// the stack names the calling goroutine as its creator.
func panicInNewGoroutine(task *Task) *panicReport {
	reports := make(chan *panicReport)
	go func() {
		reports <- callTask(task, nil)
	}()
	return <-reports
}

func TestCallTaskPanicReport(t *testing.T) {
	task := &Task{Name: "boom", Weight: 1, Fn: func() {
		// A new error value each time: the panic frame's argument, a
		// pointer, differs between the two panics.
		panic(errors.New("boom failed"))
	}}

	// Each report comes from its own goroutine, created by a different
	// parent goroutine.
	results := make(chan *panicReport, 2)
	for i := 0; i < 2; i++ {
		go func() {
			results <- panicInNewGoroutine(task)
		}()
	}
	first, second := <-results, <-results
	require.NotNil(t, first)
	require.NotNil(t, second)

	assert.Equal(t, `task "boom" panicked: boom failed`, first.message)
	assert.Contains(t, first.traceback, "TestCallTaskPanicReport")
	assert.Contains(t, first.traceback, "task_test.go:")
	assert.NotRegexp(t, regexp.MustCompile(`goroutine \d`), first.traceback)
	assert.NotRegexp(t, regexp.MustCompile(`\+0x[0-9a-f]`), first.traceback)
	assert.NotRegexp(t, regexp.MustCompile(`0x[0-9a-f]`), first.traceback)
	assert.Equal(t, first.traceback, second.traceback)
}

func TestPanicReportStripsArguments(t *testing.T) {
	// Frame lines as the Go 1.26 runtime prints them, with values that differ
	// between goroutines.
	stack := "goroutine 42 [running]:\n" +
		"main.work(0xc000012345?, {0x5a3f20?, 0x73e170?}, ...)\n" +
		"\t/src/main.go:10 +0x1d\n" +
		"main.(*server).handle(0xc0000a0000, {{0x1, 0x2}, 0x3}, _)\n" +
		"\t/src/main.go:20 +0x2e\n" +
		"created by main.start in goroutine 7\n" +
		"\t/src/main.go:30 +0x3f\n"
	want := "main.work(...)\n" +
		"\t/src/main.go:10\n" +
		"main.(*server).handle(...)\n" +
		"\t/src/main.go:20\n" +
		"created by main.start\n" +
		"\t/src/main.go:30"

	report := newPanicReport(&Task{Name: "t"}, "x", []byte(stack))
	assert.Equal(t, want, report.traceback)
}
