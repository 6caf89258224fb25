package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// requireDocker skips a test when no Docker engine answers, unless the
// test runs as root or in CI, where Docker is part of the test machine
// and its absence a failure.
func requireDocker(t testing.TB) {
	t.Helper()
	_, err := os.Stat("/var/run/docker.sock")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, verr := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if verr == nil {
			return
		}
		err = fmt.Errorf("%v: %s", verr, strings.TrimSpace(string(out)))
	}
	if os.Geteuid() == 0 || os.Getenv("CI") != "" {
		t.Fatalf("Docker engine needed (/var/run/docker.sock): %v", err)
	}
	t.Skipf("Docker engine not available (/var/run/docker.sock): %v", err)
}

var dockerImage struct {
	once sync.Once
	tag  string
	err  error
}

// testImage builds the tests' image once: FROM scratch with the static
// program e2e/testdata/dockertask at /task, tagged by the program's hash
// (an image already present is reused).
func testImage(t testing.TB) string {
	t.Helper()
	dockerImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "mezzo-docker-image-")
		if err != nil {
			dockerImage.err = err
			return
		}
		defer os.RemoveAll(dir)
		build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "task"), "./testdata/dockertask")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			dockerImage.err = fmt.Errorf("build dockertask: %v\n%s", err, out)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, "task"))
		if err != nil {
			dockerImage.err = err
			return
		}
		dockerfile := "FROM scratch\nCOPY task /task\nCOPY task /bin/sh\n"
		tag := fmt.Sprintf("mezzo-test-task:%x", sha256.Sum256(append(b, dockerfile...)))[:len("mezzo-test-task:")+12]
		if exec.Command("docker", "image", "inspect", tag).Run() == nil {
			dockerImage.tag = tag
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			dockerImage.err = err
			return
		}
		if out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
			dockerImage.err = fmt.Errorf("docker build: %v\n%s", err, out)
			return
		}
		dockerImage.tag = tag
	})
	if dockerImage.err != nil {
		t.Fatal(dockerImage.err)
	}
	return dockerImage.tag
}

// dockerFramework launches the tasks a test gives it, each on the next
// offer, and records their updates.
type dockerFramework struct {
	client *scheduler.Client
	offers chan *mesos.Offer

	mu      sync.Mutex
	updates map[string][]*mesos.TaskStatus
}

func newDockerFramework(t *testing.T, master string, checkpoint bool) *dockerFramework {
	fw := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("docker-e2e"),
		FailoverTimeout: proto.Float64(300), Checkpoint: proto.Bool(checkpoint),
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}}
	f := &dockerFramework{offers: make(chan *mesos.Offer), updates: map[string][]*mesos.TaskStatus{}}
	f.client = scheduler.New(scheduler.Config{Master: master, Framework: fw, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
			switch ev.GetType() {
			case schedpb.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					// An offer goes to a waiting launch, else back.
					select {
					case f.offers <- o:
					default:
						f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(0.5)})
					}
				}
			case schedpb.Event_UPDATE:
				s := ev.GetUpdate().GetStatus()
				f.mu.Lock()
				f.updates[s.GetTaskId().GetValue()] = append(f.updates[s.GetTaskId().GetValue()], s)
				f.mu.Unlock()
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// launch launches the tasks made from the next offer, all on it.
func (f *dockerFramework) launch(t *testing.T, build func(o *mesos.Offer) []*mesos.TaskInfo) *mesos.Offer {
	t.Helper()
	select {
	case o := <-f.offers:
		tasks := build(o)
		for _, task := range tasks {
			task.AgentId = o.GetAgentId()
		}
		if err := f.client.Launch(context.Background(), o.GetId(), tasks...); err != nil {
			t.Fatal(err)
		}
		return o
	case <-time.After(30 * time.Second):
		t.Fatal("no offer within 30s")
	}
	return nil
}

