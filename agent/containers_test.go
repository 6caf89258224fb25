package agent

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func TestConfigContainerizersAndIsolation(t *testing.T) {
	base := func() Config {
		c := Defaults()
		c.Master, c.WorkDir = "127.0.0.1:5050", t.TempDir()
		c.ExecutorCommand = []string{"x"}
		return c
	}
	for _, tc := range []struct {
		containerizers, isolation string
		wantErr                   string
	}{
		{"mesos", "posix/cpu,posix/mem", ""},
		{"", "", ""},
		{"mesos", "posix/cpu,posix/mem,posix/disk,filesystem/posix", ""},
		{"docker", "posix/cpu", ""},
		{"mesos,docker", "posix/cpu", ""},
		{"lxc", "posix/cpu", `unknown containerizer "lxc"`},
		{"mesos", "posix/cpu,cgroups/nope", `the "cgroups/nope" isolator is not supported`},
		{"mesos", "posix/cpu,posix/cpu", "duplicate"},
	} {
		c := base()
		c.Containerizers, c.Isolation = tc.containerizers, tc.isolation
		err := c.validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q %q: %v", tc.containerizers, tc.isolation, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q %q: error %v, want %q", tc.containerizers, tc.isolation, err, tc.wantErr)
		}
	}
}

func TestValidateContainer(t *testing.T) {
	a := &Agent{cfg: Defaults()}
	mesosType := mesos.ContainerInfo_MESOS.Enum()
	for _, tc := range []struct {
		name    string
		ci      *mesos.ContainerInfo
		wantErr string // "" accepted
	}{
		{"none", nil, ""},
		{"plain mesos", &mesos.ContainerInfo{Type: mesosType}, ""},
		{"host network", &mesos.ContainerInfo{Type: mesosType, NetworkInfos: []*mesos.NetworkInfo{{}}}, ""},
		{"shared pid, ipc, unconfined", &mesos.ContainerInfo{Type: mesosType, LinuxInfo: &mesos.LinuxInfo{
			SharePidNamespace: proto.Bool(true), IpcMode: mesos.LinuxInfo_SHARE_PARENT.Enum(),
			Seccomp: &mesos.SeccompInfo{Unconfined: proto.Bool(true)}, ShareCgroups: proto.Bool(true)}}, ""},
		{"docker", &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
			Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("busybox")}},
			"Docker containers are not supported by this agent (--containerizers=mesos)"},
		{"image", &mesos.ContainerInfo{Type: mesosType, Mesos: &mesos.ContainerInfo_MesosInfo{
			Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("busybox")}}}},
			"container images"},
		{"host path volume", &mesos.ContainerInfo{Type: mesosType, Volumes: []*mesos.Volume{{
			ContainerPath: proto.String("/data"), HostPath: proto.String("/tmp"), Mode: mesos.Volume_RW.Enum()}}},
			"HOST_PATH volumes in ContainerInfo need the filesystem/linux and volume/host_path isolators"},
		{"sandbox path volume", &mesos.ContainerInfo{Type: mesosType, Volumes: []*mesos.Volume{{
			ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum(),
			Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SANDBOX_PATH.Enum()}}}},
			"SANDBOX_PATH volumes in ContainerInfo need the filesystem/linux and volume/sandbox_path isolators"},
		{"hostname", &mesos.ContainerInfo{Type: mesosType, Hostname: proto.String("h")}, "hostname"},
		{"cni", &mesos.ContainerInfo{Type: mesosType, NetworkInfos: []*mesos.NetworkInfo{{Name: proto.String("net1")}}}, "network/cni"},
		{"capabilities", &mesos.ContainerInfo{Type: mesosType, LinuxInfo: &mesos.LinuxInfo{
			EffectiveCapabilities: &mesos.CapabilityInfo{}}}, "capabilities"},
		{"private pid", &mesos.ContainerInfo{Type: mesosType, LinuxInfo: &mesos.LinuxInfo{
			SharePidNamespace: proto.Bool(false)}}, "namespaces/pid"},
		{"seccomp", &mesos.ContainerInfo{Type: mesosType, LinuxInfo: &mesos.LinuxInfo{
			Seccomp: &mesos.SeccompInfo{ProfileName: proto.String("default.json")}}}, "seccomp"},
		{"private ipc", &mesos.ContainerInfo{Type: mesosType, LinuxInfo: &mesos.LinuxInfo{
			IpcMode: mesos.LinuxInfo_PRIVATE.Enum()}}, "ipc_mode=PRIVATE"},
		{"rlimits", &mesos.ContainerInfo{Type: mesosType, RlimitInfo: &mesos.RLimitInfo{Rlimits: []*mesos.RLimitInfo_RLimit{
			{Type: mesos.RLimitInfo_RLimit_RLMT_NOFILE.Enum(), Soft: proto.Uint64(10), Hard: proto.Uint64(10)}}}}, "posix/rlimits"},
		{"tty", &mesos.ContainerInfo{Type: mesosType, TtyInfo: &mesos.TTYInfo{}}, "tty_info"},
	} {
		err := a.validateContainer(tc.ci, "task t")
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// volumeResource is reserved disk carrying a persistent volume.
func volumeResource(role, id, containerPath string, mode mesos.Volume_Mode) *mesos.Resource {
	r := scalar("disk", 16)
	r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
	r.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role)}}
	r.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume:      &mesos.Volume{ContainerPath: proto.String(containerPath), Mode: mode.Enum()},
	}
	return r
}

