package docker

import (
	"fmt"
	"maps"
	"math"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Names and labels of the containers the agent runs.
const (
	// NamePrefix starts every container name: Mesos names a container
	// mesos-<ContainerID.value>.
	NamePrefix = "mesos-"
	// MappedSandbox is where the sandbox is mounted inside a container,
	// its working directory and MESOS_SANDBOX (Mesos' --sandbox_directory
	// default).
	MappedSandbox = "/mnt/mesos/sandbox"
	// LabelWorkDir is the --work_dir of the agent that runs the container.
	LabelWorkDir = "org.mezzo.work_dir"
	// LabelContainerID is the Mesos ContainerID the container belongs to.
	LabelContainerID = "org.mezzo.container_id"
	// LabelKind is what runs in the container: KindTask (a command task,
	// supervised by `mezzo executor --docker`) or KindExecutor (a custom
	// executor, supervised by the containerizer).
	LabelKind = "org.mezzo.kind"
	// KindTask and KindExecutor are LabelKind's values.
	KindTask     = "task"
	KindExecutor = "executor"
)

// Name is the name of the container of a Mesos container id.
func Name(containerID string) string { return NamePrefix + containerID }

// Labels are the labels of the container of containerID run by the agent
// whose work directory is workDir.
func Labels(workDir, containerID, kind string) map[string]string {
	return map[string]string{LabelWorkDir: filepath.Clean(workDir), LabelContainerID: containerID, LabelKind: kind}
}

// Mesos' floors for the resources a container is given
// (src/slave/constants.hpp).
const (
	cpuSharesPerCPU = 1024
	minCPUShares    = 2
	minMemory       = 32 << 20
	cfsPeriod       = 100 * time.Millisecond
	minCFSQuota     = time.Millisecond
)

// RunSpec is a container to run: what Mesos' Docker::RunOptions::create
// builds from a ContainerInfo.
type RunSpec struct {
	// Name is the container's name (Name(container id)).
	Name string
	// Labels are added to the container (Labels).
	Labels map[string]string
	// Info is the ContainerInfo; its type must be DOCKER.
	Info *mesos.ContainerInfo
	// Command is what runs: a shell command (the default) replaces the
	// image's entrypoint with /bin/sh -c value; otherwise value (when
	// set) and the arguments become the container's command, after the
	// image's entrypoint. Nil runs the image's own command.
	Command *mesos.CommandInfo
	// Env is the environment; MESOS_SANDBOX and MESOS_CONTAINER_NAME are
	// set to what they are inside the container.
	Env map[string]string
	// Resources are the task's (or executor's): cpus become CPU shares,
	// mem a memory limit, ports the host ports port mappings may use.
	Resources []*mesos.Resource
	// Limits are the task's limits (TaskInfo.limits): a cpus limit
	// becomes a CFS quota, a mem limit the memory limit (the request
	// then being the reservation); an infinite one sets none.
	Limits map[string]*mesos.Value_Scalar
	// EnableCFS is --cgroups_enable_cfs: without a cpus limit, the cpus
	// request becomes a CFS quota too.
	EnableCFS bool
	// Sandbox is the host directory mounted at MappedSandbox.
	Sandbox string
}

// Image is the spec's image.
func (s RunSpec) Image() string { return s.Info.GetDocker().GetImage() }

// Validate checks what of a DOCKER ContainerInfo can be checked before
// launch (without the resources, which port mappings need, or the
// engine): an error names the field or parameter Mezzo cannot honour.
func Validate(ci *mesos.ContainerInfo) error {
	ports := []*mesos.Resource{{Name: ptr("ports"), Type: mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: ptr(uint64(0)), End: ptr(uint64(65535))}}}}}
	_, _, _, err := RunSpec{Name: "mesos-validate", Info: ci, Sandbox: "/sandbox", Resources: ports}.build()
	return err
}

func ptr[T any](v T) *T { return &v }

