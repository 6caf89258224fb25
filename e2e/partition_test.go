package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// startPartitionable starts a master with short ping timeouts and one
// agent that reaches it through a partitionProxy.
func startPartitionable(t *testing.T) (master string, proxy *partitionProxy, work string) {
	work = t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master = fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir="+filepath.Join(work, "master"),
		"--allocation_interval=100ms", "--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=3")
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	proxy = newPartitionProxy(t, master)
	start(t, "agent", "agent", "--master="+proxy.Addr(), "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:1;mem:256;disk:256;ports:[31000-31010]", noIsolation)
	return master, proxy, work
}

func taskPid(t *testing.T, pidFile string) int {
	t.Helper()
	var pid int
	waitFor(t, 10*time.Second, "task pid file", func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

// TestPartitionAwareTaskSurvivesPartition cuts the network between agent
// and master for longer than the ping timeout: a PARTITION_AWARE
// framework sees TASK_UNREACHABLE, and once the network heals the task —
// which kept running — is reported TASK_RUNNING again.
func TestPartitionAwareTaskSurvivesPartition(t *testing.T) {
	master, proxy, work := startPartitionable(t)
	pidFile := filepath.Join(work, "task.pid")
	r := newRecorder(t, master, true, "echo $$ > "+pidFile+"; exec sleep 600")
	r.waitState("TASK_RUNNING", 30*time.Second)
	pid := taskPid(t, pidFile)

	proxy.Cut()
	st := r.waitState("TASK_UNREACHABLE", 30*time.Second)
	if st.GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED && st.GetReason() != mesos.TaskStatus_REASON_AGENT_DISCONNECTED {
		t.Errorf("unreachable reason %v", st.GetReason())
	}
	if st.GetUnreachableTime() == nil {
		t.Errorf("TASK_UNREACHABLE without unreachable_time: %v", st)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the task died during the partition: %v", err)
	}
	n := len(r.states())
	proxy.Heal()
	// After the agent re-registers, reconciliation reports the task running.
	waitFor(t, 60*time.Second, "TASK_RUNNING after the partition", func() error {
		_ = r.client.Reconcile(context.Background())
		states := r.states()
		for _, s := range states[n:] {
			if s == "TASK_RUNNING" {
				return nil
			}
		}
		return fmt.Errorf("states: %v", states)
	})
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the task is gone after the partition: %v", err)
	}
}

// TestTaskOfNonPartitionAwareFrameworkIsLostAndKilled: the same partition
// makes the task TASK_LOST for a framework that is not PARTITION_AWARE,
// and when the agent comes back the task is killed, as Mesos 1.x does.
func TestTaskOfNonPartitionAwareFrameworkIsLostAndKilled(t *testing.T) {
	master, proxy, work := startPartitionable(t)
	pidFile := filepath.Join(work, "task.pid")
	r := newRecorder(t, master, false, "echo $$ > "+pidFile+"; exec sleep 600")
	r.waitState("TASK_RUNNING", 30*time.Second)
	pid := taskPid(t, pidFile)

	proxy.Cut()
	r.waitState("TASK_LOST", 30*time.Second)
	for _, s := range r.states() {
		if s == "TASK_UNREACHABLE" {
			t.Errorf("a framework without PARTITION_AWARE got TASK_UNREACHABLE: %v", r.states())
		}
	}
	proxy.Heal()
	waitFor(t, 60*time.Second, "the task killed after the agent came back", func() error {
		if err := syscall.Kill(pid, 0); err == nil {
			return fmt.Errorf("pid %d still alive", pid)
		}
		return nil
	})
}
