package cgroups

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Mount is a cgroup v1 mount: its directory and controllers.
type v1Mount struct {
	dir         string
	controllers []string
}

// v1Mounts lists the cgroup v1 mounts of this mount namespace.
func v1Mounts() ([]v1Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: read mounts: %w", err)
	}
	defer f.Close()
	var out []v1Mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 || fields[sep+1] != "cgroup" {
			continue
		}
		out = append(out, v1Mount{dir: fields[4], controllers: strings.Split(fields[sep+3], ",")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroups: read mounts: %w", err)
	}
	return out, nil
}

// v1Hierarchy is the containers' part of the v1 hierarchies: one
// directory <mountpoint>/<controller>/<root> per controller.
type v1Hierarchy struct {
	mountpoint, root string
	controllers      []Controller
	subsystems       []cgroup1.Subsystem
	// distinct are the controllers with a mount of their own: the first
	// of co-mounted ones (cpu of cpu,cpuacct), whose directory holds the
	// others' cgroups too.
	distinct []Controller
}

// openV1 checks that each controller is a v1 mount at
// <mountpoint>/<controller> (perhaps a symlink to a co-mount such as
// cpu,cpuacct) and that the root cgroup can be created in it.
func openV1(mountpoint, root string, controllers []Controller) (*v1Hierarchy, error) {
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err
	}
	var missing []string
	var distinct []Controller
	var mountDirs []string
	for _, c := range controllers {
		dir := filepath.Join(mountpoint, string(c))
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			dir = resolved
		}
		if !slices.Contains(mountDirs, dir) {
			mountDirs = append(mountDirs, dir)
			distinct = append(distinct, c)
		}
		if !slices.ContainsFunc(mounts, func(m v1Mount) bool {
			return m.dir == dir && slices.Contains(m.controllers, string(c))
		}) {
			missing = append(missing, string(c))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cgroups: the cgroup v1 controllers %s are not mounted under %s (each at %s/<controller>)",
			strings.Join(missing, ", "), mountpoint, mountpoint)
	}
	h := &v1Hierarchy{mountpoint: mountpoint, root: root, controllers: controllers, distinct: distinct}
	for _, c := range controllers {
		dir := filepath.Join(mountpoint, string(c), root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroups: the %s hierarchy is not writable: create the root cgroup %s: %w", c, dir, err)
		}
		h.subsystems = append(h.subsystems, v1Subsystem(mountpoint, c))
	}
	return h, nil
}

// v1Subsystem is the library's controller of c under mountpoint.
func v1Subsystem(mountpoint string, c Controller) cgroup1.Subsystem {
	switch c {
	case CPU:
		return cgroup1.NewCpu(mountpoint)
	case CPUAcct:
		return cgroup1.NewCpuacct(mountpoint)
	case Memory:
		return cgroup1.NewMemory(mountpoint, cgroup1.OptionalSwap())
	case Pids:
		return cgroup1.NewPids(mountpoint)
	case Devices:
		return cgroup1.NewDevices(mountpoint)
	case Blkio:
		return cgroup1.NewBlkio(mountpoint)
	case Freezer:
		return cgroup1.NewFreezer(mountpoint)
	}
	panic(fmt.Sprintf("cgroups: unknown controller %q", c))
}

func (h *v1Hierarchy) dir() string {
	return filepath.Join(h.mountpoint, string(h.controllers[0]), h.root)
}

// dirs are the root's directories, one per controller.
func (h *v1Hierarchy) dirs() []string {
	out := make([]string, len(h.controllers))
	for i, c := range h.controllers {
		out[i] = filepath.Join(h.mountpoint, string(c), h.root)
	}
	return out
}

func (h *v1Hierarchy) exists(name string) bool {
	for _, d := range h.dirs() {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return true
		}
	}
	return false
}

func (h *v1Hierarchy) hierarchy() ([]cgroup1.Subsystem, error) { return h.subsystems, nil }

