package boomer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envCaptureCorpus names a directory, and `make corpus` sets it. The
// integration tests then save there the distinct frames that real masters
// send to in-process workers, as seed corpus entries of FuzzDecodeMessage.
const envCaptureCorpus = "BOOMER_CAPTURE_CORPUS"

// capturedPrefix starts the names of corpus files saved from real masters.
const capturedPrefix = "captured-"

// maxCapturedPerType bounds the frames saved per master version and
// message type.
const maxCapturedPerType = 4

// masterFrameCapture is nil unless BOOMER_CAPTURE_CORPUS is set.
var masterFrameCapture = newFrameCapture(os.Getenv(envCaptureCorpus))

// frameCapture saves distinct master frames as fuzz corpus files.
type frameCapture struct {
	dir     string
	version string

	mu      sync.Mutex
	perType map[string]int
	seen    map[string]bool
}

func newFrameCapture(dir string) *frameCapture {
	if dir == "" {
		return nil
	}
	version := os.Getenv("LOCUST_VERSION_UNDER_TEST")
	if version == "" {
		version = "2.47.0"
	}
	return &frameCapture{dir: dir, version: version, perType: map[string]int{}, seen: map[string]bool{}}
}

// add saves frame unless a frame with the same bytes, or maxCapturedPerType
// frames of its type, were saved already. Failures are printed, because
// the capture must not fail the tests that feed it.
func (c *frameCapture) add(frame []byte) {
	msgType := "undecodable"
	if msg, err := decodeMessage(frame); err == nil {
		msgType = msg.Type
	}
	sum := sha256.Sum256(frame)
	name := fmt.Sprintf("%s%s-%s-%s", capturedPrefix, c.version, sanitizeFileName(msgType), hex.EncodeToString(sum[:4]))

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[name] || c.perType[msgType] >= maxCapturedPerType {
		return
	}
	c.seen[name] = true
	c.perType[msgType]++
	content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(frame)) + ")\n"
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "corpus capture: %v\n", err)
	}
}

// sanitizeFileName keeps letters, digits, '_' and '.'.
func sanitizeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '-'
	}, s)
}

// tapReceive returns in, or while a capture runs, a channel that passes on
// the frames of in after saving them. The tap ends when in is closed; a tap
// whose reader stopped reading stays blocked, which only a capture run
// accepts.
func tapReceive(in <-chan []byte) <-chan []byte {
	if masterFrameCapture == nil {
		return in
	}
	out := make(chan []byte)
	go func() {
		defer close(out)
		for frame := range in {
			masterFrameCapture.add(frame)
			out <- frame
		}
	}()
	return out
}

// readCorpusFrame reads the []byte value of a corpus file.
func readCorpusFrame(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 2, "%s: expected a header line and one value", path)
	require.Equal(t, "go test fuzz v1", lines[0], path)
	value, ok := strings.CutPrefix(lines[1], "[]byte(")
	require.True(t, ok, "%s: value is not a []byte", path)
	value, ok = strings.CutSuffix(value, ")")
	require.True(t, ok, "%s: value is not a []byte", path)
	frame, err := strconv.Unquote(value)
	require.NoError(t, err, path)
	return []byte(frame)
}

// TestCapturedCorpus checks the frames captured from real masters: each
// decodes, each spawn parses, and every master of the version matrix sent
// the message types a worker must handle.
func TestCapturedCorpus(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeMessage", capturedPrefix+"*"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no captured frames; run `make corpus`")

	typesByVersion := map[string]map[string]bool{}
	for _, path := range paths {
		// captured-<version>-<type>-<hash>
		fields := strings.Split(strings.TrimPrefix(filepath.Base(path), capturedPrefix), "-")
		require.GreaterOrEqual(t, len(fields), 3, "%s: unexpected file name", path)
		version := fields[0]

		msg, err := decodeMessage(readCorpusFrame(t, path))
		if !assert.NoError(t, err, path) {
			continue
		}
		if msg.Type == typeSpawn {
			_, err := parseSpawn(msg.Data)
			assert.NoError(t, err, "%s: captured spawn does not parse", path)
		}
		if typesByVersion[version] == nil {
			typesByVersion[version] = map[string]bool{}
		}
		typesByVersion[version][msg.Type] = true
	}

	required := map[string][]string{
		"2.47.0": {typeAck, typeSpawn, typeSpawningComplete, typeHeartbeat, typeStop, typeQuit, typeReconnect, "to_worker"},
		"2.24.1": {typeAck, typeSpawn, typeHeartbeat, typeQuit},
		"2.12.1": {typeAck, typeSpawn, typeQuit},
	}
	for version, types := range required {
		got := typesByVersion[version]
		for _, msgType := range types {
			assert.True(t, got[msgType], "no captured %q frame from Locust %s; run `make corpus`", msgType, version)
		}
	}
	for version, types := range typesByVersion {
		names := make([]string, 0, len(types))
		for name := range types {
			names = append(names, name)
		}
		sort.Strings(names)
		t.Logf("Locust %s: %s", version, strings.Join(names, ", "))
	}
}
