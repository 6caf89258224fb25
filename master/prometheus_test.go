package master

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/prom"
	"github.com/mezzo-project/mezzo/internal/prom/promtest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// promTestMaster starts a master on an httptest server with mutate applied
// to its configuration; cleanup closes both and checks that no goroutine
// was left behind.
func promTestMaster(t *testing.T, mutate func(*Config)) (*Master, *httptest.Server) {
	t.Helper()
	before := runtime.NumGoroutine()
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "localhost", "127.0.0.1", "in_memory"
	if mutate != nil {
		mutate(&cfg)
	}
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
		eventually(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	})
	return m, srv
}

// TestPrometheusMetrics reads a running master's /metrics with
// Prometheus' parser: every figure of /metrics/snapshot is there under
// its Prometheus name with the same value, and the latency histograms
// counted the calls that came before.
func TestPrometheusMetrics(t *testing.T) {
	_, srv := promTestMaster(t, nil)
	// An agent registers (a registry write) and keeps its stream open.
	reg := &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: &agentproto.AgentCall_Register{
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String("localhost"), Port: proto.Int32(5051), Resources: mustResources(t, "cpus:2;mem:1024")},
		Endpoint:  proto.String("127.0.0.1:5051"),
		Version:   proto.String("1.11.1"),
	}}
	aresp := post(t, srv.URL+"/master/api/v1/agent", "application/json", jsonBody(t, reg), nil)
	defer aresp.Body.Close()
	if aresp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(aresp.Body)
		t.Fatalf("REGISTER: %d %s", aresp.StatusCode, b)
	}
	as := &stream{t: t, r: recordio.NewReader(aresp.Body, 4<<20), format: codec.JSON}
	as.next(&agentproto.AgentEvent{})
	// A framework subscribes (a registry write) and is offered the agent
	// (an allocation run); its stream stays open.
	fs, _, _ := subscribeJSON(t, srv, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("prom")})
	fs.nextOf(schedpb.Event_OFFERS)
	// An operator call.
	resp := post(t, srv.URL+"/api/v1", "application/json", []byte(`{"type":"GET_HEALTH"}`), map[string]string{"Accept": "application/json"})
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET_HEALTH: %d", resp.StatusCode)
	}

	before := promtest.Snapshot(t, srv.URL+"/metrics/snapshot")
	fams := promtest.Scrape(t, srv.URL+"/metrics")
	after := promtest.Snapshot(t, srv.URL+"/metrics/snapshot")
	compared := promtest.CheckSnapshot(t, before, after, fams)
	t.Logf("%d snapshot keys, %d values compared", len(before), compared)
	if compared < len(before)/2 {
		t.Errorf("compared %d of %d values: too many changed between two snapshots", compared, len(before))
	}
	for name, want := range map[string]float64{"mesos_master_slaves_active": 1, "mesos_master_frameworks_active": 1, "mesos_master_elected": 1} {
		if f := fams[name]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != want {
			t.Errorf("%s = %v, want %v", name, f, want)
		}
	}
	for _, h := range []struct {
		name   string
		labels map[string]string
	}{
		{"mezzo_master_api_call_duration_seconds", map[string]string{"api": "scheduler", "code": "200"}},
		{"mezzo_master_api_call_duration_seconds", map[string]string{"api": "agent", "code": "200"}},
		{"mezzo_master_api_call_duration_seconds", map[string]string{"api": "operator", "code": "200"}},
		{"mezzo_master_allocation_run_seconds", nil},
		{"mezzo_master_registry_apply_seconds", nil},
	} {
		if n := promtest.HistogramCount(fams, h.name, h.labels); n == 0 {
			t.Errorf("%s%v has no observations", h.name, h.labels)
		}
	}
	// The histograms count each write once across scrapes: the core's
	// timer and the histogram agree on how many registry writes there
	// were (the agent's admission and the framework's).
	again := promtest.Scrape(t, srv.URL+"/metrics")
	writes := promtest.Snapshot(t, srv.URL+"/metrics/snapshot")["registrar/state_store_ms/count"]
	if n := promtest.HistogramCount(again, "mezzo_master_registry_apply_seconds", nil); writes < 2 || n != uint64(writes) {
		t.Errorf("registry writes observed %d times, the snapshot counts %v", n, writes)
	}
}

