package locusttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StatsJSON is the response of GET /stats/requests on a Locust 2.47.0 master
// (request_stats in locust/web.py).
type StatsJSON struct {
	// State is the runner state: "ready", "spawning", "running", "cleanup",
	// "stopping", "stopped" or "missing".
	State     string `json:"state"`
	UserCount int    `json:"user_count"`

	// WorkerCount counts the workers in state "ready", "spawning" or
	// "running". Missing and stopped workers are not counted.
	WorkerCount int `json:"worker_count"`

	TotalRPS          float64 `json:"total_rps"`
	TotalFailPerSec   float64 `json:"total_fail_per_sec"`
	CurrentRPS        float64 `json:"current_rps"`
	CurrentFailPerSec float64 `json:"current_fail_per_sec"`

	// FailRatio is failures divided by requests over the whole test, from 0 to 1.
	FailRatio float64 `json:"fail_ratio"`

	// Stats has one entry per (method, name) pair, sorted, followed by the
	// "Aggregated" entry, whose method is empty.
	Stats   []RequestStatsJSON `json:"stats"`
	Errors  []ErrorJSON        `json:"errors"`
	Workers []WorkerJSON       `json:"workers"`
}

// RequestStatsJSON is one entry of StatsJSON.Stats. Times are in milliseconds.
type RequestStatsJSON struct {
	Method             string  `json:"method"`
	Name               string  `json:"name"`
	NumRequests        int64   `json:"num_requests"`
	NumFailures        int64   `json:"num_failures"`
	MinResponseTime    float64 `json:"min_response_time"`
	MaxResponseTime    float64 `json:"max_response_time"`
	AvgResponseTime    float64 `json:"avg_response_time"`
	MedianResponseTime float64 `json:"median_response_time"`
	CurrentRPS         float64 `json:"current_rps"`
	CurrentFailPerSec  float64 `json:"current_fail_per_sec"`
	TotalRPS           float64 `json:"total_rps"`
	TotalFailPerSec    float64 `json:"total_fail_per_sec"`
	ResponseTimeP95    float64 `json:"response_time_percentile_0.95"`
	ResponseTimeP99    float64 `json:"response_time_percentile_0.99"`
	AvgContentLength   float64 `json:"avg_content_length"`
}

// ErrorJSON is one entry of StatsJSON.Errors: a distinct failure message for
// one request name.
type ErrorJSON struct {
	Method      string `json:"method"`
	Name        string `json:"name"`
	Error       string `json:"error"`
	Occurrences int64  `json:"occurrences"`
}

// WorkerJSON is one entry of StatsJSON.Workers, as the master last heard
// from that worker.
type WorkerJSON struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	UserCount int    `json:"user_count"`

	// CPUUsage is the worker's CPU use in percent.
	CPUUsage float64 `json:"cpu_usage"`

	// MemoryUsage is the worker's resident memory in bytes. It is a float
	// so that a worker which reports a float still decodes.
	MemoryUsage float64 `json:"memory_usage"`
}

// Entry returns the stats entry with the given method and name. The
// aggregated entry has method "" and name "Aggregated".
func (s *StatsJSON) Entry(method, name string) (RequestStatsJSON, bool) {
	for _, entry := range s.Stats {
		if entry.Method == method && entry.Name == name {
			return entry, true
		}
	}
	return RequestStatsJSON{}, false
}

// Aggregated returns the "Aggregated" entry, which sums all requests.
func (s *StatsJSON) Aggregated() (RequestStatsJSON, bool) {
	return s.Entry("", "Aggregated")
}