// supportedParameters maps the docker run options DockerInfo.parameters
// may give to how each applies; any other key is refused by name.
var supportedParameters = map[string]func(c *container.Config, h *container.HostConfig, v string) error{
	"env": func(c *container.Config, _ *container.HostConfig, v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want NAME=VALUE, got %q", v)
		}
		c.Env = append(c.Env, v)
		return nil
	},
	"label": func(c *container.Config, _ *container.HostConfig, v string) error {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		c.Labels[k] = val
		return nil
	},
	"hostname": func(c *container.Config, _ *container.HostConfig, v string) error { c.Hostname = v; return nil },
	"workdir":  func(c *container.Config, _ *container.HostConfig, v string) error { c.WorkingDir = v; return nil },
	"user":     func(c *container.Config, _ *container.HostConfig, v string) error { c.User = v; return nil },
	"entrypoint": func(c *container.Config, _ *container.HostConfig, v string) error {
		c.Entrypoint = []string{v}
		return nil
	},
	"add-host": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.ExtraHosts = append(h.ExtraHosts, v)
		return nil
	},
	"cap-add": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.CapAdd = append(h.CapAdd, v)
		return nil
	},
	"cap-drop": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.CapDrop = append(h.CapDrop, v)
		return nil
	},
	"dns": func(_ *container.Config, h *container.HostConfig, v string) error {
		h.DNS = append(h.DNS, v)
		return nil
	},
	"read-only": func(_ *container.Config, h *container.HostConfig, v string) error {
		b, err := strconv.ParseBool(v)
		h.ReadonlyRootfs = b
		return err
	},
	"init": func(_ *container.Config, h *container.HostConfig, v string) error {
		b, err := strconv.ParseBool(v)
		h.Init = &b
		return err
	},
}

// SupportedParameters lists the DockerInfo.parameters keys Mezzo maps.
func SupportedParameters() []string { return slices.Sorted(maps.Keys(supportedParameters)) }

