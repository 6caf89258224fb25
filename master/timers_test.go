package master

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// popAll pops every timer, in order.
func popAll(h *timerHeap) []timerKey {
	return h.popDue(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), nil)
}

func TestTimerHeapOrder(t *testing.T) {
	var h timerHeap
	h.schedule(timerKey{timerOffer, "b"}, t0.Add(2*time.Second))
	h.schedule(timerKey{timerAgent, "z"}, t0.Add(time.Second))
	h.schedule(timerKey{timerOffer, "a"}, t0.Add(2*time.Second))
	h.schedule(timerKey{timerFramework, "y"}, t0.Add(2*time.Second))
	h.schedule(timerKey{timerAgent, "a"}, t0.Add(3*time.Second))
	if next, ok := h.next(); !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("next %v %v, want %v", next, ok, t0.Add(time.Second))
	}
	// Same deadline: by kind, then id.
	want := []timerKey{{timerAgent, "z"}, {timerFramework, "y"}, {timerOffer, "a"}, {timerOffer, "b"}, {timerAgent, "a"}}
	if got := popAll(&h); !slices.Equal(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	if h.len() != 0 || len(h.byKey) != 0 {
		t.Fatalf("heap not empty: %d entries, %d keys", h.len(), len(h.byKey))
	}
	if _, ok := h.next(); ok {
		t.Fatal("empty heap has a next deadline")
	}
}

func TestTimerHeapPopDue(t *testing.T) {
	var h timerHeap
	for i := 0; i < 5; i++ {
		h.schedule(timerKey{timerAgent, fmt.Sprint(i)}, t0.Add(time.Duration(i)*time.Second))
	}
	due := h.popDue(t0.Add(2*time.Second), nil)
	if want := []timerKey{{timerAgent, "0"}, {timerAgent, "1"}, {timerAgent, "2"}}; !slices.Equal(due, want) {
		t.Fatalf("due %v, want %v", due, want)
	}
	if due := h.popDue(t0.Add(2*time.Second), nil); len(due) != 0 {
		t.Fatalf("due again: %v", due)
	}
	if next, _ := h.next(); !next.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("next %v", next)
	}
	if h.fired != 3 {
		t.Fatalf("fired %d, want 3", h.fired)
	}
}

func TestTimerHeapCancelAndReschedule(t *testing.T) {
	var h timerHeap
	a, b, c := timerKey{timerAgent, "a"}, timerKey{timerAgent, "b"}, timerKey{timerAgent, "c"}
	h.schedule(a, t0.Add(1*time.Second))
	h.schedule(b, t0.Add(2*time.Second))
	h.schedule(c, t0.Add(3*time.Second))
	// Later, then earlier; one entry per key.
	h.schedule(a, t0.Add(4*time.Second))
	h.schedule(c, t0.Add(500*time.Millisecond))
	if h.len() != 3 {
		t.Fatalf("%d entries, want 3", h.len())
	}
	if at, ok := h.at(a); !ok || !at.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("a at %v %v", at, ok)
	}
	h.cancel(b)
	h.cancel(b) // a no-op
	h.cancel(timerKey{timerOffer, "never"})
	if _, ok := h.at(b); ok {
		t.Fatal("canceled timer still scheduled")
	}
	// A zero deadline cancels too.
	h.schedule(timerKey{timerOffer, "x"}, t0)
	h.schedule(timerKey{timerOffer, "x"}, time.Time{})
	if got, want := popAll(&h), []timerKey{c, a}; !slices.Equal(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
}

// TestTimerHeapRandom checks the heap against a sorted reference under
// random schedules, moves and cancels.
func TestTimerHeapRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var h timerHeap
	ref := map[timerKey]time.Time{}
	for i := 0; i < 20000; i++ {
		k := timerKey{timerKind(rng.Intn(3)), fmt.Sprint(rng.Intn(300))}
		switch rng.Intn(4) {
		case 0:
			h.cancel(k)
			delete(ref, k)
		default:
			at := t0.Add(time.Duration(rng.Intn(50)) * time.Millisecond)
			h.schedule(k, at)
			ref[k] = at
		}
		if i%1000 == 999 {
			// Pop what is due at a random instant and compare.
			now := t0.Add(time.Duration(rng.Intn(50)) * time.Millisecond)
			var want []timerKey
			for k, at := range ref {
				if !now.Before(at) {
					want = append(want, k)
				}
			}
			sort.Slice(want, func(i, j int) bool {
				a, b := want[i], want[j]
				if !ref[a].Equal(ref[b]) {
					return ref[a].Before(ref[b])
				}
				if a.kind != b.kind {
					return a.kind < b.kind
				}
				return a.id < b.id
			})
			if got := h.popDue(now, nil); !slices.Equal(got, want) {
				t.Fatalf("step %d: popped %v, want %v", i, got, want)
			}
			for _, k := range want {
				delete(ref, k)
			}
		}
		if h.len() != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", i, h.len(), len(ref))
		}
	}
	for j, e := range h.entries {
		if e.index != j {
			t.Fatalf("entry %v at %d has index %d", e.key, j, e.index)
		}
		if j > 0 && h.less(j, (j-1)/2) {
			t.Fatalf("heap order broken at %d", j)
		}
	}
}

