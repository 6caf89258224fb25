package resources

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
)

// Resources is a normalized collection of resources, the unit the master,
// the allocator and the agents exchange. The zero value is empty and ready
// to use.
//
// A Resources value is immutable: every method returns a new value and
// leaves its receiver and arguments alone, so values may be copied and
// shared freely (results may share memory with their inputs).
//
// The collection is kept canonical: resources sorted by name and then the
// rest of their identity, empty resources dropped, and resources that may
// be combined combined (see the package doc), so that equal collections
// have equal contents and Add, Subtract, Contains and Equal are single
// merge passes.
type Resources struct {
	items []item
}

// item is one entry of Resources: a resource and, for a shared resource,
// how many copies of it the collection holds (Mesos' shared count). count
// is 1 for every other resource.
type item struct {
	r     Resource
	count int
}

// New returns the sum of rs. It fails if some resource is invalid (see
// Resource.Validate); empty resources are dropped.
func New(rs ...Resource) (Resources, error) {
	items := make([]item, 0, len(rs))
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return Resources{}, err
		}
		if rs[i].IsEmpty() {
			continue
		}
		items = append(items, item{r: rs[i].normalized(), count: 1})
	}
	return canonical(items), nil
}

// canonical sorts items and combines those that combine. It reuses the
// items' memory.
func canonical(items []item) Resources {
	if len(items) == 0 {
		return Resources{}
	}
	slices.SortStableFunc(items, func(a, b item) int { return compareItems(&a.r, &b.r) })
	out := items[:1]
	for _, it := range items[1:] {
		last := &out[len(out)-1]
		if last.r.compareIdentity(&it.r) == 0 {
			switch {
			case !last.r.indivisible():
				last.r = addValue(last.r, &it.r)
				continue
			case last.r.Shared && last.r.compareValue(&it.r) == 0:
				last.count += it.count
				continue
			}
		}
		out = append(out, it)
	}
	return Resources{items: out}
}

// compareItems is the canonical order: by identity, then by value (which
// only matters for indivisible resources, the only ones that may share an
// identity inside one Resources).
func compareItems(a, b *Resource) int {
	if c := a.compareIdentity(b); c != 0 {
		return c
	}
	return a.compareValue(b)
}

// compareEntries orders a against b as Add, Subtract and Contains walk
// them: divisible resources by identity alone (their values combine),
// indivisible ones by identity and value.
func compareEntries(a, b *Resource) int {
	c := a.compareIdentity(b)
	if c == 0 && a.indivisible() {
		c = a.compareValue(b)
	}
	return c
}

// addValue returns r with o's value added. Both have r's identity.
func addValue(r Resource, o *Resource) Resource {
	switch r.Type {
	case ValueScalar:
		r.Scalar = r.Scalar.Add(o.Scalar)
	case ValueRanges:
		r.Ranges = r.Ranges.Add(o.Ranges)
	case ValueSet:
		r.Set = setUnion(r.Set, o.Set)
	}
	return r
}

// subtractValue returns r with o's value taken away, and whether anything
// is left (a scalar that would turn negative is gone).
func subtractValue(r Resource, o *Resource) (Resource, bool) {
	switch r.Type {
	case ValueScalar:
		r.Scalar = r.Scalar.Sub(o.Scalar)
		return r, r.Scalar > 0
	case ValueRanges:
		r.Ranges = r.Ranges.Subtract(o.Ranges)
		return r, len(r.Ranges) > 0
	case ValueSet:
		r.Set = setDifference(r.Set, o.Set)
		return r, len(r.Set) > 0
	}
	return r, false
}

// containsValue reports whether r's value includes o's.
func containsValue(r, o *Resource) bool {
	switch r.Type {
	case ValueScalar:
		return r.Scalar >= o.Scalar
	case ValueRanges:
		return r.Ranges.Contains(o.Ranges)
	case ValueSet:
		return setContains(r.Set, o.Set)
	}
	return false
}

// Len returns the number of distinct resources in rs (a shared resource
// held in several copies counts once).
func (rs Resources) Len() int { return len(rs.items) }

// IsEmpty reports whether rs holds nothing.
func (rs Resources) IsEmpty() bool { return len(rs.items) == 0 }

// At returns the i-th resource in canonical order, 0 ≤ i < Len().
func (rs Resources) At(i int) Resource { return rs.items[i].r }

