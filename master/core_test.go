package master

import (
	"github.com/mezzo-project/mezzo/master/allocator"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

func TestOffersGoToFramework(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("agent1", "cpus:2;mem:1024;ports:[31000-32000]")
	f := h.subscribe(nil)
	offers := f.offers()
	if len(offers) != 1 {
		t.Fatalf("got %d offers, want 1", len(offers))
	}
	o := offers[0]
	if got := o.GetId().GetValue(); got != "M-O0" {
		t.Errorf("offer id %q, want M-O0", got)
	}
	if o.GetAgentId().GetValue() != a.id || o.GetFrameworkId().GetValue() != f.id || o.GetHostname() != "agent1" {
		t.Errorf("offer names agent %q framework %q host %q", o.GetAgentId().GetValue(), o.GetFrameworkId().GetValue(), o.GetHostname())
	}
	u := o.GetUrl()
	if u.GetScheme() != "http" || u.GetPath() != "/slave(1)" || u.GetAddress().GetIp() != "127.0.0.1" || u.GetAddress().GetHostname() != "agent1" {
		t.Errorf("offer url %v", u)
	}
	if o.AllocationInfo != nil {
		t.Errorf("non-MULTI_ROLE framework got allocation_info %v", o.AllocationInfo)
	}
	for _, r := range o.GetResources() {
		if r.GetRole() != "*" || r.AllocationInfo != nil || len(r.GetReservations()) != 0 {
			t.Errorf("resource %v: want role \"*\" only", r)
		}
	}
	// The same resources are not offered to another framework meanwhile.
	g := h.subscribe(nil)
	if got := g.offers(); len(got) != 0 {
		t.Errorf("second framework got %d offers of already offered resources", len(got))
	}
	if !strings.HasPrefix(f.id, "M-000") {
		t.Errorf("framework id %q", f.id)
	}
}

func TestMultiRoleOffersCarryAllocationInfo(t *testing.T) {
	h := newHarness(t)
	h.addAgent("agent1", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{
		Roles:        []string{"web"},
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}},
	})
	offers := f.offers()
	if len(offers) != 1 {
		t.Fatalf("got %d offers", len(offers))
	}
	if offers[0].GetAllocationInfo().GetRole() != "web" {
		t.Errorf("offer allocation_info %v", offers[0].GetAllocationInfo())
	}
	for _, r := range offers[0].GetResources() {
		if r.GetAllocationInfo().GetRole() != "web" {
			t.Errorf("resource %v lacks allocation_info.role web", r)
		}
	}
}

func TestAcceptLaunchesAndStatusUpdatesFlow(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("agent1", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))

	runs := a.take(agentproto.AgentEvent_RUN_TASK)
	if len(runs) != 1 || runs[0].GetRunTask().GetTask().GetTaskId().GetValue() != "t1" {
		t.Fatalf("agent got %v, want RUN_TASK of t1", runs)
	}
	if st := h.c.frameworks[f.id].tasks["t1"].pb.GetState(); st != mesos.TaskState_TASK_STAGING {
		t.Errorf("task state %v, want TASK_STAGING", st)
	}
	if u := f.updates(); len(u) != 0 {
		t.Errorf("unexpected updates %v", u)
	}

	// The unused remainder is filtered for 5 s, then offered again.
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("remainder re-offered at once: %v", got)
	}
	h.advance(6 * time.Second)
	again := f.offers()
	if len(again) != 1 {
		t.Fatalf("remainder not re-offered after the filter: %d offers", len(again))
	}
	if q := quantitiesOf(t, again[0].GetResources()); q["cpus"] != 1 || q["mem"] != 896 {
		t.Errorf("re-offered %v, want cpus 1 mem 896", q)
	}

	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "0123456789abcdef")
	ups := f.updates()
	if len(ups) != 1 {
		t.Fatalf("got %d updates", len(ups))
	}
	u := ups[0]
	if u.GetState() != mesos.TaskState_TASK_RUNNING || u.GetAgentId().GetValue() != a.id || string(u.GetUuid()) != "0123456789abcdef" || u.Timestamp == nil {
		t.Errorf("forwarded update %v", u)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String("t1")}, Uuid: []byte("0123456789abcdef"),
	}})
	acks := a.take(agentproto.AgentEvent_ACKNOWLEDGE)
	if len(acks) != 1 || string(acks[0].GetAcknowledge().GetUuid()) != "0123456789abcdef" {
		t.Fatalf("agent got acks %v", acks)
	}

	// A terminal update frees the resources; its ack completes the task.
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_FINISHED, "fedcba9876543210")
	f.updates()
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{OfferIds: []*mesos.OfferID{again[0].GetId()}}})
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	cpus := 0.0
	for _, o := range f.offers() {
		cpus += quantitiesOf(t, o.GetResources())["cpus"]
	}
	if cpus != 2 {
		t.Fatalf("after the task finished, %v cpus offered, want the whole agent's 2", cpus)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String("t1")}, Uuid: []byte("fedcba9876543210"),
	}})
	fw := h.c.frameworks[f.id]
	if len(fw.tasks) != 0 || len(fw.completedTasks) != 1 || fw.completedTasks[0].GetState() != mesos.TaskState_TASK_FINISHED {
		t.Errorf("after ack: tasks %v completed %v", fw.tasks, fw.completedTasks)
	}
}

