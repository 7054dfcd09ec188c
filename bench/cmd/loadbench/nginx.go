package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// nginx is the target server: one master and one worker process, in the
// foreground, pinned to one core.
type nginx struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

// nginxConfig is the server's configuration: one worker, listening only on
// 127.0.0.1, with the access log off and a fixed 200 response from memory,
// so the server does no disk I/O. Every temporary path is in the run's
// directory, so nginx also starts without root. keepalive_requests is
// raised from its default of 1,000 so that no generator reconnects during
// a run.
const nginxConfig = `worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    scgi_temp_path %[1]s/scgi;
    uwsgi_temp_path %[1]s/uwsgi;
    keepalive_requests 100000000;
    keepalive_timeout 75s;

    server {
        listen 127.0.0.1:%[2]d;
        location / {
            default_type text/plain;
            return 200 "hello from nginx\n";
        }
    }
}
`

// startNginx writes a configuration into dir and starts nginx with it,
// pinned to cpu. It returns when the server responds to a GET.
func startNginx(dir string, cpu int) (*nginx, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConfig, dir, port)), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "nginx-output.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	// -e sets the error log used before the configuration is read, which
	// otherwise is a system path.
	cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu),
		"nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "nginx-error.log"))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	n := &nginx{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port), done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait() }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-n.done:
			return nil, fmt.Errorf("nginx exited at start (%v): %s", err, tail(filepath.Join(dir, "nginx-error.log")))
		default:
		}
		if err := getOnce(n.url); err == nil {
			return n, nil
		} else if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("nginx does not respond at %s after 10 s: %v; %s", n.url, err, tail(filepath.Join(dir, "nginx-error.log")))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpu returns the CPU time nginx's master and worker have used so far.
func (n *nginx) cpu() (time.Duration, error) {
	return processTreeCPU(n.cmd.Process.Pid)
}

// stop ends nginx with SIGQUIT, its graceful shutdown, and with SIGKILL to
// its process group after 5 s.
func (n *nginx) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
	}
}

func getOnce(url string) error {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last 2,000 bytes of a log file, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return fmt.Sprintf("%s:\n%s", path, data)
}
