package containerizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/cgroups"
	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// The cgroups isolators are Mesos' cgroups/* isolators
// (src/slave/containerizer/mesos/isolators/cgroups): each container gets
// a cgroup <--cgroups_root>/<container id> (package cgroups; one
// directory per controller on cgroup v1, one for all on v2), created at
// Prepare, holding every process Isolate adds, killed and removed at
// Cleanup. The isolators of one agent share each container's cgroup;
// each sets and measures its own controllers:
//
//	cgroups/cpu      cpu, cpuacct  cpu.shares (cpu.weight), CFS quota; CPU times, throttling
//	cgroups/mem      memory        hard and soft limits; memory statistics; OOM → limitation
//	cgroups/pids     pids          pids.max (CgroupsOptions.MaxPids); processes, threads
//	cgroups/devices  devices       Mesos' default device allow-list, everything else denied
//	cgroups/blkio    blkio (io)    block I/O statistics
//
// (On v1 the freezer controller is always used as well: a cgroup is
// frozen while its processes are killed.)

// CgroupsIsolatorNames are the cgroups/* --isolation names
// NewCgroupsIsolators knows.
var CgroupsIsolatorNames = []string{"cgroups/cpu", "cgroups/mem", "cgroups/pids", "cgroups/devices", "cgroups/blkio"}

// The constants of Mesos' cgroups isolator
// (isolators/cgroups/constants.hpp).
const (
	// CPUSharesPerCPU is cpu.shares for one cpu.
	CPUSharesPerCPU = 1024
	// MinCPUShares is the least cpu.shares (the kernel's minimum).
	MinCPUShares = 2
	// CPUCFSPeriod is the CFS period (the kernel's default).
	CPUCFSPeriod = 100 * time.Millisecond
	// MinCPUCFSQuota is the least CFS quota set.
	MinCPUCFSQuota = time.Millisecond
	// MinMemory is the least memory limit set, in bytes (32 MB).
	MinMemory = 32 << 20
)

// DefaultCgroupsDestroyTimeout is how long Cleanup waits for a
// container's processes to die (Mesos' --cgroups_destroy_timeout).
const DefaultCgroupsDestroyTimeout = time.Minute

// CgroupsOptions configures NewCgroupsIsolators: the agent's cgroups
// flags.
type CgroupsOptions struct {
	// Root is the cgroup holding the containers' (--cgroups_root),
	// default "mezzo".
	Root string
	// EnableCFS caps each container's CPU time to its cpus with a CFS
	// quota (--cgroups_enable_cfs). Without it only a cpus limit
	// (TaskInfo.limits) sets a quota.
	EnableCFS bool
	// MaxPids is each container's pids.max, 0 for none (a Mezzo
	// extension: --cgroups_max_pids). Needs cgroups/pids.
	MaxPids int64
	// Hierarchy is where the cgroup file systems are mounted
	// (--cgroups_hierarchy), default /sys/fs/cgroup: on v1 the directory
	// of the per-controller mounts, on v2 the cgroup2 mount.
	Hierarchy string
	// Version forces the hierarchy version; zero detects it (unified
	// hosts v2, legacy and hybrid ones v1). For tests.
	Version cgroups.Version
	// DestroyTimeout bounds the kill of a container's processes at
	// Cleanup (--cgroups_destroy_timeout), default
	// DefaultCgroupsDestroyTimeout.
	DestroyTimeout time.Duration
	// Log receives the isolators' log lines; nil discards them.
	Log *slog.Logger
}

