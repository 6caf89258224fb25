package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// ckptFixture is an agent whose checkpointing framework F1 has executor
// E1 subscribed (no process) with tasks T1..Tn delivered, everything
// checkpointed so far committed, and its commits in the test's hands.
type ckptFixture struct {
	a    *Agent
	m    *fakeMaster
	sv   *serving
	url  string
	conn *execConn
	// entered gets the size of each batch the checkpointer commits;
	// release lets it commit (with the error in fail, if set).
	entered chan int
	release chan error
}

func newCkptFixture(t *testing.T, tasks int) *ckptFixture {
	t.Helper()
	f := &ckptFixture{m: newFakeMaster(t), entered: make(chan int, 100), release: make(chan error, 100)}
	f.a, f.sv = startServing(t, f.m, nil)
	a := f.a
	if err := a.do(func() {
		fw, ex := registeringExecutor(t, a, tasks)
		if ex == nil {
			return
		}
		for _, id := range ex.queue[0] {
			a.checkpointTask(ex, ex.tasks[id].info)
		}
		f.conn = a.subscribe(fw, ex, &execpb.Call_Subscribe{})
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.syncCheckpoint(); err != nil {
		t.Fatal(err)
	}
	// From now on every commit waits for the test.
	a.do(func() {
		a.commit = func(b *checkpoint.Batch) error {
			f.entered <- b.Len()
			if err := <-f.release; err != nil {
				return err
			}
			return b.Commit()
		}
	})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		close(f.release) // let a commit in progress end
		srv.Close()
	})
	f.url = srv.URL + "/api/v1/executor"
	return f
}

// update posts an executor UPDATE of a task and returns its status code
// on the channel.
func (f *ckptFixture) update(t *testing.T, taskID string, state mesos.TaskState, uuid []byte) <-chan int {
	c := call(execpb.Call_UPDATE, "F1", "E1")
	c.Update = &execpb.Call_Update{Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(taskID)},
		State: state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: uuid}}
	body := enc(t, codec.Protobuf, c)
	out := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", codec.Protobuf.MediaType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out <- resp.StatusCode
	}()
	return out
}

// acknowledged returns the uuids the executor was told were
// acknowledged so far.
func (f *ckptFixture) acknowledged() []string {
	var out []string
	evs, _ := f.conn.events.take()
	for _, ev := range evs {
		if ev.GetType() == execpb.Event_ACKNOWLEDGED {
			out = append(out, string(ev.GetAcknowledged().GetUuid()))
		}
	}
	return out
}

func recvWithin[T any](t *testing.T, c <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
		var zero T
		return zero
	}
}

// notWithin fails the test if c yields something within d: what must
// wait for a commit the test holds.
func notWithin[T any](t *testing.T, c <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("%s before the commit: %v", what, v)
	case <-time.After(d):
	}
}

// An executor's UPDATE is answered 202, and forwarded to the master,
// only once its record is durable; the framework's acknowledgement
// reaches the executor only once its record is durable too.
func TestUpdateWaitsForItsCommit(t *testing.T) {
	f := newCkptFixture(t, 1)
	uuid := newUUID()
	resp := f.update(t, "T1", mesos.TaskState_TASK_RUNNING, uuid)
	if n := recvWithin(t, f.entered, 10*time.Second, "the update's commit"); n != 1 {
		t.Fatalf("batch of %d writes, want the update's record", n)
	}
	notWithin(t, resp, 100*time.Millisecond, "202")
	if got := f.m.statuses("T1"); len(got) != 0 {
		t.Fatalf("the master got %v before the update was durable", states(got))
	}
	// A repeat of the update (an executor retrying) waits for the same
	// commit.
	again := f.update(t, "T1", mesos.TaskState_TASK_RUNNING, uuid)
	notWithin(t, again, 50*time.Millisecond, "202 to the repeat")

	f.release <- nil
	if code := recvWithin(t, resp, 10*time.Second, "the UPDATE's answer"); code != http.StatusAccepted {
		t.Fatalf("UPDATE: %d", code)
	}
	if code := recvWithin(t, again, 10*time.Second, "the repeat's answer"); code != http.StatusAccepted {
		t.Fatalf("repeated UPDATE: %d", code)
	}
	f.m.waitState(t, "T1", mesos.TaskState_TASK_RUNNING)
	st, err := checkpoint.New(f.a.cfg.WorkDir).Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	var recs []checkpoint.Record
	for _, ex := range st.Agent.Frameworks["F1"].Executors {
		for _, r := range ex.Runs {
			recs = append(recs, r.Tasks["T1"].Records...)
		}
	}
	if len(recs) != 1 || recs[0].Kind != checkpoint.RecordUpdate || recs[0].Status.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("journal %+v", recs)
	}

	// The fake master acknowledged at once: the ACK record is being
	// committed, and the executor hears of it only after.
	recvWithin(t, f.entered, 10*time.Second, "the acknowledgement's commit")
	time.Sleep(50 * time.Millisecond) // an ACKNOWLEDGED sent too early would be queued by now
	if got := f.acknowledged(); len(got) != 0 {
		t.Fatalf("ACKNOWLEDGED before the acknowledgement was durable: %d", len(got))
	}
	f.release <- nil
	waitFor(t, 10*time.Second, "the acknowledgement to take effect", func() error {
		var n int
		f.a.do(func() { n = len(f.a.st.frameworks["F1"].updates["T1"].pending) })
		if n != 0 {
			return fmt.Errorf("%d updates pending", n)
		}
		return nil
	})
	if got := f.acknowledged(); len(got) != 1 || got[0] != string(uuid) {
		t.Fatalf("executor told %q acknowledged", got)
	}
}

