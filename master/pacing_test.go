package master

import (
	"crypto/md5"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// slowSink is a framework's stream whose client reads only when the test
// says so (read): what the core sends waits in queue, and the sink
// reports its backlog and its drains as the HTTP outbox does.
type slowSink struct {
	queue      []*schedpb.Event // sent, not yet read
	got        []*schedpb.Event // read by the client
	filler     int              // backlog that is not the core's events
	closed     bool
	overflowed bool
	drainAsked bool
	peak       int
}

func (s *slowSink) Send(ev *schedpb.Event) {
	if s.closed {
		return
	}
	s.queue = append(s.queue, ev)
	s.peak = max(s.peak, s.filler+len(s.queue))
}
func (s *slowSink) Close()           { s.closed = true }
func (s *slowSink) NotifyDrained()   { s.drainAsked = true }
func (s *slowSink) Overflowed() bool { return s.overflowed }
func (s *slowSink) Backlog() (int, int64) {
	n := s.filler + len(s.queue)
	return n, int64(n) * 200
}

// subscribeSlow subscribes a framework whose stream is a slowSink.
func (h *harness) subscribeSlow(info *mesos.FrameworkInfo, streamID string) (string, *slowSink) {
	h.t.Helper()
	if info.User == nil {
		info.User = proto.String("tester")
	}
	if info.Name == nil {
		info.Name = proto.String("slow")
	}
	s := &slowSink{}
	var id string
	h.step(func(c *core) { id = c.subscribe(s, streamID, &schedpb.Call_Subscribe{FrameworkInfo: info}) })
	if id == "" {
		h.t.Fatalf("subscription refused: %v", s.queue)
	}
	return id, s
}

// read lets the client read up to n events, then delivers the drain
// report the core asked for once the backlog is low enough, as the
// outbox's writer does.
func (h *harness) read(s *slowSink, fwID, streamID string, n int) {
	n = min(n, len(s.queue))
	s.got = append(s.got, s.queue[:n]...)
	s.queue = s.queue[n:]
	if s.drainAsked && s.filler+len(s.queue) <= drainLowWater {
		s.drainAsked = false
		h.step(func(c *core) { c.frameworkDrained(fwID, streamID) })
	}
}

// takeGot returns and forgets the events of type t the client read.
func (s *slowSink) takeGot(t schedpb.Event_Type) []*schedpb.Event {
	return takeEvents(&s.got, t)
}

func (h *harness) slowCall(fwID, streamID string, call *schedpb.Call) error {
	h.t.Helper()
	call.FrameworkId = frameworkID(fwID)
	if err := validateSchedulerCall(call); err != nil {
		h.t.Fatalf("invalid call: %v", err)
	}
	var err error
	h.step(func(c *core) { err = c.schedulerCall(call, streamID, true) })
	return err
}

// uuid16 is a 16-byte status update uuid made from s.
func uuid16(s string) string {
	sum := md5.Sum([]byte(s))
	return string(sum[:])
}

func reconcileCall(ids ...string) *schedpb.Call {
	r := &schedpb.Call_Reconcile{}
	for _, id := range ids {
		r.Tasks = append(r.Tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(id)}})
	}
	return &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: r}
}

// launchRunning launches n tasks of the slow framework on agent a and
// makes them TASK_RUNNING; the client reads everything on the way.
func (h *harness) launchRunning(a *recAgent, fwID, streamID string, s *slowSink, n int) []string {
	h.t.Helper()
	h.advance(time.Second)
	h.read(s, fwID, streamID, len(s.queue))
	offers := s.takeGot(schedpb.Event_OFFERS)
	if len(offers) == 0 {
		h.t.Fatal("no offer")
	}
	o := offers[len(offers)-1].GetOffers().GetOffers()[0]
	var tasks []*mesos.TaskInfo
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("real-%d", i)
		ids = append(ids, id)
		tasks = append(tasks, commandTask(h.t, id, a.id, "cpus:0.1;mem:16"))
	}
	if err := h.slowCall(fwID, streamID, acceptCall([]string{o.GetId().GetValue()}, launch(tasks...))); err != nil {
		h.t.Fatal(err)
	}
	for _, id := range ids {
		h.statusUpdate(a, &recFramework{id: fwID}, id, mesos.TaskState_TASK_RUNNING, uuid16("run-"+id))
	}
	h.read(s, fwID, streamID, len(s.queue))
	if got := len(s.takeGot(schedpb.Event_UPDATE)); got != n {
		h.t.Fatalf("%d updates for %d launched tasks", got, n)
	}
	return ids
}

