package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// TestMain runs the command itself when the tests start their own binary
// with runMainEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const runMainEnv = "BARELOOP_TEST_RUN_MAIN"

// runBareLoop runs the command with args and returns its stdout, stderr
// and exit status.
func runBareLoop(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run bareloop: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

func TestMaxConnsCapsConnections(t *testing.T) {
	var opened atomic.Int64
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	target.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	target.Start()
	defer target.Close()

	stdout, stderr, code := runBareLoop(t, "--url", target.URL+"/", "--users", "20", "--max-conns", "4",
		"--duration", "30s", "--max-requests", "2000")
	if code != 0 {
		t.Fatalf("bareloop exited with %d: %s", code, stderr)
	}
	var out result
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("bareloop printed %q: %v", stdout, err)
	}
	if out.Requests != 2000 || out.Failures != 0 {
		t.Errorf("requests %d, failures %d; want 2000 requests (100 for each of 20 goroutines) and no failures", out.Requests, out.Failures)
	}
	if n := opened.Load(); n < 1 || n > 4 {
		t.Errorf("the target saw %d connections, want 1 to 4 under --max-conns 4", n)
	}
}

func TestMaxConnsRejectsNegative(t *testing.T) {
	_, stderr, code := runBareLoop(t, "--url", "http://127.0.0.1:1/", "--max-conns", "-1")
	if code != 2 || !strings.Contains(stderr, "invalid --max-conns -1") {
		t.Errorf("exit %d, stderr %q; want exit 2 naming --max-conns -1", code, stderr)
	}
}
