package acl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// encode writes a in Mesos' JSON form, the way an operator would: every
// entity with its "type", and its "values" when it has any list.
func encode(t *testing.T, a *ACLs) []byte {
	t.Helper()
	entity := func(e Entity) map[string]any {
		m := map[string]any{"type": e.Type.String()}
		if e.Values != nil {
			m["values"] = e.Values
		}
		return m
	}
	doc := map[string]any{"permissive": a.Permissive}
	for action, rules := range a.Rules {
		list := []map[string]any{}
		for _, r := range rules {
			list = append(list, map[string]any{"principals": entity(r.Principals), actions[action].object: entity(r.Objects)})
		}
		doc[string(action)] = list
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseACLs feeds --acls documents. A refused one gets an error that
// says what is wrong; an accepted one re-encodes to a document that
// parses to the same ACLs, and its authorizer never allows with
// "permissive": false what it refuses with "permissive": true (the
// default decides only what no rule matches).
func FuzzParseACLs(f *testing.F) {
	for _, s := range []string{
		`{"permissive": false, "register_frameworks": [{"principals": {"values": ["eng"]}, "roles": {"values": ["eng", "eng/%"]}}]}`,
		`{"run_tasks": [{"principals": {"type": "NONE"}, "users": {"values": ["root"]}}]}`,
		`{"teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}, {"principals": {"type": "NONE"}, "framework_principals": {"type": "ANY"}}]}`,
		`{"get_endpoints": [{"principals": {"type": "ANY"}, "paths": {"values": ["/metrics/snapshot"]}}]}`,
		`{"view_flags": [{"principals": {"values": ["a"]}, "flags": {"values": ["x"]}}]}`,
		`{"register_framework": []}`,
		`{"permissive": "yes"}`,
		`{"run_tasks": [{"principals": {"type": "SOME", "values": []}, "users": {"type": "ANY"}, "extra": 1}]}`,
		`null`,
		`{"view_roles": [{"principals": {"values": ["a"]}, "roles": {"values": ["a/%", "b", "%"]}}]} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			if msg := err.Error(); strings.TrimSpace(msg) == "" || strings.Contains(msg, "%!") {
				t.Fatalf("error without a message: %q", msg)
			}
			return
		}
		again, err := Parse(encode(t, a))
		if err != nil {
			t.Fatalf("re-encoding %s is refused: %v", encode(t, a), err)
		}
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("re-encoding parses to %+v, want %+v", again, a)
		}

		strict := *a
		strict.Permissive = false
		lenient := *a
		lenient.Permissive = true
		sa, la := New(&strict), New(&lenient)
		subjects := []Subject{SubjectOf("", false)}
		objects := []Object{{}}
		for action, rules := range a.Rules {
			for _, r := range rules {
				for _, p := range r.Principals.Values {
					subjects = append(subjects, Principal(p))
				}
				for _, o := range r.Objects.Values {
					objects = append(objects, Value(o), Value(strings.TrimSuffix(o, "%")+"child"))
				}
			}
			for _, s := range subjects[:min(len(subjects), 8)] {
				for _, o := range objects[:min(len(objects), 8)] {
					if sa.Allowed(action, s, o) && !la.Allowed(action, s, o) {
						t.Fatalf("%s by %v on %+v: allowed when not permissive, refused when permissive", action, s, o)
					}
				}
			}
		}
	})
}
