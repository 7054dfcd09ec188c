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
	// DefaultShutdownTimeout is the default of Config.ShutdownTimeout.
	DefaultShutdownTimeout = 2 * time.Second
	// MinShutdownTimeout is the shortest ShutdownTimeout accepted: the
	// worker needs a few milliseconds to send its final report and quit.
	MinShutdownTimeout = 100 * time.Millisecond
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
	// ShutdownTimeout bounds the time from the end of Run's context, a
	// signal or a quit from the master until Run returns, whatever the
	// network does. Tasks still running get up to 200 ms of it to finish,
	// and test stop hooks must return before the last quarter of it, which
	// is left for the final report and quit to leave.
	ShutdownTimeout time.Duration

	// Standalone runs the test without a master: Users users ramp up at
	// SpawnRate per second and the test ends after RunTime, or when every
	// user ran Iterations tasks.
	Standalone bool
	// Users is the number of concurrent users of a standalone run.
	Users int
	// SpawnRate is how many users a standalone run starts per second.
	SpawnRate float64
	// RunTime ends a standalone run. Without it the run ends when every user
	// ended (after its Iterations, for example), or on SIGINT or SIGTERM.
	RunTime time.Duration
	// Iterations, when above zero, is how many tasks each user runs before
	// it stops.
	Iterations int
	// Host is the target host that tasks read with User.Host in a
	// standalone run, as locust --host sets it.
	Host string
	// CSVPrefix, when set, makes a standalone run write Locust's CSV files
	// PREFIX_stats.csv, PREFIX_failures.csv, PREFIX_exceptions.csv and
	// PREFIX_stats_history.csv.
	CSVPrefix string
	// JSONFile and HTMLFile, when set, receive the JSON and HTML reports of
	// a standalone run.
	JSONFile string
	HTMLFile string
	// ExitCodeOnError is the exit status of boomer.Run after a standalone
	// run in which a request failed.
	ExitCodeOnError int

	// MaxRPS, when above zero, limits how many tasks start per second,
	// evenly spaced, in this process.
	MaxRPS float64
	// GlobalMaxRPS, when above zero, is a task rate shared by all the
	// master's workers: each takes its share from its worker index and the
	// master's --expect-workers. In a standalone run it acts as MaxRPS.
	GlobalMaxRPS float64
	// MaxRPSRamp raises the rate limit linearly from zero to its target
	// over this time at the start of each test.
	MaxRPSRamp time.Duration
	// ArrivalRate, when above zero, runs the open model in place of users:
	// tasks start at this rate per second whatever their latency, with at
	// most MaxInFlight running at once. A worker starts tasks of the
	// classes the master names, in proportion to their user counts, and
	// reports no users.
	ArrivalRate float64
	MaxInFlight int
	// MetricsAddr, when set, serves Prometheus metrics at
	// http://MetricsAddr/metrics.
	MetricsAddr string

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
		MasterHost:      DefaultMasterHost,
		MasterPort:      DefaultMasterPort,
		MasterTimeout:   DefaultMasterTimeout,
		ShutdownTimeout: DefaultShutdownTimeout,
		Users:           1,
		SpawnRate:       1,
		ExitCodeOnError: DefaultExitCodeOnError,
		MaxInFlight:     DefaultMaxInFlight,
		rpc:             rpcZeroMQ,
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
// defaults; parsing fs writes into c. The worker flags are --master-host,
// --master-port, --master-timeout, --shutdown-timeout, --health-port,
// --health-host, --run-tasks and --rpc. The standalone flags are
// --standalone, -u/--users, -r/--spawn-rate, -t/--run-time, --iterations,
// --host, --csv, --json, --html, --exit-code-on-error, --arrival-rate and
// --max-in-flight. The load control flags of both modes are --max-rps,
// --global-max-rps, --max-rps-ramp and --metrics-addr.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.MasterHost, "master-host", c.MasterHost,
		"host or IP address of the Locust master (env "+EnvMasterHost+")")
	fs.Var(&portFlag{config: c}, "master-port",
		"ZeroMQ port of the Locust master, 1-65535 (env "+EnvMasterPort+")")
	fs.Func("master-timeout",
		fmt.Sprintf("time without a heartbeat reply from the master (Locust >= 2.19) after which the worker stops its users and registers again, at least %s (default %s)", MinMasterTimeout, c.MasterTimeout),
		durationSetter(&c.MasterTimeout))
	fs.Func("shutdown-timeout",
		fmt.Sprintf("longest time from a quit, SIGINT or SIGTERM until the worker exits, at least %s (default %s); tasks get up to %s of it to finish", MinShutdownTimeout, c.ShutdownTimeout, quitGrace),
		durationSetter(&c.ShutdownTimeout))
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
	c.registerStandaloneFlags(fs)
}

// Validate reports the first invalid setting, naming the value and the fix.
func (c *Config) Validate() error {
	if err := c.validateLoadControl(); err != nil {
		return err
	}
	if len(c.RunTasks) > 0 {
		if c.Standalone {
			return errors.New("--run-tasks and --standalone were both given: --run-tasks runs tasks once for debugging; leave out one of them")
		}
		// --run-tasks needs no master, so the master settings do not matter.
		return nil
	}
	if c.Standalone {
		return c.validateStandalone()
	}
	if err := c.rejectStandaloneOnly(); err != nil {
		return err
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
	if c.ShutdownTimeout < MinShutdownTimeout {
		return fmt.Errorf("invalid --shutdown-timeout %s: use at least %s", c.ShutdownTimeout, MinShutdownTimeout)
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

// durationSetter returns a flag.Func setter that parses a Go duration into d.
func durationSetter(d *time.Duration) func(string) error {
	return func(value string) error {
		parsed, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("invalid duration %q: use a value such as 12s or 1m", value)
		}
		*d = parsed
		return nil
	}
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
