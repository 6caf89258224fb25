package agent

import (
	"net"

	"google.golang.org/protobuf/proto"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// maxExecutorEvents bounds the events waiting for one executor's stream:
// an executor that falls that far behind (or stops reading: each write
// is bounded by executorWriteTimeout) is cut off, as the master cuts a
// slow framework, and subscribes again.
const maxExecutorEvents = 10000

// subscribe attaches an executor's new event stream: SUBSCRIBED, then its
// queued tasks. Updates and tasks it reports unacknowledged are taken
// over (state goroutine).
func (a *Agent) subscribe(fw *framework, ex *executor, sub *execpb.Call_Subscribe) *execConn {
	conn := &execConn{events: newBoundedQueue[*execpb.Event](maxExecutorEvents)}
	if fw.terminating || ex.state == exTerminating || ex.state == exTerminated {
		a.log.Info("shutting down an executor that subscribes while terminating", "executor", ex.id)
		conn.events.push(&execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()})
		conn.events.close()
		return conn
	}
	if ex.conn != nil {
		a.log.Info("closing the executor's previous subscription", "executor", ex.id)
		ex.conn.events.close()
	}
	ex.conn = conn
	ex.state = exRunning
	if ex.regTimer != nil {
		ex.regTimer.Stop()
		ex.regTimer = nil
	}
	a.log.Info("executor subscribed", "framework", fw.id, "executor", ex.id, "recovered", ex.recovered)
	if ex.recovered {
		defer a.checkRecovered()
	}

	// A recovered executor may run tasks delivered to it just before the
	// agent stopped, whose TaskInfo was not durable yet: its word (the
	// tasks it reports unacknowledged) brings them back, so that they are
	// reported to the master, can be killed, and their acknowledgements
	// reach the executor.
	if ex.recovered {
		adopted := false
		for _, info := range sub.GetUnacknowledgedTasks() {
			adopted = a.adoptTask(fw, ex, info) || adopted
		}
		if adopted {
			a.updateContainer(ex)
		}
	}
	for _, u := range sub.GetUnacknowledgedUpdates() {
		_ = a.executorUpdate(fw, ex, u.GetStatus(), nil) // resent at the next subscription if not taken
	}
	// A task the agent delivered but the executor does not know was lost
	// on the way.
	known := map[string]bool{}
	for _, t := range sub.GetUnacknowledgedTasks() {
		known[t.GetTaskId().GetValue()] = true
	}
	dropped := false
	for id, t := range ex.tasks {
		if !t.queued && t.state == mesos.TaskState_TASK_STAGING && !known[id] && ex.everSent {
			state := mesos.TaskState_TASK_DROPPED
			if !fw.partitionAware() {
				state = mesos.TaskState_TASK_LOST
			}
			a.agentUpdate(fw, ex, id, state, mesos.TaskStatus_REASON_AGENT_RESTARTED, "Task launched during agent restart")
			dropped = true
		}
	}

	// An executor left with nothing to run is shut down: one whose tasks
	// were all killed before delivery, or a built-in executor (which runs
	// only the tasks it is given) whose tasks were all lost on the way.
	idle := !ex.hasQueued() && (!ex.everSent || (dropped && ex.kind != kindCustom && !ex.hasLiveTask()))
	if idle {
		conn.events.push(&execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()})
		a.shutdownExecutor(ex)
		return conn
	}
	conn.events.push(&execpb.Event{
		Type: execpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &execpb.Event_Subscribed{
			ExecutorInfo:  ex.info,
			FrameworkInfo: fw.info,
			AgentInfo:     proto.Clone(a.st.info).(*mesos.AgentInfo),
			ContainerId:   &mesos.ContainerID{Value: proto.String(ex.containerID)},
		},
	})
	a.deliver(ex)
	return conn
}

// adoptTask takes a task a recovered executor says it runs into its
// executor, unless the agent knows the task (state goroutine). It
// reports whether it did.
func (a *Agent) adoptTask(fw *framework, ex *executor, info *mesos.TaskInfo) bool {
	id := info.GetTaskId().GetValue()
	if id == "" || ex.tasks[id] != nil || ex.completed[id] || fw.executorOf(id) != nil || fw.updates[id] != nil {
		return false
	}
	a.log.Info("taking back a task the recovered executor runs", "framework", fw.id, "executor", ex.id, "task", id)
	ex.tasks[id] = &task{info: info, state: mesos.TaskState_TASK_STAGING}
	a.checkpointTask(ex, info)
	return true
}

// executorUpdate takes an UPDATE from an executor: it fills in what the
// agent knows (agent id, container status) and queues it (state
// goroutine). durable is called once it is durable (statusUpdate). An
// error means it could not be taken.
func (a *Agent) executorUpdate(fw *framework, ex *executor, s *mesos.TaskStatus, durable func(error)) error {
	s = proto.Clone(s).(*mesos.TaskStatus)
	cs := s.ContainerStatus
	if cs == nil {
		cs = &mesos.ContainerStatus{}
		s.ContainerStatus = cs
	}
	if cs.ContainerId == nil {
		cs.ContainerId = &mesos.ContainerID{Value: proto.String(ex.containerID)}
	}
	if len(cs.NetworkInfos) == 0 {
		ipa := &mesos.NetworkInfo_IPAddress{IpAddress: proto.String(a.st.ip)}
		if ip := net.ParseIP(a.st.ip); ip != nil && ip.To4() == nil {
			ipa.Protocol = mesos.NetworkInfo_IPv6.Enum()
		}
		cs.NetworkInfos = []*mesos.NetworkInfo{{IpAddresses: []*mesos.NetworkInfo_IPAddress{ipa}}}
	}
	if cs.ExecutorPid == nil && ex.launched != nil && ex.launched.pid > 0 {
		cs.ExecutorPid = proto.Uint32(uint32(ex.launched.pid))
	}
	if s.AgentId == nil {
		s.AgentId = a.st.info.GetId()
	}
	return a.statusUpdate(fw, ex, s, durable)
}

func frameworkMessageCall(fwID string, call *execpb.Call) *agentproto.AgentCall {
	return &agentproto.AgentCall{
		Type: agentproto.AgentCall_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &agentproto.AgentCall_FrameworkMessage{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)},
			ExecutorId:  call.GetExecutorId(),
			Data:        call.GetMessage().GetData(),
		},
	}
}
