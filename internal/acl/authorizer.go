package acl

import "strings"

// Subject is who asks: a principal, or nobody (an unauthenticated HTTP
// request, a framework without FrameworkInfo.principal), which the rules
// see as Mesos sees a request without a subject: ANY.
type Subject struct {
	principal string
	known     bool
}

// Principal is the subject p; an empty p is Anonymous, as Mesos takes an
// empty principal for none.
func Principal(p string) Subject { return Subject{principal: p, known: p != ""} }

// Anonymous is the subject of a request without a principal.
var Anonymous = Subject{}

// SubjectOf is the subject of a principal found (ok) or not.
func SubjectOf(p string, ok bool) Subject {
	if !ok {
		return Anonymous
	}
	return Principal(p)
}

// String names the subject for messages and logs.
func (s Subject) String() string {
	if !s.known {
		return "anonymous"
	}
	return "'" + s.principal + "'"
}

// Object is what the request acts on: one value (a role, a user, a
// principal, a path), or AnyObject when the action has no particular one.
type Object struct {
	value string
	some  bool
}

// Value is the object v.
func Value(v string) Object { return Object{value: v, some: true} }

// AnyObject is the object of actions that have none in particular
// (view_flags, set_log_level, the maintenance actions, ...), and of
// requests that do not name one.
var AnyObject = Object{}

// Authorizer decides requests with one ACLs document. It is immutable
// and safe for concurrent use. A nil *Authorizer allows every request.
type Authorizer struct {
	acls *ACLs
	// rules are each action's rules, with the role actions' "a/%"
	// values split into rules of their own (as Mesos does; it keeps the
	// first matching rule the same).
	rules map[Action][]Rule
}

// New returns the authorizer of acls; nil when acls is nil (no --acls:
// everything is allowed).
func New(acls *ACLs) *Authorizer {
	if acls == nil {
		return nil
	}
	a := &Authorizer{acls: acls, rules: map[Action][]Rule{}}
	for action, rules := range acls.Rules {
		if actions[action].roles {
			rules = splitRecursive(rules)
		}
		a.rules[action] = rules
	}
	return a
}

// Enabled reports whether a decides anything (it was given ACLs).
func (a *Authorizer) Enabled() bool { return a != nil }

// Allowed reports whether s may do action on obj.
func (a *Authorizer) Allowed(action Action, s Subject, obj Object) bool {
	if a == nil {
		return true
	}
	subject := Entity{Type: Any}
	if s.known {
		subject = Entity{Type: Some, Values: []string{s.principal}}
	}
	object := Entity{Type: Any}
	if obj.some {
		object = Entity{Type: Some, Values: []string{obj.value}}
	}
	recursive := actions[action].roles
	for _, r := range a.rules[action] {
		objects := r.Objects
		if recursive && isRecursive(r) {
			// A rule on "a/%" is a rule on ANY object for the roles
			// below "a", and no rule at all for the others.
			if !obj.some || !strings.HasPrefix(obj.value, strings.TrimSuffix(r.Objects.Values[0], "%")) {
				continue
			}
			objects = Entity{Type: Any}
		}
		if matches(subject, r.Principals) && matches(object, objects) {
			return allows(subject, r.Principals) && allows(object, objects)
		}
	}
	return a.acls.Permissive
}

// AllowedAll reports whether s may do action on every one of objects (a
// framework's roles, the roles of a reservation); when not, denied is the
// first object refused. No objects at all are decided as the permissive
// default, as Mesos decides a framework without roles.
func (a *Authorizer) AllowedAll(action Action, s Subject, objects []string) (denied string, ok bool) {
	if a == nil {
		return "", true
	}
	if len(objects) == 0 {
		return "", a.acls.Permissive
	}
	for _, o := range objects {
		if !a.Allowed(action, s, Value(o)) {
			return o, false
		}
	}
	return "", true
}

// Approver returns a function deciding action for s on one object value
// at a time, for filtering many objects (the frameworks and tasks a
// principal may view) with one subject. With a nil a, it allows all.
func (a *Authorizer) Approver(action Action, s Subject) func(value string) bool {
	if a == nil {
		return func(string) bool { return true }
	}
	return func(v string) bool { return a.Allowed(action, s, Value(v)) }
}

// matches is Mesos' match matrix: whether a rule's entity applies to a
// request's.
func matches(request, rule Entity) bool {
	switch request.Type {
	case None:
		return rule.Type == None
	case Any:
		return rule.Type == Any || rule.Type == None
	}
	if rule.Type == Any || rule.Type == None {
		return true
	}
	return subset(request.Values, rule.Values)
}

// allows is Mesos' allow matrix: whether a matching rule's entity lets
// the request's through.
func allows(request, rule Entity) bool {
	switch request.Type {
	case None:
		return rule.Type == None
	case Any:
		return rule.Type == Any
	}
	switch rule.Type {
	case Any:
		return true
	case None:
		return false
	}
	return subset(request.Values, rule.Values)
}

func subset(values, of []string) bool {
	for _, v := range values {
		found := false
		for _, w := range of {
			if v == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// isRecursive reports whether r is a rule on the roles below one role:
// its single object value ends in "/%".
func isRecursive(r Rule) bool {
	return r.Objects.Type == Some && len(r.Objects.Values) == 1 && strings.HasSuffix(r.Objects.Values[0], "/%")
}

// splitRecursive splits each rule naming "a/%" values among others into
// one rule per such value, followed by a rule with the plain values.
func splitRecursive(rules []Rule) []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		if r.Objects.Type != Some {
			out = append(out, r)
			continue
		}
		var plain []string
		for _, v := range r.Objects.Values {
			if strings.HasSuffix(v, "/%") {
				out = append(out, Rule{Principals: r.Principals, Objects: Entity{Type: Some, Values: []string{v}}})
			} else {
				plain = append(plain, v)
			}
		}
		if len(plain) > 0 {
			out = append(out, Rule{Principals: r.Principals, Objects: Entity{Type: Some, Values: plain}})
		}
	}
	return out
}
