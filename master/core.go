package master

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/master/constraints"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// HeartbeatInterval is how often the master sends HEARTBEAT events to
// subscribed frameworks (fixed in Mesos, advertised in SUBSCRIBED).
const HeartbeatInterval = 15 * time.Second

// Clock tells the master's core the time. The core reads it at each event;
// its timers are deadlines it compares against Now (see core.tick), so a
// test clock only needs to be moved forward.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// eventSink is the core's end of one framework's event stream. Send must
// not block (the stream's HTTP handler writes asynchronously); Close ends
// the stream after the events already sent. Both may be called after
// Close and then do nothing.
type eventSink interface {
	Send(*schedpb.Event)
	Close()
}

// agentSink is the core's end of one agent's event stream, with the same
// contract as eventSink.
type agentSink interface {
	Send(*agentproto.AgentEvent)
	Close()
}

// core is the master's state machine: frameworks, agents, offers and
// tasks, and the allocator. It is owned by one goroutine (the Master's
// loop, or a test); nothing in it is safe for concurrent use. It reaches
// the outside only through the sinks of the streams it was given, the
// clock, and the logger.
type core struct {
	cfg Config
	// authz decides frameworks' requests by cfg.ACLs (authz.go); nil
	// allows everything. Immutable, shared with the HTTP goroutines.
	authz *acl.Authorizer
	log   *slog.Logger
	clock Clock
	info  *mesos.MasterInfo
	start time.Time
	alloc *allocator.Allocator

	frameworks map[string]*framework
	// completed holds the most recently removed frameworks (oldest first,
	// at most cfg.MaxCompletedFrameworks); removedIDs every removed id,
	// which may never subscribe again.
	completed  []*framework
	removedIDs map[string]bool

	agents map[string]*agent
	// unreachable holds the agents marked unreachable, with the time.
	unreachable map[string]time.Time
	// gone holds the agents an operator marked gone, with the time; they
	// may never register again.
	gone map[string]time.Time
	// recovered holds the agents the registry listed when this master
	// started and that have not re-registered yet; each is marked
	// unreachable at its deadline (AgentReregisterTimeout after start).
	recovered map[string]*recoveredAgent

	// subscribing counts, by framework id, the subscriptions received and
	// not yet decided: waiting for the framework's key, or whose record is
	// being written (subscribe).
	subscribing map[string]int
	// streamsEnded holds, by framework id, the streams of its pending
	// subscriptions that ended before the subscription was decided: the
	// subscription that attaches one disconnects the framework at once.
	streamsEnded map[string]map[string]bool

	// admitting holds, by agent id, where the agents whose admission is
	// being recorded run (registerAgent): an operator taking their machine
	// DOWN meanwhile waits for them (startMaintenance).
	admitting map[string]agentAddr

	// removalLimiter enforces --agent_removal_rate_limit.
	removalLimiter rateLimiter

	// reg is the durable registry; every change it records is written
	// before the master acts on it, through writes (writes.go).
	reg    registry.Store
	writes writeState

	offers map[string]*offer

	frameworkSeq, agentSeq, offerSeq int

	// timers says when each object with a deadline is next due
	// (timers.go); dueTimers is tick's reused buffer.
	timers    timerHeap
	dueTimers []timerKey

	nextAllocation time.Time
	// allocateSoon asks for a prompt allocation at the end of the current
	// event (new agent, new framework, resources recovered, revive): the
	// allocator visits only the agents the event concerned.
	allocateSoon bool
	// allocateAll asks for the batch allocation over every agent, once
	// per --allocation_interval.
	allocateAll bool

	// weights and quotas are the roles' recorded configuration (roles
	// absent have weight 1 and no quota); reg holds them too.
	weights map[string]float64
	quotas  map[string]*quotapb.QuotaConfig

	// maint is the maintenance schedule, the operator's holds on agents
	// and the inverse offers (maintenance.go).
	maint maintenanceState

	// operatorSubs are the operator API's event streams (operator_stream.go).
	operatorSubs operatorStreams

	// metrics are the master's counters and timers (metrics.go).
	metrics coreMetrics
	// queued, when set, tells how many requests wait to run on the core
	// goroutine (master/event_queue_dispatches). It is safe to call from
	// the core goroutine.
	queued func() int64
	// allocRecovery, while set, holds offers back after a restart with
	// quota (recovery.go).
	allocRecovery *allocRecovery
	// frozen is set only on a snapshot's copy of the books (snapshot.go):
	// the allocator's figures as of the copy.
	frozen *frozenReads
}

