package resources

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// gen produces random resources from a small universe, so that random
// collections often share identities. Ranges use the integers
// [base, base+63] and sets the letters from setBase, so two generators
// with different bases produce disjoint ranges and sets.
type gen struct {
	rng       *rand.Rand
	base      uint64
	setBase   byte
	plainOnly bool // only what the --resources text form can express
	narrow    bool // few identities, mostly disks, so that copies meet often
}

var reservationChoices = [][]Reservation{
	nil,
	{{Type: ReservationStatic, Role: "a"}},
	{{Type: ReservationStatic, Role: "b"}},
	{{Type: ReservationDynamic, Role: "a", Principal: "p1"}},
	{{Type: ReservationDynamic, Role: "a", Principal: "p2"}},
	{{Type: ReservationStatic, Role: "a"}, {Type: ReservationDynamic, Role: "a/b"}},
	{{Type: ReservationDynamic, Role: "a", Principal: "p1"}, {Type: ReservationDynamic, Role: "a/b", Labels: []Label{{Key: "k", Value: "v", HasValue: true}}}},
}

var diskChoices = []func() *DiskInfo{
	func() *DiskInfo { return nil },
	func() *DiskInfo { return &DiskInfo{Persistence: &Persistence{ID: "v1"}} },
	func() *DiskInfo {
		return &DiskInfo{Persistence: &Persistence{ID: "v2"}, Volume: &Volume{ContainerPath: "d", Mode: VolumeRW}}
	},
	func() *DiskInfo { return &DiskInfo{Source: &DiskSource{Type: DiskSourceMount, Root: "/m"}} },
	func() *DiskInfo { return &DiskInfo{Source: &DiskSource{Type: DiskSourcePath, Root: "/p"}} },
	func() *DiskInfo { return &DiskInfo{Source: &DiskSource{Type: DiskSourceRaw, ID: "r1"}} },
	func() *DiskInfo { return &DiskInfo{Source: &DiskSource{Type: DiskSourceRaw}} },
}

func (g *gen) scalar() Scalar {
	if g.rng.IntN(2) == 0 {
		return ScalarFromInt(int64(1 + g.rng.IntN(8)))
	}
	return Scalar(1 + g.rng.IntN(5000))
}

func (g *gen) resource() Resource {
	var r Resource
	kind := g.rng.IntN(5)
	if g.narrow && g.rng.IntN(3) > 0 {
		kind = 4
	}
	switch kind {
	case 0:
		r = Resource{Name: "cpus", Type: ValueScalar, Scalar: g.scalar()}
	case 1:
		r = Resource{Name: "mem", Type: ValueScalar, Scalar: g.scalar()}
	case 2:
		var b bits
		for b == 0 {
			b = randomBits(g.rng)
		}
		r = Resource{Name: "ports", Type: ValueRanges, Ranges: shift(b.ranges(), g.base)}
	case 3:
		var items []string
		for len(items) == 0 {
			for i := range 6 {
				if g.rng.IntN(3) == 0 {
					items = append(items, string(rune(g.setBase+byte(i))))
				}
			}
		}
		r = Resource{Name: "bugs", Type: ValueSet, Set: items}
	case 4:
		r = Resource{Name: "disk", Type: ValueScalar, Scalar: g.scalar()}
		if !g.plainOnly && (g.narrow || g.rng.IntN(2) == 0) {
			r.Disk = diskChoices[g.rng.IntN(len(diskChoices))]()
			if r.indivisible() {
				r.Scalar = ScalarFromInt(int64(1 + g.rng.IntN(2))) // so that copies meet
			}
		}
	}
	if g.plainOnly {
		if g.rng.IntN(3) == 0 {
			r.Reservations = []Reservation{{Type: ReservationStatic, Role: []string{"a", "b", "a/b"}[g.rng.IntN(3)]}}
		}
		return r
	}
	if g.narrow {
		r.Reservations = reservationChoices[g.rng.IntN(2)]
		r.Shared = r.IsPersistentVolume() && g.rng.IntN(2) == 0
		return r
	}
	if g.rng.IntN(2) == 0 {
		r.Reservations = reservationChoices[g.rng.IntN(len(reservationChoices))]
	}
	r.Revocable = g.rng.IntN(10) == 0
	r.Shared = r.IsPersistentVolume() && g.rng.IntN(2) == 0
	if g.rng.IntN(6) == 0 {
		r.AllocationRole = "a"
	}
	if g.rng.IntN(12) == 0 {
		r.ProviderID = "rp"
	}
	return r
}

