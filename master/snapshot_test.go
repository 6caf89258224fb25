package master

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/resources"
)

// viewDocs encodes every view a snapshot answers from c's books, by name.
func viewDocs(t *testing.T, c *core) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(name string, b []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = string(b)
	}
	legacyDoc := func(name string, v any) {
		t.Helper()
		b, err := legacy.Marshal(v)
		add(name, b, err)
	}
	protoDoc := func(name string, m proto.Message) {
		t.Helper()
		b, err := codec.MarshalJSON(m)
		add(name, b, err)
	}
	legacyDoc("state", c.state())
	legacyDoc("state-summary", c.stateSummary())
	legacyDoc("slaves", c.slaves(idFilter{}))
	legacyDoc("frameworks", c.frameworksDoc(idFilter{}))
	legacyDoc("tasks", c.tasks(taskQuery{limit: 1000, ascending: true}))
	legacyDoc("roles", c.rolesJSON())
	for _, typ := range []masterpb.Call_Type{masterpb.Call_GET_STATE, masterpb.Call_GET_AGENTS, masterpb.Call_GET_FRAMEWORKS,
		masterpb.Call_GET_EXECUTORS, masterpb.Call_GET_TASKS} {
		resp, err := c.stateResponse(typ)
		if err != nil {
			t.Fatal(err)
		}
		b, err := encodeState(codec.JSON, resp)
		add(typ.String(), b, err)
	}
	protoDoc("GET_ROLES", &masterpb.Response_GetRoles{Roles: c.rolesProto()})
	protoDoc("GET_WEIGHTS", &masterpb.Response_GetWeights{WeightInfos: c.weightInfos()})
	protoDoc("GET_QUOTA", c.quotaStatus())
	protoDoc("GET_MAINTENANCE_STATUS", c.maintenanceStatus())
	protoDoc("GET_MAINTENANCE_SCHEDULE", c.maint.schedule)
	// Uptime is read from the clock when the metrics are read.
	metrics := c.metricsSnapshot()
	delete(metrics, "master/uptime_secs")
	b, err := json.Marshal(metrics)
	add("metrics", b, err)
	return out
}

// sameDocs fails the test where got and want differ.
func sameDocs(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %s differs:\n got %s\nwant %s", what, name, got[name], w)
		}
	}
}

