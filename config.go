package boomer

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config. The master address defaults are Locust's own
// (locust/argument_parser.py).
const (
	DefaultMasterHost = "127.0.0.1"
	DefaultMasterPort = 5557
	// DefaultMasterTimeout is how long the worker waits without a heartbeat
	// reply before it treats the master as lost. A Locust master marks a
	// silent worker missing after about 5 s, so the worker waits longer than
	// that. Masters older than 2.19 send no replies and never arm the timer.
	DefaultMasterTimeout = 12 * time.Second
	// MinMasterTimeout is the shortest MasterTimeout accepted. The master
	// replies to a heartbeat sent every second, so a shorter timeout would
	// take normal jitter for a lost master.
	MinMasterTimeout = 3 * time.Second
)

// Environment variables read by DefaultConfig, as a Python worker reads them.
const (
	EnvMasterHost = "LOCUST_MASTER_NODE_HOST"
	EnvMasterPort = "LOCUST_MASTER_NODE_PORT"
	// EnvHealthPort sets HealthPort, as --health-port does.
	EnvHealthPort = "BOOMER_HEALTH_PORT"
)

// rpcZeroMQ is the only --rpc value: both transports (goczmq, and zmq4 with
// the build tag purego) talk to the master through ZeroMQ.
const rpcZeroMQ = "zeromq"

// Config holds the settings a worker takes from its command line. The zero
// value is not useful: start from DefaultConfig.
type Config struct {
	// MasterHost is the host name or IP address of the Locust master.
	MasterHost string
	// MasterPort is the master's ZeroMQ port (locust --master-bind-port).
	MasterPort int
	// RunTasks, when not empty, names tasks to run once each without a
	// master, for debugging.
	RunTasks []string
	// MasterTimeout is how long the worker waits for a heartbeat reply from a
	// Locust >= 2.19 master before it stops its users and registers again.
	MasterTimeout time.Duration
	// HealthPort, when not 0, is the TCP port of the health check server:
	// GET /healthz (liveness) and GET /readyz (registered with a master).
	// See HealthHost.
	HealthPort int
	// HealthHost is the address the health check server listens on. Empty
	// means every interface, which Kubernetes probes need.
	HealthHost string

	rpc    string
	envErr error
	// healthEnvErr is an invalid BOOMER_HEALTH_PORT, reported by Validate
	// unless --health-port replaced it.
	healthEnvErr error
}

// DefaultConfig returns the defaults, with MasterHost and MasterPort taken
// from LOCUST_MASTER_NODE_HOST and LOCUST_MASTER_NODE_PORT when they are set.
// An invalid environment value is reported by Validate.
func DefaultConfig() Config {
	cfg := Config{
		MasterHost:    DefaultMasterHost,
		MasterPort:    DefaultMasterPort,
		MasterTimeout: DefaultMasterTimeout,
		rpc:           rpcZeroMQ,
	}
	if host := os.Getenv(EnvMasterHost); host != "" {
		cfg.MasterHost = host
	}
	if value := os.Getenv(EnvMasterPort); value != "" {
		port, err := parsePort(value)
		if err != nil {
			cfg.envErr = fmt.Errorf("invalid %s=%q: %w", EnvMasterPort, value, err)
		} else {
			cfg.MasterPort = port
		}
	}
	if value := os.Getenv(EnvHealthPort); value != "" {
		port, err := parsePort(value)
		if err != nil {
			cfg.healthEnvErr = fmt.Errorf("invalid %s=%q: %w", EnvHealthPort, value, err)
		} else {
			cfg.HealthPort = port
		}
	}
	return cfg
}

