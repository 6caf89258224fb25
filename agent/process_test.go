package agent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

func sandboxOf(t *testing.T, a *Agent, fwID, exID string) string {
	t.Helper()
	p := filepath.Join(a.cfg.WorkDir, "slaves", a.ID(), "frameworks", fwID, "executors", exID, "runs", "latest")
	dir, err := os.Readlink(p)
	if err != nil {
		t.Fatalf("runs/latest: %v", err)
	}
	return dir
}

func TestCommandTaskFinishes(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "echo hello; echo oops >&2"), nil))
	got := m.waitState(t, "t1", mesos.TaskState_TASK_FINISHED)
	if want := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}; !slices.Equal(states(got), want) {
		t.Fatalf("states %v, want %v", states(got), want)
	}
	for _, s := range got {
		if len(s.GetUuid()) != 16 || s.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR || s.GetAgentId().GetValue() != "M1-S0" {
			t.Errorf("bad status %v", s)
		}
		cs := s.GetContainerStatus()
		if cs.GetContainerId().GetValue() == "" || len(cs.GetNetworkInfos()) != 1 ||
			cs.GetNetworkInfos()[0].GetIpAddresses()[0].GetIpAddress() != "127.0.0.1" {
			t.Errorf("container_status %v", cs)
		}
	}
	sb := sandboxOf(t, a, "F1", "t1")
	if !strings.HasSuffix(filepath.Dir(sb), filepath.Join("frameworks", "F1", "executors", "t1", "runs")) {
		t.Errorf("sandbox %s", sb)
	}
	if b, _ := os.ReadFile(filepath.Join(sb, "stdout")); !strings.Contains(string(b), "hello") {
		t.Errorf("stdout %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(sb, "stderr")); !strings.Contains(string(b), "oops") {
		t.Errorf("stderr %q", b)
	}
	// Everything acknowledged: the agent forgets the framework.
	waitFor(t, 10*time.Second, "framework cleaned up", func() error {
		n := -1
		a.do(func() { n = len(a.st.frameworks) })
		if n != 0 {
			return fmt.Errorf("%d frameworks", n)
		}
		return nil
	})
	// The command executor is the agent's own: the master never heard
	// of it, and its end is not reported.
	if x := m.executorExited("t1"); x != nil {
		t.Errorf("EXECUTOR_EXITED for the command executor: %v", x)
	}
}

func TestCommandTaskFailsWithStatus(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, nil)
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t3", "exit 3"), nil))
	got := m.waitState(t, "t3", mesos.TaskState_TASK_FAILED)
	last := got[len(got)-1]
	if last.GetMessage() != "Command exited with status 3" || last.GetReason() != mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED {
		t.Fatalf("terminal status %v", last)
	}
}

func TestArgvCommandAndEnvironment(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	task := commandTask("argv", "")
	task.Command = &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/sh"),
		Arguments:   []string{"sh", "-c", `test "$FOO" = bar && echo "$0 ok"`, "argv0"},
		Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: proto.String("FOO"), Value: proto.String("bar")}}}}
	m.send(runTask(frameworkInfo("F1", false), nil, task, nil))
	m.waitState(t, "argv", mesos.TaskState_TASK_FINISHED)
	if b, _ := os.ReadFile(filepath.Join(sandboxOf(t, a, "F1", "argv"), "stdout")); !strings.Contains(string(b), "argv0 ok") {
		t.Errorf("stdout %q", b)
	}
}

// envNames reads NAME=value lines and returns the names.
func envNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, _, ok := strings.Cut(sc.Text(), "="); ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

func without(names []string, drop ...string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(drop, n) {
			out = append(out, n)
		}
	}
	return out
}