// create makes the cgroup's directory in each mount, one mkdir each
// (what the library's New does, less a stat of every controller's
// directory before and after); ErrExist, with nothing made, when one
// exists. The library's handle is loaded when first needed.
func (h *v1Hierarchy) create(name string) (Cgroup, error) {
	c := &v1Cgroup{h: h, name: name}
	var made []string
	for _, ctrl := range h.distinct {
		dir := c.path(ctrl)
		if err := unix.Mkdir(dir, 0o755); err != nil {
			for _, d := range slices.Backward(made) {
				_ = unix.Rmdir(d) // just made and empty
			}
			if errors.Is(err, unix.EEXIST) {
				return nil, ErrExist
			}
			return nil, fmt.Errorf("mkdir %s: %w", dir, err)
		}
		made = append(made, dir)
	}
	return c, nil
}

func (h *v1Hierarchy) load(name string) (Cgroup, error) {
	cg, err := cgroup1.Load(cgroup1.StaticPath("/"+h.root+"/"+name), cgroup1.WithHierarchy(h.hierarchy))
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil, fmt.Errorf("cgroup %s/%s: %w", h.root, name, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s/%s: %w", h.root, name, err)
	}
	return &v1Cgroup{h: h, name: name, cg: cg}, nil
}

// v1Cgroup is a container's cgroup in each v1 hierarchy.
type v1Cgroup struct {
	h    *v1Hierarchy
	name string
	// mu guards cg, the library's handle, loaded on first use (the
	// launch of a container does not use it).
	mu sync.Mutex
	cg cgroup1.Cgroup
}

// lib returns the library's handle of the cgroup, loading it the first
// time.
func (c *v1Cgroup) lib() (cgroup1.Cgroup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cg == nil {
		cg, err := cgroup1.Load(cgroup1.StaticPath("/"+c.h.root+"/"+c.name), cgroup1.WithHierarchy(c.h.hierarchy))
		if err != nil {
			return nil, err
		}
		c.cg = cg
	}
	return c.cg, nil
}

func (c *v1Cgroup) Name() string { return c.name }

func (c *v1Cgroup) path(ctrl Controller) string {
	return filepath.Join(c.h.mountpoint, string(ctrl), c.h.root, c.name)
}

func (c *v1Cgroup) Paths() map[Controller]string {
	out := map[Controller]string{}
	for _, ctrl := range c.h.controllers {
		out[ctrl] = c.path(ctrl)
	}
	return out
}

// need fails naming ctrl when the hierarchy lacks it.
func (c *v1Cgroup) need(ctrl Controller) error {
	if !slices.Contains(c.h.controllers, ctrl) {
		return fmt.Errorf("cgroup %s: the %s controller is not enabled", c.name, ctrl)
	}
	return nil
}

// set writes one control file of ctrl's directory. A limit of one file
// is written there alone: the library's update would visit every
// controller's directory for it (a stat each, on every container).
func (c *v1Cgroup) set(ctrl Controller, file, value string) error {
	if err := writeFile(filepath.Join(c.path(ctrl), file), value); err != nil {
		return fmt.Errorf("cgroup %s: set %s: %w", c.name, file, err)
	}
	return nil
}

func (c *v1Cgroup) update(what string, r *specs.LinuxResources) error {
	cg, err := c.lib()
	if err == nil {
		err = cg.Update(r)
	}
	if err != nil {
		return fmt.Errorf("cgroup %s: set %s: %w", c.name, what, err)
	}
	return nil
}

// Add writes pid to cgroup.procs once per mount (co-mounted controllers
// share the cgroup), retrying as the library does while the kernel
// refuses a process still being created (EINVAL).
func (c *v1Cgroup) Add(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroup %s: add pid %d: %w", c.name, pid, cgroup1.ErrInvalidPid)
	}
	for _, ctrl := range c.h.distinct {
		if err := addProc(filepath.Join(c.path(ctrl), "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup %s: add pid %d: %w", c.name, pid, err)
		}
	}
	return nil
}

