package master

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/resources"
)

// accept handles ACCEPT, following Mesos: the offers are validated
// together (an invalid set fails every task with TASK_DROPPED, or TASK_LOST
// for frameworks that are not partition-aware, REASON_INVALID_OFFERS); then
// each operation in order: valid tasks go TASK_STAGING and to the agent
// (RUN_TASK), invalid ones get TASK_ERROR; what the operations do not use
// goes back to the allocator, filtered by the call's filters.
func (c *core) accept(f *framework, acc *schedpb.Call_Accept) {
	for _, op := range acc.GetOperations() {
		if op.GetType() == mesos.Offer_Operation_LAUNCH {
			// Mesos counts a LAUNCH without tasks as declining the offers.
			if len(op.GetLaunch().GetTaskInfos()) > 0 {
				c.metrics.inc(ctrMsgLaunchTasks)
			} else {
				c.metrics.inc(ctrMsgDeclineOffers)
			}
		}
	}
	ids := acc.GetOfferIds()
	var err error
	if len(ids) == 0 {
		err = fmt.Errorf("No offers specified")
	} else {
		err = c.validateOffers(f, ids)
	}
	if err != nil {
		c.log.Warn("ACCEPT used invalid offers", "framework_id", f.id, "reason", err)
		for _, id := range ids {
			if o := f.offers[id.GetValue()]; o != nil {
				c.discardOffer(o, 0)
			}
		}
		state := f.lostState(mesos.TaskState_TASK_DROPPED)
		for _, op := range acc.GetOperations() {
			tasks, launch := operationTasks(op)
			if !launch {
				c.operationError(f, op, "", "Operation attempted with invalid offers: "+err.Error())
				continue
			}
			for _, t := range tasks {
				c.sendMasterUpdate(f, t, state, mesos.TaskStatus_REASON_INVALID_OFFERS,
					"Task launched with invalid offers: "+err.Error())
			}
		}
		return
	}

	first := f.offers[ids[0].GetValue()]
	a := c.agents[first.agentID]
	role := first.role
	var offered resources.Resources
	for _, id := range ids {
		o := f.offers[id.GetValue()]
		offered = offered.Add(o.res)
		c.removeOffer(o)
		f.metrics.offersAccepted++
	}
	remaining := offered
	launched := false
	for _, op := range acc.GetOperations() {
		switch op.GetType() {
		case mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE,
			mesos.Offer_Operation_CREATE, mesos.Offer_Operation_DESTROY,
			mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME:
			if err := c.authorizeFrameworkConversion(f, op); err != nil {
				c.operationError(f, op, a.id, err.Error())
				continue
			}
			from, to, err := c.conversion(f, a, role, op)
			if err == nil && !remaining.Contains(from) {
				err = fmt.Errorf("%v is not available in the offers (remaining: %v)", from, remaining)
			}
			if err == nil {
				err = c.alloc.UpdateAllocation(f.id, a.id, role, from, to)
			}
			if err != nil {
				c.operationError(f, op, a.id, err.Error())
				continue
			}
			remaining = remaining.Subtract(from).Add(to)
			a.total = a.total.Subtract(from).Add(to)
			c.checkpointResources(a)
			c.metrics.operation(op.GetType(), mesos.OperationState_OPERATION_FINISHED)
			f.metrics.operation(op.GetType())
			c.operationFinished(f, op, a.id, to)
			c.log.Info("applied offer operation", "framework_id", f.id, "agent_id", a.id, "type", op.GetType().String(), "resources", to.String())
		case mesos.Offer_Operation_LAUNCH:
			if op.Id != nil {
				c.failTasks(f, op.GetLaunch().GetTaskInfos(), mesos.TaskStatus_REASON_TASK_INVALID,
					"The `id` field cannot be set on LAUNCH operations")
				continue
			}
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				ti = proto.Clone(ti).(*mesos.TaskInfo)
				if ti.GetExecutor() != nil && ti.GetExecutor().FrameworkId == nil {
					ti.Executor.FrameworkId = frameworkID(f.id)
				}
				if err := c.authorizeTask(f, ti); err != nil {
					c.sendMasterUpdate(f, ti, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_UNAUTHORIZED, err.Error())
					continue
				}
				used, err := c.validateTask(f, a, ti, remaining)
				if err != nil {
					c.sendMasterUpdate(f, ti, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_INVALID, err.Error())
					continue
				}
				remaining = remaining.Subtract(used.total)
				launched = true
				c.launch(f, a, role, used, ti.GetExecutor(), []*mesos.TaskInfo{ti}, nil)
				f.metrics.operation(mesos.Offer_Operation_LAUNCH)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			lg := op.GetLaunchGroup()
			group := proto.Clone(lg.GetTaskGroup()).(*mesos.TaskGroupInfo)
			if op.Id != nil {
				c.failTasks(f, group.GetTasks(), mesos.TaskStatus_REASON_TASK_GROUP_INVALID,
					"The `id` field cannot be set on LAUNCH_GROUP operations")
				continue
			}
			exec := proto.Clone(lg.GetExecutor()).(*mesos.ExecutorInfo)
			for _, ti := range group.GetTasks() {
				if ti.Executor == nil {
					ti.Executor = exec
				}
			}
			if err := c.authorizeTaskGroup(f, group); err != nil {
				c.failTasks(f, group.GetTasks(), mesos.TaskStatus_REASON_TASK_GROUP_UNAUTHORIZED, err.Error())
				continue
			}
			used, err := c.validateTaskGroup(f, a, group, exec, remaining)
			if err != nil {
				c.failTasks(f, group.GetTasks(), mesos.TaskStatus_REASON_TASK_GROUP_INVALID, err.Error())
				continue
			}
			remaining = remaining.Subtract(used.total)
			launched = true
			c.launch(f, a, role, used, exec, group.GetTasks(), group)
			f.metrics.operation(mesos.Offer_Operation_LAUNCH_GROUP)
		default:
			c.operationError(f, op, a.id, fmt.Sprintf("Operation %s is not supported by this master yet", op.GetType()))
		}
	}
	refuse := allocator.RefuseDuration(refuseSeconds(acc.GetFilters()))
	if launched || len(acc.GetOperations()) > 0 {
		c.alloc.Launched(f.id, role)
		c.alloc.Recover(f.id, a.id, role, remaining, refuse, c.clock.Now())
	} else {
		// An ACCEPT without operations declines the offers.
		c.alloc.Decline(f.id, a.id, role, remaining, refuse, c.clock.Now())
	}
	c.allocateSoon = true
}

