package master

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// restart replaces h's core with a new one (a new master id) that
// recovers from reg, as a restarted master does.
func (h *harness) restart(reg registry.Store, mutate ...func(*Config)) {
	h.t.Helper()
	cfg := h.c.cfg
	for _, m := range mutate {
		m(&cfg)
	}
	info, err := masterInfo(cfg, fmt.Sprintf("M%d", h.seq+100))
	if err != nil {
		h.t.Fatal(err)
	}
	st, err := reg.Recover()
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = newCore(cfg, testLogger(h.t), h.clock, info, reg)
	h.c.recoverState(st)
}

// reregister sends REGISTER for a known agent id reporting tasks.
func (h *harness) reregister(a *recAgent, host, res string, fw *mesos.FrameworkInfo, tasks ...*mesos.Task) {
	h.t.Helper()
	h.seq++
	a.streamID = "agent-stream-" + itoa(h.seq)
	a.events, a.closed = nil, false
	var err error
	h.step(func(c *core) {
		_, err = c.registerAgent(a, a.streamID, &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String(host), Id: agentID(a.id), Resources: mustResources(h.t, res)},
			Endpoint:   proto.String("127.0.0.1:" + itoa(5050+h.seq)),
			Frameworks: []*mesos.FrameworkInfo{fw},
			Tasks:      tasks,
		})
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// TestMasterRestartRecoversAgentsAndTasks: a restarted master reads its
// registry, waits for the admitted agents to re-register with their
// tasks, lets the framework re-subscribe with its id, answers nothing for
// tasks that may be on agents still to come back, and marks agents that
// stay away unreachable after --agent_reregister_timeout.
func TestMasterRestartRecoversAgentsAndTasks(t *testing.T) {
	reg := registry.NewMemory()
	h := newHarness(t, func(c *Config) { c.AgentReregisterTimeout = time.Minute })
	h.c.reg = reg
	a1 := h.addAgent("h1", "cpus:2;mem:1024")
	a2 := h.addAgent("h2", "cpus:2;mem:1024")
	fwInfo := &mesos.FrameworkInfo{Capabilities: partitionAware, FailoverTimeout: proto.Float64(3600)}
	f := h.subscribe(fwInfo)
	offers := f.offers()
	if len(offers) != 2 {
		t.Fatalf("offers: %d", len(offers))
	}
	for _, o := range offers {
		task := commandTask(t, "task-on-"+o.GetHostname(), o.GetAgentId().GetValue(), "cpus:1;mem:128")
		h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(task)))
	}
	h.statusUpdate(a1, f, "task-on-h1", mesos.TaskState_TASK_RUNNING, "u1-running-uuid!")
	fwRegistered := h.c.frameworks[f.id].info

	// The master restarts. Its registry holds both agents and the framework.
	h.restart(reg)
	st := h.c.state()
	if len(st.RecoveredSlaves) != 2 || len(st.Slaves) != 0 {
		t.Fatalf("after restart: %d recovered, %d registered agents", len(st.RecoveredSlaves), len(st.Slaves))
	}

	// The framework re-subscribes with its id; explicit reconciliation of
	// its tasks gets no answer while their agents may still come back.
	info := proto.Clone(fwRegistered).(*mesos.FrameworkInfo)
	f2 := &recFramework{streamID: "fw-stream-again"}
	h.step(func(c *core) { f2.id = c.subscribe(f2, f2.streamID, &schedpb.Call_Subscribe{FrameworkInfo: info}) })
	if f2.id != f.id {
		t.Fatalf("re-subscribed as %q, want %q (events %v)", f2.id, f.id, f2.events)
	}
	h.mustCall(f2, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("task-on-h1")}}}}})
	if got := f2.updates(); len(got) != 0 {
		t.Fatalf("reconciliation answered during the re-registration window: %v", got)
	}

	// a1 comes back with its running task.
	running := &mesos.Task{Name: proto.String("task-on-h1"), TaskId: &mesos.TaskID{Value: proto.String("task-on-h1")},
		FrameworkId: frameworkID(f.id), AgentId: agentID(a1.id), State: mesos.TaskState_TASK_RUNNING.Enum(),
		Resources: mustResources(t, "cpus:1;mem:128")}
	h.reregister(a1, "h1", "cpus:2;mem:1024", info, running)
	if got := a1.take(agentproto.AgentEvent_REGISTERED); len(got) != 1 {
		t.Fatalf("a1 not re-registered: %v", a1.events)
	}
	h.mustCall(f2, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{}})
	ups := f2.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_RUNNING || ups[0].GetTaskId().GetValue() != "task-on-h1" {
		t.Fatalf("implicit reconciliation after a1 came back: %v", ups)
	}

	// a2 never comes back: after the timeout it is unreachable, and its
	// task is reported so on explicit reconciliation.
	h.advance(time.Minute + time.Second)
	if _, ok := h.c.unreachable[a2.id]; !ok {
		t.Fatalf("a2 not marked unreachable")
	}
	if len(f2.take(schedpb.Event_FAILURE)) != 1 {
		t.Errorf("no FAILURE event for a2")
	}
	h.mustCall(f2, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("task-on-h2")}, AgentId: agentID(a2.id)}}}})
	ups = f2.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_UNREACHABLE {
		t.Fatalf("reconcile of the task on a2: %v", ups)
	}
	// And the registry says so, for the next restart.
	rst, _ := reg.Recover()
	if rst.Unreachable[a2.id] == nil || rst.Agents[a1.id] == nil || rst.Frameworks[f.id] == nil {
		t.Fatalf("registry after recovery: agents %v unreachable %v frameworks %v", rst.Agents, rst.Unreachable, rst.Frameworks)
	}
}

