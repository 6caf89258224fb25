// Package offers helps a framework decide what to do with resource offers:
// whether an offer can hold a task (scalars, fixed, ranged and dynamic
// ports, and any other named scalar, range or set resource, for the
// framework's role), whether its agent satisfies placement constraints
// (one per host, attribute equals or like), and how to build the ACCEPT
// operations (LAUNCH, LAUNCH_GROUP) for what was placed.
//
// A Pool is what is left of one offer while tasks are placed on it: Take
// carves out a Need and returns the resources to put in the TaskInfo, or a
// Misfit saying what the offer lacks ("no port 19998", "cpus offers 0.1,
// 0.5 needed"). TakeAll places several Needs (a task group and its
// executor) all or none. A Misfit is an expected outcome, not an error: a
// framework shows it to explain why it waits.
//
// A Need names cpus, mem, disk and ports in fields, and anything else as
// resources in the text form of package resources (ParseNeed,
// "cpus:1;gpus:1;ports:[8080-8080];zone:{a}") or as a TaskInfo's
// resources (NeedOf). An unreserved resource in a Need may come from the
// offer's unreserved resources or from those reserved to the framework's
// role; a reserved one ("cpus(web):1") only from exactly that
// reservation. The Pool tries, in order: the Need as given; the whole
// Need statically reserved to the role; and piece by piece, the role's
// reservations first (as Mesos' Resources::find does).
//
// The taken resources keep the offer's reservations and allocation role,
// so they are valid in an ACCEPT whether or not the framework is
// MULTI_ROLE; they are written with both the reservations stack and the
// older role field (resources.FormatEndpoint), which every master reads.
package offers

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
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

// Need is what one task (or executor) needs from an offer.
type Need struct {
	// Cpus, Mem (MB) and Disk (MB) are scalar amounts; 0 asks for none.
	Cpus, Mem, Disk float64
	// Ports are the ports the task needs, in order; each is picked from
	// the offer's "ports" and reported in Match.Ports.
	Ports []PortSpec
	// Resources are further resources of any name and type (named
	// scalars, ranges, sets; reserved or not), on top of the fields above;
	// see ParseNeed and NeedOf. Their allocation role is ignored: taken
	// resources get the offer's.
	Resources resources.Resources
}

// ParseNeed reads a Need from the text form of package resources
// (resources.Parse): "cpus:0.5;mem:128;gpus:1;ports:[8080-8080];zone:{a}".
// A role in parentheses, "cpus(web):1", asks for resources statically
// reserved to that role.
func ParseNeed(text string) (Need, error) {
	r, err := resources.Parse(text, resources.UnreservedRole)
	if err != nil {
		return Need{}, fmt.Errorf("resource request %q: %w", text, err)
	}
	return Need{Resources: r}, nil
}

// NeedOf returns the Need of resources as a TaskInfo or an ExecutorInfo
// carries them (any of Mesos' three protobuf forms).
func NeedOf(rs []*mesos.Resource) (Need, error) {
	r, err := resources.FromProto(rs)
	if err != nil {
		return Need{}, fmt.Errorf("resource request: %w", err)
	}
	return Need{Resources: r.Unallocate()}, nil
}

// ErrBadNeed is wrapped by the error Need.Resolve returns for an amount
// that is not a resource amount (negative, NaN, too large).
var ErrBadNeed = errors.New("invalid resource request")

// Resolve returns the resources n asks for other than its Ports: Cpus, Mem
// and Disk as unreserved scalars plus Resources, unallocated.
func (n Need) Resolve() (resources.Resources, error) {
	want := n.Resources.Unallocate()
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", n.Cpus}, {"mem", n.Mem}, {"disk", n.Disk}} {
		if s.v == 0 {
			continue
		}
		q, err := resources.ScalarFromFloat(s.v)
		if err != nil {
			return resources.Resources{}, fmt.Errorf("%w: %s: %w", ErrBadNeed, s.name, err)
		}
		r, err := resources.New(resources.Resource{Name: s.name, Type: resources.ValueScalar, Scalar: q})
		if err != nil {
			return resources.Resources{}, fmt.Errorf("%w: %s: %w", ErrBadNeed, s.name, err)
		}
		want = want.Add(r)
	}
	return want, nil
}

