package master

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	allocpb "github.com/mezzo-project/mezzo/api/v1/allocator"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/master/constraints"
	"github.com/mezzo-project/mezzo/master/registry"
)

// subscribe handles a SUBSCRIBE call (already validated as a call) whose
// events go to sink. A refused subscription gets one ERROR event and the
// stream is closed, as Mesos does. It returns the framework id, or "" when
// refused.
//
// A framework whose info changed (or new to this master) is recorded in
// the registry first: SUBSCRIBED, and every change to the master's books,
// wait for the write, and a subscription with the id of a framework whose
// record is being written waits for it. Until it is decided the
// subscription counts in c.subscribing: the close of the framework's old
// stream meanwhile does not remove it (frameworkStreamClosed).
func (c *core) subscribe(sink eventSink, streamID string, sub *schedpb.Call_Subscribe) string {
	if claimed := sub.GetFrameworkInfo().GetId().GetValue(); claimed != "" {
		again := func() error {
			c.subscriptionDecided(claimed)
			c.subscribe(sink, streamID, sub)
			c.settleResubscription(claimed)
			return nil
		}
		if _, busy := c.whenFree([]string{frameworkKey(claimed)}, again); busy {
			c.subscribing[claimed]++
			return claimed
		}
	}
	if sub.GetFrameworkInfo().GetId().GetValue() == "" {
		c.metrics.inc(ctrMsgRegisterFramework)
	} else {
		c.metrics.inc(ctrMsgReregisterFramework)
	}
	info := proto.Clone(sub.GetFrameworkInfo()).(*mesos.FrameworkInfo)
	refuse := func(msg string) string {
		c.log.Info("refusing framework subscription", "name", info.GetName(), "reason", msg)
		sink.Send(errorEvent(msg))
		sink.Close()
		return ""
	}
	if err := validateFrameworkInfo(info); err != nil {
		return refuse(err.Error())
	}
	if !c.cfg.RootSubmissions && info.GetUser() == "root" {
		return refuse("User 'root' is not allowed to run frameworks without --root_submissions set")
	}
	roles := frameworkRoles(info)
	if err := validateSubsetRoles(roles, sub.GetSuppressedRoles(), "Suppressed roles"); err != nil {
		return refuse(err.Error())
	}
	if err := validateOfferConstraintRoles(roles, sub.GetOfferConstraints()); err != nil {
		return refuse(err.Error())
	}
	filter, err := constraints.Compile(sub.GetOfferConstraints(), c.cfg.OfferConstraintLimits)
	if err != nil {
		return refuse("Offer constraints are not valid: " + err.Error())
	}
	if err := c.authorizeRegistration(info, roles); err != nil {
		return refuse(err.Error())
	}
	id := info.GetId().GetValue()
	if id != "" && c.removedIDs[id] {
		return refuse("Framework has been removed")
	}
	f := c.frameworks[id]
	if id == "" {
		id = c.newFrameworkID()
		info.Id = &mesos.FrameworkID{Value: proto.String(id)}
	}
	if f != nil {
		// user and checkpoint cannot change; principal must not.
		info.User = f.info.User
		info.Checkpoint = f.info.Checkpoint
		if f.info.GetPrincipal() != info.GetPrincipal() || (f.info.Principal == nil) != (info.Principal == nil) {
			return refuse("Changing framework's principal is not allowed.")
		}
	}
	if f != nil && proto.Equal(f.info, info) {
		c.frameworkSubscribed(sink, streamID, sub, info, roles, filter)
		return id
	}
	refused := false
	c.subscribing[id]++
	c.write([]string{frameworkKey(id)}, []registry.Op{registry.AddFramework{Info: info}}, func(err error) {
		c.subscriptionDecided(id)
		defer c.settleResubscription(id)
		switch {
		case err != nil:
			refused = true
			refuse("Could not record the framework in the registry; retry later")
		case c.removedIDs[id]:
			refused = true
			refuse("Framework has been removed")
		default:
			c.frameworkSubscribed(sink, streamID, sub, info, roles, filter)
		}
	})
	if refused {
		return ""
	}
	return id
}

