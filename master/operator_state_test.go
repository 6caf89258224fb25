package master

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
)

// opCluster is a master on loopback whose agents and frameworks are the
// recording fakes of harness_test.go, attached to it on its own goroutine;
// the operator API is called over HTTP.
type opCluster struct {
	t   *testing.T
	m   *Master
	url string
	seq int
}

func newOpCluster(t *testing.T) *opCluster {
	m, srv := testMaster(t)
	return &opCluster{t: t, m: m, url: srv.URL}
}

// on runs fn on the master's goroutine; the master allocates after it, as
// after any event, before it runs the next.
func (oc *opCluster) on(fn func(c *core)) {
	oc.t.Helper()
	if err := oc.m.do(fn); err != nil {
		oc.t.Fatal(err)
	}
}

// addAgent registers an agent at 127.0.0.1:5051 with resources res and the
// capabilities of a Mesos 1.11 agent.
func (oc *opCluster) addAgent(host, res string) *recAgent {
	oc.t.Helper()
	oc.seq++
	a := &recAgent{streamID: "agent-stream-" + itoa(oc.seq)}
	var caps []*mesos.AgentInfo_Capability
	for t := mesos.AgentInfo_Capability_MULTI_ROLE; t <= mesos.AgentInfo_Capability_TASK_RESOURCE_LIMITS; t++ {
		caps = append(caps, &mesos.AgentInfo_Capability{Type: t.Enum()})
	}
	var err error
	oc.on(func(c *core) {
		a.id, err = c.registerAgent(a, a.streamID, &agentproto.AgentCall_Register{
			AgentInfo:    &mesos.AgentInfo{Hostname: proto.String(host), Resources: mustResources(oc.t, res)},
			Endpoint:     proto.String("127.0.0.1:5051"),
			Version:      proto.String("1.11.1"),
			Capabilities: caps,
		})
	})
	if err = awaitReply(err); err != nil {
		oc.t.Fatal(err)
	}
	return a
}

// subscribe subscribes a framework named name, with checkpointing and
// PARTITION_AWARE like the framework of the Mesos samples.
func (oc *opCluster) subscribe(name string) *recFramework {
	oc.t.Helper()
	oc.seq++
	f := &recFramework{streamID: "fw-stream-" + itoa(oc.seq)}
	info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String(name), Checkpoint: proto.Bool(true), Capabilities: partitionAware}
	oc.on(func(c *core) { f.id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{FrameworkInfo: info}) })
	if f.id == "" {
		oc.t.Fatal("subscription refused")
	}
	return f
}

// call sends a scheduler call from f on its stream.
func (oc *opCluster) call(f *recFramework, call *schedpb.Call) {
	oc.t.Helper()
	call.FrameworkId = frameworkID(f.id)
	if err := validateSchedulerCall(call); err != nil {
		oc.t.Fatalf("invalid call: %v", err)
	}
	var err error
	oc.on(func(c *core) { err = c.schedulerCall(call, f.streamID, true) })
	if err != nil {
		oc.t.Fatal(err)
	}
}

// launch launches task with the offers f holds from a (all of them, so
// whatever is left of a's resources is offered at once); what the task
// leaves may be offered again at once.
func (oc *opCluster) launch(a *recAgent, f *recFramework, task *mesos.TaskInfo) {
	oc.t.Helper()
	var offers []string
	eventually(oc.t, 5*time.Second, "an offer", func() bool {
		oc.on(func(c *core) {
			f.offers()
			offers = nil
			for _, o := range sortOffers(c.frameworks[f.id].offers) {
				if o.agentID == a.id {
					offers = append(offers, o.pb.GetId().GetValue())
				}
			}
		})
		return len(offers) > 0
	})
	accept := acceptCall(offers, launch(task))
	accept.Accept.Filters = &mesos.Filters{RefuseSeconds: proto.Float64(0)}
	oc.call(f, accept)
	var runs []*agentproto.AgentEvent
	oc.on(func(c *core) { runs = a.take(agentproto.AgentEvent_RUN_TASK) })
	if len(runs) != 1 {
		oc.t.Fatalf("agent got %d RUN_TASK for %s", len(runs), task.GetTaskId().GetValue())
	}
}

