package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Value is one value of a resource summary or an attribute map: a number
// (a scalar) or a string. Mesos writes ranges as "[31000-31004, 31010-31010]",
// sets as "{a, b}" and text attributes as their text; build those with
// RangesValue, SetValue and TextValue, and read them back with Ranges and
// Set. The zero Value is the number 0.
type Value struct {
	// Scalar is the number, when IsText is false.
	Scalar float64
	// Text is the string, when IsText is true.
	Text string
	// IsText says which of Scalar and Text holds the value.
	IsText bool
}

// ScalarValue returns the number f.
func ScalarValue(f float64) Value { return Value{Scalar: f} }

// TextValue returns the string s as it is (a text attribute).
func TextValue(s string) Value { return Value{Text: s, IsText: true} }

// RangesValue returns ranges in Mesos' form: "[b-e, b-e]", "[]" for none.
// The ranges are written in the order given; Mesos writes them sorted and
// coalesced.
func RangesValue(ranges ...Range) Value {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range ranges {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(r.Begin, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(r.End, 10))
	}
	b.WriteByte(']')
	return TextValue(b.String())
}

// SetValue returns a set in Mesos' form: "{a, b}", "{}" for none. The items
// are written in the order given; Mesos writes them sorted.
func SetValue(items ...string) Value {
	return TextValue("{" + strings.Join(items, ", ") + "}")
}

// Range is an inclusive range of values, such as ports 31000-32000.
type Range struct {
	// Begin is the first value in the range.
	Begin uint64
	// End is the last value in the range (inclusive).
	End uint64
}

// ErrNotRanges and ErrNotSet report a Value that does not hold ranges or a
// set in Mesos' form.
var (
	ErrNotRanges = errors.New("legacy: value is not ranges")
	ErrNotSet    = errors.New("legacy: value is not a set")
)

// Ranges parses v as ranges in Mesos' form ("[31000-31004, 31010-31010]").
// It returns an error wrapping ErrNotRanges if v is a number or not in that
// form.
func (v Value) Ranges() ([]Range, error) {
	s, ok := strings.CutPrefix(v.Text, "[")
	if ok {
		s, ok = strings.CutSuffix(s, "]")
	}
	if !v.IsText || !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotRanges, v)
	}
	if s == "" {
		return []Range{}, nil
	}
	parts := strings.Split(s, ", ")
	out := make([]Range, 0, len(parts))
	for _, p := range parts {
		b, e, ok := strings.Cut(p, "-")
		begin, err1 := strconv.ParseUint(b, 10, 64)
		end, err2 := strconv.ParseUint(e, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: %s", ErrNotRanges, v)
		}
		out = append(out, Range{Begin: begin, End: end})
	}
	return out, nil
}

// Set parses v as a set in Mesos' form ("{a, b}"). It returns an error
// wrapping ErrNotSet if v is a number or not in that form.
func (v Value) Set() ([]string, error) {
	s, ok := strings.CutPrefix(v.Text, "{")
	if ok {
		s, ok = strings.CutSuffix(s, "}")
	}
	if !v.IsText || !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotSet, v)
	}
	if s == "" {
		return []string{}, nil
	}
	return strings.Split(s, ", "), nil
}

// String returns v as it appears in JSON.
func (v Value) String() string {
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Sprint(v.Scalar)
	}
	return string(b)
}

// MarshalJSON writes v as a JSON number (in Float's form) or string.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.IsText {
		return appendString(nil, v.Text), nil
	}
	return Float(v.Scalar).MarshalJSON()
}

// UnmarshalJSON reads a JSON number or string.
func (v *Value) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*v = TextValue(s)
		return nil
	}
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil {
		return fmt.Errorf("legacy: expected a number or a string, got %.20s", data)
	}
	*v = ScalarValue(f)
	return nil
}

// NamedValue is one key of a resource summary or attribute map.
type NamedValue struct {
	// Name is the resource or attribute name ("cpus", "ports", "rack").
	Name string
	// Value is its value.
	Value Value
}

// Resources is the summary Mesos writes for a set of resources (the
// "resources", "used_resources", "offered_resources", "unreserved_resources"
// keys and each role of "reserved_resources"): one key per resource name,
// scalars as numbers, ranges and sets as strings (see Value), revocable
// resources under "<name>_revocable".
//
// Mesos always writes cpus, gpus, mem and disk, 0.0 when absent; Resources
// encodes any of those four it lacks first, as 0.0, in the order Mesos 1.11
// writes them (disk, mem, gpus, cpus), so the zero Resources encodes as
// Mesos' empty summary. The other entries are written in slice order, which
// decoding preserves. When building one, add scalars first, then ranges,
// then sets, as Mesos does.
type Resources []NamedValue

// summaryNames are the names Mesos always writes in a resource summary, in
// the order Mesos 1.11 writes them.
var summaryNames = [...]string{"disk", "mem", "gpus", "cpus"}

