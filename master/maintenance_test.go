package master

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	allocpb "github.com/mezzo-project/mezzo/api/v1/allocator"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
)

func hostMachine(host string) *mesos.MachineID { return &mesos.MachineID{Hostname: proto.String(host)} }

func window(start time.Time, d time.Duration, ids ...*mesos.MachineID) *maintenance.Window {
	return &maintenance.Window{MachineIds: ids, Unavailability: &mesos.Unavailability{
		Start:    &mesos.TimeInfo{Nanoseconds: proto.Int64(start.UnixNano())},
		Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(d))},
	}}
}

func schedule(ws ...*maintenance.Window) *maintenance.Schedule {
	return &maintenance.Schedule{Windows: ws}
}

func (h *harness) coreErr(fn func(c *core) error) error {
	var err error
	h.step(func(c *core) { err = fn(c) })
	return err
}

func (h *harness) mustCore(fn func(c *core) error) {
	h.t.Helper()
	if err := h.coreErr(fn); err != nil {
		h.t.Fatal(err)
	}
}

func inverseOffers(f *recFramework) []*mesos.InverseOffer {
	var out []*mesos.InverseOffer
	for _, ev := range f.take(schedpb.Event_INVERSE_OFFERS) {
		out = append(out, ev.GetInverseOffers().GetInverseOffers()...)
	}
	return out
}

// launchOn accepts f's offer for agent a with one task of res and
// returns the task id.
func (h *harness) launchOn(f *recFramework, offers []*mesos.Offer, agentID, taskID, res string, policy *mesos.KillPolicy) {
	h.t.Helper()
	for _, o := range offers {
		if o.GetAgentId().GetValue() != agentID {
			continue
		}
		task := commandTask(h.t, taskID, agentID, res)
		task.KillPolicy = policy
		h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(task)))
		return
	}
	h.t.Fatalf("no offer for agent %s in %v", agentID, offers)
}

