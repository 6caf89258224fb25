package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// recoveryFramework is a checkpointing framework that launches one task
// and records every event it receives, in order.
type recoveryFramework struct {
	t      *testing.T
	client *scheduler.Client
	cmd    string

	mu       sync.Mutex
	launched bool
	agentID  *mesos.AgentID
	updates  []*mesos.TaskStatus
}

func newRecoveryFramework(t *testing.T, master, cmd string) *recoveryFramework {
	fw := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("recovery"),
		FailoverTimeout: proto.Float64(300), Checkpoint: proto.Bool(true)}
	r := &recoveryFramework{t: t, cmd: cmd}
	r.client = scheduler.New(scheduler.Config{Master: master, Framework: fw, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.client.Run(ctx, r.handle)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *recoveryFramework) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			r.mu.Lock()
			first := !r.launched
			r.launched = true
			r.agentID = o.GetAgentId()
			r.mu.Unlock()
			if !first {
				_ = r.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
				continue
			}
			task := &mesos.TaskInfo{Name: proto.String("survivor"), TaskId: &mesos.TaskID{Value: proto.String("survivor")},
				AgentId: o.GetAgentId(), Command: &mesos.CommandInfo{Value: proto.String(r.cmd)},
				Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)}}
			if err := r.client.Launch(ctx, o.GetId(), task); err != nil {
				return err
			}
		}
	case schedpb.Event_UPDATE:
		r.mu.Lock()
		r.updates = append(r.updates, ev.GetUpdate().GetStatus())
		r.mu.Unlock()
	}
	return nil
}

// reliable returns the updates that carry a uuid (sent by the agent, not
// answers to reconciliation), in order, and their states.
func (r *recoveryFramework) reliable() ([]*mesos.TaskStatus, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*mesos.TaskStatus
	var states []string
	for _, s := range r.updates {
		if len(s.GetUuid()) > 0 {
			out = append(out, s)
			states = append(states, s.GetState().String())
		}
	}
	return out, states
}

// waitUpdate waits for an update satisfying ok, received after the first
// `after` updates.
func (r *recoveryFramework) waitUpdate(t *testing.T, after int, what string, ok func(*mesos.TaskStatus) bool) *mesos.TaskStatus {
	t.Helper()
	var got *mesos.TaskStatus
	waitFor(t, 60*time.Second, what, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, s := range r.updates[min(after, len(r.updates)):] {
			if ok(s) {
				got = s
				return nil
			}
		}
		var seen []string
		for _, s := range r.updates {
			seen = append(seen, s.GetState().String()+"/"+s.GetReason().String())
		}
		return fmt.Errorf("updates so far: %v", seen)
	})
	return got
}

func (r *recoveryFramework) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.updates)
}

// killLeftoverExecutors kills, when the test ends, every executor session
// checkpointed under work: agents stopped with SIGTERM leave the executors
// of checkpointing frameworks running, as Mesos' agents do.
func killLeftoverExecutors(t *testing.T, work string) {
	t.Cleanup(func() {
		pids := uniquePaths(filepath.Join(work, "*", "meta", "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "pids", "forked.pid"))
		for _, f := range pids {
			b, _ := os.ReadFile(f)
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 1 {
				continue
			}
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmdline), "executor") {
				killSession(pid)
			}
		}
	})
}

