package boomer

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testNodeID is the node id of the byte-level examples captured from a
// Locust master.
const testNodeID = "myhost_0123456789abcdef0123456789abcdef"

// testNodeIDHex is testNodeID as msgpack: a str8 of 39 bytes.
const testNodeIDHex = "d927 6d79686f73745f3031323334353637383961626364656630313233343536373839616263646566"

// goldenStart is the fake time at which the interval of goldenSnapshot
// begins: Unix 1796413290.5, exact in a float64.
var goldenStart = time.Unix(1796413290, 500_000_000)

// goldenSnapshot returns the stats of one 3-second interval, recorded with a
// fake clock: GET /x succeeded twice (145 ms with 1000 bytes, 3.5 ms with 10
// bytes) and POST /y failed twice after 1234.5678 ms with the same error.
func goldenSnapshot() statsSnapshot {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)

	clock.Set(goldenStart.Add(250 * time.Millisecond))
	c.recordSuccess("GET", "/x", 145, 1000)
	clock.Set(goldenStart.Add(1000 * time.Millisecond))
	c.recordSuccess("GET", "/x", 3.5, 10)
	clock.Set(goldenStart.Add(1500 * time.Millisecond))
	c.recordFailure("POST", "/y", 1234.5678, "ValueError('bad thing')")
	clock.Set(goldenStart.Add(2250 * time.Millisecond))
	c.recordFailure("POST", "/y", 1234.5678, "ValueError('bad thing')")

	clock.Set(goldenStart.Add(3 * time.Second))
	return c.snapshot()
}

// emptySnapshot returns the snapshot of a 3-second interval with no requests.
func emptySnapshot() statsSnapshot {
	clock := newFakeClock(goldenStart)
	c := newStatsCollector(clock.Now)
	clock.Set(goldenStart.Add(3 * time.Second))
	c.snapshot()
	return c.snapshot()
}

// Golden frames: the exact bytes the worker sends, one token group per line.
// Each comment shows the decoded value and, for a number that is not a
// fixint, its msgpack type. Python's msgpack 1.2.4, the decoder of the
// master, reads every frame back with text as str, times as float and
// histogram and per-second keys as int. Packing those values again with it
// gives the same bytes, except for goldenCustom. Locust 2.47.0's stats
// listener for worker reports merges both stats frames without an error.

// goldenClientReadyHex (56 bytes) is client_ready with version -1, which a
// Locust 2.x master accepts silently from a worker that is not written in
// Python.
const goldenClientReadyHex = "" +
	"93" + // array of 3
	"ac 636c69656e745f7265616479" + //   "client_ready"
	"ff" + //   -1
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenHeartbeatHex (120 bytes) is a heartbeat in state running with 12.5 %
// CPU and 123456789 bytes of memory.
const goldenHeartbeatHex = "" +
	"93" + // array of 3
	"a9 686561727462656174" + //   "heartbeat"
	"83" + //   map of 3
	"a5 7374617465 a7 72756e6e696e67" + //     "state": "running"
	"b1 63757272656e745f6370755f7573616765 cb4029000000000000" + //     "current_cpu_usage": 12.5 (float64)
	"b4 63757272656e745f6d656d6f72795f7573616765 ce075bcd15" + //     "current_memory_usage": 123456789 (uint32)
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenSpawningHex (52 bytes) is spawning, sent on every spawn message.
const goldenSpawningHex = "" +
	"93" + // array of 3
	"a8 737061776e696e67" + //   "spawning"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenSpawningCompleteHex (107 bytes) is spawning_complete with a class that
// has no users.
const goldenSpawningCompleteHex = "" +
	"93" + // array of 3
	"b1 737061776e696e675f636f6d706c657465" + //   "spawning_complete"
	"82" + //   map of 2
	"b2 757365725f636c61737365735f636f756e74" + //     "user_classes_count":
	"82" + //       map of 2
	"a5 44756d6d79 03" + //         "Dummy": 3
	"a5 4f74686572 00" + //         "Other": 0
	"aa 757365725f636f756e74 03" + //     "user_count": 3
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenSpawningCompleteEmptyHex (93 bytes) is spawning_complete before any
// class is known: an empty map, never nil.
const goldenSpawningCompleteEmptyHex = "" +
	"93" + // array of 3
	"b1 737061776e696e675f636f6d706c657465" + //   "spawning_complete"
	"82" + //   map of 2
	"b2 757365725f636c61737365735f636f756e74" + //     "user_classes_count":
	"80" + //       map of 0
	"aa 757365725f636f756e74 00" + //     "user_count": 0
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenClientStoppedHex (58 bytes) is client_stopped, sent after a stop.
const goldenClientStoppedHex = "" +
	"93" + // array of 3
	"ae 636c69656e745f73746f70706564" + //   "client_stopped"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenQuitHex (48 bytes) is quit, the worker's last message.
