package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/internal/prom/promtest"
)

// TestPrometheusMetrics reads a running agent's /metrics with
// Prometheus' parser: every figure of /metrics/snapshot is there under
// its Prometheus name with the same value, and the API histogram counted
// the executor and operator calls that came before.
func TestPrometheusMetrics(t *testing.T) {
	_, srv := apiAgent(t)
	resp := post(t, srv.URL+"/api/v1/executor", codec.JSON, enc(t, codec.JSON, call(execpb.Call_HEARTBEAT, "F1", "E1")), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("HEARTBEAT: %d", resp.StatusCode)
	}
	resp = post(t, srv.URL+"/slave(1)/api/v1", codec.JSON, []byte(`{"type":"GET_HEALTH"}`), map[string]string{"Accept": "application/json"})
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
	for name, want := range map[string]float64{"mesos_slave_registered": 1, "mesos_slave_executors_registering": 1, "mesos_slave_tasks_staging": 1} {
		if f := fams[name]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != want {
			t.Errorf("%s = %v, want %v", name, f, want)
		}
	}
	for _, labels := range []map[string]string{{"api": "executor", "code": "202"}, {"api": "operator", "code": "200"}} {
		if n := promtest.HistogramCount(fams, "mezzo_agent_api_call_duration_seconds", labels); n != 1 {
			t.Errorf("mezzo_agent_api_call_duration_seconds%v has %d observations, want 1", labels, n)
		}
	}
}

// TestPprofEndpoints checks that /debug/pprof/ answers 404 unless
// --enable_pprof, and that Mesos' /profiler/* answer 501 pointing there.
func TestPprofEndpoints(t *testing.T) {
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, enabled := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[enabled], func(t *testing.T) { checkPprof(t, enabled, get) })
	}
}

// checkPprof is TestPprofEndpoints on an agent with --enable_pprof as
// enabled.
func checkPprof(t *testing.T, enabled bool, get func(*testing.T, string) (int, string)) {
	a := startAgent(t, newFakeMaster(t), func(c *Config) { c.EnablePprof = enabled })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	for p, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/heap?debug=1": "heap profile", "/debug/pprof/cmdline": ""} {
		code, body := get(t, srv.URL+p)
		switch {
		case !enabled && (code != http.StatusNotFound || !strings.Contains(body, "--enable_pprof")):
			t.Errorf("without --enable_pprof, %s: %d %q, want 404 naming the flag", p, code, body)
		case enabled && (code != http.StatusOK || !strings.Contains(body, want)):
			t.Errorf("with --enable_pprof, %s: %d, want 200 with %q", p, code, want)
		}
	}
	for _, p := range []string{"/profiler/start", "/profiler/stop"} {
		if code, body := get(t, srv.URL+p); code != http.StatusNotImplemented || !strings.Contains(body, "/debug/pprof/") {
			t.Errorf("%s: %d %q, want 501 naming /debug/pprof/", p, code, body)
		}
	}
}
