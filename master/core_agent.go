package master

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// agentGrace is how long an agent may stay silent (unanswered pings, or a
// closed stream) before the master marks it unreachable.
func (c *core) agentGrace() time.Duration {
	return c.cfg.AgentPingTimeout * time.Duration(c.cfg.MaxAgentPingTimeouts)
}

// registerAgent handles REGISTER: a new agent gets an id; an agent with an
// id keeps it (known, unreachable, or unknown to this master after a
// restart) and its reported tasks and executors are reconciled with the
// master's. On success the first event on sink is REGISTERED; errors are
// answered before the stream starts (400).
//
// The answer waits for the registry when the agent must be recorded
// (admitted, re-admitted, or its total changed): then the error is a
// *pendingReply, and nothing changes before the write is durable; a
// registration of an agent whose record is being written waits for it.
// A registration that arrives while a maintenance change is being
// recorded waits for it too, and is decided on the machines' modes it
// left: an agent whose machine went DOWN meanwhile is refused, one whose
// machine came back UP is admitted.
func (c *core) registerAgent(sink agentSink, streamID string, reg *agentproto.AgentCall_Register) (string, error) {
	return c.registerAgentAs(sink, streamID, reg, "")
}

// registerAgentAs is registerAgent; a new agent (reg names no id) takes
// the id newID, or the next one when newID is "". A new agent that waits
// takes its id before it waits, so that the id returned names the agent
// the answer is about (the HTTP edge ends the stream under it).
func (c *core) registerAgentAs(sink agentSink, streamID string, reg *agentproto.AgentCall_Register, newID string) (string, error) {
	claimed := reg.GetAgentInfo().GetId().GetValue()
	keys := []string{maintenanceKey}
	if claimed != "" {
		keys = []string{agentKey(claimed), maintenanceKey}
	} else if newID == "" && c.keyBusy(maintenanceKey) {
		newID = c.newAgentID()
	}
	again := func() error {
		_, err := c.registerAgentAs(sink, streamID, reg, newID)
		return err
	}
	if p, busy := c.whenFree(keys, again); busy {
		if claimed == "" {
			return newID, p
		}
		return claimed, p
	}
	if reg.GetAgentInfo().GetId().GetValue() == "" {
		c.metrics.inc(ctrMsgRegisterSlave)
	} else {
		c.metrics.inc(ctrMsgReregisterSlave)
	}
	info := proto.Clone(reg.GetAgentInfo()).(*mesos.AgentInfo)
	flagTotal, err := parseResources(info.GetResources())
	if err != nil {
		return "", invalidf("Invalid agent resources: %v", err)
	}
	total := flagTotal
	if cp := reg.GetCheckpointedResources(); len(cp) > 0 {
		// The agent's checkpointed total: its reservations and volumes.
		checkpointed, err := parseResources(cp)
		if err != nil {
			return "", invalidf("Invalid checkpointed resources: %v", err)
		}
		if baseResources(checkpointed).Equal(baseResources(flagTotal)) {
			total = checkpointed
		} else {
			c.log.Warn("ignoring checkpointed resources that do not match the agent's resources",
				"agent_id", info.GetId().GetValue(), "checkpointed", checkpointed.String(), "resources", flagTotal.String())
		}
	}
	ip, port, err := splitEndpoint(reg.GetEndpoint(), info)
	if err != nil {
		return "", invalidf("Invalid agent endpoint: %v", err)
	}
	id := info.GetId().GetValue()
	if id != "" {
		if err := validateID(id); err != nil {
			return "", invalidf("Invalid agent id: %v", err)
		}
	}
	for _, t := range reg.GetTasks() {
		if t.GetFrameworkId().GetValue() == "" || t.GetTaskId().GetValue() == "" {
			return "", invalidf("Reported task without framework_id or task_id")
		}
	}
	a := c.agents[id]
	if id == "" {
		id = newID
		if id == "" {
			id = c.newAgentID()
		}
		info.Id = agentID(id)
	}
	// An agent this master knows keeps the master's view of its
	// reservations and volumes: operations applied while it was away (or
	// whose CHECKPOINT_RESOURCES it lost) are sent to it again below.
	resend := false
	if a != nil && !a.total.Equal(total) && baseResources(a.total).Equal(baseResources(flagTotal)) {
		total, resend = a.total, true
	}
	// After a master restart the agent's checkpoint is authoritative; an
	// agent that reports none (it lost it) gets the registry's record.
	if r := c.recovered[id]; a == nil && r != nil && len(reg.GetCheckpointedResources()) == 0 {
		if recorded, err := parseResources(r.info.GetResources()); err == nil && !recorded.Equal(total) &&
			baseResources(recorded).Equal(baseResources(flagTotal)) {
			total, resend = recorded, true
		}
	}
	// The registry records the total, reservations and volumes included,
	// so a restarted master knows them.
	rec := proto.Clone(info).(*mesos.AgentInfo)
	rec.Resources = resources.ToProto(total, resources.FormatPostRefinement)
	op, refusal := c.agentRecordOp(id, a != nil, rec, reg.GetCapabilities())
	if down := c.machineDown(info.GetHostname(), ip); down != "" && refusal == "" {
		refusal, op = down, nil
	}
	if refusal != "" {
		c.log.Warn("refusing agent registration", "agent_id", id, "reason", refusal)
		sink.Send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_ERROR.Enum(),
			Error: &agentproto.AgentEvent_Error{Message: proto.String(refusal)}})
		sink.Close()
		return id, nil
	}
	if op == nil && c.recordedResourcesDiffer(a, id, total) {
		op = registry.UpdateAgent{Info: rec, Capabilities: reg.GetCapabilities()}
	}
	if op == nil {
		c.admitAgent(sink, streamID, reg, a, info, ip, port, total, total, resend)
		return id, nil
	}
	// The total of a known agent as this registration read it: operations
	// may change it while the record is written.
	var read resources.Resources
	if a != nil {
		read = a.total
	}
	c.admitting[id] = agentAddr{host: info.GetHostname(), ip: ip}
	return id, c.writeThen([]string{agentKey(id)}, []registry.Op{op}, func(err error) error {
		delete(c.admitting, id)
		if err == nil && c.agents[id] != a {
			err = fmt.Errorf("agent %s changed while its record was written", id)
		}
		if err != nil {
			c.log.Warn("agent registration not recorded", "agent_id", id, "err", err)
			return unavailablef("Could not record the agent in the registry; retry later")
		}
		recorded, current := total, total
		if a != nil && !a.total.Equal(read) && baseResources(a.total).Equal(baseResources(total)) {
			// Reservations or volumes changed meanwhile: the agent keeps
			// the master's view, sent to it on its new stream; the
			// registry holds what was written, updated at its next
			// registration.
			c.log.Info("the agent's resources changed while its registration was recorded; sending it the master's view",
				"agent_id", id, "recorded", total.String(), "total", a.total.String())
			current, resend = a.total, true
		}
		c.admitAgent(sink, streamID, reg, a, info, ip, port, current, recorded, resend)
		return nil
	})
}

