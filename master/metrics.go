package master

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/resources"
)

// The master's /metrics/snapshot (and GET_METRICS) uses Mesos 1.11's metric
// names and meanings: gauges are computed from a snapshot of the core's
// state (snapshot.go) at least as new as the request, but uptime and
// master/event_queue_dispatches (the calls waiting for the core; reads
// never do), which are read when asked; counters live in coreMetrics and
// frameworkMetrics and are incremented by the core where the event
// happens (the comment on each
// counter says where). Increments are array or struct field updates: they
// do not allocate.
//
// Mesos metrics this master leaves out, because Mezzo cannot measure them:
//
//   - registrar/log/*: replicated-log internals; Mezzo's registry is a local
//     database file (or memory), not a replicated log.
//   - registrar/registry_size_bytes: the registry store does not expose the
//     size of what it holds.
//   - allocator/mesos/allocation_run_latency_ms: the time an allocation
//     request waits in the allocator's queue; Mezzo runs the allocation on
//     the core goroutine at the end of the event that asked for it, so
//     there is no queue to wait in.
//   - master/frameworks/<principal>/messages_received|processed: these
//     exist in Mesos only with --rate_limits, which Mezzo does not have.
//
// Counters of things that cannot happen in Mezzo are reported as 0 so
// dashboards keep working: messages of the v0 (libprocess) protocol
// (master/messages_deactivate_framework, messages_authenticate,
// messages_update_slave, messages_operation_status_update,
// master/dropped_messages), operation feedback from agents
// (master/*_operation_status_updates), the deprecated
// master/slave_shutdowns_*, master/http_cache_hits (no response cache), and
// the operation states an operation applied by the master itself never
// passes through (pending, recovering, unreachable, failed, dropped,
// gone_by_operator).
//
// Mezzo's own additions: master/offers_sent, master/offers_declined,
// master/offers_rescinded, master/offers_timed_out (offers rescinded for
// being held longer than --offer_timeout), master/offer_timeout_secs (the
// effective --offer_timeout, 0 = none), allocator/mezzo/backed_off
// (framework roles offered last for declining) and
// allocator/mesos/offer_filters/active (every role's filters together).

// counter indexes coreMetrics.counts: the master's plain counters.
type counter int

const (
	ctrDroppedMessages counter = iota
	ctrHTTPCacheHits

	// Calls of schedulers, counted by the core's handler of each call.
	ctrMsgRegisterFramework
	ctrMsgReregisterFramework
	ctrMsgUnregisterFramework
	ctrMsgDeactivateFramework
	ctrMsgKillTask
	ctrMsgStatusUpdateAck
	ctrMsgResourceRequest
	ctrMsgLaunchTasks
	ctrMsgDeclineOffers
	ctrMsgReviveOffers
	ctrMsgSuppressOffers
	ctrMsgReconcileOperations
	ctrMsgReconcileTasks
	ctrMsgFrameworkToExecutor
	ctrMsgOperationStatusUpdateAck

	// Calls of agents, counted in agentCall and registerAgent.
	ctrMsgExecutorToFramework
	ctrMsgRegisterSlave
	ctrMsgReregisterSlave
	ctrMsgUnregisterSlave
	ctrMsgStatusUpdate
	ctrMsgOperationStatusUpdate
	ctrMsgExitedExecutor
	ctrMsgUpdateSlave
	ctrMsgAuthenticate

	ctrValidFrameworkToExecutor
	ctrInvalidFrameworkToExecutor
	ctrValidExecutorToFramework
	ctrInvalidExecutorToFramework
	ctrValidStatusUpdates
	ctrInvalidStatusUpdates
	ctrValidStatusUpdateAcks
	ctrInvalidStatusUpdateAcks
	ctrValidOperationStatusUpdates
	ctrInvalidOperationStatusUpdates
	ctrValidOperationStatusUpdateAcks
	ctrInvalidOperationStatusUpdateAcks

	// Agents.
	ctrRecoverySlaveRemovals
	ctrSlaveRegistrations
	ctrSlaveReregistrations
	ctrSlaveRemovals
	ctrSlaveRemovalsUnhealthy
	ctrSlaveRemovalsUnregistered
	ctrSlaveRemovalsRegistered
	ctrSlaveShutdownsScheduled
	ctrSlaveShutdownsCompleted
	ctrSlaveShutdownsCanceled
	ctrSlaveUnreachableScheduled
	ctrSlaveUnreachableCompleted
	ctrSlaveUnreachableCanceled

	// Tasks that reached a terminal state (Mesos counts these; the live
	// states are gauges).
	ctrTasksFinished
	ctrTasksFailed
	ctrTasksKilled
	ctrTasksLost
	ctrTasksError
	ctrTasksDropped
	ctrTasksGone
	ctrTasksGoneByOperator

	// Mezzo's offer counters.
	ctrOffersSent
	ctrOffersDeclined
	ctrOffersRescinded
	ctrOffersTimedOut

	numCounters
)