func shift(rs Ranges, by uint64) Ranges {
	out := slices.Clone(rs)
	for i := range out {
		out[i].Begin += by
		out[i].End += by
	}
	return out
}

func (g *gen) list() []Resource {
	list := make([]Resource, g.rng.IntN(8))
	for i := range list {
		list[i] = g.resource()
	}
	return list
}

func (g *gen) resources(t testing.TB) Resources { return mustNew(t, g.list()...) }

// ref is a reference model of Resources that follows Mesos' algorithm
// literally: an unordered list where each added resource merges into the
// first entry it may be added to, each subtracted one is taken from the
// first entry it may be subtracted from, and Contains works on a copy,
// consuming indivisible resources as it finds them. Values are kept in an
// independent representation (bitsets for ranges and sets).
type ref []refEntry

type refEntry struct {
	key         string // identity, rendered as text
	meta        Resource
	indivisible bool
	scalar      int64
	ports       uint64 // bit i = port base+i
	set         uint64 // bit i = letter 'a'+i
	count       int
}

func toRefEntry(r Resource, count int) refEntry {
	e := refEntry{meta: r, count: count, indivisible: r.indivisible(), scalar: int64(r.Scalar)}
	e.meta.Scalar, e.meta.Ranges, e.meta.Set = 0, nil, nil
	disk := ""
	if d := r.Disk; d != nil {
		if s := d.Source; s != nil {
			disk += fmt.Sprintf("src=%v,%s,%s;", s.Type, s.Root, s.ID)
		}
		if p := d.Persistence; p != nil {
			disk += "pv=" + p.ID
		}
	}
	e.key = fmt.Sprintf("%s|%v|%v|%s|%v|%v|%s|%s", r.Name, r.Type, r.Reservations, disk, r.Revocable, r.Shared, r.AllocationRole, r.ProviderID)
	for _, rg := range r.Ranges {
		for p := rg.Begin; p <= rg.End; p++ {
			e.ports |= 1 << p
		}
	}
	for _, it := range r.Set {
		e.set |= 1 << (it[0] - 'a')
	}
	return e
}

func (e *refEntry) empty() bool {
	return e.scalar <= 0 && e.ports == 0 && e.set == 0 || e.count <= 0
}

func (e *refEntry) sameValue(o *refEntry) bool {
	return e.scalar == o.scalar && e.ports == o.ports && e.set == o.set
}

func (e *refEntry) containsValue(o *refEntry) bool {
	return e.scalar >= o.scalar && e.ports&o.ports == o.ports && e.set&o.set == o.set
}

func (e *refEntry) shared() bool { return e.meta.Shared }

func toRef(rs Resources) ref {
	var out ref
	for _, it := range rs.items {
		out = append(out, toRefEntry(it.r, it.count))
	}
	return out
}

func (m ref) add(e refEntry) ref {
	if e.empty() {
		return m
	}
	for i := range m {
		x := &m[i]
		if x.key != e.key {
			continue
		}
		switch {
		case x.shared() && x.sameValue(&e):
			x.count += e.count
			return m
		case !x.shared() && !x.indivisible:
			x.scalar += e.scalar
			x.ports |= e.ports
			x.set |= e.set
			return m
		}
	}
	return append(m, e)
}

func (m ref) subtract(e refEntry) ref {
	for i := range m {
		x := &m[i]
		if x.key != e.key {
			continue
		}
		switch {
		case x.shared():
			if !x.sameValue(&e) {
				continue
			}
			x.count -= e.count
		case x.indivisible:
			if !x.sameValue(&e) {
				continue
			}
			x.count = 0
		default:
			x.scalar -= e.scalar
			x.ports &^= e.ports
			x.set &^= e.set
		}
		if x.empty() {
			return slices.Delete(m, i, i+1)
		}
		return m
	}
	return m
}