// TestMaintenanceScheduleLifecycle: a scheduled machine is DRAINING (offers
// carry its unavailability, its frameworks get inverse offers, rescinded
// when the window changes, answered and reported in the status); START
// takes it DOWN (agent removed, tasks gone, re-registration refused); STOP
// brings it back.
func TestMaintenanceScheduleLifecycle(t *testing.T) {
	h := newHarness(t)
	a1 := h.addAgent("h1", "cpus:2;mem:1024")
	h.addAgent("h2", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	h.launchOn(f, f.offers(), a1.id, "t1", "cpus:1;mem:128", nil)
	h.statusUpdate(a1, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-t1-running!")
	f.events = nil

	start := h.clock.t.Add(time.Hour)
	h.mustCore(func(c *core) error {
		return c.updateMaintenanceSchedule(schedule(window(start, time.Hour, hostMachine("H1"))))
	})
	ios := inverseOffers(f)
	if len(ios) != 1 || ios[0].GetAgentId().GetValue() != a1.id || ios[0].GetUnavailability().GetStart().GetNanoseconds() != start.UnixNano() {
		t.Fatalf("inverse offers: %v", ios)
	}
	// Offers for h1 (once the leftovers' filter expires) carry the
	// unavailability; h2's do not.
	h.advance(6 * time.Second)
	offers := f.offers()
	if len(offers) == 0 {
		t.Fatal("no offers")
	}
	for _, o := range offers {
		u := o.GetUnavailability()
		if o.GetAgentId().GetValue() == a1.id && u.GetStart().GetNanoseconds() != start.UnixNano() {
			t.Fatalf("offer for h1 without the unavailability: %v", o)
		}
		if o.GetAgentId().GetValue() != a1.id && u != nil {
			t.Fatalf("offer for h2 with an unavailability: %v", o)
		}
	}
	status := func() *maintenance.ClusterStatus {
		var st *maintenance.ClusterStatus
		h.step(func(c *core) { st = c.maintenanceStatus() })
		return st
	}
	if st := status(); len(st.GetDrainingMachines()) != 1 || st.GetDrainingMachines()[0].GetStatuses()[0].GetStatus() != allocpb.InverseOfferStatus_UNKNOWN {
		t.Fatalf("status: %v", st)
	}
	// No second inverse offer while one is outstanding.
	h.advance(3 * time.Second)
	if got := inverseOffers(f); len(got) != 0 {
		t.Fatalf("inverse offer sent twice: %v", got)
	}

	// The window moves: the inverse offer is rescinded and a new one says so.
	start2 := start.Add(time.Hour)
	h.mustCore(func(c *core) error {
		return c.updateMaintenanceSchedule(schedule(window(start2, time.Hour, hostMachine("h1"))))
	})
	resc := f.take(schedpb.Event_RESCIND_INVERSE_OFFER)
	if len(resc) != 1 || resc[0].GetRescindInverseOffer().GetInverseOfferId().GetValue() != ios[0].GetId().GetValue() {
		t.Fatalf("rescind inverse offer: %v", resc)
	}
	ios = inverseOffers(f)
	if len(ios) != 1 || ios[0].GetUnavailability().GetStart().GetNanoseconds() != start2.UnixNano() {
		t.Fatalf("new inverse offers: %v", ios)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_DECLINE_INVERSE_OFFERS.Enum(),
		DeclineInverseOffers: &schedpb.Call_DeclineInverseOffers{InverseOfferIds: []*mesos.OfferID{ios[0].GetId()},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(60)}}})
	if st := status(); st.GetDrainingMachines()[0].GetStatuses()[0].GetStatus() != allocpb.InverseOfferStatus_DECLINE {
		t.Fatalf("status after decline: %v", st)
	}
	// Filtered for a minute, then asked again; this time it accepts.
	h.advance(30 * time.Second)
	if got := inverseOffers(f); len(got) != 0 {
		t.Fatalf("inverse offer inside the filter: %v", got)
	}
	h.advance(31 * time.Second)
	ios = inverseOffers(f)
	if len(ios) != 1 {
		t.Fatalf("inverse offer after the filter: %v", ios)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACCEPT_INVERSE_OFFERS.Enum(),
		AcceptInverseOffers: &schedpb.Call_AcceptInverseOffers{InverseOfferIds: []*mesos.OfferID{ios[0].GetId()}}})
	if st := status(); st.GetDrainingMachines()[0].GetStatuses()[0].GetStatus() != allocpb.InverseOfferStatus_ACCEPT {
		t.Fatalf("status after accept: %v", st)
	}

	// START for a machine outside the schedule, or twice: 400.
	if err := h.coreErr(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{hostMachine("h2")}) }); httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("start unscheduled: %v", err)
	}
	h.mustCore(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{hostMachine("h1")}) })
	if err := h.coreErr(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{hostMachine("h1")}) }); httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("start twice: %v", err)
	}
	if !a1.closed || len(a1.take(agentproto.AgentEvent_ERROR)) != 1 {
		t.Fatalf("agent on the DOWN machine not shut down: %v", a1.events)
	}
	ups := f.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_GONE_BY_OPERATOR || ups[0].GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR {
		t.Fatalf("task on the DOWN machine: %v", ups)
	}
	if got := f.take(schedpb.Event_FAILURE); len(got) != 1 {
		t.Fatalf("FAILURE events: %d", len(got))
	}
	if st := status(); len(st.GetDownMachines()) != 1 || len(st.GetDrainingMachines()) != 0 {
		t.Fatalf("status after START: %v", st)
	}
	// The agent may not come back while its machine is DOWN.
	h.reregister(a1, "h1", "cpus:2;mem:1024", nil)
	if !a1.closed || len(a1.take(agentproto.AgentEvent_REGISTERED)) != 0 {
		t.Fatalf("agent re-registered on a DOWN machine: %v", a1.events)
	}
	// A DOWN machine cannot leave the schedule by an update.
	if err := h.coreErr(func(c *core) error { return c.updateMaintenanceSchedule(schedule()) }); httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("removing a DOWN machine: %v", err)
	}

	h.mustCore(func(c *core) error { return c.stopMaintenance([]*mesos.MachineID{hostMachine("h1")}) })
	if n := len(h.c.maint.schedule.GetWindows()); n != 0 {
		t.Fatalf("schedule after STOP: %v", h.c.maint.schedule)
	}
	h.reregister(a1, "h1", "cpus:2;mem:1024", nil)
	if len(a1.take(agentproto.AgentEvent_REGISTERED)) != 1 {
		t.Fatalf("agent not re-registered after STOP: %v", a1.events)
	}
}

