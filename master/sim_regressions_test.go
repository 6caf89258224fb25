package master

// Regression tests for bugs the cluster simulation (sim_test.go) found.

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// TestRecoveredFrameworkTasksAreNotOfferedAgain: after a master restart,
// an agent that re-registers before its frameworks subscribe again reports
// their tasks; what those tasks hold must not be offered when the
// framework comes back (it was: the registry's frameworks were unknown to
// the allocator, which dropped the usage).
func TestRecoveredFrameworkTasksAreNotOfferedAgain(t *testing.T) {
	reg := registry.NewMemory()
	h := newHarness(t)
	h.c.reg = reg
	a := h.addAgent("h1", "cpus:2;mem:1024")
	fw := &mesos.FrameworkInfo{FailoverTimeout: proto.Float64(3600)}
	f := h.subscribe(fw)
	fw.Id = frameworkID(f.id)
	o := f.offers()[0]
	task := commandTask(t, "t1", a.id, "cpus:1;mem:512")
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(task)))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "0123456789abcdef")

	h.restart(reg)
	running := &mesos.Task{Name: task.Name, TaskId: task.TaskId, FrameworkId: fw.Id, AgentId: task.AgentId,
		State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: task.Resources}
	h.reregister(a, "h1", "cpus:2;mem:1024", fw, running)
	f = h.subscribe(fw)
	h.advance(2 * time.Second)
	for _, o := range f.offers() {
		r, err := resources.FromProto(o.GetResources())
		if err != nil {
			t.Fatal(err)
		}
		if cpus := r.ScalarOf("cpus").Float(); cpus > 1 {
			t.Errorf("offered %v cpus of an agent whose running task holds 1 of 2", cpus)
		}
	}
}

// TestReconcileAnswersTheHeadUpdateWhileDisconnected: an update that
// reaches the master while its framework is disconnected heads the task's
// stream; reconciliation must answer its state, not the agent's latest
// one, or the framework hears TASK_FINISHED and then TASK_RUNNING when the
// agent resends.
func TestReconcileAnswersTheHeadUpdateWhileDisconnected(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:2;mem:1024")
	fw := &mesos.FrameworkInfo{FailoverTimeout: proto.Float64(3600)}
	f := h.subscribe(fw)
	fw.Id = frameworkID(f.id)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })

	finished := mesos.TaskState_TASK_FINISHED
	err := h.agentCall(a, &agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: frameworkID(f.id),
			Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: proto.String("t1")}, State: mesos.TaskState_TASK_RUNNING.Enum(),
				Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: []byte("0123456789abcdef"),
			},
			LatestState: &finished,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f = h.subscribe(fw)
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{}})
	ups := f.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("reconciliation while the RUNNING update is unacknowledged: %v", ups)
	}
}
