package locusttest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pythonIdentifier matches the ASCII subset of Python identifiers, which is
// enough for User class names that a Go worker also registers.
var pythonIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// WriteLocustfile writes a locustfile into a new directory under t.TempDir()
// and returns its path. The file defines one locust.User subclass per name in
// classes, each with wait_time = constant(1) and a single @task that does
// nothing. The master only needs the class names, because it sends each worker
// a user count per class and the Go worker runs its own tasks.
func WriteLocustfile(t testing.TB, classes ...string) string {
	t.Helper()

	if len(classes) == 0 {
		t.Fatal("WriteLocustfile needs at least one User class name, because Locust rejects a locustfile without User classes")
	}

	var source strings.Builder
	source.WriteString("from locust import User, task, constant\n")
	seen := make(map[string]bool, len(classes))
	for _, name := range classes {
		if !pythonIdentifier.MatchString(name) {
			t.Fatalf("invalid User class name %q: use letters, digits and underscores, not starting with a digit", name)
		}
		if seen[name] {
			t.Fatalf("duplicate User class name %q", name)
		}
		seen[name] = true

		source.WriteString("\n\nclass " + name + "(User):\n")
		source.WriteString("    wait_time = constant(1)\n\n")
		source.WriteString("    @task\n")
		source.WriteString("    def noop(self):\n")
		source.WriteString("        pass\n")
	}

	path := filepath.Join(t.TempDir(), "locustfile.py")
	if err := os.WriteFile(path, []byte(source.String()), 0o644); err != nil {
		t.Fatalf("write locustfile: %v", err)
	}
	return path
}
