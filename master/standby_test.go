package master

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// fakeLeadership is a Leadership whose leader the test sets.
type fakeLeadership struct {
	leader atomic.Pointer[mesos.MasterInfo]
}

func (f *fakeLeadership) Leader() *mesos.MasterInfo { return f.leader.Load() }

func (f *fakeLeadership) set(info *mesos.MasterInfo) { f.leader.Store(info) }

func masterInfoOf(id, host, ip string, port uint32) *mesos.MasterInfo {
	pid := "master@" + ip + ":" + strconv.Itoa(int(port))
	return &mesos.MasterInfo{
		Id: proto.String(id), Ip: proto.Uint32(0), Port: proto.Uint32(port), Pid: proto.String(pid),
		Hostname: proto.String(host),
		Address:  &mesos.Address{Ip: proto.String(ip), Port: proto.Int32(int32(port))},
	}
}

// roundTrip sends one request and returns the answer without following
// redirects.
func roundTrip(t *testing.T, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", method, url, err)
	}
	return resp, string(b)
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, body := roundTrip(t, http.MethodGet, url, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

func testStandby(t *testing.T, l Leadership, clock Clock) (*Standby, *httptest.Server) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Port, cfg.Registry = "standby.example", "127.0.0.2", 5051, "in_memory"
	s := newStandby(masterInfoOf("standby-id", "standby.example", "127.0.0.2", 5051), l, cfg, testLogger(t), clock)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return s, srv
}

