package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/auth"
)

func mustACLs(t *testing.T, doc string) *acl.ACLs {
	t.Helper()
	a, err := acl.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Frameworks are the subject of their own calls, by their principal.
func TestAuthorizeFrameworkCalls(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ACLs = mustACLs(t, `{
			"register_frameworks": [
				{"principals": {"values": ["eng"]}, "roles": {"values": ["eng", "eng/%"]}},
				{"principals": {"type": "NONE"}, "roles": {"values": ["eng", "eng/%"]}}],
			"run_tasks": [{"principals": {"values": ["eng"]}, "users": {"type": "ANY"}},
				{"principals": {"type": "ANY"}, "users": {"values": ["root"]}},
				{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
			"reserve_resources": [{"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}]
		}`)
	})
	// Only eng may use eng and the roles below it; other roles are
	// anyone's (permissive).
	refused := &recFramework{streamID: "s1"}
	h.step(func(c *core) {
		refused.id = c.subscribe(refused, "s1", &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("u"), Name: proto.String("n"), Principal: proto.String("ops"),
			Roles:        []string{"web", "eng/x"},
			Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}},
		}})
	})
	errs := refused.take(schedpb.Event_ERROR)
	if refused.id != "" || len(errs) != 1 || !refused.closed ||
		!strings.Contains(errs[0].GetError().GetMessage(), "may not use role 'eng/x'") ||
		!strings.Contains(errs[0].GetError().GetMessage(), "Not authorized to register framework") {
		t.Fatalf("subscription with a refused role: id %q, events %v", refused.id, errs)
	}

	web := h.subscribe(&mesos.FrameworkInfo{Principal: proto.String("ops"), Role: proto.String("web")})
	// UPDATE_FRAMEWORK to a role the principal may not use: 403.
	err := h.call(web, &schedpb.Call{Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &schedpb.Call_UpdateFramework{
		FrameworkInfo: &mesos.FrameworkInfo{Id: frameworkID(web.id), User: proto.String("tester"), Name: proto.String("test"),
			Principal: proto.String("ops"), Role: proto.String("eng/y")},
	}})
	var herr *httpapi.Error
	if !errors.As(httpError(err), &herr) || herr.Status != http.StatusForbidden || !strings.Contains(herr.Message, "may not use role 'eng/y'") {
		t.Fatalf("UPDATE_FRAMEWORK to a refused role: %v", err)
	}
	h.mustCall(web, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})

	eng := h.subscribe(&mesos.FrameworkInfo{Principal: proto.String("eng"), Role: proto.String("eng/dev"), User: proto.String("root")})

	a := h.addAgent("host1", "cpus:4;mem:1024")
	offers := eng.offers()
	if len(offers) != 1 {
		t.Fatalf("offers: %v", offers)
	}
	// eng may run tasks as any user.
	ok := commandTask(t, "ok", a.id, "cpus:1;mem:64")
	asNobody := commandTask(t, "nobody", a.id, "cpus:1;mem:64")
	asNobody.Command.User = proto.String("nobody")
	h.mustCall(eng, acceptCall([]string{offers[0].GetId().GetValue()}, launch(ok, asNobody)))
	if ups := eng.updates(); len(ups) != 0 {
		t.Fatalf("eng's tasks: %v", ups)
	}

	// Another principal may run tasks as root only.
	other := h.subscribe(&mesos.FrameworkInfo{Principal: proto.String("other"), User: proto.String("root")})
	h.advance(2 * time.Second)
	offers = other.offers()
	if len(offers) != 1 {
		t.Fatalf("other's offers: %v", offers)
	}
	asRoot := commandTask(t, "root-task", a.id, "cpus:1;mem:64")
	asAlice := commandTask(t, "alice-task", a.id, "cpus:1;mem:64")
	asAlice.Command.User = proto.String("alice")
	reserve := &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Id: &mesos.OperationID{Value: proto.String("r1")},
		Reserve: &mesos.Offer_Operation_Reserve{Resources: []*mesos.Resource{{
			Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)},
			Reservations: []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String("x"), Principal: proto.String("other")}},
		}}}}
	h.mustCall(other, acceptCall([]string{offers[0].GetId().GetValue()}, reserve, launch(asRoot, asAlice)))
	ups := other.updates()
	if len(ups) != 1 || ups[0].GetTaskId().GetValue() != "alice-task" || ups[0].GetState() != mesos.TaskState_TASK_ERROR ||
		ups[0].GetReason() != mesos.TaskStatus_REASON_TASK_UNAUTHORIZED || !strings.Contains(ups[0].GetMessage(), "under user 'alice'") {
		t.Fatalf("task as a refused user: %v", ups)
	}
	ops := other.take(schedpb.Event_UPDATE_OPERATION_STATUS)
	if len(ops) != 1 || ops[0].GetUpdateOperationStatus().GetStatus().GetState() != mesos.OperationState_OPERATION_ERROR ||
		!strings.Contains(ops[0].GetUpdateOperationStatus().GetStatus().GetMessage(), "reserve_resources") {
		t.Fatalf("refused reservation: %v", ops)
	}
}

