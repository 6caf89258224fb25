package containerizer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/agent/provisioner"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// The Linux isolators (Mesos' namespaces/pid, namespaces/ipc,
// filesystem/linux, docker/runtime, volume/host_path,
// volume/sandbox_path, linux/capabilities and posix/rlimits). Each only
// adds, in Prepare, to what the launch helper sets up for the executor
// (launcher.Isolation; docker/runtime also to its command and
// environment):
// the namespaces, mounts, capabilities and resource limits live and die
// with the container's processes, so there is nothing to isolate, watch,
// measure, recover or clean up afterwards. They need the launch helper
// (MezzoConfig.Helper) and root.

// LinuxIsolatorNames are the --isolation names NewLinuxIsolators knows.
var LinuxIsolatorNames = []string{
	"filesystem/linux",
	DockerRuntimeName,
	"volume/host_path",
	"volume/sandbox_path",
	"namespaces/pid",
	"namespaces/ipc",
	"linux/capabilities",
	"posix/rlimits",
}

// LinuxOptions configures the Linux isolators.
type LinuxOptions struct {
	// WorkDir is the agent's --work_dir: filesystem/linux bind mounts a
	// persistent volume from <WorkDir>/volumes/roles/<role>/<id>.
	// Required with filesystem/linux.
	WorkDir string
	// EffectiveCapabilities is --effective_capabilities: what a
	// container holds when it asks for nothing (nil: the flag is absent,
	// the container keeps its user's capabilities; an empty list drops
	// all). linux/capabilities only.
	EffectiveCapabilities *mesos.CapabilityInfo
	// BoundingCapabilities is --bounding_capabilities: the most any
	// container may hold or ask for (nil: the flag is absent, no bound
	// but the container's own; empty: none at all). It must include
	// EffectiveCapabilities. linux/capabilities only.
	BoundingCapabilities *mesos.CapabilityInfo
	// DefaultShmSize is --default_container_shm_size in MB: the size of a
	// private /dev/shm whose container gives no linux_info.shm_size; 0
	// for the kernel's default (half the RAM). namespaces/ipc only.
	DefaultShmSize uint32
}

// NewLinuxIsolators returns the Linux isolators among names, in the
// order they must prepare (filesystem first, then volumes, namespaces,
// capabilities and rlimits). Names of isolators that are not Linux ones
// but that this agent supports (SupportedIsolators) are passed over for
// Isolation.Isolators to build; any other name is an error, as is a
// Linux isolator without what it depends on: filesystem/linux for the
// namespace and volume isolators, as in Mesos.
func NewLinuxIsolators(names []string, opts LinuxOptions) ([]Isolator, error) {
	enabled := map[string]bool{}
	for _, name := range names {
		switch {
		case slices.Contains(LinuxIsolatorNames, name):
			enabled[name] = true
		case slices.Contains(SupportedIsolators, name):
		default:
			return nil, fmt.Errorf("unknown isolator %q (Linux isolators: %s)", name, strings.Join(LinuxIsolatorNames, ","))
		}
	}
	for _, name := range []string{"volume/host_path", "volume/sandbox_path", "namespaces/pid", "namespaces/ipc", DockerRuntimeName} {
		if enabled[name] && !enabled["filesystem/linux"] {
			return nil, fmt.Errorf("the %s isolator requires the filesystem/linux isolator", name)
		}
	}
	if enabled["filesystem/linux"] && opts.WorkDir == "" {
		return nil, errors.New("the filesystem/linux isolator needs the agent's work directory (LinuxOptions.WorkDir)")
	}
	if e, b := opts.EffectiveCapabilities, opts.BoundingCapabilities; e != nil && b != nil {
		if extra := outside(e.GetCapabilities(), b.GetCapabilities()); len(extra) > 0 {
			return nil, fmt.Errorf("--effective_capabilities %v are not within --bounding_capabilities", extra)
		}
	}
	var out []Isolator
	for _, name := range LinuxIsolatorNames {
		if !enabled[name] {
			continue
		}
		switch name {
		case "filesystem/linux":
			out = append(out, &filesystemLinux{workDir: opts.WorkDir, hostPath: enabled["volume/host_path"], sandboxPath: enabled["volume/sandbox_path"]})
		case DockerRuntimeName:
			out = append(out, dockerRuntime{})
		case "volume/host_path":
			out = append(out, volumeHostPath{})
		case "volume/sandbox_path":
			out = append(out, volumeSandboxPath{})
		case "namespaces/pid":
			out = append(out, namespacesPid{})
		case "namespaces/ipc":
			out = append(out, namespacesIpc{defaultShmSize: opts.DefaultShmSize})
		case "linux/capabilities":
			out = append(out, linuxCapabilities{effective: opts.EffectiveCapabilities, bounding: opts.BoundingCapabilities})
		case "posix/rlimits":
			out = append(out, posixRlimits{})
		}
	}
	return out, nil
}

