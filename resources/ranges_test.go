package resources

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func mustRanges(t testing.TB, rs ...Range) Ranges {
	t.Helper()
	out, err := NewRanges(rs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewRangesNormalizes(t *testing.T) {
	tests := []struct {
		in   []Range
		want Ranges
	}{
		{nil, nil},
		{[]Range{{1, 1}}, Ranges{{1, 1}}},
		{[]Range{{5, 10}, {1, 3}}, Ranges{{1, 3}, {5, 10}}},
		{[]Range{{1, 3}, {4, 6}}, Ranges{{1, 6}}},         // adjacent merge
		{[]Range{{1, 5}, {3, 8}, {2, 2}}, Ranges{{1, 8}}}, // overlapping
		{[]Range{{1, 5}, {1, 5}}, Ranges{{1, 5}}},         // duplicates
		{[]Range{{10, 20}, {1, 100}}, Ranges{{1, 100}}},   // containment
		{[]Range{{math.MaxUint64, math.MaxUint64}, {0, math.MaxUint64 - 1}}, Ranges{{0, math.MaxUint64}}},
	}
	for _, tt := range tests {
		got := mustRanges(t, tt.in...)
		if !got.Equal(tt.want) || !got.IsNormal() {
			t.Errorf("NewRanges(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if _, err := NewRanges(Range{5, 4}); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("NewRanges(5-4) error = %v, want ErrInvalidRange", err)
	}
}

func TestRangesOperations(t *testing.T) {
	r := func(rs ...Range) Ranges { return mustRanges(t, rs...) }
	tests := []struct {
		a, b                   Ranges
		add, sub, intersect    Ranges
		aContainsB, bContainsA bool
	}{
		{
			a: r(Range{31000, 32000}), b: r(Range{31000, 31009}),
			add: r(Range{31000, 32000}), sub: r(Range{31010, 32000}), intersect: r(Range{31000, 31009}),
			aContainsB: true,
		},
		{
			a: r(Range{1, 10}), b: r(Range{4, 6}),
			add: r(Range{1, 10}), sub: r(Range{1, 3}, Range{7, 10}), intersect: r(Range{4, 6}),
			aContainsB: true,
		},
		{
			a: r(Range{1, 10}), b: r(Range{11, 20}),
			add: r(Range{1, 20}), sub: r(Range{1, 10}),
		},
		{
			a: r(Range{1, 10}, Range{20, 30}), b: r(Range{5, 25}),
			add: r(Range{1, 30}), sub: r(Range{1, 4}, Range{26, 30}), intersect: r(Range{5, 10}, Range{20, 25}),
		},
		{
			a: r(Range{1, 5}), b: r(Range{0, 100}),
			add: r(Range{0, 100}), intersect: r(Range{1, 5}),
			bContainsA: true,
		},
		{
			a: nil, b: r(Range{1, 2}),
			add: r(Range{1, 2}), bContainsA: true,
		},
		{
			a: r(Range{0, math.MaxUint64}), b: r(Range{0, 0}, Range{math.MaxUint64, math.MaxUint64}),
			add: r(Range{0, math.MaxUint64}), sub: r(Range{1, math.MaxUint64 - 1}),
			intersect: r(Range{0, 0}, Range{math.MaxUint64, math.MaxUint64}), aContainsB: true,
		},
	}
	for _, tt := range tests {
		if got := tt.a.Add(tt.b); !got.Equal(tt.add) {
			t.Errorf("%v + %v = %v, want %v", tt.a, tt.b, got, tt.add)
		}
		if got := tt.a.Subtract(tt.b); !got.Equal(tt.sub) {
			t.Errorf("%v - %v = %v, want %v", tt.a, tt.b, got, tt.sub)
		}
		if got := tt.a.Intersect(tt.b); !got.Equal(tt.intersect) {
			t.Errorf("%v ∩ %v = %v, want %v", tt.a, tt.b, got, tt.intersect)
		}
		if got := tt.a.Contains(tt.b); got != tt.aContainsB {
			t.Errorf("%v contains %v = %v", tt.a, tt.b, got)
		}
		if got := tt.b.Contains(tt.a); got != tt.bContainsA {
			t.Errorf("%v contains %v = %v", tt.b, tt.a, got)
		}
	}
}

func TestRangesCountAndIncludes(t *testing.T) {
	rs := mustRanges(t, Range{31000, 32000}, Range{40000, 40010})
	if got := rs.Count(); got != 1001+11 {
		t.Errorf("Count = %d", got)
	}
	for _, v := range []uint64{31000, 31500, 32000, 40000, 40010} {
		if !rs.Includes(v) {
			t.Errorf("Includes(%d) = false", v)
		}
	}
	for _, v := range []uint64{0, 30999, 32001, 39999, 40011, math.MaxUint64} {
		if rs.Includes(v) {
			t.Errorf("Includes(%d) = true", v)
		}
	}
	if got := (Ranges{{0, math.MaxUint64}}).Count(); got != math.MaxUint64 {
		t.Errorf("Count of everything = %d, want saturation", got)
	}
	if got := rs.String(); got != "[31000-32000, 40000-40010]" {
		t.Errorf("String = %q", got)
	}
}

// bits is a reference model of Ranges over the universe 0..63.
type bits uint64

func (b bits) ranges() Ranges {
	var rs []Range
	for i := uint64(0); i < 64; i++ {
		if b&(1<<i) != 0 {
			rs = append(rs, Range{i, i})
		}
	}
	return coalesce(rs)
}

func randomBits(rng *rand.Rand) bits {
	// Runs of set bits, so that ranges have some length.
	var b bits
	for range rng.IntN(4) {
		lo := rng.IntN(64)
		hi := min(63, lo+rng.IntN(12))
		for i := lo; i <= hi; i++ {
			b |= 1 << i
		}
	}
	return b
}

func TestRangesAgainstBitsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		x, y := randomBits(rng), randomBits(rng)
		a, b := x.ranges(), y.ranges()
		check := func(op string, got Ranges, want bits) {
			if !got.Equal(want.ranges()) || !got.IsNormal() {
				t.Fatalf("%v %s %v = %v, want %v", a, op, b, got, want.ranges())
			}
		}
		check("+", a.Add(b), x|y)
		check("-", a.Subtract(b), x&^y)
		check("∩", a.Intersect(b), x&y)
		if got, want := a.Contains(b), x&y == y; got != want {
			t.Fatalf("%v contains %v = %v", a, b, got)
		}
		if got, want := a.Count(), uint64(popcount(x)); got != want {
			t.Fatalf("%v count = %d, want %d", a, got, want)
		}
	}
}

func popcount(b bits) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}