// Match is what Take carved out of an offer for one Need.
type Match struct {
	// Resources go into TaskInfo.resources (or ExecutorInfo.resources).
	Resources []*mesos.Resource
	// Ports holds the port granted for each PortSpec, in order.
	Ports []uint64
}

// Misfit says why an offer cannot hold a Need (or a constraint rules its
// agent out). It is a value, not an error.
type Misfit struct {
	// Resource is the name of the resource the offer lacks ("cpus",
	// "ports", "gpus", ...), "request" for a Need that is not valid,
	// "resources" when each resource fits alone but not all together,
	// or, for a constraint, the attribute's name.
	Resource string
	// Reason is a short phrase such as "no port 19998" or "cpus offers
	// 0.1, 0.5 needed".
	Reason string
}

// String is "resource: reason".
func (m Misfit) String() string { return m.Resource + ": " + m.Reason }

// Pool is the unused part of one offer. It is not safe for concurrent use.
type Pool struct {
	offer *mesos.Offer
	role  string
	// alloc is the role the offer's resources are allocated to; "" when
	// the offer carries no allocation info. Taken resources get it.
	alloc string
	// left is what is unused of the offer's resources usable by role,
	// without allocation role.
	left resources.Resources
}

// NewPool returns the usable part of o for a framework in role: resources
// that are unreserved or reserved to role (and, when the offer has
// allocation info, allocated to role). An empty role means "*". A
// resource that package resources rejects as invalid is not usable.
func NewPool(o *mesos.Offer, role string) *Pool {
	if role == "" {
		role = resources.UnreservedRole
	}
	p := &Pool{offer: o, role: role}
	for _, m := range o.GetResources() {
		r, err := resources.ResourceFromProto(m)
		if err != nil {
			continue
		}
		if (r.AllocationRole != "" && r.AllocationRole != role) || (r.IsReserved() && r.Role() != role) {
			continue
		}
		if p.alloc == "" {
			p.alloc = r.AllocationRole
		}
		r.AllocationRole = ""
		one, err := resources.New(r)
		if err != nil {
			continue
		}
		p.left = p.left.Add(one)
	}
	return p
}

// Offer returns the offer the pool was made from.
func (p *Pool) Offer() *mesos.Offer { return p.offer }

// Left returns what is unused of the offer's resources usable by the
// role, without allocation role.
func (p *Pool) Left() resources.Resources { return p.left }

// plain: r is ordinary capacity of the agent, not a disk with a source or
// volume, nor revocable, nor shared; only plain resources serve the Cpus,
// Mem, Disk and Ports of a Need.
func plain(r *resources.Resource) bool { return r.Disk == nil && !r.Revocable && !r.Shared }

// Scalar returns how much of the named scalar is left (plain resources
// only, reserved to the role or not).
func (p *Pool) Scalar(name string) float64 {
	var v resources.Scalar
	for r := range p.left.All() {
		if r.Name == name && r.Type == resources.ValueScalar && plain(&r) {
			v = v.Add(r.Scalar)
		}
	}
	return v.Float()
}

// Fits reports whether n would fit, without taking it; the Misfit says why
// not.
func (p *Pool) Fits(n Need) (bool, Misfit) {
	saved := p.left
	_, m, ok := p.Take(n)
	p.left = saved
	return ok, m
}

// Take carves n out of the pool. On success it returns the Match and true;
// otherwise the pool is unchanged and the Misfit says what is missing.
func (p *Pool) Take(n Need) (Match, Misfit, bool) {
	ms, mis, ok := p.TakeAll(n)
	if !ok {
		return Match{}, mis, false
	}
	return ms[0], Misfit{}, true
}

