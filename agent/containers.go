package agent

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/agent/docker"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// What this agent can run: the "mesos" containerizer (package
// containerizer) with the isolators of --isolation. Anything a task or
// executor asks for that no enabled isolator provides is refused before
// launch (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED) with a message
// naming the field and the isolator it needs, rather than run as if it
// had not been asked for; see doc.go.

// parseContainerizers checks a --containerizers value: "mesos" (or
// "mezzo") and "docker".
func parseContainerizers(s string) error {
	_, err := containerizer.ParseContainerizers(s)
	return err
}

// runsDocker reports whether --containerizers has the Docker
// containerizer.
func (a *Agent) runsDocker() bool {
	names, err := containerizer.ParseContainerizers(a.cfg.Containerizers)
	return err == nil && slices.Contains(names, containerizer.NameDocker)
}

// unsupported is the error of a task or executor the agent refuses to run.
type unsupported struct{ msg string }

func (e *unsupported) Error() string { return e.msg }

func refuse(format string, args ...any) error {
	return &unsupported{msg: fmt.Sprintf(format, args...)}
}

// validateContainer checks a ContainerInfo (of an executor or a task,
// named by what) against what the agent's isolators provide. It accepts
// what changes nothing here (a MESOS container without an image, the
// host's namespaces, an unconfined seccomp profile, shared cgroups, the
// host network) and what an enabled isolator honours; everything else is
// refused with a message naming it.
func (a *Agent) validateContainer(ci *mesos.ContainerInfo, what string) error {
	if ci == nil {
		return nil
	}
	iso := a.cfg.isolation
	flag := "--isolation=" + a.cfg.Isolation
	lacks := func(name string) bool { return !iso.Has(name) }
	switch ci.GetType() {
	case mesos.ContainerInfo_MESOS:
	case mesos.ContainerInfo_DOCKER:
		if !a.runsDocker() {
			return refuse("Docker containers are not supported by this agent (--containerizers=%s)", a.cfg.Containerizers)
		}
		if err := docker.Validate(ci); err != nil {
			return refuse("%s: %v", what, err)
		}
		return nil
	default:
		return refuse("%s: container type %v is not supported by this agent (--containerizers=%s)", what, ci.GetType(), a.cfg.Containerizers)
	}
	if ci.GetMesos().GetImage() != nil && !a.cfg.images {
		return refuse("%s: container images (ContainerInfo.mesos.image) need --image_providers=docker on this agent", what)
	}
	for _, v := range ci.GetVolumes() {
		if err := validateVolume(iso, v); err != nil {
			return refuse("%s: volume %q: %v (%s)", what, v.GetContainerPath(), err, flag)
		}
	}
	if ci.Hostname != nil {
		return refuse("%s: ContainerInfo.hostname needs a UTS namespace, which this agent does not provide (%s)", what, flag)
	}
	for _, n := range ci.GetNetworkInfos() {
		if n.GetName() != "" {
			return refuse("%s: network %q: container networks are not supported by this agent (%s; no network/cni isolator)", what, n.GetName(), flag)
		}
		if len(n.GetPortMappings()) > 0 {
			return refuse("%s: port mappings are not supported by this agent (%s; no network/port_mapping isolator)", what, flag)
		}
	}
	if li := ci.GetLinuxInfo(); li != nil {
		switch {
		case (li.CapabilityInfo != nil || li.BoundingCapabilities != nil || li.EffectiveCapabilities != nil) && lacks("linux/capabilities"):
			return refuse("%s: Linux capabilities (linux_info) need the linux/capabilities isolator (%s)", what, flag)
		case li.SharePidNamespace != nil && !li.GetSharePidNamespace() && lacks("namespaces/pid"):
			return refuse("%s: a private PID namespace (linux_info.share_pid_namespace=false) needs the namespaces/pid isolator (%s)", what, flag)
		case li.GetSeccomp() != nil && !li.GetSeccomp().GetUnconfined():
			return refuse("%s: seccomp profiles (linux_info.seccomp) are not supported by this agent (%s; no linux/seccomp isolator)", what, flag)
		case li.IpcMode != nil && li.GetIpcMode() == mesos.LinuxInfo_PRIVATE && lacks("namespaces/ipc"):
			return refuse("%s: linux_info.ipc_mode=PRIVATE needs the namespaces/ipc isolator (%s)", what, flag)
		case li.IpcMode != nil && li.GetIpcMode() != mesos.LinuxInfo_SHARE_PARENT && li.GetIpcMode() != mesos.LinuxInfo_PRIVATE:
			return refuse("%s: linux_info.ipc_mode=%v is not supported by this agent", what, li.GetIpcMode())
		case li.ShmSize != nil && (lacks("namespaces/ipc") || li.GetIpcMode() != mesos.LinuxInfo_PRIVATE):
			return refuse("%s: linux_info.shm_size needs ipc_mode=PRIVATE and the namespaces/ipc isolator (%s)", what, flag)
		case li.ShareCgroups != nil && !li.GetShareCgroups():
			return refuse("%s: separate cgroups (linux_info.share_cgroups=false) apply to nested containers, which this agent does not run", what)
		}
	}
	if len(ci.GetRlimitInfo().GetRlimits()) > 0 && lacks("posix/rlimits") {
		return refuse("%s: resource limits (rlimit_info) need the posix/rlimits isolator (%s)", what, flag)
	}
	if ci.TtyInfo != nil {
		return refuse("%s: a TTY (tty_info) is not supported by this agent", what)
	}
	return nil
}

