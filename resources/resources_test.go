package resources

import (
	"errors"
	"slices"
	"testing"
)

func TestArithmetic(t *testing.T) {
	tests := []struct {
		name       string
		a, b       string
		sum, diff  string
		aContainsB bool
	}{
		{"scalar", "cpus:4;mem:1024", "cpus:1.5", "cpus:5.5;mem:1024", "cpus:2.5;mem:1024", true},
		{"scalar exact", "cpus:0.1", "cpus:0.2", "cpus:0.3", "", false},
		{"subtract more than present removes", "cpus:1;mem:10", "cpus:3", "cpus:4;mem:10", "mem:10", false},
		{"subtract exactly all removes", "cpus:1", "cpus:1", "cpus:2", "", true},
		{"subtract absent is ignored", "cpus:1", "gpus:1", "cpus:1;gpus:1", "cpus:1", false},
		{"ranges elementwise", "ports:[1-10]", "ports:[4-6]", "ports:[1-10]", "ports:[1-3,7-10]", true},
		{"ranges partly outside", "ports:[1-10]", "ports:[8-12]", "ports:[1-12]", "ports:[1-7]", false},
		{"sets elementwise", "bugs:{a,b,c}", "bugs:{b,d}", "bugs:{a,b,c,d}", "bugs:{a,c}", false},
		{"sets contained", "bugs:{a,b,c}", "bugs:{c,a}", "bugs:{a,b,c}", "bugs:{b}", true},
		{"roles do not mix", "cpus:4", "cpus(web):1", "cpus:4;cpus(web):1", "cpus:4", false},
		{"same role combines", "cpus(web):4", "cpus(web):1", "cpus(web):5", "cpus(web):3", true},
		{"empty right side", "cpus:1", "", "cpus:1", "cpus:1", true},
		{"empty left side", "", "cpus:1", "cpus:1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustParse(t, tt.a), mustParse(t, tt.b)
			if got, want := a.Add(b), mustParse(t, tt.sum); !got.Equal(want) {
				t.Errorf("%v + %v = %v, want %v", a, b, got, want)
			}
			if got, want := a.Subtract(b), mustParse(t, tt.diff); !got.Equal(want) {
				t.Errorf("%v - %v = %v, want %v", a, b, got, want)
			}
			if got := a.Contains(b); got != tt.aContainsB {
				t.Errorf("%v contains %v = %v", a, b, got)
			}
			// Inputs are untouched.
			if !a.Equal(mustParse(t, tt.a)) || !b.Equal(mustParse(t, tt.b)) {
				t.Errorf("operands were modified: %v, %v", a, b)
			}
		})
	}
}

func TestResourcesDoNotShareMutations(t *testing.T) {
	a := mustParse(t, "cpus:4;ports:[1-10]")
	copyOfA := a
	b := a.Add(mustParse(t, "ports:[20-30];cpus:1"))
	c := a.Subtract(mustParse(t, "ports:[5-5];cpus:1"))
	if !a.Equal(copyOfA) || Format(a) != "cpus:4;ports:[1-10]" {
		t.Errorf("a changed to %v", a)
	}
	if Format(b) != "cpus:5;ports:[1-10,20-30]" || Format(c) != "cpus:3;ports:[1-4,6-10]" {
		t.Errorf("b = %v, c = %v", b, c)
	}
	clone := b.Clone()
	if !clone.Equal(b) {
		t.Errorf("Clone() = %v, want %v", clone, b)
	}
}

func dynamic(r Resource, role, principal string) Resource {
	r.Reservations = append(slices.Clone(r.Reservations), Reservation{Type: ReservationDynamic, Role: role, Principal: principal})
	return r
}

