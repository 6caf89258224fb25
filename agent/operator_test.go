package agent

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/logging"
	"github.com/mezzo-project/mezzo/internal/version"
)

// operatorClient posts calls to one agent's operator API over loopback.
type operatorClient struct {
	t    *testing.T
	base string // http://ip:port
}

func newOperatorClient(t *testing.T, a *Agent) operatorClient {
	return operatorClient{t: t, base: "http://" + a.Endpoint()}
}

// operatorAnswer is one response, read whole.
type operatorAnswer struct {
	status int
	header http.Header
	body   []byte
}

// post sends body to path with the given Content-Type and Accept (each
// left out when empty).
func (c operatorClient) post(path, contentType, accept string, body []byte) operatorAnswer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return c.send(req)
}

func (c operatorClient) send(req *http.Request) operatorAnswer {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return operatorAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

// encode marshals call in format f.
func (c operatorClient) encode(call *agentpb.Call, f codec.Format) []byte {
	c.t.Helper()
	b, err := codec.Marshal(f, call)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// do makes call in format f (request and answer) and returns the
// answer; anything but a 200 in f's media type fails the test.
func (c operatorClient) do(call *agentpb.Call, f codec.Format) *agentpb.Response {
	c.t.Helper()
	ans := c.post("/api/v1", f.MediaType(), f.MediaType(), c.encode(call, f))
	if ans.status != http.StatusOK || ans.header.Get("Content-Type") != f.MediaType() {
		c.t.Fatalf("%s in %s: %d %q: %s", call.GetType(), f, ans.status, ans.header.Get("Content-Type"), ans.body)
	}
	resp := &agentpb.Response{}
	if err := codec.Unmarshal(f, ans.body, resp); err != nil {
		c.t.Fatalf("%s in %s: %v: %q", call.GetType(), f, err, ans.body)
	}
	return resp
}

// expect makes call in format f and checks the status and exact body of
// an error answer.
func (c operatorClient) expect(call *agentpb.Call, f codec.Format, status int, body string) {
	c.t.Helper()
	ans := c.post("/api/v1", f.MediaType(), f.MediaType(), c.encode(call, f))
	if ans.status != status || string(ans.body) != body {
		c.t.Errorf("%s in %s: got %d %q, want %d %q", call.GetType(), f, ans.status, ans.body, status, body)
	}
}

// bothFormats runs fn as subtests stage/json and stage/protobuf.
func bothFormats(t *testing.T, stage string, fn func(t *testing.T, f codec.Format)) {
	for _, f := range []codec.Format{codec.JSON, codec.Protobuf} {
		t.Run(stage+"/"+f.String(), func(t *testing.T) { fn(t, f) })
	}
}

func simpleCall(t agentpb.Call_Type) *agentpb.Call { return &agentpb.Call{Type: t.Enum()} }

// TestOperatorQueries makes the calls that need no task, in both
// encodings, and compares them with the agent's documents.
func TestOperatorQueries(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	var flags legacy.FlagsDocument
	getDoc(t, a, "/flags", &flags)
	var metrics map[string]float64
	getDoc(t, a, "/metrics/snapshot", &metrics)

	bothFormats(t, "queries", func(t *testing.T, f codec.Format) {
		c := newOperatorClient(t, a)
		resp := c.do(simpleCall(agentpb.Call_GET_HEALTH), f)
		if resp.GetType() != agentpb.Response_GET_HEALTH || !resp.GetGetHealth().GetHealthy() {
			t.Errorf("GET_HEALTH: %v", resp)
		}

		resp = c.do(simpleCall(agentpb.Call_GET_FLAGS), f)
		got := map[string]string{}
		var names []string
		for _, fl := range resp.GetGetFlags().GetFlags() {
			got[fl.GetName()] = fl.GetValue()
			names = append(names, fl.GetName())
		}
		if !maps.Equal(got, map[string]string(flags.Flags)) || !slices.IsSorted(names) {
			t.Errorf("GET_FLAGS: %v\n/flags: %v", names, flags.Flags)
		}

		resp = c.do(simpleCall(agentpb.Call_GET_VERSION), f)
		if v := resp.GetGetVersion().GetVersionInfo(); resp.GetType() != agentpb.Response_GET_VERSION || v.GetVersion() != version.MesosVersion {
			t.Errorf("GET_VERSION: %v", resp)
		}

		// GET_METRICS needs get_metrics, as in Mesos; the timeout is
		// accepted and changes nothing.
		resp = c.do(&agentpb.Call{Type: agentpb.Call_GET_METRICS.Enum(), GetMetrics: &agentpb.Call_GetMetrics{
			Timeout: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Second))}}}, f)
		values := map[string]float64{}
		for _, mt := range resp.GetGetMetrics().GetMetrics() {
			values[mt.GetName()] = mt.GetValue()
		}
		if w, g := slices.Sorted(maps.Keys(metrics)), slices.Sorted(maps.Keys(values)); !slices.Equal(w, g) {
			t.Errorf("GET_METRICS names\n got %v\nwant %v", g, w)
		}
		if values["slave/registered"] != 1 || values["slave/mem_total"] != 1024 || values["slave/tasks_running"] != 0 {
			t.Errorf("GET_METRICS: registered %v, mem_total %v, tasks_running %v",
				values["slave/registered"], values["slave/mem_total"], values["slave/tasks_running"])
		}

		resp = c.do(simpleCall(agentpb.Call_GET_LOGGING_LEVEL), f)
		if resp.GetType() != agentpb.Response_GET_LOGGING_LEVEL || resp.GetGetLoggingLevel() == nil || resp.GetGetLoggingLevel().GetLevel() != 0 {
			t.Errorf("GET_LOGGING_LEVEL: %v", resp)
		}

		resp = c.do(simpleCall(agentpb.Call_GET_AGENT), f)
		info := resp.GetGetAgent().GetAgentInfo()
		if info.GetId().GetValue() != "M1-S0" || info.GetHostname() != "localhost" || len(info.GetResources()) == 0 ||
			resp.GetGetAgent().GetDrainConfig() != nil {
			t.Errorf("GET_AGENT: %v", resp)
		}

		resp = c.do(simpleCall(agentpb.Call_GET_OPERATIONS), f)
		if resp.GetType() != agentpb.Response_GET_OPERATIONS || resp.GetGetOperations() == nil || len(resp.GetGetOperations().GetOperations()) != 0 {
			t.Errorf("GET_OPERATIONS: %v", resp)
		}
		resp = c.do(simpleCall(agentpb.Call_GET_RESOURCE_PROVIDERS), f)
		if resp.GetType() != agentpb.Response_GET_RESOURCE_PROVIDERS || resp.GetGetResourceProviders() == nil ||
			len(resp.GetGetResourceProviders().GetResourceProviders()) != 0 {
			t.Errorf("GET_RESOURCE_PROVIDERS: %v", resp)
		}

		resp = c.do(simpleCall(agentpb.Call_GET_CONTAINERS), f)
		if resp.GetType() != agentpb.Response_GET_CONTAINERS || len(resp.GetGetContainers().GetContainers()) != 0 {
			t.Errorf("GET_CONTAINERS without executors: %v", resp)
		}
	})

	// In JSON, the answers Mesos writes field by field show their empty
	// lists; the others are Mesos' mapping of the message.
	c := newOperatorClient(t, a)
	for _, tc := range []struct {
		call agentpb.Call_Type
		want string
	}{
		{agentpb.Call_GET_HEALTH, `{"type":"GET_HEALTH","get_health":{"healthy":true}}`},
		{agentpb.Call_GET_LOGGING_LEVEL, `{"type":"GET_LOGGING_LEVEL","get_logging_level":{"level":0}}`},
		{agentpb.Call_GET_FRAMEWORKS, `{"type":"GET_FRAMEWORKS","get_frameworks":{"frameworks":[],"completed_frameworks":[]}}`},
		{agentpb.Call_GET_EXECUTORS, `{"type":"GET_EXECUTORS","get_executors":{"executors":[],"completed_executors":[]}}`},
		{agentpb.Call_GET_TASKS, `{"type":"GET_TASKS","get_tasks":{"pending_tasks":[],"queued_tasks":[],"launched_tasks":[],"terminated_tasks":[],"completed_tasks":[]}}`},
		{agentpb.Call_GET_STATE, `{"type":"GET_STATE","get_state":{` +
			`"get_tasks":{"pending_tasks":[],"queued_tasks":[],"launched_tasks":[],"terminated_tasks":[],"completed_tasks":[]},` +
			`"get_executors":{"executors":[],"completed_executors":[]},` +
			`"get_frameworks":{"frameworks":[],"completed_frameworks":[]}}}`},
		{agentpb.Call_GET_OPERATIONS, `{"type":"GET_OPERATIONS","get_operations":{}}`},
		{agentpb.Call_GET_CONTAINERS, `{"type":"GET_CONTAINERS","get_containers":{}}`},
	} {
		ans := c.post("/api/v1", "application/json", "", []byte(`{"type":"`+tc.call.String()+`"}`))
		if ans.status != 200 || string(ans.body) != tc.want || ans.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s in JSON: %d %q %s\nwant %s", tc.call, ans.status, ans.header.Get("Content-Type"), ans.body, tc.want)
		}
	}
	// Mesos' other path for the same endpoint.
	ans := c.post("/slave(1)/api/v1", "application/json", "application/json", []byte(`{"type":"GET_HEALTH"}`))
	if ans.status != 200 || string(ans.body) != `{"type":"GET_HEALTH","get_health":{"healthy":true}}` {
		t.Errorf("/slave(1)/api/v1: %d %s", ans.status, ans.body)
	}
}

