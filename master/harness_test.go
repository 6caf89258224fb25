package master

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// fakeClock is a Clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// recFramework records what the core sends a framework.
type recFramework struct {
	id, streamID string
	events       []*schedpb.Event
	closed       bool
}

func (r *recFramework) Send(ev *schedpb.Event) {
	if !r.closed {
		r.events = append(r.events, ev)
	}
}
func (r *recFramework) Close() { r.closed = true }

// take returns and forgets the recorded events of type t.
func (r *recFramework) take(t schedpb.Event_Type) []*schedpb.Event {
	return takeEvents(&r.events, t)
}

// takeEvents removes the events of type t from *events and returns them,
// in order.
func takeEvents[E interface{ GetType() T }, T comparable](events *[]E, t T) []E {
	var got, kept []E
	for _, ev := range *events {
		if ev.GetType() == t {
			got = append(got, ev)
		} else {
			kept = append(kept, ev)
		}
	}
	*events = kept
	return got
}

func (r *recFramework) offers() []*mesos.Offer {
	var out []*mesos.Offer
	for _, ev := range r.take(schedpb.Event_OFFERS) {
		out = append(out, ev.GetOffers().GetOffers()...)
	}
	return out
}

func (r *recFramework) updates() []*mesos.TaskStatus {
	var out []*mesos.TaskStatus
	for _, ev := range r.take(schedpb.Event_UPDATE) {
		out = append(out, ev.GetUpdate().GetStatus())
	}
	return out
}

// recAgent records what the core sends an agent.
type recAgent struct {
	id, streamID string
	events       []*agentproto.AgentEvent
	closed       bool
}

func (r *recAgent) Send(ev *agentproto.AgentEvent) {
	if !r.closed {
		r.events = append(r.events, ev)
	}
}
func (r *recAgent) Close() { r.closed = true }

func (r *recAgent) take(t agentproto.AgentEvent_Type) []*agentproto.AgentEvent {
	return takeEvents(&r.events, t)
}

// harness drives a core on a fake clock, as the Master's loop does: each
// step runs, then the core allocates if asked to.
type harness struct {
	t     *testing.T
	clock *fakeClock
	c     *core
	seq   int
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	cfg := DefaultConfig()
	cfg.Hostname = "master.test"
	cfg.IP = "127.0.0.1"
	cfg.Registry = "in_memory"
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	info, err := masterInfo(cfg, "M")
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, clock: clock, c: newCore(cfg, testLogger(t), clock, info, registry.NewMemory())}
}

// step runs fn on the core, then lets it allocate.
func (h *harness) step(fn func(c *core)) {
	fn(h.c)
	h.c.flush()
}

// advance moves the clock by d in steps no larger than the core's next
// deadline, firing timers as the loop would.
func (h *harness) advance(d time.Duration) {
	end := h.clock.t.Add(d)
	for {
		next := h.c.nextDeadline()
		if next.After(end) {
			break
		}
		if next.After(h.clock.t) {
			h.clock.t = next
		}
		h.c.tick()
		h.c.flush()
	}
	h.clock.t = end
	h.c.tick()
	h.c.flush()
}

func mustResources(t *testing.T, s string) []*mesos.Resource {
	t.Helper()
	r, err := resources.Parse(s, "*")
	if err != nil {
		t.Fatal(err)
	}
	return resources.ToProto(r, resources.FormatPreRefinement)
}

// addAgent registers an agent with resources res.
func (h *harness) addAgent(host, res string) *recAgent {
	h.t.Helper()
	h.seq++
	a := &recAgent{streamID: "agent-stream-" + itoa(h.seq)}
	var err error
	h.step(func(c *core) {
		a.id, err = c.registerAgent(a, a.streamID, &agentproto.AgentCall_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String(host), Resources: mustResources(h.t, res)},
			Endpoint:  proto.String("127.0.0.1:" + itoa(5050+h.seq)),
			Version:   proto.String("1.11.1"),
		})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if got := a.take(agentproto.AgentEvent_REGISTERED); len(got) != 1 {
		h.t.Fatalf("agent got %d REGISTERED events", len(got))
	}
	return a
}

// subscribe subscribes a framework with info (user and name filled in).
func (h *harness) subscribe(info *mesos.FrameworkInfo) *recFramework {
	h.t.Helper()
	if info == nil {
		info = &mesos.FrameworkInfo{}
	}
	if info.User == nil {
		info.User = proto.String("tester")
	}
	if info.Name == nil {
		info.Name = proto.String("test")
	}
	h.seq++
	f := &recFramework{streamID: "fw-stream-" + itoa(h.seq)}
	h.step(func(c *core) {
		f.id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{FrameworkInfo: info})
	})
	if f.id == "" {
		h.t.Fatalf("subscription refused: %v", f.events)
	}
	if got := f.take(schedpb.Event_SUBSCRIBED); len(got) != 1 {
		h.t.Fatalf("framework got %d SUBSCRIBED events", len(got))
	}
	return f
}

// call sends a scheduler call from framework f on its current stream.
func (h *harness) call(f *recFramework, call *schedpb.Call) error {
	h.t.Helper()
	call.FrameworkId = frameworkID(f.id)
	if err := validateSchedulerCall(call); err != nil {
		h.t.Fatalf("invalid call: %v", err)
	}
	var err error
	h.step(func(c *core) { err = c.schedulerCall(call, f.streamID, true) })
	return err
}

func (h *harness) mustCall(f *recFramework, call *schedpb.Call) {
	h.t.Helper()
	if err := h.call(f, call); err != nil {
		h.t.Fatal(err)
	}
}

// agentCall sends an agent call from a on its current stream.
func (h *harness) agentCall(a *recAgent, call *agentproto.AgentCall) error {
	call.AgentId = agentID(a.id)
	var err error
	h.step(func(c *core) { err = c.agentCall(call, a.streamID) })
	return err
}

func (h *harness) statusUpdate(a *recAgent, f *recFramework, taskID string, state mesos.TaskState, uuid string) {
	h.t.Helper()
	err := h.agentCall(a, &agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: frameworkID(f.id),
			Status: &mesos.TaskStatus{
				TaskId:    &mesos.TaskID{Value: proto.String(taskID)},
				State:     state.Enum(),
				Source:    mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				Uuid:      []byte(uuid),
				Timestamp: proto.Float64(1000),
			},
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func acceptCall(offerIDs []string, ops ...*mesos.Offer_Operation) *schedpb.Call {
	acc := &schedpb.Call_Accept{Operations: ops}
	for _, id := range offerIDs {
		acc.OfferIds = append(acc.OfferIds, &mesos.OfferID{Value: proto.String(id)})
	}
	return &schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: acc}
}

func launch(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

func commandTask(t *testing.T, id, agent, res string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   agentID(agent),
		Resources: mustResources(t, res),
		Command:   &mesos.CommandInfo{Value: proto.String("sleep 10")},
	}
}

var partitionAware = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
