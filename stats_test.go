package boomer

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock that moves only when a test sets it. It is safe for
// concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(start time.Time) *fakeClock {
	return &fakeClock{now: start}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestRoundResponseTime(t *testing.T) {
	// Keys from Locust's bucket_response_time (locust/stats.py, 2.47.0),
	// which rounds with Python's round: ties go to the even neighbour.
	cases := []struct {
		ms   float64
		want int64
	}{
		{0.4, 0},
		{0.5, 0},
		{1.5, 2},
		{2.5, 2},
		{3.5, 4},
		{99.4, 99},
		{99.5, 100},
		{99.6, 100},
		{104.9, 100},
		{105, 100},
		{115, 120},
		{125, 120},
		{145, 140},
		{155, 160},
		{994.9, 990},
		{995, 1000},
		{1050, 1000},
		{1150, 1200},
		{1234, 1200},
		{1234.5678, 1200},
		{9949, 9900},
		{9950, 10000},
		{10500, 10000},
		{11500, 12000},
		{123456, 123000},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.ms), func(t *testing.T) {
			assert.Equal(t, tc.want, roundResponseTime(tc.ms))
		})
	}
}

func TestSnapshotResetsDeltas(t *testing.T) {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	c.recordSuccess("GET", "/x", 10, 1)
	c.recordFailure("GET", "/x", 20, "boom")

	clock.Set(goldenStart.Add(3 * time.Second))
	first := c.snapshot()
	require.Contains(t, first.requests, requestKey{method: "GET", name: "/x"})
	assert.Equal(t, int64(2), first.total().numRequests)
	assert.Len(t, first.errors, 1)

	clock.Set(goldenStart.Add(6 * time.Second))
	second := c.snapshot()
	assert.True(t, second.empty())
	assert.Empty(t, second.requests)
	assert.Empty(t, second.errors)
	assert.Equal(t, unixSeconds(goldenStart.Add(3*time.Second)), second.start)
}

func TestSnapshotLaterRecordInNext(t *testing.T) {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	c.recordSuccess("GET", "/a", 10, 1)
	first := c.snapshot()

	c.recordSuccess("GET", "/b", 10, 1)
	second := c.snapshot()

	assert.Contains(t, first.requests, requestKey{method: "GET", name: "/a"})
	assert.NotContains(t, first.requests, requestKey{method: "GET", name: "/b"})
	assert.Contains(t, second.requests, requestKey{method: "GET", name: "/b"})
	assert.NotContains(t, second.requests, requestKey{method: "GET", name: "/a"})
}

func TestSnapshotFailuresAreRequests(t *testing.T) {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	c.recordSuccess("GET", "/x", 10, 1)
	c.recordFailure("GET", "/x", 20, "boom")
	c.recordFailure("GET", "/x", 30, "boom")

	s := c.snapshot().requests[requestKey{method: "GET", name: "/x"}]
	require.NotNil(t, s)
	assert.Equal(t, int64(3), s.numRequests)
	assert.Equal(t, int64(2), s.numFailures)
	assert.Equal(t, int64(3), s.requestsPerSecond[1796413290])
	assert.Equal(t, int64(2), s.failuresPerSecond[1796413290])
	assert.Equal(t, 60.0, s.totalResponseTime)
}

func TestSnapshotEmptyTotalHasNoMin(t *testing.T) {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)

	total := c.snapshot().total()
	assert.False(t, total.hasMin)
	assert.Equal(t, int64(0), total.numRequests)
	assert.Zero(t, total.maxResponseTime)
}

func TestSnapshotZeroTimeHasMin(t *testing.T) {
	// A 0 ms request is a timed request: min is 0, not nil.
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	c.recordSuccess("GET", "/x", 0, 0)

	s := c.snapshot().requests[requestKey{method: "GET", name: "/x"}]
	require.NotNil(t, s)
	assert.True(t, s.hasMin)
	assert.Zero(t, s.minResponseTime)
}

func TestSnapshotTotalMergesEntries(t *testing.T) {
	snap := goldenSnapshot()
	total := snap.total()

	assert.Equal(t, int64(4), total.numRequests)
	assert.Equal(t, int64(2), total.numFailures)
	assert.Equal(t, 3.5, total.minResponseTime)
	assert.Equal(t, 1234.5678, total.maxResponseTime)
	assert.Equal(t, map[int64]int64{4: 1, 140: 1, 1200: 2}, total.responseTimes)
	assert.Equal(t, map[int64]int64{1796413290: 1, 1796413291: 1, 1796413292: 2}, total.requestsPerSecond)
	assert.Equal(t, map[int64]int64{1796413292: 2}, total.failuresPerSecond)
	assert.Equal(t, unixSeconds(goldenStart.Add(2250*time.Millisecond)), total.lastRequestTime)
}