// frameworkSubscribed is subscribe once the registry holds the
// framework's info: the framework is added (or takes the new stream,
// failing the old one over) and hears SUBSCRIBED.
func (c *core) frameworkSubscribed(sink eventSink, streamID string, sub *schedpb.Call_Subscribe,
	info *mesos.FrameworkInfo, roles []string, filter *constraints.Filter) {
	now := c.clock.Now()
	id := info.GetId().GetValue()
	f := c.frameworks[id]
	// Operator subscribers hear of a framework new to this master as added.
	change := masterpb.Event_FRAMEWORK_UPDATED
	if f == nil {
		change = masterpb.Event_FRAMEWORK_ADDED
	}
	if f == nil && sub.GetFrameworkInfo().GetId().GetValue() == "" {
		f = c.newFramework(info, now)
		c.log.Info("framework subscribed", "framework_id", id, "name", info.GetName(), "roles", roles)
	} else {
		if f == nil {
			// A framework this master has not seen (it failed over from
			// another master, or this master restarted): take its id.
			f = c.newFramework(info, now)
		} else {
			if f.stream != nil {
				c.log.Info("framework failed over", "framework_id", id)
				f.send(errorEvent("Framework failed over"))
				f.stream.Close()
			}
			f.info = info
			f.reregistered = now
			// Offers made to the old connection are void.
			for _, o := range sortOffers(f.offers) {
				c.discardOffer(o, 0)
			}
			c.dropInverseOffers(f.id)
		}
		c.log.Info("framework resubscribed", "framework_id", id, "name", info.GetName(), "roles", roles)
	}
	f.recovered = false
	f.roles = roles
	f.suppressed = append([]string(nil), sub.GetSuppressedRoles()...)
	f.setOfferConstraints(sub.GetOfferConstraints(), filter)
	f.stream = sink
	f.streamID = streamID
	oldPID := f.pid
	f.pid = "" // the driver protocol sets it again (v0.go)
	if _, v0 := sink.(*v0Sink); !v0 {
		c.frameworkPIDChanged(f, oldPID)
	}
	f.resetPace()
	f.failoverDeadline = time.Time{}
	f.removeUnlessResubscribed = false
	f.unregistered = time.Time{}
	c.alloc.AddFramework(id, c.allocFramework(f))
	f.metrics.call(schedpb.Call_SUBSCRIBE)
	c.publish(frameworkEvent(change, f))

	f.send(&schedpb.Event{
		Type: schedpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &schedpb.Event_Subscribed{
			FrameworkId:              &mesos.FrameworkID{Value: proto.String(id)},
			HeartbeatIntervalSeconds: proto.Float64(HeartbeatInterval.Seconds()),
			MasterInfo:               proto.Clone(c.info).(*mesos.MasterInfo),
		},
	})
	// Mesos starts the heartbeat with one HEARTBEAT right after SUBSCRIBED.
	f.send(&schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()})
	f.nextHeartbeat = now.Add(HeartbeatInterval)
	c.scheduleFramework(f)
	c.allocateSoon = true
	if c.streamsEnded[id][streamID] {
		// The client went away while the subscription was recorded.
		delete(c.streamsEnded[id], streamID)
		c.frameworkStreamClosed(id, streamID)
	}
}

// subscriptionDecided counts one subscription of framework id as no
// longer pending.
func (c *core) subscriptionDecided(id string) {
	if c.subscribing[id]--; c.subscribing[id] <= 0 {
		delete(c.subscribing, id)
	}
}

// settleResubscription removes framework id if its stream closed, with no
// failover timeout, while subscriptions of it were pending, and none of
// them is pending any more or attached a new stream: it ends as the
// disconnect would have ended it alone.
func (c *core) settleResubscription(id string) {
	if c.subscribing[id] > 0 {
		return
	}
	delete(c.streamsEnded, id)
	f := c.frameworks[id]
	if f == nil || !f.removeUnlessResubscribed {
		return
	}
	f.removeUnlessResubscribed = false
	if f.stream != nil {
		return
	}
	c.log.Info("framework did not subscribe again after its stream closed; removing it", "framework_id", id)
	c.removeFramework(f)
}

func (c *core) newFramework(info *mesos.FrameworkInfo, now time.Time) *framework {
	f := &framework{
		id:               info.GetId().GetValue(),
		info:             info,
		registered:       now,
		tasks:            map[string]*task{},
		unreachableTasks: map[string]*mesos.Task{},
		executors:        map[string]map[string]*executor{},
		offers:           map[string]*offer{},
	}
	c.frameworks[f.id] = f
	return f
}