func TestMaintenanceScheduleValidation(t *testing.T) {
	h := newHarness(t)
	now := h.clock.t
	bad := map[string]*maintenance.Schedule{
		"empty window":     schedule(&maintenance.Window{Unavailability: window(now, 0).Unavailability}),
		"no machine field": schedule(window(now, 0, &mesos.MachineID{})),
		"bad ip":           schedule(window(now, 0, &mesos.MachineID{Ip: proto.String("10.0.0")})),
		"twice":            schedule(window(now, 0, hostMachine("a")), window(now, 0, hostMachine("A"))),
		"negative":         schedule(window(now, -time.Second, hostMachine("a"))),
		"no start":         schedule(&maintenance.Window{MachineIds: []*mesos.MachineID{hostMachine("a")}, Unavailability: &mesos.Unavailability{}}),
	}
	for name, s := range bad {
		if err := h.coreErr(func(c *core) error { return c.updateMaintenanceSchedule(s) }); httpStatus(err) != http.StatusBadRequest {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok := schedule(window(now, 0, hostMachine("a"), &mesos.MachineID{Ip: proto.String("10.0.0.1")}),
		&maintenance.Window{MachineIds: []*mesos.MachineID{hostMachine("b")},
			Unavailability: &mesos.Unavailability{Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(0)}}})
	if err := h.coreErr(func(c *core) error { return c.updateMaintenanceSchedule(ok) }); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*mesos.MachineID{{}, hostMachine("x")} {
		if err := h.coreErr(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{id}) }); httpStatus(err) != http.StatusBadRequest {
			t.Errorf("start %v: %v", id, err)
		}
	}
	if err := h.coreErr(func(c *core) error { return c.startMaintenance(nil) }); httpStatus(err) != http.StatusBadRequest {
		t.Errorf("start with no machines: %v", err)
	}
	if err := h.coreErr(func(c *core) error { return c.stopMaintenance([]*mesos.MachineID{hostMachine("a")}) }); httpStatus(err) != http.StatusBadRequest {
		t.Errorf("stop a DRAINING machine: %v", err)
	}
}

