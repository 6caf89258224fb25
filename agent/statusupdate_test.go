package agent

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func upd(task, uuid string, st mesos.TaskState) *mesos.TaskStatus {
	return &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: st.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: []byte(uuid)}
}

func heads(u *updateStream) []string {
	var out []string
	for _, s := range u.pending {
		out = append(out, string(s.GetUuid()))
	}
	return out
}

// The stream sends one update at a time, in order, and moves on only when
// the head is acknowledged; duplicates are recognised.
func TestUpdateStreamOrder(t *testing.T) {
	u := newUpdateStream("F1", "T1", nil)
	for i, want := range []addResult{addHead, addQueued, addQueued} {
		s := []*mesos.TaskStatus{upd("T1", "u1", mesos.TaskState_TASK_STARTING), upd("T1", "u2", mesos.TaskState_TASK_RUNNING),
			upd("T1", "u3", mesos.TaskState_TASK_FINISHED)}[i]
		if got, rec := u.add(s); rec != nil || got != want {
			t.Fatalf("add %d: %v %v, want %v and no record", i, got, rec, want)
		}
	}
	if r, _ := u.add(upd("T1", "u2", mesos.TaskState_TASK_RUNNING)); r != addDuplicate {
		t.Errorf("re-added pending update: %v", r)
	}
	if _, _, err := u.ack([]byte("u2")); !errors.Is(err, errUnexpectedAck) {
		t.Errorf("ack of a non-head: %v", err)
	}
	for _, id := range []string{"u1", "u2"} {
		if s, rec, err := u.ack([]byte(id)); err != nil || rec != nil || string(s.GetUuid()) != id {
			t.Fatalf("ack %s: %v %v %v", id, s, rec, err)
		}
	}
	if s, _, err := u.ack([]byte("u1")); s != nil || err != nil {
		t.Errorf("duplicate ack: %v %v", s, err)
	}
	if r, _ := u.add(upd("T1", "u1", mesos.TaskState_TASK_STARTING)); r != addDuplicateAcked {
		t.Errorf("re-added acknowledged update: %v", r)
	}
	if !slices.Equal(heads(u), []string{"u3"}) || u.done() {
		t.Fatalf("pending %v done %v", heads(u), u.done())
	}
	u.ack([]byte("u3"))
	if !u.done() || u.head() != nil {
		t.Fatal("stream not done after its terminal update was acknowledged")
	}
}

// The head is due again 10 s after it was sent, then 20 s, 40 s, ...,
// capped at 10 min; an acknowledgement or a new connection restarts at
// 10 s.
func TestUpdateStreamBackoff(t *testing.T) {
	u := newUpdateStream("F1", "T1", nil)
	now := time.Unix(1000, 0)
	u.add(upd("T1", "u1", mesos.TaskState_TASK_RUNNING))
	u.add(upd("T1", "u2", mesos.TaskState_TASK_FINISHED))
	if u.due(now) || !u.ready() {
		t.Fatal("due before it was sent, or not ready to be sent")
	}
	u.sent(now)
	if u.ready() {
		t.Fatal("ready again right after it was sent")
	}
	var waits []time.Duration
	for range 9 {
		d := time.Duration(0)
		for !u.due(now.Add(d)) {
			d += time.Second
		}
		if u.due(now.Add(d - time.Nanosecond)) {
			t.Fatal("due early")
		}
		waits = append(waits, d)
		now = now.Add(d)
		u.sent(now)
	}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 600, 600, 600}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(waits, want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	u.ack([]byte("u1"))
	if u.due(now.Add(time.Hour)) || !u.ready() {
		t.Fatal("next head due before it was sent, or not ready")
	}
	u.sent(now)
	if !u.due(now.Add(10*time.Second)) || u.due(now.Add(10*time.Second-1)) {
		t.Fatal("backoff did not restart at 10s after an acknowledgement")
	}
	u.sent(now)
	u.resume()
	if !u.ready() {
		t.Fatal("not ready to be sent after resume")
	}
	u.sent(now)
	if !u.due(now.Add(10 * time.Second)) {
		t.Fatal("backoff did not restart at 10s after resume")
	}
}

