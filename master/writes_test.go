package master

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
)

// asyncHarness is a harness whose core hands its registry writes to the
// test (commit) as the Master's loop hands them to its writer.
func asyncHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.c.writes.inline = false
	return h
}

// commit commits the pending batch as the writer would and returns how
// many writes it held (0: nothing was pending).
func (h *harness) commit() int {
	h.t.Helper()
	batch := h.c.takeWrites()
	if batch == nil {
		return 0
	}
	refused, err := h.c.reg.Commit(batch.groups())
	h.step(func(c *core) { c.committed(batch, refused, err, h.clock.t, 0) })
	return len(batch)
}

func registerCall(host, id string) *agentproto.AgentCall_Register {
	info := &mesos.AgentInfo{Hostname: proto.String(host), Resources: []*mesos.Resource{
		{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2)}}}}
	if id != "" {
		info.Id = agentID(id)
	}
	return &agentproto.AgentCall_Register{AgentInfo: info, Endpoint: proto.String(host + ":5051"), Version: proto.String("1.11.1")}
}

// pendingAnswer fails the test unless err is a reply still pending.
func pendingAnswer(t *testing.T, err error) *pendingReply {
	t.Helper()
	var p *pendingReply
	if !errors.As(err, &p) || p.resolved {
		t.Fatalf("answer %v: want a reply pending on the registry", err)
	}
	return p
}

// TestRegistrationWaitsForItsWrite: an agent is told REGISTERED, and
// exists in the master's books, only once the registry holds it; until
// then a second registration under its id waits, and runs after it on the
// state it left (no second admission).
func TestRegistrationWaitsForItsWrite(t *testing.T) {
	h := asyncHarness(t)
	a := &recAgent{streamID: "s1"}
	var id string
	var err error
	h.step(func(c *core) { id, err = c.registerAgent(a, a.streamID, registerCall("h1", "")) })
	p := pendingAnswer(t, err)
	if len(a.events) != 0 || h.c.agents[id] != nil {
		t.Fatalf("before the write: events %v, agent in the books %v", a.events, h.c.agents[id] != nil)
	}
	// The agent retries on a new connection before hearing anything.
	again := &recAgent{streamID: "s2"}
	var err2 error
	h.step(func(c *core) { _, err2 = c.registerAgent(again, again.streamID, registerCall("h1", id)) })
	p2 := pendingAnswer(t, err2)
	if n := h.commit(); n != 1 {
		t.Fatalf("first batch held %d writes, want the admission alone", n)
	}
	if !p.resolved || p.err != nil {
		t.Fatalf("first registration: resolved %v, answer %v", p.resolved, p.err)
	}
	if got := a.take(agentproto.AgentEvent_REGISTERED); len(got) != 1 {
		t.Fatalf("agent got %d REGISTERED events", len(got))
	}
	// The second ran once the first was durable: the agent is known, so
	// it needs no write and takes the new stream.
	if !p2.resolved || p2.err != nil {
		t.Fatalf("second registration: resolved %v, answer %v", p2.resolved, p2.err)
	}
	if h.commit() != 0 {
		t.Error("the second registration of a known agent wrote to the registry")
	}
	if got := again.take(agentproto.AgentEvent_REGISTERED); len(got) != 1 || h.c.agents[id].streamID != "s2" {
		t.Fatalf("second registration: %d REGISTERED, stream %s", len(got), h.c.agents[id].streamID)
	}
	st, err := h.c.reg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Agents) != 1 || st.Agents[id] == nil {
		t.Errorf("registry agents %v, want %s alone", sortedKeys(st.Agents), id)
	}
}