// wait waits for an update of task satisfying ok.
func (f *dockerFramework) wait(t *testing.T, task, what string, ok func(*mesos.TaskStatus) bool) *mesos.TaskStatus {
	t.Helper()
	var got *mesos.TaskStatus
	waitFor(t, 60*time.Second, task+": "+what, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		var seen []string
		for _, s := range f.updates[task] {
			if ok(s) {
				got = s
				return nil
			}
			seen = append(seen, fmt.Sprintf("%v/%v %q", s.GetState(), s.GetReason(), s.GetMessage()))
		}
		return fmt.Errorf("updates so far: %v", seen)
	})
	return got
}

func (f *dockerFramework) waitState(t *testing.T, task string, state mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	return f.wait(t, task, state.String(), func(s *mesos.TaskStatus) bool { return s.GetState() == state })
}

func (f *dockerFramework) states(task string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.updates[task] {
		if len(s.GetUuid()) > 0 {
			out = append(out, s.GetState().String())
		}
	}
	return out
}

// dockerTask is a command task running /task with steps in image.
func dockerTask(id, image string, steps ...string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
		Command: &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/task"), Arguments: steps},
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
			Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String(image), Network: mesos.ContainerInfo_DockerInfo_HOST.Enum()}},
		Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)},
	}
}

func portResource(p uint64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Role: proto.String("*"),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(p), End: proto.Uint64(p)}}}}
}

// offeredPorts are the first n ports of an offer.
func offeredPorts(t *testing.T, o *mesos.Offer, n int) []uint64 {
	t.Helper()
	var out []uint64
	for _, r := range o.GetResources() {
		for _, rg := range r.GetRanges().GetRange() {
			for p := rg.GetBegin(); p <= rg.GetEnd() && len(out) < n; p++ {
				out = append(out, p)
			}
		}
	}
	if len(out) < n {
		t.Fatalf("offer has %d ports, want %d", len(out), n)
	}
	return out
}

// containerExists reports whether a container of that name exists
// (running or not).
func containerExists(t *testing.T, name string) bool {
	out, _ := run(t, 30*time.Second, "docker", "ps", "-a", "--filter", "name=^/"+name+"$", "--format", "{{.Names}}")
	return strings.TrimSpace(out) == name
}

// containerRunning reports whether the container runs.
func containerRunning(t *testing.T, name string) bool {
	out, code := run(t, 30*time.Second, "docker", "inspect", "--format", "{{.State.Running}}", name)
	return code == 0 && strings.TrimSpace(out) == "true"
}

// agentContainerID is the container id of an executor's latest run.
func agentContainerID(t *testing.T, agentWork, executor string) string {
	t.Helper()
	var id string
	waitFor(t, 30*time.Second, "sandbox of "+executor, func() error {
		runs := uniquePaths(filepath.Join(agentWork, "slaves", "*", "frameworks", "*", "executors", executor, "runs", "latest"))
		if len(runs) != 1 {
			return fmt.Errorf("runs %v", runs)
		}
		id = filepath.Base(runs[0])
		return nil
	})
	return id
}

func sandboxOf(t *testing.T, agentWork, executor string) string {
	t.Helper()
	runs := uniquePaths(filepath.Join(agentWork, "slaves", "*", "frameworks", "*", "executors", executor, "runs", "latest"))
	if len(runs) != 1 {
		t.Fatalf("sandboxes of %s: %v", executor, runs)
	}
	return runs[0]
}

// removeAgentContainers removes, when the test ends, the containers an
// agent with that work directory left.
func removeAgentContainers(t *testing.T, agentWork string) {
	t.Cleanup(func() {
		out, _ := run(t, 30*time.Second, "docker", "ps", "-aq", "--filter", "label=org.mezzo.work_dir="+agentWork)
		if ids := strings.Fields(out); len(ids) > 0 {
			run(t, 60*time.Second, "docker", append([]string{"rm", "-f"}, ids...)...)
		}
	})
}

const dockerAgentResources = "cpus:4;mem:4096;disk:1024;ports:[31000-31100]"