// TestReconcilePacedToSlowStream: a framework with failover_timeout 0 asks
// about 50,000 tasks the master never heard of, and reads its stream
// slowly. The master never lets more than answerWindow answers wait in
// the stream, the stream stays open, every task is answered exactly once
// (TASK_UNKNOWN, in the request's order), events that happen meanwhile
// get through, and the framework keeps its running tasks.
func TestReconcilePacedToSlowStream(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a1", "cpus:4;mem:4096")
	info := &mesos.FrameworkInfo{Capabilities: partitionAware, FailoverTimeout: proto.Float64(0)}
	fwID, s := h.subscribeSlow(info, "slow-1")
	real := h.launchRunning(a, fwID, "slow-1", s, 3)
	s.got, s.peak = nil, 0

	const n = 50000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("unknown-%05d", i)
	}
	if err := h.slowCall(fwID, "slow-1", reconcileCall(ids...)); err != nil {
		t.Fatal(err)
	}
	if len(s.queue) > answerWindow {
		t.Fatalf("%d events queued at once, want at most %d", len(s.queue), answerWindow)
	}
	for rounds := 0; len(s.queue) > 0; rounds++ {
		if rounds > 10*n {
			t.Fatal("the answer does not end")
		}
		h.read(s, fwID, "slow-1", 37)
		if rounds == 500 {
			// Time passes and a real task changes meanwhile: live events
			// are not held behind the answer.
			h.advance(20 * time.Second)
			h.statusUpdate(a, &recFramework{id: fwID}, real[0], mesos.TaskState_TASK_RUNNING, uuid16("healthy-"+real[0]))
		}
	}
	if s.closed {
		t.Fatal("the stream was closed")
	}
	if s.peak > answerWindow+16 {
		t.Fatalf("peak backlog %d events, want about answerWindow (%d)", s.peak, answerWindow)
	}
	seen := map[string]int{}
	var order []string
	var live int
	for _, ev := range s.takeGot(schedpb.Event_UPDATE) {
		st := ev.GetUpdate().GetStatus()
		if st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
			live++
			continue
		}
		if st.GetState() != mesos.TaskState_TASK_UNKNOWN || len(st.GetUuid()) != 0 {
			t.Fatalf("answer %v", st)
		}
		seen[st.GetTaskId().GetValue()]++
		order = append(order, st.GetTaskId().GetValue())
	}
	if len(seen) != n || len(order) != n {
		t.Fatalf("%d distinct answers in %d, want %d", len(seen), len(order), n)
	}
	for i, id := range order {
		if id != ids[i] {
			t.Fatalf("answer %d is for %s, want %s", i, id, ids[i])
		}
	}
	if live != 1 {
		t.Fatalf("%d live updates during the answer, want 1", live)
	}
	if len(s.takeGot(schedpb.Event_HEARTBEAT)) == 0 {
		t.Fatal("no heartbeat during the answer")
	}

	f := h.c.frameworks[fwID]
	if f == nil || f.stream != s {
		t.Fatal("the framework lost its subscription")
	}
	for _, id := range real {
		if st := f.tasks[id].pb.GetState(); st != mesos.TaskState_TASK_RUNNING {
			t.Fatalf("task %s is %v", id, st)
		}
	}
	if kills := a.take(agentproto.AgentEvent_KILL_TASK); len(kills) > 0 {
		t.Fatalf("tasks killed: %v", kills)
	}
	if len(a.take(agentproto.AgentEvent_SHUTDOWN_FRAMEWORK)) > 0 {
		t.Fatal("framework shut down")
	}

	// Implicit reconciliation is paced the same way and tells the real
	// tasks' state.
	if err := h.slowCall(fwID, "slow-1", reconcileCall()); err != nil {
		t.Fatal(err)
	}
	h.read(s, fwID, "slow-1", len(s.queue))
	var running int
	for _, ev := range s.takeGot(schedpb.Event_UPDATE) {
		if ev.GetUpdate().GetStatus().GetState() == mesos.TaskState_TASK_RUNNING {
			running++
		}
	}
	if running != len(real) {
		t.Fatalf("implicit reconciliation told %d running tasks, want %d", running, len(real))
	}
}

