package offers

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// offerOf builds an offer from the text form of its resources, allocated
// to alloc ("" for an offer without allocation info).
func offerOf(t *testing.T, text, alloc string) *mesos.Offer {
	t.Helper()
	rs, err := resources.Parse(text, "*")
	if err != nil {
		t.Fatal(err)
	}
	if alloc != "" {
		rs = rs.Allocate(alloc)
	}
	return offer("h1", resources.ToProto(rs, resources.FormatPostRefinement)...)
}

// taken parses a Match's resources back, without allocation, in the text
// form.
func taken(t *testing.T, m Match) string {
	t.Helper()
	rs, err := resources.FromProto(m.Resources)
	if err != nil {
		t.Fatal(err)
	}
	return resources.Format(rs.Unallocate())
}

func mustNeed(t *testing.T, text string) Need {
	t.Helper()
	n, err := ParseNeed(text)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNeedFromResourceString: named scalars, ranges and sets of a
// resource string are taken like cpus and mem, and the pool keeps the
// rest.
func TestNeedFromResourceString(t *testing.T) {
	p := NewPool(offerOf(t, "cpus:2;mem:1024;gpus:2;ports:[31000-31010];zones:{a,b,c}", ""), "*")
	m, mis, ok := p.Take(mustNeed(t, "cpus:1;gpus:1;ports:[31005-31006];zones:{b}"))
	if !ok {
		t.Fatalf("misfit: %v", mis)
	}
	if got := taken(t, m); got != "cpus:1;gpus:1;ports:[31005-31006];zones:{b}" {
		t.Errorf("taken %s", got)
	}
	if got := resources.Format(p.Left()); got != "cpus:1;gpus:1;mem:1024;ports:[31000-31004,31007-31010];zones:{a,c}" {
		t.Errorf("left %s", got)
	}
	// What is gone is named in the misfit, in the resource's own terms.
	for need, want := range map[string]Misfit{
		"gpus:2":                {"gpus", "gpus offers 1, 2 needed"},
		"ports:[31006-31006]":   {"ports", "ports offers [31000-31004, 31007-31010], [31006-31006] needed"},
		"zones:{b}":             {"zones", "zones offers {a,c}, {b} needed"},
		"fpgas:1":               {"fpgas", "fpgas offers 0, 1 needed"},
		"cpus(web):1":           {"cpus", "no cpus(web):1 offered"},
		"cpus:0.5;mem:2048":     {"mem", "mem offers 1024, 2048 needed"},
		"cpus:0.5;ports:[1-1]":  {"ports", "ports offers [31000-31004, 31007-31010], [1-1] needed"},
		"zones:{a,c};zones2:{}": {}, // fits
	} {
		ok, mis := p.Fits(mustNeed(t, need))
		if ok != (want == Misfit{}) || mis != want {
			t.Errorf("%s: fits=%v misfit=%q, want %q", need, ok, mis, want)
		}
	}
	// A Need mixes fields and resources; dynamic ports come from what is
	// left after the explicit ones.
	m, mis, ok = p.Take(Need{Mem: 512, Ports: []PortSpec{{}}, Resources: mustNeed(t, "ports:[31000-31000]").Resources})
	if !ok || len(m.Ports) != 1 || m.Ports[0] != 31001 {
		t.Fatalf("ports %v, misfit %v", m.Ports, mis)
	}
	if got := taken(t, m); got != "mem:512;ports:[31000-31001]" {
		t.Errorf("taken %s", got)
	}
}

// TestNeedReservations follows mezzo execute's rules for a framework in a
// role: the request as given first, then all of it statically reserved to
// the role, then piece by piece with the role's reservations first.
func TestNeedReservations(t *testing.T) {
	cases := []struct {
		offer, role, need, want string
	}{
		// As given: unreserved when the offer has enough unreserved.
		{"cpus:2;mem:256;cpus(web):2;mem(web):256", "web", "cpus:1;mem:128", "cpus:1;mem:128"},
		// All reserved when only the reservation has room for all of it.
		{"cpus:0.5;mem:256;cpus(web):2;mem(web):256", "web", "cpus:1;mem:128", "cpus(web):1;mem(web):128"},
		// Piece by piece: the role's reservation first, then unreserved.
		{"cpus:2;mem:64;cpus(web):0.5;mem(web):256", "web", "cpus:1;mem:128", "cpus:0.5;cpus(web):0.5;mem(web):128"},
		// A reserved request takes only that reservation.
		{"cpus:4;cpus(web):1", "web", "cpus(web):1", "cpus(web):1"},
		// A named range and set from a reservation.
		{"ports(web):[80-90];zones(web):{a,b}", "web", "ports:[80-81];zones:{a}", "ports(web):[80-81];zones(web):{a}"},
	}
	for _, tc := range cases {
		m, mis, ok := NewPool(offerOf(t, tc.offer, tc.role), tc.role).Take(mustNeed(t, tc.need))
		if !ok {
			t.Errorf("%s from %s (%s): %v", tc.need, tc.offer, tc.role, mis)
			continue
		}
		if got := taken(t, m); got != tc.want {
			t.Errorf("%s from %s (%s): took %s, want %s", tc.need, tc.offer, tc.role, got, tc.want)
		}
	}
	// Resources reserved to another role are not the framework's.
	if ok, mis := NewPool(offerOf(t, "cpus(db):4", ""), "web").Fits(mustNeed(t, "cpus:1")); ok || mis.Reason != "cpus offers 0, 1 needed" {
		t.Errorf("reserved to db, taken by web: %v %v", ok, mis)
	}
	if ok, _ := NewPool(offerOf(t, "cpus(web):4", ""), "*").Fits(mustNeed(t, "cpus(web):1")); ok {
		t.Error("role * took resources reserved to web")
	}
}

// TestDynamicReservationAndAllocation: resources dynamically reserved to
// the role serve an unreserved request, and taken resources carry the
// offer's allocation role, as an ACCEPT of a MULTI_ROLE framework needs.
func TestDynamicReservationAndAllocation(t *testing.T) {
	dyn := Scalar("cpus", 1)
	dyn.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(),
		Role: proto.String("web"), Principal: proto.String("ops")}}
	o := offer("h1", Allocate([]*mesos.Resource{dyn, Scalar("mem", 64)}, "web")...)
	m, mis, ok := NewPool(o, "web").Take(Need{Cpus: 1, Mem: 64})
	if !ok {
		t.Fatal(mis)
	}
	for _, r := range m.Resources {
		if r.GetAllocationInfo().GetRole() != "web" {
			t.Errorf("%v: not allocated to web", r)
		}
		if r.GetName() == "cpus" && r.GetReservations()[0].GetPrincipal() != "ops" {
			t.Errorf("cpus lost the dynamic reservation: %v", r)
		}
	}
}

