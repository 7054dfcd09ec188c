package boomer

import (
	"errors"
	"log/slog"
	"sync"
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

var errTransportClosed = errors.New("transport closed")

// frameQueue is an unbounded FIFO of frames, safe for one producer and one
// consumer.
type frameQueue struct {
	mu     sync.Mutex
	frames [][]byte
	ended  bool
	// ready has one element when frames were pushed or the queue ended.
	ready chan struct{}
}

func (q *frameQueue) push(frame []byte) {
	q.mu.Lock()
	q.frames = append(q.frames, frame)
	q.mu.Unlock()
	q.signal()
}

func (q *frameQueue) close() {
	q.mu.Lock()
	q.ended = true
	q.mu.Unlock()
	q.signal()
}

func (q *frameQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop returns the oldest frame, waiting for one. It returns false once the
// queue ended and is empty, or when cancel is closed.
func (q *frameQueue) pop(cancel <-chan struct{}) ([]byte, bool) {
	for {
		q.mu.Lock()
		if len(q.frames) > 0 {
			frame := q.frames[0]
			q.frames[0] = nil
			q.frames = q.frames[1:]
			q.mu.Unlock()
			return frame, true
		}
		ended := q.ended
		q.mu.Unlock()
		if ended {
			return nil, false
		}
		select {
		case <-q.ready:
		case <-cancel:
			return nil, false
		}
	}
}

// forward moves frames from the queue to out, in order, and closes out when
// the queue ended and is empty, or when closing is closed.
func (q *frameQueue) forward(out chan<- []byte, closing <-chan struct{}) {
	defer close(out)
	for {
		frame, ok := q.pop(closing)
		if !ok {
			return
		}
		select {
		case out <- frame:
		case <-closing:
			return
		}
	}
}