func TestGoneAgentIsRefused(t *testing.T) {
	reg := registry.NewMemory()
	h := newHarness(t)
	h.c.reg = reg
	a := h.addAgent("h1", "cpus:1;mem:128")
	if err := reg.Apply(registry.MarkGone{ID: a.id, Time: h.clock.t}); err != nil {
		t.Fatal(err)
	}
	h.restart(reg)
	h.reregister(a, "h1", "cpus:1;mem:128", &mesos.FrameworkInfo{})
	if got := a.take(agentproto.AgentEvent_ERROR); len(got) != 1 || !a.closed {
		t.Fatalf("a gone agent was not refused: %v", a.events)
	}
}

func TestRegistryStrictRefusesUnknownAgents(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RegistryStrict = true })
	a := &recAgent{id: "stranger-S1"}
	h.reregister(a, "h9", "cpus:1;mem:128", &mesos.FrameworkInfo{})
	if got := a.take(agentproto.AgentEvent_ERROR); len(got) != 1 {
		t.Fatalf("an unknown agent was admitted under --registry_strict: %v", a.events)
	}
}

// BenchmarkMasterRecovery measures a restarted master's recovery: read a
// registry of N agents, then take each agent's re-registration (with one
// running task each) until every one is back.
//
//	go test ./master -run '^$' -bench MasterRecovery -benchtime 3x
func BenchmarkMasterRecovery(b *testing.B) {
	for _, n := range benchRecoveryAgents {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			reg, err := registry.OpenBolt(b.TempDir() + "/registry.db")
			if err != nil {
				b.Fatal(err)
			}
			defer reg.Close()
			var ops []registry.Op
			for i := 0; i < n; i++ {
				ops = append(ops, registry.AdmitAgent{Info: &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("h%d", i)),
					Id: agentID(fmt.Sprintf("A-S%d", i)), Resources: benchResources}})
			}
			fw := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("f"), Id: frameworkID("F-0000")}
			ops = append(ops, registry.AddFramework{Info: fw})
			if err := reg.Apply(ops...); err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Hostname, cfg.IP, cfg.Registry = "m", "127.0.0.1", "in_memory"
			info, _ := masterInfo(cfg, "M2")
			regs := make([]*agentproto.AgentCall_Register, n)
			for i := range regs {
				id := fmt.Sprintf("A-S%d", i)
				regs[i] = &agentproto.AgentCall_Register{
					AgentInfo:  &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("h%d", i)), Id: agentID(id), Resources: benchResources},
					Endpoint:   proto.String(fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250+1)),
					Frameworks: []*mesos.FrameworkInfo{fw},
					Tasks: []*mesos.Task{{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("t%d", i))},
						FrameworkId: fw.Id, AgentId: agentID(id), State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: benchTaskResources}},
				}
			}
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				st, err := reg.Recover()
				if err != nil {
					b.Fatal(err)
				}
				c := newCore(cfg, discardLogger, clock, info, reg)
				c.recoverState(st)
				for i, r := range regs {
					sink := &recAgent{streamID: "s"}
					if _, err := c.registerAgent(sink, fmt.Sprint(i), r); err != nil {
						b.Fatal(err)
					}
				}
				c.flush()
				if len(c.recovered) != 0 || len(c.agents) != n || len(c.frameworks["F-0000"].tasks) != n {
					b.Fatalf("recovered %d, agents %d, tasks %d", len(c.recovered), len(c.agents), len(c.frameworks["F-0000"].tasks))
				}
			}
		})
	}
}

var (
	benchResources     = mustResourcesB("cpus:8;mem:16384;disk:100000;ports:[31000-32000]")
	benchTaskResources = mustResourcesB("cpus:1;mem:128")
)

