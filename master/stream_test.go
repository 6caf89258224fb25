package master

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

func heartbeat() *schedpb.Event { return &schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()} }

// retriedUpdate is a status update with a uuid made from uuid, none when
// it is "".
func retriedUpdate(task, uuid string) *schedpb.Event {
	st := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: mesos.TaskState_TASK_RUNNING.Enum()}
	if uuid != "" {
		st.Uuid = []byte(uuid16(uuid))
	}
	return updateEvent(st)
}

// drainAll plays the writer: it takes and "writes" everything queued.
func drainAll(o *outbox) (n int) {
	for {
		batch, _, _ := o.take()
		if len(batch) == 0 {
			return n
		}
		n += len(batch)
		o.wrote(batch)
	}
}

// TestOutboxCoalesces: a HEARTBEAT is not queued behind other events, nor
// (behind a long backlog) a retry of a status update the client has yet
// to read; both are queued again once the stream is idle.
func TestOutboxCoalesces(t *testing.T) {
	o := newFrameworkOutbox(nil)
	for i := 0; i < drainLowWater; i++ {
		o.Send(retriedUpdate("other", ""))
	}
	drainAll(o)
	o.Send(heartbeat())
	for i := 0; i < drainLowWater-1; i++ {
		o.Send(retriedUpdate("filler", ""))
	}
	o.Send(retriedUpdate("t1", "u1"))
	o.Send(heartbeat())
	o.Send(retriedUpdate("t1", "u1"))
	o.Send(retriedUpdate("t1", "u2"))
	o.Send(retriedUpdate("t2", "")) // no uuid: never coalesced
	o.Send(retriedUpdate("t2", ""))
	if n, _ := o.Backlog(); n != drainLowWater+4 {
		t.Fatalf("backlog %d events, want %d", n, drainLowWater+4)
	}
	if got := drainAll(o); got != drainLowWater+4 {
		t.Fatalf("wrote %d", got)
	}
	if n, b := o.Backlog(); n != 0 || b != 0 {
		t.Fatalf("backlog %d events, %d bytes after writing all", n, b)
	}
	o.Send(heartbeat())
	o.Send(retriedUpdate("t1", "u1"))
	if n, _ := o.Backlog(); n != 2 {
		t.Fatalf("backlog %d events after the writer caught up, want 2", n)
	}
}

// TestOutboxBound: a framework's outbox cuts its stream when its bytes
// would pass the bound, and its writer ends with errStreamOverflow; an
// operator stream's outbox keeps its bound in events.
func TestOutboxBound(t *testing.T) {
	o := newOutboxWith(outboxLimits{maxBytes: 10 * 1024})
	var sent int
	for !o.Overflowed() {
		o.Send(updateEvent(&mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprint("task-", sent))},
			State: mesos.TaskState_TASK_RUNNING.Enum()}))
		sent++
		if sent > 10000 {
			t.Fatal("no overflow")
		}
	}
	if sent < 50 {
		t.Fatalf("cut after %d small events", sent)
	}
	if n, b := o.Backlog(); n != 0 || b != 0 {
		t.Fatalf("a cut outbox still holds %d events, %d bytes", n, b)
	}
	rec := httptest.NewRecorder()
	st, err := httpapi.StartStream(rec, codec.JSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.pump(context.Background(), st); !errors.Is(err, errStreamOverflow) {
		t.Fatalf("pump: %v", err)
	}

	op := newOutbox()
	for i := 0; i < maxQueued; i++ {
		operatorOutbox{op}.Send(&masterpb.Event{Type: masterpb.Event_TASK_ADDED.Enum()})
	}
	if op.Overflowed() {
		t.Fatal("operator stream cut at its bound")
	}
	operatorOutbox{op}.Send(&masterpb.Event{Type: masterpb.Event_TASK_ADDED.Enum()})
	if !op.Overflowed() {
		t.Fatal("operator stream not cut past its bound")
	}
}

// TestOutboxDrainReport: the writer reports a drain once asked and the
// backlog is low, at once when it already is, and only once per request.
func TestOutboxDrainReport(t *testing.T) {
	drains := make(chan struct{}, 10)
	o := newFrameworkOutbox(func() { drains <- struct{}{} })
	for i := 0; i < 2*drainLowWater; i++ {
		o.Send(retriedUpdate(fmt.Sprint(i), ""))
	}
	o.NotifyDrained()
	rec := httptest.NewRecorder()
	st, err := httpapi.StartStream(rec, codec.JSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.pump(ctx, st) }()
	eventually(t, 5*time.Second, "the drain report", func() bool { return len(drains) == 1 })
	o.NotifyDrained() // already drained: reported at once
	eventually(t, 5*time.Second, "the second drain report", func() bool { return len(drains) == 2 })
	o.Send(heartbeat())
	o.Close()
	if err := <-done; err != nil {
		t.Fatalf("pump: %v", err)
	}
	cancel()
	if len(drains) != 2 {
		t.Fatalf("%d drain reports, want 2", len(drains))
	}
}

