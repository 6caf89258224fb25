package prom

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestName(t *testing.T) {
	for key, want := range map[string]string{
		"master/tasks_finished":                    "mesos_master_tasks_finished",
		"allocator/mesos/allocation_run_ms/p99":    "mesos_allocator_mesos_allocation_run_ms_p99",
		"master/frameworks/my-fw.v2/x/calls/total": "mesos_master_frameworks_my_fw_v2_x_calls_total",
		"containerizer/mezzo/oom_events":           "mesos_containerizer_mezzo_oom_events",
		"system/load_1min":                         "mesos_system_load_1min",
	} {
		if got := Name(key); got != want {
			t.Errorf("Name(%q) = %q, want %q", key, got, want)
		}
	}
}

// gather reads reg as a scrape would.
func gather(t *testing.T, reg *prometheus.Registry) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	fams, err := reg.Gather()
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out, err
}

// TestSnapshotCollector checks that every key becomes one gauge read at
// scrape time, that two keys with one name are exported once (the first
// in key order), that fed collectors are collected after the read that
// feeds them, and that a failed read fails the scrape.
func TestSnapshotCollector(t *testing.T) {
	figures := map[string]float64{"master/a-b": 1, "master/a_b": 2, "slave/x": 3}
	var readErr error
	fed := prometheus.NewCounter(prometheus.CounterOpts{Name: "mezzo_test_fed_total"})
	reg := Registry(func(context.Context) (map[string]float64, error) {
		fed.Inc()
		return figures, readErr
	}, nil, []prometheus.Collector{fed})
	fams, err := gather(t, reg)
	if err != nil {
		t.Fatal(err)
	}
	if f := fams["mesos_master_a_b"]; f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 || f.GetHelp() != "master/a-b" {
		t.Errorf("mesos_master_a_b = %v, want the gauge of master/a-b only", f)
	}
	if f := fams["mesos_slave_x"]; f == nil || f.GetType() != dto.MetricType_GAUGE || f.GetMetric()[0].GetGauge().GetValue() != 3 {
		t.Errorf("mesos_slave_x = %v", f)
	}
	if f := fams["mezzo_test_fed_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Errorf("the fed counter was collected before the read fed it: %v", f)
	}
	figures["slave/x"] = 4
	if fams, _ = gather(t, reg); fams["mesos_slave_x"].GetMetric()[0].GetGauge().GetValue() != 4 {
		t.Errorf("mesos_slave_x was not read again at the second scrape")
	}
	readErr = errors.New("master is shutting down")
	srv := httptest.NewServer(Handler(reg, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("a scrape whose read failed answered %d, want 500", resp.StatusCode)
	}
}

// TestTimedObservesAtStatusLine checks that a call is observed when its
// status line is written, under its code: a stream that stays open is
// counted once it has opened.
func TestTimedObservesAtStatusLine(t *testing.T) {
	vec := NewAPIHistogram("test")
	count := func(api, code string) uint64 {
		var m dto.Metric
		if err := vec.WithLabelValues(api, code).(prometheus.Histogram).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	opened := make(chan struct{})
	release := make(chan struct{})
	stream := Timed(vec, "scheduler", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
		close(opened)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		stream.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	}()
	<-opened
	if n := count("scheduler", "200"); n != 1 {
		t.Errorf("open stream observed %d times, want 1", n)
	}
	close(release)
	<-done
	if n := count("scheduler", "200"); n != 1 {
		t.Errorf("closed stream observed %d times, want 1", n)
	}
	bad := Timed(vec, "operator", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	silent := Timed(vec, "operator", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	bad.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	silent.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	if count("operator", "400") != 1 || count("operator", "200") != 1 {
		t.Errorf("operator: %d at 400, %d at 200; want 1 and 1", count("operator", "400"), count("operator", "200"))
	}
}

func TestPprof(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		h := Pprof(enabled)
		for _, p := range PprofPaths() {
			if strings.HasSuffix(p, "/profile") || strings.HasSuffix(p, "/trace") {
				continue // these take seconds
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			want := http.StatusOK
			switch {
			case !enabled:
				want = http.StatusNotFound
			case p == "/debug/pprof":
				want = http.StatusMovedPermanently
			}
			if rec.Code != want {
				t.Errorf("enabled=%v %s: %d, want %d", enabled, p, rec.Code, want)
			}
		}
	}
}