func TestRecordSanitizesResponseTime(t *testing.T) {
	cases := []struct {
		name string
		ms   float64
		want float64
	}{
		{"negative", -5, 0},
		{"huge", 1e300, maxResponseTimeMs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(goldenStart)
			c := newStatsCollector(clock.Now)
			c.recordSuccess("GET", "/x", tc.ms, 0)

			s := c.snapshot().requests[requestKey{method: "GET", name: "/x"}]
			require.NotNil(t, s)
			assert.Equal(t, tc.want, s.totalResponseTime)
			assert.Equal(t, tc.want, s.minResponseTime)
		})
	}
}

func TestErrorIDMatchesLocust(t *testing.T) {
	// Locust's StatsError.create_key for the same error gives this key.
	assert.Equal(t,
		"71e12e3e7b73f3df3e67d9f9451fad024f39fc560e4e209260f0142b755b5b1d",
		errorID("POST", "/y", "ValueError('bad thing')"))
}

func TestPythonRepr(t *testing.T) {
	// Expected values are Python 3.11's repr of the same text.
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "bad thing", `'bad thing'`},
		{"empty", "", `''`},
		{"single quote only", "it's", `"it's"`},
		{"double quote only", `say "hi"`, `'say "hi"'`},
		{"both quotes", `it's "x"`, `'it\'s "x"'`},
		{"backslash", `C:\dir`, `'C:\\dir'`},
		{"newline return tab", "a\nb\rc\td", `'a\nb\rc\td'`},
		{"control chars", "\x00\x1b\x7f", `'\x00\x1b\x7f'`},
		{"latin-1 control", "\u0085", `'\x85'`},
		{"no-break space", "a\u00a0b", `'a\xa0b'`},
		{"soft hyphen", "\u00ad", `'\xad'`},
		{"zero width space", "\u200b", `'\u200b'`},
		{"line separator", "\u2028", `'\u2028'`},
		{"private use plane 15", "\U000f0000", `'\U000f0000'`},
		{"printable unicode", "héllo wörld ✓ 日本", `'héllo wörld ✓ 日本'`},
		{"emoji", "\U0001f600", "'\U0001f600'"},
		{"invalid UTF-8 repaired", "a\xffb", "'a\ufffdb'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pythonRepr(tc.in))
		})
	}
}

func TestRecordSuccessSubMillisecond(t *testing.T) {
	b, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: func() {}}), WithNodeID(testNodeID))
	require.NoError(t, err)
	clock := newFakeClock(goldenStart)
	b.stats = newStatsCollector(clock.Now)

	b.RecordSuccess("GET", "/fast", 250*time.Microsecond, 10)

	frame, err := encodeStats(testNodeID, b.stats.snapshot(), nil)
	require.NoError(t, err)
	msg, err := decodeMessage(frame)
	require.NoError(t, err)
	entries, ok := mapField(msg.Data, "stats")
	require.True(t, ok)
	require.Len(t, entries, 1)
	entry := entries.([]any)[0]

	total, _ := mapField(entry, "total_response_time")
	assert.Equal(t, 0.25, total)
	minimum, _ := mapField(entry, "min_response_time")
	assert.Equal(t, 0.25, minimum)
	maximum, _ := mapField(entry, "max_response_time")
	assert.Equal(t, 0.25, maximum)
}

func TestEncodeStatsRepairsUTF8(t *testing.T) {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	c.recordSuccess("GET\xc3", "/caf\xe9", 10, 1)
	c.recordFailure("POST", "/y\xff", 20, "bad \xfe byte")

	frame, err := encodeStats(testNodeID, c.snapshot(), map[string]int64{"User\xff": 1})
	require.NoError(t, err)
	require.NoError(t, checkOutgoingFrame(frame))

	msg, err := decodeMessage(frame)
	require.NoError(t, err)
	entries, _ := mapField(msg.Data, "stats")
	require.Len(t, entries, 2)
	names := []any{}
	methods := []any{}
	for _, e := range entries.([]any) {
		name, _ := mapField(e, "name")
		method, _ := mapField(e, "method")
		names = append(names, name)
		methods = append(methods, method)
	}
	assert.ElementsMatch(t, []any{"/caf\ufffd", "/y\ufffd"}, names)
	assert.ElementsMatch(t, []any{"GET\ufffd", "POST"}, methods)

	errs, _ := mapField(msg.Data, "errors")
	require.Len(t, errs, 1)
	for id, e := range errs.(map[string]any) {
		text, _ := mapField(e, "error")
		assert.Equal(t, "bad \ufffd byte", text)
		name, _ := mapField(e, "name")
		assert.Equal(t, "/y\ufffd", name)
		assert.Equal(t, errorID("POST", "/y\ufffd", "bad \ufffd byte"), id)
	}
	counts, _ := mapField(msg.Data, "user_classes_count")
	assert.Equal(t, map[string]any{"User\ufffd": int64(1)}, counts)
}

