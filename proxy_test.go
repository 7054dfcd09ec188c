package boomer

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// partitionProxy forwards TCP connections from a listener on 127.0.0.1 to a
// target address, and stages network partitions between the two sides.
//
// Hold stops all forwarding in both directions but keeps the connections
// open, as a network that drops every packet does while TCP retransmits:
// bytes wait in the proxy and in the kernels' buffers and flow again after
// Release. Cut resets every connection and refuses new ones until Release,
// as a host that went away does.
type partitionProxy struct {
	t        *testing.T
	listener net.Listener
	target   string

	mu      sync.Mutex
	held    bool
	cut     bool
	changed *sync.Cond
	conns   map[net.Conn]struct{}
	// running counts the accept and forward goroutines.
	running sync.WaitGroup
}

// startPartitionProxy starts a proxy to target. The test's cleanup closes
// it and every connection it forwards.
func startPartitionProxy(t *testing.T, target string) *partitionProxy {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("partition proxy: listen on 127.0.0.1: %v", err)
	}
	p := &partitionProxy{t: t, listener: listener, target: target, conns: map[net.Conn]struct{}{}}
	p.changed = sync.NewCond(&p.mu)
	p.running.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Port returns the port the proxy listens on.
func (p *partitionProxy) Port() int {
	return p.listener.Addr().(*net.TCPAddr).Port
}

// Hold stops forwarding until Release, keeping the connections open.
func (p *partitionProxy) Hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Cut resets every open connection and refuses new ones until Release.
func (p *partitionProxy) Cut() {
	p.mu.Lock()
	p.cut = true
	for conn := range p.conns {
		resetConn(conn)
	}
	p.mu.Unlock()
}

// Release ends a Hold or a Cut: held bytes are forwarded and new connections
// are accepted again.
func (p *partitionProxy) Release() {
	p.mu.Lock()
	p.held = false
	p.cut = false
	p.changed.Broadcast()
	p.mu.Unlock()
}

func (p *partitionProxy) close() {
	p.listener.Close()
	p.mu.Lock()
	p.held = false
	for conn := range p.conns {
		conn.Close()
	}
	p.changed.Broadcast()
	p.mu.Unlock()
	p.running.Wait()
}

func (p *partitionProxy) accept() {
	defer p.running.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refused := p.cut
		p.mu.Unlock()
		if refused {
			resetConn(client)
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			p.t.Logf("partition proxy: dial %s: %v", p.target, err)
			resetConn(client)
			continue
		}
		if !p.track(client, server) {
			continue
		}
		p.running.Add(2)
		go p.forward(server, client)
		go p.forward(client, server)
	}
}

// track registers a pair of connections to forward, or resets them and
// returns false when the proxy was cut meanwhile.
func (p *partitionProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, conn := range conns {
			resetConn(conn)
		}
		return false
	}
	for _, conn := range conns {
		p.conns[conn] = struct{}{}
	}
	return true
}

// forward copies from src to dst until either side ends, waiting while the
// proxy holds. Each chunk read is written whole after the hold ends, so a
// hold loses no bytes.
func (p *partitionProxy) forward(dst, src net.Conn) {
	defer p.running.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held {
				p.changed.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.t.Logf("partition proxy: read: %v", err)
			}
			return
		}
	}
}

// resetConn closes conn with an RST instead of a FIN.
func resetConn(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}
