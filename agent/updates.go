package agent

import (
	"crypto/rand"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

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
	if err := a.statusUpdate(fw, ex, s, nil); err != nil {
		a.log.Error("dropping the agent's status update", "framework", fw.id, "task", taskID, "state", state, "err", err)
	}
}

// statusUpdate records an update (from an executor or the agent) and
// queues it on its task's stream (state goroutine). For checkpointing
// frameworks the update is journaled: it goes to the master once its
// record is durable. durable, when not nil, is called once the update is
// durable (at once when it needs no journal, or is a repeat of one that
// is durable), or with the error that keeps it from being durable: the
// executor's 202 waits for it. An error returned means the update was
// not taken (the checkpoint failed before); durable is not called then.
func (a *Agent) statusUpdate(fw *framework, ex *executor, s *mesos.TaskStatus, durable func(error)) error {
	reply := func(err error) {
		if durable != nil {
			durable(err)
		}
	}
	if fw.terminating {
		a.st.metrics.invalidStatusUpdates++
		reply(nil)
		return nil // the framework is gone; nobody will acknowledge
	}
	taskID := s.GetTaskId().GetValue()
	u := fw.updates[taskID]
	created := u == nil
	if created {
		u = newUpdateStream(fw.id, taskID, a.journalOf(fw, ex))
	}
	if u.journal != nil {
		if err := a.checkpointFailed(); err != nil {
			return err
		}
	}
	// Mesos counts an update valid before its stream sees it, so
	// duplicates count too.
	a.st.metrics.validStatusUpdates++
	if s.AgentId == nil {
		s.AgentId = a.st.info.GetId()
	}
	if s.Timestamp == nil {
		s.Timestamp = proto.Float64(float64(a.clock.Now().UnixNano()) / 1e9)
	}
	// Duplicates (a retried UPDATE, re-subscription) are ignored; a
	// repeat is answered once the first copy is durable.
	id := string(s.GetUuid())
	if u.acked[id] {
		a.ackExecutor(ex, s)
		reply(nil)
		return nil
	}
	if u.received[id] {
		if u.durable(s.GetUuid()) {
			reply(nil)
		} else {
			a.persist(nil, reply) // the first copy's record is pending
		}
		return nil
	}
	var t *task
	if ex != nil {
		t = ex.tasks[taskID]
		if t == nil && ex.completed[taskID] {
			// Resent by a re-subscribing executor after the agent
			// restarted: the task's stream is over.
			a.ackExecutor(ex, s)
			reply(nil)
			return nil
		}
	}
	if t != nil && mesos.IsTerminalState(t.state) {
		// A task does not come back from a terminal state; the executor
		// still gets its acknowledgement.
		a.log.Warn("dropping update after a terminal state", "task", taskID, "state", s.GetState(), "latest", t.state)
		a.ackExecutor(ex, s)
		reply(nil)
		return nil
	}
	_, rec := u.add(s)
	if created {
		fw.updates[taskID] = u
	}
	if t != nil {
		t.state = s.GetState()
		t.statuses = append(t.statuses, s)
		if mesos.IsTerminalState(t.state) {
			a.st.metrics.countTerminal(t.state)
			// The container shrinks to what its live tasks hold.
			if ex != nil {
				a.updateContainer(ex)
			}
		}
	}
	if rec == nil {
		if u.ready() {
			a.sendHead(fw, u)
		}
		reply(nil)
		return nil
	}
	run := *u.journal
	a.persist(func(b *checkpoint.Batch) { b.AppendRecord(run, taskID, *rec) }, func(err error) {
		if err == nil {
			u.synced()
			if a.st.frameworks[fw.id] == fw && fw.updates[taskID] == u && u.ready() {
				a.sendHead(fw, u)
			}
		}
		reply(err)
	})
	return nil
}

// journalOf returns the run whose task.updates journal a task's updates
// go to: the executor's when the framework checkpoints and the executor
// run is checkpointed; nil otherwise.
func (a *Agent) journalOf(fw *framework, ex *executor) *checkpoint.Run {
	if ex == nil || !ex.checkpointed || !fw.info.GetCheckpoint() {
		return nil
	}
	run := ex.runID
	return &run
}

