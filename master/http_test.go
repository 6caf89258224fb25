package master

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

const samples = "/work/shared/reference/mesos-1.11-samples/"

// eventually waits for cond to hold, failing after d. The one waiting
// helper of these tests.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testMaster starts a master on an httptest server; cleanup closes both
// and checks that no goroutine was left behind.
func testMaster(t *testing.T) (*Master, *httptest.Server) {
	t.Helper()
	before := runtime.NumGoroutine()
	cfg := DefaultConfig()
	cfg.Hostname = "localhost"
	cfg.IP = "127.0.0.1"
	cfg.AllocationInterval = 50 * time.Millisecond
	cfg.Registry = "in_memory"
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		srv.CloseClientConnections()
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
		eventually(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	})
	return m, srv
}

func post(t *testing.T, url, contentType string, body []byte, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func jsonBody(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := codec.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stream is an open event stream read record by record.
type stream struct {
	t      *testing.T
	resp   *http.Response
	r      *recordio.Reader
	format codec.Format
	id     string
}

func (s *stream) next(m proto.Message) []byte {
	s.t.Helper()
	b, err := s.r.Read()
	if err != nil {
		s.t.Fatalf("read event: %v", err)
	}
	if err := codec.Unmarshal(s.format, b, m); err != nil {
		s.t.Fatalf("decode event %q: %v", b, err)
	}
	return b
}

// nextOf skips events until one of type typ.
func (s *stream) nextOf(typ schedpb.Event_Type) (*schedpb.Event, []byte) {
	s.t.Helper()
	for {
		ev := &schedpb.Event{}
		b := s.next(ev)
		if ev.GetType() == typ {
			return ev, b
		}
	}
}

func subscribeJSON(t *testing.T, srv *httptest.Server, info *mesos.FrameworkInfo) (*stream, *schedpb.Event, []byte) {
	t.Helper()
	body := jsonBody(t, &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: info}})
	resp := post(t, srv.URL+"/api/v1/scheduler", "application/json", body, map[string]string{"Accept": "application/json"})
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE: %d %s", resp.StatusCode, b)
	}
	s := &stream{t: t, resp: resp, r: recordio.NewReader(resp.Body, 4<<20), format: codec.JSON, id: resp.Header.Get("Mesos-Stream-Id")}
	ev := &schedpb.Event{}
	raw := s.next(ev)
	return s, ev, raw
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSubscribeJSONConformance(t *testing.T) {
	m, srv := testMaster(t)
	s, ev, raw := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("capture")})
	if ct := s.resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if !uuidRE.MatchString(s.id) {
		t.Errorf("Mesos-Stream-Id %q is not a UUID", s.id)
	}
	if len(s.resp.TransferEncoding) == 0 || s.resp.TransferEncoding[0] != "chunked" || s.resp.ContentLength != -1 {
		t.Errorf("stream not chunked: %v %d", s.resp.TransferEncoding, s.resp.ContentLength)
	}
	if ev.GetType() != schedpb.Event_SUBSCRIBED {
		t.Fatalf("first event %v", ev.GetType())
	}
	sub := ev.GetSubscribed()
	info := m.Info()
	if want := info.GetId() + "-0000"; sub.GetFrameworkId().GetValue() != want {
		t.Errorf("framework id %q, want %q", sub.GetFrameworkId().GetValue(), want)
	}
	if sub.GetHeartbeatIntervalSeconds() != 15 {
		t.Errorf("heartbeat interval %v", sub.GetHeartbeatIntervalSeconds())
	}
	mi := sub.GetMasterInfo()
	if mi.GetIp() != 16777343 || mi.GetPid() != "master@127.0.0.1:5050" || mi.GetVersion() != "1.11.1" || len(mi.GetCapabilities()) != 3 {
		t.Errorf("master_info %v", mi)
	}
	sameShape(t, "SUBSCRIBED", raw, sampleEvent(t, "SUBSCRIBED"))
	sameEnums(t, "SUBSCRIBED", raw, sampleEvent(t, "SUBSCRIBED"))
}

