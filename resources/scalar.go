package resources

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Scalar is an amount of a scalar resource (cpus, mem in MB, disk in MB,
// gpus, ...) in fixed point: the integer counts thousandths, so Scalar(1500)
// is 1.5. Mesos keeps exactly three decimal places of every scalar and does
// all arithmetic and comparison in that fixed point; Mezzo stores the fixed
// point value itself, so sums and differences are exact (0.1 + 0.2 == 0.3)
// and ordering is plain integer ordering.
//
// Arithmetic through Add and Sub saturates at the int64 limits instead of
// wrapping. Scalars held by Resources are never negative.
type Scalar int64

// Milli is one thousandth, the smallest non-zero Scalar.
const Milli Scalar = 1

// Unit is the Scalar 1.0.
const Unit Scalar = 1000

// MaxScalar is the largest Scalar that ScalarFromFloat and the parsers
// accept: 10^12 units (one exabyte of mem in MB). Below it every Scalar
// survives the trips through float64 and through decimal text exactly; sums
// may grow past it.
const MaxScalar Scalar = 1_000_000_000_000 * Unit

// ErrInvalidScalar is wrapped by the errors ScalarFromFloat returns.
var ErrInvalidScalar = errors.New("invalid scalar")

// ScalarFromFloat converts a float64 to a Scalar the way Mesos does:
// round(f × 1000) to the nearest integer, halves away from zero. So 0.0001
// becomes 0 and 0.0005 becomes 0.001. It fails for NaN, infinities,
// negative values and values above MaxScalar.
func ScalarFromFloat(f float64) (Scalar, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf("%w: %v is not a finite number", ErrInvalidScalar, f)
	case f < 0:
		return 0, fmt.Errorf("%w: %v is negative", ErrInvalidScalar, f)
	case f > MaxScalar.Float():
		return 0, fmt.Errorf("%w: %v exceeds the maximum %v", ErrInvalidScalar, f, MaxScalar)
	}
	return Scalar(math.Round(f * 1000)), nil
}

// ScalarFromInt returns the Scalar of n whole units, saturating at the
// int64 limits.
func ScalarFromInt(n int64) Scalar {
	switch {
	case n > math.MaxInt64/1000:
		return math.MaxInt64
	case n < math.MinInt64/1000:
		return math.MinInt64
	}
	return Scalar(n * 1000)
}

// Float returns s as a float64. Like Mesos it converts the whole and the
// fractional part separately, so the result is the float64 nearest to the
// decimal value for every Scalar up to MaxScalar.
func (s Scalar) Float() float64 {
	return float64(s/1000) + float64(s%1000)/1000
}

// Add returns s + t, saturating at the int64 limits.
func (s Scalar) Add(t Scalar) Scalar {
	r := s + t
	switch {
	case t > 0 && r < s:
		return math.MaxInt64
	case t < 0 && r > s:
		return math.MinInt64
	}
	return r
}

// Sub returns s − t, saturating at the int64 limits.
func (s Scalar) Sub(t Scalar) Scalar {
	if t == math.MinInt64 {
		if s >= 0 {
			return math.MaxInt64
		}
		return s - t
	}
	return s.Add(-t)
}

// String formats s as the shortest exact decimal: "2", "0.5", "1024",
// "0.125". Mesos prints the same for every value below 10^12; above that
// Mesos rounds to 15 significant digits, while Mezzo stays exact so that the
// text parses back to the same Scalar.
func (s Scalar) String() string {
	var buf [24]byte
	return string(s.appendText(buf[:0]))
}

// appendText appends String's form of s to b.
func (s Scalar) appendText(b []byte) []byte {
	u := uint64(s)
	if s < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/1000, 10)
	frac := u % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}
