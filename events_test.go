package boomer

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// useRunningBoomer creates a Boomer whose stats use a fake clock and makes
// it the running worker until the test ends. As during Run, the package-level
// record functions and Events.Publish then record into it.
func useRunningBoomer(t *testing.T) *Boomer {
	t.Helper()
	b, err := New(
		WithTasks(&Task{Name: "t", Weight: 1, Fn: noop}),
		WithNodeID(testNodeID),
		WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))),
	)
	require.NoError(t, err)
	b.stats = newStatsCollector(newFakeClock(goldenStart).Now)

	previous := current.Swap(b)
	t.Cleanup(func() { current.Store(previous) })
	return b
}

// captureDefaultLog sends slog's default logger, and the logger of the
// running Boomer if there is one, to a buffer until the test ends.
func captureDefaultLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, nil))
	previous := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(previous) })
	if b := current.Load(); b != nil {
		previousLog := b.log
		b.log = logger
		t.Cleanup(func() { b.log = previousLog })
	}
	return buf
}

// syncBuffer is a bytes.Buffer that is safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPublishRequestSuccess(t *testing.T) {
	cases := []struct {
		name         string
		responseTime any
		length       any
		wantMs       float64
	}{
		{"int64 ms", int64(12), int64(10), 12},
		{"float64 ms", float64(12.5), int64(10), 12.5},
		{"int ms and int length", 12, 10, 12},
		{"duration", 1500 * time.Microsecond, int64(10), 1.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := useRunningBoomer(t)
			bus := &EventBus{}

			bus.Publish(EventRequestSuccess, "http", "foo", tc.responseTime, tc.length)

			snap := b.stats.snapshot()
			s := snap.requests[requestKey{method: "http", name: "foo"}]
			require.NotNil(t, s)
			assert.Equal(t, int64(1), s.numRequests)
			assert.Equal(t, int64(0), s.numFailures)
			assert.Equal(t, tc.wantMs, s.totalResponseTime)
			assert.Equal(t, int64(10), s.totalContentLength)
		})
	}
}

func TestPublishRequestFailure(t *testing.T) {
	cases := []struct {
		name      string
		exception any
	}{
		{"string", "connection refused"},
		{"error", errors.New("connection refused")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := useRunningBoomer(t)
			bus := &EventBus{}

			bus.Publish(EventRequestFailure, "http", "foo", int64(12), tc.exception)

			snap := b.stats.snapshot()
			s := snap.requests[requestKey{method: "http", name: "foo"}]
			require.NotNil(t, s)
			assert.Equal(t, int64(1), s.numRequests)
			assert.Equal(t, int64(1), s.numFailures)
			e := snap.errors[errorKey{method: "http", name: "foo", text: "connection refused"}]
			require.NotNil(t, e)
			assert.Equal(t, int64(1), e.occurrences)
		})
	}
}

func TestPublishGlobalEvents(t *testing.T) {
	b := useRunningBoomer(t)

	Events.Publish(EventRequestSuccess, "http", "foo", int64(12), int64(10))

	assert.Equal(t, int64(1), b.stats.snapshot().total().numRequests)
}

