package master

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// ---- over HTTP ----

// subscribeOperator opens the operator event stream of the master at url,
// the call and the events in format, and reads SUBSCRIBED. A stream that
// stops short of what the test waits for fails the test instead of
// hanging it.
func subscribeOperator(t *testing.T, url string, format codec.Format) (*stream, *masterpb.Event, []byte) {
	t.Helper()
	body, err := codec.Marshal(format, &masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()})
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, url+"/api/v1", format.MediaType(), body, map[string]string{"Accept": format.MediaType()})
	watchdog := time.AfterFunc(30*time.Second, func() { resp.Body.Close() })
	t.Cleanup(func() {
		watchdog.Stop()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE in %s: %d %s", format, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != format.MediaType() {
		t.Errorf("SUBSCRIBE in %s: Content-Type %q", format, ct)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
		t.Errorf("SUBSCRIBE in %s: stream not chunked: %v %d", format, resp.TransferEncoding, resp.ContentLength)
	}
	s := &stream{t: t, resp: resp, r: recordio.NewReader(resp.Body, 16<<20), format: format}
	ev := &masterpb.Event{}
	raw := s.next(ev)
	if ev.GetType() != masterpb.Event_SUBSCRIBED {
		t.Fatalf("first event in %s: %s", format, ev.GetType())
	}
	return s, ev, raw
}

// nextOperatorEvent reads the stream's next event that is not a HEARTBEAT.
func nextOperatorEvent(s *stream) *masterpb.Event {
	s.t.Helper()
	for {
		ev := &masterpb.Event{}
		s.next(ev)
		if ev.GetType() != masterpb.Event_HEARTBEAT {
			return ev
		}
	}
}

// registerAgentStream registers an agent named host over the agent API
// and returns its id and stream id; its stream stays open for the test.
func registerAgentStream(t *testing.T, url, host, res string) (string, string) {
	t.Helper()
	reg := &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: &agentproto.AgentCall_Register{
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String(host), Port: proto.Int32(5051), Resources: mustResources(t, res)},
		Endpoint:  proto.String("127.0.0.1:5051"),
		Version:   proto.String("1.11.1"),
	}}
	resp := post(t, url+"/master/api/v1/agent", codec.MediaJSON, jsonBody(t, reg), nil)
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("REGISTER: %d %s", resp.StatusCode, b)
	}
	s := &stream{t: t, r: recordio.NewReader(resp.Body, 4<<20), format: codec.JSON}
	ev := &agentproto.AgentEvent{}
	s.next(ev)
	return ev.GetRegistered().GetAgentId().GetValue(), resp.Header.Get(streamIDHeader)
}

// postAccepted posts a JSON call that must be answered 202.
func postAccepted(t *testing.T, url string, call proto.Message, streamID string) {
	t.Helper()
	resp := post(t, url, codec.MediaJSON, jsonBody(t, call), map[string]string{streamIDHeader: streamID})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
}