// Updates that arrive while a batch is being committed are committed
// together in the next one.
func TestCheckpointGroupCommit(t *testing.T) {
	const n = 6
	f := newCkptFixture(t, n)
	f.m.mu.Lock()
	f.m.autoAck = false
	f.m.mu.Unlock()
	first := f.update(t, "T1", mesos.TaskState_TASK_RUNNING, newUUID())
	recvWithin(t, f.entered, 10*time.Second, "the first commit")
	var rest []<-chan int
	for i := 2; i <= n; i++ {
		rest = append(rest, f.update(t, fmt.Sprintf("T%d", i), mesos.TaskState_TASK_RUNNING, newUUID()))
	}
	waitFor(t, 10*time.Second, "the other updates to reach the agent", func() error {
		var got int
		f.a.do(func() { got = len(f.a.st.frameworks["F1"].updates) })
		if got != n {
			return fmt.Errorf("%d streams", got)
		}
		return nil
	})
	f.release <- nil
	if code := recvWithin(t, first, 10*time.Second, "first answer"); code != http.StatusAccepted {
		t.Fatalf("first UPDATE: %d", code)
	}
	if got := recvWithin(t, f.entered, 10*time.Second, "the second commit"); got != n-1 {
		t.Fatalf("second batch holds %d writes, want the %d updates that waited", got, n-1)
	}
	f.release <- nil
	for i, c := range rest {
		if code := recvWithin(t, c, 10*time.Second, "answers"); code != http.StatusAccepted {
			t.Fatalf("UPDATE of T%d: %d", i+2, code)
		}
	}
	for i := 1; i <= n; i++ {
		f.m.waitState(t, fmt.Sprintf("T%d", i), mesos.TaskState_TASK_RUNNING)
	}
}

// A failed commit stops the agent: the update is not acknowledged to the
// executor (500) nor forwarded, later updates are refused at once, and
// Serve returns ErrCheckpoint.
func TestCheckpointFailureStopsAgent(t *testing.T) {
	f := newCkptFixture(t, 1)
	f.sv.allow = ErrCheckpoint
	resp := f.update(t, "T1", mesos.TaskState_TASK_RUNNING, newUUID())
	recvWithin(t, f.entered, 10*time.Second, "the commit")
	f.release <- errors.New("injected: no space left on device")
	if code := recvWithin(t, resp, 10*time.Second, "the UPDATE's answer"); code != http.StatusInternalServerError {
		t.Fatalf("UPDATE after a failed commit: %d, want 500", code)
	}
	recvWithin(t, f.sv.done, 10*time.Second, "Serve to return")
	if !errors.Is(f.sv.err, ErrCheckpoint) {
		t.Fatalf("Serve: %v, want ErrCheckpoint", f.sv.err)
	}
	if code := recvWithin(t, f.update(t, "T1", mesos.TaskState_TASK_FINISHED, newUUID()), 10*time.Second, "a later UPDATE"); code != http.StatusInternalServerError {
		t.Fatalf("UPDATE after the checkpoint failed: %d, want 500", code)
	}
	if got := f.m.statuses("T1"); len(got) != 0 {
		t.Fatalf("the master got %v, which is not durable", states(got))
	}
	select {
	case n := <-f.entered:
		t.Fatalf("a batch of %d was committed after a failed commit", n)
	default:
	}
	// Nothing of the failed batch is on disk.
	dir := filepath.Join(f.a.cfg.WorkDir, "meta")
	st, err := checkpoint.New(f.a.cfg.WorkDir).Recover(true)
	if err != nil {
		t.Fatalf("recover %s: %v", dir, err)
	}
	for _, ex := range st.Agent.Frameworks["F1"].Executors {
		for _, r := range ex.Runs {
			if n := len(r.Tasks["T1"].Records); n != 0 {
				t.Fatalf("%d records on disk", n)
			}
		}
	}
}