// All yields the resources of rs in canonical order, each distinct
// resource once.
func (rs Resources) All() iter.Seq[Resource] {
	return func(yield func(Resource) bool) {
		for i := range rs.items {
			if !yield(rs.items[i].r) {
				return
			}
		}
	}
}

// Count returns how many copies of r the collection holds: the shared
// count for a shared resource; for any other, the number of entries equal
// to r (0 or 1, except for repeated indivisible resources).
func (rs Resources) Count(r Resource) int {
	r = r.normalized()
	n := 0
	for i := range rs.items {
		if rs.items[i].r.Equal(&r) {
			n += rs.items[i].count
		}
	}
	return n
}

// Clone returns a copy of rs that shares no memory with it.
func (rs Resources) Clone() Resources {
	if rs.items == nil {
		return Resources{}
	}
	items := slices.Clone(rs.items)
	for i := range items {
		r := &items[i].r
		r.Ranges = slices.Clone(r.Ranges)
		r.Set = slices.Clone(r.Set)
		if r.Reservations != nil {
			r.Reservations = slices.Clone(r.Reservations)
			for j := range r.Reservations {
				r.Reservations[j].Labels = slices.Clone(r.Reservations[j].Labels)
			}
		}
		if d := r.Disk; d != nil {
			c := &DiskInfo{}
			if d.Persistence != nil {
				p := *d.Persistence
				c.Persistence = &p
			}
			if d.Volume != nil {
				v := *d.Volume
				c.Volume = &v
			}
			if d.Source != nil {
				s := *d.Source
				s.Metadata = slices.Clone(s.Metadata)
				c.Source = &s
			}
			r.Disk = c
		}
	}
	return Resources{items: items}
}

// Add returns rs + o. Resources of the same identity combine: scalars add,
// ranges and sets unite, copies of a shared resource are counted.
// Indivisible resources (persistent volumes, MOUNT and BLOCK disks, RAW
// disks with an ID) never combine, each stays a separate entry.
func (rs Resources) Add(o Resources) Resources {
	switch {
	case len(o.items) == 0:
		return rs
	case len(rs.items) == 0:
		return o
	}
	a, b := rs.items, o.items
	out := make([]item, 0, addedLen(a, b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x, y := &a[i], &b[j]
		switch c := compareEntries(&x.r, &y.r); {
		case c < 0:
			out = append(out, *x)
			i++
		case c > 0:
			out = append(out, *y)
			j++
		case !x.r.indivisible():
			out = append(out, item{r: addValue(x.r, &y.r), count: 1})
			i++
			j++
		case x.r.Shared:
			out = append(out, item{r: x.r, count: x.count + y.count})
			i++
			j++
		default: // two copies of one indivisible resource stay apart
			out = append(out, *x)
			i++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	return Resources{items: out}
}

// addedLen returns the number of items of a + b. Counting first lets Add
// allocate exactly: the typical sum (a task's resources added to an
// agent's) has few new identities.
func addedLen(a, b []item) int {
	n := len(a) + len(b)
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x, y := &a[i].r, &b[j].r
		switch c := compareEntries(x, y); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			if !x.indivisible() || x.Shared {
				n--
				j++
			}
			i++
		}
	}
	return n
}

// Subtract returns rs − o with Mesos' semantics: each resource of o is
// taken from the resource of rs with the same identity; a scalar that
// would go negative and ranges or sets that become empty are removed, so
// the result never holds negative amounts; ranges and sets are subtracted
// element by element. An indivisible resource is removed only by an equal
// one, and a shared resource loses o's count of copies. Resources of o that
// rs lacks are ignored.
func (rs Resources) Subtract(o Resources) Resources {
	if len(o.items) == 0 || len(rs.items) == 0 {
		return rs
	}
	a, b := rs.items, o.items
	out := make([]item, 0, len(a))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x, y := &a[i], &b[j]
		switch c := compareEntries(&x.r, &y.r); {
		case c < 0:
			out = append(out, *x)
			i++
			continue
		case c > 0:
			j++
			continue
		case !x.r.indivisible():
			if r, left := subtractValue(x.r, &y.r); left {
				out = append(out, item{r: r, count: 1})
			}
		case x.r.Shared:
			if n := x.count - y.count; n > 0 {
				out = append(out, item{r: x.r, count: n})
			}
		}
		i++
		j++
	}
	out = append(out, a[i:]...)
	if len(out) == 0 {
		return Resources{}
	}
	return Resources{items: out}
}

