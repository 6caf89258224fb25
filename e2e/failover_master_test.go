package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMasterRestartKeepsTasks SIGKILLs the master while a checkpointing,
// partition-aware framework's task runs, restarts it on the same
// --work_dir, and checks that the agent re-registers with the task, the
// framework re-subscribes with its id, and reconciliation reports the task
// still running — then lets it finish and checks every update arrived in
// order.
func TestMasterRestartKeepsTasks(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	masterArgs := []string{"master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir=" + filepath.Join(work, "master"),
		"--allocation_interval=100ms", "--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=3", "--agent_reregister_timeout=30secs"}
	m := start(t, "master", masterArgs...)
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	start(t, "agent", "agent", "--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:1;mem:256;disk:256;ports:[31000-31010]",
		"--registration_backoff_factor=100ms")

	done := filepath.Join(work, "done")
	r := newRecorder(t, master, true, fmt.Sprintf("while [ ! -e %s ]; do sleep 0.1; done", done))
	r.waitState("TASK_RUNNING", 30*time.Second)

	// Kill the master hard and start it again on the same work dir.
	if err := syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.done
	start(t, "master-2", masterArgs...)
	waitFor(t, 20*time.Second, "restarted master", func() error { return httpOK("http://" + master + "/health") })

	// The agent comes back with the task; the framework (which
	// re-subscribes on its own) learns by reconciliation that it runs.
	n := len(r.states())
	waitFor(t, 60*time.Second, "TASK_RUNNING after the master restart", func() error {
		_ = r.client.Reconcile(context.Background())
		states := r.states()
		for _, s := range states[n:] {
			if s == "TASK_RUNNING" {
				return nil
			}
		}
		return fmt.Errorf("states: %v", states)
	})

	// Finish the task: its terminal update reaches the framework.
	if err := touch(done); err != nil {
		t.Fatal(err)
	}
	r.waitState("TASK_FINISHED", 30*time.Second)
	var sawRunning bool
	for _, s := range r.states() {
		switch s {
		case "TASK_RUNNING":
			sawRunning = true
		case "TASK_FINISHED":
			if !sawRunning {
				t.Fatalf("TASK_FINISHED before TASK_RUNNING: %v", r.states())
			}
		case "TASK_LOST", "TASK_FAILED", "TASK_KILLED", "TASK_DROPPED", "TASK_GONE":
			t.Fatalf("unexpected %s: %v", s, r.states())
		}
	}
}
