package boomer

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clearMasterEnv unsets the master address variables for one test, so that
// the environment of the test run cannot change the defaults.
func clearMasterEnv(t *testing.T) {
	t.Setenv(EnvMasterHost, "")
	t.Setenv(EnvMasterPort, "")
	t.Setenv(EnvHealthPort, "")
}

// parseFlags registers the worker's flags on a new FlagSet and parses args.
func parseFlags(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	err := fs.Parse(args)
	return cfg, err
}

func TestConfigDefaults(t *testing.T) {
	clearMasterEnv(t)

	cfg, err := parseFlags(t)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", cfg.MasterHost)
	assert.Equal(t, 5557, cfg.MasterPort)
	assert.Equal(t, 12*time.Second, cfg.MasterTimeout)
	assert.Equal(t, 2*time.Second, cfg.ShutdownTimeout)
	assert.Empty(t, cfg.RunTasks)
	assert.NoError(t, cfg.Validate())
	assert.Equal(t, "tcp://127.0.0.1:5557", cfg.endpoint())
}

func TestConfigFlags(t *testing.T) {
	clearMasterEnv(t)
	cfg, err := parseFlags(t,
		"--master-host", "10.0.0.5",
		"--master-port", "5558",
		"--master-timeout", "30s",
		"--shutdown-timeout", "25s",
		"--rpc", "zeromq",
		"--run-tasks", "foo, bar",
	)
	require.NoError(t, err)

	assert.Equal(t, "10.0.0.5", cfg.MasterHost)
	assert.Equal(t, 5558, cfg.MasterPort)
	assert.Equal(t, 30*time.Second, cfg.MasterTimeout)
	assert.Equal(t, 25*time.Second, cfg.ShutdownTimeout)
	assert.Equal(t, []string{"foo", "bar"}, cfg.RunTasks)
	assert.NoError(t, cfg.Validate())
}

func TestConfigFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"port zero", []string{"--master-port", "0"}, "out of range: use a port from 1 to 65535"},
		{"port 70000", []string{"--master-port", "70000"}, "out of range: use a port from 1 to 65535"},
		{"port abc", []string{"--master-port", "abc"}, "not a number: use a port from 1 to 65535"},
		{"rpc gomq", []string{"--rpc", "gomq"}, `unsupported value "gomq"`},
		{"run-tasks empty", []string{"--run-tasks", " , "}, "no task names"},
		{"timeout not a duration", []string{"--master-timeout", "12"}, `invalid duration "12": use a value such as 12s or 1m`},
		{"shutdown timeout not a duration", []string{"--shutdown-timeout", "2"}, `invalid duration "2": use a value such as 12s or 1m`},
		{"health port zero", []string{"--health-port", "0"}, "out of range: use a port from 1 to 65535"},
		{"health port abc", []string{"--health-port", "abc"}, "not a number: use a port from 1 to 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearMasterEnv(t)
			_, err := parseFlags(t, tc.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigValidateErrors(t *testing.T) {
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"empty host", func(c *Config) { c.MasterHost = " " }, "empty --master-host"},
		{"port zero", func(c *Config) { c.MasterPort = 0 }, "invalid --master-port 0"},
		{"timeout zero", func(c *Config) { c.MasterTimeout = 0 }, "invalid --master-timeout 0s"},
		{"timeout below heartbeat jitter", func(c *Config) { c.MasterTimeout = 500 * time.Millisecond }, "use at least 3s"},
		{"shutdown timeout zero", func(c *Config) { c.ShutdownTimeout = 0 }, "invalid --shutdown-timeout 0s: use at least 100ms"},
		{"host with port", func(c *Config) { c.MasterHost = "127.0.0.1:5557" }, "give the host alone and the port with --master-port"},
		{"bracketed host with port", func(c *Config) { c.MasterHost = "[::1]:5557" }, "give the host alone"},
		{"rpc gomq", func(c *Config) { c.rpc = "gomq" }, `unsupported --rpc "gomq"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearMasterEnv(t)
			cfg := DefaultConfig()
			tc.change(&cfg)

			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigRunTasksNeedsNoHost(t *testing.T) {
	clearMasterEnv(t)
	cfg, err := parseFlags(t, "--master-host", "", "--run-tasks", "foo")
	require.NoError(t, err)
	assert.NoError(t, cfg.Validate())
}

func TestConfigEnvDefaults(t *testing.T) {
	t.Setenv(EnvMasterHost, "master.internal")
	t.Setenv(EnvMasterPort, "6000")

	cfg, err := parseFlags(t)
	require.NoError(t, err)
	assert.Equal(t, "master.internal", cfg.MasterHost)
	assert.Equal(t, 6000, cfg.MasterPort)
	assert.NoError(t, cfg.Validate())
}

func TestConfigFlagsOverrideEnv(t *testing.T) {
	t.Setenv(EnvMasterHost, "master.internal")
	t.Setenv(EnvMasterPort, "6000")

	cfg, err := parseFlags(t, "--master-host", "10.0.0.5", "--master-port", "7000")
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.5", cfg.MasterHost)
	assert.Equal(t, 7000, cfg.MasterPort)
}

func TestConfigInvalidEnvPort(t *testing.T) {
	cases := []struct {
		name  string
		value string
		want  string
	}{
		{"not a number", "abc", `invalid LOCUST_MASTER_NODE_PORT="abc": not a number`},
		{"zero", "0", `invalid LOCUST_MASTER_NODE_PORT="0": out of range`},
		{"too large", "65536", `invalid LOCUST_MASTER_NODE_PORT="65536": out of range`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvMasterHost, "")
			t.Setenv(EnvMasterPort, tc.value)

			cfg := DefaultConfig()
			assert.Equal(t, DefaultMasterPort, cfg.MasterPort)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)

			_, err = New(WithConfig(cfg), WithTasks(&Task{Name: "t", Weight: 1, Fn: noop}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigEndpoint(t *testing.T) {
	cases := []struct {
		name string
		host string
		want string
	}{
		{"IPv4", "127.0.0.1", "tcp://127.0.0.1:5557"},
		{"host name", "localhost", "tcp://localhost:5557"},
		{"IPv6 loopback", "::1", "tcp://[::1]:5557"},
		{"IPv6 full", "2001:db8::10", "tcp://[2001:db8::10]:5557"},
		{"IPv6 in brackets", "[::1]", "tcp://[::1]:5557"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearMasterEnv(t)
			cfg, err := parseFlags(t, "--master-host", tc.host)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.endpoint())
		})
	}
}

func TestConfigFlagOverridesInvalidEnvPort(t *testing.T) {
	t.Setenv(EnvMasterHost, "")
	t.Setenv(EnvMasterPort, "abc")

	cfg, err := parseFlags(t, "--master-port", "6000")
	require.NoError(t, err)
	assert.Equal(t, 6000, cfg.MasterPort)
	assert.NoError(t, cfg.Validate())
}

func TestConfigIPv6HostAccepted(t *testing.T) {
	for _, host := range []string{"::1", "[::1]", "2001:db8::10", "localhost", "master.example"} {
		t.Run(host, func(t *testing.T) {
			clearMasterEnv(t)
			cfg := DefaultConfig()
			cfg.MasterHost = host
			assert.NoError(t, cfg.Validate())
		})
	}
}

func TestConfigRunTasksIgnoresMasterSettings(t *testing.T) {
	t.Setenv(EnvMasterHost, "")
	t.Setenv(EnvMasterPort, "abc")
	cfg := DefaultConfig()
	cfg.RunTasks = []string{"foo"}
	assert.NoError(t, cfg.Validate())
}

func TestConfigHealthPort(t *testing.T) {
	cases := []struct {
		name     string
		env      string
		args     []string
		wantPort int
		wantErr  string
	}{
		{name: "off by default", wantPort: 0},
		{name: "flag", args: []string{"--health-port", "8080"}, wantPort: 8080},
		{name: "env", env: "8081", wantPort: 8081},
		{name: "flag overrides env", env: "8081", args: []string{"--health-port", "8082"}, wantPort: 8082},
		{name: "flag replaces invalid env", env: "x", args: []string{"--health-port", "8082"}, wantPort: 8082},
		{name: "invalid env", env: "70000", wantErr: `invalid BOOMER_HEALTH_PORT="70000": out of range`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearMasterEnv(t)
			t.Setenv(EnvHealthPort, tc.env)
			cfg, err := parseFlags(t, tc.args...)
			require.NoError(t, err)
			err = cfg.Validate()
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantPort, cfg.HealthPort)
		})
	}
}

func TestConfigHealthPortOutOfRange(t *testing.T) {
	clearMasterEnv(t)
	cfg := DefaultConfig()
	cfg.HealthPort = -1
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid --health-port -1")
}
