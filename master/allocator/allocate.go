package allocator

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// Allocate runs a full allocation cycle over every agent (the batch
// allocation of each --allocation_interval) and returns the offers, by
// agent id and then in fairness order. The offered resources are
// allocated from then on.
func (a *Allocator) Allocate(now time.Time) []Offer {
	a.allPending = false
	clear(a.pending)
	if a.agentsDirt {
		slices.SortFunc(a.agentList, func(x, y *agent) int { return cmp.Compare(x.id, y.id) })
		a.agentsDirt = false
	}
	return a.run(now, a.agentList)
}

// AllocatePending runs a cycle over the agents whose free resources grew
// since the last run (resources recovered, agents added or reactivated),
// or over every agent after a change that concerns all of them (a
// framework added or revived, quota or weights changed). It is the
// prompt allocation the master runs after events; its cost is that of the
// agents it visits.
func (a *Allocator) AllocatePending(now time.Time) []Offer {
	if a.allPending {
		return a.Allocate(now)
	}
	if len(a.pending) == 0 {
		return nil
	}
	ags := make([]*agent, 0, len(a.pending))
	for ag := range a.pending {
		ags = append(ags, ag)
	}
	clear(a.pending)
	slices.SortFunc(ags, func(x, y *agent) int { return cmp.Compare(x.id, y.id) })
	return a.run(now, ags)
}

// walk is the state of one agent's allocation.
type walk struct {
	ag       *agent
	now      time.Time
	stage1   bool
	hasUnres bool     // free has unreserved scalar resources
	resRoles []string // roles free resources are reserved for
	// Set by pickClient for the pick it returns: q is the picked
	// resources' quantities (nil when not computed) and whole says they
	// are all of the agent's free resources.
	q     vec
	whole bool
	// scratch is storage for q, reused from pick to pick: q is read
	// only until the offer it describes is booked.
	scratch vec
}

func (a *Allocator) run(now time.Time, ags []*agent) []Offer {
	a.stats.AllocationRuns++
	a.stats.LastRunAgents = len(ags)
	if a.totalDirty {
		a.resortAll(a.root)
		a.totalDirty = false
	}
	var out []Offer
	w := &walk{now: now}
	if len(a.quotaRoots) > 0 {
		w.stage1 = true
		for _, ag := range ags {
			w.ag = ag
			a.allocateAgent(w, &out)
		}
		w.stage1 = false
	}
	for _, ag := range ags {
		w.ag = ag
		a.allocateAgent(w, &out)
	}
	return out
}

// allocateAgent offers an agent's free resources: each time to the first
// framework in fairness order that may use some of them, until nothing is
// left that anyone may take.
func (a *Allocator) allocateAgent(w *walk, out *[]Offer) {
	ag := w.ag
	if !ag.active {
		return
	}
	for {
		if ag.free.IsEmpty() || !a.prepare(w) {
			return
		}
		c, r := a.pick(a.root, w)
		if c == nil {
			return
		}
		a.offer(ag, c, r, w.q, w.whole)
		*out = append(*out, Offer{FrameworkID: c.fw.id, AgentID: ag.id, Role: c.leaf.name, Resources: r})
	}
}

// prepare notes what kinds of free resources the agent has left, so the
// walk visits only roles that may use them; false when there is nothing
// worth offering.
func (a *Allocator) prepare(w *walk) bool {
	w.hasUnres = false
	w.resRoles = w.resRoles[:0]
	for r := range w.ag.free.All() {
		if r.IsUnreserved() {
			if r.Type == resources.ValueScalar && r.Scalar > 0 {
				w.hasUnres = true
			}
			continue
		}
		if role := r.Role(); !slices.Contains(w.resRoles, role) {
			w.resRoles = append(w.resRoles, role)
		}
	}
	return w.hasUnres || len(w.resRoles) > 0
}

// relevant reports whether the subtree of n may use some of the agent's
// free resources.
func (a *Allocator) relevant(n *node, w *walk) bool {
	if w.stage1 && n.guarantees == 0 && !guardedAbove(n) {
		return false
	}
	if w.hasUnres {
		return true
	}
	for _, rr := range w.resRoles {
		if rr == n.name || resources.IsStrictSubrole(n.name, rr) || resources.IsStrictSubrole(rr, n.name) {
			return true
		}
	}
	return false
}

// guardedAbove reports whether some ancestor of n has a guarantee.
func guardedAbove(n *node) bool {
	for p := n.parent; p != nil; p = p.parent {
		if p.quota.hasGuarantee() {
			return true
		}
	}
	return false
}

// pick walks the role tree in fairness order and returns the first client
// that may be offered something on the agent, with what it may be
// offered.
func (a *Allocator) pick(n *node, w *walk) (*client, resources.Resources) {
	for _, ch := range n.children.items {
		if ch.k.tier == tierInactive {
			break
		}
		if !a.relevant(ch, w) {
			continue
		}
		var c *client
		var r resources.Resources
		if ch.leaf {
			c, r = a.pickClient(ch, w)
		} else {
			c, r = a.pick(ch, w)
		}
		if c != nil {
			return c, r
		}
	}
	return nil, resources.Resources{}
}