// operatorTasks returns GET_TASKS' lists by task id.
func operatorTasks(r *agentpb.Response_GetTasks) map[string][]string {
	ids := func(ts []*mesos.Task) []string {
		out := []string{}
		for _, t := range ts {
			out = append(out, t.GetTaskId().GetValue()+":"+t.GetState().String())
		}
		return out
	}
	return map[string][]string{
		"pending":    ids(r.GetPendingTasks()),
		"queued":     ids(r.GetQueuedTasks()),
		"launched":   ids(r.GetLaunchedTasks()),
		"terminated": ids(r.GetTerminatedTasks()),
		"completed":  ids(r.GetCompletedTasks()),
	}
}

// wantTasks is GET_TASKS' lists with only the given ones not empty.
func wantTasks(lists map[string][]string) map[string][]string {
	out := map[string][]string{"pending": {}, "queued": {}, "launched": {}, "terminated": {}, "completed": {}}
	maps.Copy(out, lists)
	return out
}

func equalTasks(a, b map[string][]string) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// TestOperatorTaskLifecycle follows a task through GET_STATE, GET_TASKS,
// GET_EXECUTORS, GET_FRAMEWORKS and GET_CONTAINERS: launched and running
// in a container, then killed and completed.
func TestOperatorTaskLifecycle(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	c := newOperatorClient(t, a)
	// F1's command executor runs inside the agent; F2 checkpoints, so its
	// command executor is a process.
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "sleep 30"), nil))
	m.send(runTask(frameworkInfo("F2", true), nil, commandTask("t2", "sleep 30"), nil))
	m.waitState(t, "t1", mesos.TaskState_TASK_RUNNING)
	m.waitState(t, "t2", mesos.TaskState_TASK_RUNNING)
	running := wantTasks(map[string][]string{"launched": {"t1:TASK_RUNNING", "t2:TASK_RUNNING"}})
	waitFor(t, 10*time.Second, "both tasks running in GET_TASKS", func() error {
		got := operatorTasks(c.do(simpleCall(agentpb.Call_GET_TASKS), codec.JSON).GetGetTasks())
		if !equalTasks(got, running) {
			return fmt.Errorf("tasks %v", got)
		}
		return nil
	})

	bothFormats(t, "running", func(t *testing.T, f codec.Format) {
		c := newOperatorClient(t, a)
		resp := c.do(simpleCall(agentpb.Call_GET_STATE), f)
		st := resp.GetGetState()
		if resp.GetType() != agentpb.Response_GET_STATE || !equalTasks(operatorTasks(st.GetGetTasks()), running) {
			t.Fatalf("GET_STATE tasks: %v", st.GetGetTasks())
		}
		task := st.GetGetTasks().GetLaunchedTasks()[0]
		if task.GetName() != "t1" || task.GetFrameworkId().GetValue() != "F1" || task.GetAgentId().GetValue() != "M1-S0" ||
			task.GetExecutorId() != nil || len(task.GetStatuses()) != 2 || len(task.GetResources()) != 2 ||
			task.StatusUpdateState != nil {
			t.Errorf("GET_STATE launched task: %v", task)
		}
		var exIDs, fwIDs []string
		for _, e := range st.GetGetExecutors().GetExecutors() {
			exIDs = append(exIDs, e.GetExecutorInfo().GetFrameworkId().GetValue()+"/"+e.GetExecutorInfo().GetExecutorId().GetValue())
		}
		for _, fw := range st.GetGetFrameworks().GetFrameworks() {
			fwIDs = append(fwIDs, fw.GetFrameworkInfo().GetId().GetValue())
		}
		if !slices.Equal(exIDs, []string{"F1/t1", "F2/t2"}) || !slices.Equal(fwIDs, []string{"F1", "F2"}) ||
			len(st.GetGetExecutors().GetCompletedExecutors()) != 0 || len(st.GetGetFrameworks().GetCompletedFrameworks()) != 0 {
			t.Errorf("GET_STATE executors %v, frameworks %v", exIDs, fwIDs)
		}
		// The single calls say the same.
		if got := c.do(simpleCall(agentpb.Call_GET_EXECUTORS), f).GetGetExecutors(); !proto.Equal(got, st.GetGetExecutors()) {
			t.Errorf("GET_EXECUTORS %v\nGET_STATE %v", got, st.GetGetExecutors())
		}
		if got := c.do(simpleCall(agentpb.Call_GET_FRAMEWORKS), f).GetGetFrameworks(); !proto.Equal(got, st.GetGetFrameworks()) {
			t.Errorf("GET_FRAMEWORKS %v\nGET_STATE %v", got, st.GetGetFrameworks())
		}
	})

	// Each executor's container, measured as /monitor/statistics does.
	var state legacy.AgentState
	getDoc(t, a, "/state", &state)
	containerOf := map[string]string{}
	for _, fw := range state.Frameworks {
		for _, ex := range fw.Executors {
			containerOf[ex.ID] = ex.Container
		}
	}
	bothFormats(t, "containers", func(t *testing.T, f codec.Format) {
		c := newOperatorClient(t, a)
		var list []*agentpb.Response_GetContainers_Container
		waitFor(t, 10*time.Second, "both containers measured", func() error {
			list = c.do(&agentpb.Call{Type: agentpb.Call_GET_CONTAINERS.Enum(), GetContainers: &agentpb.Call_GetContainers{
				ShowNested: proto.Bool(true), ShowStandalone: proto.Bool(true)}}, f).GetGetContainers().GetContainers()
			if len(list) != 2 {
				return fmt.Errorf("%d containers", len(list))
			}
			for _, ct := range list {
				if ct.GetResourceStatistics().GetMemRssBytes() == 0 {
					return fmt.Errorf("%s: no resident memory: %v", ct.GetExecutorId().GetValue(), ct.GetResourceStatistics())
				}
			}
			return nil
		})
		for i, want := range []struct{ fw, ex string }{{"F1", "t1"}, {"F2", "t2"}} {
			ct := list[i]
			s := ct.GetResourceStatistics()
			if ct.GetFrameworkId().GetValue() != want.fw || ct.GetExecutorId().GetValue() != want.ex ||
				!strings.HasPrefix(ct.GetExecutorName(), "Command Executor (Task: "+want.ex+")") ||
				ct.GetContainerId().GetValue() != containerOf[want.ex] || containerOf[want.ex] == "" ||
				ct.GetContainerStatus().GetContainerId().GetValue() != containerOf[want.ex] ||
				s.GetTimestamp() <= 0 || s.GetCpusSoftLimit() != 0.1 || s.GetMemLimitBytes() != 32<<20 ||
				s.GetMemSoftLimitBytes() != 32<<20 || s.CpusUserTimeSecs == nil || s.CpusSystemTimeSecs == nil || s.CpusLimit != nil {
				t.Errorf("container %d: %v", i, ct)
			}
		}
		// Only the process executor has a pid.
		if list[0].GetContainerStatus().ExecutorPid != nil || list[1].GetContainerStatus().GetExecutorPid() == 0 {
			t.Errorf("executor pids: %v, %v", list[0].GetContainerStatus(), list[1].GetContainerStatus())
		}
	})

	// Killed and acknowledged: a completed task of a completed executor of
	// a completed framework, and no container.
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("t1")}}})
	m.waitState(t, "t1", mesos.TaskState_TASK_KILLED)
	after := wantTasks(map[string][]string{"launched": {"t2:TASK_RUNNING"}, "completed": {"t1:TASK_KILLED"}})
	// The task's end and its executor's exit are separate events: wait for
	// both before reading the documents.
	waitFor(t, 10*time.Second, "t1 and its executor completed", func() error {
		st := c.do(simpleCall(agentpb.Call_GET_STATE), codec.Protobuf).GetGetState()
		if got := operatorTasks(st.GetGetTasks()); !equalTasks(got, after) {
			return fmt.Errorf("tasks %v", got)
		}
		if n := len(st.GetGetExecutors().GetCompletedExecutors()); n != 1 {
			return fmt.Errorf("%d completed executors", n)
		}
		return nil
	})
	bothFormats(t, "completed", func(t *testing.T, f codec.Format) {
		c := newOperatorClient(t, a)
		st := c.do(simpleCall(agentpb.Call_GET_STATE), f).GetGetState()
		if got := operatorTasks(st.GetGetTasks()); !equalTasks(got, after) {
			t.Errorf("GET_STATE tasks %v", got)
		}
		if done := st.GetGetTasks().GetCompletedTasks()[0]; len(done.GetStatuses()) != 3 {
			t.Errorf("completed task statuses: %v", done.GetStatuses())
		}
		fws := st.GetGetFrameworks()
		exs := st.GetGetExecutors()
		if len(fws.GetFrameworks()) != 1 || fws.GetFrameworks()[0].GetFrameworkInfo().GetId().GetValue() != "F2" ||
			len(fws.GetCompletedFrameworks()) != 1 || fws.GetCompletedFrameworks()[0].GetFrameworkInfo().GetId().GetValue() != "F1" {
			t.Errorf("GET_STATE frameworks: %v", fws)
		}
		if len(exs.GetExecutors()) != 1 || exs.GetExecutors()[0].GetExecutorInfo().GetExecutorId().GetValue() != "t2" ||
			len(exs.GetCompletedExecutors()) != 1 || exs.GetCompletedExecutors()[0].GetExecutorInfo().GetExecutorId().GetValue() != "t1" {
			t.Errorf("GET_STATE executors: %v", exs)
		}
		list := c.do(simpleCall(agentpb.Call_GET_CONTAINERS), f).GetGetContainers().GetContainers()
		if len(list) != 1 || list[0].GetExecutorId().GetValue() != "t2" {
			t.Errorf("GET_CONTAINERS after t1 ended: %v", list)
		}
	})
}