func TestPersistentVolumesValidation(t *testing.T) {
	rw := mesos.Volume_RW
	for _, tc := range []struct {
		name    string
		r       *mesos.Resource
		want    volume
		wantErr string
	}{
		{"simple", volumeResource("eng", "v1", "data", rw), volume{"eng", "v1", "data"}, ""},
		{"nested path", volumeResource("eng/ads", "v1", "a/b/", rw), volume{"eng/ads", "v1", "a/b"}, ""},
		{"absolute", volumeResource("eng", "v1", "/data", rw), volume{}, "is absolute"},
		{"dotdot", volumeResource("eng", "v1", "a/../../x", rw), volume{}, "leaves the sandbox"},
		{"sandbox itself", volumeResource("eng", "v1", "./", rw), volume{}, "names the sandbox itself"},
		{"read-only", volumeResource("eng", "v1", "data", mesos.Volume_RO), volume{}, "read-only"},
		{"bad id", volumeResource("eng", "a/b", "data", rw), volume{}, "invalid persistence id"},
		{"unreserved", func() *mesos.Resource {
			r := volumeResource("eng", "v1", "data", rw)
			r.Reservations = nil
			return r
		}(), volume{}, "not reserved"},
		{"mount disk", func() *mesos.Resource {
			r := volumeResource("eng", "v1", "data", rw)
			r.Disk.Source = &mesos.Resource_DiskInfo_Source{Type: mesos.Resource_DiskInfo_Source_MOUNT.Enum()}
			return r
		}(), volume{}, "MOUNT disks are not supported"},
	} {
		got, err := persistentVolumes([]*mesos.Resource{scalar("cpus", 1), tc.r}, false)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr == "" && (len(got) != 1 || got[0] != tc.want):
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	if got, want := volumePath("/w", "eng/ads/batch", "v1"), "/w/volumes/roles/eng ads batch/v1"; got != want {
		t.Errorf("volumePath %q, want %q", got, want)
	}
}

// A symlink the executor left in its sandbox cannot redirect a volume's
// link outside the sandbox.
func TestLinkVolumesStaysInSandbox(t *testing.T) {
	work, sandbox, outside := t.TempDir(), t.TempDir(), t.TempDir()
	a := &Agent{cfg: Config{WorkDir: work}, log: slog.New(slog.DiscardHandler)}
	if err := os.Symlink(outside, filepath.Join(sandbox, "evil")); err != nil {
		t.Fatal(err)
	}
	err := a.linkVolumes(sandbox, []volume{{"eng", "v1", "evil/vol"}})
	if err == nil {
		t.Fatal("linked a volume through a symlink leaving the sandbox")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("created %v outside the sandbox", ents)
	}
	// A regular file in the way is an error, an existing link to the same
	// volume is kept.
	os.WriteFile(filepath.Join(sandbox, "file"), nil, 0o644)
	if err := a.linkVolumes(sandbox, []volume{{"eng", "v1", "file"}}); err == nil {
		t.Fatal("replaced a file with a volume link")
	}
	for range 2 {
		if err := a.linkVolumes(sandbox, []volume{{"eng", "v1", "x/data"}}); err != nil {
			t.Fatal(err)
		}
	}
	if target, _ := os.Readlink(filepath.Join(sandbox, "x/data")); target != volumePath(work, "eng", "v1") {
		t.Fatalf("link points to %q", target)
	}
}

// refusedStatus waits for a task's single TASK_FAILED update from the
// agent and checks that nothing was launched for it.
func refusedStatus(t *testing.T, m *fakeMaster, a *Agent, fwID, exID, taskID, wantMsg string) {
	t.Helper()
	got := m.waitState(t, taskID, mesos.TaskState_TASK_FAILED)
	if len(got) != 1 {
		t.Fatalf("updates %v, want only TASK_FAILED", states(got))
	}
	s := got[0]
	if s.GetSource() != mesos.TaskStatus_SOURCE_AGENT || s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(s.GetMessage(), wantMsg) {
		t.Fatalf("status %v, want SOURCE_AGENT, REASON_CONTAINER_LAUNCH_FAILED, message with %q", s, wantMsg)
	}
	if _, err := os.Stat(executorDir(a.cfg.WorkDir, a.ID(), fwID, exID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("executor directory exists (%v): something was launched", err)
	}
	if m.executorExited(exID) != nil {
		t.Errorf("EXECUTOR_EXITED for %s: something was launched", exID)
	}
}

func TestDockerTaskRefused(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	marker := filepath.Join(t.TempDir(), "ran")
	task := commandTask("docker", "touch "+marker)
	task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
		Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("busybox")}}
	m.send(runTask(frameworkInfo("F1", true), nil, task, nil))
	refusedStatus(t, m, a, "F1", "docker", "docker", "Docker containers are not supported by this agent (--containerizers=mesos)")

	// An executor asking for a container image, and a task with
	// rlimits for a custom executor.
	ex := &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("ex1")},
		Command: &mesos.CommandInfo{Value: proto.String("touch " + marker)},
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Mesos: &mesos.ContainerInfo_MesosInfo{
			Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("busybox")}}}}}
	t2 := commandTask("t2", "true")
	t2.Command = nil
	m.send(runTask(frameworkInfo("F1", true), ex, t2, nil))
	refusedStatus(t, m, a, "F1", "ex1", "t2", "executor ex1: container images (ContainerInfo.mesos.image) need --image_providers=docker")

	t3 := commandTask("t3", "touch "+marker)
	t3.Resources = append(t3.Resources, volumeResource("eng", "v1", "/abs", mesos.Volume_RW))
	m.send(runTask(frameworkInfo("F1", true), nil, t3, nil))
	refusedStatus(t, m, a, "F1", "t3", "t3", `container_path "/abs" is absolute`)
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a refused task ran")
	}
	if _, err := os.Stat(filepath.Join(a.cfg.WorkDir, "volumes")); err == nil {
		t.Error("a refused task's volume was created")
	}
}

