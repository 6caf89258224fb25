package master

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// Pacing: how the core keeps a framework's stream short without dropping
// anything the framework asked for.
//
// An answer that may be large (RECONCILE, explicit or implicit,
// RECONCILE_OPERATIONS) is not sent at once: the core queues a cursor over
// it (an answer) on the framework and sends events from it only while the
// stream's backlog is under answerWindow events and answerWindowBytes.
// When the window is full it asks the stream (flowSink.NotifyDrained) to
// report when it has drained; that report arrives as an input event
// (frameworkDrained), and the core sends the next part. Each update is
// computed when it is sent, from the master's state then: the framework
// sees every task it asked about, exactly once per request, in a state at
// least as recent as the request. Answers belong to one stream: when the
// framework's stream ends or it subscribes again they are dropped, as
// Mesos' would be lost with the old connection (a framework reconciles
// after subscribing).
//
// Live events (status updates, offers, rescinds, failures) go out at once.
// While a stream's backlog is at least withholdEvents or withholdBytes,
// the framework is not offered resources (the allocator treats it as
// inactive) until the stream drains; the offers it holds stay valid.
// HEARTBEATs and retries of a status update still queued are coalesced
// by the outbox (stream.go), which also holds the last-resort bound.
//
// Memory: an explicit answer holds the task ids of the request it
// answers, an implicit one the ids of the framework's tasks; at most
// maxPendingAnswers explicit entries wait per framework (a RECONCILE
// beyond that is refused with 503: retry later). Repeated implicit
// requests coalesce into one not yet started.
const (
	// answerWindow and answerWindowBytes bound the backlog up to which a
	// paced answer is sent.
	answerWindow      = 1024
	answerWindowBytes = 1 << 20
	// drainLowWater is the backlog at which a stream reports it drained.
	drainLowWater = answerWindow / 4
	// withholdEvents and withholdBytes are the backlog from which a
	// framework is offered nothing until its stream drains.
	withholdEvents = 4 * answerWindow
	withholdBytes  = 4 << 20
	// overflowFailoverTimeout is the least failover timeout of a
	// framework whose stream the master cut because it fell too far
	// behind (stream.go): it did not choose to leave, so it gets time to
	// subscribe again with its tasks intact, even with failover_timeout 0.
	overflowFailoverTimeout = 5 * time.Minute
)

// maxPendingAnswers bounds the explicitly named tasks and operations
// waiting to be answered for one framework (a variable for tests).
var maxPendingAnswers = 1_000_000

// flowSink is implemented by sinks whose reader may fall behind (the HTTP
// outboxes). Only the core's goroutine calls it.
type flowSink interface {
	// Backlog returns the events, and their size as charged against the
	// stream's bound, sent and not yet written to the client.
	Backlog() (events int, bytes int64)
	// NotifyDrained asks the stream to report, once, when its backlog is
	// at most drainLowWater events (frameworkDrained for a framework's
	// stream). The report comes from the stream's writer, never from
	// within this call.
	NotifyDrained()
}

// backlog returns the events waiting in a sink, 0 for sinks that do not
// tell (they never fall behind).
func backlog(sink any) int {
	if fs, ok := sink.(flowSink); ok {
		n, _ := fs.Backlog()
		return n
	}
	return 0
}

// paceState is a framework's paced answers and whether its offers are
// withheld; both belong to the stream in sink.
type paceState struct {
	sink    eventSink
	answers []answer
	// pending counts the explicitly named tasks and operations left in
	// answers.
	pending  int
	withheld bool
}

// answer is a cursor over one paced answer.
type answer interface {
	// next returns the answer's next event, or nil when it is done.
	next(c *core, f *framework) *schedpb.Event
}

// resetPace drops f's paced answers and lets it be offered again (the
// stream they were for ended or was replaced).
func (f *framework) resetPace() { f.pace = paceState{} }

// queueAnswer adds a to f's paced answers and sends what fits.
func (c *core) queueAnswer(f *framework, a answer, named int) {
	p := &f.pace
	if p.sink != f.stream {
		p.answers, p.pending, p.sink = nil, 0, f.stream
	}
	if _, ok := a.(*implicitAnswer); ok && len(p.answers) > 0 {
		if last, ok := p.answers[len(p.answers)-1].(*implicitAnswer); ok && !last.started {
			return // the implicit answer not yet started covers this request
		}
	}
	p.answers = append(p.answers, a)
	p.pending += named
	c.sendAnswers(f)
}

// sendAnswers sends f's paced answers while its stream has room, and asks
// the stream to report when it drained if some are left.
func (c *core) sendAnswers(f *framework) {
	p := &f.pace
	if len(p.answers) == 0 {
		return
	}
	if f.stream == nil || p.sink != f.stream {
		p.answers, p.pending = nil, 0
		return
	}
	fs, paced := f.stream.(flowSink)
	for len(p.answers) > 0 {
		room := int(^uint(0) >> 1)
		if paced {
			n, b := fs.Backlog()
			if n >= answerWindow || b >= answerWindowBytes {
				fs.NotifyDrained()
				return
			}
			room = answerWindow - n
		}
		for room > 0 && len(p.answers) > 0 {
			ev := p.answers[0].next(c, f)
			if ev == nil {
				p.answers[0] = nil
				p.answers = p.answers[1:]
				continue
			}
			f.send(ev)
			room--
		}
	}
	p.answers, p.pending = nil, 0
}