// A journaled stream holds back what depends on a record until the agent
// reports it durable: an update is not sendable (nor due, nor the latest
// state) before its record is, and an acknowledgement pops the head only
// once its record is; meanwhile the head is not resent and a repeated
// acknowledgement is ignored.
func TestUpdateStreamHoldsUntilDurable(t *testing.T) {
	run := checkpoint.Run{AgentID: "A1", FrameworkID: "F1", ExecutorID: "E1", ContainerID: "C1"}
	u := newUpdateStream("F1", "T1", &run)
	now := time.Unix(1000, 0)
	res, rec := u.add(upd("T1", "u1", mesos.TaskState_TASK_STARTING))
	if res != addHead || rec == nil || rec.Kind != checkpoint.RecordUpdate || string(rec.Status.GetUuid()) != "u1" {
		t.Fatalf("add: %v %+v", res, rec)
	}
	if u.sendable() != nil || u.ready() || u.durable([]byte("u1")) {
		t.Fatal("an update is sendable before its record is durable")
	}
	if r, rec := u.add(upd("T1", "u1", mesos.TaskState_TASK_STARTING)); r != addDuplicate || rec != nil {
		t.Fatalf("a repeat of an update being written: %v %v", r, rec)
	}
	if _, rec := u.add(upd("T1", "u2", mesos.TaskState_TASK_RUNNING)); rec == nil {
		t.Fatal("second update without a record")
	}
	if _, _, err := u.ack([]byte("u1")); !errors.Is(err, errUnexpectedAck) {
		t.Fatalf("ack of an update never sent: %v", err)
	}
	u.synced()
	if h := u.sendable(); string(h.GetUuid()) != "u1" || !u.ready() || !u.durable([]byte("u1")) || u.durable([]byte("u2")) {
		t.Fatalf("after the first record: sendable %v ready %v", h, u.ready())
	}
	if got := u.latest(); got != mesos.TaskState_TASK_STARTING {
		t.Fatalf("latest state %v: the RUNNING record is not durable yet", got)
	}
	u.sent(now)
	h, rec, err := u.ack([]byte("u1"))
	if err != nil || string(h.GetUuid()) != "u1" || rec == nil || rec.Kind != checkpoint.RecordAck || string(rec.UUID) != "u1" {
		t.Fatalf("ack: %v %+v %v", h, rec, err)
	}
	if u.sendable() != nil || u.due(now.Add(time.Hour)) || !slices.Equal(heads(u), []string{"u1", "u2"}) {
		t.Fatal("the head is resent, or popped, before its acknowledgement is durable")
	}
	if h, rec, err := u.ack([]byte("u1")); h != nil || rec != nil || err != nil {
		t.Fatalf("repeated ack while the first is written: %v %v %v", h, rec, err)
	}
	u.ackSynced()
	if !slices.Equal(heads(u), []string{"u2"}) || !u.acked["u1"] {
		t.Fatalf("pending %v after the acknowledgement is durable", heads(u))
	}
	if u.sendable() != nil {
		t.Fatal("u2 sendable before its record is durable")
	}
	u.synced()
	if !u.ready() || u.latest() != mesos.TaskState_TASK_RUNNING {
		t.Fatal("u2 not ready once durable")
	}
}

// A checkpointed stream survives a restart: replaying its journal gives
// the same pending updates, in order, and the same duplicate detection.
func TestUpdateStreamReplay(t *testing.T) {
	store := checkpoint.New(t.TempDir())
	run := checkpoint.Run{AgentID: "A1", FrameworkID: "F1", ExecutorID: "E1", ContainerID: "C1"}
	write := func(rec *checkpoint.Record) {
		t.Helper()
		if rec == nil {
			t.Fatal("no record to journal")
		}
		if err := store.AppendRecord(run, "T1", *rec); err != nil {
			t.Fatal(err)
		}
	}
	add := func(u *updateStream, s *mesos.TaskStatus) {
		t.Helper()
		if _, rec := u.add(s); rec != nil {
			write(rec)
			u.synced()
		}
	}
	ack := func(u *updateStream, id string) {
		t.Helper()
		_, rec, err := u.ack([]byte(id))
		if err != nil {
			t.Fatal(err)
		}
		write(rec)
		u.ackSynced()
	}
	u := newUpdateStream("F1", "T1", &run)
	add(u, upd("T1", "u1", mesos.TaskState_TASK_STARTING))
	add(u, upd("T1", "u2", mesos.TaskState_TASK_RUNNING))
	ack(u, "u1")
	add(u, upd("T1", "u3", mesos.TaskState_TASK_FINISHED))
	add(u, upd("T1", "u2", mesos.TaskState_TASK_RUNNING)) // duplicate: not journaled

	records := func() []checkpoint.Record {
		if err := store.WriteAgent(&mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String("A1")}}); err != nil {
			t.Fatal(err)
		}
		store.WriteFramework("A1", &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F1")}})
		store.WriteExecutor(run, &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("E1")}})
		store.WriteTask(run, &mesos.TaskInfo{TaskId: &mesos.TaskID{Value: proto.String("T1")}})
		st, err := store.Recover(true)
		if err != nil {
			t.Fatal(err)
		}
		return st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Tasks["T1"].Records
	}
	recs := records()
	if len(recs) != 4 {
		t.Fatalf("%d records journaled, want 4", len(recs))
	}
	r, err := replayStream("F1", "T1", recs, &run)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(heads(r), []string{"u2", "u3"}) || r.done() || !r.ready() {
		t.Fatalf("replayed pending %v, ready %v", heads(r), r.ready())
	}
	if res, _ := r.add(upd("T1", "u1", mesos.TaskState_TASK_STARTING)); res != addDuplicateAcked {
		t.Errorf("replayed stream forgot u1 was acknowledged: %v", res)
	}
	// Acknowledging after the restart is journaled too.
	ack(r, "u2")
	ack(r, "u3")
	r2, err := replayStream("F1", "T1", records(), &run)
	if err != nil || !r2.done() {
		t.Fatalf("second replay: done=%v err=%v", r2 != nil && r2.done(), err)
	}
}