// admitAgent is registerAgent once the registry holds the agent: a (nil
// for an agent new to this master) takes the registration's info, total
// and stream, its tasks are reconciled, and it hears REGISTERED. recorded
// is the total the registry holds for it.
func (c *core) admitAgent(sink agentSink, streamID string, reg *agentproto.AgentCall_Register, a *agent,
	info *mesos.AgentInfo, ip string, port int, total, recorded resources.Resources, resend bool) {
	now := c.clock.Now()
	id := info.GetId().GetValue()
	wasUnreachable := false
	switch {
	case info.GetId().GetValue() == id && reg.GetAgentInfo().GetId().GetValue() == "":
		c.log.Info("agent registered", "agent_id", id, "hostname", info.GetHostname(), "endpoint", reg.GetEndpoint())
		c.metrics.inc(ctrSlaveRegistrations)
	case a != nil:
		c.log.Info("agent re-registered", "agent_id", id, "hostname", info.GetHostname())
		if a.stream != nil {
			a.stream.Close()
		}
	default:
		_, wasUnreachable = c.unreachable[id]
		_, wasRecovered := c.recovered[id]
		delete(c.unreachable, id)
		delete(c.recovered, id)
		c.scheduleRecovered(id)
		c.log.Info("agent re-admitted", "agent_id", id, "was_unreachable", wasUnreachable, "after_master_restart", wasRecovered)
		c.metrics.inc(ctrSlaveReregistrations)
	}
	added := a == nil
	if a == nil {
		a = &agent{
			id:         id,
			registered: now,
			tasks:      map[string]map[string]*task{},
			executors:  map[string]map[string]*executor{},
			offers:     map[string]*offer{},
		}
		c.agents[id] = a
	} else {
		a.reregistered = now
		if !a.removalDeferred.IsZero() {
			// The agent is back: its deferred removal is off.
			c.log.Info("canceling the agent's deferred removal: it re-registered", "agent_id", id)
			a.removalDeferred = time.Time{}
			if a.removalCause == removalUnhealthy {
				c.metrics.inc(ctrSlaveUnreachableCanceled)
			}
		}
		// Offers of the old connection may not match what the agent has.
		for _, o := range sortOffers(a.offers) {
			c.rescindOffer(o)
		}
	}
	a.info, a.ip, a.port = info, ip, port
	a.version = reg.GetVersion()
	a.caps = reg.GetCapabilities()
	a.total, a.recorded = total, recorded
	a.stream, a.streamID = sink, streamID
	a.disconnected = time.Time{}
	a.missedPings, a.pingSeq, a.pongSeq = 0, 0, 0
	a.nextPing = now.Add(c.cfg.AgentPingTimeout)
	c.scheduleAgent(a)
	c.alloc.AddAgent(id, total)
	if added {
		c.publish(agentAdded(a))
	}
	c.reconcileAgent(a, reg, wasUnreachable)
	c.agentRegistered(a)

	sink.Send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_REGISTERED.Enum(),
		Registered: &agentproto.AgentEvent_Registered{
			AgentId:             agentID(id),
			MasterInfo:          proto.Clone(c.info).(*mesos.MasterInfo),
			PingIntervalSeconds: proto.Float64(c.cfg.AgentPingTimeout.Seconds()),
			MaxMissedPings:      proto.Uint32(uint32(c.cfg.MaxAgentPingTimeouts)),
		},
	})
	if resend {
		c.log.Info("sending the agent the reservations and volumes it did not report", "agent_id", id, "total", total.String())
		c.checkpointResources(a)
	}
	// The pids of the scheduler drivers whose tasks it runs (a restarted
	// agent lost them).
	for _, fid := range sortedKeys(a.tasks) {
		if f := c.frameworks[fid]; f != nil && f.pid != "" {
			a.send(updateFrameworkEvent(f))
		}
	}
	c.allocateSoon = true
}