// frameworkStreamClosed handles the end of a framework's event stream. It
// is a no-op unless streamID is the framework's current stream, or the
// stream of a subscription of it not yet decided (it ends once attached). A
// framework with no failover timeout is removed at once, unless a
// subscription of it is pending (it is re-subscribing): then it is removed
// only if none of them attaches a new stream (settleResubscription).
func (c *core) frameworkStreamClosed(frameworkID, streamID string) {
	f := c.frameworks[frameworkID]
	if f == nil || f.stream == nil || f.streamID != streamID {
		if c.subscribing[frameworkID] > 0 {
			// The stream of a subscription not yet decided, maybe:
			// should that subscription attach it, it ends then.
			if c.streamsEnded[frameworkID] == nil {
				c.streamsEnded[frameworkID] = map[string]bool{}
			}
			c.streamsEnded[frameworkID][streamID] = true
		}
		return
	}
	timeout := c.disconnectFailoverTimeout(f)
	f.stream.Close()
	f.stream = nil
	f.resetPace()
	c.alloc.SetFrameworkActive(f.id, false)
	for _, o := range sortOffers(f.offers) {
		c.discardOffer(o, 0)
	}
	c.dropInverseOffers(f.id)
	c.log.Info("framework disconnected", "framework_id", f.id, "failover_timeout", timeout)
	if timeout <= 0 && c.subscribing[f.id] > 0 {
		c.log.Info("framework disconnected while it subscribes again; it is kept until that subscription is decided", "framework_id", f.id)
		f.removeUnlessResubscribed = true
		c.publish(frameworkEvent(masterpb.Event_FRAMEWORK_UPDATED, f))
		return
	}
	if timeout <= 0 {
		c.removeFramework(f)
		return
	}
	f.failoverDeadline = c.clock.Now().Add(timeout)
	c.scheduleFramework(f)
	c.publish(frameworkEvent(masterpb.Event_FRAMEWORK_UPDATED, f))
}

func failoverTimeout(info *mesos.FrameworkInfo) time.Duration {
	s := info.GetFailoverTimeout()
	if s <= 0 {
		return 0
	}
	if s >= float64(maxDuration)/float64(time.Second) {
		return maxDuration
	}
	return time.Duration(s * float64(time.Second))
}

const maxDuration = time.Duration(1<<63 - 1)

