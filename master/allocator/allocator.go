package allocator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// DefaultRefuse is how long declined resources are filtered when a
// framework gives no Filters (Mesos' Filters.refuse_seconds default).
const DefaultRefuse = 5 * time.Second

// MaxRefuse caps a filter's duration, as Mesos caps refuse_seconds.
const MaxRefuse = 365 * 24 * time.Hour

// MaxBackoffShift bounds the decline backoff: the n-th decline in a row
// filters for refuse × 2^min(n-1, MaxBackoffShift) (see the README).
const MaxBackoffShift = 4

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

// Capabilities are the framework capabilities that change what the
// allocator may offer it (mesos.v1.FrameworkInfo.Capability).
type Capabilities struct {
	// GPU (GPU_RESOURCES): only such frameworks are offered agents that
	// have GPUs, so GPU machines are not filled with CPU-only work.
	GPU bool
	// Revocable (REVOCABLE_RESOURCES): only such frameworks are offered
	// revocable resources.
	Revocable bool
	// Shared (SHARED_RESOURCES): only such frameworks are offered shared
	// persistent volumes.
	Shared bool
	// Refinement (RESERVATION_REFINEMENT): only such frameworks are
	// offered resources with refined (hierarchical) reservations.
	Refinement bool
}

// Framework describes a framework to AddFramework and UpdateFramework.
type Framework struct {
	// Roles are the roles the framework subscribes to (one unless
	// MULTI_ROLE).
	Roles []string
	// Suppressed are roles, among Roles, for which it wants no offers.
	Suppressed []string
	// Capabilities select the resources it may be offered.
	Capabilities Capabilities
	// MinAllocatable overrides, per role, the minimum an offer must
	// reach (FrameworkInfo.offer_filters.min_allocatable_resources): one
	// of the quantity sets must be contained. A role absent here uses the
	// allocator's Options.MinAllocatable.
	MinAllocatable map[string][]resources.Quantities
	// Excludes, when set, reports whether the framework's offer
	// constraints keep an agent out of its offers in a role. The allocator
	// calls it on the goroutine that calls the allocator and remembers each
	// answer until the next UpdateFramework or until the agent is added
	// again, so it must depend only on the role and the agent's
	// (pseudo)attributes.
	Excludes func(role, agentID string) bool
}

// Options configure an Allocator.
type Options struct {
	// MinAllocatable is --min_allocatable_resources: an offer must
	// contain at least one of these quantity sets. Nil means Mesos'
	// default, cpus:0.01 or mem:32; an empty non-nil slice means no
	// minimum.
	MinAllocatable []resources.Quantities
	// FilterGPUs is Mesos' --filter_gpu_resources (default true): agents
	// with GPUs are offered only to frameworks with the GPU capability.
	FilterGPUs bool
}

// DefaultOptions returns Mesos' defaults.
func DefaultOptions() Options {
	return Options{FilterGPUs: true}
}

// DefaultMinAllocatable is Mesos' --min_allocatable_resources default.
var DefaultMinAllocatable = []resources.Quantities{
	resources.NewQuantities(resources.Quantity{Name: "cpus", Value: 10 * resources.Milli}),
	resources.NewQuantities(resources.Quantity{Name: "mem", Value: 32 * resources.Unit}),
}

// ErrUnknownAgent and ErrInsufficient are the errors of UpdateAvailable
// and UpdateAllocation.
var (
	ErrUnknownAgent = errors.New("unknown agent")
	ErrInsufficient = errors.New("insufficient resources")
)

// Stats are counters and gauges of the allocator, for metrics.
type Stats struct {
	// AllocationRuns counts Allocate and AllocatePending calls.
	AllocationRuns uint64
	// LastRunAgents is how many agents the last run visited.
	LastRunAgents int
	// BackedOff is the number of (framework, role) pairs currently backed
	// off for declining.
	BackedOff int
	// Filters is the number of live offer filters.
	Filters int
}