// updateFrameworkEvent tells an agent the pid of f's scheduler driver.
func updateFrameworkEvent(f *framework) *agentproto.AgentEvent {
	return &agentproto.AgentEvent{Type: agentproto.AgentEvent_UPDATE_FRAMEWORK.Enum(),
		UpdateFramework: &agentproto.AgentEvent_UpdateFramework{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(f.id)}, FrameworkPid: proto.String(f.pid)}}
}

// frameworkPIDChanged tells the agents that run f's tasks the new pid of
// its scheduler driver, when it differs from old.
func (c *core) frameworkPIDChanged(f *framework, old string) {
	if f.pid == old {
		return
	}
	for _, aid := range sortedKeys(c.agents) {
		if a := c.agents[aid]; len(a.tasks[f.id]) > 0 {
			a.send(updateFrameworkEvent(f))
		}
	}
}

// recordedResourcesDiffer reports whether the registry's record of an
// admitted agent (known to this master, or recovered from the registry)
// holds another total than total.
func (c *core) recordedResourcesDiffer(a *agent, id string, total resources.Resources) bool {
	var recorded resources.Resources
	switch {
	case a != nil:
		recorded = a.recorded
	case c.recovered[id] != nil:
		r, err := parseResources(c.recovered[id].info.GetResources())
		if err != nil {
			return true
		}
		recorded = r
	default:
		return false
	}
	return !recorded.Equal(total)
}

// splitEndpoint reads the agent's "ip:port"; without one, the hostname and
// AgentInfo.port stand in.
func splitEndpoint(endpoint string, info *mesos.AgentInfo) (string, int, error) {
	if endpoint == "" {
		return info.GetHostname(), int(info.GetPort()), nil
	}
	host, portStr, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", endpoint)
	}
	return host, port, nil
}