// prepareOnly is the part of an Isolator that a Linux isolator leaves
// empty: its work is done in Prepare.
type prepareOnly struct{}

func (prepareOnly) Recover(context.Context, []RecoverState) error          { return nil }
func (prepareOnly) Isolate(context.Context, *mesos.ContainerID, int) error { return nil }
func (prepareOnly) Watch(*mesos.ContainerID) <-chan Limitation             { return nil }
func (prepareOnly) Update(context.Context, *mesos.ContainerID, []*mesos.Resource, map[string]*mesos.Value_Scalar) error {
	return nil
}
func (prepareOnly) Usage(context.Context, *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	return &mesos.ResourceStatistics{}, nil
}
func (prepareOnly) Cleanup(context.Context, *mesos.ContainerID) error { return nil }

// ---- namespaces/pid ----

// namespacesPid gives each container a pid namespace of its own (and the
// mount namespace its /proc needs): its processes see and signal only
// each other, and the end of its executor ends them all.
// linux_info.share_pid_namespace=true keeps the agent's.
type namespacesPid struct{ prepareOnly }

func (namespacesPid) Name() string { return "namespaces/pid" }

func (namespacesPid) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	if cfg.ContainerInfo.GetLinuxInfo().GetSharePidNamespace() {
		return nil
	}
	launch.Namespaces |= unix.CLONE_NEWPID | unix.CLONE_NEWNS
	return nil
}

// ---- namespaces/ipc ----

// namespacesIpc gives containers IPC namespaces, by
// linux_info.ipc_mode: PRIVATE, an IPC namespace and a /dev/shm of its
// own (linux_info.shm_size MB, else DefaultShmSize); SHARE_PARENT, the
// agent's of both; unset, an IPC namespace of its own and the agent's
// /dev/shm (a container without an image), as in Mesos.
type namespacesIpc struct {
	prepareOnly
	defaultShmSize uint32
}

func (namespacesIpc) Name() string { return "namespaces/ipc" }

func (n namespacesIpc) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	li := cfg.ContainerInfo.GetLinuxInfo()
	mode := li.GetIpcMode()
	shmSize := li != nil && li.ShmSize != nil
	if shmSize && mode != mesos.LinuxInfo_PRIVATE {
		return errors.New("linux_info.shm_size can only be set with linux_info.ipc_mode=PRIVATE")
	}
	switch mode {
	case mesos.LinuxInfo_SHARE_PARENT:
		return nil
	case mesos.LinuxInfo_UNKNOWN:
		launch.Namespaces |= unix.CLONE_NEWIPC
		return nil
	case mesos.LinuxInfo_PRIVATE:
	default:
		return fmt.Errorf("linux_info.ipc_mode %v is not supported", mode)
	}
	launch.Namespaces |= unix.CLONE_NEWIPC | unix.CLONE_NEWNS
	data := "mode=1777"
	size := n.defaultShmSize
	if shmSize {
		size = li.GetShmSize()
	}
	if size > 0 {
		data += ",size=" + strconv.FormatUint(uint64(size), 10) + "m"
	}
	shm := "/dev/shm"
	if r := cfg.Rootfs; r != nil {
		shm = r.Dir + shm
	}
	launch.Mounts = append(launch.Mounts, launcher.Mount{Type: "tmpfs", Source: "tmpfs", Target: shm, Data: data})
	return nil
}

// ---- filesystem/linux ----