// TestSnapshotMatchesCore walks a cluster through the changes the core
// makes in place (task updates, acknowledgements, completions,
// unreachable agents, reservations, weights, quota, maintenance, holds,
// teardown) and checks after each that a snapshot's views say what the
// core's say, and that an earlier snapshot still says what it said: the
// copy shares nothing the core changes.
func TestSnapshotMatchesCore(t *testing.T) {
	h := newHarness(t)
	var sc snapshotCopier
	type kept struct {
		step string
		view *core
		docs map[string]string
	}
	var history []kept
	check := func(step string) {
		t.Helper()
		v := sc.freeze(h.c)
		want := viewDocs(t, h.c)
		sameDocs(t, step, viewDocs(t, v), want)
		history = append(history, kept{step, v, want})
		for _, k := range history {
			sameDocs(t, "snapshot of "+k.step+" after "+step, viewDocs(t, k.view), k.docs)
		}
	}
	check("empty")
	a1 := h.addAgent("h1", "cpus:4;mem:4096;disk:1000")
	a2 := h.addAgent("h2", "cpus:4;mem:4096;disk:1000")
	check("agents")
	f := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("one"), Checkpoint: proto.Bool(true), Capabilities: partitionAware})
	check("framework")
	h.runTask(a1, f, "t1", 1000, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING)
	check("t1 running")
	h.statusUpdate(a1, f, "t1", mesos.TaskState_TASK_RUNNING, "t1-healthy-0001!")
	check("t1 running again, unacknowledged")
	h.statusUpdate(a1, f, "t1", mesos.TaskState_TASK_FINISHED, "t1-finished-001!")
	check("t1 finished, unacknowledged")
	h.mustCall(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: agentID(a1.id), TaskId: &mesos.TaskID{Value: proto.String("t1")}, Uuid: []byte("t1-finished-001!"),
	}})
	check("t1 completed")
	h.runTask(a2, f, "t2", 2000, mesos.TaskState_TASK_RUNNING)
	h.runTask(a1, f, "t3", 3000, mesos.TaskState_TASK_RUNNING)
	check("t2 and t3 running")
	h.mustCore(func(c *core) error {
		return c.updateWeights([]*mesos.WeightInfo{{Role: proto.String("db"), Weight: proto.Float64(2)}})
	})
	h.mustCore(func(c *core) error {
		return c.updateQuota(true, []*quotapb.QuotaConfig{{Role: proto.String("db"),
			Guarantees: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(1)}}}})
	})
	check("weights and quota")
	db := h.subscribe(&mesos.FrameworkInfo{Name: proto.String("db"), Role: proto.String("db")})
	plain, err := resources.Parse("cpus:1;disk:100", "*")
	if err != nil {
		t.Fatal(err)
	}
	reserved, err := plain.PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "db"})
	if err != nil {
		t.Fatal(err)
	}
	h.mustCore(func(c *core) error {
		return c.operatorConvert(a2.id, mesos.Offer_Operation_RESERVE, resources.ToProto(reserved, resources.FormatPostRefinement))
	})
	check("reservation")
	h.mustCore(func(c *core) error {
		return c.updateMaintenanceSchedule(schedule(window(h.clock.t.Add(time.Hour), time.Hour, hostMachine("h1"))))
	})
	check("maintenance scheduled")
	h.mustCore(func(c *core) error { return c.deactivateAgent(a1.id) })
	check("h1 deactivated")
	h.mustCore(func(c *core) error { return c.drainAgent(a1.id, nil, false) })
	check("h1 draining")
	h.statusUpdate(a1, f, "t3", mesos.TaskState_TASK_KILLED, "t3-killed-00001!")
	h.advance(time.Second)
	check("h1 drained")
	h.step(func(c *core) { c.agentStreamClosed(a2.id, a2.streamID) })
	check("h2 disconnected")
	h.advance(10 * time.Minute)
	check("agents unreachable")
	h.mustCall(db, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	check("db torn down")
}

// blockCore runs an event that holds the core goroutine until the
// returned release is called (release also waits for the event to end).
func blockCore(t *testing.T, m *Master) (release func()) {
	t.Helper()
	entered, unblock, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = m.do(func(*core) { close(entered); <-unblock })
	}()
	<-entered
	var once sync.Once
	release = func() { once.Do(func() { close(unblock); <-done }) }
	t.Cleanup(release)
	return release
}

