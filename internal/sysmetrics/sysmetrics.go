// Package sysmetrics reads the host gauges libprocess reports under
// system/* in every Mesos process's /metrics/snapshot:
// system/load_{1,5,15}min (/proc/loadavg), system/cpus_total (online
// CPUs, /sys/devices/system/cpu/online, as sysconf(_SC_NPROCESSORS_ONLN))
// and system/mem_total_bytes and system/mem_free_bytes (MemTotal and
// MemFree of /proc/meminfo: Mesos reads sysinfo(2)'s totalram and
// freeram, the same numbers — free, not available, memory).
package sysmetrics

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Read returns the host's system/* gauges; each one that cannot be read is
// left out, as libprocess leaves out a gauge that failed.
func Read() map[string]float64 {
	m := map[string]float64{}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		for i, name := range []string{"system/load_1min", "system/load_5min", "system/load_15min"} {
			if i < len(f) {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					m[name] = v
				}
			}
		}
	}
	if n, err := onlineCPUs(); err == nil {
		m["system/cpus_total"] = float64(n)
	}
	if total, free, err := meminfo(); err == nil {
		m["system/mem_total_bytes"] = float64(total)
		m["system/mem_free_bytes"] = float64(free)
	}
	return m
}

// onlineCPUs counts the online CPUs, from the list in
// /sys/devices/system/cpu/online ("0-3,6,8-9").
func onlineCPUs() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0, fmt.Errorf("read online CPUs: %w", err)
	}
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("online CPUs %q: %w", b, err)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				return 0, fmt.Errorf("online CPUs %q: bad range %q", b, part)
			}
		}
		n += last - first + 1
	}
	return n, nil
}

// meminfo returns MemTotal and MemFree of /proc/meminfo, in bytes.
func meminfo() (total, free uint64, err error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, fmt.Errorf("read memory information: %w", err)
	}
	var haveTotal, haveFree bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch name {
		case "MemTotal":
			dst, haveTotal = &total, true
		case "MemFree":
			dst, haveFree = &free, true
		default:
			continue
		}
		// "  16318712 kB"
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/meminfo %s: unexpected %q", name, rest)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/meminfo %s: %w", name, err)
		}
		*dst = kb * 1024
	}
	if !haveTotal || !haveFree {
		return 0, 0, fmt.Errorf("/proc/meminfo has no MemTotal or MemFree")
	}
	return total, free, nil
}
