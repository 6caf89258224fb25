package agent

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// IsolationConfig holds the flags of the isolators (--isolation), under
// Mesos' names; the agent's Config embeds it.
type IsolationConfig struct {
	// CgroupsHierarchy is Mesos' --cgroups_hierarchy (default
	// /sys/fs/cgroup): where the cgroup hierarchies are mounted.
	CgroupsHierarchy string
	// CgroupsRoot is Mesos' --cgroups_root: the cgroup under which each
	// container gets its own (default "mezzo"; Mesos' is "mesos").
	CgroupsRoot string
	// CgroupsDestroyTimeout is Mesos' --cgroups_destroy_timeout
	// (default 1 min): how long killing what is left in a container's
	// cgroups may take.
	CgroupsDestroyTimeout time.Duration
	// CgroupsEnableCFS is Mesos' --cgroups_enable_cfs: cgroups/cpu caps a
	// container at its cpus with a CFS quota, not only weights it.
	CgroupsEnableCFS bool
	// CgroupsMaxPids (--cgroups_max_pids, a Mezzo extension) is the most
	// processes and threads a container may hold under cgroups/pids; 0
	// for no limit.
	CgroupsMaxPids int
	// EnforceContainerDiskQuota is Mesos' --enforce_container_disk_quota:
	// disk/du ends a container whose sandbox outgrows its disk.
	EnforceContainerDiskQuota bool
	// ContainerDiskWatchInterval is Mesos' --container_disk_watch_interval
	// (default 15 s): how often disk/du measures each sandbox.
	ContainerDiskWatchInterval time.Duration
	// EffectiveCapabilities and BoundingCapabilities are Mesos'
	// --effective_capabilities and --bounding_capabilities: JSON
	// CapabilityInfo ({"capabilities":["NET_RAW"]}) that
	// linux/capabilities gives containers which ask for none; empty for
	// none given.
	EffectiveCapabilities, BoundingCapabilities string
	// DefaultContainerShmSize is Mesos' --default_container_shm_size: the
	// size of a private /dev/shm (namespaces/ipc, ipc_mode PRIVATE) whose
	// container gives no shm_size; empty for the kernel's default.
	DefaultContainerShmSize string
	// XFSProjectRange is Mesos' --xfs_project_range (default
	// [5000-10000]): the XFS project ids disk/xfs hands out.
	XFSProjectRange string
	// XFSKillContainers is Mesos' --xfs_kill_containers: disk/xfs ends a
	// container that reaches its quota instead of only failing its
	// writes.
	XFSKillContainers bool
	// XFSQuotaHeadroom is Mesos' --xfs_quota_headroom (default 10MB): how
	// far past its quota a container may write before the file system
	// refuses, with XFSKillContainers.
	XFSQuotaHeadroom string

	// Parsed by validate.
	effectiveCaps, boundingCaps *mesos.CapabilityInfo
	xfsQuotaHeadroom            uint64
	shmSizeMB                   uint32
}

// defaultIsolationConfig is Mesos' defaults (CgroupsRoot excepted).
func defaultIsolationConfig() IsolationConfig {
	return IsolationConfig{
		CgroupsHierarchy:           "/sys/fs/cgroup",
		CgroupsRoot:                "mezzo",
		CgroupsMaxPids:             4096,
		CgroupsDestroyTimeout:      time.Minute,
		ContainerDiskWatchInterval: 15 * time.Second,
		XFSProjectRange:            "[5000-10000]",
		XFSQuotaHeadroom:           "10MB",
	}
}