// defaultDevices is Mesos' default device allow-list for cgroups/devices
// (isolators/cgroups/subsystems/devices.cpp): creating device nodes, and
// using the console, ttys, pseudo-terminals, /dev/net/tun, null, zero,
// full, random and urandom. Every other device is denied.
var defaultDevices = []cgroups.DeviceRule{
	{Type: 'c', Major: -1, Minor: -1, Access: "m"},
	{Type: 'b', Major: -1, Minor: -1, Access: "m"},
	{Type: 'c', Major: 5, Minor: 1, Access: "rwm"},    // /dev/console
	{Type: 'c', Major: 4, Minor: 0, Access: "rwm"},    // /dev/tty0
	{Type: 'c', Major: 4, Minor: 1, Access: "rwm"},    // /dev/tty1
	{Type: 'c', Major: 136, Minor: -1, Access: "rwm"}, // /dev/pts/*
	{Type: 'c', Major: 5, Minor: 2, Access: "rwm"},    // /dev/ptmx
	{Type: 'c', Major: 10, Minor: 200, Access: "rwm"}, // /dev/net/tun
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},    // /dev/null
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm"},    // /dev/zero
	{Type: 'c', Major: 1, Minor: 7, Access: "rwm"},    // /dev/full
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm"},    // /dev/tty
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm"},    // /dev/urandom
	{Type: 'c', Major: 1, Minor: 8, Access: "rwm"},    // /dev/random
}

// NewCgroupsIsolators returns the cgroups/* isolators names asks for (in
// that order; other names are ignored), sharing one cgroup per
// container. It opens the hierarchy and fails naming an unknown
// cgroups/* isolator or a controller that is not mounted or not
// writable. No cgroups/* name: no isolator and no error.
func NewCgroupsIsolators(names []string, opts CgroupsOptions) ([]Isolator, error) {
	var kinds []string
	var controllers []cgroups.Controller
	for _, name := range names {
		kind, ok := strings.CutPrefix(name, "cgroups/")
		if !ok {
			continue
		}
		if !slices.Contains(CgroupsIsolatorNames, name) {
			return nil, fmt.Errorf("unknown or unsupported isolator %q (supported: %s)", name, strings.Join(CgroupsIsolatorNames, ","))
		}
		if slices.Contains(kinds, kind) {
			continue
		}
		kinds = append(kinds, kind)
		switch kind {
		case "cpu":
			controllers = append(controllers, cgroups.CPU, cgroups.CPUAcct)
		case "mem":
			controllers = append(controllers, cgroups.Memory)
		case "pids":
			controllers = append(controllers, cgroups.Pids)
		case "devices":
			controllers = append(controllers, cgroups.Devices)
		case "blkio":
			controllers = append(controllers, cgroups.Blkio)
		}
	}
	if len(kinds) == 0 {
		return nil, nil
	}
	if opts.MaxPids < 0 {
		return nil, fmt.Errorf("cgroups max pids %d: must be 0 (no limit) or more", opts.MaxPids)
	}
	if opts.MaxPids > 0 && !slices.Contains(kinds, "pids") {
		return nil, errors.New("a cgroups pids limit needs the cgroups/pids isolator")
	}
	h, err := cgroups.Open(cgroups.Config{Root: opts.Root, Controllers: controllers, Version: opts.Version, Mountpoint: opts.Hierarchy})
	if err != nil {
		return nil, fmt.Errorf("cgroups isolation (%s): %w", strings.Join(names, ","), err)
	}
	if opts.DestroyTimeout <= 0 {
		opts.DestroyTimeout = DefaultCgroupsDestroyTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &cgroupsShared{h: h, opts: opts, log: log.With("isolation", "cgroups", "hierarchy", h.Version().String()),
		containers: map[string]*cgroupContainer{}}
	out := make([]Isolator, 0, len(kinds))
	for _, kind := range kinds {
		iso := &cgroupsIsolator{name: "cgroups/" + kind, kind: kind, s: s}
		if kind == "mem" {
			out = append(out, &CgroupsMemIsolator{iso})
			continue
		}
		out = append(out, iso)
	}
	return out, nil
}

// cgroupsShared is what the cgroups isolators of one agent share: the
// hierarchy and each container's cgroup.
type cgroupsShared struct {
	h    *cgroups.Hierarchy
	opts CgroupsOptions
	log  *slog.Logger

	mu         sync.Mutex
	containers map[string]*cgroupContainer

	ooms atomic.Uint64
}

// cgroupContainer is one container's cgroup and what the isolators keep
// of it; fields under cgroupsShared.mu unless noted.
type cgroupContainer struct {
	cg cgroups.Cgroup
	// users are the isolators that prepared or recovered it; the last
	// to clean up destroys the cgroup.
	users []string
	// added are the pids already put into the cgroup.
	added map[int]bool

	// cgroups/cpu: the quota set, in cpus (0: none).
	cpuQuota float64
	// cgroups/mem: whether the hard limit was set (it is then only
	// raised), the limits set (bytes, cgroups.Unlimited for none), the
	// OOM watch and its goroutine's limitation channel.
	hardLimitSet     bool
	memHard, memSoft int64
	oom              *cgroups.OOMWatch
	limited          chan Limitation
	stopOOM          chan struct{}
	oomDone          chan struct{}
}

// acquire returns container id's cgroup for isolator name, creating it
// for the first isolator to prepare the container.
func (s *cgroupsShared) acquire(name, id string) (*cgroupContainer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.containers[id]; ok {
		if slices.Contains(c.users, name) {
			return nil, fmt.Errorf("container %s has already been prepared", id)
		}
		c.users = append(c.users, name)
		return c, nil
	}
	cg, err := s.h.Create(id)
	if err != nil {
		return nil, err
	}
	c := &cgroupContainer{cg: cg, users: []string{name}, added: map[int]bool{}, memHard: cgroups.Unlimited, memSoft: cgroups.Unlimited}
	s.containers[id] = c
	return c, nil
}

// get returns container id's cgroup, or ErrUnknownContainer.
func (s *cgroupsShared) get(id string) (*cgroupContainer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, ErrUnknownContainer)
	}
	return c, nil
}

