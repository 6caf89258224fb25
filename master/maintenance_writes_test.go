package master

import (
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// drainingH1 sets up a schedule with machine h1 (DRAINING), writes
// inline, then hands the core's writes to the test (commit).
func drainingH1(t *testing.T, h *harness) {
	t.Helper()
	h.mustCore(func(c *core) error {
		return c.updateMaintenanceSchedule(schedule(window(h.clock.t.Add(time.Hour), time.Hour, hostMachine("h1"))))
	})
	h.c.writes.inline = false
}

// commitAll commits batches until none is pending.
func (h *harness) commitAll() {
	for h.commit() > 0 {
	}
}

// refusedForDown fails the test unless agent a (the only one to
// register) was refused as an agent on a DOWN machine is: one ERROR saying
// so, its stream closed, never REGISTERED, and neither the master nor the
// registry holds an agent.
func refusedForDown(t *testing.T, h *harness, a *recAgent) {
	t.Helper()
	if got := a.take(agentproto.AgentEvent_REGISTERED); len(got) != 0 {
		t.Errorf("agent on a DOWN machine told REGISTERED")
	}
	errs := a.take(agentproto.AgentEvent_ERROR)
	if len(errs) != 1 || errs[0].GetError().GetMessage() != "Machine is DOWN for maintenance" || !a.closed {
		t.Errorf("agent heard %v (closed %v), want one ERROR: Machine is DOWN for maintenance", errs, a.closed)
	}
	if len(h.c.agents) != 0 {
		t.Error("agent on a DOWN machine admitted")
	}
	st, err := h.c.reg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Agents) != 0 {
		t.Error("agent on a DOWN machine recorded in the registry")
	}
	if m := h.c.machineFor("h1", ""); m == nil || m.mode != mesos.MachineInfo_DOWN {
		t.Errorf("machine h1 %v, want DOWN", m)
	}
}

// TestRegistrationWhileMachineGoesDown: an agent registers on a machine
// whose DOWN is being recorded. It is refused once the DOWN is durable,
// as an agent registering on a machine already DOWN is.
func TestRegistrationWhileMachineGoesDown(t *testing.T) {
	h := newHarness(t)
	drainingH1(t, h)
	down := pendingAnswer(t, h.coreErr(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{hostMachine("h1")}) }))
	a := &recAgent{streamID: "s1"}
	var id string
	var err error
	h.step(func(c *core) { id, err = c.registerAgent(a, a.streamID, registerCall("h1", "")) })
	pendingAnswer(t, err)
	if id == "" {
		t.Fatal("a new agent waiting for the maintenance change was given no id")
	}
	h.commitAll()
	if down.err != nil {
		t.Fatalf("START_MAINTENANCE: %v", down.err)
	}
	refusedForDown(t, h, a)
}

// TestMachineGoesDownWhileAdmissionIsRecorded: the operator takes a
// machine DOWN while an agent on it has its admission in flight. The
// agent does not stay admitted on the DOWN machine: it ends told the
// machine is DOWN, its stream closed, out of the master's books and of
// the registry.
func TestMachineGoesDownWhileAdmissionIsRecorded(t *testing.T) {
	h := newHarness(t)
	drainingH1(t, h)
	a := &recAgent{streamID: "s1"}
	var err error
	h.step(func(c *core) { _, err = c.registerAgent(a, a.streamID, registerCall("h1", "")) })
	pendingAnswer(t, err)
	var downErr error
	h.step(func(c *core) { downErr = c.startMaintenance([]*mesos.MachineID{hostMachine("h1")}) })
	h.commitAll()
	onAnswer(downErr, func(err error) { downErr = err })
	if downErr != nil {
		t.Fatalf("START_MAINTENANCE: %v", downErr)
	}
	a.take(agentproto.AgentEvent_REGISTERED)
	refusedForDown(t, h, a)
}

// TestRegistrationWhileMachineComesUp: an agent registers on a DOWN
// machine while the operator's STOP_MAINTENANCE is being recorded: it is
// decided once the machine is UP, and admitted.
func TestRegistrationWhileMachineComesUp(t *testing.T) {
	h := newHarness(t)
	h.mustCore(func(c *core) error {
		return c.updateMaintenanceSchedule(schedule(window(h.clock.t.Add(time.Hour), time.Hour, hostMachine("h1"))))
	})
	h.mustCore(func(c *core) error { return c.startMaintenance([]*mesos.MachineID{hostMachine("h1")}) })
	h.c.writes.inline = false
	up := pendingAnswer(t, h.coreErr(func(c *core) error { return c.stopMaintenance([]*mesos.MachineID{hostMachine("h1")}) }))
	a := &recAgent{streamID: "s1"}
	var id string
	h.step(func(c *core) { id, _ = c.registerAgent(a, a.streamID, registerCall("h1", "")) })
	h.commitAll()
	if up.err != nil {
		t.Fatalf("STOP_MAINTENANCE: %v", up.err)
	}
	got := a.take(agentproto.AgentEvent_REGISTERED)
	if len(got) != 1 || got[0].GetRegistered().GetAgentId().GetValue() != id || h.c.agents[id] == nil {
		t.Fatalf("agent registering as its machine comes UP (answered as %q): REGISTERED %v, events %v, agents %v", id, got, a.events, sortedKeys(h.c.agents))
	}
	// The stream it was admitted on ends under the id it was answered
	// with: the master learns the agent is disconnected.
	h.step(func(c *core) { c.agentStreamClosed(id, a.streamID) })
	if h.c.agents[id].connected() {
		t.Error("agent still connected after its stream ended")
	}
}
