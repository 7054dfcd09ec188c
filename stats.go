package boomer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// requestKey identifies one row of Locust's statistics: a request name and
// its method (Locust's request_type, "GET" or "grpc" for example).
type requestKey struct {
	method string
	name   string
}

// requestStats accumulates the requests of one key during one report
// interval, in the units of Locust's wire format: milliseconds and Unix
// seconds.
type requestStats struct {
	numRequests        int64
	numFailures        int64
	totalResponseTime  float64
	minResponseTime    float64
	maxResponseTime    float64
	hasMin             bool
	totalContentLength int64
	lastRequestTime    float64
	responseTimes      map[int64]int64
	requestsPerSecond  map[int64]int64
	failuresPerSecond  map[int64]int64
	// errKey and err are the failure row that the entry's last failure
	// counted into, so that a repeated failure skips the error map.
	errKey errorKey
	err    *errorStats
	// hist holds the response times in microseconds, exact to
	// histogramDigits significant digits. It is nil unless the collector
	// keeps histograms (standalone runs and the metrics endpoint).
	hist *hdrhistogram.Histogram
	// lastNanos is the Unix time (ns) of the last record since the entry
	// was last settled.
	lastNanos int64
	// The recording path counts into plain fields, which costs less than a
	// map update: the requests and failures of one second, and the response
	// times below 10 s by rounded value. settle moves them into the maps.
	// The fields have no pointers and come last, so that the garbage
	// collector, which scans an object up to its last pointer, skips them.
	second         int64
	secondRequests int64
	secondFailures int64
	buckets        [bucketCount]int64
}

func newRequestStats() *requestStats {
	return &requestStats{
		responseTimes:     make(map[int64]int64),
		requestsPerSecond: make(map[int64]int64),
		failuresPerSecond: make(map[int64]int64),
	}
}

// add records one request that completed at nowNanos (Unix time in ns, after
// 1970). A failure counts as a request too, as it does in Locust.
func (s *requestStats) add(responseTimeMs float64, contentLength int64, failed bool, nowNanos int64) {
	if second := nowNanos / 1e9; second != s.second {
		s.settleSecond()
		s.second = second
	}
	s.numRequests++
	s.secondRequests++
	if failed {
		s.numFailures++
		s.secondFailures++
	}
	s.totalResponseTime += responseTimeMs
	if !s.hasMin || responseTimeMs < s.minResponseTime {
		s.minResponseTime = responseTimeMs
		s.hasMin = true
	}
	if responseTimeMs > s.maxResponseTime {
		s.maxResponseTime = responseTimeMs
	}
	if rounded := roundResponseTime(responseTimeMs); rounded < maxBucketedTime {
		s.buckets[bucketIndex(rounded)]++
	} else {
		s.responseTimes[rounded]++
	}
	if s.hist != nil {
		recordMicros(s.hist, responseTimeMs)
	}
	s.totalContentLength += contentLength
	if nowNanos > s.lastNanos {
		s.lastNanos = nowNanos
	}
}

// settle moves the counts that add keeps in fields into the maps, which the
// rest of the package reads.
func (s *requestStats) settle() {
	if s.lastNanos != 0 {
		s.lastRequestTime = max(s.lastRequestTime, float64(s.lastNanos)/1e9)
		s.lastNanos = 0
	}
	s.settleSecond()
	for i, n := range s.buckets {
		if n != 0 {
			s.responseTimes[bucketTime(i)] += n
			s.buckets[i] = 0
		}
	}
}

func (s *requestStats) settleSecond() {
	if s.secondRequests != 0 {
		s.requestsPerSecond[s.second] += s.secondRequests
		s.secondRequests = 0
	}
	if s.secondFailures != 0 {
		s.failuresPerSecond[s.second] += s.secondFailures
		s.secondFailures = 0
	}
}

// Rounded response times below maxBucketedTime ms are counted in an array:
// 0 to 99 ms by 1 ms, 100 to 990 ms by 10 ms and 1,000 to 9,900 ms by 100 ms,
// the steps of roundResponseTime.
const (
	maxBucketedTime = 10000
	bucketCount     = 100 + 90 + 90
)