// filesystemLinux is Mesos' filesystem/linux isolator: each container
// gets a mount namespace of its own (whose mounts are slaves of the
// host's), its persistent volumes are bind mounted into its sandbox —
// read-only ones read-only — and every volume of its ContainerInfo must
// be one an enabled volume isolator mounts. A container with a root file
// system of its own (Config.Rootfs, from its image) enters it (the
// launch helper's launcher.Rootfs) and sees its sandbox at
// /mnt/mesos/sandbox (MESOS_SANDBOX), its volumes inside the root.
type filesystemLinux struct {
	prepareOnly
	workDir               string
	hostPath, sandboxPath bool // volume/host_path, volume/sandbox_path enabled
}

func (*filesystemLinux) Name() string { return "filesystem/linux" }

func (f *filesystemLinux) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	ci := cfg.ContainerInfo
	if ci.GetMesos().GetImage() != nil && cfg.Rootfs == nil {
		return errors.New("the container's image (ContainerInfo.mesos.image) was not provisioned: the agent needs --image_providers=docker")
	}
	for _, v := range ci.GetVolumes() {
		switch kind := VolumeSource(v); kind {
		case "HOST_PATH":
			if !f.hostPath {
				return fmt.Errorf("volume %q: HOST_PATH volumes need the volume/host_path isolator", v.GetContainerPath())
			}
		case "SANDBOX_PATH":
			if !f.sandboxPath {
				return fmt.Errorf("volume %q: SANDBOX_PATH volumes need the volume/sandbox_path isolator", v.GetContainerPath())
			}
		default:
			return fmt.Errorf("volume %q: %s volumes are not supported by this agent", v.GetContainerPath(), kind)
		}
	}
	launch.Namespaces |= unix.CLONE_NEWNS
	if r := cfg.Rootfs; r != nil {
		rf := &launcher.Rootfs{Dir: r.Dir, Sandbox: cfg.Directory, HostExecutable: cfg.Builtin != nil}
		if r.Backend == provisioner.BackendOverlay {
			rf.Overlay = r.MountData()
		}
		launch.Rootfs = rf
		cfg.Env["MESOS_SANDBOX"] = launcher.SandboxMountPoint
	}
	// A task group's tasks have their persistent volumes in their own
	// sandboxes, which the agent links: only the default executor's own
	// are mounted here.
	held := cfg.Resources
	if cfg.Builtin != nil && cfg.Builtin.Mode == builtin.Default {
		held = cfg.ExecutorInfo.GetResources()
	}
	for _, r := range held {
		p := r.GetDisk().GetPersistence()
		if r.GetName() != "disk" || p == nil {
			continue
		}
		m, err := f.persistentVolume(r, cfg)
		if err != nil {
			return fmt.Errorf("persistent volume %q: %w", p.GetId(), err)
		}
		launch.Mounts = append(launch.Mounts, m)
	}
	return nil
}

// persistentVolume is the bind mount of a persistent volume, r, into the
// sandbox dir: <work_dir>/volumes/roles/<role>/<id> (the layout of the
// agent's volumePath, which package agent does not export) on
// <sandbox>/<container_path>.
func (f *filesystemLinux) persistentVolume(r *mesos.Resource, cfg *Config) (launcher.Mount, error) {
	sandbox := cfg.Directory
	if src := r.GetDisk().GetSource(); src != nil {
		return launcher.Mount{}, fmt.Errorf("volumes on %v disks are not supported by filesystem/linux", src.GetType())
	}
	v := r.GetDisk().GetVolume()
	if v == nil {
		return launcher.Mount{}, errors.New("no disk.volume (container_path) given")
	}
	role := r.GetRole()
	if n := len(r.GetReservations()); n > 0 {
		role = r.GetReservations()[n-1].GetRole()
	}
	if role == "" || role == "*" {
		return launcher.Mount{}, errors.New("not reserved for a role")
	}
	cp, err := SandboxRelative(v.GetContainerPath())
	if err != nil {
		return launcher.Mount{}, err
	}
	id := r.GetDisk().GetPersistence().GetId()
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\") {
		return launcher.Mount{}, fmt.Errorf("invalid persistence id %q", id)
	}
	src := VolumePath(f.workDir, role, id)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return launcher.Mount{}, fmt.Errorf("create the volume: %w", err)
	}
	target := filepath.Join(sandbox, cp)
	// The agent may have linked the volume there already: the mount then
	// goes through the link, onto the volume itself. Any other link could
	// take the mount out of the sandbox.
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if dest, err := os.Readlink(target); err != nil || filepath.Clean(dest) != src {
			return launcher.Mount{}, fmt.Errorf("%q in the sandbox is a link to %q, not to the volume", cp, dest)
		}
	}
	if cfg.Rootfs != nil {
		target = filepath.Join(cfg.Rootfs.Dir, launcher.SandboxMountPoint, cp)
	}
	return launcher.Mount{Source: src, Target: target, ReadOnly: v.GetMode() == mesos.Volume_RO}, nil
}

