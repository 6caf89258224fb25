package containerizer

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// Isolator isolates and measures the containers of the Mezzo
// containerizer: Mesos' Isolator (include/mesos/slave/isolator.hpp). The
// containerizer calls it, for each container, in this order: Prepare
// before the executor starts; Isolate with its pid once it started (or
// Recover, for the containers a restarted agent re-adopts); Watch once;
// Update and Usage while it runs; Cleanup once it has ended. Calls for
// different containers may come from different goroutines at once.
// Isolation through cgroups or namespaces plugs in here.
type Isolator interface {
	// Name is the --isolation name, e.g. "posix/cpu".
	Name() string
	// Recover learns the containers a previous run of the agent
	// launched that still run, with their pids.
	Recover(ctx context.Context, states []RecoverState) error
	// Prepare readies a container before its executor starts and adds
	// to launch what the executor must be started inside (namespaces,
	// mounts, user, rlimits, capabilities); an error fails the launch.
	Prepare(ctx context.Context, id *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error
	// Isolate puts the started executor, pid, into the container.
	Isolate(ctx context.Context, id *mesos.ContainerID, pid int) error
	// Watch returns a channel on which a limitation of the container is
	// reported (the containerizer then destroys it), or nil when this
	// isolator never limits.
	Watch(id *mesos.ContainerID) <-chan Limitation
	// Update sets the container's resources and limits.
	Update(ctx context.Context, id *mesos.ContainerID, resources []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error
	// Usage returns what the isolator measures of the container; the
	// containerizer merges the answers of all isolators.
	Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error)
	// Cleanup forgets a container that has ended.
	Cleanup(ctx context.Context, id *mesos.ContainerID) error
}

// Isolation is a parsed --isolation value.
type Isolation struct {
	// Names are the isolators asked for, in order, without duplicates.
	Names []string
}

// SupportedIsolators are the --isolation names this agent knows. The
// posix/* isolators only observe, as in Mesos; disk/du (alias
// posix/disk) measures sandboxes and, with
// --enforce_container_disk_quota, ends those past their disk; disk/xfs
// limits them with XFS project quotas; docker/runtime (with
// filesystem/linux) runs containers with their image's configuration. filesystem/posix, which refuses
// container root file systems, is on unless filesystem/linux is named,
// as Mesos adds it when no filesystem isolator is.
var SupportedIsolators = slices.Concat([]string{"posix/cpu", "posix/mem", "filesystem/posix",
	DiskIsolatorName, DiskIsolatorAlias, "disk/xfs"}, CgroupsIsolatorNames, LinuxIsolatorNames)

// cgroupsAll is Mesos' "cgroups/all": every cgroups isolator.
const cgroupsAll = "cgroups/all"

// exclusive are the sets of isolators of which at most one may be named.
var exclusive = [][]string{
	{DiskIsolatorName, DiskIsolatorAlias, "disk/xfs"},
	{"filesystem/posix", "filesystem/linux"},
}

// ParseIsolation checks an --isolation value: a comma-separated list of
// supported isolators without duplicates.
func ParseIsolation(s string) (Isolation, error) {
	var iso Isolation
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == cgroupsAll {
			for _, n := range CgroupsIsolatorNames {
				if !iso.Has(n) {
					iso.Names = append(iso.Names, n)
				}
			}
			continue
		}
		if slices.Contains(iso.Names, name) {
			return iso, fmt.Errorf("--isolation=%s: duplicate entry %q", s, name)
		}
		if !slices.Contains(SupportedIsolators, name) {
			return iso, fmt.Errorf("--isolation=%s: the %q isolator is not supported by this agent (supported: %s,%s)",
				s, name, strings.Join(SupportedIsolators, ","), cgroupsAll)
		}
		iso.Names = append(iso.Names, name)
	}
	for _, set := range exclusive {
		var named []string
		for _, n := range set {
			if iso.Has(n) {
				named = append(named, n)
			}
		}
		if len(named) > 1 {
			return iso, fmt.Errorf("--isolation=%s: %s cannot be used together", s, strings.Join(named, " and "))
		}
	}
	return iso, nil
}

// Has reports whether the isolator name was asked for.
func (iso Isolation) Has(name string) bool { return slices.Contains(iso.Names, name) }

