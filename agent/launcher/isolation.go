package launcher

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
}

// Empty reports whether i asks for nothing.
func (i *Isolation) Empty() bool {
	return i == nil || (i.Namespaces == 0 && len(i.Mounts) == 0 && i.User == nil && len(i.Rlimits) == 0 && i.Capabilities == nil)
}

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

// user is the user i switches to, nil for none (also for a nil i).
func (i *Isolation) user() *User {
	if i == nil {
		return nil
	}
	return i.User
}