// TestDockerTasks runs command tasks in Docker containers through
// `mezzo agent --containerizers=docker,mesos`: output in the sandbox
// (stdout and stderr), Mesos' environment of a Docker task, a shell
// command, an exit code, a read-only volume, and an image that cannot be
// had.
func TestDockerTasks(t *testing.T) {
	requireDocker(t)
	image := testImage(t)
	c := startClusterWith(t, 1, dockerAgentResources, "--containerizers=docker,mesos", "--docker_remove_delay=0secs")
	agentWork := filepath.Join(c.work, "agent0")
	removeAgentContainers(t, agentWork)
	fw := newDockerFramework(t, c.master, false)

	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "f"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := "mezzo-no-such-image:never"
	fw.launch(t, func(o *mesos.Offer) []*mesos.TaskInfo {
		hello := dockerTask("hello", image, "print", "hello from docker", "env", "MESOS_SANDBOX", "env", "MESOS_CONTAINER_NAME",
			"env", "FOO", "env", "MESOS_FRAMEWORK_ID", "eprint", "to stderr")
		hello.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: proto.String("FOO"), Value: proto.String("bar")}}}
		three := dockerTask("three", image, "exit", "3")
		ro := dockerTask("readonly", image, "cat", "/data/f", "write", "/data/g")
		ro.Container.Volumes = []*mesos.Volume{{HostPath: proto.String(vol), ContainerPath: proto.String("/data"), Mode: mesos.Volume_RO.Enum()}}

		absent := dockerTask("absent", missing, "print", "never")
		// A shell command: /bin/sh -c value replaces the entrypoint.
		shell := dockerTask("shell", image)
		shell.Command = &mesos.CommandInfo{Value: proto.String("print via-shell")}
		return []*mesos.TaskInfo{hello, three, ro, absent, shell}
	})

	// hello: FINISHED, its output in the sandbox.
	fw.waitState(t, "hello", mesos.TaskState_TASK_FINISHED)
	if got, want := fw.states("hello"), []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}; !equalStrings(got, want) {
		t.Errorf("hello: updates %v, want %v", got, want)
	}
	helloSandbox := sandboxOf(t, agentWork, "hello")
	helloID := filepath.Base(helloSandbox)
	stdout, _ := os.ReadFile(filepath.Join(helloSandbox, "stdout"))
	// Mesos' environment of a Docker task: the command's, MESOS_SANDBOX
	// and MESOS_CONTAINER_NAME, not the executor's MESOS_* variables.
	for _, want := range []string{"hello from docker", "MESOS_SANDBOX=/mnt/mesos/sandbox", "MESOS_CONTAINER_NAME=mesos-" + helloID,
		"FOO=bar", "MESOS_FRAMEWORK_ID=\n"} {
		if !strings.Contains(string(stdout), want) {
			t.Errorf("hello: stdout lacks %q:\n%s", want, stdout)
		}
	}
	if stderr, _ := os.ReadFile(filepath.Join(helloSandbox, "stderr")); !strings.Contains(string(stderr), "to stderr") {
		t.Errorf("hello: stderr lacks the task's line:\n%s", stderr)
	}

	fw.waitState(t, "shell", mesos.TaskState_TASK_FINISHED)
	if b, _ := os.ReadFile(filepath.Join(sandboxOf(t, agentWork, "shell"), "stdout")); !strings.Contains(string(b), "via-shell") {
		t.Errorf("shell: stdout %q", b)
	}

	// three: TASK_FAILED with its exit code.
	s := fw.waitState(t, "three", mesos.TaskState_TASK_FAILED)
	if !strings.Contains(s.GetMessage(), "status 3") {
		t.Errorf("three: message %q, want the exit status 3", s.GetMessage())
	}

	// readonly: the file is read, the write fails (exit 4).
	s = fw.waitState(t, "readonly", mesos.TaskState_TASK_FAILED)
	if !strings.Contains(s.GetMessage(), "status 4") {
		t.Errorf("readonly: message %q, want exit status 4 (the write refused)", s.GetMessage())
	}
	roSandbox := sandboxOf(t, agentWork, "readonly")
	if b, _ := os.ReadFile(filepath.Join(roSandbox, "stdout")); !strings.Contains(string(b), "from the host") {
		t.Errorf("readonly: stdout %q lacks the volume's file", b)
	}
	if b, _ := os.ReadFile(filepath.Join(roSandbox, "stderr")); !strings.Contains(string(b), "read-only file system") {
		t.Errorf("readonly: stderr %q lacks the refused write", b)
	}
	if _, err := os.Stat(filepath.Join(vol, "g")); err == nil {
		t.Error("readonly: the container wrote into a read-only volume")
	}

	// absent: TASK_FAILED naming the image, fast.
	s = fw.waitState(t, "absent", mesos.TaskState_TASK_FAILED)
	if !strings.Contains(s.GetMessage(), missing) || s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED {
		t.Errorf("absent: %v %q, want REASON_CONTAINER_LAUNCH_FAILED naming %s", s.GetReason(), s.GetMessage(), missing)
	}
	starting := fw.waitState(t, "absent", mesos.TaskState_TASK_STARTING)
	if took := s.GetTimestamp() - starting.GetTimestamp(); took > 10 {
		t.Errorf("absent: failed %.1fs after TASK_STARTING; a missing image must fail fast", took)
	}
}