// A volume written by one task is there for the next one using it, in
// its sandbox at container_path, and outlives both tasks and the agent.
func TestPersistentVolumeAcrossTasksAndRestart(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	fi := frameworkInfo("F1", true)
	w := commandTask("writer", "echo hello > data/file && test -L data")
	w.Resources = append(w.Resources, volumeResource("eng/ads", "vol-1", "data", mesos.Volume_RW))
	m.send(runTask(fi, nil, w, nil))
	m.waitState(t, "writer", mesos.TaskState_TASK_FINISHED)
	src := filepath.Join(work, "volumes", "roles", "eng ads", "vol-1")
	if b, err := os.ReadFile(filepath.Join(src, "file")); err != nil || string(b) != "hello\n" {
		t.Fatalf("volume content %q, %v", b, err)
	}
	a1.Close()

	a2 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 2)
	_ = a2
	r := commandTask("reader", "grep -q hello vol/sub/file && echo again >> vol/sub/file")
	r.Resources = append(r.Resources, volumeResource("eng/ads", "vol-1", "vol/sub", mesos.Volume_RW))
	m.send(runTask(fi, nil, r, nil))
	got := m.waitState(t, "reader", mesos.TaskState_TASK_FINISHED)
	if !slices.Equal(states(got), []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}) {
		t.Fatalf("reader: %v", states(got))
	}
	if b, _ := os.ReadFile(filepath.Join(src, "file")); string(b) != "hello\nagain\n" {
		t.Fatalf("volume content %q", b)
	}
}

// Task-group tasks get their volumes in their own sandboxes.
func TestPersistentVolumeInTaskGroup(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	g := commandTask("g1", "echo grouped > v/out")
	g.Resources = append(g.Resources, volumeResource("eng", "gv", "v", mesos.Volume_RW))
	ex := &mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String("default-ex")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}}
	m.send(runTask(frameworkInfo("F1", false), ex, nil, &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{g}}))
	m.waitState(t, "g1", mesos.TaskState_TASK_FINISHED)
	if b, _ := os.ReadFile(filepath.Join(a.cfg.WorkDir, "volumes", "roles", "eng", "gv", "out")); string(b) != "grouped\n" {
		t.Fatalf("volume content %q", b)
	}
}

// A task whose user does not exist, or whose limits need an isolator the
// agent lacks, is refused before anything runs.
func TestUserAndLimitsRefused(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	marker := filepath.Join(t.TempDir(), "ran")
	task := commandTask("u1", "touch "+marker)
	task.Command.User = proto.String("no-such-user-mezzo")
	m.send(runTask(frameworkInfo("F1", true), nil, task, nil))
	refusedStatus(t, m, a, "F1", "u1", "u1", `user "no-such-user-mezzo" does not exist on this agent`)

	fi := frameworkInfo("F2", false)
	fi.User = proto.String("no-such-framework-user")
	m.send(runTask(fi, nil, commandTask("u2", "touch "+marker), nil))
	refusedStatus(t, m, a, "F2", "u2", "u2", `user "no-such-framework-user" does not exist`)

	lim := commandTask("l1", "touch "+marker)
	lim.Limits = map[string]*mesos.Value_Scalar{"mem": {Value: proto.Float64(64)}}
	m.send(runTask(frameworkInfo("F1", true), nil, lim, nil))
	refusedStatus(t, m, a, "F1", "l1", "l1", "Memory limits can only be set on tasks when the agent has the cgroups/mem isolator")
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a refused task ran")
	}
}