// report sends a status update of task as Mezzo's agent does (from its
// executor, with the container's status and a uuid), and f acknowledges
// it.
func (oc *opCluster) report(a *recAgent, f *recFramework, task, executor string, state mesos.TaskState, message string) {
	oc.t.Helper()
	oc.seq++
	uuid := []byte(fmt.Sprintf("uuid-%011d", oc.seq))
	st := &mesos.TaskStatus{
		TaskId:     &mesos.TaskID{Value: proto.String(task)},
		State:      state.Enum(),
		Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String(executor)},
		Timestamp:  proto.Float64(1795326125 + float64(oc.seq)),
		Uuid:       uuid,
		ContainerStatus: &mesos.ContainerStatus{
			ContainerId: &mesos.ContainerID{Value: proto.String("container-" + task)},
			NetworkInfos: []*mesos.NetworkInfo{{IpAddresses: []*mesos.NetworkInfo_IPAddress{{
				Protocol: mesos.NetworkInfo_IPv4.Enum(), IpAddress: proto.String("127.0.0.1"),
			}}}},
			ExecutorPid: proto.Uint32(4242),
		},
	}
	if message != "" {
		st.Message = proto.String(message)
	}
	var err error
	oc.on(func(c *core) {
		err = c.agentCall(&agentproto.AgentCall{
			Type:         agentproto.AgentCall_STATUS_UPDATE.Enum(),
			AgentId:      agentID(a.id),
			StatusUpdate: &agentproto.AgentCall_StatusUpdate{FrameworkId: frameworkID(f.id), Status: st},
		}, a.streamID)
	})
	if err != nil {
		oc.t.Fatal(err)
	}
	oc.call(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: agentID(a.id), TaskId: st.GetTaskId(), Uuid: uuid,
	}})
}

// finishTask runs the command task id (cpus 0.1, mem 32) through
// TASK_STARTING, TASK_RUNNING and TASK_FINISHED, as in the Mesos samples.
func (oc *opCluster) finishTask(a *recAgent, f *recFramework, id string) {
	oc.t.Helper()
	oc.launch(a, f, commandTask(oc.t, id, a.id, "cpus:0.1;mem:32"))
	oc.report(a, f, id, id, mesos.TaskState_TASK_STARTING, "")
	oc.report(a, f, id, id, mesos.TaskState_TASK_RUNNING, "")
	oc.report(a, f, id, id, mesos.TaskState_TASK_FINISHED, "Command exited with status 0")
}

// waitForOffer waits until f holds an offer.
func (oc *opCluster) waitForOffer(f *recFramework) {
	oc.t.Helper()
	eventually(oc.t, 5*time.Second, "an outstanding offer", func() bool {
		n := 0
		oc.on(func(c *core) {
			if fw := c.frameworks[f.id]; fw != nil {
				n = len(fw.offers)
			}
		})
		return n > 0
	})
}

// operator posts a JSON master::Call asking for an answer in format.
func (oc *opCluster) operator(body string, format codec.Format) (int, string, []byte) {
	oc.t.Helper()
	resp := post(oc.t, oc.url+"/api/v1", codec.MediaJSON, []byte(body), map[string]string{"Accept": format.MediaType()})
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		oc.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// query asks for a state answer in format; it returns the answer decoded
// and as sent.
func (oc *opCluster) query(typ string, format codec.Format) (*masterpb.Response, []byte) {
	oc.t.Helper()
	status, ctype, body := oc.operator(`{"type":"`+typ+`"}`, format)
	if status != http.StatusOK || ctype != format.MediaType() {
		oc.t.Fatalf("%s as %s: %d %q %s", typ, format, status, ctype, body)
	}
	resp := &masterpb.Response{}
	if err := codec.Unmarshal(format, body, resp); err != nil {
		oc.t.Fatalf("%s as %s: %v", typ, format, err)
	}
	if resp.GetType().String() != typ {
		oc.t.Fatalf("%s answered with %s", typ, resp.GetType())
	}
	return resp, body
}

// both asks for a state answer in JSON and in protobuf, checks that they
// say the same, and returns it.
func (oc *opCluster) both(typ string) *masterpb.Response {
	oc.t.Helper()
	fromJSON, _ := oc.query(typ, codec.JSON)
	fromPB, _ := oc.query(typ, codec.Protobuf)
	sameMessage(oc.t, typ+" in JSON and protobuf", fromJSON, fromPB)
	return fromPB
}

// sameMessage compares two messages by their JSON (which writes defaults,
// so a field set to its default equals an unset one).
func sameMessage(t *testing.T, what string, a, b proto.Message) {
	t.Helper()
	ja, err := codec.MarshalJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := codec.MarshalJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, jb) {
		t.Errorf("%s differ:\n%s\n%s", what, ja, jb)
	}
}

