package allocator

import (
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// TestExcludes: a framework is never offered an agent its Excludes names
// for the role; answers are asked once per agent and asked again after
// UpdateFramework and after the agent is added again.
func TestExcludes(t *testing.T) {
	a := New(DefaultOptions())
	total, err := resources.Parse("cpus:2;mem:1024", "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		a.AddAgent(id, total)
	}
	excluded := map[string]bool{"s1": true, "s3": true}
	asked := map[string]int{}
	fw := Framework{Roles: []string{"r"}, Excludes: func(role, agentID string) bool {
		if role != "r" {
			t.Errorf("asked about role %q", role)
		}
		asked[agentID]++
		return excluded[agentID]
	}}
	a.AddFramework("f", fw)
	now := time.Unix(0, 0)
	offered := func() map[string]bool {
		out := map[string]bool{}
		for _, o := range a.Allocate(now) {
			out[o.AgentID] = true
			a.Recover(o.FrameworkID, o.AgentID, o.Role, o.Resources, 0, now)
		}
		return out
	}
	if got := offered(); len(got) != 1 || !got["s2"] {
		t.Fatalf("offered %v, want s2 only", got)
	}
	offered()
	if asked["s1"] != 1 || asked["s3"] != 1 {
		t.Errorf("asked %v, want each agent once", asked)
	}
	// The agent re-registers: asked again.
	excluded["s1"] = false
	a.AddAgent("s1", total)
	if got := offered(); !got["s1"] || got["s3"] {
		t.Fatalf("after s1 re-registered offered %v", got)
	}
	// New constraints: asked again about everything.
	excluded = map[string]bool{"s1": true, "s2": true}
	a.UpdateFramework("f", fw)
	if got := offered(); len(got) != 1 || !got["s3"] {
		t.Fatalf("after UpdateFramework offered %v, want s3", got)
	}
	// No Excludes: everything.
	a.UpdateFramework("f", Framework{Roles: []string{"r"}})
	if got := offered(); len(got) != 3 {
		t.Fatalf("without Excludes offered %v", got)
	}
}