// bucketIndex returns the array index of a rounded response time below
// maxBucketedTime.
func bucketIndex(rounded int64) int {
	switch {
	case rounded < 100:
		return int(rounded)
	case rounded < 1000:
		return 100 + int(rounded-100)/10
	default:
		return 190 + int(rounded-1000)/100
	}
}

// bucketTime is the inverse of bucketIndex.
func bucketTime(i int) int64 {
	switch {
	case i < 100:
		return int64(i)
	case i < 190:
		return 100 + int64(i-100)*10
	default:
		return 1000 + int64(i-190)*100
	}
}

// merge adds other into s, the way Locust's StatsEntry.extend does. The
// histogram of other is added only when s has one.
func (s *requestStats) merge(other *requestStats) {
	s.settle()
	other.settle()
	if s.hist != nil && other.hist != nil {
		s.hist.Merge(other.hist)
	}
	s.numRequests += other.numRequests
	s.numFailures += other.numFailures
	s.totalResponseTime += other.totalResponseTime
	if other.hasMin && (!s.hasMin || other.minResponseTime < s.minResponseTime) {
		s.minResponseTime = other.minResponseTime
		s.hasMin = true
	}
	s.maxResponseTime = math.Max(s.maxResponseTime, other.maxResponseTime)
	s.totalContentLength += other.totalContentLength
	s.lastRequestTime = math.Max(s.lastRequestTime, other.lastRequestTime)
	addCounts(s.responseTimes, other.responseTimes)
	addCounts(s.requestsPerSecond, other.requestsPerSecond)
	addCounts(s.failuresPerSecond, other.failuresPerSecond)
}

func addCounts(dst, src map[int64]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

// roundResponseTime returns Locust's histogram key for a response time in
// milliseconds: exact to 1 ms below 100 ms, then two significant digits, with
// ties rounded to even as Python's round does (locust/stats.py,
// bucket_response_time, Locust 2.46).
func roundResponseTime(ms float64) int64 {
	switch {
	case ms < 100:
		return int64(math.RoundToEven(ms))
	case ms < 1000:
		return int64(math.RoundToEven(ms/10) * 10)
	case ms < 10000:
		return int64(math.RoundToEven(ms/100) * 100)
	default:
		return int64(math.RoundToEven(ms/1000) * 1000)
	}
}

// errorKey identifies one row of the master's failure table.
type errorKey struct {
	method string
	name   string
	text   string
}

type errorStats struct {
	occurrences int64
	firstSeen   float64
	lastSeen    float64
}

// statsShard is one lock-protected part of the collector. Recording goroutines
// spread over the shards, so they rarely wait for each other.
type statsShard struct {
	mu       shardLock
	requests map[requestKey]*requestStats
	errors   map[errorKey]*errorStats
	// cache holds entries of requests found by the address and length of
	// the name's bytes, which stay the same from call to call for a name
	// that is a constant. A hit needs the same name bytes and an equal
	// method, so the cache saves the hashing of the key's strings and
	// nothing else.
	cache [shardCacheSize]cachedStats
	// stamps counts the records of the shard, for coarseTime.
	stamps uint32
	// Padding keeps neighbouring shards' locks on separate cache lines.
	_ [64]byte
}

// shardLock guards a statsShard. Recorders only try it and move to
// another shard when it is held, so it needs no queue of waiters. It is one
// word, taken with a compare-and-swap and released with a store, which
// costs less than sync.Mutex's TryLock and Unlock.
type shardLock struct {
	state atomic.Uint32
}

func (l *shardLock) tryLock() bool {
	return l.state.CompareAndSwap(0, 1)
}

// lock takes the lock, yielding the processor while recorders hold it. A
// recorder holds it for well under a microsecond unless it is preempted.
func (l *shardLock) lock() {
	for !l.tryLock() {
		runtime.Gosched()
	}
}

func (l *shardLock) unlock() {
	l.state.Store(0)
}

// paddedIndex is a shard index alone on its cache line, so that the Ps
// reading theirs do not invalidate each other's caches.
type paddedIndex struct {
	atomic.Uint32
	_ [60]byte
}

// shardCacheSize is 1<<shardCacheBits.
const (
	shardCacheBits = 8
	shardCacheSize = 1 << shardCacheBits
)

type cachedStats struct {
	key   requestKey
	stats *requestStats
}

// sameString reports whether a and b are equal. It compares their addresses
// first, which saves a call of the runtime's comparison for a constant.
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// sameBytes reports whether a and b are the same bytes in memory, and so
// equal. A cached key keeps its bytes from being freed and reused.
func sameBytes(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// cacheSlot returns the cache index of name: the top bits of its address and
// length multiplied by 2^64/φ, which spreads names packed next to each other,
// as constants are, over the whole cache.
func cacheSlot(name string) int {
	p := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name))))
	return int((p ^ uint64(len(name))<<48) * 0x9e3779b97f4a7c15 >> (64 - shardCacheBits))
}