// counterNames are the metric names of the counters.
var counterNames = [numCounters]string{
	ctrDroppedMessages: "master/dropped_messages",
	ctrHTTPCacheHits:   "master/http_cache_hits",

	ctrMsgRegisterFramework:        "master/messages_register_framework",
	ctrMsgReregisterFramework:      "master/messages_reregister_framework",
	ctrMsgUnregisterFramework:      "master/messages_unregister_framework",
	ctrMsgDeactivateFramework:      "master/messages_deactivate_framework",
	ctrMsgKillTask:                 "master/messages_kill_task",
	ctrMsgStatusUpdateAck:          "master/messages_status_update_acknowledgement",
	ctrMsgResourceRequest:          "master/messages_resource_request",
	ctrMsgLaunchTasks:              "master/messages_launch_tasks",
	ctrMsgDeclineOffers:            "master/messages_decline_offers",
	ctrMsgReviveOffers:             "master/messages_revive_offers",
	ctrMsgSuppressOffers:           "master/messages_suppress_offers",
	ctrMsgReconcileOperations:      "master/messages_reconcile_operations",
	ctrMsgReconcileTasks:           "master/messages_reconcile_tasks",
	ctrMsgFrameworkToExecutor:      "master/messages_framework_to_executor",
	ctrMsgOperationStatusUpdateAck: "master/messages_operation_status_update_acknowledgement",

	ctrMsgExecutorToFramework:   "master/messages_executor_to_framework",
	ctrMsgRegisterSlave:         "master/messages_register_slave",
	ctrMsgReregisterSlave:       "master/messages_reregister_slave",
	ctrMsgUnregisterSlave:       "master/messages_unregister_slave",
	ctrMsgStatusUpdate:          "master/messages_status_update",
	ctrMsgOperationStatusUpdate: "master/messages_operation_status_update",
	ctrMsgExitedExecutor:        "master/messages_exited_executor",
	ctrMsgUpdateSlave:           "master/messages_update_slave",
	ctrMsgAuthenticate:          "master/messages_authenticate",

	ctrValidFrameworkToExecutor:         "master/valid_framework_to_executor_messages",
	ctrInvalidFrameworkToExecutor:       "master/invalid_framework_to_executor_messages",
	ctrValidExecutorToFramework:         "master/valid_executor_to_framework_messages",
	ctrInvalidExecutorToFramework:       "master/invalid_executor_to_framework_messages",
	ctrValidStatusUpdates:               "master/valid_status_updates",
	ctrInvalidStatusUpdates:             "master/invalid_status_updates",
	ctrValidStatusUpdateAcks:            "master/valid_status_update_acknowledgements",
	ctrInvalidStatusUpdateAcks:          "master/invalid_status_update_acknowledgements",
	ctrValidOperationStatusUpdates:      "master/valid_operation_status_updates",
	ctrInvalidOperationStatusUpdates:    "master/invalid_operation_status_updates",
	ctrValidOperationStatusUpdateAcks:   "master/valid_operation_status_update_acknowledgements",
	ctrInvalidOperationStatusUpdateAcks: "master/invalid_operation_status_update_acknowledgements",

	ctrRecoverySlaveRemovals:     "master/recovery_slave_removals",
	ctrSlaveRegistrations:        "master/slave_registrations",
	ctrSlaveReregistrations:      "master/slave_reregistrations",
	ctrSlaveRemovals:             "master/slave_removals",
	ctrSlaveRemovalsUnhealthy:    "master/slave_removals/reason_unhealthy",
	ctrSlaveRemovalsUnregistered: "master/slave_removals/reason_unregistered",
	ctrSlaveRemovalsRegistered:   "master/slave_removals/reason_registered",
	ctrSlaveShutdownsScheduled:   "master/slave_shutdowns_scheduled",
	ctrSlaveShutdownsCompleted:   "master/slave_shutdowns_completed",
	ctrSlaveShutdownsCanceled:    "master/slave_shutdowns_canceled",
	ctrSlaveUnreachableScheduled: "master/slave_unreachable_scheduled",
	ctrSlaveUnreachableCompleted: "master/slave_unreachable_completed",
	ctrSlaveUnreachableCanceled:  "master/slave_unreachable_canceled",

	ctrTasksFinished:       "master/tasks_finished",
	ctrTasksFailed:         "master/tasks_failed",
	ctrTasksKilled:         "master/tasks_killed",
	ctrTasksLost:           "master/tasks_lost",
	ctrTasksError:          "master/tasks_error",
	ctrTasksDropped:        "master/tasks_dropped",
	ctrTasksGone:           "master/tasks_gone",
	ctrTasksGoneByOperator: "master/tasks_gone_by_operator",

	ctrOffersSent:      "master/offers_sent",
	ctrOffersDeclined:  "master/offers_declined",
	ctrOffersRescinded: "master/offers_rescinded",
	ctrOffersTimedOut:  "master/offers_timed_out",
}