// TestTickOnlyDueTimers checks that with many agents a tick does the work
// of the timers due and nothing else: one agent's ping fires only that
// agent's timer, and the next deadline is the next agent's ping.
func TestTickOnlyDueTimers(t *testing.T) {
	h := newHarness(t)
	const n = 300
	// Off the batch allocation's whole seconds.
	h.clock.t = h.clock.t.Add(5 * time.Millisecond)
	agents := make([]*recAgent, n)
	for i := range agents {
		agents[i] = h.addAgent(fmt.Sprintf("h%d", i), "cpus:1;mem:128")
		h.clock.t = h.clock.t.Add(10 * time.Millisecond)
	}
	registered := h.clock.t.Add(-n * 10 * time.Millisecond)
	interval := h.c.cfg.AgentPingTimeout
	// Batch allocations are due every second: step past them first.
	for !h.c.nextDeadline().Equal(registered.Add(interval)) {
		h.clock.t = h.c.nextDeadline()
		h.step(func(c *core) { c.tick() })
	}
	if h.c.timers.len() != n+1 {
		t.Fatalf("%d timers, want %d (one per agent, and the allocation)", h.c.timers.len(), n+1)
	}
	for i := 0; i < 5; i++ {
		h.clock.t = h.c.nextDeadline()
		if want := registered.Add(interval + time.Duration(i)*10*time.Millisecond); !h.clock.t.Equal(want) {
			t.Fatalf("ping %d due at %v, want %v", i, h.clock.t, want)
		}
		fired := h.c.timers.fired
		h.step(func(c *core) { c.tick() })
		if got := h.c.timers.fired - fired; got != 1 {
			t.Fatalf("tick %d fired %d timers, want 1", i, got)
		}
		for j, a := range agents {
			pings := len(a.take(agentproto.AgentEvent_PING))
			if want := map[bool]int{true: 1}[j == i]; pings != want {
				t.Fatalf("tick %d: agent %d got %d pings, want %d", i, j, pings, want)
			}
		}
		// The agent's next ping is one interval on.
		if at, _ := h.c.timers.at(timerKey{timerAgent, agents[i].id}); !at.Equal(h.clock.t.Add(interval)) {
			t.Fatalf("agent %d next due %v, want %v", i, at, h.clock.t.Add(interval))
		}
	}
}

// TestTimersFollowObjects checks that objects that go away take their
// timers with them, and that the loop never spins on a deadline that has
// passed: after a framework, its offers, an agent and an operator
// subscriber come and go, only the batch allocation is left.
func TestTimersFollowObjects(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{FailoverTimeout: proto.Float64(3600)})
	if len(f.offers()) != 1 {
		t.Fatal("no offer")
	}
	var sub int
	h.step(func(c *core) { sub, _ = c.subscribeOperator(&recOperator{}) })
	for _, k := range []timerKey{{timerAgent, a.id}, {timerFramework, f.id}, {timerOperator, operatorTimerID(sub)}} {
		if _, ok := h.c.timers.at(k); !ok {
			t.Fatalf("timer %v not scheduled", k)
		}
	}
	if got, want := h.c.timers.len(), 5; got != want { // agent, framework, offer, operator, allocation
		t.Fatalf("%d timers, want %d", got, want)
	}
	h.step(func(c *core) { c.operatorStreamClosed(sub) })
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	at, ok := h.c.timers.at(timerKey{timerFramework, f.id})
	if !ok || !at.Equal(h.clock.t.Add(time.Hour)) {
		t.Fatalf("failover timer at %v %v, want in an hour", at, ok)
	}
	h.step(func(c *core) { c.agentStreamClosed(a.id, a.streamID) })
	h.advance(2 * time.Hour)
	if len(h.c.agents) != 0 || len(h.c.frameworks) != 0 {
		t.Fatalf("%d agents, %d frameworks left", len(h.c.agents), len(h.c.frameworks))
	}
	if h.c.timers.len() != 1 {
		t.Fatalf("%d timers left, want only the allocation's", h.c.timers.len())
	}
	if next := h.c.nextDeadline(); !next.After(h.clock.t) {
		t.Fatalf("next deadline %v is not after now %v", next, h.clock.t)
	}
}

