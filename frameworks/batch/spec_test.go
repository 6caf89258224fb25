package batch

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpecDefaultsAndRender(t *testing.T) {
	s, err := ParseSpec([]byte(`
name: wc
tasks: 3
command: wc -w {{index .Inputs.files .Index}} attempt-{{.Attempt}}
inputs:
  files: [a.txt, b.txt, c.txt]
uris:
  - http://example.invalid/{{index .Inputs.files .Index}}
  - uri: http://example.invalid/tool.tar.gz
    cache: false
deadline: 90
backoff: 250ms
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Cpus != 0.1 || s.Mem != 32 || s.Role != "*" || s.MaxBackoff != Duration(30*time.Second) ||
		s.Deadline != Duration(90*time.Second) || s.Backoff != Duration(250*time.Millisecond) {
		t.Errorf("defaults: %+v", s)
	}
	r, err := s.Render(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Command != "wc -w c.txt attempt-2" {
		t.Errorf("command %q", r.Command)
	}
	if r.URIs[0].Value != "http://example.invalid/c.txt" || r.URIs[0].Cache != nil || *r.URIs[1].Cache {
		t.Errorf("uris %+v", r.URIs)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"name: x\ncommand: true\n", "tasks: 0"},
		{"name: 'a b'\ntasks: 1\ncommand: true\n", `name "a b"`},
		{"name: x\ntasks: 1\n", "command: missing"},
		{"name: x\ntasks: 1\ncommand: true\nparallel: 3\n", "field parallel not found"},
		{"name: x\ntasks: 1\ncommand: true\ndeadline: soon\n", `duration "soon"`},
		{"name: x\ntasks: 1\ncommand: 'echo {{.Index'\n", "command: template"},
		// Task 2 has no element in the list: found before anything runs.
		{"name: x\ntasks: 3\ncommand: 'cat {{index .Inputs.f .Index}}'\ninputs: {f: [a, b]}\n", "task 2"},
		{"name: x\ntasks: 1\ncommand: 'echo {{.Inputs.nope}}'\n", "task 0"},
	} {
		_, err := ParseSpec([]byte(tc.spec))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spec %q: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
}

func TestExampleSpec(t *testing.T) {
	s, err := ReadSpec("../../examples/jobs/squares.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Render(7, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := `echo "task 7 of 100 (green): $(( 7 * 7 ))"`; r.Command != want {
		t.Errorf("command %q, want %q", r.Command, want)
	}
}