func TestSubscribeProtobuf(t *testing.T) {
	_, srv := testMaster(t)
	body, err := os.ReadFile(samples + "scheduler_call_subscribe.pb")
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, srv.URL+"/master/api/v1/scheduler", "application/x-protobuf", body, map[string]string{"Accept": "application/x-protobuf"})
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: t, resp: resp, r: recordio.NewReader(resp.Body, 4<<20), format: codec.Protobuf}
	ev := &schedpb.Event{}
	s.next(ev)
	if ev.GetType() != schedpb.Event_SUBSCRIBED || ev.GetSubscribed().GetMasterInfo().GetId() == "" {
		t.Fatalf("first event %v", ev)
	}
}

func TestSchedulerStatusCodes(t *testing.T) {
	_, srv := testMaster(t)
	s, ev, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), FailoverTimeout: proto.Float64(3600)})
	fw := ev.GetSubscribed().GetFrameworkId().GetValue()
	url := srv.URL + "/api/v1/scheduler"
	call := func(typ string, extra string) []byte {
		return []byte(fmt.Sprintf(`{"framework_id":{"value":%q},"type":%q%s}`, fw, typ, extra))
	}
	cases := []struct {
		name   string
		method string
		ctype  string
		body   []byte
		header map[string]string
		want   int
	}{
		{"GET", http.MethodGet, "application/json", call("REVIVE", ""), nil, 405},
		{"no content type", "", "", call("REVIVE", ""), map[string]string{"Mesos-Stream-Id": s.id}, 400},
		{"charset content type", "", "application/json; charset=utf-8", call("REVIVE", ""), nil, 415},
		{"bad json", "", "application/json", []byte(`{"type":`), nil, 400},
		{"no type", "", "application/json", []byte(`{"framework_id":{"value":"x"}}`), nil, 400},
		{"subscribe not acceptable", "", "application/json", []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`), map[string]string{"Accept": "text/html"}, 406},
		{"subscribe with stream id", "", "application/json", []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`), map[string]string{"Mesos-Stream-Id": s.id}, 400},
		{"subscribe id mismatch", "", "application/json", []byte(`{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"u","name":"n"}}}`), nil, 400},
		{"no framework id", "", "application/json", []byte(`{"type":"REVIVE"}`), nil, 400},
		{"unknown framework", "", "application/json", []byte(`{"type":"REVIVE","framework_id":{"value":"nope"}}`), map[string]string{"Mesos-Stream-Id": s.id}, 400},
		{"missing stream id", "", "application/json", call("REVIVE", ""), nil, 400},
		{"wrong stream id", "", "application/json", call("REVIVE", ""), map[string]string{"Mesos-Stream-Id": "bogus"}, 400},
		{"unknown call", "", "application/json", call("UNKNOWN", ""), map[string]string{"Mesos-Stream-Id": s.id}, 501},
		{"accept without body", "", "application/json", call("ACCEPT", ""), map[string]string{"Mesos-Stream-Id": s.id}, 400},
		{"revive", "", "application/json", call("REVIVE", ""), map[string]string{"Mesos-Stream-Id": s.id}, 202},
		{"decline", "", "application/json", call("DECLINE", `,"decline":{"offer_ids":[{"value":"x"}]}`), map[string]string{"Mesos-Stream-Id": s.id}, 202},
		{"reconcile", "", "application/json", call("RECONCILE", `,"reconcile":{}`), map[string]string{"Mesos-Stream-Id": s.id}, 202},
		{"bad ack uuid", "", "application/json", call("ACKNOWLEDGE", `,"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAAA"}`), map[string]string{"Mesos-Stream-Id": s.id}, 400},
		{"update framework", "", "application/json", call("UPDATE_FRAMEWORK", fmt.Sprintf(`,"update_framework":{"framework_info":{"user":"u","name":"renamed","id":{"value":%q},"failover_timeout":3600}}`, fw)), map[string]string{"Mesos-Stream-Id": s.id}, 200},
		{"unknown path", "", "application/json", nil, nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := url
			if tc.want == 404 {
				u = srv.URL + "/api/v1/nothing"
			}
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, u, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
			if tc.want == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}

	// A disconnected framework's calls are refused with 403.
	s.resp.Body.Close()
	eventually(t, 5*time.Second, "403 after disconnect", func() bool {
		resp := post(t, url, "application/json", call("REVIVE", ""), map[string]string{"Mesos-Stream-Id": s.id})
		resp.Body.Close()
		return resp.StatusCode == 403
	})
}

