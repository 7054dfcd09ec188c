// Command http is a worker whose users send HTTP GET requests to one URL.
// Each request reads the whole body and is reported as a success with the
// body's length, or as a failure with the error or the status code (400 and
// above).
//
//	locust -f examples/locustfile.py --master --headless -u 20 -r 20 -t 20s --expect-workers 1
//	go run ./examples/http --url http://127.0.0.1:8080/
//
// Without --url the worker starts its own target on 127.0.0.1, so the example
// runs with nothing else installed. --client picks how the task sends its
// requests: nethttp (the default) uses net/http and boomer.RecordSuccess,
// helper uses boomer.HTTPClient and fasthttp uses boomer.FastHTTPClient.
// Both helpers read the body and record the request themselves. Without a
// master:
//
//	go run ./examples/http --standalone -u 20 -r 10 -t 30s --csv out --html report.html
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/locust-go/boomer"
)

var (
	targetURL  = flag.String("url", "", "URL to request; empty starts a local target on 127.0.0.1")
	timeout    = flag.Duration("timeout", 10*time.Second, "timeout of one request, including reading the body")
	wait       = flag.Duration("wait", 0, "pause of each user after every request, such as 1s; 0 sends the next request at once")
	clientKind = flag.String("client", "nethttp", "how the task sends requests: nethttp (net/http and boomer.RecordSuccess), helper (boomer.HTTPClient) or fasthttp (boomer.FastHTTPClient)")
	maxConns   = flag.Int("max-conns", 0, "maximum number of connections to the target; 0 keeps the client's default: no limit for nethttp and helper, 10000 for fasthttp. The number of users gives each user one connection")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file, for go tool pprof")
)

var (
	setupOnce    sync.Once
	client       *http.Client
	helperClient *boomer.HTTPClient
	fastClient   *boomer.FastHTTPClient
	requestURL   string
	requestName  string
)

// setup runs in the first task, once the flags are parsed: it builds the
// net/http client and starts the local target when --url is empty.
func setup() {
	requestURL = *targetURL
	if requestURL == "" {
		requestURL = startLocalTarget()
	}
	u, err := url.Parse(requestURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		log.Fatalf("invalid --url %q: pass an absolute URL such as http://127.0.0.1:8080/", requestURL)
	}
	requestName = u.Path
	if requestName == "" {
		requestName = "/"
	}
	client = &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			// Every user keeps its connection open between requests.
			MaxIdleConns:        10000,
			MaxIdleConnsPerHost: 10000,
			// Without a limit, a user that finds every connection busy
			// dials a new one, which stays idle once the user gets
			// another connection first.
			MaxConnsPerHost: *maxConns,
			IdleConnTimeout: 90 * time.Second,
		},
	}
}

// startLocalTarget serves a small page on 127.0.0.1 and returns its URL.
func startLocalTarget() string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("start local target: %v", err)
	}
	go func() {
		err := http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello from the local target\n")
		}))
		log.Printf("local target stopped: %v", err)
	}()
	target := fmt.Sprintf("http://%s/", listener.Addr())
	log.Printf("no --url given; requesting the local target %s", target)
	return target
}

func get() {
	setupOnce.Do(setup)

	start := time.Now()
	resp, err := client.Get(requestURL)
	if err != nil {
		boomer.RecordFailure("GET", requestName, time.Since(start), err.Error())
		return
	}
	length, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)

	switch {
	case err != nil:
		boomer.RecordFailure("GET", requestName, elapsed, "read body: "+err.Error())
	case resp.StatusCode >= 400:
		boomer.RecordFailure("GET", requestName, elapsed, fmt.Sprintf("HTTP %d", resp.StatusCode))
	default:
		boomer.RecordSuccess("GET", requestName, elapsed, length)
	}
}

// getWithHelper sends the same request as get through boomer.HTTPClient,
// which records it.
func getWithHelper() {
	setupOnce.Do(setup)
	// The client has recorded the failure, so the error needs no handling.
	_, _ = helperClient.Get(context.Background(), requestURL)
}

// getWithFastHTTP sends the same request as get through
// boomer.FastHTTPClient, which records it.
func getWithFastHTTP() {
	setupOnce.Do(setup)
	// The client has recorded the failure, so the error needs no handling.
	_ = fastClient.Get(context.Background(), requestURL)
}

// getAndWait sends one request with send and then pauses for --wait, or less
// when the user is stopped.
func getAndWait(u *boomer.User, send func()) {
	send()
	if *wait <= 0 {
		return
	}
	timer := time.NewTimer(*wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-u.Context().Done():
	}
}

func main() {
	os.Exit(run())
}

// run runs the worker and returns the exit status, so that the CPU profile
// is written on every path.
func run() int {
	cfg := boomer.DefaultConfig()
	cfg.RegisterFlags(flag.CommandLine)
	flag.Parse()

	var send func()
	switch *clientKind {
	case "nethttp":
		send = get
	case "helper":
		send = getWithHelper
	case "fasthttp":
		send = getWithFastHTTP
	default:
		fmt.Fprintf(os.Stderr, "invalid --client %q: use nethttp, helper or fasthttp\n", *clientKind)
		return 2
	}
	if *maxConns < 0 {
		fmt.Fprintf(os.Stderr, "invalid --max-conns %d: use 0 for the client's default, or 1 or more\n", *maxConns)
		return 2
	}
	task := &boomer.Task{Name: "get", Weight: 1, Run: func(u *boomer.User) { getAndWait(u, send) }}
	b, err := boomer.New(boomer.WithConfig(cfg), boomer.WithTasks(task))
	if err != nil {
		fmt.Fprintf(os.Stderr, "http: %v\n", err)
		return 2
	}
	// The helpers get the same limits as the net/http client of setup.
	switch *clientKind {
	case "helper":
		options := []boomer.HTTPOption{boomer.WithTimeout(*timeout), boomer.WithMaxIdleConnsPerHost(10000)}
		if *maxConns > 0 {
			options = append(options, boomer.WithMaxConnsPerHost(*maxConns))
		}
		helperClient, err = boomer.NewHTTPClient(b, options...)
	case "fasthttp":
		fastClient, err = boomer.NewFastHTTPClient(b, boomer.WithTimeout(*timeout), boomer.WithMaxConnsPerHost(cmp.Or(*maxConns, 10000)))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "http: %v\n", err)
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "http: invalid --cpuprofile: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "http: start CPU profile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	err = b.Run(context.Background())
	if err != nil {
		log.Printf("worker stopped: %v", err)
	}
	return boomer.ExitCode(err)
}