// TestDrainDeadlineWhileAgentAway checks a draining agent's kill deadline
// that passes while the agent is disconnected: the loop does not spin on
// it (the next deadline is ahead), and when the agent comes back its
// tasks are killed again with the grace period, then without once that
// passes.
func TestDrainDeadlineWhileAgentAway(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("h1", "cpus:4;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-t1-running!")
	grace := 10 * time.Second
	h.mustCore(func(c *core) error { return c.drainAgent(a.id, &grace, false) })
	if kills := a.take(agentproto.AgentEvent_KILL_TASK); len(kills) != 1 {
		t.Fatalf("kills: %v", kills)
	}
	h.step(func(c *core) { c.agentStreamClosed(a.id, a.streamID) })
	// Fire timers one at a time past the kill deadline, as the loop does.
	end := h.clock.t.Add(grace + 5*time.Second)
	for turns := 0; h.clock.t.Before(end); turns++ {
		next := h.c.nextDeadline()
		if !next.After(h.clock.t) && turns > 0 {
			t.Fatalf("next deadline %v not after now %v: the loop would spin", next, h.clock.t)
		}
		if next.After(end) {
			break
		}
		h.clock.t = next
		h.step(func(c *core) { c.tick() })
	}
	if h.c.agents[a.id] == nil {
		t.Fatal("agent removed within its grace period")
	}
	t1 := proto.Clone(h.c.frameworks[f.id].tasks["t1"].pb).(*mesos.Task)
	a2 := &recAgent{streamID: "again"}
	h.step(func(c *core) {
		_, err := c.registerAgent(a2, a2.streamID, &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String("h1"), Id: agentID(a.id), Resources: mustResources(t, "cpus:4;mem:1024")},
			Frameworks: []*mesos.FrameworkInfo{h.c.frameworks[f.id].info},
			Tasks:      []*mesos.Task{t1},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	kills := a2.take(agentproto.AgentEvent_KILL_TASK)
	if len(kills) != 1 || time.Duration(kills[0].GetKillTask().GetKillPolicy().GetGracePeriod().GetNanoseconds()) != grace {
		t.Fatalf("kills on return: %v", kills)
	}
	h.advance(grace - time.Second)
	if kills := a2.take(agentproto.AgentEvent_KILL_TASK); len(kills) != 0 {
		t.Fatalf("killed again before the grace period: %v", kills)
	}
	h.advance(time.Second)
	kills = a2.take(agentproto.AgentEvent_KILL_TASK)
	if len(kills) != 1 || kills[0].GetKillTask().GetKillPolicy().GetGracePeriod().GetNanoseconds() != 0 {
		t.Fatalf("kill after the grace period: %v", kills)
	}
}

// orderedAgent records, in a log shared by several agents, which agent
// was sent each PING.
type orderedAgent struct {
	recAgent
	log *[]string
}

func (o *orderedAgent) Send(ev *agentproto.AgentEvent) {
	if ev.GetType() == agentproto.AgentEvent_PING {
		*o.log = append(*o.log, o.id)
	}
	o.recAgent.Send(ev)
}

// TestSameInstantTimersFireInIDOrder checks that timers due at the same
// instant fire in a fixed order, agents' by id as the sorted scan did:
// twelve agents registered together are pinged S0, S1, S10, S11, S2, ...
func TestSameInstantTimersFireInIDOrder(t *testing.T) {
	h := newHarness(t)
	h.clock.t = h.clock.t.Add(5 * time.Millisecond) // off the allocation's ticks
	var log []string
	for i := 0; i < 12; i++ {
		a := &orderedAgent{recAgent: recAgent{streamID: fmt.Sprintf("s%d", i)}, log: &log}
		h.step(func(c *core) {
			id, err := c.registerAgent(a, a.streamID, &agentproto.AgentCall_Register{
				AgentInfo: &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("h%d", i)), Resources: mustResources(t, "cpus:1;mem:128")},
			})
			if err != nil {
				t.Fatal(err)
			}
			a.id = id
		})
	}
	h.advance(h.c.cfg.AgentPingTimeout - time.Millisecond)
	if len(log) != 0 {
		t.Fatalf("pinged early: %v", log)
	}
	h.clock.t = h.clock.t.Add(time.Millisecond)
	fired := h.c.timers.fired
	h.step(func(c *core) { c.tick() })
	want := slices.Clone(log[:0])
	for id := range h.c.agents {
		want = append(want, id)
	}
	slices.Sort(want)
	if len(log) != 12 || !slices.Equal(log, want) {
		t.Fatalf("pinged %v, want %v", log, want)
	}
	if log[2] != h.c.masterID()+"-S10" {
		t.Fatalf("third ping to %s, want S10 (string order)", log[2])
	}
	if got := h.c.timers.fired - fired; got != 12 {
		t.Fatalf("%d timers fired, want 12", got)
	}
}
