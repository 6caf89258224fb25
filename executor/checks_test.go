package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// fakeAgent is a Transport that plays the agent: it answers SUBSCRIBE with
// SUBSCRIBED, records every UPDATE and acknowledges it at once, and lets
// the test send events (LAUNCH, KILL, ...).
type fakeAgent struct {
	framework *mesos.FrameworkInfo
	events    chan *execpb.Event

	mu      sync.Mutex
	updates []*mesos.TaskStatus
}

// newFakeAgent returns an agent whose framework has the capabilities caps.
func newFakeAgent(caps ...mesos.FrameworkInfo_Capability_Type) *fakeAgent {
	fi := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("checks")}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
	}
	return &fakeAgent{framework: fi, events: make(chan *execpb.Event, 1024)}
}

// Subscribe opens a stream that starts with SUBSCRIBED.
func (a *fakeAgent) Subscribe(ctx context.Context, sub *execpb.Call_Subscribe) (EventStream, error) {
	subscribed := &execpb.Event{
		Type:       execpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &execpb.Event_Subscribed{FrameworkInfo: a.framework},
	}
	return &fakeStream{first: subscribed, events: a.events, closed: make(chan struct{})}, nil
}

// Update records s and queues its ACKNOWLEDGED.
func (a *fakeAgent) Update(ctx context.Context, s *mesos.TaskStatus) error {
	a.mu.Lock()
	a.updates = append(a.updates, proto.Clone(s).(*mesos.TaskStatus))
	a.mu.Unlock()
	a.events <- &execpb.Event{
		Type:         execpb.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &execpb.Event_Acknowledged{TaskId: s.GetTaskId(), Uuid: s.GetUuid()},
	}
	return nil
}

// sent returns the updates of task id received so far.
func (a *fakeAgent) sent(id string) []*mesos.TaskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*mesos.TaskStatus
	for _, s := range a.updates {
		if s.GetTaskId().GetValue() == id {
			out = append(out, s)
		}
	}
	return out
}

// fakeStream is the subscription: SUBSCRIBED, then the agent's event
// queue until closed.
type fakeStream struct {
	first  *execpb.Event
	events chan *execpb.Event
	closed chan struct{}
	once   sync.Once
}

// Next returns the next event, or io.EOF once the stream is closed.
func (s *fakeStream) Next() (*execpb.Event, error) {
	if ev := s.first; ev != nil {
		s.first = nil
		return ev, nil
	}
	select {
	case ev := <-s.events:
		return ev, nil
	case <-s.closed:
		return nil, io.EOF
	}
}

// Close ends the stream.
func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// checkHarness runs one executor (through its Transport) with real task
// and check processes in a temporary sandbox.
type checkHarness struct {
	t       *testing.T
	agent   *fakeAgent
	sandbox string
	// marker is in every task's (and so every check command's)
	// environment, to find what is left running at the end.
	marker string
	errc   chan error
	cancel context.CancelFunc
}

// startExecutor runs an executor in mode against agent, with a sandbox
// of its own; the test's cleanup stops it.
func startExecutor(t *testing.T, mode Mode, agent *fakeAgent) *checkHarness {
	t.Helper()
	return startExecutorWith(t, mode, agent, nil)
}