// TakeAll carves every Need out of the pool, in order, or none of them:
// on a misfit the pool is unchanged. It places a task group together with
// its executor.
func (p *Pool) TakeAll(needs ...Need) ([]Match, Misfit, bool) {
	saved := p.left
	out := make([]Match, 0, len(needs))
	for _, n := range needs {
		m, mis, ok := p.take(n)
		if !ok {
			p.left = saved
			return nil, mis, false
		}
		out = append(out, m)
	}
	return out, Misfit{}, true
}

func (p *Pool) take(n Need) (Match, Misfit, bool) {
	want, err := n.Resolve()
	if err != nil {
		return Match{}, Misfit{Resource: "request", Reason: err.Error()}, false
	}
	taken, ok := carve(p.left, want, p.role)
	if !ok {
		return Match{}, explain(p.left, want), false
	}
	rest := p.left.Subtract(taken)
	var m Match
	if len(n.Ports) > 0 {
		var avail resources.Ranges
		for r := range rest.All() {
			if r.Name == "ports" && r.Type == resources.ValueRanges && plain(&r) {
				avail = avail.Add(r.Ranges)
			}
		}
		var picked resources.Ranges
		for _, spec := range n.Ports {
			port, ok := pickPort(avail, spec)
			if !ok {
				return Match{}, Misfit{Resource: "ports", Reason: "no port " + spec.String()}, false
			}
			one := resources.Ranges{{Begin: port, End: port}}
			avail, picked = avail.Subtract(one), picked.Add(one)
			m.Ports = append(m.Ports, port)
		}
		ports, err := resources.New(resources.Resource{Name: "ports", Type: resources.ValueRanges, Ranges: picked})
		if err != nil {
			return Match{}, Misfit{Resource: "ports", Reason: err.Error()}, false
		}
		// The picked ports are in rest, reserved to the role or not.
		tp, ok := carve(rest, ports, p.role)
		if !ok {
			return Match{}, explain(rest, ports), false
		}
		taken, rest = taken.Add(tp), rest.Subtract(tp)
	}
	p.left = rest
	if p.alloc != "" {
		taken = taken.Allocate(p.alloc)
	}
	m.Resources = resources.ToProto(taken, resources.FormatEndpoint)
	return m, Misfit{}, true
}

// pickPort finds a port for spec in avail: the fixed port, else the
// lowest port within the range, else the lowest port offered.
func pickPort(avail resources.Ranges, spec PortSpec) (uint64, bool) {
	lo, hi := spec.Min, spec.Max
	switch {
	case spec.Port != 0:
		lo, hi = spec.Port, spec.Port
	case lo == 0 && hi == 0:
		lo, hi = 1, 65535
	}
	for _, rg := range avail { // sorted: the first overlap is the lowest
		if b, e := max(rg.Begin, lo), min(rg.End, hi); b <= e {
			return b, true
		}
	}
	return 0, false
}

// carve returns the resources of left that serve want for a framework in
// role, trying in turn: want as given; all of want statically reserved to
// role; and resource by resource, what is reserved to role first, then
// unreserved. ok is false when left cannot serve want.
func carve(left, want resources.Resources, role string) (resources.Resources, bool) {
	if left.Contains(want) {
		return want, true
	}
	if role != resources.UnreservedRole {
		r, err := want.PushReservation(resources.Reservation{Type: resources.ReservationStatic, Role: role})
		if err == nil && left.Contains(r) {
			return r, true
		}
	}
	rest, taken := left, resources.Resources{}
	var flexible []resources.Resource
	for w := range want.All() {
		if w.IsUnreserved() && plainOrPathDisk(&w) {
			flexible = append(flexible, w)
			continue
		}
		// Reserved resources, volumes and whole disks: exactly as asked.
		one, err := resources.New(w)
		if err != nil || !rest.Contains(one) {
			return resources.Resources{}, false
		}
		rest, taken = rest.Subtract(one), taken.Add(one)
	}
	for _, w := range flexible {
		pieces, ok := split(rest, w)
		if !ok {
			return resources.Resources{}, false
		}
		rest, taken = rest.Subtract(pieces), taken.Add(pieces)
	}
	return taken, true
}

