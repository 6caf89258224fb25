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
		if got, err := u.add(s); err != nil || got != want {
			t.Fatalf("add %d: %v %v, want %v", i, got, err, want)
		}
	}
	if r, _ := u.add(upd("T1", "u2", mesos.TaskState_TASK_RUNNING)); r != addDuplicate {
		t.Errorf("re-added pending update: %v", r)
	}
	if _, err := u.ack([]byte("u2")); !errors.Is(err, errUnexpectedAck) {
		t.Errorf("ack of a non-head: %v", err)
	}
	for _, id := range []string{"u1", "u2"} {
		if s, err := u.ack([]byte(id)); err != nil || string(s.GetUuid()) != id {
			t.Fatalf("ack %s: %v %v", id, s, err)
		}
	}
	if s, err := u.ack([]byte("u1")); s != nil || err != nil {
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
	if u.due(now) {
		t.Fatal("due before it was sent")
	}
	u.sent(now)
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
	if u.due(now.Add(time.Hour)) {
		t.Fatal("next head due before it was sent")
	}
	u.sent(now)
	if !u.due(now.Add(10*time.Second)) || u.due(now.Add(10*time.Second-1)) {
		t.Fatal("backoff did not restart at 10s after an acknowledgement")
	}
	u.sent(now)
	u.resume()
	u.sent(now)
	if !u.due(now.Add(10 * time.Second)) {
		t.Fatal("backoff did not restart at 10s after resume")
	}
}

// A checkpointed stream survives a restart: replaying its journal gives
// the same pending updates, in order, and the same duplicate detection.
func TestUpdateStreamReplay(t *testing.T) {
	store := checkpoint.New(t.TempDir())
	run := checkpoint.Run{AgentID: "A1", FrameworkID: "F1", ExecutorID: "E1", ContainerID: "C1"}
	j := func(rec checkpoint.Record) error { return store.AppendRecord(run, "T1", rec) }
	u := newUpdateStream("F1", "T1", j)
	u.add(upd("T1", "u1", mesos.TaskState_TASK_STARTING))
	u.add(upd("T1", "u2", mesos.TaskState_TASK_RUNNING))
	u.ack([]byte("u1"))
	u.add(upd("T1", "u3", mesos.TaskState_TASK_FINISHED))
	u.add(upd("T1", "u2", mesos.TaskState_TASK_RUNNING)) // duplicate: not journaled

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
	r, err := replayStream("F1", "T1", recs, j)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(heads(r), []string{"u2", "u3"}) || r.done() {
		t.Fatalf("replayed pending %v", heads(r))
	}
	if res, _ := r.add(upd("T1", "u1", mesos.TaskState_TASK_STARTING)); res != addDuplicateAcked {
		t.Errorf("replayed stream forgot u1 was acknowledged: %v", res)
	}
	// Acknowledging after the restart is journaled too.
	r.ack([]byte("u2"))
	r.ack([]byte("u3"))
	r2, err := replayStream("F1", "T1", records(), j)
	if err != nil || !r2.done() {
		t.Fatalf("second replay: done=%v err=%v", r2 != nil && r2.done(), err)
	}
}

// A journal that fails refuses the update: nothing is acknowledged that
// is not durable.
func TestUpdateStreamJournalFailure(t *testing.T) {
	fail := errors.New("disk full")
	u := newUpdateStream("F1", "T1", func(checkpoint.Record) error { return fail })
	if _, err := u.add(upd("T1", "u1", mesos.TaskState_TASK_RUNNING)); !errors.Is(err, fail) {
		t.Fatalf("add: %v", err)
	}
	if u.head() != nil || u.received["u1"] {
		t.Fatal("a failed update was queued")
	}
}