// TestDrainAgent: DRAIN_AGENT deactivates the agent (offers rescinded,
// none new), kills its tasks with the grace period capped, kills what still
// runs after it without grace, reports the kills with REASON_AGENT_DRAINING
// and marks the agent DRAINED; REACTIVATE_AGENT offers it again.
func TestDrainAgent(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:4;mem:1024")
	f := h.subscribe(nil)
	offers := f.offers()
	if len(offers) != 1 {
		t.Fatalf("offers: %v", offers)
	}
	t1 := commandTask(t, "t1", a.id, "cpus:1;mem:128")
	t1.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Minute))}}
	h.mustCall(f, acceptCall([]string{offers[0].GetId().GetValue()}, launch(t1, commandTask(t, "t2", a.id, "cpus:1;mem:128"))))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-t1-running!")
	h.statusUpdate(a, f, "t2", mesos.TaskState_TASK_RUNNING, "uuid-t2-running!")
	a.events = nil
	f.updates()
	h.advance(6 * time.Second)
	f.offers()
	if len(h.c.offers) == 0 {
		t.Fatal("expected an outstanding offer before draining")
	}

	if err := h.coreErr(func(c *core) error { return c.drainAgent("nope", nil, false) }); httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("drain unknown agent: %v", err)
	}
	if err := h.coreErr(func(c *core) error { return c.reactivateAgent(a.id) }); httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("reactivate an active agent: %v", err)
	}
	grace := 10 * time.Second
	h.mustCore(func(c *core) error { return c.drainAgent(a.id, &grace, false) })
	if len(h.c.offers) != 0 || len(f.take(schedpb.Event_RESCIND)) == 0 {
		t.Fatal("draining agent's offers not rescinded")
	}
	kills := a.take(agentproto.AgentEvent_KILL_TASK)
	if len(kills) != 2 {
		t.Fatalf("kills: %v", kills)
	}
	for _, k := range kills {
		if got := time.Duration(k.GetKillTask().GetKillPolicy().GetGracePeriod().GetNanoseconds()); got != grace {
			t.Fatalf("kill of %s with grace %v, want %v", k.GetKillTask().GetTaskId().GetValue(), got, grace)
		}
	}
	if err := h.coreErr(func(c *core) error { return c.reactivateAgent(a.id) }); httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("reactivate while draining: %v", err)
	}
	// t2 ends at once; t1 ignores the kill until the grace period is over.
	h.statusUpdate(a, f, "t2", mesos.TaskState_TASK_KILLED, "uuid-t2-killed!!")
	if ups := f.updates(); len(ups) != 1 || ups[0].GetReason() != mesos.TaskStatus_REASON_AGENT_DRAINING {
		t.Fatalf("kill update: %v", ups)
	}
	h.advance(grace - time.Second)
	if got := a.take(agentproto.AgentEvent_KILL_TASK); len(got) != 0 {
		t.Fatalf("killed again before the grace period: %v", got)
	}
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("offers for a draining agent: %v", got)
	}
	h.advance(time.Second)
	kills = a.take(agentproto.AgentEvent_KILL_TASK)
	if len(kills) != 1 || kills[0].GetKillTask().GetTaskId().GetValue() != "t1" || kills[0].GetKillTask().GetKillPolicy().GetGracePeriod().GetNanoseconds() != 0 {
		t.Fatalf("kill after the grace period: %v", kills)
	}
	if s := h.c.maint.draining[a.id].info.GetState(); s != mesos.DrainState_DRAINING {
		t.Fatalf("state with a task running: %v", s)
	}
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_KILLED, "uuid-t1-killed!!")
	if s := h.c.maint.draining[a.id].info.GetState(); s != mesos.DrainState_DRAINED {
		t.Fatalf("state once empty: %v", s)
	}
	if st := h.c.state(); len(st.Slaves) != 1 || !st.Slaves[0].Deactivated || st.Slaves[0].DrainInfo.State != "DRAINED" {
		t.Fatalf("/state: %+v", st.Slaves)
	}
	h.advance(5 * time.Second)
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("offers for a drained agent: %v", got)
	}
	h.mustCore(func(c *core) error { return c.reactivateAgent(a.id) })
	if got := f.offers(); len(got) != 1 {
		t.Fatalf("offers after reactivation: %v", got)
	}
}

// TestDrainAgentMarkGone: with mark_gone the drained agent is marked gone.
func TestDrainAgentMarkGone(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:4;mem:1024")
	f := h.subscribe(nil)
	h.launchOn(f, f.offers(), a.id, "t1", "cpus:1;mem:128", nil)
	h.mustCore(func(c *core) error { return c.drainAgent(a.id, nil, true) })
	kills := a.take(agentproto.AgentEvent_KILL_TASK)
	if len(kills) != 1 || kills[0].GetKillTask().GetKillPolicy() != nil {
		t.Fatalf("kills: %v", kills)
	}
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_KILLED, "uuid-t1-killed!!")
	if _, gone := h.c.gone[a.id]; !gone || h.c.agents[a.id] != nil || !a.closed {
		t.Fatal("drained agent not marked gone")
	}
	if len(h.c.maint.draining) != 0 || len(h.c.maint.deactivated) != 0 {
		t.Fatal("gone agent still held")
	}
}

// TestDeactivateAgent: no offers while deactivated, also across a
// re-registration; offers again once reactivated.
func TestDeactivateAgent(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:4;mem:1024")
	f := h.subscribe(nil)
	if got := f.offers(); len(got) != 1 {
		t.Fatalf("offers: %v", got)
	}
	h.mustCore(func(c *core) error { return c.deactivateAgent(a.id) })
	if len(f.take(schedpb.Event_RESCIND)) != 1 {
		t.Fatal("offer not rescinded")
	}
	h.reregister(a, "h1", "cpus:4;mem:1024", nil)
	h.advance(10 * time.Second)
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("offers while deactivated: %v", got)
	}
	h.mustCore(func(c *core) error { return c.reactivateAgent(a.id) })
	if got := f.offers(); len(got) != 1 {
		t.Fatalf("offers after reactivation: %v", got)
	}
}