// principalHeader stands, in these tests, for the authentication that
// puts a request's principal into its context.
const principalHeader = "X-Test-Principal"

// aclMaster starts a master with acls whose handler takes each request's
// principal from principalHeader.
func aclMaster(t *testing.T, acls string, mutate ...func(*Config)) (*Master, *httptest.Server) {
	t.Helper()
	before := runtime.NumGoroutine()
	cfg := DefaultConfig()
	cfg.Hostname = "localhost"
	cfg.IP = "127.0.0.1"
	cfg.AllocationInterval = 50 * time.Millisecond
	cfg.Registry = "in_memory"
	cfg.ACLs = mustACLs(t, acls)
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get(principalHeader); p != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		srv.CloseClientConnections()
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
		eventually(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	})
	return m, srv
}

// request sends method path with body as principal ("" for none).
func request(t *testing.T, srv *httptest.Server, method, path, principal, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if principal != "" {
		req.Header.Set(principalHeader, principal)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An operator sees the frameworks of the users it may view, in every
// document and answer; it tears down only the frameworks it may.
func TestAuthorizeOperatorViewsAndActions(t *testing.T) {
	_, srv := aclMaster(t, `{
		"view_frameworks": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}},
			{"principals": {"values": ["alice"]}, "users": {"type": "NONE"}}],
		"teardown_frameworks": [{"principals": {"values": ["alice"]}, "framework_principals": {"values": ["alice-fw"]}},
			{"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}],
		"view_flags": [{"principals": {"values": ["alice"]}, "flags": {"type": "NONE"}}],
		"view_roles": [{"principals": {"values": ["alice"]}, "roles": {"values": ["a"]}},
			{"principals": {"values": ["alice"]}, "roles": {"type": "NONE"}}],
		"get_endpoints": [{"principals": {"values": ["alice"]}, "paths": {"type": "ANY"}},
			{"principals": {"type": "ANY"}, "paths": {"type": "NONE"}}],
		"reserve_resources": [{"principals": {"type": "ANY"}, "roles": {"values": ["a/%"]}},
			{"principals": {"type": "NONE"}, "roles": {"type": "ANY"}}],
		"set_log_level": [{"principals": {"type": "NONE"}, "level": {"type": "ANY"}}],
		"get_maintenance_schedules": [{"principals": {"values": ["bob"]}, "machines": {"type": "NONE"}}]
	}`)
	_, aliceSub, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("alice"), Name: proto.String("a"), Principal: proto.String("alice-fw"), Role: proto.String("a")})
	_, bobSub, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("bob"), Name: proto.String("b"), Principal: proto.String("bob-fw"), Role: proto.String("b")})
	aliceID := aliceSub.GetSubscribed().GetFrameworkId().GetValue()
	bobID := bobSub.GetSubscribed().GetFrameworkId().GetValue()

	type doc struct {
		Frameworks []struct {
			ID string `json:"id"`
		} `json:"frameworks"`
		Flags map[string]string `json:"flags"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	}
	ids := func(principal, path string) (doc, []string) {
		t.Helper()
		code, body := request(t, srv, http.MethodGet, path, principal, "", "")
		if code != http.StatusOK {
			t.Fatalf("GET %s as %q: %d %s", path, principal, code, body)
		}
		var d doc
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range d.Frameworks {
			out = append(out, f.ID)
		}
		return d, out
	}
	for _, path := range []string{"/master/state", "/master/frameworks", "/master/state-summary", "/state"} {
		if _, got := ids("alice", path); len(got) != 1 || got[0] != aliceID {
			t.Errorf("%s as alice: %v, want only %s", path, got, aliceID)
		}
		// A principal no rule names sees everything (permissive).
		if _, got := ids("bob", path); len(got) != 2 {
			t.Errorf("%s as bob: %v, want both", path, got)
		}
	}
	if d, _ := ids("alice", "/master/state"); d.Flags != nil {
		t.Errorf("alice sees the flags in /master/state: %v", d.Flags)
	}
	if d, _ := ids("bob", "/master/state"); d.Flags == nil {
		t.Error("bob does not see the flags in /master/state")
	}
	if code, body := request(t, srv, http.MethodGet, "/master/flags", "alice", "", ""); code != http.StatusForbidden {
		t.Errorf("/master/flags as alice: %d %s", code, body)
	}
	if d, _ := ids("alice", "/master/roles"); len(d.Roles) != 1 || d.Roles[0].Name != "a" {
		t.Errorf("/master/roles as alice: %+v", d.Roles)
	}

	// (The test master's verbosity is fixed: /logging/toggle answers 503
	// once past authorization.)
	for path, want := range map[string]int{"/metrics/snapshot": http.StatusOK, "/metrics": http.StatusOK, "/logging/toggle?level=1&duration=1secs": http.StatusServiceUnavailable} {
		if code, body := request(t, srv, http.MethodGet, path, "alice", "", ""); code != want {
			t.Errorf("%s as alice: %d %s", path, code, body)
		}
		if code, body := request(t, srv, http.MethodGet, path, "", "", ""); code != http.StatusForbidden {
			t.Errorf("%s as anonymous: %d %s", path, code, body)
		}
	}

	// The operator API.
	reserve := func(role string) int {
		code, _ := request(t, srv, http.MethodPost, "/api/v1", "", "application/json", `{"type": "RESERVE_RESOURCES", "reserve_resources": {
			"agent_id": {"value": "no-such-agent"}, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
			"reservations": [{"type": "DYNAMIC", "role": "`+role+`"}]}]}}`)
		return code
	}
	if code := reserve("b"); code != http.StatusForbidden {
		t.Errorf("RESERVE_RESOURCES for role b: %d, want 403", code)
	}
	if code := reserve("a/x"); code == http.StatusForbidden {
		t.Errorf("RESERVE_RESOURCES for role a/x: 403, want it past authorization")
	}
	if code, body := request(t, srv, http.MethodPost, "/api/v1", "carol", "application/json",
		`{"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": 1000000}}}`); code != http.StatusForbidden {
		t.Errorf("SET_LOGGING_LEVEL: %d %s", code, body)
	}
	schedule := `{"windows": [{"machine_ids": [{"hostname": "h1"}], "unavailability": {"start": {"nanoseconds": 1}}}]}`
	if code, body := request(t, srv, http.MethodPost, "/master/maintenance/schedule", "", "application/json", schedule); code != http.StatusOK {
		t.Fatalf("POST /maintenance/schedule: %d %s", code, body)
	}
	if _, body := request(t, srv, http.MethodGet, "/master/maintenance/schedule", "bob", "", ""); strings.Contains(body, "h1") {
		t.Errorf("bob sees the schedule: %s", body)
	}
	if _, body := request(t, srv, http.MethodGet, "/master/maintenance/schedule", "alice", "", ""); !strings.Contains(body, "h1") {
		t.Errorf("alice does not see the schedule: %s", body)
	}
	code, body := request(t, srv, http.MethodPost, "/api/v1", "alice", "application/json", `{"type": "GET_STATE"}`)
	resp := &masterpb.Response{}
	if code != http.StatusOK || codec.Unmarshal(codec.JSON, []byte(body), resp) != nil {
		t.Fatalf("GET_STATE as alice: %d %s", code, body)
	}
	if fws := resp.GetGetState().GetGetFrameworks().GetFrameworks(); len(fws) != 1 || fws[0].GetFrameworkInfo().GetId().GetValue() != aliceID {
		t.Fatalf("GET_STATE as alice: %v", fws)
	}
	code, body = request(t, srv, http.MethodPost, "/api/v1", "bob", "application/json", `{"type": "GET_FRAMEWORKS"}`)
	resp = &masterpb.Response{}
	if code != http.StatusOK || codec.Unmarshal(codec.JSON, []byte(body), resp) != nil || len(resp.GetGetFrameworks().GetFrameworks()) != 2 {
		t.Fatalf("GET_FRAMEWORKS as bob: %d %s", code, body)
	}
	if code, body := request(t, srv, http.MethodPost, "/api/v1", "alice", "application/json", `{"type": "GET_FLAGS"}`); code != http.StatusForbidden {
		t.Errorf("GET_FLAGS as alice: %d %s", code, body)
	}

	// The operator event stream, filtered for its subscriber.
	events := operatorStreamAs(t, srv, "alice")
	sub := &masterpb.Event{}
	events.next(sub)
	if fws := sub.GetSubscribed().GetGetState().GetGetFrameworks().GetFrameworks(); len(fws) != 1 || fws[0].GetFrameworkInfo().GetId().GetValue() != aliceID {
		t.Fatalf("SUBSCRIBED as alice: %v", fws)
	}
	subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("bob"), Name: proto.String("b2")})
	_, alice2, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("alice"), Name: proto.String("a2")})
	for {
		ev := &masterpb.Event{}
		events.next(ev)
		if ev.GetType() == masterpb.Event_HEARTBEAT {
			continue
		}
		if ev.GetType() != masterpb.Event_FRAMEWORK_ADDED || ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo().GetUser() != "alice" {
			t.Fatalf("alice's stream got %v, want FRAMEWORK_ADDED of alice's framework %s first", ev, alice2.GetSubscribed().GetFrameworkId().GetValue())
		}
		break
	}

	// Teardown: alice may tear down alice-fw's frameworks only; nobody
	// else any.
	teardown := func(principal, id string) int {
		code, _ := request(t, srv, http.MethodPost, "/api/v1", principal, "application/json",
			`{"type": "TEARDOWN", "teardown": {"framework_id": {"value": "`+id+`"}}}`)
		return code
	}
	if code := teardown("alice", bobID); code != http.StatusForbidden {
		t.Errorf("TEARDOWN of bob's framework as alice: %d", code)
	}
	if code, body := request(t, srv, http.MethodPost, "/master/teardown", "", "application/x-www-form-urlencoded", url.Values{"frameworkId": {aliceID}}.Encode()); code != http.StatusForbidden {
		t.Errorf("/master/teardown as anonymous: %d %s", code, body)
	}
	if code := teardown("alice", aliceID); code != http.StatusOK {
		t.Errorf("TEARDOWN of alice's framework as alice: %d", code)
	}
}

// operatorStreamAs opens the operator event stream as principal.
func operatorStreamAs(t *testing.T, srv *httptest.Server, principal string) *stream {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1", strings.NewReader(`{"type": "SUBSCRIBE"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(principalHeader, principal)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(30*time.Second, func() { resp.Body.Close() })
	t.Cleanup(func() {
		watchdog.Stop()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE as %s: %d", principal, resp.StatusCode)
	}
	return &stream{t: t, resp: resp, r: recordio.NewReader(resp.Body, 16<<20), format: codec.JSON}
}

// An agent's reservations show only for the roles the viewer may view
// (view_roles), in /master/state, /master/slaves and
// /master/state-summary, as Mesos writes them.
func TestAuthorizeViewReservations(t *testing.T) {
	h := newHarness(t)
	h.addAgent("host1", "cpus(a):1;cpus(b):1;mem:64")
	v := newViewer(acl.New(mustACLs(t, `{"view_roles": [{"principals": {"values": ["alice"]}, "roles": {"values": ["a"]}},
		{"principals": {"values": ["alice"]}, "roles": {"type": "NONE"}}]}`)), acl.Principal("alice"))
	roles := func(m map[string]legacy.Resources) []string {
		var out []string
		for r := range m {
			out = append(out, r)
		}
		slices.Sort(out)
		return out
	}
	if got := roles(h.c.state().Slaves[0].ReservedResources); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("unfiltered reservations: %v", got)
	}
	if got := roles(h.c.viewState(h.c.state(), v).Slaves[0].ReservedResources); !slices.Equal(got, []string{"a"}) {
		t.Errorf("/master/state reservations for alice: %v", got)
	}
	sl := viewSlaves(h.c.slaves(idFilter{}), v).Slaves[0]
	if got := roles(sl.ReservedResources); !slices.Equal(got, []string{"a"}) || len(sl.ReservedResourcesFull) != 1 {
		t.Errorf("/master/slaves reservations for alice: %v, full %v", got, sl.ReservedResourcesFull)
	}
	if got := roles(h.c.viewSummary(h.c.stateSummary(), v).Slaves[0].ReservedResources); !slices.Equal(got, []string{"a"}) {
		t.Errorf("/master/state-summary reservations for alice: %v", got)
	}
	// Bob, whom no rule names, sees both (permissive).
	bob := newViewer(acl.New(mustACLs(t, `{"view_roles": [{"principals": {"values": ["alice"]}, "roles": {"type": "NONE"}}]}`)), acl.Principal("bob"))
	if got := roles(h.c.viewState(h.c.state(), bob).Slaves[0].ReservedResources); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("/master/state reservations for bob: %v", got)
	}
}