// standbyRedirected are requests a standby sends to the leader, with
// bodies for the APIs.
var standbyRedirected = []struct{ method, path, body string }{
	{"POST", "/api/v1/scheduler", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`},
	{"POST", "/master/api/v1/scheduler", `{"type":"SUBSCRIBE"}`},
	{"POST", "/api/v1", `{"type":"GET_HEALTH"}`},
	{"POST", "/master/api/v1", `{"type":"GET_STATE"}`},
	{"POST", "/master/api/v1/agent", `{"type":"REGISTER"}`},
	{"GET", "/master/state", ""},
	{"GET", "/state?jsonp=cb", ""},
	{"GET", "/master/state.json", ""},
	{"GET", "/master/state-summary", ""},
	{"GET", "/master/slaves", ""},
	{"GET", "/frameworks?framework_id=x", ""},
	{"GET", "/master/tasks", ""},
	{"GET", "/master/roles", ""},
	{"GET", "/master/quota", ""},
	{"DELETE", "/master/quota/dev", ""},
	{"GET", "/master/weights", ""},
	{"POST", "/master/teardown", "frameworkId=f"},
	{"POST", "/master/reserve", ""},
	{"POST", "/master/machine/down", ""},
	{"GET", "/master/maintenance/status", ""},
	// The web UI: the page and its files.
	{"GET", "/", ""},
	{"GET", "/ui/app.js", ""},
}

func TestStandbyRedirectsToTheLeader(t *testing.T) {
	var l fakeLeadership
	_, srv := testStandby(t, &l, systemClock{})

	// No leader: 503 everywhere the leader is needed.
	for _, rq := range append(standbyRedirected, struct{ method, path, body string }{"GET", "/master/redirect", ""}) {
		resp, body := roundTrip(t, rq.method, srv.URL+rq.path, rq.body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "No leader elected") {
			t.Errorf("%s %s without a leader: %d %q, want 503 No leader elected", rq.method, rq.path, resp.StatusCode, body)
		}
	}

	// A leader: 307 to the same path and query on it.
	l.set(masterInfoOf("leader-1", "leader1.example", "10.0.0.1", 5050))
	for _, rq := range standbyRedirected {
		resp, body := roundTrip(t, rq.method, srv.URL+rq.path, rq.body)
		if want := "//leader1.example:5050" + rq.path; resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
			t.Errorf("%s %s: %d Location %q (%s), want 307 %q", rq.method, rq.path, resp.StatusCode, resp.Header.Get("Location"), body, want)
		}
	}
	for _, p := range []string{"/master/redirect", "/redirect", "/master/redirect/"} {
		resp, _ := roundTrip(t, http.MethodGet, srv.URL+p, "")
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//leader1.example:5050" {
			t.Errorf("%s: %d Location %q, want 307 //leader1.example:5050", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := roundTrip(t, http.MethodGet, srv.URL+"/master/redirect/state", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/master/redirect/state: %d, want 404", resp.StatusCode)
	}

	// A new leader is seen at the next request.
	l.set(masterInfoOf("leader-2", "", "10.0.0.2", 5052))
	if resp, _ := roundTrip(t, http.MethodPost, srv.URL+"/api/v1/scheduler", `{}`); resp.Header.Get("Location") != "//10.0.0.2:5052/api/v1/scheduler" {
		t.Errorf("after a leader change (no hostname): Location %q, want //10.0.0.2:5052/api/v1/scheduler", resp.Header.Get("Location"))
	}

	// Elected but still standing by: no redirect to itself.
	l.set(masterInfoOf("standby-id", "standby.example", "127.0.0.2", 5051))
	resp, body := roundTrip(t, http.MethodPost, srv.URL+"/api/v1", `{"type":"GET_HEALTH"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Master has not finished recovery") {
		t.Errorf("the standby as leader: %d %q, want 503 Master has not finished recovery", resp.StatusCode, body)
	}
}

func TestStandbyAnswersItsOwnEndpoints(t *testing.T) {
	var l fakeLeadership
	l.set(masterInfoOf("leader-1", "leader1.example", "10.0.0.1", 5050))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	_, srv := testStandby(t, &l, clock)
	clock.t = clock.t.Add(90 * time.Second)

	for _, p := range []string{"/health", "/master/health", "/health/"} {
		if resp, _ := roundTrip(t, http.MethodGet, srv.URL+p, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want 200", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/nowhere", "/master/nowhere", "/metrics/snapshot/more"} {
		if resp, _ := roundTrip(t, http.MethodGet, srv.URL+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}

	var fl struct{ Flags map[string]string }
	getJSON(t, srv.URL+"/master/flags", &fl)
	if fl.Flags["port"] != "5051" || fl.Flags["hostname"] != "standby.example" || fl.Flags["registry"] != "in_memory" {
		t.Errorf("/master/flags: %v", fl.Flags)
	}
	var v struct{ Version string }
	getJSON(t, srv.URL+"/version", &v)
	if v.Version == "" {
		t.Error("/version: no version")
	}

	var metrics map[string]float64
	getJSON(t, srv.URL+"/metrics/snapshot", &metrics)
	for name, want := range map[string]float64{
		"master/elected": 0, "master/uptime_secs": 90, "master/slaves_active": 0, "master/frameworks_active": 0,
		"master/tasks_running": 0, "master/event_queue_dispatches": 0,
	} {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("metric %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := metrics["system/load_1min"]; !ok {
		t.Error("metric system/load_1min missing")
	}
	for name := range metrics {
		if !strings.HasPrefix(name, "master/") && !strings.HasPrefix(name, "system/") {
			t.Errorf("metric %s: a standby has only master/ and system/ metrics", name)
		}
	}
	if resp, _ := roundTrip(t, http.MethodGet, srv.URL+"/metrics/snapshot?timeout=soon", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/metrics/snapshot?timeout=soon: %d, want 400", resp.StatusCode)
	}

	// master/elected follows the leadership at each request.
	l.set(masterInfoOf("standby-id", "standby.example", "127.0.0.2", 5051))
	getJSON(t, srv.URL+"/metrics/snapshot", &metrics)
	if metrics["master/elected"] != 1 {
		t.Errorf("master/elected = %v once this master leads, want 1", metrics["master/elected"])
	}
	l.set(nil)
	getJSON(t, srv.URL+"/metrics/snapshot", &metrics)
	if metrics["master/elected"] != 0 {
		t.Errorf("master/elected = %v without a leader, want 0", metrics["master/elected"])
	}
}

// testLeadingMaster starts a master whose Config.Leadership is l on an
// httptest server.
func testLeadingMaster(t *testing.T, l Leadership) (*Master, *httptest.Server) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "localhost", "127.0.0.1", "in_memory"
	cfg.Leadership = l
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		srv.CloseClientConnections()
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return m, srv
}

// masterLeaderView is what a master's endpoints say about the leader.
type masterLeaderView struct {
	hasLeader, hasLeaderInfo bool
	leader, leaderInfoID     string
	elected                  float64
	redirectStatus           int
	redirectTo               string
}

func leaderView(t *testing.T, url string) masterLeaderView {
	t.Helper()
	var raw map[string]json.RawMessage
	getJSON(t, url+"/master/state", &raw)
	var v masterLeaderView
	var leader string
	var info struct{ ID string }
	if b, ok := raw["leader"]; ok {
		v.hasLeader = true
		if err := json.Unmarshal(b, &leader); err != nil {
			t.Fatal(err)
		}
		v.leader = leader
	}
	if b, ok := raw["leader_info"]; ok {
		v.hasLeaderInfo = true
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatal(err)
		}
		v.leaderInfoID = info.ID
	}
	var metrics map[string]float64
	getJSON(t, url+"/metrics/snapshot", &metrics)
	v.elected = metrics["master/elected"]
	resp, _ := roundTrip(t, http.MethodGet, url+"/master/redirect", "")
	v.redirectStatus, v.redirectTo = resp.StatusCode, resp.Header.Get("Location")
	return v
}

func TestMasterReportsTheLeadership(t *testing.T) {
	// Without Leadership the master is its own leader.
	alone, aloneSrv := testLeadingMaster(t, nil)
	self := alone.Info()
	want := masterLeaderView{true, true, self.GetPid(), self.GetId(), 1, 307, "//localhost:5050"}
	if got := leaderView(t, aloneSrv.URL); got != want {
		t.Errorf("alone: %+v, want %+v", got, want)
	}

	var l fakeLeadership
	m, srv := testLeadingMaster(t, &l)
	self = m.Info()
	other := masterInfoOf("other-master", "other.example", "10.0.0.9", 5055)
	for _, step := range []struct {
		name   string
		leader *mesos.MasterInfo
		want   masterLeaderView
	}{
		{"no leader", nil, masterLeaderView{elected: 0, redirectStatus: 503}},
		{"elected", self, masterLeaderView{true, true, self.GetPid(), self.GetId(), 1, 307, "//localhost:5050"}},
		{"another leads", other, masterLeaderView{true, true, "master@10.0.0.9:5055", "other-master", 0, 307, "//other.example:5055"}},
		{"elected again", self, masterLeaderView{true, true, self.GetPid(), self.GetId(), 1, 307, "//localhost:5050"}},
	} {
		l.set(step.leader)
		if got := leaderView(t, srv.URL); got != step.want {
			t.Errorf("%s: %+v, want %+v", step.name, got, step.want)
		}
	}
}

// TestStandbyClientReachesTheLeader follows a standby's redirects with Go's
// HTTP client to a real leading master, for a read and for a v1 operator
// call whose body the 307 keeps.
func TestStandbyClientReachesTheLeader(t *testing.T) {
	var l fakeLeadership
	m, msrv := testLeadingMaster(t, &l)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(msrv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	leader := proto.Clone(m.Info()).(*mesos.MasterInfo)
	leader.Hostname, leader.Port = proto.String("127.0.0.1"), proto.Uint32(uint32(p))
	l.set(leader)
	_, ssrv := testStandby(t, &l, systemClock{})

	resp, err := http.Get(ssrv.URL + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	var state struct{ ID, Leader string }
	err = json.NewDecoder(resp.Body).Decode(&state)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || state.ID != m.Info().GetId() || state.Leader != leader.GetPid() {
		t.Errorf("state through the standby: %d %+v %v, want the leader's (%s)", resp.StatusCode, state, err, m.Info().GetId())
	}

	resp, err = http.Post(ssrv.URL+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_HEALTH"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"healthy":true`) {
		t.Errorf("GET_HEALTH through the standby: %d %s", resp.StatusCode, body)
	}
}

// TestStandbyServesOnlyMasterPaths checks that every path a standby
// redirects is one the leading master serves.
func TestStandbyServesOnlyMasterPaths(t *testing.T) {
	_, srv := testLeadingMaster(t, nil)
	for _, p := range leaderPaths {
		for _, path := range []string{p, "/master" + p} {
			if resp, _ := roundTrip(t, http.MethodGet, srv.URL+path, ""); resp.StatusCode == http.StatusNotFound {
				t.Errorf("the leading master does not serve %s", path)
			}
		}
	}
}