// startExecutorWith is startExecutor with its Config changed by modify
// (nil: unchanged).
func startExecutorWith(t *testing.T, mode Mode, agent *fakeAgent, modify func(*Config)) *checkHarness {
	t.Helper()
	h := &checkHarness{
		t: t, agent: agent, sandbox: t.TempDir(),
		marker: fmt.Sprintf("MEZZO_CHECKS_TEST=%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_")),
		errc:   make(chan error, 1),
	}
	name, value, _ := strings.Cut(h.marker, "=")
	cfg := Config{
		Env: Env{
			FrameworkID: "F", ExecutorID: "E", Sandbox: h.sandbox,
			RecoveryTimeout: time.Second, ShutdownGracePeriod: 3 * time.Second,
		},
		Mode:       mode,
		AckTimeout: 5 * time.Second,
		TaskEnv:    map[string]string{"PATH": os.Getenv("PATH"), name: value},
		Transport:  agent,
	}
	if modify != nil {
		modify(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errc <- Run(ctx, cfg, slog.New(slog.NewTextHandler(tWriter{t}, nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.errc:
		case <-time.After(10 * time.Second):
			t.Error("executor did not exit")
		}
	})
	return h
}

// tWriter routes the executor's log to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// send queues an event for the executor.
func (h *checkHarness) send(ev *execpb.Event) { h.agent.events <- ev }

// launch sends LAUNCH with task.
func (h *checkHarness) launch(task *mesos.TaskInfo) {
	h.send(&execpb.Event{Type: execpb.Event_LAUNCH.Enum(), Launch: &execpb.Event_Launch{Task: task}})
}

// kill sends KILL for task id.
func (h *checkHarness) kill(id string) {
	h.send(&execpb.Event{Type: execpb.Event_KILL.Enum(), Kill: &execpb.Event_Kill{TaskId: &mesos.TaskID{Value: proto.String(id)}}})
}

// waitUpdate waits until task id has an update that satisfies match and
// returns it.
func (h *checkHarness) waitUpdate(id, what string, match func(*mesos.TaskStatus) bool) *mesos.TaskStatus {
	h.t.Helper()
	var found *mesos.TaskStatus
	soon(h.t, what, func() bool {
		for _, s := range h.agent.sent(id) {
			if match(s) {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

// waitExit waits for Run to return and checks that nothing the executor
// started is left: no process with the test's marker in its environment,
// no checker goroutine.
func (h *checkHarness) waitExit() {
	h.t.Helper()
	select {
	case err := <-h.errc:
		if err != nil {
			h.t.Fatalf("executor: %v", err)
		}
		h.errc <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		h.t.Fatal("executor did not exit")
	}
	soon(h.t, "no process left", func() bool { return len(markedProcesses(h.marker)) == 0 })
	soon(h.t, "no checker goroutine left", func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return !bytes.Contains(buf, []byte("executor.startChecker")) && !bytes.Contains(buf, []byte("executor.(*probe)"))
	})
}

// markedProcesses lists the live processes whose environment holds marker.
func markedProcesses(marker string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == marker {
				out = append(out, pid)
			}
		}
	}
	return out
}

// soon waits, polling with a growing pause, until cond holds; it fails
// the test after 15 s.
func soon(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// commandTask is a command task running sh -c cmd.
func commandTask(id, cmd string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:    proto.String(id),
		TaskId:  &mesos.TaskID{Value: proto.String(id)},
		AgentId: &mesos.AgentID{Value: proto.String("A")},
		Command: &mesos.CommandInfo{Value: proto.String(cmd)},
		KillPolicy: &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{
			Nanoseconds: proto.Int64(int64(time.Second)),
		}},
	}
}

// fast sets small timings on a health check (all in seconds).
func fast(hc *mesos.HealthCheck, interval, grace float64, failures uint32) *mesos.HealthCheck {
	hc.DelaySeconds = proto.Float64(0)
	hc.IntervalSeconds = proto.Float64(interval)
	hc.TimeoutSeconds = proto.Float64(5)
	hc.GracePeriodSeconds = proto.Float64(grace)
	hc.ConsecutiveFailures = proto.Uint32(failures)
	return hc
}

// isState matches updates in state st.
func isState(st mesos.TaskState) func(*mesos.TaskStatus) bool {
	return func(s *mesos.TaskStatus) bool { return s.GetState() == st }
}

// healthUpdate matches health updates that report healthy.
func healthUpdate(healthy bool) func(*mesos.TaskStatus) bool {
	return func(s *mesos.TaskStatus) bool {
		return s.GetReason() == mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED && s.Healthy != nil && s.GetHealthy() == healthy
	}
}

// describe writes a task's updates one a line, for failure messages.
func describe(ups []*mesos.TaskStatus) string {
	var b strings.Builder
	for _, s := range ups {
		fmt.Fprintf(&b, "\n  %v reason=%v", s.GetState(), s.GetReason())
		if s.Healthy != nil {
			fmt.Fprintf(&b, " healthy=%v", s.GetHealthy())
		}
		if s.CheckStatus != nil {
			fmt.Fprintf(&b, " check_status={%v}", s.GetCheckStatus())
		}
	}
	return b.String()
}

// lines counts the lines of the file at path (0 if it does not exist).
func lines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// TestHealthCheckCommandKillsAfterFailures: a COMMAND health check that
// passes, then fails: one healthy=true update however many checks pass,
// an unhealthy update per counted failure, the kill (TASK_KILLING for a
// capable framework) after consecutive_failures, and TASK_KILLED with
// healthy=false. The check runs in the sandbox with the task's
// environment plus its own.
func TestHealthCheckCommandKillsAfterFailures(t *testing.T) {
	agent := newFakeAgent(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	h := startExecutor(t, Command, agent)
	task := commandTask("t1", "sleep 60")
	task.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{
		{Name: proto.String("FROM_TASK"), Value: proto.String("task")},
	}}
	task.HealthCheck = fast(&mesos.HealthCheck{
		Type: mesos.HealthCheck_COMMAND.Enum(),
		Command: &mesos.CommandInfo{
			Value: proto.String(`echo "$FROM_TASK $FROM_CHECK" >> runs; test ! -e unhealthy`),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String("FROM_CHECK"), Value: proto.String("check")},
			}},
		},
	}, 0.05, 0, 2)
	h.launch(task)

	h.waitUpdate("t1", "healthy=true", healthUpdate(true))
	runs := filepath.Join(h.sandbox, "runs")
	soon(t, "several passing checks", func() bool { return lines(t, runs) >= 4 })
	if b, _ := os.ReadFile(runs); !strings.HasPrefix(string(b), "task check\n") {
		t.Errorf("check environment: got %q, want the task's and the check's variables", b)
	}
	if err := os.WriteFile(filepath.Join(h.sandbox, "unhealthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitUpdate("t1", "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
	h.waitExit()

	ups := agent.sent("t1")
	var got []string
	for _, s := range ups {
		g := s.GetState().String()
		if s.Healthy != nil {
			g += fmt.Sprintf(" healthy=%v", s.GetHealthy())
		}
		got = append(got, g)
	}
	want := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING healthy=true",
		"TASK_RUNNING healthy=false", "TASK_RUNNING healthy=false", "TASK_KILLING", "TASK_KILLED healthy=false"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("updates:\n got %v\nwant %v%s", got, want, describe(ups))
	}
	for _, s := range ups[2:5] {
		if s.GetReason() != mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED || s.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
			t.Errorf("health update with reason %v source %v", s.GetReason(), s.GetSource())
		}
	}
	if last := ups[len(ups)-1]; last.Reason != nil {
		t.Errorf("terminal update has reason %v; Mesos sets none", last.GetReason())
	}
}