// TestTimerFeedCountsEachSampleOnce feeds a timer's samples to a
// histogram across several scrapes, with samples sharing a time (as a
// fake clock makes them): each is observed once, and a timer that dropped
// samples between two scrapes is counted as an overrun.
func TestTimerFeedCountsEachSampleOnce(t *testing.T) {
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: prom.LatencyBuckets})
	overruns := prometheus.NewCounter(prometheus.CounterOpts{Name: "o"})
	f := timerFeed{hist: hist, overruns: overruns}
	count := func() uint64 {
		var m dto.Metric
		if err := hist.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	tm := newTimer(time.Hour)
	at := time.Unix(1000, 0)
	tm.record(at, time.Millisecond)
	tm.record(at, time.Millisecond)
	snap := tm.clone()
	f.feed(&snap)
	f.feed(&snap) // the same snapshot again: nothing new
	if got := count(); got != 2 {
		t.Fatalf("observed %d, want 2", got)
	}
	tm.record(at, time.Millisecond) // a third at the same time
	tm.record(at.Add(time.Second), time.Millisecond)
	old := snap
	snap = tm.clone()
	f.feed(&snap)
	f.feed(&old) // an older snapshot read late adds nothing
	if got := count(); got != 4 {
		t.Fatalf("observed %d, want 4", got)
	}
	for i := range timerCapacity + 10 {
		tm.record(at.Add(2*time.Second+time.Duration(i)), time.Millisecond)
	}
	snap = tm.clone()
	f.feed(&snap)
	if got := count(); got != 4+timerCapacity {
		t.Fatalf("observed %d, want %d", got, 4+timerCapacity)
	}
	var m dto.Metric
	if err := overruns.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("overruns %v (%v), want 1", m.GetCounter().GetValue(), err)
	}
}

// TestPprofEndpoints checks that /debug/pprof/ answers 404 unless
// --enable_pprof, and that Mesos' /profiler/* answer 501 pointing there.
func TestPprofEndpoints(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("off", func(t *testing.T) {
		_, srv := promTestMaster(t, nil)
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
			if code, body := get(srv.URL + p); code != http.StatusNotFound || !strings.Contains(body, "--enable_pprof") {
				t.Errorf("%s: %d %q, want 404 naming --enable_pprof", p, code, body)
			}
		}
		for _, p := range []string{"/profiler/start", "/profiler/stop"} {
			if code, body := get(srv.URL + p); code != http.StatusNotImplemented || !strings.Contains(body, "/debug/pprof/") {
				t.Errorf("%s: %d %q, want 501 naming /debug/pprof/", p, code, body)
			}
		}
	})
	t.Run("on", func(t *testing.T) {
		_, srv := promTestMaster(t, func(c *Config) { c.EnablePprof = true })
		for p, want := range map[string]string{
			"/debug/pprof/":                  "goroutine",
			"/debug/pprof/heap?debug=1":      "heap profile",
			"/debug/pprof/goroutine?debug=1": "goroutine profile",
			"/debug/pprof/cmdline":           "",
		} {
			if code, body := get(srv.URL + p); code != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("%s: %d, want 200 with %q", p, code, want)
			}
		}
		if code, _ := get(srv.URL + "/debug/pprof"); code != http.StatusMovedPermanently {
			t.Errorf("/debug/pprof: %d, want a redirect to /debug/pprof/", code)
		}
		if code, _ := get(srv.URL + "/profiler/start"); code != http.StatusNotImplemented {
			t.Errorf("/profiler/start: %d, want 501", code)
		}
	})
}

// BenchmarkPrometheusScrape measures a scrape of /metrics (and, for
// comparison, of /metrics/snapshot) on a master holding 1,000 agents
// running 10,000 tasks of 10 frameworks, with the read rate limit off.
//
//	go test ./master -run '^$' -bench PrometheusScrape -benchtime 200x
func BenchmarkPrometheusScrape(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "m", "127.0.0.1", "in_memory"
	cfg.AllocationInterval = time.Hour
	m, err := New(cfg, discardLogger)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.readLimit = &readLimiter{}
	var loadErr error
	if err := m.do(func(c *core) { loadErr = loadBenchCluster(c, 1000, 10) }); err != nil || loadErr != nil {
		b.Fatal(err, loadErr)
	}
	h := m.Handler()
	for _, path := range []string{"/metrics", "/metrics/snapshot"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "slaves_active") {
					b.Fatalf("%s: %d %.200s", path, rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

// loadBenchCluster registers agents agents on c, each running
// tasksPerAgent tasks of one of ten frameworks, as agents re-registering
// with a restarted master bring them (core goroutine).
func loadBenchCluster(c *core, agents, tasksPerAgent int) error {
	var frameworks []*mesos.FrameworkInfo
	for f := range 10 {
		frameworks = append(frameworks, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String(fmt.Sprintf("f%d", f)),
			Id: frameworkID(fmt.Sprintf("F-%04d", f))})
	}
	for i := range agents {
		id := fmt.Sprintf("A-S%d", i)
		reg := &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("h%d", i)), Id: agentID(id), Resources: benchResources},
			Endpoint:   proto.String(fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250+1)),
			Frameworks: frameworks,
		}
		for j := range tasksPerAgent {
			fw := frameworks[(i+j)%len(frameworks)]
			tid := &mesos.TaskID{Value: proto.String(fmt.Sprintf("t-%d-%d", i, j))}
			reg.Tasks = append(reg.Tasks, &mesos.Task{
				Name: proto.String("t"), TaskId: tid, FrameworkId: fw.Id, AgentId: agentID(id),
				State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: benchTaskResources,
				Statuses: []*mesos.TaskStatus{{TaskId: tid, State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(1e9)}},
			})
		}
		if _, err := c.registerAgent(&recAgent{streamID: "s"}, fmt.Sprint(i), reg); err != nil {
			return fmt.Errorf("register agent %s: %w", id, err)
		}
	}
	return nil
}
