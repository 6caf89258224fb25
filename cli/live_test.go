package cli

import (
	"testing"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// TestLiveClusterApply: the model follows the event stream's task, agent
// and framework events from the state SUBSCRIBED carries.
func TestLiveClusterApply(t *testing.T) {
	lc := &liveCluster{
		agents:     map[string]*masterpb.Response_GetAgents_Agent{},
		frameworks: map[string]*mesos.FrameworkInfo{},
		tasks:      map[taskKey]*mesos.Task{},
		ready:      make(chan struct{}),
		done:       make(chan struct{}),
	}
	task := func(id string, st mesos.TaskState) *mesos.Task {
		return &mesos.Task{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
			FrameworkId: &mesos.FrameworkID{Value: proto.String("F")}, AgentId: &mesos.AgentID{Value: proto.String("A")}, State: st.Enum()}
	}
	agent := func(id string) *masterpb.Response_GetAgents_Agent {
		return &masterpb.Response_GetAgents_Agent{AgentInfo: &mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String(id)}, Hostname: proto.String(id)}}
	}
	lc.apply(&masterpb.Event{Type: masterpb.Event_SUBSCRIBED.Enum(), Subscribed: &masterpb.Event_Subscribed{GetState: &masterpb.Response_GetState{
		GetAgents:     &masterpb.Response_GetAgents{Agents: []*masterpb.Response_GetAgents_Agent{agent("A")}},
		GetFrameworks: &masterpb.Response_GetFrameworks{Frameworks: []*masterpb.Response_GetFrameworks_Framework{{FrameworkInfo: &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F")}, Name: proto.String("fw")}}}},
		GetTasks:      &masterpb.Response_GetTasks{Tasks: []*mesos.Task{task("t1", mesos.TaskState_TASK_RUNNING)}},
	}}})
	select {
	case <-lc.ready:
	default:
		t.Fatal("SUBSCRIBED did not make the model ready")
	}
	lc.apply(&masterpb.Event{Type: masterpb.Event_TASK_ADDED.Enum(), TaskAdded: &masterpb.Event_TaskAdded{Task: task("t2", mesos.TaskState_TASK_STAGING)}})
	lc.apply(&masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(), TaskUpdated: &masterpb.Event_TaskUpdated{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F")}, State: mesos.TaskState_TASK_RUNNING.Enum(),
		Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t2")}, State: mesos.TaskState_TASK_RUNNING.Enum()}}})
	lc.apply(&masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(), TaskUpdated: &masterpb.Event_TaskUpdated{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F")}, State: mesos.TaskState_TASK_FINISHED.Enum(),
		Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t1")}, State: mesos.TaskState_TASK_FINISHED.Enum()}}})
	lc.apply(&masterpb.Event{Type: masterpb.Event_AGENT_ADDED.Enum(), AgentAdded: &masterpb.Event_AgentAdded{Agent: agent("B")}})
	lc.apply(&masterpb.Event{Type: masterpb.Event_AGENT_REMOVED.Enum(), AgentRemoved: &masterpb.Event_AgentRemoved{AgentId: &mesos.AgentID{Value: proto.String("A")}}})

	cl := lc.snapshot()
	if cl.live != 1 || cl.tasks[0].GetTaskId().GetValue() != "t2" || cl.tasks[0].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("live tasks %v, want t2 running", cl.tasks)
	}
	if len(cl.agents) != 1 || cl.agents["B"] == nil {
		t.Errorf("agents %v, want B", cl.agents)
	}
	if cl.frameworkName("F") != "fw" {
		t.Errorf("framework name %q", cl.frameworkName("F"))
	}
}