func getBody(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestReadsWaitForPublicationNotTheQueue: while the core is busy with a
// long event, readers of /master/state, /metrics/snapshot and GET_STATE
// put nothing on its queue; they wait for the snapshot that follows the
// event, which the core builds once for all of them. /metrics/snapshot
// with a timeout answers from the previous snapshot meanwhile.
func TestReadsWaitForPublicationNotTheQueue(t *testing.T) {
	m, srv := testMaster(t)
	// A first read, so that the snapshot readers need comes after the
	// block below.
	if code, body, err := getBody(srv.URL + "/master/state"); err != nil || code != 200 {
		t.Fatalf("state: %d %s %v", code, body, err)
	}
	release := blockCore(t, m)
	builds := m.snaps.builds.Load()

	const readers = 24
	type answer struct {
		what string
		code int
		body string
		err  error
	}
	answers := make(chan answer, readers)
	for i := 0; i < readers; i++ {
		go func() {
			var a answer
			switch i % 3 {
			case 0:
				a.what = "/master/state"
				a.code, a.body, a.err = getBody(srv.URL + a.what)
			case 1:
				a.what = "/metrics/snapshot"
				a.code, a.body, a.err = getBody(srv.URL + a.what)
			default:
				a.what = "GET_STATE"
				resp, err := http.Post(srv.URL+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_STATE"}`))
				if a.err = err; err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					a.code, a.body = resp.StatusCode, string(b)
				}
			}
			answers <- a
		}()
	}
	eventually(t, 5*time.Second, "every reader to wait", func() bool { return m.snaps.waiting.Load() == readers })
	if q := m.queued.Load(); q != 0 {
		t.Errorf("%d calls queued for the core while readers wait", q)
	}
	select {
	case a := <-answers:
		t.Fatalf("%s answered while the core was busy: %d", a.what, a.code)
	case <-time.After(50 * time.Millisecond):
	}

	// Past its timeout, a metrics read answers from the latest snapshot.
	start := time.Now()
	code, body, err := getBody(srv.URL + "/metrics/snapshot?timeout=20ms")
	if err != nil || code != 200 || !strings.Contains(body, `"master/uptime_secs"`) {
		t.Fatalf("metrics with timeout: %d %s %v", code, body, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("metrics with a 20ms timeout took %v", d)
	}
	if code, body, _ := getBody(srv.URL + "/metrics/snapshot?timeout=soon"); code != 400 {
		t.Errorf("metrics with timeout=soon: %d %s, want 400", code, body)
	}

	release()
	for i := 0; i < readers; i++ {
		a := <-answers
		if a.err != nil || a.code != 200 {
			t.Errorf("%s: %d %s %v", a.what, a.code, a.body, a.err)
		}
	}
	if got := m.snaps.builds.Load() - builds; got != 1 {
		t.Errorf("%d snapshots built for %d readers of one version, want 1", got, readers)
	}
}

// TestReadYourWrites: an operator call answered before a read starts is
// in what the read says, every time.
func TestReadYourWrites(t *testing.T) {
	_, srv := testMaster(t)
	for i := 1; i <= 20; i++ {
		w := fmt.Sprintf("%d.5", i)
		if code, body := operatorCall(t, srv.URL, `{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"eng","weight":`+w+`}]}}`); code != 200 {
			t.Fatalf("UPDATE_WEIGHTS: %d %s", code, body)
		}
		_, body := operatorCall(t, srv.URL, `{"type":"GET_WEIGHTS"}`)
		if !strings.Contains(body, `"weight":`+w) {
			t.Fatalf("GET_WEIGHTS after setting %s: %s", w, body)
		}
		code, body, err := getBody(srv.URL + "/master/roles")
		if err != nil || code != 200 || !strings.Contains(body, `"weight":`+w) {
			t.Fatalf("/master/roles after setting %s: %d %s %v", w, code, body, err)
		}
	}
	// A framework torn down by the operator is completed in the next read.
	s, _, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("gone")})
	defer s.resp.Body.Close()
	var doc struct {
		Frameworks          []struct{ ID string } `json:"frameworks"`
		CompletedFrameworks []struct{ ID string } `json:"completed_frameworks"`
	}
	code, body, err := getBody(srv.URL + "/master/frameworks")
	if err != nil || code != 200 || json.Unmarshal([]byte(body), &doc) != nil || len(doc.Frameworks) != 1 {
		t.Fatalf("/master/frameworks after SUBSCRIBE: %d %s %v", code, body, err)
	}
	id := doc.Frameworks[0].ID
	if code, body := operatorCall(t, srv.URL, `{"type":"TEARDOWN","teardown":{"framework_id":{"value":"`+id+`"}}}`); code != 200 {
		t.Fatalf("TEARDOWN: %d %s", code, body)
	}
	doc.Frameworks, doc.CompletedFrameworks = nil, nil
	code, body, err = getBody(srv.URL + "/master/frameworks")
	if err != nil || code != 200 || json.Unmarshal([]byte(body), &doc) != nil || len(doc.Frameworks) != 0 ||
		len(doc.CompletedFrameworks) != 1 || doc.CompletedFrameworks[0].ID != id {
		t.Fatalf("/master/frameworks after TEARDOWN: %d %s %v", code, body, err)
	}
}