func mustResourcesB(s string) []*mesos.Resource {
	r, err := resources.Parse(s, "*")
	if err != nil {
		panic(err)
	}
	return resources.ToProto(r, resources.FormatPreRefinement)
}

func testDiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var discardLogger = testDiscardLogger()

var benchRecoveryAgents = []int{1000, 10000}

func TestMarkAgentGone(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "0123456789abcdef")
	f.updates()

	var err error
	h.step(func(c *core) { err = c.markAgentGone(a.id) })
	if err != nil {
		t.Fatal(err)
	}
	ups := f.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_GONE_BY_OPERATOR ||
		ups[0].GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR {
		t.Fatalf("updates: %v", ups)
	}
	if got := a.take(agentproto.AgentEvent_ERROR); len(got) != 1 || !a.closed {
		t.Fatalf("agent not told: %v", a.events)
	}
	// It may not come back, and the registry remembers.
	h.reregister(a, "h1", "cpus:2;mem:1024", &mesos.FrameworkInfo{})
	if got := a.take(agentproto.AgentEvent_ERROR); len(got) != 1 {
		t.Fatalf("a gone agent re-registered: %v", a.events)
	}
	st, _ := h.c.reg.Recover()
	if st.Gone[a.id] == nil {
		t.Fatal("gone agent not in the registry")
	}
	h.step(func(c *core) { err = c.markAgentGone("no-such-agent") })
	if httpStatus(err) != 404 {
		t.Fatalf("unknown agent: %v", err)
	}
}

func TestAgentRemovalRateLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.AgentRemovalRateLimit = "1/10mins"
		c.AgentPingTimeout = time.Second
		c.MaxAgentPingTimeouts = 2
	})
	a1 := h.addAgent("h1", "cpus:1;mem:128")
	a2 := h.addAgent("h2", "cpus:1;mem:128")
	h.advance(10 * time.Second) // neither answers pings
	_, u1 := h.c.unreachable[a1.id]
	_, u2 := h.c.unreachable[a2.id]
	if !u1 || u2 {
		t.Fatalf("after the first removal: a1 unreachable %v, a2 unreachable %v (want true, false)", u1, u2)
	}
	h.advance(10 * time.Minute)
	if _, ok := h.c.unreachable[a2.id]; !ok {
		t.Fatal("a2 still not removed after the rate-limit window")
	}
}

func TestParseRate(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "1/10mins": true, "5/1secs": true, "0/1secs": false, "x/1secs": false, "1/": false, "1": false, "1/5": false} {
		if _, _, err := parseRate(in); (err == nil) != ok {
			t.Errorf("parseRate(%q): %v", in, err)
		}
	}
}

// TestResentUpdateIsNotDeliveredTwice: an agent that restarts before an
// acknowledgement reached it resends the update; the framework, which
// acknowledged it already, does not get it again, and the agent gets the
// acknowledgement again.
func TestResentUpdateIsNotDeliveredTwice(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	for _, step := range []struct {
		state mesos.TaskState
		uuid  string
	}{{mesos.TaskState_TASK_RUNNING, "running-uuid-016"}, {mesos.TaskState_TASK_FINISHED, "finished-uuid-16"}} {
		h.statusUpdate(a, f, "t1", step.state, step.uuid)
		if ups := f.updates(); len(ups) != 1 {
			t.Fatalf("%v: %d updates", step.state, len(ups))
		}
		h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String("t1")}, Uuid: []byte(step.uuid)}})
		a.take(agentproto.AgentEvent_ACKNOWLEDGE)
		// The agent resends it.
		h.statusUpdate(a, f, "t1", step.state, step.uuid)
		if ups := f.updates(); len(ups) != 0 {
			t.Fatalf("%v delivered twice: %v", step.state, ups)
		}
		if got := a.take(agentproto.AgentEvent_ACKNOWLEDGE); len(got) != 1 {
			t.Fatalf("%v: the agent was not acknowledged again: %v", step.state, a.events)
		}
	}
}

