package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigFlag is the name of the flag ConfigVar defines.
const ConfigFlag = "config"

// configPath is the value of --config; its type marks a flag set whose
// Parse reads a configuration file.
type configPath string

func (c *configPath) String() string     { return string(*c) }
func (c *configPath) Set(s string) error { *c = configPath(s); return nil }

// ConfigVar defines --config on fs: the path of a configuration file, YAML
// or JSON, whose top-level keys are fs's flag names and whose values are
// the flags' values (`port: 5050`, `work_dir: /var/lib/mezzo`; the flags
// that take JSON, those Parse reads file:// values for, may be given a list
// or a mapping, handed to them as JSON text). Parse reads it: a flag given on the command line wins over its
// MEZZO_/MESOS_ environment variable, which wins over the file, which wins
// over the flag's default. The path itself comes from --config or from
// MEZZO_CONFIG (MESOS_CONFIG), never from the file.
func ConfigVar(fs *flag.FlagSet) {
	fs.Var(new(configPath), ConfigFlag, "Path of a configuration file (YAML or JSON) whose keys are this command's flag names; "+
		"flags on the command line, then MEZZO_*/MESOS_* environment variables, take precedence over it.")
}

// applyConfig sets every flag that the configuration file at path names
// and that is not in skip (set on the command line or by the environment).
// Every problem is reported, each with its key and line.
func applyConfig(fs *flag.FlagSet, path string, skip map[string]bool, jsonFlags []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: --config: %w", fs.Name(), err)
	}
	entries, err := decodeConfig(b)
	if err != nil {
		return fmt.Errorf("%s: config %s: %w", fs.Name(), path, err)
	}
	var errs []error
	for _, e := range entries {
		if e.err != nil {
			errs = append(errs, fmt.Errorf("%s: config %s: line %d: key %q: %w", fs.Name(), path, e.line, e.key, e.err))
			continue
		}
		if skip[e.key] && e.key != ConfigFlag {
			continue
		}
		if err := setFromConfig(fs, e, jsonFlags); err != nil {
			errs = append(errs, fmt.Errorf("%s: config %s: line %d: key %q: %w", fs.Name(), path, e.line, e.key, err))
		}
	}
	return errors.Join(errs...)
}

func setFromConfig(fs *flag.FlagSet, e configEntry, jsonFlags []string) error {
	if e.key == ConfigFlag {
		return errors.New("a configuration file cannot name another one")
	}
	f := fs.Lookup(e.key)
	if f == nil {
		return fmt.Errorf("unknown flag (%s)", suggest(fs, e.key))
	}
	if e.structured && !slices.Contains(jsonFlags, e.key) {
		return fmt.Errorf("a list or mapping, but --%s takes a single value", e.key)
	}
	if err := f.Value.Set(e.value); err != nil {
		return fmt.Errorf("invalid value %q: %w%s", e.value, err, want(f))
	}
	return nil
}

// want says what the flag package's own flag types take, whose errors
// ("parse error") do not.
func want(f *flag.Flag) string {
	switch fmt.Sprintf("%T", f.Value) {
	case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
		return " (want a whole number)"
	case "*flag.float64Value":
		return " (want a number)"
	case "*flag.boolValue":
		return " (want true or false)"
	}
	return ""
}

// configEntry is one top-level key of a configuration file.
type configEntry struct {
	key  string
	line int
	// value is the scalar as written, or a list or mapping as JSON text.
	value      string
	structured bool
	// err is a problem with the entry itself (no value, a repeated key).
	err error
}

// decodeConfig reads a YAML or JSON document whose top level is a mapping
// into its entries, in the file's order.
func decodeConfig(b []byte) ([]configEntry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	default:
		return nil, fmt.Errorf("line %d: a second document; the file must hold one mapping of flag names to values", extra.Line)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must hold a mapping of flag names to values, not a %s", top.Line, kindName(top))
	}
	seen := map[string]int{}
	var out []configEntry
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		e := configEntry{key: k.Value, line: k.Line}
		switch {
		case k.Kind != yaml.ScalarNode:
			e.key, e.err = fmt.Sprintf("<%s>", kindName(k)), errors.New("a key must be a flag name")
		case seen[k.Value] != 0:
			e.err = fmt.Errorf("given twice (first on line %d)", seen[k.Value])
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			e.err = errors.New("no value")
		case v.Kind == yaml.ScalarNode:
			e.value = v.Value
		case v.Kind == yaml.AliasNode:
			e.err = errors.New("aliases are not supported")
		default:
			var x any
			if err := v.Decode(&x); err != nil {
				e.err = fmt.Errorf("reading its %s: %w", kindName(v), err)
				break
			}
			j, err := json.Marshal(x)
			if err != nil {
				e.err = fmt.Errorf("its %s cannot be written as JSON: %w", kindName(v), err)
				break
			}
			e.value, e.structured = string(j), true
		}
		if k.Kind == yaml.ScalarNode && seen[k.Value] == 0 {
			seen[k.Value] = k.Line
		}
		out = append(out, e)
	}
	return out, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	default:
		return "value"
	}
}

// suggest names the defined flag closest to name, or says how to list them.
func suggest(fs *flag.FlagSet, name string) string {
	best, bestD := "", len(name)/2+2
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(strings.ToLower(name), n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return fmt.Sprintf("'mezzo %s --help' lists the flags", fs.Name())
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