// Allocator holds the allocation state; see the package doc. The zero
// value is not usable; call New.
type Allocator struct {
	opts    Options
	minSets []vec

	names    map[string]int
	nameList []string

	root    *node
	roles   map[string]*node
	weights map[string]float64
	quotas  map[string]*node // roles with quota set
	// quotaRoots are the roles with a guarantee and no ancestor with one;
	// their unsatisfied guarantees are the headroom held back.
	quotaRoots []*node

	agents     map[string]*agent
	agentList  []*agent // sorted by id when !agentsDirty
	agentsDirt bool
	frameworks map[string]*framework
	seq        uint64

	total     vec // scalar totals of all agents (DRF denominators)
	freeUnres vec // free unreserved resources of active agents (headroom)
	// totalDirty: shares must be recomputed before the next run.
	totalDirty bool

	// pending are agents whose free resources grew since the last run;
	// allPending makes the next AllocatePending visit every agent.
	pending    map[*agent]struct{}
	allPending bool

	stats Stats
}

type agent struct {
	id     string
	total  resources.Resources
	free   resources.Resources
	active bool
	gpus   bool // total has gpus
	// special: total has revocable, shared or refined resources, so
	// capabilities filter what each framework may get.
	special bool
	// grown counts the times free grew; a filter made at the current
	// count still covers everything free (see filtered).
	grown  uint64
	allocs map[*client]resources.Resources
	// filters are the live filters of clients on this agent (nil while
	// there are none). They are kept by agent, not by client, because
	// an allocation asks about one agent and every client in turn: the
	// agent's small map stays in the cache, where a lookup in each
	// client's map of thousands of agents missed it (the most of a
	// master's CPU with 10,000 agents declined by 200 frameworks).
	filters map[*client]filter
}

// client is a framework in one of its roles: what the DRF sorters order.
type client struct {
	fw    *framework
	leaf  *node
	alloc vec
	// suppressed: SUPPRESS for this role. declines counts declines in a
	// row (reset by Launched and Revive); > 0 is backed off.
	suppressed bool
	declines   int
	active     bool // counted in the tree as active
	eager      bool // counted as eager
	// filtered are the agents that hold a filter of this client
	// (agent.filters), for Revive and the metrics.
	filtered map[*agent]struct{}
	onAgents map[*agent]struct{}
	// excluded remembers the framework's Excludes answers for this role.
	excluded map[*agent]bool
	k        key
}

func (c *client) sortKey() *key { return &c.k }

// setFilter puts f on ag for c, replacing the filter c had there.
func (c *client) setFilter(ag *agent, f filter) {
	if ag.filters == nil {
		ag.filters = map[*client]filter{}
	}
	ag.filters[c] = f
	c.filtered[ag] = struct{}{}
}

// dropFilter removes c's filter on ag.
func (c *client) dropFilter(ag *agent) {
	delete(ag.filters, c)
	delete(c.filtered, ag)
}

// clearFilters removes every filter of c.
func (c *client) clearFilters() {
	for ag := range c.filtered {
		delete(ag.filters, c)
	}
	clear(c.filtered)
}

type filter struct {
	refused resources.Resources
	grown   uint64
	expires time.Time
}

type framework struct {
	id      string
	seq     uint64
	active  bool
	caps    Capabilities
	clients map[string]*client
	minSets map[string][]vec
	// excludes is Framework.Excludes; nil excludes nothing.
	excludes func(role, agentID string) bool
}

// New returns an empty allocator.
func New(opts Options) *Allocator {
	a := &Allocator{
		opts:       opts,
		names:      map[string]int{},
		root:       &node{name: "", kids: map[string]*node{}, weight: 1},
		roles:      map[string]*node{},
		weights:    map[string]float64{},
		quotas:     map[string]*node{},
		agents:     map[string]*agent{},
		frameworks: map[string]*framework{},
		pending:    map[*agent]struct{}{},
	}
	sets := opts.MinAllocatable
	if sets == nil {
		sets = DefaultMinAllocatable
	}
	a.minSets = a.vecsOf(sets)
	return a
}

// ---- names and vectors ----

func (a *Allocator) nameIndex(name string) int {
	if i, ok := a.names[name]; ok {
		return i
	}
	i := len(a.nameList)
	a.names[name] = i
	a.nameList = append(a.nameList, name)
	return i
}

