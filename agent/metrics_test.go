package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// notImplementedMetrics are the keys of Mesos' recorded agent snapshot
// that Mezzo leaves out, because it cannot measure them (see metrics.go).
// Every other recorded key must be served.
var notImplementedMetrics = []string{
	"containerizer/mesos/container_destroy_errors",
}

// getMetrics GETs /metrics/snapshot.
func getMetrics(t *testing.T, a *Agent) map[string]float64 {
	t.Helper()
	var m map[string]float64
	getDoc(t, a, "/metrics/snapshot", &m)
	return m
}

// wantMetrics waits until every metric in want has its value.
func wantMetrics(t *testing.T, a *Agent, what string, want map[string]float64) map[string]float64 {
	t.Helper()
	var got map[string]float64
	waitFor(t, 10*time.Second, what, func() error {
		got = getMetrics(t, a)
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				return fmt.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
			}
		}
		return nil
	})
	return got
}

func TestMetricsSnapshotKeys(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)

	b, err := os.ReadFile("../api/legacy/testdata/agent_metrics_snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var recorded map[string]float64
	if err := json.Unmarshal(b, &recorded); err != nil {
		t.Fatal(err)
	}
	got := getMetrics(t, a)
	for k := range recorded {
		_, ok := got[k]
		switch omitted := slices.Contains(notImplementedMetrics, k); {
		case omitted && ok:
			t.Errorf("%s is served but listed as not implemented", k)
		case !omitted && !ok:
			t.Errorf("%s is missing", k)
		}
	}
	for k := range got {
		if _, ok := recorded[k]; !ok {
			t.Errorf("%s is not a metric of Mesos' agent", k)
		}
	}
	for k, want := range map[string]float64{
		"slave/cpus_total": 2, "slave/mem_total": 1024, "slave/disk_total": 1024, "slave/gpus_total": 0,
		"slave/cpus_used": 0, "slave/cpus_percent": 0, "slave/registered": 1, "slave/frameworks_active": 0,
		"slave/tasks_running": 0, "slave/valid_status_updates": 0, "slave/recovery_errors": 0,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if got["slave/uptime_secs"] <= 0 || got["system/mem_total_bytes"] < got["system/mem_free_bytes"] || got["system/cpus_total"] < 1 {
		t.Errorf("uptime %v, system memory %v free of %v, cpus %v", got["slave/uptime_secs"],
			got["system/mem_free_bytes"], got["system/mem_total_bytes"], got["system/cpus_total"])
	}

	// libprocess serves metrics at /metrics/snapshot only.
	resp, err := http.Get("http://" + a.Endpoint() + "/slave(1)/metrics/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/slave(1)/metrics/snapshot: %s, want 404", resp.Status)
	}
}

func TestMetricsScenario(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)

	// t1 runs until the test creates "go" in its sandbox.
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "while [ ! -e go ]; do sleep 0.02; done"), nil))
	m.waitState(t, "t1", mesos.TaskState_TASK_RUNNING)
	wantMetrics(t, a, "t1 running", map[string]float64{
		"slave/tasks_running": 1, "slave/tasks_staging": 0, "slave/executors_running": 1,
		"slave/frameworks_active": 1, "slave/cpus_used": 0.1, "slave/mem_used": 32,
		"slave/cpus_percent": 0.05, "slave/mem_percent": 32.0 / 1024, "slave/cpus_total": 2,
		"slave/valid_status_updates": 2, "containerizer/fetcher/task_fetches_succeeded": 1,
	})

	if err := os.WriteFile(filepath.Join(sandboxOf(t, a, "F1", "t1"), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m.waitState(t, "t1", mesos.TaskState_TASK_FINISHED)
	wantMetrics(t, a, "t1 finished", map[string]float64{
		"slave/tasks_finished": 1, "slave/tasks_running": 0, "slave/valid_status_updates": 3,
		"slave/executors_running": 0, "slave/executors_terminated": 1, "slave/cpus_used": 0,
		"slave/mem_used": 0, "slave/tasks_failed": 0, "slave/frameworks_active": 0,
	})

	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t2", "exit 1"), nil))
	m.waitState(t, "t2", mesos.TaskState_TASK_FAILED)
	wantMetrics(t, a, "t2 failed", map[string]float64{
		"slave/tasks_failed": 1, "slave/tasks_finished": 1, "slave/executors_terminated": 2,
		"slave/valid_status_updates": 6, "slave/container_launch_errors": 0,
	})

	// A message for an executor the agent does not have is dropped.
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_FRAMEWORK_MESSAGE.Enum(),
		FrameworkMessage: &agentproto.AgentEvent_FrameworkMessage{
			FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")},
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("nobody")},
			Data:        []byte("hi"),
		}})
	wantMetrics(t, a, "dropped message", map[string]float64{
		"slave/invalid_framework_messages": 1, "slave/valid_framework_messages": 0,
	})
}