// statsCollector aggregates recorded requests between two reports. It is safe
// for concurrent use. Reports carry deltas: taking a snapshot empties it.
type statsCollector struct {
	shards []statsShard
	// home holds, per P, the index of the shard that its goroutines
	// record into first. A goroutine can move to another P between
	// reading and writing it, so it is only a hint; the shard's lock
	// decides.
	home []paddedIndex
	now  func() time.Time
	// clock stamps the records when now is the system clock; it is nil
	// for another now, such as a test's fake clock.
	clock  *coarseClock
	budget keyBudget
	// histograms makes new entries keep an HDR histogram. It is set before
	// the run starts recording.
	histograms atomic.Bool
	// trace, when set, receives a line for every record: --run-tasks
	// prints the requests of its tasks. It is set while nothing records.
	trace io.Writer

	// windowMu guards windowStart, the time of the last snapshot, which Locust
	// reads as start_time of every entry in the next report.
	windowMu    sync.Mutex
	windowStart time.Time
}

// newStatsCollector returns a collector that reads the time from now, or
// from the system clock when now is nil. Only a collector on the system
// clock stamps records with a coarseClock, which its owner starts.
func newStatsCollector(now func() time.Time) *statsCollector {
	c := &statsCollector{
		shards: make([]statsShard, 4*runtime.GOMAXPROCS(0)),
		home:   make([]paddedIndex, runtime.GOMAXPROCS(0)),
		now:    now,
	}
	for i := range c.home {
		c.home[i].Store(uint32(i))
	}
	if now == nil {
		c.now = time.Now
		c.clock = newCoarseClock()
	}
	c.windowStart = c.now()
	c.budget.reset()
	for i := range c.shards {
		c.shards[i].requests = make(map[requestKey]*requestStats)
		c.shards[i].errors = make(map[errorKey]*errorStats)
	}
	return c
}