// sendHead sends a stream's sendable head to the master (with the
// latest durable state) and arms its retry.
func (a *Agent) sendHead(fw *framework, u *updateStream) {
	head := u.sendable()
	if head == nil {
		return
	}
	a.send(&agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fw.id)},
			Status:      head,
			LatestState: u.latest().Enum(),
		},
	})
	u.sent(a.clock.Now())
	a.armRetry()
}

// armRetry keeps the one update-retry timer set for the earliest
// deadline of all streams (state goroutine).
func (a *Agent) armRetry() {
	var next time.Time
	for _, fw := range a.st.frameworks {
		for _, u := range fw.updates {
			if u.sendable() != nil && !u.deadline.IsZero() && (next.IsZero() || u.deadline.Before(next)) {
				next = u.deadline
			}
		}
	}
	if a.st.retryTimer != nil {
		if next.Equal(a.st.retryAt) {
			return
		}
		a.st.retryTimer.Stop()
		a.st.retryTimer = nil
	}
	a.st.retryAt = next
	if next.IsZero() {
		return
	}
	a.st.retryTimer = a.after(max(next.Sub(a.clock.Now()), 0), func() {
		a.st.retryTimer = nil
		a.st.retryAt = time.Time{}
		a.retryUpdates()
	})
}

// retryUpdates resends every head whose retry is due.
func (a *Agent) retryUpdates() {
	now := a.clock.Now()
	for _, fw := range a.st.frameworks {
		for _, u := range fw.updates {
			if u.due(now) {
				a.log.Debug("resending status update", "framework", fw.id, "task", u.taskID, "state", u.head().GetState())
				a.sendHead(fw, u)
			}
		}
	}
	a.armRetry()
}

// resendUpdates sends every stream's head again (after registering);
// a head not durable yet, or whose acknowledgement is being written,
// goes once that is done.
func (a *Agent) resendUpdates() {
	for _, fw := range a.st.frameworks {
		for _, u := range fw.updates {
			u.resume()
			a.sendHead(fw, u)
		}
	}
}

// acknowledge applies the framework's acknowledgement of an update
// (state goroutine): once it is durable (journaled, for checkpointing
// frameworks), the executor hears of it and the next update of the
// stream goes out.
func (a *Agent) acknowledge(fwID, taskID string, uuid []byte) {
	fw := a.st.frameworks[fwID]
	if fw == nil {
		return
	}
	u := fw.updates[taskID]
	if u == nil {
		a.log.Debug("ignoring acknowledgement for a task without updates", "task", taskID)
		return
	}
	if u.journal != nil && a.checkpointFailed() != nil {
		return // the master sends it again, to a restarted agent
	}
	head, rec, err := u.ack(uuid)
	if err != nil {
		a.log.Warn("ignoring acknowledgement", "framework", fwID, "task", taskID, "err", err)
		return
	}
	if head == nil {
		return // duplicate
	}
	if rec == nil {
		a.acknowledged(fw, u, head)
		return
	}
	run := *u.journal
	a.persist(func(b *checkpoint.Batch) { b.AppendRecord(run, taskID, *rec) }, func(err error) {
		if err != nil {
			return
		}
		u.ackSynced()
		if a.st.frameworks[fw.id] == fw && fw.updates[taskID] == u {
			a.acknowledged(fw, u, head)
		}
	})
}

// acknowledged finishes an acknowledgement that took effect: the
// executor hears of it, the next update goes out, and a task whose
// stream is over is forgotten (state goroutine).
func (a *Agent) acknowledged(fw *framework, u *updateStream, head *mesos.TaskStatus) {
	taskID := u.taskID
	ex := fw.executorOf(taskID)
	if head.GetSource() == mesos.TaskStatus_SOURCE_EXECUTOR {
		a.ackExecutor(ex, head)
	}
	if u.head() != nil {
		if u.ready() {
			a.sendHead(fw, u)
		}
		return
	}
	if u.terminated {
		delete(fw.updates, taskID)
		if ex != nil {
			if t := ex.tasks[taskID]; t != nil {
				ex.completedTasks = appendBounded(ex.completedTasks, t, maxCompletedTasksPerExecutor)
			}
			delete(ex.tasks, taskID)
			ex.completed[taskID] = true
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
