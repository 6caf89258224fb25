package executor

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// withMaxCompletion sets a task's max_completion_time.
func withMaxCompletion(task *mesos.TaskInfo, d time.Duration) *mesos.TaskInfo {
	task.MaxCompletionTime = &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(d))}
	return task
}

// terminal matches terminal updates.
func terminal(s *mesos.TaskStatus) bool {
	switch s.GetState() {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR:
		return true
	}
	return false
}

// TestCommandExecutorMaxCompletionTime: a command task that runs past its
// max_completion_time is killed at once (its kill policy's grace period
// is not given: the task ignores SIGTERM and still ends) and reported
// TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED, without a
// TASK_KILLING even for a framework that understands it.
func TestCommandExecutorMaxCompletionTime(t *testing.T) {
	agent := newFakeAgent(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	h := startExecutor(t, Command, agent)
	task := withMaxCompletion(commandTask("t1", "trap '' TERM; sleep 5"), time.Second)
	task.KillPolicy.GracePeriod.Nanoseconds = proto.Int64(int64(30 * time.Second))
	start := time.Now()
	h.launch(task)
	s := h.waitUpdate("t1", "a terminal update", terminal)
	took := time.Since(start)
	if s.GetState() != mesos.TaskState_TASK_FAILED || s.GetReason() != mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED {
		t.Fatalf("terminal update %v reason %v, want TASK_FAILED REASON_MAX_COMPLETION_TIME_REACHED%s",
			s.GetState(), s.GetReason(), describe(agent.sent("t1")))
	}
	if s.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("source %v, want SOURCE_EXECUTOR", s.GetSource())
	}
	if took < time.Second || took > 3*time.Second {
		t.Errorf("the task ended %v after its launch, want about 1s", took)
	}
	for _, u := range agent.sent("t1") {
		if u.GetState() == mesos.TaskState_TASK_KILLING {
			t.Errorf("a task past its max_completion_time got TASK_KILLING%s", describe(agent.sent("t1")))
		}
	}
	h.waitExit()
}

// TestCommandExecutorMaxCompletionTimeNotReached: a task that ends
// before its max_completion_time finishes as usual, and the executor
// exits without waiting for the limit.
func TestCommandExecutorMaxCompletionTimeNotReached(t *testing.T) {
	agent := newFakeAgent()
	h := startExecutor(t, Command, agent)
	h.launch(withMaxCompletion(commandTask("t1", "sleep 0.2"), 30*time.Second))
	s := h.waitUpdate("t1", "a terminal update", terminal)
	if s.GetState() != mesos.TaskState_TASK_FINISHED || s.Reason != nil {
		t.Fatalf("terminal update %v reason %v, want TASK_FINISHED without a reason%s",
			s.GetState(), s.GetReason(), describe(agent.sent("t1")))
	}
	h.waitExit()
}

// TestCommandExecutorKillBeforeMaxCompletionTime: a task killed on
// request before its limit is TASK_KILLED, and the limit passing later
// changes nothing.
func TestCommandExecutorKillBeforeMaxCompletionTime(t *testing.T) {
	agent := newFakeAgent()
	h := startExecutor(t, Command, agent)
	h.launch(withMaxCompletion(commandTask("t1", "sleep 5"), 500*time.Millisecond))
	h.waitUpdate("t1", "TASK_RUNNING", isState(mesos.TaskState_TASK_RUNNING))
	h.kill("t1")
	s := h.waitUpdate("t1", "a terminal update", terminal)
	if s.GetState() != mesos.TaskState_TASK_KILLED || s.Reason != nil {
		t.Fatalf("terminal update %v reason %v, want TASK_KILLED%s", s.GetState(), s.GetReason(), describe(agent.sent("t1")))
	}
	h.waitExit()
	n := 0
	for _, u := range agent.sent("t1") {
		if terminal(u) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d terminal updates, want 1%s", n, describe(agent.sent("t1")))
	}
}

// TestDefaultExecutorMaxCompletionTime: in a task group, the task past
// its max_completion_time fails with REASON_MAX_COMPLETION_TIME_REACHED
// and takes its group down (its sibling, which has no limit, is killed);
// a group whose tasks all finish in time is unaffected.
func TestDefaultExecutorMaxCompletionTime(t *testing.T) {
	group := func(h *checkHarness, tasks ...*mesos.TaskInfo) {
		h.send(&execpb.Event{
			Type:        execpb.Event_LAUNCH_GROUP.Enum(),
			LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks}},
		})
	}
	t.Run("exceeded", func(t *testing.T) {
		agent := newFakeAgent()
		h := startExecutor(t, Default, agent)
		start := time.Now()
		group(h, withMaxCompletion(commandTask("slow", "sleep 5"), time.Second), commandTask("other", "sleep 60"))
		s := h.waitUpdate("slow", "a terminal update", terminal)
		took := time.Since(start)
		if s.GetState() != mesos.TaskState_TASK_FAILED || s.GetReason() != mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED {
			t.Fatalf("slow: terminal update %v reason %v, want TASK_FAILED REASON_MAX_COMPLETION_TIME_REACHED%s",
				s.GetState(), s.GetReason(), describe(agent.sent("slow")))
		}
		if took < time.Second || took > 3*time.Second {
			t.Errorf("slow ended %v after its launch, want about 1s", took)
		}
		o := h.waitUpdate("other", "a terminal update", terminal)
		if o.GetState() != mesos.TaskState_TASK_KILLED {
			t.Errorf("other: terminal update %v reason %v, want TASK_KILLED%s", o.GetState(), o.GetReason(), describe(agent.sent("other")))
		}
		h.waitExit()
	})
	t.Run("in time", func(t *testing.T) {
		agent := newFakeAgent()
		h := startExecutor(t, Default, agent)
		group(h, withMaxCompletion(commandTask("a", "sleep 0.2"), 30*time.Second),
			withMaxCompletion(commandTask("b", "true"), 30*time.Second))
		for _, id := range []string{"a", "b"} {
			s := h.waitUpdate(id, "a terminal update", terminal)
			if s.GetState() != mesos.TaskState_TASK_FINISHED || s.Reason != nil {
				t.Errorf("%s: terminal update %v reason %v, want TASK_FINISHED%s", id, s.GetState(), s.GetReason(), describe(agent.sent(id)))
			}
		}
		h.waitExit()
	})
}
