package master

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// runningFramework sets up a framework with failover_timeout 0 running
// task t1 on an agent, with writes inline, then hands the core's writes
// to the test (commit) from then on. It returns the agent, the framework
// and the FrameworkInfo to subscribe again with.
func runningFramework(t *testing.T, h *harness) (*recAgent, *recFramework, *mesos.FrameworkInfo) {
	t.Helper()
	a := h.addAgent("h1", "cpus:2;mem:1024")
	f := h.subscribe(nil)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "0123456789abcdef")
	a.events = nil
	h.c.writes.inline = false
	info := proto.Clone(h.c.frameworks[f.id].info).(*mesos.FrameworkInfo)
	return a, f, info
}

// resubscribe subscribes again as framework id on a new stream, with
// info renamed to name (a changed info: the subscription is recorded).
func (h *harness) resubscribe(info *mesos.FrameworkInfo, name, streamID string) *recFramework {
	changed := proto.Clone(info).(*mesos.FrameworkInfo)
	changed.Name = proto.String(name)
	g := &recFramework{streamID: streamID}
	h.step(func(c *core) { g.id = c.subscribe(g, g.streamID, &schedpb.Call_Subscribe{FrameworkInfo: changed}) })
	return g
}

// frameworkKept fails the test unless framework id is subscribed on
// stream streamID with its task t1 running, and the agent was not told to
// shut it down.
func frameworkKept(t *testing.T, h *harness, a *recAgent, id, streamID string) {
	t.Helper()
	f := h.c.frameworks[id]
	if f == nil {
		t.Fatal("framework removed")
	}
	if f.stream == nil || f.streamID != streamID {
		t.Errorf("framework on stream %q (connected %v), want %q", f.streamID, f.stream != nil, streamID)
	}
	if tk := f.tasks["t1"]; tk == nil || tk.pb.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("task t1 %v, want it running", tk)
	}
	if got := a.take(agentproto.AgentEvent_SHUTDOWN_FRAMEWORK); len(got) != 0 {
		t.Errorf("agent told to shut the framework down: %v", got)
	}
}

// frameworkGone fails the test unless framework id was removed: its task
// killed, the agent told to shut it down, the registry without it.
func frameworkGone(t *testing.T, h *harness, a *recAgent, id string) {
	t.Helper()
	if h.c.frameworks[id] != nil {
		t.Fatal("framework kept")
	}
	if got := a.take(agentproto.AgentEvent_SHUTDOWN_FRAMEWORK); len(got) != 1 {
		t.Errorf("agent got %d SHUTDOWN_FRAMEWORK, want 1", len(got))
	}
	done := h.c.completed[len(h.c.completed)-1]
	if done.id != id || len(done.completedTasks) != 1 || done.completedTasks[0].GetState() != mesos.TaskState_TASK_KILLED {
		t.Errorf("completed framework %s with tasks %v, want %s with t1 killed", done.id, done.completedTasks, id)
	}
	for h.commit() > 0 {
	}
	st, err := h.c.reg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if st.Frameworks[id] != nil {
		t.Error("removed framework still in the registry")
	}
}

// TestOldStreamClosesWhileResubscriptionIsRecorded: a framework with
// failover_timeout 0 subscribes again with a changed info; its old stream
// closes while the new subscription's record is in flight. The framework
// is re-subscribing: it keeps its tasks and takes the new stream once the
// record is durable.
func TestOldStreamClosesWhileResubscriptionIsRecorded(t *testing.T) {
	h := newHarness(t)
	a, f, info := runningFramework(t, h)
	g := h.resubscribe(info, "renamed", "new-stream")
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	if h.c.frameworks[f.id] == nil {
		t.Fatal("framework removed while its re-subscription is recorded")
	}
	if n := h.commit(); n != 1 {
		t.Fatalf("batch held %d writes, want the subscription alone", n)
	}
	if got := g.take(schedpb.Event_SUBSCRIBED); len(got) != 1 {
		t.Fatalf("new stream got %d SUBSCRIBED (events %v)", len(got), g.events)
	}
	frameworkKept(t, h, a, f.id, "new-stream")
	if h.commit() != 0 {
		t.Error("a write followed the subscription (the framework's removal?)")
	}
}