const goldenQuitHex = "" +
	"93" + // array of 3
	"a4 71756974" + //   "quit"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenExceptionHex (121 bytes) is exception for a task panic.
const goldenExceptionHex = "" +
	"93" + // array of 3
	"a9 657863657074696f6e" + //   "exception"
	"82" + //   map of 2
	"a3 6d7367 b9 7461736b2022666f6f222070616e69636b65643a20626f6f6d" + //     "msg": "task \"foo\" panicked: boom"
	"a9 74726163656261636b bb 6d61696e2e666f6f28290a092f7372632f6d61696e2e676f3a3132" + //     "traceback": "main.foo()\n\t/src/main.go:12"
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenCustomHex (76 bytes) is a custom message. Its data is encoded by the
// msgpack library, which writes an int64 in 9 bytes.
const goldenCustomHex = "" +
	"93" + // array of 3
	"a6 6d795f6d7367" + //   "my_msg"
	"82" + //   map of 2
	"a1 61 cb4004000000000000" + //     "a": 2.5 (float64)
	"a1 62" + //     "b":
	"93" + //       array of 3
	"d30000000000000001" + //         1
	"a1 78" + //         "x"
	"c3" + //         true
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenStatsHex (1195 bytes) is the stats report of goldenSnapshot.
const goldenStatsHex = "" +
	"93" + // array of 3
	"a5 7374617473" + //   "stats"
	"85" + //   map of 5
	"a5 7374617473" + //     "stats":
	"92" + //       array of 2
	"8e" + //         map of 14
	"a4 6e616d65 a2 2f78" + //           "name": "/x"
	"a6 6d6574686f64 a3 474554" + //           "method": "GET"
	"b6 6c6173745f726571756573745f74696d657374616d70 cb41dac4c5dae00000" + //           "last_request_timestamp": 1796413291.5 (float64)
	"aa 73746172745f74696d65 cb41dac4c5daa00000" + //           "start_time": 1796413290.5 (float64)
	"ac 6e756d5f7265717565737473 02" + //           "num_requests": 2
	"b1 6e756d5f6e6f6e655f7265717565737473 00" + //           "num_none_requests": 0
	"ac 6e756d5f6661696c75726573 00" + //           "num_failures": 0
	"b3 746f74616c5f726573706f6e73655f74696d65 cb4062900000000000" + //           "total_response_time": 148.5 (float64)
	"b1 6d61785f726573706f6e73655f74696d65 cb4062200000000000" + //           "max_response_time": 145.0 (float64)
	"b1 6d696e5f726573706f6e73655f74696d65 cb400c000000000000" + //           "min_response_time": 3.5 (float64)
	"b4 746f74616c5f636f6e74656e745f6c656e677468 cd03f2" + //           "total_content_length": 1010 (uint16)
	"ae 726573706f6e73655f74696d6573" + //           "response_times":
	"82" + //             map of 2
	"04 01" + //               4: 1
	"cc8c 01" + //               140 (uint8): 1
	"b0 6e756d5f726571735f7065725f736563" + //           "num_reqs_per_sec":
	"82" + //             map of 2
	"ce6b13176a 01" + //               1796413290 (uint32): 1
	"ce6b13176b 01" + //               1796413291 (uint32): 1
	"b0 6e756d5f6661696c5f7065725f736563" + //           "num_fail_per_sec":
	"80" + //             map of 0
	"8e" + //         map of 14
	"a4 6e616d65 a2 2f79" + //           "name": "/y"
	"a6 6d6574686f64 a4 504f5354" + //           "method": "POST"
	"b6 6c6173745f726571756573745f74696d657374616d70 cb41dac4c5db300001" + //           "last_request_timestamp": 1796413292.7500002 (float64)
	"aa 73746172745f74696d65 cb41dac4c5daa00000" + //           "start_time": 1796413290.5 (float64)
	"ac 6e756d5f7265717565737473 02" + //           "num_requests": 2
	"b1 6e756d5f6e6f6e655f7265717565737473 00" + //           "num_none_requests": 0
	"ac 6e756d5f6661696c75726573 02" + //           "num_failures": 2
	"b3 746f74616c5f726573706f6e73655f74696d65 cb40a34a456d5cfaad" + //           "total_response_time": 2469.1356 (float64)
	"b1 6d61785f726573706f6e73655f74696d65 cb40934a456d5cfaad" + //           "max_response_time": 1234.5678 (float64)
	"b1 6d696e5f726573706f6e73655f74696d65 cb40934a456d5cfaad" + //           "min_response_time": 1234.5678 (float64)
	"b4 746f74616c5f636f6e74656e745f6c656e677468 00" + //           "total_content_length": 0
	"ae 726573706f6e73655f74696d6573" + //           "response_times":
	"81" + //             map of 1
	"cd04b0 02" + //               1200 (uint16): 2
	"b0 6e756d5f726571735f7065725f736563" + //           "num_reqs_per_sec":
	"81" + //             map of 1
	"ce6b13176c 02" + //               1796413292 (uint32): 2
	"b0 6e756d5f6661696c5f7065725f736563" + //           "num_fail_per_sec":
	"81" + //             map of 1
	"ce6b13176c 02" + //               1796413292 (uint32): 2
	"ab 73746174735f746f74616c" + //     "stats_total":
	"8e" + //       map of 14
	"a4 6e616d65 aa 41676772656761746564" + //         "name": "Aggregated"
	"a6 6d6574686f64 a0" + //         "method": ""
	"b6 6c6173745f726571756573745f74696d657374616d70 cb41dac4c5db300001" + //         "last_request_timestamp": 1796413292.7500002 (float64)
	"aa 73746172745f74696d65 cb41dac4c5daa00000" + //         "start_time": 1796413290.5 (float64)
	"ac 6e756d5f7265717565737473 04" + //         "num_requests": 4
	"b1 6e756d5f6e6f6e655f7265717565737473 00" + //         "num_none_requests": 0
	"ac 6e756d5f6661696c75726573 02" + //         "num_failures": 2
	"b3 746f74616c5f726573706f6e73655f74696d65 cb40a473456d5cfaad" + //         "total_response_time": 2617.6356 (float64)
	"b1 6d61785f726573706f6e73655f74696d65 cb40934a456d5cfaad" + //         "max_response_time": 1234.5678 (float64)
	"b1 6d696e5f726573706f6e73655f74696d65 cb400c000000000000" + //         "min_response_time": 3.5 (float64)
	"b4 746f74616c5f636f6e74656e745f6c656e677468 cd03f2" + //         "total_content_length": 1010 (uint16)
	"ae 726573706f6e73655f74696d6573" + //         "response_times":
	"83" + //           map of 3
	"04 01" + //             4: 1
	"cc8c 01" + //             140 (uint8): 1
	"cd04b0 02" + //             1200 (uint16): 2
	"b0 6e756d5f726571735f7065725f736563" + //         "num_reqs_per_sec":
	"83" + //           map of 3
	"ce6b13176a 01" + //             1796413290 (uint32): 1
	"ce6b13176b 01" + //             1796413291 (uint32): 1
	"ce6b13176c 02" + //             1796413292 (uint32): 2
	"b0 6e756d5f6661696c5f7065725f736563" + //         "num_fail_per_sec":
	"81" + //           map of 1
	"ce6b13176c 02" + //             1796413292 (uint32): 2
	"a6 6572726f7273" + //     "errors":
	"81" + //       map of 1
	"d940 37316531326533653762373366336466336536376439663934353166616430323466333966633536306534653230393236306630313432623735356235623164" + //         "71e12e3e7b73f3df3e67d9f9451fad024f39fc560e4e209260f0142b755b5b1d":
	"86" + //           map of 6
	"a4 6e616d65 a2 2f79" + //             "name": "/y"
	"a6 6d6574686f64 a4 504f5354" + //             "method": "POST"
	"a5 6572726f72 b7 56616c75654572726f722827626164207468696e672729" + //             "error": "ValueError('bad thing')"
	"ab 6f6363757272656e636573 02" + //             "occurrences": 2
	"aa 66697273745f7365656e cb41dac4c5db000000" + //             "first_seen": 1796413292.0 (float64)
	"a9 6c6173745f7365656e cb41dac4c5db300001" + //             "last_seen": 1796413292.7500002 (float64)
	"b2 757365725f636c61737365735f636f756e74" + //     "user_classes_count":
	"82" + //       map of 2
	"a5 44756d6d79 01" + //         "Dummy": 1
	"a5 4f74686572 01" + //         "Other": 1
	"aa 757365725f636f756e74 02" + //     "user_count": 2
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// goldenStatsEmptyHex (373 bytes) is a report of an interval with no requests:
// empty stats and errors, a zero stats_total whose min_response_time and
// last_request_timestamp are nil.
const goldenStatsEmptyHex = "" +
	"93" + // array of 3
	"a5 7374617473" + //   "stats"
	"85" + //   map of 5
	"a5 7374617473" + //     "stats":
	"90" + //       array of 0
	"ab 73746174735f746f74616c" + //     "stats_total":
	"8e" + //       map of 14
	"a4 6e616d65 aa 41676772656761746564" + //         "name": "Aggregated"
	"a6 6d6574686f64 a0" + //         "method": ""
	"b6 6c6173745f726571756573745f74696d657374616d70 c0" + //         "last_request_timestamp": nil
	"aa 73746172745f74696d65 cb41dac4c5db600000" + //         "start_time": 1796413293.5 (float64)
	"ac 6e756d5f7265717565737473 00" + //         "num_requests": 0
	"b1 6e756d5f6e6f6e655f7265717565737473 00" + //         "num_none_requests": 0
	"ac 6e756d5f6661696c75726573 00" + //         "num_failures": 0
	"b3 746f74616c5f726573706f6e73655f74696d65 cb0000000000000000" + //         "total_response_time": 0.0 (float64)
	"b1 6d61785f726573706f6e73655f74696d65 cb0000000000000000" + //         "max_response_time": 0.0 (float64)
	"b1 6d696e5f726573706f6e73655f74696d65 c0" + //         "min_response_time": nil
	"b4 746f74616c5f636f6e74656e745f6c656e677468 00" + //         "total_content_length": 0
	"ae 726573706f6e73655f74696d6573" + //         "response_times":
	"80" + //           map of 0
	"b0 6e756d5f726571735f7065725f736563" + //         "num_reqs_per_sec":
	"80" + //           map of 0
	"b0 6e756d5f6661696c5f7065725f736563" + //         "num_fail_per_sec":
	"80" + //           map of 0
	"a6 6572726f7273" + //     "errors":
	"80" + //       map of 0
	"b2 757365725f636c61737365735f636f756e74" + //     "user_classes_count":
	"80" + //       map of 0
	"aa 757365725f636f756e74 00" + //     "user_count": 0
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

