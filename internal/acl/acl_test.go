package acl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t *testing.T, doc string) *Authorizer {
	t.Helper()
	a, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return New(a)
}

type check struct {
	action  Action
	subject Subject
	object  Object
	want    bool
}

func run(t *testing.T, a *Authorizer, checks []check) {
	t.Helper()
	for _, c := range checks {
		if got := a.Allowed(c.action, c.subject, c.object); got != c.want {
			t.Errorf("%s by %v on %+v: got %v, want %v", c.action, c.subject, c.object, got, c.want)
		}
	}
}

func TestNilAuthorizerAllowsEverything(t *testing.T) {
	var a *Authorizer
	if a.Enabled() || !a.Allowed(RunTasks, Anonymous, Value("root")) {
		t.Fatal("nil authorizer must allow")
	}
	if _, ok := a.AllowedAll(RegisterFrameworks, Principal("p"), nil); !ok {
		t.Fatal("nil authorizer must allow")
	}
	if New(nil) != nil {
		t.Fatal("New(nil) must be nil")
	}
}

// The examples of Mesos' docs/authorization.md, decided as Mesos does.
func TestMesosDocumentedExamples(t *testing.T) {
	t.Run("only foo registers analytics", func(t *testing.T) {
		a := mustParse(t, `{"register_frameworks": [
			{"principals": {"values": ["foo"]}, "roles": {"values": ["analytics"]}},
			{"principals": {"type": "NONE"}, "roles": {"values": ["analytics"]}}]}`)
		run(t, a, []check{
			{RegisterFrameworks, Principal("foo"), Value("analytics"), true},
			{RegisterFrameworks, Principal("bar"), Value("analytics"), false},
			{RegisterFrameworks, Anonymous, Value("analytics"), false},
			{RegisterFrameworks, Principal("bar"), Value("ads"), true},
			{RegisterFrameworks, Principal("foo"), Value("ads"), true},
		})
	})
	t.Run("foo only analytics and ads", func(t *testing.T) {
		a := mustParse(t, `{"register_frameworks": [
			{"principals": {"values": ["foo"]}, "roles": {"values": ["analytics", "ads"]}},
			{"principals": {"values": ["foo"]}, "roles": {"type": "NONE"}}]}`)
		run(t, a, []check{
			{RegisterFrameworks, Principal("foo"), Value("ads"), true},
			{RegisterFrameworks, Principal("foo"), Value("web"), false},
			{RegisterFrameworks, Principal("bar"), Value("web"), true},
			{RegisterFrameworks, Anonymous, Value("web"), true},
		})
	})
	t.Run("not permissive", func(t *testing.T) {
		a := mustParse(t, `{"permissive": false, "run_tasks": [
			{"principals": {"type": "ANY"}, "users": {"values": ["guest", "bar"]}}]}`)
		run(t, a, []check{
			{RunTasks, Principal("foo"), Value("guest"), true},
			{RunTasks, Anonymous, Value("bar"), true},
			{RunTasks, Principal("foo"), Value("root"), false},
			// No rule for the action at all: not permissive.
			{ViewFlags, Principal("foo"), AnyObject, false},
		})
	})
	t.Run("nobody runs as root", func(t *testing.T) {
		a := mustParse(t, `{"run_tasks": [{"principals": {"type": "NONE"}, "users": {"values": ["root"]}}]}`)
		run(t, a, []check{
			{RunTasks, Principal("foo"), Value("root"), false},
			{RunTasks, Anonymous, Value("root"), false},
			{RunTasks, Principal("foo"), Value("alice"), true},
		})
	})
	t.Run("order: the first matching rule decides", func(t *testing.T) {
		deny := `{"principals": {"type": "NONE"}, "framework_principals": {"type": "ANY"}}`
		allow := `{"principals": {"values": ["admin"]}, "framework_principals": {"type": "ANY"}}`
		run(t, mustParse(t, `{"teardown_frameworks": [`+deny+`,`+allow+`]}`), []check{
			{TeardownFrameworks, Principal("admin"), Value("p"), false},
		})
		run(t, mustParse(t, `{"teardown_frameworks": [`+allow+`,`+deny+`]}`), []check{
			{TeardownFrameworks, Principal("admin"), Value("p"), true},
			{TeardownFrameworks, Principal("ops"), Value("p"), false},
			{TeardownFrameworks, Anonymous, Value("p"), false},
		})
	})
}

// The match and allow matrices of Mesos' local authorizer, cell by cell:
// one rule, permissive true (a rule that does not match lets the request
// through) and false.
func TestMatrix(t *testing.T) {
	rule := map[string]string{
		"SOME": `{"values": ["p"]}`, "SOMEother": `{"values": ["q"]}`,
		"ANY": `{"type": "ANY"}`, "NONE": `{"type": "NONE"}`,
	}
	request := map[string]Subject{"SOME": Principal("p"), "ANY": Anonymous}
	// want[request][rule] = {permissive true, permissive false}
	want := map[string]map[string][2]bool{
		"SOME": {"SOME": {true, true}, "SOMEother": {true, false}, "ANY": {true, true}, "NONE": {false, false}},
		"ANY":  {"SOME": {true, false}, "SOMEother": {true, false}, "ANY": {true, true}, "NONE": {false, false}},
	}
	for req, byRule := range want {
		for r, w := range byRule {
			for i, permissive := range []string{"true", "false"} {
				a := mustParse(t, `{"permissive": `+permissive+`, "view_frameworks": [{"principals": `+rule[r]+`, "users": {"type": "ANY"}}]}`)
				if got := a.Allowed(ViewFrameworks, request[req], Value("u")); got != w[i] {
					t.Errorf("request %s, rule principals %s, permissive %s: got %v, want %v", req, r, permissive, got, w[i])
				}
			}
		}
	}
	// An object of ANY (no particular object) is matched by a rule on ANY or
	// NONE objects only, and allowed by ANY only.
	a := mustParse(t, `{"permissive": false, "view_flags": [{"principals": {"values": ["p"]}, "flags": {"type": "ANY"}}],
		"set_log_level": [{"principals": {"type": "ANY"}, "level": {"type": "NONE"}}]}`)
	run(t, a, []check{
		{ViewFlags, Principal("p"), AnyObject, true},
		{ViewFlags, Principal("q"), AnyObject, false},
		{SetLogLevel, Principal("p"), AnyObject, false},
	})
}

