// Package constraints evaluates a framework's offer constraints
// (Call.Subscribe.offer_constraints and Call.UpdateFramework's, Mesos
// 1.11): per role, the agents whose attributes and pseudoattributes
// (hostname, fault-domain region and zone) satisfy at least one group of
// attribute constraints, every constraint of the group holding.
//
// Compile validates the constraints as the master does before it accepts
// a subscription and turns them into a Filter; the allocator asks the
// Filter whether an agent is excluded from a role's offers. Predicates on
// text compare only TEXT attributes and string pseudoattributes: an
// existing SCALAR, RANGES or SET attribute satisfies every text predicate,
// as in Mesos, so the scheduler filters those itself.
//
// Regular expressions use Go's regexp package, whose syntax is RE2's, and
// must match the whole value. Mesos bounds each regex with RE2's
// estimate of its memory and program size; Go compiles to a different
// program, so Limits bound the size of Go's program instead (see Limits).
package constraints

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"

	mesos "github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// Limits bound the regular expressions of offer constraints (Mesos' master
// flags --offer_constraints_re2_max_mem and
// --offer_constraints_re2_max_program_size).
type Limits struct {
	// MaxMem is the memory budget of one regex in bytes (default 4096).
	// As RE2 does, a third of it is kept for the reverse program and a
	// quarter of the rest for instructions of 8 bytes each, so it allows
	// MaxMem*2/3/4/8 instructions.
	MaxMem int64
	// MaxProgramSize is the most instructions one regex may compile to
	// (default 100).
	MaxProgramSize int
}

// DefaultLimits are Mesos' defaults: 4KB and 100 instructions.
func DefaultLimits() Limits { return Limits{MaxMem: 4096, MaxProgramSize: 100} }

// Filter holds a framework's compiled offer constraints. The zero of
// *Filter (nil) excludes nothing. A Filter is immutable and safe for
// concurrent use.
type Filter struct {
	roles map[string][]group
}

// group holds when all of its constraints hold.
type group []constraint

type constraint struct {
	sel  selector
	pred predicate
}

// selector picks a pseudoattribute or the first attribute of a name.
type selector struct {
	pseudo schedpb.AttributeConstraint_Selector_PseudoattributeType
	name   string // attribute name when pseudo is UNKNOWN
}

type predicateKind int

const (
	exists predicateKind = iota
	notExists
	textEquals
	textNotEquals
	textMatches
	textNotMatches
)

type predicate struct {
	kind  predicateKind
	value string
	re    *regexp.Regexp
}