// getStateOf returns the get_state member of a JSON document (a GET_STATE
// answer, or SUBSCRIBED's subscribed member) as sent.
func getStateOf(t *testing.T, doc []byte) []byte {
	t.Helper()
	var m struct {
		GetState   json.RawMessage `json:"get_state"`
		Subscribed struct {
			GetState json.RawMessage `json:"get_state"`
		} `json:"subscribed"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetState != nil {
		return m.GetState
	}
	if m.Subscribed.GetState == nil {
		t.Fatalf("no get_state in %s", doc)
	}
	return m.Subscribed.GetState
}

// TestOperatorStreamEvents follows a cluster's changes on two operator
// streams, one in JSON and one in protobuf: they say the same, and what
// Mesos would.
func TestOperatorStreamEvents(t *testing.T) {
	_, srv := testMaster(t)
	agentA, streamA := registerAgentStream(t, srv.URL, "host-a", "cpus:2;mem:1024")

	status, stateJSON := operatorCall(t, srv.URL, `{"type":"GET_STATE"}`)
	if status != http.StatusOK {
		t.Fatalf("GET_STATE: %d %s", status, stateJSON)
	}
	js, subscribed, raw := subscribeOperator(t, srv.URL, codec.JSON)
	pb, pbSubscribed, _ := subscribeOperator(t, srv.URL, codec.Protobuf)

	// SUBSCRIBED is GET_STATE's answer, written as Mesos writes it.
	if got := getStateOf(t, raw); !bytes.Equal(got, getStateOf(t, []byte(stateJSON))) {
		t.Errorf("SUBSCRIBED's get_state is not GET_STATE's:\n%s\n%s", got, getStateOf(t, []byte(stateJSON)))
	}
	if want := `{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[],"unreachable_tasks":[],"completed_tasks":[]},`; !bytes.HasPrefix(raw, []byte(want)) {
		t.Errorf("SUBSCRIBED starts %.120s, want %s", raw, want)
	}
	if want := `,"heartbeat_interval_seconds":15.0}}`; !bytes.HasSuffix(raw, []byte(want)) {
		t.Errorf("SUBSCRIBED ends %s, want ...%s", raw[max(0, len(raw)-60):], want)
	}
	sameMessage(t, "SUBSCRIBED in JSON and protobuf", subscribed, pbSubscribed)
	agents := subscribed.GetSubscribed().GetGetState().GetGetAgents().GetAgents()
	if len(agents) != 1 || agents[0].GetAgentInfo().GetId().GetValue() != agentA {
		t.Fatalf("SUBSCRIBED lists agents %v, want %s", agents, agentA)
	}
	// Mesos starts the heartbeat at once.
	for _, s := range []*stream{js, pb} {
		ev := &masterpb.Event{}
		if s.next(ev); ev.GetType() != masterpb.Event_HEARTBEAT {
			t.Errorf("%s: event after SUBSCRIBED is %s, want HEARTBEAT", s.format, ev.GetType())
		}
	}

	// next reads the next event of both streams, which must be the same,
	// and checks its type.
	next := func(typ masterpb.Event_Type) *masterpb.Event {
		t.Helper()
		ev, evPB := nextOperatorEvent(js), nextOperatorEvent(pb)
		sameMessage(t, typ.String()+" in JSON and protobuf", ev, evPB)
		if ev.GetType() != typ {
			t.Fatalf("got %s, want %s: %v", ev.GetType(), typ, ev)
		}
		return ev
	}

	fs, sub, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("watched")})
	fwID := sub.GetSubscribed().GetFrameworkId().GetValue()
	fw := next(masterpb.Event_FRAMEWORK_ADDED).GetFrameworkAdded().GetFramework()
	if fw.GetFrameworkInfo().GetId().GetValue() != fwID || fw.GetFrameworkInfo().GetName() != "watched" || !fw.GetActive() || !fw.GetConnected() {
		t.Errorf("FRAMEWORK_ADDED %v", fw)
	}

	agentB, _ := registerAgentStream(t, srv.URL, "host-b", "cpus:1;mem:512")
	if a := next(masterpb.Event_AGENT_ADDED).GetAgentAdded().GetAgent(); a.GetAgentInfo().GetId().GetValue() != agentB ||
		a.GetAgentInfo().GetHostname() != "host-b" || !a.GetActive() || a.GetVersion() != "1.11.1" {
		t.Errorf("AGENT_ADDED %v", a)
	}

	// A task is launched on agent A.
	var offer *mesos.Offer
	for offer == nil {
		ev, _ := fs.nextOf(schedpb.Event_OFFERS)
		for _, o := range ev.GetOffers().GetOffers() {
			if o.GetAgentId().GetValue() == agentA {
				offer = o
			}
		}
	}
	accept := acceptCall([]string{offer.GetId().GetValue()}, launch(commandTask(t, "watched-1", agentA, "cpus:0.5;mem:64")))
	accept.FrameworkId = frameworkID(fwID)
	postAccepted(t, srv.URL+"/api/v1/scheduler", accept, fs.id)
	added := next(masterpb.Event_TASK_ADDED).GetTaskAdded().GetTask()
	tasksPB := post(t, srv.URL+"/api/v1", codec.MediaJSON, []byte(`{"type":"GET_TASKS"}`), map[string]string{"Accept": codec.MediaProtobuf})
	b, _ := io.ReadAll(tasksPB.Body)
	tasksPB.Body.Close()
	tasks := &masterpb.Response{}
	if err := codec.Unmarshal(codec.Protobuf, b, tasks); err != nil {
		t.Fatal(err)
	}
	if got := tasks.GetGetTasks().GetTasks(); len(got) != 1 {
		t.Fatalf("GET_TASKS %v", got)
	} else {
		sameMessage(t, "TASK_ADDED's task and GET_TASKS'", added, got[0])
	}
	if added.GetState() != mesos.TaskState_TASK_STAGING || added.GetAgentId().GetValue() != agentA || added.GetFrameworkId().GetValue() != fwID {
		t.Errorf("TASK_ADDED %v", added)
	}

	// The agent reports it running, then resends the update (it was not
	// acknowledged yet): one TASK_UPDATED.
	running := &agentproto.AgentCall{Type: agentproto.AgentCall_STATUS_UPDATE.Enum(), AgentId: agentID(agentA),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{FrameworkId: frameworkID(fwID), Status: &mesos.TaskStatus{
			TaskId: added.GetTaskId(), State: mesos.TaskState_TASK_RUNNING.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("watched-1")}, Timestamp: proto.Float64(1795326125.5), Uuid: []byte("0123456789abcdef"),
		}}}
	postAccepted(t, srv.URL+"/master/api/v1/agent", running, streamA)
	postAccepted(t, srv.URL+"/master/api/v1/agent", running, streamA)
	up := next(masterpb.Event_TASK_UPDATED).GetTaskUpdated()
	if up.GetFrameworkId().GetValue() != fwID || up.GetState() != mesos.TaskState_TASK_RUNNING ||
		up.GetStatus().GetState() != mesos.TaskState_TASK_RUNNING || up.GetStatus().GetTaskId().GetValue() != "watched-1" ||
		string(up.GetStatus().GetUuid()) != "0123456789abcdef" || up.GetStatus().GetAgentId().GetValue() != agentA {
		t.Errorf("TASK_UPDATED %v", up)
	}

	// The framework tears itself down: its task is killed, then it is gone.
	teardown := &schedpb.Call{FrameworkId: frameworkID(fwID), Type: schedpb.Call_TEARDOWN.Enum()}
	postAccepted(t, srv.URL+"/api/v1/scheduler", teardown, fs.id)
	killed := next(masterpb.Event_TASK_UPDATED).GetTaskUpdated()
	if killed.GetState() != mesos.TaskState_TASK_KILLED || killed.GetStatus().GetTaskId().GetValue() != "watched-1" ||
		killed.GetStatus().GetReason() != mesos.TaskStatus_REASON_FRAMEWORK_REMOVED || killed.GetFrameworkId().GetValue() != fwID {
		t.Errorf("TASK_UPDATED after teardown %v", killed)
	}
	if gone := next(masterpb.Event_FRAMEWORK_REMOVED).GetFrameworkRemoved().GetFrameworkInfo(); gone.GetId().GetValue() != fwID {
		t.Errorf("FRAMEWORK_REMOVED %v", gone)
	}

	// The operator marks agent B gone.
	if status, body := operatorCall(t, srv.URL, `{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"`+agentB+`"}}}`); status != http.StatusOK {
		t.Fatalf("MARK_AGENT_GONE: %d %s", status, body)
	}
	if id := next(masterpb.Event_AGENT_REMOVED).GetAgentRemoved().GetAgentId().GetValue(); id != agentB {
		t.Errorf("AGENT_REMOVED of %s, want %s", id, agentB)
	}
}

// TestOperatorStreamSubscribedHasMesosShape checks that SUBSCRIBED's
// get_state has the keys of Mesos' GET_STATE sample, on the sample's
// cluster (see TestOperatorGetStateHasMesosShape).
func TestOperatorStreamSubscribedHasMesosShape(t *testing.T) {
	golden, err := os.ReadFile(samples + "operator_GET_STATE.json")
	if err != nil {
		t.Skipf("samples not available: %v", err)
	}
	oc := newOpCluster(t)
	a := oc.addAgent("localhost", "cpus:2;mem:1024;disk:1000;ports:[31000-32000]")
	gone := oc.subscribe("capture")
	if status, _, body := oc.operator(`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"`+gone.id+`"}}}`, codec.JSON); status != http.StatusOK {
		t.Fatalf("TEARDOWN: %d %s", status, body)
	}
	f := oc.subscribe("capture")
	oc.finishTask(a, f, "cap-task-1")
	oc.waitForOffer(f)

	_, _, raw := subscribeOperator(t, oc.url, codec.JSON)
	sameShape(t, "SUBSCRIBED's get_state", getStateOf(t, raw), getStateOf(t, golden))
	sameEnums(t, "SUBSCRIBED's get_state", getStateOf(t, raw), getStateOf(t, golden))
	got := keyPaths(t, raw)
	for _, k := range []string{".type", ".subscribed", ".subscribed.get_state", ".subscribed.heartbeat_interval_seconds"} {
		if !got[k] {
			t.Errorf("SUBSCRIBED lacks %s", k)
		}
	}
}

// TestOperatorStreamHeartbeats checks the heartbeat: one right after
// SUBSCRIBED, then one per advertised interval.
func TestOperatorStreamHeartbeats(t *testing.T) {
	m, srv := testMaster(t)
	if err := m.do(func(c *core) { c.operatorSubs.interval = 20 * time.Millisecond }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, ev, _ := subscribeOperator(t, srv.URL, codec.Protobuf)
	if got := ev.GetSubscribed().GetHeartbeatIntervalSeconds(); got != 0.02 {
		t.Errorf("heartbeat_interval_seconds %v, want 0.02", got)
	}
	for i := 0; i < 4; i++ {
		hb := &masterpb.Event{}
		if s.next(hb); hb.GetType() != masterpb.Event_HEARTBEAT {
			t.Fatalf("event %d: %s, want HEARTBEAT", i, hb.GetType())
		}
	}
	// The first comes at once, the three others an interval apart.
	if elapsed := time.Since(start); elapsed < 60*time.Millisecond {
		t.Errorf("4 heartbeats in %v, want at least 3 intervals", elapsed)
	}
}

// operatorSubscribers returns master/operator_event_stream_subscribers.
func operatorSubscribers(t *testing.T, m *Master) float64 {
	t.Helper()
	var n float64
	if err := m.do(func(c *core) { n = c.metricsSnapshot()["master/operator_event_stream_subscribers"] }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOperatorStreamDisconnectDropsSubscriber checks that a client that
// goes away is forgotten and leaves no goroutine behind.
func TestOperatorStreamDisconnectDropsSubscriber(t *testing.T) {
	m, srv := testMaster(t)
	before := runtime.NumGoroutine()
	s, _, _ := subscribeOperator(t, srv.URL, codec.JSON)
	if n := operatorSubscribers(t, m); n != 1 {
		t.Fatalf("%v subscribers, want 1", n)
	}
	s.resp.Body.Close()
	eventually(t, 5*time.Second, "the subscriber to be dropped", func() bool { return operatorSubscribers(t, m) == 0 })
	http.DefaultClient.CloseIdleConnections()
	eventually(t, 5*time.Second, "the stream's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	// The master goes on without it.
	registerAgentStream(t, srv.URL, "host-a", "cpus:1;mem:128")
}

// TestOperatorStreamEndsWhenMasterCloses checks that Close ends an open
// stream cleanly (its reader sees the end of the body).
func TestOperatorStreamEndsWhenMasterCloses(t *testing.T) {
	m, srv := testMaster(t)
	s, _, _ := subscribeOperator(t, srv.URL, codec.JSON)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		b, err := s.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stream ended with %v, want its end", err)
		}
		ev := &masterpb.Event{}
		if err := codec.Unmarshal(codec.JSON, b, ev); err != nil || ev.GetType() != masterpb.Event_HEARTBEAT {
			t.Fatalf("after Close: %s (%v)", b, err)
		}
	}
	// A new subscription is refused.
	resp := post(t, srv.URL+"/api/v1", codec.MediaJSON, []byte(`{"type":"SUBSCRIBE"}`), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("SUBSCRIBE after Close: %d, want 503", resp.StatusCode)
	}
}

// ---- on the core ----

// recOperator records what the core sends an operator subscriber.
type recOperator struct {
	events []*masterpb.Event
	closed bool
}

// Send records ev unless the stream is closed.
func (r *recOperator) Send(ev *masterpb.Event) {
	if !r.closed {
		r.events = append(r.events, ev)
	}
}

// Close marks the stream closed.
func (r *recOperator) Close() { r.closed = true }

// take returns and forgets the recorded events but heartbeats, and the
// number of heartbeats.
func (r *recOperator) take() ([]*masterpb.Event, int) {
	var out []*masterpb.Event
	heartbeats := 0
	for _, ev := range r.events {
		if ev.GetType() == masterpb.Event_HEARTBEAT {
			heartbeats++
		} else {
			out = append(out, ev)
		}
	}
	r.events = nil
	return out, heartbeats
}

// operatorView is what an operator knows of the cluster: the registered
// agents, the registered frameworks (connected or not) and the state of
// every task ("framework/task"). It is built from GET_STATE and kept by
// applying events.
type operatorView struct {
	agents     map[string]bool
	frameworks map[string]bool
	tasks      map[string]mesos.TaskState
}

// viewOf is what GET_STATE's answer st tells an operator.
func viewOf(st *masterpb.Response_GetState) operatorView {
	v := operatorView{agents: map[string]bool{}, frameworks: map[string]bool{}, tasks: map[string]mesos.TaskState{}}
	for _, a := range st.GetGetAgents().GetAgents() {
		v.agents[a.GetAgentInfo().GetId().GetValue()] = true
	}
	for _, f := range st.GetGetFrameworks().GetFrameworks() {
		v.frameworks[f.GetFrameworkInfo().GetId().GetValue()] = f.GetConnected()
	}
	ts := st.GetGetTasks()
	for _, list := range [][]*mesos.Task{ts.GetTasks(), ts.GetUnreachableTasks(), ts.GetCompletedTasks()} {
		for _, t := range list {
			v.tasks[t.GetFrameworkId().GetValue()+"/"+t.GetTaskId().GetValue()] = t.GetState()
		}
	}
	return v
}

// apply updates the view with one event.
func (v operatorView) apply(ev *masterpb.Event) {
	switch ev.GetType() {
	case masterpb.Event_AGENT_ADDED:
		v.agents[ev.GetAgentAdded().GetAgent().GetAgentInfo().GetId().GetValue()] = true
	case masterpb.Event_AGENT_REMOVED:
		delete(v.agents, ev.GetAgentRemoved().GetAgentId().GetValue())
	case masterpb.Event_FRAMEWORK_ADDED:
		f := ev.GetFrameworkAdded().GetFramework()
		v.frameworks[f.GetFrameworkInfo().GetId().GetValue()] = f.GetConnected()
	case masterpb.Event_FRAMEWORK_UPDATED:
		f := ev.GetFrameworkUpdated().GetFramework()
		v.frameworks[f.GetFrameworkInfo().GetId().GetValue()] = f.GetConnected()
	case masterpb.Event_FRAMEWORK_REMOVED:
		delete(v.frameworks, ev.GetFrameworkRemoved().GetFrameworkInfo().GetId().GetValue())
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		v.tasks[t.GetFrameworkId().GetValue()+"/"+t.GetTaskId().GetValue()] = t.GetState()
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		v.tasks[u.GetFrameworkId().GetValue()+"/"+u.GetStatus().GetTaskId().GetValue()] = u.GetState()
	}
}

// String writes the view with sorted keys, for comparisons.
func (v operatorView) String() string {
	return fmt.Sprintf("agents %v frameworks %v tasks %v", v.agents, v.frameworks, v.tasks)
}

// TestOperatorEventsOnCore runs a cluster through agents lost and back,
// frameworks recovered from an agent, updated, disconnected and timed out,
// and checks the events an operator gets, in order, and that they keep
// the SUBSCRIBED snapshot equal to GET_STATE.
func TestOperatorEventsOnCore(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("a", "cpus:2;mem:1024")
	sink := &recOperator{}
	var subscribed *masterpb.Event
	h.step(func(c *core) { _, subscribed = c.subscribeOperator(sink) })
	view := viewOf(subscribed.GetSubscribed().GetGetState())
	if !view.agents[a.id] || subscribed.GetSubscribed().GetHeartbeatIntervalSeconds() != 15 {
		t.Fatalf("SUBSCRIBED %v", subscribed)
	}
	if evs, hb := sink.take(); len(evs) != 0 || hb != 1 {
		t.Fatalf("after SUBSCRIBED: %v and %d heartbeats, want one heartbeat", evs, hb)
	}
	h.advance(15 * time.Second)
	if evs, hb := sink.take(); len(evs) != 0 || hb != 1 {
		t.Fatalf("after 15 s: %v and %d heartbeats, want one heartbeat", evs, hb)
	}
	var all []*masterpb.Event
	expect := func(what string, want ...masterpb.Event_Type) []*masterpb.Event {
		t.Helper()
		evs, _ := sink.take()
		var got []masterpb.Event_Type
		for _, ev := range evs {
			got = append(got, ev.GetType())
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: events %v, want %v", what, got, want)
		}
		all = append(all, evs...)
		return evs
	}

	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware, FailoverTimeout: proto.Float64(60)})
	expect("subscribe", masterpb.Event_FRAMEWORK_ADDED)
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()}, launch(commandTask(t, "t1", a.id, "cpus:1;mem:128"))))
	expect("launch", masterpb.Event_TASK_ADDED)
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-running-001")
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-running-001")
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-running-002")
	expect("TASK_RUNNING, resent, repeated", masterpb.Event_TASK_UPDATED)

	renamed := proto.Clone(h.c.frameworks[f.id].info).(*mesos.FrameworkInfo)
	renamed.Name = proto.String("renamed")
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &schedpb.Call_UpdateFramework{FrameworkInfo: renamed}})
	if evs := expect("UPDATE_FRAMEWORK", masterpb.Event_FRAMEWORK_UPDATED); evs[0].GetFrameworkUpdated().GetFramework().GetFrameworkInfo().GetName() != "renamed" {
		t.Errorf("FRAMEWORK_UPDATED %v", evs[0])
	}

	// The agent stops answering pings: unreachable, then back with t1.
	h.advance(6 * 15 * time.Second)
	evs := expect("agent unreachable", masterpb.Event_TASK_UPDATED, masterpb.Event_AGENT_REMOVED)
	if s := evs[0].GetTaskUpdated().GetState(); s != mesos.TaskState_TASK_UNREACHABLE {
		t.Errorf("t1 went %s, want TASK_UNREACHABLE", s)
	}
	t1 := proto.Clone(h.c.frameworks[f.id].unreachableTasks["t1"]).(*mesos.Task)
	t1.State = mesos.TaskState_TASK_RUNNING.Enum()
	back := &recAgent{streamID: "back"}
	h.step(func(c *core) {
		_, err := c.registerAgent(back, back.streamID, &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String("a"), Id: agentID(a.id), Resources: mustResources(t, "cpus:2;mem:1024")},
			Frameworks: []*mesos.FrameworkInfo{h.c.frameworks[f.id].info},
			Tasks:      []*mesos.Task{t1},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	evs = expect("agent back", masterpb.Event_AGENT_ADDED, masterpb.Event_TASK_ADDED)
	if s := evs[1].GetTaskAdded().GetTask().GetState(); s != mesos.TaskState_TASK_RUNNING {
		t.Errorf("t1 came back %s, want TASK_RUNNING", s)
	}

	// An agent unknown to the master reports a framework it does not know.
	other := &mesos.FrameworkInfo{Id: frameworkID("M-0077"), User: proto.String("u"), Name: proto.String("elsewhere")}
	stranger := &recAgent{streamID: "stranger"}
	h.step(func(c *core) {
		_, err := c.registerAgent(stranger, stranger.streamID, &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String("b"), Id: agentID("M-S77"), Resources: mustResources(t, "cpus:1;mem:512")},
			Frameworks: []*mesos.FrameworkInfo{other},
			Tasks: []*mesos.Task{{Name: proto.String("x"), TaskId: &mesos.TaskID{Value: proto.String("x1")}, FrameworkId: other.Id,
				AgentId: agentID("M-S77"), State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: mustResources(t, "cpus:0.5;mem:64")}},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	evs = expect("stranger", masterpb.Event_AGENT_ADDED, masterpb.Event_FRAMEWORK_ADDED, masterpb.Event_TASK_ADDED)
	if fw := evs[1].GetFrameworkAdded().GetFramework(); !fw.GetRecovered() || fw.GetConnected() {
		t.Errorf("recovered framework added as %v", fw)
	}

	// The framework disconnects and does not come back in time.
	h.step(func(c *core) { c.frameworkStreamClosed(f.id, f.streamID) })
	if evs := expect("disconnect", masterpb.Event_FRAMEWORK_UPDATED); evs[0].GetFrameworkUpdated().GetFramework().GetConnected() {
		t.Errorf("disconnected framework updated as %v", evs[0])
	}
	h.advance(61 * time.Second)
	evs = expect("failover timeout", masterpb.Event_TASK_UPDATED, masterpb.Event_FRAMEWORK_REMOVED)
	if s := evs[0].GetTaskUpdated().GetState(); s != mesos.TaskState_TASK_KILLED {
		t.Errorf("t1 went %s, want TASK_KILLED", s)
	}

	// The SUBSCRIBED snapshot and the events add up to GET_STATE.
	for _, ev := range all {
		view.apply(ev)
	}
	var now operatorView
	h.step(func(c *core) { now = viewOf(c.getState()) })
	if view.String() != now.String() {
		t.Errorf("SUBSCRIBED and the events say\n%v\nGET_STATE says\n%v", view, now)
	}
}

// TestOperatorSubscribersAreBounded checks that a subscriber beyond the
// limit closes the oldest stream, and the subscriber gauge.
func TestOperatorSubscribersAreBounded(t *testing.T) {
	h := newHarness(t)
	h.c.operatorSubs.max = 2
	sinks := []*recOperator{{}, {}, {}}
	ids := make([]int, len(sinks))
	for i, s := range sinks {
		h.step(func(c *core) { ids[i], _ = c.subscribeOperator(s) })
	}
	if !sinks[0].closed || sinks[1].closed || sinks[2].closed {
		t.Errorf("closed: %v %v %v, want only the oldest", sinks[0].closed, sinks[1].closed, sinks[2].closed)
	}
	if n := h.c.metricsSnapshot()["master/operator_event_stream_subscribers"]; n != 2 {
		t.Errorf("%v subscribers, want 2", n)
	}
	h.step(func(c *core) {
		c.operatorStreamClosed(ids[0]) // already gone: nothing happens
		c.operatorStreamClosed(ids[1])
	})
	if n := h.c.metricsSnapshot()["master/operator_event_stream_subscribers"]; n != 1 || !sinks[1].closed {
		t.Errorf("%v subscribers, want 1", n)
	}
	// Events reach the remaining subscriber only.
	sinks[1].events, sinks[2].events = nil, nil
	h.addAgent("a", "cpus:1;mem:128")
	if evs, _ := sinks[2].take(); len(evs) != 1 || evs[0].GetType() != masterpb.Event_AGENT_ADDED {
		t.Errorf("subscriber got %v", evs)
	}
	if len(sinks[1].events) != 0 {
		t.Errorf("closed subscriber got %v", sinks[1].events)
	}
}