// plainOrPathDisk: r may be served by several entries of an offer.
func plainOrPathDisk(r *resources.Resource) bool {
	return !r.Shared && (r.Disk == nil || (r.Disk.Persistence == nil && r.Disk.Source == nil))
}

// split serves the unreserved want w from the entries of left that differ
// from it only in reservation, the role's reservations first.
func split(left resources.Resources, w resources.Resource) (resources.Resources, bool) {
	need := w
	var pieces []resources.Resource
	for _, reserved := range []bool{true, false} {
		for e := range left.All() {
			if e.IsReserved() != reserved || !sameButReservations(&need, &e) {
				continue
			}
			piece, rem := overlap(e, need)
			if piece.IsEmpty() {
				continue
			}
			pieces, need = append(pieces, piece), rem
			if need.IsEmpty() {
				out, err := resources.New(pieces...)
				return out, err == nil
			}
		}
	}
	return resources.Resources{}, false
}

// sameButReservations: a and b have the same identity apart from their
// reservations and allocation role.
func sameButReservations(a, b *resources.Resource) bool {
	x, y := *a, *b
	x.Reservations, y.Reservations = nil, nil
	x.AllocationRole, y.AllocationRole = "", ""
	y.Scalar, y.Ranges, y.Set = x.Scalar, x.Ranges, x.Set
	return x.Equal(&y)
}

// overlap returns the part of e that need can use (e's identity, the
// common value) and what need still lacks after it.
func overlap(e, need resources.Resource) (piece, rem resources.Resource) {
	piece, rem = e, need
	switch need.Type {
	case resources.ValueScalar:
		piece.Scalar = min(e.Scalar, need.Scalar)
		rem.Scalar = need.Scalar.Sub(piece.Scalar)
	case resources.ValueRanges:
		piece.Ranges = e.Ranges.Intersect(need.Ranges)
		rem.Ranges = need.Ranges.Subtract(piece.Ranges)
	case resources.ValueSet:
		piece.Set, rem.Set = nil, nil
		for _, item := range need.Set {
			if slices.Contains(e.Set, item) {
				piece.Set = append(piece.Set, item)
			} else {
				rem.Set = append(rem.Set, item)
			}
		}
	}
	return piece, rem
}

// explain names the first resource of want that left cannot serve.
func explain(left, want resources.Resources) Misfit {
	for w := range want.All() {
		if !w.IsUnreserved() || !plainOrPathDisk(&w) {
			one, err := resources.New(w)
			if err != nil || !left.Contains(one) {
				return Misfit{Resource: w.Name, Reason: fmt.Sprintf("no %s offered", resources.Format(one))}
			}
			continue
		}
		have := w
		have.Scalar, have.Ranges, have.Set = 0, nil, nil
		for e := range left.All() {
			if !sameButReservations(&w, &e) {
				continue
			}
			have.Scalar = have.Scalar.Add(e.Scalar)
			have.Ranges = have.Ranges.Add(e.Ranges)
			for _, item := range e.Set {
				if !slices.Contains(have.Set, item) {
					have.Set = append(have.Set, item)
				}
			}
		}
		if _, rem := overlap(have, w); rem.IsEmpty() {
			continue
		}
		switch w.Type {
		case resources.ValueScalar:
			return Misfit{Resource: w.Name, Reason: fmt.Sprintf("%s offers %g, %g needed", w.Name, have.Scalar.Float(), w.Scalar.Float())}
		case resources.ValueRanges:
			return Misfit{Resource: w.Name, Reason: fmt.Sprintf("%s offers %v, %v needed", w.Name, have.Ranges, w.Ranges)}
		default:
			slices.Sort(have.Set)
			return Misfit{Resource: w.Name, Reason: fmt.Sprintf("%s offers {%s}, {%s} needed", w.Name,
				strings.Join(have.Set, ","), strings.Join(w.Set, ","))}
		}
	}
	// Each resource fits alone but not all together (the role's
	// reservations and the unreserved ones split unevenly).
	return Misfit{Resource: "resources", Reason: fmt.Sprintf("the offer cannot hold %v", want)}
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
