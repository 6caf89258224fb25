package docker

import (
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func dockerInfo(image string) *mesos.ContainerInfo {
	return &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
		Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String(image)}}
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}

func ports(begin, end uint64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(begin), End: proto.Uint64(end)}}}}
}

// TestBuild checks the create request made of a ContainerInfo against
// what Mesos' Docker::RunOptions::create makes of it.
func TestBuild(t *testing.T) {
	ci := dockerInfo("img:1")
	ci.Docker.Network = mesos.ContainerInfo_DockerInfo_BRIDGE.Enum()
	ci.Docker.Privileged = proto.Bool(true)
	ci.Docker.PortMappings = []*mesos.ContainerInfo_DockerInfo_PortMapping{
		{HostPort: proto.Uint32(31001), ContainerPort: proto.Uint32(80)},
		{HostPort: proto.Uint32(31002), ContainerPort: proto.Uint32(53), Protocol: proto.String("UDP")}}
	ci.Docker.Parameters = []*mesos.Parameter{{Key: proto.String("env"), Value: proto.String("X=1")},
		{Key: proto.String("label"), Value: proto.String("team=a")}}
	ci.Volumes = []*mesos.Volume{
		{HostPath: proto.String("/srv/data"), ContainerPath: proto.String("/data"), Mode: mesos.Volume_RO.Enum()},
		{HostPath: proto.String("cache"), ContainerPath: proto.String("cache"), Mode: mesos.Volume_RW.Enum()}}
	ci.Hostname = proto.String("box")
	s := RunSpec{Name: "mesos-c1", Labels: Labels("/w/", "c1", KindTask), Info: ci,
		Command:   &mesos.CommandInfo{Value: proto.String("echo hi")},
		Env:       map[string]string{"A": "b", "MESOS_SANDBOX": "/host/sandbox"},
		Resources: []*mesos.Resource{scalar("cpus", 0.5), scalar("mem", 16), ports(31000, 31010)},
		Sandbox:   "/host/sandbox"}
	cfg, host, _, err := s.build()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/bin/sh"}) || !slices.Equal(cfg.Cmd, []string{"-c", "echo hi"}) {
		t.Errorf("shell command: entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
	for _, want := range []string{"A=b", "MESOS_SANDBOX=/mnt/mesos/sandbox", "MESOS_CONTAINER_NAME=mesos-c1", "X=1"} {
		if !slices.Contains(cfg.Env, want) {
			t.Errorf("env %v lacks %s", cfg.Env, want)
		}
	}
	if cfg.Labels[LabelWorkDir] != "/w" || cfg.Labels[LabelContainerID] != "c1" || cfg.Labels["team"] != "a" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if cfg.WorkingDir != MappedSandbox || cfg.Hostname != "box" {
		t.Errorf("workdir %q hostname %q", cfg.WorkingDir, cfg.Hostname)
	}
	if host.CPUShares != 512 || host.Memory != minMemory || !host.Privileged || host.NetworkMode != "bridge" {
		t.Errorf("host config: shares %d memory %d privileged %v network %q", host.CPUShares, host.Memory, host.Privileged, host.NetworkMode)
	}
	wantBinds := []string{"/host/sandbox:/mnt/mesos/sandbox", "/srv/data:/data:ro", "/host/sandbox/cache:/mnt/mesos/sandbox/cache:rw"}
	if !slices.Equal(host.Binds, wantBinds) {
		t.Errorf("binds %v, want %v", host.Binds, wantBinds)
	}
	if b := host.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostPort != "31001" {
		t.Errorf("port bindings %v", host.PortBindings)
	}
	if b := host.PortBindings["53/udp"]; len(b) != 1 || b[0].HostPort != "31002" {
		t.Errorf("port bindings %v", host.PortBindings)
	}

	// shell=false: value and arguments after the image's entrypoint.
	s.Command = &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/task"), Arguments: []string{"print", "x"}}
	cfg, _, _, err = s.build()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Entrypoint != nil || !slices.Equal(cfg.Cmd, []string{"/task", "print", "x"}) {
		t.Errorf("entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
}

// TestBuildRefuses checks that what cannot be honoured is refused, named.
func TestBuildRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*RunSpec)
		want   string
	}{
		{"no image", func(s *RunSpec) { s.Info.Docker.Image = proto.String("") }, "docker.image"},
		{"unknown parameter", func(s *RunSpec) {
			s.Info.Docker.Parameters = []*mesos.Parameter{{Key: proto.String("oom-kill-disable"), Value: proto.String("true")}}
		}, `"oom-kill-disable" is not supported`},
		{"host port outside the resources", func(s *RunSpec) {
			s.Info.Docker.Network = mesos.ContainerInfo_DockerInfo_BRIDGE.Enum()
			s.Info.Docker.PortMappings = []*mesos.ContainerInfo_DockerInfo_PortMapping{{HostPort: proto.Uint32(8080), ContainerPort: proto.Uint32(80)}}
		}, "host port 8080 is not included"},
		{"port mapping on the host network", func(s *RunSpec) {
			s.Info.Docker.Network = mesos.ContainerInfo_DockerInfo_HOST.Enum()
			s.Info.Docker.PortMappings = []*mesos.ContainerInfo_DockerInfo_PortMapping{{HostPort: proto.Uint32(31000), ContainerPort: proto.Uint32(80)}}
		}, "only supported for bridge"},
		{"USER network without a name", func(s *RunSpec) { s.Info.Docker.Network = mesos.ContainerInfo_DockerInfo_USER.Enum() }, "network_infos"},
		{"volume source", func(s *RunSpec) {
			s.Info.Volumes = []*mesos.Volume{{ContainerPath: proto.String("/x"), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SANDBOX_PATH.Enum()}}}
		}, "only host_path volumes"},
		{"relative host path leaving the sandbox", func(s *RunSpec) {
			s.Info.Volumes = []*mesos.Volume{{HostPath: proto.String("../../etc"), ContainerPath: proto.String("/x")}}
		}, "leaves the sandbox"},
		{"shell without a value", func(s *RunSpec) { s.Command = &mesos.CommandInfo{} }, "CommandInfo.value is empty"},
		{"volume driver", func(s *RunSpec) { s.Info.Docker.VolumeDriver = proto.String("flocker") }, "volume_driver"},
		{"linux info", func(s *RunSpec) { s.Info.LinuxInfo = &mesos.LinuxInfo{} }, "linux_info"},
		{"rlimits", func(s *RunSpec) { s.Info.RlimitInfo = &mesos.RLimitInfo{} }, "rlimit_info"},
		{"network infos on bridge", func(s *RunSpec) {
			s.Info.NetworkInfos = []*mesos.NetworkInfo{{Name: proto.String("n")}}
		}, "network USER only"},
	} {
		s := RunSpec{Name: "mesos-c", Info: dockerInfo("img"), Sandbox: "/sb", Resources: []*mesos.Resource{ports(31000, 31000)}}
		tc.modify(&s)
		_, _, _, err := s.build()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
}