// schedulerCall handles every call but SUBSCRIBE, after the checks Mesos
// makes on the HTTP request: the framework must exist (400), be subscribed
// (403), and streamID (hasStreamID: the header was present) must be its
// current stream's (400). A nil error means 202 (200 for
// UPDATE_FRAMEWORK).
func (c *core) schedulerCall(call *schedpb.Call, streamID string, hasStreamID bool) error {
	f := c.frameworks[call.GetFrameworkId().GetValue()]
	if f == nil {
		return invalidf("Framework cannot be found")
	}
	// Mesos counts a framework's calls once it is found, before the
	// subscription checks.
	f.metrics.call(call.GetType())
	if f.stream == nil {
		return forbiddenf("Framework is not subscribed")
	}
	if !hasStreamID {
		return invalidf("All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	}
	if streamID != f.streamID {
		return invalidf("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", streamID, f.id)
	}
	switch call.GetType() {
	case schedpb.Call_TEARDOWN:
		c.metrics.inc(ctrMsgUnregisterFramework)
		c.log.Info("framework asked to be torn down", "framework_id", f.id)
		c.removeFramework(f)
	case schedpb.Call_ACCEPT:
		c.accept(f, call.GetAccept())
	case schedpb.Call_DECLINE:
		c.decline(f, call.GetDecline())
	case schedpb.Call_ACCEPT_INVERSE_OFFERS:
		ai := call.GetAcceptInverseOffers()
		c.answerInverseOffers(f, ai.GetInverseOfferIds(), ai.GetFilters(), allocpb.InverseOfferStatus_ACCEPT)
	case schedpb.Call_DECLINE_INVERSE_OFFERS:
		di := call.GetDeclineInverseOffers()
		c.answerInverseOffers(f, di.GetInverseOfferIds(), di.GetFilters(), allocpb.InverseOfferStatus_DECLINE)
	case schedpb.Call_REVIVE:
		c.revive(f, call.GetRevive().GetRoles())
	case schedpb.Call_SUPPRESS:
		c.suppress(f, call.GetSuppress().GetRoles())
	case schedpb.Call_KILL:
		c.kill(f, call.GetKill())
	case schedpb.Call_SHUTDOWN:
		c.shutdownExecutor(f, call.GetShutdown())
	case schedpb.Call_ACKNOWLEDGE:
		c.acknowledge(f, call.GetAcknowledge())
	case schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS:
		// No operation feedback yet: nothing to acknowledge (and nothing
		// to call the acknowledgement valid or invalid against).
		c.metrics.inc(ctrMsgOperationStatusUpdateAck)
	case schedpb.Call_RECONCILE:
		return c.reconcileCall(f, call.GetReconcile().GetTasks())
	case schedpb.Call_RECONCILE_OPERATIONS:
		c.reconcileOperations(f, call.GetReconcileOperations())
	case schedpb.Call_MESSAGE:
		c.frameworkMessage(f, call.GetMessage())
	case schedpb.Call_REQUEST:
		// Mesos' allocator ignores resource requests too.
		c.metrics.inc(ctrMsgResourceRequest)
	case schedpb.Call_UPDATE_FRAMEWORK:
		return c.updateFramework(f, call.GetUpdateFramework())
	default:
		return unsupportedf("")
	}
	return nil
}

func (c *core) updateFramework(f *framework, u *schedpb.Call_UpdateFramework) error {
	info := proto.Clone(u.GetFrameworkInfo()).(*mesos.FrameworkInfo)
	if err := validateFrameworkInfo(info); err != nil {
		return invalidf("%v", err)
	}
	if (f.info.Principal == nil) != (info.Principal == nil) || f.info.GetPrincipal() != info.GetPrincipal() {
		return invalidf("Changing framework's principal is not allowed.")
	}
	if info.GetUser() != f.info.GetUser() {
		return invalidf("Updating 'FrameworkInfo.user' is unsupported; attempted to update from '%s' to '%s'", f.info.GetUser(), info.GetUser())
	}
	if info.GetCheckpoint() != f.info.GetCheckpoint() {
		return invalidf("Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from '%t' to '%t'", f.info.GetCheckpoint(), info.GetCheckpoint())
	}
	roles := frameworkRoles(info)
	if err := validateSubsetRoles(roles, u.GetSuppressedRoles(), "Suppressed roles"); err != nil {
		return invalidf("%v", err)
	}
	if err := validateOfferConstraintRoles(roles, u.GetOfferConstraints()); err != nil {
		return invalidf("%v", err)
	}
	filter, err := constraints.Compile(u.GetOfferConstraints(), c.cfg.OfferConstraintLimits)
	if err != nil {
		return invalidf("Offer constraints are not valid: %v", err)
	}
	if err := c.authorizeRegistration(info, roles); err != nil {
		c.log.Info("refusing framework update", "framework_id", f.id, "reason", err)
		return forbiddenf("%v", err)
	}
	f.info = info
	f.roles = roles
	f.suppressed = append([]string(nil), u.GetSuppressedRoles()...)
	f.setOfferConstraints(u.GetOfferConstraints(), filter)
	c.alloc.UpdateFramework(f.id, c.allocFramework(f))
	// Offers on agents the new constraints exclude are void.
	for _, o := range sortOffers(f.offers) {
		if a := c.agents[o.agentID]; a != nil && filter.Excludes(o.role, a.info) {
			c.rescindOffer(o)
		}
	}
	// Offers in roles the framework left are void.
	for _, o := range sortOffers(f.offers) {
		if !f.hasRole(o.role) {
			c.rescindOffer(o)
		}
	}
	c.allocateSoon = true
	c.publish(frameworkEvent(masterpb.Event_FRAMEWORK_UPDATED, f))
	c.log.Info("framework updated", "framework_id", f.id, "roles", roles)
	return nil
}

// removeFramework tears a framework down: its offers are discarded, its
// tasks killed (TASK_KILLED in the master's books, SHUTDOWN_FRAMEWORK to
// every agent), its stream closed, and it moves to the completed list.
func (c *core) removeFramework(f *framework) {
	c.log.Info("removing framework", "framework_id", f.id)
	// The framework is gone from this master at once, its id refused from
	// now on; the record goes with the next batch. Should the write fail,
	// a restarted master would list it as recovered until its agents
	// report. A reply to the teardown waits for the write (Master.do).
	id := f.id
	c.write([]string{frameworkKey(id)}, []registry.Op{registry.RemoveFramework{ID: id}}, func(err error) {
		if err != nil {
			c.log.Error("framework removed but still in the registry", "framework_id", id, "err", err)
		}
	})
	now := c.clock.Now()
	for _, o := range sortOffers(f.offers) {
		c.discardOffer(o, 0)
	}
	c.dropInverseOffers(f.id)
	for _, a := range c.sortedAgents() {
		a.send(&agentproto.AgentEvent{
			Type:              agentproto.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
			ShutdownFramework: &agentproto.AgentEvent_ShutdownFramework{FrameworkId: frameworkID(f.id)},
		})
	}
	msg := fmt.Sprintf("Framework %s removed", f.id)
	for _, t := range sortedTasks(f.tasks) {
		st := c.masterStatus(t.pb.GetTaskId().GetValue(), t.pb.GetAgentId().GetValue(),
			mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_FRAMEWORK_REMOVED, msg)
		st.ExecutorId = t.pb.GetExecutorId()
		c.updateTask(t, st, nil)
		c.removeTask(t, false)
	}
	for _, id := range sortedKeys(f.unreachableTasks) {
		t := f.unreachableTasks[id]
		st := c.masterStatus(id, t.GetAgentId().GetValue(), mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_FRAMEWORK_REMOVED, msg)
		applyStatus(t, st, nil)
		c.publish(taskUpdated(t, st))
		f.addCompletedTask(t, c.cfg.MaxCompletedTasksPerFramework)
	}
	f.unreachableTasks = map[string]*mesos.Task{}
	f.unreachableOrder = nil
	for _, agentID := range sortedKeys(f.executors) {
		if a := c.agents[agentID]; a != nil {
			for _, execID := range sortedKeys(f.executors[agentID]) {
				c.removeExecutor(a, f.id, execID)
			}
		}
	}
	f.executors = map[string]map[string]*executor{}
	if f.stream != nil {
		f.stream.Close()
		f.stream = nil
	}
	f.unregistered = now
	c.alloc.RemoveFramework(f.id)
	delete(c.frameworks, f.id)
	c.scheduleFramework(f)
	c.publish(frameworkRemoved(f.info))
	c.removedIDs[f.id] = true
	c.completed = append(c.completed, f)
	if over := len(c.completed) - c.cfg.MaxCompletedFrameworks; over > 0 {
		c.completed = append([]*framework(nil), c.completed[over:]...)
	}
	c.allocateSoon = true
}

// ---- offers ----

// allocate asks the allocator for offers and sends them, one OFFERS event
// per framework.
func (c *core) allocate(all bool) {
	now := c.clock.Now()
	if c.allocationPaused(now) {
		return
	}
	byFramework := map[string][]*mesos.Offer{}
	var order []string
	var decisions []allocator.Offer
	if all {
		decisions = c.alloc.Allocate(now)
	} else {
		decisions = c.alloc.AllocatePending(now)
	}
	// The allocator does not read the clock; the core's clock times it.
	c.metrics.allocationRun.record(now, c.clock.Now().Sub(now))
	for _, d := range decisions {
		f, a := c.frameworks[d.FrameworkID], c.agents[d.AgentID]
		if f == nil || f.stream == nil || a == nil || !a.connected() || c.withholdOffers(f) {
			// The allocator's view lags, or the framework's stream is
			// too far behind (pacing.go): give the resources back.
			c.alloc.Recover(d.FrameworkID, d.AgentID, d.Role, d.Resources, 0, now)
			continue
		}
		o := &offer{frameworkID: f.id, agentID: a.id, role: d.Role, res: d.Resources}
		if c.cfg.OfferTimeout > 0 {
			o.expires = now.Add(c.cfg.OfferTimeout)
		}
		o.pb = &mesos.Offer{
			Id:          &mesos.OfferID{Value: proto.String(c.newOfferID())},
			FrameworkId: frameworkID(f.id),
			AgentId:     agentID(a.id),
			Hostname:    proto.String(a.info.GetHostname()),
			Url: &mesos.URL{
				Scheme: proto.String("http"),
				Address: &mesos.Address{
					Hostname: proto.String(a.info.GetHostname()),
					Ip:       proto.String(a.ip),
					Port:     proto.Int32(int32(a.port)),
				},
				Path: proto.String("/slave(1)"),
			},
			Domain:         a.info.GetDomain(),
			Attributes:     a.info.GetAttributes(),
			Unavailability: c.unavailabilityOf(a),
		}
		for _, execID := range sortedKeys(a.executors[f.id]) {
			o.pb.ExecutorIds = append(o.pb.ExecutorIds, &mesos.ExecutorID{Value: proto.String(execID)})
		}
		c.offers[o.pb.GetId().GetValue()] = o
		c.scheduleOffer(o)
		f.offers[o.pb.GetId().GetValue()] = o
		a.offers[o.pb.GetId().GetValue()] = o
		if _, ok := byFramework[f.id]; !ok {
			order = append(order, f.id)
		}
		byFramework[f.id] = append(byFramework[f.id], c.offerForFramework(f, o))
	}
	for _, id := range order {
		f := c.frameworks[id]
		c.metrics.counts[ctrOffersSent] += uint64(len(byFramework[id]))
		f.metrics.offersSent += uint64(len(byFramework[id]))
		f.send(&schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{Offers: byFramework[id]}})
		c.log.Debug("sent offers", "framework_id", id, "count", len(byFramework[id]))
	}
	c.sendInverseOffers()
}

// offerForFramework is the offer as framework f sees it: allocation info
// only for MULTI_ROLE frameworks, pre-refinement resources unless it has
// RESERVATION_REFINEMENT.
//
// It shares o.pb's fields instead of copying them: o.pb and everything it
// points to are never changed once made (they are only read, by views and
// by the stream writers that encode the offer), and a deep copy per offer
// was a tenth of the master's CPU with 10,000 agents offered and declined
// every few seconds.
func (c *core) offerForFramework(f *framework, o *offer) *mesos.Offer {
	pb := shareOffer(o.pb)
	multi := f.multiRole()
	pb.Resources = resourcesForFramework(o.res, o.role, multi, f.hasCapability(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT))
	if multi {
		pb.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(o.role)}
	}
	return pb
}