// terminalCounters maps a terminal task state to its counter.
var terminalCounters = map[mesos.TaskState]counter{
	mesos.TaskState_TASK_FINISHED:         ctrTasksFinished,
	mesos.TaskState_TASK_FAILED:           ctrTasksFailed,
	mesos.TaskState_TASK_KILLED:           ctrTasksKilled,
	mesos.TaskState_TASK_LOST:             ctrTasksLost,
	mesos.TaskState_TASK_ERROR:            ctrTasksError,
	mesos.TaskState_TASK_DROPPED:          ctrTasksDropped,
	mesos.TaskState_TASK_GONE:             ctrTasksGone,
	mesos.TaskState_TASK_GONE_BY_OPERATOR: ctrTasksGoneByOperator,
}

// taskStateKey names one master/<state>/<source>/<reason> counter.
type taskStateKey struct {
	state  mesos.TaskState
	source mesos.TaskStatus_Source
	reason mesos.TaskStatus_Reason
}

// opCounts are the master/operations/[<type>/]... counters of operations
// that reached a state; Mezzo applies operations at once, so none is ever
// pending, recovering or unreachable.
type opCounts struct {
	total, finished, failed, errored, dropped, goneByOperator uint64
}

// maxEnum bounds the enum values the fixed-size counter arrays hold
// (operation types, call and event types, task states); larger values,
// which the protos do not define today, are not counted.
const maxEnum = 32

// trackedOperations are the operation types with master/operations/<type>/
// counters: every type but LAUNCH and LAUNCH_GROUP, which Mesos handles
// as tasks.
var trackedOperations = []mesos.Offer_Operation_Type{
	mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE,
	mesos.Offer_Operation_CREATE, mesos.Offer_Operation_DESTROY,
	mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME,
	mesos.Offer_Operation_CREATE_DISK, mesos.Offer_Operation_DESTROY_DISK,
}

// coreMetrics are the master's counters and timers. The core owns them;
// only its goroutine touches them.
type coreMetrics struct {
	counts [numCounters]uint64
	// taskStates counts the tasks that became terminal or unreachable with
	// a reason, by state, source and reason (updateTask, and
	// sendMasterUpdate for tasks the master refused to launch).
	taskStates map[taskStateKey]uint64
	// operations count every operation type; operationsByType the
	// trackedOperations, by type.
	operations       opCounts
	operationsByType [maxEnum]opCounts

	// allocationRun times the allocator's runs (core.allocate);
	// stateStore the registry's commits (core.committed).
	allocationRun timer
	stateStore    timer
	// queuedWrites counts the registry writes waiting for the batch in
	// flight to commit (registrar/queued_operations).
	queuedWrites int
	// stateFetch is how long reading the registry took at start-up, in
	// ms; hasStateFetch says it was measured.
	stateFetch    float64
	hasStateFetch bool
}

// newCoreMetrics returns zeroed counters and empty timers.
func newCoreMetrics() coreMetrics {
	return coreMetrics{
		taskStates:    map[taskStateKey]uint64{},
		allocationRun: newTimer(time.Hour),
		stateStore:    newTimer(24 * time.Hour),
	}
}

// inc adds one to counter x.
func (m *coreMetrics) inc(x counter) { m.counts[x]++ }

// taskEnded counts a task that reached state (terminal or unreachable)
// with status st: the terminal-state counter of state and, when the status
// has a reason, the master/<state>/<source>/<reason> counter. state is the
// task's new state, which differs from the status' own when the agent
// forwards an older update carrying a newer latest state (a RUNNING update
// of a task that already FINISHED); counting by the status' state would
// miss such a task, since its later FINISHED update finds it terminal.
func (m *coreMetrics) taskEnded(state mesos.TaskState, st *mesos.TaskStatus) {
	if x, ok := terminalCounters[state]; ok {
		m.counts[x]++
	}
	if st.Reason != nil {
		m.taskStates[taskStateKey{state, st.GetSource(), st.GetReason()}]++
	}
}

