package boomer

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locust-go/boomer/internal/locusttest"
)

// These tests build the worker images' binaries with scripts/build-worker.sh,
// the script the Dockerfile runs, and check what the images rely on.

// buildWorkerBinary runs scripts/build-worker.sh for variant and returns the
// binary's path.
func buildWorkerBinary(t *testing.T, variant, version string) string {
	t.Helper()
	output := filepath.Join(t.TempDir(), "worker-"+variant)
	cmd := exec.Command("scripts/build-worker.sh", variant, "./examples/http", output, version)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "scripts/build-worker.sh %s: %s", variant, out)
	return output
}

// buildSettings returns the "build" lines of `go version -m` as key=value.
func buildSettings(t *testing.T, binary string) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", binary).CombinedOutput()
	require.NoError(t, err, "go version -m: %s", out)
	settings := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.SplitN(strings.TrimSpace(line), "\t", 2)
		if len(fields) == 2 && fields[0] == "build" {
			key, value, _ := strings.Cut(fields[1], "=")
			settings[key] = value
		}
	}
	return settings
}

// checkBinaryAgainstMaster runs binary as a worker of a real master and
// checks that it registers, logs version and library at start, and exits
// with status 0 after SIGTERM.
func checkBinaryAgainstMaster(t *testing.T, binary, version, library string) {
	t.Helper()
	master := locusttest.StartMaster(t, locusttest.MasterOptions{Locustfile: "examples/locustfile.py"})
	worker := startWorkerProcess(t, binary, "--master-port", strconv.Itoa(master.Port))
	waitStats(t, master, "the worker to register", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == 1 })

	require.NoError(t, worker.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, worker.wait(t, 10*time.Second), "exit status after SIGTERM")
	log := worker.log()
	assert.Contains(t, log, "version="+version, "start log without the injected version")
	assert.Contains(t, log, strconv.Quote(library), "start log without the ZeroMQ library")
}

func TestStaticWorkerBinary(t *testing.T) {
	skipIfShort(t)
	const version = "v0.0.0-static-test"
	binary := buildWorkerBinary(t, "static", version)

	settings := buildSettings(t, binary)
	assert.Equal(t, "0", settings["CGO_ENABLED"], "CGO_ENABLED in go version -m")
	assert.Equal(t, "purego", settings["-tags"], "build tags in go version -m")

	ldd, err := exec.LookPath("ldd")
	if err != nil {
		t.Log("ldd not installed; the dynamic-linking check is skipped")
	} else {
		// glibc's ldd exits with status 1 for a static executable.
		out, _ := exec.Command(ldd, binary).CombinedOutput()
		assert.Contains(t, string(out), "not a dynamic executable", "ldd output")
	}
	if file, err := exec.LookPath("file"); err != nil {
		t.Log("file not installed; its check is skipped")
	} else {
		out, err := exec.Command(file, binary).CombinedOutput()
		require.NoError(t, err, "file: %s", out)
		assert.Contains(t, string(out), "statically linked", "file output")
	}

	checkBinaryAgainstMaster(t, binary, version, "zmq4 (pure Go)")
}

func TestDefaultWorkerBinary(t *testing.T) {
	skipIfShort(t)
	const version = "v0.0.0-default-test"
	binary := buildWorkerBinary(t, "default", version)

	settings := buildSettings(t, binary)
	assert.Equal(t, "1", settings["CGO_ENABLED"], "CGO_ENABLED in go version -m")
	assert.Empty(t, settings["-tags"], "build tags in go version -m")
	if ldd, err := exec.LookPath("ldd"); err == nil {
		out, err := exec.Command(ldd, binary).CombinedOutput()
		require.NoError(t, err, "ldd: %s", out)
		assert.Contains(t, string(out), "libczmq", "the default binary links libczmq, which the runtime image installs")
	}

	checkBinaryAgainstMaster(t, binary, version, "goczmq (libzmq)")
}

func TestBuildScriptRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown variant", []string{"shared", "./examples/http", "/dev/null"}, `unknown variant "shared"`},
		{"version with space", []string{"static", "./examples/http", "/dev/null", "v1 x"}, `invalid version "v1 x"`},
		{"missing output", []string{"static", "./examples/http"}, "usage:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command("scripts/build-worker.sh", tc.args...).CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, "output: %s", out)
			assert.Equal(t, 2, exitErr.ExitCode())
			assert.Contains(t, string(out), tc.want)
		})
	}
}

