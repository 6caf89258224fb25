package emuagent

import "testing"

func TestExpandIndex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i    int
		want string
	}{
		{"rack:r{i%10};host:h{i}", 23, "rack:r3;host:h23"},
		{"zone:z{i%3}", 7, "zone:z1"},
		{"plain:x", 5, "plain:x"},
		{"broken:{i", 5, "broken:{i"},
	} {
		if got := expandIndex(tc.in, tc.i); got != tc.want {
			t.Errorf("expandIndex(%q, %d) = %q, want %q", tc.in, tc.i, got, tc.want)
		}
	}
}
