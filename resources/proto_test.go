package resources

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"google.golang.org/protobuf/proto"
)

// richResources exercises every field the protobuf form carries.
func richResources(t testing.TB) Resources {
	shared := persistentVolume("v2", 10)
	shared.Shared = true
	shared.Disk = &DiskInfo{
		Persistence: &Persistence{ID: "v2", Principal: "ops"},
		Volume:      &Volume{ContainerPath: "/data", HostPath: "/srv", Mode: VolumeRO},
		Source:      &DiskSource{Type: DiskSourceMount, Root: "/mnt/a"},
	}
	csi := Resource{
		Name: "disk", Type: ValueScalar, Scalar: 2048 * Unit, ProviderID: "rp1",
		Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceRaw, Vendor: "csi", ID: "d1", Profile: "fast", Metadata: []Label{{Key: "z", Value: "1", HasValue: true}, {Key: "a"}}}},
	}
	rev := scalarRes("cpus", 1500)
	rev.Revocable = true
	labelled := scalarRes("mem", 64*Unit)
	labelled.Reservations = []Reservation{{Type: ReservationDynamic, Role: "web", Labels: []Label{{Key: "k", Value: "", HasValue: true}, {Key: "b"}}}}
	refined := dynamic(dynamic(scalarRes("cpus", Unit), "web", "ops"), "web/batch", "")
	refined.AllocationRole = "web/batch"
	return mustNew(t,
		scalarRes("cpus", 4*Unit),
		static(scalarRes("mem", 1024*Unit), "web"),
		dynamic(Resource{Name: "ports", Type: ValueRanges, Ranges: Ranges{{1, 5}, {10, 10}}}, "web", "ops"),
		Resource{Name: "bugs", Type: ValueSet, Set: []string{"a", "b"}},
		persistentVolume("v1", 100), shared, shared, csi, rev, labelled, refined,
		Resource{Name: "disk", Type: ValueScalar, Scalar: Unit, Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourcePath, Root: "/p"}}},
	)
}

// sameFields compares everything, including what identity leaves out.
func sameFields(a, b Resources) bool {
	return slices.EqualFunc(a.items, b.items, func(x, y item) bool {
		return x.count == y.count && x.r.Equal(&y.r) && x.r.Disk.Equal(y.r.Disk) &&
			slices.EqualFunc(x.r.Reservations, y.r.Reservations, func(p, q Reservation) bool {
				return slices.Equal(p.Labels, q.Labels)
			}) &&
			(x.r.Disk == nil || x.r.Disk.Source == nil || slices.Equal(x.r.Disk.Source.Metadata, y.r.Disk.Source.Metadata))
	})
}

func TestProtoRoundTrip(t *testing.T) {
	rs := richResources(t)
	for _, f := range []ProtoFormat{FormatPostRefinement, FormatPreRefinement, FormatEndpoint} {
		ms := ToProto(rs, f)
		// Through the binary encoding too.
		for i, m := range ms {
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			ms[i] = &mesos.Resource{}
			if err := proto.Unmarshal(b, ms[i]); err != nil {
				t.Fatal(err)
			}
		}
		back, err := FromProto(ms)
		if err != nil {
			t.Fatalf("format %d: %v", f, err)
		}
		// FromProto counts each shared copy it gets; ToProto writes one.
		want := rs.Subtract(mustNew(t, rs.Shared().At(0)))
		if !sameFields(back, want) {
			t.Errorf("format %d round trip:\n got %v\nwant %v", f, back, want)
		}
	}
}