func TestMetricsLaunchError(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	task := commandTask("t1", "true")
	task.Command.Uris = []*mesos.CommandInfo_URI{{Value: proto.String("/nonexistent/file")}}
	m.send(runTask(frameworkInfo("F1", false), nil, task, nil))
	m.waitState(t, "t1", mesos.TaskState_TASK_FAILED)
	wantMetrics(t, a, "failed fetch", map[string]float64{
		"slave/container_launch_errors": 1, "containerizer/fetcher/task_fetches_failed": 1,
		"containerizer/fetcher/task_fetches_succeeded": 0, "slave/tasks_failed": 1,
		"slave/executors_terminated": 1,
	})
}

func TestCountersDoNotAllocate(t *testing.T) {
	var c counters
	if n := testing.AllocsPerRun(100, func() {
		c.countTerminal(mesos.TaskState_TASK_FINISHED)
		c.countFetch(true)
		c.validStatusUpdates++
	}); n != 0 {
		t.Errorf("%v allocations per increment", n)
	}
}

// getStatistics GETs /monitor/statistics and returns the entry of exID.
func getStatistics(t *testing.T, a *Agent, path, exID string) (legacy.MonitorEntry, bool) {
	t.Helper()
	var doc []legacy.MonitorEntry
	getDoc(t, a, path, &doc)
	for _, e := range doc {
		if e.ExecutorID == exID {
			return e, true
		}
	}
	return legacy.MonitorEntry{}, false
}

func TestMonitorStatistics(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)

	var empty []legacy.MonitorEntry
	getDoc(t, a, "/monitor/statistics", &empty)
	if len(empty) != 0 {
		t.Errorf("statistics without executors: %+v", empty)
	}

	// Built-in executors inside the agent (F1), and a process executor
	// (F2 checkpoints, so its command executor is a process).
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("sleeper", "sleep 30"), nil))
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("burner", "while :; do :; done"), nil))
	m.send(runTask(frameworkInfo("F2", true), nil, commandTask("process", "sleep 30"), nil))
	for _, id := range []string{"sleeper", "burner", "process"} {
		m.waitState(t, id, mesos.TaskState_TASK_RUNNING)
	}

	for _, id := range []string{"sleeper", "process"} {
		var e legacy.MonitorEntry
		waitFor(t, 10*time.Second, id+" statistics", func() error {
			var ok bool
			if e, ok = getStatistics(t, a, "/slave(1)/monitor/statistics", id); !ok {
				return fmt.Errorf("no entry for %s", id)
			}
			if s := e.Statistics; s.MemRSSBytes == nil || *s.MemRSSBytes == 0 {
				return fmt.Errorf("mem_rss_bytes %v", s.MemRSSBytes)
			}
			return nil
		})
		s := e.Statistics
		if e.Source != id || e.FrameworkID == "" || s.Timestamp <= 0 ||
			s.MemLimitBytes == nil || *s.MemLimitBytes != 32<<20 ||
			s.CPUsSoftLimit == nil || *s.CPUsSoftLimit != 0.1 ||
			s.CPUsUserTimeSecs == nil || s.CPUsSystemTimeSecs == nil || s.CPUsLimit != nil {
			b, _ := json.Marshal(e)
			t.Errorf("%s: %s", id, b)
		}
	}

	first := -1.0
	waitFor(t, 10*time.Second, "burner's CPU time", func() error {
		e, ok := getStatistics(t, a, "/monitor/statistics", "burner")
		if !ok || e.Statistics.CPUsUserTimeSecs == nil {
			return fmt.Errorf("no CPU time for burner: %+v", e)
		}
		user := float64(*e.Statistics.CPUsUserTimeSecs)
		if first < 0 {
			first = user
			return fmt.Errorf("first reading %v", user)
		}
		if user <= first {
			return fmt.Errorf("user time %v, first %v", user, first)
		}
		return nil
	})
}
