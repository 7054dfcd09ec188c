//go:build purego

package boomer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// zmqLibrary names the ZeroMQ implementation of this build in the start log.
const zmqLibrary = "zmq4 (pure Go)"

// Connection settings. Where libzmq has an option for the same thing, the
// value is libzmq's default, so both builds behave alike.
const (
	// zmtpReconnectInterval is the pause between connection attempts
	// (libzmq's ZMQ_RECONNECT_IVL default).
	zmtpReconnectInterval = 100 * time.Millisecond
	// zmtpHandshakeTimeout bounds the ZMTP greeting and READY exchange
	// (libzmq's ZMQ_HANDSHAKE_IVL default).
	zmtpHandshakeTimeout = 30 * time.Second
	// zmtpSendHWM is the number of frames queued for the master before Send
	// drops frames (libzmq's ZMQ_SNDHWM default).
	zmtpSendHWM = 1000
	// zmtpTCPKeepalive is the TCP keepalive idle time and interval. Locust's
	// own sockets use 30 s (locust/rpc/zmqrpc.py).
	zmtpTCPKeepalive = 30 * time.Second
	// zmtpResetPause is the time between closing the old connection and
	// opening the new one in a reset, for the master to see the old
	// connection close.
	zmtpResetPause = 200 * time.Millisecond
	// zmtpIncomingBuffer is the capacity of the channel that Receive returns.
	zmtpIncomingBuffer = 256
)

// zmtpTransport is a ZeroMQ DEALER connected to the master's ROUTER, written
// in Go on github.com/go-zeromq/zmq4, so the worker builds without cgo.
//
// zmq4 provides the ZMTP 3.0 handshake and framing (zmq4.Open) on a TCP
// connection that this type dials itself. zmq4's own socket type has no
// send queue and no deadline on the handshake, and it blocks its reader while
// the application does not receive. So the DEALER behaviour of libzmq is
// implemented here:
//   - frames queue while the master is unreachable, up to zmtpSendHWM;
//   - a lost connection is dialled again with the same identity, and the
//     queued frames go out on the new one;
//   - every blocking step can be cancelled.
//
// One goroutine (run) owns the connection. For each connection it starts a
// reader and a writer, and it waits for the connection to fail, for Reset,
// or for Close.
type zmtpTransport struct {
	endpoint string
	address  string // host:port for net.Dial
	identity string
	log      *slog.Logger

	mu     sync.Mutex // guards queue, generation and closed
	queue  [][]byte
	closed bool
	// generation counts resets. A writer puts frames back into the queue
	// after a failed send only if no reset dropped the queue meanwhile.
	generation int
	// queued has one element when frames were queued or Close was called.
	queued chan struct{}

	resets  chan struct{}
	closing chan struct{}
	// expired is closed when the flush time given to Close has passed.
	expired   chan struct{}
	closeOnce sync.Once
	done      chan struct{}

	incoming chan []byte
	inbox    frameQueue
	dropped  atomic.Int64
}

// newZMQTransport starts a pure-Go DEALER for endpoint ("tcp://host:port").
// It returns before the connection is up, as libzmq's connect does.
func newZMQTransport(endpoint, identity string, log *slog.Logger) (transport, error) {
	address, err := zmtpAddress(endpoint)
	if err != nil {
		return nil, err
	}
	t := &zmtpTransport{
		endpoint: endpoint,
		address:  address,
		identity: identity,
		log:      log,
		queued:   make(chan struct{}, 1),
		resets:   make(chan struct{}, 1),
		closing:  make(chan struct{}),
		expired:  make(chan struct{}),
		done:     make(chan struct{}),
		incoming: make(chan []byte, zmtpIncomingBuffer),
	}
	t.inbox.ready = make(chan struct{}, 1)
	go t.inbox.forward(t.incoming, t.closing)
	go t.run()
	return t, nil
}

// zmtpAddress returns the host:port of a "tcp://host:port" endpoint. An IPv6
// literal keeps its brackets, as net.Dial expects.
func zmtpAddress(endpoint string) (string, error) {
	address, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return "", fmt.Errorf("invalid ZeroMQ endpoint %q: only tcp://host:port is supported", endpoint)
	}
	if _, _, err := net.SplitHostPort(address); err != nil {
		return "", fmt.Errorf("invalid ZeroMQ endpoint %q: %w (check --master-host and --master-port)", endpoint, err)
	}
	return address, nil
}

func (t *zmtpTransport) Send(frame []byte) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return errTransportClosed
	}
	full := len(t.queue) >= zmtpSendHWM
	if !full {
		t.queue = append(t.queue, frame)
	}
	t.mu.Unlock()

	if full {
		// The queue is full only when the master has been unreachable for a
		// long time, as with libzmq's high-water mark.
		n := t.dropped.Add(1)
		if n == 1 || n%100 == 0 {
			t.log.Error("message to master dropped: send queue is full",
				"endpoint", t.endpoint, "queue_limit", zmtpSendHWM, "dropped_total", n)
		}
		return nil
	}
	notify(t.queued)
	return nil
}