func quantitiesOf(t *testing.T, pb []*mesos.Resource) map[string]float64 {
	t.Helper()
	r, err := parseResources(pb)
	if err != nil {
		t.Fatal(err)
	}
	return quantities(r)
}

func TestAcceptValidation(t *testing.T) {
	type setup struct {
		h     *harness
		a, b  *recAgent
		f     *recFramework
		offer string // an offer of agent a
		other string // an offer of agent b
	}
	build := func(t *testing.T, info *mesos.FrameworkInfo) setup {
		h := newHarness(t)
		a := h.addAgent("a", "cpus:1;mem:512")
		b := h.addAgent("b", "cpus:1;mem:512")
		f := h.subscribe(info)
		s := setup{h: h, a: a, b: b, f: f}
		for _, o := range f.offers() {
			if o.GetAgentId().GetValue() == a.id {
				s.offer = o.GetId().GetValue()
			} else {
				s.other = o.GetId().GetValue()
			}
		}
		if s.offer == "" || s.other == "" {
			t.Fatal("expected one offer per agent")
		}
		return s
	}
	executor := func(id, cmd string) *mesos.ExecutorInfo {
		return &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String(id)},
			Command:    &mesos.CommandInfo{Value: proto.String(cmd)},
		}
	}
	cases := []struct {
		name      string
		info      *mesos.FrameworkInfo
		call      func(t *testing.T, s setup) *schedpb.Call
		state     mesos.TaskState
		reason    mesos.TaskStatus_Reason
		message   string
		launched  int
		perUpdate int // number of updates expected (default 1)
	}{
		{
			name: "unknown offer, partition-aware",
			info: &mesos.FrameworkInfo{Capabilities: partitionAware},
			call: func(t *testing.T, s setup) *schedpb.Call {
				return acceptCall([]string{"no-such-offer"}, launch(commandTask(t, "x", s.a.id, "cpus:0.1")))
			},
			state: mesos.TaskState_TASK_DROPPED, reason: mesos.TaskStatus_REASON_INVALID_OFFERS,
			message: "Task launched with invalid offers: Offer no-such-offer is no longer valid",
		},
		{
			name: "unknown offer, not partition-aware",
			call: func(t *testing.T, s setup) *schedpb.Call {
				return acceptCall([]string{"no-such-offer"}, launch(commandTask(t, "x", s.a.id, "cpus:0.1")))
			},
			state: mesos.TaskState_TASK_LOST, reason: mesos.TaskStatus_REASON_INVALID_OFFERS,
			message: "no longer valid",
		},
		{
			name: "offers of two agents",
			call: func(t *testing.T, s setup) *schedpb.Call {
				return acceptCall([]string{s.offer, s.other}, launch(commandTask(t, "x", s.a.id, "cpus:0.1")))
			},
			state: mesos.TaskState_TASK_LOST, reason: mesos.TaskStatus_REASON_INVALID_OFFERS,
			message: "Aggregated offers must belong to one single agent",
		},
		{
			name: "resources beyond the offer",
			call: func(t *testing.T, s setup) *schedpb.Call {
				return acceptCall([]string{s.offer}, launch(commandTask(t, "x", s.a.id, "cpus:4;mem:64")))
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_INVALID,
			message: "is more than available",
		},
		{
			name: "duplicate task id",
			call: func(t *testing.T, s setup) *schedpb.Call {
				return acceptCall([]string{s.offer}, launch(commandTask(t, "x", s.a.id, "cpus:0.1"), commandTask(t, "x", s.a.id, "cpus:0.1")))
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_INVALID,
			message: "Task has duplicate ID: x", launched: 1,
		},
		{
			name: "no resources",
			call: func(t *testing.T, s setup) *schedpb.Call {
				task := commandTask(t, "x", s.a.id, "cpus:0.1")
				task.Resources = nil
				return acceptCall([]string{s.offer}, launch(task))
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_INVALID, message: "Task uses no resources",
		},
		{
			name: "both command and executor",
			call: func(t *testing.T, s setup) *schedpb.Call {
				task := commandTask(t, "x", s.a.id, "cpus:0.1")
				task.Executor = executor("e", "run")
				return acceptCall([]string{s.offer}, launch(task))
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_INVALID,
			message: "at least one (but not both) of CommandInfo or ExecutorInfo",
		},
		{
			name: "neither command nor executor",
			call: func(t *testing.T, s setup) *schedpb.Call {
				task := commandTask(t, "x", s.a.id, "cpus:0.1")
				task.Command = nil
				return acceptCall([]string{s.offer}, launch(task))
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_INVALID,
			message: "at least one (but not both) of CommandInfo or ExecutorInfo",
		},
		{
			name: "executor id reused with another ExecutorInfo",
			call: func(t *testing.T, s setup) *schedpb.Call {
				t1 := commandTask(t, "t1", s.a.id, "cpus:0.1")
				t1.Command, t1.Executor = nil, executor("e", "run")
				t2 := commandTask(t, "t2", s.a.id, "cpus:0.1")
				t2.Command, t2.Executor = nil, executor("e", "run --other")
				return acceptCall([]string{s.offer}, launch(t1, t2))
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_INVALID,
			message: "ExecutorInfo is not compatible with existing ExecutorInfo", launched: 1,
		},
		{
			name: "task group without a DEFAULT executor",
			call: func(t *testing.T, s setup) *schedpb.Call {
				e := executor("e", "run")
				e.Type = mesos.ExecutorInfo_CUSTOM.Enum()
				e.FrameworkId = frameworkID(s.f.id)
				e.Resources = mustResources(t, "cpus:0.1;mem:32;disk:10")
				task := commandTask(t, "g1", s.a.id, "cpus:0.1")
				task.Command = nil
				return acceptCall([]string{s.offer}, &mesos.Offer_Operation{
					Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
					LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
						Executor: e, TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{task}},
					},
				})
			},
			state: mesos.TaskState_TASK_ERROR, reason: mesos.TaskStatus_REASON_TASK_GROUP_INVALID,
			message: "must be 'DEFAULT'",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := build(t, tc.info)
			s.h.mustCall(s.f, tc.call(t, s))
			ups := s.f.updates()
			if len(ups) != 1 {
				t.Fatalf("got %d updates, want 1: %v", len(ups), ups)
			}
			u := ups[0]
			if u.GetState() != tc.state || u.GetReason() != tc.reason || u.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
				t.Errorf("update %v %v %v, want %v %v SOURCE_MASTER", u.GetState(), u.GetReason(), u.GetSource(), tc.state, tc.reason)
			}
			if !strings.Contains(u.GetMessage(), tc.message) {
				t.Errorf("message %q does not contain %q", u.GetMessage(), tc.message)
			}
			if len(u.GetUuid()) != 0 {
				t.Errorf("master-generated update carries a uuid")
			}
			if got := len(s.a.take(agentproto.AgentEvent_RUN_TASK)); got != tc.launched {
				t.Errorf("%d tasks launched, want %d", got, tc.launched)
			}
		})
	}

	t.Run("offer used twice", func(t *testing.T) {
		s := build(t, &mesos.FrameworkInfo{Capabilities: partitionAware})
		s.h.mustCall(s.f, acceptCall([]string{s.offer}, launch(commandTask(t, "t1", s.a.id, "cpus:0.1"))))
		s.h.mustCall(s.f, acceptCall([]string{s.offer}, launch(commandTask(t, "t2", s.a.id, "cpus:0.1"))))
		ups := s.f.updates()
		if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_DROPPED || ups[0].GetTaskId().GetValue() != "t2" {
			t.Fatalf("updates %v, want TASK_DROPPED for t2", ups)
		}
	})

	t.Run("unsupported operation with feedback", func(t *testing.T) {
		s := build(t, nil)
		s.h.mustCall(s.f, acceptCall([]string{s.offer}, &mesos.Offer_Operation{
			Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
			Id:   &mesos.OperationID{Value: proto.String("op1")},
		}))
		evs := s.f.take(schedpb.Event_UPDATE_OPERATION_STATUS)
		if len(evs) != 1 || evs[0].GetUpdateOperationStatus().GetStatus().GetState() != mesos.OperationState_OPERATION_ERROR {
			t.Fatalf("got %v, want OPERATION_ERROR", evs)
		}
	})
}

func TestAgentRemovedAfterMissedPings(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	pa := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := pa.offers()[0]
	h.mustCall(pa, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	legacyFw := h.subscribe(nil)

	// Answered pings keep the agent.
	for i := 0; i < 10; i++ {
		h.advance(15 * time.Second)
		for _, p := range a.take(agentproto.AgentEvent_PING) {
			if err := h.agentCall(a, &agentproto.AgentCall{Type: agentproto.AgentCall_PONG.Enum(),
				Pong: &agentproto.AgentCall_Pong{Sequence: proto.Uint64(p.GetPing().GetSequence())}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h.c.agents[a.id] == nil {
		t.Fatal("agent answering pings was removed")
	}
	pa.take(schedpb.Event_HEARTBEAT)
	pa.take(schedpb.Event_OFFERS)
	pa.take(schedpb.Event_RESCIND)

	// Silence: after 5 missed pings the agent is gone.
	h.advance(4 * 15 * time.Second)
	if h.c.agents[a.id] == nil {
		t.Fatal("agent removed too early")
	}
	h.advance(2 * 15 * time.Second)
	if h.c.agents[a.id] != nil {
		t.Fatal("silent agent not removed")
	}
	ups := pa.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_UNREACHABLE || ups[0].GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED {
		t.Errorf("partition-aware framework got %v, want TASK_UNREACHABLE", ups)
	}
	if f := pa.take(schedpb.Event_FAILURE); len(f) != 1 || f[0].GetFailure().GetAgentId().GetValue() != a.id {
		t.Errorf("FAILURE events %v", f)
	}
	if f := legacyFw.take(schedpb.Event_FAILURE); len(f) != 1 {
		t.Errorf("second framework FAILURE events %v", f)
	}
	if !a.closed {
		t.Error("removed agent's stream still open")
	}
	if _, ok := h.c.frameworks[pa.id].unreachableTasks["t1"]; !ok {
		t.Error("task not kept as unreachable")
	}
}

func TestDisconnectedAgentIsRemovedAfterGrace(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AgentPingTimeout = time.Second; c.MaxAgentPingTimeouts = 3 })
	a := h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	if len(f.offers()) != 1 {
		t.Fatal("no offer")
	}
	h.step(func(c *core) { c.agentStreamClosed(a.id, a.streamID) })
	if r := f.take(schedpb.Event_RESCIND); len(r) != 1 {
		t.Errorf("offer of a disconnected agent not rescinded: %v", r)
	}
	h.advance(2 * time.Second)
	if h.c.agents[a.id] == nil {
		t.Fatal("removed before the grace period")
	}
	// It may come back under its id within the grace period...
	a2 := &recAgent{streamID: "again"}
	var err error
	h.step(func(c *core) {
		a2.id, err = c.registerAgent(a2, a2.streamID, &agentproto.AgentCall_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String("a"), Id: agentID(a.id), Resources: mustResources(t, "cpus:2;mem:1024")},
		})
	})
	if err != nil || a2.id != a.id {
		t.Fatalf("re-register: id %q err %v", a2.id, err)
	}
	// ...and then leave for good.
	h.step(func(c *core) { c.agentStreamClosed(a2.id, a2.streamID) })
	h.advance(3 * time.Second)
	if h.c.agents[a.id] != nil {
		t.Fatal("disconnected agent not removed after the grace period")
	}
}

func TestOfferTimeoutRescinds(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OfferTimeout = 30 * time.Second })
	h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()
	if len(o) != 1 {
		t.Fatal("no offer")
	}
	h.advance(29 * time.Second)
	if r := f.take(schedpb.Event_RESCIND); len(r) != 0 {
		t.Fatal("rescinded too early")
	}
	h.advance(2 * time.Second)
	r := f.take(schedpb.Event_RESCIND)
	if len(r) != 1 || r[0].GetRescind().GetOfferId().GetValue() != o[0].GetId().GetValue() {
		t.Fatalf("rescinds %v", r)
	}
	// A timed-out offer counts as declined with the default filter: the
	// resources come back in a new offer once the filter expires.
	if again := f.offers(); len(again) != 0 {
		t.Fatalf("re-offered while filtered: %v", again)
	}
	h.advance(allocator.DefaultRefuse)
	if again := f.offers(); len(again) != 1 || again[0].GetId().GetValue() == o[0].GetId().GetValue() {
		t.Fatalf("re-offer %v", again)
	}
}

