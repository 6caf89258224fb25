package agent

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
)

// apiAgent returns an agent (registered with a fake master) whose state
// holds framework F1 with executor E1 in REGISTERING state, and an
// httptest server for its Handler.
func apiAgent(t *testing.T) (*Agent, *httptest.Server) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	a.do(func() { registeringExecutor(t, a, 1) })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv
}

// registeringExecutor adds framework F1 with executor E1 in REGISTERING
// state and tasks T1..Tn queued for it (state goroutine).
func registeringExecutor(t *testing.T, a *Agent, tasks int) (*framework, *executor) {
	fw := a.framework("F1", frameworkInfo("F1", true))
	ex, err := a.newExecutor(fw, &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("E1")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, Command: &mesos.CommandInfo{Value: proto.String("true")}}, kindCustom)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	ex.state = exRegistering
	var ids []string
	for i := 1; i <= tasks; i++ {
		info := commandTask(fmt.Sprintf("T%d", i), "")
		info.Command = nil
		info.Executor = ex.info
		ex.tasks[info.GetTaskId().GetValue()] = &task{info: info, queued: true, state: mesos.TaskState_TASK_STAGING}
		ids = append(ids, info.GetTaskId().GetValue())
	}
	ex.queue = [][]string{ids}
	return fw, ex
}

func call(typ execpb.Call_Type, fw, ex string) *execpb.Call {
	return &execpb.Call{Type: typ.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)}, ExecutorId: &mesos.ExecutorID{Value: proto.String(ex)}}
}