// TestBuildLimits: cpu and memory limits and --cgroups_enable_cfs as
// Mesos turns them into docker run options.
func TestBuildLimits(t *testing.T) {
	res := []*mesos.Resource{scalar("cpus", 0.5), scalar("mem", 64)}
	for _, tc := range []struct {
		name                       string
		limits                     map[string]*mesos.Value_Scalar
		cfs                        bool
		quota, memory, reservation int64
	}{
		{"requests only", nil, false, 0, 64 << 20, 0},
		{"requests with CFS", nil, true, 50000, 64 << 20, 0},
		{"limits", map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}, "mem": {Value: proto.Float64(128)}}, false, 200000, 128 << 20, 64 << 20},
		{"infinite limits", map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(math.Inf(1))}, "mem": {Value: proto.Float64(math.Inf(1))}}, true, 0, 0, 64 << 20},
	} {
		s := RunSpec{Name: "mesos-c", Info: dockerInfo("img"), Sandbox: "/sb", Resources: res, Limits: tc.limits, EnableCFS: tc.cfs}
		_, host, _, err := s.build()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if host.CPUShares != 512 || host.CPUQuota != tc.quota || host.Memory != tc.memory || host.MemoryReservation != tc.reservation {
			t.Errorf("%s: shares %d quota %d memory %d reservation %d; want 512 %d %d %d", tc.name,
				host.CPUShares, host.CPUQuota, host.Memory, host.MemoryReservation, tc.quota, tc.memory, tc.reservation)
		}
		if tc.quota > 0 && host.CPUPeriod != 100000 {
			t.Errorf("%s: CFS period %d, want 100000", tc.name, host.CPUPeriod)
		}
	}
}