// Compile checks oc and compiles it. A nil or empty oc yields a nil
// Filter. The errors name the role and the faulty part, in Mesos' words
// where Mesos has them.
func Compile(oc *schedpb.OfferConstraints, limits Limits) (*Filter, error) {
	if len(oc.GetRoleConstraints()) == 0 {
		return nil, nil
	}
	f := &Filter{roles: map[string][]group{}}
	roles := make([]string, 0, len(oc.GetRoleConstraints()))
	for r := range oc.GetRoleConstraints() {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, role := range roles {
		rc := oc.GetRoleConstraints()[role]
		if len(rc.GetGroups()) == 0 {
			return nil, fmt.Errorf("'OfferConstraints::role_constraints' has an empty 'RoleConstraints::groups' for role %s", role)
		}
		for _, g := range rc.GetGroups() {
			if len(g.GetAttributeConstraints()) == 0 {
				return nil, fmt.Errorf("'OfferConstraints::RoleConstraints::groups' for role %s contains an empty RoleConstraints::Group", role)
			}
			var cg group
			for _, ac := range g.GetAttributeConstraints() {
				c, err := compileConstraint(ac, limits)
				if err != nil {
					return nil, fmt.Errorf("offer constraints for role %s: %w", role, err)
				}
				cg = append(cg, c)
			}
			f.roles[role] = append(f.roles[role], cg)
		}
	}
	return f, nil
}

func compileConstraint(ac *schedpb.AttributeConstraint, limits Limits) (constraint, error) {
	var c constraint
	sel := ac.GetSelector()
	switch s := sel.GetSelector().(type) {
	case *schedpb.AttributeConstraint_Selector_PseudoattributeType_:
		switch s.PseudoattributeType {
		case schedpb.AttributeConstraint_Selector_HOSTNAME, schedpb.AttributeConstraint_Selector_REGION, schedpb.AttributeConstraint_Selector_ZONE:
			c.sel.pseudo = s.PseudoattributeType
		default:
			return c, fmt.Errorf("Unknown pseudoattribute type")
		}
	case *schedpb.AttributeConstraint_Selector_AttributeName:
		c.sel.name = s.AttributeName
	default:
		return c, fmt.Errorf("Exactly one of 'AttributeConstraint::Selector::name' or 'AttributeConstraint::Selector::pseudoattribute_type' must be set")
	}
	p := ac.GetPredicate()
	var err error
	switch x := p.GetPredicate().(type) {
	case *schedpb.AttributeConstraint_Predicate_Exists_:
		c.pred.kind = exists
	case *schedpb.AttributeConstraint_Predicate_NotExists_:
		c.pred.kind = notExists
	case *schedpb.AttributeConstraint_Predicate_TextEquals_:
		c.pred = predicate{kind: textEquals, value: x.TextEquals.GetValue()}
	case *schedpb.AttributeConstraint_Predicate_TextNotEquals_:
		c.pred = predicate{kind: textNotEquals, value: x.TextNotEquals.GetValue()}
	case *schedpb.AttributeConstraint_Predicate_TextMatches_:
		c.pred.kind = textMatches
		c.pred.re, err = compileRegex(x.TextMatches.GetRegex(), limits)
	case *schedpb.AttributeConstraint_Predicate_TextNotMatches_:
		c.pred.kind = textNotMatches
		c.pred.re, err = compileRegex(x.TextNotMatches.GetRegex(), limits)
	default:
		return c, fmt.Errorf("Unknown predicate type")
	}
	return c, err
}

// compileRegex compiles a regex that must match a whole value and checks
// its program against limits.
func compileRegex(expr string, limits Limits) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("Failed to construct regex from pattern '%s': %v", expr, err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, fmt.Errorf("Failed to construct regex from pattern '%s': %v", expr, err)
	}
	size := len(prog.Inst)
	if limits.MaxMem > 0 {
		if budget := limits.MaxMem * 2 / 3 / 4 / 8; int64(size) > budget {
			return nil, fmt.Errorf("Failed to construct regex from pattern '%s': pattern too large - compile failed (program of %d instructions exceeds the %d that --offer_constraints_re2_max_mem=%dB allows)", expr, size, budget, limits.MaxMem)
		}
	}
	if limits.MaxProgramSize > 0 && size > limits.MaxProgramSize {
		return nil, fmt.Errorf("Regex '%s' is too complex: program size of %d is larger than maximum of %d allowed", expr, size, limits.MaxProgramSize)
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("Failed to construct regex from pattern '%s': %v", expr, err)
	}
	return re, nil
}

// Constrains reports whether the filter names role at all.
func (f *Filter) Constrains(role string) bool {
	if f == nil {
		return false
	}
	_, ok := f.roles[role]
	return ok
}

// Excludes reports whether an agent described by info may not be offered
// to the framework in role: the role has constraints and no group of them
// holds for the agent.
func (f *Filter) Excludes(role string, info *mesos.AgentInfo) bool {
	if f == nil {
		return false
	}
	groups, ok := f.roles[role]
	if !ok {
		return false
	}
	for _, g := range groups {
		if g.holds(info) {
			return false
		}
	}
	return true
}

func (g group) holds(info *mesos.AgentInfo) bool {
	for _, c := range g {
		if !c.holds(info) {
			return false
		}
	}
	return true
}

// value is what a selector finds on an agent: nothing, a string, or an
// attribute that is not TEXT (which every text predicate accepts).
type value struct {
	present bool
	text    bool
	s       string
}

func (c constraint) holds(info *mesos.AgentInfo) bool {
	return c.pred.apply(c.sel.find(info))
}

func (s selector) find(info *mesos.AgentInfo) value {
	fd := info.GetDomain().GetFaultDomain()
	switch s.pseudo {
	case schedpb.AttributeConstraint_Selector_HOSTNAME:
		return value{present: true, text: true, s: info.GetHostname()}
	case schedpb.AttributeConstraint_Selector_REGION:
		if fd == nil {
			return value{}
		}
		return value{present: true, text: true, s: fd.GetRegion().GetName()}
	case schedpb.AttributeConstraint_Selector_ZONE:
		if fd == nil {
			return value{}
		}
		return value{present: true, text: true, s: fd.GetZone().GetName()}
	}
	for _, a := range info.GetAttributes() {
		if a.GetName() == s.name {
			if a.GetType() == mesos.Value_TEXT {
				return value{present: true, text: true, s: a.GetText().GetValue()}
			}
			return value{present: true}
		}
	}
	return value{}
}

func (p predicate) apply(v value) bool {
	switch p.kind {
	case exists:
		return v.present
	case notExists:
		return !v.present
	case textEquals:
		return v.present && (!v.text || v.s == p.value)
	case textNotEquals:
		return !v.present || !v.text || v.s != p.value
	case textMatches:
		return v.present && (!v.text || p.re.MatchString(v.s))
	case textNotMatches:
		return !v.present || !v.text || !p.re.MatchString(v.s)
	}
	return false
}