// VolumeSource names where a volume comes from: HOST_PATH (a source of
// that type, or the legacy absolute host_path), SANDBOX_PATH (a source
// of that type, or the legacy relative host_path), or another kind.
func VolumeSource(v *mesos.Volume) string {
	switch {
	case v.GetSource() != nil:
		return v.GetSource().GetType().String()
	case v.GetImage() != nil:
		return "image"
	case v.HostPath != nil && filepath.IsAbs(v.GetHostPath()):
		return "HOST_PATH"
	case v.HostPath != nil:
		return "SANDBOX_PATH"
	}
	return "sourceless"
}

// SandboxRelative checks a path relative to a sandbox (a container_path):
// relative, not leaving it (no ".." component), not the sandbox itself.
// It returns it cleaned.
func SandboxRelative(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty container_path")
	case filepath.IsAbs(p):
		return "", fmt.Errorf("container_path %q is absolute; it must be relative to the sandbox", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		return "", fmt.Errorf("path %q leaves the sandbox (contains \"..\")", p)
	}
	c := filepath.Clean(p)
	if c == "." {
		return "", fmt.Errorf("path %q names the sandbox itself", p)
	}
	return c, nil
}

// VolumePath is where a persistent volume's data lives, as in Mesos:
// <work_dir>/volumes/roles/<role>/<persistence_id>, with each "/" of a
// hierarchical role written as a space (role names have no whitespace).
func VolumePath(workDir, role, id string) string {
	return filepath.Join(workDir, "volumes", "roles", strings.ReplaceAll(role, "/", " "), id)
}

// mountPoint is where a volume's container_path is mounted. In a
// container with a root file system of its own (cfg.Rootfs), both are
// inside it — an absolute one at that path of the root, a relative one
// under the sandbox's mount point there — and created by the launch
// helper. Otherwise an absolute one is over the same path of the host's
// file system, seen only inside the container's mount namespace, which
// must exist (nothing is created outside the sandbox); a relative one is
// inside the sandbox, created by the launch helper.
func mountPoint(cfg *Config, containerPath string) (string, error) {
	sandbox := cfg.Directory
	if r := cfg.Rootfs; r != nil {
		// Inside the container's root: the launch helper creates the
		// mount point there.
		if filepath.IsAbs(containerPath) {
			c := filepath.Clean(containerPath)
			if c == "/" {
				return "", errors.New("container_path \"/\" would hide the whole file system")
			}
			return filepath.Join(r.Dir, c), nil
		}
		cp, err := SandboxRelative(containerPath)
		if err != nil {
			return "", err
		}
		return filepath.Join(r.Dir, launcher.SandboxMountPoint, cp), nil
	}
	if filepath.IsAbs(containerPath) {
		c := filepath.Clean(containerPath)
		if c == "/" {
			return "", errors.New("container_path \"/\" would hide the whole file system")
		}
		if _, err := os.Stat(c); err != nil {
			return "", fmt.Errorf("mount point %q is an absolute path, which must exist when the container shares the host's file system: %w", c, err)
		}
		if rel, err := filepath.Rel(c, sandbox); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return "", fmt.Errorf("container_path %q would hide the sandbox %s, which is under it (the agent's --work_dir is there)", c, sandbox)
		}
		return c, nil
	}
	cp, err := SandboxRelative(containerPath)
	if err != nil {
		return "", err
	}
	return filepath.Join(sandbox, cp), nil
}

// ---- volume/host_path ----

// volumeHostPath bind mounts HOST_PATH volumes (and those with the
// legacy absolute host_path): the host path, which must exist, on the
// container path; read-only for mode RO.
type volumeHostPath struct{ prepareOnly }

func (volumeHostPath) Name() string { return "volume/host_path" }