// lockOtherShard locks the first free shard from a random start and makes it
// the shard of home's P.
func (c *statsCollector) lockOtherShard(home *paddedIndex) *statsShard {
	n := uint32(len(c.shards))
	for {
		start := rand.Uint32() % n
		for i := uint32(0); i < n; i++ {
			j := (start + i) % n
			if sh := &c.shards[j]; sh.mu.tryLock() {
				home.Store(j)
				return sh
			}
		}
		// Every shard is locked, most likely by goroutines that were
		// preempted while recording. Yielding lets the holders run and
		// finish, so no recorder queues behind one shard's holder.
		runtime.Gosched()
	}
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// refreshEvery is how many records of a shard read the coarse clock before
// one reads the system clock. CPU-bound users can delay the clock's ticks by
// hundreds of milliseconds while records keep coming, so those records keep
// the stamps current. A system clock read every 128 records costs under 1 ns
// per record.
const refreshEvery = 128

// coarseTime returns the coarse clock's time, or 0 when the record should
// read the system clock. It has no calls, so that the compiler inlines it.
func (c *statsCollector) coarseTime(sh *statsShard) int64 {
	sh.stamps++
	if c.clock == nil || sh.stamps%refreshEvery == 0 {
		return 0
	}
	return c.clock.current()
}

// exactTime returns the time for a record when coarseTime returns 0.
func (c *statsCollector) exactTime(sh *statsShard) int64 {
	switch {
	case c.clock == nil:
		return c.now().UnixNano()
	case sh.stamps%refreshEvery == 0:
		return c.clock.refresh()
	}
	return c.clock.now()
}

// enter locks a shard for a record of key and returns it, with its entry for
// key and the Unix time (ns) to stamp the record with. The caller unlocks
// sh.mu.
//
// The shard is the one that the P running the goroutine used last if it is
// free, or else the first free one from a random start, which becomes that
// P's shard. Goroutines on different Ps rarely meet in a shard, and a shard
// stays in its CPU's cache. A goroutine preempted while it records keeps its
// shard locked. The next goroutine on that P then moves to another shard,
// so it does not scan the shards on every record. A recorder waits only
// while every shard is locked, and then yields the processor.
//
// enter and requestStats.add are the two calls of a record whose key and
// time are cached. The compiler inlines the cache lookup and the clock read
// into enter; the choice of the shard is written out here, because a
// function holding it would be too large to inline.
func (c *statsCollector) enter(key requestKey) (sh *statsShard, s *requestStats, nowNanos int64) {
	p := procPin()
	procUnpin()
	if p >= len(c.home) { // GOMAXPROCS grew
		p %= len(c.home)
	}
	home := &c.home[p]
	if sh = &c.shards[home.Load()]; !sh.mu.tryLock() {
		sh = c.lockOtherShard(home)
	}
	if s = sh.cached(key); s == nil {
		s = c.findStats(sh, key)
	}
	if nowNanos = c.coarseTime(sh); nowNanos == 0 {
		nowNanos = c.exactTime(sh)
	}
	return sh, s, nowNanos
}

// recordSuccess records a successful request. responseTimeMs is in
// milliseconds and contentLength in bytes; a negative length counts as 0.
func (c *statsCollector) recordSuccess(method, name string, responseTimeMs float64, contentLength int64) {
	responseTimeMs = sanitizeResponseTime(responseTimeMs)
	contentLength = max(contentLength, 0)
	if c.trace != nil {
		fmt.Fprintf(c.trace, "  success: %s %s, %.3f ms, %d bytes\n", method, name, responseTimeMs, contentLength)
	}
	sh, s, now := c.enter(requestKey{method: truncateText(method), name: truncateText(name)})
	s.add(responseTimeMs, contentLength, false, now)
	sh.mu.unlock()
}

// recordFailure records a failed request and its error text.
func (c *statsCollector) recordFailure(method, name string, responseTimeMs float64, errText string) {
	responseTimeMs = sanitizeResponseTime(responseTimeMs)
	if c.trace != nil {
		fmt.Fprintf(c.trace, "  failure: %s %s, %.3f ms, error: %s\n", method, name, responseTimeMs, errText)
	}
	key := requestKey{method: truncateText(method), name: truncateText(name)}
	sh, s, nowNanos := c.enter(key)
	s.add(responseTimeMs, 0, true, nowNanos)
	now := float64(nowNanos) / 1e9
	errKey := errorKey{method: key.method, name: key.name, text: truncateText(errText)}
	e := s.err
	// The entry's key holds the method. Its name can differ from key.name:
	// names over the key budget share one entry.
	if e == nil || !sameString(s.errKey.text, errKey.text) || !sameBytes(s.errKey.name, errKey.name) {
		e = c.findError(sh, errKey, now)
		s.errKey, s.err = errKey, e
	}
	e.occurrences++
	// A tick of the coarse clock can store a time a little older than a
	// refresh stored, so stamps can step back.
	if now < e.firstSeen {
		e.firstSeen = now
	}
	if now > e.lastSeen {
		e.lastSeen = now
	}
	sh.mu.unlock()
}

// findError finds or creates the shard's failure row for key within the
// interval's key budget. The caller holds sh.mu.
func (c *statsCollector) findError(sh *statsShard, key errorKey, now float64) *errorStats {
	e := sh.errors[key]
	if e == nil {
		key = c.budget.admitError(key)
		if e = sh.errors[key]; e == nil {
			e = &errorStats{firstSeen: now, lastSeen: now}
			sh.errors[key] = e
		}
	}
	return e
}

// cached returns the entry for key from the shard's cache, or nil. A name
// hits only in the bytes the slot was filled from, which keeps the lookup
// small enough for the compiler to inline. A dynamic name's bytes differ
// from call to call, and so mostly does its slot. The caller holds sh.mu.
func (sh *statsShard) cached(key requestKey) *requestStats {
	slot := &sh.cache[cacheSlot(key.name)]
	if sameBytes(slot.key.name, key.name) && sameString(slot.key.method, key.method) {
		return slot.stats
	}
	return nil
}

// findStats finds or creates the shard's entry for key and caches it. The
// caller holds sh.mu.
func (c *statsCollector) findStats(sh *statsShard, key requestKey) *requestStats {
	s := sh.requests[key]
	if s == nil {
		key = c.budget.admitRequest(key)
		if s = sh.requests[key]; s == nil {
			s = newRequestStats()
			if c.histograms.Load() {
				s.hist = getHistogram()
			}
			sh.requests[key] = s
		}
	}
	sh.cache[cacheSlot(key.name)] = cachedStats{key: key, stats: s}
	return s
}

// maxResponseTimeMs caps recorded response times at about 11.6 days, so that
// an infinite or absurd value cannot overflow the integer histogram keys.
const maxResponseTimeMs = 1e9

// sanitizeResponseTime maps negative and not-a-number times, which a clock
// step or a bad caller can produce, to 0 and caps huge ones, so they cannot
// corrupt sums or histogram keys.
func sanitizeResponseTime(ms float64) float64 {
	switch {
	case !(ms >= 0): // negative or NaN
		return 0
	case ms > maxResponseTimeMs:
		return maxResponseTimeMs
	}
	return ms
}

// statsSnapshot is the content of one report interval.
type statsSnapshot struct {
	requests map[requestKey]*requestStats
	errors   map[errorKey]*errorStats
	// start is the Unix time (s) the interval began.
	start float64
	// overflowRequests and overflowErrors count the records that went to
	// the overflow entries because the interval had too many distinct keys.
	overflowRequests int64
	overflowErrors   int64
}

// snapshot takes everything recorded since the previous snapshot and resets
// the collector. A request is in exactly one snapshot.
func (c *statsCollector) snapshot() statsSnapshot {
	c.windowMu.Lock()
	now := c.now()
	start := c.windowStart
	c.windowStart = now
	c.windowMu.Unlock()

	snap := statsSnapshot{
		requests: make(map[requestKey]*requestStats),
		errors:   make(map[errorKey]*errorStats),
		start:    unixSeconds(start),
	}
	snap.overflowRequests, snap.overflowErrors = c.budget.reset()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.lock()
		requests, errs := sh.requests, sh.errors
		if len(requests) > 0 || len(errs) > 0 {
			sh.requests = make(map[requestKey]*requestStats)
			sh.errors = make(map[errorKey]*errorStats)
			sh.cache = [shardCacheSize]cachedStats{}
		} else {
			// Empty maps stay with the shard, where recorders write to them
			// after the unlock, so they must not be read here.
			requests, errs = nil, nil
		}
		sh.mu.unlock()

		for k, s := range requests {
			if dst := snap.requests[k]; dst != nil {
				dst.merge(s) // settles both
				putHistogram(s.hist)
			} else {
				s.settle()
				snap.requests[k] = s
			}
		}
		for k, e := range errs {
			dst := snap.errors[k]
			if dst == nil {
				snap.errors[k] = e
				continue
			}
			dst.occurrences += e.occurrences
			dst.firstSeen = math.Min(dst.firstSeen, e.firstSeen)
			dst.lastSeen = math.Max(dst.lastSeen, e.lastSeen)
		}
	}
	return snap
}

