package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// recoveryConfig is startAgent's configuration on a given work dir, for
// agents that restart.
func recoveryConfig(m *fakeMaster, workDir string) Config {
	cfg := Defaults()
	cfg.Master = m.addr()
	cfg.IP = "127.0.0.1"
	cfg.Port = 0 // serveAt picks the port
	cfg.WorkDir = workDir
	cfg.Hostname = "localhost"
	cfg.Resources = "cpus:2;mem:1024;disk:1024;ports:[31000-32000]"
	cfg.ExecutorCommand = []string{os.Args[0], "executor"}
	cfg.RegistrationBackoffFactor = 20 * time.Millisecond
	cfg.ExecutorShutdownGracePeriod = 3 * time.Second
	return cfg
}

// serveAt runs an agent with cfg on addr ("127.0.0.1:0" picks a port)
// until the test ends (Close) or the test detaches it.
func serveAt(t *testing.T, cfg Config, addr string) *Agent {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	t.Cleanup(func() {
		a.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return a
}

func waitRegistered(t *testing.T, m *fakeMaster, n int) *agentproto.AgentCall_Register {
	t.Helper()
	var reg *agentproto.AgentCall_Register
	waitFor(t, 30*time.Second, fmt.Sprintf("registration #%d", n), func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.registers) < n {
			return fmt.Errorf("%d registrations", len(m.registers))
		}
		reg = m.registers[n-1].GetRegister()
		return nil
	})
	return reg
}

// executorPid reads a run's checkpointed pid.
func executorPid(t *testing.T, workDir, fwID, exID string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(workDir, "meta", "slaves", "M1-S0", "frameworks", fwID, "executors", exID, "runs", "latest", "pids", "forked.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// uniqueStates lists a task's updates as the framework would see them:
// each uuid once, in the order first sent.
func uniqueStates(m *fakeMaster, task string) []string { return states(m.statuses(task)) }

// An agent restarted on the same work dir adopts the running executor of a
// checkpointing framework: the task keeps running, is reported in
// REGISTER, and later updates flow in order.
func TestRecoverReconnectsExecutor(t *testing.T) {
	m := newFakeMaster(t)
	cfg, addr, pid := runThenDetach(t, m, "long")
	if !launcher.GroupAlive(pid) {
		t.Fatal("Detach killed the executor of a checkpointing framework")
	}

	start := time.Now()
	a2 := serveAt(t, cfg, addr)
	reg := waitRegistered(t, m, 2)
	t.Logf("recovered and re-registered in %v", time.Since(start))
	if reg.GetAgentInfo().GetId().GetValue() != "M1-S0" {
		t.Errorf("restarted agent registered without its id: %v", reg.GetAgentInfo())
	}
	if len(reg.GetTasks()) != 1 || reg.GetTasks()[0].GetState() != mesos.TaskState_TASK_RUNNING ||
		len(reg.GetFrameworks()) != 1 || !reg.GetFrameworks()[0].GetCheckpoint() {
		t.Fatalf("REGISTER after recovery: frameworks %v tasks %v", reg.GetFrameworks(), reg.GetTasks())
	}
	var st executorState
	a2.do(func() { st = a2.st.frameworks["F1"].executors["long"].state })
	if st != exRunning {
		t.Fatalf("recovered executor is %v, want RUNNING (re-subscribed)", st)
	}
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("long")}}})
	m.waitState(t, "long", mesos.TaskState_TASK_KILLED)
	if got, want := uniqueStates(m, "long"), []string{"TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"}; !slices.Equal(got, want) {
		t.Fatalf("updates %v, want %v", got, want)
	}
	waitFor(t, 10*time.Second, "executor gone", func() error {
		if launcher.GroupAlive(pid) {
			return errors.New("alive")
		}
		return nil
	})
	// Everything acknowledged: the run is marked completed.
	waitFor(t, 10*time.Second, "run completed", func() error {
		st, err := checkpoint.New(cfg.WorkDir).Recover(true)
		if err != nil {
			return err
		}
		for _, r := range st.Agent.Frameworks["F1"].Executors["long"].Runs {
			if !r.Completed {
				return errors.New("run not completed")
			}
		}
		return nil
	})
}