func TestEncodeGolden(t *testing.T) {
	cases := []struct {
		name   string
		encode func() ([]byte, error)
		want   string
		size   int
	}{
		{"client_ready", func() ([]byte, error) {
			return encodeClientReady(testNodeID)
		}, goldenClientReadyHex, 56},
		{"heartbeat", func() ([]byte, error) {
			return encodeHeartbeat(testNodeID, stateRunning, 12.5, 123456789)
		}, goldenHeartbeatHex, 120},
		{"spawning", func() ([]byte, error) {
			return encodeNilMessage(typeSpawning, testNodeID)
		}, goldenSpawningHex, 52},
		{"spawning_complete", func() ([]byte, error) {
			return encodeSpawningComplete(testNodeID, map[string]int64{"Other": 0, "Dummy": 3})
		}, goldenSpawningCompleteHex, 107},
		{"spawning_complete empty", func() ([]byte, error) {
			return encodeSpawningComplete(testNodeID, nil)
		}, goldenSpawningCompleteEmptyHex, 93},
		{"client_stopped", func() ([]byte, error) {
			return encodeNilMessage(typeClientStopped, testNodeID)
		}, goldenClientStoppedHex, 58},
		{"quit", func() ([]byte, error) {
			return encodeNilMessage(typeQuit, testNodeID)
		}, goldenQuitHex, 48},
		{"exception", func() ([]byte, error) {
			return encodeException(testNodeID, `task "foo" panicked: boom`, "main.foo()\n\t/src/main.go:12")
		}, goldenExceptionHex, 121},
		{"custom", func() ([]byte, error) {
			return encodeCustomMessage("my_msg", testNodeID, map[string]any{"b": []any{int64(1), "x", true}, "a": 2.5})
		}, goldenCustomHex, 76},
		{"stats", func() ([]byte, error) {
			return encodeStats(testNodeID, goldenSnapshot(), map[string]int64{"Other": 1, "Dummy": 1})
		}, goldenStatsHex, 1195},
		{"stats empty", func() ([]byte, error) {
			return encodeStats(testNodeID, emptySnapshot(), nil)
		}, goldenStatsEmptyHex, 373},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.encode()
			require.NoError(t, err)

			assert.Equal(t, hex.EncodeToString(hexBytes(t, tc.want)), hex.EncodeToString(got))
			assert.Len(t, got, tc.size)
			assert.NoError(t, checkOutgoingFrame(got))
		})
	}
}