// reconcileAgent makes the master's books for a (re-)registering agent
// match what it reports: reported tasks and executors the master does not
// know are added (those of removed frameworks are shut down instead);
// tasks the master knows there but the agent does not are reported lost
// (TASK_DROPPED, or TASK_LOST for frameworks that are not
// partition-aware), as Mesos' agent does. An agent coming back from
// unreachable keeps the tasks of PARTITION_AWARE frameworks; the tasks of
// other frameworks were already reported TASK_LOST, so they are shut down,
// as in Mesos 1.x.
func (c *core) reconcileAgent(a *agent, reg *agentproto.AgentCall_Register, wasUnreachable bool) {
	infos := map[string]*mesos.FrameworkInfo{}
	for _, fi := range reg.GetFrameworks() {
		infos[fi.GetId().GetValue()] = fi
	}
	shutdown := map[string]bool{}
	reported := map[string]map[string]bool{}
	for _, e := range reg.GetExecutors() {
		fwID := e.GetFrameworkId().GetValue()
		if c.removedIDs[fwID] {
			shutdown[fwID] = true
			continue
		}
		f := c.frameworkFor(fwID, infos)
		execID := e.GetExecutorId().GetValue()
		if f == nil || a.executors[fwID][execID] != nil {
			continue
		}
		res, _ := parseResources(e.GetResources())
		ex := &executor{info: e, res: res, role: allocationRole(e.GetResources(), f)}
		if a.executors[fwID] == nil {
			a.executors[fwID] = map[string]*executor{}
		}
		a.executors[fwID][execID] = ex
		if f.executors[a.id] == nil {
			f.executors[a.id] = map[string]*executor{}
		}
		f.executors[a.id][execID] = ex
		c.alloc.Use(fwID, a.id, ex.role, res)
	}
	for _, t := range reg.GetTasks() {
		fwID, taskID := t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue()
		if reported[fwID] == nil {
			reported[fwID] = map[string]bool{}
		}
		reported[fwID][taskID] = true
		if c.removedIDs[fwID] {
			shutdown[fwID] = true
			continue
		}
		if a.task(fwID, taskID) != nil {
			continue
		}
		if a.abandoned[fwID][taskID] {
			// Told to shut it down before, on a stream that broke first:
			// only this task is killed now, as the framework may have new
			// tasks here since.
			if !mesos.IsTerminalState(t.GetState()) {
				a.send(&agentproto.AgentEvent{
					Type:     agentproto.AgentEvent_KILL_TASK.Enum(),
					KillTask: &agentproto.AgentEvent_KillTask{FrameworkId: frameworkID(fwID), TaskId: t.GetTaskId()},
				})
			}
			continue
		}
		f := c.frameworkFor(fwID, infos)
		if f == nil || (wasUnreachable && !f.partitionAware()) {
			shutdown[fwID] = true
			if a.abandoned == nil {
				a.abandoned = map[string]map[string]bool{}
			}
			if a.abandoned[fwID] == nil {
				a.abandoned[fwID] = map[string]bool{}
			}
			a.abandoned[fwID][taskID] = true
			continue
		}
		if old := f.tasks[taskID]; old != nil {
			// Known on another agent: keep the master's view.
			c.log.Warn("agent reports a task the master places elsewhere", "agent_id", a.id, "framework_id", fwID, "task_id", taskID)
			continue
		}
		delete(f.unreachableTasks, taskID)
		pb := proto.Clone(t).(*mesos.Task)
		pb.AgentId = agentID(a.id)
		res, _ := parseResources(pb.GetResources())
		nt := &task{pb: pb, res: res, role: allocationRole(pb.GetResources(), f)}
		f.tasks[taskID] = nt
		if a.tasks[fwID] == nil {
			a.tasks[fwID] = map[string]*task{}
		}
		a.tasks[fwID][taskID] = nt
		c.publish(taskAdded(pb))
		if mesos.IsTerminalState(pb.GetState()) || pb.GetState() == mesos.TaskState_TASK_UNREACHABLE {
			nt.released = true
		} else {
			c.alloc.Use(fwID, a.id, nt.role, res)
		}
	}
	for _, fwID := range sortedKeys(a.tasks) {
		for _, taskID := range sortedKeys(a.tasks[fwID]) {
			if reported[fwID][taskID] {
				continue
			}
			t := a.tasks[fwID][taskID]
			f := c.frameworks[fwID]
			st := c.masterStatus(taskID, a.id, f.lostState(mesos.TaskState_TASK_DROPPED),
				mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: task unknown to the agent")
			st.ExecutorId = t.pb.GetExecutorId()
			c.updateTask(t, st, nil)
			c.removeTask(t, false)
			if f != nil {
				f.send(updateEvent(st))
			}
		}
	}
	if wasUnreachable {
		c.endUnreportedUnreachable(a, reported)
	}
	for fwID, ids := range a.abandoned {
		for taskID := range ids {
			if !reported[fwID][taskID] {
				delete(ids, taskID) // the agent is done with it
			}
		}
		if len(ids) == 0 {
			delete(a.abandoned, fwID)
		}
	}
	for _, fwID := range sortedKeys(shutdown) {
		c.log.Info("shutting down a framework on a re-registered agent", "agent_id", a.id, "framework_id", fwID)
		a.send(&agentproto.AgentEvent{
			Type:              agentproto.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
			ShutdownFramework: &agentproto.AgentEvent_ShutdownFramework{FrameworkId: frameworkID(fwID)},
		})
	}
}

// endUnreportedUnreachable settles the tasks lost with agent a when it
// became unreachable, now that it is back: those it reported were taken
// back (reconcileAgent); the others it no longer has, so they are gone.
// (Mesos forgets them and answers TASK_GONE only when asked; telling the
// framework keeps every task ending with an update.) Only an agent this
// master marked unreachable can have such tasks.
func (c *core) endUnreportedUnreachable(a *agent, reported map[string]map[string]bool) {
	for _, f := range c.sortedFrameworks() {
		for _, id := range sortedKeys(f.unreachableTasks) {
			t := f.unreachableTasks[id]
			if t.GetAgentId().GetValue() != a.id || reported[f.id][id] {
				continue
			}
			delete(f.unreachableTasks, id)
			if mesos.IsTerminalState(t.GetState()) {
				// TASK_LOST already told a framework without PARTITION_AWARE.
				f.addCompletedTask(t, c.cfg.MaxCompletedTasksPerFramework)
				continue
			}
			st := c.masterStatus(id, a.id, f.lostState(mesos.TaskState_TASK_GONE),
				mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: task unknown to the agent")
			st.ExecutorId = t.GetExecutorId()
			applyStatus(t, st, nil)
			c.publish(taskUpdated(t, st))
			f.addCompletedTask(t, c.cfg.MaxCompletedTasksPerFramework)
			f.send(updateEvent(st))
		}
	}
}

// frameworkFor returns the framework with id, recovering it from the
// FrameworkInfo an agent reported when the master does not know it.
func (c *core) frameworkFor(id string, infos map[string]*mesos.FrameworkInfo) *framework {
	if f := c.frameworks[id]; f != nil {
		return f
	}
	info := infos[id]
	if info == nil {
		return nil
	}
	c.log.Info("recovering framework from an agent", "framework_id", id)
	f := c.addRecoveredFramework(proto.Clone(info).(*mesos.FrameworkInfo))
	c.publish(frameworkEvent(masterpb.Event_FRAMEWORK_ADDED, f))
	return f
}

// addRecoveredFramework adds a framework known from the registry or from an
// agent that has not subscribed to this master yet. The allocator knows it
// (inactive: no offers) so that the resources its tasks hold on
// re-registering agents are booked to it and never offered twice.
func (c *core) addRecoveredFramework(info *mesos.FrameworkInfo) *framework {
	f := c.newFramework(info, c.clock.Now())
	f.recovered = true
	f.roles = frameworkRoles(info)
	c.alloc.AddFramework(f.id, c.allocFramework(f))
	c.alloc.SetFrameworkActive(f.id, false)
	return f
}

// allocationRole is the role resources were allocated to: their
// allocation info, else the framework's only role.
func allocationRole(rs []*mesos.Resource, f *framework) string {
	for _, r := range rs {
		if ai := r.GetAllocationInfo(); ai != nil && ai.Role != nil {
			return r.GetAllocationInfo().GetRole()
		}
	}
	if len(f.roles) > 0 {
		return f.roles[0]
	}
	return "*"
}

// agentStreamClosed handles the end of an agent's event stream. It is a
// no-op unless streamID is the agent's current stream. The agent's offers
// are rescinded and it gets agentGrace to register again.
func (c *core) agentStreamClosed(id, streamID string) {
	a := c.agents[id]
	if a == nil || a.stream == nil || a.streamID != streamID {
		return
	}
	c.log.Info("agent disconnected", "agent_id", id)
	a.stream.Close()
	a.stream = nil
	a.disconnected = c.clock.Now()
	c.scheduleAgent(a)
	c.alloc.SetAgentActive(id, false)
	for _, o := range sortOffers(a.offers) {
		c.rescindOffer(o)
	}
}

// checkAgent runs an agent's timers: pings, missed pings, the grace
// period of a disconnected agent, and its deferred removal. tick calls it
// when the agent's timer is due (scheduleAgent), then schedules the next.
func (c *core) checkAgent(a *agent, now time.Time) {
	if !a.removalDeferred.IsZero() {
		if now.Before(a.removalDeferred) {
			return
		}
		a.removalDeferred = time.Time{}
		c.markUnreachable(a, "removal deferred earlier", a.removalCause)
		return
	}
	if !a.connected() {
		if !now.Before(a.disconnected.Add(c.agentGrace())) {
			c.metrics.inc(ctrSlaveUnreachableScheduled)
			c.markUnreachable(a, "Agent disconnected and did not re-register in time", removalUnhealthy)
		}
		return
	}
	if now.Before(a.nextPing) {
		return
	}
	if backlog(a.stream) > 0 {
		// The stream is still writing earlier events: the last ping may
		// not have reached the agent, and another would wait behind them.
		// Not a miss; a stream stuck that long ends by writeTimeout.
		a.nextPing = now.Add(c.cfg.AgentPingTimeout)
		return
	}
	if a.pingSeq > a.pongSeq {
		a.missedPings++
		c.log.Warn("agent missed a ping", "agent_id", a.id, "missed", a.missedPings)
		if a.missedPings >= c.cfg.MaxAgentPingTimeouts {
			c.metrics.inc(ctrSlaveUnreachableScheduled)
			c.markUnreachable(a, "health check timed out", removalUnhealthy)
			return
		}
	}
	a.pingSeq++
	a.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_PING.Enum(), Ping: &agentproto.AgentEvent_Ping{Sequence: proto.Uint64(a.pingSeq)}})
	a.nextPing = now.Add(c.cfg.AgentPingTimeout)
}