// release drops isolator name's hold of container id; the last one
// stops the OOM watch, kills what is still inside and removes the
// cgroup.
func (s *cgroupsShared) release(ctx context.Context, name, id string) error {
	s.mu.Lock()
	c, ok := s.containers[id]
	if !ok {
		s.mu.Unlock()
		return nil
	}
	c.users = slices.DeleteFunc(c.users, func(u string) bool { return u == name })
	last := len(c.users) == 0
	if last {
		delete(s.containers, id)
	}
	s.mu.Unlock()
	if !last {
		return nil
	}
	c.stopWatch()
	return s.destroy(ctx, c.cg)
}

// destroy kills everything in cg (within DestroyTimeout) and removes it.
func (s *cgroupsShared) destroy(ctx context.Context, cg cgroups.Cgroup) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.DestroyTimeout)
	defer cancel()
	if err := cg.Kill(ctx); err != nil {
		return fmt.Errorf("destroy cgroup of container %s: %w", cg.Name(), err)
	}
	if err := cg.Delete(); err != nil {
		return fmt.Errorf("destroy cgroup of container %s: %w", cg.Name(), err)
	}
	return nil
}

// recover re-opens, for isolator name, the cgroups of the containers
// states lists, then destroys every container cgroup under the root that
// no recovered or prepared container has (orphans). It returns the
// containers it holds for name.
func (s *cgroupsShared) recover(ctx context.Context, name string, states []RecoverState) ([]string, []*cgroupContainer, error) {
	var ids []string
	var held []*cgroupContainer
	known := map[string]bool{}
	for _, st := range states {
		id := st.ID.GetValue()
		known[id] = true
		s.mu.Lock()
		c, ok := s.containers[id]
		if ok {
			if !slices.Contains(c.users, name) {
				c.users = append(c.users, name)
			}
			s.mu.Unlock()
			ids, held = append(ids, id), append(held, c)
			continue
		}
		s.mu.Unlock()
		cg, err := s.h.Load(id)
		if errors.Is(err, cgroups.ErrNotExist) {
			// The agent stopped before the cgroup was created (or after
			// it was removed); the executor's end is noticed elsewhere.
			s.log.Warn("no cgroup for recovered container", "container", id)
			continue
		}
		if err != nil {
			return ids, held, fmt.Errorf("container %s: %w", id, err)
		}
		s.mu.Lock()
		if c, ok = s.containers[id]; !ok {
			c = &cgroupContainer{cg: cg, added: map[int]bool{}, hardLimitSet: true, memHard: cgroups.Unlimited, memSoft: cgroups.Unlimited}
			s.containers[id] = c
		}
		c.users = append(c.users, name)
		s.mu.Unlock()
		ids, held = append(ids, id), append(held, c)
	}
	names, err := s.h.List()
	if err != nil {
		return ids, held, err
	}
	var errs []error
	for _, id := range names {
		s.mu.Lock()
		_, live := s.containers[id]
		s.mu.Unlock()
		if live || known[id] {
			continue
		}
		cg, err := s.h.Load(id)
		if errors.Is(err, cgroups.ErrNotExist) {
			continue // another isolator destroyed it meanwhile
		}
		if err == nil {
			s.log.Info("destroying orphan container cgroup", "container", id)
			err = s.destroy(ctx, cg)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("orphan container %s: %w", id, err))
		}
	}
	return ids, held, errors.Join(errs...)
}