func TestOperatorStateOfEmptyMaster(t *testing.T) {
	oc := newOpCluster(t)
	// Mesos writes each list of the answers, empty or not; the deprecated
	// ones (pending_tasks, orphan_tasks, orphan_executors) never.
	tasks := `{"tasks":[],"unreachable_tasks":[],"completed_tasks":[]}`
	executors := `{"executors":[]}`
	frameworks := `{"frameworks":[],"completed_frameworks":[]}`
	agents := `{"agents":[],"recovered_agents":[]}`
	for typ, want := range map[string]string{
		"GET_TASKS":      `{"type":"GET_TASKS","get_tasks":` + tasks + `}`,
		"GET_EXECUTORS":  `{"type":"GET_EXECUTORS","get_executors":` + executors + `}`,
		"GET_FRAMEWORKS": `{"type":"GET_FRAMEWORKS","get_frameworks":` + frameworks + `}`,
		"GET_AGENTS":     `{"type":"GET_AGENTS","get_agents":` + agents + `}`,
		"GET_STATE": `{"type":"GET_STATE","get_state":{"get_tasks":` + tasks + `,"get_executors":` + executors +
			`,"get_frameworks":` + frameworks + `,"get_agents":` + agents + `}}`,
	} {
		if _, got := oc.query(typ, codec.JSON); string(got) != want {
			t.Errorf("%s:\ngot  %s\nwant %s", typ, got, want)
		}
	}
	// In protobuf, GET_STATE holds its four parts even when they are empty.
	st, _ := oc.query("GET_STATE", codec.Protobuf)
	if s := st.GetGetState(); s.GetTasks == nil || s.GetExecutors == nil || s.GetFrameworks == nil || s.GetAgents == nil {
		t.Errorf("GET_STATE lacks parts: %v", s)
	}
}

// TestOperatorGetStateHasMesosShape recreates the cluster of the Mesos
// 1.11 samples (one agent; a framework torn down; a framework whose task
// finished and that holds an offer) and checks that GET_STATE has the keys
// Mesos' has, no more, no fewer.
func TestOperatorGetStateHasMesosShape(t *testing.T) {
	golden, err := os.ReadFile(samples + "operator_GET_STATE.json")
	if err != nil {
		t.Skipf("samples not available: %v", err)
	}
	oc := newOpCluster(t)
	a := oc.addAgent("localhost", "cpus:2;mem:1024;disk:1000;ports:[31000-32000]")
	gone := oc.subscribe("capture")
	if status, _, body := oc.operator(`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"`+gone.id+`"}}}`, codec.JSON); status != 200 {
		t.Fatalf("TEARDOWN: %d %s", status, body)
	}
	f := oc.subscribe("capture")
	oc.finishTask(a, f, "cap-task-1")
	oc.waitForOffer(f)

	_, got := oc.query("GET_STATE", codec.JSON)
	// Every key of the sample is one this scenario produces, so nothing is
	// excluded.
	sameShape(t, "GET_STATE", got, golden)
	sameEnums(t, "GET_STATE", got, golden)

	// The protobuf sample (another framework, no task) has no key the
	// protobuf answer lacks.
	pbGolden, err := os.ReadFile(samples + "operator_GET_STATE_response.pb")
	if err != nil {
		t.Fatal(err)
	}
	want := &masterpb.Response{}
	if err := codec.Unmarshal(codec.Protobuf, pbGolden, want); err != nil {
		t.Fatal(err)
	}
	fromPB, _ := oc.query("GET_STATE", codec.Protobuf)
	gotKeys, wantKeys := keyPaths(t, mustJSON(t, fromPB)), keyPaths(t, mustJSON(t, want))
	for k := range wantKeys {
		if !gotKeys[k] {
			t.Errorf("protobuf GET_STATE lacks %s", k)
		}
	}
	fromJSON := &masterpb.Response{}
	if err := codec.Unmarshal(codec.JSON, got, fromJSON); err != nil {
		t.Fatal(err)
	}
	sameMessage(t, "GET_STATE in JSON and protobuf", fromJSON, fromPB)
}