// TestConcurrentReadersCoalesce: however many readers wait for a newer
// snapshot, one build serves them all, and they get the same snapshot.
func TestConcurrentReadersCoalesce(t *testing.T) {
	h := newHarness(t)
	p := newPublisher()
	p.build(h.c, 0)
	const readers = 50
	got := make(chan *snapshot, readers)
	done := make(chan struct{})
	for i := 0; i < readers; i++ {
		go func() {
			s, err := p.await(context.Background(), 1, done)
			if err != nil {
				t.Error(err)
			}
			got <- s
		}()
	}
	eventually(t, 5*time.Second, "every reader to wait", func() bool { return p.waiting.Load() == readers })
	// The core's loop: an event, then the build the readers asked for.
	h.addAgent("h1", "cpus:1;mem:128")
	now := func() time.Time { return h.clock.t }
	if d := p.maybeBuild(h.c, 1, now); d != 0 {
		t.Fatalf("build held back %v", d)
	}
	var first *snapshot
	for i := 0; i < readers; i++ {
		s := <-got
		if first == nil {
			first = s
		}
		if s != first || s.version != 1 {
			t.Fatalf("readers got different snapshots (version %d)", s.version)
		}
	}
	if n := p.builds.Load(); n != 2 {
		t.Errorf("%d builds, want 2 (the first and one for all readers)", n)
	}
	if len(first.view.agents) != 1 {
		t.Errorf("snapshot has %d agents, want 1", len(first.view.agents))
	}
	// Nobody waits: no build, however often the loop comes by.
	if p.maybeBuild(h.c, 2, now); p.builds.Load() != 2 {
		t.Errorf("built a snapshot nobody asked for")
	}
	// Readers that come within the pacing interval wait for it.
	go func() {
		s, err := p.await(context.Background(), 2, done)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	eventually(t, 5*time.Second, "the reader to wait", func() bool { return p.waiting.Load() == 1 })
	if d := p.maybeBuild(h.c, 2, now); d <= 0 || d > snapshotMinInterval {
		t.Fatalf("build within the pacing interval: held back %v", d)
	}
	h.clock.t = h.clock.t.Add(snapshotMinInterval)
	if d := p.maybeBuild(h.c, 2, now); d != 0 {
		t.Fatalf("build after the pacing interval held back %v", d)
	}
	if s := <-got; s.version != 2 {
		t.Errorf("reader got version %d, want 2", s.version)
	}
	close(done)
	if _, err := p.await(context.Background(), 3, done); err != errClosed {
		t.Errorf("await after the core stopped: %v, want errClosed", err)
	}
}

// TestMetricsEncodingMatchesLegacy: /metrics/snapshot's encoding, the
// snapshot's part once and the live part per read, is byte for byte what
// legacy.Marshal writes for the whole map.
func TestMetricsEncodingMatchesLegacy(t *testing.T) {
	base := map[string]float64{
		"master/tasks_running": 3, "master/cpus_percent": 0.25, "allocator/mesos/allocation_runs": 12,
		"master/frameworks/a%20b/F-1/calls": 7, "master/uptime_secs": 99, "zzz/last": 1e21,
	}
	live := map[string]float64{"master/uptime_secs": 12.5, "system/load_1min": 0.5, "aaa/first": -1, "master/event_queue_dispatches": 0}
	enc, err := encodeMetrics(base)
	if err != nil {
		t.Fatal(err)
	}
	got, err := enc.appendJSON(nil, live)
	if err != nil {
		t.Fatal(err)
	}
	all := legacy.Quantities{}
	for _, m := range []map[string]float64{base, live} {
		for k, v := range m {
			all[k] = legacy.Float(v)
		}
	}
	want, err := legacy.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("encoded metrics\n got %s\nwant %s", got, want)
	}
	if got, err := (&encodedMetrics{}).appendJSON(nil, nil); err != nil || string(got) != "{}" {
		t.Errorf("no metrics: %s %v", got, err)
	}
}

// TestReadLimiter: reads are admitted at once up to the burst, then
// spaced by the interval; an idle spell refills the burst.
func TestReadLimiter(t *testing.T) {
	l := &readLimiter{interval: 10 * time.Millisecond, burst: 3}
	now := time.Unix(1000, 0)
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, l.reserve(now))
	}
	want := []time.Duration{0, 0, 0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	now = now.Add(time.Second)
	for i := 0; i < 3; i++ {
		if d := l.reserve(now); d != 0 {
			t.Errorf("read %d after an idle second waits %v", i, d)
		}
	}
	// The burst is spent; a large answer pays for its size: the next read
	// waits one more interval per readUnit past the first (3 + its own).
	l.charge(3*readUnit + 1)
	if d := l.reserve(now); d != 40*time.Millisecond {
		t.Errorf("read after a %d-byte answer waits %v, want 40ms", 3*readUnit+1, d)
	}
	if d := (&readLimiter{}).reserve(now); d != 0 {
		t.Errorf("no limit: waits %v", d)
	}
}