func TestSuppressAndRevive(t *testing.T) {
	h := newHarness(t)
	h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()[0]
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}})
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)}}})
	h.advance(10 * time.Second)
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("suppressed framework got offers %v", got)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	if got := f.offers(); len(got) != 1 {
		t.Fatalf("revived framework got %d offers", len(got))
	}
}

func TestDeclineFilterAndRevive(t *testing.T) {
	h := newHarness(t)
	h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()[0]
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(60)}}})
	h.advance(30 * time.Second)
	if got := f.offers(); len(got) != 0 {
		t.Fatalf("filtered resources re-offered: %v", got)
	}
	// Another framework may have them meanwhile.
	g := h.subscribe(nil)
	if got := g.offers(); len(got) != 1 {
		t.Fatalf("second framework got %d offers", len(got))
	}
	h.mustCall(g, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	if got := f.offers(); len(got) != 1 {
		t.Fatalf("REVIVE did not clear the filter: %d offers", len(got))
	}
}

func TestFrameworkFailover(t *testing.T) {
	h := newHarness(t)
	h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{FailoverTimeout: proto.Float64(60)})
	f.offers()
	f2 := &recFramework{streamID: "new-stream"}
	h.step(func(c *core) {
		f2.id = c.subscribe(f2, f2.streamID, &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("tester"), Name: proto.String("test"), Id: frameworkID(f.id), FailoverTimeout: proto.Float64(60)}})
	})
	if f2.id != f.id {
		t.Fatalf("resubscribe got id %q, want %q", f2.id, f.id)
	}
	errs := f.take(schedpb.Event_ERROR)
	if len(errs) != 1 || errs[0].GetError().GetMessage() != "Framework failed over" || !f.closed {
		t.Fatalf("old stream: errors %v closed %v", errs, f.closed)
	}
	if s := f2.take(schedpb.Event_SUBSCRIBED); len(s) != 1 {
		t.Fatal("no SUBSCRIBED on the new stream")
	}
	if got := f2.offers(); len(got) != 1 {
		t.Fatalf("failed-over framework got %d offers", len(got))
	}
	// Calls on the old stream id are refused.
	err := h.call(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
	if err == nil || !strings.Contains(err.Error(), "didn't match the stream ID") {
		t.Fatalf("call on the old stream: %v", err)
	}
	// Disconnected, it survives until failover_timeout.
	h.step(func(c *core) { c.frameworkStreamClosed(f2.id, f2.streamID) })
	if err := h.call(f2, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum()}); httpStatus(err) != http.StatusForbidden {
		t.Fatalf("call while disconnected: %v, want 403", err)
	}
	h.advance(59 * time.Second)
	if h.c.frameworks[f.id] == nil {
		t.Fatal("removed before failover_timeout")
	}
	h.advance(2 * time.Second)
	if h.c.frameworks[f.id] != nil {
		t.Fatal("not removed after failover_timeout")
	}
}