// discard drops everything recorded so far, for a standalone run that starts
// with empty statistics.
func (c *statsCollector) discard() {
	c.snapshot().release()
}

// release returns the snapshot's histograms to the pool. The snapshot must
// not be used afterwards.
func (s statsSnapshot) release() {
	for _, r := range s.requests {
		putHistogram(r.hist)
		r.hist = nil
	}
}

// total returns the sum of all entries of the snapshot: Locust's
// "Aggregated" row.
func (s statsSnapshot) total() *requestStats {
	total := newRequestStats()
	for _, r := range s.requests {
		total.merge(r)
	}
	return total
}

// sortedKeys returns the snapshot's request keys ordered by name, then
// method, so encoded reports are stable.
func (s statsSnapshot) sortedKeys() []requestKey {
	keys := make([]requestKey, 0, len(s.requests))
	for k := range s.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].method < keys[j].method
	})
	return keys
}

func (s statsSnapshot) empty() bool {
	return len(s.requests) == 0 && len(s.errors) == 0
}

// errorID returns the key Locust uses for an error entry: the hex SHA-256 of
// method + "." + name + "." + repr(error). Errors from Go and Python workers
// with the same text then merge into one row on the master.
func errorID(method, name, text string) string {
	sum := sha256.Sum256([]byte(method + "." + name + "." + pythonRepr(text)))
	return hex.EncodeToString(sum[:])
}