// waitForWebUI polls GET / until it returns 200.
func (m *Master) waitForWebUI(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if m.Exited() {
			return errors.New("locust master exited before its web UI responded")
		}
		resp, err := m.httpClient.Get(m.WebURL + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s/ returned %s", m.WebURL, resp.Status)
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("locust web UI at %s did not respond with 200 within %v: %v", m.WebURL, timeout, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *Master) requireWebUI(endpoint string) error {
	if m.WebURL == "" {
		return fmt.Errorf("%s needs the web UI, but this master is headless; start it with MasterOptions.Headless false", endpoint)
	}
	return nil
}

// swarmResponse is the JSON body that POST /swarm and POST /stop return.
type swarmResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// Swarm starts or changes a test through POST /swarm with the form fields
// user_count, spawn_rate and, when not empty, host. Locust 2.47.0 returns
// success even when no worker is connected. It then only logs "You can't
// start a distributed test before at least one worker processes has
// connected", and the state stays "ready".
func (m *Master) Swarm(userCount int, spawnRate float64, host string) error {
	if err := m.requireWebUI("Swarm"); err != nil {
		return err
	}
	form := url.Values{
		"user_count": {strconv.Itoa(userCount)},
		"spawn_rate": {strconv.FormatFloat(spawnRate, 'f', -1, 64)},
	}
	if host != "" {
		form.Set("host", host)
	}
	return m.postForm("/swarm", form)
}

// Stop stops the running test through POST /stop. The master keeps running.
// Locust 2.47.0 accepts only POST on /stop and rejects GET with 405.
func (m *Master) Stop() error {
	if err := m.requireWebUI("Stop"); err != nil {
		return err
	}
	return m.postForm("/stop", url.Values{})
}

func (m *Master) postForm(path string, form url.Values) error {
	endpoint := m.WebURL + path
	resp, err := m.httpClient.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("POST %s: %w", endpoint, err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: read response: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s with %s returned %s: %s", endpoint, form.Encode(), resp.Status, body)
	}
	var result swarmResponse
	if err := json.Unmarshal(body, &result); err != nil {
		return fmt.Errorf("POST %s: invalid JSON response %q: %w", endpoint, body, err)
	}
	if !result.Success {
		return fmt.Errorf("POST %s with %s failed: %s", endpoint, form.Encode(), result.Message)
	}
	return nil
}

// Stats fetches GET /stats/requests. Locust 2.47.0 caches this response for
// at least 2 s (DEFAULT_CACHE_TIME in locust/web.py), so two calls within
// that time can return the same numbers.
func (m *Master) Stats() (*StatsJSON, error) {
	if err := m.requireWebUI("Stats"); err != nil {
		return nil, err
	}
	endpoint := m.WebURL + "/stats/requests"
	resp, err := m.httpClient.Get(endpoint)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", endpoint, err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read response: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s returned %s: %s", endpoint, resp.Status, body)
	}
	var stats StatsJSON
	if err := json.Unmarshal(body, &stats); err != nil {
		return nil, fmt.Errorf("GET %s: invalid JSON response: %w", endpoint, err)
	}
	return &stats, nil
}

// WaitStats polls Stats every 200 ms until cond returns true, and returns the
// stats that satisfied it. The test fails when timeout passes, when the
// master exits, or when the web UI keeps failing; the message includes the
// last stats and the end of the master's log. Because Locust caches the
// response for at least 2 s, cond sees new numbers at most every 2 s.
func (m *Master) WaitStats(t testing.TB, timeout time.Duration, cond func(*StatsJSON) bool) *StatsJSON {
	t.Helper()

	deadline := time.Now().Add(timeout)
	var last *StatsJSON
	var lastErr error
	for {
		stats, err := m.Stats()
		if err == nil {
			if cond(stats) {
				return stats
			}
			last = stats
		}
		lastErr = err

		if m.Exited() {
			t.Fatalf("locust master exited while waiting for stats; last stats: %s; last error: %v\n%s",
				encodeForMessage(last), lastErr, m.describe())
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for the stats condition; last stats: %s; last error: %v\n%s",
				timeout, encodeForMessage(last), lastErr, m.describe())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func encodeForMessage(stats *StatsJSON) string {
	if stats == nil {
		return "none"
	}
	data, err := json.Marshal(stats)
	if err != nil {
		return fmt.Sprintf("%+v", *stats)
	}
	return string(data)
}

// ExceptionJSON is one entry of GET /exceptions: the errors that workers
// reported with exception messages, grouped by traceback.
type ExceptionJSON struct {
	Count     int64  `json:"count"`
	Msg       string `json:"msg"`
	Traceback string `json:"traceback"`
	// Nodes is a comma-separated list of the reporting workers' node ids.
	Nodes string `json:"nodes"`
}

// Exceptions fetches GET /exceptions.
func (m *Master) Exceptions() ([]ExceptionJSON, error) {
	if err := m.requireWebUI("Exceptions"); err != nil {
		return nil, err
	}
	endpoint := m.WebURL + "/exceptions"
	resp, err := m.httpClient.Get(endpoint)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s returned %s", endpoint, resp.Status)
	}
	var body struct {
		Exceptions []ExceptionJSON `json:"exceptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: invalid JSON: %w", endpoint, err)
	}
	return body.Exceptions, nil
}