// shareOffer returns a new Offer whose fields are those of o, shared, not
// copied (TestShareOfferCopiesEveryField keeps it complete).
func shareOffer(o *mesos.Offer) *mesos.Offer {
	return &mesos.Offer{
		Id:             o.Id,
		FrameworkId:    o.FrameworkId,
		AgentId:        o.AgentId,
		Hostname:       o.Hostname,
		Url:            o.Url,
		Domain:         o.Domain,
		Resources:      o.Resources,
		Attributes:     o.Attributes,
		ExecutorIds:    o.ExecutorIds,
		Unavailability: o.Unavailability,
		AllocationInfo: o.AllocationInfo,
	}
}

// removeOffer forgets an offer without touching its resources.
func (c *core) removeOffer(o *offer) {
	id := o.pb.GetId().GetValue()
	delete(c.offers, id)
	c.cancelOffer(id)
	if f := c.frameworks[o.frameworkID]; f != nil {
		delete(f.offers, id)
	}
	if a := c.agents[o.agentID]; a != nil {
		delete(a.offers, id)
	}
}

// discardOffer removes an offer and gives its resources back, filtered for
// the framework for refuse.
func (c *core) discardOffer(o *offer, refuse time.Duration) {
	c.removeOffer(o)
	c.alloc.Recover(o.frameworkID, o.agentID, o.role, o.res, refuse, c.clock.Now())
	c.allocateSoon = true
}

