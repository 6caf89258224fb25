package resources

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParseError reports text that Parse, ParseAttributes or ParseQuantities
// cannot read, naming the offending token and where it starts.
type ParseError struct {
	// Input is the whole text given to the parser.
	Input string
	// Token is the offending token (one "name:value" element), without
	// surrounding whitespace.
	Token string
	// Offset is the byte offset of Token in Input.
	Offset int
	// Reason says what is wrong with Token.
	Reason string
}

// Error formats the error as `resources: cannot parse "token" at byte N:
// reason`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("resources: cannot parse %q at byte %d: %s", e.Token, e.Offset, e.Reason)
}

// whitespace is what Mezzo strips around names and from values: space,
// tab, carriage return and newline.
const whitespace = " \t\r\n"

// token is one element of a ';'-separated list.
type token struct {
	text   string // trimmed of whitespace
	offset int    // of text in the input
}

// tokens splits s at every byte in seps and returns the elements that are
// not blank, trimmed, with their offsets.
func tokens(s, seps string) []token {
	var out []token
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && strings.IndexByte(seps, s[i]) < 0 {
			continue
		}
		t := s[start:i]
		lead := len(t) - len(strings.TrimLeft(t, whitespace))
		if t = strings.Trim(t, whitespace); t != "" {
			out = append(out, token{text: t, offset: start + lead})
		}
		start = i + 1
	}
	return out
}

// value is a parsed resource or attribute value.
type value struct {
	typ    ValueType
	scalar Scalar
	float  float64 // the number a scalar was read from
	ranges Ranges
	set    []string
	text   string
	// notScalar says why a TEXT value that looks like a number is not a
	// scalar ("negative", "not finite", ...); "" for other text.
	notScalar string
}

