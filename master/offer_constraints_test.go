package master

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

func offerConstraints(t *testing.T, js string) *schedpb.OfferConstraints {
	t.Helper()
	oc := &schedpb.OfferConstraints{}
	if err := protojson.Unmarshal([]byte(js), oc); err != nil {
		t.Fatal(err)
	}
	return oc
}

func offeredHosts(f *recFramework) map[string]string {
	out := map[string]string{}
	for _, o := range f.offers() {
		out[o.GetHostname()] = o.GetId().GetValue()
	}
	return out
}

// TestOfferConstraints: a framework is offered only the agents its offer
// constraints admit; UPDATE_FRAMEWORK with new constraints rescinds the
// offers they exclude and offers what they now admit; the constraints
// show in GET_FRAMEWORKS and /master/state.
func TestOfferConstraints(t *testing.T) {
	h := newHarness(t)
	h.addAgent("ssd-1.example.com", "cpus:1;mem:128")
	h.addAgent("hdd-1.example.com", "cpus:1;mem:128")
	h.addAgent("ssd-2.other.org", "cpus:1;mem:128")

	info := &mesos.FrameworkInfo{User: proto.String("tester"), Name: proto.String("constrained")}
	f := &recFramework{streamID: "fw-c"}
	oc := offerConstraints(t, `{"role_constraints":{"*":{"groups":[{"attribute_constraints":[
		{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_matches":{"regex":"ssd-[0-9]+\\..*"}}},
		{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_not_matches":{"regex":".*\\.org"}}}]}]}}}`)
	h.step(func(c *core) {
		f.id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{FrameworkInfo: info, OfferConstraints: oc})
	})
	if f.id == "" {
		t.Fatalf("refused: %v", f.events)
	}
	f.take(schedpb.Event_SUBSCRIBED)
	h.advance(h.c.cfg.AllocationInterval)
	got := offeredHosts(f)
	if len(got) != 1 || got["ssd-1.example.com"] == "" {
		t.Fatalf("offered %v, want only ssd-1.example.com", got)
	}

	// Every client sees its constraints.
	var fws []string
	h.step(func(c *core) {
		for _, fw := range c.getFrameworks().GetFrameworks() {
			fws = append(fws, protojson.Format(fw.GetOfferConstraints()))
		}
	})
	if len(fws) != 1 || !strings.Contains(fws[0], "ssd-[0-9]+") {
		t.Errorf("GET_FRAMEWORKS offer_constraints: %v", fws)
	}
	var state string
	h.step(func(c *core) {
		b, err := json.Marshal(c.state())
		if err != nil {
			t.Fatal(err)
		}
		state = string(b)
	})
	if !strings.Contains(state, `"pseudoattribute_type":"HOSTNAME"`) {
		t.Errorf("/master/state lacks the offer constraints")
	}

	// New constraints: the ssd offer is rescinded, hdd is offered.
	info.Id = frameworkID(f.id)
	h.mustCall(f, &schedpb.Call{
		Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(),
		UpdateFramework: &schedpb.Call_UpdateFramework{
			FrameworkInfo: info,
			OfferConstraints: offerConstraints(t, `{"role_constraints":{"*":{"groups":[{"attribute_constraints":[
				{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_equals":{"value":"hdd-1.example.com"}}}]}]}}}`),
		},
	})
	if r := f.take(schedpb.Event_RESCIND); len(r) != 1 {
		t.Errorf("%d offers rescinded, want the ssd one", len(r))
	}
	h.advance(h.c.cfg.AllocationInterval)
	if got := offeredHosts(f); len(got) != 1 || got["hdd-1.example.com"] == "" {
		t.Fatalf("after the update offered %v, want only hdd-1.example.com", got)
	}

	// Clearing the constraints admits every agent.
	h.mustCall(f, &schedpb.Call{
		Type:            schedpb.Call_UPDATE_FRAMEWORK.Enum(),
		UpdateFramework: &schedpb.Call_UpdateFramework{FrameworkInfo: info},
	})
	h.advance(h.c.cfg.AllocationInterval)
	if got := offeredHosts(f); len(got) != 2 {
		t.Fatalf("without constraints offered %v, want the two other agents", got)
	}
}

func TestOfferConstraintsInvalid(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OfferConstraintLimits.MaxProgramSize = 10 })
	for _, tc := range []struct{ js, want string }{
		{`{"role_constraints":{"*":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{"text_matches":{"regex":"(unclosed"}}}]}]}}}`,
			"Offer constraints are not valid: "},
		{`{"role_constraints":{"*":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{"text_matches":{"regex":"abcdefghijklmnop"}}}]}]}}}`,
			"is too complex: program size of"},
		{`{"role_constraints":{"other":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{"exists":{}}}]}]}}}`,
			"not contained in the set of roles"},
	} {
		f := &recFramework{streamID: "fw-bad"}
		h.step(func(c *core) {
			f.id = c.subscribe(f, f.streamID, &schedpb.Call_Subscribe{
				FrameworkInfo:    &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("bad")},
				OfferConstraints: offerConstraints(t, tc.js),
			})
		})
		errs := f.take(schedpb.Event_ERROR)
		if f.id != "" || len(errs) != 1 || !strings.Contains(errs[0].GetError().GetMessage(), tc.want) || !f.closed {
			t.Errorf("%s: id %q, errors %v; want refused with %q", tc.js, f.id, errs, tc.want)
		}
	}
}
