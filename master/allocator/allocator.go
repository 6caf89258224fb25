package allocator

import (
	"math"
	"sort"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// DefaultRefuse is how long declined resources are filtered when a
// framework gives no Filters (Mesos' Filters.refuse_seconds default).
const DefaultRefuse = 5 * time.Second

// MaxRefuse caps a filter's duration, as Mesos caps refuse_seconds.
const MaxRefuse = 365 * 24 * time.Hour

// RefuseDuration turns a Filters.refuse_seconds value into a filter
// duration the way Mesos does: unset or negative means DefaultRefuse, 0
// means no filter, more than MaxRefuse is clamped to MaxRefuse.
func RefuseDuration(seconds *float64) time.Duration {
	if seconds == nil {
		return DefaultRefuse
	}
	s := *seconds
	switch {
	case math.IsNaN(s) || s < 0:
		return DefaultRefuse
	case s == 0:
		return 0
	case s >= MaxRefuse.Seconds():
		return MaxRefuse
	}
	return time.Duration(s * float64(time.Second))
}

// Offer is one allocation decision: resources of one agent for one
// framework in one of its roles.
type Offer struct {
	// FrameworkID is the framework the resources are allocated to.
	FrameworkID string
	// AgentID is the agent the resources are on.
	AgentID string
	// Role is the framework's role the resources are allocated in.
	Role string
	// Resources are the allocated resources, without allocation info.
	Resources resources.Resources
}

// Allocator holds the allocation state; see the package doc. The zero
// value is not usable; call New.
type Allocator struct {
	agents     map[string]*agent
	frameworks map[string]*framework
	seq        uint64 // order in which frameworks were added
}

type agent struct {
	id     string
	total  resources.Resources
	active bool
	// allocated holds what each framework holds on this agent, by role.
	allocated map[string]map[string]resources.Resources
}

type framework struct {
	id         string
	seq        uint64
	roles      map[string]bool
	suppressed map[string]bool
	active     bool
	filters    []filter
}

type filter struct {
	agentID string
	role    string
	refused resources.Resources
	expires time.Time
}

// New returns an empty allocator.
func New() *Allocator {
	return &Allocator{agents: map[string]*agent{}, frameworks: map[string]*framework{}}
}

// AddAgent adds an agent with its total resources, active (offerable). An
// agent added again keeps its allocations and gets the new total.
func (a *Allocator) AddAgent(id string, total resources.Resources) {
	if ag, ok := a.agents[id]; ok {
		ag.total = total
		ag.active = true
		return
	}
	a.agents[id] = &agent{id: id, total: total, active: true, allocated: map[string]map[string]resources.Resources{}}
}

// RemoveAgent forgets an agent and every allocation on it.
func (a *Allocator) RemoveAgent(id string) {
	delete(a.agents, id)
	for _, f := range a.frameworks {
		f.dropFilters(func(fl filter) bool { return fl.agentID == id })
	}
}

// SetAgentActive stops (false) or resumes (true) offering an agent's
// resources, for example while it is disconnected.
func (a *Allocator) SetAgentActive(id string, active bool) {
	if ag, ok := a.agents[id]; ok {
		ag.active = active
	}
}

// AddFramework adds an active framework with its roles and the roles it
// subscribes suppressed. Adding a known framework updates it.
func (a *Allocator) AddFramework(id string, roles, suppressed []string) {
	f, ok := a.frameworks[id]
	if !ok {
		a.seq++
		f = &framework{id: id, seq: a.seq}
		a.frameworks[id] = f
	}
	f.active = true
	f.roles = set(roles)
	f.suppressed = set(suppressed)
}

// UpdateFramework replaces a framework's roles and suppressed roles.
// Resources it holds in roles it left stay allocated until recovered.
func (a *Allocator) UpdateFramework(id string, roles, suppressed []string) {
	if f, ok := a.frameworks[id]; ok {
		f.roles = set(roles)
		f.suppressed = set(suppressed)
	}
}

// SetFrameworkActive stops (false) or resumes (true) offers to a
// framework, for example while it is disconnected.
func (a *Allocator) SetFrameworkActive(id string, active bool) {
	if f, ok := a.frameworks[id]; ok {
		f.active = active
	}
}

// RemoveFramework forgets a framework and releases everything allocated
// to it.
func (a *Allocator) RemoveFramework(id string) {
	delete(a.frameworks, id)
	for _, ag := range a.agents {
		delete(ag.allocated, id)
	}
}

// Use records resources as allocated to a framework without offering them:
// tasks and executors an agent reports when it re-registers. Unknown
// agents are ignored.
func (a *Allocator) Use(frameworkID, agentID, role string, r resources.Resources) {
	ag, ok := a.agents[agentID]
	if !ok || r.IsEmpty() {
		return
	}
	byRole := ag.allocated[frameworkID]
	if byRole == nil {
		byRole = map[string]resources.Resources{}
		ag.allocated[frameworkID] = byRole
	}
	byRole[role] = byRole[role].Add(r)
}

// Recover returns resources a framework held on an agent in a role to the
// free pool. With refuse > 0 it also filters them for the framework until
// now+refuse (see the package doc). Resources not allocated are ignored.
func (a *Allocator) Recover(frameworkID, agentID, role string, r resources.Resources, refuse time.Duration, now time.Time) {
	ag, ok := a.agents[agentID]
	if !ok {
		return
	}
	if byRole := ag.allocated[frameworkID]; byRole != nil {
		held := byRole[role].Subtract(r)
		if held.IsEmpty() {
			delete(byRole, role)
		} else {
			byRole[role] = held
		}
		if len(byRole) == 0 {
			delete(ag.allocated, frameworkID)
		}
	}
	if refuse > 0 && !r.IsEmpty() {
		if f, ok := a.frameworks[frameworkID]; ok {
			f.filters = append(f.filters, filter{agentID: agentID, role: role, refused: r, expires: now.Add(refuse)})
		}
	}
}

// Revive removes a framework's filters for the given roles (all its roles
// when none are given) and stops suppressing them.
func (a *Allocator) Revive(frameworkID string, roles []string) {
	f, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	if len(roles) == 0 {
		f.filters = nil
		f.suppressed = map[string]bool{}
		return
	}
	rs := set(roles)
	f.dropFilters(func(fl filter) bool { return rs[fl.role] })
	for r := range rs {
		delete(f.suppressed, r)
	}
}

// Suppress stops offers to a framework for the given roles (all its roles
// when none are given) until Revive or UpdateFramework.
func (a *Allocator) Suppress(frameworkID string, roles []string) {
	f, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	if len(roles) == 0 {
		for r := range f.roles {
			f.suppressed[r] = true
		}
		return
	}
	for _, r := range roles {
		f.suppressed[r] = true
	}
}

// Allocated returns what a framework holds on an agent in a role.
func (a *Allocator) Allocated(frameworkID, agentID, role string) resources.Resources {
	if ag, ok := a.agents[agentID]; ok {
		return ag.allocated[frameworkID][role]
	}
	return resources.Resources{}
}

// Free returns an agent's resources not allocated to anyone.
func (a *Allocator) Free(agentID string) resources.Resources {
	if ag, ok := a.agents[agentID]; ok {
		return ag.free()
	}
	return resources.Resources{}
}

// Allocate hands out free resources (see the package doc) and returns the
// offers, ordered by agent id and then in fairness order. The offered
// resources are allocated from then on.
func (a *Allocator) Allocate(now time.Time) []Offer {
	for _, f := range a.frameworks {
		f.dropFilters(func(fl filter) bool { return !now.Before(fl.expires) })
	}
	total := a.clusterTotal()
	agentIDs := make([]string, 0, len(a.agents))
	for id := range a.agents {
		agentIDs = append(agentIDs, id)
	}
	sort.Strings(agentIDs)
	var offers []Offer
	for _, id := range agentIDs {
		ag := a.agents[id]
		if !ag.active {
			continue
		}
		for _, role := range a.rolesByShare(total) {
			for _, f := range a.frameworksByShare(role, total) {
				if !f.active || f.suppressed[role] {
					continue
				}
				avail := ag.free().AllocatableTo(role)
				if !minAllocatable(avail) {
					break // nothing left for this role on this agent
				}
				if f.filtered(id, role, avail) {
					continue
				}
				a.Use(f.id, id, role, avail)
				offers = append(offers, Offer{FrameworkID: f.id, AgentID: id, Role: role, Resources: avail})
			}
		}
	}
	return offers
}

// free is the agent's total minus every allocation on it.
func (ag *agent) free() resources.Resources {
	free := ag.total
	for _, byRole := range ag.allocated {
		for _, r := range byRole {
			free = free.Subtract(r)
		}
	}
	return free
}

func (a *Allocator) clusterTotal() map[string]float64 {
	total := map[string]float64{}
	for _, ag := range a.agents {
		for name, v := range quantities(ag.total) {
			total[name] += v
		}
	}
	return total
}

// share is the dominant share of allocated in a cluster of total.
func share(allocated, total map[string]float64) float64 {
	s := 0.0
	for name, v := range allocated {
		if t := total[name]; t > 0 && v/t > s {
			s = v / t
		}
	}
	return s
}

// rolesByShare returns every role some active framework subscribes to,
// lowest dominant share first.
func (a *Allocator) rolesByShare(total map[string]float64) []string {
	alloc := map[string]map[string]float64{}
	for _, f := range a.frameworks {
		if !f.active {
			continue
		}
		for r := range f.roles {
			if alloc[r] == nil {
				alloc[r] = map[string]float64{}
			}
		}
	}
	for _, ag := range a.agents {
		for _, byRole := range ag.allocated {
			for role, r := range byRole {
				if q := alloc[role]; q != nil {
					for name, v := range quantities(r) {
						q[name] += v
					}
				}
			}
		}
	}
	roles := make([]string, 0, len(alloc))
	shares := map[string]float64{}
	for r, q := range alloc {
		roles = append(roles, r)
		shares[r] = share(q, total)
	}
	sort.Slice(roles, func(i, j int) bool {
		if shares[roles[i]] != shares[roles[j]] {
			return shares[roles[i]] < shares[roles[j]]
		}
		return roles[i] < roles[j]
	})
	return roles
}

// frameworksByShare returns the frameworks subscribed to role, lowest
// dominant share within the role first.
func (a *Allocator) frameworksByShare(role string, total map[string]float64) []*framework {
	var fws []*framework
	shares := map[string]float64{}
	for _, f := range a.frameworks {
		if !f.roles[role] {
			continue
		}
		q := map[string]float64{}
		for _, ag := range a.agents {
			for name, v := range quantities(ag.allocated[f.id][role]) {
				q[name] += v
			}
		}
		fws = append(fws, f)
		shares[f.id] = share(q, total)
	}
	sort.Slice(fws, func(i, j int) bool {
		if shares[fws[i].id] != shares[fws[j].id] {
			return shares[fws[i].id] < shares[fws[j].id]
		}
		return fws[i].seq < fws[j].seq
	})
	return fws
}

func (f *framework) filtered(agentID, role string, r resources.Resources) bool {
	for _, fl := range f.filters {
		if fl.agentID == agentID && fl.role == role && fl.refused.Contains(r) {
			return true
		}
	}
	return false
}

func (f *framework) dropFilters(drop func(filter) bool) {
	kept := f.filters[:0]
	for _, fl := range f.filters {
		if !drop(fl) {
			kept = append(kept, fl)
		}
	}
	f.filters = kept
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// minAllocatable reports whether r reaches Mesos' default minimum
// allocatable resources: 0.01 cpus or 32 MB of memory.
func minAllocatable(r resources.Resources) bool {
	q := quantities(r)
	return q["cpus"] >= 0.01 || q["mem"] >= 32
}

// quantities returns r's scalar amounts by name, as floats for shares.
func quantities(r resources.Resources) map[string]float64 {
	q := map[string]float64{}
	for name, v := range r.ScalarQuantities().All() {
		q[name] = v.Float()
	}
	return q
}