// addProc writes pid to the cgroup.procs file path, up to five times 30
// ms apart while the kernel answers EINVAL (a task still TASK_NEW).
func addProc(path, pid string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for range 5 {
		if _, err = f.WriteString(pid); !errors.Is(err, unix.EINVAL) {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", pid, path, err)
	}
	return nil
}

func (c *v1Cgroup) Procs() ([]int, error) {
	// Kill and Delete need the freezer, so every container has it; its
	// directories hold a handful of files, so listing them is cheap.
	var out []int
	if err := v1Procs(c.path(Freezer), &out); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // deleted: nothing inside
		}
		return nil, fmt.Errorf("cgroup %s: list processes: %w", c.name, err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// v1Procs appends the pids in dir's cgroup.procs and in those of its
// nested cgroups to out. It reads the directory entries' types from the
// listing instead of stat-ing each control file.
func v1Procs(dir string, out *[]int) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("parse %s/cgroup.procs: %w", dir, err)
		}
		*out = append(*out, pid)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		// A nested cgroup removed meanwhile had nothing left inside.
		if err := v1Procs(filepath.Join(dir, e.Name()), out); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (c *v1Cgroup) Populated() (bool, error) {
	ps, err := c.Procs()
	return len(ps) > 0, err
}

func (c *v1Cgroup) SetCPUShares(shares uint64) error {
	if err := c.need(CPU); err != nil {
		return err
	}
	return c.set(CPU, "cpu.shares", strconv.FormatUint(shares, 10))
}

func (c *v1Cgroup) SetCPUQuota(quota, period time.Duration) error {
	if err := c.need(CPU); err != nil {
		return err
	}
	q := int64(-1)
	if quota >= 0 {
		q = quota.Microseconds()
	}
	p := uint64(period.Microseconds())
	return c.update("cpu.cfs_quota_us", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &q, Period: &p}})
}

func (c *v1Cgroup) SetMemoryLimit(bytes int64) error {
	if err := c.need(Memory); err != nil {
		return err
	}
	if bytes < 0 {
		bytes = -1
	}
	return c.set(Memory, "memory.limit_in_bytes", strconv.FormatInt(bytes, 10))
}

func (c *v1Cgroup) SetMemorySoftLimit(bytes int64) error {
	if err := c.need(Memory); err != nil {
		return err
	}
	if bytes < 0 {
		bytes = -1
	}
	return c.set(Memory, "memory.soft_limit_in_bytes", strconv.FormatInt(bytes, 10))
}

// v1Unlimited: v1 reports "no limit" as the largest page-aligned
// value; anything this large is none.
const v1Unlimited = 1 << 62

func (c *v1Cgroup) MemoryLimit() (int64, error) {
	if err := c.need(Memory); err != nil {
		return 0, err
	}
	v, err := readUint(filepath.Join(c.path(Memory), "memory.limit_in_bytes"))
	if err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	if v >= v1Unlimited {
		return Unlimited, nil
	}
	return int64(v), nil
}

func (c *v1Cgroup) SetPidsMax(n int64) error {
	if err := c.need(Pids); err != nil {
		return err
	}
	if n <= 0 {
		return c.set(Pids, "pids.max", "max")
	}
	return c.set(Pids, "pids.max", strconv.FormatInt(n, 10))
}

func (c *v1Cgroup) SetDevices(allow []DeviceRule) error {
	if err := c.need(Devices); err != nil {
		return err
	}
	return c.update("devices", &specs.LinuxResources{Devices: deviceRules(allow)})
}