func TestHierarchicalRoles(t *testing.T) {
	a := mustParse(t, `{"permissive": false, "register_frameworks": [
		{"principals": {"values": ["eng"]}, "roles": {"values": ["eng/%", "ops"]}},
		{"principals": {"values": ["eng"]}, "roles": {"values": ["eng"]}}],
		"run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["a/%"]}}]}`)
	run(t, a, []check{
		{RegisterFrameworks, Principal("eng"), Value("eng/dev"), true},
		{RegisterFrameworks, Principal("eng"), Value("eng/dev/x"), true},
		{RegisterFrameworks, Principal("eng"), Value("ops"), true},
		{RegisterFrameworks, Principal("eng"), Value("eng"), true},
		{RegisterFrameworks, Principal("eng"), Value("engineering"), false},
		{RegisterFrameworks, Principal("other"), Value("eng/dev"), false},
		// "/%" means nested roles for role actions only.
		{RunTasks, Principal("x"), Value("a/b"), false},
		{RunTasks, Principal("x"), Value("a/%"), true},
	})
	// A recursive rule does not cover the role itself.
	b := mustParse(t, `{"permissive": false, "reserve_resources": [{"principals": {"type": "ANY"}, "roles": {"values": ["a/%"]}}]}`)
	run(t, b, []check{
		{ReserveResources, Principal("x"), Value("a"), false},
		{ReserveResources, Principal("x"), Value("a/b"), true},
	})
	if denied, ok := a.AllowedAll(RegisterFrameworks, Principal("eng"), []string{"eng/x", "web", "ops"}); ok || denied != "web" {
		t.Fatalf("AllowedAll: got %q, %v; want web refused", denied, ok)
	}
	if _, ok := a.AllowedAll(RegisterFrameworks, Principal("eng"), nil); ok {
		t.Fatal("no roles under permissive false must be refused")
	}
}

func TestParseErrorsNameTheProblem(t *testing.T) {
	for doc, want := range map[string]string{
		`{"register_framework": []}`: `unknown ACL "register_framework"; did you mean "register_frameworks"?`,
		`{"run_tasks": [{"principals": {"type": "ANY"}, "user": {"type": "ANY"}}]}`:   `run_tasks[0]: unknown field "user"`,
		`{"run_tasks": [{"principals": {"type": "ANY"}}]}`:                            `run_tasks[0]: missing required field "users"`,
		`{"run_tasks": [{"principals": {"type": "ALL"}, "users": {"type": "ANY"}}]}`:  `run_tasks[0].principals.type: unknown type "ALL"`,
		`{"run_tasks": [{"principals": {"value": ["a"]}, "users": {"type": "ANY"}}]}`: `run_tasks[0].principals: unknown field "value"`,
		`{"run_tasks": [{"principals": {"values": "a"}, "users": {"type": "ANY"}}]}`:  `run_tasks[0].principals.values: want a list of strings`,
		`{"permissive": "no"}`: `'permissive' must be true or false`,
		`{"view_flags": [{"principals": {"type": "ANY"}, "flags": {"values": ["x"]}}]}`:     `view_flags[0].flags: the type must be either NONE or ANY`,
		`{"get_endpoints": [{"principals": {"type": "ANY"}, "paths": {"values": ["/x"]}}]}`: `"/x" is not an authorizable path`,
		`[1]`:               `ACLs are not a JSON object`,
		`{} {}`:             `trailing data`,
		`{"run_tasks": {}}`: `run_tasks: want a list`,
	} {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s): got %v, want an error containing %q", doc, err, want)
		}
	}
}

func TestParseFlag(t *testing.T) {
	doc := `{"permissive": false, "run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}]}`
	path := filepath.Join(t.TempDir(), "acls.json")
	if err := os.WriteFile(path, []byte(doc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{doc, "file://" + path, path} {
		acls, err := ParseFlag(v)
		if err != nil {
			t.Fatalf("ParseFlag(%q): %v", v, err)
		}
		if acls.Permissive || len(acls.Rules[RunTasks]) != 1 {
			t.Fatalf("ParseFlag(%q): %+v", v, acls)
		}
	}
	if _, err := ParseFlag("file:///nonexistent/acls.json"); err == nil || !strings.Contains(err.Error(), "/nonexistent/acls.json") {
		t.Fatalf("missing file: %v", err)
	}
	// Every action of Mesos' ACLs message is read.
	var b strings.Builder
	b.WriteString("{")
	first := true
	for name, spec := range actions {
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(`"` + string(name) + `": [{"principals": {"type": "ANY"}, "` + spec.object + `": {"type": "ANY"}}]`)
	}
	b.WriteString("}")
	acls, err := Parse([]byte(b.String()))
	if err != nil || len(acls.Rules) != len(actions) || len(actions) != 54 {
		t.Fatalf("all actions: %d rules of %d actions, %v", len(acls.Rules), len(actions), err)
	}
}
