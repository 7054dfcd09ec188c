package boomer

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStandaloneProcessExitCodes(t *testing.T) {
	skipIfShort(t)
	bin := buildExample(t, "examples/http")
	okServer, _ := okServer(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(failing.Close)

	cases := []struct {
		name string
		args []string
		want int
		log  string
	}{
		{"clean run", []string{"--url", okServer.URL + "/", "-u", "2", "-r", "10", "--iterations", "5"}, 0, "Summary: 10 requests, 0 failures"},
		{"failures with a code", []string{"--url", failing.URL + "/", "-u", "2", "-r", "10", "-t", "2s", "--exit-code-on-error", "7"}, 7, "HTTP 502"},
		{"failures with Locust's default", []string{"--url", failing.URL + "/", "-u", "1", "--iterations", "3"}, 1, "Summary: 3 requests, 3 failures"},
		{"bad run time", []string{"-t", "ten"}, 2, `invalid value "ten" for flag -t: invalid time span "ten"`},
		{"bad users", []string{"-u", "0"}, 2, "invalid --users 0: use 1 or more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"--standalone", "--csv", filepath.Join(dir, "run")}, tc.args...)
			p := startWorkerProcess(t, bin, args...)
			code := p.wait(t, 30*time.Second)
			assert.Equal(t, tc.want, code, "exit code; log:\n%s", p.log())
			assert.Contains(t, p.log(), tc.log)
		})
	}
}

// TestHTTPExampleClients runs examples/http with each --client and checks
// that every request reached the summary.
func TestHTTPExampleClients(t *testing.T) {
	skipIfShort(t)
	bin := buildExample(t, "examples/http")
	okServer, _ := okServer(t)

	for _, client := range []string{"nethttp", "helper", "fasthttp"} {
		t.Run(client, func(t *testing.T) {
			p := startWorkerProcess(t, bin, "--standalone", "--client", client,
				"--url", okServer.URL+"/", "-u", "2", "-r", "10", "--iterations", "5")
			code := p.wait(t, 30*time.Second)
			assert.Equal(t, 0, code, "exit code; log:\n%s", p.log())
			assert.Contains(t, p.log(), "Summary: 10 requests, 0 failures")
		})
	}

	p := startWorkerProcess(t, bin, "--standalone", "--client", "curl")
	assert.Equal(t, 2, p.wait(t, 30*time.Second))
	assert.Contains(t, p.log(), `invalid --client "curl": use nethttp, helper or fasthttp`)
}

// TestUsersExampleExitCodes runs examples/users, which calls
// (*Boomer).Run itself and maps its error with ExitCode.
func TestUsersExampleExitCodes(t *testing.T) {
	skipIfShort(t)
	bin := buildExample(t, "examples/users")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(failing.Close)

	cases := []struct {
		name string
		args []string
		want int
	}{
		{"clean run", []string{"--demo", "-u", "2", "-r", "10", "-t", "2s"}, 0},
		{"failures with a code", []string{"--url", failing.URL, "-u", "2", "-r", "10", "-t", "1s", "--exit-code-on-error", "9"}, 9},
		{"bad users", []string{"-u", "-1"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startWorkerProcess(t, bin, append([]string{"--standalone"}, tc.args...)...)
			code := p.wait(t, 30*time.Second)
			assert.Equal(t, tc.want, code, "exit code; log:\n%s", p.log())
		})
	}
}
