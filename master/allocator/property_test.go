package allocator

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// TestSafetyProperties drives the allocator with random event sequences
// and checks its offers against a simple reference model (what the test
// itself knows is held by whom):
//
//   - never offer the same resources twice: everything held on an agent
//     (offered or in use) fits in the agent's total;
//   - offered plus allocated never exceeds the agent's total;
//   - quota limits are never exceeded by unreserved allocations;
//   - reserved resources are offered only to their role or its subroles.
func TestSafetyProperties(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { propertyRun(t, seed) })
	}
}

func propertyRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	a := New(DefaultOptions())
	parse := func(s string) resources.Resources {
		r, err := resources.Parse(s, "*")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	roles := []string{"*", "a", "a/b", "c"}
	totals := map[string]resources.Resources{}
	agentRes := []string{
		"cpus:4;mem:4096;ports:[31000-31010]",
		"cpus:2;mem:1024;cpus(a):2;mem(a):512",
		"cpus:8;mem:2048;disk(c):100",
		"cpus(a/b):1;mem:512",
	}
	for i := range 6 {
		id := fmt.Sprintf("s%d", i)
		totals[id] = parse(agentRes[i%len(agentRes)])
		a.AddAgent(id, totals[id])
	}
	limits := map[string]resources.Scalar{"c": 5 * resources.Unit, "a": 7 * resources.Unit}
	a.SetQuota("c", Quota{Limits: map[string]resources.Scalar{"cpus": limits["c"]}})
	a.SetQuota("a", Quota{Guarantees: map[string]resources.Scalar{"cpus": 2 * resources.Unit}, Limits: map[string]resources.Scalar{"cpus": limits["a"]}})
	var fws []string
	for i := range 5 {
		id := fmt.Sprintf("f%d", i)
		rs := []string{roles[i%len(roles)]}
		if i == 4 {
			rs = []string{"a/b", "c"}
		}
		a.AddFramework(id, Framework{Roles: rs})
		fws = append(fws, id)
	}
	type hold struct {
		fw, agent, role string
		r               resources.Resources
	}
	var held []hold
	now := time.Unix(0, 0)
	for step := range 300 {
		now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		switch op := rng.IntN(10); {
		case op < 4:
			for _, o := range a.Allocate(now) {
				for r := range o.Resources.All() {
					if !r.IsAllocatableTo(o.Role) {
						t.Fatalf("step %d: %v offered to role %s", step, r, o.Role)
					}
				}
				held = append(held, hold{o.FrameworkID, o.AgentID, o.Role, o.Resources})
			}
		case op < 6 && len(held) > 0:
			i := rng.IntN(len(held))
			h := held[i]
			part := h.r
			if rng.IntN(2) == 0 {
				part = h.r.Scalars().Filter(func(r *resources.Resource) bool { return r.Name == "cpus" })
			}
			if rng.IntN(2) == 0 {
				a.Decline(h.fw, h.agent, h.role, part, time.Duration(rng.IntN(5))*time.Second, now)
			} else {
				a.Recover(h.fw, h.agent, h.role, part, 0, now)
			}
			held[i].r = h.r.Subtract(part)
		case op == 6:
			a.Revive(fws[rng.IntN(len(fws))], nil)
		case op == 7:
			a.Suppress(fws[rng.IntN(len(fws))], nil)
		case op == 8:
			fw := fws[rng.IntN(len(fws))]
			a.Launched(fw, "*")
		default:
			a.SetWeight(roles[1+rng.IntN(3)], float64(1+rng.IntN(4)))
		}
		// Reference checks.
		perAgent := map[string]resources.Resources{}
		unresByRole := map[string]resources.Scalar{}
		for _, h := range held {
			perAgent[h.agent] = perAgent[h.agent].Add(h.r)
			for _, top := range []string{"a", "c"} {
				if h.role == top || resources.IsStrictSubrole(h.role, top) {
					unresByRole[top] += h.r.Unreserved().ScalarOf("cpus")
				}
			}
		}
		for id, sum := range perAgent {
			if !totals[id].Contains(sum) {
				t.Fatalf("step %d: agent %s holds %v beyond its total %v", step, id, sum, totals[id])
			}
			if !sum.Add(a.Free(id)).Equal(totals[id]) {
				t.Fatalf("step %d: agent %s: held %v + free %v != total %v", step, id, sum, a.Free(id), totals[id])
			}
		}
		for role, l := range limits {
			if unresByRole[role] > l {
				t.Fatalf("step %d: role %s holds %v unreserved cpus, limit %v", step, role, unresByRole[role], l)
			}
		}
	}
}
