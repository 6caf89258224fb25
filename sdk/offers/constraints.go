package offers

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Operator is how a Constraint compares an agent's attribute.
type Operator string

// The operators, named as Marathon's placement constraints.
const (
	// Unique: at most one instance per value of the field ("hostname",
	// UNIQUE is one per host).
	Unique Operator = "UNIQUE"
	// Cluster: the field equals Value (attribute equals).
	Cluster Operator = "CLUSTER"
	// Like: the field matches the regular expression Value, anchored at
	// both ends.
	Like Operator = "LIKE"
	// Unlike: the field does not match Value.
	Unlike Operator = "UNLIKE"
)

// Constraint restricts the agents an instance may run on. Field is
// "hostname" or the name of an agent attribute.
type Constraint struct {
	Field    string
	Operator Operator
	Value    string
	re       *regexp.Regexp
}

// ParseConstraint parses Marathon's form: ["hostname","UNIQUE"],
// ["rack","CLUSTER","r1"], ["zone","LIKE","eu-.*"].
func ParseConstraint(parts []string) (Constraint, error) {
	if len(parts) < 2 || len(parts) > 3 {
		return Constraint{}, fmt.Errorf("constraint %q: want [FIELD, OPERATOR] or [FIELD, OPERATOR, VALUE]", parts)
	}
	c := Constraint{Field: parts[0], Operator: Operator(strings.ToUpper(parts[1]))}
	if len(parts) == 3 {
		c.Value = parts[2]
	}
	if c.Field == "" {
		return Constraint{}, fmt.Errorf("constraint %q: empty field", parts)
	}
	switch c.Operator {
	case Unique:
		if len(parts) == 3 {
			return Constraint{}, fmt.Errorf("constraint %q: UNIQUE takes no value", parts)
		}
	case Cluster:
		if len(parts) != 3 {
			return Constraint{}, fmt.Errorf("constraint %q: CLUSTER needs a value", parts)
		}
	case Like, Unlike:
		if len(parts) != 3 {
			return Constraint{}, fmt.Errorf("constraint %q: %s needs a regular expression", parts, c.Operator)
		}
		re, err := regexp.Compile("^(?:" + c.Value + ")$")
		if err != nil {
			return Constraint{}, fmt.Errorf("constraint %q: %w", parts, err)
		}
		c.re = re
	default:
		return Constraint{}, fmt.Errorf("constraint %q: unknown operator %q (want UNIQUE, CLUSTER, LIKE or UNLIKE)", parts, parts[1])
	}
	return c, nil
}

// String formats the constraint as Marathon writes it.
func (c Constraint) String() string {
	if c.Value == "" {
		return fmt.Sprintf("%s:%s", c.Field, c.Operator)
	}
	return fmt.Sprintf("%s:%s:%s", c.Field, c.Operator, c.Value)
}

// Host is where an instance runs, as far as constraints care.
type Host struct {
	Hostname   string
	Attributes []*mesos.Attribute
}

// HostOf returns the Host of an offer's agent.
func HostOf(o *mesos.Offer) Host {
	return Host{Hostname: o.GetHostname(), Attributes: o.GetAttributes()}
}

// Value returns the host's value of a constraint field and whether it has
// one.
func (h Host) Value(field string) (string, bool) {
	if field == "hostname" {
		return h.Hostname, true
	}
	for _, a := range h.Attributes {
		if a.GetName() != field {
			continue
		}
		switch a.GetType() {
		case mesos.Value_TEXT:
			return a.GetText().GetValue(), true
		case mesos.Value_SCALAR:
			return strconv.FormatFloat(a.GetScalar().GetValue(), 'f', -1, 64), true
		case mesos.Value_SET:
			return strings.Join(a.GetSet().GetItem(), ","), true
		case mesos.Value_RANGES:
			var parts []string
			for _, r := range a.GetRanges().GetRange() {
				parts = append(parts, fmt.Sprintf("%d-%d", r.GetBegin(), r.GetEnd()))
			}
			return "[" + strings.Join(parts, ",") + "]", true
		}
	}
	return "", false
}

// Allows reports whether an instance may be placed on h, given the hosts
// its role's other instances run on; the Misfit says why not.
func (c Constraint) Allows(h Host, others []Host) (bool, Misfit) {
	v, ok := h.Value(c.Field)
	switch c.Operator {
	case Unique:
		for _, o := range others {
			if ov, ook := o.Value(c.Field); ook && ok && ov == v {
				return false, Misfit{Resource: c.Field, Reason: fmt.Sprintf("an instance runs on %s %q already (%s)", c.Field, v, c)}
			}
		}
		return true, Misfit{}
	case Cluster:
		if !ok || v != c.Value {
			return false, Misfit{Resource: c.Field, Reason: fmt.Sprintf("%s is %q, not %q", c.Field, v, c.Value)}
		}
	case Like:
		if !ok || !c.re.MatchString(v) {
			return false, Misfit{Resource: c.Field, Reason: fmt.Sprintf("%s %q does not match %q", c.Field, v, c.Value)}
		}
	case Unlike:
		if ok && c.re.MatchString(v) {
			return false, Misfit{Resource: c.Field, Reason: fmt.Sprintf("%s %q matches %q", c.Field, v, c.Value)}
		}
	}
	return true, Misfit{}
}

// AllowAll checks every constraint and returns the first Misfit.
func AllowAll(cs []Constraint, h Host, others []Host) (bool, Misfit) {
	for _, c := range cs {
		if ok, m := c.Allows(h, others); !ok {
			return false, m
		}
	}
	return true, Misfit{}
}