// markUnreachable removes an agent: its offers are rescinded, its tasks
// become TASK_UNREACHABLE (TASK_LOST for frameworks that are not
// partition-aware, REASON_AGENT_REMOVED), and every framework gets a
// FAILURE event naming the agent. The agent may register again later
// under its id. cause is counted in master/slave_removals/reason_*.
func (c *core) markUnreachable(a *agent, msg string, cause removalCause) {
	now := c.clock.Now()
	if wait := c.removalLimiter.wait(now); wait > 0 {
		// --agent_removal_rate_limit: try again when a removal is allowed.
		if a.removalDeferred.IsZero() {
			c.log.Warn("agent removal deferred by --agent_removal_rate_limit", "agent_id", a.id, "for", wait)
		}
		a.removalDeferred = now.Add(wait)
		a.removalCause = cause
		c.scheduleAgent(a)
		return
	}
	if c.keyBusy(agentKey(a.id)) {
		// Its record is being written (this removal, or a change the
		// agent made): the next tick tries again.
		a.removalDeferred = now.Add(c.cfg.AgentPingTimeout)
		a.removalCause = cause
		c.scheduleAgent(a)
		return
	}
	c.removalLimiter.take(now)
	ops := []registry.Op{registry.MarkUnreachable{ID: a.id, Time: now}, c.pruneOp(now)}
	c.write([]string{agentKey(a.id)}, ops, func(err error) {
		if c.agents[a.id] != a {
			return
		}
		if err != nil {
			// Without a durable record the agent stays as it is; the
			// next tick tries again.
			a.removalDeferred = c.clock.Now().Add(c.cfg.AgentPingTimeout)
			a.removalCause = cause
			c.scheduleAgent(a)
			return
		}
		c.agentUnreachable(a, msg, cause, now)
	})
}

