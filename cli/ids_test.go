package cli

import (
	"errors"
	"testing"
)

func TestMatch(t *testing.T) {
	ids := []string{"web-1", "web-10", "worker", "db"}
	for _, tc := range []struct {
		arg, want string
		err       error
	}{
		{"db", "db", nil},
		{"wo", "worker", nil},
		{"web-1", "web-1", nil}, // an exact id wins over the ids it prefixes
		{"web-10", "web-10", nil},
		{"we", "", ErrAmbiguous},
		{"x", "", ErrNotFound},
		{"", "", ErrUsage},
	} {
		got, err := match("task", tc.arg, ids)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("match(%q) = %q, %v; want %q, %v", tc.arg, got, err, tc.want, tc.err)
		}
	}
}

func TestAbbreviator(t *testing.T) {
	ids := []string{
		"2d6e7a0c-9d5f-4b8e-a3a1-0c7f3e2b1d00-S0",
		"2d6e7a0c-9d5f-4b8e-a3a1-0c7f3e2b1d00-S1",
		"8f1b2c3d-0000-4000-8000-000000000000-0001",
		"short",
	}
	a := newAbbreviator(ids)
	for _, id := range ids {
		got := a.of(id)
		if n, err := match("agent", got, ids); n != id || err != nil {
			t.Errorf("abbreviation %q of %q does not name it back: %q, %v", got, id, n, err)
		}
	}
	if got := a.of(ids[2]); got != "8f1b2c3d-000" {
		t.Errorf("abbreviation of a distinct id: %q, want its first %d characters", got, minAbbrev)
	}
	if got := a.of(ids[0]); got != ids[0] {
		t.Errorf("ids that differ only at their end stay whole: %q", got)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1:5050":       "10.0.0.1:5050",
		"http://master:5051/": "master:5051",
		"master":              "master:5050",
		"[::1]":               "[::1]:5050",
	} {
		if got, err := hostPort(in); got != want || err != nil {
			t.Errorf("hostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"host:0", "host:x", "host:5050/path", ":5050"} {
		if _, err := hostPort(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("hostPort(%q): %v, want a usage error", bad, err)
		}
	}
}