func (volumeHostPath) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	for _, v := range cfg.ContainerInfo.GetVolumes() {
		if VolumeSource(v) != "HOST_PATH" {
			continue
		}
		host := v.GetHostPath()
		if s := v.GetSource(); s != nil {
			hp := s.GetHostPath()
			if hp == nil {
				return fmt.Errorf("volume %q: HOST_PATH volume without source.host_path", v.GetContainerPath())
			}
			host = hp.GetPath()
			if hp.GetMountPropagation().GetMode() == mesos.MountPropagation_BIDIRECTIONAL {
				return fmt.Errorf("volume %q: bidirectional mount propagation is not supported by volume/host_path", v.GetContainerPath())
			}
		}
		if !filepath.IsAbs(host) {
			return fmt.Errorf("volume %q: path %q in HOST_PATH volume is not absolute", v.GetContainerPath(), host)
		}
		if _, err := os.Stat(host); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("volume %q: path %q in HOST_PATH volume does not exist", v.GetContainerPath(), host)
			}
			return fmt.Errorf("volume %q: %w", v.GetContainerPath(), err)
		}
		target, err := mountPoint(cfg, v.GetContainerPath())
		if err != nil {
			return fmt.Errorf("volume %q: %w", v.GetContainerPath(), err)
		}
		launch.Mounts = append(launch.Mounts, launcher.Mount{Source: host, Target: target, ReadOnly: v.GetMode() == mesos.Volume_RO})
	}
	return nil
}

// ---- volume/sandbox_path ----

// volumeSandboxPath bind mounts SANDBOX_PATH volumes of type SELF (and
// those with the legacy relative host_path): a path inside the sandbox,
// created when missing, on the container path (absolute, or relative to
// the sandbox: see mountPoint); read-only for mode RO. PARENT volumes are for nested containers, which this agent
// does not run.
type volumeSandboxPath struct{ prepareOnly }

func (volumeSandboxPath) Name() string { return "volume/sandbox_path" }

func (volumeSandboxPath) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	for _, v := range cfg.ContainerInfo.GetVolumes() {
		if VolumeSource(v) != "SANDBOX_PATH" {
			continue
		}
		cp := v.GetContainerPath()
		path := v.GetHostPath()
		if s := v.GetSource(); s != nil {
			sp := s.GetSandboxPath()
			switch sp.GetType() {
			case mesos.Volume_Source_SandboxPath_SELF:
			case mesos.Volume_Source_SandboxPath_PARENT:
				return fmt.Errorf("volume %q: SANDBOX_PATH volumes of type PARENT only work for nested containers, which this agent does not run", cp)
			default:
				return fmt.Errorf("volume %q: unknown SANDBOX_PATH volume type %v", cp, sp.GetType())
			}
			path = sp.GetPath()
		}
		if filepath.IsAbs(path) {
			return fmt.Errorf("volume %q: path %q in SANDBOX_PATH volume is absolute; it must be relative to the sandbox", cp, path)
		}
		rel, err := SandboxRelative(path)
		if err != nil {
			return fmt.Errorf("volume %q: %w", cp, err)
		}
		src := filepath.Join(cfg.Directory, rel)
		if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
			if err := createLikeSandbox(src, cfg.Directory); err != nil {
				return fmt.Errorf("volume %q: %w", cp, err)
			}
		}
		target, err := mountPoint(cfg, cp)
		if err != nil {
			return fmt.Errorf("volume %q: %w", cp, err)
		}
		launch.Mounts = append(launch.Mounts, launcher.Mount{Source: src, Target: target, ReadOnly: v.GetMode() == mesos.Volume_RO})
	}
	return nil
}

// createLikeSandbox creates the directory dir inside sandbox, owned like
// the sandbox, through an os.Root so that no link in the sandbox takes
// it elsewhere.
func createLikeSandbox(dir, sandbox string) error {
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return err
	}
	defer root.Close()
	rel, err := filepath.Rel(sandbox, dir)
	if err != nil {
		return err
	}
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("create %q in the sandbox: %w", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(sandbox, &st); err != nil {
		return err
	}
	if err := root.Lchown(rel, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("own %q in the sandbox like the sandbox: %w", rel, err)
	}
	return nil
}

// ---- linux/capabilities ----

