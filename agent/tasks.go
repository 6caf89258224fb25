package agent

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// framework returns (creating) the framework with id, updating its info
// when given.
func (a *Agent) framework(id string, info *mesos.FrameworkInfo) *framework {
	fw := a.st.frameworks[id]
	if fw == nil {
		fw = &framework{id: id, executors: map[string]*executor{}, updates: map[string]*updateStream{}}
		// A framework that comes back keeps its history.
		for i, old := range a.st.completedFrameworks {
			if old.id == id {
				fw.completedExecutors = old.completedExecutors
				a.st.completedFrameworks = append(a.st.completedFrameworks[:i:i], a.st.completedFrameworks[i+1:]...)
				break
			}
		}
		// ... and its directories, if they wait for garbage collection.
		a.gcUnscheduleFramework(id)
		a.st.frameworks[id] = fw
	}
	if info != nil {
		fw.info = info
		fw.terminating = false
		a.checkpointFramework(fw)
	}
	if fw.info == nil {
		fw.info = &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String(id)}}
	}
	return fw
}

// runTask handles RUN_TASK: a task (with or without executor) or a task
// group (state goroutine).
func (a *Agent) runTask(r *agentproto.AgentEvent_RunTask) {
	fi := r.GetFramework()
	fwID := fi.GetId().GetValue()
	fw := a.framework(fwID, fi)
	fw.pid = r.GetFrameworkPid()

	var infos []*mesos.TaskInfo
	var group *mesos.TaskGroupInfo
	if r.GetTaskGroup() != nil {
		group = r.GetTaskGroup()
		infos = group.GetTasks()
	} else if r.GetTask() != nil {
		infos = []*mesos.TaskInfo{r.GetTask()}
	}
	if len(infos) == 0 {
		a.log.Warn("RUN_TASK without task or task group", "framework", fwID)
		return
	}

	exInfo := r.GetExecutor()
	if exInfo == nil {
		exInfo = infos[0].GetExecutor()
	}
	kind := kindCustom
	switch {
	case exInfo == nil && group == nil && infos[0].GetCommand() != nil:
		kind = kindCommand
		exInfo = commandExecutorInfo(fwID, infos[0])
	case exInfo == nil:
		for _, t := range infos {
			a.agentUpdate(fw, nil, t.GetTaskId().GetValue(), mesos.TaskState_TASK_ERROR,
				mesos.TaskStatus_REASON_TASK_INVALID, "Task has neither an executor nor a command")
		}
		return
	case group != nil || exInfo.GetType() == mesos.ExecutorInfo_DEFAULT:
		kind = kindDefault
	}
	if exInfo.FrameworkId == nil {
		exInfo = proto.Clone(exInfo).(*mesos.ExecutorInfo)
		exInfo.FrameworkId = &mesos.FrameworkID{Value: proto.String(fwID)}
	}
	exID := exInfo.GetExecutorId().GetValue()

	ex := fw.executors[exID]
	if ex != nil && (ex.state == exTerminating || ex.state == exTerminated) {
		state := mesos.TaskState_TASK_DROPPED
		if !fw.partitionAware() {
			state = mesos.TaskState_TASK_LOST
		}
		for _, t := range infos {
			a.agentUpdate(fw, nil, t.GetTaskId().GetValue(), state, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
				"Executor "+exID+" is terminating")
		}
		return
	}
	// Refuse what this agent cannot run before anything of it exists.
	vols, err := a.validateRun(fw, ex == nil, kind, exInfo, infos)
	if err != nil {
		a.log.Info("refusing tasks the agent cannot run", "framework", fwID, "executor", exID, "reason", err)
		if ex == nil {
			// The container of a new executor could not be launched.
			a.st.metrics.containerLaunchErrors++
		}
		for _, t := range infos {
			a.agentUpdate(fw, nil, t.GetTaskId().GetValue(), mesos.TaskState_TASK_FAILED,
				mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, err.Error())
		}
		return
	}
	if ex == nil {
		var err error
		ex, err = a.newExecutor(fw, exInfo, kind)
		if err != nil {
			for _, t := range infos {
				a.agentUpdate(fw, nil, t.GetTaskId().GetValue(), mesos.TaskState_TASK_FAILED,
					mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, "Failed to create the executor's sandbox: "+err.Error())
			}
			return
		}
	}
	// Persistent volumes are in place before the executor starts or the
	// tasks reach it.
	if err := a.prepareVolumes(ex, vols); err != nil {
		for _, t := range infos {
			a.agentUpdate(fw, nil, t.GetTaskId().GetValue(), mesos.TaskState_TASK_FAILED,
				mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, "Failed to prepare persistent volumes: "+err.Error())
		}
		return
	}
	var ids []string
	for _, info := range infos {
		id := info.GetTaskId().GetValue()
		if ex.tasks[id] != nil || fw.executorOf(id) != nil {
			a.log.Warn("ignoring a task already on this agent", "task", id)
			continue
		}
		ex.tasks[id] = &task{info: info, group: group, queued: true, state: mesos.TaskState_TASK_STAGING}
		a.checkpointTask(ex, info)
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	ex.queue = append(ex.queue, ids)
	a.log.Info("queued tasks", "framework", fwID, "executor", exID, "tasks", ids, "executor_state", ex.state)
	// A launched container grows with its tasks.
	a.updateContainer(ex)
	switch ex.state {
	case exLaunching:
		if ex.launched == nil && ex.fetchCancel == nil {
			a.launchExecutor(ex)
		}
	case exRunning:
		a.deliver(ex)
	}
}

// commandExecutorInfo is the ExecutorInfo Mesos synthesizes for a command
// task: executor id = task id, the task's URIs fetched with it.
func commandExecutorInfo(fwID string, t *mesos.TaskInfo) *mesos.ExecutorInfo {
	id := t.GetTaskId().GetValue()
	cmd := t.GetCommand()
	show := cmd.GetValue()
	if len(show) > 15 {
		show = show[:12] + "..."
	}
	if cmd.GetShell() {
		show = "sh -c '" + show + "'"
	}
	// Mesos leaves its type unset.
	return &mesos.ExecutorInfo{
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(id)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)},
		Name:        proto.String(fmt.Sprintf("Command Executor (Task: %s) (Command: %s)", id, show)),
		Source:      proto.String(id),
		Command:     &mesos.CommandInfo{Uris: cmd.GetUris(), User: cmd.User},
		Container:   t.GetContainer(),
		Resources:   t.GetResources(),
		Labels:      t.GetLabels(),
	}
}

