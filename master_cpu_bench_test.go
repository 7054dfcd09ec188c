package boomer

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/locust-go/boomer/internal/locusttest"
)

// masterCPUWindow is how long each measurement of the master's CPU time
// lasts.
const masterCPUWindow = 10 * time.Second

// masterCPUUsersPerWorker is the users per worker while the test runs. With
// examples/http --wait 1s each user makes about one request per second.
const masterCPUUsersPerWorker = 50

// clockTicksPerSecond returns the unit of the CPU times in /proc/PID/stat.
func clockTicksPerSecond(b *testing.B) float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		b.Fatalf("getconf CLK_TCK: %v (the benchmark reads /proc and needs Linux)", err)
	}
	ticks, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || ticks <= 0 {
		b.Fatalf("invalid CLK_TCK %q", out)
	}
	return ticks
}

// processCPUTicks returns the user plus system CPU time of process pid, in
// clock ticks, from /proc/PID/stat (fields 14 and 15, see proc(5)).
func processCPUTicks(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read the master's CPU time: %v", err)
	}
	// The command name (field 2) is in parentheses and may contain spaces,
	// so the fields are counted from the closing parenthesis.
	text := string(data)
	fields := strings.Fields(text[strings.LastIndexByte(text, ')')+1:])
	// fields[0] is field 3 (state), so field 14 is fields[11].
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("invalid /proc/%d/stat: %q", pid, text)
	}
	return utime + stime
}

// webUIPollInterval is how often Locust's web UI fetches /stats/requests.
const webUIPollInterval = 2 * time.Second

// masterCPUPercent returns the master's CPU use over masterCPUWindow, in
// percent of one core. During the window it fetches the statistics as an
// open web UI does.
func masterCPUPercent(b *testing.B, master *locusttest.Master, ticksPerSecond float64) float64 {
	before := processCPUTicks(b, master.PID())
	start := time.Now()
	poll := time.NewTicker(webUIPollInterval)
	defer poll.Stop()
	window := time.NewTimer(masterCPUWindow)
	defer window.Stop()
	for waiting := true; waiting; {
		select {
		case <-poll.C:
			if _, err := master.Stats(); err != nil {
				b.Fatalf("fetch the master's statistics: %v", err)
			}
		case <-window.C:
			waiting = false
		}
	}
	used := (processCPUTicks(b, master.PID()) - before) / ticksPerSecond
	return 100 * used / time.Since(start).Seconds()
}

// BenchmarkMasterCPUPerWorker measures the CPU time of a real Locust master
// with N examples/http worker processes connected. It measures first with
// the workers idle (heartbeats only), then with 50 users per worker (about
// 50 requests per second per worker, one stats entry each). The statistics
// are fetched every 2 s meanwhile, as by an open web UI. Run it with -benchtime=1x: one
// iteration takes about 25 s. It reports percent of one core.
//
//	go test -run='^$' -bench=MasterCPUPerWorker -benchtime=1x -count=3 .
func BenchmarkMasterCPUPerWorker(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a Locust master and up to 80 worker processes; skipped with -short")
	}
	ticks := clockTicksPerSecond(b)
	for _, workers := range []int{10, 20, 40, 80} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			server := locusttest.NewCountingServer(b)
			master := locusttest.StartMaster(b, locusttest.MasterOptions{
				Locustfile: "examples/locustfile.py",
				ExtraArgs:  []string{"--enable-rebalancing"},
			})
			bin := buildExample(b, "examples/http")
			for i := 0; i < workers; i++ {
				startWorkerProcess(b, bin,
					"--master-port", strconv.Itoa(master.Port),
					"--url", fmt.Sprintf("%s/w%02d", server.URL, i),
					"--wait", "1s")
			}
			waitStats(b, master, "every worker ready", func(s *locusttest.StatsJSON) bool { return s.WorkerCount == workers })
			b.ResetTimer()

			var idle, running float64
			for i := 0; i < b.N; i++ {
				idle = masterCPUPercent(b, master, ticks)

				users := workers * masterCPUUsersPerWorker
				if err := master.Swarm(users, float64(users), ""); err != nil {
					b.Fatal(err)
				}
				waitStats(b, master, "every user running", func(s *locusttest.StatsJSON) bool { return s.UserCount == users })
				running = masterCPUPercent(b, master, ticks)
				stats, err := master.Stats()
				if err != nil {
					b.Fatal(err)
				}
				if stats.WorkerCount != workers {
					b.Fatalf("%d workers connected at the end of the window, expected %d", stats.WorkerCount, workers)
				}
				if err := master.Stop(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(idle, "idle-cpu-%")
			b.ReportMetric(idle/float64(workers), "idle-cpu-%/worker")
			b.ReportMetric(running, "running-cpu-%")
			b.ReportMetric(running/float64(workers), "running-cpu-%/worker")
		})
	}
}
