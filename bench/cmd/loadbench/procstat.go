package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in /proc/stat
// and /proc/PID/stat. Linux fixes it at 100 on every architecture Go
// supports.
const clockTicksPerSecond = 100

// machineCPU is a reading of the first line of /proc/stat: the CPU time of
// all cores together since boot.
type machineCPU struct {
	total time.Duration
	idle  time.Duration
}

// busy returns the CPU time spent outside idle and I/O wait.
func (m machineCPU) busy() time.Duration {
	return m.total - m.idle
}

// readMachineCPU reads /proc/stat.
func readMachineCPU() (machineCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineCPU(string(data))
}

// parseMachineCPU parses the "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq and steal, in clock ticks. Guest time is part
// of user time there, so the later columns are left out of the total.
func parseMachineCPU(stat string) (machineCPU, error) {
	scanner := bufio.NewScanner(strings.NewReader(stat))
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 || fields[0] != "cpu" {
			continue
		}
		if len(fields) < 9 {
			return machineCPU{}, fmt.Errorf("/proc/stat: cpu line has %d fields, want at least 9: %q", len(fields), scanner.Text())
		}
		var ticks [8]int64
		for i := range ticks {
			v, err := strconv.ParseInt(fields[i+1], 10, 64)
			if err != nil {
				return machineCPU{}, fmt.Errorf("/proc/stat: invalid cpu field %d %q: %w", i+1, fields[i+1], err)
			}
			ticks[i] = v
		}
		var total int64
		for _, v := range ticks {
			total += v
		}
		idle := ticks[3] + ticks[4]
		return machineCPU{total: ticksToDuration(total), idle: ticksToDuration(idle)}, nil
	}
	return machineCPU{}, errors.New("/proc/stat has no cpu line")
}

func ticksToDuration(ticks int64) time.Duration {
	return time.Duration(ticks) * time.Second / clockTicksPerSecond
}

// processTreeCPU returns the user and system CPU time that the process pid
// and its direct children have used so far, from /proc. Children that
// ended are not counted: the caller reads live processes such as nginx.
func processTreeCPU(pid int) (time.Duration, error) {
	total, _, err := processCPU(pid)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, entry := range entries {
		child, err := strconv.Atoi(entry.Name())
		if err != nil || child == pid {
			continue
		}
		cpu, parent, err := processCPU(child)
		if err != nil {
			// The process ended between ReadDir and the read.
			continue
		}
		if parent == pid {
			total += cpu
		}
	}
	return total, nil
}

// processCPU returns the user and system CPU time of one process and its
// parent's pid, from /proc/PID/stat.
func processCPU(pid int) (cpu time.Duration, parent int, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	return parseProcessStat(string(data))
}

// parseProcessStat parses /proc/PID/stat. The command name, field 2, is in
// parentheses and may contain spaces, so the fields are counted from the
// last closing parenthesis: state is field 3, the parent pid 4, utime 14
// and stime 15.
func parseProcessStat(stat string) (cpu time.Duration, parent int, err error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, 0, fmt.Errorf("invalid /proc/PID/stat: no command name in %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("invalid /proc/PID/stat: %d fields after the command name, want at least 13", len(fields))
	}
	parent, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, fmt.Errorf("invalid parent pid %q in /proc/PID/stat: %w", fields[1], err)
	}
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid utime %q in /proc/PID/stat: %w", fields[11], err)
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid stime %q in /proc/PID/stat: %w", fields[12], err)
	}
	return ticksToDuration(utime + stime), parent, nil
}

// selfCPU returns the user and system CPU time of this process.
func selfCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// rusageCPU returns the user and system CPU time in a child's rusage, which
// includes the children it waited for.
func rusageCPU(usage *syscall.Rusage) time.Duration {
	if usage == nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// idleShare measures the share of the machine's CPU time that was idle
// during one interval.
func idleShare(interval time.Duration) (float64, error) {
	before, err := readMachineCPU()
	if err != nil {
		return 0, err
	}
	time.Sleep(interval)
	after, err := readMachineCPU()
	if err != nil {
		return 0, err
	}
	total := after.total - before.total
	if total <= 0 {
		return 1, nil
	}
	return float64(after.idle-before.idle) / float64(total), nil
}
