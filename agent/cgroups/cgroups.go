package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Version is a cgroup hierarchy version.
type Version int

const (
	// V1 is the legacy hierarchy: one mount per controller.
	V1 Version = 1
	// V2 is the unified hierarchy: one mount for every controller.
	V2 Version = 2
)

func (v Version) String() string {
	switch v {
	case V1:
		return "cgroup v1"
	case V2:
		return "cgroup v2"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// Controller is a cgroup controller, by its v1 name (Mesos' subsystem
// names). On v2, CPUAcct is part of cpu, Blkio is io, Freezer is the
// core cgroup.freeze, and Devices is an eBPF program, not a controller.
type Controller string

// The controllers the agent uses.
const (
	CPU     Controller = "cpu"
	CPUAcct Controller = "cpuacct"
	Memory  Controller = "memory"
	Pids    Controller = "pids"
	Devices Controller = "devices"
	Blkio   Controller = "blkio"
	Freezer Controller = "freezer"
)

// DefaultMountpoint is where the cgroup file systems are mounted.
const DefaultMountpoint = "/sys/fs/cgroup"

// DefaultRoot is the default --cgroups_root: the cgroup under which the
// agent creates its containers'.
const DefaultRoot = "mezzo"

// Config configures Open.
type Config struct {
	// Root is the cgroup, relative to each hierarchy's root, holding the
	// containers' cgroups (Mesos' --cgroups_root); default DefaultRoot.
	// It may be nested ("a/b").
	Root string
	// Controllers are the controllers every container cgroup has; Open
	// fails naming those that are missing. On v1 Freezer is always
	// added (Kill needs it).
	Controllers []Controller
	// Version forces the hierarchy version; zero detects it from
	// Mountpoint (a cgroup2 mount is V2, anything else V1).
	Version Version
	// Mountpoint is the directory holding the cgroup mounts: on V1 the
	// directory with one mount per controller (<Mountpoint>/memory, ...);
	// on V2 the cgroup2 mount itself. Default DefaultMountpoint. Tests
	// point a forced V2 at a directory tree of their own.
	Mountpoint string
}

// Errors of Hierarchy and Cgroup.
var (
	// ErrNotExist: the container's cgroup does not exist.
	ErrNotExist = errors.New("cgroup does not exist")
	// ErrExist: the container's cgroup exists already.
	ErrExist = errors.New("cgroup exists already")
)

// Hierarchy is the agent's part of the host's cgroups: the containers'
// cgroups under Root, with the controllers it was opened with. It is
// safe for concurrent use; so is each Cgroup, for different calls that
// do not race on the same file.
type Hierarchy struct {
	version     Version
	mountpoint  string
	root        string
	controllers []Controller
	impl        hierarchy
}

// hierarchy is what differs between the versions.
type hierarchy interface {
	// create makes the container cgroup name (a path under root);
	// ErrExist when any directory of it exists.
	create(name string) (Cgroup, error)
	// load opens an existing container cgroup.
	load(name string) (Cgroup, error)
	// dir is the directory whose subdirectories are the containers'
	// cgroups (on v1, that of the first controller).
	dir() string
	// exists reports whether any directory of cgroup name exists.
	exists(name string) bool
}

// Open detects the hierarchy (unless cfg.Version forces it), checks that
// every controller asked for is mounted and writable, and creates the
// root cgroup. Its error names what is missing.
func Open(cfg Config) (*Hierarchy, error) {
	if cfg.Mountpoint == "" {
		cfg.Mountpoint = DefaultMountpoint
	}
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	root := filepath.Clean("/" + cfg.Root)[1:]
	if root == "" || slices.Contains(strings.Split(cfg.Root, "/"), "..") {
		return nil, fmt.Errorf("cgroups root %q: not a relative cgroup path", cfg.Root)
	}
	v := cfg.Version
	if v == 0 {
		var err error
		if v, err = Detect(cfg.Mountpoint); err != nil {
			return nil, err
		}
	}
	h := &Hierarchy{version: v, mountpoint: cfg.Mountpoint, root: root}
	for _, c := range cfg.Controllers {
		if !slices.Contains(h.controllers, c) {
			h.controllers = append(h.controllers, c)
		}
	}
	var err error
	switch v {
	case V1:
		if !slices.Contains(h.controllers, Freezer) {
			h.controllers = append(h.controllers, Freezer)
		}
		h.impl, err = openV1(cfg.Mountpoint, root, h.controllers)
	case V2:
		h.impl, err = openV2(cfg.Mountpoint, root, h.controllers)
	default:
		return nil, fmt.Errorf("cgroups: unknown version %d", v)
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Detect tells the hierarchy version of a host from its cgroup mount
// point: V2 when it is a cgroup2 mount (unified), V1 when it holds v1
// controller mounts (legacy, or hybrid with a cgroup2 mount beside them).
func Detect(mountpoint string) (Version, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(mountpoint, &st); err != nil {
		return 0, fmt.Errorf("cgroups: no cgroup file system at %s: %w", mountpoint, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return V2, nil
	}
	mounts, err := v1Mounts()
	if err != nil {
		return 0, err
	}
	for _, m := range mounts {
		if filepath.Dir(m.dir) == filepath.Clean(mountpoint) {
			return V1, nil
		}
	}
	return 0, fmt.Errorf("cgroups: %s is neither a cgroup2 mount nor holds cgroup v1 mounts", mountpoint)
}

// Version is the hierarchy's version.
func (h *Hierarchy) Version() Version { return h.version }

// Root is the root cgroup, relative to the hierarchy's mount.
func (h *Hierarchy) Root() string { return h.root }

// Controllers are the controllers of every container cgroup.
func (h *Hierarchy) Controllers() []Controller { return slices.Clone(h.controllers) }

// Has reports whether the hierarchy was opened with controller c.
func (h *Hierarchy) Has(c Controller) bool { return slices.Contains(h.controllers, c) }

// Create makes the cgroup of container name (<root>/<name>), with no
// limits set; ErrExist when it exists already.
func (h *Hierarchy) Create(name string) (Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	cg, err := h.impl.create(name)
	if errors.Is(err, ErrExist) {
		return nil, fmt.Errorf("cgroup %s/%s: %w", h.root, name, ErrExist)
	}
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s/%s: %w", h.root, name, err)
	}
	return cg, nil
}

// Load opens the existing cgroup of container name; ErrNotExist when
// there is none.
func (h *Hierarchy) Load(name string) (Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if !h.impl.exists(name) {
		return nil, fmt.Errorf("cgroup %s/%s: %w", h.root, name, ErrNotExist)
	}
	return h.impl.load(name)
}

// List names the container cgroups under the root (of any controller on
// v1), for recovery: those of live containers and orphans alike.
func (h *Hierarchy) List() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	dirs := []string{h.impl.dir()}
	if v1, ok := h.impl.(*v1Hierarchy); ok {
		dirs = v1.dirs()
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("list cgroups under %s: %w", d, err)
		}
		for _, e := range entries {
			if e.IsDir() && !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e.Name())
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// Remove deletes the root cgroup (each controller's on v1); it fails
// while a container cgroup is left under it. The agent keeps its root;
// tests remove theirs.
func (h *Hierarchy) Remove() error {
	dirs := []string{h.impl.dir()}
	if v1, ok := h.impl.(*v1Hierarchy); ok {
		dirs = v1.dirs()
	}
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the root cgroup: %w", err)
		}
	}
	return nil
}

// wanted reports whether Stats was asked for c (any of cs, or all when
// only is empty).
func wanted(only []Controller, cs ...Controller) bool {
	if len(only) == 0 {
		return true
	}
	for _, c := range cs {
		if slices.Contains(only, c) {
			return true
		}
	}
	return false
}

// checkName refuses a container name that is not one path element.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("cgroups: %q is not a valid container cgroup name", name)
	}
	return nil
}