type framework struct {
	id   string
	info *mesos.FrameworkInfo
	// roles are the roles the framework subscribed with; suppressed the
	// ones it asked not to be offered.
	roles      []string
	suppressed []string
	// offerConstraints are the constraints of its last SUBSCRIBE or
	// UPDATE_FRAMEWORK (nil: none) and constraints their compiled form.
	offerConstraints *schedpb.OfferConstraints
	constraints      *constraints.Filter
	// stream is nil while the framework is disconnected.
	stream   eventSink
	streamID string
	// pid is the libprocess pid of the framework's scheduler driver, for
	// frameworks that subscribed through the driver protocol (v0.go).
	pid string
	// recovered frameworks were learned from a re-registering agent and
	// have not subscribed to this master yet.
	recovered bool

	registered, reregistered, unregistered time.Time
	// failoverDeadline is when a disconnected framework is removed.
	failoverDeadline time.Time
	// removeUnlessResubscribed is set when its stream closed with no
	// failover timeout while a subscription of it was being decided: it is
	// removed once none is pending, unless one attached a new stream.
	removeUnlessResubscribed bool
	nextHeartbeat            time.Time

	tasks map[string]*task
	// completedTasks holds finished tasks, oldest first, bounded by
	// MaxCompletedTasksPerFramework; unreachableTasks those lost with an
	// agent that was marked unreachable.
	completedTasks   []*mesos.Task
	unreachableTasks map[string]*mesos.Task
	// unreachableOrder lists unreachableTasks' ids oldest first (it may
	// still name tasks that have left the map).
	unreachableOrder []string
	// executors by agent id, then executor id.
	executors map[string]map[string]*executor
	offers    map[string]*offer

	// metrics are the framework's counters (master/frameworks/...).
	metrics frameworkMetrics
	// pace holds the paced answers of the stream and whether offers are
	// withheld from it (pacing.go).
	pace paceState
}

type agent struct {
	id       string
	info     *mesos.AgentInfo
	ip       string
	port     int
	version  string
	caps     []*mesos.AgentInfo_Capability
	total    resources.Resources
	stream   agentSink
	streamID string
	// principal is who authenticated the agent's registration ("" when
	// agents are not authenticated) and remoteHost the address it came
	// from: another registration claiming the id while the agent is
	// connected must match both.
	principal, remoteHost string

	registered, reregistered time.Time
	// disconnected is when the agent's stream closed (zero while
	// connected); it is marked unreachable if it does not come back within
	// AgentPingTimeout*MaxAgentPingTimeouts.
	disconnected time.Time

	nextPing time.Time
	// removalDeferred is when to try again to mark the agent unreachable
	// after the removal rate limit or a registry failure held it back.
	removalDeferred time.Time
	// removalCause is why the deferred removal was asked for.
	removalCause removalCause
	pingSeq      uint64 // last ping sent
	pongSeq      uint64 // last ping answered
	missedPings  int

	// tasks and executors by framework id, then task or executor id.
	tasks     map[string]map[string]*task
	executors map[string]map[string]*executor
	offers    map[string]*offer

	// recorded is the total the registry holds for the agent.
	recorded resources.Resources
	// abandoned holds, by framework id then task id, the tasks the agent
	// reported on its return that the master gave up on (their framework
	// was removed, or is not partition-aware and was told they were lost)
	// and told the agent to shut down. Their updates are acknowledged to
	// the agent and never reach the framework; should the agent report one
	// again (the stream that carried the shutdown broke first), it is
	// killed on its own. An entry goes once the agent no longer reports it.
	abandoned map[string]map[string]bool
}