func (a *Allocator) pickClient(leaf *node, w *walk) (*client, resources.Resources) {
	ag := w.ag
	role := leaf.name
	avail := ag.free
	if len(w.resRoles) > 0 {
		avail = avail.AllocatableTo(role)
	}
	if avail.IsEmpty() {
		return nil, avail
	}
	quotaActive := len(a.quotas) > 0
	if quotaActive {
		if w.stage1 && !a.unsatisfiedChain(leaf.parent) {
			return nil, resources.Resources{}
		}
		avail = a.capQuota(leaf.parent, avail, w.stage1)
		if avail.IsEmpty() {
			return nil, avail
		}
	}
	var q vec // quantities of avail, computed once for plain agents
	whole := len(w.resRoles) == 0 && !quotaActive
	for _, c := range leaf.clients.items {
		if c.k.tier == tierInactive {
			break
		}
		if ag.gpus && a.opts.FilterGPUs && !c.fw.caps.GPU {
			continue
		}
		if c.fw.excludes != nil && c.excludes(ag) {
			continue
		}
		r := avail
		if ag.special {
			r = allowedFor(r, c.fw.caps)
			if r.IsEmpty() {
				continue
			}
		}
		if f, ok := ag.filters[c]; ok {
			if !w.now.Before(f.expires) {
				c.dropFilter(ag)
			} else if (f.grown == ag.grown && !quotaActive && !ag.special) || f.refused.Contains(r) {
				continue
			}
		}
		rq := q
		if ag.special || rq == nil {
			rq = a.quantitiesInto(w.scratch, r)
			w.scratch = rq
			if !ag.special {
				q = rq
			}
		}
		if !a.minAllocatable(c, role, rq) {
			continue
		}
		w.q, w.whole = rq, whole && !ag.special
		return c, r
	}
	return nil, resources.Resources{}
}

// excludes asks, once per agent, whether the client's framework's offer
// constraints keep ag from its offers.
func (c *client) excludes(ag *agent) bool {
	x, ok := c.excluded[ag]
	if !ok {
		x = c.fw.excludes(c.leaf.name, ag.id)
		if c.excluded == nil {
			c.excluded = map[*agent]bool{}
		}
		c.excluded[ag] = x
	}
	return x
}

// allowedFor drops what a framework's capabilities do not allow.
func allowedFor(r resources.Resources, caps Capabilities) resources.Resources {
	return r.Filter(func(x *resources.Resource) bool {
		return (caps.Revocable || !x.Revocable) &&
			(caps.Shared || !x.Shared) &&
			(caps.Refinement || !x.HasRefinedReservations())
	})
}

func (a *Allocator) minAllocatable(c *client, role string, q vec) bool {
	sets, ok := c.fw.minSets[role]
	if !ok {
		sets = a.minSets
	}
	if len(sets) == 0 {
		return true
	}
	for _, s := range sets {
		if q.containsAll(s) {
			return true
		}
	}
	return false
}

// offer allocates r on ag to c; q is r's quantities when known (else
// nil), whole says r is all of ag's free resources.
func (a *Allocator) offer(ag *agent, c *client, r resources.Resources, q vec, whole bool) {
	unres := a.book(ag, c, r, q)
	a.freeUnres.add(unres, -1)
	if whole {
		ag.free = resources.Resources{}
	} else {
		ag.free = ag.free.Subtract(r)
	}
}

// unsatisfiedChain reports whether role or an ancestor lacks part of its
// guarantee.
func (a *Allocator) unsatisfiedChain(role *node) bool {
	for n := role; n.parent != nil; n = n.parent {
		if n.quota.hasGuarantee() {
			for i := range n.quota.hasGuar {
				if n.unsatisfied(i) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// capQuota shrinks the unreserved part of what role may be offered so that
// (1) no quota limit of role or its ancestors is exceeded, (2) what stays
// free covers the unsatisfied guarantees of other roles (the headroom),
// and (3) in the guarantee stage, guaranteed names stay within what the
// guarantee lacks.
func (a *Allocator) capQuota(role *node, avail resources.Resources, stage1 bool) resources.Resources {
	unres := avail.Unreserved()
	if unres.IsEmpty() {
		return avail
	}
	uq := a.quantities(unres)
	for i, x := range uq {
		if x <= 0 {
			continue
		}
		room := resources.Scalar(math.MaxInt64)
		guaranteed, guarRoom := false, resources.Scalar(math.MaxInt64)
		for n := role; n.parent != nil; n = n.parent {
			if l, ok := n.quota.limitOf(i); ok {
				room = min(room, max(l-n.consumed(i), 0))
			}
			if _, ok := n.quota.guaranteeOf(i); ok {
				guaranteed = true
				guarRoom = min(guarRoom, n.unsatisfied(i))
			}
		}
		var required, relief resources.Scalar
		for _, root := range a.quotaRoots {
			u := root.unsatisfied(i)
			required += u
			if root == role || resources.IsStrictSubrole(role.name, root.name) {
				relief = u
			}
		}
		if required > 0 {
			room = min(room, max(a.freeUnres.get(i)-required+relief, 0))
		}
		if stage1 && guaranteed {
			room = min(room, guarRoom)
		}
		if room < x {
			avail = a.shrink(avail, a.nameList[i], room)
		}
	}
	return avail
}

// shrink reduces the unreserved amount of a scalar name in r to keep.
func (a *Allocator) shrink(r resources.Resources, name string, keep resources.Scalar) resources.Resources {
	isName := func(x *resources.Resource) bool { return x.IsUnreserved() && x.Name == name }
	cur := r.Filter(isName).ScalarOf(name)
	if cur <= keep {
		return r
	}
	if d, err := resources.New(resources.Resource{Name: name, Type: resources.ValueScalar, Scalar: cur - keep}); err == nil {
		r = r.Subtract(d)
	}
	if r.Filter(isName).ScalarOf(name) > keep {
		r = r.Filter(func(x *resources.Resource) bool { return !isName(x) })
	}
	return r
}
