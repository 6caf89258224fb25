package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// A master that answers SUBSCRIBE with status: Run with Reconnect gives
// up at a refusal (4xx) and keeps trying while the master is unavailable
// (5xx).
func TestReconnectStopsAtRefusal(t *testing.T) {
	for _, tc := range []struct {
		status    int
		wantStops bool
	}{
		{http.StatusForbidden, true},
		{http.StatusBadRequest, true},
		{http.StatusServiceUnavailable, false},
	} {
		var attempts atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attempts.Add(1)
			http.Error(w, "no", tc.status)
		}))
		c := New(Config{Master: srv.URL, Reconnect: true,
			Framework: &mesos.FrameworkInfo{Name: proto.String("t"), Id: &mesos.FrameworkID{Value: proto.String("F1")}}})
		ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
		err := c.Run(ctx, func(context.Context, *schedpb.Event) error { return nil })
		cancel()
		srv.Close()
		var ce *CallError
		switch {
		case tc.wantStops && (!errors.As(err, &ce) || ce.Status != tc.status || attempts.Load() != 1):
			t.Errorf("status %d: Run = %v after %d attempts, want the refusal after 1", tc.status, err, attempts.Load())
		case !tc.wantStops && (!errors.Is(err, context.DeadlineExceeded) || attempts.Load() < 2):
			t.Errorf("status %d: Run = %v after %d attempts, want retries until the deadline", tc.status, err, attempts.Load())
		}
	}
}

// Reconcile names at most MaxReconcileBatch tasks a call, every task once
// and in order; with no task it sends one implicit reconciliation.
func TestReconcileBatches(t *testing.T) {
	var calls [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var call schedpb.Call
		if err := codec.Unmarshal(codec.JSON, b, &call); err != nil || call.GetType() != schedpb.Call_RECONCILE {
			http.Error(w, fmt.Sprint("bad call ", err), http.StatusBadRequest)
			return
		}
		var ids []string
		for _, tk := range call.GetReconcile().GetTasks() {
			ids = append(ids, tk.GetTaskId().GetValue())
		}
		calls = append(calls, ids)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := New(Config{Master: srv.URL, Framework: &mesos.FrameworkInfo{Name: proto.String("t"), Id: &mesos.FrameworkID{Value: proto.String("F1")}}})
	const n = 2*MaxReconcileBatch + 7
	var tasks []*schedpb.Call_Reconcile_Task
	for i := 0; i < n; i++ {
		tasks = append(tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprint(i))}})
	}
	if err := c.Reconcile(context.Background(), tasks...); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 || len(calls[0]) != MaxReconcileBatch || len(calls[2]) != 7 {
		t.Fatalf("calls of %d tasks", lens(calls))
	}
	var i int
	for _, ids := range calls {
		for _, id := range ids {
			if id != fmt.Sprint(i) {
				t.Fatalf("task %d is %s", i, id)
			}
			i++
		}
	}
	calls = nil
	if err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || len(calls[0]) != 0 {
		t.Fatalf("implicit reconciliation sent calls of %d tasks", lens(calls))
	}
}

func lens(calls [][]string) []int {
	var out []int
	for _, c := range calls {
		out = append(out, len(c))
	}
	return out
}

// An update resent after its acknowledgement (same uuid) is acknowledged
// again but not handed to the Handler a second time.
func TestDuplicateUpdateDropped(t *testing.T) {
	update := func(uuid string) *schedpb.Event {
		return &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: &mesos.TaskStatus{
			TaskId: &mesos.TaskID{Value: proto.String("t1")}, AgentId: &mesos.AgentID{Value: proto.String("A1")},
			State: mesos.TaskState_TASK_RUNNING.Enum(), Uuid: []byte(uuid),
		}}}
	}
	events := []*schedpb.Event{
		{Type: schedpb.Event_SUBSCRIBED.Enum(), Subscribed: &schedpb.Event_Subscribed{FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}}},
		update("0123456789abcdef"), update("0123456789abcdef"), update("fedcba9876543210"),
	}
	var acks atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var call schedpb.Call
		if err := codec.Unmarshal(codec.JSON, b, &call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if call.GetType() == schedpb.Call_ACKNOWLEDGE {
			acks.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Mesos-Stream-Id", "s1")
		w.Header().Set("Content-Type", "application/json")
		wr := recordio.NewWriter(w)
		for _, ev := range events {
			rec, _ := codec.Marshal(codec.JSON, ev)
			if err := wr.Write(rec); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := New(Config{Master: srv.URL, AutoAcknowledge: true, Framework: &mesos.FrameworkInfo{Name: proto.String("t")}})
	var seen []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Run(ctx, func(_ context.Context, ev *schedpb.Event) error {
		if ev.GetType() != schedpb.Event_UPDATE {
			return nil
		}
		seen = append(seen, string(ev.GetUpdate().GetStatus().GetUuid()))
		if len(seen) == 2 {
			return ErrDone
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] == seen[1] {
		t.Errorf("handler saw updates %q, want each uuid once", seen)
	}
	// The duplicate was acknowledged again; the last update's
	// acknowledgement follows the handler's ErrDone, so it is not sent.
	if got := acks.Load(); got != 2 {
		t.Errorf("%d acknowledgements, want 2 (the first update and its duplicate)", got)
	}
}