// TestLargeReconcileOverHTTP: through the real HTTP stream, a framework
// with failover_timeout 0 that stalls, then reads slowly, gets the answer
// to a RECONCILE of 20,000 tasks, every one once; the stream stays open
// and never holds much more than answerWindow events.
func TestLargeReconcileOverHTTP(t *testing.T) {
	m, srv := testMaster(t)
	info := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("slow"),
		FailoverTimeout: proto.Float64(0), Capabilities: partitionAware}
	s, sub, _ := subscribeJSON(t, srv, info)
	fwID := sub.GetSubscribed().GetFrameworkId()
	const n = 20000
	call := reconcileCall()
	for i := 0; i < n; i++ {
		call.Reconcile.Tasks = append(call.Reconcile.Tasks, &schedpb.Call_Reconcile_Task{
			TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("unknown-%05d", i))}})
	}
	call.FrameworkId = fwID
	resp := post(t, srv.URL+"/api/v1/scheduler", "application/json", jsonBody(t, call), map[string]string{"Mesos-Stream-Id": s.id})
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("RECONCILE: %s", resp.Status)
	}
	// A stalled answer fails the test rather than hanging it.
	watchdog := time.AfterFunc(30*time.Second, func() { s.resp.Body.Close() })
	defer watchdog.Stop()
	time.Sleep(300 * time.Millisecond) // the client stalls: the stream fills
	seen := map[string]int{}
	for read := 0; len(seen) < n; read++ {
		ev := &schedpb.Event{}
		s.next(ev)
		if ev.GetType() != schedpb.Event_UPDATE {
			continue
		}
		st := ev.GetUpdate().GetStatus()
		if st.GetState() != mesos.TaskState_TASK_UNKNOWN {
			t.Fatalf("answer %v", st)
		}
		if seen[st.GetTaskId().GetValue()]++; seen[st.GetTaskId().GetValue()] > 1 {
			t.Fatalf("%s answered twice", st.GetTaskId().GetValue())
		}
		if read%1000 == 999 {
			time.Sleep(20 * time.Millisecond) // a slow reader
		}
	}
	var peak int
	var subscribed bool
	if err := m.do(func(c *core) {
		f := c.frameworks[fwID.GetValue()]
		if f != nil && f.streamID == s.id {
			subscribed = true
			peak, _ = f.stream.(*outbox).Peak()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !subscribed {
		t.Fatal("the framework lost its subscription")
	}
	t.Logf("peak backlog: %d events", peak)
	if peak > answerWindow+16 || peak < answerWindow/2 {
		t.Fatalf("peak backlog %d events, want about answerWindow (%d)", peak, answerWindow)
	}
	// The stream is still good for more.
	post(t, srv.URL+"/api/v1/scheduler", "application/json", jsonBody(t, reconcileCallFor(fwID, "one-more")), map[string]string{"Mesos-Stream-Id": s.id}).Body.Close()
	for {
		ev := &schedpb.Event{}
		s.next(ev)
		if ev.GetUpdate().GetStatus().GetTaskId().GetValue() == "one-more" {
			break
		}
	}
}

func reconcileCallFor(id *mesos.FrameworkID, tasks ...string) *schedpb.Call {
	c := reconcileCall(tasks...)
	c.FrameworkId = id
	return c
}

// BenchmarkOutboxSend is the core's cost of sending a status update on a
// framework's stream (the writer's side not included): per event.
func BenchmarkOutboxSend(b *testing.B) {
	evs := make([]*schedpb.Event, 1000)
	for i := range evs {
		evs[i] = updateEvent(&mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("task-%04d", i))},
			AgentId: agentID("M-S0"), State: mesos.TaskState_TASK_RUNNING.Enum(), Uuid: []byte(uuid16(fmt.Sprint(i))),
			Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Timestamp: proto.Float64(1000)})
	}
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("backlog=%d", batch), func(b *testing.B) {
			o := newFrameworkOutbox(nil)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				o.Send(evs[i%batch])
				if i%batch == batch-1 {
					b.StopTimer()
					if drainAll(o) != batch {
						b.Fatal("events lost")
					}
					b.StartTimer()
				}
			}
		})
	}
}
