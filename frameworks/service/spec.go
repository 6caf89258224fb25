package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/mezzo-project/mezzo/sdk/offers"
)

// Spec describes a service: its roles and how to run them. It is read
// from YAML or JSON (see ParseSpec); the field names below are the keys.
type Spec struct {
	// Name names the service and its framework ("mezzo-service:<name>").
	// Required: letters, digits, '-', '_' and '.'.
	Name string `yaml:"name"`
	// Role is the Mesos role the framework subscribes with; default "*".
	Role string `yaml:"role"`
	// User runs the tasks; default the agent's choice (the framework's
	// user, "root").
	User string `yaml:"user"`
	// StateDir keeps the framework's state and logs; default
	// /tmp/mezzo-service/<name>. A relative path is relative to the spec
	// file.
	StateDir string `yaml:"state_dir"`
	// API is the address the framework's HTTP API listens on; default
	// 127.0.0.1:0 (any free port, written to <state_dir>/api.addr).
	API string `yaml:"api"`
	// Home, URIs and Env apply to every role unless the role sets its
	// own (Env is merged, the role's winning).
	Home string            `yaml:"home"`
	URIs []string          `yaml:"uris"`
	Env  map[string]string `yaml:"env"`
	// Restart bounds the backoff between restarts of a failing instance.
	Restart Restart `yaml:"restart"`
	// Roles are deployed in order of their dependencies.
	Roles []*RoleSpec `yaml:"roles"`
}

// Restart is the backoff of a failing instance: Delay seconds after the
// first failure, doubling after each further one up to MaxDelay. A task
// that stayed healthy for MaxDelay before it failed starts the count
// again: its instance waits Delay.
type Restart struct {
	Delay    float64 `yaml:"delay"`     // seconds; default 1
	MaxDelay float64 `yaml:"max_delay"` // seconds; default 30
}

// RoleSpec is one role of a service: Instances identical tasks.
type RoleSpec struct {
	// Name names the role (e.g. "master"); required, unique.
	Name string `yaml:"name"`
	// Instances is how many tasks run; default 1 (0 is allowed).
	Instances *int `yaml:"instances"`
	// Cpus, Mem (MB) and Disk (MB) each task needs; default 0.1 cpus and
	// 32 MB.
	Cpus float64 `yaml:"cpus"`
	Mem  float64 `yaml:"mem"`
	Disk float64 `yaml:"disk"`
	// Ports maps a port's name to "19998" (fixed), "29998-30000" (the
	// lowest free port of the range) or "0" (any port).
	Ports map[string]string `yaml:"ports"`
	// Command is run with sh -c in the sandbox; a template (see Context).
	Command string `yaml:"command"`
	// Env adds environment variables (values are templates).
	Env map[string]string `yaml:"env"`
	// Home is where the distribution is: "LOCAL:/usr" (or an absolute
	// path) for a local install on every agent, or a directory in the
	// sandbox where URIs are extracted (e.g. "redis-dist"). Templates see
	// it as {{.Home}}.
	Home string `yaml:"home"`
	// URIs are fetched (and archives extracted) into the sandbox.
	URIs []string `yaml:"uris"`
	// Files are written into the sandbox before Command runs: name ->
	// template of the content.
	Files map[string]string `yaml:"files"`
	// Constraints are Marathon-style placement constraints:
	// [hostname, UNIQUE], [rack, CLUSTER, r1], [zone, LIKE, "eu-.*"].
	Constraints [][]string `yaml:"constraints"`
	// Health is the task's health check, run by the agent's executor.
	Health *Health `yaml:"health"`
	// DependsOn names roles whose instances must all be healthy before
	// this role's instances start.
	DependsOn []string `yaml:"depends_on"`

	constraints []offers.Constraint
	ports       []offers.PortSpec // sorted by name
}

