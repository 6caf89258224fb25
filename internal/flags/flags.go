// Package flags reads Mezzo's command-line flags the way Mesos reads its
// own: `--name=value` (or `--name value`), Mesos' duration syntax
// (`15secs`, `500ms`, `2mins`), values from `file:///path`, and defaults
// from environment variables `MEZZO_<NAME>` (and `MESOS_<NAME>`, so
// existing deployment scripts keep working), with the command line taking
// precedence. Daemons also take a configuration file (ConfigVar: YAML or
// JSON, flag names as keys) below the environment in precedence.
package flags

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that parses and prints Mesos' duration
// syntax: a number followed by one of ns, us, ms, secs, mins, hrs, days,
// weeks.
type Duration time.Duration

var units = []struct {
	name string
	d    time.Duration
}{
	{"weeks", 7 * 24 * time.Hour},
	{"days", 24 * time.Hour},
	{"hrs", time.Hour},
	{"mins", time.Minute},
	{"secs", time.Second},
	{"ms", time.Millisecond},
	{"us", time.Microsecond},
	{"ns", time.Nanosecond},
}

// ParseDuration reads a duration in Mesos' syntax ("15secs", "1.5mins").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	end := 0
	for end < len(t) && (t[end] == '.' || t[end] == '-' || t[end] == '+' || t[end] == 'e' && end > 0 && isDigit(t[end-1]) || isDigit(t[end])) {
		end++
	}
	num, unit := t[:end], t[end:]
	if num == "" {
		return 0, fmt.Errorf("invalid duration %q: expected a number followed by a unit (ns, us, ms, secs, mins, hrs, days, weeks)", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid duration %q: %q is not a number", s, num)
	}
	for _, u := range units {
		if unit == u.name {
			f := v * float64(u.d)
			// float64(math.MaxInt64) is 2^63, one past the largest
			// Duration: equal is out of range too.
			if math.Abs(f) >= math.MaxInt64 {
				return 0, fmt.Errorf("invalid duration %q: out of range", s)
			}
			return time.Duration(f), nil
		}
	}
	if unit == "" {
		return 0, fmt.Errorf("invalid duration %q: missing unit (ns, us, ms, secs, mins, hrs, days, weeks)", s)
	}
	return 0, fmt.Errorf("invalid duration %q: unknown unit %q (want ns, us, ms, secs, mins, hrs, days, weeks)", s, unit)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FormatDuration writes d as Mesos does: in the largest unit that d
// reaches, with up to 15 significant digits ("15secs", "1.5mins", "10mins").
func FormatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign = "-"
		d = -d
	}
	for _, u := range units {
		if d >= u.d || u.d == time.Nanosecond {
			v := float64(d) / float64(u.d)
			return sign + strconv.FormatFloat(v, 'g', 15, 64) + u.name
		}
	}
	return sign + "0ns"
}

// String returns the Mesos form.
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// Set parses the Mesos form (flag.Value).
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DurationVar defines a Mesos-syntax duration flag.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*Duration)(p), name, usage)
}

// Parse parses args into fs after applying environment defaults: for each
// defined flag not given on the command line, MEZZO_<NAME> (or else
// MESOS_<NAME>) with the name upper-cased supplies the value. When fs has
// the --config flag of ConfigVar and it names a file (on the command line
// or in MEZZO_CONFIG), the file supplies the flags that neither the
// command line nor the environment set. A value
// "file:///path" is replaced by the file's contents (trailing newline
// removed) for the flags named in fileFlags. As in Mesos, "--no-NAME"
// sets a boolean flag NAME to false. Errors name the flag (or the
// configuration file's key), all of them at once.
func Parse(fs *flag.FlagSet, args []string, fileFlags ...string) error {
	fs.SetOutput(discard{})
	if err := fs.Parse(negations(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags are --name=value)", fs.Name(), fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		key := strings.ToUpper(f.Name)
		for _, prefix := range []string{"MEZZO_", "MESOS_"} {
			if v, ok := os.LookupEnv(prefix + key); ok {
				given[f.Name] = true
				if err := f.Value.Set(v); err != nil {
					errs = append(errs, fmt.Errorf("%s: environment %s%s=%q: %w", fs.Name(), prefix, key, v, err))
				}
				return
			}
		}
	})
	if f := fs.Lookup(ConfigFlag); f != nil {
		if path, ok := f.Value.(*configPath); ok && *path != "" {
			if err := applyConfig(fs, string(*path), given, fileFlags); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, name := range fileFlags {
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if v := f.Value.String(); strings.HasPrefix(v, "file://") {
			b, err := os.ReadFile(strings.TrimPrefix(v, "file://"))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: --%s: %w", fs.Name(), name, err))
				continue
			}
			if err := f.Value.Set(strings.TrimRight(string(b), "\n")); err != nil {
				errs = append(errs, fmt.Errorf("%s: --%s from %s: %w", fs.Name(), name, v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// negations rewrites Mesos' "--no-NAME" for a boolean flag NAME as
// "--NAME=false"; every other argument is left as it is.
func negations(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a == "--" {
			return append(out, args[len(out):]...)
		}
		name, ok := strings.CutPrefix(a, "--no-")
		if !ok {
			name, ok = strings.CutPrefix(a, "-no-")
		}
		if f := fs.Lookup(name); ok && !strings.Contains(name, "=") && f != nil && isBool(f) {
			a = "--" + name + "=false"
		}
		out = append(out, a)
	}
	return out
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Usage writes fs's flags with their defaults to w in Mesos' --name=value
// style.
func Usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(&b, "  --%s", f.Name)
		if f.DefValue != "" {
			fmt.Fprintf(&b, "=%s", f.DefValue)
		}
		fmt.Fprintf(&b, "\n      %s\n", f.Usage)
	})
	return b.String()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// bytesUnits are the units of Mesos' Bytes flags.
var bytesUnits = map[string]uint64{"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}

var bytesValue = regexp.MustCompile(`^(\d+)([KMGT]?B)?$`)

// ParseBytes reads a byte size as Mesos' Bytes flags take it: a whole
// number with an optional unit B, KB, MB, GB or TB (powers of 1024).
func ParseBytes(s string) (uint64, error) {
	m := bytesValue.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("want a size such as 10MB (units B, KB, MB, GB, TB)")
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, err
	}
	unit := bytesUnits[m[2]]
	if n > ^uint64(0)/unit {
		return 0, fmt.Errorf("too large")
	}
	return n * unit, nil
}

// FormatBytes writes a size as Mesos' Bytes does: in the largest unit
// that loses nothing (64MB, 1536KB, 100B).
func FormatBytes(n uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	u := 0
	for u < len(units)-1 && n != 0 && n%1024 == 0 {
		n /= 1024
		u++
	}
	return fmt.Sprintf("%d%s", n, units[u])
}
