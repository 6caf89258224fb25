package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RaiseFileLimit raises this process's limit on open files as far as it
// may: the hard limit to the kernel's ceiling (fs.nr_open) when the
// process is allowed to (root), and the soft limit to the hard one. The
// master and agent processes a scenario starts inherit it. Every emulated
// agent holds a connection open, and the master one per agent and per
// framework call in flight: 10,000 agents need more than the 20,000 files
// many systems allow by default. It returns the limit now in force.
func RaiseFileLimit() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: reading the open files limit: %w", err)
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if ceiling, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && ceiling > lim.Max {
			raised := unix.Rlimit{Cur: ceiling, Max: ceiling}
			if unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) == nil {
				return ceiling, nil
			}
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: raising the open files limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}