// deliver sends queued tasks to a subscribed executor.
func (a *Agent) deliver(ex *executor) {
	if ex.conn == nil {
		return
	}
	for _, ids := range ex.queue {
		var infos []*mesos.TaskInfo
		var group *mesos.TaskGroupInfo
		for _, id := range ids {
			t := ex.tasks[id]
			if t == nil || !t.queued {
				continue
			}
			t.queued = false
			infos = append(infos, t.info)
			group = t.group
		}
		if len(infos) == 0 {
			continue
		}
		ex.everSent = true
		if ex.kind == kindDefault || group != nil {
			ex.conn.events.push(&execpb.Event{Type: execpb.Event_LAUNCH_GROUP.Enum(),
				LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: &mesos.TaskGroupInfo{Tasks: infos}}})
		} else {
			for _, info := range infos {
				ex.conn.events.push(&execpb.Event{Type: execpb.Event_LAUNCH.Enum(),
					Launch: &execpb.Event_Launch{Task: info}})
			}
		}
	}
	ex.queue = nil
}

// killTask handles KILL_TASK (state goroutine).
func (a *Agent) killTask(fwID, taskID string, policy *mesos.KillPolicy) {
	fw := a.st.frameworks[fwID]
	if fw == nil {
		// Nothing of the framework runs here.
		fw = a.framework(fwID, nil)
		a.agentUpdate(fw, nil, taskID, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Cannot find executor")
		return
	}
	if fw.terminating {
		return
	}
	ex := fw.executorOf(taskID)
	if ex == nil {
		if u := fw.updates[taskID]; u != nil {
			return // already terminal, waiting for acknowledgement
		}
		state := mesos.TaskState_TASK_DROPPED
		if !fw.partitionAware() {
			state = mesos.TaskState_TASK_LOST
		}
		a.agentUpdate(fw, nil, taskID, state, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Cannot find executor")
		return
	}
	t := ex.tasks[taskID]
	if mesos.IsTerminalState(t.state) {
		return
	}
	if t.queued {
		// Not delivered yet: kill it (and its group) here.
		ids := []string{taskID}
		msg := "Killed before delivery to the executor"
		if t.group != nil {
			ids = nil
			for _, gt := range t.group.GetTasks() {
				ids = append(ids, gt.GetTaskId().GetValue())
			}
			msg = "A task within the task group was killed before delivery to the executor"
		}
		for _, id := range ids {
			if gt := ex.tasks[id]; gt != nil && gt.queued {
				gt.queued = false
				a.agentUpdate(fw, ex, id, mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH, msg)
			}
		}
		if !ex.everSent && !ex.hasQueued() {
			a.shutdownExecutor(ex)
		}
		return
	}
	if ex.conn != nil {
		ex.conn.events.push(&execpb.Event{Type: execpb.Event_KILL.Enum(),
			Kill: &execpb.Event_Kill{TaskId: t.info.GetTaskId(), KillPolicy: policy}})
	}
}

func (ex *executor) hasQueued() bool {
	for _, t := range ex.tasks {
		if t.queued {
			return true
		}
	}
	return false
}

// hasLiveTask reports whether one of ex's tasks has not reached a
// terminal state.
func (ex *executor) hasLiveTask() bool {
	for _, t := range ex.tasks {
		if !mesos.IsTerminalState(t.state) {
			return true
		}
	}
	return false
}

// shutdownExecutor asks an executor to stop: SHUTDOWN, then SIGKILL of
// its process group after the grace period (state goroutine).
func (a *Agent) shutdownExecutor(ex *executor) {
	switch ex.state {
	case exTerminating, exTerminated:
		return
	}
	prev := ex.state
	ex.state = exTerminating
	if ex.regTimer != nil {
		ex.regTimer.Stop()
		ex.regTimer = nil
	}
	a.log.Info("shutting down executor", "framework", ex.fw.id, "executor", ex.id)
	switch {
	case prev == exRunning && ex.conn != nil:
		ex.conn.events.push(&execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()})
		grace := a.cfg.ExecutorShutdownGracePeriod
		if gp := ex.info.GetShutdownGracePeriod(); gp != nil {
			grace = time.Duration(gp.GetNanoseconds())
		}
		ex.shutdownTimer = a.after(grace, func() {
			ex.shutdownTimer = nil
			if ex.launched != nil && ex.state != exTerminated {
				a.log.Info("executor did not exit within its grace period; killing it", "executor", ex.id, "grace", grace)
				a.destroyContainer(ex)
			}
		})
	case ex.launched != nil:
		a.destroyContainer(ex)
	case ex.fetchCancel != nil:
		ex.fetchCancel() // the launch goroutine reports back
	default:
		a.executorTerminated(ex, nil)
	}
}

// shutdownFramework stops all of a framework's executors; its updates
// are dropped (state goroutine).
func (a *Agent) shutdownFramework(fwID string) {
	fw := a.st.frameworks[fwID]
	if fw == nil {
		return
	}
	a.log.Info("shutting down framework", "framework", fwID)
	fw.terminating = true
	fw.updates = map[string]*updateStream{}
	a.armRetry()
	for _, ex := range fw.executors {
		a.shutdownExecutor(ex)
	}
	a.cleanup(fw, nil)
}

// frameworkMessage relays a framework's message to its executor.
func (a *Agent) frameworkMessage(fwID, exID string, data []byte) {
	fw := a.st.frameworks[fwID]
	if fw == nil {
		a.st.metrics.invalidFrameworkMessages++
		a.log.Info("dropping framework message for an unknown framework", "framework", fwID)
		return
	}
	ex := fw.executors[exID]
	if ex == nil || ex.conn == nil {
		a.st.metrics.invalidFrameworkMessages++
		a.log.Info("dropping framework message for an executor that is not subscribed", "executor", exID)
		return
	}
	ex.conn.events.push(&execpb.Event{Type: execpb.Event_MESSAGE.Enum(), Message: &execpb.Event_Message{Data: data}})
	a.st.metrics.validFrameworkMessages++
}

// registrationTimeout kills an executor that has not subscribed.
func (a *Agent) registrationTimeout(ex *executor) {
	ex.regTimer = nil
	if ex.state != exRegistering {
		return
	}
	a.log.Info("executor did not subscribe in time; killing it", "executor", ex.id, "timeout", a.cfg.ExecutorRegistrationTimeout)
	ex.pendingTermination = &termination{
		state:   mesos.TaskState_TASK_FAILED,
		reason:  mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
		message: "Executor did not register within " + flags.FormatDuration(a.cfg.ExecutorRegistrationTimeout),
	}
	ex.state = exTerminating
	a.destroyContainer(ex)
}

// executorTerminated handles the end of an executor: its container ended
// (term set; everything in it is gone) or it never started. Unfinished
// tasks get a terminal update from the agent (state goroutine).
func (a *Agent) executorTerminated(ex *executor, term *containerizer.Termination) {
	if ex.state == exTerminated {
		return
	}
	ex.state = exTerminated
	a.st.metrics.executorsTerminated++
	a.v0.forget(ex.fw.id, ex.id)
	ex.stopTimers()
	if ex.conn != nil {
		ex.conn.events.close()
		ex.conn = nil
	}
	why := ex.pendingTermination
	if term != nil && term.Reason != 0 && (why == nil || why.reason == mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT) {
		// Ended by its isolation (a limitation). A recovered executor
		// whose container hit a limit before it could re-subscribe is
		// reported with that limit, not with the re-registration timeout
		// that found it dying.
		why = &termination{state: term.State, reason: term.Reason, message: term.Message}
	}
	if why == nil {
		why = &termination{state: mesos.TaskState_TASK_FAILED, reason: mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, message: "Executor terminated"}
	}
	var status *int32
	if term != nil {
		if term.Status == nil {
			// Recovered, not our child: its wait status went to its
			// new parent.
			a.log.Info("recovered executor exited", "framework", ex.fw.id, "executor", ex.id)
		} else {
			status = term.Status
			a.log.Info("executor exited", "framework", ex.fw.id, "executor", ex.id, "status", term.Describe())
		}
	}
	for id, t := range ex.tasks {
		if !mesos.IsTerminalState(t.state) {
			t.queued = false
			a.agentUpdate(ex.fw, ex, id, why.state, why.reason, why.message)
		}
	}
	// The master knows only the executors a framework gave it: the
	// command executor is the agent's own (as in Mesos, its end is not
	// reported), and a terminating framework's executors left the master
	// with the framework.
	if term != nil && ex.kind != kindCommand && !ex.fw.terminating {
		a.send(&agentproto.AgentCall{
			Type: agentproto.AgentCall_EXECUTOR_EXITED.Enum(),
			ExecutorExited: &agentproto.AgentCall_ExecutorExited{
				FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.fw.id)},
				ExecutorId:  ex.info.GetExecutorId(),
				Status:      status,
			},
		})
	}
	a.cleanup(ex.fw, ex)
	if ex.recovered {
		a.checkRecovered()
	}
}

// cleanup forgets a terminated executor whose tasks are all acknowledged,
// and a framework with nothing left, and schedules their directories for
// garbage collection (state goroutine).
func (a *Agent) cleanup(fw *framework, ex *executor) {
	if ex != nil && ex.state == exTerminated {
		done := true
		for id := range ex.tasks {
			if fw.updates[id] != nil && !fw.terminating {
				done = false
			}
		}
		if done && fw.executors[ex.id] == ex {
			delete(fw.executors, ex.id)
			fw.completedExecutors = appendBounded(fw.completedExecutors, ex, a.cfg.MaxCompletedExecutorsPerFramework)
			a.checkpointCompleted(ex)
			a.gcExecutor(ex)
		}
	}
	if len(fw.executors) == 0 && len(fw.updates) == 0 && a.st.frameworks[fw.id] == fw {
		delete(a.st.frameworks, fw.id)
		a.st.completedFrameworks = appendBounded(a.st.completedFrameworks, fw, maxCompletedFrameworks)
		a.gcFramework(fw)
	}
}
