package boomer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// This file holds checkOutgoingFrame, a validator of worker → master frames
// written from the rules a Locust 2.x master (2.47.0) applies, and its own
// small msgpack parser. The parser keeps the wire type of every value (str or
// bin, float32 or float64, ext), which decoding into Go values would lose,
// and it shares no code with the package's decoder.

// mpKind is the wire type of a parsed msgpack value.
type mpKind int

const (
	mpNil mpKind = iota
	mpBool
	mpInt
	mpFloat32
	mpFloat64
	mpStr
	mpBin
	mpArray
	mpMap
	mpExt
)

func (k mpKind) String() string {
	switch k {
	case mpNil:
		return "nil"
	case mpBool:
		return "bool"
	case mpInt:
		return "int"
	case mpFloat32:
		return "float32"
	case mpFloat64:
		return "float64"
	case mpStr:
		return "str"
	case mpBin:
		return "bin"
	case mpArray:
		return "array"
	case mpMap:
		return "map"
	case mpExt:
		return "ext"
	default:
		return fmt.Sprintf("mpKind(%d)", int(k))
	}
}

// mpValue is one parsed msgpack value.
type mpValue struct {
	kind    mpKind
	boolean bool
	// integer holds an int that fits int64. An unsigned value above
	// math.MaxInt64 is in bigUint instead, with isBig set.
	integer int64
	bigUint uint64
	isBig   bool
	float   float64
	// text is the payload of a str, bin or ext value.
	text    string
	extType int8
	items   []mpValue
	pairs   []mpPair
}

type mpPair struct {
	key, value mpValue
}

// maxParseDepth bounds the nesting the parser accepts. The worker's own
// messages nest at most five levels deep.
const maxParseDepth = 100

type mpParser struct {
	data []byte
	pos  int
}

// parseMsgpack parses exactly one msgpack value that fills all of data.
func parseMsgpack(data []byte) (mpValue, error) {
	p := &mpParser{data: data}
	v, err := p.value(0)
	if err != nil {
		return mpValue{}, err
	}
	if p.pos != len(data) {
		return mpValue{}, fmt.Errorf("%d trailing bytes after the msgpack value", len(data)-p.pos)
	}
	return v, nil
}

func (p *mpParser) left() int {
	return len(p.data) - p.pos
}

func (p *mpParser) take(n int) ([]byte, error) {
	if n < 0 || n > p.left() {
		return nil, fmt.Errorf("truncated: need %d bytes at offset %d, %d left", n, p.pos, p.left())
	}
	b := p.data[p.pos : p.pos+n]
	p.pos += n
	return b, nil
}