func post(t *testing.T, url string, f codec.Format, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", f.MediaType())
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func enc(t *testing.T, f codec.Format, m proto.Message) []byte {
	b, err := codec.Marshal(f, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func update(state mesos.TaskState, mod func(*mesos.TaskStatus)) *execpb.Call {
	c := call(execpb.Call_UPDATE, "F1", "E1")
	s := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("T1")}, State: state.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: newUUID()}
	if mod != nil {
		mod(s)
	}
	c.Update = &execpb.Call_Update{Status: s}
	return c
}

func TestExecutorAPIStatusCodes(t *testing.T) {
	for _, f := range []codec.Format{codec.JSON, codec.Protobuf} {
		t.Run(f.String(), func(t *testing.T) {
			_, srv := apiAgent(t)
			url := srv.URL + "/slave(1)/api/v1/executor"
			sub := call(execpb.Call_SUBSCRIBE, "F1", "E1")
			sub.Subscribe = &execpb.Call_Subscribe{}

			// Method, media types.
			resp, _ := http.Get(url)
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
				t.Errorf("GET: %d", resp.StatusCode)
			}
			expect := func(name string, resp *http.Response, code int) {
				t.Helper()
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != code {
					t.Errorf("%s: %d %q, want %d", name, resp.StatusCode, b, code)
				}
			}
			expect("no content type", post(t, url, f, enc(t, f, sub), map[string]string{"Content-Type": ""}), 400)
			expect("bad content type", post(t, url, f, enc(t, f, sub), map[string]string{"Content-Type": "application/json; charset=utf-8"}), 415)
			expect("garbage", post(t, url, f, []byte("{{{"), nil), 400)
			expect("heartbeat", post(t, url, f, enc(t, f, call(execpb.Call_HEARTBEAT, "x", "y")), nil), 202)
			expect("unknown framework", post(t, url, f, reID(t, f, update(mesos.TaskState_TASK_RUNNING, nil), "F9", "E1"), nil), 400)
			expect("unknown executor", post(t, url, f, reID(t, f, update(mesos.TaskState_TASK_RUNNING, nil), "F1", "E9"), nil), 400)
			expect("not subscribed", post(t, url, f, enc(t, f, update(mesos.TaskState_TASK_RUNNING, nil)), nil), 403)
			noType := call(execpb.Call_UNKNOWN, "F1", "E1")
			noType.Type = nil
			expect("no type", post(t, url, f, enc(t, f, noType), nil), 400)
			expect("not acceptable", post(t, url, f, enc(t, f, sub), map[string]string{"Accept": "text/html"}), 406)

			// SUBSCRIBE: a stream without Mesos-Stream-Id, SUBSCRIBED first,
			// then the queued task.
			resp = post(t, url, f, enc(t, f, sub), map[string]string{"Accept": f.MediaType()})
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != f.MediaType() || resp.Header.Get("Mesos-Stream-Id") != "" {
				t.Fatalf("SUBSCRIBE: %d %v", resp.StatusCode, resp.Header)
			}
			rec := recordio.NewReader(resp.Body, 0)
			next := func() *execpb.Event {
				t.Helper()
				b, err := rec.Read()
				if err != nil {
					t.Fatal(err)
				}
				ev := &execpb.Event{}
				if err := codec.Unmarshal(f, b, ev); err != nil {
					t.Fatal(err)
				}
				return ev
			}
			ev := next()
			s := ev.GetSubscribed()
			if ev.GetType() != execpb.Event_SUBSCRIBED || s.GetExecutorInfo().GetExecutorId().GetValue() != "E1" ||
				s.GetFrameworkInfo().GetId().GetValue() != "F1" || s.GetAgentInfo().GetId().GetValue() != "M1-S0" ||
				s.GetAgentInfo().GetHostname() != "localhost" || len(s.GetAgentInfo().GetResources()) == 0 || s.GetContainerId().GetValue() == "" {
				t.Fatalf("SUBSCRIBED %v", ev)
			}
			if ev := next(); ev.GetType() != execpb.Event_LAUNCH || ev.GetLaunch().GetTask().GetTaskId().GetValue() != "T1" {
				t.Fatalf("want LAUNCH, got %v", ev)
			}

			// UPDATE validation.
			expect("no uuid", post(t, url, f, enc(t, f, update(mesos.TaskState_TASK_RUNNING, func(s *mesos.TaskStatus) { s.Uuid = nil })), nil), 400)
			expect("bad uuid", post(t, url, f, enc(t, f, update(mesos.TaskState_TASK_RUNNING, func(s *mesos.TaskStatus) { s.Uuid = []byte("short") })), nil), 400)
			expect("wrong source", post(t, url, f, enc(t, f, update(mesos.TaskState_TASK_RUNNING, func(s *mesos.TaskStatus) { s.Source = mesos.TaskStatus_SOURCE_AGENT.Enum() })), nil), 400)
			expect("staging", post(t, url, f, enc(t, f, update(mesos.TaskState_TASK_STAGING, nil)), nil), 400)
			expect("executor id mismatch", post(t, url, f, enc(t, f, update(mesos.TaskState_TASK_RUNNING, func(s *mesos.TaskStatus) {
				s.ExecutorId = &mesos.ExecutorID{Value: proto.String("other")}
			})), nil), 400)
			up := update(mesos.TaskState_TASK_RUNNING, nil)
			expect("update", post(t, url, f, enc(t, f, up), nil), 202)
			msg := call(execpb.Call_MESSAGE, "F1", "E1")
			msg.Message = &execpb.Call_Message{Data: []byte("hi")}
			expect("message", post(t, url, f, enc(t, f, msg), nil), 202)
			expect("unknown type", post(t, url, f, enc(t, f, call(execpb.Call_UNKNOWN, "F1", "E1")), nil), 501)

			// The fake master acknowledges: ACKNOWLEDGED reaches the stream.
			done := make(chan *execpb.Event, 1)
			go func() { done <- next() }()
			select {
			case ev := <-done:
				if ev.GetType() != execpb.Event_ACKNOWLEDGED || !bytes.Equal(ev.GetAcknowledged().GetUuid(), up.GetUpdate().GetStatus().GetUuid()) {
					t.Fatalf("want ACKNOWLEDGED, got %v", ev)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no ACKNOWLEDGED")
			}
		})
	}
}

// reID re-encodes c with other framework and executor ids.
func reID(t *testing.T, f codec.Format, c *execpb.Call, fw, ex string) []byte {
	c = proto.Clone(c).(*execpb.Call)
	c.FrameworkId = &mesos.FrameworkID{Value: proto.String(fw)}
	c.ExecutorId = &mesos.ExecutorID{Value: proto.String(ex)}
	return enc(t, f, c)
}

// An executor's event stream gets a HEARTBEAT every interval, as Mesos'
// agent sends them to HTTP executors.
func TestExecutorStreamHeartbeats(t *testing.T) {
	defer func(d time.Duration) { executorHeartbeatInterval = d }(executorHeartbeatInterval)
	executorHeartbeatInterval = 50 * time.Millisecond
	_, srv := apiAgent(t)
	sub := call(execpb.Call_SUBSCRIBE, "F1", "E1")
	sub.Subscribe = &execpb.Call_Subscribe{}
	resp := post(t, srv.URL+"/api/v1/executor", codec.JSON, enc(t, codec.JSON, sub), map[string]string{"Accept": codec.MediaJSON})
	defer resp.Body.Close()
	rec := recordio.NewReader(resp.Body, 0)
	for seen := map[execpb.Event_Type]bool{}; !seen[execpb.Event_HEARTBEAT]; {
		b, err := rec.Read()
		if err != nil {
			t.Fatalf("stream ended before a HEARTBEAT (saw %v): %v", seen, err)
		}
		ev := &execpb.Event{}
		if err := codec.Unmarshal(codec.JSON, b, ev); err != nil {
			t.Fatal(err)
		}
		seen[ev.GetType()] = true
	}
}