// TestDockerTaskNetworks runs Docker tasks on a bridge network with a
// port mapping (reachable on the host port, an HTTP health check at the
// container's address, a COMMAND check run inside the container) and on
// a named network (a TCP health check), checks a task's CPU shares and
// memory limit, its statistics in /monitor/statistics, and a kill that
// leaves no container.
func TestDockerTaskNetworks(t *testing.T) {
	requireDocker(t)
	image := testImage(t)
	c := startClusterWith(t, 1, dockerAgentResources, "--containerizers=docker,mesos", "--docker_remove_delay=0secs")
	agentWork := filepath.Join(c.work, "agent0")
	removeAgentContainers(t, agentWork)
	fw := newDockerFramework(t, c.master, false)

	userNet := fmt.Sprintf("mezzo-e2e-%d", time.Now().UnixNano())
	if out, code := run(t, 60*time.Second, "docker", "network", "create", userNet); code != 0 {
		t.Fatalf("docker network create: %s", out)
	}
	t.Cleanup(func() {
		out, _ := run(t, 30*time.Second, "docker", "ps", "-aq", "--filter", "network="+userNet)
		if ids := strings.Fields(out); len(ids) > 0 {
			run(t, 60*time.Second, "docker", append([]string{"rm", "-f"}, ids...)...)
		}
		run(t, 60*time.Second, "docker", "network", "rm", userNet)
	})
	var hostPort uint64
	fw.launch(t, func(o *mesos.Offer) []*mesos.TaskInfo {
		ports := offeredPorts(t, o, 1)
		hostPort = ports[0]

		sleeper := dockerTask("sleeper", image, "sleep", "600")

		bridge := dockerTask("bridge", image, "serve", "8080", "sleep", "600")
		bridge.Container.Docker.Network = mesos.ContainerInfo_DockerInfo_BRIDGE.Enum()
		bridge.Container.Docker.PortMappings = []*mesos.ContainerInfo_DockerInfo_PortMapping{
			{HostPort: proto.Uint32(uint32(ports[0])), ContainerPort: proto.Uint32(8080)}}
		bridge.Resources = append(bridge.Resources, portResource(ports[0]))
		// Health checks: an HTTP one reaching the container on its
		// bridge address, a COMMAND one run inside it.
		bridge.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(),
			Http:            &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(8080), Path: proto.String("/")},
			IntervalSeconds: proto.Float64(0.5), DelaySeconds: proto.Float64(0), GracePeriodSeconds: proto.Float64(30)}
		bridge.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(),
			Command: &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{Shell: proto.Bool(false),
				Value: proto.String("/task"), Arguments: []string{"task", "exit", "7"}}},
			IntervalSeconds: proto.Float64(0.5), DelaySeconds: proto.Float64(0)}

		// A named (USER) network, checked healthy by TCP at its address
		// there.
		user := dockerTask("usernet", image, "serve", "8082", "sleep", "600")
		user.Container.Docker.Network = mesos.ContainerInfo_DockerInfo_USER.Enum()
		user.Container.NetworkInfos = []*mesos.NetworkInfo{{Name: proto.String(userNet)}}
		user.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(),
			Tcp:             &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(8082)},
			IntervalSeconds: proto.Float64(0.5), GracePeriodSeconds: proto.Float64(30)}
		return []*mesos.TaskInfo{sleeper, bridge, user}
	})

	// bridge: reachable on the host port; healthy through its HTTP
	// health check; its COMMAND check ran in the container (exit 7).
	fw.waitState(t, "bridge", mesos.TaskState_TASK_RUNNING)
	waitFor(t, 20*time.Second, "the bridge task on its host port", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", hostPort))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "ok" {
			return fmt.Errorf("answer %q", b)
		}
		return nil
	})
	fw.wait(t, "bridge", "healthy", func(s *mesos.TaskStatus) bool { return s.Healthy != nil && s.GetHealthy() })
	fw.wait(t, "bridge", "check exit code 7", func(s *mesos.TaskStatus) bool {
		return s.GetCheckStatus().GetCommand().GetExitCode() == 7
	})

	// usernet: on the named network, healthy by TCP.
	fw.wait(t, "usernet", "healthy", func(s *mesos.TaskStatus) bool { return s.Healthy != nil && s.GetHealthy() })
	userName := "mesos-" + agentContainerID(t, agentWork, "usernet")
	if out, _ := run(t, 30*time.Second, "docker", "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", userName); strings.TrimSpace(out) != userNet {
		t.Errorf("usernet: container networks %q, want %s", out, userNet)
	}
	if err := fw.client.Kill(context.Background(), &mesos.TaskID{Value: proto.String("usernet")}, nil); err != nil {
		t.Fatal(err)
	}
	fw.waitState(t, "usernet", mesos.TaskState_TASK_KILLED)

	// sleeper: its resources as CPU shares and memory limit; killed, its
	// container gone.
	fw.waitState(t, "sleeper", mesos.TaskState_TASK_RUNNING)
	sleeperName := "mesos-" + agentContainerID(t, agentWork, "sleeper")
	if !containerRunning(t, sleeperName) {
		t.Fatalf("container %s is not running", sleeperName)
	}
	if out, _ := run(t, 30*time.Second, "docker", "inspect", "--format", "{{.HostConfig.CpuShares}} {{.HostConfig.Memory}}", sleeperName); strings.TrimSpace(out) != "102 33554432" {
		t.Errorf("sleeper: cpu shares and memory %q, want 102 (0.1 cpus) and 32 MB", out)
	}
	if err := fw.client.Kill(context.Background(), &mesos.TaskID{Value: proto.String("sleeper")}, nil); err != nil {
		t.Fatal(err)
	}
	fw.waitState(t, "sleeper", mesos.TaskState_TASK_KILLED)
	waitFor(t, 30*time.Second, "container "+sleeperName+" removed", func() error {
		if containerExists(t, sleeperName) {
			return errors.New("still there")
		}
		return nil
	})
	// Usage through the Docker API, in /monitor/statistics.
	var stats []struct {
		ExecutorID string `json:"executor_id"`
		Statistics struct {
			MemTotalBytes float64 `json:"mem_total_bytes"`
			MemLimitBytes float64 `json:"mem_limit_bytes"`
			CpusLimit     float64 `json:"cpus_limit"`
		} `json:"statistics"`
	}
	agentAddr := agentAddress(t, c.agents[0])
	waitFor(t, 20*time.Second, "statistics of the bridge task", func() error {
		if err := getJSON("http://"+agentAddr+"/monitor/statistics", &stats); err != nil {
			return err
		}
		for _, s := range stats {
			if s.ExecutorID == "bridge" && s.Statistics.MemTotalBytes > 0 && s.Statistics.CpusLimit > 0 {
				return nil
			}
		}
		return fmt.Errorf("statistics %+v", stats)
	})
	if err := fw.client.Kill(context.Background(), &mesos.TaskID{Value: proto.String("bridge")}, nil); err != nil {
		t.Fatal(err)
	}
	fw.waitState(t, "bridge", mesos.TaskState_TASK_KILLED)
}