// After a restart with quota set, the master makes no offers until
// --allocator_agent_recovery_factor of the registry's agents are back, or
// --allocator_recovery_timeout passed (Mesos' allocator recovery).
func TestOffersWaitForAgentsAfterRestartWithQuota(t *testing.T) {
	for _, withQuota := range []bool{true, false} {
		reg := registry.NewMemory()
		h := newHarness(t, func(c *Config) {
			c.AgentReregisterTimeout = time.Hour
			c.AllocatorRecoveryTimeout = 10 * time.Minute
		})
		h.c.reg = reg
		var agents []*recAgent
		for i := 0; i < 5; i++ {
			agents = append(agents, h.addAgent(fmt.Sprintf("h%d", i), "cpus:2;mem:1024"))
		}
		if withQuota {
			h.step(func(c *core) {
				if err := c.updateQuota(true, []*quotapb.QuotaConfig{{Role: proto.String("eng"),
					Guarantees: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(1)}}}}); err != nil {
					t.Fatal(err)
				}
			})
		}
		fw := &mesos.FrameworkInfo{FailoverTimeout: proto.Float64(3600)}
		f := h.subscribe(fw)
		fw.Id = frameworkID(f.id)
		h.restart(reg)
		f = h.subscribe(fw)
		for i := 0; i < 3; i++ {
			h.reregister(agents[i], fmt.Sprintf("h%d", i), "cpus:2;mem:1024", fw)
		}
		h.advance(2 * time.Second)
		if got := len(f.offers()); withQuota && got != 0 {
			t.Fatalf("with quota, 3 of 5 agents back (4 needed): %d offers", got)
		} else if !withQuota && got == 0 {
			t.Fatal("without quota, offers wait for agents")
		}
		if !withQuota {
			continue
		}
		h.reregister(agents[3], "h3", "cpus:2;mem:1024", fw)
		h.advance(2 * time.Second)
		if got := len(f.offers()); got == 0 {
			t.Fatal("4 of 5 agents back: still no offers")
		}
	}

	// Or the timeout passes (agents are not pinged meanwhile).
	reg := registry.NewMemory()
	h := newHarness(t, func(c *Config) { c.AgentReregisterTimeout, c.AgentPingTimeout = time.Hour, time.Hour })
	h.c.reg = reg
	a := h.addAgent("h0", "cpus:2;mem:1024")
	h.addAgent("h1", "cpus:2;mem:1024")
	h.step(func(c *core) {
		_ = c.updateQuota(true, []*quotapb.QuotaConfig{{Role: proto.String("eng"),
			Guarantees: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(1)}}}})
	})
	fw := &mesos.FrameworkInfo{FailoverTimeout: proto.Float64(3600)}
	f := h.subscribe(fw)
	fw.Id = frameworkID(f.id)
	h.restart(reg)
	f = h.subscribe(fw)
	h.reregister(a, "h0", "cpus:2;mem:1024", fw)
	h.advance(9 * time.Minute)
	if got := len(f.offers()); got != 0 {
		t.Fatalf("before the timeout: %d offers", got)
	}
	h.advance(2 * time.Minute)
	if got := len(f.offers()); got == 0 {
		t.Fatal("after the timeout: no offers")
	}
}

// An agent back from unreachable that no longer has a task lost with it:
// the task is TASK_GONE, and the framework is told.
func TestUnreachableTaskGoneWhenAgentReturnsWithoutIt(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h", "cpus:2;mem:1024")
	fw := &mesos.FrameworkInfo{Capabilities: partitionAware}
	f := h.subscribe(fw)
	fw.Id = frameworkID(f.id)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.step(func(c *core) { c.markUnreachable(c.agents[a.id], "test", removalCause(0)) })
	if ups := f.updates(); len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_UNREACHABLE {
		t.Fatalf("updates %v", ups)
	}
	h.reregister(a, "h", "cpus:2;mem:1024", fw) // reports no task
	ups := f.updates()
	if len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_GONE || ups[0].GetTaskId().GetValue() != "t1" {
		t.Fatalf("after the agent came back: %v", ups)
	}
	fr := h.c.frameworks[f.id]
	if len(fr.unreachableTasks) != 0 || len(fr.completedTasks) != 1 || fr.completedTasks[0].GetState() != mesos.TaskState_TASK_GONE {
		t.Errorf("unreachable %v, completed %v", fr.unreachableTasks, fr.completedTasks)
	}
}

// A framework without PARTITION_AWARE was told TASK_LOST when the agent
// became unreachable; the agent coming back without the task tells it
// nothing more.
func TestLostTaskNotReportedTwiceWhenAgentReturns(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h", "cpus:2;mem:1024")
	fw := &mesos.FrameworkInfo{}
	f := h.subscribe(fw)
	fw.Id = frameworkID(f.id)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.step(func(c *core) { c.markUnreachable(c.agents[a.id], "test", removalCause(0)) })
	if ups := f.updates(); len(ups) != 1 || ups[0].GetState() != mesos.TaskState_TASK_LOST {
		t.Fatalf("updates %v", ups)
	}
	h.reregister(a, "h", "cpus:2;mem:1024", fw)
	if ups := f.updates(); len(ups) != 0 {
		t.Errorf("after the agent came back: %v", ups)
	}
	if fr := h.c.frameworks[f.id]; len(fr.unreachableTasks) != 0 || len(fr.completedTasks) != 1 {
		t.Errorf("unreachable %v, completed %v", fr.unreachableTasks, fr.completedTasks)
	}
}