// quantities returns r's quantities as a vec.
func (a *Allocator) quantities(r resources.Resources) vec {
	return a.quantitiesInto(make(vec, 0, len(a.nameList)), r)
}

// quantitiesInto is quantities written over v's storage.
func (a *Allocator) quantitiesInto(v vec, r resources.Resources) vec {
	v = v[:0]
	for name, x := range r.QuantitySeq() {
		i := a.nameIndex(name)
		v.grow(i + 1)
		v[i] = x
	}
	return v
}

func (a *Allocator) scalarQuantities(r resources.Resources) vec {
	v := vec{}
	for name, x := range r.ScalarQuantities().All() {
		i := a.nameIndex(name)
		v.grow(i + 1)
		v[i] = x
	}
	return v
}

func (a *Allocator) vecOf(q resources.Quantities) vec {
	v := vec{}
	for name, x := range q.All() {
		i := a.nameIndex(name)
		v.grow(i + 1)
		v[i] = x
	}
	return v
}

func (a *Allocator) vecsOf(qs []resources.Quantities) []vec {
	out := make([]vec, len(qs))
	for i, q := range qs {
		out[i] = a.vecOf(q)
	}
	return out
}

func (a *Allocator) toQuantities(v vec) resources.Quantities {
	var qs []resources.Quantity
	for i, x := range v {
		if x > 0 {
			qs = append(qs, resources.Quantity{Name: a.nameList[i], Value: x})
		}
	}
	return resources.NewQuantities(qs...)
}

// ---- agents ----

// AddAgent adds an agent with its total resources, active (offerable). An
// agent added again keeps its allocations and gets the new total.
func (a *Allocator) AddAgent(id string, total resources.Resources) {
	ag, ok := a.agents[id]
	if ok {
		// A re-registered agent may carry new attributes.
		for _, f := range a.frameworks {
			for _, c := range f.clients {
				delete(c.excluded, ag)
			}
		}
		a.setTotal(ag, total)
		a.SetAgentActive(id, true)
		return
	}
	ag = &agent{id: id, allocs: map[*client]resources.Resources{}}
	a.agents[id] = ag
	a.agentList = append(a.agentList, ag)
	a.agentsDirt = true
	a.setTotal(ag, total)
	a.SetAgentActive(id, true)
}

// setTotal replaces an agent's total, keeping its allocations.
func (a *Allocator) setTotal(ag *agent, total resources.Resources) {
	a.applyTotal(ag, -1)
	ag.total = total
	ag.gpus = total.ScalarOf("gpus") > 0
	ag.special = false
	for r := range total.All() {
		if r.Revocable || r.Shared || r.HasRefinedReservations() {
			ag.special = true
		}
	}
	a.applyTotal(ag, +1)
	a.recomputeFree(ag)
}

// applyTotal adds (or removes) an agent's total and reservations to the
// cluster's books.
func (a *Allocator) applyTotal(ag *agent, sign resources.Scalar) {
	if ag.total.IsEmpty() {
		return
	}
	a.total.add(a.scalarQuantities(ag.total), sign)
	a.totalDirty = true
	for role, r := range ag.total.Reservations() {
		v := a.quantities(r)
		for n := a.role(role); n.parent != nil; n = n.parent {
			n.reserved.add(v, sign)
		}
	}
}

func (a *Allocator) recomputeFree(ag *agent) {
	if ag.active {
		a.freeUnres.add(a.quantities(ag.free.Unreserved()), -1)
	}
	free := ag.total
	for _, r := range ag.allocs {
		free = free.Subtract(r)
	}
	ag.free = free
	ag.grown++
	if ag.active {
		a.freeUnres.add(a.quantities(ag.free.Unreserved()), +1)
	}
	a.pending[ag] = struct{}{}
}