// TestMaintenanceSurvivesRestart: the schedule, DOWN machines, and
// deactivated and draining agents come back from the registry.
func TestMaintenanceSurvivesRestart(t *testing.T) {
	reg := registry.NewMemory()
	h := newHarness(t, func(c *Config) { c.AgentReregisterTimeout = time.Minute })
	h.c.reg = reg
	a1 := h.addAgent("h1", "cpus:2;mem:1024")
	a2 := h.addAgent("h2", "cpus:2;mem:1024")
	a3 := h.addAgent("h3", "cpus:2;mem:1024")
	start := h.clock.t.Add(time.Hour)
	s := schedule(window(start, time.Hour, hostMachine("h1")), window(start, 0, hostMachine("h9")))
	h.mustCore(func(c *core) error { return c.updateMaintenanceSchedule(s) })
	h.mustCore(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{hostMachine("h1")}) })
	grace := time.Second
	h.mustCore(func(c *core) error { return c.drainAgent(a2.id, &grace, false) })
	h.mustCore(func(c *core) error { return c.deactivateAgent(a3.id) })
	want := proto.Clone(h.c.maint.schedule)

	h.restart(reg)
	if !proto.Equal(h.c.maint.schedule, want) {
		t.Fatalf("schedule after restart: %v, want %v", h.c.maint.schedule, want)
	}
	var st *maintenance.ClusterStatus
	h.step(func(c *core) { st = c.maintenanceStatus() })
	if len(st.GetDownMachines()) != 1 || st.GetDownMachines()[0].GetHostname() != "h1" || len(st.GetDrainingMachines()) != 1 {
		t.Fatalf("status after restart: %v", st)
	}
	// a2 had no tasks: it was DRAINED at once, and stays so.
	if d := h.c.maint.draining[a2.id]; d == nil || d.info.GetState() != mesos.DrainState_DRAINED || !h.c.maint.deactivated[a2.id] {
		t.Fatalf("drain after restart: %v", h.c.maint.draining)
	}
	if !h.c.maint.deactivated[a3.id] {
		t.Fatal("deactivation lost")
	}
	f := h.subscribe(nil)
	h.reregister(a1, "h1", "cpus:2;mem:1024", nil)
	if !a1.closed || len(a1.take(agentproto.AgentEvent_REGISTERED)) != 0 {
		t.Fatal("agent on a DOWN machine re-registered after restart")
	}
	h.reregister(a2, "h2", "cpus:2;mem:1024", nil)
	h.reregister(a3, "h3", "cpus:2;mem:1024", nil)
	h.advance(2 * time.Second)
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("offers for held agents after restart: %v", got)
	}
	h.mustCore(func(c *core) error { return c.reactivateAgent(a2.id) })
	if got := f.offers(); len(got) != 1 || got[0].GetAgentId().GetValue() != a2.id {
		t.Fatalf("offers after reactivation: %v", got)
	}
	st2, err := reg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if st2.Deactivated[a2.id] || st2.Draining[a2.id] != nil || !st2.Deactivated[a3.id] {
		t.Fatalf("registry holds: %v %v", st2.Deactivated, st2.Draining)
	}
}

