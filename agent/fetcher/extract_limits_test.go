package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// zeroDeflate returns a raw deflate stream of prefix followed by mib MiB
// of zeros, built by compressing one MiB and repeating its block: every
// back-reference in the block lands on zeros, so each copy inflates to
// the same MiB. Building a GiB this way takes a megabyte and no time.
func zeroDeflate(t *testing.T, prefix []byte, mib int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(prefix)
	w.Flush()
	head := b.Len()
	w.Write(make([]byte, 1<<20))
	w.Flush()
	block := append([]byte(nil), b.Bytes()[head:]...)
	out := append([]byte(nil), b.Bytes()...)
	for i := 1; i < mib; i++ {
		out = append(out, block...)
	}
	// A final empty stored block ends the stream.
	return append(out, 0x01, 0x00, 0x00, 0xff, 0xff)
}

// zerosCRC is the CRC-32 of prefix followed by mib MiB of zeros.
func zerosCRC(prefix []byte, mib int) uint32 {
	sum := crc32.ChecksumIEEE(prefix)
	zero := make([]byte, 1<<20)
	for i := 0; i < mib; i++ {
		sum = crc32.Update(sum, crc32.IEEETable, zero)
	}
	return sum
}

// gzipBomb is a valid gzip file of prefix and mib MiB of zeros.
func gzipBomb(t *testing.T, prefix []byte, mib int) []byte {
	t.Helper()
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	out = append(out, zeroDeflate(t, prefix, mib)...)
	out = binary.LittleEndian.AppendUint32(out, zerosCRC(prefix, mib))
	return binary.LittleEndian.AppendUint32(out, uint32(len(prefix)+mib<<20))
}

// tarHeader is the 512-byte tar header of a regular file of size bytes.
func tarHeader(t *testing.T, name string, size int64) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	if err := w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: size, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()[:512]
}