// cgroupsIsolator is one cgroups/* isolator; kind is what follows
// "cgroups/".
type cgroupsIsolator struct {
	name, kind string
	s          *cgroupsShared
}

func (i *cgroupsIsolator) Name() string { return i.name }

// Prepare creates the container's cgroup (or joins the one another
// cgroups isolator created) and sets this isolator's limits from cfg.
func (i *cgroupsIsolator) Prepare(ctx context.Context, id *mesos.ContainerID, cfg *Config, _ *launcher.Isolation) error {
	key := id.GetValue()
	c, err := i.s.acquire(i.name, key)
	if err != nil {
		return err
	}
	if err := i.prepare(c, cfg); err != nil {
		if rerr := i.s.release(ctx, i.name, key); rerr != nil {
			i.s.log.Warn("cgroup cleanup after a failed prepare failed", "container", key, "err", rerr)
		}
		return err
	}
	return nil
}

func (i *cgroupsIsolator) prepare(c *cgroupContainer, cfg *Config) error {
	switch i.kind {
	case "cpu":
		return i.updateCPU(c, cfg.Resources, cfg.Limits)
	case "mem":
		if err := i.updateMem(c, cfg.Resources, cfg.Limits); err != nil {
			return err
		}
		return i.watchOOM(c)
	case "pids":
		if i.s.opts.MaxPids > 0 {
			return c.cg.SetPidsMax(i.s.opts.MaxPids)
		}
	case "devices":
		return c.cg.SetDevices(defaultDevices)
	}
	return nil
}

// Recover re-opens the cgroups of the recovered containers and destroys
// the orphan ones.
func (i *cgroupsIsolator) Recover(ctx context.Context, states []RecoverState) error {
	_, held, err := i.s.recover(ctx, i.name, states)
	if i.kind == "mem" {
		for _, c := range held {
			i.s.mu.Lock()
			watching := c.oom != nil
			i.s.mu.Unlock()
			if watching {
				continue
			}
			// The hard limit set before is only known from the cgroup
			// (it is then only raised).
			hard, herr := c.cg.MemoryLimit()
			if herr == nil {
				i.s.mu.Lock()
				c.memHard = hard
				i.s.mu.Unlock()
				herr = i.watchOOM(c)
			}
			if herr != nil {
				err = errors.Join(err, fmt.Errorf("container %s: %w", c.cg.Name(), herr))
			}
		}
	}
	return err
}

// Isolate puts pid into the container's cgroup (in every controller: the
// first cgroups isolator to see a pid adds it for all).
func (i *cgroupsIsolator) Isolate(_ context.Context, id *mesos.ContainerID, pid int) error {
	c, err := i.s.get(id.GetValue())
	if err != nil {
		return err
	}
	i.s.mu.Lock()
	done := c.added[pid]
	c.added[pid] = true
	i.s.mu.Unlock()
	if done {
		return nil
	}
	if err := c.cg.Add(pid); err != nil {
		i.s.mu.Lock()
		delete(c.added, pid)
		i.s.mu.Unlock()
		return err
	}
	return nil
}

// Watch: only cgroups/mem limits (an OOM).
func (i *cgroupsIsolator) Watch(id *mesos.ContainerID) <-chan Limitation {
	if i.kind != "mem" {
		return nil
	}
	c, err := i.s.get(id.GetValue())
	if err != nil {
		return nil
	}
	i.s.mu.Lock()
	defer i.s.mu.Unlock()
	return c.limited
}