func TestReservations(t *testing.T) {
	cpus := scalarRes("cpus", 4*Unit)
	web := dynamic(cpus, "web", "ops")
	batch := dynamic(web, "web/batch", "ops")
	rs := mustNew(t, cpus, static(scalarRes("mem", 512*Unit), "web"), web, batch, static(scalarRes("disk", Unit), "db"))

	if got := batch.Role(); got != "web/batch" {
		t.Errorf("Role() = %q", got)
	}
	if r := cpus; r.Role() != "*" || r.IsReserved() || !r.IsUnreserved() || r.IsDynamic() || r.IsStatic() {
		t.Errorf("unreserved predicates wrong")
	}
	if !batch.IsDynamic() || batch.IsStatic() || !batch.HasRefinedReservations() {
		t.Errorf("refined predicates wrong")
	}

	check := func(name string, got Resources, want ...Resource) {
		t.Helper()
		if w := mustNew(t, want...); !got.Equal(w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	check("Unreserved", rs.Unreserved(), cpus)
	check("Reserved(\"\")", rs.Reserved(""), static(scalarRes("mem", 512*Unit), "web"), web, batch, static(scalarRes("disk", Unit), "db"))
	check("Reserved(web)", rs.Reserved("web"), static(scalarRes("mem", 512*Unit), "web"), web)
	check("Reserved(web/batch)", rs.Reserved("web/batch"), batch)
	check("ReservedToSubtree(web)", rs.ReservedToSubtree("web"), static(scalarRes("mem", 512*Unit), "web"), web, batch)
	check("ReservedToSubtree(we)", rs.ReservedToSubtree("we"))
	check("AllocatableTo(web)", rs.AllocatableTo("web"), cpus, static(scalarRes("mem", 512*Unit), "web"), web)
	check("AllocatableTo(web/batch)", rs.AllocatableTo("web/batch"), cpus, static(scalarRes("mem", 512*Unit), "web"), web, batch)
	check("AllocatableTo(web/batch/x)", rs.AllocatableTo("web/batch/x"), cpus, static(scalarRes("mem", 512*Unit), "web"), web, batch)
	check("AllocatableTo(db)", rs.AllocatableTo("db"), cpus, static(scalarRes("disk", Unit), "db"))
	check("ToUnreserved", rs.ToUnreserved(), scalarRes("cpus", 12*Unit), scalarRes("mem", 512*Unit), scalarRes("disk", Unit))

	byRole := rs.Reservations()
	if len(byRole) != 3 || byRole["web"].Len() != 2 || byRole["web/batch"].Len() != 1 || byRole["db"].Len() != 1 {
		t.Errorf("Reservations() = %v", byRole)
	}

	// A dynamic and a static reservation for the same role differ, as do
	// reservations with different principals or labels.
	differ := []Resource{
		static(cpus, "web"), web, dynamic(cpus, "web", "other"),
		func() Resource {
			r := web
			r.Reservations = []Reservation{{Type: ReservationDynamic, Role: "web", Principal: "ops", Labels: []Label{{Key: "a"}}}}
			return r
		}(),
	}
	sum := mustNew(t, differ...)
	if sum.Len() != len(differ) {
		t.Errorf("distinct reservations combined: %v", sum)
	}
	// Label order does not matter.
	l1 := Reservation{Type: ReservationDynamic, Role: "web", Labels: []Label{{Key: "a", Value: "1", HasValue: true}, {Key: "b"}}}
	l2 := Reservation{Type: ReservationDynamic, Role: "web", Labels: []Label{{Key: "b"}, {Key: "a", Value: "1", HasValue: true}}}
	x, y := cpus, cpus
	x.Reservations, y.Reservations = []Reservation{l1}, []Reservation{l2}
	if got := mustNew(t, x, y); got.Len() != 1 || got.ScalarOf("cpus") != 8*Unit {
		t.Errorf("label order mattered: %v", got)
	}
}

func TestRefinement(t *testing.T) {
	rs := mustParse(t, "cpus:2;mem:512")
	web, err := rs.PushReservation(Reservation{Type: ReservationDynamic, Role: "web", Principal: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := web.PushReservation(Reservation{Type: ReservationDynamic, Role: "web/batch"})
	if err != nil {
		t.Fatal(err)
	}
	if !batch.Reserved("web/batch").Equal(batch) || batch.At(0).Reservations[0].Role != "web" {
		t.Errorf("refined = %v", batch)
	}
	bad := []Reservation{
		{Type: ReservationDynamic, Role: "db"},         // not a subrole
		{Type: ReservationDynamic, Role: "web"},        // not strict
		{Type: ReservationStatic, Role: "web/x"},       // refinement must be dynamic
		{Type: ReservationDynamic, Role: "web/batch/"}, // invalid role
	}
	for _, res := range bad {
		if _, err := web.PushReservation(res); !errors.Is(err, ErrInvalidResource) {
			t.Errorf("PushReservation(%+v) on %v: error %v, want ErrInvalidResource", res, web, err)
		}
	}
	if _, err := rs.PushReservation(Reservation{Type: ReservationDynamic, Role: "*"}); err == nil {
		t.Errorf("reserving for * succeeded")
	}
	popped, err := batch.PopReservation()
	if err != nil || !popped.Equal(web) {
		t.Errorf("PopReservation = %v, %v; want %v", popped, err, web)
	}
	popped, err = popped.PopReservation()
	if err != nil || !popped.Equal(rs) {
		t.Errorf("PopReservation twice = %v, %v; want %v", popped, err, rs)
	}
	if _, err := rs.PopReservation(); err == nil {
		t.Errorf("PopReservation of unreserved resources succeeded")
	}
	// Popping can merge: web/batch and web/other both become web.
	other, err := web.PushReservation(Reservation{Type: ReservationDynamic, Role: "web/other"})
	if err != nil {
		t.Fatal(err)
	}
	mixed := batch.Add(other)
	popped, err = mixed.PopReservation()
	if err != nil || mixed.Len() != 4 || !popped.Equal(web.Add(web)) {
		t.Errorf("PopReservation(%v) = %v, %v", mixed, popped, err)
	}
}

func persistentVolume(id string, mb int64) Resource {
	return Resource{
		Name: "disk", Type: ValueScalar, Scalar: ScalarFromInt(mb),
		Reservations: []Reservation{{Type: ReservationDynamic, Role: "db", Principal: "ops"}},
		Disk:         &DiskInfo{Persistence: &Persistence{ID: id, Principal: "ops"}, Volume: &Volume{ContainerPath: "data", Mode: VolumeRW}},
	}
}

func TestPersistentVolumes(t *testing.T) {
	v1, v2 := persistentVolume("v1", 100), persistentVolume("v2", 100)
	plain := dynamic(scalarRes("disk", 500*Unit), "db", "ops")
	rs := mustNew(t, v1, v2, plain)

	if !v1.IsPersistentVolume() || plain.IsPersistentVolume() {
		t.Errorf("IsPersistentVolume wrong")
	}
	if got := rs.PersistentVolumes(); got.Len() != 2 {
		t.Errorf("PersistentVolumes = %v", got)
	}
	// Volumes never combine with each other or with plain disk.
	if rs.Len() != 3 || rs.ScalarOf("disk") != 700*Unit {
		t.Errorf("rs = %v", rs)
	}
	// A volume is subtracted only whole.
	half := v1
	half.Scalar = 50 * Unit
	if rs.Contains(mustNew(t, half)) {
		t.Errorf("contains half a volume")
	}
	if got := rs.Subtract(mustNew(t, half)); !got.Equal(rs) {
		t.Errorf("subtracting half a volume changed %v to %v", rs, got)
	}
	if got := rs.Subtract(mustNew(t, v1)); !got.Equal(mustNew(t, v2, plain)) {
		t.Errorf("rs - v1 = %v", got)
	}
	// The volume (mount path) and persistence principal are not part of the
	// identity, as in Mesos: a task may mount the volume elsewhere.
	other := v1
	other.Disk = &DiskInfo{Persistence: &Persistence{ID: "v1"}, Volume: &Volume{ContainerPath: "elsewhere", Mode: VolumeRO}}
	if !rs.Contains(mustNew(t, other)) || rs.Subtract(mustNew(t, other)).Len() != 2 {
		t.Errorf("volume path mattered for identity")
	}
	if other.Disk.Equal(v1.Disk) {
		t.Errorf("DiskInfo.Equal ignores the volume")
	}
	// Two copies of the same (non-shared) volume are two entries; each copy
	// needs its own.
	twice := mustNew(t, v1, v1)
	if twice.Len() != 2 || mustNew(t, v1).Contains(twice) || !twice.Contains(mustNew(t, v1)) {
		t.Errorf("duplicate volumes: %v", twice)
	}
	if got := twice.Subtract(mustNew(t, v1)); !got.Equal(mustNew(t, v1)) {
		t.Errorf("twice - v1 = %v", got)
	}
}

func TestSharedVolumes(t *testing.T) {
	v := persistentVolume("v1", 100)
	v.Shared = true
	one := mustNew(t, v)
	two := one.Add(one)
	if two.Len() != 1 || two.Count(v) != 2 || one.Count(v) != 1 {
		t.Errorf("two copies: len %d, count %d", two.Len(), two.Count(v))
	}
	if !two.Contains(one) || one.Contains(two) || !two.Contains(two) {
		t.Errorf("Contains on shared counts wrong")
	}
	if got := two.Subtract(one); !got.Equal(one) {
		t.Errorf("two - one = %v (count %d)", got, got.Count(v))
	}
	if got := one.Subtract(two); !got.IsEmpty() {
		t.Errorf("one - two = %v, want empty", got)
	}
	if two.Equal(one) {
		t.Errorf("two copies equal one copy")
	}
	// Quantities count a shared volume once, as Mesos does.
	if got := two.ScalarQuantities().Get("disk"); got != 100*Unit {
		t.Errorf("ScalarQuantities disk = %v", got)
	}
	// A shared volume and the same volume unshared do not mix.
	unshared := persistentVolume("v1", 100)
	if got := two.Subtract(mustNew(t, unshared)); !got.Equal(two) {
		t.Errorf("unshared copy subtracted from shared: %v", got)
	}
	if len(ToProto(two, FormatPostRefinement)) != 1 {
		t.Errorf("ToProto wrote the copies")
	}
	if got := two.Shared(); !got.Equal(two) || !two.NonShared().IsEmpty() {
		t.Errorf("Shared filter wrong")
	}
	// Only persistent volumes may be shared.
	bad := scalarRes("cpus", Unit)
	bad.Shared = true
	if _, err := New(bad); !errors.Is(err, ErrInvalidResource) {
		t.Errorf("shared cpus: %v", err)
	}
}

func TestDiskSources(t *testing.T) {
	mount := func(root string, mb int64) Resource {
		return Resource{Name: "disk", Type: ValueScalar, Scalar: ScalarFromInt(mb), Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceMount, Root: root}}}
	}
	path := func(mb int64) Resource {
		return Resource{Name: "disk", Type: ValueScalar, Scalar: ScalarFromInt(mb), Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourcePath, Root: "/p"}}}
	}
	raw := func(id string, mb int64) Resource {
		return Resource{Name: "disk", Type: ValueScalar, Scalar: ScalarFromInt(mb), Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceRaw, ID: id}}}
	}
	// PATH disks are divisible.
	if got := mustNew(t, path(10), path(20)); got.Len() != 1 || !got.Contains(mustNew(t, path(5))) {
		t.Errorf("PATH disks: %v", got)
	}
	// MOUNT disks are used whole.
	m := mustNew(t, mount("/m", 100), mount("/m", 100))
	if m.Len() != 2 || m.Contains(mustNew(t, mount("/m", 50))) || !m.Contains(mustNew(t, mount("/m", 100))) {
		t.Errorf("MOUNT disks: %v", m)
	}
	if got := m.Subtract(mustNew(t, mount("/m", 50))); !got.Equal(m) {
		t.Errorf("partial MOUNT subtract: %v", got)
	}
	// RAW disks without ID are divisible, with ID are not.
	if got := mustNew(t, raw("", 10), raw("", 20)); got.Len() != 1 {
		t.Errorf("RAW without id: %v", got)
	}
	if got := mustNew(t, raw("d1", 10), raw("d1", 10)); got.Len() != 2 {
		t.Errorf("RAW with id: %v", got)
	}
	// Invalid disk shapes.
	for _, r := range []Resource{
		{Name: "mem", Type: ValueScalar, Scalar: Unit, Disk: &DiskInfo{}},
		{Name: "disk", Type: ValueScalar, Scalar: Unit, Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceBlock, Root: "/x"}}},
		{Name: "disk", Type: ValueScalar, Scalar: Unit, Disk: &DiskInfo{Source: &DiskSource{Type: 9}}},
		{Name: "disk", Type: ValueScalar, Scalar: Unit, Disk: &DiskInfo{Persistence: &Persistence{}}},
	} {
		if _, err := New(r); !errors.Is(err, ErrInvalidResource) {
			t.Errorf("New(%v) error = %v", r, err)
		}
	}
}

