package agent

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// TestMain lets the test binary serve as the built-in executors: the
// agent under test launches `<test binary> executor [--default]`; and as
// the launch helper, `<test binary> launch`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "executor" {
		os.Exit(builtin.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "launch" {
		os.Exit(launcher.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// waitFor polls cond until it returns nil or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	delay := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", limit, what, err)
		}
		time.Sleep(delay)
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// fakeMaster is the master side of agentproto: it accepts REGISTER,
// streams events, records calls and (optionally) acknowledges every
// status update at once.
type fakeMaster struct {
	t       testing.TB
	srv     *httptest.Server
	autoAck bool // guarded by mu once the server runs

	mu        sync.Mutex
	calls     []*agentproto.AgentCall
	registers []*agentproto.AgentCall
	streams   int
	events    chan *agentproto.AgentEvent
	cut       chan struct{} // closed to end the current stream
}

func newFakeMaster(t testing.TB) *fakeMaster {
	m := &fakeMaster{t: t, autoAck: true, events: make(chan *agentproto.AgentEvent, 100), cut: make(chan struct{})}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMaster) addr() string { return strings.TrimPrefix(m.srv.URL, "http://") }

func (m *fakeMaster) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != masterPath {
		http.NotFound(w, r)
		return
	}
	call := &agentproto.AgentCall{}
	b, _ := io.ReadAll(r.Body)
	if err := proto.Unmarshal(b, call); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if call.GetType() != agentproto.AgentCall_REGISTER {
		if r.Header.Get("Mesos-Stream-Id") == "" {
			http.Error(w, "no stream id", 400)
			return
		}
		m.mu.Lock()
		m.calls = append(m.calls, call)
		autoAck := m.autoAck
		m.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		if autoAck && call.GetType() == agentproto.AgentCall_STATUS_UPDATE {
			su := call.GetStatusUpdate()
			m.events <- &agentproto.AgentEvent{Type: agentproto.AgentEvent_ACKNOWLEDGE.Enum(), Acknowledge: &agentproto.AgentEvent_Acknowledge{
				FrameworkId: su.GetFrameworkId(), TaskId: su.GetStatus().GetTaskId(), Uuid: su.GetStatus().GetUuid()}}
		}
		return
	}
	m.mu.Lock()
	m.registers = append(m.registers, call)
	m.streams++
	n := m.streams
	cut := m.cut
	m.mu.Unlock()
	stream, err := httpapi.StartStream(w, codec.Protobuf, http.Header{"Mesos-Stream-Id": {fmt.Sprintf("stream-%d", n)}})
	if err != nil {
		return
	}
	stream.Send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_REGISTERED.Enum(), Registered: &agentproto.AgentEvent_Registered{
		AgentId:    &mesos.AgentID{Value: proto.String("M1-S0")},
		MasterInfo: &mesos.MasterInfo{Id: proto.String("M1"), Ip: proto.Uint32(16777343), Port: proto.Uint32(5050)},
	}})
	for {
		select {
		case ev := <-m.events:
			if err := stream.Send(ev); err != nil {
				return
			}
		case <-cut:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// cutStream ends the current event stream (a lost connection).
func (m *fakeMaster) cutStream() {
	m.mu.Lock()
	close(m.cut)
	m.cut = make(chan struct{})
	m.mu.Unlock()
}

func (m *fakeMaster) send(ev *agentproto.AgentEvent) { m.events <- ev }

func (m *fakeMaster) snapshot() []*agentproto.AgentCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*agentproto.AgentCall(nil), m.calls...)
}

// statuses returns the status updates received for a task, in order
// (retries included once).
func (m *fakeMaster) statuses(taskID string) []*mesos.TaskStatus {
	var out []*mesos.TaskStatus
	seen := map[string]bool{}
	for _, c := range m.snapshot() {
		s := c.GetStatusUpdate().GetStatus()
		if c.GetType() == agentproto.AgentCall_STATUS_UPDATE && s.GetTaskId().GetValue() == taskID && !seen[string(s.GetUuid())] {
			seen[string(s.GetUuid())] = true
			out = append(out, s)
		}
	}
	return out
}