// TestTakeAllIsAllOrNothing: a group that does not fit as a whole takes
// nothing.
func TestTakeAllIsAllOrNothing(t *testing.T) {
	p := NewPool(offerOf(t, "cpus:1;mem:128", "*"), "*")
	exec, task := Need{Cpus: 0.1, Mem: 32}, Need{Cpus: 0.5, Mem: 64}
	if _, mis, ok := p.TakeAll(exec, task, task); ok || mis.Resource != "cpus" {
		t.Fatalf("three needs of 1.1 cpus in 1: ok=%v %v", ok, mis)
	}
	if got := resources.Format(p.Left()); got != "cpus:1;mem:128" {
		t.Errorf("a failed TakeAll took something: left %s", got)
	}
	ms, _, ok := p.TakeAll(exec, task)
	if !ok || len(ms) != 2 || p.Scalar("cpus") != 0.4 {
		t.Errorf("exec and one task: ok=%v %d matches, %g cpus left", ok, len(ms), p.Scalar("cpus"))
	}
}

func TestBadNeeds(t *testing.T) {
	for _, text := range []string{"cpus:-1", "cpus", "cpus:1;cpus:[1-2]", "x:{a", "cpus(web:1"} {
		if _, err := ParseNeed(text); err == nil {
			t.Errorf("ParseNeed(%q) accepted", text)
		}
	}
	_, mis, ok := NewPool(offerOf(t, "cpus:1", ""), "*").Take(Need{Cpus: -1})
	if ok || mis.Resource != "request" || !strings.Contains(mis.Reason, "cpus") {
		t.Errorf("negative cpus: ok=%v %v", ok, mis)
	}
	if _, err := (Need{Mem: -2}).Resolve(); !errors.Is(err, ErrBadNeed) {
		t.Errorf("Resolve of negative mem: %v", err)
	}
	if _, err := NeedOf([]*mesos.Resource{{Name: proto.String("cpus")}}); err == nil {
		t.Error("NeedOf accepted a resource without type")
	}
}