// build turns the spec into the engine's create request. Everything the
// spec asks for that cannot be honoured is an error naming it.
func (s RunSpec) build() (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	ci := s.Info
	if ci.GetType() != mesos.ContainerInfo_DOCKER {
		return nil, nil, nil, fmt.Errorf("container type %v is not DOCKER", ci.GetType())
	}
	di := ci.GetDocker()
	if di.GetImage() == "" {
		return nil, nil, nil, fmt.Errorf("ContainerInfo.docker.image is not set")
	}
	switch {
	case ci.GetMesos() != nil:
		return nil, nil, nil, fmt.Errorf("ContainerInfo.mesos applies to MESOS containers, not DOCKER ones")
	case ci.GetLinuxInfo() != nil:
		return nil, nil, nil, fmt.Errorf("ContainerInfo.linux_info is not supported for Docker containers (use the cap-add and cap-drop parameters)")
	case ci.GetRlimitInfo() != nil:
		return nil, nil, nil, fmt.Errorf("ContainerInfo.rlimit_info is not supported for Docker containers")
	case ci.GetTtyInfo() != nil:
		return nil, nil, nil, fmt.Errorf("ContainerInfo.tty_info is not supported for Docker containers")
	case len(ci.GetNetworkInfos()) > 0 && di.GetNetwork() != mesos.ContainerInfo_DockerInfo_USER:
		return nil, nil, nil, fmt.Errorf("ContainerInfo.network_infos applies to network USER only (docker network is %v)", di.GetNetwork())
	}
	if di.VolumeDriver != nil {
		return nil, nil, nil, fmt.Errorf("ContainerInfo.docker.volume_driver (deprecated) is not supported; give each volume its source")
	}
	cfg := &container.Config{
		Image:      di.GetImage(),
		Labels:     maps.Clone(s.Labels),
		WorkingDir: MappedSandbox,
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	host := &container.HostConfig{Privileged: di.GetPrivileged()}
	var netCfg *network.NetworkingConfig

	// Command: Mesos' rules (src/docker/docker.cpp).
	if cmd := s.Command; cmd != nil {
		if cmd.Shell == nil || cmd.GetShell() {
			if cmd.GetValue() == "" {
				return nil, nil, nil, fmt.Errorf("CommandInfo.shell is true but CommandInfo.value is empty")
			}
			cfg.Entrypoint = []string{"/bin/sh"}
			cfg.Cmd = []string{"-c", cmd.GetValue()}
		} else {
			if cmd.Value != nil {
				cfg.Cmd = append(cfg.Cmd, cmd.GetValue())
			}
			cfg.Cmd = append(cfg.Cmd, cmd.GetArguments()...)
		}
	}

	// Environment: the given one, MESOS_SANDBOX and MESOS_CONTAINER_NAME
	// as seen inside.
	env := maps.Clone(s.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["MESOS_SANDBOX"] = MappedSandbox
	env["MESOS_CONTAINER_NAME"] = s.Name
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cfg.Env = append(cfg.Env, k+"="+env[k])
	}

	// Resources.
	var cpus, mem float64
	var hasCPUs, hasMem bool
	for _, r := range s.Resources {
		switch r.GetName() {
		case "cpus":
			cpus, hasCPUs = cpus+r.GetScalar().GetValue(), true
		case "mem":
			mem, hasMem = mem+r.GetScalar().GetValue(), true
		}
	}
	// As Mesos' Docker::RunOptions::create: shares from the request; a
	// CFS quota from the cpus limit, else (--cgroups_enable_cfs) from the
	// request; the memory limit from the mem limit (the request a
	// reservation), else from the request. An infinite limit sets none.
	if hasCPUs {
		host.CPUShares = max(int64(cpus*cpuSharesPerCPU), minCPUShares)
	}
	quota := func(c float64) {
		host.CPUPeriod = int64(cfsPeriod / time.Microsecond)
		host.CPUQuota = int64(max(time.Duration(c*float64(cfsPeriod)), minCFSQuota) / time.Microsecond)
	}
	if l, ok := s.Limits["cpus"]; ok {
		if !math.IsInf(l.GetValue(), 1) {
			quota(l.GetValue())
		}
	} else if s.EnableCFS && hasCPUs {
		quota(cpus)
	}
	if l, ok := s.Limits["mem"]; ok {
		if !math.IsInf(l.GetValue(), 1) {
			host.Memory = max(int64(l.GetValue())<<20, minMemory)
			host.MemorySwap = host.Memory
		}
		if hasMem {
			host.MemoryReservation = max(int64(mem)<<20, minMemory)
		}
	} else if hasMem {
		host.Memory = max(int64(mem)<<20, minMemory)
		host.MemorySwap = host.Memory
	}
	for name := range s.Limits {
		if name != "cpus" && name != "mem" {
			return nil, nil, nil, fmt.Errorf("limits: resource %q cannot have a limit (only cpus and mem)", name)
		}
	}

	// Sandbox and volumes.
	host.Binds = []string{s.Sandbox + ":" + MappedSandbox}
	for _, v := range ci.GetVolumes() {
		b, err := bind(v, s.Sandbox)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("volume %q: %w", v.GetContainerPath(), err)
		}
		host.Binds = append(host.Binds, b)
	}

	// Network.
	switch di.GetNetwork() {
	case mesos.ContainerInfo_DockerInfo_HOST:
		host.NetworkMode = "host"
	case mesos.ContainerInfo_DockerInfo_BRIDGE:
		host.NetworkMode = "bridge"
	case mesos.ContainerInfo_DockerInfo_NONE:
		host.NetworkMode = "none"
	case mesos.ContainerInfo_DockerInfo_USER:
		nis := ci.GetNetworkInfos()
		if len(nis) != 1 || nis[0].GetName() == "" {
			return nil, nil, nil, fmt.Errorf("network USER needs exactly one ContainerInfo.network_infos entry naming the Docker network")
		}
		host.NetworkMode = container.NetworkMode(nis[0].GetName())
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{nis[0].GetName(): {}}}
	default:
		return nil, nil, nil, fmt.Errorf("docker network %v is not supported", di.GetNetwork())
	}
	if ci.Hostname != nil {
		if host.NetworkMode == "host" {
			return nil, nil, nil, fmt.Errorf("ContainerInfo.hostname cannot be set with network HOST")
		}
		cfg.Hostname = ci.GetHostname()
	}
	if pms := di.GetPortMappings(); len(pms) > 0 {
		if host.NetworkMode == "host" || host.NetworkMode == "none" {
			return nil, nil, nil, fmt.Errorf("port mappings are only supported for bridge and user-defined networks")
		}
		ports := portRanges(s.Resources)
		if len(ports) == 0 {
			return nil, nil, nil, fmt.Errorf("port mappings require port resources")
		}
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
		for _, pm := range pms {
			if !inRanges(ports, uint64(pm.GetHostPort())) {
				return nil, nil, nil, fmt.Errorf("port mapping: host port %d is not included in the resources' ports", pm.GetHostPort())
			}
			proto := strings.ToLower(pm.GetProtocol())
			if proto == "" {
				proto = "tcp"
			}
			if proto != "tcp" && proto != "udp" && proto != "sctp" {
				return nil, nil, nil, fmt.Errorf("port mapping: protocol %q is not tcp, udp or sctp", pm.GetProtocol())
			}
			p, err := nat.NewPort(proto, strconv.Itoa(int(pm.GetContainerPort())))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("port mapping: %w", err)
			}
			cfg.ExposedPorts[p] = struct{}{}
			host.PortBindings[p] = append(host.PortBindings[p], nat.PortBinding{HostPort: strconv.Itoa(int(pm.GetHostPort()))})
		}
	}

	// Parameters, in order: later ones win as with docker run.
	for _, p := range di.GetParameters() {
		apply, ok := supportedParameters[p.GetKey()]
		if !ok {
			return nil, nil, nil, fmt.Errorf("docker parameter %q is not supported (supported: %s)", p.GetKey(), strings.Join(SupportedParameters(), ", "))
		}
		if err := apply(cfg, host, p.GetValue()); err != nil {
			return nil, nil, nil, fmt.Errorf("docker parameter %q: %w", p.GetKey(), err)
		}
	}
	return cfg, host, netCfg, nil
}

