package boomer

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Message types of Locust's master/worker protocol (Locust 2.x, locust/runners.py).
const (
	typeClientReady      = "client_ready"
	typeAck              = "ack"
	typeHeartbeat        = "heartbeat"
	typeSpawn            = "spawn"
	typeSpawning         = "spawning"
	typeSpawningComplete = "spawning_complete"
	typeStats            = "stats"
	typeStop             = "stop"
	typeClientStopped    = "client_stopped"
	typeQuit             = "quit"
	typeReconnect        = "reconnect"
	typeException        = "exception"
	typeUpdateUserClass  = "update_user_class"
	typeLocustfile       = "locustfile"
	typeLogs             = "logs"
)

// Worker states as the master reads them from heartbeats. A 2.x master counts a
// worker as active only in one of these three states.
const (
	stateReady    = "ready"
	stateSpawning = "spawning"
	stateRunning  = "running"
)

// clientReadyVersion is the client_ready payload. Locust 2.x accepts -1 silently
// as the version of a worker that is not written in Python.
const clientReadyVersion = -1

// encodeMessage returns the msgpack bytes of [msgType, data, nodeID], the single
// frame a worker sends. encodeData writes the data element and must write
// exactly one msgpack value.
func encodeMessage(msgType, nodeID string, encodeData func(*msgpack.Encoder) error) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.EncodeArrayLen(3); err != nil {
		return nil, err
	}
	if err := enc.EncodeString(msgType); err != nil {
		return nil, err
	}
	if encodeData == nil {
		if err := enc.EncodeNil(); err != nil {
			return nil, err
		}
	} else if err := encodeData(enc); err != nil {
		return nil, fmt.Errorf("encode %s data: %w", msgType, err)
	}
	if err := enc.EncodeString(nodeID); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeClientReady(nodeID string) ([]byte, error) {
	return encodeMessage(typeClientReady, nodeID, func(e *msgpack.Encoder) error {
		return e.EncodeInt(clientReadyVersion)
	})
}

// encodeHeartbeat encodes a heartbeat. cpuPercent is the worker's CPU use in
// percent of the whole machine and memoryBytes its resident set size.
func encodeHeartbeat(nodeID, state string, cpuPercent float64, memoryBytes int64) ([]byte, error) {
	return encodeMessage(typeHeartbeat, nodeID, func(e *msgpack.Encoder) error {
		if err := e.EncodeMapLen(3); err != nil {
			return err
		}
		if err := encodeStringPair(e, "state", state); err != nil {
			return err
		}
		if err := e.EncodeString("current_cpu_usage"); err != nil {
			return err
		}
		if err := e.EncodeFloat64(cpuPercent); err != nil {
			return err
		}
		if err := e.EncodeString("current_memory_usage"); err != nil {
			return err
		}
		return e.EncodeInt(memoryBytes)
	})
}

// encodeNilMessage encodes a message whose data is nil: spawning,
// client_stopped and quit.
func encodeNilMessage(msgType, nodeID string) ([]byte, error) {
	return encodeMessage(msgType, nodeID, nil)
}

func encodeSpawningComplete(nodeID string, classCounts map[string]int64) ([]byte, error) {
	return encodeMessage(typeSpawningComplete, nodeID, func(e *msgpack.Encoder) error {
		if err := e.EncodeMapLen(2); err != nil {
			return err
		}
		if err := e.EncodeString("user_classes_count"); err != nil {
			return err
		}
		if err := encodeCountMap(e, classCounts); err != nil {
			return err
		}
		if err := e.EncodeString("user_count"); err != nil {
			return err
		}
		return e.EncodeInt(sumCounts(classCounts))
	})
}

// encodeException encodes an error raised in user code. The master groups
// exceptions by traceback and fails its receive loop if either key is missing.
func encodeException(nodeID, msg, traceback string) ([]byte, error) {
	return encodeMessage(typeException, nodeID, func(e *msgpack.Encoder) error {
		if err := e.EncodeMapLen(2); err != nil {
			return err
		}
		if err := encodeStringPair(e, "msg", validText(msg)); err != nil {
			return err
		}
		return encodeStringPair(e, "traceback", validText(traceback))
	})
}

// encodeCustomMessage encodes a message of a type the master's locustfile
// handles with register_message. data may be any value msgpack can encode.
func encodeCustomMessage(msgType, nodeID string, data any) ([]byte, error) {
	return encodeMessage(validText(msgType), nodeID, func(e *msgpack.Encoder) error {
		e.SetSortMapKeys(true)
		return e.Encode(data)
	})
}

func encodeStringPair(e *msgpack.Encoder, key, value string) error {
	if err := e.EncodeString(key); err != nil {
		return err
	}
	return e.EncodeString(value)
}

// encodeCountMap writes a str → int map with sorted keys, so that the bytes are
// stable. A nil map is written as an empty map, never as nil.
func encodeCountMap(e *msgpack.Encoder, counts map[string]int64) error {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if err := e.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := e.EncodeString(validText(k)); err != nil {
			return err
		}
		if err := e.EncodeInt(counts[k]); err != nil {
			return err
		}
	}
	return nil
}

func sumCounts(counts map[string]int64) int64 {
	var total int64
	for _, n := range counts {
		total += n
	}
	return total
}

// validText replaces invalid UTF-8 with U+FFFD. The master drops a message with
// an invalid str and replies with reconnect, so every text we send is repaired.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