// RegisterFlags defines the worker's flags on fs, with the values in c as
// defaults; parsing fs writes into c. The flags are --master-host,
// --master-port, --master-timeout, --health-port, --health-host, --run-tasks
// and --rpc.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.MasterHost, "master-host", c.MasterHost,
		"host or IP address of the Locust master (env "+EnvMasterHost+")")
	fs.Var(&portFlag{config: c}, "master-port",
		"ZeroMQ port of the Locust master, 1-65535 (env "+EnvMasterPort+")")
	fs.Func("master-timeout",
		fmt.Sprintf("time without a heartbeat reply from the master (Locust >= 2.19) after which the worker stops its users and registers again, at least %s (default %s)", MinMasterTimeout, c.MasterTimeout),
		func(value string) error {
			d, err := time.ParseDuration(value)
			if err != nil {
				return fmt.Errorf("invalid duration %q: use a value such as 12s or 1m", value)
			}
			c.MasterTimeout = d
			return nil
		})
	fs.Func("health-port",
		"TCP port of the health check server (GET /healthz, GET /readyz), 1-65535; off when not set (env "+EnvHealthPort+")",
		func(value string) error {
			port, err := parsePort(value)
			if err != nil {
				return err
			}
			c.HealthPort = port
			c.healthEnvErr = nil
			return nil
		})
	fs.StringVar(&c.HealthHost, "health-host", c.HealthHost,
		"address the health check server listens on; empty for every interface")
	fs.Var((*taskListValue)(&c.RunTasks), "run-tasks",
		"comma-separated task names to run once each without a master, for debugging")
	fs.Func("rpc", "transport to the master; only \"zeromq\" is supported", func(value string) error {
		if value != rpcZeroMQ {
			return fmt.Errorf("unsupported value %q: this worker talks to the master only through ZeroMQ; pass --rpc zeromq or leave the flag out", value)
		}
		c.rpc = value
		return nil
	})
}

// Validate reports the first invalid setting, naming the value and the fix.
func (c *Config) Validate() error {
	if len(c.RunTasks) > 0 {
		// --run-tasks needs no master, so the master settings do not matter.
		return nil
	}
	if c.envErr != nil {
		return c.envErr
	}
	if strings.TrimSpace(c.MasterHost) == "" {
		return errors.New("empty --master-host (or " + EnvMasterHost + "): pass the master's host name or IP address")
	}
	if err := validateHost(c.MasterHost); err != nil {
		return err
	}
	if c.MasterPort < 1 || c.MasterPort > 65535 {
		return fmt.Errorf("invalid --master-port %d: use a port from 1 to 65535", c.MasterPort)
	}
	if c.MasterTimeout < MinMasterTimeout {
		return fmt.Errorf("invalid --master-timeout %s: use at least %s, because the master replies to heartbeats once a second", c.MasterTimeout, MinMasterTimeout)
	}
	if c.rpc != "" && c.rpc != rpcZeroMQ {
		return fmt.Errorf("unsupported --rpc %q: pass --rpc zeromq or leave the flag out", c.rpc)
	}
	if c.healthEnvErr != nil {
		return c.healthEnvErr
	}
	if c.HealthPort < 0 || c.HealthPort > 65535 {
		return fmt.Errorf("invalid --health-port %d: use a port from 1 to 65535, or 0 for no health check server", c.HealthPort)
	}
	return nil
}

// healthAddress returns the listen address of the health check server.
func (c *Config) healthAddress() string {
	return net.JoinHostPort(c.HealthHost, strconv.Itoa(c.HealthPort))
}

// endpoint returns the master's ZeroMQ endpoint. An IPv6 literal is put in
// brackets, as libzmq expects.
func (c *Config) endpoint() string {
	host := c.MasterHost
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("tcp://%s:%d", host, c.MasterPort)
}

// validateHost rejects a host given with a port, such as "127.0.0.1:5557",
// which libzmq would take for a host name that never resolves.
func validateHost(host string) error {
	bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(bare) != nil {
		return nil
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("invalid --master-host %q: give the host alone and the port with --master-port", host)
	}
	return nil
}

func parsePort(value string) (int, error) {
	port, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil {
		return 0, fmt.Errorf("not a number: use a port from 1 to 65535")
	}
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("out of range: use a port from 1 to 65535")
	}
	return port, nil
}

// portFlag is the --master-port flag. A valid value also clears an invalid
// LOCUST_MASTER_NODE_PORT, which the flag overrides.
type portFlag struct {
	config *Config
}

func (p *portFlag) String() string {
	if p.config == nil {
		return ""
	}
	return strconv.Itoa(p.config.MasterPort)
}

func (p *portFlag) Set(value string) error {
	port, err := parsePort(value)
	if err != nil {
		return err
	}
	p.config.MasterPort = port
	p.config.envErr = nil
	return nil
}

// taskListValue is a flag.Value for a comma-separated list of task names.
type taskListValue []string

func (l *taskListValue) String() string { return strings.Join(*l, ",") }

func (l *taskListValue) Set(value string) error {
	var names []string
	for _, name := range strings.Split(value, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return errors.New("no task names: pass a comma-separated list such as foo,bar")
	}
	*l = names
	return nil
}
