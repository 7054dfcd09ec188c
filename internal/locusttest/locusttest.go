// Package locusttest runs a real Locust master on 127.0.0.1 for integration
// tests, and provides an HTTP target that counts the requests it receives.
//
// The helpers expect Locust 2.47.0, which `make deps` installs into
// <module root>/.venv. The web endpoints, JSON fields and CSV columns used
// here are the ones of that version.
package locusttest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// RequireLocustEnv is the environment variable that turns a missing Locust
// installation into a test failure instead of a skip. `make test` sets it to 1.
const RequireLocustEnv = "BOOMER_REQUIRE_LOCUST"

// LocustBinEnv is the environment variable that overrides the path of the
// locust executable.
const LocustBinEnv = "LOCUST_BIN"

// FindLocust returns the path of the locust executable: $LOCUST_BIN if set,
// else <module root>/.venv/bin/locust. When the executable is missing, it
// fails the test if $BOOMER_REQUIRE_LOCUST is 1 and skips it otherwise.
// A $LOCUST_BIN that names a missing file always fails the test, because
// the caller asked for that exact file.
func FindLocust(t testing.TB) string {
	t.Helper()

	if path := os.Getenv(LocustBinEnv); path != "" {
		if err := checkExecutable(path); err != nil {
			t.Fatalf("locust executable from $%s not usable: %v; unset $%s or point it at a locust 2.47.0 executable",
				LocustBinEnv, err, LocustBinEnv)
		}
		return path
	}

	root, err := ModuleRoot()
	if err != nil {
		missingLocust(t, fmt.Sprintf("cannot locate .venv/bin/locust: %v", err))
		return ""
	}
	path := filepath.Join(root, ".venv", "bin", "locust")
	if err := checkExecutable(path); err != nil {
		missingLocust(t, fmt.Sprintf("locust not found: %v", err))
		return ""
	}
	return path
}

func missingLocust(t testing.TB, reason string) {
	t.Helper()
	hint := fmt.Sprintf("%s; run `make test` (its deps target creates .venv with locust==2.47.0) or set $%s",
		reason, LocustBinEnv)
	if os.Getenv(RequireLocustEnv) == "1" {
		t.Fatalf("%s (the test fails instead of skipping because $%s=1)", hint, RequireLocustEnv)
	}
	t.Skip(hint)
}

func checkExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

// ModuleRoot returns the nearest directory at or above the working directory
// that contains a go.mod file.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		_, err := os.Stat(filepath.Join(dir, "go.mod"))
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found in the working directory or any parent")
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free when it was checked.
// Another process can take the port before the caller binds it, so a test
// that gets "address already in use" should be rerun, not trusted.
func FreePort(t testing.TB) int {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0 to find a free port: %v", err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	if err := listener.Close(); err != nil {
		t.Fatalf("close the listener on port %d: %v", port, err)
	}
	return port
}