// statsEntries returns the entries of a parsed stats frame, stats_total last.
func statsEntries(t *testing.T, frame mpValue) []mpValue {
	t.Helper()
	require.Len(t, frame.items, 3)
	data := frame.items[1]
	list, ok := data.field("stats")
	require.True(t, ok)
	total, ok := data.field("stats_total")
	require.True(t, ok)
	return append(append([]mpValue(nil), list.items...), total)
}

func TestEncodeStatsWireTypes(t *testing.T) {
	// Locust reads times as float seconds or milliseconds. Every time the
	// worker sends is a float64, and a missing one is nil.
	timeKeys := []string{"last_request_timestamp", "start_time", "total_response_time", "max_response_time", "min_response_time"}
	for _, golden := range []string{goldenStatsHex, goldenStatsEmptyHex} {
		frame, err := parseMsgpack(hexBytes(t, golden))
		require.NoError(t, err)

		for _, entry := range statsEntries(t, frame) {
			assert.Len(t, entry.pairs, 14)
			for _, key := range timeKeys {
				v, ok := entry.field(key)
				require.True(t, ok, key)
				if v.kind != mpNil {
					assert.Equal(t, mpFloat64, v.kind, key)
				}
			}
			for _, key := range []string{"response_times", "num_reqs_per_sec", "num_fail_per_sec"} {
				counts, _ := entry.field(key)
				for _, pair := range counts.pairs {
					assert.Equal(t, mpInt, pair.key.kind, key)
				}
			}
		}
	}
}