func TestPublishInvalidArguments(t *testing.T) {
	cases := []struct {
		name  string
		topic string
		args  []any
		want  string
	}{
		{"string time", EventRequestSuccess, []any{"http", "foo", "12", int64(10)}, "response time is string (12)"},
		{"string length", EventRequestSuccess, []any{"http", "foo", int64(12), "10"}, "response length is string (10)"},
		{"float length", EventRequestSuccess, []any{"http", "foo", int64(12), 10.0}, "response length is float64"},
		{"three arguments", EventRequestSuccess, []any{"http", "foo", int64(12)}, "got 3 arguments, expected 4"},
		{"no arguments", EventRequestSuccess, nil, "got 0 arguments, expected 4"},
		{"one nil", EventRequestSuccess, []any{nil}, "got 1 arguments, expected 4"},
		{"nil time", EventRequestSuccess, []any{"http", "foo", nil, int64(10)}, "response time is <nil>"},
		{"NaN time", EventRequestSuccess, []any{"http", "foo", math.NaN(), int64(10)}, "response time is float64 (NaN)"},
		{"int request type", EventRequestSuccess, []any{1, "foo", int64(12), int64(10)}, "request type is int (1)"},
		{"nil name", EventRequestSuccess, []any{"http", nil, int64(12), int64(10)}, "name is <nil>"},
		{"uint64 length overflow", EventRequestSuccess, []any{"http", "foo", int64(12), uint64(math.MaxUint64)}, "response length is uint64"},
		{"failure int exception", EventRequestFailure, []any{"http", "foo", int64(12), 500}, "exception is int (500)"},
		{"failure nil exception", EventRequestFailure, []any{"http", "foo", int64(12), nil}, "exception is <nil>"},
		{"failure five arguments", EventRequestFailure, []any{"http", "foo", int64(12), "x", "y"}, "got 5 arguments, expected 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := useRunningBoomer(t)
			log := captureDefaultLog(t)
			bus := &EventBus{}

			assert.NotPanics(t, func() { bus.Publish(tc.topic, tc.args...) })

			assert.Contains(t, log.String(), "invalid Events.Publish call ignored")
			assert.Contains(t, log.String(), tc.want)
			assert.True(t, b.stats.snapshot().empty())
		})
	}
}

func TestPublishWarnsOncePerTopic(t *testing.T) {
	useRunningBoomer(t)
	log := captureDefaultLog(t)
	bus := &EventBus{}

	bus.Publish(EventRequestSuccess, "http", "foo", "first-bad-value", int64(10))
	bus.Publish(EventRequestSuccess, "http", "foo", "second-bad-value", int64(10))
	bus.Publish(EventRequestFailure, "http", "foo", "third-bad-value", "boom")

	assert.Contains(t, log.String(), "first-bad-value")
	assert.NotContains(t, log.String(), "second-bad-value")
	assert.Contains(t, log.String(), "third-bad-value")
}

func TestPublishWithoutRunningBoomer(t *testing.T) {
	previous := current.Swap(nil)
	t.Cleanup(func() { current.Store(previous) })
	captureDefaultLog(t)
	bus := &EventBus{}

	assert.NotPanics(t, func() {
		bus.Publish(EventRequestSuccess, "http", "foo", int64(12), int64(10))
		bus.Publish(EventRequestFailure, "http", "foo", int64(12), "boom")
	})
}

func TestSubscribeCallsHandler(t *testing.T) {
	useRunningBoomer(t)
	bus := &EventBus{}
	type call struct {
		requestType, name string
		responseTime      int64
		length            int64
	}
	var calls []call
	handler := func(requestType, name string, responseTime, length int64) {
		calls = append(calls, call{requestType, name, responseTime, length})
	}
	require.NoError(t, bus.Subscribe(EventRequestSuccess, handler))

	bus.Publish(EventRequestSuccess, "http", "foo", int64(12), int64(10))
	require.NoError(t, bus.Unsubscribe(EventRequestSuccess, handler))
	bus.Publish(EventRequestSuccess, "http", "bar", int64(12), int64(10))

	assert.Equal(t, []call{{"http", "foo", 12, 10}}, calls)
}

func TestSubscribeLifecycleTopic(t *testing.T) {
	bus := &EventBus{}
	quits := 0
	require.NoError(t, bus.Subscribe(EventQuit, func() { quits++ }))

	bus.Publish(EventQuit)
	bus.Publish(EventQuit)

	assert.Equal(t, 2, quits)
}