// RemoveAgent forgets an agent and every allocation on it.
func (a *Allocator) RemoveAgent(id string) {
	ag, ok := a.agents[id]
	if !ok {
		return
	}
	a.SetAgentActive(id, false)
	for c, r := range ag.allocs {
		a.unbook(ag, c, r)
	}
	for _, f := range a.frameworks {
		for _, c := range f.clients {
			delete(c.filtered, ag)
			delete(c.excluded, ag)
		}
	}
	ag.filters = nil
	a.applyTotal(ag, -1)
	delete(a.agents, id)
	delete(a.pending, ag)
	a.agentList = slices.DeleteFunc(a.agentList, func(x *agent) bool { return x == ag })
}

// SetAgentActive stops (false) or resumes (true) offering an agent's
// resources, for example while it is disconnected or deactivated.
func (a *Allocator) SetAgentActive(id string, active bool) {
	ag, ok := a.agents[id]
	if !ok || ag.active == active {
		return
	}
	v := a.quantities(ag.free.Unreserved())
	if active {
		a.freeUnres.add(v, +1)
		a.pending[ag] = struct{}{}
	} else {
		a.freeUnres.add(v, -1)
	}
	ag.active = active
}

// ---- frameworks ----

// AddFramework adds an active framework. Adding a known framework updates
// it (UpdateFramework) and activates it.
func (a *Allocator) AddFramework(id string, info Framework) {
	f, ok := a.frameworks[id]
	if !ok {
		a.seq++
		f = &framework{id: id, seq: a.seq, clients: map[string]*client{}}
		a.frameworks[id] = f
	}
	f.active = true
	a.UpdateFramework(id, info)
}

// UpdateFramework replaces a framework's roles, suppressed roles,
// capabilities and minimum allocatable resources. Resources it holds in
// roles it left stay allocated until recovered.
func (a *Allocator) UpdateFramework(id string, info Framework) {
	f, ok := a.frameworks[id]
	if !ok {
		return
	}
	f.caps = info.Capabilities
	f.excludes = info.Excludes
	for _, c := range f.clients {
		c.excluded = nil
	}
	f.minSets = map[string][]vec{}
	for role, sets := range info.MinAllocatable {
		f.minSets[role] = a.vecsOf(sets)
	}
	roles := map[string]bool{}
	for _, r := range info.Roles {
		roles[r] = true
		c := a.client(f, r)
		c.suppressed = slices.Contains(info.Suppressed, r)
	}
	for r, c := range f.clients {
		if !roles[r] {
			c.suppressed = true // left the role: no offers, keeps allocations
			if len(c.onAgents) == 0 {
				a.dropClient(c)
				continue
			}
		}
		a.updateClient(c)
	}
	a.allPending = true
}

// client returns framework f's client in role, creating it.
func (a *Allocator) client(f *framework, role string) *client {
	if c, ok := f.clients[role]; ok {
		return c
	}
	leaf := a.leafOf(role)
	c := &client{fw: f, leaf: leaf, filtered: map[*agent]struct{}{}, onAgents: map[*agent]struct{}{}}
	c.k = key{tier: tierInactive, seq: f.seq, name: f.id}
	f.clients[role] = c
	leaf.clients.insert(c)
	return c
}

func (a *Allocator) dropClient(c *client) {
	c.clearFilters()
	c.suppressed = true
	a.updateClient(c)
	c.leaf.clients.remove(c)
	delete(c.fw.clients, c.leaf.name)
}