func TestEncodeStatsEmptyReport(t *testing.T) {
	frame, err := parseMsgpack(hexBytes(t, goldenStatsEmptyHex))
	require.NoError(t, err)
	data := frame.items[1]

	list, _ := data.field("stats")
	assert.Equal(t, mpArray, list.kind)
	assert.Empty(t, list.items)
	errs, _ := data.field("errors")
	assert.Equal(t, mpMap, errs.kind)
	assert.Empty(t, errs.pairs)
	total, _ := data.field("stats_total")
	minimum, _ := total.field("min_response_time")
	assert.Equal(t, mpNil, minimum.kind)
	last, _ := total.field("last_request_timestamp")
	assert.Equal(t, mpNil, last.kind)
	start, _ := total.field("start_time")
	assert.Equal(t, unixSeconds(goldenStart.Add(3*time.Second)), start.float)
}

func TestEncodeRepairsInvalidUTF8(t *testing.T) {
	cases := []struct {
		name   string
		encode func() ([]byte, error)
	}{
		{"exception", func() ([]byte, error) {
			return encodeException(testNodeID, "bad \xff msg", "tb \xfe\xfd")
		}},
		{"spawning_complete class", func() ([]byte, error) {
			return encodeSpawningComplete(testNodeID, map[string]int64{"User\xc3": 1})
		}},
		{"custom type", func() ([]byte, error) {
			return encodeCustomMessage("my\xffmsg", testNodeID, nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := tc.encode()
			require.NoError(t, err)
			assert.NoError(t, checkOutgoingFrame(frame))
		})
	}
}

func TestEncodeExceptionText(t *testing.T) {
	frame, err := encodeException(testNodeID, "bad \xff msg", "tb \xfe\xfd")
	require.NoError(t, err)

	msg, err := decodeMessage(frame)
	require.NoError(t, err)
	text, _ := mapField(msg.Data, "msg")
	assert.Equal(t, "bad \ufffd msg", text)
	traceback, _ := mapField(msg.Data, "traceback")
	assert.Equal(t, "tb \ufffd", traceback)
}