// Updates the framework has not acknowledged survive the restart and are
// resent, in order, by the new agent.
func TestRecoverResendsUnacknowledgedUpdates(t *testing.T) {
	m := newFakeMaster(t)
	m.autoAck = false
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	m.send(runTask(frameworkInfo("F1", true), nil, commandTask("t", "sleep 300"), nil))
	first := m.waitState(t, "t", mesos.TaskState_TASK_STARTING)[0]
	// TASK_RUNNING reaches the agent (and its checkpoint) but waits
	// behind the unacknowledged TASK_STARTING.
	waitFor(t, 10*time.Second, "TASK_RUNNING checkpointed", func() error {
		var n int
		a1.do(func() { n = len(a1.st.frameworks["F1"].updates["t"].pending) })
		if n < 2 {
			return fmt.Errorf("%d pending", n)
		}
		return nil
	})
	addr := a1.Endpoint()
	a1.Detach()
	before := len(m.snapshot())

	serveAt(t, cfg, addr)
	waitRegistered(t, m, 2)
	waitFor(t, 10*time.Second, "TASK_STARTING resent", func() error {
		for _, c := range m.snapshot()[before:] {
			if s := c.GetStatusUpdate().GetStatus(); s != nil && string(s.GetUuid()) == string(first.GetUuid()) {
				if c.GetStatusUpdate().GetLatestState() != mesos.TaskState_TASK_RUNNING {
					return fmt.Errorf("latest state %v, want TASK_RUNNING", c.GetStatusUpdate().GetLatestState())
				}
				return nil
			}
		}
		return errors.New("not yet")
	})
	m.mu.Lock()
	m.autoAck = true // the next updates are acknowledged at once
	m.mu.Unlock()
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_ACKNOWLEDGE.Enum(), Acknowledge: &agentproto.AgentEvent_Acknowledge{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: first.GetTaskId(), Uuid: first.GetUuid()}})
	m.waitState(t, "t", mesos.TaskState_TASK_RUNNING)
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("t")}}})
	m.waitState(t, "t", mesos.TaskState_TASK_KILLED)
	if got, want := uniqueStates(m, "t"), []string{"TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"}; !slices.Equal(got, want) {
		t.Fatalf("updates %v, want %v", got, want)
	}
}

// An executor that died while the agent was down has its tasks failed
// (REASON_EXECUTOR_TERMINATED) by the recovering agent.
func TestRecoverExecutorGoneFailsTasks(t *testing.T) {
	m := newFakeMaster(t)
	cfg, addr, pid := runThenDetach(t, m, "t")
	p, err := launcher.Adopt(pid)
	if err != nil {
		t.Fatal(err)
	}
	p.Destroy()
	<-p.Done()

	serveAt(t, cfg, addr)
	got := m.waitState(t, "t", mesos.TaskState_TASK_FAILED)
	last := got[len(got)-1]
	if last.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_TERMINATED || last.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Fatalf("terminal update %v", last)
	}
}

// An executor that does not re-subscribe within
// --executor_reregistration_timeout is killed; its task becomes TASK_LOST
// (not partition-aware) with REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
func TestRecoverReregistrationTimeout(t *testing.T) {
	m := newFakeMaster(t)
	_, pid := restartWithHungExecutor(t, m, 300*time.Millisecond)
	got := m.waitState(t, "t", mesos.TaskState_TASK_LOST)
	last := got[len(got)-1]
	if last.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT ||
		!strings.Contains(last.GetMessage(), "did not reregister within") {
		t.Fatalf("terminal update %v", last)
	}
	waitFor(t, 10*time.Second, "hung executor killed", func() error {
		if launcher.GroupAlive(pid) {
			return errors.New("alive")
		}
		return nil
	})
}

// runThenDetach starts an agent on a fresh work dir, runs task id ("sleep
// 300") of checkpointing framework F1 until it is running and detaches
// the agent, leaving the executor alive. It returns the configuration to
// restart with, the agent's address and the executor's pid.
func runThenDetach(t *testing.T, m *fakeMaster, id string) (Config, string, int) {
	t.Helper()
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	m.send(runTask(frameworkInfo("F1", true), nil, commandTask(id, "sleep 300"), nil))
	m.waitState(t, id, mesos.TaskState_TASK_RUNNING)
	pid := executorPid(t, work, "F1", id)
	addr := a1.Endpoint()
	a1.Detach()
	return cfg, addr, pid
}