// TestImplicitReconcilePaced: the answer to an implicit reconciliation of
// more tasks than the window is paced too; tasks gone before their turn
// (acknowledged terminal) are left out, and repeated requests not yet
// started coalesce.
func TestImplicitReconcilePaced(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a1", "cpus:1000;mem:100000")
	fwID, s := h.subscribeSlow(&mesos.FrameworkInfo{Capabilities: partitionAware}, "slow-1")
	const n = 3 * answerWindow
	real := h.launchRunning(a, fwID, "slow-1", s, n)
	s.got = nil

	for i := 0; i < 3; i++ {
		if err := h.slowCall(fwID, "slow-1", reconcileCall()); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.queue) != answerWindow {
		t.Fatalf("%d answers at once, want %d", len(s.queue), answerWindow)
	}
	// The last task finishes and its end is acknowledged before its turn.
	last := real[n-1]
	h.statusUpdate(a, &recFramework{id: fwID}, last, mesos.TaskState_TASK_FINISHED, uuid16("done"))
	h.mustCallSlow(fwID, "slow-1", &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String(last)}, Uuid: []byte(uuid16("done"))}})
	for len(s.queue) > 0 {
		h.read(s, fwID, "slow-1", 100)
	}
	counts := map[string]int{}
	for _, ev := range s.takeGot(schedpb.Event_UPDATE) {
		if st := ev.GetUpdate().GetStatus(); st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
			counts[st.GetTaskId().GetValue()]++
		}
	}
	// Three requests: the first answer started at once, the other two
	// coalesced into one.
	for _, id := range real[:n-1] {
		if counts[id] != 2 {
			t.Fatalf("task %s answered %d times, want 2", id, counts[id])
		}
	}
	if counts[last] != 0 {
		t.Fatalf("acknowledged terminal task answered %d times", counts[last])
	}
}

func (h *harness) mustCallSlow(fwID, streamID string, call *schedpb.Call) {
	h.t.Helper()
	if err := h.slowCall(fwID, streamID, call); err != nil {
		h.t.Fatal(err)
	}
}

// TestPacedAnswersBelongToTheirStream: answers still waiting when the
// framework subscribes again are not sent on the new stream (the
// framework reconciles again, as after any reconnection).
func TestPacedAnswersBelongToTheirStream(t *testing.T) {
	h := newHarness(t)
	info := &mesos.FrameworkInfo{Capabilities: partitionAware, FailoverTimeout: proto.Float64(60)}
	fwID, s1 := h.subscribeSlow(info, "slow-1")
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = fmt.Sprintf("t-%d", i)
	}
	h.mustCallSlow(fwID, "slow-1", reconcileCall(ids...))
	if h.c.frameworks[fwID].pace.pending == 0 {
		t.Fatal("nothing pending")
	}
	info.Id = frameworkID(fwID)
	_, s2 := h.subscribeSlow(info, "slow-2")
	h.read(s1, fwID, "slow-1", len(s1.queue))
	h.read(s2, fwID, "slow-2", len(s2.queue))
	if got := len(s2.takeGot(schedpb.Event_UPDATE)); got != 0 {
		t.Fatalf("the new stream got %d answers of the old one", got)
	}
	if p := h.c.frameworks[fwID].pace; len(p.answers) != 0 || p.pending != 0 {
		t.Fatalf("answers still pending: %+v", p)
	}
}

