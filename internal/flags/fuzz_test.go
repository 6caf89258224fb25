package flags

import (
	"math"
	"testing"
	"time"
)

// FuzzParseDuration: any input parses or fails with an error, never
// panics; what parses prints in a form that parses back to nearly the
// same duration (FormatDuration keeps 15 significant digits).
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15secs", "1.5mins", "500ms", "-2hrs", "1e3ns", "3weeks", "9223372036854775807ns", "1e400days", "NaNsecs", ".mins", "2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(FormatDuration(d))
		if err != nil {
			t.Fatalf("%q parsed to %v, printed as %q, which does not parse: %v", s, d, FormatDuration(d), err)
		}
		if diff := math.Abs(float64(back - d)); diff > math.Abs(float64(d))*1e-12+float64(time.Nanosecond) {
			t.Fatalf("%q: %v printed as %q reads back as %v", s, d, FormatDuration(d), back)
		}
	})
}

// FuzzParseBytes: any input parses or fails; what parses prints in a
// form that parses back to the same size.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"10MB", "1536KB", "0", "18446744073709551615B", "16777216TB", "1.5GB", " 7 ", "-1B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			return
		}
		back, err := ParseBytes(FormatBytes(n))
		if err != nil || back != n {
			t.Fatalf("%q: %d printed as %q reads back as %d, %v", s, n, FormatBytes(n), back, err)
		}
	})
}