// linuxCapabilities sets the capabilities of containers, as Mesos'
// linux/capabilities: the effective set is linux_info.effective_capabilities
// (or the legacy capability_info), else --effective_capabilities; the
// bounding set linux_info.bounding_capabilities, which must lie within
// --bounding_capabilities, else --bounding_capabilities, else the
// effective set. The effective set must lie within the bounding set.
type linuxCapabilities struct {
	prepareOnly
	effective, bounding *mesos.CapabilityInfo // the agent's flags; nil when absent
}

func (linuxCapabilities) Name() string { return "linux/capabilities" }

func (l linuxCapabilities) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	li := cfg.ContainerInfo.GetLinuxInfo()
	if li.GetCapabilityInfo() != nil && li.GetEffectiveCapabilities() != nil {
		return errors.New("only one of linux_info.capability_info and linux_info.effective_capabilities may be set")
	}
	effective := li.GetEffectiveCapabilities()
	if li.GetCapabilityInfo() != nil {
		effective = li.GetCapabilityInfo()
	}
	if effective == nil {
		effective = l.effective
	}
	bounding := li.GetBoundingCapabilities()
	if bounding != nil && l.bounding != nil {
		if extra := outside(bounding.GetCapabilities(), l.bounding.GetCapabilities()); len(extra) > 0 {
			return fmt.Errorf("bounding capabilities %v are not allowed by this agent (--bounding_capabilities %v)", extra, l.bounding.GetCapabilities())
		}
	}
	if bounding == nil {
		bounding = l.bounding
	}
	if bounding == nil {
		bounding = effective
	}
	if bounding == nil {
		return nil
	}
	if effective != nil {
		if extra := outside(effective.GetCapabilities(), bounding.GetCapabilities()); len(extra) > 0 {
			return fmt.Errorf("effective capabilities %v are outside the bounding capabilities %v", extra, bounding.GetCapabilities())
		}
	}
	caps := &launcher.Capabilities{Bounding: capabilityNames(bounding.GetCapabilities())}
	if effective != nil {
		caps.Effective = capabilityNames(effective.GetCapabilities())
	}
	launch.Capabilities = caps
	return nil
}

// outside returns the capabilities of cs that are not in within.
func outside(cs, within []mesos.CapabilityInfo_Capability) []mesos.CapabilityInfo_Capability {
	var out []mesos.CapabilityInfo_Capability
	for _, c := range cs {
		if !slices.Contains(within, c) {
			out = append(out, c)
		}
	}
	return out
}

// capabilityNames words capabilities as the launch helper takes them,
// CAP_NET_RAW; never nil.
func capabilityNames(cs []mesos.CapabilityInfo_Capability) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, "CAP_"+c.String())
	}
	return out
}

// ---- posix/rlimits ----

// posixRlimits sets the resource limits of ContainerInfo.rlimit_info:
// each with both soft and hard, or neither (unlimited); soft may not
// exceed hard, and a type may be given once.
type posixRlimits struct{ prepareOnly }

func (posixRlimits) Name() string { return "posix/rlimits" }

func (posixRlimits) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	seen := map[mesos.RLimitInfo_RLimit_Type]bool{}
	for _, rl := range cfg.ContainerInfo.GetRlimitInfo().GetRlimits() {
		name := rl.GetType().String()
		res, ok := launcher.RlimitResources[name]
		if !ok {
			return fmt.Errorf("rlimit type %s is not supported", name)
		}
		if seen[rl.GetType()] {
			return fmt.Errorf("rlimit %s is given more than once", name)
		}
		seen[rl.GetType()] = true
		lim := launcher.Rlimit{Resource: res, Soft: launcher.RlimInfinity, Hard: launcher.RlimInfinity}
		switch {
		case rl.Soft == nil && rl.Hard == nil:
		case rl.Soft == nil || rl.Hard == nil:
			return fmt.Errorf("rlimit %s: set both soft and hard, or neither (unlimited)", name)
		case rl.GetSoft() > rl.GetHard():
			return fmt.Errorf("rlimit %s: the soft limit %d exceeds the hard limit %d", name, rl.GetSoft(), rl.GetHard())
		default:
			lim.Soft, lim.Hard = rl.GetSoft(), rl.GetHard()
		}
		launch.Rlimits = append(launch.Rlimits, lim)
	}
	return nil
}
