package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// The grid of BenchmarkAllocate and BenchmarkDeclineOffers (Mesos'
// HierarchicalAllocator_BENCHMARK_Test sizes, up to 50,000 agents).
var (
	benchAgents     = []int{1000, 10000, 20000, 50000}
	benchFrameworks = []int{10, 100, 1000, 2000}
)

// benchAgentResources are the resources of every benchmark agent, as in
// Mesos' DeclineOffers benchmark.
const benchAgentResources = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"

// newBenchAllocator builds an allocator with agents agents and frameworks
// frameworks, spread over roles (role "r<i%roles>"; roles == 0 puts them
// all in "*").
func newBenchAllocator(b *testing.B, agents, frameworks, roles int) *Allocator {
	b.Helper()
	total, err := resources.Parse(benchAgentResources, "*")
	if err != nil {
		b.Fatal(err)
	}
	a := New(DefaultOptions())
	for i := range frameworks {
		role := "*"
		if roles > 0 {
			role = fmt.Sprintf("r%d", i%roles)
		}
		a.AddFramework(fmt.Sprintf("f%05d", i), Framework{Roles: []string{role}})
	}
	for i := range agents {
		a.AddAgent(fmt.Sprintf("a%06d", i), total)
	}
	return a
}

// BenchmarkAllocate measures one full allocation cycle in which every
// agent is free and goes to some framework: the work of the first cycle
// after agents join, and the upper bound of every later cycle. Setup and
// the recovery of the offers between cycles are outside the timer.
func BenchmarkAllocate(b *testing.B) {
	for _, na := range benchAgents {
		for _, nf := range benchFrameworks {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", na, nf), func(b *testing.B) {
				a := newBenchAllocator(b, na, nf, 0)
				now := time.Unix(0, 0)
				recoverAll(a, a.Allocate(now), now) // warm up: shares settle
				b.ResetTimer()
				for range b.N {
					offers := a.Allocate(now)
					b.StopTimer()
					if len(offers) != na {
						b.Fatalf("cycle made %d offers, want one per agent (%d)", len(offers), na)
					}
					recoverAll(a, offers, now)
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkAllocateRoles is BenchmarkAllocate with the frameworks spread
// over 100 roles under two levels ("g<i>/r<j>"), each role weighted, so
// that the hierarchical role sort does work too.
func BenchmarkAllocateRoles(b *testing.B) {
	for _, na := range []int{20000, 50000} {
		for _, nf := range []int{1000, 2000} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", na, nf), func(b *testing.B) {
				total, _ := resources.Parse(benchAgentResources, "*")
				a := New(DefaultOptions())
				for i := range nf {
					role := fmt.Sprintf("g%d/r%d", i%10, i%100)
					a.AddFramework(fmt.Sprintf("f%05d", i), Framework{Roles: []string{role}})
				}
				for i := range 100 {
					a.SetWeight(fmt.Sprintf("g%d/r%d", i%10, i), float64(1+i%3))
				}
				for i := range na {
					a.AddAgent(fmt.Sprintf("a%06d", i), total)
				}
				now := time.Unix(0, 0)
				recoverAll(a, a.Allocate(now), now)
				b.ResetTimer()
				for range b.N {
					offers := a.Allocate(now)
					b.StopTimer()
					if len(offers) != na {
						b.Fatalf("cycle made %d offers, want %d", len(offers), na)
					}
					recoverAll(a, offers, now)
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkDeclineOffers follows Mesos' DeclineOffers benchmark: each
// agent has part of its resources used by one framework; every offer is
// declined with a filter that never expires, and each timed cycle offers
// the agents to frameworks not yet filtered there. The benchmark runs
// declineWarmRounds rounds first (untimed), so every timed cycle walks
// past that many live filters on every agent before it finds a framework
// to offer to.
func BenchmarkDeclineOffers(b *testing.B) {
	for _, na := range benchAgents {
		for _, nf := range []int{100, 1000} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", na, nf), func(b *testing.B) {
				a := newBenchAllocator(b, 0, nf, 0)
				total, _ := resources.Parse(benchAgentResources, "*")
				used, _ := resources.Parse("cpus:16;mem:2014;disk:1024;ports:[31000-31015]", "*")
				for i := range na {
					id := fmt.Sprintf("a%06d", i)
					a.AddAgent(id, total)
					a.Use(fmt.Sprintf("f%05d", i%nf), id, "*", used)
				}
				now := time.Unix(0, 0)
				decline := func(offers []Offer) {
					for _, o := range offers {
						a.Recover(o.FrameworkID, o.AgentID, o.Role, o.Resources, MaxRefuse, now)
					}
				}
				for range declineWarmRounds {
					decline(a.Allocate(now))
				}
				b.ResetTimer()
				made := 0
				for range b.N {
					offers := a.Allocate(now)
					b.StopTimer()
					made += len(offers)
					decline(offers)
					b.StartTimer()
				}
				if made == 0 {
					b.Fatal("no offers made")
				}
			})
		}
	}
}

// declineWarmRounds is how many decline rounds BenchmarkDeclineOffers runs
// before it measures.
const declineWarmRounds = 10

func recoverAll(a *Allocator, offers []Offer, now time.Time) {
	for _, o := range offers {
		a.Recover(o.FrameworkID, o.AgentID, o.Role, o.Resources, 0, now)
	}
}
