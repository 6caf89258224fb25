// Package cgroups is the agent's access to Linux control groups, under
// one interface for both hierarchies: cgroup v1 (a mount per controller,
// as /sys/fs/cgroup/cpu, /sys/fs/cgroup/memory, ...) and cgroup v2 (one
// unified mount). The cgroups/* isolators of the Mezzo containerizer
// (package containerizer) use it; they are Mesos' cgroups isolator
// (src/slave/containerizer/mesos/isolators/cgroups and cgroups2).
//
// Open detects the version once, at the agent's start: a host whose
// /sys/fs/cgroup is a cgroup2 mount (unified) uses v2; a legacy or
// hybrid host (v1 controllers, perhaps with a cgroup2 mount at
// /sys/fs/cgroup/unified holding few or no controllers) uses v1. It then
// checks that every controller asked for is mounted and writable, and
// returns a Hierarchy rooted at the agent's --cgroups_root ("mezzo" by
// default):
//
//	v1: /sys/fs/cgroup/<controller>/<root>/<container id>   (one directory per controller)
//	v2: /sys/fs/cgroup/<root>/<container id>                 (one directory for all)
//
// A container's Cgroup spans every controller of the Hierarchy: Add puts
// a process into all of them; the setters write the controller files
// (v1 and v2 spell them differently: cpu.shares or cpu.weight,
// cpu.cfs_quota_us or cpu.max, memory.limit_in_bytes or memory.max,
// devices.allow or an eBPF program); Stats reads them back; Kill ends
// everything inside as Mesos does; Delete removes the directories. The
// controller files are read and written through
// github.com/containerd/cgroups/v3 (packages cgroup1 and cgroup2); this
// package adds what that library lacks: freezing bounded by a context,
// waiting for a cgroup to empty, and OOM watches that their owner can
// stop.
//
// On v1 the freezer controller is always part of the Hierarchy: killing
// a container freezes it first, so nothing inside can fork while it is
// being killed.
package cgroups