func TestDisconnectWithoutFailoverTimeoutKillsTasks(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	if h.c.frameworks[f.id] != nil {
		t.Fatal("framework with failover_timeout 0 not removed")
	}
	if s := a.take(agentproto.AgentEvent_SHUTDOWN_FRAMEWORK); len(s) != 1 {
		t.Fatalf("agent got %v, want SHUTDOWN_FRAMEWORK", s)
	}
	done := h.c.completed[0]
	if len(done.completedTasks) != 1 || done.completedTasks[0].GetState() != mesos.TaskState_TASK_KILLED {
		t.Fatalf("completed tasks %v", done.completedTasks)
	}
	// Its id may not come back.
	g := &recFramework{}
	h.step(func(c *core) {
		g.id = c.subscribe(g, "s", &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("u"), Name: proto.String("n"), Id: frameworkID(f.id)}})
	})
	if g.id != "" || len(g.events) != 1 || g.events[0].GetError().GetMessage() != "Framework has been removed" || !g.closed {
		t.Fatalf("resubscribe of a removed framework: %v", g.events)
	}
}

func TestReconcile(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	pa := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := pa.offers()[0]
	h.mustCall(pa, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))

	h.mustCall(pa, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{}})
	ups := pa.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_STAGING || ups[0].GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
		t.Fatalf("implicit reconciliation: %v", ups)
	}
	h.mustCall(pa, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: []*schedpb.Call_Reconcile_Task{
		{TaskId: &mesos.TaskID{Value: proto.String("never-existed")}},
		{TaskId: &mesos.TaskID{Value: proto.String("gone")}, AgentId: agentID(a.id)},
	}}})
	ups = pa.updates()
	if len(ups) != 2 || ups[0].GetState() != mesos.TaskState_TASK_UNKNOWN || ups[1].GetState() != mesos.TaskState_TASK_GONE {
		t.Fatalf("explicit reconciliation: %v", ups)
	}
	for _, u := range ups {
		if u.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || len(u.GetUuid()) != 0 || u.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
			t.Errorf("reconciliation update %v", u)
		}
	}
	if ups[0].GetMessage() != "Reconciliation: Task is unknown" {
		t.Errorf("message %q", ups[0].GetMessage())
	}

	old := h.subscribe(nil)
	h.mustCall(old, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: []*schedpb.Call_Reconcile_Task{
		{TaskId: &mesos.TaskID{Value: proto.String("never-existed")}},
	}}})
	if ups := old.updates(); len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_LOST {
		t.Fatalf("non-partition-aware reconciliation: %v", ups)
	}
}

