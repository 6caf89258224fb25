package master

import (
	"math"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	"github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// recoverRoles loads the weights and quotas a registry holds into the
// core and the allocator (at start, from the registry's state).
func (c *core) recoverRoles(st *registry.State) {
	for role, v := range st.Weights {
		c.weights[role] = v
		c.alloc.SetWeight(role, v)
	}
	for role, qc := range st.Quotas {
		c.quotas[role] = qc
		c.alloc.SetQuota(role, allocQuota(qc))
	}
}

// weightOps are the registry operations that take the recorded weights
// from old to next: roles absent from next go back to weight 1.
func weightOps(old, next map[string]float64) []registry.Op {
	var ops []registry.Op
	for _, role := range sortedKeys(old) {
		if _, ok := next[role]; !ok {
			ops = append(ops, registry.SetWeight{Role: role, Weight: 1})
		}
	}
	for _, role := range sortedKeys(next) {
		if w, ok := old[role]; !ok || w != next[role] {
			ops = append(ops, registry.SetWeight{Role: role, Weight: next[role]})
		}
	}
	return ops
}

// quotaOps are the registry operations that take the recorded quotas
// from old to next: roles absent from next lose their quota.
func quotaOps(old, next map[string]*quotapb.QuotaConfig) []registry.Op {
	var ops []registry.Op
	for _, role := range sortedKeys(old) {
		if _, ok := next[role]; !ok {
			ops = append(ops, registry.SetQuota{Config: &quotapb.QuotaConfig{Role: proto.String(role)}})
		}
	}
	for _, role := range sortedKeys(next) {
		if q, ok := old[role]; ok && proto.Equal(q, next[role]) {
			continue
		}
		cfg := proto.Clone(next[role]).(*quotapb.QuotaConfig)
		cfg.Role = proto.String(role)
		ops = append(ops, registry.SetQuota{Config: cfg})
	}
	return ops
}

// writeRoles records a change of weights or quotas, then applies it;
// nothing to record is no write. 503 when the write fails.
func (c *core) writeRoles(ops []registry.Op, apply func()) error {
	if len(ops) == 0 {
		apply()
		return nil
	}
	return c.writeThen([]string{rolesKey}, ops, func(err error) error {
		if err != nil {
			return unavailablef("Failed to update the registry: %v", err)
		}
		apply()
		return nil
	})
}

func allocQuota(qc *quotapb.QuotaConfig) allocator.Quota {
	conv := func(m map[string]*mesos.Value_Scalar) map[string]resources.Scalar {
		out := map[string]resources.Scalar{}
		for name, v := range m {
			x, _ := resources.ScalarFromFloat(v.GetValue())
			out[name] = x
		}
		return out
	}
	return allocator.Quota{Guarantees: conv(qc.GetGuarantees()), Limits: conv(qc.GetLimits())}
}

// weight returns a role's weight (1 unless set).
func (c *core) weight(role string) float64 {
	if w, ok := c.weights[role]; ok {
		return w
	}
	return 1
}

// updateWeights handles UPDATE_WEIGHTS: 400 for an invalid role or
// weight, 503 when the registry write fails.
func (c *core) updateWeights(infos []*mesos.WeightInfo) error {
	if p, busy := c.whenFree([]string{rolesKey}, func() error { return c.updateWeights(infos) }); busy {
		return p
	}
	next := map[string]float64{}
	for role, w := range c.weights {
		next[role] = w
	}
	for _, wi := range infos {
		role := wi.GetRole()
		if err := resources.ValidateRole(role); err != nil || role == "" {
			return invalidf("Invalid role '%s' in weight update: %v", role, err)
		}
		w := wi.GetWeight()
		if !(w > 0) || math.IsInf(w, 0) {
			return invalidf("Invalid weight '%v' for role '%s': weights must be positive", w, role)
		}
		next[role] = w
	}
	return c.writeRoles(weightOps(c.weights, next), func() {
		for _, wi := range infos {
			c.alloc.SetWeight(wi.GetRole(), wi.GetWeight())
		}
		c.weights = next
		c.allocateSoon = true
	})
}

// updateQuota handles UPDATE_QUOTA with Mesos' checks: valid roles other
// than "*", non-negative finite scalars, guarantees within limits, a
// parent's guarantees covering its children's and its limits bounding
// theirs (400); guarantees above the cluster's total need force (409).
// A config with neither guarantees nor limits removes the role's quota.
func (c *core) updateQuota(force bool, configs []*quotapb.QuotaConfig) error {
	if p, busy := c.whenFree([]string{rolesKey}, func() error { return c.updateQuota(force, configs) }); busy {
		return p
	}
	next := cloneQuotas(c.quotas)
	for _, qc := range configs {
		role := qc.GetRole()
		if err := resources.ValidateRole(role); err != nil || role == "" || role == resources.UnreservedRole {
			return invalidf("Invalid quota config for role '%s': invalid role", role)
		}
		for _, m := range []map[string]*mesos.Value_Scalar{qc.GetGuarantees(), qc.GetLimits()} {
			for name, v := range m {
				if _, err := resources.ScalarFromFloat(v.GetValue()); err != nil {
					return invalidf("Invalid quota config for role '%s': %s: %v", role, name, err)
				}
			}
		}
		for name, g := range qc.GetGuarantees() {
			if l, ok := qc.GetLimits()[name]; ok && g.GetValue() > l.GetValue() {
				return invalidf("Invalid quota config for role '%s': guarantee %s:%v exceeds limit %v", role, name, g.GetValue(), l.GetValue())
			}
		}
		if len(qc.GetGuarantees()) == 0 && len(qc.GetLimits()) == 0 {
			delete(next, role)
		} else {
			next[role] = proto.Clone(qc).(*quotapb.QuotaConfig)
		}
	}
	// Hierarchy: children within their parents.
	for role, qc := range next {
		for parent := role; strings.Contains(parent, "/"); {
			parent = parent[:strings.LastIndexByte(parent, '/')]
			pq, ok := next[parent]
			if !ok {
				continue
			}
			for name, l := range qc.GetLimits() {
				if pl, ok := pq.GetLimits()[name]; ok && l.GetValue() > pl.GetValue() {
					return invalidf("Invalid quota config for role '%s': limit %s:%v exceeds its parent '%s' limit %v", role, name, l.GetValue(), parent, pl.GetValue())
				}
			}
		}
	}
	sums := map[string]map[string]float64{} // parent -> name -> sum of children's guarantees
	for role, qc := range next {
		if i := strings.LastIndexByte(role, '/'); i >= 0 {
			p := role[:i]
			if _, ok := next[p]; ok {
				if sums[p] == nil {
					sums[p] = map[string]float64{}
				}
				for name, g := range qc.GetGuarantees() {
					sums[p][name] += g.GetValue()
				}
			}
		}
	}
	for p, byName := range sums {
		for name, sum := range byName {
			if g := next[p].GetGuarantees()[name].GetValue(); sum > g+1e-9 {
				return invalidf("Invalid quota config for role '%s': its children's guarantees of %s (%v) exceed its own (%v)", p, name, sum, g)
			}
		}
	}
	if !force {
		var total resources.Resources
		for _, a := range c.agents {
			total = total.Add(a.total)
		}
		tq := total.ScalarQuantities()
		need := map[string]float64{}
		for role, qc := range next {
			if strings.Contains(role, "/") {
				if _, ok := next[role[:strings.LastIndexByte(role, '/')]]; ok {
					continue
				}
			}
			for name, g := range qc.GetGuarantees() {
				need[name] += g.GetValue()
			}
		}
		for name, n := range need {
			if have := tq.Get(name).Float(); n > have+1e-9 {
				return conflictf("Total quota guarantees of %s (%v) exceed the cluster's total (%v); use 'force' to set them anyway", name, n, have)
			}
		}
	}
	return c.writeRoles(quotaOps(c.quotas, next), func() {
		for _, qc := range configs {
			role := qc.GetRole()
			if q, ok := next[role]; ok {
				c.alloc.SetQuota(role, allocQuota(q))
			} else {
				c.alloc.SetQuota(role, allocator.Quota{})
			}
		}
		c.quotas = next
		c.allocateSoon = true
		c.log.Info("quota updated", "roles", len(configs), "force", force)
	})
}

// quotaStatus is GET_QUOTA's answer.
func (c *core) quotaStatus() *quotapb.QuotaStatus {
	st := &quotapb.QuotaStatus{}
	for _, role := range sortedKeys(c.quotas) {
		qc := c.quotas[role]
		st.Configs = append(st.Configs, proto.Clone(qc).(*quotapb.QuotaConfig))
		info := &quotapb.QuotaInfo{Role: proto.String(role)}
		for _, name := range sortedKeys(qc.GetGuarantees()) {
			info.Guarantee = append(info.Guarantee, &mesos.Resource{
				Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
				Scalar: &mesos.Value_Scalar{Value: proto.Float64(qc.GetGuarantees()[name].GetValue())},
			})
		}
		st.Infos = append(st.Infos, info)
	}
	return st
}

// roleView is one role as GET_ROLES and /roles show it; amounts cover the
// role's subtree.
type roleView struct {
	name                         string
	weight                       float64
	frameworks                   []string
	allocated, offered, reserved resources.Resources
	quota                        *quotapb.QuotaConfig
	consumed                     resources.Quantities
}

// roles returns the known roles, sorted: roles with frameworks,
// allocations, offers, reservations, weights or quota, and their
// ancestors.
func (c *core) roles() []*roleView {
	views := map[string]*roleView{}
	get := func(role string) *roleView {
		v := views[role]
		if v == nil {
			v = &roleView{name: role, weight: c.weight(role), quota: c.quotas[role], consumed: c.figures().Consumed(role)}
			views[role] = v
		}
		return v
	}
	// each visits role and its ancestors ("*" has none).
	each := func(role string, fn func(*roleView)) {
		for {
			fn(get(role))
			i := strings.LastIndexByte(role, '/')
			if i < 0 {
				return
			}
			role = role[:i]
		}
	}
	for _, f := range c.sortedFrameworks() {
		for _, r := range f.roles {
			get(r).frameworks = append(get(r).frameworks, f.id)
			each(r, func(*roleView) {})
		}
		for _, t := range f.tasks {
			if !t.released {
				each(t.role, func(v *roleView) { v.allocated = v.allocated.Add(t.res) })
			}
		}
		for _, byExec := range f.executors {
			for _, e := range byExec {
				each(e.role, func(v *roleView) { v.allocated = v.allocated.Add(e.res) })
			}
		}
		for _, o := range f.offers {
			each(o.role, func(v *roleView) { v.offered = v.offered.Add(o.res) })
		}
	}
	for _, a := range c.agents {
		for role, r := range a.total.Reservations() {
			each(role, func(v *roleView) { v.reserved = v.reserved.Add(r) })
		}
	}
	for role := range c.weights {
		each(role, func(*roleView) {})
	}
	for role := range c.quotas {
		each(role, func(*roleView) {})
	}
	out := make([]*roleView, 0, len(views))
	for _, v := range views {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// rolesJSON is the /master/roles document.
func (c *core) rolesJSON() *legacy.Roles {
	doc := &legacy.Roles{Roles: legacy.List[legacy.Role]{}}
	for _, v := range c.roles() {
		q := legacy.RoleQuota{Role: v.name, Guarantee: legacy.Quantities{}, Limit: legacy.Quantities{}, Consumed: legacy.Quantities{}}
		if v.quota != nil {
			for name, g := range v.quota.GetGuarantees() {
				q.Guarantee[name] = legacy.Float(g.GetValue())
			}
			for name, l := range v.quota.GetLimits() {
				q.Limit[name] = legacy.Float(l.GetValue())
			}
		}
		// Mesos shows as consumed what tasks and executors use plus the
		// reservations nobody uses; the allocator's figure also counts
		// unreserved resources on offer, which Mesos leaves out.
		for name, x := range v.consumed.Subtract(v.offered.Unreserved().Quantities()).All() {
			q.Consumed[name] = legacy.Float(x.Float())
		}
		fws := legacy.List[string]{}
		fws = append(fws, v.frameworks...)
		doc.Roles = append(doc.Roles, legacy.Role{
			Name:       v.name,
			Weight:     legacy.Float(v.weight),
			Quota:      q,
			Resources:  legacyQuantities(v.allocated.Add(v.offered)),
			Allocated:  legacyQuantities(v.allocated),
			Offered:    legacyQuantities(v.offered),
			Reserved:   legacyQuantities(v.reserved),
			Frameworks: fws,
		})
	}
	return doc
}

func legacyQuantities(r resources.Resources) legacy.Quantities {
	q := legacy.Quantities{}
	for name, x := range r.Quantities().All() {
		q[name] = legacy.Float(x.Float())
	}
	return q
}

// rolesProto is GET_ROLES' list.
func (c *core) rolesProto() []*mesos.Role {
	var out []*mesos.Role
	for _, v := range c.roles() {
		r := &mesos.Role{Name: proto.String(v.name), Weight: proto.Float64(v.weight)}
		for _, id := range v.frameworks {
			r.Frameworks = append(r.Frameworks, frameworkID(id))
		}
		// As Mesos 1.11: the quantities of cpus, disk, gpus and mem only
		// (in that order), allocated plus offered, each a bare SCALAR
		// resource without role or reservation.
		sum := v.allocated.Add(v.offered)
		for _, name := range []string{"cpus", "disk", "gpus", "mem"} {
			if q := sum.ScalarOf(name).Float(); q > 0 {
				r.Resources = append(r.Resources, &mesos.Resource{
					Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(q)},
				})
			}
		}
		out = append(out, r)
	}
	return out
}

// weightInfos is GET_WEIGHTS' list.
func (c *core) weightInfos() []*mesos.WeightInfo {
	var out []*mesos.WeightInfo
	for _, role := range sortedKeys(c.weights) {
		out = append(out, &mesos.WeightInfo{Role: proto.String(role), Weight: proto.Float64(c.weights[role])})
	}
	return out
}

// cloneQuotas deep-copies a role → quota configuration map.
func cloneQuotas(q map[string]*quotapb.QuotaConfig) map[string]*quotapb.QuotaConfig {
	out := make(map[string]*quotapb.QuotaConfig, len(q))
	for k, v := range q {
		out[k] = proto.Clone(v).(*quotapb.QuotaConfig)
	}
	return out
}
