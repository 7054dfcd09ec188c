package boomer

import "time"

// TestInfo describes the master's current test, from its latest spawn
// message. It changes with the next test.
type TestInfo struct {
	// Host is the target host set on the master (--host or the web form),
	// or "" when none was set.
	Host string
	// StopTimeout is how long a stopped user may take to finish its task
	// (locust --stop-timeout); zero stops users at once.
	StopTimeout time.Duration
	// Options are the master's parsed command-line options, including
	// custom arguments its locustfile added. Values are nil, bool, int64,
	// float64, string, []any or map[string]any. Treat the map as read-only.
	Options map[string]any
}

// Test returns what the master sent about the current test; the zero value
// before the first spawn.
func (b *Boomer) Test() TestInfo {
	if info := b.test.Load(); info != nil {
		return *info
	}
	return TestInfo{}
}

// Host returns the target host of the current test, as set on the master.
func (b *Boomer) Host() string {
	return b.Test().Host
}