func (t *zmtpTransport) Receive() <-chan []byte {
	return t.incoming
}

// Reset drops the frames queued so far at once, so that frames sent after
// Reset returns go out on the new connection, in order.
func (t *zmtpTransport) Reset() {
	t.mu.Lock()
	closed := t.closed
	if !closed {
		t.queue = nil
		t.generation++
	}
	t.mu.Unlock()
	if closed {
		t.log.Debug("socket reset skipped", "error", errTransportClosed)
		return
	}
	notify(t.resets)
}

func (t *zmtpTransport) Close(flush time.Duration) error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		notify(t.queued)
		close(t.closing)
		time.AfterFunc(max(flush, 0), func() { close(t.expired) })
	})
	<-t.done
	return nil
}

// notify puts one element into a channel of capacity 1 unless it has one.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run connects, reconnects and resets until Close. After Close it lets the
// writer send what is queued until the flush deadline, and returns.
func (t *zmtpTransport) run() {
	defer close(t.done)
	defer t.inbox.close()

	failures := 0
	for {
		t.mu.Lock()
		generation := t.generation
		t.mu.Unlock()
		conn, err := t.dial()
		if errors.Is(err, errConnectionReset) {
			t.log.Info("socket reset while connecting", "endpoint", t.endpoint)
			if !t.pause(zmtpResetPause) {
				return
			}
			continue
		}
		if err != nil {
			if t.closedAndDone() {
				return
			}
			failures++
			if failures == 1 || failures%100 == 0 {
				t.log.Warn("cannot connect to master; retrying", "endpoint", t.endpoint,
					"attempts", failures, "retry_interval", zmtpReconnectInterval, "error", err)
			}
			if !t.pause(zmtpReconnectInterval) {
				return
			}
			continue
		}
		if failures > 0 {
			t.log.Info("connected to master", "endpoint", t.endpoint, "failed_attempts", failures)
		}
		failures = 0

		switch t.serve(conn, generation) {
		case connectionLost:
			if !t.pause(zmtpReconnectInterval) {
				return
			}
		case connectionReset:
			t.log.Info("socket reset", "endpoint", t.endpoint)
			if !t.pause(zmtpResetPause) {
				return
			}
		case connectionClosed:
			return
		}
	}
}

// closedAndDone reports whether Close was called and either no frame is
// left to send or the flush time has passed.
func (t *zmtpTransport) closedAndDone() bool {
	select {
	case <-t.expired:
		return true
	default:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed && len(t.queue) == 0
}

// pause waits for d, or for a reset, which ends the pause early. It returns
// false when the transport is closed and done (see closedAndDone).
func (t *zmtpTransport) pause(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	closing := t.closing
	for {
		select {
		case <-timer.C:
			return !t.closedAndDone()
		case <-t.resets:
			return !t.closedAndDone()
		case <-closing:
			if t.closedAndDone() {
				return false
			}
			// Queued frames may still leave on a new connection before the
			// flush time ends.
			closing = nil
		case <-t.expired:
			return false
		}
	}
}

// errConnectionReset reports that Reset ended a connection or a connection
// attempt.
var errConnectionReset = errors.New("connection reset")

// dial opens a TCP connection to the master and runs the ZMTP handshake as
// a DEALER with the worker's identity. Reset cancels it and makes it return
// errConnectionReset, as closing a libzmq socket cancels its connection
// attempt. Close cancels it when nothing is left to send or the flush time
// has passed.
func (t *zmtpTransport) dial() (*zmq4.Conn, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		closing := t.closing
		for {
			select {
			case <-t.resets:
				cancel(errConnectionReset)
				return
			case <-closing:
				if t.closedAndDone() {
					cancel(errTransportClosed)
					return
				}
				closing = nil
			case <-t.expired:
				cancel(errTransportClosed)
				return
			case <-ctx.Done():
				return
			}
		}
	}()

	dialer := net.Dialer{Timeout: zmtpHandshakeTimeout, KeepAlive: zmtpTCPKeepalive}
	netConn, err := dialer.DialContext(ctx, "tcp", t.address)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		return nil, err
	}
	// Closing the connection is the only way to interrupt the handshake,
	// which reads without a context.
	interrupt := context.AfterFunc(ctx, func() { netConn.Close() })
	if err := netConn.SetDeadline(time.Now().Add(zmtpHandshakeTimeout)); err != nil {
		netConn.Close()
		return nil, err
	}
	conn, err := zmq4.Open(netConn, null.Security(), zmq4.Dealer, zmq4.SocketIdentity(t.identity), false, nil)
	if !interrupt() {
		// Reset or Close cancelled the handshake and closed the connection.
		return nil, context.Cause(ctx)
	}
	if err != nil {
		netConn.Close()
		return nil, fmt.Errorf("ZMTP handshake with %s: %w", t.endpoint, err)
	}
	if err := netConn.SetDeadline(time.Time{}); err != nil {
		netConn.Close()
		return nil, err
	}
	return conn, nil
}