// agentAddress is the host:port an agent started by startCluster
// listens on.
func agentAddress(t *testing.T, p *proc) string {
	t.Helper()
	for _, a := range p.cmd.Args {
		if v, ok := strings.CutPrefix(a, "--port="); ok {
			return "127.0.0.1:" + v
		}
	}
	t.Fatal("agent has no --port")
	return ""
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDockerAgentRestart kills (SIGKILL) an agent under a Docker task of
// a checkpointing framework and restarts it: the container keeps
// running, the restarted agent recovers its executor (the task is
// reconciled RUNNING) and the task finishes through it. An orphan
// container labelled with the agent's work directory is removed when the
// agent starts.
func TestDockerAgentRestart(t *testing.T) {
	requireDocker(t)
	image := testImage(t)
	c := startClusterWith(t, 1, dockerAgentResources, "--containerizers=docker,mesos", "--docker_remove_delay=0secs")
	agentWork := filepath.Join(c.work, "agent0")
	removeAgentContainers(t, agentWork)
	fw := newDockerFramework(t, c.master, true)
	fw.launch(t, func(*mesos.Offer) []*mesos.TaskInfo {
		return []*mesos.TaskInfo{dockerTask("survivor", image, "until", "/mnt/mesos/sandbox/stop", "print", "stopped")}
	})
	fw.waitState(t, "survivor", mesos.TaskState_TASK_RUNNING)
	name := "mesos-" + agentContainerID(t, agentWork, "survivor")
	sandbox := sandboxOf(t, agentWork, "survivor")
	// A framework that does not checkpoint: its task dies with the agent.
	mortal := newDockerFramework(t, c.master, false)
	mortal.launch(t, func(*mesos.Offer) []*mesos.TaskInfo {
		return []*mesos.TaskInfo{dockerTask("mortal", image, "sleep", "600")}
	})
	mortal.waitState(t, "mortal", mesos.TaskState_TASK_RUNNING)
	mortalName := "mesos-" + agentContainerID(t, agentWork, "mortal")

	old := c.agents[0]
	args := old.cmd.Args[1:]
	if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-old.done
	if !containerRunning(t, name) {
		t.Fatal("the task's container died with the agent")
	}
	waitFor(t, 30*time.Second, "the non-checkpointing task's container stopped with the agent", func() error {
		if containerRunning(t, mortalName) {
			return errors.New("still running")
		}
		return nil
	})
	// An orphan: a container of this agent no checkpoint lists.
	orphan := fmt.Sprintf("mesos-orphan-%d", time.Now().UnixNano())
	if out, code := run(t, 60*time.Second, "docker", "run", "-d", "--name", orphan,
		"--label", "org.mezzo.work_dir="+agentWork, "--label", "org.mezzo.container_id=orphan",
		image, "/task", "sleep", "600"); code != 0 {
		t.Fatalf("docker run: %s", out)
	}
	t.Cleanup(func() { run(t, 60*time.Second, "docker", "rm", "-f", orphan) })

	before := len(fw.states("survivor"))
	restarted := start(t, "agent0-restarted", args...)
	waitFor(t, 30*time.Second, "orphans removed", func() error {
		if containerExists(t, orphan) || containerExists(t, mortalName) {
			return errors.New("still there")
		}
		return nil
	})
	if err := fw.client.Reconcile(context.Background(), &schedpb.Call_Reconcile_Task{
		TaskId: &mesos.TaskID{Value: proto.String("survivor")}}); err != nil {
		t.Fatal(err)
	}
	rec := fw.wait(t, "survivor", "reconciliation", func(s *mesos.TaskStatus) bool {
		return s.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION
	})
	if rec.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("reconciled as %v, want TASK_RUNNING", rec.GetState())
	}
	if !containerRunning(t, name) {
		t.Fatal("the task's container is not running after the restart")
	}
	if out := restarted.out.String(); !strings.Contains(out, `msg="recovered a Docker executor"`) {
		t.Errorf("the Docker containerizer did not recover the executor:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fw.waitState(t, "survivor", mesos.TaskState_TASK_FINISHED)
	if got, want := fw.states("survivor"), []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}; !equalStrings(got, want) {
		t.Errorf("updates %v (%d before the restart), want %v", got, before, want)
	}
	if b, _ := os.ReadFile(filepath.Join(sandbox, "stdout")); !strings.Contains(string(b), "stopped") {
		t.Errorf("stdout %q", b)
	}
	waitFor(t, 30*time.Second, "container "+name+" removed", func() error {
		if containerExists(t, name) {
			return errors.New("still there")
		}
		return nil
	})
}

// TestDockerAgentNeedsEngine: an agent with the Docker containerizer and
// no engine at --docker_socket refuses to start, naming the socket.
func TestDockerAgentNeedsEngine(t *testing.T) {
	work := t.TempDir()
	sock := filepath.Join(work, "no-docker.sock")
	out, code := run(t, 60*time.Second, bin.mezzo, "agent", "--master=127.0.0.1:1", "--ip=127.0.0.1", "--port=0",
		"--work_dir="+work, "--containerizers=docker,mesos", "--docker_socket="+sock)
	if code == 0 || !strings.Contains(out, sock) {
		t.Fatalf("exit %d, output:\n%s\nwant a failure naming %s", code, out, sock)
	}
	out, code = run(t, 60*time.Second, bin.mezzo, "agent", "--master=127.0.0.1:1", "--work_dir="+work, "--docker_mesos_image=mesos:1")
	if code == 0 || !strings.Contains(out, "--docker_mesos_image") {
		t.Fatalf("exit %d, output:\n%s\nwant --docker_mesos_image refused", code, out)
	}
}

// TestDockerCustomExecutor runs a custom executor of a checkpointing
// framework in a Docker container (ExecutorInfo.container DOCKER, network
// HOST): examples/echo-executor, built static and mounted into the test
// image, reaches the agent's executor API through MESOS_AGENT_ENDPOINT
// and runs its task inside the container. The agent is killed and
// restarted under it: the containerizer recovers the container by its
// labels, the executor re-subscribes, the task finishes, its output (from
// before and after the restart) is in the sandbox, and the container is
// removed once the executor exits.
func TestDockerCustomExecutor(t *testing.T) {
	requireDocker(t)
	image := testImage(t)
	execBin := filepath.Join(t.TempDir(), "echo-executor")
	build := exec.Command("go", "build", "-o", execBin, "../examples/echo-executor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build echo-executor: %v\n%s", err, out)
	}
	c := startClusterWith(t, 1, dockerAgentResources, "--containerizers=docker,mesos", "--docker_remove_delay=0secs")
	agentWork := filepath.Join(c.work, "agent0")
	removeAgentContainers(t, agentWork)
	fw := newDockerFramework(t, c.master, true)
	fw.launch(t, func(*mesos.Offer) []*mesos.TaskInfo {
		ex := &mesos.ExecutorInfo{
			Type:       mesos.ExecutorInfo_CUSTOM.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("dockerex")},
			Command:    &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/echo-executor")},
			Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
				Docker:  &mesos.ContainerInfo_DockerInfo{Image: proto.String(image), Network: mesos.ContainerInfo_DockerInfo_HOST.Enum()},
				Volumes: []*mesos.Volume{{HostPath: proto.String(execBin), ContainerPath: proto.String("/echo-executor"), Mode: mesos.Volume_RO.Enum()}}},
			Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)},
		}
		// The executor runs its task's data with /bin/sh -c (the test
		// program's steps) in its sandbox.
		task := &mesos.TaskInfo{Name: proto.String("inside"), TaskId: &mesos.TaskID{Value: proto.String("inside")}, Executor: ex,
			Data:      []byte("print ran-inside env MESOS_SANDBOX until stop print stopped"),
			Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)}}
		return []*mesos.TaskInfo{task}
	})
	fw.waitState(t, "inside", mesos.TaskState_TASK_RUNNING)
	sandbox := sandboxOf(t, agentWork, "dockerex")
	name := "mesos-" + filepath.Base(sandbox)
	waitFor(t, 20*time.Second, "the task's first output", func() error {
		if b, _ := os.ReadFile(filepath.Join(sandbox, "stdout")); !strings.Contains(string(b), "ran-inside") {
			return fmt.Errorf("stdout %q", b)
		}
		return nil
	})

	old := c.agents[0]
	args := old.cmd.Args[1:]
	if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-old.done
	restarted := start(t, "agent0-restarted", args...)
	waitFor(t, 30*time.Second, "executor re-subscribed", func() error {
		if out := restarted.out.String(); !strings.Contains(out, `msg="executor subscribed"`) || !strings.Contains(out, "recovered=true") {
			return errors.New("not yet")
		}
		return nil
	})
	if out := restarted.out.String(); !strings.Contains(out, `msg="recovered an executor's container"`) {
		t.Errorf("the Docker containerizer did not recover the container:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fw.waitState(t, "inside", mesos.TaskState_TASK_FINISHED)
	waitFor(t, 60*time.Second, "executor container "+name+" removed", func() error {
		if containerExists(t, name) {
			return errors.New("still there")
		}
		return nil
	})
	b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
	for _, want := range []string{"ran-inside", "MESOS_SANDBOX=/mnt/mesos/sandbox", "stopped"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("stdout lacks %q:\n%s", want, b)
		}
	}
}

