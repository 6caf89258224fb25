package offers

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func ports(ranges ...[2]uint64) *mesos.Resource {
	r := &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{}}
	for _, rg := range ranges {
		r.Ranges.Range = append(r.Ranges.Range, &mesos.Value_Range{Begin: proto.Uint64(rg[0]), End: proto.Uint64(rg[1])})
	}
	return r
}

func offer(host string, rs ...*mesos.Resource) *mesos.Offer {
	return &mesos.Offer{Id: &mesos.OfferID{Value: proto.String("o1")}, Hostname: proto.String(host),
		AgentId: &mesos.AgentID{Value: proto.String("a1")}, Resources: rs}
}

func reserved(r *mesos.Resource, role string) *mesos.Resource {
	r.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}}
	return r
}

func TestTakeScalarsAndPorts(t *testing.T) {
	p := NewPool(offer("h1", Scalar("cpus", 1), Scalar("mem", 256), ports([2]uint64{19998, 19999}, [2]uint64{31000, 31002})), "*")
	m, _, ok := p.Take(Need{Cpus: 0.5, Mem: 128, Ports: []PortSpec{{Port: 19998}, {}, {Min: 31001, Max: 31005}}})
	if !ok {
		t.Fatal("first need should fit")
	}
	if fmt.Sprint(m.Ports) != "[19998 19999 31001]" {
		t.Errorf("ports = %v, want [19998 19999 31001]", m.Ports)
	}
	if got := p.Scalar("cpus"); got != 0.5 {
		t.Errorf("cpus left = %g", got)
	}
	// The fixed port is gone now; the Misfit names it.
	_, mis, ok := p.Take(Need{Cpus: 0.1, Ports: []PortSpec{{Port: 19998}}})
	if ok || mis.Reason != "no port 19998" {
		t.Errorf("second take: ok=%v misfit=%v", ok, mis)
	}
	// A failed take leaves the pool as it was.
	if got := p.Scalar("cpus"); got != 0.5 {
		t.Errorf("cpus left after a misfit = %g", got)
	}
	_, mis, ok = p.Take(Need{Cpus: 0.6})
	if ok || mis.Resource != "cpus" {
		t.Errorf("too many cpus: ok=%v misfit=%v", ok, mis)
	}
	if _, _, ok := p.Take(Need{Cpus: 0.5, Mem: 128, Ports: []PortSpec{{}, {}}}); !ok {
		t.Error("the rest should fit: 31000 and 31002 are left")
	}
}

func TestPoolRoles(t *testing.T) {
	o := offer("h1", reserved(Scalar("cpus", 2), "web"), Scalar("cpus", 1), reserved(Scalar("mem", 64), "db"))
	if got := NewPool(o, "web").Scalar("cpus"); got != 3 {
		t.Errorf("role web sees %g cpus, want 3", got)
	}
	if got := NewPool(o, "*").Scalar("cpus"); got != 1 {
		t.Errorf("role * sees %g cpus, want 1", got)
	}
	if got := NewPool(o, "web").Scalar("mem"); got != 0 {
		t.Errorf("role web sees mem reserved to db: %g", got)
	}
	// Across reserved and unreserved, the role's reservation first.
	m, _, ok := NewPool(o, "web").Take(Need{Cpus: 2.5})
	if !ok || len(m.Resources) != 2 {
		t.Fatalf("take across reserved and unreserved: ok=%v %v", ok, m.Resources)
	}
	for _, r := range m.Resources {
		want := 0.5
		if len(r.GetReservations()) == 1 {
			want = 2
		}
		if r.GetScalar().GetValue() != want {
			t.Errorf("piece %v: want %g", r, want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]string{"19998": "19998", "29998-30000": "29998-30000", "0": "any", "": "any"} {
		p, err := ParsePort(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePort(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"x", "70000", "5-3", "0-4", "-"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("ParsePort(%q) accepted", bad)
		}
	}
}

func TestConstraints(t *testing.T) {
	rack := func(v string) []*mesos.Attribute {
		return []*mesos.Attribute{{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String(v)}}}
	}
	h1 := Host{Hostname: "h1", Attributes: rack("r1")}
	h2 := Host{Hostname: "h2", Attributes: rack("r2")}
	cases := []struct {
		c      []string
		h      Host
		others []Host
		ok     bool
	}{
		{[]string{"hostname", "UNIQUE"}, h1, []Host{h2}, true},
		{[]string{"hostname", "UNIQUE"}, h1, []Host{h1}, false},
		{[]string{"rack", "CLUSTER", "r1"}, h1, nil, true},
		{[]string{"rack", "CLUSTER", "r1"}, h2, nil, false},
		{[]string{"rack", "LIKE", "r[12]"}, h2, nil, true},
		{[]string{"rack", "LIKE", "r1"}, h2, nil, false},
		{[]string{"rack", "UNLIKE", "r1"}, h2, nil, true},
		{[]string{"zone", "CLUSTER", "a"}, h1, nil, false},
	}
	for _, tc := range cases {
		c, err := ParseConstraint(tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if ok, m := c.Allows(tc.h, tc.others); ok != tc.ok {
			t.Errorf("%v on %s: allowed=%v (%v), want %v", tc.c, tc.h.Hostname, ok, m, tc.ok)
		}
	}
	for _, bad := range [][]string{{"hostname"}, {"hostname", "NEAR"}, {"rack", "LIKE"}, {"rack", "LIKE", "("}, {"", "UNIQUE"}} {
		if _, err := ParseConstraint(bad); err == nil {
			t.Errorf("ParseConstraint(%q) accepted", bad)
		}
	}
}
