package boomer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests check the transport contract against a ZeroMQ ROUTER from
// go-zeromq/zmq4, with whichever transport the build selects (goczmq by
// default, zmq4 with the tag purego). The integration tests check both
// against the real Locust master.

// startRouter listens with a ROUTER on host (an IP literal) and returns it
// with its endpoint.
func startRouter(t *testing.T, host string) (zmq4.Socket, string) {
	t.Helper()
	listener, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(t, listener.Close())

	ctx, cancel := context.WithCancel(context.Background())
	router := zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("router")))
	endpoint := "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
	require.NoError(t, router.Listen(endpoint))
	t.Cleanup(func() {
		router.Close()
		cancel()
	})
	return router, endpoint
}

// receiveFrom returns the identity and payload of the next message of the
// router, or fails the test after timeout.
func receiveFrom(t *testing.T, router zmq4.Socket, timeout time.Duration) (string, string) {
	t.Helper()
	type result struct {
		msg zmq4.Msg
		err error
	}
	done := make(chan result, 1)
	go func() {
		msg, err := router.Recv()
		done <- result{msg, err}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Len(t, r.msg.Frames, 2, "ROUTER message: identity and payload")
		return string(r.msg.Frames[0]), string(r.msg.Frames[1])
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
		return "", ""
	}
}

func newTestTransport(t *testing.T, endpoint, identity string) transport {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tr, err := newZMQTransport(endpoint, identity, logger)
	require.NoError(t, err)
	return tr
}

func TestTransportContract(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			router, endpoint := startRouter(t, host)
			tr := newTestTransport(t, endpoint, "worker-1")

			// Frames keep their order and carry the identity.
			for i := 0; i < 20; i++ {
				require.NoError(t, tr.Send([]byte(fmt.Sprintf("frame %d", i))))
			}
			for i := 0; i < 20; i++ {
				identity, payload := receiveFrom(t, router, 10*time.Second)
				assert.Equal(t, "worker-1", identity)
				assert.Equal(t, fmt.Sprintf("frame %d", i), payload)
			}

			// A frame from the ROUTER reaches Receive.
			require.NoError(t, router.Send(zmq4.NewMsgFrom([]byte("worker-1"), []byte("reply"))))
			select {
			case frame := <-tr.Receive():
				assert.Equal(t, "reply", string(frame))
			case <-time.After(10 * time.Second):
				t.Fatal("no frame from the ROUTER within 10s")
			}

			// A frame sent right after Reset goes out on the new socket, with
			// the same identity.
			tr.Reset()
			require.NoError(t, tr.Send([]byte("after reset")))
			identity, payload := receiveFrom(t, router, 10*time.Second)
			assert.Equal(t, "worker-1", identity)
			assert.Equal(t, "after reset", payload)

			// Close sends what is queued before it closes the socket.
			require.NoError(t, tr.Send([]byte("last")))
			require.NoError(t, tr.Close(time.Second))
			identity, payload = receiveFrom(t, router, 10*time.Second)
			assert.Equal(t, "worker-1", identity)
			assert.Equal(t, "last", payload)

			assert.ErrorIs(t, tr.Send([]byte("closed")), errTransportClosed)
			_, open := <-tr.Receive()
			assert.False(t, open, "Receive channel still open after Close")
		})
	}
}

func TestTransportQueuesUntilMasterListens(t *testing.T) {
	// Reserve a port, then start the transport before anything listens.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(t, listener.Close())
	endpoint := "tcp://127.0.0.1:" + strconv.Itoa(port)

	tr := newTestTransport(t, endpoint, "early-worker")
	defer tr.Close(0)
	require.NoError(t, tr.Send([]byte("sent before the ROUTER listened")))
	time.Sleep(300 * time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	router := zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("router")))
	defer router.Close()
	require.NoError(t, router.Listen(endpoint))

	identity, payload := receiveFrom(t, router, 10*time.Second)
	assert.Equal(t, "early-worker", identity)
	assert.Equal(t, "sent before the ROUTER listened", payload)
}

func TestTransportCloseWithoutMasterReturns(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(t, listener.Close())

	tr := newTestTransport(t, "tcp://127.0.0.1:"+strconv.Itoa(port), "lonely-worker")
	require.NoError(t, tr.Send([]byte("never delivered")))
	done := make(chan struct{})
	go func() {
		tr.Close(500 * time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s with no master")
	}
}