// dockerProxy forwards a Unix socket of its own to the Docker engine's,
// until cut: the engine then looks gone to whoever uses the proxy.
type dockerProxy struct {
	path string
	l    net.Listener

	mu    sync.Mutex
	conns []net.Conn
}

func newDockerProxy(t *testing.T) *dockerProxy {
	p := &dockerProxy{path: filepath.Join(t.TempDir(), "docker.sock")}
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.l = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

// cut stops accepting and closes every forwarded connection.
func (p *dockerProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDockerEngineDown: when the engine stops answering after the agent
// started, Docker tasks end TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED
// naming the socket, and the agent keeps running other tasks.
func TestDockerEngineDown(t *testing.T) {
	requireDocker(t)
	image := testImage(t)
	proxy := newDockerProxy(t)
	c := startClusterWith(t, 1, dockerAgentResources, "--containerizers=docker,mesos", "--docker_socket="+proxy.path)
	removeAgentContainers(t, filepath.Join(c.work, "agent0"))
	proxy.cut()
	fw := newDockerFramework(t, c.master, false)
	fw.launch(t, func(*mesos.Offer) []*mesos.TaskInfo {
		plain := &mesos.TaskInfo{Name: proto.String("plain"), TaskId: &mesos.TaskID{Value: proto.String("plain")},
			Command:   &mesos.CommandInfo{Value: proto.String("echo still here")},
			Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)}}
		return []*mesos.TaskInfo{dockerTask("indocker", image, "print", "never"), plain}
	})
	s := fw.waitState(t, "indocker", mesos.TaskState_TASK_FAILED)
	if s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(s.GetMessage(), proxy.path) {
		t.Errorf("indocker: %v %q, want REASON_CONTAINER_LAUNCH_FAILED naming %s", s.GetReason(), s.GetMessage(), proxy.path)
	}
	fw.waitState(t, "plain", mesos.TaskState_TASK_FINISHED)
}
