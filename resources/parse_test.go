package resources

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t testing.TB, text string) Resources {
	t.Helper()
	rs, err := Parse(text, "*")
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return rs
}

func mustNew(t testing.TB, rs ...Resource) Resources {
	t.Helper()
	out, err := New(rs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func scalarRes(name string, v Scalar) Resource {
	return Resource{Name: name, Type: ValueScalar, Scalar: v}
}

func static(r Resource, role string) Resource {
	r.Reservations = append(r.Reservations, Reservation{Type: ReservationStatic, Role: role})
	return r
}

func TestParse(t *testing.T) {
	ports := Resource{Name: "ports", Type: ValueRanges, Ranges: Ranges{{31000, 32000}, {40000, 40010}}}
	tests := []struct {
		text, role string
		want       []Resource
	}{
		{"", "*", nil},
		{"  ;; ", "*", nil},
		{"cpus:4", "*", []Resource{scalarRes("cpus", 4*Unit)}},
		{
			"cpus:4;mem:1024;disk:2048;ports:[31000-32000,40000-40010];gpus:0;cpus(ads):2;bugs:{a,b,c}", "*",
			[]Resource{
				scalarRes("cpus", 4*Unit), scalarRes("mem", 1024*Unit), scalarRes("disk", 2048*Unit), ports,
				static(scalarRes("cpus", 2*Unit), "ads"),
				{Name: "bugs", Type: ValueSet, Set: []string{"a", "b", "c"}},
			},
		},
		// Whitespace around names and roles and inside values is ignored.
		{" cpus ( ads ) : 0.5 ; mem : 1 024 ", "*", []Resource{static(scalarRes("cpus", 500), "ads"), scalarRes("mem", 1024*Unit)}},
		{"ports:[ 31000 - 32000 ,\t40000-40010 ]", "*", []Resource{ports}},
		// Same resource twice adds up; ranges and sets unite.
		{"cpus:1;cpus:2.5", "*", []Resource{scalarRes("cpus", 3500)}},
		{"ports:[1-5];ports:[3-8,10-10]", "*", []Resource{{Name: "ports", Type: ValueRanges, Ranges: Ranges{{1, 8}, {10, 10}}}}},
		{"bugs:{b,a};bugs:{c,a}", "*", []Resource{{Name: "bugs", Type: ValueSet, Set: []string{"a", "b", "c"}}}},
		// Unsorted, overlapping and adjacent ranges coalesce; empty elements are skipped.
		{"ports:[5-9,1-2,3-4,,8-12]", "*", []Resource{{Name: "ports", Type: ValueRanges, Ranges: Ranges{{1, 12}}}}},
		// Default role reserves statically; (*) stays unreserved.
		{"cpus:1;mem(*):2", "web", []Resource{static(scalarRes("cpus", Unit), "web"), scalarRes("mem", 2*Unit)}},
		{"cpus(web/batch):1", "*", []Resource{static(scalarRes("cpus", Unit), "web/batch")}},
		// Zero and empty values are dropped.
		{"gpus:0;ports:[];bugs:{};cpus:0.0", "*", nil},
		// Scalars: three decimals, rounding half away from zero, exponents.
		{"cpus:0.0005;mem:1e3;disk:+2.", "*", []Resource{scalarRes("cpus", 1), scalarRes("disk", 2*Unit), scalarRes("mem", 1000*Unit)}},
		{"cpus:1.23456", "*", []Resource{scalarRes("cpus", 1235)}},
		// Custom names may contain spaces and odd characters.
		{"my res:1;a)b(r):2", "*", []Resource{static(scalarRes("a)b", 2*Unit), "r"), scalarRes("my res", Unit)}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text, tt.role)
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tt.text, tt.role, err)
			continue
		}
		if want := mustNew(t, tt.want...); !got.Equal(want) {
			t.Errorf("Parse(%q, %q) = %v, want %v", tt.text, tt.role, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		text   string
		token  string
		offset int
		reason string // a substring of Reason
	}{
		{"cpus", "cpus", 0, "exactly one ':'"},
		{"cpus:1;mem", "mem", 7, "exactly one ':'"},
		{"cpus:1; mem:1:2", "mem:1:2", 8, "found 2"},
		{"cpus::4", "cpus::4", 0, "found 2"},
		{":4", ":4", 0, "empty resource name"},
		{"(web):4", "(web):4", 0, "empty resource name"},
		{"cpus:", "cpus:", 0, "empty value"},
		{"cpus:1;mem:-1", "mem:-1", 7, "negative"},
		{"cpus:inf", "cpus:inf", 0, "not a finite number"},
		{"cpus:NaN", "cpus:NaN", 0, "not a finite number"},
		{"cpus:1e400", "cpus:1e400", 0, "out of range"},
		{"cpus:1e-310", "cpus:1e-310", 0, "subnormal"},
		{"cpus:2e12", "cpus:2e12", 0, "exceeds the maximum"},
		{"cpus:0.0001", "cpus:0.0001", 0, "rounds to 0"},
		{"os:linux", "os:linux", 0, "is text"},
		{"cpus:0x10", "cpus:0x10", 0, "is text"},
		{"cpus(web:1", "cpus(web:1", 0, "missing ')'"},
		{"cpus)web(:1", "cpus)web(:1", 0, "missing ')'"},
		{"cpus(web)x:1", "cpus(web)x:1", 0, "after the role"},
		{"cpus():1", "cpus():1", 0, "empty role"},
		{"cpus(/a):1", "cpus(/a):1", 0, "invalid role"},
		{"cpus(a//b):1", "cpus(a//b):1", 0, "empty path component"},
		{"cpus(a/./b):1", "cpus(a/./b):1", 0, "not allowed"},
		{"cpus(-a):1", "cpus(-a):1", 0, "starts with '-'"},
		{"cpus(a b):1", "cpus(a b):1", 0, "whitespace"},
		{"cpus(a/*):1", "cpus(a/*):1", 0, "not allowed"},
		{"ports:[1-2", "ports:[1-2", 0, "mismatched brackets"},
		{"ports:[1-2]]", "ports:[1-2]]", 0, "mismatched brackets"},
		{"ports:[2-1]", "ports:[2-1]", 0, "begin > end"},
		{"ports:[1-2-3-4]", "ports:[1-2-3-4]", 0, "two unsigned"},
		{"ports:[5]", "ports:[5]", 0, "not begin-end"},
		{"ports:[a-b]", "ports:[a-b]", 0, "two unsigned"},
		{"ports:[-1-5]", "ports:[-1-5]", 0, "two unsigned"},
		{"ports:[1-18446744073709551616]", "ports:[1-18446744073709551616]", 0, "two unsigned"},
		{"ports:[1-2]x", "ports:[1-2]x", 0, "ranges must look like"},
		{"ports:[[1-2]]", "ports:[[1-2]]", 0, "ranges must look like"},
		{"ports:x[1-2]", "ports:x[1-2]", 0, "unexpected '['"},
		{"bugs:{a,b}c", "bugs:{a,b}c", 0, "sets must look like"},
		{"bugs:{a,a}", "bugs:{a,a}", 0, "duplicate set item"},
		{"bugs:{a(b)}", "bugs:{a(b)}", 0, "sets must look like"},
		{"bugs:a{b}", "bugs:a{b}", 0, "unexpected '{'"},
		{"cpus:1;cpus:[1-2]", "cpus:[1-2]", 7, "given as SCALAR before, now as RANGES"},
		{"cpus:0;cpus(web):{a}", "cpus(web):{a}", 7, "given as SCALAR before"},
		{"x:(1", "x:(1", 0, "mismatched brackets"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text, "*")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error = %v, want a *ParseError", tt.text, err)
			continue
		}
		if pe.Input != tt.text || pe.Token != tt.token || pe.Offset != tt.offset || !strings.Contains(pe.Reason, tt.reason) {
			t.Errorf("Parse(%q) = %#v; want token %q at %d, reason containing %q", tt.text, pe, tt.token, tt.offset, tt.reason)
		}
		if tt.text[pe.Offset:pe.Offset+len(pe.Token)] != pe.Token {
			t.Errorf("Parse(%q): offset %d does not point at token %q", tt.text, pe.Offset, pe.Token)
		}
	}

	if _, err := Parse("cpus:1", "a//b"); err == nil || !errors.Is(err, ErrInvalidRole) {
		t.Errorf("Parse with invalid default role: %v, want ErrInvalidRole", err)
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse("cpus:4;mem:lots", "*")
	want := `resources: cannot parse "mem:lots" at byte 7: value "lots" is text; resources take scalars, [ranges] or {sets}`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mem:1024;cpus:4", "cpus:4;mem:1024"},
		{"ports:[40000-40010,31000-32000];cpus(ads):0.5;bugs:{c,a,b}", "bugs:{a,b,c};cpus(ads):0.5;ports:[31000-32000,40000-40010]"},
		{"cpus(a):1;cpus:2", "cpus:2;cpus(a):1"},
	}
	for _, tt := range tests {
		rs := mustParse(t, tt.in)
		got := Format(rs)
		if got != tt.want {
			t.Errorf("Format(Parse(%q)) = %q, want %q", tt.in, got, tt.want)
		}
		if back := mustParse(t, got); !back.Equal(rs) {
			t.Errorf("Parse(Format(%v)) = %v", rs, back)
		}
	}
}

func TestString(t *testing.T) {
	rs := mustParse(t, "cpus:4;cpus(web):0.5;ports:[31000-32000,40000-40010];bugs:{b,a}")
	want := "bugs:{a, b}; cpus:4; cpus(reservations: [(STATIC,web)]):0.5; ports:[31000-32000, 40000-40010]"
	if got := rs.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if got := (Resources{}).String(); got != "{}" {
		t.Errorf("empty String() = %q", got)
	}
	pv := Resource{
		Name: "disk", Type: ValueScalar, Scalar: 100 * Unit,
		Reservations: []Reservation{{Type: ReservationDynamic, Role: "db", Principal: "ops", Labels: []Label{{Key: "k", Value: "v", HasValue: true}, {Key: "flag"}}}},
		Disk: &DiskInfo{
			Source:      &DiskSource{Type: DiskSourceMount, Root: "/mnt/a"},
			Persistence: &Persistence{ID: "vol1"},
			Volume:      &Volume{ContainerPath: "data", HostPath: "/h", Mode: VolumeRO},
		},
		Shared: true, AllocationRole: "db", Revocable: true,
	}
	want = "disk(allocated: db)(reservations: [(DYNAMIC,db,ops,{flag, k: v})])[MOUNT:/mnt/a,vol1:/h:data:ro]{REV}<SHARED>:100"
	if got := mustNew(t, pv).String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseQuantities(t *testing.T) {
	q, err := ParseQuantities("cpus:1.5; mem:512;gpus:0;cpus:0.5")
	if err != nil {
		t.Fatal(err)
	}
	want := NewQuantities(Quantity{"cpus", 2 * Unit}, Quantity{"mem", 512 * Unit})
	if !q.Equal(want) || q.String() != "cpus:2;mem:512" {
		t.Errorf("ParseQuantities = %v, want %v", q, want)
	}
	for _, bad := range []string{"cpus", "cpus:1:2", ":1", "cpus:-1", "ports:[1-2]", "cpus:inf", "cpus:x"} {
		var pe *ParseError
		if _, err := ParseQuantities(bad); !errors.As(err, &pe) {
			t.Errorf("ParseQuantities(%q) error = %v, want *ParseError", bad, err)
		}
	}
}