// TestOperatorFiles lists and reads a sandbox through LIST_FILES and
// READ_FILE, with the paths and confinement of /files. The fixture's task
// finished but its terminal update is never acknowledged: GET_TASKS shows
// it as terminated.
func TestOperatorFiles(t *testing.T) {
	f := newFilesFixture(t)
	c := newOperatorClient(t, f.a)
	got := operatorTasks(c.do(simpleCall(agentpb.Call_GET_TASKS), codec.JSON).GetGetTasks())
	if want := wantTasks(map[string][]string{"terminated": {"files:TASK_FINISHED"}}); !equalTasks(got, want) {
		t.Errorf("GET_TASKS: %v, want %v", got, want)
	}
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	list := func(path string) *agentpb.Call {
		return &agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String(path)}}
	}
	read := func(path string, offset uint64, length ...uint64) *agentpb.Call {
		rf := &agentpb.Call_ReadFile{Path: proto.String(path), Offset: proto.Uint64(offset)}
		if len(length) > 0 {
			rf.Length = proto.Uint64(length[0])
		}
		return &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(), ReadFile: rf}
	}

	bothFormats(t, "sandbox", func(t *testing.T, format codec.Format) {
		c := newOperatorClient(t, f.a)
		for _, dir := range []string{f.virtual, f.virtual + "/", f.latest, f.sandbox, "file://" + f.virtual} {
			resp := c.do(list(dir), format)
			base := strings.TrimSuffix(strings.TrimPrefix(dir, "file://"), "/")
			var paths []string
			byName := map[string]*mesos.FileInfo{}
			for _, fi := range resp.GetListFiles().GetFileInfos() {
				paths = append(paths, fi.GetPath())
				byName[strings.TrimPrefix(fi.GetPath(), base+"/")] = fi
			}
			var want []string
			for _, n := range []string{"big.txt", "data.txt", "escape", "page.html", "stderr", "stdout", "sub", "up"} {
				want = append(want, base+"/"+n)
			}
			if resp.GetType() != agentpb.Response_LIST_FILES || !slices.Equal(paths, want) {
				t.Fatalf("LIST_FILES %s: paths\n got %q\nwant %q", dir, paths, want)
			}
			wantData := &mesos.FileInfo{Path: proto.String(base + "/data.txt"), Nlink: proto.Int32(1), Size: proto.Uint64(uint64(len(filesData))),
				Mtime: &mesos.TimeInfo{Nanoseconds: proto.Int64(filesDataMTime * int64(time.Second))},
				Mode:  proto.Uint32(0o100640), Uid: proto.String(u.Username), Gid: proto.String(g.Name)}
			if !proto.Equal(byName["data.txt"], wantData) {
				t.Errorf("LIST_FILES %s: data.txt\n got %v\nwant %v", dir, byName["data.txt"], wantData)
			}
			if sub := byName["sub"]; sub.GetMode() != 0o40751 || sub.GetMtime().GetNanoseconds() != filesSubMTime*int64(time.Second) {
				t.Errorf("LIST_FILES %s: sub %v", dir, sub)
			}
		}
		// A file lists nothing, as in Mesos.
		if resp := c.do(list(f.virtual+"/data.txt"), format); len(resp.GetListFiles().GetFileInfos()) != 0 {
			t.Errorf("LIST_FILES of a file: %v", resp)
		}

		n := uint64(len(filesData))
		for _, tc := range []struct {
			call *agentpb.Call
			data string
		}{
			{read(f.virtual+"/stdout", 0), "hello stdout\n"},
			{read(f.virtual+"/data.txt", 0), filesData},
			{read(f.virtual+"/data.txt", 10, 5), "01234"},
			{read(f.virtual+"/data.txt", 25, 100), "56789"},
			{read(f.virtual+"/data.txt", 3, 0), ""},
			{read(f.virtual+"/data.txt", n), ""},
			{read(f.virtual+"/data.txt", 1000, 4), ""},
			{read(f.sandbox+"/data.txt", 10, 2), "01"},
			{read("file://"+f.virtual+"/sub/../data.txt", 10, 2), "01"},
		} {
			rf := c.do(tc.call, format).GetReadFile()
			size := n
			if strings.HasSuffix(tc.call.GetReadFile().GetPath(), "stdout") {
				size = uint64(len("hello stdout\n"))
			}
			if string(rf.GetData()) != tc.data || rf.GetSize() != size {
				t.Errorf("READ_FILE %v: got %d %q, want %d %q", tc.call.GetReadFile(), rf.GetSize(), rf.GetData(), size, tc.data)
			}
		}
		// One read returns at most 16 pages.
		page16 := 16 * os.Getpagesize()
		if rf := c.do(read(f.virtual+"/big.txt", 7), format).GetReadFile(); string(rf.GetData()) != f.big[7:7+page16] || rf.GetSize() != uint64(len(f.big)) {
			t.Errorf("READ_FILE big.txt: %d bytes, size %d", len(rf.GetData()), rf.GetSize())
		}

		// Paths not served are 404 with no body, paths that leave their
		// sandbox 400, directories cannot be read: as /files answers.
		for _, p := range []string{f.virtual + "/nope", "/frameworks/F1/executors/nope/runs/latest", "/etc/passwd", "", "/"} {
			c.expect(list(p), format, 404, "")
			c.expect(read(p, 0), format, 404, "")
		}
		for _, p := range []string{f.virtual + "/escape", f.virtual + "/up", f.virtual + "/..", f.sandbox + "/escape"} {
			want := "'" + p + "' is inaccessible.\n"
			c.expect(list(p), format, 400, want)
			c.expect(read(p, 0), format, 400, want)
		}
		c.expect(read(f.virtual+"/sub", 0), format, 400, "Cannot read a directory.\n")
		c.expect(simpleCall(agentpb.Call_LIST_FILES), format, 400, "Failed to validate agent::Call: Expecting 'list_files' to be present")
		c.expect(simpleCall(agentpb.Call_READ_FILE), format, 400, "Failed to validate agent::Call: Expecting 'read_file' to be present")
	})

	// In JSON the data is base64, as Mesos writes bytes.
	ans := c.post("/api/v1", "application/json", "application/json",
		[]byte(`{"type":"READ_FILE","read_file":{"path":"`+f.virtual+`/stdout","offset":0}}`))
	if want := `{"type":"READ_FILE","read_file":{"size":13,"data":"aGVsbG8gc3Rkb3V0Cg=="}}`; ans.status != 200 || string(ans.body) != want {
		t.Errorf("READ_FILE in JSON: %d %s, want %s", ans.status, ans.body, want)
	}
	// A READ_FILE without its required offset does not decode.
	ans = c.post("/api/v1", "application/json", "", []byte(`{"type":"READ_FILE","read_file":{"path":"`+f.virtual+`/stdout"}}`))
	if ans.status != 400 || !strings.Contains(string(ans.body), "offset") {
		t.Errorf("READ_FILE without offset: %d %s", ans.status, ans.body)
	}
	// Data that is not UTF-8 comes back as it is.
	binary := []byte{0xff, 0x00, 0xfe, '\n'}
	if err := os.WriteFile(filepath.Join(f.sandbox, "binary"), binary, 0o644); err != nil {
		t.Fatal(err)
	}
	bothFormats(t, "binary", func(t *testing.T, format codec.Format) {
		c := newOperatorClient(t, f.a)
		if rf := c.do(read(f.virtual+"/binary", 0), format).GetReadFile(); !bytes.Equal(rf.GetData(), binary) {
			t.Errorf("READ_FILE binary: %q", rf.GetData())
		}
	})
}

