package allocator

import (
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func res(t *testing.T, s string) resources.Resources {
	t.Helper()
	r, err := resources.Parse(s, "*")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDRFOrder(t *testing.T) {
	a := New()
	a.AddFramework("f1", []string{"*"}, nil)
	a.AddFramework("f2", []string{"*"}, nil)
	// f1 already holds a large share; the next agent goes to f2.
	a.AddAgent("s1", res(t, "cpus:4;mem:4096"))
	a.Use("f1", "s1", "*", res(t, "cpus:3;mem:1024"))
	a.AddAgent("s2", res(t, "cpus:4;mem:4096"))
	offers := a.Allocate(t0)
	if len(offers) != 2 {
		t.Fatalf("got %d offers: %+v", len(offers), offers)
	}
	// s1 (sorted first): f2 has share 0 < f1's 3/8 => f2. Then s2: f2 now
	// holds s1's rest (1 cpu, 3072 mem = 3/8 of mem), f1 holds 3/8 cpus;
	// equal shares go to the framework added first: f1.
	if offers[0].AgentID != "s1" || offers[0].FrameworkID != "f2" {
		t.Errorf("first offer %+v, want s1 to f2", offers[0])
	}
	if offers[1].AgentID != "s2" || offers[1].FrameworkID != "f1" {
		t.Errorf("second offer %+v, want s2 to f1", offers[1])
	}
	// Everything is allocated now: nothing more to offer.
	if more := a.Allocate(t0); len(more) != 0 {
		t.Errorf("offered allocated resources again: %+v", more)
	}
}

func TestRolesAreServedByShare(t *testing.T) {
	a := New()
	a.AddFramework("big", []string{"a"}, nil)
	a.AddFramework("small", []string{"b"}, nil)
	a.AddAgent("s0", res(t, "cpus:10;mem:10240"))
	a.Use("big", "s0", "a", res(t, "cpus:5;mem:5120"))
	a.AddAgent("s1", res(t, "cpus:1;mem:1024"))
	offers := a.Allocate(t0)
	if len(offers) != 2 || offers[0].FrameworkID != "small" || offers[0].Role != "b" {
		t.Fatalf("offers %+v, want role b's framework first", offers)
	}
}

func TestFilters(t *testing.T) {
	a := New()
	a.AddFramework("f", []string{"*"}, nil)
	a.AddAgent("s", res(t, "cpus:2;mem:1024"))
	o := a.Allocate(t0)
	if len(o) != 1 {
		t.Fatal("no offer")
	}
	a.Recover("f", "s", "*", o[0].Resources, 10*time.Second, t0)
	if got := a.Allocate(t0.Add(9 * time.Second)); len(got) != 0 {
		t.Fatalf("filtered resources offered: %+v", got)
	}
	if got := a.Allocate(t0.Add(10 * time.Second)); len(got) != 1 {
		t.Fatalf("filter did not expire: %+v", got)
	}

	// A filter only holds back what was refused: more resources lift it.
	a.Recover("f", "s", "*", res(t, "cpus:1;mem:512"), time.Hour, t0)
	if got := a.Allocate(t0); len(got) != 0 {
		t.Fatalf("refused half offered: %+v", got)
	}
	a.Recover("f", "s", "*", res(t, "cpus:1;mem:512"), 0, t0)
	if got := a.Allocate(t0); len(got) != 1 {
		t.Fatalf("more than refused not offered: %+v", got)
	}
}

func TestSuppressRevive(t *testing.T) {
	a := New()
	a.AddFramework("f", []string{"x", "y"}, []string{"y"})
	a.AddAgent("s", res(t, "cpus:2;mem:1024"))
	o := a.Allocate(t0)
	if len(o) != 1 || o[0].Role != "x" {
		t.Fatalf("offers %+v, want one for role x", o)
	}
	a.Recover("f", "s", "x", o[0].Resources, time.Hour, t0)
	a.Suppress("f", nil)
	if got := a.Allocate(t0); len(got) != 0 {
		t.Fatalf("suppressed framework offered %+v", got)
	}
	a.Revive("f", []string{"y"})
	got := a.Allocate(t0)
	if len(got) != 1 || got[0].Role != "y" {
		t.Fatalf("after REVIVE y: %+v", got)
	}
	a.Recover("f", "s", "y", got[0].Resources, 0, t0)
	a.Revive("f", nil)
	if got := a.Allocate(t0); len(got) != 1 {
		t.Fatalf("after REVIVE of all roles: %+v", got)
	}
}

func TestInactiveAndRemoved(t *testing.T) {
	a := New()
	a.AddFramework("f", []string{"*"}, nil)
	a.AddAgent("s", res(t, "cpus:2;mem:1024"))
	a.SetFrameworkActive("f", false)
	if got := a.Allocate(t0); len(got) != 0 {
		t.Fatal("inactive framework offered")
	}
	a.SetFrameworkActive("f", true)
	a.SetAgentActive("s", false)
	if got := a.Allocate(t0); len(got) != 0 {
		t.Fatal("inactive agent offered")
	}
	a.SetAgentActive("s", true)
	if got := a.Allocate(t0); len(got) != 1 {
		t.Fatal("no offer")
	}
	a.RemoveFramework("f")
	if !a.Free("s").Equal(res(t, "cpus:2;mem:1024")) {
		t.Fatalf("removing the framework did not free its allocation: %v", a.Free("s"))
	}
}

func TestReservedResourcesGoToTheirRole(t *testing.T) {
	a := New()
	a.AddFramework("web", []string{"web"}, nil)
	a.AddFramework("other", []string{"other"}, nil)
	a.AddAgent("s", res(t, "cpus(web):1;mem(web):512"))
	o := a.Allocate(t0)
	if len(o) != 1 || o[0].FrameworkID != "web" {
		t.Fatalf("offers %+v, want the reservation offered to web only", o)
	}
}

func TestRefuseDuration(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		in   *float64
		want time.Duration
	}{
		{nil, 5 * time.Second}, {f(-1), 5 * time.Second}, {f(0), 0}, {f(2.5), 2500 * time.Millisecond}, {f(1e12), MaxRefuse},
	} {
		if got := RefuseDuration(tc.in); got != tc.want {
			t.Errorf("RefuseDuration(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestNeverOverAllocates checks the safety property: across random
// operations, offers never exceed an agent's free resources and an agent's
// allocations never exceed its total.
func TestNeverOverAllocates(t *testing.T) {
	a := New()
	total := res(t, "cpus:4;mem:4096")
	for _, s := range []string{"s0", "s1", "s2"} {
		a.AddAgent(s, total)
	}
	for _, f := range []string{"f0", "f1", "f2", "f3"} {
		a.AddFramework(f, []string{"*"}, nil)
	}
	now := t0
	held := map[[2]string]resources.Resources{}
	for i := 0; i < 200; i++ {
		now = now.Add(time.Second)
		for _, o := range a.Allocate(now) {
			k := [2]string{o.FrameworkID, o.AgentID}
			held[k] = held[k].Add(o.Resources)
		}
		for _, s := range []string{"s0", "s1", "s2"} {
			var sum resources.Resources
			for k, r := range held {
				if k[1] == s {
					sum = sum.Add(r)
				}
			}
			if !total.Contains(sum) {
				t.Fatalf("step %d: agent %s allocated %v beyond its total %v", i, s, sum, total)
			}
		}
		// Give back half of something now and then.
		if i%3 == 0 {
			for k, r := range held {
				back := res(t, "cpus:0.5;mem:256")
				if r.Contains(back) {
					a.Recover(k[0], k[1], "*", back, time.Duration(i%7)*time.Second, now)
					held[k] = r.Subtract(back)
					break
				}
			}
		}
	}
}
