package allocator

import "time"

// RoleStat is one role's figures for the master's allocator/mesos/*
// metrics. The master reads them on its own goroutine, at snapshot time.
type RoleStat struct {
	// Role is the role's name.
	Role string
	// Tracked is set while some framework is subscribed to the role or
	// still holds resources in it: the roles Mesos' role sorter has as
	// clients, which are the ones with a dominant share gauge.
	Tracked bool
	// Share is the dominant share of what the role's own frameworks hold
	// (offered or allocated), divided by the role's weight, as Mesos' DRF
	// sorter computes it for allocator/mesos/roles/<role>/shares/dominant.
	Share float64
	// Filters is the number of offer filters (declines with a refusal
	// time) frameworks hold in the role that have not expired.
	Filters int
}

// ScalarTotal returns the cluster's total of scalar resource name (every
// agent the allocator knows, active or not) and how much of it is offered
// or allocated. Both are 0 for a name no agent has.
func (a *Allocator) ScalarTotal(name string) (total, offeredOrAllocated float64) {
	i, ok := a.names[name]
	if !ok {
		return 0, 0
	}
	total = a.total.get(i).Float()
	for _, n := range a.root.kids {
		offeredOrAllocated += n.alloc.get(i).Float()
	}
	return total, offeredOrAllocated
}

// RoleStats returns the figures of every role the allocator knows (see
// RoleNames), sorted by role, at time now (filters expired by now do not
// count; the allocator drops them lazily).
func (a *Allocator) RoleStats(now time.Time) []RoleStat {
	names := a.RoleNames()
	out := make([]RoleStat, len(names))
	index := make(map[string]int, len(names))
	for i, name := range names {
		n := a.roles[name]
		out[i].Role = name
		index[name] = i
		if l, ok := n.kids["."]; ok && len(l.clients.items) > 0 {
			out[i].Tracked = true
			out[i].Share = a.share(l.alloc, n.weight)
		}
	}
	for _, f := range a.frameworks {
		for role, c := range f.clients {
			i, ok := index[role]
			if !ok {
				continue
			}
			for ag := range c.filtered {
				if now.Before(ag.filters[c].expires) {
					out[i].Filters++
				}
			}
		}
	}
	return out
}
