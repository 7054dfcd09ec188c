package locusttest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CountingServer is an HTTP server on 127.0.0.1 that counts every request it
// receives, in total and per URL path. It responds with 200 and the body
// "ok\n" unless SetStatus or SetDelay change that for a path. It is safe for
// concurrent use.
type CountingServer struct {
	// URL is the base URL, such as "http://127.0.0.1:34567", without a
	// trailing slash.
	URL string

	server *httptest.Server
	total  atomic.Int64

	mu       sync.Mutex
	perPath  map[string]int64
	statuses map[string]int
	delays   map[string]time.Duration
}

// NewCountingServer starts a CountingServer and registers a cleanup that
// closes it.
func NewCountingServer(t testing.TB) *CountingServer {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0 for the counting server: %v", err)
	}
	s := &CountingServer{
		perPath:  make(map[string]int64),
		statuses: make(map[string]int),
		delays:   make(map[string]time.Duration),
	}
	s.server = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.server.Listener = listener
	s.server.Start()
	s.URL = s.server.URL
	t.Cleanup(s.server.Close)
	return s
}

// SetStatus makes the server respond to requests for path with status code,
// for example SetStatus("/fail", 500). The body is then the status text,
// such as "Internal Server Error\n". The request is still counted.
func (s *CountingServer) SetStatus(path string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[path] = code
}

// SetDelay makes requests for path wait for delay before the response is
// written. The wait ends early when the client cancels the request.
// A delay of 0 removes it.
func (s *CountingServer) SetDelay(path string, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if delay <= 0 {
		delete(s.delays, path)
		return
	}
	s.delays[path] = delay
}

// Count returns the number of requests received for all paths.
func (s *CountingServer) Count() int64 {
	return s.total.Load()
}

// CountPath returns the number of requests received for path, such as "/fail".
func (s *CountingServer) CountPath(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perPath[path]
}

func (s *CountingServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)

	s.mu.Lock()
	s.perPath[r.URL.Path]++
	status, hasStatus := s.statuses[r.URL.Path]
	delay := s.delays[r.URL.Path]
	s.mu.Unlock()

	if !hasStatus {
		status = http.StatusOK
	}

	// Read the body so that a client that sends one can reuse the connection.
	_, _ = io.Copy(io.Discard, r.Body)

	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}

	body := "ok\n"
	if status != http.StatusOK {
		body = http.StatusText(status) + "\n"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
