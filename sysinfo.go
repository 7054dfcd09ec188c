package boomer

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter measures the process's CPU use between two calls, in percent of
// the whole machine (all cores together are 100 %). The master warns above
// 90 %, so a per-core figure would raise false warnings on a multi-core
// worker.
type cpuMeter struct {
	lastWall time.Time
	lastCPU  time.Duration
}

func newCPUMeter() *cpuMeter {
	return &cpuMeter{lastWall: time.Now(), lastCPU: processCPUTime()}
}

func (m *cpuMeter) percent() float64 {
	now := time.Now()
	cpu := processCPUTime()
	wall := now.Sub(m.lastWall)
	used := cpu - m.lastCPU
	m.lastWall, m.lastCPU = now, cpu
	if wall <= 0 || used < 0 {
		return 0
	}
	p := 100 * float64(used) / float64(wall) / float64(runtime.NumCPU())
	return min(p, 100)
}

// processCPUTime returns the user and system CPU time of the process.
func processCPUTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// residentMemoryBytes returns the process's resident set size, from
// /proc/self/statm on Linux, or the memory the Go runtime obtained from the
// system elsewhere.
func residentMemoryBytes() int64 {
	if data, err := os.ReadFile("/proc/self/statm"); err == nil {
		fields := strings.Fields(string(data))
		if len(fields) >= 2 {
			if pages, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return int64(stats.Sys)
}
