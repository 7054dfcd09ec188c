package boomer

import (
	"math"
	"sort"

	"github.com/vmihailenco/msgpack/v5"
)

// encodeStats encodes a stats report: the deltas of one interval, Locust's
// "Aggregated" total (always present, even when empty), the errors and the
// users running now per class.
func encodeStats(nodeID string, snap statsSnapshot, classCounts map[string]int64) ([]byte, error) {
	return encodeMessage(typeStats, nodeID, func(e *msgpack.Encoder) error {
		if err := e.EncodeMapLen(5); err != nil {
			return err
		}

		if err := e.EncodeString("stats"); err != nil {
			return err
		}
		keys := snap.sortedKeys()
		if err := e.EncodeArrayLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := encodeStatsEntry(e, k, snap.requests[k], snap.start); err != nil {
				return err
			}
		}

		if err := e.EncodeString("stats_total"); err != nil {
			return err
		}
		total := requestKey{method: "", name: "Aggregated"}
		if err := encodeStatsEntry(e, total, snap.total(), snap.start); err != nil {
			return err
		}

		if err := e.EncodeString("errors"); err != nil {
			return err
		}
		if err := encodeErrors(e, snap.errors); err != nil {
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

// encodeStatsEntry writes the 14 keys of one Locust StatsEntry. Times are
// float milliseconds, timestamps float Unix seconds, histogram keys int
// milliseconds and per-second keys int Unix seconds.
func encodeStatsEntry(e *msgpack.Encoder, key requestKey, s *requestStats, start float64) error {
	if err := e.EncodeMapLen(14); err != nil {
		return err
	}
	if err := encodeStringPair(e, "name", validText(key.name)); err != nil {
		return err
	}
	if err := encodeStringPair(e, "method", validText(key.method)); err != nil {
		return err
	}

	if err := e.EncodeString("last_request_timestamp"); err != nil {
		return err
	}
	if s.numRequests == 0 {
		if err := e.EncodeNil(); err != nil {
			return err
		}
	} else if err := e.EncodeFloat64(s.lastRequestTime); err != nil {
		return err
	}
	if err := encodeFloatPair(e, "start_time", start); err != nil {
		return err
	}
	if err := encodeIntPair(e, "num_requests", s.numRequests); err != nil {
		return err
	}
	if err := encodeIntPair(e, "num_none_requests", 0); err != nil {
		return err
	}
	if err := encodeIntPair(e, "num_failures", s.numFailures); err != nil {
		return err
	}
	if err := encodeFloatPair(e, "total_response_time", s.totalResponseTime); err != nil {
		return err
	}
	if err := encodeFloatPair(e, "max_response_time", s.maxResponseTime); err != nil {
		return err
	}

	// Locust reads a nil minimum as "no timed request in this interval".
	if err := e.EncodeString("min_response_time"); err != nil {
		return err
	}
	if s.hasMin {
		if err := e.EncodeFloat64(s.minResponseTime); err != nil {
			return err
		}
	} else if err := e.EncodeNil(); err != nil {
		return err
	}

	if err := encodeIntPair(e, "total_content_length", s.totalContentLength); err != nil {
		return err
	}
	if err := e.EncodeString("response_times"); err != nil {
		return err
	}
	if err := encodeIntKeyMap(e, s.responseTimes); err != nil {
		return err
	}
	if err := e.EncodeString("num_reqs_per_sec"); err != nil {
		return err
	}
	if err := encodeIntKeyMap(e, s.requestsPerSecond); err != nil {
		return err
	}
	if err := e.EncodeString("num_fail_per_sec"); err != nil {
		return err
	}
	return encodeIntKeyMap(e, s.failuresPerSecond)
}

func encodeErrors(e *msgpack.Encoder, errs map[errorKey]*errorStats) error {
	type row struct {
		id  string
		key errorKey
		err *errorStats
	}
	rows := make([]row, 0, len(errs))
	rowByID := make(map[string]int, len(errs))
	for k, v := range errs {
		k = errorKey{method: validText(k.method), name: validText(k.name), text: validText(k.text)}
		id := errorID(k.method, k.name, k.text)
		// Keys that differ only in invalid UTF-8 are equal once repaired. They
		// are merged, because the master keeps only the last of equal map keys.
		if i, ok := rowByID[id]; ok {
			merged := *rows[i].err
			merged.occurrences += v.occurrences
			merged.firstSeen = math.Min(merged.firstSeen, v.firstSeen)
			merged.lastSeen = math.Max(merged.lastSeen, v.lastSeen)
			rows[i].err = &merged
			continue
		}
		rowByID[id] = len(rows)
		rows = append(rows, row{id: id, key: k, err: v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })

	if err := e.EncodeMapLen(len(rows)); err != nil {
		return err
	}
	for _, r := range rows {
		if err := e.EncodeString(r.id); err != nil {
			return err
		}
		if err := e.EncodeMapLen(6); err != nil {
			return err
		}
		if err := encodeStringPair(e, "name", r.key.name); err != nil {
			return err
		}
		if err := encodeStringPair(e, "method", r.key.method); err != nil {
			return err
		}
		if err := encodeStringPair(e, "error", r.key.text); err != nil {
			return err
		}
		if err := encodeIntPair(e, "occurrences", r.err.occurrences); err != nil {
			return err
		}
		if err := encodeFloatPair(e, "first_seen", r.err.firstSeen); err != nil {
			return err
		}
		if err := encodeFloatPair(e, "last_seen", r.err.lastSeen); err != nil {
			return err
		}
	}
	return nil
}

// encodeIntKeyMap writes an int → int map with sorted keys. Locust needs int
// keys here: string keys crash the master's console printer.
func encodeIntKeyMap(e *msgpack.Encoder, m map[int64]int64) error {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	if err := e.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := e.EncodeInt(k); err != nil {
			return err
		}
		if err := e.EncodeInt(m[k]); err != nil {
			return err
		}
	}
	return nil
}

func encodeIntPair(e *msgpack.Encoder, key string, value int64) error {
	if err := e.EncodeString(key); err != nil {
		return err
	}
	return e.EncodeInt(value)
}

func encodeFloatPair(e *msgpack.Encoder, key string, value float64) error {
	if err := e.EncodeString(key); err != nil {
		return err
	}
	return e.EncodeFloat64(value)
}
