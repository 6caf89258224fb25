package batch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spec describes a job. It is read from YAML or JSON (see ParseSpec); the
// field names below are the keys.
type Spec struct {
	// Name names the job and its framework ("mezzo-job:<name>"); task ids
	// start with it. Required: letters, digits, '-', '_' and '.'.
	Name string `yaml:"name"`
	// Tasks is how many tasks the job has (indices 0..Tasks-1); required.
	Tasks int `yaml:"tasks"`
	// Command is run with sh -c in each task's sandbox: a template that
	// sees Context.
	Command string `yaml:"command"`
	// Inputs are named values the templates see as {{.Inputs.NAME}}: a
	// string, a number or a list (pick a task's element with
	// {{index .Inputs.files .Index}}).
	Inputs map[string]any `yaml:"inputs"`
	// Env adds environment variables (values are templates).
	Env map[string]string `yaml:"env"`
	// URIs are fetched into every sandbox before the command runs.
	URIs []URI `yaml:"uris"`
	// Cpus, Mem (MB) and Disk (MB) each task needs; default 0.1 cpus and
	// 32 MB.
	Cpus float64 `yaml:"cpus"`
	Mem  float64 `yaml:"mem"`
	Disk float64 `yaml:"disk"`
	// Parallelism is the most tasks running at once; default (0) no
	// limit but the offers.
	Parallelism int `yaml:"parallelism"`
	// Retries is how many times a failed task is run again; default 0.
	Retries int `yaml:"retries"`
	// Backoff is the wait before the first retry of a task, doubled for
	// each further one up to MaxBackoff; defaults 1s and 30s.
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// Deadline bounds the whole job; when it passes, what still runs is
	// killed and the job fails. Default (0) none.
	Deadline Duration `yaml:"deadline"`
	// Role is the Mesos role the framework subscribes with; default "*".
	Role string `yaml:"role"`
	// User runs the tasks; default the framework's user ("root").
	User string `yaml:"user"`
	// StateDir keeps the job's API address, logs and summary; default
	// /tmp/mezzo-job/<name>. A relative path is relative to the spec
	// file.
	StateDir string `yaml:"state_dir"`
	// API is the address the job's HTTP API listens on; default
	// 127.0.0.1:0 (written to <state_dir>/api.addr).
	API string `yaml:"api"`

	command *template.Template
	env     map[string]*template.Template
	uris    []*template.Template
}

// URI is a file shipped into each sandbox. In YAML it is either a string
// (the URI, with cache and extract on) or a mapping of these fields.
type URI struct {
	// Value is the URI (http(s)://, file:// or an absolute path); a
	// template.
	Value string `yaml:"uri"`
	// Cache asks the agent's fetcher to keep the file for later tasks;
	// default true.
	Cache *bool `yaml:"cache"`
	// Extract unpacks archives (.tar.gz, .zip, ...); default true.
	Extract *bool `yaml:"extract"`
	// Executable sets the file's execute bit.
	Executable bool `yaml:"executable"`
	// OutputFile names the file in the sandbox instead of the URI's base
	// name.
	OutputFile string `yaml:"output_file"`
}

// UnmarshalYAML accepts a plain string as a URI with the defaults.
func (u *URI) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		u.Value = n.Value
		return nil
	}
	type plain URI
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*u = URI(p)
	return nil
}

// Duration is a time.Duration read from "90s", "5m" or a number of
// seconds.
type Duration time.Duration

// UnmarshalYAML parses "1m30s" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var f float64
	if err := n.Decode(&f); err == nil {
		*d = Duration(f * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("duration %q: want e.g. 90s, 5m or a number of seconds", n.Value)
	}
	*d = Duration(v)
	return nil
}

// Context is what the templates of a task see; they may also call add,
// sub, mul, div and mod on integers ({{index .Inputs.colors (mod .Index 3)}}).
type Context struct {
	// Index is the task's index, 0..Tasks-1.
	Index int
	// Tasks is the job's number of tasks.
	Tasks int
	// Attempt is 1 for the first run of the task, 2 for its first retry.
	Attempt int
	// Job is the job's name.
	Job string
	// Inputs are the spec's named inputs.
	Inputs map[string]any
}