// validateVolume checks a ContainerInfo volume against the isolators
// that mount it: filesystem/linux with volume/host_path or
// volume/sandbox_path.
func validateVolume(iso containerizer.Isolation, v *mesos.Volume) error {
	kind := containerizer.VolumeSource(v)
	var need string
	switch kind {
	case "HOST_PATH":
		need = "volume/host_path"
	case "SANDBOX_PATH":
		need = "volume/sandbox_path"
	default:
		return fmt.Errorf("%s volumes in ContainerInfo are not supported by this agent", kind)
	}
	if !iso.Has(need) || !iso.Has("filesystem/linux") {
		return fmt.Errorf("%s volumes in ContainerInfo need the filesystem/linux and %s isolators", kind, need)
	}
	return nil
}

// validateLimits checks TaskInfo.limits: a cpus limit needs cgroups/cpu
// and a mem limit cgroups/mem, as in Mesos; no other resource may have
// one.
func (a *Agent) validateLimits(t *mesos.TaskInfo) error {
	for name, v := range t.GetLimits() {
		switch name {
		case "cpus":
			if !a.cfg.isolation.Has("cgroups/cpu") {
				return refuse("CPU limits can only be set on tasks when the agent has the cgroups/cpu isolator (--isolation=%s)", a.cfg.Isolation)
			}
		case "mem":
			if !a.cfg.isolation.Has("cgroups/mem") {
				return refuse("Memory limits can only be set on tasks when the agent has the cgroups/mem isolator (--isolation=%s)", a.cfg.Isolation)
			}
		default:
			return refuse("task %s: limits: resource %q cannot have a limit (only cpus and mem)", t.GetTaskId().GetValue(), name)
		}
		if math.IsNaN(v.GetValue()) {
			return refuse("task %s: limits: %s limit is not a number", t.GetTaskId().GetValue(), name)
		}
		if req := requested(t, name); v.GetValue() < req {
			return refuse("task %s: limits: %s limit %v is below the task's request %v", t.GetTaskId().GetValue(), name, v.GetValue(), req)
		}
	}
	return nil
}

// mountsVolumes reports whether containers' persistent volumes are bind
// mounted (filesystem/linux), which can make them read-only.
func (a *Agent) mountsVolumes() bool { return a.cfg.isolation.Has("filesystem/linux") }

// isolationAsked names the first field of ci that asks its container
// for isolation (volumes, rlimits, Linux settings), "" when none does.
func isolationAsked(ci *mesos.ContainerInfo) string {
	switch {
	case ci == nil:
		return ""
	case ci.GetMesos().GetImage() != nil:
		return "mesos.image"
	case len(ci.GetVolumes()) > 0:
		return "volumes"
	case len(ci.GetRlimitInfo().GetRlimits()) > 0:
		return "rlimit_info"
	case ci.GetLinuxInfo() != nil:
		li := ci.GetLinuxInfo()
		if li.CapabilityInfo != nil || li.BoundingCapabilities != nil || li.EffectiveCapabilities != nil ||
			(li.SharePidNamespace != nil && !li.GetSharePidNamespace()) || li.GetIpcMode() == mesos.LinuxInfo_PRIVATE || li.ShmSize != nil {
			return "linux_info"
		}
	}
	return ""
}

