package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Partition is one unit of work: for wordcount, the lines of File whose
// first byte lies in [Start, End); for pi, Samples random points drawn
// from a generator seeded with Seed.
type Partition struct {
	ID      int    `json:"id"`
	Kind    string `json:"kind"` // "wordcount" or "pi"
	File    string `json:"file,omitempty"`
	Start   int64  `json:"start,omitempty"`
	End     int64  `json:"end,omitempty"`
	Seed    uint64 `json:"seed,omitempty"`
	Samples int64  `json:"samples,omitempty"`
	// URL is where the executor reads File (the driver's data server).
	URL string `json:"url,omitempty"`
}

// Result is a partition's partial result.
type Result struct {
	Partition int              `json:"partition"`
	TaskID    string           `json:"task_id,omitempty"`
	Counts    map[string]int64 `json:"counts,omitempty"`
	Inside    int64            `json:"inside,omitempty"`
	Samples   int64            `json:"samples,omitempty"`
}

// split lists the regular files under dir (sorted by path) and cuts them
// into byte ranges of about size bytes each.
func split(dir string, size int64) ([]Partition, int64, error) {
	if size <= 0 {
		return nil, 0, errors.New("partition size must be > 0")
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("input %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("input %s: no files", dir)
	}
	sort.Strings(files)
	var parts []Partition
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, 0, fmt.Errorf("input: %w", err)
		}
		rel, _ := filepath.Rel(dir, f)
		total += st.Size()
		for s := int64(0); s < st.Size(); s += size {
			parts = append(parts, Partition{ID: len(parts), Kind: "wordcount", File: filepath.ToSlash(rel),
				Start: s, End: min(s+size, st.Size())})
		}
	}
	return parts, total, nil
}

// countRange counts the words of the lines whose first byte is in
// [start, end) of the stream r, which begins at byte from (start-1 when
// start > 0, so that a line starting exactly at start is seen whole).
func countRange(r io.Reader, from, start, end int64, counts map[string]int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	pos := from
	if start > 0 {
		// Skip the rest of the line that began before start: it belongs
		// to the previous partition.
		skipped, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			pos += int64(len(skipped))
			skipped, err = br.ReadSlice('\n')
		}
		pos += int64(len(skipped))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	var word []rune
	flush := func() {
		if len(word) > 0 {
			counts[string(word)]++
			word = word[:0]
		}
	}
	for pos < end {
		line, err := br.ReadString('\n')
		pos += int64(len(line))
		for _, c := range line {
			if unicode.IsLetter(c) || unicode.IsDigit(c) {
				word = append(word, unicode.ToLower(c))
			} else {
				flush()
			}
		}
		flush()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// countFile counts a partition from a local file.
func countFile(dir string, p Partition) (map[string]int64, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(p.File)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	from := max(p.Start-1, 0)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	if err := countRange(f, from, p.Start, p.End, counts); err != nil {
		return nil, fmt.Errorf("%s: %w", p.File, err)
	}
	return counts, nil
}

// piPartitions cuts samples into n partitions with their own seeds.
func piPartitions(samples int64, n int) []Partition {
	var parts []Partition
	per := samples / int64(n)
	for i := 0; i < n; i++ {
		s := per
		if i == n-1 {
			s = samples - per*int64(n-1)
		}
		parts = append(parts, Partition{ID: i, Kind: "pi", Seed: uint64(i) + 1, Samples: s})
	}
	return parts
}

// piInside counts the points of a partition inside the unit circle.
func piInside(p Partition) int64 {
	r := rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15))
	var in int64
	for i := int64(0); i < p.Samples; i++ {
		x, y := r.Float64(), r.Float64()
		if x*x+y*y <= 1 {
			in++
		}
	}
	return in
}

// merge adds a partial result into the total.
func merge(total *Result, r *Result) {
	for w, n := range r.Counts {
		total.Counts[w] += n
	}
	total.Inside += r.Inside
	total.Samples += r.Samples
}

// report writes the result: for wordcount the totals and the top words (all
// words, sorted by count then word, into out when set); for pi the
// estimate (also into out when set).
func report(w io.Writer, kind string, total *Result, top int, out string) error {
	if kind == "pi" {
		line := fmt.Sprintf("pi is about %.10f (%d of %d points inside)\n", 4*float64(total.Inside)/float64(total.Samples),
			total.Inside, total.Samples)
		fmt.Fprint(w, line)
		if out == "" {
			return nil
		}
		if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		return nil
	}
	type wc struct {
		w string
		n int64
	}
	all := make([]wc, 0, len(total.Counts))
	var words int64
	for k, n := range total.Counts {
		all = append(all, wc{k, n})
		words += n
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].w < all[j].w
	})
	fmt.Fprintf(w, "%d words, %d distinct\n", words, len(all))
	for _, e := range all[:min(top, len(all))] {
		fmt.Fprintf(w, "%8d %s\n", e.n, e.w)
	}
	if out == "" {
		return nil
	}
	var b strings.Builder
	for _, e := range all {
		fmt.Fprintf(&b, "%s\t%d\n", e.w, e.n)
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}

// encode and decode carry a Result in a framework message: gzipped JSON.
func encode(r *Result) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func decode(data []byte) (*Result, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	var r Result
	if err := json.NewDecoder(zr).Decode(&r); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	return &r, nil
}