func TestSubscribeRejects(t *testing.T) {
	var nilFunc func()
	cases := []struct {
		name    string
		handler any
		want    string
	}{
		{"nil", nil, "handler is <nil>, expected a function"},
		{"nil func", nilFunc, "handler is func(), expected a function"},
		{"string", "handler", "handler is string, expected a function"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bus := &EventBus{}
			var err error
			assert.NotPanics(t, func() { err = bus.Subscribe("topic", tc.handler) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestUnsubscribeRejects(t *testing.T) {
	var nilFunc func()
	cases := []struct {
		name    string
		handler any
		want    string
	}{
		{"nil", nil, "handler is <nil>, expected a function"},
		{"string", "handler", "handler is string, expected a function"},
		{"nil func", nilFunc, "handler not subscribed"},
		{"never subscribed", func() {}, "handler not subscribed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bus := &EventBus{}
			require.NoError(t, bus.Subscribe("topic", noop))

			var err error
			assert.NotPanics(t, func() { err = bus.Unsubscribe("topic", tc.handler) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestHandlerArgumentMismatch(t *testing.T) {
	cases := []struct {
		name    string
		handler any
		args    []any
		want    string
	}{
		{"wrong type", func(int) {}, []any{"x"}, "argument 0 is string, handler expects int"},
		{"too few", func(int, int) {}, []any{1}, "published 1, handler takes 2"},
		{"too many", func() {}, []any{1}, "published 1, handler takes 0"},
		{"nil for int", func(int) {}, []any{nil}, "argument 0 is nil, handler expects int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := captureDefaultLog(t)
			bus := &EventBus{}
			require.NoError(t, bus.Subscribe("custom", tc.handler))

			assert.NotPanics(t, func() { bus.Publish("custom", tc.args...) })
			assert.Contains(t, log.String(), tc.want)
		})
	}
}

func TestHandlerNilArgument(t *testing.T) {
	// nil fits a parameter of an interface, pointer, map, slice, func or
	// channel type.
	bus := &EventBus{}
	var got []any
	handler := func(err error, p *int, m map[string]int, s []int) {
		got = append(got, err, p, m, s)
	}
	require.NoError(t, bus.Subscribe("custom", handler))

	bus.Publish("custom", nil, nil, nil, nil)

	require.Len(t, got, 4)
	assert.Nil(t, got[0])
	assert.Nil(t, got[1])
	assert.Nil(t, got[2])
	assert.Nil(t, got[3])
}

func TestHandlerPanicRecovered(t *testing.T) {
	log := captureDefaultLog(t)
	bus := &EventBus{}
	after := 0
	require.NoError(t, bus.Subscribe("custom", func() { panic("handler bug") }))
	require.NoError(t, bus.Subscribe("custom", func() { after++ }))

	assert.NotPanics(t, func() { bus.Publish("custom") })

	assert.Contains(t, log.String(), "handler panicked: handler bug")
	assert.Equal(t, 1, after)
}

func TestEventBusConcurrentUse(t *testing.T) {
	// Subscribe and Unsubscribe replace the handler map while Publish reads
	// it, and -race reports any unsynchronized access.
	bus := &EventBus{}
	var calls atomic.Int64
	handler := func() { calls.Add(1) }
	stable := func() { calls.Add(1) }
	require.NoError(t, bus.Subscribe("topic", stable))

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			assert.NoError(t, bus.Subscribe("topic", handler))
			assert.NoError(t, bus.Unsubscribe("topic", handler))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			bus.Publish("topic")
		}
	}()
	wg.Wait()

	// stable stays subscribed throughout, so every Publish calls it.
	assert.GreaterOrEqual(t, calls.Load(), int64(200))
}

func TestSubscribeVariadicHandler(t *testing.T) {
	bus := &EventBus{}
	var got [][]any
	require.NoError(t, bus.Subscribe("custom", func(first string, rest ...any) {
		got = append(got, append([]any{first}, rest...))
	}))

	bus.Publish("custom", "a")
	bus.Publish("custom", "b", 1, 2.5)
	bus.Publish("custom") // too few arguments: logged, not called

	require.Len(t, got, 2)
	assert.Equal(t, []any{"a"}, got[0])
	assert.Equal(t, []any{"b", 1, 2.5}, got[1])
}