func (m ref) contains(o ref) bool {
	remaining := slices.Clone(m)
	for _, y := range o {
		found := false
		for i := range remaining {
			x := &remaining[i]
			if x.key != y.key {
				continue
			}
			switch {
			case x.shared():
				found = x.count >= y.count && x.sameValue(&y)
			case x.indivisible:
				found = x.sameValue(&y)
			default:
				found = x.containsValue(&y)
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
		if y.indivisible {
			remaining = remaining.subtract(y)
		}
	}
	return true
}

func (m ref) resources(t testing.TB) Resources {
	var list []Resource
	for _, e := range m {
		r := e.meta
		r.Scalar = Scalar(e.scalar)
		switch r.Type {
		case ValueRanges:
			r.Ranges = bits(e.ports).ranges()
		case ValueSet:
			for i := range 64 {
				if e.set&(1<<i) != 0 {
					r.Set = append(r.Set, string(rune('a'+i)))
				}
			}
		}
		for range e.count {
			list = append(list, r)
		}
	}
	return mustNew(t, list...)
}

const propertyRuns = 5000

func TestAgainstMesosReference(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(7, 11)), setBase: 'a'}
	for i := range 2 * propertyRuns {
		g.narrow = i%2 == 1
		a, b := g.resources(t), g.resources(t)
		sum, diff := toRef(a), toRef(a)
		for _, e := range toRef(b) {
			sum = sum.add(e)
			diff = diff.subtract(e)
		}
		if got, want := a.Add(b), sum.resources(t); !got.Equal(want) {
			t.Fatalf("%v\n+ %v\n= %v\nwant %v", a, b, got, want)
		}
		if got, want := a.Subtract(b), diff.resources(t); !got.Equal(want) {
			t.Fatalf("%v\n- %v\n= %v\nwant %v", a, b, got, want)
		}
		d := a.Subtract(b)
		for _, pair := range [][2]Resources{{a, b}, {b, a}, {a.Add(b), b}, {a.Add(b), a}, {a, d}, {d, a}, {a.Add(b), d.Add(d)}, {a.Add(a), a.Add(b)}} {
			if got, want := pair[0].Contains(pair[1]), toRef(pair[0]).contains(toRef(pair[1])); got != want {
				t.Fatalf("%v\ncontains %v = %v, want %v", pair[0], pair[1], got, want)
			}
		}
	}
}

func TestAlgebraicProperties(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(3, 5)), setBase: 'a'}
	h := &gen{rng: rand.New(rand.NewPCG(4, 6)), base: 64, setBase: 'g'} // disjoint ranges and sets
	for range propertyRuns {
		list := g.list()
		a, b, c := mustNew(t, list...), g.resources(t), h.resources(t)
		ab := a.Add(b)

		// a + c − c == a, when c's ranges and sets are disjoint from a's.
		if got := a.Add(c).Subtract(c); !got.Equal(a) {
			t.Fatalf("(%v + %v) - c = %v", a, c, got)
		}
		if !ab.Contains(a) || !ab.Contains(b) {
			t.Fatalf("%v + %v = %v does not contain both", a, b, ab)
		}
		if !ab.Equal(b.Add(a)) || !ab.Equal(Sum(a, b)) {
			t.Fatalf("addition does not commute: %v vs %v", ab, b.Add(a))
		}
		d := a.Subtract(b)
		for r := range d.All() {
			if r.IsEmpty() || r.Scalar < 0 {
				t.Fatalf("%v - %v holds empty or negative %v", a, b, r)
			}
		}
		if !a.Contains(d) || !d.Add(b).Contains(a) {
			t.Fatalf("a - b = %v is not within a, or (a-b)+b does not cover a", d)
		}
		if a.Contains(b) && !d.Add(b).Equal(a) {
			t.Fatalf("a ⊇ b but (a-b)+b = %v != %v", d.Add(b), a)
		}
		if got := a.Equal(b); got != (a.Contains(b) && b.Contains(a)) {
			t.Fatalf("Equal(%v, %v) = %v disagrees with mutual containment", a, b, got)
		}
		// Canonical: the order of construction does not matter.
		g.rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		if got := mustNew(t, list...); !got.Equal(a) || got.String() != a.String() {
			t.Fatalf("New is order dependent: %v vs %v", got, a)
		}
		// Operands are never modified.
		if again := mustNew(t, list...); !again.Equal(a) {
			t.Fatalf("a modified to %v", a)
		}
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(9, 9)), setBase: 'a', plainOnly: true}
	for range propertyRuns {
		rs := g.resources(t)
		text := Format(rs)
		back, err := Parse(text, "*")
		if err != nil || !back.Equal(rs) {
			t.Fatalf("Parse(Format(%v)) = %v, %v (text %q)", rs, back, err, text)
		}
	}
}

func TestProtoRoundTripRandom(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(10, 20)), setBase: 'a'}
	for range propertyRuns {
		rs := g.resources(t)
		var once []Resource // ToProto writes each shared resource once
		for r := range rs.All() {
			once = append(once, r)
		}
		want := mustNew(t, once...)
		for _, f := range []ProtoFormat{FormatPostRefinement, FormatPreRefinement, FormatEndpoint} {
			back, err := FromProto(ToProto(rs, f))
			if err != nil || !sameFields(back, want) {
				t.Fatalf("format %d: FromProto(ToProto(%v)) = %v, %v", f, rs, back, err)
			}
		}
	}
}