func TestTaskEnvironmentMatchesMesos(t *testing.T) {
	t.Setenv("LIBPROCESS_IP", "127.0.0.1") // Mesos copies it from the agent's environment
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	m.send(runTask(frameworkInfo("F1", true), nil, commandTask("envtask", "env | sort > task-env.txt"), nil))
	m.waitState(t, "envtask", mesos.TaskState_TASK_FINISHED)
	sb := sandboxOf(t, a, "F1", "envtask")
	got := envNames(t, filepath.Join(sb, "task-env.txt"))
	// Mesos' recording also has what its build and /bin/sh add.
	want := without(envNames(t, "testdata/recorded-task-env.txt"), "BIN_SH", "DUALCASE", "SHLVL", "LD_LIBRARY_PATH")
	got = without(got, "SHLVL", "_", "OLDPWD")
	if !slices.Equal(got, want) {
		t.Fatalf("task environment names\n got %v\nwant %v", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(sb, "task-env.txt"))
	for _, kv := range []string{"MESOS_SANDBOX=" + sb, "MESOS_EXECUTOR_ID=envtask", "MESOS_FRAMEWORK_ID=F1", "MESOS_SLAVE_ID=M1-S0",
		"MESOS_CHECKPOINT=1", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=3secs", "MESOS_RECOVERY_TIMEOUT=15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs", "MESOS_SLAVE_PID=slave(1)@" + a.Endpoint(), "MESOS_AGENT_ENDPOINT=" + a.Endpoint(),
		"MESOS_ALLOCATION_ROLE=*", "LIBPROCESS_PORT=0", "MESOS_HTTP_COMMAND_EXECUTOR=0"} {
		if !strings.Contains(string(b), kv+"\n") {
			t.Errorf("task environment lacks %s:\n%s", kv, b)
		}
	}
}

func pidsAlive(pids []int) error {
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			// A zombie still answers kill(0); check its state.
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(st), ") Z ") {
				return fmt.Errorf("pid %d alive", pid)
			}
		}
	}
	return nil
}

func readPids(t *testing.T, path string) []int {
	var pids []int
	waitFor(t, 10*time.Second, "pid file", func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pids = nil
		for _, f := range strings.Fields(string(b)) {
			p, err := strconv.Atoi(f)
			if err != nil {
				return err
			}
			pids = append(pids, p)
		}
		if len(pids) < 2 {
			return fmt.Errorf("pids %v", pids)
		}
		return nil
	})
	return pids
}

func TestKillTaskKillsProcessGroup(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, nil)
	pidFile := filepath.Join(t.TempDir(), "pids")
	// The task's child ignores SIGTERM, so only the SIGKILL after the grace
	// period takes it down.
	cmd := fmt.Sprintf("(trap '' TERM; sleep 300) & echo $! > %s; echo $$ >> %s; wait", pidFile, pidFile)
	task := commandTask("k1", cmd)
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(300 * time.Millisecond))}}
	m.send(runTask(frameworkInfo("F1", false, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE), nil, task, nil))
	m.waitState(t, "k1", mesos.TaskState_TASK_RUNNING)
	pids := readPids(t, pidFile)
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("k1")}}})
	got := m.waitState(t, "k1", mesos.TaskState_TASK_KILLED)
	if want := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"}; !slices.Equal(states(got), want) {
		t.Errorf("states %v, want %v", states(got), want)
	}
	waitFor(t, 10*time.Second, "task processes gone", func() error { return pidsAlive(pids) })
}

func TestKillUnknownTask(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, nil)
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F9")}, TaskId: &mesos.TaskID{Value: proto.String("ghost")}}})
	got := m.waitState(t, "ghost", mesos.TaskState_TASK_LOST)
	if got[0].GetSource() != mesos.TaskStatus_SOURCE_AGENT || len(got[0].GetUuid()) != 16 {
		t.Fatalf("status %v", got[0])
	}
}

func TestShutdownExecutorAndCloseLeaveNoProcess(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	dir := t.TempDir()
	for _, id := range []string{"s1", "s2"} {
		pidFile := filepath.Join(dir, id)
		m.send(runTask(frameworkInfo("F1", false), nil, commandTask(id, fmt.Sprintf("sleep 300 & echo $! > %s; echo $$ >> %s; wait", pidFile, pidFile)), nil))
		m.waitState(t, id, mesos.TaskState_TASK_RUNNING)
	}
	p1, p2 := readPids(t, filepath.Join(dir, "s1")), readPids(t, filepath.Join(dir, "s2"))
	var exPid int
	a.do(func() { exPid = a.st.frameworks["F1"].executors["s1"].launched.pid })
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_SHUTDOWN_EXECUTOR.Enum(), ShutdownExecutor: &agentproto.AgentEvent_ShutdownExecutor{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, ExecutorId: &mesos.ExecutorID{Value: proto.String("s1")}}})
	m.waitState(t, "s1", mesos.TaskState_TASK_KILLED)
	waitFor(t, 10*time.Second, "s1 processes gone", func() error { return pidsAlive(append(p1, exPid)) })
	// Close kills the rest.
	a.Close()
	waitFor(t, 10*time.Second, "s2 processes gone", func() error { return pidsAlive(p2) })
}

func TestFetchFailureFailsTask(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, nil)
	task := commandTask("f1", "true")
	missing := filepath.Join(t.TempDir(), "no-such-file.tgz")
	task.Command.Uris = []*mesos.CommandInfo_URI{{Value: proto.String(missing)}}
	m.send(runTask(frameworkInfo("F1", false), nil, task, nil))
	got := m.waitState(t, "f1", mesos.TaskState_TASK_FAILED)
	s := got[len(got)-1]
	if s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(s.GetMessage(), missing) || s.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Fatalf("status %v", s)
	}
}