// agentAddr is where an agent runs: the hostname and IP that place it on
// a machine (machineFor).
type agentAddr struct{ host, ip string }

// recoveredAgent is an agent known from the registry, waiting to
// re-register after a master restart.
type recoveredAgent struct {
	info     *mesos.AgentInfo
	deadline time.Time
}

type task struct {
	pb   *mesos.Task
	res  resources.Resources // without allocation info
	role string
	// released is set once the task's resources went back to the
	// allocator (terminal or unreachable state).
	released bool
	// acked holds the uuids of the task's updates the framework has
	// acknowledged, so an update the agent resends after a restart is not
	// delivered twice (a task has a handful of updates).
	acked map[string]bool
}

type executor struct {
	info *mesos.ExecutorInfo
	res  resources.Resources
	role string
}

type offer struct {
	pb          *mesos.Offer
	frameworkID string
	agentID     string
	role        string
	res         resources.Resources
	// expires is when the offer is rescinded (zero: never).
	expires time.Time
}

// newCore returns a core whose durable state lives in store. It starts
// empty: recoverState loads what store held.
func newCore(cfg Config, log *slog.Logger, clock Clock, info *mesos.MasterInfo, store registry.Store) *core {
	now := clock.Now()
	opts := allocator.DefaultOptions()
	opts.MinAllocatable, _ = cfg.minAllocatable() // checked by Config.Validate
	c := &core{
		reg:            store,
		writes:         newWriteState(),
		removalLimiter: newRateLimiter(cfg.agentRemovalRate()),
		gone:           map[string]time.Time{},
		recovered:      map[string]*recoveredAgent{},
		cfg:            cfg,
		authz:          acl.New(cfg.ACLs),
		log:            log,
		clock:          clock,
		info:           info,
		start:          now,
		alloc:          allocator.New(opts),
		weights:        map[string]float64{},
		quotas:         map[string]*quotapb.QuotaConfig{},
		frameworks:     map[string]*framework{},
		removedIDs:     map[string]bool{},
		subscribing:    map[string]int{},
		streamsEnded:   map[string]map[string]bool{},
		admitting:      map[string]agentAddr{},
		agents:         map[string]*agent{},
		unreachable:    map[string]time.Time{},
		offers:         map[string]*offer{},
		nextAllocation: now.Add(cfg.AllocationInterval),
		maint:          newMaintenanceState(),
		operatorSubs:   newOperatorStreams(cfg.MaxOperatorEventStreamSubscribers),
		metrics:        newCoreMetrics(),
	}
	c.timers.schedule(allocationTimer, c.nextAllocation)
	return c
}

func (c *core) masterID() string { return c.info.GetId() }

// ---- time ----

// tick fires every timer that is due (timers.go): operator and framework
// heartbeats, framework failover timeouts, agent pings and their timeouts,
// disconnected agents' grace periods and deferred removals, recovered
// agents' re-registration deadlines, offer and inverse offer timeouts,
// draining agents' kill deadlines, and the batch allocation. Timers due
// together fire grouped by kind (in timerKind's order), each kind's by id.
// Its cost is that of the timers due, plus O(log n) each.
func (c *core) tick() {
	now := c.clock.Now()
	due := c.timers.popDue(now, c.dueTimers[:0])
	c.dueTimers = due[:0]
	slices.SortFunc(due, func(a, b timerKey) int {
		if a.kind != b.kind {
			return cmp.Compare(a.kind, b.kind)
		}
		return cmp.Compare(a.id, b.id)
	})
	for len(due) > 0 {
		kind, n := due[0].kind, 1
		for n < len(due) && due[n].kind == kind {
			n++
		}
		ids := make([]string, n)
		for i, k := range due[:n] {
			ids[i] = k.id
		}
		due = due[n:]
		c.fireTimers(kind, ids, now)
	}
}