func mustJSON(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := codec.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOperatorStateQueries checks each state answer, in JSON and in
// protobuf, on a cluster with a running task under a custom executor, a
// finished task, an outstanding offer and a torn-down framework.
func TestOperatorStateQueries(t *testing.T) {
	oc := newOpCluster(t)
	a := oc.addAgent("localhost", "cpus:2;mem:1024;disk:1000;ports:[31000-32000]")
	gone := oc.subscribe("gone")
	if status, _, body := oc.operator(`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"`+gone.id+`"}}}`, codec.JSON); status != 200 || len(body) != 0 {
		t.Fatalf("TEARDOWN: %d %q", status, body)
	}
	f := oc.subscribe("capture")
	oc.finishTask(a, f, "done")
	task := commandTask(t, "running", a.id, "cpus:0.5;mem:64")
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("exec")},
		Command:    &mesos.CommandInfo{Value: proto.String("./executor")},
		Resources:  mustResources(t, "cpus:0.25;mem:32"),
	}
	oc.launch(a, f, task)
	oc.report(a, f, "running", "exec", mesos.TaskState_TASK_RUNNING, "")
	oc.waitForOffer(f)

	state := oc.both("GET_STATE").GetGetState()
	agents := oc.both("GET_AGENTS").GetGetAgents()
	frameworks := oc.both("GET_FRAMEWORKS").GetGetFrameworks()
	executors := oc.both("GET_EXECUTORS").GetGetExecutors()
	tasks := oc.both("GET_TASKS").GetGetTasks()
	sameMessage(t, "GET_STATE's and GET_AGENTS' agents", state.GetGetAgents(), agents)
	sameMessage(t, "GET_STATE's and GET_FRAMEWORKS' frameworks", state.GetGetFrameworks(), frameworks)
	sameMessage(t, "GET_STATE's and GET_EXECUTORS' executors", state.GetGetExecutors(), executors)
	sameMessage(t, "GET_STATE's and GET_TASKS' tasks", state.GetGetTasks(), tasks)

	// The agent: its total in the endpoint format, what the task and the
	// executor hold and what is offered allocated to their role.
	if len(agents.GetAgents()) != 1 || len(agents.GetRecoveredAgents()) != 0 {
		t.Fatalf("agents %v", agents)
	}
	ag := agents.GetAgents()[0]
	if ag.GetAgentInfo().GetId().GetValue() != a.id || !ag.GetActive() || ag.GetDeactivated() || ag.GetVersion() != "1.11.1" ||
		ag.GetPid() != "slave(1)@127.0.0.1:5051" || ag.GetRegisteredTime().GetNanoseconds() == 0 || ag.ReregisteredTime != nil ||
		!ag.GetAgentInfo().GetCheckpoint() || ag.GetAgentInfo().GetPort() != 5051 || len(ag.GetCapabilities()) != 8 || ag.DrainInfo != nil {
		t.Errorf("agent %v", ag)
	}
	for _, r := range ag.GetAgentInfo().GetResources() {
		if r.Role != nil || r.AllocationInfo != nil {
			t.Errorf("agent_info resource %v is not in the post-refinement format", r)
		}
	}
	if got := scalars(ag.GetTotalResources(), ""); got["cpus"] != 2 || got["mem"] != 1024 {
		t.Errorf("total_resources %v", ag.GetTotalResources())
	}
	for _, r := range ag.GetTotalResources() {
		if r.GetRole() != "*" || r.AllocationInfo != nil {
			t.Errorf("total resource %v is not in the endpoint format", r)
		}
	}
	if got := scalars(ag.GetAllocatedResources(), "*"); got["cpus"] != 0.75 || got["mem"] != 96 {
		t.Errorf("allocated_resources %v", ag.GetAllocatedResources())
	}
	if got := scalars(ag.GetOfferedResources(), "*"); got["cpus"] != 1.25 || got["mem"] != 928 {
		t.Errorf("offered_resources %v", ag.GetOfferedResources())
	}

	// The frameworks: the subscribed one with its offer as the master keeps
	// it, the torn-down one completed.
	if len(frameworks.GetFrameworks()) != 1 || len(frameworks.GetCompletedFrameworks()) != 1 {
		t.Fatalf("frameworks %v", frameworks)
	}
	fw := frameworks.GetFrameworks()[0]
	if fw.GetFrameworkInfo().GetId().GetValue() != f.id || !fw.GetActive() || !fw.GetConnected() || fw.GetRecovered() ||
		fw.GetRegisteredTime().GetNanoseconds() == 0 || fw.GetReregisteredTime().GetNanoseconds() != fw.GetRegisteredTime().GetNanoseconds() ||
		fw.UnregisteredTime != nil || fw.OfferConstraints == nil {
		t.Errorf("framework %v", fw)
	}
	if len(fw.GetOffers()) == 0 {
		t.Fatalf("framework has no offers: %v", fw)
	}
	for _, o := range fw.GetOffers() {
		if o.GetAllocationInfo().GetRole() != "*" || o.GetAgentId().GetValue() != a.id {
			t.Errorf("offer %v", o)
		}
		for _, r := range o.GetResources() {
			if r.Role != nil || r.GetAllocationInfo().GetRole() != "*" {
				t.Errorf("offered resource %v is not as the master keeps it", r)
			}
		}
	}
	if got := scalars(fw.GetAllocatedResources(), "*"); got["cpus"] != 0.75 {
		t.Errorf("framework allocated_resources %v", fw.GetAllocatedResources())
	}
	if got := scalars(fw.GetOfferedResources(), "*"); got["cpus"] != 1.25 {
		t.Errorf("framework offered_resources %v", fw.GetOfferedResources())
	}
	done := frameworks.GetCompletedFrameworks()[0]
	if done.GetFrameworkInfo().GetId().GetValue() != gone.id || done.GetActive() || done.GetConnected() ||
		done.GetUnregisteredTime().GetNanoseconds() == 0 || len(done.GetOffers()) != 0 {
		t.Errorf("completed framework %v", done)
	}

	// The executor, its resources allocated to the framework's role.
	if len(executors.GetExecutors()) != 1 || len(executors.GetOrphanExecutors()) != 0 {
		t.Fatalf("executors %v", executors)
	}
	ex := executors.GetExecutors()[0]
	if ex.GetAgentId().GetValue() != a.id || ex.GetExecutorInfo().GetExecutorId().GetValue() != "exec" ||
		ex.GetExecutorInfo().GetFrameworkId().GetValue() != f.id {
		t.Errorf("executor %v", ex)
	}
	if got := scalars(ex.GetExecutorInfo().GetResources(), "*"); got["cpus"] != 0.25 {
		t.Errorf("executor resources %v", ex.GetExecutorInfo().GetResources())
	}

	// The tasks: one running, one completed after its last update was
	// acknowledged.
	if len(tasks.GetTasks()) != 1 || len(tasks.GetCompletedTasks()) != 1 || len(tasks.GetUnreachableTasks()) != 0 ||
		len(tasks.GetPendingTasks()) != 0 || len(tasks.GetOrphanTasks()) != 0 {
		t.Fatalf("tasks %v", tasks)
	}
	run := tasks.GetTasks()[0]
	if run.GetTaskId().GetValue() != "running" || run.GetState() != mesos.TaskState_TASK_RUNNING ||
		run.GetExecutorId().GetValue() != "exec" || run.GetFrameworkId().GetValue() != f.id {
		t.Errorf("running task %v", run)
	}
	fin := tasks.GetCompletedTasks()[0]
	if fin.GetTaskId().GetValue() != "done" || fin.GetState() != mesos.TaskState_TASK_FINISHED ||
		fin.GetStatusUpdateState() != mesos.TaskState_TASK_FINISHED || len(fin.GetStatusUpdateUuid()) == 0 ||
		len(fin.GetStatuses()) != 3 || fin.User != nil || fin.ExecutorId != nil {
		t.Errorf("completed task %v", fin)
	}
	for _, tk := range []*mesos.Task{run, fin} {
		if got := scalars(tk.GetResources(), "*"); got["cpus"] == 0 {
			t.Errorf("task %s resources %v", tk.GetTaskId().GetValue(), tk.GetResources())
		}
		for _, r := range tk.GetResources() {
			if r.Role != nil {
				t.Errorf("task resource %v is not in the post-refinement format", r)
			}
		}
	}
}