// agentUnreachable is markUnreachable once the registry holds the agent
// as unreachable since now.
func (c *core) agentUnreachable(a *agent, msg string, cause removalCause, now time.Time) {
	c.metrics.inc(ctrSlaveRemovals)
	switch cause {
	case removalUnhealthy:
		c.metrics.inc(ctrSlaveRemovalsUnhealthy)
		c.metrics.inc(ctrSlaveUnreachableCompleted)
	case removalUnregistered:
		c.metrics.inc(ctrSlaveRemovalsUnregistered)
	}
	c.log.Warn("marking agent unreachable", "agent_id", a.id, "reason", msg)
	c.alloc.RemoveAgent(a.id)
	c.rescindInverseOffers(a.id)
	for _, o := range sortOffers(a.offers) {
		c.rescindOffer(o)
	}
	for _, fwID := range sortedKeys(a.tasks) {
		f := c.frameworks[fwID]
		for _, t := range sortedTasks(a.tasks[fwID]) {
			st := c.masterStatus(t.pb.GetTaskId().GetValue(), a.id, f.lostState(mesos.TaskState_TASK_UNREACHABLE),
				mesos.TaskStatus_REASON_AGENT_REMOVED, msg)
			st.ExecutorId = t.pb.GetExecutorId()
			st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: proto.Int64(now.UnixNano())}
			wasTerminal := mesos.IsTerminalState(t.pb.GetState())
			c.updateTask(t, st, nil)
			c.removeTask(t, !wasTerminal)
			if f != nil && !wasTerminal {
				f.send(updateEvent(st))
			}
		}
	}
	for _, fwID := range sortedKeys(a.executors) {
		for _, execID := range sortedKeys(a.executors[fwID]) {
			c.removeExecutor(a, fwID, execID)
		}
	}
	if a.stream != nil {
		a.stream.Close()
		a.stream = nil
	}
	delete(c.agents, a.id)
	c.scheduleAgent(a)
	c.publish(agentRemoved(a.id))
	c.unreachable[a.id] = now
	for _, f := range c.sortedFrameworks() {
		f.send(&schedpb.Event{Type: schedpb.Event_FAILURE.Enum(), Failure: &schedpb.Event_Failure{AgentId: agentID(a.id)}})
	}
}