// requested is the quantity of a scalar resource a task asks for.
func requested(t *mesos.TaskInfo, name string) float64 {
	sum := 0.0
	for _, r := range t.GetResources() {
		if r.GetName() == name {
			sum += r.GetScalar().GetValue()
		}
	}
	return sum
}

// ---- persistent volumes ----

// volume is a persistent volume a task or executor uses.
type volume struct {
	role          string // the reservation role
	id            string // disk.persistence.id
	containerPath string // relative to the sandbox, cleaned
}

// persistentVolumes returns the persistent volumes among rs, refusing
// those the agent cannot provide: on a PATH/MOUNT disk, read-only unless
// mounted (readOnly: filesystem/linux bind mounts them read-only as the
// container starts; a symlink cannot enforce it), or with a container
// path that is absolute or leaves the sandbox.
func persistentVolumes(rs []*mesos.Resource, readOnly bool) ([]volume, error) {
	var out []volume
	for _, r := range rs {
		p := r.GetDisk().GetPersistence()
		if r.GetName() != "disk" || p == nil {
			continue
		}
		id := p.GetId()
		if err := validateID(id); err != nil {
			return nil, refuse("persistent volume %q: invalid persistence id: %v", id, err)
		}
		role := reservationRole(r)
		if role == "" || role == "*" {
			return nil, refuse("persistent volume %q: not reserved for a role", id)
		}
		if err := resources.ValidateRole(role); err != nil {
			return nil, refuse("persistent volume %q: invalid role %q: %v", id, role, err)
		}
		if src := r.GetDisk().GetSource(); src != nil {
			return nil, refuse("persistent volume %q: volumes on %v disks are not supported by this agent", id, src.GetType())
		}
		v := r.GetDisk().GetVolume()
		if v == nil {
			return nil, refuse("persistent volume %q: no disk.volume (container_path) given", id)
		}
		if v.GetMode() == mesos.Volume_RO && !readOnly {
			return nil, refuse("persistent volume %q: read-only volumes need the filesystem/linux isolator, "+
				"which mounts them as a container starts (a symlink cannot enforce mode RO)", id)
		}
		if v.HostPath != nil || v.GetImage() != nil || v.GetSource() != nil {
			return nil, refuse("persistent volume %q: disk.volume must give only container_path and mode", id)
		}
		cp, err := containerizer.SandboxRelative(v.GetContainerPath())
		if err != nil {
			return nil, refuse("persistent volume %q: %v", id, err)
		}
		out = append(out, volume{role: role, id: id, containerPath: cp})
	}
	return out, nil
}

// reservationRole is the role of a resource's most refined reservation
// (either wire format).
func reservationRole(r *mesos.Resource) string {
	if n := len(r.GetReservations()); n > 0 {
		return r.GetReservations()[n-1].GetRole()
	}
	return r.GetRole()
}

// validateID applies Mesos' rules for ids that become directory names.
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("empty")
	case len(id) > 255:
		return errors.New("longer than 255 characters")
	case id == "." || id == "..":
		return fmt.Errorf("%q is not allowed", id)
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return fmt.Errorf("%q contains invalid characters", id)
		}
	}
	return nil
}

// volumePath is where a persistent volume's data lives
// (containerizer.VolumePath).
func volumePath(workDir, role, id string) string { return containerizer.VolumePath(workDir, role, id) }

