package offers

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/resources"
)

// TestTakeProperties places random needs on random offers of a role and
// checks, against plain resource arithmetic: what is taken was usable
// and is never handed out twice (taken plus left is what the offer had
// for the role), each match holds what its need asked for (the same
// amount of each name, ports included), a misfit leaves the pool as it
// was, and a need that the offer holds as given or all reserved to the
// role is never refused.
func TestTakeProperties(t *testing.T) {
	var fits, misfits, mixed int
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		offer := randomResources(rng, []string{"*", "web", "db"})
		o := offerOf(t, offer, "web")
		p := NewPool(o, "web")
		usable := p.Left()
		for r := range usable.All() {
			if r.IsReserved() && r.Role() != "web" {
				t.Fatalf("seed %d: pool of web holds %v", seed, r)
			}
		}
		var taken resources.Resources
		for range 4 {
			need := Need{Resources: mustRes(t, randomNeed(rng))}
			if rng.IntN(3) == 0 {
				need.Ports = []PortSpec{{}}
			}
			before := p.Left()
			m, mis, ok := p.Take(need)
			if !ok {
				if !p.Left().Equal(before) {
					t.Fatalf("seed %d: a misfit (%v) changed the pool", seed, mis)
				}
				want, _ := need.Resolve()
				reserved, err := want.PushReservation(resources.Reservation{Type: resources.ReservationStatic, Role: "web"})
				if len(need.Ports) == 0 && (before.Contains(want) || (err == nil && before.Contains(reserved))) {
					t.Fatalf("seed %d: %v refused (%v) though the pool %v holds it", seed, want, mis, before)
				}
				misfits++
				continue
			}
			got, err := resources.FromProto(m.Resources)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if !got.AllocatedTo("web").Equal(got) {
				t.Fatalf("seed %d: taken %v not allocated to web", seed, got)
			}
			got = got.Unallocate()
			want, _ := need.Resolve()
			wq, gq := want.Quantities(), got.Quantities()
			if len(need.Ports) > 0 {
				wq = wq.Add(mustRes(t, "ports:[1-1]").Quantities())
			}
			if !wq.Equal(gq) {
				t.Fatalf("seed %d: asked %v (ports %d), took %v", seed, want, len(need.Ports), got)
			}
			if !before.Contains(got) || !before.Subtract(got).Equal(p.Left()) {
				t.Fatalf("seed %d: took %v from %v, left %v", seed, got, before, p.Left())
			}
			taken = taken.Add(got)
			fits++
			if !got.Reserved("web").IsEmpty() && !got.Unreserved().IsEmpty() {
				mixed++
			}
		}
		if !taken.Add(p.Left()).Equal(usable) {
			t.Fatalf("seed %d: taken %v + left %v != usable %v", seed, taken, p.Left(), usable)
		}
	}
	t.Logf("%d needs taken (%d from reserved and unreserved together), %d misfits", fits, mixed, misfits)
	if fits < 200 || misfits < 200 || mixed < 30 {
		t.Errorf("the random cases miss a path: %d taken, %d mixed, %d misfits", fits, mixed, misfits)
	}
}

func mustRes(t *testing.T, text string) resources.Resources {
	t.Helper()
	r, err := resources.Parse(text, "*")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// randomResources is a text-form mix of cpus, mem, gpus, ports and a set,
// each reserved to one of roles ("*" is unreserved).
func randomResources(rng *rand.Rand, roles []string) string {
	var parts []string
	add := func(name, value string) {
		role := roles[rng.IntN(len(roles))]
		if role == "*" {
			parts = append(parts, name+":"+value)
		} else {
			parts = append(parts, fmt.Sprintf("%s(%s):%s", name, role, value))
		}
	}
	for _, name := range []string{"cpus", "mem", "gpus"} {
		for range 1 + rng.IntN(2) {
			add(name, fmt.Sprint(1+rng.IntN(4)))
		}
	}
	for range 1 + rng.IntN(2) {
		b := 31000 + uint64(rng.IntN(10))
		add("ports", fmt.Sprintf("[%d-%d]", b, b+uint64(rng.IntN(10))))
	}
	for range 1 + rng.IntN(2) {
		add("zones", "{a,"+[]string{"b", "c"}[rng.IntN(2)]+"}")
	}
	return strings.Join(parts, ";")
}

// randomNeed is a small request: one to three of cpus, mem, gpus, a port
// and a zone, mostly unreserved.
func randomNeed(rng *rand.Rand) string {
	var parts []string
	for range 1 + rng.IntN(3) {
		var p string
		switch rng.IntN(5) {
		case 0:
			p = fmt.Sprintf("cpus%%s:%d", 1+rng.IntN(3))
		case 1:
			p = fmt.Sprintf("mem%%s:%d", 1+rng.IntN(3))
		case 2:
			p = "gpus%s:1"
		case 3:
			b := 31000 + rng.IntN(20)
			p = fmt.Sprintf("ports%%s:[%d-%d]", b, b)
		default:
			p = "zones%s:{" + []string{"a", "b", "c"}[rng.IntN(3)] + "}"
		}
		role := ""
		if rng.IntN(5) == 0 {
			role = "(web)"
		}
		parts = append(parts, fmt.Sprintf(p, role))
	}
	return strings.Join(parts, ";")
}