// Contains reports whether rs ⊇ o: rs - o takes away all of o. For
// divisible resources that means enough of the value under the same
// identity; an indivisible resource must be present as an equal resource
// (each copy of o needing its own copy in rs); a shared resource needs at
// least as many copies.
func (rs Resources) Contains(o Resources) bool {
	a, b := rs.items, o.items
	i := 0
	for j := range b {
		y := &b[j]
		c := 1
		for i < len(a) {
			if c = compareEntries(&a[i].r, &y.r); c >= 0 {
				break
			}
			i++
		}
		if c != 0 {
			return false
		}
		x := &a[i]
		switch {
		case !x.r.indivisible():
			if !containsValue(&x.r, &y.r) {
				return false
			}
		case x.r.Shared:
			if x.count < y.count {
				return false
			}
		}
		i++
	}
	return true
}

// Equal reports whether rs and o hold the same resources.
func (rs Resources) Equal(o Resources) bool {
	return slices.EqualFunc(rs.items, o.items, func(x, y item) bool {
		return x.count == y.count && x.r.Equal(&y.r)
	})
}

// Sum returns the sum of all of rss, combining in one pass.
func Sum(rss ...Resources) Resources {
	n := 0
	for _, rs := range rss {
		n += len(rs.items)
	}
	items := make([]item, 0, n)
	for _, rs := range rss {
		items = append(items, rs.items...)
	}
	return canonical(items)
}

// Filter returns the resources of rs for which keep returns true. keep
// must not modify the resource it is given.
func (rs Resources) Filter(keep func(r *Resource) bool) Resources {
	var out []item // nil while every item so far is kept
	for i := range rs.items {
		switch {
		case !keep(&rs.items[i].r):
			if out == nil {
				out = make([]item, i, len(rs.items)-1)
				copy(out, rs.items[:i])
			}
		case out != nil:
			out = append(out, rs.items[i])
		}
	}
	switch {
	case out == nil:
		return rs
	case len(out) == 0:
		return Resources{}
	}
	return Resources{items: out}
}

// ByName returns the resources named name.
func (rs Resources) ByName(name string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.Name == name })
}

// Scalars returns the scalar resources.
func (rs Resources) Scalars() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Type == ValueScalar })
}

// Reserved returns the resources reserved for role, or, when role is "",
// all reserved resources. Only the most refined reservation counts: a
// resource reserved for "a" and refined to "a/b" is reserved for "a/b".
func (rs Resources) Reserved(role string) Resources {
	return rs.Filter(func(r *Resource) bool {
		return r.IsReserved() && (role == "" || r.Role() == role)
	})
}

// Unreserved returns the unreserved resources.
func (rs Resources) Unreserved() Resources {
	return rs.Filter((*Resource).IsUnreserved)
}

// ReservedToSubtree returns the resources reserved for role or for one of
// its subroles ("a" gives those reserved for "a", "a/b", "a/b/c", ...).
func (rs Resources) ReservedToSubtree(role string) Resources {
	return rs.Filter(func(r *Resource) bool {
		return r.IsReserved() && inRoleSubtree(r.Role(), role)
	})
}

// AllocatableTo returns the resources role may be allocated: unreserved
// ones and those reserved for role or for one of its ancestors ("a/b" may
// use what is reserved for "a", not what is reserved for "a/b/c").
func (rs Resources) AllocatableTo(role string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.IsAllocatableTo(role) })
}

// AllocatedTo returns the resources allocated to role.
func (rs Resources) AllocatedTo(role string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.AllocationRole == role })
}

// AllocatedToSubtree returns the resources allocated to role or to one of
// its subroles.
func (rs Resources) AllocatedToSubtree(role string) Resources {
	return rs.Filter(func(r *Resource) bool {
		return r.AllocationRole != "" && inRoleSubtree(r.AllocationRole, role)
	})
}

// Revocable returns the revocable resources.
func (rs Resources) Revocable() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Revocable })
}

// NonRevocable returns the resources that are not revocable.
func (rs Resources) NonRevocable() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.Revocable })
}

// Shared returns the shared resources.
func (rs Resources) Shared() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Shared })
}

// NonShared returns the resources that are not shared.
func (rs Resources) NonShared() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.Shared })
}