// Update sets this isolator's limits from the container's new resources.
func (i *cgroupsIsolator) Update(_ context.Context, id *mesos.ContainerID, res []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error {
	c, err := i.s.get(id.GetValue())
	if err != nil {
		return err
	}
	switch i.kind {
	case "cpu":
		return i.updateCPU(c, res, limits)
	case "mem":
		return i.updateMem(c, res, limits)
	}
	return nil
}

// Cleanup drops this isolator's hold of the container; the last cgroups
// isolator to clean up kills whatever is still inside and removes the
// cgroup.
func (i *cgroupsIsolator) Cleanup(ctx context.Context, id *mesos.ContainerID) error {
	return i.s.release(ctx, i.name, id.GetValue())
}

// scalar sums the scalar resources named name; ok is false when there
// are none.
func scalarSum(res []*mesos.Resource, name string) (v float64, ok bool) {
	for _, r := range res {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
			v += r.GetScalar().GetValue()
			ok = true
		}
	}
	return v, ok
}

// updateCPU sets cpu.shares from the cpus, and a CFS quota from the cpus
// limit or, with EnableCFS, the cpus (Mesos 1.11's cpu subsystem: an
// infinite limit removes the quota; without a limit and without CFS
// enforcement the quota is left as it is).
func (i *cgroupsIsolator) updateCPU(c *cgroupContainer, res []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error {
	cpus, ok := scalarSum(res, "cpus")
	if !ok {
		return errors.New("cgroups/cpu: no cpus resource given")
	}
	shares := max(uint64(CPUSharesPerCPU*cpus), MinCPUShares)
	if err := c.cg.SetCPUShares(shares); err != nil {
		return err
	}
	limit, hasLimit := limits["cpus"]
	if !hasLimit && !i.s.opts.EnableCFS {
		return nil
	}
	if hasLimit && math.IsInf(limit.GetValue(), 1) {
		if err := c.cg.SetCPUQuota(cgroups.Unlimited, CPUCFSPeriod); err != nil {
			return err
		}
		i.s.mu.Lock()
		c.cpuQuota = 0
		i.s.mu.Unlock()
		return nil
	}
	q := cpus
	if hasLimit {
		q = limit.GetValue()
	}
	quota := max(time.Duration(float64(CPUCFSPeriod)*q), MinCPUCFSQuota)
	if err := c.cg.SetCPUQuota(quota, CPUCFSPeriod); err != nil {
		return err
	}
	i.s.mu.Lock()
	c.cpuQuota = float64(quota) / float64(CPUCFSPeriod)
	i.s.mu.Unlock()
	return nil
}

// updateMem sets the soft limit to the mem (at least MinMemory), and the
// hard limit to the mem limit (infinite: none) or else the mem — the
// hard limit only the first time or upwards: lowering it under the
// memory in use would cause an OOM (Mesos 1.11's memory subsystem).
func (i *cgroupsIsolator) updateMem(c *cgroupContainer, res []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error {
	mem, ok := scalarSum(res, "mem")
	if !ok {
		return errors.New("cgroups/mem: no mem resource given")
	}
	soft := max(int64(mem*(1<<20)), MinMemory)
	if err := c.cg.SetMemorySoftLimit(soft); err != nil {
		return err
	}
	hard := soft
	if limit, ok := limits["mem"]; ok {
		if math.IsInf(limit.GetValue(), 1) {
			hard = cgroups.Unlimited
		} else {
			hard = max(int64(limit.GetValue())<<20, MinMemory)
		}
	}
	i.s.mu.Lock()
	first, current := !c.hardLimitSet, c.memHard
	c.memSoft = soft
	i.s.mu.Unlock()
	raise := hard == cgroups.Unlimited && current != cgroups.Unlimited || current != cgroups.Unlimited && hard > current
	if !first && !raise {
		return nil
	}
	if err := c.cg.SetMemoryLimit(hard); err != nil {
		return err
	}
	i.s.mu.Lock()
	c.hardLimitSet, c.memHard = true, hard
	i.s.mu.Unlock()
	return nil
}

// watchOOM starts watching the container's OOM events: the first one
// becomes its memory limitation.
func (i *cgroupsIsolator) watchOOM(c *cgroupContainer) error {
	w, err := c.cg.WatchOOM()
	if err != nil {
		return err
	}
	limited := make(chan Limitation, 1)
	stop, done := make(chan struct{}), make(chan struct{})
	i.s.mu.Lock()
	c.oom, c.limited, c.stopOOM, c.oomDone = w, limited, stop, done
	i.s.mu.Unlock()
	go func() {
		defer close(done)
		select {
		case <-w.C():
		case <-stop:
			return
		}
		i.s.ooms.Add(1)
		l := i.memLimitation(c)
		i.s.log.Info("OOM detected for container", "container", c.cg.Name(), "message", strings.SplitN(l.Message, "\n", 2)[0])
		limited <- l
	}()
	return nil
}

// stopWatch ends the container's OOM watch, if any.
func (c *cgroupContainer) stopWatch() {
	if c.oom == nil {
		return
	}
	close(c.stopOOM)
	<-c.oomDone
	c.oom.Close()
}

// memLimitation describes an OOM as Mesos does: "Memory limit exceeded:
// Requested: 64MB Maximum Used: 64MB" and the cgroup's memory.stat; its
// resources are the memory used at most, in MB.
func (i *cgroupsIsolator) memLimitation(c *cgroupContainer) Limitation {
	var b strings.Builder
	b.WriteString("Memory limit exceeded: ")
	if l, err := c.cg.MemoryLimit(); err == nil {
		if l == cgroups.Unlimited {
			b.WriteString("Requested: unlimited ")
		} else {
			fmt.Fprintf(&b, "Requested: %s ", flags.FormatBytes(uint64(l)))
		}
	}
	var used uint64
	if st, err := c.cg.Stats(cgroups.Memory); err == nil {
		used = max(st.MemMaxUsage, st.MemUsage)
		fmt.Fprintf(&b, "Maximum Used: %s\n", flags.FormatBytes(used))
	}
	dir := c.cg.Paths()[cgroups.Memory]
	if dir == "" {
		dir = c.cg.Paths()[""]
	}
	if stat, err := os.ReadFile(filepath.Join(dir, "memory.stat")); err == nil {
		fmt.Fprintf(&b, "\nMEMORY STATISTICS: \n%s", stat)
	}
	return Limitation{
		Resources: []*mesos.Resource{{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(float64(used) / (1 << 20))}}},
		Reason:  mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY,
		Message: strings.TrimSpace(b.String()),
	}
}

// Usage reads this isolator's statistics from the container's cgroup.
func (i *cgroupsIsolator) Usage(_ context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	c, err := i.s.get(id.GetValue())
	if err != nil {
		return nil, err
	}
	out := &mesos.ResourceStatistics{}
	var controllers []cgroups.Controller
	switch i.kind {
	case "cpu":
		controllers = []cgroups.Controller{cgroups.CPU, cgroups.CPUAcct}
	case "mem":
		controllers = []cgroups.Controller{cgroups.Memory}
	case "pids":
		controllers = []cgroups.Controller{cgroups.Pids}
	case "blkio":
		controllers = []cgroups.Controller{cgroups.Blkio}
	default:
		return out, nil // cgroups/devices measures nothing
	}
	st, err := c.cg.Stats(controllers...)
	if err != nil {
		return nil, err
	}
	i.s.mu.Lock()
	quota, hard, soft := c.cpuQuota, c.memHard, c.memSoft
	i.s.mu.Unlock()
	switch i.kind {
	case "cpu":
		out.CpusUserTimeSecs = proto.Float64(st.CPUUser.Seconds())
		out.CpusSystemTimeSecs = proto.Float64(st.CPUSystem.Seconds())
		if quota > 0 || i.s.opts.EnableCFS {
			out.CpusNrPeriods = proto.Uint32(uint32(st.CPUPeriods))
			out.CpusNrThrottled = proto.Uint32(uint32(st.CPUThrottledPeriods))
			out.CpusThrottledTimeSecs = proto.Float64(st.CPUThrottled.Seconds())
		}
		if quota > 0 {
			out.CpusLimit = proto.Float64(quota)
		}
	case "mem":
		out.MemTotalBytes = proto.Uint64(st.MemUsage)
		out.MemRssBytes = proto.Uint64(st.MemRSS)
		out.MemAnonBytes = proto.Uint64(st.MemRSS)
		out.MemCacheBytes = proto.Uint64(st.MemCache)
		out.MemFileBytes = proto.Uint64(st.MemCache)
		out.MemMappedFileBytes = proto.Uint64(st.MemMappedFile)
		out.MemSwapBytes = proto.Uint64(st.MemSwap)
		out.MemUnevictableBytes = proto.Uint64(st.MemUnevictable)
		out.MemKmemUsageBytes = proto.Uint64(st.MemKernel)
		if st.MemSwapUsage > 0 {
			out.MemTotalMemswBytes = proto.Uint64(st.MemSwapUsage)
		}
		if hard >= 0 {
			out.MemLimitBytes = proto.Uint64(uint64(hard))
		}
		if soft >= 0 {
			out.MemSoftLimitBytes = proto.Uint64(uint64(soft))
		}
	case "pids":
		out.Processes = proto.Uint32(uint32(st.Processes))
		out.Threads = proto.Uint32(uint32(st.Threads))
	case "blkio":
		out.BlkioStatistics = blkioStatistics(st)
	}
	return out, nil
}

// blkioStatistics turns block I/O counters into Mesos' blkio statistics:
// CFQ counters as cfq_recursive, the others (v1 throttle, v2 io.stat) as
// throttling.
func blkioStatistics(st *cgroups.Stats) *mesos.CgroupInfo_Blkio_Statistics {
	ops := map[string]mesos.CgroupInfo_Blkio_Operation{
		"Total": mesos.CgroupInfo_Blkio_TOTAL, "Read": mesos.CgroupInfo_Blkio_READ, "Write": mesos.CgroupInfo_Blkio_WRITE,
		"Sync": mesos.CgroupInfo_Blkio_SYNC, "Async": mesos.CgroupInfo_Blkio_ASYNC, "Discard": mesos.CgroupInfo_Blkio_DISCARD,
	}
	values := func(m map[string]uint64) []*mesos.CgroupInfo_Blkio_Value {
		var out []*mesos.CgroupInfo_Blkio_Value
		for _, name := range []string{"Total", "Read", "Write", "Sync", "Async", "Discard"} {
			if v, ok := m[name]; ok {
				out = append(out, &mesos.CgroupInfo_Blkio_Value{Op: ops[name].Enum(), Value: proto.Uint64(v)})
			}
		}
		return out
	}
	out := &mesos.CgroupInfo_Blkio_Statistics{}
	for _, d := range st.IO {
		dev := &mesos.Device_Number{MajorNumber: proto.Uint64(d.Major), MinorNumber: proto.Uint64(d.Minor)}
		if st.IOSource == cgroups.IOCFQ {
			out.CfqRecursive = append(out.CfqRecursive, &mesos.CgroupInfo_Blkio_CFQ_Statistics{
				Device: dev, IoServiced: values(d.Serviced), IoServiceBytes: values(d.Bytes)})
			continue
		}
		out.Throttling = append(out.Throttling, &mesos.CgroupInfo_Blkio_Throttling_Statistics{
			Device: dev, IoServiced: values(d.Serviced), IoServiceBytes: values(d.Bytes)})
	}
	return out
}

// CgroupsMemIsolator is the cgroups/mem isolator. Beyond Isolator it
// counts the OOMs it reported, for the agent's metrics (no
// ResourceStatistics field holds them).
type CgroupsMemIsolator struct{ *cgroupsIsolator }

// OOMs is the number of containers the isolator found out of memory
// (and limited) since it was created.
func (m *CgroupsMemIsolator) OOMs() uint64 { return m.s.ooms.Load() }
