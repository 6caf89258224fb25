package cli

import (
	"fmt"
	"sort"
	"strings"
)

// minAbbrev is the shortest an id is abbreviated to in tables.
const minAbbrev = 12

// match finds the one id among ids that arg names: the id itself, or
// else the only id that starts with arg. kind names what the ids are in
// errors ("task", "agent", ...).
func match(kind, arg string, ids []string) (string, error) {
	if arg == "" {
		return "", usagef("empty %s id", kind)
	}
	var found []string
	for _, id := range ids {
		if id == arg {
			return id, nil
		}
		if strings.HasPrefix(id, arg) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", notFoundf("no %s has an id starting with %q", kind, arg)
	case 1:
		return found[0], nil
	}
	sort.Strings(found)
	more := ""
	if len(found) > 10 {
		more = fmt.Sprintf(" and %d more", len(found)-10)
		found = found[:10]
	}
	return "", ambiguousf("%q names %d %ss: %s%s", arg, len(found), kind, strings.Join(found, ", "), more)
}

// abbreviator shortens ids to the shortest prefix, at least minAbbrev
// characters long, that no other id of the same set starts with, so that
// what a table shows can be given back as an argument.
type abbreviator map[string]string

// newAbbreviator prepares the abbreviations of ids.
func newAbbreviator(ids []string) abbreviator {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	a := abbreviator{}
	for i, id := range sorted {
		n := minAbbrev
		// Sorted, the ids sharing the longest prefix with id are its
		// neighbours.
		for _, j := range []int{i - 1, i + 1} {
			if j < 0 || j >= len(sorted) || sorted[j] == id {
				continue
			}
			if l := commonPrefix(id, sorted[j]) + 1; l > n {
				n = l
			}
		}
		if n >= len(id) {
			a[id] = id
		} else {
			a[id] = id[:n]
		}
	}
	return a
}

// of returns id's abbreviation (id itself if it was not in the set).
func (a abbreviator) of(id string) string {
	if s, ok := a[id]; ok {
		return s
	}
	return id
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
