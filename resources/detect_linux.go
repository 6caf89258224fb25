package resources

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// DetectHost inspects the machine: the online CPUs
// (/sys/devices/system/cpu/online, else the CPUs this process may run on),
// MemTotal from /proc/meminfo, and the size of the filesystem holding
// workDir (statfs). It returns what it found even when some part failed;
// failed parts are zero (see HostInfo) and are described by the error.
func DetectHost(workDir string) (HostInfo, error) {
	var host HostInfo
	var errs []error

	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if host.CPUs, err = parseOnlineCPUs(string(b)); err != nil {
			errs = append(errs, fmt.Errorf("detect cpus: %w", err))
		}
	}
	if host.CPUs == 0 {
		host.CPUs = runtime.NumCPU()
	}

	if b, err := os.ReadFile("/proc/meminfo"); err != nil {
		errs = append(errs, fmt.Errorf("detect mem: %w", err))
	} else if host.MemTotal, err = parseMemTotal(string(b)); err != nil {
		errs = append(errs, fmt.Errorf("detect mem: /proc/meminfo: %w", err))
	}

	var st syscall.Statfs_t
	if err := syscall.Statfs(workDir, &st); err != nil {
		errs = append(errs, fmt.Errorf("detect disk: statfs %s: %w", workDir, err))
	} else {
		size := uint64(st.Frsize)
		if size == 0 {
			size = uint64(st.Bsize)
		}
		host.DiskTotal = st.Blocks * size
	}
	return host, errors.Join(errs...)
}