// bind is the docker bind of a host path volume: a relative host path is
// in the sandbox, a relative container path under MappedSandbox.
func bind(v *mesos.Volume, sandbox string) (string, error) {
	if v.GetSource() != nil || v.GetImage() != nil {
		return "", fmt.Errorf("only host_path volumes are supported by the Docker containerizer")
	}
	if v.GetHostPath() == "" {
		return "", fmt.Errorf("host_path is not set")
	}
	if v.GetContainerPath() == "" {
		return "", fmt.Errorf("container_path is not set")
	}
	hostPath := v.GetHostPath()
	if !filepath.IsAbs(hostPath) {
		hostPath = filepath.Join(sandbox, hostPath)
		if !strings.HasPrefix(hostPath, filepath.Clean(sandbox)+"/") {
			return "", fmt.Errorf("relative host_path %q leaves the sandbox", v.GetHostPath())
		}
	}
	cp := v.GetContainerPath()
	if !path.IsAbs(cp) {
		cp = path.Join(MappedSandbox, cp)
	}
	mode := "rw"
	if v.GetMode() == mesos.Volume_RO {
		mode = "ro"
	}
	return hostPath + ":" + cp + ":" + mode, nil
}

// portRanges are the port ranges among resources.
func portRanges(rs []*mesos.Resource) [][2]uint64 {
	var out [][2]uint64
	for _, r := range rs {
		if r.GetName() != "ports" {
			continue
		}
		for _, rg := range r.GetRanges().GetRange() {
			out = append(out, [2]uint64{rg.GetBegin(), rg.GetEnd()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func inRanges(rs [][2]uint64, p uint64) bool {
	for _, r := range rs {
		if p >= r[0] && p <= r[1] {
			return true
		}
	}
	return false
}
