package master

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
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