func TestRegistrationTimeout(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, func(c *Config) { c.ExecutorRegistrationTimeout = 300 * time.Millisecond })
	ex := &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("silent")},
		Command: &mesos.CommandInfo{Value: proto.String("sleep 300")}}
	task := commandTask("r1", "")
	task.Command = nil
	task.Executor = ex
	m.send(runTask(frameworkInfo("F1", false), ex, task, nil))
	got := m.waitState(t, "r1", mesos.TaskState_TASK_FAILED)
	if s := got[0]; s.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT || s.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Fatalf("status %v", s)
	}
}

func TestTaskGroupUnderDefaultExecutor(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	g1, g2 := commandTask("g1", "echo one > out.txt"), commandTask("g2", "echo two > out.txt")
	ex := &mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String("default-ex")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}}
	m.send(runTask(frameworkInfo("F1", false), ex, nil, &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{g1, g2}}))
	for _, id := range []string{"g1", "g2"} {
		got := m.waitState(t, id, mesos.TaskState_TASK_FINISHED)
		if want := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}; !slices.Equal(states(got), want) {
			t.Errorf("%s: states %v, want %v", id, states(got), want)
		}
	}
	sb := sandboxOf(t, a, "F1", "default-ex")
	for id, want := range map[string]string{"g1": "one\n", "g2": "two\n"} {
		if b, _ := os.ReadFile(filepath.Join(sb, "tasks", id, "out.txt")); string(b) != want {
			t.Errorf("%s wrote %q", id, b)
		}
	}
}

func TestCustomPythonExecutor(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("python3 is needed (Debian package python3): %v", err)
	}
	t.Setenv("LIBPROCESS_IP", "127.0.0.1")
	src, err := os.ReadFile("testdata/sample_executor.py")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "executor.py")
	os.WriteFile(script, src, 0o644)

	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	ex := &mesos.ExecutorInfo{Type: mesos.ExecutorInfo_CUSTOM.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String("cap-exec")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")},
		Command:     &mesos.CommandInfo{Value: proto.String("python3 executor.py"), Uris: []*mesos.CommandInfo_URI{{Value: proto.String(script)}}},
		Resources:   []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}}
	task := commandTask("cap-task-1", "")
	task.Command, task.Executor = nil, ex
	m.send(runTask(frameworkInfo("F1", true, mesos.FrameworkInfo_Capability_PARTITION_AWARE), ex, task, nil))
	got := m.waitState(t, "cap-task-1", mesos.TaskState_TASK_FINISHED)
	if want := []string{"TASK_RUNNING", "TASK_FINISHED"}; !slices.Equal(states(got), want) {
		t.Fatalf("states %v", states(got))
	}
	if got[0].GetMessage() != "sample TASK_RUNNING" || got[0].GetContainerStatus().GetExecutorPid() == 0 {
		t.Errorf("RUNNING status %v", got[0])
	}
	var exited *agentproto.AgentCall_ExecutorExited
	waitFor(t, 30*time.Second, "executor exit", func() error {
		if exited = m.executorExited("cap-exec"); exited == nil {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if exited.GetStatus() != 0 {
		t.Errorf("executor exit status %d", exited.GetStatus())
	}
	sb := sandboxOf(t, a, "F1", "cap-exec")
	gotEnv := envNames(t, filepath.Join(sb, "executor-env.txt"))
	if want := envNames(t, "testdata/recorded-executor-env.txt"); !slices.Equal(gotEnv, want) {
		t.Errorf("executor environment names\n got %v\nwant %v", gotEnv, want)
	}
	if b, _ := os.ReadFile(filepath.Join(sb, "executor-update-status.txt")); string(b) != "TASK_RUNNING -> HTTP 202\nTASK_FINISHED -> HTTP 202\n" {
		t.Errorf("update status %q", b)
	}
	// The events the executor saw have the recorded shape.
	gotEv := eventShapes(t, filepath.Join(sb, "executor_events_json.jsonl"))
	wantEv := eventShapes(t, "testdata/recorded_executor_events.jsonl")
	if !slices.Equal(gotEv, wantEv) {
		t.Errorf("event shapes\n got %v\nwant %v", gotEv, wantEv)
	}
}

// eventShapes describes each JSON event by its type and the keys of its
// body (and of SUBSCRIBED's parts).
func eventShapes(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		typ := ev["type"].(string)
		shape := typ + ":" + strings.Join(keys(ev), ",")
		if body, ok := ev[strings.ToLower(typ)].(map[string]any); ok {
			shape += " {" + strings.Join(keys(body), ",") + "}"
			if typ == "SUBSCRIBED" {
				for _, k := range []string{"executor_info", "agent_info"} {
					shape += " " + k + "{" + strings.Join(keys(body[k].(map[string]any)), ",") + "}"
				}
			}
		}
		out = append(out, shape)
	}
	return out
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestReregistersAfterLostConnection(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, m, nil)
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("long", "sleep 300"), nil))
	m.waitState(t, "long", mesos.TaskState_TASK_RUNNING)
	m.cutStream()
	reg := m.waitReregistration(t)
	if reg.GetAgentInfo().GetId().GetValue() != "M1-S0" {
		t.Errorf("re-registered without the agent id: %v", reg.GetAgentInfo())
	}
	if len(reg.GetFrameworks()) != 1 || len(reg.GetTasks()) != 1 || reg.GetTasks()[0].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("re-registration reported frameworks %v tasks %v", reg.GetFrameworks(), reg.GetTasks())
	}
}