func TestRevocableAndAllocation(t *testing.T) {
	rev := scalarRes("cpus", 2*Unit)
	rev.Revocable = true
	rs := mustNew(t, scalarRes("cpus", 4*Unit), rev)
	if rs.Len() != 2 || rs.ScalarOf("cpus") != 6*Unit {
		t.Errorf("revocable combined with non-revocable: %v", rs)
	}
	if got := rs.Revocable(); !got.Equal(mustNew(t, rev)) {
		t.Errorf("Revocable() = %v", got)
	}
	if got := rs.NonRevocable(); !got.Equal(mustParse(t, "cpus:4")) {
		t.Errorf("NonRevocable() = %v", got)
	}
	if rs.Contains(mustParse(t, "cpus:5")) {
		t.Errorf("revocable cpus counted toward non-revocable")
	}

	web := rs.Allocate("web")
	if web.Equal(rs) || !web.AllocatedTo("web").Equal(web) || !web.AllocatedTo("db").IsEmpty() {
		t.Errorf("Allocate(web) = %v", web)
	}
	if web.Contains(rs) || rs.Contains(web) {
		t.Errorf("allocated and unallocated resources mixed")
	}
	if got := web.Unallocate(); !got.Equal(rs) {
		t.Errorf("Unallocate = %v", got)
	}
	// Resources allocated to different roles merge when re-allocated.
	mixed := mustParse(t, "cpus:1").Allocate("a").Add(mustParse(t, "cpus:2").Allocate("a/b"))
	if mixed.Len() != 2 || mixed.AllocatedToSubtree("a").Len() != 2 || mixed.AllocatedToSubtree("a/b").Len() != 1 {
		t.Errorf("mixed = %v", mixed)
	}
	if got := mixed.Allocate("c"); got.Len() != 1 || got.ScalarOf("cpus") != 3*Unit {
		t.Errorf("re-allocated = %v", got)
	}
	if got := mixed.Allocations(); len(got) != 2 || got["a"].ScalarOf("cpus") != Unit {
		t.Errorf("Allocations() = %v", got)
	}
}