// IsolatorOptions are what the isolators are built with: the agent's
// work directory and flags.
type IsolatorOptions struct {
	// WorkDir is the agent's --work_dir (disk/xfs checks its file
	// system).
	WorkDir string
	// Disk configures disk/du (its Name is set from --isolation).
	Disk DiskOptions
	// XFS configures disk/xfs.
	XFS XFSOptions
	// Linux configures the Linux isolators (filesystem/linux,
	// namespaces, volumes, capabilities, rlimits).
	Linux LinuxOptions
	// Cgroups configures the cgroups isolators (MaxPids is used only
	// with cgroups/pids).
	Cgroups CgroupsOptions
}

// Build returns the isolators iso names: the file system one first
// (filesystem/posix unless filesystem/linux is named), then the other
// Linux ones in the order they must prepare, then the rest in the order
// named. It fails when one cannot work here (e.g.
// disk/xfs on a work directory that is not XFS), naming it.
func (iso Isolation) Build(opts IsolatorOptions) ([]Isolator, error) {
	var out []Isolator
	if !iso.Has("filesystem/linux") {
		out = append(out, filesystemPosix{})
	}
	linux, err := NewLinuxIsolators(iso.Names, opts.Linux)
	if err != nil {
		return nil, fmt.Errorf("--isolation: %w", err)
	}
	out = append(out, linux...)
	cg := opts.Cgroups
	if !iso.Has("cgroups/pids") {
		cg.MaxPids = 0
	}
	cgroupIsolators, err := NewCgroupsIsolators(iso.Names, cg)
	if err != nil {
		return nil, fmt.Errorf("--isolation: %w", err)
	}
	out = append(out, cgroupIsolators...)
	for _, name := range iso.Names {
		switch name {
		case "posix/cpu":
			out = append(out, &posixUsage{name: name, cpu: true})
		case "posix/mem":
			out = append(out, &posixUsage{name: name, mem: true})
		case DiskIsolatorName, DiskIsolatorAlias:
			d := opts.Disk
			d.Name = name
			out = append(out, NewDiskIsolator(d))
		case "disk/xfs":
			x, err := NewXFSIsolator(opts.WorkDir, opts.XFS)
			if err != nil {
				return nil, fmt.Errorf("--isolation: disk/xfs: %w", err)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// ---- filesystem/posix ----

// filesystemPosix is Mesos' filesystem/posix isolator: containers share
// the host's file system, so a container root file system (an image) is
// refused. (Persistent volumes are linked into sandboxes by the agent
// before launch or delivery: a task group's task gets them in its own
// sandbox, which only the agent knows.)
type filesystemPosix struct{}

func (filesystemPosix) Name() string                                  { return "filesystem/posix" }
func (filesystemPosix) Recover(context.Context, []RecoverState) error { return nil }
func (filesystemPosix) Isolate(context.Context, *mesos.ContainerID, int) error {
	return nil
}
func (filesystemPosix) Watch(*mesos.ContainerID) <-chan Limitation { return nil }
func (filesystemPosix) Update(context.Context, *mesos.ContainerID, []*mesos.Resource, map[string]*mesos.Value_Scalar) error {
	return nil
}
func (filesystemPosix) Usage(context.Context, *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	return &mesos.ResourceStatistics{}, nil
}
func (filesystemPosix) Cleanup(context.Context, *mesos.ContainerID) error { return nil }

// Prepare refuses a container with a root file system.
func (filesystemPosix) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, _ *launcher.Isolation) error {
	if cfg.ContainerInfo.GetMesos().GetImage() != nil {
		return fmt.Errorf("container root file systems (ContainerInfo.mesos.image) are not supported by filesystem/posix")
	}
	return nil
}

// ---- posix/cpu and posix/mem ----

// posixUsage is Mesos' posix/cpu (cpu set) or posix/mem (mem set)
// isolator: it isolates nothing and measures a container's session in
// /proc — CPU times (cpus_user_time_secs, cpus_system_time_secs) or
// resident memory (mem_rss_bytes).
type posixUsage struct {
	name     string
	cpu, mem bool

	mu   sync.Mutex
	pids map[string]int // container id -> executor pid (= session id)
}

func (p *posixUsage) Name() string { return p.name }

func (p *posixUsage) set(id string, pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pids == nil {
		p.pids = map[string]int{}
	}
	p.pids[id] = pid
}

func (p *posixUsage) Recover(_ context.Context, states []RecoverState) error {
	for _, s := range states {
		p.set(s.ID.GetValue(), s.Pid)
	}
	return nil
}

func (p *posixUsage) Prepare(context.Context, *mesos.ContainerID, *Config, *launcher.Isolation) error {
	return nil
}

func (p *posixUsage) Isolate(_ context.Context, id *mesos.ContainerID, pid int) error {
	p.set(id.GetValue(), pid)
	return nil
}

func (p *posixUsage) Watch(*mesos.ContainerID) <-chan Limitation { return nil }

func (p *posixUsage) Update(context.Context, *mesos.ContainerID, []*mesos.Resource, map[string]*mesos.Value_Scalar) error {
	return nil
}

// Usage measures the container's session; an error when its executor is
// gone.
func (p *posixUsage) Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	p.mu.Lock()
	pid, ok := p.pids[id.GetValue()]
	p.mu.Unlock()
	if !ok {
		return nil, ErrUnknownContainer
	}
	t, err := processes(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := t.byPid[pid]; !ok {
		return nil, fmt.Errorf("%s: executor pid %d is gone", p.name, pid)
	}
	return p.statistics(t.usage([]int{pid})), nil
}

// statistics reports u as this isolator's part of ResourceStatistics.
func (p *posixUsage) statistics(u sessionUsage) *mesos.ResourceStatistics {
	s := &mesos.ResourceStatistics{}
	if p.cpu {
		s.CpusUserTimeSecs = proto.Float64(float64(u.utime) / clockTicks)
		s.CpusSystemTimeSecs = proto.Float64(float64(u.stime) / clockTicks)
	}
	if p.mem {
		s.MemRssBytes = proto.Uint64(u.rss * uint64(os.Getpagesize()))
	}
	return s
}

func (p *posixUsage) Cleanup(_ context.Context, id *mesos.ContainerID) error {
	p.mu.Lock()
	delete(p.pids, id.GetValue())
	p.mu.Unlock()
	return nil
}

// ---- limits ----

// withLimits sets the limits Mesos' containerizer reports with a
// container's usage, from the resources it holds, where no isolator
// reported them (cgroups/cpu and cgroups/mem report what they set):
// cpus_soft_limit (the cpus), mem_soft_limit_bytes and mem_limit_bytes
// (the mem, in whole megabytes as Mesos counts them). As in Mesos 1.11
// without --cgroups_enable_cfs or a cpus limit there is no cpus_limit:
// nothing caps the CPU a container uses.
func withLimits(s *mesos.ResourceStatistics, held []*mesos.Resource) {
	rs, err := resources.FromProto(held)
	if err != nil {
		return // the agent accepted them, so they parse
	}
	if cpus := rs.ByName("cpus"); !cpus.IsEmpty() && s.CpusSoftLimit == nil {
		s.CpusSoftLimit = proto.Float64(cpus.ScalarOf("cpus").Float())
	}
	if mem := rs.ByName("mem"); !mem.IsEmpty() {
		b := uint64(mem.ScalarOf("mem").Float()) << 20
		if s.MemSoftLimitBytes == nil {
			s.MemSoftLimitBytes = proto.Uint64(b)
		}
		if s.MemLimitBytes == nil {
			s.MemLimitBytes = proto.Uint64(b)
		}
	}
}

// watchLimitations merges the limitation channels isolators return for
// the container id until done is closed: nil when none limits (the
// usual case costs nothing).
func watchLimitations(isolators []Isolator, id *mesos.ContainerID, done <-chan struct{}) <-chan Limitation {
	var chans []<-chan Limitation
	for _, iso := range isolators {
		if ch := iso.Watch(id); ch != nil {
			chans = append(chans, ch)
		}
	}
	switch len(chans) {
	case 0:
		return nil
	case 1:
		return chans[0]
	}
	out := make(chan Limitation, 1)
	for _, ch := range chans {
		go func() {
			select {
			case l := <-ch:
				select {
				case out <- l:
				default:
				}
			case <-done:
			}
		}()
	}
	return out
}