// A task that ended before it reached an executor (here: with neither
// executor nor command) is in no executor, but its update waits for the
// acknowledgement: a re-registration reports it, with that update's
// state, so the master does not end it a second time.
func TestReregistrationReportsTaskOutsideExecutors(t *testing.T) {
	m := newFakeMaster(t)
	m.mu.Lock()
	m.autoAck = false
	m.mu.Unlock()
	startAgent(t, m, nil)
	bad := commandTask("bad", "true")
	bad.Command = nil
	m.send(runTask(frameworkInfo("F1", false), nil, bad, nil))
	m.waitState(t, "bad", mesos.TaskState_TASK_ERROR)
	m.cutStream()
	reg := m.waitReregistration(t)
	if len(reg.GetTasks()) != 1 {
		t.Fatalf("re-registration reported tasks %v, want the task in no executor", reg.GetTasks())
	}
	got := reg.GetTasks()[0]
	if got.GetTaskId().GetValue() != "bad" || got.GetFrameworkId().GetValue() != "F1" ||
		got.GetState() != mesos.TaskState_TASK_ERROR || got.GetStatusUpdateState() != mesos.TaskState_TASK_ERROR ||
		len(got.GetStatusUpdateUuid()) != 16 {
		t.Errorf("re-registration reported %v", got)
	}
}

// --executor_environment_variables is what executors, and their tasks,
// start with; the MESOS_* variables are set over it.
func TestExecutorEnvironmentVariablesFlag(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) {
		c.ExecutorEnvironmentVariables = `{"PATH":"/usr/bin:/bin","GREETING":"hi","MESOS_FRAMEWORK_ID":"not this"}`
	})
	for _, checkpoint := range []bool{true, false} { // an executor process, and one inside the agent
		fw := fmt.Sprintf("F%v", checkpoint)
		m.send(runTask(frameworkInfo(fw, checkpoint), nil, commandTask("env-"+fw, "env | sort > task-env.txt"), nil))
		m.waitState(t, "env-"+fw, mesos.TaskState_TASK_FINISHED)
		b, err := os.ReadFile(filepath.Join(sandboxOf(t, a, fw, "env-"+fw), "task-env.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range []string{"GREETING=hi", "PATH=/usr/bin:/bin", "MESOS_FRAMEWORK_ID=" + fw} {
			if !strings.Contains(string(b), kv+"\n") {
				t.Errorf("checkpoint=%v: task environment lacks %s:\n%s", checkpoint, kv, b)
			}
		}
	}

	for value, want := range map[string]string{
		`{"PATH":1}`:  `the value of "PATH" is not a string`,
		`["PATH"]`:    "want a JSON object",
		`{"A=B":"x"}`: "not a valid variable name",
	} {
		cfg := Defaults()
		cfg.Master, cfg.WorkDir, cfg.ExecutorEnvironmentVariables = "127.0.0.1:5050", t.TempDir(), value
		if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "--executor_environment_variables") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", value, err)
		}
	}
}

// waitReregistration waits for the agent's second REGISTER (after
// cutStream) and returns the latest one.
func (m *fakeMaster) waitReregistration(t *testing.T) *agentproto.AgentCall_Register {
	t.Helper()
	waitFor(t, 10*time.Second, "re-registration", func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.registers) < 2 {
			return fmt.Errorf("%d registrations", len(m.registers))
		}
		return nil
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.registers[len(m.registers)-1].GetRegister()
}
