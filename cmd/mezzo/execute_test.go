package main

import (
	"bytes"
	"flag"
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
	"github.com/mezzo-project/mezzo/resources"
	"github.com/mezzo-project/mezzo/sdk/offers"
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

// offerFor is an offer of the text-form resources, allocated to role.
func offerFor(t *testing.T, text, role string) *mesos.Offer {
	t.Helper()
	rs, err := resources.Parse(text, "*")
	if err != nil {
		t.Fatal(err)
	}
	return &mesos.Offer{Id: &mesos.OfferID{Value: proto.String("O1")}, FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")},
		AgentId: &mesos.AgentID{Value: proto.String("S1")}, Hostname: proto.String("h"),
		Resources: resources.ToProto(rs.Allocate(role), resources.FormatPostRefinement)}
}

// textOf is resources in the text form, checking they are allocated to
// role.
func textOf(t *testing.T, rs []*mesos.Resource, role string) string {
	t.Helper()
	r, err := resources.FromProto(rs)
	if err != nil {
		t.Fatal(err)
	}
	if !r.AllocatedTo(role).Equal(r) {
		t.Errorf("%v: not all allocated to %s", r, role)
	}
	return resources.Format(r.Unallocate())
}

// TestExecuteMatchesRolesAndReservations: the task's resources come from
// the offer as given, else from the role's static reservation, with
// named scalars and sets; a task group's tasks and its executor are
// placed together, and an offer that cannot hold them is not used.
func TestExecuteMatchesRolesAndReservations(t *testing.T) {
	newEx := func(args ...string) *execution {
		t.Helper()
		var f executeFlags
		fs := flag.NewFlagSet("execute", flag.ContinueOnError)
		f.add(fs)
		if err := fs.Parse(append([]string{"--master=127.0.0.1:1"}, args...)); err != nil {
			t.Fatal(err)
		}
		ex, err := newExecution(&f, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	cases := []struct {
		args         []string
		offer, taken string
	}{
		{[]string{"--name=t", "--command=true", "--resources=cpus:1;mem:128"},
			"cpus:2;mem:256", "cpus:1;mem:128"},
		{[]string{"--name=t", "--command=true", "--role=web", "--resources=cpus:1;mem:128"},
			"cpus:4;mem:1024;cpus(web):2;mem(web):256", "cpus:1;mem:128"},
		{[]string{"--name=t", "--command=true", "--role=web", "--resources=cpus:1;mem:128"},
			"cpus:0.5;mem:1024;cpus(web):2;mem(web):256", "cpus(web):1;mem(web):128"},
		{[]string{"--name=t", "--command=true", "--role=web", "--resources=cpus:1;gpus:1;zones:{eu}"},
			"cpus:2;gpus(web):1;zones:{eu,us}", "cpus:1;gpus(web):1;zones:{eu}"},
		{[]string{"--name=t", "--command=true", "--role=web", "--resources=cpus(web):1"},
			"cpus:8;cpus(web):1", "cpus(web):1"},
	}
	for _, tc := range cases {
		ex := newEx(tc.args...)
		role := ex.f.role
		op, ids, ok := ex.operation(offers.NewPool(offerFor(t, tc.offer, role), role), offerFor(t, tc.offer, role))
		if !ok {
			t.Errorf("%v on %s: no match", tc.args, tc.offer)
			continue
		}
		task := op.GetLaunch().GetTaskInfos()[0]
		if op.GetType() != mesos.Offer_Operation_LAUNCH || len(ids) != 1 || task.GetAgentId().GetValue() != "S1" {
			t.Errorf("%v: operation %v", tc.args, op)
		}
		if got := textOf(t, task.GetResources(), role); got != tc.taken {
			t.Errorf("%v on %s: took %s, want %s", tc.args, tc.offer, got, tc.taken)
		}
	}
	// Offers that cannot hold the task: too small, or reserved elsewhere.
	for _, offer := range []string{"cpus:0.5;mem:1024", "cpus(db):2;mem:1024"} {
		ex := newEx("--name=t", "--command=true", "--role=web", "--resources=cpus:1;mem:128")
		if _, _, ok := ex.operation(offers.NewPool(offerFor(t, offer, "web"), "web"), offerFor(t, offer, "web")); ok {
			t.Errorf("matched %s", offer)
		}
	}

	group := `{"tasks":[
	  {"name":"g1","task_id":{"value":"g1"},"agent_id":{"value":""},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}],"command":{"value":"true"}},
	  {"name":"g2","task_id":{"value":"g2"},"agent_id":{"value":""},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}],"command":{"value":"true"}}]}`
	ex := newEx("--task_group="+group, "--role=web")
	// The group's tasks fit, but not with its executor.
	small := offerFor(t, "cpus(web):1;mem(web):1024;disk(web):100", "web")
	if _, _, ok := ex.operation(offers.NewPool(small, "web"), small); ok {
		t.Error("matched a group whose executor has no room")
	}
	o := offerFor(t, "cpus(web):1.1;mem(web):1024;disk(web):100", "web")
	op, ids, ok := ex.operation(offers.NewPool(o, "web"), o)
	if !ok || op.GetType() != mesos.Offer_Operation_LAUNCH_GROUP || strings.Join(ids, ",") != "g1,g2" {
		t.Fatalf("group: ok=%v ids=%v op=%v", ok, ids, op)
	}
	lg := op.GetLaunchGroup()
	if got := textOf(t, lg.GetExecutor().GetResources(), "web"); got != "cpus(web):0.1;disk(web):10;mem(web):32" {
		t.Errorf("executor took %s", got)
	}
	if lg.GetExecutor().GetType() != mesos.ExecutorInfo_DEFAULT || lg.GetExecutor().GetFrameworkId().GetValue() != "F1" {
		t.Errorf("executor %v", lg.GetExecutor())
	}
	for _, task := range lg.GetTaskGroup().GetTasks() {
		if got := textOf(t, task.GetResources(), "web"); got != "cpus(web):0.5" || task.GetAgentId().GetValue() != "S1" {
			t.Errorf("task %s took %s on %s", task.GetTaskId().GetValue(), got, task.GetAgentId().GetValue())
		}
	}
}

// TestExecuteSSLFlags: the --ssl_* flags build the scheduler's client for
// a master given by address, and are refused, naming the master, for one
// found through ZooKeeper, which the client dials with the environment's
// settings.
func TestExecuteSSLFlags(t *testing.T) {
	parse := func(args ...string) *executeFlags {
		t.Helper()
		var f executeFlags
		fs := flag.NewFlagSet("execute", flag.ContinueOnError)
		f.add(fs)
		if err := fs.Parse(append([]string{"--name=x", "--command=true"}, args...)); err != nil {
			t.Fatal(err)
		}
		return &f
	}
	_, err := newExecution(parse("--master=zk://127.0.0.1:2181/mesos", "--ssl_enabled"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--master=zk://127.0.0.1:2181/mesos") {
		t.Errorf("--ssl_enabled with a zk:// master: %v", err)
	}
	_, err = newExecution(parse("--master=127.0.0.1:1", "--ssl_enabled", "--ssl_cert_file=/nonexistent/c", "--ssl_key_file=/nonexistent/k"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/c") {
		t.Errorf("--ssl_cert_file of a missing file: %v", err)
	}
	if _, err := newExecution(parse("--master=127.0.0.1:1"), io.Discard, io.Discard); err != nil {
		t.Errorf("without --ssl_* flags: %v", err)
	}
}
