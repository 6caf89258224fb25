package master

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// recordedMasterID is the master id in the recorded snapshot; the
// harness' master is "M".
const recordedMasterID = "87461166-a4bf-42a1-8d49-f3fb623a911b"

// notImplemented are the recorded Mesos metrics this master leaves out
// (see the comment at the top of metrics.go for why). Every other
// recorded key must be in the snapshot.
var notImplemented = map[string]bool{
	"registrar/log/ensemble_size":                     true,
	"registrar/log/recovered":                         true,
	"registrar/registry_size_bytes":                   true,
	"allocator/mesos/allocation_run_latency_ms":       true,
	"allocator/mesos/allocation_run_latency_ms/count": true,
	"allocator/mesos/allocation_run_latency_ms/max":   true,
	"allocator/mesos/allocation_run_latency_ms/min":   true,
	"allocator/mesos/allocation_run_latency_ms/p50":   true,
	"allocator/mesos/allocation_run_latency_ms/p90":   true,
	"allocator/mesos/allocation_run_latency_ms/p95":   true,
	"allocator/mesos/allocation_run_latency_ms/p99":   true,
	"allocator/mesos/allocation_run_latency_ms/p999":  true,
	"allocator/mesos/allocation_run_latency_ms/p9999": true,
}

// onlyWithMaster are recorded keys only a running Master (not the bare
// core of the harness) measures; TestMetricsOverHTTP checks them.
var onlyWithMaster = map[string]bool{
	"registrar/state_fetch_ms": true,
	"system/cpus_total":        true,
	"system/load_1min":         true,
	"system/load_5min":         true,
	"system/load_15min":        true,
	"system/mem_free_bytes":    true,
	"system/mem_total_bytes":   true,
}

// notCompared are the recorded keys whose values are not the scenario's
// to reproduce, with the reason.
var notCompared = map[string]string{
	"master/uptime_secs":                     "wall time",
	"allocator/mesos/allocation_runs":        "depends on timing",
	"allocator/mesos/event_queue_dispatches": "queue length at the moment of the snapshot",
	"allocator/event_queue_dispatches":       "queue length at the moment of the snapshot",
	"master/event_queue_dispatches":          "queue length at the moment of the snapshot",
	"master/outstanding_offers":              "Mesos split the agent into two offers",
	"master/messages_update_slave":           "Mezzo's agents send no UPDATE_SLAVE",
	// Mezzo offered the agent's freed and filtered resources together
	// (one offer); Mesos sent them in two.
	"master/frameworks/capture/M-0001/events":        "offers split differently",
	"master/frameworks/capture/M-0001/events/offers": "offers split differently",
	"master/frameworks/capture/M-0001/offers/sent":   "offers split differently",
	// Mesos sent the first framework a RESCIND when it disconnected;
	// Mezzo withdraws a disconnected framework's offers silently.
	"master/frameworks/capture/M-0000/events":           "RESCIND on disconnection",
	"master/frameworks/capture/M-0000/events/rescind":   "RESCIND on disconnection",
	"master/frameworks/capture/M-0000/offers/rescinded": "RESCIND on disconnection",
}

// notComparedPrefixes are recorded timers (their samples are durations).
var notComparedPrefixes = []string{"allocator/mesos/allocation_run_ms", "registrar/state_store_ms"}