// fireTimers runs the timers of one kind that came due at now, ids
// sorted. Each object is re-read: one whose deadline moved later is only
// rescheduled, one that is gone is forgotten.
func (c *core) fireTimers(kind timerKind, ids []string, now time.Time) {
	switch kind {
	case timerOperator:
		c.heartbeatOperators(now, ids)
	case timerFramework:
		for _, id := range ids {
			if f := c.frameworks[id]; f != nil {
				c.checkFramework(f, now)
			}
		}
	case timerAgent:
		for _, id := range ids {
			if a := c.agents[id]; a != nil {
				c.checkAgent(a, now)
				c.scheduleAgent(a)
			}
		}
	case timerRecovered:
		c.expireRecovered(now, ids)
	case timerOffer:
		for _, id := range ids {
			if o := c.offers[id]; o != nil {
				c.expireOffer(o, now)
			}
		}
	case timerInverseOffer:
		c.expireInverseOffers(now, ids)
	case timerDrain:
		// checkDraining, at the end of this event, kills what is due.
		for _, id := range ids {
			c.scheduleDrain(id, now)
		}
	case timerAllocation:
		if !now.Before(c.nextAllocation) {
			c.allocateAll = true
			c.nextAllocation = now.Add(c.cfg.AllocationInterval)
		}
		c.timers.schedule(allocationTimer, c.nextAllocation)
	}
}

// checkFramework runs a framework's timers: its HEARTBEAT while connected,
// its failover timeout while disconnected.
func (c *core) checkFramework(f *framework, now time.Time) {
	if f.stream != nil && !now.Before(f.nextHeartbeat) {
		f.send(&schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()})
		f.nextHeartbeat = now.Add(HeartbeatInterval)
	}
	if f.stream == nil && !f.recovered && !f.failoverDeadline.IsZero() && !now.Before(f.failoverDeadline) {
		recheck := func() error {
			if c.frameworks[f.id] == f {
				c.checkFramework(f, c.clock.Now())
			}
			return nil
		}
		if _, busy := c.whenFree([]string{frameworkKey(f.id)}, recheck); busy {
			// Its subscription is being recorded: decide once it is.
			return
		}
		c.log.Info("framework failover timeout elapsed", "framework_id", f.id)
		c.removeFramework(f)
		return
	}
	c.scheduleFramework(f)
}

// expireOffer rescinds an offer whose --offer_timeout has passed; keeping
// it that long counts as declining it (the default filter, and backoff).
func (c *core) expireOffer(o *offer, now time.Time) {
	if o.expires.IsZero() || now.Before(o.expires) {
		c.scheduleOffer(o)
		return
	}
	c.log.Info("offer timed out", "offer_id", o.pb.GetId().GetValue(), "framework_id", o.frameworkID)
	c.metrics.inc(ctrOffersTimedOut)
	if f := c.frameworks[o.frameworkID]; f != nil {
		f.metrics.offersRescinded++
		f.send(&schedpb.Event{Type: schedpb.Event_RESCIND.Enum(), Rescind: &schedpb.Event_Rescind{OfferId: o.pb.GetId()}})
	}
	c.declineOffer(o, allocator.DefaultRefuse)
}

// nextDeadline is the earliest time tick has something to do: the top of
// the timer heap, O(1). It may be earlier than need be (a deadline that
// moved later since it was scheduled), never later.
func (c *core) nextDeadline() time.Time {
	if at, ok := c.timers.next(); ok {
		return at
	}
	// The batch allocation is always scheduled; this is a safeguard.
	return c.nextAllocation
}

// flush finishes an event: it allocates if something asked for it.
func (c *core) flush() {
	c.checkDraining()
	if c.allocateSoon || c.allocateAll {
		all := c.allocateAll
		c.allocateSoon, c.allocateAll = false, false
		c.allocate(all)
	}
}

// shutdown closes every stream; the core is not used afterwards.
func (c *core) shutdown() {
	for _, f := range c.frameworks {
		if f.stream != nil {
			f.stream.Close()
			f.stream = nil
		}
	}
	for _, a := range c.agents {
		if a.stream != nil {
			a.stream.Close()
			a.stream = nil
		}
	}
	c.operatorSubs.closeAll()
}

// ---- ids ----

func (c *core) newFrameworkID() string {
	id := fmt.Sprintf("%s-%04d", c.masterID(), c.frameworkSeq)
	c.frameworkSeq++
	return id
}