// declineOffer removes an offer the framework refused (DECLINE, or left
// unanswered until --offer_timeout) and tells the allocator, which backs
// the framework off in the offer's role.
func (c *core) declineOffer(o *offer, refuse time.Duration) {
	c.removeOffer(o)
	c.alloc.Decline(o.frameworkID, o.agentID, o.role, o.res, refuse, c.clock.Now())
	c.allocateSoon = true
}

// rescindOffer tells the framework an offer is void, then discards it.
func (c *core) rescindOffer(o *offer) {
	c.metrics.inc(ctrOffersRescinded)
	if f := c.frameworks[o.frameworkID]; f != nil {
		f.metrics.offersRescinded++
		f.send(&schedpb.Event{Type: schedpb.Event_RESCIND.Enum(), Rescind: &schedpb.Event_Rescind{OfferId: o.pb.GetId()}})
	}
	c.discardOffer(o, 0)
}

func (c *core) decline(f *framework, d *schedpb.Call_Decline) {
	c.metrics.inc(ctrMsgDeclineOffers)
	refuse := allocator.RefuseDuration(refuseSeconds(d.GetFilters()))
	for _, id := range d.GetOfferIds() {
		o := f.offers[id.GetValue()]
		if o == nil {
			c.log.Warn("ignoring decline of an offer that is no longer valid", "framework_id", f.id, "offer_id", id.GetValue())
			continue
		}
		c.metrics.inc(ctrOffersDeclined)
		f.metrics.offersDeclined++
		c.declineOffer(o, refuse)
	}
}

func refuseSeconds(f *mesos.Filters) *float64 {
	if f == nil {
		return nil
	}
	return f.RefuseSeconds
}

func (c *core) revive(f *framework, roles []string) {
	c.metrics.inc(ctrMsgReviveOffers)
	if err := c.checkCallRoles(f, roles, "revive"); err != nil {
		c.log.Warn("dropping REVIVE", "framework_id", f.id, "reason", err)
		return
	}
	if len(roles) == 0 {
		roles = f.roles
	}
	c.alloc.Revive(f.id, roles)
	if len(roles) == 0 {
		f.suppressed = nil
	} else {
		f.suppressed = without(f.suppressed, roles)
	}
	c.allocateSoon = true
}

func (c *core) suppress(f *framework, roles []string) {
	c.metrics.inc(ctrMsgSuppressOffers)
	if err := c.checkCallRoles(f, roles, "suppression"); err != nil {
		c.log.Warn("dropping SUPPRESS", "framework_id", f.id, "reason", err)
		return
	}
	c.alloc.Suppress(f.id, roles)
	if len(roles) == 0 {
		roles = f.roles
	}
	f.suppressed = append(without(f.suppressed, roles), roles...)
}