// dockerStage is one FROM section of a Dockerfile.
type dockerStage struct {
	name         string
	base         string
	instructions [][2]string // instruction keyword (upper case) and arguments
}

// parseDockerfile splits a Dockerfile into stages. It joins continuation
// lines and drops comments; it does not expand ARG values.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var stages []dockerStage
	var pending string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending == "") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line = strings.TrimSpace(pending + line)
		pending = ""
		if line == "" {
			continue
		}
		keyword, args, _ := strings.Cut(line, " ")
		keyword = strings.ToUpper(keyword)
		args = strings.TrimSpace(args)
		if keyword == "FROM" {
			fields := strings.Fields(args)
			stage := dockerStage{base: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				stage.name = fields[2]
			}
			stages = append(stages, stage)
			continue
		}
		if len(stages) > 0 {
			last := &stages[len(stages)-1]
			last.instructions = append(last.instructions, [2]string{keyword, args})
		}
	}
	require.NoError(t, scanner.Err())
	return stages
}

func (s dockerStage) last(keyword string) (string, bool) {
	value, found := "", false
	for _, instruction := range s.instructions {
		if instruction[0] == keyword {
			value, found = instruction[1], true
		}
	}
	return value, found
}

func (s dockerStage) runs(substring string) bool {
	for _, instruction := range s.instructions {
		if instruction[0] == "RUN" && strings.Contains(instruction[1], substring) {
			return true
		}
	}
	return false
}

func TestDockerfileImages(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	byName := map[string]dockerStage{}
	for _, stage := range stages {
		byName[stage.name] = stage
	}
	require.Contains(t, byName, "build-static")
	require.Contains(t, byName, "build-default")
	require.Contains(t, byName, "static")
	require.Contains(t, byName, "default")
	assert.Equal(t, "default", stages[len(stages)-1].name, "the last stage is what `docker build .` produces")

	// The binaries come from the script the tests above run, with the same
	// variant names.
	assert.True(t, byName["build-static"].runs("scripts/build-worker.sh static "), "build-static stage does not run scripts/build-worker.sh static")
	assert.True(t, byName["build-default"].runs("scripts/build-worker.sh default "), "build-default stage does not run scripts/build-worker.sh default")
	assert.True(t, byName["default"].runs("libczmq4"), "the default runtime image does not install libczmq4")
	assert.Regexp(t, `^(scratch|gcr\.io/distroless/static)`, byName["static"].base, "base of the static image")
	assert.Regexp(t, `^debian:.*-slim$`, byName["default"].base, "base of the default image")

	numericUser := regexp.MustCompile(`^([0-9]+)(:[0-9]+)?$`)
	for _, name := range []string{"static", "default"} {
		stage := byName[name]
		user, ok := stage.last("USER")
		require.True(t, ok, "stage %s has no USER", name)
		match := numericUser.FindStringSubmatch(user)
		// A numeric user lets Kubernetes check runAsNonRoot without /etc/passwd.
		require.NotNil(t, match, "stage %s: USER %q is not numeric", name, user)
		assert.NotEqual(t, "0", match[1], "stage %s runs as root", name)

		entrypoint, ok := stage.last("ENTRYPOINT")
		require.True(t, ok, "stage %s has no ENTRYPOINT", name)
		var argv []string
		assert.NoError(t, json.Unmarshal([]byte(entrypoint), &argv), "stage %s: ENTRYPOINT %s is not in exec form", name, entrypoint)
	}
}

func TestDockerignoreKeepsContextSmall(t *testing.T) {
	data, err := os.ReadFile(".dockerignore")
	require.NoError(t, err)
	patterns := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		patterns[strings.TrimSpace(line)] = true
	}
	for _, pattern := range []string{".git", ".venv", ".venv-*"} {
		assert.True(t, patterns[pattern], ".dockerignore does not exclude %s", pattern)
	}
	// The build needs these, so they must not be excluded.
	for _, pattern := range []string{"scripts", "examples", "go.mod", "go.sum", "*.go"} {
		assert.False(t, patterns[pattern], ".dockerignore excludes %s, which the build needs", pattern)
	}
}