// TestReconcileRefusedWhenTooMuchPending: a framework cannot pile up
// explicit reconciliation requests without bound; beyond
// maxPendingAnswers the call is refused with 503 and nothing is lost of
// what was accepted.
func TestReconcileRefusedWhenTooMuchPending(t *testing.T) {
	defer func(n int) { maxPendingAnswers = n }(maxPendingAnswers)
	maxPendingAnswers = 10 * answerWindow
	h := newHarness(t)
	fwID, s := h.subscribeSlow(&mesos.FrameworkInfo{Capabilities: partitionAware}, "slow-1")
	ids := make([]string, maxPendingAnswers/2)
	for i := range ids {
		ids[i] = fmt.Sprintf("t-%d", i)
	}
	h.mustCallSlow(fwID, "slow-1", reconcileCall(ids...))
	h.mustCallSlow(fwID, "slow-1", reconcileCall(ids...))
	room := maxPendingAnswers - h.c.frameworks[fwID].pace.pending
	h.mustCallSlow(fwID, "slow-1", reconcileCall(ids[:room]...))
	err := h.slowCall(fwID, "slow-1", reconcileCall("one-too-many"))
	if httpStatus(err) != 503 {
		t.Fatalf("got %v, want 503", err)
	}
	for len(s.queue) > 0 {
		h.read(s, fwID, "slow-1", 500)
	}
	if got, want := len(s.takeGot(schedpb.Event_UPDATE)), 2*len(ids)+room; got != want {
		t.Fatalf("%d answers, want %d", got, want)
	}
	h.mustCallSlow(fwID, "slow-1", reconcileCall("now-there-is-room"))
}

// TestOffersWithheldWhileStreamBehind: a framework whose stream holds
// withholdEvents is offered nothing until it drains; then offers resume.
func TestOffersWithheldWhileStreamBehind(t *testing.T) {
	h := newHarness(t)
	h.addAgent("a1", "cpus:4;mem:4096")
	fwID, s := h.subscribeSlow(&mesos.FrameworkInfo{}, "slow-1")
	h.advance(time.Second)
	h.read(s, fwID, "slow-1", len(s.queue))
	offers := s.takeGot(schedpb.Event_OFFERS)
	if len(offers) != 1 {
		t.Fatalf("%d OFFERS events", len(offers))
	}
	o := offers[0].GetOffers().GetOffers()[0]
	s.filler = withholdEvents // the client stalls behind a burst
	h.mustCallSlow(fwID, "slow-1", &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)}}})
	h.advance(5 * time.Second)
	h.read(s, fwID, "slow-1", len(s.queue))
	if got := s.takeGot(schedpb.Event_OFFERS); len(got) != 0 {
		t.Fatalf("offered %d times while the stream is behind", len(got))
	}
	if !s.drainAsked {
		t.Fatal("the core did not ask to hear of the drain")
	}
	s.filler = 0
	h.read(s, fwID, "slow-1", 0) // the writer reports the drain
	h.advance(time.Second)
	h.read(s, fwID, "slow-1", len(s.queue))
	if got := s.takeGot(schedpb.Event_OFFERS); len(got) != 1 {
		t.Fatalf("%d OFFERS events after the drain, want 1", len(got))
	}
}

