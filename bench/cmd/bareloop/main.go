// Command bareloop sends HTTP GET requests from a fixed number of goroutines
// for a fixed time, with the net/http client settings of examples/http and
// without the boomer library. It is the baseline that loadbench compares the
// worker with: the same request code, minus the worker.
//
//	go run ./bench/cmd/bareloop --url http://127.0.0.1:8080/ --users 50 --duration 10s
//
// At the end it prints one JSON object to stdout: the requests sent, the
// failures among them, the time the loop ran, and the median and 99th
// percentile of the response times in milliseconds.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"
)

// Response times are counted in buckets of two significant digits of a
// microsecond count: 1 µs wide below 100 µs, 10 µs wide from 100 µs to
// 1 ms, and so on up to bucketMax; longer ones are kept exactly. The
// buckets take 5 KB per goroutine. A finer histogram would be a live heap
// that makes the garbage collector run less often: 10 µs buckets up to
// 100 ms took 4 MB for 50 goroutines. The loop is the baseline without the
// library, so it must not get that for free.
const (
	bucketMax   = 100 * time.Second
	bucketCount = 100 + 90*6 // below 100 µs, then 6 decades up to 100 s
)

// histogram counts the requests and response times of one goroutine.
// Failures without a response have no response time.
type histogram struct {
	requests int64
	failures int64
	buckets  [bucketCount]int64
	overflow []time.Duration
}

// bucketOf returns the bucket of d, or -1 past bucketMax.
func bucketOf(d time.Duration) int {
	us := int64(max(d, 0) / time.Microsecond)
	if us < 100 {
		return int(us)
	}
	if d >= bucketMax {
		return -1
	}
	// us has e+2 digits: its first two are the mantissa m (10 to 99).
	e, m := 0, us/10
	for m >= 100 {
		m /= 10
		e++
	}
	return 100 + 90*e + int(m-10)
}

// bucketMiddle returns the middle of bucket i.
func bucketMiddle(i int) time.Duration {
	if i < 100 {
		return time.Duration(i)*time.Microsecond + time.Microsecond/2
	}
	e, m := (i-100)/90, int64((i-100)%90+10)
	width := time.Microsecond
	for ; e >= 0; e-- {
		width *= 10
	}
	return time.Duration(m)*width + width/2
}

func (h *histogram) add(d time.Duration) {
	if i := bucketOf(d); i >= 0 {
		h.buckets[i]++
		return
	}
	h.overflow = append(h.overflow, d)
}

func (h *histogram) merge(other *histogram) {
	h.requests += other.requests
	h.failures += other.failures
	for i, n := range other.buckets {
		h.buckets[i] += n
	}
	h.overflow = append(h.overflow, other.overflow...)
}

// quantile returns the middle of the bucket below which the fraction q of
// the requests fall, or the exact time past bucketMax. It returns 0 for an
// empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	total := int64(len(h.overflow))
	for _, n := range h.buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total-1)) + 1
	var seen int64
	for i, n := range h.buckets {
		seen += n
		if seen >= rank {
			return bucketMiddle(i)
		}
	}
	slices.Sort(h.overflow)
	return h.overflow[rank-seen-1]
}

// result is the JSON object bareloop prints.
type result struct {
	Requests int64   `json:"requests"`
	Failures int64   `json:"failures"`
	Seconds  float64 `json:"seconds"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
}

func main() {
	targetURL := flag.String("url", "", "URL to request (required), such as http://127.0.0.1:8080/")
	users := flag.Int("users", 50, "number of goroutines, each sending one request at a time")
	duration := flag.Duration("duration", 10*time.Second, "how long to send requests")
	timeout := flag.Duration("timeout", 10*time.Second, "timeout of one request, including reading the body")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file, for go tool pprof")
	maxConns := flag.Int("max-conns", 0, "maximum number of connections to the target, 0 for no limit, as in examples/http")
	maxRequests := flag.Int64("max-requests", 100_000_000, "stop after about this many requests in total (each goroutine sends its share), even before --duration")
	flag.Parse()

	if u, err := url.Parse(*targetURL); err != nil || u.Scheme == "" || u.Host == "" {
		fmt.Fprintf(os.Stderr, "bareloop: invalid --url %q: pass an absolute URL such as http://127.0.0.1:8080/\n", *targetURL)
		os.Exit(2)
	}
	if *maxConns < 0 {
		fmt.Fprintf(os.Stderr, "bareloop: invalid --max-conns %d: use 0 for no limit, or 1 or more\n", *maxConns)
		os.Exit(2)
	}
	if *users < 1 || *duration <= 0 || *maxRequests < 1 {
		fmt.Fprintf(os.Stderr, "bareloop: --users %d, --duration %s and --max-requests %d must all be positive\n", *users, *duration, *maxRequests)
		os.Exit(2)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bareloop: invalid --cpuprofile: %v\n", err)
			os.Exit(2)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bareloop: start CPU profile: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	// The client settings of examples/http.
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxIdleConns:        10000,
			MaxIdleConnsPerHost: 10000,
			MaxConnsPerHost:     *maxConns,
			IdleConnTimeout:     90 * time.Second,
		},
	}

	histograms := make([]histogram, *users)
	perGoroutine := max(*maxRequests/int64(*users), 1)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*duration)
	for g := range histograms {
		wg.Add(1)
		go func(h *histogram) {
			defer wg.Done()
			for h.requests < perGoroutine && time.Now().Before(deadline) {
				h.requests++
				requestStart := time.Now()
				resp, err := client.Get(*targetURL)
				if err != nil {
					h.failures++
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h.add(time.Since(requestStart))
				if err != nil || resp.StatusCode >= 400 {
					h.failures++
				}
			}
		}(&histograms[g])
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all histogram
	for i := range histograms {
		all.merge(&histograms[i])
	}
	out := result{
		Requests: all.requests,
		Failures: all.failures,
		Seconds:  elapsed.Seconds(),
		P50Ms:    float64(all.quantile(0.50)) / float64(time.Millisecond),
		P99Ms:    float64(all.quantile(0.99)) / float64(time.Millisecond),
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "bareloop: write result: %v\n", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
