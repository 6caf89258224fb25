package master

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// TestQuickTasksCountedOnceByTerminalState launches many tasks that finish
// at once and delivers their updates in the orderings an agent produces
// for quick tasks: a FINISHED update alone; a RUNNING update that carries
// FINISHED as the latest state, then the FINISHED update; acknowledgements
// in and out of order; a RUNNING update resent before its
// acknowledgement. master/tasks_finished must equal the number of
// finished tasks in /master/state and the framework's
// tasks/terminal/TASK_FINISHED counter.
func TestQuickTasksCountedOnceByTerminalState(t *testing.T) {
	const n = 20
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:40;mem:40960")
	f := h.subscribe(nil)
	o := f.offers()[0]
	var tasks []*mesos.TaskInfo
	for i := range n {
		tasks = append(tasks, commandTask(t, fmt.Sprintf("t%02d", i), a.id, "cpus:1;mem:32"))
	}
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(tasks...)))

	finished := mesos.TaskState_TASK_FINISHED
	update := func(id string, state mesos.TaskState, latest *mesos.TaskState, uuid string) {
		t.Helper()
		err := h.agentCall(a, &agentproto.AgentCall{
			Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
			StatusUpdate: &agentproto.AgentCall_StatusUpdate{
				FrameworkId: frameworkID(f.id),
				Status: &mesos.TaskStatus{
					TaskId: &mesos.TaskID{Value: proto.String(id)}, State: state.Enum(),
					Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: []byte(uuid),
				},
				LatestState: latest,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ack := func(id, uuid string) {
		t.Helper()
		h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String(id)}, Uuid: []byte(uuid),
		}})
	}
	for i, ti := range tasks {
		id := ti.GetTaskId().GetValue()
		run, fin := id+"-running-uuid", id+"-finished-uid"
		switch i % 5 {
		case 0: // Finished before the agent sent anything.
			update(id, finished, nil, fin)
			ack(id, fin)
		case 1: // RUNNING (latest FINISHED), acknowledged, then FINISHED.
			update(id, mesos.TaskState_TASK_RUNNING, &finished, run)
			ack(id, run)
			update(id, finished, nil, fin)
			ack(id, fin)
		case 2: // RUNNING (latest FINISHED) resent before its ack.
			update(id, mesos.TaskState_TASK_RUNNING, &finished, run)
			update(id, mesos.TaskState_TASK_RUNNING, &finished, run)
			ack(id, run)
			update(id, finished, nil, fin)
			ack(id, fin)
		case 3: // RUNNING, then FINISHED before RUNNING was acknowledged;
			// the acknowledgements arrive in reverse order.
			update(id, mesos.TaskState_TASK_RUNNING, nil, run)
			update(id, finished, nil, fin)
			ack(id, fin)
			ack(id, run)
		case 4: // RUNNING (latest FINISHED), FINISHED not yet acknowledged.
			update(id, mesos.TaskState_TASK_RUNNING, &finished, run)
			ack(id, run)
			update(id, finished, nil, fin)
		}
	}

	inState := 0
	for _, fw := range h.c.state().Frameworks {
		for _, list := range [][]string{stateNames(fw.Tasks), stateNames(fw.CompletedTasks)} {
			for _, s := range list {
				if s == "TASK_FINISHED" {
					inState++
				}
			}
		}
	}
	if inState != n {
		t.Fatalf("/master/state shows %d finished tasks, want %d", inState, n)
	}
	snap := h.c.metricsSnapshot()
	if got := snap["master/tasks_finished"]; got != n {
		t.Errorf("master/tasks_finished = %v, /master/state shows %d", got, n)
	}
	if got := snap["master/frameworks/test/"+f.id+"/tasks/terminal/task_finished"]; got != n {
		t.Errorf("framework tasks/terminal/task_finished = %v, want %d", got, n)
	}
	if got := snap["master/tasks_running"]; got != 0 {
		t.Errorf("master/tasks_running = %v after every task finished", got)
	}
}

// stateNames lists the states of tasks in a state document.
func stateNames(tasks []legacy.Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.State)
	}
	return out
}