// operation counts an operation of type t that reached state s.
func (m *coreMetrics) operation(t mesos.Offer_Operation_Type, s mesos.OperationState) {
	m.operations.add(s)
	for _, tt := range trackedOperations {
		if tt == t {
			m.operationsByType[t].add(s)
		}
	}
}

// add counts one operation that reached state s.
func (o *opCounts) add(s mesos.OperationState) {
	o.total++
	switch s {
	case mesos.OperationState_OPERATION_FINISHED:
		o.finished++
	case mesos.OperationState_OPERATION_FAILED:
		o.failed++
	case mesos.OperationState_OPERATION_ERROR:
		o.errored++
	case mesos.OperationState_OPERATION_DROPPED:
		o.dropped++
	case mesos.OperationState_OPERATION_GONE_BY_OPERATOR:
		o.goneByOperator++
	}
}

// frameworkMetrics are one framework's counters, published under
// master/frameworks/<name>/<id>/ while the framework is registered or
// among the completed frameworks.
type frameworkMetrics struct {
	// calls by type: every call of the framework the master looked at
	// (schedulerCall, after finding the framework) and every accepted
	// SUBSCRIBE.
	calls [maxEnum]uint64
	// events by type: every event sent to the framework (framework.send).
	events [maxEnum]uint64
	// offersSent in allocate, offersAccepted in accept (valid offers
	// only), offersDeclined in decline, offersRescinded when a RESCIND is
	// sent (rescindOffer, offer timeout).
	offersSent, offersAccepted, offersDeclined, offersRescinded uint64
	// terminal counts the framework's tasks by the terminal state they
	// reached (updateTask).
	terminal [maxEnum]uint64
	// operations counts the operations performed for the framework, by
	// type: each launched task for LAUNCH, each task group for
	// LAUNCH_GROUP, each applied conversion for the others (accept).
	operations [maxEnum]uint64
}

// call counts a call of type t.
func (m *frameworkMetrics) call(t schedpb.Call_Type) {
	if t > 0 && int(t) < maxEnum {
		m.calls[t]++
	}
}

// event counts an event of type t sent to the framework.
func (m *frameworkMetrics) event(t schedpb.Event_Type) {
	if t > 0 && int(t) < maxEnum {
		m.events[t]++
	}
}

// operation counts an operation of type t performed for the framework.
func (m *frameworkMetrics) operation(t mesos.Offer_Operation_Type) {
	if t > 0 && int(t) < maxEnum {
		m.operations[t]++
	}
}

// taskTerminal counts a task of the framework that reached terminal
// state s.
func (m *frameworkMetrics) taskTerminal(s mesos.TaskState) {
	if s >= 0 && int(s) < maxEnum {
		m.terminal[s]++
	}
}

// enumName is one value of an enum and the metric name component it
// gets (Mesos lower-cases the v0 enum names).
type enumName struct {
	value int32
	name  string
}

// enumNames returns the values of an enum but UNKNOWN (value 0 where the
// proto has one), sorted, with lower-cased names.
func enumNames(names map[int32]string, skipZero bool) []enumName {
	var out []enumName
	for v, n := range names {
		if (skipZero && v == 0) || v < 0 || v >= maxEnum {
			continue
		}
		out = append(out, enumName{v, strings.ToLower(n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].value < out[j].value })
	return out
}

// The enum values behind the per-framework metrics, with their metric
// name components: calls/<call>, events/<event>, operations/<type> and
// tasks/{active,terminal}/<state>.
var (
	callNames      = enumNames(schedpb.Call_Type_name, true)
	eventNames     = enumNames(schedpb.Event_Type_name, true)
	operationNames = enumNames(mesos.Offer_Operation_Type_name, true)
	taskStateNames = enumNames(mesos.TaskState_name, false)
)

// v0Name is an enum value's name as Mesos' metrics spell it: the v0 API
// says SLAVE where v1 (which Mezzo speaks) says AGENT.
func v0Name(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "AGENT", "SLAVE"))
}