func TestEncodeStatsMergesRepairedErrors(t *testing.T) {
	// Two error texts that differ only in their invalid bytes are one error
	// once repaired. Sent as two equal map keys, the master would keep only
	// the last one and lose the other's occurrences.
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	c.recordFailure("GET", "/x", 1, "bad \xff")
	clock.Set(goldenStart.Add(time.Second))
	c.recordFailure("GET", "/x", 1, "bad \xfe")
	c.recordFailure("GET", "/x", 1, "bad \xfe")

	frame, err := encodeStats(testNodeID, c.snapshot(), nil)
	require.NoError(t, err)
	require.NoError(t, checkOutgoingFrame(frame))

	msg, err := decodeMessage(frame)
	require.NoError(t, err)
	errs, _ := mapField(msg.Data, "errors")
	require.Len(t, errs, 1)
	for _, e := range errs.(map[string]any) {
		occurrences, _ := mapField(e, "occurrences")
		assert.Equal(t, int64(3), occurrences)
		first, _ := mapField(e, "first_seen")
		assert.Equal(t, unixSeconds(goldenStart), first)
		last, _ := mapField(e, "last_seen")
		assert.Equal(t, unixSeconds(goldenStart.Add(time.Second)), last)
	}
}

func TestStatsConcurrentSnapshots(t *testing.T) {
	// Recorders run while another goroutine takes snapshots. Every request
	// must land in exactly one snapshot.
	const (
		recorders   = 64
		perRecorder = 500
	)
	c := newStatsCollector(nil)

	var sum int64
	var failures int64
	var errorCount int64
	collect := func(s statsSnapshot) {
		total := s.total()
		sum += total.numRequests
		failures += total.numFailures
		for _, e := range s.errors {
			errorCount += e.occurrences
		}
	}

	stop := make(chan struct{})
	snapshotterDone := make(chan struct{})
	go func() {
		defer close(snapshotterDone)
		for {
			select {
			case <-stop:
				return
			default:
				collect(c.snapshot())
			}
		}
	}()

	var wg sync.WaitGroup
	for g := 0; g < recorders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("/r%d", g%8)
			for i := 0; i < perRecorder; i++ {
				if i%5 == 0 {
					c.recordFailure("GET", name, 1, "boom")
				} else {
					c.recordSuccess("GET", name, 1, 1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-snapshotterDone
	collect(c.snapshot())

	assert.Equal(t, int64(recorders*perRecorder), sum)
	assert.Equal(t, int64(recorders*perRecorder/5), failures)
	assert.Equal(t, int64(recorders*perRecorder/5), errorCount)
}

func TestRecordFailureOutOfOrder(t *testing.T) {
	// A goroutine that read the clock earlier can take the shard lock later.
	clock := newFakeClock(goldenStart.Add(2 * time.Second))
	c := newStatsCollector(clock.Now)
	c.recordFailure("GET", "/x", 1, "boom")
	clock.Set(goldenStart)
	c.recordFailure("GET", "/x", 1, "boom")
	clock.Set(goldenStart.Add(time.Second))
	c.recordFailure("GET", "/x", 1, "boom")

	e := c.snapshot().errors[errorKey{method: "GET", name: "/x", text: "boom"}]
	require.NotNil(t, e)
	assert.Equal(t, int64(3), e.occurrences)
	assert.Equal(t, unixSeconds(goldenStart), e.firstSeen)
	assert.Equal(t, unixSeconds(goldenStart.Add(2*time.Second)), e.lastSeen)
}

func TestTruncateText(t *testing.T) {
	short := strings.Repeat("a", maxTextBytes)
	assert.Equal(t, short, truncateText(short))

	long := strings.Repeat("é", maxTextBytes) // 2 bytes per rune
	got := truncateText(long)
	assert.True(t, utf8.ValidString(got), "truncation split a rune")
	assert.True(t, strings.HasPrefix(got, strings.Repeat("é", maxTextBytes/2)))
	assert.True(t, strings.HasSuffix(got, fmt.Sprintf("... (truncated from %d bytes)", len(long))))
	assert.Less(t, len(got), maxTextBytes+64)
}

func TestRecordTruncatesLongTexts(t *testing.T) {
	c := newStatsCollector(nil)
	longName := "/" + strings.Repeat("n", 5000)
	longError := strings.Repeat("e", 5000)
	c.recordFailure("GET", longName, 1, longError)

	snap := c.snapshot()
	require.Len(t, snap.requests, 1)
	for key := range snap.requests {
		assert.Equal(t, truncateText(longName), key.name)
	}
	require.Len(t, snap.errors, 1)
	for key := range snap.errors {
		assert.Equal(t, truncateText(longError), key.text)
	}
}

func TestUniqueNamesOverflow(t *testing.T) {
	c := newStatsCollector(nil)
	const extra = 250
	for i := 0; i < maxRequestKeys+extra; i++ {
		c.recordSuccess("GET", fmt.Sprintf("/item/%d", i), 1, 1)
	}

	snap := c.snapshot()
	assert.Len(t, snap.requests, maxRequestKeys+1, "distinct names not capped")
	overflow := snap.requests[requestKey{method: "GET", name: overflowRequestName}]
	require.NotNil(t, overflow, "no overflow entry")
	assert.EqualValues(t, extra, overflow.numRequests)
	assert.EqualValues(t, extra, snap.overflowRequests)
	assert.EqualValues(t, maxRequestKeys+extra, snap.total().numRequests, "requests lost in the overflow")

	// The next interval has the whole budget again.
	c.recordSuccess("GET", "/fresh", 1, 1)
	next := c.snapshot()
	assert.Len(t, next.requests, 1)
	assert.Zero(t, next.overflowRequests)
}

func TestUniqueErrorsOverflow(t *testing.T) {
	c := newStatsCollector(nil)
	const extra = 30
	for i := 0; i < maxErrorKeys+extra; i++ {
		c.recordFailure("GET", "/x", 1, fmt.Sprintf("error at %d", i))
	}

	snap := c.snapshot()
	assert.Len(t, snap.errors, maxErrorKeys+1)
	overflow := snap.errors[errorKey{method: "GET", name: "/x", text: overflowErrorText}]
	require.NotNil(t, overflow)
	assert.EqualValues(t, extra, overflow.occurrences)
	assert.EqualValues(t, extra, snap.overflowErrors)
	assert.EqualValues(t, maxErrorKeys+extra, snap.total().numFailures)
}

func TestUniqueNamesConcurrentBound(t *testing.T) {
	c := newStatsCollector(nil)
	const goroutines, perGoroutine = 16, 500
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				c.recordSuccess("GET", fmt.Sprintf("/u/%d/%d", g, i), 1, 1)
			}
		}(g)
	}
	wg.Wait()

	snap := c.snapshot()
	assert.LessOrEqual(t, len(snap.requests), maxRequestKeys+1)
	assert.EqualValues(t, goroutines*perGoroutine, snap.total().numRequests)
}

