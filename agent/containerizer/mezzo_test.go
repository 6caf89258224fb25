package containerizer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func shell(cmd string) *mesos.CommandInfo { return &mesos.CommandInfo{Value: proto.String(cmd)} }

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestMezzo(t *testing.T, isolators ...Isolator) *Mezzo {
	if isolators == nil {
		iso, err := ParseIsolation("posix/cpu,posix/mem")
		if err != nil {
			t.Fatal(err)
		}
		if isolators, err = iso.Build(IsolatorOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return NewMezzo(MezzoConfig{Isolators: isolators})
}

// An executor runs in its sandbox with its environment; its exit status
// is the container's termination, and the container is forgotten once
// that was reported.
func TestMezzoLaunchAndExit(t *testing.T) {
	m := newTestMezzo(t)
	dir := t.TempDir()
	id := &mesos.ContainerID{Value: proto.String("c1")}
	res, err := m.Launch(context.Background(), id, Config{Command: shell(`echo "$GREETING" > out; exit 7`), Directory: dir,
		Env: map[string]string{"GREETING": "hi"}})
	if err != nil || res != Launched {
		t.Fatalf("launch: %v, %v", res, err)
	}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil || term.Describe() != "exited with status 7" {
		t.Fatalf("wait: %+v %q, %v", term, term.Describe(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "hi\n" {
		t.Errorf("out %q", b)
	}
	if _, err := m.Status(context.Background(), id); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("status after the end was reported: %v", err)
	}
	// A Docker container is for another containerizer.
	res, err = m.Launch(context.Background(), &mesos.ContainerID{Value: proto.String("d")},
		Config{Command: shell("true"), Directory: dir, ContainerInfo: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum()}})
	if err != nil || res != NotSupported {
		t.Errorf("docker: %v, %v", res, err)
	}
	// Without a provisioner an image is refused.
	_, err = m.Launch(context.Background(), &mesos.ContainerID{Value: proto.String("img")},
		Config{Command: shell("true"), Directory: dir, ContainerInfo: &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(),
			Mesos: &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("busybox")}}}}})
	if err == nil || !strings.Contains(err.Error(), "need --image_providers=docker") {
		t.Errorf("image: %v", err)
	}
	if ids, _ := m.Containers(context.Background()); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}