func TestProtoFormats(t *testing.T) {
	cases := []struct {
		r               Resource
		role            string // "" = unset
		reservation     bool
		reservationsLen int
		principal       string
	}{
		{r: scalarRes("cpus", Unit), role: "*"},
		{r: static(scalarRes("cpus", Unit), "web"), role: "web", reservationsLen: 1},
		{r: dynamic(scalarRes("cpus", Unit), "web", "ops"), role: "web", reservation: true, reservationsLen: 1, principal: "ops"},
		{r: dynamic(dynamic(scalarRes("cpus", Unit), "web", "ops"), "web/b", ""), reservationsLen: 2},
	}
	for _, c := range cases {
		post := ResourceToProto(&c.r, FormatPostRefinement)
		if post.Role != nil || post.Reservation != nil || len(post.Reservations) != c.reservationsLen {
			t.Errorf("post-refinement %v = %v", c.r, post)
		}
		for _, f := range []ProtoFormat{FormatPreRefinement, FormatEndpoint} {
			m := ResourceToProto(&c.r, f)
			if got := m.GetRole(); (m.Role != nil) != (c.role != "") || (c.role != "" && got != c.role) {
				t.Errorf("format %d %v: role %v, want %q", f, c.r, m.Role, c.role)
			}
			if (m.Reservation != nil) != c.reservation || m.GetReservation().GetPrincipal() != c.principal {
				t.Errorf("format %d %v: reservation %v", f, c.r, m.Reservation)
			}
			wantStack := c.reservationsLen
			if f == FormatPreRefinement && c.reservationsLen == 1 {
				wantStack = 0
			}
			if len(m.Reservations) != wantStack {
				t.Errorf("format %d %v: %d reservations, want %d", f, c.r, len(m.Reservations), wantStack)
			}
		}
	}

	// The JSON Mesos writes for a dynamically reserved resource in the
	// endpoint format.
	r := dynamic(scalarRes("cpus", 1500), "web", "ops")
	b, err := codec.Marshal(codec.JSON, ResourceToProto(&r, FormatEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"cpus"`, `"type":"SCALAR"`, `"scalar":{"value":1.5}`, `"role":"web"`, `"reservation":{"principal":"ops"}`, `"reservations":[{"type":"DYNAMIC","role":"web","principal":"ops"}]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}

func TestFromProtoRejects(t *testing.T) {
	s, u := proto.String, proto.Uint64
	scalar := func(v float64) *mesos.Value_Scalar { return &mesos.Value_Scalar{Value: proto.Float64(v)} }
	typ := func(t mesos.Value_Type) *mesos.Value_Type { return t.Enum() }
	dyn := mesos.Resource_ReservationInfo_DYNAMIC.Enum()
	sta := mesos.Resource_ReservationInfo_STATIC.Enum()
	cpus := func(mod func(m *mesos.Resource)) *mesos.Resource {
		m := &mesos.Resource{Name: s("cpus"), Type: typ(mesos.Value_SCALAR), Scalar: scalar(1)}
		mod(m)
		return m
	}
	tests := []struct {
		name string
		m    *mesos.Resource
	}{
		{"nil", nil},
		{"no name", cpus(func(m *mesos.Resource) { m.Name = nil })},
		{"no type", cpus(func(m *mesos.Resource) { m.Type = nil })},
		{"text type", cpus(func(m *mesos.Resource) { m.Type = typ(mesos.Value_TEXT) })},
		{"no scalar", cpus(func(m *mesos.Resource) { m.Scalar = nil })},
		{"scalar and set", cpus(func(m *mesos.Resource) { m.Set = &mesos.Value_Set{} })},
		{"NaN", cpus(func(m *mesos.Resource) { m.Scalar = scalar(math.NaN()) })},
		{"inf", cpus(func(m *mesos.Resource) { m.Scalar = scalar(math.Inf(1)) })},
		{"negative", cpus(func(m *mesos.Resource) { m.Scalar = scalar(-1) })},
		{"rounds to zero", cpus(func(m *mesos.Resource) { m.Scalar = scalar(0.0001) })},
		{"inverted range", &mesos.Resource{Name: s("ports"), Type: typ(mesos.Value_RANGES), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: u(5), End: u(1)}}}}},
		{"overlapping ranges", &mesos.Resource{Name: s("ports"), Type: typ(mesos.Value_RANGES), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: u(1), End: u(5)}, {Begin: u(5), End: u(6)}}}}},
		{"duplicate set item", &mesos.Resource{Name: s("bugs"), Type: typ(mesos.Value_SET), Set: &mesos.Value_Set{Item: []string{"a", "a"}}}},
		{"invalid role", cpus(func(m *mesos.Resource) { m.Role = s("a//b") })},
		{"dynamic reservation of *", cpus(func(m *mesos.Resource) { m.Reservation = &mesos.Resource_ReservationInfo{} })},
		{"reservation.type in pre-refinement", cpus(func(m *mesos.Resource) {
			m.Role = s("web")
			m.Reservation = &mesos.Resource_ReservationInfo{Type: dyn}
		})},
		{"reservation.role in pre-refinement", cpus(func(m *mesos.Resource) {
			m.Role = s("web")
			m.Reservation = &mesos.Resource_ReservationInfo{Role: s("web")}
		})},
		{"reservations without type", cpus(func(m *mesos.Resource) {
			m.Reservations = []*mesos.Resource_ReservationInfo{{Role: s("web")}}
		})},
		{"reservations for *", cpus(func(m *mesos.Resource) {
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: sta, Role: s("*")}}
		})},
		{"refinement not a subrole", cpus(func(m *mesos.Resource) {
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: dyn, Role: s("a")}, {Type: dyn, Role: s("b")}}
		})},
		{"role mismatch", cpus(func(m *mesos.Resource) {
			m.Role = s("db")
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: sta, Role: s("web")}}
		})},
		{"reservation with static", cpus(func(m *mesos.Resource) {
			m.Role = s("web")
			m.Reservation = &mesos.Resource_ReservationInfo{}
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: sta, Role: s("web")}}
		})},
		{"dynamic with role but no reservation", cpus(func(m *mesos.Resource) {
			m.Role = s("web")
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: dyn, Role: s("web")}}
		})},
		{"principal mismatch", cpus(func(m *mesos.Resource) {
			m.Role = s("web")
			m.Reservation = &mesos.Resource_ReservationInfo{Principal: s("a")}
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: dyn, Role: s("web"), Principal: s("b")}}
		})},
		{"labels mismatch", cpus(func(m *mesos.Resource) {
			m.Role = s("web")
			m.Reservation = &mesos.Resource_ReservationInfo{Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: s("x")}}}}
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: dyn, Role: s("web")}}
		})},
		{"role with refined", cpus(func(m *mesos.Resource) {
			m.Role = s("a/b")
			m.Reservations = []*mesos.Resource_ReservationInfo{{Type: dyn, Role: s("a")}, {Type: dyn, Role: s("a/b")}}
		})},
		{"disk info on cpus", cpus(func(m *mesos.Resource) { m.Disk = &mesos.Resource_DiskInfo{} })},
		{"shared cpus", cpus(func(m *mesos.Resource) { m.Shared = &mesos.Resource_SharedInfo{} })},
		{"block with path", &mesos.Resource{Name: s("disk"), Type: typ(mesos.Value_SCALAR), Scalar: scalar(1), Disk: &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
			Type: mesos.Resource_DiskInfo_Source_BLOCK.Enum(), Path: &mesos.Resource_DiskInfo_Source_Path{}}}}},
		{"unknown source", &mesos.Resource{Name: s("disk"), Type: typ(mesos.Value_SCALAR), Scalar: scalar(1), Disk: &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
			Type: mesos.Resource_DiskInfo_Source_UNKNOWN.Enum()}}}},
	}
	for _, tt := range tests {
		if _, err := FromProto([]*mesos.Resource{tt.m}); !errors.Is(err, ErrInvalidResource) {
			t.Errorf("%s: error = %v, want ErrInvalidResource", tt.name, err)
		}
	}

	// The consistent endpoint form is accepted.
	ok := cpus(func(m *mesos.Resource) {
		m.Role = s("web")
		m.Reservation = &mesos.Resource_ReservationInfo{Principal: s("ops"), Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: s("b")}, {Key: s("a")}}}}
		m.Reservations = []*mesos.Resource_ReservationInfo{{Type: dyn, Role: s("web"), Principal: s("ops"), Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: s("a")}, {Key: s("b")}}}}}
	})
	if _, err := FromProto([]*mesos.Resource{ok}); err != nil {
		t.Errorf("endpoint form rejected: %v", err)
	}
}