func (c *core) checkCallRoles(f *framework, roles []string, what string) error {
	for _, r := range roles {
		if err := validateRole(r); err != nil {
			return fmt.Errorf("%s role '%s' is invalid: %v", what, r, err)
		}
		if !f.hasRole(r) {
			return fmt.Errorf("%s role '%s' is not one of the frameworks's subscribed roles", what, r)
		}
	}
	return nil
}

func without(xs, drop []string) []string {
	var out []string
	for _, x := range xs {
		keep := true
		for _, d := range drop {
			if x == d {
				keep = false
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// ---- tasks ----

func (c *core) kill(f *framework, k *schedpb.Call_Kill) {
	c.metrics.inc(ctrMsgKillTask)
	taskID := k.GetTaskId().GetValue()
	t := f.tasks[taskID]
	if t == nil {
		c.log.Info("kill of unknown task; reconciling it", "framework_id", f.id, "task_id", taskID)
		c.reconcile(f, []*schedpb.Call_Reconcile_Task{{TaskId: k.GetTaskId(), AgentId: k.GetAgentId()}})
		return
	}
	if k.AgentId != nil && k.GetAgentId().GetValue() != t.pb.GetAgentId().GetValue() {
		c.log.Warn("ignoring kill naming the wrong agent", "framework_id", f.id, "task_id", taskID,
			"agent_id", k.GetAgentId().GetValue(), "task_agent_id", t.pb.GetAgentId().GetValue())
		return
	}
	a := c.agents[t.pb.GetAgentId().GetValue()]
	if a == nil || !a.connected() {
		c.log.Warn("cannot kill task: its agent is disconnected", "framework_id", f.id, "task_id", taskID)
		return
	}
	a.send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_KILL_TASK.Enum(),
		KillTask: &agentproto.AgentEvent_KillTask{
			FrameworkId: frameworkID(f.id),
			TaskId:      k.GetTaskId(),
			KillPolicy:  k.GetKillPolicy(),
		},
	})
}

func (c *core) shutdownExecutor(f *framework, s *schedpb.Call_Shutdown) {
	a := c.agents[s.GetAgentId().GetValue()]
	if a == nil {
		c.log.Warn("cannot shut down executor on unknown agent", "framework_id", f.id, "agent_id", s.GetAgentId().GetValue())
		return
	}
	a.send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_SHUTDOWN_EXECUTOR.Enum(),
		ShutdownExecutor: &agentproto.AgentEvent_ShutdownExecutor{
			FrameworkId: frameworkID(f.id),
			ExecutorId:  s.GetExecutorId(),
		},
	})
}

func (c *core) acknowledge(f *framework, ack *schedpb.Call_Acknowledge) {
	c.metrics.inc(ctrMsgStatusUpdateAck)
	agentID, taskID := ack.GetAgentId().GetValue(), ack.GetTaskId().GetValue()
	a := c.agents[agentID]
	if a == nil || !a.connected() {
		c.metrics.inc(ctrInvalidStatusUpdateAcks)
		c.log.Warn("cannot relay acknowledgement: agent not connected", "framework_id", f.id, "agent_id", agentID, "task_id", taskID)
		return
	}
	if t := a.task(f.id, taskID); t != nil {
		if t.pb.StatusUpdateState == nil {
			c.metrics.inc(ctrInvalidStatusUpdateAcks)
			c.log.Warn("ignoring acknowledgement of an update this master did not send", "framework_id", f.id, "task_id", taskID)
			return
		}
		if t.acked == nil {
			t.acked = map[string]bool{}
		}
		t.acked[string(ack.GetUuid())] = true
		if mesos.IsTerminalState(t.pb.GetStatusUpdateState()) && string(t.pb.GetStatusUpdateUuid()) == string(ack.GetUuid()) {
			c.removeTask(t, false)
		}
	}
	a.send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.AgentEvent_Acknowledge{
			FrameworkId: frameworkID(f.id),
			TaskId:      ack.GetTaskId(),
			Uuid:        ack.GetUuid(),
		},
	})
	c.metrics.inc(ctrValidStatusUpdateAcks)
}

func (c *core) frameworkMessage(f *framework, m *schedpb.Call_Message) {
	c.metrics.inc(ctrMsgFrameworkToExecutor)
	a := c.agents[m.GetAgentId().GetValue()]
	if a == nil || !a.connected() {
		c.metrics.inc(ctrInvalidFrameworkToExecutor)
		c.log.Warn("dropping framework message: agent not connected", "framework_id", f.id, "agent_id", m.GetAgentId().GetValue())
		return
	}
	a.send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &agentproto.AgentEvent_FrameworkMessage{
			FrameworkId: frameworkID(f.id),
			ExecutorId:  m.GetExecutorId(),
			Data:        m.GetData(),
		},
	})
	c.metrics.inc(ctrValidFrameworkToExecutor)
}