// killSession SIGKILLs every process of the session led by sid: the
// executor and its tasks, which run in process groups of their own.
func killSession(sid int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which is in parentheses and may
		// hold spaces): state, ppid, pgrp, session, ...
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 3 && f[3] == strconv.Itoa(sid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// uniquePaths globs pattern and resolves symlinks ("latest"), each real
// path once.
func uniquePaths(pattern string) []string {
	all, _ := filepath.Glob(pattern)
	var out []string
	for _, p := range all {
		if r, err := filepath.EvalSymlinks(p); err == nil && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// readPidFile reads a pid a task wrote.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// TestRecoveryAgentSIGKILL kills an agent (SIGKILL) under a running task
// of a checkpointing framework and restarts it on the same --work_dir: the
// task's process keeps running, its executor re-subscribes, the framework
// reconciles the task as TASK_RUNNING, and when the task ends every status
// update reaches the framework exactly once, in order.
func TestRecoveryAgentSIGKILL(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-32000]")
	// The task writes its pid, then runs until the test drops a file in
	// its sandbox.
	fw := newRecoveryFramework(t, c.master, `echo $$ > task.pid; while [ ! -f stop ]; do sleep 0.1; done; echo stopped`)
	fw.waitUpdate(t, 0, "TASK_RUNNING", func(s *mesos.TaskStatus) bool { return s.GetState() == mesos.TaskState_TASK_RUNNING })

	agentWork := filepath.Join(c.work, "agent0")
	sandboxes := uniquePaths(filepath.Join(agentWork, "slaves", "*", "frameworks", "*", "executors", "survivor", "runs", "latest"))
	if len(sandboxes) != 1 {
		t.Fatalf("sandboxes %v", sandboxes)
	}
	sandbox := sandboxes[0]
	var taskPid int
	waitFor(t, 10*time.Second, "task pid", func() (err error) {
		taskPid, err = readPidFile(filepath.Join(sandbox, "task.pid"))
		return err
	})

	old := c.agents[0]
	args := old.cmd.Args[1:]
	if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-old.done
	if !alive(taskPid) {
		t.Fatal("the task died with the agent")
	}

	before := fw.count()
	began := time.Now()
	restarted := start(t, "agent0-restarted", args...)
	waitFor(t, 30*time.Second, "restarted agent re-registered", func() error {
		if !strings.Contains(restarted.out.String(), `msg="registered with master"`) {
			return errors.New("not yet")
		}
		return nil
	})
	t.Logf("agent restarted, recovered and re-registered in %v", time.Since(began))
	if out := restarted.out.String(); !strings.Contains(out, `msg="executor subscribed"`) || !strings.Contains(out, "recovered=true") {
		t.Fatalf("the executor did not re-subscribe to the restarted agent:\n%s", out)
	}
	if !alive(taskPid) {
		t.Fatal("the task died when the agent restarted")
	}

	// Explicit reconciliation: the master, rebuilt from the agent's report,
	// answers TASK_RUNNING.
	if err := fw.client.Reconcile(context.Background(), &schedpb.Call_Reconcile_Task{
		TaskId: &mesos.TaskID{Value: proto.String("survivor")}}); err != nil {
		t.Fatal(err)
	}
	rec := fw.waitUpdate(t, before, "reconciliation", func(s *mesos.TaskStatus) bool {
		return s.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION
	})
	if rec.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("reconciled as %v, want TASK_RUNNING", rec.GetState())
	}

	// Let it finish: the update goes through the restarted agent.
	if err := os.WriteFile(filepath.Join(sandbox, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fw.waitUpdate(t, before, "TASK_FINISHED", func(s *mesos.TaskStatus) bool { return s.GetState() == mesos.TaskState_TASK_FINISHED })
	ups, states := fw.reliable()
	if want := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}; !slices.Equal(states, want) {
		t.Fatalf("status updates %v, want exactly %v", states, want)
	}
	seen := map[string]bool{}
	for _, s := range ups {
		if seen[string(s.GetUuid())] {
			t.Errorf("update %v delivered twice", s.GetState())
		}
		seen[string(s.GetUuid())] = true
	}
	if b, _ := os.ReadFile(filepath.Join(sandbox, "stdout")); !strings.Contains(string(b), "stopped") {
		t.Errorf("task stdout %q", b)
	}
}

// TestRecoveryExecutorKilled kills (SIGKILL) the executor of a running
// task while the agent runs: the framework gets TASK_FAILED with
// REASON_EXECUTOR_TERMINATED from the agent.
func TestRecoveryExecutorKilled(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-32000]")
	fw := newRecoveryFramework(t, c.master, "sleep 3600")
	fw.waitUpdate(t, 0, "TASK_RUNNING", func(s *mesos.TaskStatus) bool { return s.GetState() == mesos.TaskState_TASK_RUNNING })
	pids := uniquePaths(filepath.Join(c.work, "agent0", "meta", "slaves", "*", "frameworks", "*", "executors", "survivor", "runs", "latest", "pids", "forked.pid"))
	if len(pids) != 1 {
		t.Fatalf("checkpointed executor pids: %v", pids)
	}
	pid, err := readPidFile(pids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failed := fw.waitUpdate(t, 0, "TASK_FAILED", func(s *mesos.TaskStatus) bool { return s.GetState() == mesos.TaskState_TASK_FAILED })
	if failed.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_TERMINATED || failed.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Fatalf("TASK_FAILED with reason %v source %v, want REASON_EXECUTOR_TERMINATED from the agent", failed.GetReason(), failed.GetSource())
	}
	if _, states := fw.reliable(); !slices.Equal(states, []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"}) {
		t.Fatalf("status updates %v", states)
	}
}