// addFlags binds c's fields under Mesos' flag names.
func (c *IsolationConfig) addFlags(fs *flag.FlagSet) {
	d := *c
	fs.StringVar(&c.CgroupsHierarchy, "cgroups_hierarchy", d.CgroupsHierarchy, "Where the cgroup hierarchies are mounted.")
	fs.StringVar(&c.CgroupsRoot, "cgroups_root", d.CgroupsRoot, "Cgroup under which each container gets its own.")
	flags.DurationVar(fs, &c.CgroupsDestroyTimeout, "cgroups_destroy_timeout", d.CgroupsDestroyTimeout, "Longest time killing what is left in a container's cgroups may take.")
	fs.BoolVar(&c.CgroupsEnableCFS, "cgroups_enable_cfs", d.CgroupsEnableCFS, "cgroups/cpu: cap each container at its cpus with a CFS quota (not only weight it).")
	fs.IntVar(&c.CgroupsMaxPids, "cgroups_max_pids", d.CgroupsMaxPids, "cgroups/pids: most processes and threads a container may hold (0: no limit). A Mezzo extension.")
	fs.BoolVar(&c.EnforceContainerDiskQuota, "enforce_container_disk_quota", d.EnforceContainerDiskQuota, "disk/du: end a container whose sandbox outgrows its disk resources.")
	flags.DurationVar(fs, &c.ContainerDiskWatchInterval, "container_disk_watch_interval", d.ContainerDiskWatchInterval, "disk/du: interval between measures of each sandbox.")
	fs.StringVar(&c.EffectiveCapabilities, "effective_capabilities", d.EffectiveCapabilities, `linux/capabilities: capabilities of containers that ask for none, as JSON ({"capabilities":["NET_RAW"]}).`)
	fs.StringVar(&c.BoundingCapabilities, "bounding_capabilities", d.BoundingCapabilities, `linux/capabilities: bounding set of containers that ask for none, as JSON ({"capabilities":["NET_RAW"]}).`)
	fs.StringVar(&c.DefaultContainerShmSize, "default_container_shm_size", d.DefaultContainerShmSize, "namespaces/ipc: size of a private /dev/shm whose container gives none (e.g. 64MB); default: the kernel's.")
	fs.StringVar(&c.XFSProjectRange, "xfs_project_range", d.XFSProjectRange, "disk/xfs: XFS project ids to hand out, as [first-last].")
	fs.BoolVar(&c.XFSKillContainers, "xfs_kill_containers", d.XFSKillContainers, "disk/xfs: end a container that reaches its disk quota.")
	fs.StringVar(&c.XFSQuotaHeadroom, "xfs_quota_headroom", d.XFSQuotaHeadroom, "disk/xfs with --xfs_kill_containers: how far past its quota a container may write before the file system refuses (e.g. 10MB).")
}

var xfsRange = regexp.MustCompile(`^\[(\d+)-(\d+)\]$`)

// validate checks and parses c, filling in defaults for zero values.
func (c *IsolationConfig) validate() []error {
	def := defaultIsolationConfig()
	var errs []error
	if c.CgroupsHierarchy == "" {
		c.CgroupsHierarchy = def.CgroupsHierarchy
	}
	if c.CgroupsRoot == "" {
		c.CgroupsRoot = def.CgroupsRoot
	}
	switch {
	case c.CgroupsDestroyTimeout < 0:
		errs = append(errs, fmt.Errorf("--cgroups_destroy_timeout=%s: must not be negative", flags.FormatDuration(c.CgroupsDestroyTimeout)))
	case c.CgroupsDestroyTimeout == 0:
		c.CgroupsDestroyTimeout = def.CgroupsDestroyTimeout
	}
	if c.CgroupsMaxPids < 0 {
		errs = append(errs, fmt.Errorf("--cgroups_max_pids=%d: must not be negative", c.CgroupsMaxPids))
	}
	switch {
	case c.ContainerDiskWatchInterval < 0:
		errs = append(errs, fmt.Errorf("--container_disk_watch_interval=%s: must not be negative", flags.FormatDuration(c.ContainerDiskWatchInterval)))
	case c.ContainerDiskWatchInterval == 0:
		c.ContainerDiskWatchInterval = def.ContainerDiskWatchInterval
	}
	for _, f := range []struct {
		name string
		val  string
		out  **mesos.CapabilityInfo
	}{{"effective_capabilities", c.EffectiveCapabilities, &c.effectiveCaps}, {"bounding_capabilities", c.BoundingCapabilities, &c.boundingCaps}} {
		if f.val == "" {
			continue
		}
		var v struct {
			Capabilities []string `json:"capabilities"`
		}
		if err := json.Unmarshal([]byte(f.val), &v); err != nil {
			errs = append(errs, fmt.Errorf(`--%s=%s: want JSON such as {"capabilities":["NET_RAW"]}: %v`, f.name, f.val, err))
			continue
		}
		info := &mesos.CapabilityInfo{}
		for _, name := range v.Capabilities {
			cp, ok := mesos.CapabilityInfo_Capability_value[name]
			if !ok {
				errs = append(errs, fmt.Errorf("--%s: unknown capability %q", f.name, name))
				continue
			}
			info.Capabilities = append(info.Capabilities, mesos.CapabilityInfo_Capability(cp))
		}
		*f.out = info
	}
	if c.XFSProjectRange == "" {
		c.XFSProjectRange = def.XFSProjectRange
	}
	if m := xfsRange.FindStringSubmatch(c.XFSProjectRange); m == nil {
		errs = append(errs, fmt.Errorf("--xfs_project_range=%s: want [first-last]", c.XFSProjectRange))
	} else {
		first, err1 := strconv.ParseUint(m[1], 10, 32)
		last, err2 := strconv.ParseUint(m[2], 10, 32)
		if err1 != nil || err2 != nil || first == 0 || first > last {
			errs = append(errs, fmt.Errorf("--xfs_project_range=%s: want 0 < first <= last < 2^32", c.XFSProjectRange))
		}
	}
	if c.DefaultContainerShmSize != "" {
		b, err := flags.ParseBytes(c.DefaultContainerShmSize)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--default_container_shm_size=%s: %v", c.DefaultContainerShmSize, err))
		case b < 1<<20 || b%(1<<20) != 0 || b>>20 > 1<<31:
			errs = append(errs, fmt.Errorf("--default_container_shm_size=%s: want a whole number of megabytes, at least 1MB", c.DefaultContainerShmSize))
		default:
			c.shmSizeMB = uint32(b >> 20)
		}
	}
	if c.XFSQuotaHeadroom == "" {
		c.XFSQuotaHeadroom = def.XFSQuotaHeadroom
	}
	if b, err := flags.ParseBytes(c.XFSQuotaHeadroom); err != nil {
		errs = append(errs, fmt.Errorf("--xfs_quota_headroom=%s: %v", c.XFSQuotaHeadroom, err))
	} else {
		c.xfsQuotaHeadroom = b
	}
	return errs
}