// TestOperatorMaintenance drives the maintenance calls over HTTP, JSON and
// protobuf, and the legacy endpoints, checking status codes.
func TestOperatorMaintenance(t *testing.T) {
	_, srv := testMaster(t)
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE"}`, 400},
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[],"unavailability":{"start":{"nanoseconds":1}}}]}}}`, 400},
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"ip":"300.1.1.1"}],"unavailability":{"start":{"nanoseconds":1}}}]}}}`, 400},
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"m1"}],"unavailability":{"start":{"nanoseconds":1}}},{"machine_ids":[{"hostname":"m1"}],"unavailability":{"start":{"nanoseconds":1}}}]}}}`, 400},
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"m1","ip":"10.0.0.1"},{"hostname":"m2"}],"unavailability":{"start":{"nanoseconds":1},"duration":{"nanoseconds":3600000000000}}}]}}}`, 200},
		{`{"type":"START_MAINTENANCE","start_maintenance":{"machines":[{"hostname":"m3"}]}}`, 400},
		{`{"type":"START_MAINTENANCE","start_maintenance":{"machines":[]}}`, 400},
		{`{"type":"START_MAINTENANCE","start_maintenance":{"machines":[{"hostname":"m1","ip":"10.0.0.1"}]}}`, 200},
		{`{"type":"STOP_MAINTENANCE","stop_maintenance":{"machines":[{"hostname":"m2"}]}}`, 400},
		{`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"nope"}}}`, 400},
		{`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"nope"},"max_grace_period":"-5s"}}`, 400},
		{`{"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":"nope"}}}`, 400},
		{`{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"nope"}}}`, 400},
	} {
		if got, body := operatorCall(t, srv.URL, tc.body); got != tc.want {
			t.Errorf("%s: status %d (%s), want %d", tc.body, got, body, tc.want)
		}
	}
	// GET_MAINTENANCE_STATUS in protobuf.
	call, _ := proto.Marshal(&masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_STATUS.Enum()})
	resp := post(t, srv.URL+"/api/v1", "application/x-protobuf", call, map[string]string{"Accept": "application/x-protobuf"})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := &masterpb.Response{}
	if err := proto.Unmarshal(b, r); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET_MAINTENANCE_STATUS: %d %v", resp.StatusCode, err)
	}
	st := r.GetGetMaintenanceStatus().GetStatus()
	if len(st.GetDownMachines()) != 1 || len(st.GetDrainingMachines()) != 1 || st.GetDrainingMachines()[0].GetId().GetHostname() != "m2" {
		t.Fatalf("status: %v", st)
	}
	status, body := operatorCall(t, srv.URL, `{"type":"GET_MAINTENANCE_SCHEDULE"}`)
	r = &masterpb.Response{}
	if err := codec.Unmarshal(codec.JSON, []byte(body), r); status != 200 || err != nil {
		t.Fatalf("GET_MAINTENANCE_SCHEDULE: %d %s %v", status, body, err)
	}
	if w := r.GetGetMaintenanceSchedule().GetSchedule().GetWindows(); len(w) != 1 || len(w[0].GetMachineIds()) != 2 {
		t.Fatalf("schedule: %v", w)
	}

	// The legacy endpoints.
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	postJSON := func(path, body string) int {
		resp := post(t, srv.URL+path, "application/json", []byte(body), nil)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code, body := get("/maintenance/status"); code != 200 || !strings.Contains(body, `"down_machines"`) {
		t.Fatalf("/maintenance/status: %d %s", code, body)
	}
	if code := postJSON("/machine/up", `[{"hostname":"m2"}]`); code != 400 {
		t.Fatalf("/machine/up of a DRAINING machine: %d", code)
	}
	if code := postJSON("/machine/up", `[{"hostname":"m1","ip":"10.0.0.1"}]`); code != 200 {
		t.Fatalf("/machine/up: %d", code)
	}
	if code := postJSON("/machine/down", `[{"hostname":"m2"}]`); code != 200 {
		t.Fatalf("/machine/down: %d", code)
	}
	if code := postJSON("/master/maintenance/schedule", `{"windows":[]}`); code != 400 {
		t.Fatalf("dropping a DOWN machine: %d", code)
	}
	if code := postJSON("/maintenance/schedule", `{"windows":[{"machine_ids":[{"hostname":"m2"}],"unavailability":{"start":{"nanoseconds":5}}}]}`); code != 200 {
		t.Fatalf("POST /maintenance/schedule: %d", code)
	}
	if code, body := get("/maintenance/schedule"); code != 200 || !strings.Contains(body, `"m2"`) || strings.Contains(body, "m1") {
		t.Fatalf("GET /maintenance/schedule: %d %s", code, body)
	}
	if code := postJSON("/machine/up", `not json`); code != 400 {
		t.Fatalf("/machine/up with a bad body: %d", code)
	}
}