func TestAccessors(t *testing.T) {
	rs := mustParse(t, "cpus:4;cpus(web):2;mem:1024;ports:[1-10];ports(web):[20-30];bugs:{a};bugs(web):{b}")
	if got := rs.ScalarOf("cpus"); got != 6*Unit {
		t.Errorf("ScalarOf(cpus) = %v", got)
	}
	if got := rs.RangesOf("ports"); !got.Equal(Ranges{{1, 10}, {20, 30}}) {
		t.Errorf("RangesOf(ports) = %v", got)
	}
	if got := rs.SetOf("bugs"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("SetOf(bugs) = %v", got)
	}
	if got := rs.Names(); !slices.Equal(got, []string{"bugs", "cpus", "mem", "ports"}) {
		t.Errorf("Names() = %v", got)
	}
	if got := rs.ByName("mem"); !got.Equal(mustParse(t, "mem:1024")) {
		t.Errorf("ByName(mem) = %v", got)
	}
	if got := rs.Scalars(); !got.Equal(mustParse(t, "cpus:4;cpus(web):2;mem:1024")) {
		t.Errorf("Scalars() = %v", got)
	}
	q := rs.Quantities()
	if q.Get("cpus") != 6*Unit || q.Get("ports") != 21*Unit || q.Get("bugs") != 2*Unit || q.Get("gpus") != 0 {
		t.Errorf("Quantities() = %v", q)
	}
	if sq := rs.ScalarQuantities(); sq.String() != "cpus:6;mem:1024" {
		t.Errorf("ScalarQuantities() = %v", sq)
	}
	if !rs.ContainsQuantities(NewQuantities(Quantity{"cpus", 6 * Unit}, Quantity{"ports", 21 * Unit})) ||
		rs.ContainsQuantities(NewQuantities(Quantity{"cpus", 7 * Unit})) {
		t.Errorf("ContainsQuantities wrong")
	}
	var names []string
	for r := range rs.All() {
		names = append(names, r.Name)
	}
	if len(names) != rs.Len() || rs.At(0).Name != "bugs" {
		t.Errorf("All() = %v", names)
	}
	if got := Sum(mustParse(t, "cpus:1"), mustParse(t, "cpus:2;mem:1"), Resources{}); !got.Equal(mustParse(t, "cpus:3;mem:1")) {
		t.Errorf("Sum = %v", got)
	}
}

