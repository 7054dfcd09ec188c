package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runMainEnv makes the test binary run main() instead of the tests, so a
// test can start the real command and send it a real signal.
const runMainEnv = "TARGET_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes buffer that run can write to while the test reads it.
type syncBuffer struct {
	mu   sync.Mutex
	data strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.data.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.data.String()
}

// waitForURL polls output until it contains the "listening on" line and
// returns the URL from it.
func waitForURL(t *testing.T, output func() string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(output(), "\n") {
			if url, ok := strings.CutPrefix(line, "listening on "); ok {
				return url
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no \"listening on\" line within 10s; output so far:\n%s", output())
	return ""
}

func get(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("GET %s = %d %q, want 200 \"ok\\n\"", url, resp.StatusCode, body)
	}
}

func TestRunCountsRequests(t *testing.T) {
	countFile := filepath.Join(t.TempDir(), "count")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var stdout syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--count-file", countFile}, &stdout) }()

	url := waitForURL(t, stdout.String)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("listening URL = %q, want http://127.0.0.1:PORT", url)
	}
	for _, path := range []string{"/", "/a", "/b/c", "/"} {
		get(t, url+path)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s after its context was canceled")
	}

	data, err := os.ReadFile(countFile)
	if err != nil {
		t.Fatalf("read count file: %v", err)
	}
	if string(data) != "4\n" {
		t.Errorf("count file = %q, want \"4\\n\"", data)
	}
	if !strings.Contains(stdout.String(), "total requests: 4\n") {
		t.Errorf("stdout does not report 4 requests:\n%s", stdout.String())
	}
}

func TestParseFlagsRejectsNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:80", "example.com:80", "no-port"} {
		if _, err := parseFlags([]string{"--addr", addr}, io.Discard); err == nil {
			t.Errorf("parseFlags accepted --addr %s", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:8080", "127.0.0.2:80"} {
		if _, err := parseFlags([]string{"--addr", addr}, io.Discard); err != nil {
			t.Errorf("parseFlags rejected --addr %s: %v", addr, err)
		}
	}
	if _, err := parseFlags([]string{"--addr", "0.0.0.0:8080", "--allow-non-loopback"}, io.Discard); err != nil {
		t.Errorf("parseFlags rejected 0.0.0.0:8080 with --allow-non-loopback: %v", err)
	}
}

func TestCommandWritesCountOnSIGTERM(t *testing.T) {
	countFile := filepath.Join(t.TempDir(), "count")
	cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0", "--count-file", countFile)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start target: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var stdout syncBuffer
	copied := make(chan struct{})
	go func() {
		scanner := bufio.NewScanner(stdoutPipe)
		for scanner.Scan() {
			stdout.Write([]byte(scanner.Text() + "\n"))
		}
		close(copied)
	}()

	url := waitForURL(t, stdout.String)
	for range 3 {
		get(t, url+"/")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	waitErr := make(chan error, 1)
	go func() {
		<-copied
		waitErr <- cmd.Wait()
	}()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("target exited with %v after SIGTERM; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("target did not exit within 30s after SIGTERM")
	}

	data, err := os.ReadFile(countFile)
	if err != nil {
		t.Fatalf("read count file: %v", err)
	}
	if string(data) != "3\n" {
		t.Errorf("count file = %q, want \"3\\n\"", data)
	}
	if !strings.Contains(stdout.String(), "total requests: 3\n") {
		t.Errorf("stdout does not report 3 requests:\n%s", stdout.String())
	}
}
