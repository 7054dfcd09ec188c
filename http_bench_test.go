package boomer

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkHTTPClientGet and BenchmarkNetHTTPGet send the same GET requests
// to the same local server, over transports with the same settings, so their
// difference is the cost of HTTPClient: building the request, reading the
// body into a []byte and recording the request. BenchmarkFastHTTPClientGet
// and BenchmarkFastHTTPGet do the same for FastHTTPClient and a bare
// fasthttp.Client, against that server and against a fasthttp server, whose
// own allocations are near zero, so that allocs/op shows the client's.
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

// newFastBenchTarget starts a fasthttp server on 127.0.0.1 that responds to
// every request with "hello", and returns its base URL.
func newFastBenchTarget(b *testing.B) string {
	b.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("hello")
	server := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBody(body)
	}}
	go server.Serve(listener)
	b.Cleanup(func() { server.Shutdown() })
	return "http://" + listener.Addr().String()
}

// startFastBenchTarget starts the target named server and returns its base
// URL: "nethttp-server" is the server of the other benchmarks, and
// "fasthttp-server" is a fasthttp server.
func startFastBenchTarget(b *testing.B, server string) string {
	if server == "nethttp-server" {
		return newBenchTarget(b).URL
	}
	return newFastBenchTarget(b)
}

func BenchmarkFastHTTPClientGet(b *testing.B) {
	for _, server := range []string{"nethttp-server", "fasthttp-server"} {
		for _, relative := range []bool{false, true} {
			name := server + "/absolute-url"
			if relative {
				name = server + "/relative-url"
			}
			b.Run(name, func(b *testing.B) {
				benchmarkFastHTTPClientGet(b, startFastBenchTarget(b, server), relative)
			})
		}
	}
}

// benchmarkFastHTTPClientGet sends GET requests to base+"/bench", written
// out in full or relative to WithBaseURL(base).
func benchmarkFastHTTPClientGet(b *testing.B, base string, relative bool) {
	boomer, err := New(WithTasks(&Task{Name: "t", Weight: 1, Fn: func() {}}), WithSignalHandling(false))
	if err != nil {
		b.Fatal(err)
	}
	url := base + "/bench"
	var opts []HTTPOption
	if relative {
		url = "/bench"
		opts = append(opts, WithBaseURL(base))
	}
	client, err := NewFastHTTPClient(boomer, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.CloseIdleConnections)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := client.Get(ctx, url); err != nil {
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

func BenchmarkFastHTTPGet(b *testing.B) {
	for _, server := range []string{"nethttp-server", "fasthttp-server"} {
		b.Run(server, func(b *testing.B) {
			url := startFastBenchTarget(b, server) + "/bench"
			client := &fasthttp.Client{MaxConnsPerHost: DefaultMaxConnsPerHost, ReadBufferSize: fastReadBufferSize}
			b.Cleanup(client.CloseIdleConnections)

			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := fasthttp.AcquireRequest()
				resp := fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for pb.Next() {
					req.SetRequestURI(url)
					if err := client.DoTimeout(req, resp, DefaultHTTPTimeout); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