// agentCall handles every AgentCall but REGISTER, after checking that the
// agent is registered (else 403: register again) and that streamID is its
// current stream's (else 400).
func (c *core) agentCall(call *agentproto.AgentCall, streamID string) error {
	c.countAgentCall(call.GetType())
	id := call.GetAgentId().GetValue()
	a := c.agents[id]
	if a == nil {
		c.countInvalidAgentCall(call.GetType())
		return forbiddenf("Agent %s is not registered; register again", id)
	}
	if a.stream == nil || streamID != a.streamID {
		c.countInvalidAgentCall(call.GetType())
		return invalidf("The stream ID '%s' included in this request didn't match the stream ID currently associated with agent %s", streamID, id)
	}
	switch call.GetType() {
	case agentproto.AgentCall_PONG:
		if seq := call.GetPong().GetSequence(); seq > a.pongSeq && seq <= a.pingSeq {
			a.pongSeq = seq
			a.missedPings = 0
		}
	case agentproto.AgentCall_STATUS_UPDATE:
		su := call.GetStatusUpdate()
		if su == nil || su.GetStatus().GetTaskId().GetValue() == "" {
			c.countInvalidAgentCall(call.GetType())
			return invalidf("Expecting 'status_update' with a task_id")
		}
		if err := validateUUID(su.GetStatus().GetUuid()); err != nil {
			c.countInvalidAgentCall(call.GetType())
			return invalidf("status_update.status.uuid: %v", err)
		}
		c.statusUpdate(a, su)
	case agentproto.AgentCall_EXECUTOR_EXITED:
		ee := call.GetExecutorExited()
		if ee == nil {
			return invalidf("Expecting 'executor_exited' to be present")
		}
		c.executorExited(a, ee)
	case agentproto.AgentCall_FRAMEWORK_MESSAGE:
		m := call.GetFrameworkMessage()
		if m == nil {
			c.countInvalidAgentCall(call.GetType())
			return invalidf("Expecting 'framework_message' to be present")
		}
		f := c.frameworks[m.GetFrameworkId().GetValue()]
		if f == nil || f.stream == nil {
			c.countInvalidAgentCall(call.GetType())
		} else {
			c.metrics.inc(ctrValidExecutorToFramework)
			f.send(&schedpb.Event{
				Type:    schedpb.Event_MESSAGE.Enum(),
				Message: &schedpb.Event_Message{AgentId: agentID(a.id), ExecutorId: m.GetExecutorId(), Data: m.GetData()},
			})
		}
	case agentproto.AgentCall_UNREGISTER:
		// The agent is going away for good (it will not come back under
		// this id): treat it as lost now rather than after the grace time.
		c.markUnreachable(a, "Agent unregistered", removalUnregistered)
	case agentproto.AgentCall_REGISTER:
		return invalidf("REGISTER must not carry a Mesos-Stream-Id header")
	default:
		return unsupportedf("Unknown agent call type %s", call.GetType())
	}
	return nil
}