// zipBomb is a zip file of entries entries, each a GiB of zeros that
// declares declared bytes.
func zipBomb(t *testing.T, entries int, declared uint64) []byte {
	t.Helper()
	raw := zeroDeflate(t, nil, 1024)
	sum := zerosCRC(nil, 1024)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < entries; i++ {
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: fmt.Sprintf("zeros%d", i), Method: zip.Deflate, CRC32: sum,
			CompressedSize64: uint64(len(raw)), UncompressedSize64: declared,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fetchRefused fetches the archive at path with limits and checks that it
// fails within a few seconds with a bound's error naming the archive and
// flag, leaving only the fetcher's log in the sandbox.
func fetchRefused(t *testing.T, path string, lim Limits, flag string) {
	t.Helper()
	sandbox := t.TempDir()
	f, err := New(Config{Extract: lim})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	err = f.Fetch(context.Background(), []*mesos.CommandInfo_URI{uri(path)}, sandbox, "")
	took := time.Since(start)
	if !errors.Is(err, ErrArchiveLimit) {
		t.Fatalf("fetch of %s: %v, want ErrArchiveLimit", filepath.Base(path), err)
	}
	for _, want := range []string{"archive '" + filepath.Base(path) + "'", flag} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if took > 10*time.Second {
		t.Errorf("refusing %s took %v", filepath.Base(path), took)
	}
	left, _ := os.ReadDir(sandbox)
	for _, e := range left {
		if e.Name() != "stderr" {
			t.Errorf("the refused archive left %q in the sandbox", e.Name())
		}
	}
	t.Logf("%s refused in %v: %v", filepath.Base(path), took, err)
}

// TestGzipBombRefused: gzip bombs are refused quickly, whether a tar
// header declares the size (checked before writing, at the default
// bounds) or not (a plain .gz, counted as it is written).
func TestGzipBombRefused(t *testing.T) {
	src := t.TempDir()
	// A header declaring 40 GiB, past the default 32 GiB: refused before
	// a byte is written, with the default limits.
	declared := write(t, src, "declared.tar.gz", gzipBomb(t, tarHeader(t, "big", 40<<30), 1))
	fetchRefused(t, declared, Limits{}, "--fetcher_extract_max_size")
	// An honest GiB of zeros in 1 MiB of tar.gz, past a 16 MiB bound.
	honest := write(t, src, "honest.tgz", gzipBomb(t, tarHeader(t, "zeros", 1<<30), 1025))
	fetchRefused(t, honest, Limits{MaxSize: 16 << 20}, "--fetcher_extract_max_size")
	// A plain .gz has no header to check: it stops once 16 MiB are written.
	plain := write(t, src, "zeros.bin.gz", gzipBomb(t, nil, 1024))
	fetchRefused(t, plain, Limits{MaxSize: 16 << 20}, "--fetcher_extract_max_size")
}

// TestZipBombRefused: zip bombs are refused from their central directory
// before anything is written, and an entry that inflates to more than it
// declares fails as soon as it passes its declared size.
func TestZipBombRefused(t *testing.T) {
	src := t.TempDir()
	// 40 entries of a GiB each, past the default 32 GiB.
	many := write(t, src, "many.zip", zipBomb(t, 40, 1<<30))
	fetchRefused(t, many, Limits{}, "--fetcher_extract_max_size")
	// One GiB past a 16 MiB bound.
	one := write(t, src, "one.zip", zipBomb(t, 1, 1<<30))
	fetchRefused(t, one, Limits{MaxSize: 16 << 20}, "--fetcher_extract_max_size")

	// An entry that declares 1 MiB but inflates to a GiB.
	lying := write(t, src, "lying.zip", zipBomb(t, 1, 1<<20))
	sandbox := t.TempDir()
	start := time.Now()
	err := (&Fetcher{}).Fetch(context.Background(), []*mesos.CommandInfo_URI{uri(lying)}, sandbox, "")
	if err == nil || !strings.Contains(err.Error(), "zeros0") {
		t.Fatalf("an entry longer than it declares: %v, want an error naming it", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("refusing lying.zip took %v", took)
	}
	if _, err := os.Stat(filepath.Join(sandbox, "zeros0")); !os.IsNotExist(err) {
		t.Errorf("the refused entry is still in the sandbox: %v", err)
	}
}

// TestExtractEntryLimit: an archive of more entries than the bound is
// refused, in each format, and leaves nothing.
func TestExtractEntryLimit(t *testing.T) {
	src := t.TempDir()
	var names []tarEntry
	for i := 0; i < 20; i++ {
		names = append(names, tarEntry{name: fmt.Sprintf("f%02d", i), body: "x"})
	}
	lim := Limits{MaxEntries: 10}
	fetchRefused(t, write(t, src, "many.tar", tarBytes(t, names)), lim, "--fetcher_extract_max_entries")
	fetchRefused(t, write(t, src, "many.zip", zipBytes(t, names)), lim, "--fetcher_extract_max_entries")
}

// TestExtractWithinLimits: archives exactly at their bounds extract in
// full, in each format.
func TestExtractWithinLimits(t *testing.T) {
	src := t.TempDir()
	entries := []tarEntry{{name: "d/", dir: true}, {name: "d/a", body: "aaaa"}, {name: "d/b", body: "bbbb"}}
	files := []tarEntry{{name: "d/a", body: "aaaa"}, {name: "d/b", body: "bbbb"}}
	lim := Limits{MaxSize: 8, MaxEntries: 3}
	cases := map[string][]byte{
		"ok.tar":    tarBytes(t, entries),
		"ok.tar.gz": gz(t, tarBytes(t, entries)),
		"ok.zip":    zipBytes(t, files),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			sandbox := t.TempDir()
			f, err := New(Config{Extract: lim})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{uri(write(t, src, name, body))}, sandbox, ""); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(sandbox, "d", "a")) + readFile(t, filepath.Join(sandbox, "d", "b")); got != "aaaabbbb" {
				t.Fatalf("extracted %q", got)
			}
		})
	}
	// One byte more is refused.
	fetchRefused(t, write(t, src, "over.tar", tarBytes(t, append(entries, tarEntry{name: "c", body: "c"}))), Limits{MaxSize: 8, MaxEntries: 4}, "--fetcher_extract_max_size")
}

// TestSparseTarRefused: a tar entry of 1.5 KiB that declares a sparse
// file of a TiB is refused before a byte is written (archive/tar would
// hand out the TiB of zeros), with the default bounds.
func TestSparseTarRefused(t *testing.T) {
	archive := append(sparseEntry("holes", 1<<40), make([]byte, 1024)...)
	// The archive reads as a TiB file.
	h, err := tar.NewReader(bytes.NewReader(archive)).Next()
	if err != nil || h.Size != 1<<40 {
		t.Fatalf("the sparse archive reads as %+v, %v", h, err)
	}
	src := t.TempDir()
	fetchRefused(t, write(t, src, "sparse.tar", archive), Limits{}, "--fetcher_extract_max_size")
}
