package master

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/logging"
)

// Without --hostname the master advertises the host's name, or its IP
// address with --hostname_lookup=false (--no-hostname_lookup), as Mesos.
func TestHostnameLookup(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("the host's name is unknown: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, host},
		{[]string{"--hostname_lookup=false"}, "127.0.0.1"},
		{[]string{"--hostname_lookup=false", "--hostname=m1"}, "m1"},
	} {
		cfg := DefaultConfig()
		fs := flag.NewFlagSet("master", flag.ContinueOnError)
		cfg.AddFlags(fs)
		if err := fs.Parse(append([]string{"--ip=127.0.0.1"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		info, err := masterInfo(cfg, "M")
		if err != nil {
			t.Fatal(err)
		}
		if info.GetHostname() != c.want {
			t.Errorf("%v: hostname %q, want %q", c.args, info.GetHostname(), c.want)
		}
	}
}

// --max_unreachable_tasks_per_framework bounds the tasks a framework keeps
// from unreachable agents; the longest-kept ones are forgotten first.
func TestUnreachableTasksBounded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxUnreachableTasksPerFramework = 2 })
	f := h.subscribe(&mesos.FrameworkInfo{Capabilities: partitionAware})
	for i, id := range []string{"t1", "t2", "t3"} {
		a := h.addAgent(fmt.Sprintf("a%d", i), "cpus:1;mem:128")
		h.mustCall(f, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
		var offer *mesos.Offer
		for _, o := range f.offers() {
			if o.GetAgentId().GetValue() == a.id {
				offer = o
			}
		}
		if offer == nil {
			t.Fatalf("no offer from %s", a.id)
		}
		h.mustCall(f, acceptCall([]string{offer.GetId().GetValue()}, launch(commandTask(t, id, a.id, "cpus:1;mem:128"))))
		h.step(func(c *core) { c.markUnreachable(c.agents[a.id], "test", removalCause(0)) })
	}
	got := sortedKeys(h.c.frameworks[f.id].unreachableTasks)
	if len(got) != 2 || got[0] != "t2" || got[1] != "t3" {
		t.Errorf("unreachable tasks %v, want [t2 t3]", got)
	}
}

// --no-root_submissions refuses root's frameworks; --no-publish_per_framework_metrics
// leaves out the per-framework metrics; the allocator flags take Mezzo's
// one allocator and sorter only.
func TestRootSubmissionsAndFrameworkMetrics(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RootSubmissions, c.PublishPerFrameworkMetrics = false, false })
	root := &recFramework{streamID: "s-root"}
	h.step(func(c *core) {
		root.id = c.subscribe(root, root.streamID, &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("r")}})
	})
	errs := root.take(schedpb.Event_ERROR)
	if root.id != "" || len(errs) != 1 || !strings.Contains(errs[0].GetError().GetMessage(), "--root_submissions") || !root.closed {
		t.Errorf("root's subscription: id %q, errors %v, closed %v", root.id, errs, root.closed)
	}
	f := h.subscribe(nil) // user "tester"
	for name := range h.c.metricsSnapshot() {
		if strings.HasPrefix(name, "master/frameworks/") {
			t.Fatalf("per-framework metric %s published", name)
		}
	}
	if f.id == "" {
		t.Fatal("a non-root framework was refused")
	}

	for _, args := range [][]string{{"--allocator=random"}, {"--framework_sorter=random"}, {"--role_sorter=random"}} {
		cfg := DefaultConfig()
		cfg.Registry = "in_memory"
		fs := flag.NewFlagSet("master", flag.ContinueOnError)
		cfg.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "only") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// GET_LOGGING_LEVEL and SET_LOGGING_LEVEL read and raise the verbosity
// /logging/toggle also serves.
func TestOperatorLoggingLevel(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "localhost", "127.0.0.1", "in_memory"
	cfg.Verbosity = logging.New(slog.LevelInfo)
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() { m.Close(); srv.Close() })
	get := func() string {
		t.Helper()
		_, body := operatorCall(t, srv.URL, `{"type":"GET_LOGGING_LEVEL"}`)
		return body
	}
	if body := get(); !strings.Contains(body, `"level":0`) {
		t.Errorf("GET_LOGGING_LEVEL: %s", body)
	}
	if code, body := operatorCall(t, srv.URL, `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":60000000000}}}`); code != 200 {
		t.Fatalf("SET_LOGGING_LEVEL: %d %s", code, body)
	}
	if body := get(); !strings.Contains(body, `"level":1`) {
		t.Errorf("GET_LOGGING_LEVEL after SET: %s", body)
	}
	if code, _ := operatorCall(t, srv.URL, `{"type":"SET_LOGGING_LEVEL"}`); code != 400 {
		t.Errorf("SET_LOGGING_LEVEL without its message: %d", code)
	}
	resp, err := http.Get(srv.URL + "/logging/toggle")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "1\n" {
		t.Errorf("/logging/toggle: %q", b)
	}
	m.cfg.Verbosity.Set(0, 0)
}

// TestLoggingLevelRefusesNegativeDuration: SET_LOGGING_LEVEL and
// /logging/toggle with a negative duration answer 400 naming the duration
// (they answered 200 and changed nothing), and leave the verbosity alone.
func TestLoggingLevelRefusesNegativeDuration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "localhost", "127.0.0.1", "in_memory"
	cfg.Verbosity = logging.New(slog.LevelInfo)
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() { m.Close(); srv.Close() })
	code, body := operatorCall(t, srv.URL, `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":-1000000000}}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "duration") || !strings.Contains(body, "negative") {
		t.Errorf("SET_LOGGING_LEVEL with a negative duration: %d %s", code, body)
	}
	resp, err := http.Get(srv.URL + "/logging/toggle?level=1&duration=-1secs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "-1secs") || !strings.Contains(string(b), "negative") {
		t.Errorf("/logging/toggle with a negative duration: %d %s", resp.StatusCode, b)
	}
	if v := m.cfg.Verbosity.Get(); v != 0 {
		t.Errorf("verbosity %d after refused changes", v)
	}
	resp, err = http.Get(srv.URL + "/logging/toggle?level=1&duration=0secs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/logging/toggle with duration 0: %d", resp.StatusCode)
	}
	m.cfg.Verbosity.Set(0, 0)
}