// operationTasks returns the tasks of a LAUNCH or LAUNCH_GROUP operation;
// launch is false for other operations.
func operationTasks(op *mesos.Offer_Operation) (tasks []*mesos.TaskInfo, launch bool) {
	switch op.GetType() {
	case mesos.Offer_Operation_LAUNCH:
		return op.GetLaunch().GetTaskInfos(), true
	case mesos.Offer_Operation_LAUNCH_GROUP:
		return op.GetLaunchGroup().GetTaskGroup().GetTasks(), true
	}
	return nil, false
}

// operationError reports an operation the master did not perform: an
// OPERATION_ERROR update when the framework asked for feedback (set
// Operation.id), a log line otherwise (Mesos drops such operations
// silently).
func (c *core) operationError(f *framework, op *mesos.Offer_Operation, agent, msg string) {
	c.log.Warn("dropping offer operation", "framework_id", f.id, "type", op.GetType().String(), "reason", msg)
	c.metrics.operation(op.GetType(), mesos.OperationState_OPERATION_ERROR)
	if op.Id == nil {
		return
	}
	st := &mesos.OperationStatus{
		OperationId: op.GetId(),
		State:       mesos.OperationState_OPERATION_ERROR.Enum(),
		Message:     proto.String(msg),
	}
	if agent != "" {
		st.AgentId = agentID(agent)
	}
	f.send(&schedpb.Event{
		Type:                  schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: st},
	})
}

func (c *core) failTasks(f *framework, tasks []*mesos.TaskInfo, reason mesos.TaskStatus_Reason, msg string) {
	for _, t := range tasks {
		c.sendMasterUpdate(f, t, mesos.TaskState_TASK_ERROR, reason, msg)
	}
}

// sendMasterUpdate tells a framework about a task the master did not
// launch.
func (c *core) sendMasterUpdate(f *framework, t *mesos.TaskInfo, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	c.log.Info("task not launched", "framework_id", f.id, "task_id", t.GetTaskId().GetValue(), "state", state.String(), "reason", msg)
	st := c.masterStatus(t.GetTaskId().GetValue(), t.GetAgentId().GetValue(), state, reason, msg)
	c.metrics.taskEnded(state, st)
	f.send(updateEvent(st))
}

// launch books validated tasks (one task, or a task group) and their
// executor (when new) on agent a and sends them to it.
func (c *core) launch(f *framework, a *agent, role string, used taskResources, exec *mesos.ExecutorInfo, infos []*mesos.TaskInfo, group *mesos.TaskGroupInfo) {
	if exec != nil && used.newExecutor {
		e := &executor{info: exec, res: used.executor, role: role}
		execID := exec.GetExecutorId().GetValue()
		if a.executors[f.id] == nil {
			a.executors[f.id] = map[string]*executor{}
		}
		a.executors[f.id][execID] = e
		if f.executors[a.id] == nil {
			f.executors[a.id] = map[string]*executor{}
		}
		f.executors[a.id][execID] = e
	}
	for i, ti := range infos {
		t := &task{
			pb: &mesos.Task{
				Name:        ti.Name,
				TaskId:      ti.GetTaskId(),
				FrameworkId: frameworkID(f.id),
				AgentId:     agentID(a.id),
				State:       mesos.TaskState_TASK_STAGING.Enum(),
				Resources:   resources.ToProto(used.tasks[i].Allocate(role), resources.FormatEndpoint),
				Labels:      ti.GetLabels(),
				Discovery:   ti.GetDiscovery(),
				Container:   ti.GetContainer(),
				HealthCheck: ti.GetHealthCheck(),
				KillPolicy:  ti.GetKillPolicy(),
				Limits:      ti.GetLimits(),
			},
			res:  used.tasks[i],
			role: role,
		}
		if cmd := ti.GetCommand(); cmd != nil && cmd.User != nil {
			t.pb.User = cmd.User
		}
		if exec != nil {
			t.pb.ExecutorId = exec.GetExecutorId()
		}
		f.tasks[ti.GetTaskId().GetValue()] = t
		if a.tasks[f.id] == nil {
			a.tasks[f.id] = map[string]*task{}
		}
		a.tasks[f.id][ti.GetTaskId().GetValue()] = t
		c.publish(taskAdded(t.pb))
		c.log.Info("launching task", "framework_id", f.id, "task_id", ti.GetTaskId().GetValue(), "agent_id", a.id)
	}
	run := &agentproto.AgentEvent_RunTask{Framework: f.info}
	if f.pid != "" {
		run.FrameworkPid = proto.String(f.pid)
	}
	if group != nil {
		run.Executor = exec
		run.TaskGroup = group
	} else {
		run.Task = infos[0]
		run.Executor = infos[0].GetExecutor()
	}
	a.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_RUN_TASK.Enum(), RunTask: run})
}