func TestNewValidates(t *testing.T) {
	bad := []Resource{
		{Name: "", Type: ValueScalar, Scalar: Unit},
		{Name: "cpus", Type: ValueScalar, Scalar: -1},
		{Name: "cpus", Type: ValueText},
		{Name: "cpus", Type: ValueScalar, Scalar: 1, Ranges: Ranges{{1, 2}}},
		{Name: "ports", Type: ValueRanges, Ranges: Ranges{{5, 4}}},
		{Name: "ports", Type: ValueRanges, Ranges: Ranges{{1, 5}, {3, 8}}},
		{Name: "bugs", Type: ValueSet, Set: []string{"a", "a"}},
		{Name: "cpus", Type: ValueScalar, Scalar: 1, Reservations: []Reservation{{Type: 0, Role: "web"}}},
		{Name: "cpus", Type: ValueScalar, Scalar: 1, Reservations: []Reservation{{Type: ReservationStatic, Role: "*"}}},
		{Name: "cpus", Type: ValueScalar, Scalar: 1, Reservations: []Reservation{{Type: ReservationStatic, Role: "a"}, {Type: ReservationStatic, Role: "a/b"}}},
		{Name: "cpus", Type: ValueScalar, Scalar: 1, Reservations: []Reservation{{Type: ReservationStatic, Role: "a"}, {Type: ReservationDynamic, Role: "b"}}},
	}
	for _, r := range bad {
		if _, err := New(r); !errors.Is(err, ErrInvalidResource) {
			t.Errorf("New(%+v) error = %v, want ErrInvalidResource", r, err)
		}
	}
	// Unsorted input is normalized; adjacent ranges merge.
	got := mustNew(t,
		Resource{Name: "ports", Type: ValueRanges, Ranges: Ranges{{6, 9}, {1, 5}}},
		Resource{Name: "bugs", Type: ValueSet, Set: []string{"c", "a"}},
	)
	if Format(got) != "bugs:{a,c};ports:[1-9]" {
		t.Errorf("normalized = %v", Format(got))
	}
}

