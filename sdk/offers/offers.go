// Package offers helps a framework decide what to do with resource offers:
// whether an offer can hold a task (scalars, fixed, ranged and dynamic
// ports, for the framework's role), whether its agent satisfies placement
// constraints (one per host, attribute equals or like), and how to build
// the ACCEPT operations (LAUNCH, LAUNCH_GROUP) for what was placed.
//
// A Pool is what is left of one offer while tasks are placed on it: Take
// carves out a Need and returns the resources to put in the TaskInfo, or a
// Misfit saying what the offer lacks ("no port 19998", "cpus 0.1 < 0.5").
// A Misfit is an expected outcome, not an error: a framework shows it to
// explain why it waits.
//
// The taken resources keep the offer's role, reservations and allocation
// info, so they are valid in an ACCEPT whether or not the framework is
// MULTI_ROLE.
package offers

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// PortSpec asks for one port. Exactly one form applies: a fixed Port; a
// range Min..Max (the lowest free port in it); or neither (Port, Min and
// Max all 0): any port the offer has (a dynamic port).
type PortSpec struct {
	// Name labels the port in the Match (e.g. "redis").
	Name string
	// Port is a fixed port; 0 means not fixed.
	Port uint64
	// Min and Max bound an acceptable range when Port is 0; both 0 means
	// any port.
	Min, Max uint64
}

// String formats the spec as "19998", "29998-30000" or "any".
func (p PortSpec) String() string {
	switch {
	case p.Port != 0:
		return strconv.FormatUint(p.Port, 10)
	case p.Min != 0 || p.Max != 0:
		return fmt.Sprintf("%d-%d", p.Min, p.Max)
	}
	return "any"
}

// ParsePort parses "19998" (fixed), "29998-30000" (a range), or "0" / ""
// / "any" (dynamic).
func ParsePort(s string) (PortSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || s == "any" {
		return PortSpec{}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if err1 != nil || err2 != nil || a == 0 || a > b {
			return PortSpec{}, fmt.Errorf("port range %q: want LOW-HIGH with 1 <= LOW <= HIGH <= 65535", s)
		}
		return PortSpec{Min: a, Max: b}, nil
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return PortSpec{}, fmt.Errorf("port %q: want a number 0-65535, LOW-HIGH or any", s)
	}
	return PortSpec{Port: p}, nil
}

// Need is what one task needs from an offer.
type Need struct {
	// Cpus, Mem (MB) and Disk (MB) are scalar amounts; 0 asks for none.
	Cpus, Mem, Disk float64
	// Ports are the ports the task needs, in order.
	Ports []PortSpec
}

// Match is what Take carved out of an offer for one Need.
type Match struct {
	// Resources go into TaskInfo.resources.
	Resources []*mesos.Resource
	// Ports holds the port granted for each PortSpec, in order.
	Ports []uint64
}

// Misfit says why an offer cannot hold a Need (or a constraint rules its
// agent out). It is a value, not an error.
type Misfit struct {
	// Resource is "cpus", "mem", "disk", "ports" or, for a constraint,
	// the attribute's name.
	Resource string
	// Reason is a short phrase such as "no port 19998".
	Reason string
}

// String is "resource: reason".
func (m Misfit) String() string { return m.Resource + ": " + m.Reason }

// Pool is the unused part of one offer. It is not safe for concurrent use.
type Pool struct {
	offer *mesos.Offer
	// scalars are the offer's scalar resources usable by the role, each
	// with what is left of it.
	scalars []*mesos.Resource
	// ports are the offer's port ranges usable by the role, each a
	// resource with its remaining ranges.
	ports []*mesos.Resource
}

// NewPool returns the usable part of o for a framework in role: resources
// that are unreserved or reserved to role (and, when the offer has
// allocation info, allocated to role). An empty role means "*".
func NewPool(o *mesos.Offer, role string) *Pool {
	if role == "" {
		role = "*"
	}
	p := &Pool{offer: o}
	for _, r := range o.GetResources() {
		if !usable(r, role) {
			continue
		}
		c := proto.Clone(r).(*mesos.Resource)
		switch {
		case r.GetType() == mesos.Value_SCALAR:
			p.scalars = append(p.scalars, c)
		case r.GetType() == mesos.Value_RANGES && r.GetName() == "ports":
			p.ports = append(p.ports, c)
		}
	}
	return p
}

// usable: r may be used by a framework in role.
func usable(r *mesos.Resource, role string) bool {
	if a := r.GetAllocationInfo(); a != nil && a.GetRole() != "" && a.GetRole() != role {
		return false
	}
	if r.GetDisk() != nil || r.GetShared() != nil || r.GetRevocable() != nil {
		return false
	}
	if n := len(r.GetReservations()); n > 0 {
		return r.GetReservations()[n-1].GetRole() == role
	}
	if r.GetReservation() != nil || (r.GetRole() != "" && r.GetRole() != "*") {
		return r.GetRole() == role
	}
	return true
}

// Offer returns the offer the pool was made from.
func (p *Pool) Offer() *mesos.Offer { return p.offer }

// Scalar returns how much of the named scalar is left.
func (p *Pool) Scalar(name string) float64 {
	var v float64
	for _, r := range p.scalars {
		if r.GetName() == name {
			v += r.GetScalar().GetValue()
		}
	}
	return v
}

// Fits reports whether n would fit, without taking it; the Misfit says why
// not.
func (p *Pool) Fits(n Need) (bool, Misfit) {
	c := p.clone()
	_, m, ok := c.Take(n)
	return ok, m
}

