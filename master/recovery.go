package master

import (
	"errors"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
)

// errRegistry marks a change the master could not make durable; the
// request that asked for it is refused (503) and may be retried.
var errRegistry = errors.New("registry write failed")

// recoverState loads what the registry holds when the master starts:
// admitted agents wait AgentReregisterTimeout to re-register (with their
// tasks) before they are marked unreachable; unreachable and gone agents
// keep their state; registered frameworks are known (as recovered) until
// they subscribe again, so their ids stay theirs.
func (c *core) recoverState(st *registry.State) {
	now := c.clock.Now()
	deadline := now.Add(c.cfg.AgentReregisterTimeout)
	for id, a := range st.Agents {
		c.recovered[id] = &recoveredAgent{info: a.GetInfo(), deadline: deadline}
		c.scheduleRecovered(id)
	}
	for id, u := range st.Unreachable {
		c.unreachable[id] = time.Unix(0, u.GetTimestamp().GetNanoseconds())
	}
	for id, g := range st.Gone {
		c.gone[id] = time.Unix(0, g.GetTimestamp().GetNanoseconds())
	}
	c.recoverMaintenance(st)
	c.recoverRoles(st)
	for id, info := range st.Frameworks {
		if c.frameworks[id] != nil {
			continue
		}
		c.addRecoveredFramework(info)
	}
	// With quota, offers wait for most agents to come back (Mesos'
	// allocator recovery), so guarantees are not met from the first few.
	if len(c.quotas) > 0 && len(st.Agents) > 0 && c.cfg.AllocatorRecoveryTimeout > 0 {
		c.allocRecovery = &allocRecovery{
			need:  int(math.Ceil(c.cfg.AllocatorAgentRecoveryFactor * float64(len(st.Agents)))),
			until: now.Add(c.cfg.AllocatorRecoveryTimeout),
		}
		c.log.Info("offers paused until agents re-register", "agents_needed", c.allocRecovery.need,
			"of", len(st.Agents), "timeout", c.cfg.AllocatorRecoveryTimeout)
	}
	if n := len(st.Agents) + len(st.Frameworks); n > 0 {
		c.log.Info("recovered the registry", "agents", len(st.Agents), "unreachable", len(st.Unreachable),
			"gone", len(st.Gone), "frameworks", len(st.Frameworks), "reregister_timeout", c.cfg.AgentReregisterTimeout)
	}
}

// allocRecovery holds offers back after a restart with quota: until need
// agents are registered or until passes.
type allocRecovery struct {
	need  int
	until time.Time
}

// allocationPaused reports whether offers are still held back after a
// restart; once enough agents are back or the time is up, it never is
// again.
func (c *core) allocationPaused(now time.Time) bool {
	r := c.allocRecovery
	if r == nil {
		return false
	}
	if len(c.agents) < r.need && now.Before(r.until) {
		return true
	}
	c.log.Info("offers resume after recovery", "agents", len(c.agents), "needed", r.need, "timed_out", !now.Before(r.until))
	c.allocRecovery = nil
	return false
}

// expireRecovered marks unreachable the recovered agents among ids (their
// timers came due, ids sorted) that did not re-register in time, in one
// registry write. Their tasks are unknown to this master; frameworks learn
// of them through reconciliation (TASK_UNREACHABLE, or TASK_LOST).
func (c *core) expireRecovered(now time.Time, ids []string) {
	var due []string
	for _, id := range ids {
		if r := c.recovered[id]; r != nil && !now.Before(r.deadline) {
			due = append(due, id)
		} else {
			c.scheduleRecovered(id)
		}
	}
	if len(due) == 0 {
		return
	}
	ops := make([]registry.Op, 0, len(due)+1)
	keys := make([]string, 0, len(due))
	for _, id := range due {
		ops = append(ops, registry.MarkUnreachable{ID: id, Time: now})
		keys = append(keys, agentKey(id))
	}
	ops = append(ops, c.pruneOp(now))
	// Until the write is durable the agents stay recovered (their timers
	// off): one that re-registers meanwhile waits for the write, and is
	// then re-admitted from unreachable.
	for _, id := range due {
		c.recovered[id].deadline = time.Time{}
		c.scheduleRecovered(id)
	}
	c.write(keys, ops, func(err error) { c.recoveredExpired(now, due, err) })
}

