package agent

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/legacy"
	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// The agent's --acls decide its HTTP requests; these are anonymous (no
// authentication), matched as ANY.
func TestAuthorizeEndpoints(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) {
		c.Resources = "cpus:1;cpus(a):0.5;cpus(b):0.5;mem:1024;disk:1024;ports:[31000-32000]"
		if err := c.ACLs.Set(`{
			"view_roles": [{"principals": {"type": "ANY"}, "roles": {"values": ["a"]}},
				{"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
			"view_frameworks": [{"principals": {"type": "ANY"}, "users": {"values": ["root"]}}],
			"view_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
			"view_flags": [{"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}],
			"access_sandboxes": [{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
			"get_endpoints": [{"principals": {"type": "ANY"}, "paths": {"values": ["/metrics/snapshot"]}},
				{"principals": {"type": "ANY"}, "paths": {"type": "NONE"}}]
		}`); err != nil {
			t.Fatal(err)
		}
	})
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "sleep 30"), nil))
	m.waitState(t, "t1", mesos.TaskState_TASK_RUNNING)

	// The framework (user root) is visible, its task is not, nor the
	// flags.
	var doc legacy.AgentState
	waitFor(t, 10*time.Second, "F1's executor in /state", func() error {
		getDoc(t, a, "/state", &doc)
		if len(doc.Frameworks) != 1 || len(doc.Frameworks[0].Executors) != 1 {
			return fmt.Errorf("frameworks %+v", doc.Frameworks)
		}
		return nil
	})
	if n := len(doc.Frameworks[0].Executors[0].Tasks); n != 0 || doc.Flags != nil {
		t.Errorf("/state shows %d tasks and flags %v", n, doc.Flags)
	}
	if _, b := doc.ReservedResources["b"]; b || len(doc.ReservedResources) != 1 || len(doc.ReservedResourcesFull) != 1 {
		t.Errorf("/state reservations: %v, full %v; want role a's only", doc.ReservedResources, doc.ReservedResourcesFull)
	}
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get("http://" + a.Endpoint() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	sandbox := "/frameworks/F1/executors/t1/runs/latest"
	for path, want := range map[string]int{
		"/flags":            http.StatusForbidden,
		"/metrics/snapshot": http.StatusOK,
		"/files/debug":      http.StatusForbidden,
		"/containers":       http.StatusForbidden,
		"/files/browse?path=" + url.QueryEscape(sandbox):                                 http.StatusForbidden,
		"/files/read?offset=0&path=" + url.QueryEscape(sandbox+"/stdout"):                http.StatusForbidden,
		"/files/browse?path=" + url.QueryEscape(sandboxOf(t, a, "F1", "t1")):             http.StatusForbidden,
		"/files/download?path=" + url.QueryEscape(sandboxOf(t, a, "F1", "t1")+"/stdout"): http.StatusForbidden,
	} {
		if got := get(path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}

	// The operator API: state filtered, flags and sandbox files refused.
	c := newOperatorClient(t, a)
	call := func(body string) operatorAnswer {
		return c.post("/api/v1", "application/json", "application/json", []byte(body))
	}
	ans := call(`{"type": "GET_STATE"}`)
	resp := &agentpb.Response{}
	if ans.status != http.StatusOK || codec.Unmarshal(codec.JSON, ans.body, resp) != nil {
		t.Fatalf("GET_STATE: %d %s", ans.status, ans.body)
	}
	st := resp.GetGetState()
	if len(st.GetGetFrameworks().GetFrameworks()) != 1 || len(st.GetGetTasks().GetLaunchedTasks()) != 0 || len(st.GetGetExecutors().GetExecutors()) != 1 {
		t.Errorf("GET_STATE: %v", st)
	}
	for body, want := range map[string]int{
		`{"type": "GET_FLAGS"}`: http.StatusForbidden,
		`{"type": "LIST_FILES", "list_files": {"path": "` + sandbox + `"}}`:                   http.StatusForbidden,
		`{"type": "READ_FILE", "read_file": {"path": "` + sandbox + `/stdout", "offset": 0}}`: http.StatusForbidden,
		`{"type": "GET_HEALTH"}`: http.StatusOK,
	} {
		if ans := call(body); ans.status != want {
			t.Errorf("%s: %d %s, want %d", body, ans.status, ans.body, want)
		}
	}
	if ans := call(`{"type": "GET_FLAGS"}`); !strings.Contains(string(ans.body), "view_flags") {
		t.Errorf("GET_FLAGS refusal does not name the ACL: %s", ans.body)
	}
}