// PersistentVolumes returns the persistent volumes.
func (rs Resources) PersistentVolumes() Resources {
	return rs.Filter((*Resource).IsPersistentVolume)
}

// Reservations groups the reserved resources by the role they are reserved
// for (the most refined reservation's role).
func (rs Resources) Reservations() map[string]Resources {
	return rs.groupBy(func(r *Resource) (string, bool) { return r.Role(), r.IsReserved() })
}

// Allocations groups the allocated resources by their allocation role.
func (rs Resources) Allocations() map[string]Resources {
	return rs.groupBy(func(r *Resource) (string, bool) { return r.AllocationRole, r.AllocationRole != "" })
}

func (rs Resources) groupBy(key func(*Resource) (string, bool)) map[string]Resources {
	out := map[string]Resources{}
	for i := range rs.items {
		if k, ok := key(&rs.items[i].r); ok {
			g := out[k]
			g.items = append(g.items, rs.items[i])
			out[k] = g
		}
	}
	return out
}

// Names returns the distinct resource names, sorted.
func (rs Resources) Names() []string {
	var names []string
	for i := range rs.items {
		if n := rs.items[i].r.Name; len(names) == 0 || names[len(names)-1] != n {
			names = append(names, n)
		}
	}
	return names
}

// ScalarOf returns the total of the scalar resources named name, whatever
// their reservations and other metadata (0 if there are none).
func (rs Resources) ScalarOf(name string) Scalar {
	var total Scalar
	for i := range rs.items {
		if r := &rs.items[i].r; r.Name == name && r.Type == ValueScalar {
			total = total.Add(r.Scalar)
		}
	}
	return total
}

// RangesOf returns the union of the ranges resources named name.
func (rs Resources) RangesOf(name string) Ranges {
	var total Ranges
	for i := range rs.items {
		if r := &rs.items[i].r; r.Name == name && r.Type == ValueRanges {
			total = total.Add(r.Ranges)
		}
	}
	return total
}

// SetOf returns the union of the set resources named name, sorted.
func (rs Resources) SetOf(name string) []string {
	var total []string
	for i := range rs.items {
		if r := &rs.items[i].r; r.Name == name && r.Type == ValueSet {
			total = setUnion(total, r.Set)
		}
	}
	return total
}

// ScalarQuantities returns the total of each scalar resource by name,
// ignoring all other metadata; this is what DRF shares and quota are
// computed from. A shared resource counts once however many copies rs
// holds, as in Mesos.
func (rs Resources) ScalarQuantities() Quantities {
	var q []Quantity
	for i := range rs.items {
		r := &rs.items[i].r
		if r.Type != ValueScalar {
			continue
		}
		if n := len(q); n > 0 && q[n-1].Name == r.Name {
			q[n-1].Value = q[n-1].Value.Add(r.Scalar)
		} else {
			q = append(q, Quantity{Name: r.Name, Value: r.Scalar})
		}
	}
	return Quantities{q: q}
}

// Quantities returns the quantity of every resource by name: scalars by
// value, ranges by how many integers they hold, sets by how many items,
// ignoring all other metadata (Mesos' ResourceQuantities::fromResources).
func (rs Resources) Quantities() Quantities {
	if len(rs.items) == 0 {
		return Quantities{}
	}
	q := make([]Quantity, 0, len(rs.items))
	for i := range rs.items {
		r := &rs.items[i].r
		v := r.quantity()
		if n := len(q); n > 0 && q[n-1].Name == r.Name {
			q[n-1].Value = q[n-1].Value.Add(v)
		} else {
			q = append(q, Quantity{Name: r.Name, Value: v})
		}
	}
	return Quantities{q: q}
}

// QuantitySeq yields each resource name with its total quantity, in
// name order, as Quantities holds them, without building them: the
// allocator's per-agent arithmetic reads them into its own vectors.
func (rs Resources) QuantitySeq() iter.Seq2[string, Scalar] {
	return func(yield func(string, Scalar) bool) {
		var name string
		var sum Scalar
		have := false
		for i := range rs.items {
			r := &rs.items[i].r
			if have && r.Name == name {
				sum = sum.Add(r.quantity())
				continue
			}
			if have && !yield(name, sum) {
				return
			}
			name, sum, have = r.Name, r.quantity(), true
		}
		if have {
			yield(name, sum)
		}
	}
}

