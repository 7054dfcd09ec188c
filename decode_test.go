package boomer

import (
	"encoding/hex"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Frames from the master, packed by Locust 2.47.0's own code
// (locust.rpc.protocol.Message.serialize) unless a comment says otherwise.

// masterAckHex (54 bytes) is ack with the worker index, as Locust >= 2.11
// sends it.
const masterAckHex = "" +
	"93" + // array of 3
	"a3 61636b" + //   "ack"
	"81" + //   map of 1
	"a5 696e646578 00" + //     "index": 0
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterAckNilHex (47 bytes) is ack with nil data, as Locust 2.10 sends it.
const masterAckNilHex = "" +
	"93" + // array of 3
	"a3 61636b" + //   "ack"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterHeartbeatHex (53 bytes) is the heartbeat reply of a Locust >= 2.19
// master.
const masterHeartbeatHex = "" +
	"93" + // array of 3
	"a9 686561727462656174" + //   "heartbeat"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterSpawnHex (313 bytes) is a spawn of Locust 2.47: float timestamp and
// stop_timeout, nil host, and parsed_options of every value type (trimmed from
// the 56 options a master sends).
const masterSpawnHex = "" +
	"93" + // array of 3
	"a5 737061776e" + //   "spawn"
	"85" + //   map of 5
	"a9 74696d657374616d70 cb41dac4c5daaa35ae" + //     "timestamp": 1796413290.6595263 (float64)
	"b2 757365725f636c61737365735f636f756e74" + //     "user_classes_count":
	"82" + //       map of 2
	"a5 44756d6d79 03" + //         "Dummy": 3
	"a5 4f74686572 00" + //         "Other": 0
	"a4 686f7374 c0" + //     "host": nil
	"ac 73746f705f74696d656f7574 cb0000000000000000" + //     "stop_timeout": 0.0 (float64)
	"ae 7061727365645f6f7074696f6e73" + //     "parsed_options":
	"8c" + //       map of 12
	"aa 6c6f6375737466696c65 ad 6c6f6375737466696c652e7079" + //         "locustfile": "locustfile.py"
	"a4 686f7374 c0" + //         "host": nil
	"a9 6e756d5f7573657273 06" + //         "num_users": 6
	"aa 737061776e5f72617465 cb4000000000000000" + //         "spawn_rate": 2.0 (float64)
	"a8 72756e5f74696d65 0a" + //         "run_time": 10
	"a8 686561646c657373 c3" + //         "headless": true
	"a9 6175746f7374617274 c2" + //         "autostart": false
	"a4 74616773" + //         "tags":
	"92" + //           array of 2
	"a1 61" + //             "a"
	"a1 62" + //             "b"
	"ac 6578636c7564655f74616773 c0" + //         "exclude_tags": nil
	"ac 757365725f636c6173736573" + //         "user_classes":
	"90" + //           array of 0
	"ac 73746f705f74696d656f7574 00" + //         "stop_timeout": 0
	"ad 6d795f637573746f6d5f617267" + //         "my_custom_arg":
	"92" + //           array of 2
	"92" + //             array of 2
	"01" + //               1
	"c0" + //               nil
	"81" + //             map of 1
	"a1 6b c2" + //               "k": false
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterSpawnOldHex (136 bytes) is a spawn in the shape of Locust 2.12: a host
// string, stop_timeout nil and no parsed_options.
const masterSpawnOldHex = "" +
	"93" + // array of 3
	"a5 737061776e" + //   "spawn"
	"84" + //   map of 4
	"a9 74696d657374616d70 cb41dac4c5dad00000" + //     "timestamp": 1796413291.25 (float64)
	"b2 757365725f636c61737365735f636f756e74" + //     "user_classes_count":
	"81" + //       map of 1
	"a5 44756d6d79 01" + //         "Dummy": 1
	"a4 686f7374 b5 687474703a2f2f3132372e302e302e313a38303839" + //     "host": "http://127.0.0.1:8089"
	"ac 73746f705f74696d656f7574 c0" + //     "stop_timeout": nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterSpawningCompleteHex (73 bytes) is the spawning_complete that a Locust
// >= 2.29 master sends after a ramp.
const masterSpawningCompleteHex = "" +
	"93" + // array of 3
	"b1 737061776e696e675f636f6d706c657465" + //   "spawning_complete"
	"81" + //   map of 1
	"aa 757365725f636f756e74 06" + //     "user_count": 6
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterStopHex (48 bytes) is stop.
const masterStopHex = "" +
	"93" + // array of 3
	"a4 73746f70" + //   "stop"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterQuitHex (48 bytes) is quit.
const masterQuitHex = "" +
	"93" + // array of 3
	"a4 71756974" + //   "quit"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterReconnectHex (53 bytes) is reconnect, sent when the master could not
// decode a frame.
const masterReconnectHex = "" +
	"93" + // array of 3
	"a9 7265636f6e6e656374" + //   "reconnect"
	"c0" + //   nil
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterCustomHex (73 bytes) is a custom message whose maps have int keys.
const masterCustomHex = "" +
	"93" + // array of 3
	"a6 6d795f6d7367" + //   "my_msg"
	"83" + //   map of 3
	"01 a3 6f6e65" + //     1: "one"
	"fe" + //     -2:
	"93" + //       array of 3
	"c0" + //         nil
	"c3" + //         true
	"cb4004000000000000" + //         2.5 (float64)
	"a1 73" + //     "s":
	"81" + //       map of 1
	"03 04" + //         3: 4
	testNodeIDHex //   "myhost_0123456789abcdef0123456789abcdef"

// masterAckRawHex (55 bytes) is an ack packed by msgpack < 1.0
// (use_bin_type=False): text in the old raw form, which has no str8, so the
// 39-byte node id is a str16.
const masterAckRawHex = "" +
	"93" + // array of 3
	"a3 61636b" + //   "ack"
	"81" + //   map of 1
	"a5 696e646578 01" + //     "index": 1
	"da0027 6d79686f73745f3031323334353637383961626364656630313233343536373839616263646566" //   "myhost_0123456789abcdef0123456789abcdef"

// masterAckBinHex (56 bytes) is an ack whose text is all bin.
const masterAckBinHex = "" +
	"93" + // array of 3
	"c403 61636b" + //   bin b'ack'
	"81" + //   map of 1
	"c405 696e646578 02" + //     bin b'index': 2
	"c427 6d79686f73745f3031323334353637383961626364656630313233343536373839616263646566" //   bin b'myhost_0123456789abcdef0123456789abcdef'

// masterSpawnFullHex (896 bytes) is a spawn of Locust 2.47.0 with all 56
// parsed_options of `locust -f locustfile.py --master --headless -u 6 -r 2
// -t 10s --tags a b`, packed by Locust's own Message.serialize.
const masterSpawnFullHex = "93a5737061776e85a974696d657374616d70cb41dac4c5daaa35aeb2757365725f636c61737365735f636f756e7481a544756d6d7906a4686f7374c0ac73746f705f74696d656f7574cb0000000000000000ae7061727365645f6f7074696f6e73de0038aa6c6f6375737466696c65ad6c6f6375737466696c652e7079a6636f6e666967c0a4686f7374c0a96e756d5f757365727306aa737061776e5f72617465cb4000000000000000a872756e5f74696d650aad6c6973745f636f6d6d616e6473c2ac636f6e6669675f7573657273c0a87765625f686f7374a0b57765625f686f73745f646973706c61795f6e616d65c0a87765625f706f7274cd1f99a8686561646c657373c3a96175746f7374617274c2a86175746f71756974ffa76865616466756cc2a87765625f61757468c0a97765625f6c6f67696ec2a8746c735f63657274a0a7746c735f6b6579a0ac636c6173735f7069636b6572c2aa6275696c645f70617468a0a96c65676163795f7569c2a66d6173746572c3b06d61737465725f62696e645f686f7374a12ab06d61737465725f62696e645f706f7274cd15b5ae6578706563745f776f726b65727301b76578706563745f776f726b6572735f6d61785f7761697400b2656e61626c655f726562616c616e63696e67c2ad6578706563745f736c61766573c0a6776f726b6572c2a970726f636573736573c0a5736c617665c0ab6d61737465725f686f7374a93132372e302e302e31ab6d61737465725f706f7274cd15b5ad7765625f626173655f70617468a0a47461677392a161a162ac6578636c7564655f74616773c0aa6373765f707265666978c0b573746174735f686973746f72795f656e61626c6564c2ab7072696e745f7374617473c2ac6f6e6c795f73756d6d617279c2ab72657365745f7374617473c2a968746d6c5f66696c65c0a46a736f6ec2a96a736f6e5f66696c65c0ae736b69705f6c6f675f7365747570c2a86c6f676c6576656ca4494e464fa76c6f6766696c65c0af73686f775f7461736b5f726174696fc2b473686f775f7461736b5f726174696f5f6a736f6ec2b2657869745f636f64655f6f6e5f6572726f7201ac73746f705f74696d656f757400ad657175616c5f77656967687473c2a770726f66696c65c0a46f74656cc2ac757365725f636c617373657390d9276d79686f73745f3031323334353637383961626364656630313233343536373839616263646566"

func TestDecodeMasterMessages(t *testing.T) {
	cases := []struct {
		name     string
		hex      string
		wantType string
		wantData any
	}{
		{"ack with index", masterAckHex, typeAck, map[string]any{"index": int64(0)}},
		{"ack nil", masterAckNilHex, typeAck, nil},
		{"heartbeat", masterHeartbeatHex, typeHeartbeat, nil},
		{"spawn 2.47", masterSpawnHex, typeSpawn, map[string]any{
			"timestamp":          1796413290.6595263,
			"user_classes_count": map[string]any{"Dummy": int64(3), "Other": int64(0)},
			"host":               nil,
			"stop_timeout":       0.0,
			"parsed_options": map[string]any{
				"locustfile":    "locustfile.py",
				"host":          nil,
				"num_users":     int64(6),
				"spawn_rate":    2.0,
				"run_time":      int64(10),
				"headless":      true,
				"autostart":     false,
				"tags":          []any{"a", "b"},
				"exclude_tags":  nil,
				"user_classes":  []any{},
				"stop_timeout":  int64(0),
				"my_custom_arg": []any{[]any{int64(1), nil}, map[string]any{"k": false}},
			},
		}},
		{"spawn 2.12", masterSpawnOldHex, typeSpawn, map[string]any{
			"timestamp":          1796413291.25,
			"user_classes_count": map[string]any{"Dummy": int64(1)},
			"host":               "http://127.0.0.1:8089",
			"stop_timeout":       nil,
		}},
		{"spawning_complete", masterSpawningCompleteHex, typeSpawningComplete, map[string]any{"user_count": int64(6)}},
		{"stop", masterStopHex, typeStop, nil},
		{"quit", masterQuitHex, typeQuit, nil},
		{"reconnect", masterReconnectHex, typeReconnect, nil},
		{"custom int keys", masterCustomHex, "my_msg", map[any]any{
			int64(1):  "one",
			int64(-2): []any{nil, true, 2.5},
			"s":       map[any]any{int64(3): int64(4)},
		}},
		{"ack old raw text", masterAckRawHex, typeAck, map[string]any{"index": int64(1)}},
		{"ack bin text", masterAckBinHex, typeAck, map[string]any{"index": int64(2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := decodeMessage(hexBytes(t, tc.hex))
			require.NoError(t, err)
			assert.Equal(t, tc.wantType, msg.Type)
			assert.Equal(t, tc.wantData, msg.Data)
			assert.Equal(t, testNodeID, msg.NodeID)
		})
	}
}

func TestDecodeSpawnAllOptions(t *testing.T) {
	msg, err := decodeMessage(hexBytes(t, masterSpawnFullHex))
	require.NoError(t, err)
	require.Equal(t, typeSpawn, msg.Type)

	options, ok := mapField(msg.Data, "parsed_options")
	require.True(t, ok)
	assert.Len(t, options, 56)

	spawn, err := parseSpawn(msg.Data)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"Dummy": 6}, spawn.targets)
	assert.Equal(t, 1796413290.6595263, spawn.timestamp)
	assert.Zero(t, spawn.stopTimeout)
	assert.Empty(t, spawn.host)
}