func (p *mpParser) uint(size int) (uint64, error) {
	b, err := p.take(size)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (p *mpParser) value(depth int) (mpValue, error) {
	if depth > maxParseDepth {
		return mpValue{}, fmt.Errorf("nested deeper than %d levels", maxParseDepth)
	}
	head, err := p.take(1)
	if err != nil {
		return mpValue{}, err
	}
	c := head[0]
	var v mpValue
	switch {
	case c <= 0x7f:
		v.kind, v.integer = mpInt, int64(c)
	case c >= 0xe0:
		v.kind, v.integer = mpInt, int64(int8(c))
	case c >= 0x80 && c <= 0x8f:
		return p.mapValue(v, int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return p.arrayValue(v, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return p.bytesValue(v, mpStr, int(c&0x1f))
	case c == 0xc0:
		v.kind = mpNil
	case c == 0xc2 || c == 0xc3:
		v.kind, v.boolean = mpBool, c == 0xc3
	case c >= 0xc4 && c <= 0xc6:
		n, err := p.uint(1 << (c - 0xc4))
		if err != nil {
			return v, err
		}
		return p.bytesValue(v, mpBin, int(n))
	case c >= 0xc7 && c <= 0xc9:
		n, err := p.uint(1 << (c - 0xc7))
		if err != nil {
			return v, err
		}
		return p.extValue(v, int(n))
	case c == 0xca:
		bits, err := p.uint(4)
		if err != nil {
			return v, err
		}
		v.kind, v.float = mpFloat32, float64(math.Float32frombits(uint32(bits)))
	case c == 0xcb:
		bits, err := p.uint(8)
		if err != nil {
			return v, err
		}
		v.kind, v.float = mpFloat64, math.Float64frombits(bits)
	case c >= 0xcc && c <= 0xcf:
		n, err := p.uint(1 << (c - 0xcc))
		if err != nil {
			return v, err
		}
		v.kind = mpInt
		if n > math.MaxInt64 {
			v.isBig, v.bigUint = true, n
		} else {
			v.integer = int64(n)
		}
	case c >= 0xd0 && c <= 0xd3:
		size := 1 << (c - 0xd0)
		n, err := p.uint(size)
		if err != nil {
			return v, err
		}
		// Sign-extend from the encoded width.
		shift := 64 - 8*size
		v.kind, v.integer = mpInt, int64(n<<shift)>>shift
	case c >= 0xd4 && c <= 0xd8:
		return p.extValue(v, 1<<(c-0xd4))
	case c >= 0xd9 && c <= 0xdb:
		n, err := p.uint(1 << (c - 0xd9))
		if err != nil {
			return v, err
		}
		return p.bytesValue(v, mpStr, int(n))
	case c == 0xdc || c == 0xdd:
		n, err := p.uint(2 << (c - 0xdc))
		if err != nil {
			return v, err
		}
		return p.arrayValue(v, int(n), depth)
	case c == 0xde || c == 0xdf:
		n, err := p.uint(2 << (c - 0xde))
		if err != nil {
			return v, err
		}
		return p.mapValue(v, int(n), depth)
	default:
		return v, fmt.Errorf("invalid msgpack code 0x%02x at offset %d", c, p.pos-1)
	}
	return v, nil
}

func (p *mpParser) bytesValue(v mpValue, kind mpKind, n int) (mpValue, error) {
	b, err := p.take(n)
	if err != nil {
		return v, err
	}
	v.kind, v.text = kind, string(b)
	return v, nil
}

func (p *mpParser) extValue(v mpValue, n int) (mpValue, error) {
	t, err := p.take(1)
	if err != nil {
		return v, err
	}
	v.extType = int8(t[0])
	return p.bytesValue(v, mpExt, n)
}

func (p *mpParser) arrayValue(v mpValue, n int, depth int) (mpValue, error) {
	// Every element takes at least one byte, so a larger count is invalid and
	// must not size an allocation.
	if n > p.left() {
		return v, fmt.Errorf("array of %d elements at offset %d is longer than the %d bytes left", n, p.pos, p.left())
	}
	v.kind = mpArray
	v.items = make([]mpValue, 0, n)
	for i := 0; i < n; i++ {
		item, err := p.value(depth + 1)
		if err != nil {
			return v, err
		}
		v.items = append(v.items, item)
	}
	return v, nil
}

func (p *mpParser) mapValue(v mpValue, n int, depth int) (mpValue, error) {
	if n > p.left()/2 {
		return v, fmt.Errorf("map of %d entries at offset %d is longer than the %d bytes left", n, p.pos, p.left())
	}
	v.kind = mpMap
	v.pairs = make([]mpPair, 0, n)
	for i := 0; i < n; i++ {
		key, err := p.value(depth + 1)
		if err != nil {
			return v, err
		}
		value, err := p.value(depth + 1)
		if err != nil {
			return v, err
		}
		v.pairs = append(v.pairs, mpPair{key: key, value: value})
	}
	return v, nil
}

// field returns the value of the str key in map m.
func (m mpValue) field(key string) (mpValue, bool) {
	for _, pair := range m.pairs {
		if pair.key.kind == mpStr && pair.key.text == key {
			return pair.value, true
		}
	}
	return mpValue{}, false
}

// describe returns a short description of v for error messages.
func (v mpValue) describe() string {
	switch v.kind {
	case mpStr:
		return fmt.Sprintf("str %q", v.text)
	case mpBin:
		return fmt.Sprintf("bin %q", v.text)
	case mpInt:
		if v.isBig {
			return fmt.Sprintf("int %d", v.bigUint)
		}
		return fmt.Sprintf("int %d", v.integer)
	case mpFloat32, mpFloat64:
		return fmt.Sprintf("%s %v", v.kind, v.float)
	case mpBool:
		return fmt.Sprintf("bool %v", v.boolean)
	case mpArray:
		return fmt.Sprintf("array of %d", len(v.items))
	case mpMap:
		return fmt.Sprintf("map of %d", len(v.pairs))
	case mpExt:
		return fmt.Sprintf("ext type %d", v.extType)
	default:
		return v.kind.String()
	}
}

// reservedMapKeys are the keys for which the master's msgpack object hook
// (Locust >= 2.20) converts a map into a datetime or a bson ObjectId.
var reservedMapKeys = []string{"__datetime__", "__ObjectId__"}

// checkOutgoingFrame validates one frame that the worker sends to a Locust
// 2.x master. It returns the first broken rule with the path of the bad
// value, or nil. The rules for every frame are:
//   - The frame is one msgpack value, an array [type, data, node_id].
//   - type and node_id are non-empty str, never bin. node_id has at most 255
//     bytes and does not start with a zero byte.
//   - No value anywhere is bin or ext, and every str is valid UTF-8.
//   - No map has a duplicate key, or the key "__datetime__" or "__ObjectId__".
//
// checkMessageData adds the rules of each message type.
func checkOutgoingFrame(frame []byte) error {
	msg, err := parseMsgpack(frame)
	if err != nil {
		return fmt.Errorf("frame is not one msgpack value: %w", err)
	}
	if msg.kind != mpArray {
		return fmt.Errorf("frame is a msgpack %s, expected an array [type, data, node_id]", msg.kind)
	}
	if len(msg.items) != 3 {
		return fmt.Errorf("frame is an array of %d elements, expected 3 [type, data, node_id]", len(msg.items))
	}
	if err := checkValueTree(msg, "message"); err != nil {
		return err
	}

	msgType, data, nodeID := msg.items[0], msg.items[1], msg.items[2]
	if msgType.kind != mpStr {
		return fmt.Errorf("message type is %s, expected str", msgType.describe())
	}
	if msgType.text == "" {
		return errors.New("message type is empty")
	}
	if err := checkNodeID(nodeID); err != nil {
		return fmt.Errorf("%s: %w", msgType.text, err)
	}
	if err := checkMessageData(msgType.text, data); err != nil {
		return fmt.Errorf("%s: %w", msgType.text, err)
	}
	return nil
}

// checkValueTree applies the rules that hold for every value of a frame.
func checkValueTree(v mpValue, path string) error {
	switch v.kind {
	case mpBin:
		return fmt.Errorf("%s is bin %q: text must be sent as msgpack str", path, v.text)
	case mpExt:
		return fmt.Errorf("%s is msgpack ext type %d, which the master cannot handle", path, v.extType)
	case mpStr:
		if !utf8.ValidString(v.text) {
			return fmt.Errorf("%s is str %q, which is not valid UTF-8", path, v.text)
		}
	case mpArray:
		for i, item := range v.items {
			if err := checkValueTree(item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case mpMap:
		seen := make(map[string]bool, len(v.pairs))
		for _, pair := range v.pairs {
			keyPath := path + " key " + pair.key.describe()
			if err := checkValueTree(pair.key, keyPath); err != nil {
				return err
			}
			if pair.key.kind == mpArray || pair.key.kind == mpMap {
				return fmt.Errorf("%s: a map key must be a scalar", keyPath)
			}
			// Python compares 1 and 1.0 as equal keys, but the worker never
			// mixes them, so the encoding is compared.
			id := pair.key.kind.String() + ":" + pair.key.describe()
			if seen[id] {
				return fmt.Errorf("%s: duplicate map key (the master keeps only the last)", keyPath)
			}
			seen[id] = true
			if pair.key.kind == mpStr {
				for _, reserved := range reservedMapKeys {
					if pair.key.text == reserved {
						return fmt.Errorf("%s: the master's msgpack hook converts maps with this key", keyPath)
					}
				}
			}
			if err := checkValueTree(pair.value, mapPath(path, pair.key)); err != nil {
				return err
			}
		}
	}
	return nil
}

func mapPath(path string, key mpValue) string {
	if key.kind == mpStr {
		return path + "." + key.text
	}
	return fmt.Sprintf("%s[%s]", path, key.describe())
}

func checkNodeID(v mpValue) error {
	switch {
	case v.kind != mpStr:
		return fmt.Errorf("node_id is %s, expected str", v.describe())
	case v.text == "":
		return errors.New("node_id is empty")
	case len(v.text) > 255:
		return fmt.Errorf("node_id is %d bytes long, ZeroMQ identities have at most 255", len(v.text))
	case v.text[0] == 0:
		return errors.New("node_id starts with a zero byte, which libzmq reserves")
	}
	return nil
}

// checkMessageData checks data against the shape the master reads for
// msgType. Types the master does not know are custom messages, which may
// carry any data.
func checkMessageData(msgType string, data mpValue) error {
	switch msgType {
	case typeClientReady:
		return checkClientReady(data)
	case typeHeartbeat:
		return checkHeartbeat(data)
	case typeSpawning, typeClientStopped, typeQuit:
		if data.kind != mpNil {
			return fmt.Errorf("data is %s, expected nil", data.describe())
		}
		return nil
	case typeSpawningComplete:
		return checkSpawningComplete(data)
	case typeStats:
		return checkStats(data)
	case typeException:
		if err := checkKeys(data, "data", []string{"msg", "traceback"}, nil); err != nil {
			return err
		}
		if err := requireStr(data, "data", "msg"); err != nil {
			return err
		}
		return requireStr(data, "data", "traceback")
	case typeLogs:
		return checkLogs(data)
	default:
		return nil
	}
}

// checkClientReady accepts a version string or exactly -1. The master
// refuses a falsy version without an ack, and any other int raises in its
// receive loop.
func checkClientReady(data mpValue) error {
	switch {
	case data.kind == mpStr && data.text != "":
		return nil
	case data.kind == mpInt && !data.isBig && data.integer == -1:
		return nil
	default:
		return fmt.Errorf("data is %s, expected a non-empty version str or the int -1", data.describe())
	}
}

func checkHeartbeat(data mpValue) error {
	if err := checkKeys(data, "data", []string{"state", "current_cpu_usage", "current_memory_usage"}, nil); err != nil {
		return err
	}
	state, _ := data.field("state")
	if state.kind != mpStr || (state.text != stateReady && state.text != stateSpawning && state.text != stateRunning) {
		return fmt.Errorf("data.state is %s, expected \"ready\", \"spawning\" or \"running\"", state.describe())
	}
	if _, err := requireNumber(data, "data", "current_cpu_usage"); err != nil {
		return err
	}
	memory, err := requireInt(data, "data", "current_memory_usage")
	if err != nil {
		return err
	}
	if memory < 0 {
		return fmt.Errorf("data.current_memory_usage is %d, expected bytes >= 0", memory)
	}
	return nil
}

func checkSpawningComplete(data mpValue) error {
	if err := checkKeys(data, "data", []string{"user_classes_count", "user_count"}, nil); err != nil {
		return err
	}
	return checkUserCounts(data)
}

// checkUserCounts checks user_classes_count (str → int >= 0) and
// user_count, which must be its sum.
func checkUserCounts(data mpValue) error {
	counts, _ := data.field("user_classes_count")
	if counts.kind != mpMap {
		return fmt.Errorf("data.user_classes_count is %s, expected a map of class name to count", counts.describe())
	}
	var sum int64
	for _, pair := range counts.pairs {
		path := "data.user_classes_count key " + pair.key.describe()
		if pair.key.kind != mpStr {
			return fmt.Errorf("%s: class names must be str", path)
		}
		if pair.value.kind != mpInt || pair.value.isBig || pair.value.integer < 0 {
			return fmt.Errorf("%s: count is %s, expected an int >= 0", path, pair.value.describe())
		}
		sum += pair.value.integer
	}
	total, err := requireInt(data, "data", "user_count")
	if err != nil {
		return err
	}
	if total != sum {
		return fmt.Errorf("data.user_count is %d, expected %d, the sum of user_classes_count", total, sum)
	}
	return nil
}

func checkStats(data mpValue) error {
	if err := checkKeys(data, "data", []string{"stats", "stats_total", "errors", "user_classes_count", "user_count"}, nil); err != nil {
		return err
	}
	entries, _ := data.field("stats")
	if entries.kind != mpArray {
		return fmt.Errorf("data.stats is %s, expected an array of entries", entries.describe())
	}
	for i, entry := range entries.items {
		if err := checkStatsEntry(entry, fmt.Sprintf("data.stats[%d]", i)); err != nil {
			return err
		}
	}
	total, _ := data.field("stats_total")
	if err := checkStatsEntry(total, "data.stats_total"); err != nil {
		return err
	}
	errs, _ := data.field("errors")
	if err := checkErrors(errs); err != nil {
		return err
	}
	return checkUserCounts(data)
}

// statsEntryKeys are the 14 keys of a serialized Locust StatsEntry.
var statsEntryKeys = []string{
	"name", "method", "last_request_timestamp", "start_time",
	"num_requests", "num_none_requests", "num_failures",
	"total_response_time", "max_response_time", "min_response_time",
	"total_content_length", "response_times", "num_reqs_per_sec", "num_fail_per_sec",
}

// checkStatsEntry checks one entry. Besides types it checks the sums that
// every entry Locust produces satisfies: failures are part of the requests,
// and the per-second and histogram counts add up to the request counts.
func checkStatsEntry(entry mpValue, path string) error {
	if err := checkKeys(entry, path, statsEntryKeys, nil); err != nil {
		return err
	}
	if err := requireStr(entry, path, "name"); err != nil {
		return err
	}
	if err := requireStr(entry, path, "method"); err != nil {
		return err
	}

	requests, err := requireCount(entry, path, "num_requests")
	if err != nil {
		return err
	}
	noneRequests, err := requireCount(entry, path, "num_none_requests")
	if err != nil {
		return err
	}
	failures, err := requireCount(entry, path, "num_failures")
	if err != nil {
		return err
	}
	if failures > requests {
		return fmt.Errorf("%s: num_failures %d > num_requests %d, but failures are counted as requests too", path, failures, requests)
	}
	if noneRequests > requests {
		return fmt.Errorf("%s: num_none_requests %d > num_requests %d", path, noneRequests, requests)
	}
	if _, err := requireCount(entry, path, "total_content_length"); err != nil {
		return err
	}

	start, err := requireNumber(entry, path, "start_time")
	if err != nil {
		return err
	}
	if start <= 0 {
		return fmt.Errorf("%s.start_time is %v, expected the Unix time of the interval start", path, start)
	}
	last, _ := entry.field("last_request_timestamp")
	switch {
	case last.kind == mpNil && requests > 0:
		return fmt.Errorf("%s.last_request_timestamp is nil, but the entry has %d requests", path, requests)
	case last.kind != mpNil:
		ts, err := requireNumber(entry, path, "last_request_timestamp")
		if err != nil {
			return err
		}
		if ts <= 0 {
			return fmt.Errorf("%s.last_request_timestamp is %v, expected a Unix time", path, ts)
		}
	}

	total, err := requireNumber(entry, path, "total_response_time")
	if err != nil {
		return err
	}
	maxTime, err := requireNumber(entry, path, "max_response_time")
	if err != nil {
		return err
	}
	if total < 0 || maxTime < 0 {
		return fmt.Errorf("%s: total_response_time %v and max_response_time %v must be >= 0", path, total, maxTime)
	}
	timed := requests - noneRequests
	minValue, _ := entry.field("min_response_time")
	switch {
	case minValue.kind == mpNil && timed > 0:
		return fmt.Errorf("%s.min_response_time is nil, but the entry has %d timed requests", path, timed)
	case minValue.kind != mpNil && timed == 0:
		return fmt.Errorf("%s.min_response_time is %s, expected nil because the entry has no timed request", path, minValue.describe())
	case minValue.kind != mpNil:
		minTime, err := requireNumber(entry, path, "min_response_time")
		if err != nil {
			return err
		}
		if minTime < 0 || minTime > maxTime {
			return fmt.Errorf("%s.min_response_time is %v, expected 0 <= min <= max_response_time %v", path, minTime, maxTime)
		}
	}

	sums := []struct {
		key  string
		want int64
	}{
		{"response_times", timed},
		{"num_reqs_per_sec", requests},
		{"num_fail_per_sec", failures},
	}
	for _, s := range sums {
		sum, err := requireIntKeyMap(entry, path, s.key)
		if err != nil {
			return err
		}
		if sum != s.want {
			return fmt.Errorf("%s.%s counts add up to %d, expected %d", path, s.key, sum, s.want)
		}
	}
	return nil
}

// checkErrors checks the errors map: any str key → {name, method, error,
// occurrences[, first_seen, last_seen]}.
func checkErrors(errs mpValue) error {
	if errs.kind != mpMap {
		return fmt.Errorf("data.errors is %s, expected a map", errs.describe())
	}
	for _, pair := range errs.pairs {
		if pair.key.kind != mpStr || pair.key.text == "" {
			return fmt.Errorf("data.errors key %s: expected a non-empty str", pair.key.describe())
		}
		path := "data.errors." + pair.key.text
		e := pair.value
		if err := checkKeys(e, path, []string{"name", "method", "error", "occurrences"}, []string{"first_seen", "last_seen"}); err != nil {
			return err
		}
		for _, key := range []string{"name", "method", "error"} {
			if err := requireStr(e, path, key); err != nil {
				return err
			}
		}
		n, err := requireInt(e, path, "occurrences")
		if err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("%s.occurrences is %d, expected 1 or more", path, n)
		}
		_, hasFirst := e.field("first_seen")
		_, hasLast := e.field("last_seen")
		if hasFirst != hasLast {
			return fmt.Errorf("%s: first_seen and last_seen must be sent together", path)
		}
		if hasFirst {
			first, err := requireNumber(e, path, "first_seen")
			if err != nil {
				return err
			}
			last, err := requireNumber(e, path, "last_seen")
			if err != nil {
				return err
			}
			if first <= 0 || first > last {
				return fmt.Errorf("%s: first_seen %v and last_seen %v, expected 0 < first_seen <= last_seen", path, first, last)
			}
		}
	}
	return nil
}

func checkLogs(data mpValue) error {
	if err := checkKeys(data, "data", []string{"worker_id", "logs"}, nil); err != nil {
		return err
	}
	if err := requireStr(data, "data", "worker_id"); err != nil {
		return err
	}
	lines, _ := data.field("logs")
	if lines.kind != mpArray {
		return fmt.Errorf("data.logs is %s, expected an array of str", lines.describe())
	}
	for i, line := range lines.items {
		if line.kind != mpStr {
			return fmt.Errorf("data.logs[%d] is %s, expected str", i, line.describe())
		}
	}
	return nil
}

// checkKeys checks that m is a map with str keys, all required keys and no
// key outside required and optional.
func checkKeys(m mpValue, path string, required, optional []string) error {
	if m.kind != mpMap {
		return fmt.Errorf("%s is %s, expected a map", path, m.describe())
	}
	allowed := make(map[string]bool, len(required)+len(optional))
	for _, k := range required {
		allowed[k] = true
		if _, ok := m.field(k); !ok {
			return fmt.Errorf("%s: missing key %q", path, k)
		}
	}
	for _, k := range optional {
		allowed[k] = true
	}
	for _, pair := range m.pairs {
		if pair.key.kind != mpStr || !allowed[pair.key.text] {
			return fmt.Errorf("%s: unexpected key %s", path, pair.key.describe())
		}
	}
	return nil
}

func requireStr(m mpValue, path, key string) error {
	v, _ := m.field(key)
	if v.kind != mpStr {
		return fmt.Errorf("%s.%s is %s, expected str", path, key, v.describe())
	}
	return nil
}

func requireInt(m mpValue, path, key string) (int64, error) {
	v, _ := m.field(key)
	if v.kind != mpInt || v.isBig {
		return 0, fmt.Errorf("%s.%s is %s, expected an int", path, key, v.describe())
	}
	return v.integer, nil
}

func requireCount(m mpValue, path, key string) (int64, error) {
	n, err := requireInt(m, path, key)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%s.%s is %d, expected a count >= 0", path, key, n)
	}
	return n, nil
}

// requireNumber returns an int or float field as float64. NaN and infinities
// are rejected: the master's arithmetic and its JSON output break on them.
func requireNumber(m mpValue, path, key string) (float64, error) {
	v, _ := m.field(key)
	var f float64
	switch v.kind {
	case mpInt:
		if v.isBig {
			f = float64(v.bigUint)
		} else {
			f = float64(v.integer)
		}
	case mpFloat32, mpFloat64:
		f = v.float
	default:
		return 0, fmt.Errorf("%s.%s is %s, expected a number", path, key, v.describe())
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s.%s is %v, expected a finite number", path, key, f)
	}
	return f, nil
}

// requireIntKeyMap checks a map of int → int >= 0 and returns the sum of its
// values. Locust's console printer fails on str keys, and its RPS figures
// read the keys as Unix seconds.
func requireIntKeyMap(m mpValue, path, key string) (int64, error) {
	v, _ := m.field(key)
	if v.kind != mpMap {
		return 0, fmt.Errorf("%s.%s is %s, expected a map of int to int", path, key, v.describe())
	}
	var sum int64
	for _, pair := range v.pairs {
		if pair.key.kind != mpInt || pair.key.isBig {
			return 0, fmt.Errorf("%s.%s key %s: expected an int key", path, key, pair.key.describe())
		}
		if pair.value.kind != mpInt || pair.value.isBig || pair.value.integer < 0 {
			return 0, fmt.Errorf("%s.%s[%d] is %s, expected an int >= 0", path, key, pair.key.integer, pair.value.describe())
		}
		sum += pair.value.integer
	}
	return sum, nil
}

// Tests of the parser and the checker.

// encodeTestFrame encodes [msgType, data, nodeID] with vmihailenco/msgpack:
// Go strings as str, []byte as bin, time.Time as ext, nil maps as nil, ints
// in their smallest form and map keys sorted.
func encodeTestFrame(t *testing.T, msgType, data, nodeID any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	require.NoError(t, enc.Encode([]any{msgType, data, nodeID}))
	return buf.Bytes()
}

// validStatsEntry returns a fresh stats entry that passes the checker: two
// requests, one of them failed.
func validStatsEntry(name, method string) map[string]any {
	return map[string]any{
		"name":                   name,
		"method":                 method,
		"last_request_timestamp": 1796413292.25,
		"start_time":             1796413290.5,
		"num_requests":           2,
		"num_none_requests":      0,
		"num_failures":           1,
		"total_response_time":    148.5,
		"max_response_time":      145.0,
		"min_response_time":      3.5,
		"total_content_length":   1010,
		"response_times":         map[int64]int64{4: 1, 140: 1},
		"num_reqs_per_sec":       map[int64]int64{1796413290: 1, 1796413292: 1},
		"num_fail_per_sec":       map[int64]int64{1796413292: 1},
	}
}

// validStatsData returns fresh stats data that passes the checker.
func validStatsData() map[string]any {
	return map[string]any{
		"stats":       []any{validStatsEntry("/x", "GET")},
		"stats_total": validStatsEntry("Aggregated", ""),
		"errors": map[string]any{
			"71e12e3e7b73f3df3e67d9f9451fad024f39fc560e4e209260f0142b755b5b1d": map[string]any{
				"name":        "/x",
				"method":      "GET",
				"error":       "ValueError('bad thing')",
				"occurrences": 1,
				"first_seen":  1796413292.25,
				"last_seen":   1796413292.25,
			},
		},
		"user_classes_count": map[string]any{"Dummy": 1, "Other": 0},
		"user_count":         1,
	}
}

func TestParseMsgpackKinds(t *testing.T) {
	cases := []struct {
		name    string
		hex     string
		kind    mpKind
		integer int64
		text    string
	}{
		{"positive fixint", "7f", mpInt, 127, ""},
		{"negative fixint", "ff", mpInt, -1, ""},
		{"int8", "d080", mpInt, -128, ""},
		{"int16", "d1ff00", mpInt, -256, ""},
		{"int64", "d3fffffffffffffffe", mpInt, -2, ""},
		{"uint32", "ce075bcd15", mpInt, 123456789, ""},
		{"fixstr", "a3616263", mpStr, 0, "abc"},
		{"str8", "d903616263", mpStr, 0, "abc"},
		{"str16", "da0003616263", mpStr, 0, "abc"},
		{"bin8", "c403616263", mpBin, 0, "abc"},
		{"fixext1", "d4ff01", mpExt, 0, "\x01"},
		{"float32", "ca3f800000", mpFloat32, 0, ""},
		{"float64", "cb3ff0000000000000", mpFloat64, 0, ""},
		{"nil", "c0", mpNil, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseMsgpack(hexBytes(t, tc.hex))
			require.NoError(t, err)
			assert.Equal(t, tc.kind, v.kind)
			assert.Equal(t, tc.integer, v.integer)
			assert.Equal(t, tc.text, v.text)
		})
	}
}

func TestParseMsgpackBigUint(t *testing.T) {
	v, err := parseMsgpack(hexBytes(t, "cfffffffffffffffff"))
	require.NoError(t, err)
	assert.True(t, v.isBig)
	assert.Equal(t, uint64(math.MaxUint64), v.bigUint)
}

func TestParseMsgpackMalformed(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want string
	}{
		{"empty", "", "truncated"},
		{"never used code", "c1", "invalid msgpack code 0xc1"},
		{"truncated str", "a5616263", "truncated"},
		{"trailing byte", "c0c0", "1 trailing bytes"},
		{"array32 claims 2^31", "dd80000000", "longer than the 0 bytes left"},
		{"map32 claims 2^31", "df80000000", "longer than the 0 bytes left"},
		{"str32 claims 2^31", "db80000000", "truncated"},
		{"too deep", strings.Repeat("91", maxParseDepth+1) + "c0", "nested deeper"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseMsgpack(hexBytes(t, tc.hex))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheckOutgoingFrameValidBuilt(t *testing.T) {
	cases := []struct {
		name    string
		msgType string
		data    any
	}{
		{"client_ready version", typeClientReady, "2.47.0"},
		{"client_ready minus one", typeClientReady, -1},
		{"heartbeat ready int cpu", typeHeartbeat, map[string]any{"state": "ready", "current_cpu_usage": 0, "current_memory_usage": 1}},
		{"heartbeat spawning", typeHeartbeat, map[string]any{"state": "spawning", "current_cpu_usage": 99.5, "current_memory_usage": 0}},
		{"stats", typeStats, validStatsData()},
		{"logs", typeLogs, map[string]any{"worker_id": testNodeID, "logs": []any{"line one", "line two"}}},
		{"custom with int keys", "my_msg", map[int64]any{1: nil, 2: []any{true, 2.5}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frame := encodeTestFrame(t, tc.msgType, tc.data, testNodeID)
			assert.NoError(t, checkOutgoingFrame(frame))
		})
	}
}

func TestCheckOutgoingFrameRejects(t *testing.T) {
	// Each case breaks one rule of an otherwise valid message.
	msg := func(msgType, data any) []byte {
		return encodeTestFrame(t, msgType, data, testNodeID)
	}
	statsWith := func(change func(data map[string]any)) []byte {
		data := validStatsData()
		change(data)
		return msg(typeStats, data)
	}
	entryWith := func(change func(entry map[string]any)) []byte {
		return statsWith(func(data map[string]any) {
			change(data["stats"].([]any)[0].(map[string]any))
		})
	}
	errorWith := func(change func(e map[string]any)) []byte {
		return statsWith(func(data map[string]any) {
			for _, e := range data["errors"].(map[string]any) {
				change(e.(map[string]any))
			}
		})
	}
	heartbeat := func(state string, cpu, memory any) []byte {
		return msg(typeHeartbeat, map[string]any{"state": state, "current_cpu_usage": cpu, "current_memory_usage": memory})
	}
	quit := msg(typeQuit, nil)
	running := heartbeat("running", 1.0, 1)

	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"not msgpack", []byte{0xc1}, "not one msgpack value"},
		{"empty frame", nil, "not one msgpack value"},
		{"trailing byte", append(append([]byte(nil), quit...), 0xc0), "trailing bytes"},
		{"truncated", quit[:10], "truncated"},
		{"map not array", hexBytes(t, "81 a474797065 a471756974"), "expected an array"},
		{"array of 2", hexBytes(t, "92 a471756974 c0"), "array of 2 elements"},
		{"array of 4", hexBytes(t, "94 a471756974 c0 a16e c0"), "array of 4 elements"},
		{"type as bin", encodeTestFrame(t, []byte("quit"), nil, testNodeID), "message[0] is bin"},
		{"type as int", encodeTestFrame(t, 7, nil, testNodeID), "message type is int 7"},
		{"type empty", encodeTestFrame(t, "", nil, testNodeID), "message type is empty"},
		{"node_id as bin", encodeTestFrame(t, "quit", nil, []byte(testNodeID)), "message[2] is bin"},
		{"node_id nil", encodeTestFrame(t, "quit", nil, nil), "node_id is nil"},
		{"node_id empty", encodeTestFrame(t, "quit", nil, ""), "node_id is empty"},
		{"node_id 256 bytes", encodeTestFrame(t, "quit", nil, strings.Repeat("n", 256)), "at most 255"},
		{"node_id zero byte", encodeTestFrame(t, "quit", nil, "\x00host_1"), "zero byte"},
		{"node_id invalid UTF-8", encodeTestFrame(t, "quit", nil, "host\xff_1"), "not valid UTF-8"},

		{"custom with ext", msg("my_msg", time.Unix(1, 0)), "ext type -1"},
		{"custom with bin", msg("my_msg", map[string]any{"k": []byte("v")}), "message[1].k is bin"},
		{"custom invalid UTF-8 value", msg("my_msg", []any{"ok", "bad\xc3"}), "message[1][1] is str"},
		{"custom invalid UTF-8 key", msg("my_msg", map[string]any{"bad\xc3": 1}), "not valid UTF-8"},
		{"custom datetime key", msg("my_msg", map[string]any{"__datetime__": true, "as_str": "x"}), "__datetime__"},
		{"custom ObjectId key", msg("my_msg", map[string]any{"v": map[string]any{"__ObjectId__": true}}), "__ObjectId__"},
		{"custom array key", hexBytes(t, "93 a6 6d795f6d7367 81 9101 01 "+testNodeIDHex), "a map key must be a scalar"},
		{"custom duplicate key", hexBytes(t, "93 a6 6d795f6d7367 82 a161 01 a161 02 "+testNodeIDHex), "duplicate map key"},

		{"client_ready 7", msg(typeClientReady, 7), "expected a non-empty version str or the int -1"},
		{"client_ready 0", msg(typeClientReady, 0), "data is int 0"},
		{"client_ready nil", msg(typeClientReady, nil), "data is nil"},
		{"client_ready empty", msg(typeClientReady, ""), `data is str ""`},
		{"client_ready -1.0", msg(typeClientReady, -1.0), "data is float64 -1"},

		{"heartbeat nil", msg(typeHeartbeat, nil), "data is nil, expected a map"},
		{"heartbeat stopped", heartbeat("stopped", 1.0, 1), `data.state is str "stopped"`},
		{"heartbeat state bin", bytes.Replace(running, hexBytes(t, "a7 72756e6e696e67"), hexBytes(t, "c407 72756e6e696e67"), 1), "message[1].state is bin"},
		{"heartbeat cpu str", heartbeat("ready", "12", 1), "current_cpu_usage is str"},
		{"heartbeat cpu NaN", heartbeat("ready", math.NaN(), 1), "expected a finite number"},
		{"heartbeat memory float", heartbeat("ready", 1.0, 1.5), "current_memory_usage is float64"},
		{"heartbeat memory negative", heartbeat("ready", 1.0, -1), "bytes >= 0"},
		{"heartbeat missing cpu", msg(typeHeartbeat, map[string]any{"state": "ready", "current_memory_usage": 1}), `missing key "current_cpu_usage"`},
		{"heartbeat extra key", msg(typeHeartbeat, map[string]any{"state": "ready", "current_cpu_usage": 1, "current_memory_usage": 1, "count": 1}), `unexpected key str "count"`},

		{"spawning with data", msg(typeSpawning, map[string]any{}), "expected nil"},
		{"quit with data", msg(typeQuit, 1), "expected nil"},
		{"client_stopped with data", msg(typeClientStopped, "x"), "expected nil"},

		{"spawning_complete counts nil", msg(typeSpawningComplete, map[string]any{"user_classes_count": nil, "user_count": 0}), "user_classes_count is nil"},
		{"spawning_complete count str", msg(typeSpawningComplete, map[string]any{"user_classes_count": map[string]any{"A": "1"}, "user_count": 1}), "count is str"},
		{"spawning_complete wrong sum", msg(typeSpawningComplete, map[string]any{"user_classes_count": map[string]any{"A": 1, "B": 2}, "user_count": 4}), "expected 3"},
		{"spawning_complete int class", msg(typeSpawningComplete, map[string]any{"user_classes_count": map[int64]any{1: 1}, "user_count": 1}), "class names must be str"},
		{"spawning_complete float total", msg(typeSpawningComplete, map[string]any{"user_classes_count": map[string]any{}, "user_count": 0.0}), "user_count is float64"},

		{"stats nil list", statsWith(func(d map[string]any) { d["stats"] = nil }), "data.stats is nil"},
		{"stats_total missing", statsWith(func(d map[string]any) { delete(d, "stats_total") }), `missing key "stats_total"`},
		{"stats_total nil", statsWith(func(d map[string]any) { d["stats_total"] = nil }), "data.stats_total is nil"},
		{"errors nil", statsWith(func(d map[string]any) { d["errors"] = nil }), "data.errors is nil"},
		{"user_classes_count missing", statsWith(func(d map[string]any) { delete(d, "user_classes_count") }), `missing key "user_classes_count"`},
		{"user_count missing", statsWith(func(d map[string]any) { delete(d, "user_count") }), `missing key "user_count"`},
		{"user_count wrong", statsWith(func(d map[string]any) { d["user_count"] = 5 }), "expected 1, the sum"},
		{"entry 13 keys", entryWith(func(e map[string]any) { delete(e, "num_none_requests") }), `missing key "num_none_requests"`},
		{"entry 15 keys", entryWith(func(e map[string]any) { e["median"] = 1 }), `unexpected key str "median"`},
		{"entry name nil", entryWith(func(e map[string]any) { e["name"] = nil }), "data.stats[0].name is nil"},
		{"entry method nil", entryWith(func(e map[string]any) { e["method"] = nil }), "data.stats[0].method is nil"},
		{"entry name bin", entryWith(func(e map[string]any) { e["name"] = []byte("/x") }), "name is bin"},
		{"str histogram keys", entryWith(func(e map[string]any) { e["response_times"] = map[string]any{"4": 1, "140": 1} }), "response_times key str"},
		{"float histogram keys", entryWith(func(e map[string]any) { e["response_times"] = map[float64]any{4: 1, 140: 1} }), "response_times key float64"},
		{"str per-second keys", entryWith(func(e map[string]any) {
			e["num_reqs_per_sec"] = map[string]any{"1796413290": 1, "1796413292": 1}
		}), "num_reqs_per_sec key str"},
		{"str failure keys", entryWith(func(e map[string]any) { e["num_fail_per_sec"] = map[string]any{"1796413292": 1} }), "num_fail_per_sec key str"},
		{"histogram nil", entryWith(func(e map[string]any) { e["response_times"] = nil }), "response_times is nil"},
		{"min zero without requests", statsWith(func(d map[string]any) {
			total := d["stats_total"].(map[string]any)
			total["num_requests"], total["num_failures"] = 0, 0
			total["response_times"] = map[int64]int64{}
			total["num_reqs_per_sec"] = map[int64]int64{}
			total["num_fail_per_sec"] = map[int64]int64{}
			total["last_request_timestamp"], total["min_response_time"] = nil, 0.0
		}), "expected nil because the entry has no timed request"},
		{"min nil with requests", entryWith(func(e map[string]any) { e["min_response_time"] = nil }), "min_response_time is nil"},
		{"min str", entryWith(func(e map[string]any) { e["min_response_time"] = "3.5" }), "min_response_time is str"},
		{"min above max", entryWith(func(e map[string]any) { e["min_response_time"] = 146.0 }), "min <= max_response_time"},
		{"failures above requests", entryWith(func(e map[string]any) {
			e["num_failures"] = 3
			e["num_fail_per_sec"] = map[int64]int64{1796413292: 3}
		}), "num_failures 3 > num_requests 2"},
		{"start_time zero", entryWith(func(e map[string]any) { e["start_time"] = 0.0 }), "start_time is 0"},
		{"start_time nil", entryWith(func(e map[string]any) { e["start_time"] = nil }), "start_time is nil"},
		{"last timestamp nil", entryWith(func(e map[string]any) { e["last_request_timestamp"] = nil }), "last_request_timestamp is nil"},
		{"requests float", entryWith(func(e map[string]any) { e["num_requests"] = 2.0 }), "num_requests is float64"},
		{"per-second sum wrong", entryWith(func(e map[string]any) { e["num_reqs_per_sec"] = map[int64]int64{1796413290: 1} }), "num_reqs_per_sec counts add up to 1, expected 2"},
		{"histogram sum wrong", entryWith(func(e map[string]any) { e["response_times"] = map[int64]int64{4: 5} }), "response_times counts add up to 5"},
		{"error occurrences missing", errorWith(func(e map[string]any) { delete(e, "occurrences") }), `missing key "occurrences"`},
		{"error text nil", errorWith(func(e map[string]any) { e["error"] = nil }), "error is nil"},
		{"error name int", errorWith(func(e map[string]any) { e["name"] = 1 }), "name is int 1"},
		{"error zero occurrences", errorWith(func(e map[string]any) { e["occurrences"] = 0 }), "expected 1 or more"},
		{"error first_seen alone", errorWith(func(e map[string]any) { delete(e, "last_seen") }), "sent together"},
		{"error first after last", errorWith(func(e map[string]any) { e["first_seen"] = 1796413299.0 }), "first_seen <= last_seen"},
		{"error old spelling", errorWith(func(e map[string]any) { e["occurences"] = 1 }), `unexpected key str "occurences"`},

		{"exception missing traceback", msg(typeException, map[string]any{"msg": "boom"}), `missing key "traceback"`},
		{"exception msg int", msg(typeException, map[string]any{"msg": 1, "traceback": ""}), "data.msg is int 1"},
		{"exception nil", msg(typeException, nil), "data is nil"},
		{"logs nil list", msg(typeLogs, map[string]any{"worker_id": testNodeID, "logs": nil}), "data.logs is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkOutgoingFrame(tc.frame)
			require.Error(t, err, "frame %x", tc.frame)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheckOutgoingFrameCustomBin(t *testing.T) {
	// encodeCustomMessage hands data to the msgpack library as it is, so a
	// []byte in it goes out as bin.
	frame, err := encodeCustomMessage("my_msg", testNodeID, map[string]any{"payload": []byte("x")})
	require.NoError(t, err)

	err = checkOutgoingFrame(frame)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "message[1].payload is bin")
}

// hexBytes decodes hex that may contain spaces.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}