// recoveredExpired is expireRecovered once its write is done: the agents
// are unreachable, or (err set) they wait another ping timeout.
func (c *core) recoveredExpired(now time.Time, due []string, err error) {
	if err != nil {
		// Try again later rather than forget them.
		for _, id := range due {
			if r := c.recovered[id]; r != nil {
				r.deadline = c.clock.Now().Add(c.cfg.AgentPingTimeout)
				c.scheduleRecovered(id)
			}
		}
		return
	}
	for _, id := range due {
		c.log.Warn("agent did not re-register after the master's restart; marking it unreachable", "agent_id", id)
		for _, x := range []counter{ctrSlaveUnreachableScheduled, ctrSlaveUnreachableCompleted,
			ctrSlaveRemovals, ctrSlaveRemovalsUnhealthy, ctrRecoverySlaveRemovals} {
			c.metrics.inc(x)
		}
		delete(c.recovered, id)
		c.unreachable[id] = now
		for _, f := range c.sortedFrameworks() {
			f.send(&schedpb.Event{Type: schedpb.Event_FAILURE.Enum(), Failure: &schedpb.Event_Failure{AgentId: agentID(id)}})
		}
	}
}

// pruneOp is the registry's garbage collection of unreachable and gone
// agents, run whenever an agent is marked unreachable.
func (c *core) pruneOp(now time.Time) registry.Op {
	return registry.Prune{Now: now, MaxAge: c.cfg.RegistryMaxAgentAge, MaxCount: c.cfg.RegistryMaxAgentCount}
}

// agentRecordOp returns the registry change that admits a registering
// agent (nil when the registry already holds it as admitted). refuse is
// set when the agent must not be admitted.
func (c *core) agentRecordOp(id string, known bool, info *mesos.AgentInfo, reg []*mesos.AgentInfo_Capability) (op registry.Op, refuse string) {
	rec := proto.Clone(info).(*mesos.AgentInfo)
	switch {
	case c.gone[id] != (time.Time{}):
		return nil, "Agent has been marked gone"
	case known:
		return nil, ""
	case c.recovered[id] != nil:
		return nil, ""
	case c.unreachable[id] != (time.Time{}):
		return registry.MarkReachable{Info: rec, Capabilities: reg}, ""
	case c.cfg.RegistryStrict:
		return nil, "Agent is not known to the registry (--registry_strict)"
	default:
		return registry.AdmitAgent{Info: rec, Capabilities: reg}, ""
	}
}

// markAgentGone handles the operator's MARK_AGENT_GONE: the agent
// (registered, recovered or unreachable) is recorded as gone in the
// registry, its tasks end TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks
// that are not partition-aware), it is told to shut down, and it may never
// register again. 404 for an agent the master does not know.
func (c *core) markAgentGone(id string) error {
	if p, busy := c.whenFree([]string{agentKey(id)}, func() error { return c.markAgentGone(id) }); busy {
		return p
	}
	now := c.clock.Now()
	if _, ok := c.gone[id]; ok {
		return nil // already gone: Mesos answers OK
	}
	a := c.agents[id]
	_, unreachable := c.unreachable[id]
	_, recovered := c.recovered[id]
	if a == nil && !unreachable && !recovered {
		return notFoundf("Agent '%s' not found", id)
	}
	return c.writeThen([]string{agentKey(id)}, []registry.Op{registry.MarkGone{ID: id, Time: now}}, func(err error) error {
		if err != nil {
			return unavailablef("Could not record the agent as gone in the registry; retry later")
		}
		c.agentGone(id, now)
		return nil
	})
}