func TestBucketIndexCoversRoundedTimes(t *testing.T) {
	seen := make(map[int]int64)
	// Every rounded key below maxBucketedTime, reached by stepping through
	// the response times in tenths of a millisecond.
	for tenths := int64(0); tenths < 10*maxBucketedTime; tenths++ {
		key := roundResponseTime(float64(tenths) / 10)
		if key >= maxBucketedTime {
			break
		}
		i := bucketIndex(key)
		require.GreaterOrEqual(t, i, 0, "key %d", key)
		require.Less(t, i, bucketCount, "key %d", key)
		require.Equal(t, key, bucketTime(i), "index %d", i)
		if other, ok := seen[i]; ok {
			require.Equal(t, other, key, "keys %d and %d share index %d", other, key, i)
		}
		seen[i] = key
	}
	assert.Len(t, seen, bucketCount, "every bucket is reachable")
}

func TestSnapshotCountsEverySecondAndBucket(t *testing.T) {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	wantTimes := make(map[int64]int64)
	wantPerSecond := make(map[int64]int64)
	wantFailures := make(map[int64]int64)
	times := []float64{0.3, 7, 99.5, 150, 994.9, 995, 1234, 9950, 12345, 1e9}
	for i := 0; i < 200; i++ {
		// The clock goes forward 400 ms a step and now and then back, as
		// goroutines that read it before taking a shard's lock do.
		step := time.Duration(i) * 400 * time.Millisecond
		if i%7 == 3 {
			step -= 1500 * time.Millisecond
		}
		now := goldenStart.Add(step)
		clock.Set(now)
		ms := times[i%len(times)]
		if i%3 == 0 {
			c.recordFailure("GET", "/x", ms, "boom")
			wantFailures[now.Unix()]++
		} else {
			c.recordSuccess("GET", "/x", ms, 1)
		}
		wantPerSecond[now.Unix()]++
		wantTimes[roundResponseTime(ms)]++
	}

	s := c.snapshot().requests[requestKey{method: "GET", name: "/x"}]
	require.NotNil(t, s)
	assert.Equal(t, int64(200), s.numRequests)
	assert.Equal(t, wantTimes, s.responseTimes)
	assert.Equal(t, wantPerSecond, s.requestsPerSecond)
	assert.Equal(t, wantFailures, s.failuresPerSecond)
}