// updateTask records a status for a task: its state (latest, when the
// agent knows a newer one than the update it forwards), its status
// history, and, when it becomes terminal or unreachable, the release of
// its resources. Operator subscribers get TASK_UPDATED when the status is
// news (taskUpdateIsNews).
func (c *core) updateTask(t *task, st *mesos.TaskStatus, latest *mesos.TaskState) {
	old := t.pb.GetState()
	news := taskUpdateIsNews(t.pb, st)
	applyStatus(t.pb, st, latest)
	if news {
		c.publish(taskUpdated(t.pb, st))
	}
	s := t.pb.GetState()
	c.countTaskUpdate(t, old, st, latest)
	if !t.released && (mesos.IsTerminalState(s) || s == mesos.TaskState_TASK_UNREACHABLE) {
		t.released = true
		c.alloc.Recover(t.pb.GetFrameworkId().GetValue(), t.pb.GetAgentId().GetValue(), t.role, t.res, 0, c.clock.Now())
		c.allocateSoon = true
	}
}

// applyStatus updates a Task message with a status: state (unless already
// terminal) and statuses (an update in the same state as the last replaces
// it; data is dropped to bound memory, as Mesos does).
func applyStatus(t *mesos.Task, st *mesos.TaskStatus, latest *mesos.TaskState) {
	state := st.GetState()
	if latest != nil {
		state = *latest
	}
	if !mesos.IsTerminalState(t.GetState()) {
		t.State = state.Enum()
	}
	kept := proto.Clone(st).(*mesos.TaskStatus)
	kept.Data = nil
	if n := len(t.Statuses); n > 0 && t.Statuses[n-1].GetState() == st.GetState() {
		t.Statuses[n-1] = kept
	} else {
		t.Statuses = append(t.Statuses, kept)
	}
}

// removeTask drops a task from the live books: to the framework's
// unreachable tasks (unreachable) or completed tasks. Its resources go
// back to the allocator if they have not yet.
func (c *core) removeTask(t *task, unreachable bool) {
	fwID, agentID, taskID := t.pb.GetFrameworkId().GetValue(), t.pb.GetAgentId().GetValue(), t.pb.GetTaskId().GetValue()
	if !t.released {
		t.released = true
		c.alloc.Recover(fwID, agentID, t.role, t.res, 0, c.clock.Now())
		c.allocateSoon = true
	}
	if a := c.agents[agentID]; a != nil {
		if m := a.tasks[fwID]; m != nil && m[taskID] == t {
			delete(m, taskID)
			if len(m) == 0 {
				delete(a.tasks, fwID)
			}
		}
	}
	if f := c.frameworks[fwID]; f != nil && f.tasks[taskID] == t {
		delete(f.tasks, taskID)
		if unreachable {
			f.addUnreachableTask(t.pb, c.cfg.MaxUnreachableTasksPerFramework)
		} else {
			f.addCompletedTask(t.pb, c.cfg.MaxCompletedTasksPerFramework)
		}
	}
}

// removeExecutor forgets an executor and releases its resources.
func (c *core) removeExecutor(a *agent, frameworkID, executorID string) {
	e := a.executors[frameworkID][executorID]
	if e == nil {
		return
	}
	delete(a.executors[frameworkID], executorID)
	if len(a.executors[frameworkID]) == 0 {
		delete(a.executors, frameworkID)
	}
	if f := c.frameworks[frameworkID]; f != nil {
		delete(f.executors[a.id], executorID)
		if len(f.executors[a.id]) == 0 {
			delete(f.executors, a.id)
		}
	}
	c.alloc.Recover(frameworkID, a.id, e.role, e.res, 0, c.clock.Now())
	c.allocateSoon = true
}

// forward sends an agent's status update to its framework as an UPDATE
// event, with agent_id, executor_id and timestamp filled in, and notes
// which update the framework must acknowledge next.
func (c *core) forward(f *framework, t *task, st *mesos.TaskStatus) {
	ev := proto.Clone(st).(*mesos.TaskStatus)
	if t != nil {
		if ev.AgentId == nil {
			ev.AgentId = t.pb.GetAgentId()
		}
		if ev.ExecutorId == nil {
			ev.ExecutorId = t.pb.GetExecutorId()
		}
	}
	if ev.Timestamp == nil {
		ev.Timestamp = proto.Float64(seconds(c.clock.Now()))
	}
	f.send(updateEvent(ev))
}

func frameworkID(id string) *mesos.FrameworkID { return &mesos.FrameworkID{Value: proto.String(id)} }
func agentID(id string) *mesos.AgentID         { return &mesos.AgentID{Value: proto.String(id)} }
