package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// lossyMaster is a scheduler endpoint that offers one agent, drops the
// connection of every ACCEPT without an answer (as a master that dies
// mid-call), and answers reconciliation of an unknown task with TASK_GONE,
// as a master that never got the launch does.
type lossyMaster struct {
	mu      sync.Mutex
	events  chan *schedpb.Event
	accepts int
	asked   []string
}

func (m *lossyMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	call := &schedpb.Call{}
	if err := codec.Unmarshal(codec.JSON, body, call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch call.GetType() {
	case schedpb.Call_SUBSCRIBE:
		w.Header().Set("Content-Type", codec.MediaJSON)
		w.Header().Set("Mesos-Stream-Id", "s1")
		w.WriteHeader(http.StatusOK)
		send := func(ev *schedpb.Event) {
			b, _ := codec.Marshal(codec.JSON, ev)
			recordio.NewWriter(w).Write(b)
			w.(http.Flusher).Flush()
		}
		send(&schedpb.Event{Type: schedpb.Event_SUBSCRIBED.Enum(), Subscribed: &schedpb.Event_Subscribed{
			FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, HeartbeatIntervalSeconds: proto.Float64(15)}})
		send(&schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{Offers: []*mesos.Offer{{
			Id: &mesos.OfferID{Value: proto.String("O1")}, FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")},
			AgentId: &mesos.AgentID{Value: proto.String("S1")}, Hostname: proto.String("h"),
			Resources: []*mesos.Resource{scalarOffered("cpus", 1), scalarOffered("mem", 128)},
		}}}})
		for {
			select {
			case ev := <-m.events:
				send(ev)
			case <-r.Context().Done():
				return
			}
		}
	case schedpb.Call_ACCEPT:
		m.mu.Lock()
		m.accepts++
		m.mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case schedpb.Call_RECONCILE:
		w.WriteHeader(http.StatusAccepted)
		for _, rt := range call.GetReconcile().GetTasks() {
			m.mu.Lock()
			m.asked = append(m.asked, rt.GetTaskId().GetValue()+"@"+rt.GetAgentId().GetValue())
			m.mu.Unlock()
			m.events <- &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: &mesos.TaskStatus{
				TaskId: rt.GetTaskId(), AgentId: rt.GetAgentId(), State: mesos.TaskState_TASK_GONE.Enum(),
				Source: mesos.TaskStatus_SOURCE_MASTER.Enum(), Reason: mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
				Message: proto.String("Reconciliation: Task is unknown to the agent")}}}
		}
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// scalarOffered is an unreserved scalar offered to role "*".
func scalarOffered(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("*")}}
}

// TestExecuteAsksAboutAnUnconfirmedLaunch: when the ACCEPT gets no answer,
// mezzo execute does not give up or wait forever: it asks the master about
// the task by name and reports what it hears.
func TestExecuteAsksAboutAnUnconfirmedLaunch(t *testing.T) {
	m := &lossyMaster{events: make(chan *schedpb.Event, 8)}
	srv := httptest.NewServer(m)
	defer srv.Close()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runExecute([]string{"--master=" + strings.TrimPrefix(srv.URL, "http://"), "--name=t", "--command=true",
			"--resources=cpus:0.1;mem:32", "--content_type=json"}, &out, &errOut)
	}()
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("mezzo execute did not end:\n%s\n%s", out.String(), errOut.String())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.accepts != 1 || len(m.asked) == 0 || m.asked[0] != "t@S1" {
		t.Errorf("accepts %d, reconciliation asked about %v", m.accepts, m.asked)
	}
	for _, want := range []string{"Could not confirm the launch", "TASK_GONE", "Reconciliation: Task is unknown to the agent"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, out.String(), errOut.String())
		}
	}
}
