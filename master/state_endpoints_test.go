package master

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// runTask launches task id on a through an offer of f, then reports the
// given states with first timestamp ts (one second apart) and acknowledges
// each, as an executor and a scheduler would.
func (h *harness) runTask(a *recAgent, f *recFramework, id string, ts float64, states ...mesos.TaskState) {
	h.t.Helper()
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	offers := f.offers()
	if len(offers) == 0 {
		h.t.Fatalf("no offer to launch %s on", id)
	}
	h.mustCall(f, acceptCall([]string{offers[0].GetId().GetValue()}, launch(commandTask(h.t, id, a.id, "cpus:0.1;mem:32"))))
	for i, s := range states {
		uuid := fmt.Sprintf("%-16s", fmt.Sprintf("%s-%d", id, i))[:16]
		err := h.agentCall(a, &agentproto.AgentCall{
			Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
			StatusUpdate: &agentproto.AgentCall_StatusUpdate{FrameworkId: frameworkID(f.id), Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: proto.String(id)}, State: s.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				Uuid: []byte(uuid), Timestamp: proto.Float64(ts + float64(i)),
			}},
		})
		if err != nil {
			h.t.Fatal(err)
		}
		h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: agentID(a.id), TaskId: &mesos.TaskID{Value: proto.String(id)}, Uuid: []byte(uuid),
		}})
	}
	f.updates()
	// Offers the framework still holds go back for an hour, so that other
	// frameworks get them.
	for id := range h.c.frameworks[f.id].offers {
		h.mustCall(f, &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
			OfferIds: []*mesos.OfferID{{Value: proto.String(id)}}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(3600)},
		}})
	}
	f.offers()
}

// TestLegacyDocumentsHaveMesosShape recreates the cluster the Mesos 1.11
// samples were recorded on (one agent, a framework whose task finished and
// which holds an offer) and compares the keys of /master/slaves,
// /master/frameworks, /master/tasks and /master/state-summary with Mesos'.
func TestLegacyDocumentsHaveMesosShape(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("localhost", "cpus:2;mem:1024;disk:1000;ports:[31000-32000]")
	first := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("capture"), Checkpoint: proto.Bool(true), Capabilities: partitionAware})
	h.mustCall(first, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	f := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("capture"), Checkpoint: proto.Bool(true), Capabilities: partitionAware})
	h.runTask(a, f, "cap-task-1", 1795326125, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED)
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	if len(h.c.frameworks[f.id].offers) == 0 {
		t.Fatal("the framework holds no offer")
	}

	// Mesos' statuses carry the executor's container_status, which this
	// scenario's fake agent does not send.
	docs := map[string]any{
		"master_slaves.json":        h.c.slaves(idFilter{}),
		"master_frameworks.json":    h.c.frameworksDoc(idFilter{}),
		"master_tasks.json":         h.c.tasks(taskQuery{limit: defaultTaskLimit}),
		"master_state-summary.json": h.c.stateSummary(),
		"master_state.json":         h.c.state(),
		"master_roles.json":         h.c.rolesJSON(),
	}
	for name, doc := range docs {
		got, err := legacy.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(samples + name)
		if err != nil {
			t.Skipf("samples not available: %v", err)
		}
		// Mezzo's flags are its own set (a difference of flags, not of
		// shape).
		sameShape(t, name, got, want, "container_status", ".flags.")
		sameEnums(t, name, got, want, "container_status", ".slaves[].capabilities[]=") // the fake agent has no capabilities
	}

	summary := h.c.stateSummary()
	if s := summary.Slaves[0]; s.Finished != 1 || len(s.FrameworkIDs) != 1 || s.FrameworkIDs[0] != f.id {
		t.Errorf("state-summary agent: %d finished, frameworks %v", s.Finished, s.FrameworkIDs)
	}
	if fw := summary.Frameworks[0]; fw.Finished != 1 || len(fw.SlaveIDs) != 1 || fw.SlaveIDs[0] != a.id || fw.Name != "capture" {
		t.Errorf("state-summary framework: %+v", fw)
	}
	full := h.c.slaves(idFilter{}).Slaves[0]
	if len(full.UnreservedResourcesFull) != 4 || len(full.OfferedResourcesFull) == 0 {
		t.Errorf("full resources: %d unreserved, %d offered", len(full.UnreservedResourcesFull), len(full.OfferedResourcesFull))
	}
}