// TestHealthCheckHTTP: HTTP and HTTPS health checks against servers on
// loopback (the task's certificate is not verified): 2xx and 3xx are
// healthy, a 5xx fails, and with consecutive_failures 1 the first counted
// failure kills the task.
func TestHealthCheckHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	var paths sync.Map
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.Path, true)
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/health", http.StatusFound)
			return
		}
		w.WriteHeader(int(status.Load()))
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(handler)
	defer tlsSrv.Close()

	agent := newFakeAgent()
	h := startExecutor(t, Command, agent)
	task := commandTask("web", "sleep 60")
	task.HealthCheck = fast(&mesos.HealthCheck{
		Type: mesos.HealthCheck_HTTP.Enum(),
		Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(port(t, plain.URL)), Path: proto.String("/moved")},
	}, 0.05, 0, 1)
	h.launch(task)
	h.waitUpdate("web", "healthy=true over http", healthUpdate(true))
	if _, ok := paths.Load("/health"); !ok {
		t.Error("the health check did not follow the redirect")
	}
	status.Store(http.StatusServiceUnavailable)
	h.waitUpdate("web", "healthy=false", healthUpdate(false))
	killed := h.waitUpdate("web", "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
	if killed.Healthy == nil || killed.GetHealthy() {
		t.Errorf("terminal update: healthy %v, want false%s", killed.Healthy, describe(agent.sent("web")))
	}
	h.waitExit()

	// https, in a second executor.
	status.Store(http.StatusNoContent)
	agent = newFakeAgent()
	h = startExecutor(t, Command, agent)
	task = commandTask("secure", "sleep 60")
	task.HealthCheck = fast(&mesos.HealthCheck{
		Type: mesos.HealthCheck_HTTP.Enum(),
		Http: &mesos.HealthCheck_HTTPCheckInfo{
			Scheme: proto.String("https"), Port: proto.Uint32(port(t, tlsSrv.URL)), Path: proto.String("/health"),
		},
	}, 0.05, 0, 3)
	h.launch(task)
	h.waitUpdate("secure", "healthy=true over https", healthUpdate(true))
	h.kill("secure")
	killed = h.waitUpdate("secure", "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
	if killed.Healthy != nil {
		t.Errorf("a task killed by its framework reports healthy=%v", killed.GetHealthy())
	}
	h.waitExit()
}

// wrapBool makes an optional bool comparable with proto.Equal.
func wrapBool(b *bool) *mesos.TaskStatus { return &mesos.TaskStatus{Healthy: b} }

// port returns the port of an httptest server's URL.
func port(t *testing.T, rawURL string) uint32 {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(rawURL, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// TestCheckTCP: a TCP check (CheckInfo) reports succeeded=true while the
// port listens and succeeded=false once it does not, each change once;
// every update carries a check_status (empty before the first result),
// and a check never kills the task.
func TestCheckTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tcpPort := uint32(ln.Addr().(*net.TCPAddr).Port)

	agent := newFakeAgent()
	h := startExecutor(t, Command, agent)
	task := commandTask("db", "sleep 60")
	task.Check = &mesos.CheckInfo{
		Type:            mesos.CheckInfo_TCP.Enum(),
		Tcp:             &mesos.CheckInfo_Tcp{Port: proto.Uint32(tcpPort)},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(0.05),
		TimeoutSeconds:  proto.Float64(5),
	}
	// A TCP health check on the same port, so that a check update is seen
	// to keep the last health and the other way round.
	task.HealthCheck = fast(&mesos.HealthCheck{
		Type: mesos.HealthCheck_TCP.Enum(),
		Tcp:  &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(tcpPort)},
	}, 0.05, 0, 1000)
	h.launch(task)

	succeeded := func(want bool) func(*mesos.TaskStatus) bool {
		return func(s *mesos.TaskStatus) bool {
			return s.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED &&
				s.GetCheckStatus().GetTcp().Succeeded != nil && s.GetCheckStatus().GetTcp().GetSucceeded() == want
		}
	}
	h.waitUpdate("db", "succeeded=true", succeeded(true))
	h.waitUpdate("db", "healthy=true", healthUpdate(true))
	ln.Close()
	h.waitUpdate("db", "succeeded=false", succeeded(false))
	h.waitUpdate("db", "healthy=false", healthUpdate(false))
	h.kill("db")
	h.waitUpdate("db", "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
	h.waitExit()

	ups := agent.sent("db")
	checkUpdates := 0
	var lastHealthy *bool
	lastCheck := emptyCheckStatus(mesos.CheckInfo_TCP)
	for i, s := range ups {
		cs := s.GetCheckStatus()
		if cs.GetType() != mesos.CheckInfo_TCP || cs.Tcp == nil {
			t.Errorf("update %d (%v) has check_status %v, want a TCP one", i, s.GetState(), cs)
		}
		switch s.GetReason() {
		case mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED:
			checkUpdates++
			lastCheck = cs
			// A check update keeps the last health.
			if !proto.Equal(wrapBool(s.Healthy), wrapBool(lastHealthy)) {
				t.Errorf("check update %d has healthy=%v, want the last health %v", i, s.Healthy, lastHealthy)
			}
		case mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED:
			lastHealthy = s.Healthy
			// A health update keeps the last check status.
			if !proto.Equal(cs, lastCheck) {
				t.Errorf("health update %d has check_status %v, want the last one %v", i, cs, lastCheck)
			}
		default:
			if cs.GetTcp().Succeeded != nil {
				t.Errorf("update %d (%v) carries a check result; only check updates do", i, s.GetState())
			}
		}
	}
	if checkUpdates != 2 {
		t.Errorf("%d check updates, want 2 (true, then false)%s", checkUpdates, describe(ups))
	}
	if last := ups[len(ups)-1]; last.GetState() != mesos.TaskState_TASK_KILLED || last.Healthy != nil {
		t.Errorf("last update %v healthy=%v, want TASK_KILLED without healthy", last.GetState(), last.Healthy)
	}
}

// TestHealthCheckGracePeriod: failures before the first success do not
// count within grace_period_seconds; the first failure after it kills
// the task (consecutive_failures 1).
func TestHealthCheckGracePeriod(t *testing.T) {
	agent := newFakeAgent()
	h := startExecutor(t, Command, agent)
	task := commandTask("slow", "sleep 60")
	task.HealthCheck = fast(&mesos.HealthCheck{
		Type:    mesos.HealthCheck_COMMAND.Enum(),
		Command: &mesos.CommandInfo{Value: proto.String("echo >> runs; exit 1")},
	}, 0.05, 0.6, 1)
	h.launch(task)
	unhealthy := h.waitUpdate("slow", "healthy=false", healthUpdate(false))
	h.waitUpdate("slow", "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
	h.waitExit()

	running := agent.sent("slow")[1]
	if running.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("second update is %v", running.GetState())
	}
	if d := unhealthy.GetTimestamp() - running.GetTimestamp(); d < 0.6 {
		t.Errorf("unhealthy %.3fs after TASK_RUNNING, within the 0.6s grace period", d)
	}
	if n := lines(t, filepath.Join(h.sandbox, "runs")); n < 2 {
		t.Errorf("the check ran %d times; failures in the grace period should have been ignored", n)
	}
	n := 0
	for _, s := range agent.sent("slow") {
		if s.Healthy != nil && s.GetState() == mesos.TaskState_TASK_RUNNING {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d health updates, want 1%s", n, describe(agent.sent("slow")))
	}
}

// TestCheckCommandExitCode: a COMMAND check reports its exit code when
// it changes, and an empty result when an attempt times out.
func TestCheckCommandExitCode(t *testing.T) {
	agent := newFakeAgent()
	h := startExecutor(t, Command, agent)
	code := filepath.Join(h.sandbox, "code")
	if err := os.WriteFile(code, []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := commandTask("c", "sleep 60")
	task.Check = &mesos.CheckInfo{
		Type: mesos.CheckInfo_COMMAND.Enum(),
		Command: &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{
			Value: proto.String(`echo >> runs; if [ -e hang ]; then sleep 30; fi; exit $(cat "$CODE_FILE")`),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String("CODE_FILE"), Value: proto.String("code")},
			}},
		}},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(0.05),
		TimeoutSeconds:  proto.Float64(1),
	}
	h.launch(task)

	exitCode := func(c int32) func(*mesos.TaskStatus) bool {
		return func(s *mesos.TaskStatus) bool {
			cmd := s.GetCheckStatus().GetCommand()
			return s.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED && cmd.ExitCode != nil && cmd.GetExitCode() == c
		}
	}
	h.waitUpdate("c", "exit code 3", exitCode(3))
	runs := filepath.Join(h.sandbox, "runs")
	soon(t, "more checks", func() bool { return lines(t, runs) >= 4 })
	if err := os.WriteFile(code, []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitUpdate("c", "exit code 0", exitCode(0))
	if err := os.WriteFile(filepath.Join(h.sandbox, "hang"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitUpdate("c", "an empty result after a timeout", func(s *mesos.TaskStatus) bool {
		cs := s.GetCheckStatus()
		return s.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED && cs.Command != nil && cs.GetCommand().ExitCode == nil
	})
	h.kill("c")
	h.waitUpdate("c", "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
	h.waitExit()

	var codes []string
	for _, s := range agent.sent("c") {
		if s.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED {
			if c := s.GetCheckStatus().GetCommand(); c.ExitCode != nil {
				codes = append(codes, strconv.Itoa(int(c.GetExitCode())))
			} else {
				codes = append(codes, "empty")
			}
		}
	}
	if got := strings.Join(codes, " "); got != "3 0 empty" {
		t.Errorf("check updates %q, want %q%s", got, "3 0 empty", describe(agent.sent("c")))
	}
}

// TestDefaultExecutorTaskGroupHealthCheck: in a task group, a task's
// health check runs in the task's own sandbox and environment; its
// failure kills the task, which takes the group down, and the terminal
// updates carry healthy=false.
func TestDefaultExecutorTaskGroupHealthCheck(t *testing.T) {
	agent := newFakeAgent()
	h := startExecutor(t, Default, agent)
	checked := commandTask("checked", "sleep 60")
	checked.HealthCheck = fast(&mesos.HealthCheck{
		Type: mesos.HealthCheck_COMMAND.Enum(),
		Command: &mesos.CommandInfo{
			Value: proto.String(`test "$MESOS_SANDBOX" = "$PWD" && test ! -e unhealthy`),
		},
	}, 0.05, 0, 2)
	other := commandTask("other", "sleep 60")
	h.send(&execpb.Event{
		Type: execpb.Event_LAUNCH_GROUP.Enum(),
		LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: &mesos.TaskGroupInfo{
			Tasks: []*mesos.TaskInfo{checked, other},
		}},
	})
	h.waitUpdate("checked", "healthy=true", healthUpdate(true))
	if err := os.WriteFile(filepath.Join(h.sandbox, "tasks", "checked", "unhealthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"checked", "other"} {
		s := h.waitUpdate(id, "TASK_KILLED", isState(mesos.TaskState_TASK_KILLED))
		if s.Healthy == nil || s.GetHealthy() {
			t.Errorf("%s: terminal update healthy=%v, want false%s", id, s.Healthy, describe(agent.sent(id)))
		}
	}
	h.waitExit()
	for _, s := range agent.sent("other") {
		if s.GetState() == mesos.TaskState_TASK_RUNNING && s.Healthy != nil {
			t.Errorf("the task without a health check got a health update")
		}
	}
}

// TestHealthTracker checks the interpretation of health results against
// Mesos' rules, with a hand-moved clock.
func TestHealthTracker(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	type step struct {
		ok   bool
		at   time.Duration
		want healthVerdict
	}
	cases := []struct {
		name  string
		h     healthTracker
		steps []step
	}{
		{
			name: "first success reported, repeats not",
			h:    healthTracker{limit: 3, grace: 10 * time.Second, start: start},
			steps: []step{
				{true, 0, healthVerdict{report: true, healthy: true}},
				{true, time.Second, healthVerdict{healthy: true}},
				{true, 2 * time.Second, healthVerdict{healthy: true}},
			},
		},
		{
			name: "failures in the grace period are ignored until it ends",
			h:    healthTracker{limit: 2, grace: 10 * time.Second, start: start},
			steps: []step{
				{false, time.Second, healthVerdict{ignored: true}},
				{false, 10 * time.Second, healthVerdict{ignored: true}},
				{false, 11 * time.Second, healthVerdict{report: true, failures: 1}},
				{false, 12 * time.Second, healthVerdict{report: true, kill: true, failures: 2}},
			},
		},
		{
			name: "a success ends the grace period",
			h:    healthTracker{limit: 2, grace: 10 * time.Second, start: start},
			steps: []step{
				{true, time.Second, healthVerdict{report: true, healthy: true}},
				{false, 2 * time.Second, healthVerdict{report: true, failures: 1}},
				{true, 3 * time.Second, healthVerdict{report: true, healthy: true}},
				{false, 4 * time.Second, healthVerdict{report: true, failures: 1}},
				{false, 5 * time.Second, healthVerdict{report: true, kill: true, failures: 2}},
			},
		},
		{
			name: "no grace period",
			h:    healthTracker{limit: 1, start: start},
			steps: []step{
				{false, 0, healthVerdict{report: true, kill: true, failures: 1}},
			},
		},
		{
			name: "consecutive_failures 0 kills on the first counted failure",
			h:    healthTracker{limit: 0, start: start},
			steps: []step{
				{false, 0, healthVerdict{report: true, kill: true, failures: 1}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			for i, s := range tc.steps {
				if got := h.observe(s.ok, at(s.at)); got != s.want {
					t.Fatalf("step %d (ok=%v at %v): got %+v, want %+v", i, s.ok, s.at, got, s.want)
				}
			}
		})
	}
}

// TestHealthyInterpretation: which results a health check counts as
// passing.
func TestHealthyInterpretation(t *testing.T) {
	cmd := func(c int32) *mesos.CheckStatusInfo {
		return &mesos.CheckStatusInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: &mesos.CheckStatusInfo_Command{ExitCode: proto.Int32(c)}}
	}
	code := func(c uint32) *mesos.CheckStatusInfo {
		return &mesos.CheckStatusInfo{Type: mesos.CheckInfo_HTTP.Enum(), Http: &mesos.CheckStatusInfo_Http{StatusCode: proto.Uint32(c)}}
	}
	tcp := func(ok bool) *mesos.CheckStatusInfo {
		return &mesos.CheckStatusInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckStatusInfo_Tcp{Succeeded: proto.Bool(ok)}}
	}
	for _, c := range []struct {
		res  *mesos.CheckStatusInfo
		err  error
		want bool
	}{
		{cmd(0), nil, true}, {cmd(1), nil, false}, {nil, errors.New("timed out"), false},
		{code(199), nil, false}, {code(200), nil, true}, {code(302), nil, true}, {code(399), nil, true},
		{code(400), nil, false}, {code(503), nil, false},
		{tcp(true), nil, true}, {tcp(false), nil, false},
	} {
		if got := healthy(c.res, c.err); got != c.want {
			t.Errorf("healthy(%v, %v) = %v, want %v", c.res, c.err, got, c.want)
		}
	}
}

// TestCheckTracker: a check result is reported when it differs from the
// last one, starting from the empty result; an error is the empty result.
func TestCheckTracker(t *testing.T) {
	c := newCheckTracker(mesos.CheckInfo_HTTP)
	code := func(n uint32) *mesos.CheckStatusInfo {
		return &mesos.CheckStatusInfo{Type: mesos.CheckInfo_HTTP.Enum(), Http: &mesos.CheckStatusInfo_Http{StatusCode: proto.Uint32(n)}}
	}
	timeout := errors.New("timed out")
	for i, s := range []struct {
		res    *mesos.CheckStatusInfo
		err    error
		report bool
	}{
		{nil, timeout, false}, // empty, as before any result
		{code(200), nil, true},
		{code(200), nil, false},
		{code(202), nil, true}, // a check reports what a health check would not
		{nil, timeout, true},   // back to empty
		{nil, timeout, false},
	} {
		got := c.observe(s.res, s.err)
		if (got != nil) != s.report {
			t.Fatalf("step %d: reported %v, want report=%v", i, got, s.report)
		}
		if got != nil && s.err != nil && !proto.Equal(got, emptyCheckStatus(mesos.CheckInfo_HTTP)) {
			t.Fatalf("step %d: an error reported as %v, want the empty HTTP result", i, got)
		}
	}
}

// TestCheckDefaults: unset timing fields read as Mesos' defaults.
func TestCheckDefaults(t *testing.T) {
	hc := &mesos.HealthCheck{}
	if seconds(hc.GetDelaySeconds()) != defaultCheckDelay || seconds(hc.GetIntervalSeconds()) != defaultCheckInterval ||
		seconds(hc.GetTimeoutSeconds()) != defaultCheckTimeout || hc.GetConsecutiveFailures() != defaultConsecutiveFailures ||
		seconds(hc.GetGracePeriodSeconds()) != defaultHealthGracePeriod {
		t.Errorf("HealthCheck defaults: %v %v %v %v %v", hc.GetDelaySeconds(), hc.GetIntervalSeconds(), hc.GetTimeoutSeconds(),
			hc.GetConsecutiveFailures(), hc.GetGracePeriodSeconds())
	}
	ci := &mesos.CheckInfo{}
	if seconds(ci.GetDelaySeconds()) != defaultCheckDelay || seconds(ci.GetIntervalSeconds()) != defaultCheckInterval ||
		seconds(ci.GetTimeoutSeconds()) != defaultCheckTimeout {
		t.Errorf("CheckInfo defaults: %v %v %v", ci.GetDelaySeconds(), ci.GetIntervalSeconds(), ci.GetTimeoutSeconds())
	}
	if seconds(0.05) != 50*time.Millisecond || seconds(-1) != 0 {
		t.Errorf("seconds: %v %v", seconds(0.05), seconds(-1))
	}
}
