package boomer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Paths of the health check server (Config.HealthPort).
const (
	// HealthLivenessPath returns 200 while the process serves HTTP. It never
	// depends on the master, so a restart of the master does not make
	// Kubernetes restart the workers.
	HealthLivenessPath = "/healthz"
	// HealthReadinessPath returns 200 once the master acknowledged the
	// worker's registration, and 503 before that and after the worker found
	// the master lost. A master older than Locust 2.10 sends no ack, so there
	// its first spawn counts as the acknowledgement.
	HealthReadinessPath = "/readyz"
)

// healthServer serves the health check endpoints for one Run.
type healthServer struct {
	server   *http.Server
	listener net.Listener
	done     chan struct{}
}

// startHealthServer listens on the configured address and serves the health
// endpoints of b in the background.
func startHealthServer(b *Boomer, log *slog.Logger) (*healthServer, error) {
	address := b.cfg.healthAddress()
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("start the health check server on %s: %w (choose another --health-port or %s)", address, err, EnvHealthPort)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthLivenessPath, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET "+HealthReadinessPath, func(w http.ResponseWriter, r *http.Request) {
		if session := b.session.Load(); session != nil && session.ready.Load() {
			fmt.Fprintln(w, "registered with master", b.cfg.endpoint())
			return
		}
		http.Error(w, "not registered with master "+b.cfg.endpoint(), http.StatusServiceUnavailable)
	})
	h := &healthServer{
		server: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		listener: listener,
		done:     make(chan struct{}),
	}
	go func() {
		defer close(h.done)
		if err := h.server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health check server stopped", "address", listener.Addr().String(), "error", err)
		}
	}()
	log.Info("health check server listening", "address", listener.Addr().String(),
		"liveness", HealthLivenessPath, "readiness", HealthReadinessPath)
	return h, nil
}

// stop closes the server, giving requests in progress one second.
func (h *healthServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := h.server.Shutdown(ctx); err != nil {
		_ = h.server.Close()
	}
	<-h.done
}
