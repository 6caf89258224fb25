package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// getDoc GETs path from the agent and decodes the JSON document into v.
func getDoc(t *testing.T, a *Agent, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + a.Endpoint() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %q: %s", path, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return keys(m)
}

func TestStateDocument(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "sleep 30"), nil))
	m.waitState(t, "t1", mesos.TaskState_TASK_RUNNING)

	var doc legacy.AgentState
	waitFor(t, 10*time.Second, "t1 running in /state", func() error {
		getDoc(t, a, "/state", &doc)
		if len(doc.Frameworks) != 1 || len(doc.Frameworks[0].Executors) != 1 ||
			len(doc.Frameworks[0].Executors[0].Tasks) != 1 {
			return fmt.Errorf("frameworks %+v", doc.Frameworks)
		}
		if st := doc.Frameworks[0].Executors[0].Tasks[0].State; st != "TASK_RUNNING" {
			return fmt.Errorf("state %s", st)
		}
		return nil
	})
	if doc.ID != "M1-S0" || doc.PID != "slave(1)@"+a.Endpoint() || doc.Hostname != "localhost" {
		t.Errorf("agent id %q pid %q hostname %q", doc.ID, doc.PID, doc.Hostname)
	}
	if got := doc.Resources.Scalar("cpus"); got != 2 {
		t.Errorf("resources cpus %v", got)
	}
	if v, _ := doc.Resources.Get("ports"); !v.IsText || v.Text != "[31000-32000]" {
		t.Errorf("resources ports %+v", v)
	}
	if got := doc.UnreservedResourcesAllocated.Scalar("mem"); got != 32 {
		t.Errorf("unreserved_resources_allocated mem %v, want the running task's 32", got)
	}
	if !slices.Contains(doc.Capabilities, "MULTI_ROLE") || doc.Flags["work_dir"] != a.cfg.WorkDir {
		t.Errorf("capabilities %v, flags work_dir %q", doc.Capabilities, doc.Flags["work_dir"])
	}
	fw := doc.Frameworks[0]
	ex := fw.Executors[0]
	if fw.ID != "F1" || fw.User != "root" || fw.Role != "*" || fw.Checkpoint {
		t.Errorf("framework %+v", fw)
	}
	if ex.ID != "t1" || ex.Source != "t1" || ex.Directory != sandboxOf(t, a, "F1", "t1") ||
		!strings.HasPrefix(ex.Name, "Command Executor (Task: t1)") || ex.Resources.Scalar("cpus") != 0.1 {
		t.Errorf("executor %+v", ex)
	}
	if task := ex.Tasks[0]; task.ID != "t1" || task.FrameworkID != "F1" || task.SlaveID != "M1-S0" ||
		task.ExecutorID != "" || task.Role != "*" || len(task.Statuses) != 2 {
		t.Errorf("task %+v", task)
	}

	// The same keys as Mesos' document, at every level written here.
	sample, err := os.ReadFile("../api/legacy/testdata/agent_state.json")
	if err != nil {
		t.Fatal(err)
	}
	var ours json.RawMessage
	getDoc(t, a, "/slave(1)/state", &ours)
	if w, g := keysOf(t, sample), keysOf(t, ours); !slices.Equal(w, g) {
		t.Errorf("/state keys\n got %v\nwant %v", g, w)
	}

	// Kill it; once acknowledged it is a completed executor of a
	// completed framework.
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("t1")}}})
	m.waitState(t, "t1", mesos.TaskState_TASK_KILLED)
	waitFor(t, 10*time.Second, "t1 completed in /state", func() error {
		getDoc(t, a, "/state", &doc)
		if len(doc.Frameworks) != 0 || len(doc.CompletedFrameworks) != 1 ||
			len(doc.CompletedFrameworks[0].CompletedExecutors) != 1 {
			return fmt.Errorf("frameworks %d, completed %+v", len(doc.Frameworks), doc.CompletedFrameworks)
		}
		return nil
	})
	ce := doc.CompletedFrameworks[0].CompletedExecutors[0]
	if len(ce.CompletedTasks) != 1 || ce.CompletedTasks[0].State != "TASK_KILLED" || len(ce.Tasks) != 0 {
		t.Errorf("completed executor %+v", ce)
	}
	if got := doc.UnreservedResourcesAllocated.Scalar("mem"); got != 0 {
		t.Errorf("unreserved_resources_allocated mem %v after the task ended", got)
	}
	getDoc(t, a, "/state", &ours)
	var w2, g2 struct {
		CF []struct {
			CE []json.RawMessage `json:"completed_executors"`
		} `json:"completed_frameworks"`
	}
	json.Unmarshal(sample, &w2)
	json.Unmarshal(ours, &g2)
	if w, g := keysOf(t, w2.CF[0].CE[0]), keysOf(t, g2.CF[0].CE[0]); !slices.Equal(w, g) {
		t.Errorf("completed executor keys\n got %v\nwant %v", g, w)
	}
}

func TestFlagsDocument(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	var doc legacy.FlagsDocument
	getDoc(t, a, "/flags", &doc)
	for name, want := range map[string]string{
		"port":                           "0",
		"work_dir":                       a.cfg.WorkDir,
		"executor_shutdown_grace_period": "3secs",
		"builtin_executors":              "auto",
		"recover":                        "reconnect",
	} {
		if got := doc.Flags[name]; got != want {
			t.Errorf("flag %s = %q, want %q", name, got, want)
		}
	}
}