// isolatorOptions are the options the isolators are built with.
func (a *Agent) isolatorOptions() containerizer.IsolatorOptions {
	c := a.cfg.IsolationConfig
	log := a.log.With("component", "isolator")
	return containerizer.IsolatorOptions{
		WorkDir: a.cfg.WorkDir,
		Disk: containerizer.DiskOptions{
			Enforce:       c.EnforceContainerDiskQuota,
			WatchInterval: c.ContainerDiskWatchInterval,
			Log:           log,
		},
		Cgroups: containerizer.CgroupsOptions{
			Root:           c.CgroupsRoot,
			EnableCFS:      c.CgroupsEnableCFS,
			MaxPids:        int64(c.CgroupsMaxPids),
			Hierarchy:      c.CgroupsHierarchy,
			DestroyTimeout: c.CgroupsDestroyTimeout,
			Log:            log,
		},
		Linux: containerizer.LinuxOptions{
			WorkDir:               a.cfg.WorkDir,
			EffectiveCapabilities: c.effectiveCaps,
			BoundingCapabilities:  c.boundingCaps,
			DefaultShmSize:        c.shmSizeMB,
		},
		XFS: containerizer.XFSOptions{
			ProjectRange:   c.XFSProjectRange,
			Enforce:        c.EnforceContainerDiskQuota,
			KillContainers: c.XFSKillContainers,
			Headroom:       c.xfsQuotaHeadroom,
			WatchInterval:  c.ContainerDiskWatchInterval,
			Log:            log,
		},
	}
}

// RootIsolation is the --isolation an agent running as root uses when
// none is given (Mesos' default is posix/cpu,posix/mem, which enforces
// nothing): each container's CPU share, memory and process count are
// limited by its cgroups, and it has a PID namespace of its own (which
// needs filesystem/linux for its /proc).
const RootIsolation = "cgroups/cpu,cgroups/mem,cgroups/pids,filesystem/linux,namespaces/pid"

// DefaultIsolation is the isolation for cfg when --isolation was not
// given: RootIsolation when the agent runs as root and the cgroup
// controllers it needs are usable, else cfg's own (Mesos' default), with
// the reason for falling back to it.
func DefaultIsolation(cfg Config) (isolation, fallback string) {
	if os.Geteuid() != 0 {
		return cfg.Isolation, "the agent does not run as root"
	}
	c := cfg.IsolationConfig
	if errs := c.validate(); len(errs) > 0 {
		return cfg.Isolation, errors.Join(errs...).Error()
	}
	iso, err := containerizer.ParseIsolation(RootIsolation)
	if err != nil {
		return cfg.Isolation, err.Error()
	}
	probe := containerizer.CgroupsOptions{Root: c.CgroupsRoot, Hierarchy: c.CgroupsHierarchy, MaxPids: int64(c.CgroupsMaxPids)}
	if _, err := containerizer.NewCgroupsIsolators(iso.Names, probe); err != nil {
		return cfg.Isolation, err.Error()
	}
	return RootIsolation, ""
}
