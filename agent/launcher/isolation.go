package launcher

import "github.com/mezzo-project/mezzo/agent/launcher/helper"

// Isolation is what a process is started inside beyond its own session,
// as the isolators of a container ask for it (Mesos' ContainerLaunchInfo):
// namespaces, mounts, the user it runs as, resource limits and
// capabilities. A Spec with an Isolation is started through the launch
// helper, `<Helper> launch` (Mesos' `mesos-containerizer launch`), which
// sets all of it up inside the new namespaces and then runs the command.
// The zero value asks for nothing.
type Isolation struct {
	// Helper is the path of the mezzo binary whose `launch` subcommand
	// sets up the isolation. Required when Spec.Isolate is set or
	// anything below is.
	Helper string
	// Namespaces are clone(2) flags of the namespaces the process gets
	// of its own: CLONE_NEWPID (the helper stays as the namespace's
	// init, reaping and forwarding signals to the command, so that the
	// command's end ends everything in it), CLONE_NEWNS, CLONE_NEWIPC.
	Namespaces uintptr
	// Mounts are made, in order, in the process's mount namespace
	// (CLONE_NEWNS is required), after its mounts were made private to
	// it. With CLONE_NEWPID a fresh /proc is mounted first.
	Mounts []Mount
	// User is who the command runs as; nil keeps the caller's user.
	User *User
	// Rlimits are set before the command runs (posix/rlimits).
	Rlimits []Rlimit
	// Capabilities, when set, bound and grant the command's Linux
	// capabilities (linux/capabilities).
	Capabilities *Capabilities
	// Rootfs, when set, is the container's root file system, which the
	// process enters (CLONE_NEWNS is required): the command is looked up
	// inside it (unless Rootfs.HostExecutable), the Mounts' targets are
	// host paths under Rootfs.Dir, and the process starts in WorkingDir.
	Rootfs *Rootfs
	// WorkingDir is the working directory inside the Rootfs (default
	// SandboxMountPoint, the sandbox); unused without one.
	WorkingDir string
}

// Empty reports whether i asks for nothing.
func (i *Isolation) Empty() bool {
	return i == nil || (i.Namespaces == 0 && len(i.Mounts) == 0 && i.User == nil && len(i.Rlimits) == 0 && i.Capabilities == nil && i.Rootfs == nil)
}

// The parts of an Isolation, defined with the helper that makes them.
type (
	// Mount is one mount of a container (helper.Mount).
	Mount = helper.Mount
	// User is a resolved user (helper.User).
	User = helper.User
	// Rlimit is one resource limit (helper.Rlimit).
	Rlimit = helper.Rlimit
	// Capabilities bound and grant capabilities (helper.Capabilities).
	Capabilities = helper.Capabilities
	// Rootfs is a container's root file system (helper.Rootfs).
	Rootfs = helper.Rootfs
)

// SandboxMountPoint is where a container with a Rootfs sees its sandbox.
const SandboxMountPoint = helper.SandboxMountPoint

// RlimInfinity is an unlimited soft or hard limit.
const RlimInfinity = helper.RlimInfinity

// RlimitResources maps Mesos' RLimitInfo types (RLMT_NOFILE, ...) to
// setrlimit(2) resources.
var RlimitResources = helper.RlimitResources

// user is the user i switches to, nil for none (also for a nil i).
func (i *Isolation) user() *User {
	if i == nil {
		return nil
	}
	return i.User
}