func TestQuantities(t *testing.T) {
	q := func(s string) Quantities {
		t.Helper()
		v, err := ParseQuantities(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := q("cpus:4;mem:1024"), q("cpus:1.5;gpus:1")
	if got := a.Add(b); !got.Equal(q("cpus:5.5;gpus:1;mem:1024")) {
		t.Errorf("a + b = %v", got)
	}
	if got := a.Subtract(b); !got.Equal(q("cpus:2.5;mem:1024")) {
		t.Errorf("a - b = %v", got)
	}
	if got := b.Subtract(a); !got.Equal(q("gpus:1")) {
		t.Errorf("b - a = %v", got)
	}
	if a.Contains(b) || !a.Contains(q("cpus:4")) || !a.Contains(Quantities{}) || (Quantities{}).Contains(a) {
		t.Errorf("Contains wrong")
	}
	if got := NewQuantities(Quantity{"x", 0}, Quantity{"y", -5}, Quantity{"z", 1}); got.Len() != 1 || got.Get("z") != 1 {
		t.Errorf("NewQuantities kept non-positive: %v", got)
	}
	n := 0
	for name, v := range a.All() {
		if v != a.Get(name) {
			t.Errorf("All() %s = %v", name, v)
		}
		n++
	}
	if n != 2 || (Quantities{}).String() != "{}" || !(Quantities{}).IsEmpty() {
		t.Errorf("iteration or empty form wrong")
	}
}

func TestRoles(t *testing.T) {
	valid := []string{"*", "web", "web/batch", "a.b", "a-b", "a/b/c", "..a", "a*"}
	invalid := []string{"", "/a", "a/", "a//b", ".", "..", "a/../b", "*/a", "-a", "a/-b", "a b", "a\tb", "a\x7f"}
	for _, r := range valid {
		if err := ValidateRole(r); err != nil {
			t.Errorf("ValidateRole(%q) = %v", r, err)
		}
	}
	for _, r := range invalid {
		if err := ValidateRole(r); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("ValidateRole(%q) = %v, want ErrInvalidRole", r, err)
		}
	}
	sub := []struct {
		role, ancestor string
		want           bool
	}{
		{"a/b", "a", true}, {"a/b/c", "a", true}, {"a/b/c", "a/b", true},
		{"a", "a", false}, {"ab", "a", false}, {"a", "a/b", false}, {"b/a", "a", false},
	}
	for _, tt := range sub {
		if got := IsStrictSubrole(tt.role, tt.ancestor); got != tt.want {
			t.Errorf("IsStrictSubrole(%q, %q) = %v", tt.role, tt.ancestor, got)
		}
	}
}