// Health is a command health check (Mesos' HealthCheck of type COMMAND):
// exit 0 is healthy.
type Health struct {
	// Command is run with sh -c in the task's sandbox, with its
	// environment; a template.
	Command string `yaml:"command"`
	// Delay before the first check, Interval between checks, Timeout of
	// one check and Grace (failures ignored until the first success
	// within it), in seconds; defaults 0, 1, 5, 30.
	Delay    float64 `yaml:"delay"`
	Interval float64 `yaml:"interval"`
	Timeout  float64 `yaml:"timeout"`
	Grace    float64 `yaml:"grace"`
	// Failures in a row kill the task; default 3.
	Failures uint32 `yaml:"failures"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ReadSpec reads and checks the spec file at path; a relative StateDir is
// made relative to the file's directory.
func ReadSpec(file string) (*Spec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	s, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", file, err)
	}
	if s.StateDir != "" && !path.IsAbs(s.StateDir) {
		s.StateDir = path.Join(path.Dir(file), s.StateDir)
	}
	return s, nil
}

// ParseSpec parses a spec in YAML or JSON, rejects unknown keys, fills
// defaults and checks it.
func ParseSpec(data []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Spec) check() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("name %q: want letters, digits, '-', '_' or '.'", s.Name)
	}
	if s.Role == "" {
		s.Role = "*"
	}
	if s.StateDir == "" {
		s.StateDir = path.Join(os.TempDir(), "mezzo-service", s.Name)
	}
	if s.API == "" {
		s.API = "127.0.0.1:0"
	}
	if s.Restart.Delay <= 0 {
		s.Restart.Delay = 1
	}
	if s.Restart.MaxDelay <= 0 {
		s.Restart.MaxDelay = 30
	}
	if len(s.Roles) == 0 {
		return errors.New("roles: at least one role is needed")
	}
	seen := map[string]bool{}
	for i, r := range s.Roles {
		if r == nil || !nameRE.MatchString(r.Name) {
			return fmt.Errorf("roles[%d]: name %q: want letters, digits, '-', '_' or '.'", i, r.GetName())
		}
		if seen[r.Name] {
			return fmt.Errorf("roles[%d]: role %q is named twice", i, r.Name)
		}
		seen[r.Name] = true
		if err := s.checkRole(r); err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
	}
	for _, r := range s.Roles {
		for _, d := range r.DependsOn {
			if !seen[d] {
				return fmt.Errorf("role %s: depends_on names no role %q", r.Name, d)
			}
		}
	}
	if cycle := s.cycle(); cycle != "" {
		return fmt.Errorf("depends_on has a cycle through role %s", cycle)
	}
	return nil
}

// GetName returns the role's name (empty for nil).
func (r *RoleSpec) GetName() string {
	if r == nil {
		return ""
	}
	return r.Name
}

var fileRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`)

func (s *Spec) checkRole(r *RoleSpec) error {
	if r.Instances == nil {
		one := 1
		r.Instances = &one
	}
	if *r.Instances < 0 {
		return fmt.Errorf("instances %d: must not be negative", *r.Instances)
	}
	if r.Cpus < 0 || r.Mem < 0 || r.Disk < 0 {
		return errors.New("cpus, mem and disk must not be negative")
	}
	if r.Cpus == 0 {
		r.Cpus = 0.1
	}
	if r.Mem == 0 {
		r.Mem = 32
	}
	if strings.TrimSpace(r.Command) == "" {
		return errors.New("command is required")
	}
	if r.Home == "" {
		r.Home = s.Home
	}
	if len(r.URIs) == 0 {
		r.URIs = s.URIs
	}
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	for k, v := range r.Env {
		env[k] = v
	}
	r.Env = env
	for k := range r.Env {
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k) {
			return fmt.Errorf("env %q: not a variable name", k)
		}
	}
	names := make([]string, 0, len(r.Ports))
	for n := range r.Ports {
		names = append(names, n)
	}
	sort.Strings(names)
	r.ports = nil
	for _, n := range names {
		if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`).MatchString(n) {
			return fmt.Errorf("port name %q: want a letter then letters, digits or '_'", n)
		}
		p, err := offers.ParsePort(r.Ports[n])
		if err != nil {
			return fmt.Errorf("port %s: %w", n, err)
		}
		p.Name = n
		r.ports = append(r.ports, p)
	}
	r.constraints = nil
	for _, c := range r.Constraints {
		pc, err := offers.ParseConstraint(c)
		if err != nil {
			return err
		}
		r.constraints = append(r.constraints, pc)
	}
	for name := range r.Files {
		if !fileRE.MatchString(name) || strings.Contains(name, "..") {
			return fmt.Errorf("file %q: want a relative path inside the sandbox", name)
		}
	}
	if h := r.Health; h != nil {
		if strings.TrimSpace(h.Command) == "" {
			return errors.New("health: command is required")
		}
		if h.Interval <= 0 {
			h.Interval = 1
		}
		if h.Timeout <= 0 {
			h.Timeout = 5
		}
		if h.Grace <= 0 {
			h.Grace = 30
		}
		if h.Failures == 0 {
			h.Failures = 3
		}
	}
	// Parse every template now, so that a typo fails at once.
	tpls := map[string]string{"command": r.Command}
	for k, v := range r.Env {
		tpls["env "+k] = v
	}
	for k, v := range r.Files {
		tpls["file "+k] = v
	}
	if r.Health != nil {
		tpls["health command"] = r.Health.Command
	}
	for what, text := range tpls {
		if _, err := template.New(what).Funcs(templateFuncs(nil)).Option("missingkey=error").Parse(text); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// cycle returns a role on a dependency cycle, or "".
func (s *Spec) cycle() string {
	deps := map[string][]string{}
	for _, r := range s.Roles {
		deps[r.Name] = r.DependsOn
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) string
	visit = func(n string) string {
		switch state[n] {
		case 1:
			return n
		case 2:
			return ""
		}
		state[n] = 1
		for _, d := range deps[n] {
			if c := visit(d); c != "" {
				return c
			}
		}
		state[n] = 2
		return ""
	}
	for _, r := range s.Roles {
		if c := visit(r.Name); c != "" {
			return c
		}
	}
	return ""
}

// role returns the role named name, or nil.
func (s *Spec) role(name string) *RoleSpec {
	for _, r := range s.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// home returns the Home as templates see it: "LOCAL:/usr" becomes "/usr".
func (r *RoleSpec) home() string {
	if h, ok := strings.CutPrefix(r.Home, "LOCAL:"); ok {
		return h
	}
	return r.Home
}