// statusUpdate records an agent's status update and forwards it to the
// framework when connected. Updates for disconnected or unknown frameworks
// are not acknowledged, so the agent sends them again later.
func (c *core) statusUpdate(a *agent, su *agentproto.AgentCall_StatusUpdate) {
	fwID := su.GetFrameworkId().GetValue()
	st := su.GetStatus()
	st.AgentId = agentID(a.id)
	t := a.task(fwID, st.GetTaskId().GetValue())
	// Mesos calls an update valid when its task is known and its
	// framework connected.
	if f := c.frameworks[fwID]; t != nil && f != nil && f.stream != nil {
		c.metrics.inc(ctrValidStatusUpdates)
	} else {
		c.metrics.inc(ctrInvalidStatusUpdates)
	}
	if len(st.GetUuid()) > 0 && c.alreadyAcknowledged(fwID, t, st) {
		// The agent resends an update whose acknowledgement it never got
		// (it restarted, or the acknowledgement was lost): the framework
		// has it already, so only the acknowledgement is sent again.
		c.log.Info("resent status update already acknowledged; acknowledging again",
			"agent_id", a.id, "framework_id", fwID, "task_id", st.GetTaskId().GetValue(), "state", st.GetState().String())
		a.send(&agentproto.AgentEvent{
			Type: agentproto.AgentEvent_ACKNOWLEDGE.Enum(),
			Acknowledge: &agentproto.AgentEvent_Acknowledge{
				FrameworkId: frameworkID(fwID), TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
			},
		})
		return
	}
	c.drainingReason(a, st)
	if t == nil && a.abandoned[fwID][st.GetTaskId().GetValue()] {
		// A task the master gave up on when the agent returned: its
		// framework was removed, or already told it was lost, and must not
		// hear of it again. The agent is done with the update.
		c.log.Info("acknowledging the update of an abandoned task without forwarding it",
			"agent_id", a.id, "framework_id", fwID, "task_id", st.GetTaskId().GetValue(), "state", st.GetState().String())
		if len(st.GetUuid()) > 0 {
			a.send(&agentproto.AgentEvent{
				Type: agentproto.AgentEvent_ACKNOWLEDGE.Enum(),
				Acknowledge: &agentproto.AgentEvent_Acknowledge{
					FrameworkId: frameworkID(fwID), TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
				},
			})
		}
		return
	}
	if t == nil {
		c.log.Warn("status update for an unknown task", "agent_id", a.id, "framework_id", fwID, "task_id", st.GetTaskId().GetValue(), "state", st.GetState().String())
	} else {
		c.updateTask(t, st, su.LatestState)
		if len(st.GetUuid()) > 0 {
			// The update the agent sends now heads the task's stream, and
			// reconciliation answers with its state, not the latest (as
			// Mesos' status_update_state), whether or not the framework is
			// connected to receive it: a framework must never hear a state
			// before the updates that lead to it.
			t.pb.StatusUpdateState = st.GetState().Enum()
			t.pb.StatusUpdateUuid = st.GetUuid()
		}
	}
	f := c.frameworks[fwID]
	if f == nil || f.stream == nil {
		c.log.Warn("not forwarding status update: framework not connected", "framework_id", fwID, "task_id", st.GetTaskId().GetValue())
		return
	}
	c.forward(f, t, st)
}

// alreadyAcknowledged reports whether the framework acknowledged the
// update st of task t (nil when the task has completed) before.
func (c *core) alreadyAcknowledged(fwID string, t *task, st *mesos.TaskStatus) bool {
	uuid := string(st.GetUuid())
	if t != nil {
		return t.acked[uuid]
	}
	f := c.frameworks[fwID]
	if f == nil {
		return false
	}
	for _, done := range f.completedTasks {
		if done.GetTaskId().GetValue() == st.GetTaskId().GetValue() && string(done.GetStatusUpdateUuid()) == uuid {
			return true
		}
	}
	return false
}

func (c *core) executorExited(a *agent, ee *agentproto.AgentCall_ExecutorExited) {
	fwID, execID := ee.GetFrameworkId().GetValue(), ee.GetExecutorId().GetValue()
	if a.executors[fwID][execID] == nil {
		c.log.Warn("ignoring exit of an unknown executor", "agent_id", a.id, "framework_id", fwID, "executor_id", execID)
		return
	}
	c.log.Info("executor exited", "agent_id", a.id, "framework_id", fwID, "executor_id", execID, "status", ee.GetStatus())
	c.removeExecutor(a, fwID, execID)
	if f := c.frameworks[fwID]; f != nil {
		f.send(&schedpb.Event{
			Type: schedpb.Event_FAILURE.Enum(),
			Failure: &schedpb.Event_Failure{
				AgentId:    agentID(a.id),
				ExecutorId: ee.GetExecutorId(),
				Status:     ee.Status,
			},
		})
	}
}
