package boomer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiveTableAndProgressLine(t *testing.T) {
	t.Parallel()
	server, _ := okServer(t)
	client := newTestClient()
	task := getTask(client, server.URL+"/", "/live", nil)
	paced := &Task{Name: "get", Weight: 1, Run: func(u *User) {
		task.Run(u)
		u.sleep(10 * time.Millisecond)
	}}
	out := &lockedBuffer{}
	b := newStandalone(t, out, func(c *Config) {
		c.Users = 3
		c.SpawnRate = 10
		c.RunTime = 5 * time.Second
	}, WithTasks(paced))
	b.liveConsole = true
	require.NoError(t, b.Run(context.Background()))

	text := out.String()
	live, _, found := strings.Cut(text, "Summary:")
	require.True(t, found, "no summary:\n%s", text)
	for _, column := range []string{"# reqs", "# fails", "Med", "95%", "99%", "Avg", "Min", "Max", "req/s", "fails/s"} {
		assert.Contains(t, live, column, "live table column")
	}
	assert.GreaterOrEqual(t, strings.Count(live, "GET      /live"), 2, "the live table is printed every %s:\n%s", liveTableInterval, live)
	assert.Regexp(t, `elapsed \d+s, remaining \d+s, users \d+ \(\d+ of 3 started\)`, live)
}

func TestLiveTableQuietWithoutTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f), "a regular file is not a terminal")

	server, _ := okServer(t)
	out := &lockedBuffer{}
	b := newStandalone(t, out, func(c *Config) {
		c.Users = 2
		c.SpawnRate = 10
		c.RunTime = 3 * time.Second
	}, WithTasks(getTask(newTestClient(), server.URL+"/", "/", nil)))
	assert.False(t, b.liveConsole, "go test's stdout is not a terminal")
	require.NoError(t, b.Run(context.Background()))
	assert.NotContains(t, out.String(), "elapsed", "no live table or progress line without a terminal")
	assert.Contains(t, out.String(), "Summary:")
}

func TestCurrentRateLocustWindow(t *testing.T) {
	t.Parallel()
	perSecond := map[int64]int64{}
	for s := int64(100); s <= 130; s++ {
		perSecond[s] = s - 100 // 0, 1, ..., 30
	}
	cases := []struct {
		name        string
		last, start float64
		want        float64
	}{
		{"no request", 0, 100, 0},
		// Seconds 118 to 127: mean of 18..27.
		{"full window", 130.7, 100, 22.5},
		// From the start at 125 to 127: mean of 25, 26, 27.
		{"window cut by start", 130.2, 125, 26},
		{"empty window", 102.5, 101.9, 0},
	}
	for _, tc := range cases {
		assert.InDelta(t, tc.want, currentRate(perSecond, tc.last, tc.start), 1e-9, tc.name)
	}
}