// withholdOffers reports whether f is to be offered nothing because its
// stream is too far behind; the first time, it makes the allocator treat
// f as inactive and asks the stream to report when it drained.
func (c *core) withholdOffers(f *framework) bool {
	if f.pace.withheld && f.pace.sink == f.stream {
		return true
	}
	fs, ok := f.stream.(flowSink)
	if !ok {
		return false
	}
	n, b := fs.Backlog()
	if n < withholdEvents && b < withholdBytes {
		return false
	}
	if f.pace.sink != f.stream {
		f.pace = paceState{sink: f.stream}
	}
	f.pace.withheld = true
	c.alloc.SetFrameworkActive(f.id, false)
	fs.NotifyDrained()
	c.log.Info("withholding offers until the framework's event stream drains", "framework_id", f.id, "queued_events", n, "queued_bytes", b)
	return true
}

// frameworkDrained handles a framework stream's report that its backlog
// drained (flowSink.NotifyDrained): the paced answers go on, and offers
// resume. It is a no-op unless streamID is the framework's current stream.
func (c *core) frameworkDrained(frameworkID, streamID string) {
	f := c.frameworks[frameworkID]
	if f == nil || f.stream == nil || f.streamID != streamID {
		return
	}
	c.sendAnswers(f)
	if f.pace.withheld && f.pace.sink == f.stream {
		f.pace.withheld = false
		c.alloc.SetFrameworkActive(f.id, true)
		c.allocateSoon = true
		c.log.Info("offers resume: the framework's event stream drained", "framework_id", f.id)
	}
}

// disconnectFailoverTimeout is how long a framework whose stream just
// closed keeps its tasks: its failover timeout, but at least
// overflowFailoverTimeout when the master cut the stream for falling too
// far behind.
func (c *core) disconnectFailoverTimeout(f *framework) time.Duration {
	timeout := failoverTimeout(f.info)
	if ov, ok := f.stream.(interface{ Overflowed() bool }); ok && ov.Overflowed() && timeout < overflowFailoverTimeout {
		c.log.Warn("the framework's event stream was cut for falling too far behind; it keeps its tasks while it subscribes again",
			"framework_id", f.id, "failover_timeout", failoverTimeout(f.info), "kept_for", overflowFailoverTimeout)
		timeout = overflowFailoverTimeout
	}
	return timeout
}

// ---- reconciliation ----

// reconcileCall answers the RECONCILE call: paced (see the top of this
// file), refused with 503 while too many explicitly named tasks wait.
func (c *core) reconcileCall(f *framework, tasks []*schedpb.Call_Reconcile_Task) error {
	if f.pace.sink == f.stream && f.pace.pending+len(tasks) > maxPendingAnswers {
		c.metrics.inc(ctrMsgReconcileTasks)
		return unavailablef("%d reconciliation answers are waiting for the framework's event stream; retry later", f.pace.pending)
	}
	c.reconcile(f, tasks)
	return nil
}

// reconcile answers a reconciliation request: every known task's latest
// state when tasks is empty, else one update per listed task (Mesos'
// rules in reconcileTask). Answers carry REASON_RECONCILIATION and no
// uuid, and are paced.
func (c *core) reconcile(f *framework, tasks []*schedpb.Call_Reconcile_Task) {
	c.metrics.inc(ctrMsgReconcileTasks)
	if len(tasks) == 0 {
		c.queueAnswer(f, &implicitAnswer{tasks: sortedKeys(f.tasks), unreachable: sortedKeys(f.unreachableTasks)}, 0)
		return
	}
	c.queueAnswer(f, &explicitAnswer{tasks: tasks}, len(tasks))
}

// explicitAnswer answers a RECONCILE naming tasks, in the request's order.
type explicitAnswer struct {
	tasks []*schedpb.Call_Reconcile_Task
}

func (a *explicitAnswer) next(c *core, f *framework) *schedpb.Event {
	for len(a.tasks) > 0 {
		rt := a.tasks[0]
		a.tasks = a.tasks[1:]
		f.pace.pending--
		if st := c.reconcileTask(f, rt); st != nil {
			return updateEvent(st)
		}
	}
	return nil
}

// implicitAnswer answers a RECONCILE naming no task: the framework's tasks
// at the time of the request (those removed since, acknowledged terminal,
// are left out), then its unreachable tasks, each in id order.
type implicitAnswer struct {
	started            bool
	tasks, unreachable []string
}

