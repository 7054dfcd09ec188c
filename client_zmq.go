//go:build !purego

package boomer

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeromq/goczmq"
)

// ZeroMQ socket settings. Locust's own sockets use the same keepalive values
// (locust/rpc/zmqrpc.py).
const (
	zmqTCPKeepaliveIdle = 30 // seconds
	zmqPollInterval     = 500 * time.Millisecond
	zmqSendRetries      = 3
	// zmqResetPause is the time between closing the old socket and opening
	// the new one in a reset, for the master to see the old connection close.
	zmqResetPause = 200 * time.Millisecond
	// zmqIncomingBuffer is the capacity of the channel that Receive returns.
	// Frames beyond it wait in an unbounded queue, so a busy runner never
	// stops the socket loop, which also sends the heartbeats.
	zmqIncomingBuffer = 256
)

// zmqTransport is a ZeroMQ DEALER connected to the master's ROUTER, on
// goczmq (cgo, libczmq). A ZeroMQ socket must not be used from two threads at
// once, so one goroutine, locked to its OS thread, owns the DEALER. Other
// goroutines hand it operations through a queue and wake it through an
// inproc PUSH/PULL pair that it polls together with the DEALER.
type zmqTransport struct {
	endpoint string
	identity string
	log      *slog.Logger

	mu      sync.Mutex // guards ops, closed and wakePush
	ops     []zmqOp
	closed  bool
	wakeEnd string
	// wakePush is written by the goroutines that queue operations.
	wakePush *goczmq.Sock

	incoming  chan []byte
	inbox     frameQueue
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	dropped   atomic.Int64
}

// zmqOp is one queued operation: a frame to send, a reset or a close.
type zmqOp struct {
	frame []byte
	reset bool
	end   bool
	flush time.Duration // with end: how long frames may take to leave
}

var wakeEndpointSeq atomic.Int64

func newZMQTransport(endpoint, identity string, log *slog.Logger) (transport, error) {
	t := &zmqTransport{
		endpoint: endpoint,
		identity: identity,
		log:      log,
		wakeEnd:  fmt.Sprintf("inproc://boomer-wake-%d-%s", wakeEndpointSeq.Add(1), identity),
		incoming: make(chan []byte, zmqIncomingBuffer),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	t.inbox.ready = make(chan struct{}, 1)
	go t.inbox.forward(t.incoming, t.closing)
	started := make(chan error, 1)
	go t.loop(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return t, nil
}

func (t *zmqTransport) Send(frame []byte) error {
	return t.enqueue(zmqOp{frame: frame})
}

func (t *zmqTransport) Receive() <-chan []byte {
	return t.incoming
}

func (t *zmqTransport) Reset() {
	if err := t.enqueue(zmqOp{reset: true}); err != nil {
		t.log.Debug("socket reset skipped", "error", err)
	}
}

func (t *zmqTransport) Close(flush time.Duration) error {
	t.closeOnce.Do(func() {
		// After the end operation no other operation is queued.
		t.mu.Lock()
		if !t.closed {
			t.ops = append(t.ops, zmqOp{end: true, flush: flush})
			t.wake()
			t.closed = true
		}
		t.mu.Unlock()
		close(t.closing)
	})
	<-t.done
	return nil
}

func (t *zmqTransport) enqueue(op zmqOp) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errTransportClosed
	}
	t.ops = append(t.ops, op)
	t.wake()
	return nil
}

// wake signals the loop that operations are queued. The caller holds t.mu.
func (t *zmqTransport) wake() {
	// One pending wake-up is enough: the loop drains every queued operation.
	if len(t.ops) != 1 {
		return
	}
	if err := t.wakePush.SendFrame([]byte{0}, goczmq.FlagDontWait); err != nil {
		t.log.Debug("wake-up signal not sent; the loop picks the operation up at its next poll", "error", err)
	}
}

func (t *zmqTransport) newDealer() (*goczmq.Sock, error) {
	dealer := goczmq.NewSock(goczmq.Dealer)
	dealer.SetIdentity(t.identity)
	dealer.SetLinger(0)
	dealer.SetTcpKeepalive(1)
	dealer.SetTcpKeepaliveIdle(zmqTCPKeepaliveIdle)
	// Without IPV6, libzmq resolves and connects to IPv4 addresses only.
	dealer.SetIpv6(1)
	if err := dealer.Connect(t.endpoint); err != nil {
		dealer.Destroy()
		return nil, fmt.Errorf("connect ZeroMQ DEALER to %s: %w (check --master-host and --master-port)", t.endpoint, err)
	}
	return dealer, nil
}

