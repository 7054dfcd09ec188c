package boomer

import (
	"context"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// findChromium returns a headless-capable Chromium, or skips the test.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("Chromium not found: install it with `apt-get install -y chromium` to check the HTML report")
	return ""
}

// parseHexColor parses "#rrggbb".
func parseHexColor(t *testing.T, hex string) [3]uint8 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	require.NoError(t, err)
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}
}

// countColor counts the pixels within a small distance of color.
func countColor(img image.Image, color [3]uint8) int {
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			dr := int(r>>8) - int(color[0])
			dg := int(g>>8) - int(color[1])
			db := int(b>>8) - int(color[2])
			if dr*dr+dg*dg+db*db < 30*30 {
				n++
			}
		}
	}
	return n
}

func TestHTMLReportDrawsChartsInChromium(t *testing.T) {
	skipIfShort(t)
	chromium := findChromium(t)
	server, _ := okServer(t)
	failing := statusServerURL(t, http.StatusInternalServerError)
	client := newTestClient()
	ok := getTask(client, server.URL+"/", "/ok", nil)
	fail := getTask(client, failing+"/", "/fail", nil)
	task := &Task{Name: "mixed", Weight: 1, Run: func(u *User) {
		ok.Run(u)
		fail.Run(u)
		u.sleep(20 * time.Millisecond)
	}}
	dir := t.TempDir()
	report := filepath.Join(dir, "report.html")
	b := newStandalone(t, &lockedBuffer{}, func(c *Config) {
		c.Users = 5
		c.SpawnRate = 2
		c.RunTime = 6 * time.Second
		c.HTMLFile = report
	}, WithTasks(task))
	var failed *FailedRequestsError
	require.ErrorAs(t, b.Run(context.Background()), &failed)

	html, err := os.ReadFile(report)
	require.NoError(t, err)
	text := string(html)
	// Readable offline: no script, style sheet or image is fetched.
	assert.NotRegexp(t, `(?i)<script[^>]+src=|<link|<img|url\(`, text)
	assert.NotContains(t, strings.ReplaceAll(text, `xmlns="http://www.w3.org/2000/svg"`, ""), "http")
	assert.Equal(t, 4, strings.Count(text, "<svg"), "four charts")
	points := regexp.MustCompile(`<polyline class="series"[^>]* points="([^"]*)"`).FindAllStringSubmatch(text, -1)
	require.Len(t, points, 6, "six series")
	for _, p := range points {
		assert.GreaterOrEqual(t, len(strings.Fields(p[1])), 4, "a series has a point per second: %q", p[1])
	}

	screenshot := filepath.Join(dir, "report.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--disable-extensions", "--window-size=1000,2600",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+screenshot, "file://"+report)
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium failed:\n%s", output)
	f, err := os.Open(screenshot)
	require.NoError(t, err, "chromium wrote no screenshot:\n%s", output)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	for _, series := range []struct{ name, color string }{
		{"requests/s", colorRequests}, {"failures/s", colorFailures},
		{"p50", colorP50}, {"p95", colorP95}, {"p99", colorP99}, {"users", colorUsers},
	} {
		n := countColor(img, parseHexColor(t, series.color))
		t.Logf("%s: %d pixels of %s", series.name, n, series.color)
		assert.Greater(t, n, 300, "the %s line is not drawn (the legend alone has fewer pixels)", series.name)
	}
}

// statusServerURL returns the URL of a server on 127.0.0.1 that responds
// with code to every request.
func statusServerURL(t *testing.T, code int) string {
	t.Helper()
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, http.StatusText(code), code)
	})}
	listener, err := listenLocal()
	require.NoError(t, err)
	go s.Serve(listener)
	t.Cleanup(func() { s.Close() })
	return "http://" + listener.Addr().String()
}

func listenLocal() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}