// scalars sums the scalar resources allocated to role ("" for none) by
// name.
func scalars(rs []*mesos.Resource, role string) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if r.GetAllocationInfo().GetRole() == role && r.Scalar != nil {
			out[r.GetName()] += r.GetScalar().GetValue()
		}
	}
	return out
}

func TestOperatorTeardown(t *testing.T) {
	oc := newOpCluster(t)
	a := oc.addAgent("localhost", "cpus:2;mem:1024")
	f := oc.subscribe("doomed")
	oc.launch(a, f, commandTask(t, "t1", a.id, "cpus:1;mem:128"))
	oc.report(a, f, "t1", "t1", mesos.TaskState_TASK_RUNNING, "")

	teardown := `{"type":"TEARDOWN","teardown":{"framework_id":{"value":"` + f.id + `"}}}`
	if status, _, body := oc.operator(teardown, codec.JSON); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("TEARDOWN: %d %q", status, body)
	}
	// The agent is told to shut the framework down, the framework's
	// stream ends.
	var shutdowns []*agentproto.AgentEvent
	var closed bool
	oc.on(func(c *core) { shutdowns, closed = a.take(agentproto.AgentEvent_SHUTDOWN_FRAMEWORK), f.closed })
	if len(shutdowns) != 1 || shutdowns[0].GetShutdownFramework().GetFrameworkId().GetValue() != f.id || !closed {
		t.Errorf("agent got %v; framework stream closed: %v", shutdowns, closed)
	}
	frameworks := oc.both("GET_FRAMEWORKS").GetGetFrameworks()
	if len(frameworks.GetFrameworks()) != 0 || len(frameworks.GetCompletedFrameworks()) != 1 ||
		frameworks.GetCompletedFrameworks()[0].GetFrameworkInfo().GetId().GetValue() != f.id ||
		frameworks.GetCompletedFrameworks()[0].UnregisteredTime == nil {
		t.Errorf("frameworks after TEARDOWN %v", frameworks)
	}
	tasks := oc.both("GET_TASKS").GetGetTasks()
	if len(tasks.GetTasks()) != 0 || len(tasks.GetCompletedTasks()) != 1 ||
		tasks.GetCompletedTasks()[0].GetState() != mesos.TaskState_TASK_KILLED {
		t.Errorf("tasks after TEARDOWN %v", tasks)
	}
	agents := oc.both("GET_AGENTS").GetGetAgents()
	if got := scalars(agents.GetAgents()[0].GetAllocatedResources(), "*"); len(got) != 0 {
		t.Errorf("the agent still has %v allocated", got)
	}

	for _, tc := range []struct {
		body, want string
	}{
		{`{"type":"TEARDOWN"}`, "Expecting 'teardown' to be present"},
		{teardown, "No framework found"}, // it is completed now
		{`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"nope"}}}`, "No framework found"},
		{`{"type":"TEARDOWN","teardown":{}}`, "framework_id"},
	} {
		if status, _, body := oc.operator(tc.body, codec.JSON); status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %q, want 400 with %q", tc.body, status, body, tc.want)
		}
	}
}