// agentGone is markAgentGone once the registry holds the agent as gone.
func (c *core) agentGone(id string, now time.Time) {
	if _, recovered := c.recovered[id]; recovered {
		// The registry held it as admitted; MarkGone took it from there.
		delete(c.recovered, id)
		c.scheduleRecovered(id)
	}
	c.log.Warn("agent marked gone by the operator", "agent_id", id)
	c.gone[id] = now
	delete(c.unreachable, id)
	delete(c.maint.deactivated, id)
	delete(c.maint.draining, id)
	for _, f := range c.sortedFrameworks() {
		for _, tid := range sortedKeys(f.unreachableTasks) {
			t := f.unreachableTasks[tid]
			if t.GetAgentId().GetValue() != id {
				continue
			}
			st := c.masterStatus(tid, id, f.lostState(mesos.TaskState_TASK_GONE_BY_OPERATOR),
				mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, "Agent marked gone by the operator")
			applyStatus(t, st, nil)
			c.publish(taskUpdated(t, st))
			delete(f.unreachableTasks, tid)
			f.addCompletedTask(t, c.cfg.MaxCompletedTasksPerFramework)
			f.send(updateEvent(st))
		}
	}
	if a := c.agents[id]; a != nil {
		c.removeAgent(a, "Agent has been marked gone", "Agent marked gone by the operator")
	}
}

// removeAgent removes a registered agent on the operator's behalf (marked
// gone, or its machine taken DOWN): its offers are rescinded, its tasks end
// TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
// partition-aware), it is told why (refusal) and disconnected, and every
// framework gets a FAILURE event. The registry change was made by the
// caller.
func (c *core) removeAgent(a *agent, refusal, msg string) {
	id := a.id
	c.alloc.RemoveAgent(id)
	for _, o := range sortOffers(a.offers) {
		c.rescindOffer(o)
	}
	c.rescindInverseOffers(id)
	delete(c.maint.statuses, id)
	delete(c.maint.ioFilters, id)
	for _, fwID := range sortedKeys(a.tasks) {
		f := c.frameworks[fwID]
		for _, t := range sortedTasks(a.tasks[fwID]) {
			wasTerminal := mesos.IsTerminalState(t.pb.GetState())
			st := c.masterStatus(t.pb.GetTaskId().GetValue(), id, f.lostState(mesos.TaskState_TASK_GONE_BY_OPERATOR),
				mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, msg)
			st.ExecutorId = t.pb.GetExecutorId()
			c.updateTask(t, st, nil)
			c.removeTask(t, false)
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
		a.stream.Send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_ERROR.Enum(),
			Error: &agentproto.AgentEvent_Error{Message: proto.String(refusal)}})
		a.stream.Close()
		a.stream = nil
	}
	delete(c.agents, id)
	c.scheduleAgent(a)
	c.publish(agentRemoved(id))
	for _, f := range c.sortedFrameworks() {
		f.send(&schedpb.Event{Type: schedpb.Event_FAILURE.Enum(), Failure: &schedpb.Event_Failure{AgentId: agentID(id)}})
	}
	c.allocateSoon = true
}

// rateLimiter allows at most n events per sliding window of length per;
// n == 0 means no limit.
type rateLimiter struct {
	n    int
	per  time.Duration
	past []time.Time // events within the window, oldest first
}

func newRateLimiter(n int, per time.Duration) rateLimiter { return rateLimiter{n: n, per: per} }

// wait returns how long until one more event is allowed (0: now).
func (l *rateLimiter) wait(now time.Time) time.Duration {
	if l.n == 0 {
		return 0
	}
	for len(l.past) > 0 && !now.Before(l.past[0].Add(l.per)) {
		l.past = l.past[1:]
	}
	if len(l.past) < l.n {
		return 0
	}
	return l.past[0].Add(l.per).Sub(now)
}

// take records an event at now.
func (l *rateLimiter) take(now time.Time) {
	if l.n > 0 {
		l.past = append(l.past, now)
	}
}