// The master's log needs access_mesos_logs, a sandbox through the
// master's file proxy access_sandboxes, /files/debug get_endpoints.
func TestAuthorizeFiles(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "mezzo-master.log")
	if err := os.WriteFile(logFile, []byte("a line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, srv := aclMaster(t, `{
		"access_mesos_logs": [{"principals": {"values": ["ops"]}, "logs": {"type": "ANY"}},
			{"principals": {"type": "ANY"}, "logs": {"type": "NONE"}}],
		"access_sandboxes": [{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
		"get_endpoints": [{"principals": {"type": "ANY"}, "paths": {"type": "NONE"}}]
	}`, func(c *Config) { c.LogFile = logFile })
	for _, tc := range []struct {
		principal, path string
		want            int
	}{
		{"ops", "/files/read?offset=0&path=/master/log", http.StatusOK},
		{"", "/files/read?offset=0&path=/master/log", http.StatusForbidden},
		{"dev", "/files/download?path=/master/log", http.StatusForbidden},
		{"ops", "/files/browse?path=/master", http.StatusOK},
		{"ops", "/files/browse?path=/agents/S1/frameworks/F1/executors/E1/runs/latest", http.StatusForbidden},
		// Allowed, then 404: no agent S1.
		{"ops", "/files/browse?path=/agents/S1/slave/log", http.StatusNotFound},
		{"", "/files/browse?path=/agents/S1/slave/log", http.StatusForbidden},
		{"ops", "/files/debug", http.StatusForbidden},
	} {
		if code, body := request(t, srv, http.MethodGet, tc.path, tc.principal, "", ""); code != tc.want {
			t.Errorf("GET %s as %q: %d %s, want %d", tc.path, tc.principal, code, body, tc.want)
		}
	}
	for body, want := range map[string]int{
		`{"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": 0}}`:                http.StatusForbidden,
		`{"type": "LIST_FILES", "list_files": {"path": "/agents/S1/frameworks/F1/executors/E1"}}`: http.StatusForbidden,
	} {
		if code, answer := request(t, srv, http.MethodPost, "/api/v1", "dev", "application/json", body); code != want {
			t.Errorf("%s: %d %s, want %d", body, code, answer, want)
		}
	}
}

// BenchmarkViewState measures what filtering by ACLs adds to
// /master/state and GET_STATE on 1,000 agents running 10,000 tasks of ten
// frameworks, for a principal whose view_frameworks and view_tasks rules
// (the eleventh of each list) let it see every framework of user u.
//
//	go test ./master -run '^$' -bench ViewState -benchtime 10x
func BenchmarkViewState(b *testing.B) {
	c := benchCluster(b, 1000, 10)
	var rules []string
	for i := 0; i < 10; i++ {
		rules = append(rules, fmt.Sprintf(`{"principals": {"values": ["other%d"]}, "users": {"type": "NONE"}}`, i))
	}
	rules = append(rules, `{"principals": {"values": ["ops"]}, "users": {"values": ["u"]}}`)
	list := "[" + strings.Join(rules, ",") + "]"
	acls, err := acl.Parse([]byte(`{"permissive": false, "view_frameworks": ` + list + `, "view_tasks": ` + list + `, "view_executors": ` + list + `}`))
	if err != nil {
		b.Fatal(err)
	}
	v := newViewer(acl.New(acls), acl.Principal("ops"))
	b.Run("master-state/unfiltered", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.state()
		}
	})
	b.Run("master-state/filtered", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			doc := c.viewState(c.state(), v)
			if n := len(doc.Frameworks[0].Tasks); n != 1000 {
				b.Fatalf("%d tasks of the first framework visible", n)
			}
		}
	})
	b.Run("GET_STATE/unfiltered", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.getState()
		}
	})
	b.Run("GET_STATE/filtered", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			resp := c.viewStateResponse(&masterpb.Response{GetState: c.getState()}, v)
			if n := len(resp.GetGetState().GetGetTasks().GetTasks()); n != 10000 {
				b.Fatalf("%d tasks visible", n)
			}
		}
	})
}

// view_tasks decides each task by the user it runs as (its command's,
// else its framework's), in the documents, the operator API and the
// event stream alike.
func TestAuthorizeViewTasks(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ACLs = mustACLs(t, `{"view_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["alice"]}},
			{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]}`)
	})
	v := newViewer(h.c.authz, acl.Anonymous)
	stream := &recOperator{}
	h.step(func(c *core) { c.subscribeOperatorAs(stream, v) })
	a := h.addAgent("host1", "cpus:4;mem:1024")
	f := h.subscribe(&mesos.FrameworkInfo{User: proto.String("alice")})
	offers := f.offers()
	if len(offers) != 1 {
		t.Fatalf("offers: %v", offers)
	}
	mine := commandTask(t, "mine", a.id, "cpus:1;mem:64")
	asRoot := commandTask(t, "as-root", a.id, "cpus:1;mem:64")
	asRoot.Command.User = proto.String("root")
	h.mustCall(f, acceptCall([]string{offers[0].GetId().GetValue()}, launch(mine, asRoot)))

	taskIDs := func(ts []*mesos.Task) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.GetTaskId().GetValue())
		}
		return out
	}
	if got := taskIDs(h.c.getTasks().GetTasks()); len(got) != 2 {
		t.Fatalf("unfiltered GET_TASKS: %v", got)
	}
	resp := h.c.viewStateResponse(&masterpb.Response{GetTasks: h.c.getTasks()}, v)
	if got := taskIDs(resp.GetGetTasks().GetTasks()); !slices.Equal(got, []string{"mine"}) {
		t.Errorf("GET_TASKS: %v", got)
	}
	doc := h.c.viewState(h.c.state(), v)
	if ts := doc.Frameworks[0].Tasks; len(ts) != 1 || ts[0].ID != "mine" {
		t.Errorf("/master/state tasks: %+v", ts)
	}
	if ts := h.c.tasks(taskQuery{limit: 10, visible: taskVisible(v)}).Tasks; len(ts) != 1 || ts[0].ID != "mine" {
		t.Errorf("/master/tasks: %+v", ts)
	}
	var added []string
	for _, ev := range stream.events {
		if ev.GetType() == masterpb.Event_TASK_ADDED {
			added = append(added, ev.GetTaskAdded().GetTask().GetTaskId().GetValue())
		}
	}
	if !slices.Equal(added, []string{"mine"}) {
		t.Errorf("TASK_ADDED events: %v", added)
	}
}