// TestOperatorAgentHoldsAndRecovery checks the core's answers for what
// the HTTP scenarios do not reach: a draining agent, agents and frameworks
// known only from the registry after a restart.
func TestOperatorAgentHoldsAndRecovery(t *testing.T) {
	reg := registry.NewMemory()
	h := newHarness(t, func(c *Config) { c.AgentReregisterTimeout = time.Minute })
	h.c.reg = reg
	a := h.addAgent("h1", "cpus:2;mem:1024")
	h.addAgent("h2", "cpus:2;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{FailoverTimeout: proto.Float64(3600)})

	var err error
	h.step(func(c *core) { err = c.drainAgent(a.id, nil, false) })
	if err != nil {
		t.Fatal(err)
	}
	// Without tasks the agent is drained at once.
	ag := h.c.getAgents().GetAgents()[0]
	if ag.GetAgentInfo().GetId().GetValue() != a.id || ag.GetActive() || !ag.GetDeactivated() ||
		ag.GetDrainInfo().GetState() != mesos.DrainState_DRAINED {
		t.Errorf("drained agent %v", ag)
	}

	h.restart(reg)
	agents := h.c.getAgents()
	if len(agents.GetAgents()) != 0 || len(agents.GetRecoveredAgents()) != 2 {
		t.Fatalf("after restart %v", agents)
	}
	rec := agents.GetRecoveredAgents()[0]
	if rec.GetId().GetValue() == "" || rec.GetHostname() == "" || !rec.GetCheckpoint() || len(rec.GetResources()) == 0 {
		t.Errorf("recovered agent %v", rec)
	}
	frameworks := h.c.getFrameworks().GetFrameworks()
	if len(frameworks) != 1 {
		t.Fatalf("frameworks after restart %v", frameworks)
	}
	if fw := frameworks[0]; fw.GetFrameworkInfo().GetId().GetValue() != f.id || !fw.GetRecovered() || fw.GetActive() ||
		fw.RegisteredTime != nil || fw.ReregisteredTime != nil {
		t.Errorf("recovered framework %v", fw)
	}
}
