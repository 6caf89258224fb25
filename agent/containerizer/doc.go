// Package containerizer is the agent's containerizer seam, after Mesos'
// (src/slave/containerizer/containerizer.hpp): how an executor is run,
// waited for, measured and killed, and how a restarted agent finds the
// executors it left running. The agent's state code calls only the
// Containerizer interface; what runs behind it can change without it.
//
//	agent state goroutine ──Launch/Wait/Destroy/Update/Usage/Status/Recover──▶ Composing
//	                                                                          │ offers each launch in order
//	                                       ┌──────────────────────────────────┴──────────────┐
//	                                       ▼                                                 ▼
//	            Builtin (--builtin_executors=auto)                         Mezzo (--containerizers=mezzo|mesos)
//	            built-in executors of frameworks that do                   every executor as a process
//	            not checkpoint, on goroutines of the agent;                (package launcher)
//	            each task started inside the container                              │
//	                       │                                                         │
//	                       └───────────── the same Isolators, in order ──────────────┘
//	                        prepare (→ launcher.Isolation), isolate(pid), watch,
//	                        update, usage, cleanup, recover (Mezzo only)
//
// Composing is Mesos' composing containerizer: each launch goes to its
// containerizers in order until one does not answer NotSupported, and
// later calls for the container go to the one that launched it. Builtin
// (a Mezzo extension) takes only the command and default executors of
// frameworks that do not checkpoint, which need not outlive the agent;
// Mezzo, the equivalent of Mesos' "mesos" containerizer, takes
// everything of type MESOS. Docker (package containerizer/docker,
// --containerizers=docker) takes everything of type DOCKER.
//
// Isolation is a list of Isolators built from --isolation (Build), as
// Mesos' are: filesystem/posix or filesystem/linux, the Linux ones
// (namespaces/pid, namespaces/ipc, volume/host_path, volume/sandbox_path,
// linux/capabilities, posix/rlimits), the cgroups ones (cgroups/cpu, mem,
// pids, devices, blkio, over cgroup v1 or v2: package cgroups), posix/cpu
// and posix/mem (measure sessions in /proc), disk/du and disk/xfs. Each
// isolator's Prepare adds to the launch what the process must start
// inside (namespaces, mounts, user, rlimits, capabilities); the launch
// helper (`mezzo launch`, Mesos' `mesos-containerizer launch`) sets it
// up and holds the process until every isolator has isolated its pid
// (its cgroups), so nothing it starts escapes them. An isolator's
// limitation (Watch: OOM, disk quota) ends the container with a
// Termination carrying the reason its tasks get.
//
// A container with an image (ContainerInfo.mesos.image) gets its root
// file system from package provisioner (MezzoConfig.Provisioner) before
// its isolators prepare (Config.Rootfs); filesystem/linux has the launch
// helper enter it, docker/runtime applies the image's configuration
// (runtime.go), and the provisioner removes it when the container ends.
// Only Mezzo runs such containers: Builtin answers NotSupported.
//
// Package fake holds a Containerizer that runs no process, for tests.
package containerizer