// restartWithHungExecutor runs task "t" of checkpointing framework F1
// ("sleep 300"), stops the agent without touching the executor, hangs the
// executor (SIGSTOP: alive, but it will not re-subscribe) and starts the
// agent again on the same address and work directory with the given
// --executor_reregistration_timeout. It returns the agent's address and
// the executor's pid.
func restartWithHungExecutor(t *testing.T, m *fakeMaster, timeout time.Duration) (string, int) {
	t.Helper()
	cfg, addr, pid := runThenDetach(t, m, "t")
	syscall.Kill(pid, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	cfg.ExecutorReregistrationTimeout = timeout
	serveAt(t, cfg, addr)
	return addr, pid
}

// Changed resources need a new agent id: New refuses to recover.
func TestRecoverIncompatibleAgentInfo(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	// The agent checkpoints its info when it hears REGISTERED, in the
	// same step that makes its id visible.
	waitFor(t, 10*time.Second, "REGISTERED handled", func() error {
		if a1.ID() == "" {
			return errors.New("no id yet")
		}
		return nil
	})
	a1.Close()
	cfg.Resources = "cpus:3;mem:1024;disk:1024;ports:[31000-32000]"
	_, err := New(cfg, nil)
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "rm -f "+filepath.Join(work, "meta", "slaves", "latest")) {
		t.Fatalf("New with changed resources: %v", err)
	}
	// Removing meta/slaves/latest starts a new agent.
	os.Remove(filepath.Join(work, "meta", "slaves", "latest"))
	a2 := serveAt(t, cfg, "127.0.0.1:0")
	reg := waitRegistered(t, m, 2)
	if reg.GetAgentInfo().GetId() != nil {
		t.Errorf("registered with an old id: %v", reg.GetAgentInfo().GetId())
	}
	_ = a2
}

