package resources

import (
	"fmt"
	"slices"
	"strings"
)

// Attribute is a named property of an agent (mesos.v1.Attribute), set with
// the agent's --attributes flag and copied into every offer of the agent so
// that frameworks can place tasks (rack, zone, os version, ...). Of the
// value fields only the one matching Type is used. Attributes from the
// flag are never ValueSet.
type Attribute struct {
	Name   string
	Type   ValueType
	Scalar Scalar
	Ranges Ranges
	Set    []string
	Text   string
}

// Equal reports whether a and b have the same name, type and value.
func (a Attribute) Equal(b Attribute) bool {
	if a.Name != b.Name || a.Type != b.Type {
		return false
	}
	switch a.Type {
	case ValueScalar:
		return a.Scalar == b.Scalar
	case ValueRanges:
		return a.Ranges.Equal(b.Ranges)
	case ValueSet:
		return slices.Equal(a.Set, b.Set)
	case ValueText:
		return a.Text == b.Text
	}
	return false
}

// String formats a as Mesos does in logs: "rack=r1".
func (a Attribute) String() string {
	return a.Name + "=" + string(a.appendValue(nil, ", "))
}

func (a *Attribute) appendValue(b []byte, sep string) []byte {
	switch a.Type {
	case ValueScalar:
		return a.Scalar.appendText(b)
	case ValueRanges:
		return a.Ranges.appendText(b, sep)
	case ValueSet:
		return appendSet(b, a.Set, sep)
	}
	return append(b, a.Text...)
}

// ParseAttributes reads the agent's --attributes flag:
//
//	rack:r1;zone:us-east-1;level:3;ports:[1-10]
//
// Attributes are separated by ';' or newlines; each is name:value split at
// the first ':' (so a value may contain ':'), neither side empty. Names are
// trimmed of surrounding whitespace; whitespace inside values is removed.
// Values are ranges ([b-e,...]), scalars (non-negative decimal numbers) or
// text (anything else, including negative numbers); set values ({a,b}) are
// rejected, as Mesos rejects them. Names may repeat; the order is kept.
//
// Errors are *ParseError, naming the token and its offset.
func ParseAttributes(text string) ([]Attribute, error) {
	var attrs []Attribute
	for _, t := range tokens(text, ";\n") {
		fail := func(format string, args ...any) error {
			return &ParseError{Input: text, Token: t.text, Offset: t.offset, Reason: fmt.Sprintf(format, args...)}
		}
		name, right, ok := strings.Cut(t.text, ":")
		if !ok {
			return nil, fail("want name:value")
		}
		if name = strings.Trim(name, whitespace); name == "" {
			return nil, fail("empty attribute name")
		}
		v, reason := parseValue(right)
		switch {
		case reason != "":
			return nil, fail("%s", reason)
		case v.typ == ValueSet:
			return nil, fail("set values are not supported for attributes")
		}
		attrs = append(attrs, Attribute{Name: name, Type: v.typ, Scalar: v.scalar, Ranges: v.ranges, Text: v.text})
	}
	return attrs, nil
}

// FormatAttributes writes attrs in the form ParseAttributes reads:
// "rack:r1;zone:us-east-1;level:3;ports:[1-10]". Every list ParseAttributes
// returns formats to text that parses back to an equal list. Attributes it
// could not have returned (text with whitespace, ';' or brackets, text
// that reads as a number, sets) are written as they are and may not read
// back the same.
func FormatAttributes(attrs []Attribute) string {
	var b []byte
	for i := range attrs {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, attrs[i].Name...)
		b = append(b, ':')
		b = attrs[i].appendValue(b, ",")
	}
	return string(b)
}