func TestSnapshotEntriesStayUnchanged(t *testing.T) {
	// The shard caches its entries; after a snapshot, records must go to
	// new entries and leave the snapshot's alone.
	c := newStatsCollector(newFakeClock(goldenStart).Now)
	key := requestKey{method: "GET", name: "/cached"}
	for i := 0; i < 3; i++ {
		c.recordSuccess(key.method, key.name, 10, 1)
	}
	first := c.snapshot()
	for i := 0; i < 5; i++ {
		c.recordSuccess(key.method, key.name, 20, 1)
	}
	second := c.snapshot()

	require.Contains(t, first.requests, key)
	require.Contains(t, second.requests, key)
	assert.Equal(t, int64(3), first.requests[key].numRequests)
	assert.Equal(t, map[int64]int64{10: 3}, first.requests[key].responseTimes)
	assert.Equal(t, int64(5), second.requests[key].numRequests)
	assert.Equal(t, map[int64]int64{20: 5}, second.requests[key].responseTimes)
}

func TestCacheSlotCollisionsKeepKeysApart(t *testing.T) {
	// Names that are substrings of one string share their first byte's
	// address; names of other strings may share a slot. Each must still
	// get its own row.
	base := "/abcdefghijklmnopqrstuvwxyz"
	names := make([]string, 0, 2*len(base))
	for n := 1; n <= len(base); n++ {
		names = append(names, base[:n])
	}
	for i := 0; i < len(base); i++ {
		names = append(names, fmt.Sprintf("/n%d", i))
	}
	c := newStatsCollector(newFakeClock(goldenStart).Now)
	for round := 0; round < 3; round++ {
		for _, name := range names {
			c.recordSuccess("GET", name, 1, 1)
		}
	}
	snap := c.snapshot()
	require.Len(t, snap.requests, len(names))
	for _, name := range names {
		assert.Equal(t, int64(3), snap.requests[requestKey{method: "GET", name: name}].numRequests, name)
	}
}

func TestFailureRowsOfOneEntryStayApart(t *testing.T) {
	// Each request entry remembers the failure row of its last failure.
	// Texts, methods and names that differ from the last must still count
	// in rows of their own, and dynamic copies of one text in the same row.
	// The request budget is full, so every name below shares the overflow
	// entry of its method, while its failures keep rows of their own.
	c := newStatsCollector(newFakeClock(goldenStart).Now)
	for i := 0; i < maxRequestKeys; i++ {
		c.recordSuccess("GET", fmt.Sprintf("/fill/%d", i), 1, 1)
	}
	for round := 0; round < 3; round++ {
		c.recordFailure("GET", "/x", 1, "a")
		c.recordFailure("GET", "/x", 1, "b")
		c.recordFailure("GET", "/x", 1, strings.Clone("a"))
		c.recordFailure("POST", "/x", 1, "a")
		c.recordFailure("GET", "/o1", 1, "boom")
		c.recordFailure("GET", strings.Clone("/o2"), 1, "boom")
	}

	snap := c.snapshot()
	want := map[errorKey]int64{
		{method: "GET", name: "/x", text: "a"}:     6,
		{method: "GET", name: "/x", text: "b"}:     3,
		{method: "POST", name: "/x", text: "a"}:    3,
		{method: "GET", name: "/o1", text: "boom"}: 3,
		{method: "GET", name: "/o2", text: "boom"}: 3,
	}
	got := make(map[errorKey]int64)
	for k, e := range snap.errors {
		got[k] = e.occurrences
	}
	assert.Equal(t, want, got)
	overflow := snap.requests[requestKey{method: "GET", name: overflowRequestName}]
	require.NotNil(t, overflow)
	assert.EqualValues(t, 15, overflow.numFailures)
}

