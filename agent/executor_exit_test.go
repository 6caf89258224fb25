package agent

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// waitFrameworkForgotten waits until the agent holds no framework: every
// executor ended and was cleaned up, so any EXECUTOR_EXITED was sent.
func waitFrameworkForgotten(t *testing.T, a *Agent) {
	t.Helper()
	waitFor(t, 20*time.Second, "the framework forgotten", func() error {
		n := -1
		a.do(func() { n = len(a.st.frameworks) })
		if n != 0 {
			return fmt.Errorf("%d frameworks", n)
		}
		return nil
	})
}

// TestExecutorExitReportedOnlyWhenMasterKnowsIt: the master warned
// "ignoring exit of an unknown executor" after every `mezzo execute`,
// because the agent reported executors the master never held. The end of
// a task group's default executor, which the framework named, is
// reported; the end of the agent's own command executor is not, nor the
// end of any executor of a framework the master shut down (the master
// removed it with the framework).
func TestExecutorExitReportedOnlyWhenMasterKnowsIt(t *testing.T) {
	group := func(m *fakeMaster, fwID, exID, taskID, cmd string) {
		ex := &mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String(exID)},
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)}}
		m.send(runTask(frameworkInfo(fwID, false), ex, nil, &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{commandTask(taskID, cmd)}}))
	}
	t.Run("default executor ends", func(t *testing.T) {
		m := newFakeMaster(t)
		a := startAgent(t, m, nil)
		group(m, "F1", "default-ex", "g1", "true")
		m.waitState(t, "g1", mesos.TaskState_TASK_FINISHED)
		waitFrameworkForgotten(t, a)
		// The call goes out through the agent's sender, after the state
		// goroutine has moved on.
		waitFor(t, 10*time.Second, "EXECUTOR_EXITED for the default executor the master launched", func() error {
			if m.executorExited("default-ex") == nil {
				return errors.New("not sent yet")
			}
			return nil
		})
	})
	t.Run("command executor ends", func(t *testing.T) {
		m := newFakeMaster(t)
		a := startAgent(t, m, nil)
		m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "true"), nil))
		m.waitState(t, "t1", mesos.TaskState_TASK_FINISHED)
		waitFrameworkForgotten(t, a)
		if x := m.executorExited("t1"); x != nil {
			t.Errorf("EXECUTOR_EXITED for the agent's command executor: %v", x)
		}
	})
	t.Run("framework shut down", func(t *testing.T) {
		m := newFakeMaster(t)
		a := startAgent(t, m, nil)
		group(m, "F1", "default-ex", "g1", "sleep 300")
		m.waitState(t, "g1", mesos.TaskState_TASK_RUNNING)
		m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
			ShutdownFramework: &agentproto.AgentEvent_ShutdownFramework{FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}}})
		waitFrameworkForgotten(t, a)
		if x := m.executorExited("default-ex"); x != nil {
			t.Errorf("EXECUTOR_EXITED for an executor of a framework the master shut down: %v", x)
		}
	})
}