// TestMetricsSnapshotMatchesMesosRecording replays the recorded
// scenario's shape and checks the snapshot against Mesos' recording: every
// recorded key is there (or listed above), and every value the scenario
// decides is Mesos' value.
func TestMetricsSnapshotMatchesMesosRecording(t *testing.T) {
	recorded := loadRecordedSnapshot(t)
	h := newHarness(t)
	a := h.addAgent("agent1", "cpus:2;mem:23081;disk:252899")

	// A first framework subscribes and goes away (failover_timeout 0): it
	// is the completed framework -0000 of the recording.
	f0 := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("capture")})
	h.step(func(c *core) { c.frameworkStreamClosed(f0.id, f0.streamID) })

	f := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("capture"), Checkpoint: proto.Bool(true), Capabilities: partitionAware})
	offers := f.offers()
	if len(offers) != 1 {
		t.Fatalf("got %d offers, want 1", len(offers))
	}
	h.mustCall(f, acceptCall([]string{offers[0].GetId().GetValue()}, launch(commandTask(t, "cap-task-1", a.id, "cpus:0.1;mem:32"))))
	for i, state := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
		uuid := fmt.Sprintf("uuid-%011d", i)
		h.statusUpdate(a, f, "cap-task-1", state, uuid)
		h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String("cap-task-1")}, Uuid: []byte(uuid),
		}})
	}
	h.mustCall(f, acceptCall([]string{"M-O999"}, launch(commandTask(t, "cap-task-2", a.id, "cpus:0.1;mem:32"))))
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: []*schedpb.Call_Reconcile_Task{
		{TaskId: &mesos.TaskID{Value: proto.String("cap-task-1")}},
		{TaskId: &mesos.TaskID{Value: proto.String("never-existed")}},
	}}})
	// Past the decline filter of the first ACCEPT: everything is offered
	// again, as it was when Mesos' snapshot was taken.
	h.advance(10 * time.Second)

	snap := h.c.metricsSnapshot()
	var missing, differ []string
	for _, k := range sortedKeys(recorded) {
		if notImplemented[k] || onlyWithMaster[k] {
			continue
		}
		got, ok := snap[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		if _, skip := notCompared[k]; skip || hasAnyPrefix(k, notComparedPrefixes) {
			continue
		}
		if want := recorded[k]; math.Abs(got-want) > 1e-9 {
			differ = append(differ, fmt.Sprintf("%s = %v, Mesos %v", k, got, want))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d recorded metrics missing:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	if len(differ) > 0 {
		t.Errorf("%d metrics differ from the recording:\n%s", len(differ), strings.Join(differ, "\n"))
	}
	for k := range notImplemented {
		if _, ok := snap[k]; ok {
			t.Errorf("%s is listed as not implemented but is in the snapshot", k)
		}
	}

	// The values the scenario is about, spelled out (the loop above
	// compares them too; these fail with a clearer message).
	for k, want := range map[string]float64{
		"master/tasks_finished": 1,
		"master/tasks_dropped":  1,
		"master/task_dropped/source_master/reason_invalid_offers":       1,
		"master/slave_registrations":                                    1,
		"master/frameworks_active":                                      1,
		"master/cpus_total":                                             2,
		"master/messages_launch_tasks":                                  2,
		"master/valid_status_updates":                                   3,
		"master/frameworks/capture/M-0001/calls":                        7,
		"master/frameworks/capture/M-0001/calls/accept":                 2,
		"master/frameworks/capture/M-0001/calls/acknowledge":            3,
		"master/frameworks/capture/M-0001/events/update":                6,
		"master/frameworks/capture/M-0001/tasks/terminal/task_finished": 1,
		"master/frameworks/capture/M-0001/operations/launch":            1,
		"master/frameworks/capture/M-0000/subscribed":                   0,
		"allocator/mesos/roles/*/shares/dominant":                       1,
	} {
		if got, ok := snap[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	// Mesos counts master/<state>/<source>/<reason> only for updates with
	// a reason; the executor's TASK_FINISHED has none.
	for k := range snap {
		if strings.HasPrefix(k, "master/task_finished/") {
			t.Errorf("unexpected %s: TASK_FINISHED came without a reason", k)
		}
	}
	// Timers measured in the scenario have their statistics.
	for _, k := range []string{"allocator/mesos/allocation_run_ms/count", "registrar/state_store_ms/p99"} {
		if _, ok := snap[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
}

func loadRecordedSnapshot(t *testing.T) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile("../api/legacy/testdata/master_metrics_snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]float64
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		out[strings.ReplaceAll(k, recordedMasterID, "M")] = v
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestMetricsCountEvents checks counters the recorded scenario leaves at
// 0: removals and their reasons, v0 spelling of sources and reasons,
// invalid updates and messages, operations, name escaping.
func TestMetricsCountEvents(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("agent1", "cpus:4;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("my fw/1")})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()},
		launch(commandTask(t, "t1", a.id, "cpus:1;mem:64"), commandTask(t, "t2", a.id, "cpus:1;mem:64"))))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-00000000001")
	// A failed task with a reason is counted under its source and reason.
	err := h.agentCall(a, &agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: frameworkID(f.id),
			Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: proto.String("t1")}, State: mesos.TaskState_TASK_FAILED.Enum(),
				Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Reason: mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum(),
				Uuid: []byte("uuid-00000000002"),
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// An update for a task the master does not know is invalid.
	h.statusUpdate(a, f, "nope", mesos.TaskState_TASK_RUNNING, "uuid-00000000003")
	// A framework message to an unknown agent is invalid.
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{
		AgentId: agentID("nowhere"), ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Data: []byte("x"),
	}})
	// The agent leaves for good while t2 is staging: the framework is not
	// partition-aware, so t2 is lost, with v0 names for source and reason.
	if err := h.agentCall(a, &agentproto.AgentCall{Type: agentproto.AgentCall_UNREGISTER.Enum()}); err != nil {
		t.Fatal(err)
	}

	snap := h.c.metricsSnapshot()
	p := "master/frameworks/my%20fw%2F1/" + f.id + "/"
	for k, want := range map[string]float64{
		"master/tasks_failed": 1,
		"master/task_failed/source_executor/reason_command_executor_failed": 1,
		"master/tasks_lost": 1,
		"master/task_lost/source_master/reason_slave_removed": 1,
		"master/messages_status_update":                       3,
		"master/valid_status_updates":                         2,
		"master/invalid_status_updates":                       1,
		"master/messages_framework_to_executor":               1,
		"master/invalid_framework_to_executor_messages":       1,
		"master/messages_unregister_slave":                    1,
		"master/slave_removals":                               1,
		"master/slave_removals/reason_unregistered":           1,
		"master/slave_removals/reason_unhealthy":              0,
		"master/slaves_unreachable":                           1,
		"master/tasks_staging":                                0,
		p + "operations/launch":                               2,
		p + "operations":                                      2,
		p + "tasks/terminal/task_failed":                      1,
		p + "tasks/terminal/task_lost":                        1,
		p + "calls/message":                                   1,
		p + "events/failure":                                  1,
		p + "roles/*/suppressed":                              0,
		p + "subscribed":                                      1,
	} {
		if got, ok := snap[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
}

// TestMetricsGauges checks gauges computed from state: tasks by state,
// used resources, per-framework active tasks and suppression.
func TestMetricsGauges(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("agent1", "cpus:4;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("g")})
	o := f.offers()[0]
	h.mustCall(f, acceptCall([]string{o.GetId().GetValue()},
		launch(commandTask(t, "t1", a.id, "cpus:1;mem:64"), commandTask(t, "t2", a.id, "cpus:0.5;mem:64"))))
	h.statusUpdate(a, f, "t1", mesos.TaskState_TASK_RUNNING, "uuid-00000000001")
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}})

	snap := h.c.metricsSnapshot()
	p := "master/frameworks/g/" + f.id + "/"
	for k, want := range map[string]float64{
		"master/tasks_running":               1,
		"master/tasks_staging":               1,
		"master/cpus_used":                   1.5,
		"master/cpus_percent":                1.5 / 4,
		"master/mem_used":                    128,
		"master/messages_suppress_offers":    1,
		p + "tasks/active/task_running":      1,
		p + "tasks/active/task_staging":      1,
		p + "roles/*/suppressed":             1,
		"master/operations/total":            0,
		"master/operations/reserve/finished": 0,
	} {
		if got, ok := snap[k]; !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
}

// TestMetricsOverHTTP reads /metrics/snapshot and GET_METRICS from a
// running master: the same names, and the metrics only a Master has.
func TestMetricsOverHTTP(t *testing.T) {
	_, srv := testMaster(t)
	resp, err := http.Get(srv.URL + "/metrics/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var snap map[string]float64
	if err := json.Unmarshal(body, &snap); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	for _, k := range []string{"registrar/state_fetch_ms", "master/event_queue_dispatches", "master/elected", "master/tasks_finished", "system/cpus_total", "system/load_1min", "system/mem_total_bytes", "system/mem_free_bytes"} {
		if _, ok := snap[k]; !ok {
			t.Errorf("/metrics/snapshot lacks %s", k)
		}
	}

	resp = post(t, srv.URL+"/api/v1", "application/json", []byte(`{"type":"GET_METRICS","get_metrics":{}}`), map[string]string{"Accept": "application/json"})
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		GetMetrics struct {
			Metrics []struct {
				Name string `json:"name"`
			} `json:"metrics"`
		} `json:"get_metrics"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	have := map[string]bool{}
	var names []string
	for _, m := range got.GetMetrics.Metrics {
		names = append(names, m.Name)
		have[m.Name] = true
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("GET_METRICS names are not sorted")
	}
	// The same snapshot: every non-timer name of /metrics/snapshot (timers
	// gain statistics between the two requests).
	for _, k := range sortedKeys(snap) {
		if !have[k] && !strings.HasPrefix(k, "allocator/mesos/allocation_run_ms") && !strings.HasPrefix(k, "registrar/state_store_ms") {
			t.Errorf("GET_METRICS lacks %s", k)
		}
	}
}

func TestTimerStatistics(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tm := newTimer(time.Hour)
	out := map[string]float64{}
	tm.addTo(out, "x_ms")
	if len(out) != 0 {
		t.Fatalf("empty timer wrote %v", out)
	}
	tm.record(base, 3*time.Millisecond)
	tm.addTo(out, "x_ms")
	if len(out) != 1 || out["x_ms"] != 3 {
		t.Fatalf("one sample: %v, want only x_ms=3 (statistics need two)", out)
	}
	// Samples 10, 9, ..., 1 ms: the last is 1; percentiles interpolate
	// linearly between ranks, as libprocess does.
	tm = newTimer(time.Hour)
	for i := 10; i >= 1; i-- {
		tm.record(base.Add(time.Duration(10-i)*time.Second), time.Duration(i)*time.Millisecond)
	}
	out = map[string]float64{}
	tm.addTo(out, "x_ms")
	for k, want := range map[string]float64{
		"x_ms": 1, "x_ms/count": 10, "x_ms/min": 1, "x_ms/max": 10,
		"x_ms/p50": 5.5, "x_ms/p90": 9.1, "x_ms/p95": 9.55, "x_ms/p99": 9.91, "x_ms/p999": 9.991, "x_ms/p9999": 9.9991,
	} {
		if got := out[k]; math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if len(out) != 10 {
		t.Errorf("wrote %d metrics, want 10: %v", len(out), out)
	}
}

func TestTimerWindowAndCapacity(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tm := newTimer(time.Hour)
	tm.record(base, 100*time.Millisecond)
	tm.record(base.Add(time.Minute), 1*time.Millisecond)
	// Two hours later the old samples are out of the window; the new one
	// alone has no statistics.
	tm.record(base.Add(2*time.Hour), 2*time.Millisecond)
	out := map[string]float64{}
	tm.addTo(out, "x_ms")
	if _, ok := out["x_ms/count"]; ok || out["x_ms"] != 2 {
		t.Errorf("after the window: %v, want only x_ms=2", out)
	}
	// More samples than the capacity: the oldest go.
	tm = newTimer(time.Hour)
	for i := 0; i < timerCapacity+500; i++ {
		tm.record(base.Add(time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond)
	}
	out = map[string]float64{}
	tm.addTo(out, "x_ms")
	if out["x_ms/count"] != timerCapacity || out["x_ms/min"] != 500 || out["x_ms/max"] != timerCapacity+499 {
		t.Errorf("over capacity: count %v min %v max %v", out["x_ms/count"], out["x_ms/min"], out["x_ms/max"])
	}
}

// TestMetricCountersDoNotAllocate guards the hot paths: counting a status
// update, an event or an offer, and timing a run.
func TestMetricCountersDoNotAllocate(t *testing.T) {
	m := newCoreMetrics()
	var fm frameworkMetrics
	st := &mesos.TaskStatus{State: mesos.TaskState_TASK_FAILED.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Reason: mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum()}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.taskEnded(st.GetState(), st)
	m.allocationRun.record(now, time.Millisecond)
	allocs := testing.AllocsPerRun(100, func() {
		m.inc(ctrMsgStatusUpdate)
		m.taskEnded(st.GetState(), st)
		fm.event(schedpb.Event_UPDATE)
		fm.call(schedpb.Call_ACCEPT)
		fm.offersSent++
		m.operation(mesos.Offer_Operation_RESERVE, mesos.OperationState_OPERATION_FINISHED)
		m.allocationRun.record(now, time.Millisecond)
	})
	if allocs != 0 {
		t.Errorf("counting allocates %v times per run", allocs)
	}
}

func TestEncodeMetricComponent(t *testing.T) {
	for in, want := range map[string]string{
		"capture":       "capture",
		"my fw/1":       "my%20fw%2F1",
		"a:b@c%d~é\x01": "a%3Ab%40c%25d%7E%C3%A9%01",
		"x-y_z.w(1)!*'": "x-y_z.w(1)!*'",
	} {
		if got := encodeMetricComponent(in); got != want {
			t.Errorf("encode(%q) = %q, want %q", in, got, want)
		}
	}
}