func TestParseJSON(t *testing.T) {
	got, err := ParseJSON([]byte(`[
		{"name":"cpus","type":"SCALAR","scalar":{"value":4}},
		{"name":"mem","type":"SCALAR","scalar":{"value":"512"},"role":"*"},
		{"name":"disk","type":"SCALAR","scalar":{"value":100},"role":"db"},
		{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},
		 "reservations":[{"type":"STATIC","role":"web"}]},
		{"name":"gpus","type":"SCALAR","scalar":{"value":0}},
		{"name":"bugs","type":"SET","set":{"item":["b","a"]},"unknown":1}
	]`), "web")
	if err != nil {
		t.Fatal(err)
	}
	if want := "bugs(web):{a,b};cpus(web):4;disk(db):100;mem:512;ports(web):[31000-32000]"; Format(got) != want {
		t.Errorf("ParseJSON = %s\nwant       %s", Format(got), want)
	}

	bad := []struct{ json, want string }{
		{`{}`, "must be an array"},
		{`[1]`, "JSON resource 0"},
		{`[{"name":"cpus"}]`, "missing required field"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, "negative"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]`, "revocable"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"web","reservation":{"principal":"p"}}]`, "dynamic reservations"},
		{`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"web","disk":{"persistence":{"id":"v"}}}]`, "persistent volumes"},
		{`[{"name":"x","type":"SCALAR","scalar":{"value":1}},{"name":"x","type":"SET","set":{"item":["a"]}}]`, "given as SCALAR before"},
	}
	for _, tt := range bad {
		if _, err := ParseJSON([]byte(tt.json), "*"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJSON(%s) error = %v, want %q", tt.json, err, tt.want)
		}
	}
}

func TestAttributesProto(t *testing.T) {
	attrs, err := ParseAttributes("rack:r1;level:3.5;ports:[1-10]")
	if err != nil {
		t.Fatal(err)
	}
	attrs = append(attrs, Attribute{Name: "tags", Type: ValueSet, Set: []string{"x"}})
	back, err := AttributesFromProto(AttributesToProto(attrs))
	if err != nil || !slices.EqualFunc(back, attrs, Attribute.Equal) {
		t.Errorf("round trip = %v, %v", back, err)
	}
	for _, m := range []*mesos.Attribute{
		{Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("x")}},
		{Name: proto.String("a")},
		{Name: proto.String("a"), Type: mesos.Value_TEXT.Enum()},
		{Name: proto.String("a"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(math.NaN())}},
	} {
		if _, err := AttributesFromProto([]*mesos.Attribute{m}); err == nil {
			t.Errorf("AttributesFromProto(%v) succeeded", m)
		}
	}
}