// deviceRules is "deny everything" followed by the allowed devices, in
// the runtime spec's terms (the last matching rule wins).
func deviceRules(allow []DeviceRule) []specs.LinuxDeviceCgroup {
	// Both renderings (v1 text, v2 eBPF) take -1 for "any".
	anyNumber := func(v int64) *int64 {
		v = max(v, -1)
		return &v
	}
	out := []specs.LinuxDeviceCgroup{{Allow: false, Type: "a", Major: anyNumber(-1), Minor: anyNumber(-1), Access: "rwm"}}
	for _, r := range allow {
		out = append(out, specs.LinuxDeviceCgroup{Allow: true, Type: string(r.Type), Major: anyNumber(r.Major), Minor: anyNumber(r.Minor), Access: r.Access})
	}
	return out
}

// v1Stater is the library's controller that reads statistics.
type v1Stater interface {
	Stat(path string, stats *v1stats.Metrics) error
}

// Stats reads the asked controllers' statistics through the library's
// controllers, one by one (its cgroup's Stat reads them all).
func (c *v1Cgroup) Stats(only ...Controller) (*Stats, error) {
	m := &v1stats.Metrics{CPU: &v1stats.CPUStat{Throttling: &v1stats.Throttle{}, Usage: &v1stats.CPUUsage{}}}
	for i, ctrl := range c.h.controllers {
		st, ok := c.h.subsystems[i].(v1Stater)
		if !ok || !wanted(only, ctrl) {
			continue
		}
		if err := st.Stat("/"+c.h.root+"/"+c.name, m); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cgroup %s: read %s statistics: %w", c.name, ctrl, err)
		}
	}
	s := &Stats{MemLimit: Unlimited}
	if cpu := m.GetCPU(); cpu != nil {
		s.CPUUser = time.Duration(cpu.GetUsage().GetUser())
		s.CPUSystem = time.Duration(cpu.GetUsage().GetKernel())
		s.CPUPeriods = cpu.GetThrottling().GetPeriods()
		s.CPUThrottledPeriods = cpu.GetThrottling().GetThrottledPeriods()
		s.CPUThrottled = time.Duration(cpu.GetThrottling().GetThrottledTime())
	}
	if mem := m.GetMemory(); mem != nil {
		s.MemUsage = mem.GetUsage().GetUsage()
		s.MemMaxUsage = mem.GetUsage().GetMax()
		if l := mem.GetUsage().GetLimit(); l < v1Unlimited {
			s.MemLimit = int64(l)
		}
		s.MemRSS = mem.GetTotalRSS()
		s.MemCache = mem.GetTotalCache()
		s.MemMappedFile = mem.GetTotalMappedFile()
		s.MemUnevictable = mem.GetTotalUnevictable()
		s.MemKernel = mem.GetKernel().GetUsage()
		if sw := mem.GetSwap().GetUsage(); sw > s.MemUsage {
			s.MemSwapUsage = sw
			s.MemSwap = sw - s.MemUsage
		}
		s.OOMKills = m.GetMemoryOomControl().GetOomKill()
	}
	if p := m.GetPids(); p != nil {
		s.Threads = p.GetCurrent()
		s.PidsLimit = p.GetLimit()
	}
	if b := m.GetBlkio(); b != nil {
		if _, err := os.Stat(filepath.Join(c.path(Blkio), "blkio.io_serviced_recursive")); err == nil {
			s.IOSource = IOCFQ
		}
		byDev := map[[2]uint64]*IOStat{}
		get := func(major, minor uint64) *IOStat {
			k := [2]uint64{major, minor}
			if byDev[k] == nil {
				byDev[k] = &IOStat{Major: major, Minor: minor, Serviced: map[string]uint64{}, Bytes: map[string]uint64{}}
			}
			return byDev[k]
		}
		for _, e := range b.GetIoServicedRecursive() {
			get(e.GetMajor(), e.GetMinor()).Serviced[e.GetOp()] = e.GetValue()
		}
		for _, e := range b.GetIoServiceBytesRecursive() {
			get(e.GetMajor(), e.GetMinor()).Bytes[e.GetOp()] = e.GetValue()
		}
		for _, st := range byDev {
			s.IO = append(s.IO, *st)
		}
		sortIO(s.IO)
	}
	if !wanted(only, Pids) {
		return s, nil
	}
	ps, err := c.Procs()
	if err != nil {
		return nil, err
	}
	s.Processes = uint64(len(ps))
	if !c.h.has(Pids) {
		cg, err := c.lib()
		var ts []cgroup1.Task
		if err == nil {
			ts, err = cg.Tasks(cgroup1.Freezer, true)
		}
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: list threads: %w", c.name, err)
		}
		s.Threads = uint64(len(ts))
	}
	return s, nil
}

