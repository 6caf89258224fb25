package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitCountsEveryWordOnce cuts files into partitions of many sizes
// (some smaller than a line, boundaries inside words and on newlines) and
// checks that their counts add up to the whole files' counts.
func TestSplitCountsEveryWordOnce(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "Beta", "gamma", "déjà", "vu", "x", "42", "naïve"}
	for f := 0; f < 3; f++ {
		var b strings.Builder
		for l := 0; l < 80; l++ {
			for w := r.IntN(12); w >= 0; w-- {
				b.WriteString(words[r.IntN(len(words))])
				b.WriteString([]string{" ", ", ", "  ", "-"}[r.IntN(4)])
			}
			b.WriteString("\n")
		}
		if f == 2 {
			b.WriteString("no final newline")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := runLocal(dir, "wordcount", nil)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Counts["beta"] == 0 || whole.Counts["déjà"] == 0 || whole.Counts["newline"] != 1 {
		t.Fatalf("whole-file counts look wrong: %v", whole.Counts)
	}
	for _, size := range []int64{1, 9, 64, 1000, 1 << 20} {
		parts, _, err := split(dir, size)
		if err != nil {
			t.Fatal(err)
		}
		sum := &Result{Counts: map[string]int64{}}
		for _, p := range parts {
			c, err := countFile(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			merge(sum, &Result{Counts: c})
		}
		if !maps.Equal(sum.Counts, whole.Counts) {
			t.Errorf("partition size %d: counts differ from the whole files'", size)
		}
	}
}

func TestPiPartitionsAreDeterministic(t *testing.T) {
	a, b := piPartitions(100001, 7), piPartitions(100001, 7)
	var n, in int64
	for i := range a {
		n += a[i].Samples
		if piInside(a[i]) != piInside(b[i]) {
			t.Fatalf("partition %d differs between runs", i)
		}
		in += piInside(a[i])
	}
	if n != 100001 {
		t.Fatalf("%d samples, want 100001", n)
	}
	if est := 4 * float64(in) / float64(n); est < 3.1 || est > 3.2 {
		t.Fatalf("pi estimate %v", est)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"123": 123, "500KiB": 500 << 10, "8MiB": 8 << 20, "2M": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-3MiB", "lots"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}