// Status gives the executor's pid, Usage its session's CPU and memory
// with the limits of what it holds (after Update), and Destroy kills the
// whole session: the executor and what it started in its own process
// group.
func TestMezzoUsageUpdateDestroy(t *testing.T) {
	m := newTestMezzo(t)
	dir := t.TempDir()
	id := &mesos.ContainerID{Value: proto.String("c2")}
	// The child starts a process group of its own, still in the session.
	cmd := `set -m; sleep 300 & echo $! > child; while :; do :; done`
	if _, err := m.Launch(context.Background(), id, Config{Command: shell(cmd), Directory: dir,
		Resources: []*mesos.Resource{scalar("cpus", 0.5), scalar("mem", 64)}}); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(context.Background(), id)
	if err != nil || st.GetExecutorPid() == 0 || st.GetContainerId().GetValue() != "c2" {
		t.Fatalf("status %v, %v", st, err)
	}
	var child int
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "child"))
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the executor did not start its child")
	}
	var s *mesos.ResourceStatistics
	for time.Now().Before(deadline) {
		s, err = m.Usage(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.GetCpusUserTimeSecs()+s.GetCpusSystemTimeSecs() > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.GetCpusUserTimeSecs()+s.GetCpusSystemTimeSecs() == 0 || s.GetMemRssBytes() == 0 || s.GetTimestamp() == 0 {
		t.Errorf("usage %v", s)
	}
	if s.GetCpusSoftLimit() != 0.5 || s.GetMemLimitBytes() != 64<<20 || s.GetMemSoftLimitBytes() != 64<<20 || s.CpusLimit != nil {
		t.Errorf("limits %v", s)
	}
	if err := m.Update(context.Background(), id, []*mesos.Resource{scalar("cpus", 1.5), scalar("mem", 128)}, nil); err != nil {
		t.Fatal(err)
	}
	if s, err := m.Usage(context.Background(), id); err != nil || s.GetCpusSoftLimit() != 1.5 || s.GetMemLimitBytes() != 128<<20 {
		t.Errorf("after update: %v, %v", s, err)
	}
	if err := m.Destroy(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil || term.Status == nil || syscall.WaitStatus(*term.Status).Signal() != syscall.SIGKILL {
		t.Fatalf("wait: %+v, %v", term, err)
	}
	// The child's group is gone once Wait returns.
	if launcher.GroupAlive(child) && !zombieOrGone(child) {
		t.Errorf("the executor's child %d outlived its container", child)
	}
}

func zombieOrGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || strings.Contains(string(b), ") Z ")
}

// Recover re-adopts a running executor by pid (its wait status then
// unknown), forgets one that is gone, and kills the processes in the
// sandboxes that no recovered executor accounts for.
func TestMezzoRecover(t *testing.T) {
	root := t.TempDir()
	sandbox := filepath.Join(root, "slaves", "a", "run1")
	os.MkdirAll(sandbox, 0o755)
	env := map[string]string{"MESOS_SANDBOX": sandbox}
	// What a previous agent left: an executor leading its session, and
	// an orphan in a sandbox.
	exec, err := launcher.Start(launcher.Spec{Command: shell("sleep 300"), Env: env, Dir: sandbox, NewSession: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exec.Kill)
	orphan, err := launcher.Start(launcher.Spec{Command: shell("sleep 300"), Env: env, Dir: sandbox, NewSession: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(orphan.Kill)

	m := NewMezzo(MezzoConfig{Isolators: []Isolator{&posixUsage{name: "posix/mem", mem: true}}, Sandboxes: filepath.Join(root, "slaves")})
	ctx, detach := context.WithCancel(context.Background())
	defer detach()
	live := &mesos.ContainerID{Value: proto.String("live")}
	gone := &mesos.ContainerID{Value: proto.String("gone")}
	err = m.Recover(ctx, []RecoverState{{ID: live, Pid: exec.Pid(), Directory: sandbox}, {ID: gone, Pid: 999999999, Directory: sandbox}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-orphan.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the orphan was not killed")
	}
	if exec.Signal(0) != nil || !launcher.GroupAlive(exec.Pid()) {
		t.Fatal("the recovered executor was killed")
	}
	if st, err := m.Status(context.Background(), live); err != nil || int(st.GetExecutorPid()) != exec.Pid() {
		t.Fatalf("status %v, %v", st, err)
	}
	// The kernel's resident-memory counters of a process that just
	// started may read 0 for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := m.Usage(context.Background(), live)
		if err == nil && s.GetMemRssBytes() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("usage of a recovered container: %v, %v", s, err)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := m.Status(context.Background(), gone); !errors.Is(err, ErrUnknownContainer) {
		t.Fatalf("status of a gone container: %v", err)
	}
	if err := m.Destroy(context.Background(), live); err != nil {
		t.Fatal(err)
	}
	term, err := m.Wait(waitCtx(t), live)
	if err != nil || term.Status != nil {
		t.Fatalf("wait: %+v, %v (an adopted executor's status is unknown)", term, err)
	}
}

// limitingIsolator reports a limitation for every container it watches.
type limitingIsolator struct {
	filesystemPosix
	ch chan Limitation
}

func (l limitingIsolator) Name() string                               { return "test/limit" }
func (l limitingIsolator) Watch(*mesos.ContainerID) <-chan Limitation { return l.ch }

// A limitation an isolator reports destroys the container, and its
// termination carries the reason.
func TestMezzoLimitation(t *testing.T) {
	l := limitingIsolator{ch: make(chan Limitation, 1)}
	m := newTestMezzo(t, l)
	id := &mesos.ContainerID{Value: proto.String("oom")}
	if _, err := m.Launch(context.Background(), id, Config{Command: shell("sleep 300"), Directory: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	l.ch <- Limitation{Reason: mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY, Message: "Memory limit exceeded"}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil || term.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY ||
		term.State != mesos.TaskState_TASK_FAILED || term.Describe() != "Memory limit exceeded" {
		t.Fatalf("wait: %+v, %v", term, err)
	}
}