func TestRecordsMoveOffLockedShard(t *testing.T) {
	// A goroutine preempted while it records keeps its shard locked. The
	// goroutines after it on that P record into another shard, which then
	// becomes the P's shard.
	c := newStatsCollector(newFakeClock(goldenStart).Now)
	locked := make(map[uint32]bool)
	for i := range c.home {
		j := c.home[i].Load()
		if !locked[j] {
			require.True(t, c.shards[j].mu.tryLock())
			locked[j] = true
		}
	}
	for i := 0; i < 100; i++ {
		c.recordSuccess("GET", "/moved", 1, 1)
	}
	moved := false
	for i := range c.home {
		if !locked[c.home[i].Load()] {
			moved = true
		}
	}
	assert.True(t, moved, "no P moved to a free shard")
	for j := range locked {
		c.shards[j].mu.unlock()
	}
	assert.EqualValues(t, 100, c.snapshot().total().numRequests)
}

func TestRecordWaitsForLockedShards(t *testing.T) {
	c := newStatsCollector(newFakeClock(goldenStart).Now)
	for i := range c.shards {
		require.True(t, c.shards[i].mu.tryLock())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.recordSuccess("GET", "/waited", 1, 1)
	}()
	select {
	case <-done:
		t.Fatal("a record went through while every shard was locked")
	case <-time.After(50 * time.Millisecond):
	}
	c.shards[len(c.shards)-1].mu.unlock()
	<-done
	for i := 0; i < len(c.shards)-1; i++ {
		c.shards[i].mu.unlock()
	}
	snap := c.snapshot()
	assert.EqualValues(t, 1, snap.total().numRequests)
}

func TestRecordAfterGOMAXPROCSGrows(t *testing.T) {
	// Ps added after the collector was made share the shards of the
	// first ones.
	c := newStatsCollector(newFakeClock(goldenStart).Now)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4 * len(c.home)))
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.recordSuccess("GET", "/grown", 1, 1)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 32*1000, c.snapshot().total().numRequests)
}

func TestRunStatsCapsRows(t *testing.T) {
	run := newRunStats(time.Unix(1000, 0))
	const extra = 50
	snap := statsSnapshot{requests: map[requestKey]*requestStats{}, errors: map[errorKey]*errorStats{}}
	for i := 0; i < maxRunRows+extra; i++ {
		key := requestKey{method: "GET", name: fmt.Sprintf("/item/%d", i)}
		s := newRequestStats()
		s.numRequests = 1
		snap.requests[key] = s
		snap.errors[errorKey{method: "GET", name: key.name, text: "boom"}] = &errorStats{occurrences: 1}
	}
	putHistogram(run.add(snap))

	assert.Len(t, run.rows, maxRunRows+1, "request rows not capped")
	overflow := run.rows[requestKey{method: "GET", name: overflowRunRequestName}]
	require.NotNil(t, overflow, "no overflow row")
	assert.EqualValues(t, extra, overflow.numRequests)
	assert.EqualValues(t, maxRunRows+extra, run.total.numRequests, "requests lost in the overflow")

	assert.Len(t, run.errors, maxRunRows+1, "error rows not capped")
	overflowErr := run.errors[errorKey{method: "GET", name: overflowRunRequestName, text: overflowRunErrorText}]
	require.NotNil(t, overflowErr, "no overflow error row")
	assert.EqualValues(t, extra, overflowErr.occurrences)

	// A name that has a row keeps adding to it after the cap.
	var existing requestKey
	for key := range run.rows {
		if key.name != overflowRunRequestName {
			existing = key
			break
		}
	}
	again := statsSnapshot{requests: map[requestKey]*requestStats{}, errors: map[errorKey]*errorStats{}}
	s := newRequestStats()
	s.numRequests = 2
	before := run.rows[existing].numRequests
	again.requests[existing] = s
	putHistogram(run.add(again))
	assert.EqualValues(t, before+2, run.rows[existing].numRequests)
	assert.Len(t, run.rows, maxRunRows+1)
}