func (p *Pool) clone() *Pool {
	c := &Pool{offer: p.offer}
	for _, r := range p.scalars {
		c.scalars = append(c.scalars, proto.Clone(r).(*mesos.Resource))
	}
	for _, r := range p.ports {
		c.ports = append(c.ports, proto.Clone(r).(*mesos.Resource))
	}
	return c
}

// epsilon absorbs the rounding of scalar sums (Mesos keeps three decimals).
const epsilon = 0.0005

// Take carves n out of the pool. On success it returns the Match and true;
// otherwise the pool is unchanged and the Misfit says what is missing.
func (p *Pool) Take(n Need) (Match, Misfit, bool) {
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", n.Cpus}, {"mem", n.Mem}, {"disk", n.Disk}} {
		if s.v > 0 && p.Scalar(s.name)+epsilon < s.v {
			return Match{}, Misfit{Resource: s.name, Reason: fmt.Sprintf("%s offers %g, %g needed", s.name, round(p.Scalar(s.name)), s.v)}, false
		}
	}
	// Ports first, on a copy, since they may fail.
	portsLeft := make([]*mesos.Resource, len(p.ports))
	for i, r := range p.ports {
		portsLeft[i] = proto.Clone(r).(*mesos.Resource)
	}
	var m Match
	taken := map[int][]uint64{} // index into portsLeft -> ports
	for _, spec := range n.Ports {
		i, port, ok := pickPort(portsLeft, spec)
		if !ok {
			return Match{}, Misfit{Resource: "ports", Reason: "no port " + spec.String()}, false
		}
		removePort(portsLeft[i], port)
		taken[i] = append(taken[i], port)
		m.Ports = append(m.Ports, port)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", n.Cpus}, {"mem", n.Mem}, {"disk", n.Disk}} {
		m.Resources = append(m.Resources, p.takeScalar(s.name, s.v)...)
	}
	idx := make([]int, 0, len(taken))
	for i := range taken {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		r := proto.Clone(p.ports[i]).(*mesos.Resource)
		ps := taken[i]
		slices.Sort(ps)
		r.Ranges = &mesos.Value_Ranges{}
		for _, port := range ps {
			r.Ranges.Range = append(r.Ranges.Range, &mesos.Value_Range{Begin: proto.Uint64(port), End: proto.Uint64(port)})
		}
		m.Resources = append(m.Resources, r)
	}
	p.ports = portsLeft
	return m, Misfit{}, true
}

func round(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

// takeScalar removes v of name from the pool, from as many of its
// resources as needed, and returns the pieces.
func (p *Pool) takeScalar(name string, v float64) []*mesos.Resource {
	var out []*mesos.Resource
	for _, r := range p.scalars {
		if v <= epsilon {
			break
		}
		if r.GetName() != name || r.GetScalar().GetValue() <= epsilon {
			continue
		}
		have := r.GetScalar().GetValue()
		use := min(have, v)
		piece := proto.Clone(r).(*mesos.Resource)
		piece.Scalar = &mesos.Value_Scalar{Value: proto.Float64(round(use))}
		out = append(out, piece)
		r.Scalar = &mesos.Value_Scalar{Value: proto.Float64(round(have - use))}
		v -= use
	}
	return out
}

// pickPort finds a port for spec in rs: the fixed port, else the lowest
// port within the range, else the lowest port offered.
func pickPort(rs []*mesos.Resource, spec PortSpec) (int, uint64, bool) {
	lo, hi := spec.Min, spec.Max
	switch {
	case spec.Port != 0:
		lo, hi = spec.Port, spec.Port
	case lo == 0 && hi == 0:
		lo, hi = 1, 65535
	}
	best, bestI, found := uint64(0), 0, false
	for i, r := range rs {
		for _, rg := range r.GetRanges().GetRange() {
			b, e := max(rg.GetBegin(), lo), min(rg.GetEnd(), hi)
			if b <= e && (!found || b < best) {
				best, bestI, found = b, i, true
			}
		}
	}
	return bestI, best, found
}

// removePort removes port from r's ranges.
func removePort(r *mesos.Resource, port uint64) {
	var out []*mesos.Value_Range
	for _, rg := range r.GetRanges().GetRange() {
		b, e := rg.GetBegin(), rg.GetEnd()
		if port < b || port > e {
			out = append(out, rg)
			continue
		}
		if b < port {
			out = append(out, &mesos.Value_Range{Begin: proto.Uint64(b), End: proto.Uint64(port - 1)})
		}
		if port < e {
			out = append(out, &mesos.Value_Range{Begin: proto.Uint64(port + 1), End: proto.Uint64(e)})
		}
	}
	r.Ranges = &mesos.Value_Ranges{Range: out}
}

// Launch returns a LAUNCH operation for tasks.
func Launch(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

// LaunchGroup returns a LAUNCH_GROUP operation running tasks side by side
// under executor (a DEFAULT executor when its type is unset).
func LaunchGroup(executor *mesos.ExecutorInfo, tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	if executor.Type == nil {
		executor.Type = mesos.ExecutorInfo_DEFAULT.Enum()
	}
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
		LaunchGroup: &mesos.Offer_Operation_LaunchGroup{Executor: executor, TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks}}}
}

// Scalar returns an unreserved scalar resource, for building executors'
// and tasks' resources by hand.
func Scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}

// Allocate sets the allocation role of rs (for MULTI_ROLE frameworks
// building resources by hand) and returns rs.
func Allocate(rs []*mesos.Resource, role string) []*mesos.Resource {
	for _, r := range rs {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
	}
	return rs
}