// --recover=cleanup kills the recovered executors, forgets the agent and
// returns from Serve.
func TestRecoverCleanup(t *testing.T) {
	m := newFakeMaster(t)
	cfg, _, pid := runThenDetach(t, m, "t")

	cfg.Recover = "cleanup"
	a2, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	// Killed and waited for: what is left of its group exits and is
	// reaped by its new parent in a moment.
	waitFor(t, 10*time.Second, "the cleaned-up executor's group gone", func() error {
		if launcher.GroupAlive(pid) {
			return errors.New("cleanup left the executor's group running")
		}
		return nil
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := a2.Serve(ln); err != nil {
		t.Errorf("Serve after cleanup: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(cfg.WorkDir, "meta", "slaves", "latest")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("meta/slaves/latest after cleanup: %v", err)
	}
}

// With --port=0 a restarted agent listens where it was, or its executors,
// which know it by address, could not find it.
func TestRecoveredAgentKeepsItsPort(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitFor(t, 10*time.Second, "REGISTERED handled", func() error {
		if a1.ID() == "" {
			return errors.New("no id yet")
		}
		return nil
	})
	endpoint := a1.Endpoint()
	a1.Close()

	reopen := func() (*Agent, net.Listener) {
		t.Helper()
		a, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		ln, err := a.Listen()
		if err != nil {
			t.Fatal(err)
		}
		return a, ln
	}
	_, ln := reopen()
	if ln.Addr().String() != endpoint {
		t.Errorf("restarted agent listens on %s, was %s", ln.Addr(), endpoint)
	}
	// The port taken (by the listener above): another free one.
	_, ln2 := reopen()
	if ln2.Addr().String() == endpoint {
		t.Errorf("listened twice on %s", endpoint)
	}
	ln.Close()
	ln2.Close()
}

// A task the agent handed to its executor's queue just before it died,
// and which the executor (subscribing only after the restart) never got,
// is TASK_DROPPED with REASON_AGENT_RESTARTED; the command executor, left
// with nothing to run, is shut down rather than left idle.
func TestRecoverDropsTaskTheExecutorNeverGot(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	// The executor starts slowly: it subscribes only after the restart.
	cfg.ExecutorCommand = []string{"/bin/sh", "-c", `sleep 1; exec "$0" "$@"`, os.Args[0], "executor"}
	// Time enough for it to re-subscribe on a loaded machine.
	cfg.ExecutorReregistrationTimeout = 15 * time.Second
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	m.send(runTask(frameworkInfo("F1", true, mesos.FrameworkInfo_Capability_PARTITION_AWARE), nil, commandTask("t", "sleep 300"), nil))
	var pid int
	waitFor(t, 10*time.Second, "the executor's checkpointed pid", func() error {
		b, err := os.ReadFile(filepath.Join(work, "meta", "slaves", "M1-S0", "frameworks", "F1", "executors", "t", "runs", "latest", "pids", "forked.pid"))
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(string(b))
		return err
	})
	addr := a1.Endpoint()
	a1.Detach()
	defer syscall.Kill(-pid, syscall.SIGKILL)

	serveAt(t, cfg, addr)
	got := m.waitState(t, "t", mesos.TaskState_TASK_DROPPED)
	if last := got[len(got)-1]; last.GetReason() != mesos.TaskStatus_REASON_AGENT_RESTARTED || last.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Fatalf("terminal update %v", last)
	}
	// (The master hears of the exit only if the agent has re-registered
	// by then; what matters is that the executor is gone.)
	waitFor(t, 10*time.Second, "the idle executor to exit", func() error {
		if launcher.GroupAlive(pid) {
			return fmt.Errorf("executor %d still runs", pid)
		}
		return nil
	})
}

// An executor found gone while the checkpoint is read must not take its
// framework with it: the framework's other executors, read after it, are
// still the agent's, reported in REGISTER and re-subscribed. Executor "a"
// ended while the agent was down, after its task's last update was
// acknowledged and before the agent marked its run completed; recovery
// reads executors in id order, so "a" is found gone before "b" is read.
func TestRecoverExecutorGoneKeepsTheOthers(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	for _, id := range []string{"a", "b"} {
		m.send(runTask(frameworkInfo("F1", true), nil, commandTask(id, "sleep 300"), nil))
		m.waitState(t, id, mesos.TaskState_TASK_RUNNING)
	}
	pidA, pidB := executorPid(t, work, "F1", "a"), executorPid(t, work, "F1", "b")
	t.Cleanup(func() { syscall.Kill(-pidB, syscall.SIGKILL) })
	waitFor(t, 10*time.Second, "updates of a acknowledged", func() error {
		var n int
		a1.do(func() { n = len(a1.st.frameworks["F1"].updates["a"].pending) })
		if n > 0 {
			return fmt.Errorf("%d pending", n)
		}
		return nil
	})
	addr := a1.Endpoint()
	a1.Detach()

	// Task a finished and its end was acknowledged, then its executor
	// went, all while the agent was away.
	store := checkpoint.New(work)
	st, err := store.Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	run := checkpoint.Run{AgentID: "M1-S0", FrameworkID: "F1", ExecutorID: "a", ContainerID: st.Agent.Frameworks["F1"].Executors["a"].Latest}
	end := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("a")}, State: mesos.TaskState_TASK_FINISHED.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: newUUID()}
	b := store.NewBatch()
	b.AppendRecord(run, "a", checkpoint.Record{Kind: checkpoint.RecordUpdate, Status: end})
	b.AppendRecord(run, "a", checkpoint.Record{Kind: checkpoint.RecordAck, UUID: end.GetUuid()})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	p, err := launcher.Adopt(pidA)
	if err != nil {
		t.Fatal(err)
	}
	p.Destroy()
	<-p.Done()

	a2 := serveAt(t, cfg, addr)
	reg := waitRegistered(t, m, 2)
	got := map[string]mesos.TaskState{}
	for _, task := range reg.GetTasks() {
		got[task.GetTaskId().GetValue()] = task.GetState()
	}
	if got["b"] != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("REGISTER after recovery reports tasks %v, want b TASK_RUNNING", got)
	}
	var exState executorState
	a2.do(func() {
		if fw := a2.st.frameworks["F1"]; fw != nil && fw.executors["b"] != nil {
			exState = fw.executors["b"].state
		}
	})
	if exState != exRunning {
		t.Fatalf("executor b is %v after recovery, want RUNNING (re-subscribed)", exState)
	}
}
