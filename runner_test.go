package boomer

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// masterFrame encodes a message as a Locust master sends it.
func masterFrame(t *testing.T, msgType string, data any) []byte {
	t.Helper()
	frame, err := msgpack.Marshal([]any{msgType, data, testNodeID})
	require.NoError(t, err)
	return frame
}

func spawnFrame(t *testing.T, timestamp float64, users int) []byte {
	t.Helper()
	return masterFrame(t, typeSpawn, map[string]any{
		"timestamp":          timestamp,
		"user_classes_count": map[string]any{"Dummy": users},
		"host":               nil,
		"stop_timeout":       0.0,
		"parsed_options":     map[string]any{},
	})
}

// newTestWorker returns a worker whose frames go to the returned transport,
// with users that wait for their stop.
func newTestWorker(t *testing.T) (*worker, *recordingTransport) {
	t.Helper()
	task := &Task{Name: "wait", Weight: 1, Run: func(u *User) { <-u.Context().Done() }}
	b, err := New(WithTasks(task), WithNodeID(testNodeID), WithSignalHandling(false),
		WithLogger(slog.New(slog.NewTextHandler(testLogWriter{t}, nil))))
	require.NoError(t, err)
	rt := &recordingTransport{}
	b.newTransport = func(string, string, *slog.Logger) (transport, error) { return rt, nil }
	w, err := newWorker(b)
	require.NoError(t, err)
	t.Cleanup(func() { w.users.stopAll(0, time.Second) })
	return w, rt
}

// sentTypes returns the types of the frames sent so far and clears them.
func sentTypes(t *testing.T, rt *recordingTransport) []string {
	t.Helper()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var types []string
	for _, frame := range rt.frames {
		msg, err := decodeMessage(frame)
		require.NoError(t, err)
		types = append(types, msg.Type)
	}
	rt.frames = nil
	return types
}

func TestStaleSpawnAfterStopIgnored(t *testing.T) {
	w, rt := newTestWorker(t)
	w.handleFrame(masterFrame(t, typeAck, map[string]any{"index": 0}))
	w.handleFrame(spawnFrame(t, 1, 2))
	require.Equal(t, map[string]int64{"Dummy": 2}, w.users.counts())
	sentTypes(t, rt)

	// The master computed a ramp step before the stop and sends it after.
	w.handleFrame(masterFrame(t, typeStop, nil))
	w.handleFrame(spawnFrame(t, 2, 15))
	w.finishStop(<-w.stopDone)
	// Still before the ack of the new registration.
	w.handleFrame(spawnFrame(t, 3, 15))

	assert.Equal(t, map[string]int64{"Dummy": 0}, w.users.counts())
	assert.Equal(t, []string{typeStats, typeClientStopped, typeClientReady}, sentTypes(t, rt),
		"a stale spawn made the worker send spawning to a master that deleted it")

	w.handleFrame(masterFrame(t, typeAck, map[string]any{"index": 0}))
	w.handleFrame(spawnFrame(t, 4, 3))
	assert.Equal(t, map[string]int64{"Dummy": 3}, w.users.counts())
	assert.Equal(t, []string{typeSpawning, typeSpawningComplete}, sentTypes(t, rt))
}

func TestStopRunsInBackground(t *testing.T) {
	w, _ := newTestWorker(t)
	w.handleFrame(masterFrame(t, typeAck, map[string]any{"index": 0}))
	w.handleFrame(spawnFrame(t, 1, 2))

	w.handleFrame(masterFrame(t, typeStop, nil))
	require.NotNil(t, w.stopDone, "no stop running")
	// A second stop while the first runs changes nothing.
	first := w.stopDone
	w.handleFrame(masterFrame(t, typeStop, nil))
	assert.Equal(t, first, w.stopDone)

	// The control loop can still take a quit while the users stop.
	assert.True(t, w.handleFrame(masterFrame(t, typeQuit, nil)))
	assert.Zero(t, <-w.stopDone, "users left running after the stop")
}

func TestClientReadyAttemptsResetOnAck(t *testing.T) {
	w, _ := newTestWorker(t)
	w.sendClientReady()
	w.sendClientReady()
	w.handleFrame(masterFrame(t, typeAck, map[string]any{"index": 0}))
	assert.Zero(t, w.clientReadyCount)
}