// Get returns the value of name, and whether r has it.
func (r Resources) Get(name string) (Value, bool) {
	for _, nv := range r {
		if nv.Name == name {
			return nv.Value, true
		}
	}
	return Value{}, false
}

// Scalar returns the number for name: 0 if r lacks name or holds a string
// for it.
func (r Resources) Scalar(name string) float64 {
	v, _ := r.Get(name)
	if v.IsText {
		return 0
	}
	return v.Scalar
}

// Set sets name to v, in place if r has name, else at the end.
func (r *Resources) Set(name string, v Value) {
	*r = Resources(setNamed(*r, name, v))
}

// MarshalJSON writes r as an object, adding cpus, gpus, mem and disk as 0.0
// when missing.
func (r Resources) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	n := 0
	for _, name := range summaryNames {
		if _, ok := r.Get(name); !ok {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendString(b, name)
			b = append(b, ":0.0"...)
			n++
		}
	}
	return appendNamed(b, []NamedValue(r), n)
}

// UnmarshalJSON reads an object, keeping its key order.
func (r *Resources) UnmarshalJSON(data []byte) error {
	nv, err := parseNamed(data)
	*r = Resources(nv)
	return err
}

// Attributes is an agent's attributes as Mesos writes them: name to value,
// in the agent's order; scalar attributes as numbers, text, ranges and sets
// as strings (see Value). Decoding preserves the key order. A nil Attributes
// encodes as {}.
type Attributes []NamedValue

// Get returns the value of name, and whether a has it.
func (a Attributes) Get(name string) (Value, bool) { return Resources(a).Get(name) }

// Set sets name to v, in place if a has name, else at the end.
func (a *Attributes) Set(name string, v Value) {
	*a = Attributes(setNamed(*a, name, v))
}

// MarshalJSON writes a as an object.
func (a Attributes) MarshalJSON() ([]byte, error) {
	return appendNamed([]byte{'{'}, []NamedValue(a), 0)
}

// UnmarshalJSON reads an object, keeping its key order.
func (a *Attributes) UnmarshalJSON(data []byte) error {
	nv, err := parseNamed(data)
	*a = Attributes(nv)
	return err
}

func setNamed(list []NamedValue, name string, v Value) []NamedValue {
	for i := range list {
		if list[i].Name == name {
			list[i].Value = v
			return list
		}
	}
	return append(list, NamedValue{Name: name, Value: v})
}

// appendNamed appends the entries of list to b, which holds an open object
// with n entries already, and closes the object.
func appendNamed(b []byte, list []NamedValue, n int) ([]byte, error) {
	for i, nv := range list {
		if n+i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, nv.Name)
		b = append(b, ':')
		v, err := nv.Value.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nv.Name, err)
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// parseNamed reads a JSON object whose values are numbers or strings, in key
// order.
func parseNamed(data []byte) ([]NamedValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if string(bytes.TrimSpace(data)) == "null" {
			return nil, nil
		}
		return nil, fmt.Errorf("legacy: expected an object of numbers and strings, got %.20s", data)
	}
	list := []NamedValue{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		var v Value
		if err := v.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		list = append(list, NamedValue{Name: name, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return list, nil
}

// RoleResources maps a role to the summary of the resources reserved for it
// ("reserved_resources", "reserved_resources_allocated"). It encodes with
// roles sorted (Mesos' order is its hash map's); a nil RoleResources encodes
// as {}.
type RoleResources map[string]Resources

// MarshalJSON writes r with sorted keys, {} when r is nil.
func (r RoleResources) MarshalJSON() ([]byte, error) {
	return marshalMap(map[string]Resources(r))
}

// FullResources is a list of Resource messages in full, as Mesos writes them
// in the "*_full" keys of /master/slaves and the agent's /state so operators
// can name exact reservations and volumes to /unreserve and
// /destroy-volumes. Each element is one Resource in Mesos' protobuf JSON
// mapping, kept verbatim (see ProtoJSON for why). Mesos writes them in its
// "endpoint" format: "reservations" as stored, plus, for tooling older than
// reservation refinement, "role" ("*" when unreserved) and, for a single
// dynamic reservation, "reservation"; refined reservations get neither.
// A nil FullResources encodes as [].
type FullResources []ProtoJSON

// MarshalJSON writes f as an array, [] when f is nil.
func (f FullResources) MarshalJSON() ([]byte, error) {
	return List[ProtoJSON](f).MarshalJSON()
}

// RoleFullResources maps a role to its reserved resources in full
// ("reserved_resources_full"). It encodes with roles sorted; a nil
// RoleFullResources encodes as {}.
type RoleFullResources map[string]FullResources

// MarshalJSON writes r with sorted keys, {} when r is nil.
func (r RoleFullResources) MarshalJSON() ([]byte, error) {
	return marshalMap(map[string]FullResources(r))
}