// funcs are the templates' functions besides text/template's own:
// integer arithmetic, to pick inputs or ranges by index.
var funcs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
	"sub": func(a, b int) int { return a - b },
	"mul": func(a, b int) int { return a * b },
	"div": func(a, b int) (int, error) {
		if b == 0 {
			return 0, errors.New("div by 0")
		}
		return a / b, nil
	},
	"mod": func(a, b int) (int, error) {
		if b == 0 {
			return 0, errors.New("mod by 0")
		}
		return a % b, nil
	},
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ReadSpec reads and checks the spec file at file; a relative StateDir is
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
	if !path.IsAbs(s.StateDir) {
		s.StateDir = path.Join(path.Dir(file), s.StateDir)
	}
	return s, nil
}

// ParseSpec parses a spec in YAML or JSON, rejects unknown keys, fills
// defaults and checks it, rendering the templates of the first and last
// task so that a template error shows before anything runs.
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
	if s.Tasks <= 0 {
		return fmt.Errorf("tasks: %d: want a number of tasks >= 1", s.Tasks)
	}
	if strings.TrimSpace(s.Command) == "" {
		return errors.New("command: missing")
	}
	switch {
	case s.Cpus < 0 || s.Mem < 0 || s.Disk < 0:
		return errors.New("cpus, mem and disk: want amounts >= 0")
	case s.Parallelism < 0:
		return fmt.Errorf("parallelism: %d: want >= 0 (0: no limit)", s.Parallelism)
	case s.Retries < 0:
		return fmt.Errorf("retries: %d: want >= 0", s.Retries)
	case s.Backoff < 0 || s.MaxBackoff < 0 || s.Deadline < 0:
		return errors.New("backoff, max_backoff and deadline: want durations >= 0")
	}
	if s.Cpus == 0 && s.Mem == 0 {
		s.Cpus, s.Mem = 0.1, 32
	}
	if s.Backoff == 0 {
		s.Backoff = Duration(time.Second)
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = Duration(30 * time.Second)
	}
	if s.Role == "" {
		s.Role = "*"
	}
	if s.StateDir == "" {
		s.StateDir = path.Join(os.TempDir(), "mezzo-job", s.Name)
	}
	if s.API == "" {
		s.API = "127.0.0.1:0"
	}
	var err error
	if s.command, err = template.New("command").Funcs(funcs).Option("missingkey=error").Parse(s.Command); err != nil {
		return fmt.Errorf("command: %w", err)
	}
	s.env = map[string]*template.Template{}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("env: name %q: want a name without '='", k)
		}
		if s.env[k], err = template.New("env " + k).Funcs(funcs).Option("missingkey=error").Parse(v); err != nil {
			return fmt.Errorf("env %s: %w", k, err)
		}
	}
	for i, u := range s.URIs {
		if strings.TrimSpace(u.Value) == "" {
			return fmt.Errorf("uris[%d]: missing uri", i)
		}
		t, err := template.New(fmt.Sprintf("uris[%d]", i)).Funcs(funcs).Option("missingkey=error").Parse(u.Value)
		if err != nil {
			return fmt.Errorf("uris[%d]: %w", i, err)
		}
		s.uris = append(s.uris, t)
	}
	for _, i := range []int{0, s.Tasks - 1} {
		if _, err := s.Render(i, 1); err != nil {
			return err
		}
	}
	return nil
}

// Rendered is one task's command, environment and URIs.
type Rendered struct {
	Command string
	Env     map[string]string
	URIs    []URI
}

// Render fills the templates for the task of index and its attempt.
func (s *Spec) Render(index, attempt int) (*Rendered, error) {
	ctx := Context{Index: index, Tasks: s.Tasks, Attempt: attempt, Job: s.Name, Inputs: s.Inputs}
	exec := func(t *template.Template) (string, error) {
		var b strings.Builder
		if err := t.Execute(&b, ctx); err != nil {
			return "", fmt.Errorf("task %d: %w", index, err)
		}
		return b.String(), nil
	}
	r := &Rendered{Env: map[string]string{}}
	var err error
	if r.Command, err = exec(s.command); err != nil {
		return nil, err
	}
	for k, t := range s.env {
		if r.Env[k], err = exec(t); err != nil {
			return nil, err
		}
	}
	for i, t := range s.uris {
		u := s.URIs[i]
		if u.Value, err = exec(t); err != nil {
			return nil, err
		}
		r.URIs = append(r.URIs, u)
	}
	return r, nil
}