func (c *core) newAgentID() string {
	id := fmt.Sprintf("%s-S%d", c.masterID(), c.agentSeq)
	c.agentSeq++
	return id
}

func (c *core) newOfferID() string {
	id := fmt.Sprintf("%s-O%d", c.masterID(), c.offerSeq)
	c.offerSeq++
	return id
}

// ---- deterministic iteration (maps are unordered; tests want order) ----

func (c *core) sortedFrameworks() []*framework {
	fs := make([]*framework, 0, len(c.frameworks))
	for _, f := range c.frameworks {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].id < fs[j].id })
	return fs
}

func (c *core) sortedAgents() []*agent {
	as := make([]*agent, 0, len(c.agents))
	for _, a := range c.agents {
		as = append(as, a)
	}
	sort.Slice(as, func(i, j int) bool { return as[i].id < as[j].id })
	return as
}

func sortOffers(m map[string]*offer) []*offer {
	os := make([]*offer, 0, len(m))
	for _, o := range m {
		os = append(os, o)
	}
	sort.Slice(os, func(i, j int) bool { return os[i].pb.GetId().GetValue() < os[j].pb.GetId().GetValue() })
	return os
}

func sortedTasks(m map[string]*task) []*task {
	ts := make([]*task, 0, len(m))
	for _, t := range m {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].pb.GetTaskId().GetValue() < ts[j].pb.GetTaskId().GetValue() })
	return ts
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ---- framework helpers ----

// send sends ev on the framework's stream and counts it; an event for a
// disconnected framework is dropped.
func (f *framework) send(ev *schedpb.Event) {
	if f.stream != nil {
		f.metrics.event(ev.GetType())
		f.stream.Send(ev)
	}
}

func (f *framework) hasCapability(t mesos.FrameworkInfo_Capability_Type) bool {
	return hasCapability(f.info, t)
}

func hasCapability(info *mesos.FrameworkInfo, t mesos.FrameworkInfo_Capability_Type) bool {
	for _, c := range info.GetCapabilities() {
		if c.GetType() == t {
			return true
		}
	}
	return false
}

func (f *framework) partitionAware() bool {
	return f.hasCapability(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}

func (f *framework) multiRole() bool {
	return f.hasCapability(mesos.FrameworkInfo_Capability_MULTI_ROLE)
}

func (f *framework) hasRole(role string) bool {
	for _, r := range f.roles {
		if r == role {
			return true
		}
	}
	return false
}

// allocFramework describes a framework to the allocator.
func (c *core) allocFramework(f *framework) allocator.Framework {
	af := allocator.Framework{
		Roles:      f.roles,
		Suppressed: f.suppressed,
		Capabilities: allocator.Capabilities{
			GPU:        f.hasCapability(mesos.FrameworkInfo_Capability_GPU_RESOURCES),
			Revocable:  f.hasCapability(mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES),
			Shared:     f.hasCapability(mesos.FrameworkInfo_Capability_SHARED_RESOURCES),
			Refinement: f.hasCapability(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT),
		},
	}
	for role, of := range f.info.GetOfferFilters() {
		mar := of.GetMinAllocatableResources()
		if mar == nil {
			continue
		}
		if af.MinAllocatable == nil {
			af.MinAllocatable = map[string][]resources.Quantities{}
		}
		sets := []resources.Quantities{}
		for _, q := range mar.GetQuantities() {
			var qs []resources.Quantity
			for name, v := range q.GetQuantities() {
				x, err := resources.ScalarFromFloat(v.GetValue())
				if err == nil {
					qs = append(qs, resources.Quantity{Name: name, Value: x})
				}
			}
			sets = append(sets, resources.NewQuantities(qs...))
		}
		af.MinAllocatable[role] = sets
	}
	if fc := f.constraints; fc != nil {
		af.Excludes = func(role, agentID string) bool {
			a := c.agents[agentID]
			return a != nil && fc.Excludes(role, a.info)
		}
	}
	return af
}

// frameworkRoles returns the roles a FrameworkInfo subscribes to: roles
// for MULTI_ROLE frameworks, else the single (deprecated) role, "*" by
// default.
func frameworkRoles(info *mesos.FrameworkInfo) []string {
	if hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		return append([]string(nil), info.GetRoles()...)
	}
	return []string{info.GetRole()}
}

