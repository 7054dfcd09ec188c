package boomer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The two benchmarks send the same GET requests to the same local server,
// over transports with the same settings, so their difference is the cost
// of HTTPClient: building the request, reading the body into a []byte and
// recording the request.
//
//	go test -run='^$' -bench=HTTP -benchmem -count=5 .

func newBenchTarget(b *testing.B) *httptest.Server {
	b.Helper()
	body := []byte("hello")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkHTTPClientGet(b *testing.B) {
	srv := newBenchTarget(b)
	boomer, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: func() {}}), WithSignalHandling(false))
	if err != nil {
		b.Fatal(err)
	}
	client, err := NewHTTPClient(boomer)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.CloseIdleConnections)
	url := srv.URL + "/bench"
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Get(ctx, url); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()

	if n := boomer.stats.snapshot().total().numRequests; n < int64(b.N) {
		b.Errorf("recorded %d requests, sent %d", n, b.N)
	}
}

func BenchmarkNetHTTPGet(b *testing.B) {
	srv := newBenchTarget(b)
	client := &http.Client{
		Transport: newHTTPTransport(DefaultMaxIdleConnsPerHost, true),
		Timeout:   DefaultHTTPTimeout,
	}
	b.Cleanup(client.CloseIdleConnections)
	url := srv.URL + "/bench"
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
