package boomer

import (
	"log/slog"
	"time"
)

// transport carries msgpack frames between the worker and the master. One
// frame is one message. Implementations are safe for concurrent use.
type transport interface {
	// Send queues a frame for the master and returns without waiting for the
	// network. Frames are sent in the order Send was called.
	Send(frame []byte) error

	// Receive returns the frames from the master. The channel is closed when
	// the transport is closed.
	Receive() <-chan []byte

	// Reset closes the socket, dropping frames not yet sent, and opens a new
	// one with the same identity. It returns before the new socket is up.
	Reset()

	// Close sends the frames queued so far, waiting at most flush for them to
	// leave, and closes the socket.
	Close(flush time.Duration) error
}

// transportFactory opens a transport to the master at endpoint
// ("tcp://host:port") with the given ZeroMQ identity.
type transportFactory func(endpoint, identity string, log *slog.Logger) (transport, error)
