package boomer

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ErrNotRunning is returned by SendMessage when Run is not active.
var ErrNotRunning = errors.New("boomer: the worker is not running")

// Message types of the protocol itself, which custom messages must not use.
var (
	workerMessageTypes = map[string]bool{
		typeClientReady: true, typeHeartbeat: true, typeSpawning: true, typeSpawningComplete: true,
		typeStats: true, typeClientStopped: true, typeQuit: true, typeException: true,
		typeLogs: true, typeLocustfile: true,
	}
	masterMessageTypes = map[string]bool{
		typeAck: true, typeHeartbeat: true, typeSpawn: true, typeSpawningComplete: true,
		typeStop: true, typeQuit: true, typeReconnect: true, typeUpdateUserClass: true,
		typeLocustfile: true,
	}
)

// RegisterMessage calls handler with the data of every message of type
// msgType from the master, as a locustfile's register_message does on a
// Python worker. The master sends them with runner.send_message. data is
// decoded as nil, bool, int64, uint64, float64, string, []any,
// map[string]any or map[any]any. Handlers run one at a time on the
// goroutine that handles the master's messages, so a long handler delays
// spawns and stops: start a goroutine for long work. A panic in a handler is
// logged. Registering a type again replaces its handler.
func (b *Boomer) RegisterMessage(msgType string, handler func(data any)) error {
	switch {
	case msgType == "":
		return errors.New("RegisterMessage: empty message type")
	case masterMessageTypes[msgType]:
		return fmt.Errorf("RegisterMessage: %q is a message type of Locust's protocol; choose another name", msgType)
	case handler == nil:
		return fmt.Errorf("RegisterMessage(%q): handler is nil", msgType)
	}
	b.handlers.Store(msgType, handler)
	return nil
}

// SendMessage sends a custom message to the master, where a handler
// registered with the master runner's register_message receives it. data is
// any value msgpack can encode: maps, lists, strings, numbers, bools or nil.
// Time values and other msgpack extension types are rejected, and so are
// strings with invalid UTF-8, because the master cannot decode them. It returns
// ErrNotRunning while Run is not active. Safe for concurrent use.
func (b *Boomer) SendMessage(msgType string, data any) error {
	if msgType == "" {
		return errors.New("SendMessage: empty message type")
	}
	if workerMessageTypes[msgType] {
		return fmt.Errorf("SendMessage: %q is a message type of Locust's protocol; choose another name", msgType)
	}
	if !utf8.ValidString(msgType) {
		return fmt.Errorf("SendMessage: message type %q is not valid UTF-8", msgType)
	}
	w := b.session.Load()
	if w == nil {
		return fmt.Errorf("SendMessage(%q): %w", msgType, ErrNotRunning)
	}
	frame, err := encodeCustomMessage(msgType, b.nodeID, data)
	if err != nil {
		return fmt.Errorf("SendMessage(%q): cannot encode data of type %T: %w", msgType, data, err)
	}
	if err := checkCustomData(frame); err != nil {
		return fmt.Errorf("SendMessage(%q): data of type %T cannot be sent: %w", msgType, data, err)
	}
	return w.transport.Send(frame)
}

// checkCustomData walks an encoded message and rejects what the master's
// decoder fails on, because such a failure ends its receive loop for every
// worker. It rejects extension types, str values with invalid UTF-8, lists
// or maps as map keys (a Python dict key must be hashable), and the map keys
// "__datetime__" and "__ObjectId__", which Locust's decoder turns into
// objects.
func checkCustomData(frame []byte) error {
	dec := msgpack.NewDecoder(bytes.NewReader(frame))
	return checkValue(dec, 0)
}

// locustObjectHookKeys are map keys that Locust's msgpack object hook converts.
var locustObjectHookKeys = map[string]bool{"__datetime__": true, "__ObjectId__": true}

func checkMapKey(dec *msgpack.Decoder, depth int) error {
	code, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32,
		msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		return errors.New("a map key is a list or a map, which the master cannot use as a Python dict key; use strings or numbers as keys")
	case msgpcode.IsString(code):
		key, err := dec.DecodeString()
		if err != nil {
			return err
		}
		if !utf8.ValidString(key) {
			return fmt.Errorf("map key %q is not valid UTF-8", key)
		}
		if locustObjectHookKeys[key] {
			return fmt.Errorf("map key %q is reserved: the master's decoder converts maps with it into objects", key)
		}
		return nil
	default:
		return checkValue(dec, depth)
	}
}

func checkValue(dec *msgpack.Decoder, depth int) error {
	if depth > maxDecodeDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDecodeDepth)
	}
	code, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsString(code):
		s, err := dec.DecodeString()
		if err != nil {
			return err
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("string %q is not valid UTF-8", s)
		}
		return nil
	case msgpcode.IsExt(code) || msgpcode.IsFixedExt(code):
		return errors.New("msgpack extension types (such as time.Time) cannot be decoded by the master; send a number or a string instead")
	case msgpcode.IsFixedArray(code), code == msgpcode.Array16, code == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		return nil
	case msgpcode.IsFixedMap(code), code == msgpcode.Map16, code == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := checkMapKey(dec, depth+1); err != nil {
				return err
			}
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return dec.Skip()
	}
}