// encodeMetricComponent percent-encodes a framework name for use in a
// metric name, as libprocess' http::encode does: reserved and unsafe URL
// characters, control characters and non-ASCII bytes become %XX.
func encodeMetricComponent(s string) string {
	needs := false
	for i := 0; i < len(s); i++ {
		if mustEncode(s[i]) {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if mustEncode(c) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mustEncode reports whether encodeMetricComponent percent-encodes c.
func mustEncode(c byte) bool {
	if c < 0x20 || c > 0x7e {
		return true
	}
	return strings.IndexByte("$&+,/:;=?@ \"<>#%{}|\\^~[]`", c) >= 0
}

// ---- timer ----

// timerCapacity is how many samples a timer keeps at most (libprocess'
// default time series capacity).
const timerCapacity = 1000

// timer is a duration metric as a libprocess Timer with a window: its
// last value in ms, and statistics over the samples of the last window
// (at most timerCapacity; beyond that the oldest go first, where libprocess
// thins out the older half). Samples older than the window are dropped
// when a new one arrives, so the last sample always remains. Recording
// does not allocate once the sample ring exists.
type timer struct {
	window  time.Duration
	ring    []timerSample
	head, n int
	last    float64
	has     bool
}

// timerSample is one measurement of a timer: when, and how long in ms.
type timerSample struct {
	at time.Time
	ms float64
}

// newTimer returns a timer whose statistics cover the samples of the last
// window.
func newTimer(window time.Duration) timer { return timer{window: window} }

// record adds a sample of duration d taken at now.
func (t *timer) record(now time.Time, d time.Duration) {
	if t.ring == nil {
		t.ring = make([]timerSample, timerCapacity)
	}
	ms := float64(d) / float64(time.Millisecond)
	t.last, t.has = ms, true
	if t.n == len(t.ring) {
		t.head = (t.head + 1) % len(t.ring)
		t.n--
	}
	t.ring[(t.head+t.n)%len(t.ring)] = timerSample{at: now, ms: ms}
	t.n++
	expired := now.Add(-t.window)
	for t.n > 1 && !t.ring[t.head].at.After(expired) {
		t.head = (t.head + 1) % len(t.ring)
		t.n--
	}
}

// addTo writes the timer's metrics into out under name: name itself (the
// last sample) once there is one, and name/count, /min, /max and the
// percentiles /p50 to /p9999 once there are two or more.
func (t *timer) addTo(out map[string]float64, name string) {
	if !t.has {
		return
	}
	out[name] = t.last
	if t.n < 2 {
		return
	}
	vs := make([]float64, t.n)
	for i := range vs {
		vs[i] = t.ring[(t.head+i)%len(t.ring)].ms
	}
	sort.Float64s(vs)
	out[name+"/count"] = float64(len(vs))
	out[name+"/min"] = vs[0]
	out[name+"/max"] = vs[len(vs)-1]
	for _, p := range []struct {
		suffix string
		q      float64
	}{{"/p50", 0.5}, {"/p90", 0.9}, {"/p95", 0.95}, {"/p99", 0.99}, {"/p999", 0.999}, {"/p9999", 0.9999}} {
		out[name+p.suffix] = percentile(vs, p.q)
	}
}

// percentile returns the q-quantile (0..1) of sorted vs (len >= 2) by
// linear interpolation between the closest ranks, as libprocess does.
func percentile(vs []float64, q float64) float64 {
	if q <= 0 {
		return vs[0]
	}
	if q >= 1 {
		return vs[len(vs)-1]
	}
	pos := q * float64(len(vs)-1)
	i := int(math.Floor(pos))
	if i >= len(vs)-1 {
		return vs[len(vs)-1]
	}
	return vs[i] + (vs[i+1]-vs[i])*(pos-float64(i))
}

// ---- snapshot ----

// resourceNames are the resources with master/<name>_* gauges.
var resourceNames = [...]string{"cpus", "gpus", "mem", "disk"}

// scalarSums are amounts of the resourceNames, split into non-revocable
// and revocable.
type scalarSums struct {
	fixed, revocable [len(resourceNames)]float64
}

// add adds the resourceNames amounts of rs.
func (s *scalarSums) add(rs resources.Resources) {
	for r := range rs.All() {
		if r.Type != resources.ValueScalar {
			continue
		}
		for i, n := range resourceNames {
			if r.Name == n {
				if r.Revocable {
					s.revocable[i] += r.Scalar.Float()
				} else {
					s.fixed[i] += r.Scalar.Float()
				}
			}
		}
	}
}

// metricsSnapshot returns every metric of the master and its allocator,
// by name. The master calls it on a snapshot's copy of the books (off the
// core goroutine; the allocator's figures are those of the copy); it
// costs O(agents + frameworks + tasks + roles).
func (c *core) metricsSnapshot() map[string]float64 {
	nFrameworks := len(c.frameworks) + len(c.completed)
	out := make(map[string]float64, 300+100*nFrameworks)

	out["master/uptime_secs"] = c.clock.Now().Sub(c.start).Seconds()
	out["master/elected"] = 1

	// Agents.
	var connected, active float64
	var total, used scalarSums
	taskStates := map[mesos.TaskState]float64{}
	for _, a := range c.agents {
		if a.connected() {
			connected++
			if !c.maint.deactivated[a.id] {
				active++
			}
		}
		total.add(a.total)
		for _, byTask := range a.tasks {
			for _, t := range byTask {
				taskStates[t.pb.GetState()]++
				if !t.released {
					used.add(t.res)
				}
			}
		}
		for _, byExec := range a.executors {
			for _, e := range byExec {
				used.add(e.res)
			}
		}
	}
	out["master/slaves_connected"] = connected
	out["master/slaves_disconnected"] = float64(len(c.agents)) - connected
	out["master/slaves_active"] = active
	out["master/slaves_inactive"] = float64(len(c.agents)) - active
	out["master/slaves_unreachable"] = float64(len(c.unreachable))
	for i, n := range resourceNames {
		addResource := func(kind string, t, u float64) {
			out["master/"+n+kind+"_total"] = t
			out["master/"+n+kind+"_used"] = u
			pct := 0.0
			if t > 0 {
				pct = u / t
			}
			out["master/"+n+kind+"_percent"] = pct
		}
		addResource("", total.fixed[i], used.fixed[i])
		addResource("_revocable", total.revocable[i], used.revocable[i])
	}

	// Frameworks and their tasks.
	var fwConnected float64
	var unreachableTasks float64
	for _, f := range c.frameworks {
		if f.stream != nil {
			fwConnected++
		}
		for _, t := range f.unreachableTasks {
			if t.GetState() == mesos.TaskState_TASK_UNREACHABLE {
				unreachableTasks++
			}
		}
		if c.cfg.PublishPerFrameworkMetrics {
			c.addFrameworkMetrics(out, f)
		}
	}
	if c.cfg.PublishPerFrameworkMetrics {
		for _, f := range c.completed {
			c.addFrameworkMetrics(out, f)
		}
	}
	out["master/frameworks_connected"] = fwConnected
	out["master/frameworks_disconnected"] = float64(len(c.frameworks)) - fwConnected
	out["master/frameworks_active"] = fwConnected
	out["master/frameworks_inactive"] = float64(len(c.frameworks)) - fwConnected
	out["master/tasks_staging"] = taskStates[mesos.TaskState_TASK_STAGING]
	out["master/tasks_starting"] = taskStates[mesos.TaskState_TASK_STARTING]
	out["master/tasks_running"] = taskStates[mesos.TaskState_TASK_RUNNING]
	out["master/tasks_killing"] = taskStates[mesos.TaskState_TASK_KILLING]
	out["master/tasks_unreachable"] = unreachableTasks
	out["master/outstanding_offers"] = float64(len(c.offers))
	out["master/offer_timeout_secs"] = c.cfg.OfferTimeout.Seconds()
	out["master/operator_event_stream_subscribers"] = float64(c.operatorSubscribers())

	// The core's queue: requests waiting for the core goroutine.
	queued := 0.0
	if c.queued != nil {
		queued = float64(c.queued())
	}
	out["master/event_queue_dispatches"] = queued
	out["master/event_queue_messages"] = 0
	out["master/event_queue_http_requests"] = 0

	// Counters.
	m := &c.metrics
	for i, n := range counterNames {
		out[n] = float64(m.counts[i])
	}
	for k, v := range m.taskStates {
		name := "master/" + strings.ToLower(k.state.String()) + "/" + v0Name(k.source.String()) + "/" + v0Name(k.reason.String())
		out[name] = float64(v)
	}
	addOps := func(prefix string, o *opCounts) {
		out[prefix+"total"] = float64(o.total)
		out[prefix+"pending"] = 0
		out[prefix+"recovering"] = 0
		out[prefix+"unreachable"] = 0
		out[prefix+"finished"] = float64(o.finished)
		out[prefix+"failed"] = float64(o.failed)
		out[prefix+"error"] = float64(o.errored)
		out[prefix+"dropped"] = float64(o.dropped)
		out[prefix+"gone_by_operator"] = float64(o.goneByOperator)
	}
	addOps("master/operations/", &m.operations)
	for _, t := range trackedOperations {
		addOps("master/operations/"+strings.ToLower(t.String())+"/", &m.operationsByType[t])
	}

	// Registrar: the writes waiting behind the batch being committed.
	out["registrar/queued_operations"] = float64(m.queuedWrites)
	if m.hasStateFetch {
		out["registrar/state_fetch_ms"] = m.stateFetch
	}
	m.stateStore.addTo(out, "registrar/state_store_ms")

	// Allocator. It runs inline on the core goroutine: it has no queue.
	st := c.figures().Stats()
	out["allocator/mesos/allocation_runs"] = float64(st.AllocationRuns)
	m.allocationRun.addTo(out, "allocator/mesos/allocation_run_ms")
	out["allocator/mesos/event_queue_dispatches"] = 0
	out["allocator/event_queue_dispatches"] = 0
	for _, n := range metricScalars {
		t, a := c.figures().ScalarTotal(n)
		out["allocator/mesos/resources/"+n+"/total"] = t
		out["allocator/mesos/resources/"+n+"/offered_or_allocated"] = a
	}
	filters := 0
	for _, r := range c.figures().RoleStats(c.clock.Now()) {
		filters += r.Filters
		out["allocator/mesos/offer_filters/roles/"+r.Role+"/active"] = float64(r.Filters)
		if r.Tracked {
			out["allocator/mesos/roles/"+r.Role+"/shares/dominant"] = r.Share
		}
	}
	out["allocator/mesos/offer_filters/active"] = float64(filters)
	out["allocator/mezzo/backed_off"] = float64(st.BackedOff)
	return out
}

// addFrameworkMetrics writes framework f's metrics under
// master/frameworks/<name>/<id>/.
func (c *core) addFrameworkMetrics(out map[string]float64, f *framework) {
	p := "master/frameworks/" + encodeMetricComponent(f.info.GetName()) + "/" + f.id + "/"
	m := &f.metrics
	subscribed := 0.0
	if f.stream != nil {
		subscribed = 1
	}
	out[p+"subscribed"] = subscribed

	var sum uint64
	for _, e := range callNames {
		out[p+"calls/"+e.name] = float64(m.calls[e.value])
		sum += m.calls[e.value]
	}
	out[p+"calls"] = float64(sum)
	sum = 0
	for _, e := range eventNames {
		out[p+"events/"+e.name] = float64(m.events[e.value])
		sum += m.events[e.value]
	}
	out[p+"events"] = float64(sum)
	sum = 0
	for _, e := range operationNames {
		out[p+"operations/"+e.name] = float64(m.operations[e.value])
		sum += m.operations[e.value]
	}
	out[p+"operations"] = float64(sum)

	out[p+"offers/sent"] = float64(m.offersSent)
	out[p+"offers/accepted"] = float64(m.offersAccepted)
	out[p+"offers/declined"] = float64(m.offersDeclined)
	out[p+"offers/rescinded"] = float64(m.offersRescinded)

	var activeStates [maxEnum]float64
	for _, t := range f.tasks {
		if s := t.pb.GetState(); s >= 0 && int(s) < maxEnum {
			activeStates[s]++
		}
	}
	for _, t := range f.unreachableTasks {
		if t.GetState() == mesos.TaskState_TASK_UNREACHABLE {
			activeStates[mesos.TaskState_TASK_UNREACHABLE]++
		}
	}
	for _, e := range taskStateNames {
		if mesos.IsTerminalState(mesos.TaskState(e.value)) {
			out[p+"tasks/terminal/"+e.name] = float64(m.terminal[e.value])
		} else {
			out[p+"tasks/active/"+e.name] = activeStates[e.value]
		}
	}

	for _, r := range f.roles {
		suppressed := 0.0
		for _, s := range f.suppressed {
			if s == r {
				suppressed = 1
			}
		}
		out[p+"roles/"+r+"/suppressed"] = suppressed
	}
}

// countTaskUpdate counts task t's update st (latest, when set, is the
// newer state the agent knows) from state old, as Mesos' updateTask does:
// the framework's tasks/terminal/<state> when the task moves to a
// terminal state, and the master's terminal-state counters when the task
// becomes terminal or unreachable; both by the task's new state, so each
// task is counted once, whatever the order of its updates.
func (c *core) countTaskUpdate(t *task, old mesos.TaskState, st *mesos.TaskStatus, latest *mesos.TaskState) {
	if mesos.IsTerminalState(old) {
		return
	}
	next := st.GetState()
	if latest != nil {
		next = *latest
	}
	if next != old && mesos.IsTerminalState(next) {
		if f := c.frameworks[t.pb.GetFrameworkId().GetValue()]; f != nil {
			f.metrics.taskTerminal(next)
		}
	}
	if old != mesos.TaskState_TASK_UNREACHABLE && (mesos.IsTerminalState(next) || next == mesos.TaskState_TASK_UNREACHABLE) {
		c.metrics.taskEnded(next, st)
	}
}

// removalCause says why an agent is removed, for
// master/slave_removals/reason_*.
type removalCause int

const (
	// removalUnhealthy: it missed its pings, or stayed disconnected past
	// the grace time (reason_unhealthy).
	removalUnhealthy removalCause = iota
	// removalUnregistered: it said it is leaving (reason_unregistered).
	removalUnregistered
)

// countAgentCall counts an agent call as the message Mesos' agent would
// have sent (before any check).
func (c *core) countAgentCall(t agentproto.AgentCall_Type) {
	switch t {
	case agentproto.AgentCall_STATUS_UPDATE:
		c.metrics.inc(ctrMsgStatusUpdate)
	case agentproto.AgentCall_EXECUTOR_EXITED:
		c.metrics.inc(ctrMsgExitedExecutor)
	case agentproto.AgentCall_FRAMEWORK_MESSAGE:
		c.metrics.inc(ctrMsgExecutorToFramework)
	case agentproto.AgentCall_UNREGISTER:
		c.metrics.inc(ctrMsgUnregisterSlave)
	}
}

// countInvalidAgentCall counts an agent call the master refused or could
// not deliver, for the calls Mesos has valid/invalid counters for.
func (c *core) countInvalidAgentCall(t agentproto.AgentCall_Type) {
	switch t {
	case agentproto.AgentCall_STATUS_UPDATE:
		c.metrics.inc(ctrInvalidStatusUpdates)
	case agentproto.AgentCall_FRAMEWORK_MESSAGE:
		c.metrics.inc(ctrInvalidExecutorToFramework)
	}
}

// invalidSchedulerCall counts a scheduler call that failed validation
// (400 before it reaches a framework), as Mesos does for the calls it has
// invalid counters for.
func (c *core) invalidSchedulerCall(t schedpb.Call_Type) {
	switch t {
	case schedpb.Call_ACKNOWLEDGE:
		c.metrics.inc(ctrInvalidStatusUpdateAcks)
	case schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS:
		c.metrics.inc(ctrInvalidOperationStatusUpdateAcks)
	case schedpb.Call_MESSAGE:
		c.metrics.inc(ctrInvalidFrameworkToExecutor)
	}
}

// ---- encoding ----

// encodedMetrics are metrics encoded once for many /metrics/snapshot
// answers: each metric as `"name":value`, sorted by name.
type encodedMetrics struct {
	names []string
	parts [][]byte
}

// encodeMetrics encodes the metrics of m.
func encodeMetrics(m map[string]float64) (*encodedMetrics, error) {
	e := &encodedMetrics{names: sortedKeys(m)}
	e.parts = make([][]byte, len(e.names))
	for i, n := range e.names {
		p, err := metricPart(n, m[n])
		if err != nil {
			return nil, err
		}
		e.parts[i] = p
	}
	return e, nil
}

// metricPart is one metric as `"name":value`, as legacy.Marshal writes a
// legacy.Quantities entry.
func metricPart(name string, v float64) ([]byte, error) {
	k, err := legacy.Marshal(name)
	if err != nil {
		return nil, err
	}
	f, err := legacy.Float(v).MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", name, err)
	}
	return append(append(k, ':'), f...), nil
}

// appendJSON appends the metrics and live (which wins where both name a
// metric) as one JSON object, byte for byte as legacy.Marshal writes them
// as a legacy.Quantities.
func (e *encodedMetrics) appendJSON(b []byte, live map[string]float64) ([]byte, error) {
	names := sortedKeys(live)
	b = append(b, '{')
	first := true
	put := func(p []byte) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, p...)
	}
	i := 0
	for _, n := range names {
		for ; i < len(e.names) && e.names[i] < n; i++ {
			put(e.parts[i])
		}
		if i < len(e.names) && e.names[i] == n {
			i++
		}
		p, err := metricPart(n, live[n])
		if err != nil {
			return nil, err
		}
		put(p)
	}
	for ; i < len(e.names); i++ {
		put(e.parts[i])
	}
	return append(b, '}'), nil
}
