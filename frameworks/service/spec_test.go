package service

import (
	"strings"
	"testing"
)

func TestExampleSpecParses(t *testing.T) {
	s, err := ReadSpec("../../examples/redis-service/redis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Roles) != 2 || *s.Roles[1].Instances != 3 || s.Roles[0].ports[0].Port != 19998 {
		t.Fatalf("unexpected spec: %+v", s.Roles)
	}
	master := &Instance{Role: "master", Index: 0, TaskID: "t", Host: "10.0.0.1", Ports: map[string]uint64{"redis": 19998}}
	peers := func(role string) []Peer {
		if role == "master" {
			return []Peer{{Index: 0, Host: master.Host, Ports: master.Ports}}
		}
		return nil
	}
	r := s.role("replica")
	out, err := render(r, Context{Host: "10.0.0.2", Ports: map[string]uint64{"redis": 29998}, Home: r.home()}, peers)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Files["redis.conf"], "replicaof 10.0.0.1 19998") || !strings.Contains(out.Command, "/usr/bin/redis-server") {
		t.Errorf("rendered: %+v", out)
	}
	before := out.hash()
	master.Host = "10.0.0.3"
	out, _ = render(r, Context{Host: "10.0.0.2", Ports: map[string]uint64{"redis": 29998}, Home: r.home()}, peers)
	if out.hash() == before {
		t.Error("the rendering's hash did not change when the master moved")
	}
	// Without a placed master, a replica cannot render and waits.
	if _, err := render(r, Context{Host: "h", Home: "/usr", Ports: map[string]uint64{"redis": 1}}, func(string) []Peer { return nil }); err == nil ||
		!strings.Contains(err.Error(), "instance 0 of role master is not placed yet") {
		t.Errorf("render without master: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	base := "name: s\nroles:\n  - name: a\n    command: run\n"
	for _, tc := range []struct{ spec, want string }{
		{"name: s\n", "at least one role"},
		{"name: 'bad name'\nroles: [{name: a, command: x}]", "name \"bad name\""},
		{base + "    bogus: 1\n", "field bogus not found"},
		{base + "    ports: {p: '70000'}\n", "port p"},
		{base + "    depends_on: [b]\n", "no role \"b\""},
		{base + "  - name: a\n    command: y\n", "named twice"},
		{"name: s\nroles:\n  - {name: a, command: x, depends_on: [b]}\n  - {name: b, command: x, depends_on: [a]}\n", "cycle"},
		{base + "    files: {'../x': y}\n", "relative path inside the sandbox"},
		{base + "    constraints: [[hostname, NEAR]]\n", "unknown operator"},
		{base + "    command: '{{.Nope'\n", "command"},
		{base + "    instances: -1\n", "must not be negative"},
		{"{", "parse"},
	} {
		_, err := ParseSpec([]byte(tc.spec))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spec %q: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
	// JSON is accepted too.
	if _, err := ParseSpec([]byte(`{"name":"j","roles":[{"name":"a","command":"true","ports":{"http":"0"}}]}`)); err != nil {
		t.Errorf("JSON spec: %v", err)
	}
}
