package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// v2Controller is the v2 controller that does what v1's c does; "" for
// what v2 does without a controller (freezer: cgroup.freeze; devices:
// an eBPF program).
func v2Controller(c Controller) string {
	switch c {
	case CPU, CPUAcct:
		return "cpu"
	case Memory:
		return "memory"
	case Pids:
		return "pids"
	case Blkio:
		return "io"
	}
	return ""
}

// v2Hierarchy is the containers' part of the unified hierarchy: the
// directory <mountpoint>/<root>, whose subtree has the controllers
// enabled.
type v2Hierarchy struct {
	mountpoint, root string
	controllers      []Controller
}

// openV2 checks that the cgroup2 mount offers the controllers, creates
// the root cgroup and enables them for its subtree (and its ancestors').
func openV2(mountpoint, root string, controllers []Controller) (*v2Hierarchy, error) {
	b, err := os.ReadFile(filepath.Join(mountpoint, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroups: no cgroup2 hierarchy at %s: %w", mountpoint, err)
	}
	avail := strings.Fields(string(b))
	var need, missing []string
	for _, c := range controllers {
		v2 := v2Controller(c)
		if v2 == "" || slices.Contains(need, v2) {
			continue
		}
		need = append(need, v2)
		if !slices.Contains(avail, v2) {
			missing = append(missing, fmt.Sprintf("%s (for %s)", v2, c))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cgroups: the cgroup2 hierarchy at %s lacks the controllers %s (it has: %q)",
			mountpoint, strings.Join(missing, ", "), strings.Join(avail, " "))
	}
	dir := filepath.Join(mountpoint, root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroups: the cgroup2 hierarchy at %s is not writable: create the root cgroup %s: %w", mountpoint, dir, err)
	}
	if len(need) > 0 {
		// Enabling needs every level from the mount down to the root
		// cgroup itself: toggling for a (not created) child of the root
		// writes the subtree_control of each of its ancestors.
		m, err := cgroup2.Load("/"+root+"/.enable", cgroup2.WithMountpoint(mountpoint))
		if err == nil {
			err = m.ToggleControllers(need, cgroup2.Enable)
		}
		if err != nil {
			return nil, fmt.Errorf("cgroups: enable the controllers %s under %s: %w", strings.Join(need, " "), dir, err)
		}
	}
	return &v2Hierarchy{mountpoint: mountpoint, root: root, controllers: controllers}, nil
}

func (h *v2Hierarchy) dir() string { return filepath.Join(h.mountpoint, h.root) }

func (h *v2Hierarchy) exists(name string) bool {
	_, err := os.Stat(filepath.Join(h.dir(), name))
	return err == nil
}

func (h *v2Hierarchy) group(name string) string { return "/" + h.root + "/" + name }

func (h *v2Hierarchy) create(name string) (Cgroup, error) {
	if h.exists(name) {
		return nil, ErrExist
	}
	m, err := cgroup2.NewManager(h.mountpoint, h.group(name), &cgroup2.Resources{})
	if err != nil {
		return nil, err
	}
	return &v2Cgroup{h: h, name: name, m: m, dir: filepath.Join(h.dir(), name)}, nil
}

func (h *v2Hierarchy) load(name string) (Cgroup, error) {
	m, err := cgroup2.Load(h.group(name), cgroup2.WithMountpoint(h.mountpoint))
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s/%s: %w", h.root, name, err)
	}
	return &v2Cgroup{h: h, name: name, m: m, dir: filepath.Join(h.dir(), name)}, nil
}

// v2Cgroup is a container's cgroup in the unified hierarchy: one
// directory for every controller.
type v2Cgroup struct {
	h    *v2Hierarchy
	name string
	m    *cgroup2.Manager
	dir  string
}

func (c *v2Cgroup) Name() string                 { return c.name }
func (c *v2Cgroup) Paths() map[Controller]string { return map[Controller]string{"": c.dir} }

func (c *v2Cgroup) need(ctrl Controller) error {
	if !slices.Contains(c.h.controllers, ctrl) {
		return fmt.Errorf("cgroup %s: the %s controller is not enabled", c.name, ctrl)
	}
	return nil
}

func (c *v2Cgroup) update(what string, r *cgroup2.Resources) error {
	if err := c.m.Update(r); err != nil {
		return fmt.Errorf("cgroup %s: set %s: %w", c.name, what, err)
	}
	return nil
}