func TestKill(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("t1")}}})
	if k := a.take(agentproto.AgentEvent_KILL_TASK); len(k) != 1 || k[0].GetKillTask().GetTaskId().GetValue() != "t1" {
		t.Fatalf("agent got %v, want KILL_TASK t1", k)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("nope")}}})
	if ups := f.updates(); len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_UNKNOWN {
		t.Fatalf("kill of an unknown task: %v", ups)
	}
}

func TestExecutorExitedAndMessages(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()[0]
	task := commandTask(t, "t1", a.id, "cpus:1;mem:128")
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("e1")},
		Command:    &mesos.CommandInfo{Value: proto.String("my-executor")},
		Resources:  mustResources(t, "cpus:0.1;mem:32"),
	}
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(task)))
	if run := a.take(agentproto.AgentEvent_RUN_TASK); len(run) != 1 || run[0].GetRunTask().GetExecutor().GetFrameworkId().GetValue() != f.id {
		t.Fatalf("RUN_TASK %v: executor framework_id not filled in", run)
	}
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{
		AgentId: agentID(a.id), ExecutorId: &mesos.ExecutorID{Value: proto.String("e1")}, Data: []byte("hi")}})
	if m := a.take(agentproto.AgentEvent_FRAMEWORK_MESSAGE); len(m) != 1 || string(m[0].GetFrameworkMessage().GetData()) != "hi" {
		t.Fatalf("agent messages %v", m)
	}
	if err := h.agentCall(a, &agentproto.AgentCall{Type: agentproto.AgentCall_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &agentproto.AgentCall_FrameworkMessage{FrameworkId: frameworkID(f.id),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("e1")}, Data: []byte("hello")}}); err != nil {
		t.Fatal(err)
	}
	if m := f.take(schedpb.Event_MESSAGE); len(m) != 1 || string(m[0].GetMessage().GetData()) != "hello" || m[0].GetMessage().GetAgentId().GetValue() != a.id {
		t.Fatalf("framework messages %v", m)
	}
	if err := h.agentCall(a, &agentproto.AgentCall{Type: agentproto.AgentCall_EXECUTOR_EXITED.Enum(),
		ExecutorExited: &agentproto.AgentCall_ExecutorExited{FrameworkId: frameworkID(f.id),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("e1")}, Status: proto.Int32(256)}}); err != nil {
		t.Fatal(err)
	}
	fl := f.take(schedpb.Event_FAILURE)
	if len(fl) != 1 || fl[0].GetFailure().GetExecutorId().GetValue() != "e1" || fl[0].GetFailure().GetStatus() != 256 {
		t.Fatalf("FAILURE events %v", fl)
	}
	if len(h.c.agents[a.id].executors) != 0 {
		t.Error("executor still booked after it exited")
	}
}

func TestAgentReregisterReconciles(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()},
		launch(commandTask(t, "t1", a.id, "cpus:0.5;mem:128"), commandTask(t, "t2", a.id, "cpus:0.5;mem:128"))))
	// The agent comes back knowing only t1.
	t1 := h.c.frameworks[f.id].tasks["t1"].pb
	a2 := &recAgent{streamID: "again"}
	var err error
	h.step(func(c *core) {
		a2.id, err = c.registerAgent(a2, a2.streamID, &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String("a"), Id: agentID(a.id), Resources: mustResources(t, "cpus:2;mem:1024")},
			Frameworks: []*mesos.FrameworkInfo{h.c.frameworks[f.id].info},
			Tasks:      []*mesos.Task{proto.Clone(t1).(*mesos.Task)},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !a.closed {
		t.Error("old agent stream not closed")
	}
	ups := f.updates()
	if len(ups) != 1 || ups[0].GetTaskId().GetValue() != "t2" || ups[0].GetState() != mesos.TaskState_TASK_DROPPED {
		t.Fatalf("updates %v, want TASK_DROPPED for t2", ups)
	}
	if h.c.frameworks[f.id].tasks["t1"] == nil {
		t.Fatal("t1 lost")
	}
}