func (a *implicitAnswer) next(c *core, f *framework) *schedpb.Event {
	a.started = true
	for len(a.tasks) > 0 || len(a.unreachable) > 0 {
		var id string
		if len(a.tasks) > 0 {
			id, a.tasks = a.tasks[0], a.tasks[1:]
		} else {
			id, a.unreachable = a.unreachable[0], a.unreachable[1:]
		}
		if t := f.tasks[id]; t != nil {
			return updateEvent(c.latestStatus(t))
		}
		if ut := f.unreachableTasks[id]; ut != nil {
			return updateEvent(c.unreachableStatus(f, id, ut))
		}
	}
	return nil
}

// latestStatus is the answer for a task the master has: its latest state.
func (c *core) latestStatus(t *task) *mesos.TaskStatus {
	state := t.pb.GetState()
	if t.pb.StatusUpdateState != nil {
		state = t.pb.GetStatusUpdateState()
	}
	st := c.masterStatus(t.pb.GetTaskId().GetValue(), t.pb.GetAgentId().GetValue(), state,
		mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: Latest task state")
	st.ExecutorId = t.pb.GetExecutorId()
	if n := len(t.pb.GetStatuses()); n > 0 {
		last := t.pb.GetStatuses()[n-1]
		st.Healthy = last.Healthy
		st.CheckStatus = last.GetCheckStatus()
		st.ContainerStatus = last.GetContainerStatus()
	}
	return st
}

// unreachableStatus is the answer for a task on an unreachable agent:
// TASK_UNREACHABLE (TASK_LOST), with the time the agent became
// unreachable.
func (c *core) unreachableStatus(f *framework, id string, t *mesos.Task) *mesos.TaskStatus {
	agent := t.GetAgentId().GetValue()
	st := c.masterStatus(id, agent, f.lostState(mesos.TaskState_TASK_UNREACHABLE),
		mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: Task is unreachable")
	st.ExecutorId = t.GetExecutorId()
	if since, ok := c.unreachable[agent]; ok {
		st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: proto.Int64(since.UnixNano())}
	}
	return st
}

// reconcileTask is the answer for one task named in a RECONCILE, nil when
// the master cannot tell yet, following Mesos' rules:
//   - a task the master has: its latest state;
//   - a task on an unreachable agent: TASK_UNREACHABLE (TASK_LOST);
//   - no answer while the task may be on an agent that has not
//     re-registered since this master started (the agent's report, or its
//     unreachability, settles it);
//   - an unknown task on a registered agent: TASK_GONE (TASK_LOST);
//   - an unknown task on an agent marked unreachable: TASK_UNREACHABLE
//     (TASK_LOST);
//   - else: TASK_UNKNOWN (TASK_LOST).
func (c *core) reconcileTask(f *framework, rt *schedpb.Call_Reconcile_Task) *mesos.TaskStatus {
	taskID, agentID := rt.GetTaskId().GetValue(), rt.GetAgentId().GetValue()
	switch t := f.tasks[taskID]; {
	case t != nil:
		return c.latestStatus(t)
	case f.unreachableTasks[taskID] != nil:
		return c.unreachableStatus(f, taskID, f.unreachableTasks[taskID])
	case c.recovered[agentID] != nil || (agentID == "" && len(c.recovered) > 0):
		return nil
	case agentID != "" && c.agents[agentID] != nil:
		return c.masterStatus(taskID, agentID, f.lostState(mesos.TaskState_TASK_GONE),
			mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: Task is unknown to the agent")
	case agentID != "" && !c.unreachable[agentID].IsZero():
		st := c.masterStatus(taskID, agentID, f.lostState(mesos.TaskState_TASK_UNREACHABLE),
			mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: Task is unreachable")
		st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: proto.Int64(c.unreachable[agentID].UnixNano())}
		return st
	default:
		return c.masterStatus(taskID, agentID, f.lostState(mesos.TaskState_TASK_UNKNOWN),
			mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: Task is unknown")
	}
}

// reconcileOperations answers RECONCILE_OPERATIONS, paced. This master
// performs no operations with feedback yet, so every listed operation is
// unknown.
func (c *core) reconcileOperations(f *framework, r *schedpb.Call_ReconcileOperations) {
	c.metrics.inc(ctrMsgReconcileOperations)
	if len(r.GetOperations()) == 0 {
		return
	}
	c.queueAnswer(f, &operationsAnswer{ops: r.GetOperations()}, len(r.GetOperations()))
}

// operationsAnswer answers RECONCILE_OPERATIONS, in the request's order.
type operationsAnswer struct {
	ops []*schedpb.Call_ReconcileOperations_Operation
}

func (a *operationsAnswer) next(c *core, f *framework) *schedpb.Event {
	if len(a.ops) == 0 {
		return nil
	}
	op := a.ops[0]
	a.ops = a.ops[1:]
	f.pace.pending--
	return &schedpb.Event{
		Type: schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: &mesos.OperationStatus{
			OperationId: op.GetOperationId(),
			State:       mesos.OperationState_OPERATION_UNKNOWN.Enum(),
			AgentId:     op.GetAgentId(),
		}},
	}
}
