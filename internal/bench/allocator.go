package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/resources"
)

// AllocatorOptions is the in-process allocation cycle: Agents free
// agents offered to Frameworks frameworks, Cycles times.
type AllocatorOptions struct {
	Agents, Frameworks, Cycles int
	// Roles spreads the frameworks over that many roles (0: all in "*").
	Roles int
}

// Allocator times full allocation cycles of the master's allocator, in
// this process: each cycle offers every agent to some framework, then
// the offers are declined (outside the timing) so the next cycle has the
// same work.
func Allocator(ctx context.Context, e Env, o AllocatorOptions) (*Result, error) {
	r := newResult("allocator", map[string]any{"agents": o.Agents, "frameworks": o.Frameworks,
		"roles": o.Roles, "cycles": o.Cycles, "agent_resources": e.AgentResources})
	total, err := resources.Parse(e.AgentResources, "*")
	if err != nil {
		return nil, fmt.Errorf("bench: agent resources: %w", err)
	}
	a := allocator.New(allocator.DefaultOptions())
	for i := range o.Frameworks {
		role := "*"
		if o.Roles > 0 {
			role = fmt.Sprintf("r%d", i%o.Roles)
		}
		a.AddFramework(fmt.Sprintf("f%05d", i), allocator.Framework{Roles: []string{role}})
	}
	start := time.Now()
	for i := range o.Agents {
		a.AddAgent(fmt.Sprintf("a%06d", i), total)
	}
	r.Figures["add_agents_s"] = time.Since(start).Seconds()
	now := time.Unix(0, 0)
	decline := func(offers []allocator.Offer) {
		for _, of := range offers {
			a.Recover(of.FrameworkID, of.AgentID, of.Role, of.Resources, 0, now)
		}
	}
	decline(a.Allocate(now)) // warm up: shares settle
	var cycles []time.Duration
	var cpu time.Duration
	for range o.Cycles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u0, err := ProcUsage(os.Getpid())
		if err != nil {
			return nil, err
		}
		start := time.Now()
		offers := a.Allocate(now)
		cycles = append(cycles, time.Since(start))
		u1, err := ProcUsage(os.Getpid())
		if err != nil {
			return nil, err
		}
		cpu += u1.CPU - u0.CPU
		if len(offers) != o.Agents {
			return nil, fmt.Errorf("bench: a cycle made %d offers, want one per agent (%d)", len(offers), o.Agents)
		}
		decline(offers)
	}
	d := distOf(cycles)
	r.Figures["cycle_s"] = d
	r.Figures["cycle_mean_s"] = d.Mean
	r.Figures["cycle_p99_s"] = d.P99
	// CPU time (all of the process' threads, the garbage collector's
	// included) per cycle: on a busy machine the wall time includes
	// waiting for a core.
	r.Figures["cycle_cpu_s"] = cpu.Seconds() / float64(o.Cycles)
	r.summarize("agents", "frameworks", "cycle_mean_s", "cycle_p99_s", "cycle_cpu_s")
	return r, nil
}

// scalarOf returns the named scalar of a resource string.
func scalarOf(text, name string) (float64, error) {
	rs, err := resources.Parse(text, "*")
	if err != nil {
		return 0, fmt.Errorf("bench: resources %q: %w", text, err)
	}
	v := rs.Quantities().Get(name).Float()
	if v <= 0 {
		return 0, fmt.Errorf("bench: resources %q have no %s", text, name)
	}
	return v, nil
}