// waitState waits until a task's updates reach state and returns them.
func (m *fakeMaster) waitState(t *testing.T, taskID string, state mesos.TaskState) []*mesos.TaskStatus {
	t.Helper()
	var got []*mesos.TaskStatus
	waitFor(t, 30*time.Second, taskID+" "+state.String(), func() error {
		got = m.statuses(taskID)
		for _, s := range got {
			if s.GetState() == state {
				return nil
			}
		}
		return fmt.Errorf("states so far: %v", states(got))
	})
	return got
}

func states(ss []*mesos.TaskStatus) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.GetState().String())
	}
	return out
}

func (m *fakeMaster) executorExited(exID string) *agentproto.AgentCall_ExecutorExited {
	for _, c := range m.snapshot() {
		if c.GetType() == agentproto.AgentCall_EXECUTOR_EXITED && c.GetExecutorExited().GetExecutorId().GetValue() == exID {
			return c.GetExecutorExited()
		}
	}
	return nil
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startAgent runs an agent against m on a loopback port; it is closed
// when the test ends, and Serve must then return nil.
func startAgent(t *testing.T, m *fakeMaster, mod func(*Config)) *Agent {
	t.Helper()
	a, _ := startServing(t, m, mod)
	return a
}

// serving is the outcome of an agent's Serve: err is set once done is
// closed. allow is an error the test expects Serve to return (wrapped).
type serving struct {
	done  chan struct{}
	err   error
	allow error
}

// startServing is startAgent, also returning Serve's outcome.
func startServing(t *testing.T, m *fakeMaster, mod func(*Config)) (*Agent, *serving) {
	t.Helper()
	cfg := Defaults()
	cfg.Master = m.addr()
	cfg.IP = "127.0.0.1"
	cfg.Port = 0
	cfg.WorkDir = t.TempDir()
	cfg.Hostname = "localhost"
	cfg.Resources = "cpus:2;mem:1024;disk:1024;ports:[31000-32000]"
	cfg.ExecutorCommand = []string{os.Args[0], "executor"}
	cfg.RegistrationBackoffFactor = 20 * time.Millisecond
	cfg.ExecutorShutdownGracePeriod = 3 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sv := &serving{done: make(chan struct{})}
	go func() {
		sv.err = a.Serve(ln)
		close(sv.done)
	}()
	t.Cleanup(func() {
		a.Close()
		<-sv.done
		if sv.err != nil && (sv.allow == nil || !errors.Is(sv.err, sv.allow)) {
			t.Errorf("Serve: %v", sv.err)
		}
		// Close stops every goroutine of the agent.
		waitFor(t, 5*time.Second, "agent goroutines to end", func() error {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "mezzo/agent.(*Agent)") || strings.Contains(g, "mezzo/agent/launcher.") ||
					strings.Contains(g, "mezzo/agent/containerizer.") {
					return fmt.Errorf("leaked goroutine:\n%s", g)
				}
			}
			return nil
		})
	})
	waitFor(t, 10*time.Second, "registration", func() error {
		if a.ID() == "" {
			return fmt.Errorf("not registered")
		}
		return nil
	})
	return a, sv
}

func frameworkInfo(id string, checkpoint bool, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("test"),
		Id: &mesos.FrameworkID{Value: proto.String(id)}, Checkpoint: proto.Bool(checkpoint)}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
	}
	return fi
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("*")}}
}

func commandTask(id, shell string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   &mesos.AgentID{Value: proto.String("M1-S0")},
		Resources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		Command:   &mesos.CommandInfo{Value: proto.String(shell)},
	}
}

func runTask(fi *mesos.FrameworkInfo, ex *mesos.ExecutorInfo, task *mesos.TaskInfo, group *mesos.TaskGroupInfo) *agentproto.AgentEvent {
	return &agentproto.AgentEvent{Type: agentproto.AgentEvent_RUN_TASK.Enum(), RunTask: &agentproto.AgentEvent_RunTask{
		Framework: fi, Executor: ex, Task: task, TaskGroup: group}}
}
