package resources

import (
	"errors"
	"math"
	"testing"
)

func TestScalarFromFloat(t *testing.T) {
	tests := []struct {
		in      float64
		want    Scalar
		wantErr bool
	}{
		{0, 0, false},
		{math.Copysign(0, -1), 0, false},
		{1, 1000, false},
		{0.5, 500, false},
		{0.0001, 0, false},    // rounds to zero
		{0.0005, 1, false},    // halves round away from zero, as llround
		{0.0004999, 0, false}, // just below the half
		{2.0005, 2001, false}, // f×1000 rounds to 2000.5 in float64, as in Mesos
		{1024.125, 1024125, false},
		{1e12, MaxScalar, false},
		{1e12 + 1, 0, true},
		{-0.001, 0, true},
		{-1e-9, 0, true},
		{math.NaN(), 0, true},
		{math.Inf(1), 0, true},
		{math.Inf(-1), 0, true},
	}
	for _, tt := range tests {
		got, err := ScalarFromFloat(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ScalarFromFloat(%v) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidScalar) {
			t.Errorf("ScalarFromFloat(%v) error %v does not wrap ErrInvalidScalar", tt.in, err)
		}
	}
}

func TestScalarExactArithmetic(t *testing.T) {
	s := func(f float64) Scalar {
		t.Helper()
		v, err := ScalarFromFloat(f)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := s(0.1).Add(s(0.2)); got != s(0.3) {
		t.Errorf("0.1 + 0.2 = %v, want 0.3", got)
	}
	if got := s(0.3).Sub(s(0.1)); got != s(0.2) {
		t.Errorf("0.3 - 0.1 = %v, want 0.2", got)
	}
	var sum Scalar
	for range 10 {
		sum = sum.Add(s(0.1))
	}
	if sum != Unit {
		t.Errorf("ten times 0.1 = %v, want 1", sum)
	}
	if got := sum.Float(); got != 1 {
		t.Errorf("Float() = %v, want 1", got)
	}
	if got := Scalar(300).Float(); got != 0.3 {
		t.Errorf("Scalar(300).Float() = %v, want 0.3 exactly", got)
	}
}

func TestScalarSaturates(t *testing.T) {
	max, min := Scalar(math.MaxInt64), Scalar(math.MinInt64)
	tests := []struct {
		got, want Scalar
	}{
		{max.Add(1), max},
		{min.Add(-1), min},
		{max.Sub(-1), max},
		{min.Sub(1), min},
		{Scalar(0).Sub(min), max},
		{Scalar(-1).Sub(min), max - 0},
		{ScalarFromInt(math.MaxInt64), max},
		{ScalarFromInt(math.MinInt64), min},
		{ScalarFromInt(42), 42000},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %d, want %d", i, tt.got, tt.want)
		}
	}
}

func TestScalarString(t *testing.T) {
	tests := []struct {
		in   Scalar
		want string
	}{
		{0, "0"},
		{500, "0.5"},
		{2000, "2"},
		{1024000, "1024"},
		{125, "0.125"},
		{1, "0.001"},
		{10, "0.01"},
		{1234567, "1234.567"},
		{-1500, "-1.5"},
		{MaxScalar, "1000000000000"},
		{math.MinInt64, "-9223372036854775.808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Scalar(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

// Every Scalar up to MaxScalar survives float64 and decimal text exactly.
func TestScalarRoundTrips(t *testing.T) {
	check := func(s Scalar) {
		if got, err := ScalarFromFloat(s.Float()); err != nil || got != s {
			t.Fatalf("ScalarFromFloat(%v.Float()) = %v, %v", s, got, err)
		}
		v, reason := parseValue(s.String())
		if reason != "" || v.typ != ValueScalar || v.scalar != s {
			t.Fatalf("parseValue(%q) = %+v, %q", s.String(), v, reason)
		}
	}
	for s := Scalar(0); s < 5000; s++ {
		check(s)
	}
	for s := MaxScalar - 5000; s <= MaxScalar; s++ {
		check(s)
	}
	x := uint64(0x9E3779B97F4A7C15)
	for range 200000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		check(Scalar(x % uint64(MaxScalar+1)))
	}
}
