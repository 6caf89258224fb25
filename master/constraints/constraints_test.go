package constraints

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	mesos "github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

func parse(t *testing.T, js string) *schedpb.OfferConstraints {
	t.Helper()
	oc := &schedpb.OfferConstraints{}
	if err := protojson.Unmarshal([]byte(js), oc); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return oc
}

func agent(host, region string, attrs ...*mesos.Attribute) *mesos.AgentInfo {
	info := &mesos.AgentInfo{Hostname: &host, Attributes: attrs}
	if region != "" {
		zone := region + "-a"
		info.Domain = &mesos.DomainInfo{FaultDomain: &mesos.DomainInfo_FaultDomain{
			Region: &mesos.DomainInfo_FaultDomain_RegionInfo{Name: &region},
			Zone:   &mesos.DomainInfo_FaultDomain_ZoneInfo{Name: &zone},
		}}
	}
	return info
}

func text(name, v string) *mesos.Attribute {
	return &mesos.Attribute{Name: &name, Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: &v}}
}

func scalar(name string, v float64) *mesos.Attribute {
	return &mesos.Attribute{Name: &name, Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: &v}}
}

func TestPredicates(t *testing.T) {
	rackA := agent("h1.example.com", "eu", text("rack", "a"), scalar("cores", 8))
	rackB := agent("h2.example.com", "", text("rack", "b"))
	bare := agent("h3.other.org", "")
	cases := []struct {
		name       string
		constraint string
		excluded   []bool // rackA, rackB, bare
	}{
		{"exists", `{"selector":{"attribute_name":"rack"},"predicate":{"exists":{}}}`, []bool{false, false, true}},
		{"not exists", `{"selector":{"attribute_name":"rack"},"predicate":{"not_exists":{}}}`, []bool{true, true, false}},
		{"text equals", `{"selector":{"attribute_name":"rack"},"predicate":{"text_equals":{"value":"a"}}}`, []bool{false, true, true}},
		{"text not equals", `{"selector":{"attribute_name":"rack"},"predicate":{"text_not_equals":{"value":"a"}}}`, []bool{true, false, false}},
		// A SCALAR attribute satisfies every text predicate, as in Mesos.
		{"scalar equals", `{"selector":{"attribute_name":"cores"},"predicate":{"text_equals":{"value":"2"}}}`, []bool{false, true, true}},
		{"scalar not matches", `{"selector":{"attribute_name":"cores"},"predicate":{"text_not_matches":{"regex":".*"}}}`, []bool{false, false, false}},
		{"hostname matches whole", `{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_matches":{"regex":"h[0-9]\\.example"}}}`, []bool{true, true, true}},
		{"hostname matches", `{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_matches":{"regex":"h[0-9]\\.example\\.com"}}}`, []bool{false, false, true}},
		{"hostname not matches", `{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_not_matches":{"regex":".*\\.com"}}}`, []bool{true, true, false}},
		{"region exists", `{"selector":{"pseudoattribute_type":"REGION"},"predicate":{"exists":{}}}`, []bool{false, true, true}},
		{"zone equals", `{"selector":{"pseudoattribute_type":"ZONE"},"predicate":{"text_equals":{"value":"eu-a"}}}`, []bool{false, true, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(parse(t, `{"role_constraints":{"r":{"groups":[{"attribute_constraints":[`+tc.constraint+`]}]}}}`), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range []*mesos.AgentInfo{rackA, rackB, bare} {
				if got := f.Excludes("r", a); got != tc.excluded[i] {
					t.Errorf("agent %s: excluded %v, want %v", a.GetHostname(), got, tc.excluded[i])
				}
				if f.Excludes("other", a) {
					t.Errorf("a role without constraints excluded %s", a.GetHostname())
				}
			}
		})
	}
}

// TestGroups: groups are alternatives, constraints within a group all
// have to hold.
func TestGroups(t *testing.T) {
	f, err := Compile(parse(t, `{"role_constraints":{"r":{"groups":[
		{"attribute_constraints":[
			{"selector":{"attribute_name":"rack"},"predicate":{"text_equals":{"value":"a"}}},
			{"selector":{"pseudoattribute_type":"REGION"},"predicate":{"text_equals":{"value":"eu"}}}]},
		{"attribute_constraints":[
			{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_equals":{"value":"h3"}}}]}]}}}`), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		info     *mesos.AgentInfo
		excluded bool
	}{
		{agent("h1", "eu", text("rack", "a")), false},
		{agent("h2", "us", text("rack", "a")), true},
		{agent("h4", "", text("rack", "a")), true},
		{agent("h3", ""), false},
	} {
		if got := f.Excludes("r", tc.info); got != tc.excluded {
			t.Errorf("%v: excluded %v, want %v", tc.info, got, tc.excluded)
		}
	}
	var none *Filter
	if none.Excludes("r", agent("h", "")) || none.Constrains("r") {
		t.Error("a nil filter excludes")
	}
}

func TestInvalid(t *testing.T) {
	long := strings.Repeat("abcdefghij", 12)
	for _, tc := range []struct{ js, want string }{
		{`{"role_constraints":{"r":{}}}`, "empty 'RoleConstraints::groups' for role r"},
		{`{"role_constraints":{"r":{"groups":[{}]}}}`, "contains an empty RoleConstraints::Group"},
		{`{"role_constraints":{"r":{"groups":[{"attribute_constraints":[{"selector":{},"predicate":{"exists":{}}}]}]}}}`, "Exactly one of"},
		{`{"role_constraints":{"r":{"groups":[{"attribute_constraints":[{"selector":{"pseudoattribute_type":"UNKNOWN"},"predicate":{"exists":{}}}]}]}}}`, "Unknown pseudoattribute type"},
		{`{"role_constraints":{"r":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{}}]}]}}}`, "Unknown predicate type"},
		{`{"role_constraints":{"r":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{"text_matches":{"regex":"(a"}}}]}]}}}`, "Failed to construct regex from pattern '(a'"},
		{`{"role_constraints":{"r":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{"text_matches":{"regex":"` + long + `"}}}]}]}}}`, "--offer_constraints_re2_max_mem"},
	} {
		_, err := Compile(parse(t, tc.js), DefaultLimits())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.js, err, tc.want)
		}
	}
	_, err := Compile(parse(t, `{"role_constraints":{"r":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"x"},"predicate":{"text_matches":{"regex":"a{1,30}"}}}]}]}}}`), Limits{MaxProgramSize: 20})
	if err == nil || !strings.Contains(err.Error(), "is too complex: program size of") {
		t.Errorf("program size limit: %v", err)
	}
}