// Unlimited, as a memory limit or a CPU quota, sets none.
const Unlimited = -1

// DeviceRule allows a device (or a class of devices) to a container:
// Type 'a' (all), 'b' (block) or 'c' (character); Major and Minor, or -1
// for any; Access a combination of "r", "w" and "m" (mknod).
type DeviceRule struct {
	Type         byte
	Major, Minor int64
	Access       string
}

func (r DeviceRule) String() string {
	n := func(v int64) string {
		if v < 0 {
			return "*"
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, n(r.Major), n(r.Minor), r.Access)
}

// Cgroup is one container's cgroup, over every controller of its
// Hierarchy. Setters for a controller the hierarchy lacks fail naming
// it.
type Cgroup interface {
	// Name is the container's name under the root.
	Name() string
	// Paths are the cgroup's directories, by controller (v2: one
	// directory under the key "").
	Paths() map[Controller]string
	// Add moves process pid (with all its threads) into the cgroup, in
	// every controller. A container may hold several processes added
	// this way; what they fork stays inside.
	Add(pid int) error
	// Procs lists the processes inside, nested cgroups included.
	Procs() ([]int, error)
	// Populated reports whether any process is inside.
	Populated() (bool, error)

	// SetCPUShares sets the CPU weight in v1 shares (cpu.shares; on v2
	// converted to cpu.weight).
	SetCPUShares(shares uint64) error
	// SetCPUQuota caps CPU time to quota per period (CFS bandwidth);
	// quota Unlimited removes the cap.
	SetCPUQuota(quota, period time.Duration) error
	// SetMemoryLimit sets the hard limit in bytes (memory.limit_in_bytes,
	// memory.max); Unlimited removes it.
	SetMemoryLimit(bytes int64) error
	// SetMemorySoftLimit sets the soft limit in bytes
	// (memory.soft_limit_in_bytes; on v2 the protection memory.low).
	SetMemorySoftLimit(bytes int64) error
	// MemoryLimit reads the hard limit; Unlimited when there is none.
	MemoryLimit() (int64, error)
	// SetPidsMax caps the number of tasks (pids.max); 0 or less removes
	// the cap.
	SetPidsMax(n int64) error
	// SetDevices denies every device but those of allow (v1:
	// devices.deny and devices.allow; v2: an eBPF device program). Call
	// it once, before processes are added.
	SetDevices(allow []DeviceRule) error

	// Stats reads the statistics of the given controllers (CPU or
	// CPUAcct: CPU times and throttling; Memory; Pids: also the
	// processes and threads; Blkio), of all the hierarchy's when none is
	// given.
	Stats(only ...Controller) (*Stats, error)
	// WatchOOM reports the OOM kills inside the cgroup until Close.
	WatchOOM() (*OOMWatch, error)

	// Freeze stops every process inside (v1 freezer.state, v2
	// cgroup.freeze), waiting until they are, or until ctx ends.
	Freeze(ctx context.Context) error
	// Thaw lets frozen processes run again.
	Thaw(ctx context.Context) error
	// Kill SIGKILLs everything inside as Mesos does (freeze, kill all,
	// thaw; on v2 cgroup.kill where the kernel has it) and waits until
	// the cgroup is empty, or until ctx ends.
	Kill(ctx context.Context) error
	// Delete removes the cgroup (nested cgroups included); it fails
	// while processes are inside. Deleting a deleted cgroup is not an
	// error.
	Delete() error
}

// Stats are what a container's cgroup measures; zero for what its
// controllers do not, or were not asked for.
type Stats struct {
	// CPU (cpuacct on v1, cpu.stat on v2).
	CPUUser, CPUSystem time.Duration
	// CFS bandwidth (cpu.stat): periods elapsed, periods throttled, and
	// the time throttled.
	CPUPeriods, CPUThrottledPeriods uint64
	CPUThrottled                    time.Duration

	// Memory, in bytes: in use (usage_in_bytes, memory.current), the
	// peak, and its parts: anonymous (rss, anon), page cache (cache,
	// file), mapped files, swap, unevictable, kernel.
	MemUsage, MemMaxUsage              uint64
	MemRSS, MemCache, MemMappedFile    uint64
	MemSwap, MemUnevictable, MemKernel uint64
	MemSwapUsage                       uint64 // memory and swap together (v1 memsw)
	MemLimit                           int64  // hard limit, Unlimited for none
	OOMKills                           uint64 // processes the OOM killer ended inside
	Processes, Threads, PidsLimit      uint64 // PidsLimit 0: none
	IO                                 []IOStat
	IOSource                           IOSource
}

// IOSource says which kernel counters IO comes from.
type IOSource int

const (
	// IOThrottle: v1 blkio.throttle.* or v2 io.stat (every I/O the
	// block layer saw).
	IOThrottle IOSource = iota
	// IOCFQ: v1 CFQ scheduler counters (blkio.*_recursive).
	IOCFQ
)

// IOStat is one block device's I/O: operations (Serviced) and bytes, by
// operation ("Read", "Write", "Sync", "Async", "Discard", "Total").
type IOStat struct {
	Major, Minor    uint64
	Serviced, Bytes map[string]uint64
}
