package agent

import (
	"bytes"
	"crypto/rand"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// Status-update retry: the head of a stream is resent every 10 s,
// doubling up to 10 min, until the framework's acknowledgement arrives.
const (
	updateRetryMin = 10 * time.Second
	updateRetryMax = 10 * time.Minute
)

// updateStream is one task's ordered stream of status updates awaiting
// acknowledgement; only the head is sent to the master.
type updateStream struct {
	taskID  string
	pending []*mesos.TaskStatus
	// acked holds the uuids already acknowledged (duplicate detection).
	acked   map[string]bool
	timer   Timer
	backoff time.Duration
	// terminalAcked: the terminal update was acknowledged; the stream
	// ends once pending is empty.
	terminalAcked bool
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

func newUUID() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// agentUpdate creates a status update from the agent itself (fresh
// uuid, SOURCE_AGENT) for a task and runs it through the normal path.
func (a *Agent) agentUpdate(fw *framework, ex *executor, taskID string, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	s := &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: proto.String(taskID)},
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_AGENT.Enum(),
		Reason:    reason.Enum(),
		Message:   proto.String(msg),
		Uuid:      newUUID(),
		Timestamp: proto.Float64(float64(a.clock.Now().UnixNano()) / 1e9),
		AgentId:   a.st.info.GetId(),
	}
	if ex != nil {
		s.ExecutorId = ex.info.GetExecutorId()
	}
	a.statusUpdate(fw, ex, s)
}

// statusUpdate records an update (from an executor or the agent) and
// queues it on its task's stream (state goroutine).
func (a *Agent) statusUpdate(fw *framework, ex *executor, s *mesos.TaskStatus) {
	if fw.terminating {
		return // the framework is gone; nobody will acknowledge
	}
	taskID := s.GetTaskId().GetValue()
	if s.AgentId == nil {
		s.AgentId = a.st.info.GetId()
	}
	if s.Timestamp == nil {
		s.Timestamp = proto.Float64(float64(a.clock.Now().UnixNano()) / 1e9)
	}
	u := fw.updates[taskID]
	if u == nil {
		u = &updateStream{taskID: taskID, acked: map[string]bool{}}
		fw.updates[taskID] = u
	}
	// Duplicates (a retried UPDATE, re-subscription) are ignored.
	if u.acked[string(s.GetUuid())] {
		a.ackExecutor(ex, s)
		return
	}
	for _, p := range u.pending {
		if bytes.Equal(p.GetUuid(), s.GetUuid()) {
			return
		}
	}
	if ex != nil {
		if t := ex.tasks[taskID]; t != nil {
			if isTerminal(t.state) {
				// A task does not come back from a terminal state; the
				// executor still gets its acknowledgement.
				a.log.Warn("dropping update after a terminal state", "task", taskID, "state", s.GetState(), "latest", t.state)
				a.ackExecutor(ex, s)
				return
			}
			t.state = s.GetState()
			t.statuses = append(t.statuses, s)
		}
	}
	u.pending = append(u.pending, s)
	if len(u.pending) == 1 {
		u.backoff = updateRetryMin
		a.sendHead(fw, u)
	}
}

// sendHead sends a stream's head to the master and arms its retry.
func (a *Agent) sendHead(fw *framework, u *updateStream) {
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	if len(u.pending) == 0 {
		return
	}
	head := u.pending[0]
	latest := head.GetState()
	if ex := fw.executorOf(u.taskID); ex != nil {
		latest = ex.tasks[u.taskID].state
	} else if n := len(u.pending); n > 0 {
		latest = u.pending[n-1].GetState()
	}
	a.send(&agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fw.id)},
			Status:      head,
			LatestState: latest.Enum(),
		},
	})
	d := u.backoff
	u.backoff = min(u.backoff*2, updateRetryMax)
	uuid := head.GetUuid()
	u.timer = a.after(d, func() {
		if len(u.pending) > 0 && bytes.Equal(u.pending[0].GetUuid(), uuid) && fw.updates[u.taskID] == u {
			a.sendHead(fw, u)
		}
	})
}

// resendUpdates sends every stream's head again (after registering).
func (a *Agent) resendUpdates() {
	for _, fw := range a.st.frameworks {
		for _, u := range fw.updates {
			u.backoff = updateRetryMin
			a.sendHead(fw, u)
		}
	}
}

// acknowledge applies the framework's acknowledgement of an update
// (state goroutine).
func (a *Agent) acknowledge(fwID, taskID string, uuid []byte) {
	fw := a.st.frameworks[fwID]
	if fw == nil {
		return
	}
	u := fw.updates[taskID]
	if u == nil || len(u.pending) == 0 || !bytes.Equal(u.pending[0].GetUuid(), uuid) {
		a.log.Debug("ignoring acknowledgement of an unknown update", "task", taskID)
		return
	}
	head := u.pending[0]
	u.pending = u.pending[1:]
	u.acked[string(uuid)] = true
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	ex := fw.executorOf(taskID)
	if head.GetSource() == mesos.TaskStatus_SOURCE_EXECUTOR {
		a.ackExecutor(ex, head)
	}
	if isTerminal(head.GetState()) {
		u.terminalAcked = true
	}
	if len(u.pending) > 0 {
		u.backoff = updateRetryMin
		a.sendHead(fw, u)
		return
	}
	if u.terminalAcked {
		delete(fw.updates, taskID)
		if ex != nil {
			delete(ex.tasks, taskID)
		}
	}
	a.cleanup(fw, ex)
}

// ackExecutor tells a subscribed executor that an update was
// acknowledged.
func (a *Agent) ackExecutor(ex *executor, s *mesos.TaskStatus) {
	if ex == nil || ex.conn == nil {
		return
	}
	ex.conn.events.push(&execpb.Event{
		Type:         execpb.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &execpb.Event_Acknowledged{TaskId: s.GetTaskId(), Uuid: s.GetUuid()},
	})
}
