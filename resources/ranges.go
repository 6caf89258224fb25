package resources

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Range is the inclusive interval [Begin, End] of unsigned integers, as in
// Mesos' Value.Range; a valid Range has Begin ≤ End.
type Range struct {
	Begin, End uint64
}

// Ranges is a set of unsigned integers kept in normal form: sorted by Begin,
// every Range valid, and no two Ranges overlapping or adjacent (31000-31999
// and 32000-32010 are one Range 31000-32010). A nil Ranges is the empty set.
// Build one with NewRanges; a literal Ranges must already be in normal form
// for the methods to give correct answers (see IsNormal).
//
// Ranges values are immutable: no method modifies its receiver or its
// arguments, and results may share memory with them.
type Ranges []Range

// ErrInvalidRange is wrapped by errors about a Range with Begin > End.
var ErrInvalidRange = errors.New("invalid range")

// NewRanges returns the normal form of the union of rs. It fails if some
// Range has Begin > End.
func NewRanges(rs ...Range) (Ranges, error) {
	for _, r := range rs {
		if r.Begin > r.End {
			return nil, fmt.Errorf("%w: begin %d > end %d", ErrInvalidRange, r.Begin, r.End)
		}
	}
	if Ranges(rs).IsNormal() {
		if len(rs) == 0 {
			return nil, nil
		}
		return slices.Clone(Ranges(rs)), nil
	}
	return coalesce(slices.Clone(rs)), nil
}

// coalesce sorts rs in place and merges overlapping and adjacent ranges. It
// returns a prefix of rs. Every range must be valid.
func coalesce(rs []Range) Ranges {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b Range) int {
		switch {
		case a.Begin < b.Begin:
			return -1
		case a.Begin > b.Begin:
			return 1
		}
		return 0
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.End == math.MaxUint64 || r.Begin <= last.End+1 {
			last.End = max(last.End, r.End)
			continue
		}
		out = append(out, r)
	}
	return Ranges(out)
}

// IsNormal reports whether rs is in the normal form described on Ranges.
func (rs Ranges) IsNormal() bool {
	for i, r := range rs {
		if r.Begin > r.End {
			return false
		}
		if i > 0 {
			prev := rs[i-1]
			if prev.End == math.MaxUint64 || r.Begin <= prev.End+1 {
				return false
			}
		}
	}
	return true
}

// Count returns how many integers rs holds, saturating at math.MaxUint64
// (only [0-18446744073709551615] holds more).
func (rs Ranges) Count() uint64 {
	var n uint64
	for _, r := range rs {
		size := r.End - r.Begin
		if size == math.MaxUint64 || n > math.MaxUint64-size-1 {
			return math.MaxUint64
		}
		n += size + 1
	}
	return n
}

// Includes reports whether v is in rs.
func (rs Ranges) Includes(v uint64) bool {
	i, _ := slices.BinarySearchFunc(rs, v, func(r Range, v uint64) int {
		if r.End < v {
			return -1
		}
		if r.Begin > v {
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i].Begin <= v && v <= rs[i].End
}

// Equal reports whether rs and o hold the same integers.
func (rs Ranges) Equal(o Ranges) bool {
	return slices.Equal(rs, o)
}

// Contains reports whether every integer of o is in rs.
func (rs Ranges) Contains(o Ranges) bool {
	i := 0
	for _, r := range o {
		for i < len(rs) && rs[i].End < r.Begin {
			i++
		}
		if i == len(rs) || rs[i].Begin > r.Begin || rs[i].End < r.End {
			return false
		}
	}
	return true
}

// Add returns the union of rs and o.
func (rs Ranges) Add(o Ranges) Ranges {
	switch {
	case len(o) == 0:
		return rs
	case len(rs) == 0:
		return o
	}
	out := make(Ranges, 0, len(rs)+len(o))
	i, j := 0, 0
	for i < len(rs) || j < len(o) {
		var next Range
		if j == len(o) || (i < len(rs) && rs[i].Begin <= o[j].Begin) {
			next = rs[i]
			i++
		} else {
			next = o[j]
			j++
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.End == math.MaxUint64 || next.Begin <= last.End+1 {
				last.End = max(last.End, next.End)
				continue
			}
		}
		out = append(out, next)
	}
	return out
}

// Subtract returns the integers of rs that are not in o. It returns rs
// itself, without allocating, when the two do not overlap.
func (rs Ranges) Subtract(o Ranges) Ranges {
	if !rs.overlaps(o) {
		return rs
	}
	out := make(Ranges, 0, len(rs)+len(o)) // each hole splits at most one range
	j := 0
	for _, r := range rs {
		for j < len(o) && o[j].End < r.Begin {
			j++
		}
		// Cut the holes o[j], o[j+1], ... out of r, left to right.
		k := j
		for k < len(o) && o[k].Begin <= r.End {
			if o[k].Begin > r.Begin {
				out = append(out, Range{r.Begin, o[k].Begin - 1})
			}
			if o[k].End >= r.End {
				r.Begin, r.End = 1, 0 // nothing left of r
				break
			}
			r.Begin = o[k].End + 1
			k++
		}
		if r.Begin <= r.End {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Intersect returns the integers in both rs and o.
func (rs Ranges) Intersect(o Ranges) Ranges {
	var out Ranges
	i, j := 0, 0
	for i < len(rs) && j < len(o) {
		a, b := rs[i], o[j]
		lo, hi := max(a.Begin, b.Begin), min(a.End, b.End)
		if lo <= hi {
			out = append(out, Range{lo, hi})
		}
		if a.End < b.End {
			i++
		} else {
			j++
		}
	}
	return out
}

// overlaps reports whether rs and o share an integer.
func (rs Ranges) overlaps(o Ranges) bool {
	i, j := 0, 0
	for i < len(rs) && j < len(o) {
		a, b := rs[i], o[j]
		if max(a.Begin, b.Begin) <= min(a.End, b.End) {
			return true
		}
		if a.End < b.End {
			i++
		} else {
			j++
		}
	}
	return false
}

// compare orders Ranges lexicographically by their Ranges.
func (rs Ranges) compare(o Ranges) int {
	return slices.CompareFunc(rs, o, func(a, b Range) int {
		switch {
		case a.Begin != b.Begin:
			return cmpUint(a.Begin, b.Begin)
		default:
			return cmpUint(a.End, b.End)
		}
	})
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String formats rs as Mesos does: "[31000-32000, 40000-40010]".
func (rs Ranges) String() string {
	return string(rs.appendText(nil, ", "))
}

// appendText appends rs in brackets with sep between ranges.
func (rs Ranges) appendText(b []byte, sep string) []byte {
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendUint(b, r.Begin, 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, r.End, 10)
	}
	return append(b, ']')
}