func TestDecodeNilNodeID(t *testing.T) {
	msg, err := decodeMessage(hexBytes(t, "93 a471756974 c0 c0"))
	require.NoError(t, err)
	assert.Equal(t, typeQuit, msg.Type)
	assert.Empty(t, msg.NodeID)
}

func TestDecodeNestingLimit(t *testing.T) {
	// The data element is at depth 0, so maxDecodeDepth nested arrays put
	// the innermost nil exactly at the limit.
	nested := func(levels int) []byte {
		frame := "93 a6 6d795f6d7367 " + strings.Repeat("91", levels) + " c0 a16e"
		return hexBytes(t, frame)
	}

	_, err := decodeMessage(nested(maxDecodeDepth))
	assert.NoError(t, err)

	_, err = decodeMessage(nested(maxDecodeDepth + 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested deeper than 64 levels")

	_, err = decodeMessage(nested(100_000))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested deeper than 64 levels")
}

func TestDecodeMessageRejects(t *testing.T) {
	quit := hexBytes(t, masterQuitHex)
	cases := []struct {
		name string
		hex  string
		want string
	}{
		{"empty frame", "", "message is not a msgpack array"},
		{"map", "81 a474797065 a471756974", "message is not a msgpack array"},
		{"str", "a471756974", "message is not a msgpack array"},
		{"nil", "c0", "msgpack nil, expected an array"},
		{"array of 2", "92 a471756974 c0", "message array has 2 elements, expected 3"},
		{"array of 4", "94 a471756974 c0 a16e c0", "message array has 4 elements, expected 3"},
		{"type int", "93 07 c0 a16e", "message type: expected text, found msgpack code 0x07"},
		{"type nil", "93 c0 c0 a16e", "message type: expected text, found msgpack code 0xc0"},
		{"type ext", "93 d4ff01 c0 a16e", "message type: expected text, found msgpack code 0xd4"},
		{"node_id int", "93 a471756974 c0 01", "quit node_id: expected text"},
		{"ext timestamp in data", "93 a6 6d795f6d7367 d6ff 00000001 a16e", "my_msg data: unsupported msgpack code 0xd6"},
		{"ext8 in data", "93 a6 6d795f6d7367 c701 05 00 a16e", "unsupported msgpack code 0xc7"},
		{"never used code", "93 a6 6d795f6d7367 c1 a16e", "unsupported msgpack code 0xc1"},
		{"map key array", "93 a6 6d795f6d7367 81 9101 01 a16e", "map key of type []interface {} is not supported"},
		{"truncated data", "93 a5737061776e 82 a174 01", "spawn data"},
		{"truncated node_id", hex.EncodeToString(quit[:len(quit)-5]), "quit node_id"},
		{"missing node_id", "93 a471756974 c0", "quit node_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeMessage(hexBytes(t, tc.hex))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDecodeTrailingBytes(t *testing.T) {
	frame := append(hexBytes(t, masterQuitHex), 0xc0)

	msg, err := decodeMessage(frame)
	require.Error(t, err)
	assert.ErrorIs(t, err, errTrailingBytes)
	assert.Contains(t, err.Error(), "(1 bytes)")
	assert.Equal(t, typeQuit, msg.Type)
}

// allocatedBytes returns the fewest heap bytes that one of a few calls of f
// allocated. Taking the minimum hides allocations by other goroutines.
func allocatedBytes(f func()) uint64 {
	var least uint64 = math.MaxUint64
	for i := 0; i < 5; i++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

func TestDecodeHugeLengthHeaders(t *testing.T) {
	// Each frame claims 2^31 elements or bytes in a few bytes. The decoder
	// must reject it by comparing the claim with the bytes left, before it
	// allocates anything of that size.
	cases := []struct {
		name string
		hex  string
		want string
	}{
		{"array32 data", "93 a3616263 dd80000000", "array of 2147483648 elements is longer than the 0 bytes left"},
		{"map32 data", "93 a3616263 df80000000", "map of 2147483648 entries is longer than the 0 bytes left"},
		{"array16 data", "93 a3616263 dcffff c0", "array of 65535 elements is longer than the 1 bytes left"},
		{"str32 data", "93 a3616263 db80000000", "text of 2147483648 bytes is longer than the 0 bytes left"},
		{"bin32 data", "93 a3616263 c680000000", "text of 2147483648 bytes is longer than the 0 bytes left"},
		{"bin32 max data", "93 a3616263 c6ffffffff", "text of 4294967295 bytes is longer than the 0 bytes left"},
		{"str32 type", "93 db80000000 c0 a16e", "message type: text of 2147483648 bytes"},
		{"bin32 type", "93 c680000000 c0 a16e", "message type: text of 2147483648 bytes"},
		{"bin32 node_id", "93 a471756974 c0 c680000000", "quit node_id: text of 2147483648 bytes"},
		{"array32 nested", "93 a3616263 91 91 dd80000000", "array of 2147483648 elements"},
		{"map32 as map key", "93 a3616263 81 df80000000", "map of 2147483648 entries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frame := hexBytes(t, tc.hex)
			var err error
			allocated := allocatedBytes(func() {
				_, err = decodeMessage(frame)
			})

			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, allocated, uint64(64<<10), "bytes allocated to reject a %d-byte frame", len(frame))
		})
	}
}

func TestParseSpawn(t *testing.T) {
	spawnData := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{
			"timestamp":          1796413290.6595263,
			"user_classes_count": map[string]any{"Dummy": int64(3), "Other": int64(0)},
			"host":               nil,
			"stop_timeout":       0.0,
		}
		if change != nil {
			change(m)
		}
		return m
	}
	cases := []struct {
		name    string
		data    any
		want    spawnMessage
		wantErr string
	}{
		{"valid", spawnData(nil), spawnMessage{
			timestamp: 1796413290.6595263,
			targets:   map[string]int64{"Dummy": 3, "Other": 0},
		}, ""},
		{"host and stop_timeout", spawnData(func(m map[string]any) {
			m["host"] = "http://127.0.0.1:8089"
			m["stop_timeout"] = 2.5
		}), spawnMessage{
			timestamp:   1796413290.6595263,
			targets:     map[string]int64{"Dummy": 3, "Other": 0},
			host:        "http://127.0.0.1:8089",
			stopTimeout: 2500 * time.Millisecond,
		}, ""},
		{"stop_timeout nil", spawnData(func(m map[string]any) { m["stop_timeout"] = nil }), spawnMessage{
			timestamp: 1796413290.6595263,
			targets:   map[string]int64{"Dummy": 3, "Other": 0},
		}, ""},
		{"stop_timeout missing", spawnData(func(m map[string]any) { delete(m, "stop_timeout") }), spawnMessage{
			timestamp: 1796413290.6595263,
			targets:   map[string]int64{"Dummy": 3, "Other": 0},
		}, ""},
		{"stop_timeout int", spawnData(func(m map[string]any) { m["stop_timeout"] = int64(3) }), spawnMessage{
			timestamp:   1796413290.6595263,
			targets:     map[string]int64{"Dummy": 3, "Other": 0},
			stopTimeout: 3 * time.Second,
		}, ""},
		{"stop_timeout huge", spawnData(func(m map[string]any) { m["stop_timeout"] = 1e30 }), spawnMessage{
			timestamp:   1796413290.6595263,
			targets:     map[string]int64{"Dummy": 3, "Other": 0},
			stopTimeout: math.MaxInt64 / time.Second * time.Second,
		}, ""},
		{"stop_timeout negative", spawnData(func(m map[string]any) { m["stop_timeout"] = -1.0 }), spawnMessage{
			timestamp: 1796413290.6595263,
			targets:   map[string]int64{"Dummy": 3, "Other": 0},
		}, ""},
		{"int timestamp", spawnData(func(m map[string]any) { m["timestamp"] = int64(1796413290) }), spawnMessage{
			timestamp: 1796413290,
			targets:   map[string]int64{"Dummy": 3, "Other": 0},
		}, ""},
		{"float count", spawnData(func(m map[string]any) {
			m["user_classes_count"] = map[string]any{"Dummy": 2.0}
		}), spawnMessage{
			timestamp: 1796413290.6595263,
			targets:   map[string]int64{"Dummy": 2},
		}, ""},
		{"no classes", spawnData(func(m map[string]any) { m["user_classes_count"] = map[string]any{} }), spawnMessage{
			timestamp: 1796413290.6595263,
			targets:   map[string]int64{},
		}, ""},
		{"missing timestamp", spawnData(func(m map[string]any) { delete(m, "timestamp") }), spawnMessage{}, "timestamp is <nil>"},
		{"str timestamp", spawnData(func(m map[string]any) { m["timestamp"] = "1796413290" }), spawnMessage{}, "timestamp is string"},
		{"negative count", spawnData(func(m map[string]any) {
			m["user_classes_count"] = map[string]any{"Dummy": int64(-1)}
		}), spawnMessage{}, `user_classes_count["Dummy"] is -1`},
		{"fractional count", spawnData(func(m map[string]any) {
			m["user_classes_count"] = map[string]any{"Dummy": 1.5}
		}), spawnMessage{}, `user_classes_count["Dummy"] is 1.5`},
		{"count 2^63 float", spawnData(func(m map[string]any) {
			m["user_classes_count"] = map[string]any{"Dummy": math.Exp2(63)}
		}), spawnMessage{}, `user_classes_count["Dummy"]`},
		{"count str", spawnData(func(m map[string]any) {
			m["user_classes_count"] = map[string]any{"Dummy": "3"}
		}), spawnMessage{}, `user_classes_count["Dummy"] is 3`},
		{"1.x master shape", map[string]any{"num_users": int64(6), "spawn_rate": 2.0, "host": nil, "stop_timeout": nil}, spawnMessage{}, "masters before Locust 2.0 are not supported"},
		{"counts missing", spawnData(func(m map[string]any) { delete(m, "user_classes_count") }), spawnMessage{}, "masters before Locust 2.0 are not supported"},
		{"counts nil", spawnData(func(m map[string]any) { m["user_classes_count"] = nil }), spawnMessage{}, "user_classes_count is <nil>"},
		{"int class names", spawnData(func(m map[string]any) {
			m["user_classes_count"] = map[any]any{int64(1): int64(1)}
		}), spawnMessage{}, "user_classes_count is map[interface {}]interface {}"},
		{"nil data", nil, spawnMessage{}, "data is <nil>, expected a map"},
		{"list data", []any{int64(1)}, spawnMessage{}, "data is []interface {}, expected a map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSpawn(tc.data)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAsInt(t *testing.T) {
	cases := []struct {
		name   string
		in     any
		want   int64
		wantOK bool
	}{
		{"int64", int64(-7), -7, true},
		{"uint64", uint64(7), 7, true},
		{"uint64 above int64", uint64(math.MaxUint64), 0, false},
		{"whole float", 3.0, 3, true},
		{"fractional float", 3.5, 0, false},
		{"float 2^63", math.Exp2(63), 0, false},
		{"float -2^63", -math.Exp2(63), math.MinInt64, true},
		{"float below -2^63", -math.Exp2(64), 0, false},
		{"NaN", math.NaN(), 0, false},
		{"infinity", math.Inf(1), 0, false},
		{"str", "3", 0, false},
		{"nil", nil, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := asInt(tc.in)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMapFieldNonMap(t *testing.T) {
	cases := []struct {
		name string
		data any
	}{
		{"nil", nil},
		{"int keys", map[any]any{int64(1): "index"}},
		{"list", []any{"index"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := mapField(tc.data, "index")
			assert.False(t, ok)
			assert.Nil(t, v)
		})
	}
}