// addUnreachableTask keeps t among f's unreachable tasks, forgetting the
// longest-kept one beyond max (--max_unreachable_tasks_per_framework), as
// Mesos' bounded map does.
func (f *framework) addUnreachableTask(t *mesos.Task, max int) {
	if max <= 0 {
		return
	}
	id := t.GetTaskId().GetValue()
	f.unreachableTasks[id] = t
	f.unreachableOrder = append(f.unreachableOrder, id)
	for len(f.unreachableTasks) > max && len(f.unreachableOrder) > 0 {
		oldest := f.unreachableOrder[0]
		f.unreachableOrder = f.unreachableOrder[1:]
		if oldest != id {
			delete(f.unreachableTasks, oldest)
		}
	}
	// Ids of tasks that left the map since are dropped as they come up;
	// keep the slice from growing without bound meanwhile.
	if len(f.unreachableOrder) > 2*max+16 {
		kept := f.unreachableOrder[:0]
		for _, k := range f.unreachableOrder {
			if f.unreachableTasks[k] != nil {
				kept = append(kept, k)
			}
		}
		f.unreachableOrder = kept
	}
}

func (f *framework) addCompletedTask(t *mesos.Task, max int) {
	if max <= 0 {
		return
	}
	f.completedTasks = append(f.completedTasks, t)
	if over := len(f.completedTasks) - max; over > 0 {
		f.completedTasks = append([]*mesos.Task(nil), f.completedTasks[over:]...)
	}
}

// ---- agent helpers ----

func (a *agent) send(ev *agentproto.AgentEvent) {
	if a.stream != nil {
		a.stream.Send(ev)
	}
}

func (a *agent) connected() bool { return a.stream != nil }

func (a *agent) pid() string { return fmt.Sprintf("slave(1)@%s:%d", a.ip, a.port) }

func (a *agent) task(frameworkID, taskID string) *task {
	return a.tasks[frameworkID][taskID]
}

// ---- task states ----

// masterStatus is a status update the master generates itself: source
// SOURCE_MASTER, no uuid (so the framework must not acknowledge it),
// timestamped now.
func (c *core) masterStatus(taskID, agentID string, state mesos.TaskState, reason mesos.TaskStatus_Reason, message string) *mesos.TaskStatus {
	st := &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: proto.String(taskID)},
		State:     state.Enum(),
		Message:   proto.String(message),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		Timestamp: proto.Float64(seconds(c.clock.Now())),
	}
	if agentID != "" {
		st.AgentId = &mesos.AgentID{Value: proto.String(agentID)}
	}
	return st
}

func seconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

func updateEvent(st *mesos.TaskStatus) *schedpb.Event {
	return &schedpb.Event{
		Type:   schedpb.Event_UPDATE.Enum(),
		Update: &schedpb.Event_Update{Status: st},
	}
}

func errorEvent(msg string) *schedpb.Event {
	return &schedpb.Event{Type: schedpb.Event_ERROR.Enum(), Error: &schedpb.Event_Error{Message: proto.String(msg)}}
}

// lostState is what a framework is told about a task the master gave up
// on: the partition-aware state, or TASK_LOST for frameworks that do not
// know the newer states.
func (f *framework) lostState(partitionAware mesos.TaskState) mesos.TaskState {
	if f != nil && f.partitionAware() {
		return partitionAware
	}
	return mesos.TaskState_TASK_LOST
}

// setOfferConstraints keeps the offer constraints a framework subscribed
// or updated with, and their compiled filter.
func (f *framework) setOfferConstraints(oc *schedpb.OfferConstraints, filter *constraints.Filter) {
	f.offerConstraints = nil
	if len(oc.GetRoleConstraints()) > 0 {
		f.offerConstraints = proto.Clone(oc).(*schedpb.OfferConstraints)
	}
	f.constraints = filter
}