func (t *zmqTransport) loop(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(t.done)
	defer t.inbox.close()

	wakePull := goczmq.NewSock(goczmq.Pull)
	defer wakePull.Destroy()
	if _, err := wakePull.Bind(t.wakeEnd); err != nil {
		started <- fmt.Errorf("bind %s: %w", t.wakeEnd, err)
		return
	}
	wakePush := goczmq.NewSock(goczmq.Push)
	wakePush.SetLinger(0)
	if err := wakePush.Connect(t.wakeEnd); err != nil {
		wakePush.Destroy()
		started <- fmt.Errorf("connect %s: %w", t.wakeEnd, err)
		return
	}
	// Other goroutines use wakePush under t.mu while closed is false. The
	// deferred calls run in reverse order: closed is set before the destroy.
	defer wakePush.Destroy()
	defer func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
	}()
	t.wakePush = wakePush

	dealer, err := t.newDealer()
	if err != nil {
		started <- err
		return
	}
	poller, err := goczmq.NewPoller(dealer, wakePull)
	if err != nil {
		dealer.Destroy()
		started <- fmt.Errorf("create ZeroMQ poller: %w", err)
		return
	}
	started <- nil

	defer func() {
		if dealer != nil {
			poller.Destroy()
			dealer.Destroy()
		}
	}()

	for {
		ready := poller.Wait(int(zmqPollInterval / time.Millisecond))
		if ready == dealer {
			t.receive(dealer)
		}
		if ready == wakePull {
			for wakePull.Pollin() {
				if _, _, err := wakePull.RecvFrame(); err != nil {
					break
				}
			}
		}

		t.mu.Lock()
		ops := t.ops
		t.ops = nil
		t.mu.Unlock()

		for _, op := range ops {
			switch {
			case op.end:
				t.flush(dealer, op.flush)
				return
			case op.reset:
				// The old socket closes first, and the new one connects after
				// a pause: a ROUTER without handover ignores a new peer whose
				// identity still belongs to a live connection, and then
				// misreads that peer's messages.
				poller.Destroy()
				dealer.Destroy()
				dealer = nil
				time.Sleep(zmqResetPause)
				next, err := t.newDealer()
				if err != nil {
					t.log.Error("socket reset failed: cannot open a new socket", "endpoint", t.endpoint, "error", err)
					return
				}
				dealer = next
				// goczmq's Poller.Remove fails on the first socket, so the
				// poller is rebuilt instead.
				poller, err = goczmq.NewPoller(dealer, wakePull)
				if err != nil {
					t.log.Error("socket reset failed: cannot create a ZeroMQ poller", "error", err)
					dealer.Destroy()
					dealer = nil
					return
				}
				t.log.Info("socket reset", "endpoint", t.endpoint)
			default:
				t.send(dealer, op.frame)
			}
		}
	}
}

// receive reads one message from the DEALER and queues its first frame for
// the runner. It never waits for the runner.
func (t *zmqTransport) receive(dealer *goczmq.Sock) {
	frames, err := dealer.RecvMessage()
	if err != nil || len(frames) == 0 {
		// An interrupted receive leaves the message queued for the next poll.
		return
	}
	if len(frames) > 1 {
		t.log.Warn("message from master has extra frames; using the first", "frames", len(frames))
	}
	t.inbox.push(frames[0])
}

func (t *zmqTransport) send(dealer *goczmq.Sock, frame []byte) {
	var err error
	for i := 0; i < zmqSendRetries; i++ {
		if err = dealer.SendFrame(frame, goczmq.FlagDontWait); err == nil {
			return
		}
	}
	// The DEALER queue is full only when the master has been unreachable for
	// a long time (libzmq's default high-water mark is 1000 messages).
	n := t.dropped.Add(1)
	if n == 1 || n%100 == 0 {
		t.log.Error("message to master dropped: ZeroMQ send queue is full or the socket failed",
			"endpoint", t.endpoint, "dropped_total", n, "error", err)
	}
}

// flush gives frames already handed to libzmq time to reach the network.
// libzmq sends in a background thread and has no call that waits for an
// empty queue, and a Go program that exits does not run libzmq's exit
// handlers, so the socket lingers for the flush time before it closes.
func (t *zmqTransport) flush(dealer *goczmq.Sock, flush time.Duration) {
	if flush <= 0 {
		return
	}
	dealer.SetLinger(int(flush / time.Millisecond))
	time.Sleep(min(flush, zmqFlushPause))
}

// zmqFlushPause is how long Close waits before closing the socket. Frames to a
// connected master on a local network leave in well under a millisecond.
const zmqFlushPause = 100 * time.Millisecond

// zmqLibrary names the ZeroMQ implementation of this build in the start log.
const zmqLibrary = "goczmq (libzmq)"