// parseValue reads a value in Mesos' grammar (after removing all
// whitespace):
//
//	ranges = "[" [ range { "," range } ] "]"   range = uint "-" uint
//	set    = "{" [ item { "," item } ] "}"
//	scalar = a non-negative decimal number, e.g. 4, 0.5, 1e3
//	text   = anything else without brackets
//
// Empty elements between commas are skipped, as Mesos does. Brackets and
// parentheses must balance. A number that is negative, infinite or NaN is
// TEXT (with notScalar saying why), as in Mesos.
func parseValue(s string) (value, string) {
	if strings.ContainsAny(s, whitespace) {
		s = strings.Map(func(r rune) rune {
			if strings.ContainsRune(whitespace, r) {
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return value{}, "empty value"
	}
	if !balanced(s, '[', ']') || !balanced(s, '{', '}') || !balanced(s, '(', ')') {
		return value{}, "mismatched brackets"
	}
	switch {
	case s[0] == '[':
		return parseRanges(s)
	case strings.IndexByte(s, '[') >= 0:
		return value{}, "unexpected '[' inside a value"
	case s[0] == '{':
		return parseSet(s)
	case strings.IndexByte(s, '{') >= 0:
		return value{}, "unexpected '{' inside a value"
	}
	if !isDecimal(s) {
		v := value{typ: ValueText, text: s}
		switch strings.ToLower(strings.TrimLeft(s, "+-")) {
		case "inf", "infinity", "nan":
			v.notScalar = "not a finite number"
		}
		return v, ""
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsInf(f, 0):
		return value{typ: ValueText, text: s, notScalar: "number out of range"}, ""
	case f < 0:
		return value{typ: ValueText, text: s, notScalar: "negative number"}, ""
	case f != 0 && f < 0x1p-1022:
		return value{}, "subnormal numbers are not supported"
	}
	sc, err := ScalarFromFloat(f)
	if err != nil {
		return value{}, err.Error()
	}
	return value{typ: ValueScalar, scalar: sc, float: f}, ""
}

// balanced reports whether the open and close brackets in s pair up.
func balanced(s string, open, close byte) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case open:
			depth++
		case close:
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// isDecimal reports whether s is a decimal floating point literal:
// optional sign, digits with an optional fraction (at least one digit in
// all), optional exponent.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseRanges reads "[b-e,b-e,...]"; s starts with '[' and is balanced.
func parseRanges(s string) (value, string) {
	if s[len(s)-1] != ']' || strings.ContainsAny(s[1:len(s)-1], "[]{}()") {
		return value{}, "ranges must look like [begin-end,begin-end,...]"
	}
	var rs []Range
	for elem := range strings.SplitSeq(s[1:len(s)-1], ",") {
		if elem == "" {
			continue
		}
		b, e, ok := strings.Cut(elem, "-")
		if !ok {
			return value{}, fmt.Sprintf("range %q is not begin-end", elem)
		}
		begin, err1 := parseUint(b)
		end, err2 := parseUint(e)
		if err1 != nil || err2 != nil {
			return value{}, fmt.Sprintf("range %q needs two unsigned 64-bit integers", elem)
		}
		if begin > end {
			return value{}, fmt.Sprintf("range %q has begin > end", elem)
		}
		rs = append(rs, Range{begin, end})
	}
	return value{typ: ValueRanges, ranges: coalesce(rs)}, ""
}

// parseUint reads a decimal unsigned integer (digits only).
func parseUint(s string) (uint64, error) {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// parseSet reads "{a,b,...}"; s starts with '{' and is balanced.
func parseSet(s string) (value, string) {
	if s[len(s)-1] != '}' || strings.ContainsAny(s[1:len(s)-1], "[]{}()") {
		return value{}, "sets must look like {item,item,...} with no brackets or parentheses in items"
	}
	var items []string
	for elem := range strings.SplitSeq(s[1:len(s)-1], ",") {
		if elem != "" {
			items = append(items, elem)
		}
	}
	slices.Sort(items)
	if dup, ok := duplicate(items); ok {
		return value{}, fmt.Sprintf("duplicate set item %q", dup)
	}
	return value{typ: ValueSet, set: items}, ""
}

// Parse reads resources in the text form of the agent's --resources flag:
//
//	cpus:4;mem:1024;disk:2048;ports:[31000-32000,40000-40010];gpus:0;cpus(ads):2;bugs:{a,b,c}
//
// Each ';'-separated token is name[(role)]:value with exactly one ':'.
// Blank tokens are skipped; whitespace around names and roles and anywhere
// in values is ignored. A role in parentheses statically reserves the
// resource for that role; "(*)" means unreserved; a token without a role
// gets defaultRole ("*" for unreserved). Values are ranges ([b-e,...]),
// sets ({a,b}) or scalars (non-negative, finite, and not so small that
// they round to zero at three decimals); text values are rejected. A name
// may not appear with two different types. Tokens of the same resource add
// up; tokens with zero value are dropped.
//
// Errors are *ParseError, naming the token and its offset.
func Parse(text, defaultRole string) (Resources, error) {
	list, err := parseText(text, defaultRole)
	if err != nil {
		return Resources{}, err
	}
	return fromList(list), nil
}

// fromList builds Resources from valid, normalized resources.
func fromList(list []Resource) Resources {
	items := make([]item, 0, len(list))
	for _, r := range list {
		if !r.IsEmpty() {
			items = append(items, item{r: r, count: 1})
		}
	}
	return canonical(items)
}

// parseText parses the text form into one resource per token, empty ones
// included (the agent needs to know that "cpus:0" was given).
func parseText(text, defaultRole string) ([]Resource, error) {
	if err := ValidateRole(defaultRole); err != nil {
		return nil, fmt.Errorf("resources: default role: %w", err)
	}
	toks := tokens(text, ";")
	list := make([]Resource, 0, len(toks))
	for _, t := range toks {
		fail := func(format string, args ...any) error {
			return &ParseError{Input: text, Token: t.text, Offset: t.offset, Reason: fmt.Sprintf(format, args...)}
		}
		if n := strings.Count(t.text, ":"); n != 1 {
			return nil, fail("want name:value with exactly one ':', found %d", n)
		}
		left, right, _ := strings.Cut(t.text, ":")
		name, role := strings.Trim(left, whitespace), defaultRole
		if open := strings.IndexByte(left, '('); open >= 0 {
			closing := strings.LastIndexByte(left, ')')
			if closing < open {
				return nil, fail("missing ')' after the role")
			}
			if strings.Trim(left[closing+1:], whitespace) != "" {
				return nil, fail("unexpected text after the role's ')'")
			}
			name = strings.Trim(left[:open], whitespace)
			role = strings.Trim(left[open+1:closing], whitespace)
			if err := ValidateRole(role); err != nil {
				return nil, fail("%v", err)
			}
		}
		if name == "" {
			return nil, fail("empty resource name")
		}
		v, reason := parseValue(right)
		if reason != "" {
			return nil, fail("%s", reason)
		}
		if v.typ == ValueText {
			if v.notScalar != "" {
				return nil, fail("value %q: %s", v.text, v.notScalar)
			}
			return nil, fail("value %q is text; resources take scalars, [ranges] or {sets}", v.text)
		}
		r := Resource{Name: name, Type: v.typ, Scalar: v.scalar, Ranges: v.ranges, Set: v.set}
		if r.Type == ValueScalar && r.Scalar == 0 && v.float != 0 {
			return nil, fail("value %s rounds to 0; scalars keep three decimal places", strings.Trim(right, whitespace))
		}
		if role != UnreservedRole {
			r.Reservations = []Reservation{{Type: ReservationStatic, Role: role}}
		}
		for i := range list {
			if list[i].Name == name && list[i].Type != r.Type {
				return nil, fail("resource %q was given as %v before, now as %v", name, list[i].Type, r.Type)
			}
		}
		list = append(list, r)
	}
	return list, nil
}

// Format writes rs in the text form Parse reads:
// "cpus:4;mem:1024;ports:[31000-32000];cpus(ads):2". Parsing the result
// with default role "*" gives back rs for every rs that Parse can produce.
// The text form can express only a name, a value and one static
// reservation; of other resources Format writes the name, the role they
// are reserved for and the value, and drops the rest (dynamic reservation
// details, disk info, revocable, shared, allocation, provider). Use the
// JSON or protobuf form to carry those.
func Format(rs Resources) string {
	var b []byte
	for i := range rs.items {
		r := &rs.items[i].r
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, r.Name...)
		if r.IsReserved() {
			b = append(b, '(')
			b = append(b, r.Role()...)
			b = append(b, ')')
		}
		b = append(b, ':')
		b = r.appendValue(b, ",")
	}
	return string(b)
}

// ParseQuantities reads "name:value;name:value" with non-negative scalar
// values (the form of --quota style flags); names repeat to add up and
// zero values are dropped. Errors are *ParseError.
func ParseQuantities(text string) (Quantities, error) {
	var qs []Quantity
	for _, t := range tokens(text, ";") {
		fail := func(format string, args ...any) error {
			return &ParseError{Input: text, Token: t.text, Offset: t.offset, Reason: fmt.Sprintf(format, args...)}
		}
		name, right, ok := strings.Cut(t.text, ":")
		if !ok || strings.Contains(right, ":") {
			return Quantities{}, fail("want name:value with exactly one ':'")
		}
		if name = strings.Trim(name, whitespace); name == "" {
			return Quantities{}, fail("empty resource name")
		}
		v, reason := parseValue(right)
		switch {
		case reason != "":
			return Quantities{}, fail("%s", reason)
		case v.typ != ValueScalar && v.notScalar != "":
			return Quantities{}, fail("value %q: %s", v.text, v.notScalar)
		case v.typ != ValueScalar:
			return Quantities{}, fail("quantities take scalar values only")
		}
		qs = append(qs, Quantity{Name: name, Value: v.scalar})
	}
	return NewQuantities(qs...), nil
}