// TestOperatorBadCalls checks Mesos' answers to requests the operator API
// refuses, and that /api/v1/executor still reaches the executor API.
func TestOperatorBadCalls(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	c := newOperatorClient(t, a)
	const jsonType, protoType = "application/json", "application/x-protobuf"
	health := []byte(`{"type":"GET_HEALTH"}`)
	for _, tc := range []struct {
		what                string
		method, contentType string
		header              map[string]string
		body                []byte
		status              int
		want                string // the body, or its prefix when it ends with "*"
	}{
		{"malformed JSON", "POST", jsonType, nil, []byte(`{"type":`), 400, "Failed to parse body into mesos.v1.agent.Call: *"},
		{"malformed protobuf", "POST", protoType, nil, []byte{0xff, 0xff}, 400, "Failed to parse body into mesos.v1.agent.Call: *"},
		{"no type", "POST", jsonType, nil, []byte(`{}`), 400, "Failed to validate agent::Call: Expecting 'type' to be present"},
		{"no get_metrics", "POST", jsonType, nil, []byte(`{"type":"GET_METRICS"}`), 400,
			"Failed to validate agent::Call: Expecting 'get_metrics' to be present"},
		{"no Content-Type", "POST", "", nil, health, 400, "Expecting 'Content-Type' to be present"},
		{"text Content-Type", "POST", "text/plain", nil, health, 415, "Expecting 'Content-Type' of *"},
		{"streaming Content-Type", "POST", "application/recordio", nil, health, 415, "Expecting 'Content-Type' of *"},
		{"Message-Content-Type", "POST", jsonType, map[string]string{"Message-Content-Type": jsonType}, health, 415,
			"Expecting 'Message-Content-Type' to be not set for non-streaming requests"},
		{"unacceptable Accept", "POST", jsonType, map[string]string{"Accept": "text/html"}, health, 406, "Expecting 'Accept' to allow *"},
		{"Message-Accept", "POST", jsonType, map[string]string{"Message-Accept": jsonType}, health, 406,
			"Expecting 'Message-Accept' to be not set for non-streaming responses"},
		{"GET", "GET", jsonType, nil, nil, 405, "Expecting 'POST', received 'GET'"},
		{"UNKNOWN", "POST", jsonType, nil, []byte(`{"type":"UNKNOWN"}`), 501, ""},
		{"PRUNE_IMAGES", "POST", jsonType, nil,
			[]byte(`{"type":"PRUNE_IMAGES"}`), 501,
			"Call PRUNE_IMAGES is not implemented by this agent yet"},
		{"LAUNCH_CONTAINER", "POST", jsonType, nil,
			[]byte(`{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"c1"}}}`), 501,
			"Call LAUNCH_CONTAINER is not implemented by this agent yet"},
		{"ATTACH_CONTAINER_OUTPUT", "POST", jsonType, nil, []byte(`{"type":"ATTACH_CONTAINER_OUTPUT","attach_container_output":{"container_id":{"value":"c1"}}}`), 501,
			"Call ATTACH_CONTAINER_OUTPUT is not implemented by this agent yet"},
		{"PRUNE_IMAGES", "POST", jsonType, nil, []byte(`{"type":"PRUNE_IMAGES"}`), 501,
			"Call PRUNE_IMAGES is not implemented by this agent yet"},
	} {
		req, err := http.NewRequest(tc.method, c.base+"/api/v1", bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		ans := c.send(req)
		body := string(ans.body)
		ok := body == tc.want
		if prefix, isPrefix := strings.CutSuffix(tc.want, "*"); isPrefix {
			ok = strings.HasPrefix(body, prefix)
		}
		if ans.status != tc.status || !ok {
			t.Errorf("%s: got %d %q, want %d %q", tc.what, ans.status, body, tc.status, tc.want)
		}
	}
	// The same refusal in protobuf.
	c.expect(&agentpb.Call{Type: agentpb.Call_KILL_CONTAINER.Enum(), KillContainer: &agentpb.Call_KillContainer{
		ContainerId: &mesos.ContainerID{Value: proto.String("c1")}}}, codec.Protobuf, 501,
		"Call KILL_CONTAINER is not implemented by this agent yet")
	c.expect(simpleCall(agentpb.Call_GET_METRICS), codec.Protobuf, 400,
		"Failed to validate agent::Call: Expecting 'get_metrics' to be present")

	// /api/v1/executor, under both prefixes, is still the executor API.
	for _, p := range []string{"/api/v1/executor", "/slave(1)/api/v1/executor"} {
		ans := c.post(p, jsonType, "", health)
		if ans.status != 400 || !strings.HasPrefix(string(ans.body), "Failed to parse body into mesos.v1.executor.Call") {
			t.Errorf("%s: %d %s", p, ans.status, ans.body)
		}
	}
	// Nothing else lives under /api/v1.
	if ans := c.post("/api/v1/other", jsonType, "", health); ans.status != 404 {
		t.Errorf("/api/v1/other: %d %s", ans.status, ans.body)
	}
}

// TestOperatorDuringRecovery: until the executors of a previous run have
// re-subscribed or the timeout passed, the operator API answers 503, as
// Mesos' agent does while it recovers.
func TestOperatorDuringRecovery(t *testing.T) {
	m := newFakeMaster(t)
	// A hung executor keeps the restarted agent recovering.
	addr, _ := restartWithHungExecutor(t, m, 2*time.Second)
	c := operatorClient{t: t, base: "http://" + addr}
	ans := c.post("/api/v1", "application/json", "", []byte(`{"type":"GET_HEALTH"}`))
	if ans.status != 503 || string(ans.body) != "Agent has not finished recovery" {
		t.Errorf("GET_HEALTH while recovering: %d %q", ans.status, ans.body)
	}
	m.waitState(t, "t", mesos.TaskState_TASK_LOST)
	if resp := c.do(simpleCall(agentpb.Call_GET_HEALTH), codec.JSON); !resp.GetGetHealth().GetHealthy() {
		t.Errorf("GET_HEALTH after recovery: %v", resp)
	}
}

// SET_LOGGING_LEVEL raises the verbosity GET_LOGGING_LEVEL and
// /logging/toggle report.
func TestOperatorLoggingLevel(t *testing.T) {
	m := newFakeMaster(t)
	v := logging.New(slog.LevelInfo)
	a := startAgent(t, m, func(c *Config) { c.Verbosity = v })
	defer v.Set(0, 0)
	c := newOperatorClient(t, a)
	set := c.post("/api/v1", "application/json", "", []byte(`{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":2,"duration":{"nanoseconds":60000000000}}}`))
	if set.status != http.StatusOK || len(set.body) != 0 {
		t.Fatalf("SET_LOGGING_LEVEL: %d %q", set.status, set.body)
	}
	got := c.post("/api/v1", "application/json", "application/json", []byte(`{"type":"GET_LOGGING_LEVEL"}`))
	if got.status != http.StatusOK || !strings.Contains(string(got.body), `"level":2`) {
		t.Errorf("GET_LOGGING_LEVEL: %d %s", got.status, got.body)
	}
	resp, err := http.Get(c.base + "/logging/toggle")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "2\n" {
		t.Errorf("/logging/toggle: %q", b)
	}
}