// updateClient brings a client's tier and the tree's counts in line with
// its framework's activity, suppression and backoff.
func (a *Allocator) updateClient(c *client) {
	active := c.fw.active && !c.suppressed
	eager := active && c.declines == 0
	da, de := 0, 0
	if active != c.active {
		da = b2i(active) - b2i(c.active)
		c.active = active
	}
	if eager != c.eager {
		de = b2i(eager) - b2i(c.eager)
		c.eager = eager
	}
	l := &c.leaf.clients
	i := l.find(c)
	switch {
	case !active:
		c.k.tier = tierInactive
	case !eager:
		c.k.tier = tierBackoff
	default:
		c.k.tier = tierEager
	}
	l.move(i)
	if da != 0 || de != 0 {
		a.countPath(c.leaf, da, de)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetFrameworkActive stops (false) or resumes (true) offers to a
// framework, for example while it is disconnected.
func (a *Allocator) SetFrameworkActive(id string, active bool) {
	f, ok := a.frameworks[id]
	if !ok || f.active == active {
		return
	}
	f.active = active
	for _, r := range sortedRoles(f) {
		a.updateClient(f.clients[r])
	}
	if active {
		a.allPending = true
	}
}

func sortedRoles(f *framework) []string {
	roles := make([]string, 0, len(f.clients))
	for r := range f.clients {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	return roles
}

// RemoveFramework forgets a framework and releases everything allocated
// to it.
func (a *Allocator) RemoveFramework(id string) {
	f, ok := a.frameworks[id]
	if !ok {
		return
	}
	for _, r := range sortedRoles(f) {
		c := f.clients[r]
		for ag := range c.onAgents {
			a.unbook(ag, c, ag.allocs[c])
			a.recomputeFree(ag)
		}
		a.dropClient(c)
	}
	delete(a.frameworks, id)
}

// ---- allocations ----

// book records r as allocated to c on ag, updating every sum, and
// returns the quantities of r's unreserved part. It does not touch
// ag.free. all is r's quantities when the caller has them (else nil).
func (a *Allocator) book(ag *agent, c *client, r resources.Resources, all vec) vec {
	ag.allocs[c] = ag.allocs[c].Add(r)
	c.onAgents[ag] = struct{}{}
	if all == nil {
		all = a.quantities(r)
	}
	unres := all
	if u := r.Unreserved(); u.Len() != r.Len() {
		unres = a.quantities(u)
	}
	l := &c.leaf.clients
	i := l.find(c)
	c.alloc.add(all, +1)
	c.k.share = a.share(c.alloc, 1)
	l.move(i)
	a.bookPath(c.leaf, all, unres, +1)
	return unres
}

// unbook removes r from c's allocation on ag; r must be part of it.
func (a *Allocator) unbook(ag *agent, c *client, r resources.Resources) {
	if r.IsEmpty() {
		return
	}
	held := ag.allocs[c].Subtract(r)
	if held.IsEmpty() {
		delete(ag.allocs, c)
		delete(c.onAgents, ag)
	} else {
		ag.allocs[c] = held
	}
	all := a.quantities(r)
	unres := a.quantities(r.Unreserved())
	l := &c.leaf.clients
	i := l.find(c)
	c.alloc.add(all, -1)
	c.k.share = a.share(c.alloc, 1)
	l.move(i)
	a.bookPath(c.leaf, all, unres, -1)
}

// Use records resources as allocated to a framework without offering them:
// tasks and executors an agent reports when it re-registers. Unknown
// agents are ignored; a framework unknown to the allocator is ignored.
func (a *Allocator) Use(frameworkID, agentID, role string, r resources.Resources) {
	ag, ok := a.agents[agentID]
	f := a.frameworks[frameworkID]
	if !ok || f == nil || r.IsEmpty() {
		return
	}
	c := f.clients[role]
	if c == nil {
		c = a.client(f, role)
		c.suppressed = true
		a.updateClient(c)
	}
	a.book(ag, c, r, nil)
	a.recomputeFree(ag)
}

// Recover returns resources a framework held on an agent in a role to the
// free pool. With refuse > 0 it also filters them for the framework until
// now+refuse (see the package doc). Resources not allocated are ignored.
func (a *Allocator) Recover(frameworkID, agentID, role string, r resources.Resources, refuse time.Duration, now time.Time) {
	a.recover(frameworkID, agentID, role, r, refuse, now)
}

// Decline is Recover for resources a framework refused (DECLINE, or an
// offer that timed out unanswered): the framework's decline streak in the
// role grows, it is backed off (offered after frameworks that have not
// declined), and the filter lasts refuse × 2^min(streak-1,
// MaxBackoffShift), at most MaxRefuse. Launched and Revive end the streak.
func (a *Allocator) Decline(frameworkID, agentID, role string, r resources.Resources, refuse time.Duration, now time.Time) {
	c := a.clientOf(frameworkID, role)
	if c != nil {
		c.declines++
		if refuse > 0 {
			refuse <<= min(c.declines-1, MaxBackoffShift)
			if refuse > MaxRefuse || refuse <= 0 {
				refuse = MaxRefuse
			}
		}
		a.updateClient(c)
	}
	a.recover(frameworkID, agentID, role, r, refuse, now)
}

// Launched tells the allocator a framework used an offer in role (an
// ACCEPT that launched something): its decline streak ends.
func (a *Allocator) Launched(frameworkID, role string) {
	if c := a.clientOf(frameworkID, role); c != nil && c.declines > 0 {
		c.declines = 0
		a.updateClient(c)
	}
}

func (a *Allocator) clientOf(frameworkID, role string) *client {
	if f := a.frameworks[frameworkID]; f != nil {
		return f.clients[role]
	}
	return nil
}

func (a *Allocator) recover(frameworkID, agentID, role string, r resources.Resources, refuse time.Duration, now time.Time) {
	ag, ok := a.agents[agentID]
	if !ok {
		return
	}
	c := a.clientOf(frameworkID, role)
	if c == nil {
		return
	}
	held := ag.allocs[c]
	taken := held.Subtract(held.Subtract(r)) // the part of r that c holds
	if !taken.IsEmpty() {
		a.unbook(ag, c, taken)
		if ag.active {
			a.freeUnres.add(a.quantities(ag.free.Unreserved()), -1)
		}
		ag.free = ag.free.Add(taken)
		ag.grown++
		if ag.active {
			a.freeUnres.add(a.quantities(ag.free.Unreserved()), +1)
		}
		a.pending[ag] = struct{}{}
	}
	if refuse > 0 && !r.IsEmpty() {
		c.setFilter(ag, filter{refused: r, grown: ag.grown, expires: now.Add(refuse)})
	}
}

// Revive removes a framework's filters for the given roles (all its roles
// when none are given), stops suppressing them and ends its decline
// streaks there.
func (a *Allocator) Revive(frameworkID string, roles []string) {
	f, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	for _, r := range sortedRoles(f) {
		if len(roles) > 0 && !slices.Contains(roles, r) {
			continue
		}
		c := f.clients[r]
		c.clearFilters()
		c.suppressed = false
		c.declines = 0
		a.updateClient(c)
	}
	a.allPending = true
}

// Suppress stops offers to a framework for the given roles (all its roles
// when none are given) until Revive or UpdateFramework.
func (a *Allocator) Suppress(frameworkID string, roles []string) {
	f, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	for _, r := range sortedRoles(f) {
		if len(roles) > 0 && !slices.Contains(roles, r) {
			continue
		}
		c := f.clients[r]
		c.suppressed = true
		a.updateClient(c)
	}
}

// Allocated returns what a framework holds on an agent in a role.
func (a *Allocator) Allocated(frameworkID, agentID, role string) resources.Resources {
	ag, ok := a.agents[agentID]
	c := a.clientOf(frameworkID, role)
	if !ok || c == nil {
		return resources.Resources{}
	}
	return ag.allocs[c]
}

// Free returns an agent's resources not allocated to anyone.
func (a *Allocator) Free(agentID string) resources.Resources {
	if ag, ok := a.agents[agentID]; ok {
		return ag.free
	}
	return resources.Resources{}
}

// Total returns an agent's total resources, as the allocator knows them
// (including reservations and volumes made through UpdateAvailable and
// UpdateAllocation).
func (a *Allocator) Total(agentID string) resources.Resources {
	if ag, ok := a.agents[agentID]; ok {
		return ag.total
	}
	return resources.Resources{}
}

// UpdateAvailable applies an operator operation (RESERVE, UNRESERVE,
// CREATE, DESTROY through the operator API) to an agent's free resources:
// from, which must be free, becomes to, in the free pool and in the
// agent's total. ErrInsufficient when from is not free.
func (a *Allocator) UpdateAvailable(agentID string, from, to resources.Resources) error {
	ag, ok := a.agents[agentID]
	if !ok {
		return ErrUnknownAgent
	}
	if !ag.free.Contains(from) {
		return fmt.Errorf("%w: %v is not available on agent %s (free: %v)", ErrInsufficient, from, agentID, ag.free)
	}
	a.setTotal(ag, ag.total.Subtract(from).Add(to))
	return nil
}

// UpdateAllocation applies an offer operation (RESERVE, UNRESERVE,
// CREATE, DESTROY in an ACCEPT) to resources a framework holds in role on
// an agent: from, which it must hold, becomes to, in its allocation and
// in the agent's total.
func (a *Allocator) UpdateAllocation(frameworkID, agentID, role string, from, to resources.Resources) error {
	ag, ok := a.agents[agentID]
	if !ok {
		return ErrUnknownAgent
	}
	c := a.clientOf(frameworkID, role)
	if c == nil || !ag.allocs[c].Contains(from) {
		return fmt.Errorf("%w: %v is not allocated to %s in role %s on agent %s", ErrInsufficient, from, frameworkID, role, agentID)
	}
	a.unbook(ag, c, from)
	a.book(ag, c, to, nil)
	a.setTotal(ag, ag.total.Subtract(from).Add(to))
	return nil
}

// ---- weights and quota ----

// SetWeight sets a role's weight (> 0; 1 is the default).
func (a *Allocator) SetWeight(role string, w float64) {
	if w <= 0 {
		w = 1
	}
	a.weights[role] = w
	n := a.role(role)
	n.weight = w
	a.refreshNode(n)
}

// Quota is a role's quota: guarantees and limits by resource name (scalar
// names only). A name absent from Limits is unlimited; a limit of 0 is a
// limit.
type Quota struct {
	Guarantees map[string]resources.Scalar
	Limits     map[string]resources.Scalar
}

// SetQuota sets a role's quota; an empty Quota removes it.
func (a *Allocator) SetQuota(role string, qc Quota) {
	n := a.role(role)
	had := n.quota.hasGuarantee()
	if len(qc.Guarantees) == 0 && len(qc.Limits) == 0 {
		n.quota = nil
		delete(a.quotas, role)
	} else {
		q := &quota{}
		set := func(m map[string]resources.Scalar, v *vec, has *[]bool) {
			for name, x := range m {
				i := a.nameIndex(name)
				v.grow(i + 1)
				(*v)[i] = x
				for len(*has) <= i {
					*has = append(*has, false)
				}
				(*has)[i] = true
			}
		}
		set(qc.Guarantees, &q.guarantee, &q.hasGuar)
		set(qc.Limits, &q.limit, &q.hasLimit)
		n.quota = q
		a.quotas[role] = n
	}
	if has := n.quota.hasGuarantee(); has != had {
		for p := n; p.parent != nil; p = p.parent {
			p.guarantees += b2i(has) - b2i(had)
		}
	}
	a.quotaRoots = a.quotaRoots[:0]
	for _, name := range sortedKeys(a.quotas) {
		q := a.quotas[name]
		if !q.quota.hasGuarantee() {
			continue
		}
		root := true
		for p := q.parent; p != nil && p.parent != nil; p = p.parent {
			if p.quota.hasGuarantee() {
				root = false
			}
		}
		if root {
			a.quotaRoots = append(a.quotaRoots, q)
		}
	}
	a.allPending = true
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Stats returns the allocator's counters.
func (a *Allocator) Stats() Stats {
	s := a.stats
	for _, f := range a.frameworks {
		for _, c := range f.clients {
			if c.active && c.declines > 0 {
				s.BackedOff++
			}
			s.Filters += len(c.filtered)
		}
	}
	return s
}

// RoleNames returns the roles the allocator knows (every role some
// framework subscribed to, some reservation names, or that has a weight
// or quota, and their ancestors), sorted.
func (a *Allocator) RoleNames() []string {
	return sortedKeys(a.roles)
}

// Consumed returns what counts against a role's quota: its subtree's
// reservations plus unreserved allocations.
func (a *Allocator) Consumed(role string) resources.Quantities {
	n, ok := a.roles[role]
	if !ok {
		return resources.Quantities{}
	}
	v := make(vec, len(a.nameList))
	for i := range v {
		v[i] = n.consumed(i)
	}
	return a.toQuantities(v)
}