func (h *v1Hierarchy) has(c Controller) bool { return slices.Contains(h.controllers, c) }

func (c *v1Cgroup) WatchOOM() (*OOMWatch, error) {
	if err := c.need(Memory); err != nil {
		return nil, err
	}
	control := filepath.Join(c.path(Memory), "memory.oom_control")
	fd, err := oomEventFD(c.path(Memory), control)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: listen for OOM events (memory.oom_control): %w", c.name, err)
	}
	return startOOMWatch(os.NewFile(uintptr(fd), "oom eventfd"), 8, func() (uint64, error) {
		kv, err := readKV(control)
		return kv["oom_kill"], err
	}, true)
}

// oomEventFD registers a non-blocking eventfd for the OOM events of the
// memory cgroup dir (control is its memory.oom_control) through
// cgroup.event_control, as the library's OOMEventFD does.
func oomEventFD(dir, control string) (int, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("eventfd: %w", err)
	}
	f, err := os.Open(control)
	if err != nil {
		unix.Close(efd)
		return -1, err
	}
	defer f.Close()
	if err := writeFile(filepath.Join(dir, "cgroup.event_control"), fmt.Sprintf("%d %d", efd, f.Fd())); err != nil {
		unix.Close(efd)
		return -1, err
	}
	return efd, nil
}

func (c *v1Cgroup) Freeze(ctx context.Context) error {
	return c.freezer(ctx, "FROZEN")
}

func (c *v1Cgroup) Thaw(ctx context.Context) error {
	return c.freezer(ctx, "THAWED")
}

// freezer writes state to freezer.state until it reads back so (the
// kernel may stay FREEZING while a task cannot be frozen yet; Mesos
// retries the same way), or ctx ends.
func (c *v1Cgroup) freezer(ctx context.Context, state string) error {
	file := filepath.Join(c.path(Freezer), "freezer.state")
	return until(ctx, func() (bool, error) {
		if err := writeFile(file, state); err != nil {
			return false, fmt.Errorf("cgroup %s: %w", c.name, err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return false, fmt.Errorf("cgroup %s: %w", c.name, err)
		}
		return strings.TrimSpace(string(b)) == state, nil
	}, fmt.Sprintf("cgroup %s: %s", c.name, strings.ToLower(state)))
}

func (c *v1Cgroup) Kill(ctx context.Context) error {
	if _, err := os.Stat(c.path(Freezer)); errors.Is(err, os.ErrNotExist) {
		return nil // deleted: nothing inside
	}
	return killFrozen(ctx, c)
}

func (c *v1Cgroup) Delete() error {
	// The common case, an empty cgroup with no nested ones, takes one
	// rmdir per controller (co-mounted controllers share a directory, so
	// the second finds it gone). The kernel refuses to remove a cgroup
	// that holds processes or nested cgroups; then the library's delete
	// removes the nested ones, or reports the processes, and retries
	// while the kernel lets go of exited ones.
	fast := true
	for _, ctrl := range c.h.controllers {
		err := unix.Rmdir(c.path(ctrl))
		if err != nil && !errors.Is(err, unix.ENOENT) {
			fast = false
			break
		}
	}
	if fast {
		return nil
	}
	cg, err := c.lib()
	if err == nil {
		err = cg.Delete()
	}
	if err == nil || errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil
	}
	return fmt.Errorf("cgroup %s: delete: %w", c.name, err)
}

// readUint reads a file holding one unsigned number.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}
