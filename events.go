package boomer

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Topics of the Events bus.
const (
	// EventRequestSuccess records a successful request. Publish it with
	// (requestType string, name string, responseTime, responseLength), where
	// responseTime is in milliseconds as an int64 or a float64 (a
	// time.Duration is accepted too) and responseLength is in bytes.
	EventRequestSuccess = "request_success"
	// EventRequestFailure records a failed request. Publish it with
	// (requestType string, name string, responseTime, exception string).
	EventRequestFailure = "request_failure"
	// EventSpawn is published when a test starts, with the total number of
	// users (int) of the first spawn.
	EventSpawn = "boomer:spawn"
	// EventStop is published when the master stops a test, after the users
	// have stopped.
	EventStop = "boomer:stop"
	// EventQuit is published when a worker has quit, after its final report.
	EventQuit = "boomer:quit"
)

// Events is the package's event bus, kept for programs written for the
// original boomer: tasks record requests with
//
//	boomer.Events.Publish("request_success", "http", "foo", elapsed, int64(10))
//
// and programs subscribe to lifecycle topics such as "boomer:quit". New code
// can call RecordSuccess and RecordFailure instead, which take a
// time.Duration.
var Events = &EventBus{}

// EventBus calls the functions subscribed to a topic with the arguments
// published on it. It is safe for concurrent use.
type EventBus struct {
	// mu serializes Subscribe and Unsubscribe, which replace the handler map
	// as a whole, so Publish reads it without a lock.
	mu       sync.Mutex
	handlers atomic.Pointer[map[string][]reflect.Value]
	// warned stores the topics whose argument errors were already logged.
	warned sync.Map
}

// Subscribe calls fn with the arguments of every Publish on topic. fn must
// be a function whose parameters match what is published.
func (e *EventBus) Subscribe(topic string, fn any) error {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return fmt.Errorf("subscribe to %q: handler is %T, expected a function", topic, fn)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	handlers := e.copyHandlers()
	handlers[topic] = append(handlers[topic], v)
	e.handlers.Store(&handlers)
	return nil
}

// copyHandlers returns a copy of the handler map. The caller holds e.mu.
func (e *EventBus) copyHandlers() map[string][]reflect.Value {
	handlers := make(map[string][]reflect.Value)
	if old := e.handlers.Load(); old != nil {
		for topic, list := range *old {
			handlers[topic] = append([]reflect.Value(nil), list...)
		}
	}
	return handlers
}

// Unsubscribe removes fn from topic.
func (e *EventBus) Unsubscribe(topic string, fn any) error {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return fmt.Errorf("unsubscribe from %q: handler is %T, expected a function", topic, fn)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	handlers := e.copyHandlers()
	list := handlers[topic]
	for i, h := range list {
		if h.Pointer() == v.Pointer() {
			handlers[topic] = append(list[:i:i], list[i+1:]...)
			e.handlers.Store(&handlers)
			return nil
		}
	}
	return fmt.Errorf("unsubscribe from %q: handler not subscribed", topic)
}

// Publish records requests published on EventRequestSuccess and
// EventRequestFailure in the running worker, then calls the functions
// subscribed to topic. Arguments of the wrong type are logged, never a panic.
func (e *EventBus) Publish(topic string, args ...any) {
	switch topic {
	case EventRequestSuccess:
		if err := publishSuccess(args); err != nil {
			e.warnOnce(topic, err)
		}
	case EventRequestFailure:
		if err := publishFailure(args); err != nil {
			e.warnOnce(topic, err)
		}
	}

	handlers := e.handlers.Load()
	if handlers == nil {
		return
	}
	for _, h := range (*handlers)[topic] {
		if err := callHandler(h, args); err != nil {
			e.warnOnce(topic, fmt.Errorf("handler %s: %w", h.Type(), err))
		}
	}
}