func (c *v2Cgroup) Add(pid int) error {
	if err := c.m.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("cgroup %s: add pid %d: %w", c.name, pid, err)
	}
	return nil
}

func (c *v2Cgroup) Procs() ([]int, error) {
	ps, err := c.m.Procs(true)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // deleted: nothing inside
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: list processes: %w", c.name, err)
	}
	out := make([]int, 0, len(ps))
	for _, p := range ps {
		out = append(out, int(p))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Populated reads cgroup.events, which counts nested cgroups too.
func (c *v2Cgroup) Populated() (bool, error) {
	kv, err := readKV(filepath.Join(c.dir, "cgroup.events"))
	if err != nil {
		return false, fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	return kv["populated"] == 1, nil
}

func (c *v2Cgroup) SetCPUShares(shares uint64) error {
	if err := c.need(CPU); err != nil {
		return err
	}
	w := cgroup2.ConvertCPUSharesToCgroupV2Value(shares)
	return c.update("cpu.weight", &cgroup2.Resources{CPU: &cgroup2.CPU{Weight: &w}})
}

func (c *v2Cgroup) SetCPUQuota(quota, period time.Duration) error {
	if err := c.need(CPU); err != nil {
		return err
	}
	var q *int64
	if quota >= 0 {
		us := quota.Microseconds()
		q = &us
	}
	p := uint64(period.Microseconds())
	return c.update("cpu.max", &cgroup2.Resources{CPU: &cgroup2.CPU{Max: cgroup2.NewCPUMax(q, &p)}})
}

func (c *v2Cgroup) SetMemoryLimit(bytes int64) error {
	if err := c.need(Memory); err != nil {
		return err
	}
	if bytes < 0 {
		// The library writes numbers only.
		return writeFile(filepath.Join(c.dir, "memory.max"), "max")
	}
	return c.update("memory.max", &cgroup2.Resources{Memory: &cgroup2.Memory{Max: &bytes}})
}

func (c *v2Cgroup) SetMemorySoftLimit(bytes int64) error {
	if err := c.need(Memory); err != nil {
		return err
	}
	if bytes < 0 {
		bytes = 0
	}
	return c.update("memory.low", &cgroup2.Resources{Memory: &cgroup2.Memory{Low: &bytes}})
}

func (c *v2Cgroup) MemoryLimit() (int64, error) {
	if err := c.need(Memory); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "memory.max"))
	if err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return Unlimited, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup %s: parse memory.max %q: %w", c.name, s, err)
	}
	return v, nil
}

func (c *v2Cgroup) SetPidsMax(n int64) error {
	if err := c.need(Pids); err != nil {
		return err
	}
	if n <= 0 {
		n = -1 // "max"
	}
	return c.update("pids.max", &cgroup2.Resources{Pids: &cgroup2.Pids{Max: n}})
}

// SetDevices attaches an eBPF device program to the cgroup (the kernel
// runs it for every device access of the processes inside).
func (c *v2Cgroup) SetDevices(allow []DeviceRule) error {
	if err := c.need(Devices); err != nil {
		return err
	}
	return c.update("the eBPF device program", &cgroup2.Resources{Devices: deviceRules(allow)})
}

