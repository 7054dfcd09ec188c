// Command target is an HTTP server that counts the requests it receives. The
// demo and the benchmarks point load at it, then compare its count with the
// request count that Locust reports.
//
//	go run ./examples/target --addr 127.0.0.1:0 --count-file /tmp/count
//
// It prints "listening on http://ADDR" once it accepts connections and answers
// every request with 200 and the body "ok\n". On SIGINT or SIGTERM it stops
// accepting connections, waits for the requests in progress, writes the total
// count to --count-file and stdout, and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// shutdownTimeout bounds how long the server waits for requests in progress
// after a signal.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	err := run(ctx, os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "target: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	addr             string
	countFile        string
	allowNonLoopback bool
}

func parseFlags(args []string, output io.Writer) (config, error) {
	var cfg config
	flags := flag.NewFlagSet("target", flag.ContinueOnError)
	flags.SetOutput(output)
	flags.StringVar(&cfg.addr, "addr", "127.0.0.1:0",
		"listen address HOST:PORT; port 0 picks a free port")
	flags.StringVar(&cfg.countFile, "count-file", "",
		"file that receives the total request count at shutdown (default: stdout only)")
	flags.BoolVar(&cfg.allowNonLoopback, "allow-non-loopback", false,
		"allow a listen address other than 127.0.0.1, ::1 or localhost")
	if err := flags.Parse(args); err != nil {
		return config{}, err
	}
	if flags.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q; all options are flags", flags.Args())
	}
	if !cfg.allowNonLoopback {
		if err := checkLoopback(cfg.addr); err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

// checkLoopback returns an error unless addr's host is a loopback IP literal
// or "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid --addr %q: %v; use HOST:PORT such as 127.0.0.1:8080", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q is not a loopback address; use 127.0.0.1 or [::1], or pass --allow-non-loopback", addr)
}

// run serves until ctx is canceled, then writes the request count.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}

	listener, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}

	var count atomic.Int64
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			count.Add(1)
			// Read the body so that the client can reuse the connection.
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()
	fmt.Fprintf(stdout, "listening on http://%s\n", listener.Addr())

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		// The count below still includes every request that reached the handler.
		fmt.Fprintf(os.Stderr, "target: shutdown: %v; closing the remaining connections\n", err)
		_ = server.Close()
	}

	total := count.Load()
	if cfg.countFile != "" {
		if err := writeCount(cfg.countFile, total); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "total requests: %d\n", total)
	return nil
}

// writeCount writes total to path through a temporary file and a rename, so
// a reader never sees a partial number.
func writeCount(path string, total int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write count file: %w", err)
	}
	_, writeErr := tmp.WriteString(strconv.FormatInt(total, 10) + "\n")
	chmodErr := tmp.Chmod(0o644)
	closeErr := tmp.Close()
	if err := errors.Join(writeErr, chmodErr, closeErr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write count file %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write count file: %w", err)
	}
	return nil
}