// connectionEnd is the reason serve returned.
type connectionEnd int

const (
	connectionLost connectionEnd = iota
	connectionReset
	connectionClosed
)

// serve runs the reader and the writer on conn until the connection fails,
// Reset is called, or Close has flushed the queue. It closes conn. The
// writer sends only frames of generation, the reset count when the
// connection attempt started.
func (t *zmtpTransport) serve(conn *zmq4.Conn, generation int) connectionEnd {
	failed := make(chan error, 2)
	flushed := make(chan struct{})
	stopWriter := make(chan struct{})
	var goroutines sync.WaitGroup
	goroutines.Add(2)
	go func() {
		defer goroutines.Done()
		failed <- t.read(conn)
	}()
	go func() {
		defer goroutines.Done()
		if err := t.write(conn, stopWriter, generation); err != nil {
			failed <- err
			return
		}
		close(flushed)
	}()
	finish := func() {
		close(stopWriter)
		conn.Close()
		goroutines.Wait()
	}

	closing := t.closing
	var expired <-chan struct{}
	for {
		select {
		case err := <-failed:
			if errors.Is(err, errConnectionReset) {
				// The writer saw the reset first; its notification is
				// consumed here so that it does not end the next connection.
				select {
				case <-t.resets:
				default:
				}
				finish()
				return connectionReset
			}
			if t.closedAndDone() || expired != nil {
				// The connection failed while frames were flushed.
				finish()
				return connectionClosed
			}
			t.log.Warn("connection to master lost; reconnecting", "endpoint", t.endpoint, "error", err)
			finish()
			return connectionLost
		case <-t.resets:
			finish()
			return connectionReset
		case <-closing:
			// The writer sends what is queued and returns, and the flush
			// time bounds the wait when the master does not read.
			closing = nil
			expired = t.expired
		case <-flushed:
			finish()
			return connectionClosed
		case <-expired:
			t.mu.Lock()
			left := len(t.queue)
			t.mu.Unlock()
			if left > 0 {
				t.log.Warn("socket closed before every message to the master was sent",
					"endpoint", t.endpoint, "messages_not_sent", left)
			}
			finish()
			return connectionClosed
		}
	}
}

// read passes the master's messages to the inbox until the connection fails.
func (t *zmtpTransport) read(conn *zmq4.Conn) error {
	for {
		msg, err := conn.RecvMsg()
		if err != nil {
			return err
		}
		// RecvMsg replies to a ZMTP PING itself and returns commands as
		// messages, so only data messages go to the runner.
		// NOTE: that reply is written from this goroutine while the writer
		// may be sending, and zmq4.Conn does not serialize writes. Locust's
		// master (locust/rpc/zmqrpc.py, 2.47.0) sets no ZMTP heartbeat, so it
		// sends no PING and the race is not reached with it.
		if msg.Type != zmq4.UsrMsg || len(msg.Frames) == 0 {
			continue
		}
		if len(msg.Frames) > 1 {
			t.log.Warn("message from master has extra frames; using the first", "frames", len(msg.Frames))
		}
		t.inbox.push(msg.Frames[0])
	}
}

// write sends the queued frames in order. It returns nil when the transport
// is closed and the queue is empty, errConnectionReset once a Reset after
// generation happened, and another error when a send fails. A frame whose
// send failed is lost, as in libzmq when a connection breaks.
func (t *zmtpTransport) write(conn *zmq4.Conn, stop <-chan struct{}, generation int) error {
	for {
		t.mu.Lock()
		if t.generation != generation {
			// Frames queued after a reset belong to the next connection.
			t.mu.Unlock()
			return errConnectionReset
		}
		batch := t.queue
		t.queue = nil
		closed := t.closed
		t.mu.Unlock()

		for i, frame := range batch {
			if t.resetSince(generation) {
				// A reset dropped the rest of the batch.
				return errConnectionReset
			}
			if err := conn.SendMsg(zmq4.NewMsg(frame)); err != nil {
				t.requeue(batch[i+1:], generation)
				return fmt.Errorf("send to %s: %w", t.endpoint, err)
			}
		}
		if len(batch) > 0 {
			continue
		}
		if closed {
			return nil
		}
		select {
		case <-t.queued:
		case <-stop:
			return errTransportClosed
		}
	}
}

func (t *zmtpTransport) resetSince(generation int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.generation != generation
}

// requeue puts frames back at the front of the queue, for the next
// connection, unless a reset after generation dropped them.
func (t *zmtpTransport) requeue(frames [][]byte, generation int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(frames) == 0 || t.generation != generation {
		return
	}
	t.queue = append(append([][]byte(nil), frames...), t.queue...)
}

var _ transport = (*zmtpTransport)(nil)