// TestRefusedWriteFailsOnlyItsCall: writes batched together commit in one
// Commit; the one the registry refuses fails its own call (503), the
// others go through.
func TestRefusedWriteFailsOnlyItsCall(t *testing.T) {
	h := asyncHarness(t)
	a1, a2 := &recAgent{streamID: "s1"}, &recAgent{streamID: "s2"}
	var id1, id2 string
	var err1, err2 error
	h.step(func(c *core) {
		id1, err1 = c.registerAgent(a1, a1.streamID, registerCall("h1", ""))
		id2, err2 = c.registerAgent(a2, a2.streamID, registerCall("h2", ""))
	})
	p1, p2 := pendingAnswer(t, err1), pendingAnswer(t, err2)
	// Someone else admitted the second id meanwhile: the registry refuses
	// admitting it again.
	if err := h.c.reg.Apply(registry.AdmitAgent{Info: &mesos.AgentInfo{Hostname: proto.String("x"), Id: agentID(id2)}}); err != nil {
		t.Fatal(err)
	}
	if n := h.commit(); n != 2 {
		t.Fatalf("batch held %d writes, want both admissions", n)
	}
	if p1.err != nil || len(a1.take(agentproto.AgentEvent_REGISTERED)) != 1 || h.c.agents[id1] == nil {
		t.Errorf("first agent: answer %v, in the books %v", p1.err, h.c.agents[id1] != nil)
	}
	var he *httpapi.Error
	if !errors.As(httpError(p2.err), &he) || he.Status != http.StatusServiceUnavailable {
		t.Errorf("second agent: answer %v, want 503", p2.err)
	}
	if h.c.agents[id2] != nil || len(a2.events) != 0 {
		t.Errorf("refused agent: in the books %v, events %v", h.c.agents[id2] != nil, a2.events)
	}
}

// TestFailedWriteChangesNothing: a subscription whose record fails is
// refused with an ERROR event and leaves no framework behind; a weight
// update whose write fails is a 503 and the weight stays.
func TestFailedWriteChangesNothing(t *testing.T) {
	h := asyncHarness(t)
	h.c.reg = failingStore{registry.NewMemory()}
	f := &recFramework{streamID: "f1"}
	var id string
	h.step(func(c *core) {
		id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("u"), Name: proto.String("n")}})
	})
	var werr error
	h.step(func(c *core) {
		werr = c.updateWeights([]*mesos.WeightInfo{{Role: proto.String("a"), Weight: proto.Float64(2)}})
	})
	p := pendingAnswer(t, werr)
	if len(f.events) != 0 {
		t.Fatalf("framework heard %v before the write", f.events)
	}
	h.commit()
	if got := f.take(schedpb.Event_ERROR); len(got) != 1 || !f.closed || h.c.frameworks[id] != nil {
		t.Errorf("failed subscription: %d ERROR events, closed %v, framework kept %v", len(got), f.closed, h.c.frameworks[id] != nil)
	}
	var he *httpapi.Error
	if !errors.As(httpError(p.err), &he) || he.Status != http.StatusServiceUnavailable || h.c.weight("a") != 1 {
		t.Errorf("failed weight update: answer %v, weight %v", p.err, h.c.weight("a"))
	}
}

// TestTeardownDuringSubscription: a framework that fails over (its info
// changed, so the subscription is recorded) and is torn down before the
// record is durable is removed, and the subscription, run after the
// write, is refused; the registry ends without it.
func TestTeardownDuringSubscription(t *testing.T) {
	h := asyncHarness(t)
	info := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n")}
	f := &recFramework{streamID: "f1"}
	h.step(func(c *core) { f.id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{FrameworkInfo: info}) })
	h.commit()
	if len(f.take(schedpb.Event_SUBSCRIBED)) != 1 {
		t.Fatal("no SUBSCRIBED")
	}
	changed := proto.Clone(info).(*mesos.FrameworkInfo)
	changed.Id, changed.Name = frameworkID(f.id), proto.String("renamed")
	g := &recFramework{streamID: "f2"}
	h.step(func(c *core) { c.subscribe(g, g.streamID, &schedpb.Call_Subscribe{FrameworkInfo: changed}) })
	h.step(func(c *core) {
		if err := c.teardownFramework(f.id); err != nil {
			t.Fatal(err)
		}
	})
	h.commit()
	if got := g.take(schedpb.Event_ERROR); len(got) != 1 || got[0].GetError().GetMessage() != "Framework has been removed" {
		t.Errorf("subscription after the teardown got %v", got)
	}
	if h.c.frameworks[f.id] != nil {
		t.Error("framework still in the books")
	}
	st, err := h.c.reg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if st.Frameworks[f.id] != nil {
		t.Error("framework still in the registry after its teardown")
	}
}