// quantity returns r's size as a Scalar.
func (r *Resource) quantity() Scalar {
	switch r.Type {
	case ValueScalar:
		return r.Scalar
	case ValueRanges:
		n := r.Ranges.Count()
		if n > math.MaxInt64/1000 {
			return math.MaxInt64
		}
		return ScalarFromInt(int64(n))
	case ValueSet:
		return ScalarFromInt(int64(len(r.Set)))
	}
	return 0
}

// ContainsQuantities reports whether rs holds at least q of each name,
// counting every resource of the name whatever its metadata.
func (rs Resources) ContainsQuantities(q Quantities) bool {
	return rs.Quantities().Contains(q)
}

// ToUnreserved returns rs with every reservation removed.
func (rs Resources) ToUnreserved() Resources {
	return rs.mapItems(func(r *Resource) bool {
		if len(r.Reservations) == 0 {
			return false
		}
		r.Reservations = nil
		return true
	})
}

// PushReservation returns rs with res added on top of every resource's
// reservation stack. On an unreserved resource res may be static or
// dynamic; on a reserved one it must be a dynamic reservation for a strict
// subrole of the current role (a refinement).
func (rs Resources) PushReservation(res Reservation) (Resources, error) {
	res.Labels = sortLabels(res.Labels)
	items := slices.Clone(rs.items)
	for i := range items {
		r := &items[i].r
		stack := make([]Reservation, len(r.Reservations)+1)
		copy(stack, r.Reservations)
		stack[len(stack)-1] = res
		r.Reservations = stack
		if err := validateReservations(stack); err != nil {
			return Resources{}, fmt.Errorf("push reservation onto %v: %w: %s", rs.items[i].r, ErrInvalidResource, err)
		}
	}
	return canonical(items), nil
}

// PopReservation returns rs with the top reservation of every resource
// removed. It fails if some resource is unreserved.
func (rs Resources) PopReservation() (Resources, error) {
	items := slices.Clone(rs.items)
	for i := range items {
		r := &items[i].r
		if len(r.Reservations) == 0 {
			return Resources{}, fmt.Errorf("pop reservation of %v: %w: it is not reserved", rs.items[i].r, ErrInvalidResource)
		}
		r.Reservations = r.Reservations[: len(r.Reservations)-1 : len(r.Reservations)-1]
		if len(r.Reservations) == 0 {
			r.Reservations = nil
		}
	}
	return canonical(items), nil
}

// Allocate returns rs with every resource allocated to role.
func (rs Resources) Allocate(role string) Resources {
	return rs.mapItems(func(r *Resource) bool {
		if r.AllocationRole == role {
			return false
		}
		r.AllocationRole = role
		return true
	})
}

// Unallocate returns rs with no resource allocated.
func (rs Resources) Unallocate() Resources {
	return rs.Allocate("")
}

// mapItems applies change to a copy of every resource; change reports
// whether it changed anything. If nothing changed it returns rs itself.
func (rs Resources) mapItems(change func(*Resource) bool) Resources {
	var items []item
	for i := range rs.items {
		r := rs.items[i].r
		if !change(&r) {
			continue
		}
		if items == nil {
			items = slices.Clone(rs.items)
		}
		items[i].r = r
	}
	if items == nil {
		return rs
	}
	return canonical(items)
}

// String formats rs as Mesos does, for logs:
// "cpus:4; mem:1024; ports:[31000-32000]", or "{}" when empty.
func (rs Resources) String() string {
	if len(rs.items) == 0 {
		return "{}"
	}
	var b []byte
	for i := range rs.items {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = rs.items[i].r.appendString(b)
	}
	return string(b)
}

// setUnion returns the sorted union of two sorted, unique string slices.
func setUnion(a, b []string) []string {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return b
	case setContains(a, b):
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// setDifference returns the items of sorted a not in sorted b.
func setDifference(a, b []string) []string {
	var out []string
	j := 0
	for i, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			if out == nil {
				out = make([]string, i, len(a))
				copy(out, a[:i])
			}
			continue
		}
		if out != nil {
			out = append(out, x)
		}
	}
	if out == nil {
		return a // nothing removed
	}
	return out
}

// setContains reports whether sorted a includes every item of sorted b.
func setContains(a, b []string) bool {
	i := 0
	for _, y := range b {
		for i < len(a) && a[i] < y {
			i++
		}
		if i == len(a) || a[i] != y {
			return false
		}
		i++
	}
	return true
}