// TestOldStreamClosesWithResubscriptionsQueued: the old stream closes
// while one re-subscription is recorded and a second waits for it (the
// framework's key is busy); then the first one's write fails. The second
// is a re-subscription being admitted too: the framework is kept and ends
// on the second stream.
func TestOldStreamClosesWithResubscriptionsQueued(t *testing.T) {
	h := newHarness(t)
	a, f, info := runningFramework(t, h)
	g := h.resubscribe(info, "renamed", "second-stream")
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	k := h.resubscribe(info, "renamed again", "third-stream")
	if h.c.frameworks[f.id] == nil {
		t.Fatal("framework removed while re-subscriptions are pending")
	}
	store := h.c.reg
	h.c.reg = failingStore{store}
	if n := h.commit(); n != 1 {
		t.Fatalf("batch held %d writes, want the first subscription alone", n)
	}
	h.c.reg = store
	if got := g.take(schedpb.Event_ERROR); len(got) != 1 || !g.closed {
		t.Fatalf("failed re-subscription: %d ERROR, closed %v", len(got), g.closed)
	}
	if h.c.frameworks[f.id] == nil {
		t.Fatal("framework removed while the second re-subscription is recorded")
	}
	if n := h.commit(); n != 1 {
		t.Fatalf("batch held %d writes, want the second subscription alone", n)
	}
	if got := k.take(schedpb.Event_SUBSCRIBED); len(got) != 1 {
		t.Fatalf("second re-subscription got %d SUBSCRIBED (events %v)", len(got), k.events)
	}
	frameworkKept(t, h, a, f.id, "third-stream")
}

// TestOldStreamClosedAndResubscriptionFails: the old stream closes while
// the only re-subscription is recorded, and that write fails. Nothing
// re-attached the framework: it ends as a disconnect with
// failover_timeout 0 does, removed with its tasks.
func TestOldStreamClosedAndResubscriptionFails(t *testing.T) {
	h := newHarness(t)
	a, f, info := runningFramework(t, h)
	g := h.resubscribe(info, "renamed", "new-stream")
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	store := h.c.reg
	h.c.reg = failingStore{store}
	h.commit()
	h.c.reg = store
	if got := g.take(schedpb.Event_ERROR); len(got) != 1 || !g.closed {
		t.Fatalf("failed re-subscription: %d ERROR, closed %v", len(got), g.closed)
	}
	frameworkGone(t, h, a, f.id)
}

// TestResubscriptionFailsWithOldStreamOpen: a re-subscription whose write
// fails leaves a framework whose old stream is still open as it was.
func TestResubscriptionFailsWithOldStreamOpen(t *testing.T) {
	h := newHarness(t)
	a, f, info := runningFramework(t, h)
	g := h.resubscribe(info, "renamed", "new-stream")
	store := h.c.reg
	h.c.reg = failingStore{store}
	h.commit()
	h.c.reg = store
	if got := g.take(schedpb.Event_ERROR); len(got) != 1 {
		t.Fatalf("failed re-subscription: %d ERROR", len(got))
	}
	frameworkKept(t, h, a, f.id, f.streamID)
	// The old stream closing now removes it, as failover_timeout 0 says.
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	frameworkGone(t, h, a, f.id)
}

// TestStreamEndsWhileSubscriptionIsRecorded: the client of a subscription
// goes away while the subscription's record is being written (the HTTP
// edge ends the stream at once). Once the record is durable the framework
// is subscribed on a stream that is gone: it must count as disconnected,
// its failover timeout running, not as connected for ever.
func TestStreamEndsWhileSubscriptionIsRecorded(t *testing.T) {
	h := asyncHarness(t)
	f := &recFramework{streamID: "s1"}
	h.step(func(c *core) {
		f.id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("u"), Name: proto.String("n"), FailoverTimeout: proto.Float64(60)}})
	})
	if f.id == "" {
		t.Fatal("subscription refused")
	}
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	h.commit()
	fw := h.c.frameworks[f.id]
	if fw == nil {
		t.Fatal("framework not added")
	}
	if fw.stream != nil {
		t.Fatal("framework connected to a stream that ended while it was recorded")
	}
	h.advance(61 * time.Second)
	h.commit()
	if h.c.frameworks[f.id] != nil {
		t.Error("framework not removed after its failover timeout")
	}
}

// TestStreamEndsWhileResubscriptionIsRecorded: as above for a framework
// with failover_timeout 0 subscribing again: its new stream ends before
// the record is durable, its old one is open. It takes the new stream,
// which is gone, so it is removed as any framework with failover_timeout
// 0 whose stream ends.
func TestStreamEndsWhileResubscriptionIsRecorded(t *testing.T) {
	h := newHarness(t)
	a, f, info := runningFramework(t, h)
	g := h.resubscribe(info, "renamed", "new-stream")
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, g.streamID) })
	h.commit()
	if !f.closed {
		t.Error("old stream not closed by the failover")
	}
	frameworkGone(t, h, a, f.id)
}