// TestCutStreamKeepsFramework: when the master had to cut a framework's
// stream for falling too far behind, the framework keeps its tasks for
// overflowFailoverTimeout even with failover_timeout 0, and may subscribe
// again; a framework that does not is removed then.
func TestCutStreamKeepsFramework(t *testing.T) {
	for _, back := range []bool{true, false} {
		t.Run(fmt.Sprintf("back=%v", back), func(t *testing.T) {
			h := newHarness(t)
			a := h.addAgent("a1", "cpus:4;mem:4096")
			info := &mesos.FrameworkInfo{Capabilities: partitionAware, FailoverTimeout: proto.Float64(0)}
			fwID, s := h.subscribeSlow(info, "slow-1")
			real := h.launchRunning(a, fwID, "slow-1", s, 2)
			s.overflowed, s.closed = true, true
			h.step(func(c *core) { c.frameworkStreamClosed(fwID, "slow-1") })
			h.advance(overflowFailoverTimeout - time.Second)
			if h.c.frameworks[fwID] == nil || len(a.take(agentproto.AgentEvent_SHUTDOWN_FRAMEWORK)) > 0 {
				t.Fatal("framework removed within the grace")
			}
			if back {
				info.Id = frameworkID(fwID)
				_, s2 := h.subscribeSlow(info, "slow-2")
				h.advance(overflowFailoverTimeout)
				h.mustCallSlow(fwID, "slow-2", reconcileCall())
				h.read(s2, fwID, "slow-2", len(s2.queue))
				if got := len(s2.takeGot(schedpb.Event_UPDATE)); got != len(real) {
					t.Fatalf("%d tasks reconciled after subscribing again, want %d", got, len(real))
				}
				if h.c.frameworks[fwID] == nil {
					t.Fatal("framework removed")
				}
				return
			}
			h.advance(2 * time.Second)
			if h.c.frameworks[fwID] != nil {
				t.Fatal("framework kept past the grace")
			}
		})
	}
}

// TestOrdinaryDisconnectStillRemoves: a stream that ends for any other
// reason (the client went away, a write timed out) is a disconnection
// under the framework's own failover timeout, as in Mesos.
func TestOrdinaryDisconnectStillRemoves(t *testing.T) {
	h := newHarness(t)
	fwID, s := h.subscribeSlow(&mesos.FrameworkInfo{FailoverTimeout: proto.Float64(0)}, "slow-1")
	s.closed = true
	h.step(func(c *core) { c.frameworkStreamClosed(fwID, "slow-1") })
	if h.c.frameworks[fwID] != nil {
		t.Fatal("framework kept")
	}
}

// busyAgentSink is an agent's stream whose client is still reading a
// burst (backlog events not yet written).
type busyAgentSink struct {
	recAgent
	backlog int
}

func (s *busyAgentSink) Backlog() (int, int64) { return s.backlog, int64(s.backlog) * 100 }
func (s *busyAgentSink) NotifyDrained()        {}

// TestAgentBusyStreamIsNotUnreachable: an agent still reading a burst of
// events does not miss pings (they wait behind the burst); once its
// stream is idle, unanswered pings mark it unreachable as before.
func TestAgentBusyStreamIsNotUnreachable(t *testing.T) {
	h := newHarness(t)
	s := &busyAgentSink{recAgent: recAgent{streamID: "agent-busy"}}
	var err error
	h.step(func(c *core) {
		s.id, err = c.registerAgent(s, s.streamID, &agentproto.AgentCall_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String("busy"), Resources: mustResources(t, "cpus:1;mem:128")},
			Endpoint:  proto.String("127.0.0.1:5051"),
			Version:   proto.String("1.11.1"),
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.backlog = 100000
	period := h.c.cfg.AgentPingTimeout * time.Duration(h.c.cfg.MaxAgentPingTimeouts+2)
	h.advance(3 * period)
	if _, ok := h.c.unreachable[s.id]; ok || !h.c.agents[s.id].connected() {
		t.Fatal("a busy agent was marked unreachable")
	}
	s.backlog = 0
	h.advance(period)
	if _, ok := h.c.unreachable[s.id]; !ok {
		t.Fatal("an idle agent that answers no ping is still reachable")
	}
}