// linkVolumes makes each volume's directory (created when absent) appear
// at <dir>/<container_path> as a symlink. Parent directories of the link
// are created inside dir; the link is made through an os.Root, so a
// symlink already in the sandbox (an executor's own) cannot redirect it
// outside. An existing link to the same volume is kept; anything else at
// the path is an error (state goroutine).
func (a *Agent) linkVolumes(dir string, vols []volume) error {
	if len(vols) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, v := range vols {
		src := volumePath(a.cfg.WorkDir, v.role, v.id)
		if err := os.MkdirAll(src, 0o755); err != nil {
			return fmt.Errorf("failed to create persistent volume %q: %w", v.id, err)
		}
		if parent := filepath.Dir(v.containerPath); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("persistent volume %q: failed to create %q in the sandbox: %w", v.id, parent, err)
			}
		}
		if fi, err := root.Lstat(v.containerPath); err == nil {
			if fi.Mode()&os.ModeSymlink != 0 {
				if target, err := root.Readlink(v.containerPath); err == nil && target == src {
					continue
				}
			}
			return fmt.Errorf("persistent volume %q: %q already exists in the sandbox", v.id, v.containerPath)
		}
		if err := root.Symlink(src, v.containerPath); err != nil {
			return fmt.Errorf("persistent volume %q: failed to link it at %q: %w", v.id, v.containerPath, err)
		}
		a.log.Info("linked persistent volume", "volume", v.id, "role", v.role, "path", filepath.Join(dir, v.containerPath), "source", src)
	}
	return nil
}

// runVolumes are the persistent volumes of a RUN_TASK, by where they are
// linked: "" for the executor's sandbox, else a task id (a task group's
// task, linked in its own sandbox <sandbox>/tasks/<task_id>).
type runVolumes map[string][]volume

// validateRun checks a RUN_TASK's executor (when it is to be created) and
// tasks against what the agent can run, and returns their persistent
// volumes. An error refuses every task of the RUN_TASK.
func (a *Agent) validateRun(fw *framework, newExecutor bool, kind executorKind, exInfo *mesos.ExecutorInfo, tasks []*mesos.TaskInfo) (runVolumes, error) {
	vols := runVolumes{}
	if err := a.validateUsers(fw, exInfo, tasks); err != nil {
		return nil, err
	}
	// The command executor's info is made from its task: its resources
	// and container are the task's, checked below.
	if newExecutor && kind != kindCommand {
		if err := a.validateContainer(exInfo.GetContainer(), "executor "+exInfo.GetExecutorId().GetValue()); err != nil {
			return nil, err
		}
		vs, err := persistentVolumes(exInfo.GetResources(), a.mountsVolumes())
		if err != nil {
			return nil, fmt.Errorf("executor %s: %w", exInfo.GetExecutorId().GetValue(), err)
		}
		vols[""] = vs
	}
	for _, t := range tasks {
		id := t.GetTaskId().GetValue()
		if err := a.validateContainer(t.GetContainer(), "task "+id); err != nil {
			return nil, err
		}
		if kind != kindCommand {
			// Only a command task's container is its executor's; the
			// tasks of other executors run in the executor's container.
			if what := isolationAsked(t.GetContainer()); what != "" {
				return nil, refuse("task %s: ContainerInfo.%s applies only to command tasks on this agent (give it in the executor's ContainerInfo)", id, what)
			}
		}
		if err := a.validateLimits(t); err != nil {
			return nil, err
		}
		// Read-only volumes are mounted when a container starts: a
		// command task's are, those of tasks given to other executors
		// are only linked.
		vs, err := persistentVolumes(t.GetResources(), newExecutor && kind == kindCommand && a.mountsVolumes())
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", id, err)
		}
		if kind == kindDefault {
			vols[id] = append(vols[id], vs...)
		} else {
			vols[""] = append(vols[""], vs...)
		}
	}
	for where, vs := range vols {
		seen := map[string]volume{}
		for _, v := range vs {
			if other, ok := seen[v.containerPath]; ok && other != v {
				return nil, refuse("persistent volumes %q and %q both use container_path %q%s", other.id, v.id, v.containerPath, taskSuffix(where))
			}
			seen[v.containerPath] = v
		}
	}
	return vols, nil
}

func taskSuffix(taskID string) string {
	if taskID == "" {
		return ""
	}
	return " in task " + taskID
}

// prepareVolumes creates and links a RUN_TASK's persistent volumes before
// anything of it runs (state goroutine).
func (a *Agent) prepareVolumes(ex *executor, vols runVolumes) error {
	for where, vs := range vols {
		if len(vs) == 0 {
			continue
		}
		dir := ex.sandbox
		if where != "" {
			d, err := taskSandbox(ex.sandbox, where)
			if err != nil {
				return err
			}
			dir = d
		}
		if err := a.linkVolumes(dir, vs); err != nil {
			return err
		}
	}
	return nil
}