// gateStore is a registry whose commits wait for the test: each Commit
// reports its batch's size on entered, then waits for a value on release.
type gateStore struct {
	registry.Store
	entered chan int
	release chan struct{}
}

func (s *gateStore) Commit(batch [][]registry.Op) ([]error, error) {
	s.entered <- len(batch)
	<-s.release
	return s.Store.Commit(batch)
}

// TestSlowRegistryDoesNotStallTheCore: while a registration's write is
// stuck in the registry, the master serves other calls, and the
// registrations that arrive meanwhile are committed together in the next
// batch; each is answered once its own write is durable.
func TestSlowRegistryDoesNotStallTheCore(t *testing.T) {
	store := &gateStore{Store: registry.NewMemory(), entered: make(chan int, 1), release: make(chan struct{})}
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry, cfg.Store = "master.test", "127.0.0.1", "in_memory", store
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	register := func(host string) chan error {
		done := make(chan error, 1)
		go func() {
			var regErr error
			if err := m.do(func(c *core) { _, regErr = c.registerAgent(benchAgentSink{}, host, registerCall(host, "")) }); err != nil {
				done <- err
				return
			}
			done <- awaitReply(regErr)
		}()
		return done
	}
	agents := func() int {
		var n int
		if err := m.do(func(c *core) { n = len(c.agents) }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := register("h0")
	if n := <-store.entered; n != 1 {
		t.Fatalf("first batch holds %d writes", n)
	}
	// The core answers while the write is stuck, and has not admitted
	// the agent yet.
	if n := agents(); n != 0 {
		t.Fatalf("%d agents before the write is durable", n)
	}
	var rest []chan error
	for _, h := range []string{"h1", "h2", "h3"} {
		rest = append(rest, register(h))
	}
	eventually(t, 10*time.Second, "the three registrations pending", func() bool {
		var n int
		if err := m.do(func(c *core) { n = len(c.writes.pending) }); err != nil {
			t.Fatal(err)
		}
		return n == 3
	})
	if n := agents(); n != 0 {
		t.Fatalf("%d agents before any write is durable", n)
	}
	select {
	case err := <-first:
		t.Fatalf("first registration answered (%v) before its write", err)
	default:
	}
	store.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("first registration: %v", err)
	}
	if n := <-store.entered; n != 3 {
		t.Fatalf("second batch holds %d writes, want the 3 registrations that arrived meanwhile", n)
	}
	store.release <- struct{}{}
	for i, done := range rest {
		if err := <-done; err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	if n := agents(); n != 4 {
		t.Fatalf("%d agents after the writes, want 4", n)
	}
}

// TestQueuedWritesAreReported: registrar/queued_operations counts the
// writes waiting for the batch in flight.
func TestQueuedWritesAreReported(t *testing.T) {
	h := asyncHarness(t)
	queued := func() float64 { return h.c.metricsSnapshot()["registrar/queued_operations"] }
	for _, host := range []string{"h1", "h2"} {
		h.step(func(c *core) { c.registerAgent(&recAgent{}, host, registerCall(host, "")) })
	}
	if q := queued(); q != 2 {
		t.Fatalf("queued_operations %v with two writes pending, want 2", q)
	}
	batch := h.c.takeWrites()
	if q := queued(); q != 0 {
		t.Fatalf("queued_operations %v once the batch is in flight, want 0", q)
	}
	refused, err := h.c.reg.Commit(batch.groups())
	h.step(func(c *core) { c.committed(batch, refused, err, h.clock.t, 0) })
	if len(h.c.agents) != 2 || queued() != 0 {
		t.Errorf("after the commit: %d agents, queued_operations %v", len(h.c.agents), queued())
	}
}
