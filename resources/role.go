package resources

import (
	"errors"
	"fmt"
	"strings"
)

// UnreservedRole is the role name of unreserved resources, "*".
const UnreservedRole = "*"

// ErrInvalidRole is wrapped by the errors ValidateRole returns.
var ErrInvalidRole = errors.New("invalid role")

// ValidateRole checks a role name by Mesos' rules: "*", or a path of
// components separated by '/' with no empty component (so no leading,
// trailing or doubled '/'), where no component is ".", ".." or "*", starts
// with '-', or contains whitespace (tab, newline, vertical tab, form feed,
// carriage return, space) or DEL.
func ValidateRole(role string) error {
	if role == UnreservedRole {
		return nil
	}
	if role == "" {
		return fmt.Errorf("%w: empty role name", ErrInvalidRole)
	}
	rest := role
	for {
		component, tail, more := strings.Cut(rest, "/")
		switch {
		case component == "":
			return fmt.Errorf("%w %q: empty path component (leading, trailing or doubled '/')", ErrInvalidRole, role)
		case component == "." || component == ".." || component == "*":
			return fmt.Errorf("%w %q: component %q is not allowed", ErrInvalidRole, role, component)
		case component[0] == '-':
			return fmt.Errorf("%w %q: component %q starts with '-'", ErrInvalidRole, role, component)
		case strings.ContainsAny(component, "\t\n\v\f\r \x7f"):
			return fmt.Errorf("%w %q: component %q contains whitespace or DEL", ErrInvalidRole, role, component)
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// IsStrictSubrole reports whether role lies strictly below ancestor in the
// role tree: "a/b" and "a/b/c" are strict subroles of "a", while "a" and
// "ab" are not.
func IsStrictSubrole(role, ancestor string) bool {
	return len(role) > len(ancestor) && role[len(ancestor)] == '/' && strings.HasPrefix(role, ancestor)
}

// inRoleSubtree reports whether role is ancestor or one of its subroles.
func inRoleSubtree(role, ancestor string) bool {
	return role == ancestor || IsStrictSubrole(role, ancestor)
}
