package helper

// The launch helper, `<Isolation.Helper> launch` (Mesos' `mesos-containerizer
// launch`), is started by launcher.Start in the new namespaces, with
// Environ as its whole environment and three pipes beyond stdin, stdout
// and stderr:
//
//	fd 3  control  parent → helper: the request (4-byte big-endian length,
//	               then EncodeRequest's bytes), later one byte of
//	               go-ahead once Spec.Isolate has put the helper into the
//	               container's cgroups
//	fd 4  errors   helper → parent: a setup error's text; closed without a
//	               word when the command runs (close-on-exec, or closed by
//	               the init once the command started)
//	fd 5  status   helper → parent: with CLONE_NEWPID, the command's raw
//	               wait status (4 bytes, big-endian) when it ended
//
// Without CLONE_NEWPID the helper replaces itself with the command
// (execve), so nothing of it is left behind and the command's exit is the
// process's own. With CLONE_NEWPID it stays as the namespace's init.
const (
	// FdControl carries the request and the go-ahead.
	FdControl = 3
	// FdErrors carries a setup error.
	FdErrors = 4
	// FdStatus carries the command's wait status (PID namespace).
	FdStatus = 5
)

// GoAhead is the byte that releases the helper.
const GoAhead = 'g'

// MaxRequest bounds the request a helper accepts.
const MaxRequest = 16 << 20

// Request is what the helper is asked to run and inside what.
type Request struct {
	// Path is the executable, resolved against Env's PATH when it has no
	// slash (after the mounts are made).
	Path string
	Argv []string
	// Env is the complete environment, NAME=value.
	Env []string
	// Dir is the working directory.
	Dir string
	// Namespaces are the clone flags the helper was started with.
	Namespaces uintptr
	Mounts     []Mount
	User       *User
	Rlimits    []Rlimit
	// Capabilities: nil leaves them as they are.
	Capabilities *Capabilities
	// DieWithParent is set again after the user switch, which clears it.
	DieWithParent bool
	// Rootfs, when set, is the container's root file system: the helper
	// enters it (pivot_root) after the mounts, and Path and Dir are
	// then paths inside it.
	Rootfs *Rootfs
}

// SandboxMountPoint is where a container with its own root file system
// sees its sandbox, as in Mesos (MESOS_SANDBOX).
const SandboxMountPoint = "/mnt/mesos/sandbox"

// Rootfs is a container's root file system, which the helper (in the
// container's mount namespace, CLONE_NEWNS) sets up and enters: it
// mounts the overlay (Overlay, when set) or binds Dir onto itself, binds
// Sandbox at SandboxMountPoint, mounts /proc, a minimal /dev (null, zero,
// full, random, urandom, tty, a private devpts, /dev/shm) and a
// read-only /sys, makes Request.Mounts (whose Targets are then host
// paths under Dir), and pivot_roots into Dir. Everything it mounts lives
// in the container's mount namespace only, and goes with its last
// process.
type Rootfs struct {
	// Dir is the root's host path.
	Dir string
	// Overlay is the overlay file system's mount options (lowerdir,
	// upperdir, workdir) mounted on Dir; empty when Dir holds the root
	// already (a copy).
	Overlay string
	// Sandbox is the sandbox's host path.
	Sandbox string
	// HostExecutable: Request.Path is a host file (Mezzo's own executor,
	// which then runs inside the root without being part of it),
	// opened before entering the root and executed through
	// /proc/self/fd.
	HostExecutable bool
}

// EnvMarker is set (to "1") in the helper's environment, so that only a
// process started as the helper runs as one.
const EnvMarker = "MEZZO_LAUNCH_HELPER"

// Environ is the helper's whole environment: EnvMarker, and GOMAXPROCS=1,
// which spares the Go runtime of each launch its look-up of the CPU
// limits in /proc and the cgroup files (and the setting-up of a
// scheduler per CPU) for a process that does one thing at a time. The
// command gets the request's environment, not this one.
var Environ = []string{EnvMarker + "=1", "GOMAXPROCS=1"}

// Mount is one mount of a container: a bind mount of Source on Target
// (Type "" or "bind"), or a file system of Type (e.g. "tmpfs", "proc")
// on Target, mounted nosuid and nodev (and noexec for proc). Target is
// created when missing (a directory, or an empty file when a bind Source
// is a file). A bind mount is recursive, and Source must exist.
type Mount struct {
	Source, Target, Type string
	// ReadOnly remounts the mount read-only.
	ReadOnly bool
	// Data is passed to mount(2) for a file system (e.g. "mode=1777").
	Data string
}

// User is a resolved user: the command runs with UID, GID and the
// supplementary Groups, and HOME and USER set from Name and Home.
type User struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// Rlimit is one resource limit (setrlimit(2)); Resource is a RLIMIT_*
// number, and RlimInfinity means unlimited.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// RlimInfinity is an unlimited soft or hard limit.
const RlimInfinity = ^uint64(0)

// Capabilities are Linux capability names, CAP_NET_BIND_SERVICE (or
// NET_BIND_SERVICE, as Mesos' CapabilityInfo names them); an unknown
// name fails the launch. Bounding caps what the command and its
// children may ever gain: every other capability is dropped from the
// bounding set (empty: all are). Effective, when not nil, is what the
// command holds — its permitted, effective, inheritable and ambient
// sets, so that it keeps them across exec even as a non-root user (a
// command run as root regains its whole bounding set on exec, as in
// Mesos); an empty, non-nil Effective drops every capability. A nil
// Effective leaves the capabilities to the user switch (none for a
// non-root user).
type Capabilities struct {
	Bounding, Effective []string
}
