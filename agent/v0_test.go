package agent

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/libprocess"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

// nextMessage returns the executor driver's next message, failing unless
// it is named name.
func nextMessage(t *testing.T, d *v0test.Executor, name string) v0test.Received {
	t.Helper()
	r, err := d.Next(10 * time.Second)
	if err != nil {
		t.Fatalf("waiting for %s: %v", name, err)
	}
	if r.Name != "mesos.internal."+name {
		t.Fatalf("got %s, want %s", r.Name, name)
	}
	return r
}

// TestV0ExecutorProtocol drives the agent's end of the executor driver
// protocol with v0test's executor driver: registration and the queued
// task, an update acknowledged once taken, messages both ways through
// the master (the framework has no driver pid), kill; and what it
// refuses: an unknown executor is shut down, an update from a pid other
// than the executor's is dropped, a body that does not decode is dropped,
// a request that is not a message is not found.
func TestV0ExecutorProtocol(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	a.do(func() { registeringExecutor(t, a, 1) })
	agentPID, err := libprocess.ParseUPID("slave(1)@" + a.Endpoint())
	if err != nil {
		t.Fatal(err)
	}

	d, err := v0test.NewExecutor(agentPID, "F1", "E1", true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	reg := nextMessage(t, d, "ExecutorRegisteredMessage").Msg.(*messages.ExecutorRegisteredMessage)
	if reg.GetExecutorInfo().GetExecutorId().GetValue() != "E1" || reg.GetFrameworkId().GetValue() != "F1" ||
		reg.GetSlaveId().GetValue() != a.ID() || reg.GetSlaveInfo().GetHostname() != "localhost" || reg.GetFrameworkInfo().GetName() != "test" {
		t.Errorf("ExecutorRegisteredMessage: %v", reg)
	}
	run := nextMessage(t, d, "RunTaskMessage")
	if rt := run.Msg.(*messages.RunTaskMessage); rt.GetTask().GetTaskId().GetValue() != "T1" || rt.Pid != nil || run.From != agentPID {
		t.Errorf("RunTaskMessage from %s: %v", run.From, rt)
	}

	// Another process registers for an executor the agent does not know.
	other, err := v0test.NewExecutor(agentPID, "F1", "E9", false)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	nextMessage(t, other, "ShutdownExecutorMessage")
	// ... and forges an update of E1's task: dropped.
	forged := &messages.StatusUpdate{FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")},
		ExecutorId: &mesos.ExecutorID{Value: proto.String("E1")},
		Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("T1")}, State: mesos.TaskState_TASK_FAILED.Enum(),
			Uuid: bytes.Repeat([]byte{7}, 16)},
		Timestamp: proto.Float64(1), Uuid: bytes.Repeat([]byte{7}, 16)}
	if err := other.Send("mesos.internal.StatusUpdateMessage", &messages.StatusUpdateMessage{Update: forged}); err != nil {
		t.Fatal(err)
	}
	// A body that does not decode, and a request that is not a message.
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.Endpoint()+"/slave(1)/mesos.internal.StatusUpdateMessage", bytes.NewReader([]byte{0xff, 0xff}))
	req.Header.Set("Libprocess-From", d.PID.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("undecodable message: %d, want 202", resp.StatusCode)
	}
	resp, err = http.Get("http://" + a.Endpoint() + "/slave(1)/mesos.internal.StatusUpdateMessage")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a message path: %d, want 404", resp.StatusCode)
	}

	// The executor's update: acknowledged to it, forwarded to the master.
	if err := d.Update("T1", mesos.TaskState_TASK_RUNNING, ""); err != nil {
		t.Fatal(err)
	}
	ack := nextMessage(t, d, "StatusUpdateAcknowledgementMessage").Msg.(*messages.StatusUpdateAcknowledgementMessage)
	if ack.GetTaskId().GetValue() != "T1" || ack.GetSlaveId().GetValue() != a.ID() || d.Unacknowledged() != 0 {
		t.Errorf("acknowledgement %v, %d unacknowledged", ack, d.Unacknowledged())
	}
	st := m.waitState(t, "T1", mesos.TaskState_TASK_RUNNING)
	for _, s := range st {
		if s.GetState() == mesos.TaskState_TASK_FAILED {
			t.Errorf("the forged update reached the master: %v", s)
		}
	}
	last := st[len(st)-1]
	if last.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR || last.GetExecutorId().GetValue() != "E1" || last.GetContainerStatus().GetContainerId() == nil {
		t.Errorf("update as forwarded: %v", last)
	}

	// Messages both ways; with no driver pid for F1, through the master.
	if err := d.SendFrameworkMessage([]byte("to the scheduler")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the executor's message at the master", func() error {
		for _, c := range m.snapshot() {
			if c.GetType() == agentproto.AgentCall_FRAMEWORK_MESSAGE && string(c.GetFrameworkMessage().GetData()) == "to the scheduler" {
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_FRAMEWORK_MESSAGE.Enum(), FrameworkMessage: &agentproto.AgentEvent_FrameworkMessage{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, ExecutorId: &mesos.ExecutorID{Value: proto.String("E1")}, Data: []byte("to the executor")}})
	if msg := nextMessage(t, d, "FrameworkToExecutorMessage").Msg.(*messages.FrameworkToExecutorMessage); string(msg.GetData()) != "to the executor" {
		t.Errorf("FrameworkToExecutorMessage: %v", msg)
	}

	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("T1")}}})
	if k := nextMessage(t, d, "KillTaskMessage").Msg.(*messages.KillTaskMessage); k.GetTaskId().GetValue() != "T1" || k.GetFrameworkId().GetValue() != "F1" {
		t.Errorf("KillTaskMessage: %v", k)
	}
}