// pythonRepr returns s quoted the way Python's repr quotes a str.
func pythonRepr(s string) string {
	s = validText(s)
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// Bounds on one report interval, so that request names or error texts that
// are unique per request (an id in a URL, a timestamp in an error) cannot
// make the worker's memory or its reports grow without limit.
const (
	// maxTextBytes is the longest method, request name or error text kept;
	// a longer one is cut at a UTF-8 boundary and marked as truncated.
	maxTextBytes = 1024
	// maxRequestKeys and maxErrorKeys are about the most distinct request
	// rows and error rows one interval holds. Further new keys are recorded
	// under an overflow entry. A key admitted while a report is taken can
	// add a few more.
	maxRequestKeys = 1000
	maxErrorKeys   = 1000
)

// Names of the overflow entries.
var (
	overflowRequestName = fmt.Sprintf("(other names: more than %d in one report interval)", maxRequestKeys)
	overflowErrorText   = fmt.Sprintf("(other errors: more than %d distinct in one report interval)", maxErrorKeys)
)

// truncateText cuts s to maxTextBytes at a UTF-8 boundary.
func truncateText(s string) string {
	if len(s) <= maxTextBytes {
		return s
	}
	return truncateLong(s)
}

func truncateLong(s string) string {
	cut := maxTextBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (truncated from %d bytes)", len(s))
}

// keyBudget counts the distinct keys of the current interval across all
// shards. Recorders consult it only for a key new to their shard, so the
// common path never takes its lock.
type keyBudget struct {
	mu               sync.Mutex
	requests         map[requestKey]struct{}
	errors           map[errorKey]struct{}
	overflowRequests int64
	overflowErrors   int64
}

// admitRequest returns key, or the overflow key of its method when the
// interval already has maxRequestKeys other keys.
func (b *keyBudget) admitRequest(key requestKey) requestKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.requests[key]; ok || len(b.requests) < maxRequestKeys {
		b.requests[key] = struct{}{}
		return key
	}
	b.overflowRequests++
	return requestKey{method: key.method, name: overflowRequestName}
}

// admitError returns key, or an overflow key for its request when the
// interval already has maxErrorKeys other errors.
func (b *keyBudget) admitError(key errorKey) errorKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.errors[key]; ok || len(b.errors) < maxErrorKeys {
		b.errors[key] = struct{}{}
		return key
	}
	b.overflowErrors++
	return errorKey{method: key.method, name: key.name, text: overflowErrorText}
}

// reset starts a new interval and returns the overflow counts of the one
// that ended.
func (b *keyBudget) reset() (overflowRequests, overflowErrors int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	overflowRequests, overflowErrors = b.overflowRequests, b.overflowErrors
	b.requests = make(map[requestKey]struct{})
	b.errors = make(map[errorKey]struct{})
	b.overflowRequests, b.overflowErrors = 0, 0
	return overflowRequests, overflowErrors
}
