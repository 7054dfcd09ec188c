package boomer

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// masterFrameSeeds are the master frames of decode_test.go, as fuzz seeds.
var masterFrameSeeds = []string{
	masterAckHex,
	masterAckNilHex,
	masterHeartbeatHex,
	masterSpawnHex,
	masterSpawnOldHex,
	masterSpawnFullHex,
	masterSpawningCompleteHex,
	masterStopHex,
	masterQuitHex,
	masterReconnectHex,
	masterCustomHex,
	masterAckRawHex,
	masterAckBinHex,
}

// FuzzDecodeMessage feeds frames to the decoder and to what the worker does
// next with ack and spawn data. Besides not panicking, a frame that decodes
// must fail with errTrailingBytes once a byte is appended, and an int read
// from a float must be that float.
func FuzzDecodeMessage(f *testing.F) {
	for _, seed := range masterFrameSeeds {
		frame, err := hex.DecodeString(strings.ReplaceAll(seed, " ", ""))
		if err != nil {
			f.Fatalf("seed %q: %v", seed[:20], err)
		}
		f.Add(frame)
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		msg, err := decodeMessage(frame)
		if err != nil {
			return
		}

		longer := append(frame[:len(frame):len(frame)], 0xc0)
		if _, err := decodeMessage(longer); !errors.Is(err, errTrailingBytes) {
			t.Fatalf("frame %x decodes, but with a byte appended the error is %v, expected errTrailingBytes", frame, err)
		}

		switch msg.Type {
		case typeSpawn:
			spawn, err := parseSpawn(msg.Data)
			if err != nil {
				return
			}
			checkSpawn(t, spawn)
		case typeAck:
			index, ok := mapField(msg.Data, "index")
			if !ok {
				return
			}
			checkAsInt(t, index)
		}
	})
}

// checkSpawn fails the test when a parsed spawn holds a value the worker
// cannot use.
func checkSpawn(t *testing.T, spawn spawnMessage) {
	t.Helper()
	if spawn.stopTimeout < 0 {
		t.Fatalf("stop timeout %v is negative", spawn.stopTimeout)
	}
	for class, n := range spawn.targets {
		if n < 0 {
			t.Fatalf("target of class %q is %d", class, n)
		}
	}
}

// checkAsInt fails the test when asInt accepts a float and returns another
// number.
func checkAsInt(t *testing.T, v any) {
	t.Helper()
	n, ok := asInt(v)
	if f, isFloat := v.(float64); ok && isFloat && float64(n) != f {
		t.Fatalf("asInt(%v) = %d", f, n)
	}
}

// FuzzParseSpawn builds spawn data from numbers that a master could send in
// any numeric form and checks what parseSpawn makes of them.
func FuzzParseSpawn(f *testing.F) {
	f.Add(1796413290.6595263, "Dummy", 3.0, "http://127.0.0.1:8089", 0.0)
	f.Add(1.0, "Other", 0.0, "", 2.5)
	f.Add(0.0, "", -1.0, "", -1.0)
	f.Add(1e300, "x", 1.0, "", 1e30)
	f.Add(1.0, "x", 1e19, "", math.Inf(1))
	f.Add(math.Inf(1), "x", math.Exp2(63), "", math.NaN())

	f.Fuzz(func(t *testing.T, timestamp float64, class string, count float64, host string, stopTimeout float64) {
		data := map[string]any{
			"timestamp":          timestamp,
			"user_classes_count": map[string]any{class: count},
			"host":               host,
			"stop_timeout":       stopTimeout,
		}
		spawn, err := parseSpawn(data)

		validCount := count >= 0 && count == math.Trunc(count) && count < math.Exp2(63)
		if !validCount {
			if err == nil {
				t.Fatalf("count %v accepted as %d", count, spawn.targets[class])
			}
			return
		}
		if err != nil {
			t.Fatalf("valid spawn rejected: %v", err)
		}
		checkSpawn(t, spawn)
		if got := spawn.targets[class]; float64(got) != count {
			t.Fatalf("count %v parsed as %d", count, got)
		}
		if spawn.host != host {
			t.Fatalf("host %q parsed as %q", host, spawn.host)
		}
		if stopTimeout > 0 && stopTimeout < 1e6 {
			want := time.Duration(stopTimeout * float64(time.Second))
			if spawn.stopTimeout != want {
				t.Fatalf("stop_timeout %v parsed as %v, expected %v", stopTimeout, spawn.stopTimeout, want)
			}
		}
	})
}