// TestEndToEndOverHTTP runs a framework and a fake agent against a real
// master over HTTP: offer, launch, status update, acknowledgement, state.
func TestEndToEndOverHTTP(t *testing.T) {
	_, srv := testMaster(t)
	// The agent registers and keeps its stream.
	reg := &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: &agentproto.AgentCall_Register{
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String("localhost"), Port: proto.Int32(5051), Resources: mustResources(t, "cpus:2;mem:1024;ports:[31000-32000]")},
		Endpoint:  proto.String("127.0.0.1:5051"),
		Version:   proto.String("1.11.1"),
	}}
	aresp := post(t, srv.URL+"/master/api/v1/agent", "application/json", jsonBody(t, reg), nil)
	defer aresp.Body.Close()
	if aresp.StatusCode != 200 {
		b, _ := io.ReadAll(aresp.Body)
		t.Fatalf("REGISTER: %d %s", aresp.StatusCode, b)
	}
	as := &stream{t: t, r: recordio.NewReader(aresp.Body, 4<<20), format: codec.JSON, id: aresp.Header.Get("Mesos-Stream-Id")}
	registered := &agentproto.AgentEvent{}
	as.next(registered)
	agentID := registered.GetRegistered().GetAgentId().GetValue()
	if registered.GetType() != agentproto.AgentEvent_REGISTERED || !strings.Contains(agentID, "-S0") {
		t.Fatalf("agent got %v", registered)
	}
	agentEvent := func(typ agentproto.AgentEvent_Type) *agentproto.AgentEvent {
		for {
			ev := &agentproto.AgentEvent{}
			as.next(ev)
			if ev.GetType() == typ {
				return ev
			}
		}
	}

	fs, sub, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("capture"), Capabilities: partitionAware})
	fwID := sub.GetSubscribed().GetFrameworkId().GetValue()
	offers, raw := fs.nextOf(schedpb.Event_OFFERS)
	sameShape(t, "OFFERS", raw, sampleEvent(t, "OFFERS"))
	sameEnums(t, "OFFERS", raw, sampleEvent(t, "OFFERS"))
	o := offers.GetOffers().GetOffers()[0]

	callURL := srv.URL + "/api/v1/scheduler"
	hdr := map[string]string{"Mesos-Stream-Id": fs.id}
	task := commandTask(t, "cap-task-1", agentID, "cpus:0.1;mem:32")
	accept := acceptCall([]string{o.GetId().GetValue()}, launch(task))
	accept.FrameworkId = frameworkID(fwID)
	if resp := post(t, callURL, "application/json", jsonBody(t, accept), hdr); resp.StatusCode != 202 {
		t.Fatalf("ACCEPT: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	run := agentEvent(agentproto.AgentEvent_RUN_TASK)
	if run.GetRunTask().GetTask().GetTaskId().GetValue() != "cap-task-1" || run.GetRunTask().GetFramework().GetId().GetValue() != fwID {
		t.Fatalf("RUN_TASK %v", run)
	}

	// The agent reports TASK_RUNNING; the framework sees it and acks.
	uuid := []byte("0123456789abcdef")
	su := &agentproto.AgentCall{Type: agentproto.AgentCall_STATUS_UPDATE.Enum(), AgentId: &mesos.AgentID{Value: proto.String(agentID)},
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{FrameworkId: frameworkID(fwID), Status: &mesos.TaskStatus{
			TaskId: task.GetTaskId(), State: mesos.TaskState_TASK_RUNNING.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("cap-task-1")}, Timestamp: proto.Float64(1795326125.59), Uuid: uuid,
		}}}
	if resp := post(t, srv.URL+"/master/api/v1/agent", "application/json", jsonBody(t, su), map[string]string{"Mesos-Stream-Id": as.id}); resp.StatusCode != 202 {
		t.Fatalf("STATUS_UPDATE: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	if resp := post(t, srv.URL+"/master/api/v1/agent", "application/json", jsonBody(t, su), map[string]string{"Mesos-Stream-Id": "wrong"}); resp.StatusCode != 400 {
		t.Fatalf("STATUS_UPDATE on a wrong stream: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	up, raw := fs.nextOf(schedpb.Event_UPDATE)
	st := up.GetUpdate().GetStatus()
	if st.GetState() != mesos.TaskState_TASK_RUNNING || st.GetAgentId().GetValue() != agentID || !bytes.Equal(st.GetUuid(), uuid) {
		t.Fatalf("UPDATE %v", st)
	}
	sameShape(t, "UPDATE", raw, sampleEvent(t, "UPDATE"), "container_status")
	sameEnums(t, "UPDATE", raw, sampleEvent(t, "UPDATE"), "container_status", ".update.status.state=") // the recording's first UPDATE is STARTING
	ack := &schedpb.Call{FrameworkId: frameworkID(fwID), Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid()}}
	if resp := post(t, callURL, "application/json", jsonBody(t, ack), hdr); resp.StatusCode != 202 {
		t.Fatalf("ACKNOWLEDGE: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	if a := agentEvent(agentproto.AgentEvent_ACKNOWLEDGE); !bytes.Equal(a.GetAcknowledge().GetUuid(), uuid) {
		t.Fatalf("agent ack %v", a)
	}

	// /master/state shows the running task.
	resp, err := http.Get(srv.URL + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Slaves []struct {
			ID, PID string
		} `json:"slaves"`
		Frameworks []struct {
			ID    string `json:"id"`
			Tasks []struct {
				ID, State string
			} `json:"tasks"`
		} `json:"frameworks"`
		Leader string `json:"leader"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(state.Slaves) != 1 || state.Slaves[0].PID != "slave(1)@127.0.0.1:5051" || state.Leader != "master@127.0.0.1:5050" {
		t.Errorf("state slaves %+v leader %q", state.Slaves, state.Leader)
	}
	if len(state.Frameworks) != 1 || len(state.Frameworks[0].Tasks) != 1 || state.Frameworks[0].Tasks[0].State != "TASK_RUNNING" {
		t.Errorf("state frameworks %+v", state.Frameworks)
	}

	// The other endpoints answer.
	for path, want := range map[string]int{"/health": 200, "/master/health": 200, "/version": 200, "/master/flags": 200, "/master/redirect": 307, "/state/": 200} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
		if path == "/master/redirect" && resp.Header.Get("Location") != "//localhost:5050" {
			t.Errorf("redirect Location %q", resp.Header.Get("Location"))
		}
	}
}

// sampleEvent returns the first event of type typ recorded from Mesos.
func sampleEvent(t *testing.T, typ string) []byte {
	t.Helper()
	f, err := os.Open(samples + "scheduler_events_json.jsonl")
	if err != nil {
		t.Skipf("samples not available: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"type":"`+typ+`"`) {
			return append([]byte(nil), sc.Bytes()...)
		}
	}
	t.Fatalf("no %s sample", typ)
	return nil
}

// sameShape compares the key paths of two JSON documents (array elements
// merged), ignoring paths under the optional prefixes.
func sameShape(t *testing.T, what string, got, want []byte, optional ...string) {
	t.Helper()
	g, w := keyPaths(t, got), keyPaths(t, want)
	diff := func(a, b map[string]bool) []string {
		var out []string
	next:
		for k := range a {
			if b[k] {
				continue
			}
			for _, o := range optional {
				if strings.Contains(k, o) {
					continue next
				}
			}
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if missing := diff(w, g); len(missing) > 0 {
		t.Errorf("%s lacks keys Mesos sends: %v\ngot:  %s\nwant: %s", what, missing, got, want)
	}
	if extra := diff(g, w); len(extra) > 0 {
		t.Errorf("%s has keys Mesos does not send: %v\ngot:  %s\nwant: %s", what, extra, got, want)
	}
}

func keyPaths(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				out[prefix+"."+k] = true
				walk(prefix+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}
