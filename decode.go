package boomer

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDecodeDepth bounds the nesting of arrays and maps in a message from the
// master, so a hostile or corrupt frame cannot exhaust the stack.
const maxDecodeDepth = 64

// inboundMessage is one message from the master: [type, data, node_id].
// Data is decoded into nil, bool, int64, uint64, float64, string, []any,
// map[string]any (all keys text) or map[any]any (other keys).
type inboundMessage struct {
	Type   string
	Data   any
	NodeID string
}

var errTrailingBytes = errors.New("trailing bytes after the message")

// decodeMessage decodes a frame from the master. Text is accepted in both the
// str and the bin/raw forms, because masters with msgpack < 1.0 send raw.
func decodeMessage(frame []byte) (inboundMessage, error) {
	r := bytes.NewReader(frame)
	dec := msgpack.NewDecoder(r)
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return inboundMessage{}, fmt.Errorf("message is not a msgpack array: %w", err)
	}
	if n == -1 {
		return inboundMessage{}, errors.New("message is msgpack nil, expected an array [type, data, node_id]")
	}
	if n != 3 {
		return inboundMessage{}, fmt.Errorf("message array has %d elements, expected 3 [type, data, node_id]", n)
	}
	msgType, err := decodeText(dec, r)
	if err != nil {
		return inboundMessage{}, fmt.Errorf("message type: %w", err)
	}
	data, err := decodeValue(dec, r, 0)
	if err != nil {
		return inboundMessage{Type: msgType}, fmt.Errorf("%s data: %w", msgType, err)
	}
	nodeID, err := decodeNodeID(dec, r)
	if err != nil {
		return inboundMessage{Type: msgType}, fmt.Errorf("%s node_id: %w", msgType, err)
	}
	if r.Len() != 0 {
		return inboundMessage{Type: msgType}, fmt.Errorf("%s: %w (%d bytes)", msgType, errTrailingBytes, r.Len())
	}
	return inboundMessage{Type: msgType, Data: data, NodeID: nodeID}, nil
}

func decodeNodeID(dec *msgpack.Decoder, remaining *bytes.Reader) (string, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return "", err
	}
	if code == msgpcode.Nil {
		return "", dec.DecodeNil()
	}
	return decodeText(dec, remaining)
}

// decodeText decodes a str or bin value as text. The length header is checked
// against the bytes left before anything is allocated, because
// vmihailenco/msgpack v5.4.1 allocates the claimed length of a bin value (up
// to 4 GiB) before it reads the bytes.
func decodeText(dec *msgpack.Decoder, remaining *bytes.Reader) (string, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return "", err
	}
	if !msgpcode.IsString(code) && !msgpcode.IsBin(code) {
		return "", fmt.Errorf("expected text, found msgpack code 0x%02x", code)
	}
	n, err := dec.DecodeBytesLen()
	if err != nil {
		return "", err
	}
	if n > remaining.Len() {
		return "", fmt.Errorf("text of %d bytes is longer than the %d bytes left", n, remaining.Len())
	}
	b := make([]byte, n)
	if err := dec.ReadFull(b); err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeValue decodes one msgpack value of any type. remaining reports the
// bytes left, so that a length header larger than the frame fails at once
// instead of allocating.
func decodeValue(dec *msgpack.Decoder, remaining *bytes.Reader, depth int) (any, error) {
	if depth > maxDecodeDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDecodeDepth)
	}
	code, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case code == msgpcode.Nil:
		return nil, dec.DecodeNil()
	case code == msgpcode.True || code == msgpcode.False:
		return dec.DecodeBool()
	case msgpcode.IsFixedNum(code), code == msgpcode.Int8, code == msgpcode.Int16,
		code == msgpcode.Int32, code == msgpcode.Int64,
		code == msgpcode.Uint8, code == msgpcode.Uint16, code == msgpcode.Uint32:
		return dec.DecodeInt64()
	case code == msgpcode.Uint64:
		v, err := dec.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
		return v, nil
	case code == msgpcode.Float, code == msgpcode.Double:
		return dec.DecodeFloat64()
	case msgpcode.IsString(code), msgpcode.IsBin(code):
		return decodeText(dec, remaining)
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32:
		return decodeArray(dec, remaining, depth)
	case msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		return decodeMap(dec, remaining, depth)
	default:
		return nil, fmt.Errorf("unsupported msgpack code 0x%02x (Locust never sends ext types)", code)
	}
}

func decodeArray(dec *msgpack.Decoder, remaining *bytes.Reader, depth int) (any, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	// Every element takes at least one byte.
	if n > remaining.Len() {
		return nil, fmt.Errorf("array of %d elements is longer than the %d bytes left", n, remaining.Len())
	}
	out := make([]any, 0, n)
	for i := 0; i < n; i++ {
		v, err := decodeValue(dec, remaining, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func decodeMap(dec *msgpack.Decoder, remaining *bytes.Reader, depth int) (any, error) {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	// Every key and every value takes at least one byte.
	if n > remaining.Len()/2 {
		return nil, fmt.Errorf("map of %d entries is longer than the %d bytes left", n, remaining.Len())
	}
	textKeys := make(map[string]any, n)
	var otherKeys map[any]any
	for i := 0; i < n; i++ {
		key, err := decodeValue(dec, remaining, depth+1)
		if err != nil {
			return nil, err
		}
		value, err := decodeValue(dec, remaining, depth+1)
		if err != nil {
			return nil, err
		}
		if s, ok := key.(string); ok && otherKeys == nil {
			textKeys[s] = value
			continue
		}
		if !isComparableKey(key) {
			return nil, fmt.Errorf("map key of type %T is not supported", key)
		}
		if otherKeys == nil {
			otherKeys = make(map[any]any, n)
			for k, v := range textKeys {
				otherKeys[k] = v
			}
		}
		otherKeys[key] = value
	}
	if otherKeys != nil {
		return otherKeys, nil
	}
	return textKeys, nil
}

func isComparableKey(key any) bool {
	switch key.(type) {
	case nil, bool, int64, uint64, float64, string:
		return true
	default:
		return false
	}
}

// Helpers that read typed fields from decoded data. They accept every numeric
// form, because Locust sends float64 where an int might be expected.

func mapField(data any, key string) (any, bool) {
	m, ok := data.(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := m[key]
	return v, ok
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	default:
		return 0, false
	}
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case float64:
		// float64(math.MaxInt64) rounds up to 2^63, which is out of range.
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	default:
		return 0, false
	}
}
