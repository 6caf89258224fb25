package resources

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// DetectHost inspects the machine: the online CPUs
// (/sys/devices/system/cpu/online, else the CPUs this process may run on),
// MemTotal from /proc/meminfo, and the size of the filesystem holding
// workDir (statfs). A workDir that does not exist yet (an agent creates it
// when it starts) is sized by the file system of its nearest existing
// parent, where it will be created. It returns what it found even when
// some part failed; failed parts are zero (see HostInfo) and are
// described by the error.
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

	if st, err := statfsExisting(workDir); err != nil {
		errs = append(errs, fmt.Errorf("detect disk: %w", err))
	} else {
		size := uint64(st.Frsize)
		if size == 0 {
			size = uint64(st.Bsize)
		}
		host.DiskTotal = st.Blocks * size
	}
	return host, errors.Join(errs...)
}

// statfsExisting returns the file system statistics of dir or, while dir
// does not exist, of its nearest existing parent.
func statfsExisting(dir string) (syscall.Statfs_t, error) {
	var st syscall.Statfs_t
	abs, err := filepath.Abs(dir)
	if err != nil {
		return st, fmt.Errorf("work directory %s: %w", dir, err)
	}
	for p := abs; ; p = filepath.Dir(p) {
		err := syscall.Statfs(p, &st)
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, syscall.ENOENT) || p == filepath.Dir(p) {
			return st, fmt.Errorf("statfs %s (for work directory %s): %w", p, dir, err)
		}
	}
}