func (c *v2Cgroup) Stats(only ...Controller) (*Stats, error) {
	var mask cgroup2.StatMask
	for _, ctrl := range c.h.controllers {
		if !wanted(only, ctrl) {
			continue
		}
		switch v2Controller(ctrl) {
		case "cpu":
			mask |= cgroup2.StatCPU
		case "memory":
			mask |= cgroup2.StatMemory | cgroup2.StatMemoryEvents
		case "pids":
			mask |= cgroup2.StatPids
		case "io":
			mask |= cgroup2.StatIO
		}
	}
	m, err := c.m.StatFiltered(mask)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: read statistics: %w", c.name, err)
	}
	s := &Stats{MemLimit: Unlimited}
	if cpu := m.GetCPU(); cpu != nil {
		s.CPUUser = time.Duration(cpu.GetUserUsec()) * time.Microsecond
		s.CPUSystem = time.Duration(cpu.GetSystemUsec()) * time.Microsecond
		s.CPUPeriods = cpu.GetNrPeriods()
		s.CPUThrottledPeriods = cpu.GetNrThrottled()
		s.CPUThrottled = time.Duration(cpu.GetThrottledUsec()) * time.Microsecond
	}
	if mem := m.GetMemory(); mem != nil {
		s.MemUsage = mem.GetUsage()
		s.MemMaxUsage = mem.GetMaxUsage()
		s.MemRSS = mem.GetAnon()
		s.MemCache = mem.GetFile()
		s.MemMappedFile = mem.GetFileMapped()
		s.MemUnevictable = mem.GetUnevictable()
		s.MemKernel = mem.GetKernelStack() + mem.GetSlab()
		s.MemSwap = mem.GetSwapUsage()
		if s.MemSwap > 0 {
			s.MemSwapUsage = s.MemUsage + s.MemSwap
		}
		if l, err := c.MemoryLimit(); err == nil {
			s.MemLimit = l
		}
	}
	if ev := m.GetMemoryEvents(); ev != nil {
		s.OOMKills = ev.GetOomKill()
	}
	if p := m.GetPids(); p != nil {
		s.Threads = p.GetCurrent()
		s.PidsLimit = p.GetLimit()
	}
	for _, e := range m.GetIo().GetUsage() {
		s.IO = append(s.IO, IOStat{Major: e.GetMajor(), Minor: e.GetMinor(),
			Serviced: map[string]uint64{"Read": e.GetRios(), "Write": e.GetWios(), "Total": e.GetRios() + e.GetWios()},
			Bytes:    map[string]uint64{"Read": e.GetRbytes(), "Write": e.GetWbytes(), "Total": e.GetRbytes() + e.GetWbytes()}})
	}
	sortIO(s.IO)
	if !wanted(only, Pids) {
		return s, nil
	}
	ps, err := c.Procs()
	if err != nil {
		return nil, err
	}
	s.Processes = uint64(len(ps))
	if m.GetPids() == nil {
		ts, err := c.m.Threads(true)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: list threads: %w", c.name, err)
		}
		s.Threads = uint64(len(ts))
	}
	return s, nil
}

// WatchOOM watches memory.events with inotify; an event is a change
// after which oom_kill grew.
func (c *v2Cgroup) WatchOOM() (*OOMWatch, error) {
	if err := c.need(Memory); err != nil {
		return nil, err
	}
	events := filepath.Join(c.dir, "memory.events")
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: inotify: %w", c.name, err)
	}
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("cgroup %s: watch %s: %w", c.name, events, err)
	}
	return startOOMWatch(os.NewFile(uintptr(fd), "inotify "+events), 4096, func() (uint64, error) {
		kv, err := readKV(events)
		return kv["oom_kill"], err
	}, false)
}

func (c *v2Cgroup) Freeze(ctx context.Context) error { return c.freeze(ctx, true) }
func (c *v2Cgroup) Thaw(ctx context.Context) error   { return c.freeze(ctx, false) }

// freeze writes cgroup.freeze and waits until cgroup.events says the
// cgroup is (or is no longer) frozen, or ctx ends.
func (c *v2Cgroup) freeze(ctx context.Context, frozen bool) error {
	want, what := "0", "thaw"
	if frozen {
		want, what = "1", "freeze"
	}
	if err := writeFile(filepath.Join(c.dir, "cgroup.freeze"), want); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	return until(ctx, func() (bool, error) {
		kv, err := readKV(filepath.Join(c.dir, "cgroup.events"))
		if err != nil {
			return false, fmt.Errorf("cgroup %s: %w", c.name, err)
		}
		return strconv.FormatUint(kv["frozen"], 10) == want, nil
	}, fmt.Sprintf("cgroup %s: %s", c.name, what))
}

// Kill writes cgroup.kill (Linux 5.14 and later), which SIGKILLs every
// process of the subtree at once, else freezes and kills one by one;
// then it waits until the cgroup is empty.
func (c *v2Cgroup) Kill(ctx context.Context) error {
	if _, err := os.Stat(c.dir); errors.Is(err, os.ErrNotExist) {
		return nil // deleted: nothing inside
	}
	kill := filepath.Join(c.dir, "cgroup.kill")
	if _, err := os.Stat(kill); err != nil {
		return killFrozen(ctx, c)
	}
	if err := writeFile(kill, "1"); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	return until(ctx, func() (bool, error) {
		populated, err := c.Populated()
		return !populated, err
	}, fmt.Sprintf("cgroup %s: wait until empty", c.name))
}

func (c *v2Cgroup) Delete() error {
	if _, err := os.Stat(c.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := c.m.Delete(); err != nil {
		return fmt.Errorf("cgroup %s: delete: %w", c.name, err)
	}
	return nil
}