// TestTasksEndpointQuery checks /master/tasks' order, paging and filters.
func TestTasksEndpointQuery(t *testing.T) {
	h := newHarness(t)
	a := h.addAgent("localhost", "cpus:4;mem:1024")
	f := h.subscribe(nil)
	h.runTask(a, f, "t2", 200, mesos.TaskState_TASK_RUNNING)
	h.runTask(a, f, "t1", 100, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FAILED)
	g := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("other")})
	h.runTask(a, g, "t3", 300, mesos.TaskState_TASK_RUNNING)
	h.runTask(a, g, "t0", 0) // no status yet: sorts as the oldest

	ids := func(query string) string {
		t.Helper()
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		tq, err := parseTaskQuery(q)
		if err != nil {
			t.Fatalf("%q: %v", query, err)
		}
		var out []string
		for _, task := range h.c.tasks(tq).Tasks {
			out = append(out, task.ID)
		}
		return strings.Join(out, ",")
	}
	for query, want := range map[string]string{
		"":                                "t3,t2,t1,t0",
		"order=asc":                       "t0,t1,t2,t3",
		"order=anything":                  "t3,t2,t1,t0",
		"limit=2":                         "t3,t2",
		"limit=2&offset=1&order=asc":      "t1,t2",
		"offset=9":                        "",
		"limit=0":                         "",
		"framework_id=" + f.id:            "t2,t1",
		"task_id=t1":                      "t1",
		"task_id=t1&framework_id=" + g.id: "",
		"framework_id=":                   "",
	} {
		if got := ids(query); got != want {
			t.Errorf("/master/tasks?%s: %s, want %s", query, got, want)
		}
	}
	for _, bad := range []string{"limit=x", "offset=-1", "limit=1.5"} {
		q, _ := url.ParseQuery(bad)
		if _, err := parseTaskQuery(q); httpStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Errorf("%s: %v", bad, err)
		}
	}

	// The failed task is completed; the summary counts it once.
	if fw := h.c.stateSummary().Frameworks; fw[0].Failed+fw[1].Failed != 1 {
		t.Errorf("summary frameworks %+v", fw)
	}
	if got := h.c.slaves(queryID(url.Values{"slave_id": {"nope"}}, "slave_id")); len(got.Slaves) != 0 {
		t.Errorf("slave_id filter kept %d agents", len(got.Slaves))
	}
	if got := h.c.frameworksDoc(queryID(url.Values{"framework_id": {g.id}}, "framework_id")); len(got.Frameworks) != 1 || got.Frameworks[0].ID != g.id {
		t.Errorf("framework_id filter: %+v", got.Frameworks)
	}
}

// TestTeardownEndpoint checks POST /master/teardown: the framework is
// removed and listed as completed; bad requests get Mesos' answers.
func TestTeardownEndpoint(t *testing.T) {
	_, srv := testMaster(t)
	fs, sub, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("doomed")})
	id := sub.GetSubscribed().GetFrameworkId().GetValue()

	for _, c := range []struct {
		method, body string
		code         int
		msg          string
	}{
		{http.MethodGet, "", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "", http.StatusBadRequest, "Missing 'frameworkId'"},
		{http.MethodPost, "frameworkId=%zz", http.StatusBadRequest, "decode"},
		{http.MethodPost, "frameworkId=unknown", http.StatusBadRequest, "No framework found with specified ID"},
		{http.MethodPost, "frameworkId=" + id, http.StatusOK, ""},
		{http.MethodPost, "frameworkId=" + id, http.StatusBadRequest, "No framework found"},
	} {
		if code, msg := formPost(t, c.method, srv.URL+"/master/teardown", c.body); code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %q: %d %q, want %d %q", c.method, c.body, code, msg, c.code, c.msg)
		}
	}
	// The scheduler's stream is closed.
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if _, err := fs.r.Read(); err != nil {
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the torn down framework's stream is still open")
	}

	resp, err := http.Get(srv.URL + "/master/frameworks?framework_id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string][]map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc["frameworks"]) != 0 || len(doc["completed_frameworks"]) != 1 || doc["completed_frameworks"][0]["id"] != id {
		t.Errorf("/master/frameworks after teardown: %v", doc)
	}
}