// warnOnce logs the first error of each topic and counts the rest silently,
// so a task that publishes wrong arguments in a loop cannot flood the log.
func (e *EventBus) warnOnce(topic string, err error) {
	if _, seen := e.warned.LoadOrStore(topic, true); seen {
		return
	}
	logger := slog.Default()
	if b := current.Load(); b != nil {
		logger = b.log
	}
	logger.Error("invalid Events.Publish call ignored (further errors on this topic are not logged)",
		"topic", topic, "error", err)
}

func publishSuccess(args []any) error {
	requestType, name, responseTime, err := requestArgs(args)
	if err != nil {
		return err
	}
	length, ok := toInt64(args[3])
	if !ok {
		return fmt.Errorf("response length is %T (%v), expected an integer number of bytes", args[3], args[3])
	}
	if b := runningBoomer(); b != nil {
		b.recordSuccess(requestType, name, responseTime, length)
	}
	return nil
}

func publishFailure(args []any) error {
	requestType, name, responseTime, err := requestArgs(args)
	if err != nil {
		return err
	}
	var text string
	switch v := args[3].(type) {
	case string:
		text = v
	case error:
		text = v.Error()
	default:
		return fmt.Errorf("exception is %T (%v), expected a string or an error", args[3], args[3])
	}
	if b := runningBoomer(); b != nil {
		b.recordFailure(requestType, name, responseTime, text)
	}
	return nil
}

// requestArgs reads (requestType string, name string, responseTime, x) and
// returns the response time in milliseconds.
func requestArgs(args []any) (requestType, name string, responseTimeMs float64, err error) {
	if len(args) != 4 {
		return "", "", 0, fmt.Errorf("got %d arguments, expected 4: requestType, name, responseTime, and a length or an error", len(args))
	}
	requestType, ok := args[0].(string)
	if !ok {
		return "", "", 0, fmt.Errorf("request type is %T (%v), expected a string", args[0], args[0])
	}
	name, ok = args[1].(string)
	if !ok {
		return "", "", 0, fmt.Errorf("name is %T (%v), expected a string", args[1], args[1])
	}
	responseTimeMs, ok = toMillis(args[2])
	if !ok {
		return "", "", 0, fmt.Errorf("response time is %T (%v), expected milliseconds as an int64 or a float64", args[2], args[2])
	}
	return requestType, name, responseTimeMs, nil
}

func toMillis(v any) (float64, bool) {
	switch n := v.(type) {
	case time.Duration:
		return durationMillis(n), true
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), !math.IsNaN(float64(n))
	}
	if i, ok := toInt64(v); ok {
		return float64(i), true
	}
	return 0, false
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	default:
		return 0, false
	}
}

var errArgumentCount = errors.New("wrong number of arguments")

// handlerParam returns the type of the i-th argument of a handler with fixed
// non-variadic parameters: the element type for arguments that fill a
// variadic parameter.
func handlerParam(t reflect.Type, i, fixed int) reflect.Type {
	if i < fixed {
		return t.In(i)
	}
	return t.In(fixed).Elem()
}

// callHandler calls h with args after checking that they fit its parameters,
// and turns a panic in h into an error.
func callHandler(h reflect.Value, args []any) (err error) {
	t := h.Type()
	fixed := t.NumIn()
	if t.IsVariadic() {
		fixed--
	}
	if len(args) < fixed || (!t.IsVariadic() && len(args) != fixed) {
		return fmt.Errorf("%w: published %d, handler takes %d", errArgumentCount, len(args), t.NumIn())
	}
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		param := handlerParam(t, i, fixed)
		if a == nil {
			switch param.Kind() {
			case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
				in[i] = reflect.Zero(param)
				continue
			}
			return fmt.Errorf("argument %d is nil, handler expects %s", i, param)
		}
		v := reflect.ValueOf(a)
		if !v.Type().AssignableTo(param) {
			return fmt.Errorf("argument %d is %s, handler expects %s", i, v.Type(), param)
		}
		in[i] = v
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	h.Call(in)
	return nil
}
