package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// confined checks that extracting into base/sandbox left nothing beside
// the sandbox and no symlink in it that points outside.
func confined(t *testing.T, base, sandbox string) {
	t.Helper()
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "sandbox" && e.Name() != "archive.zip" {
			t.Fatalf("extraction wrote %q outside the sandbox", e.Name())
		}
	}
	filepath.WalkDir(sandbox, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		if target != sandbox && !strings.HasPrefix(filepath.Clean(target), sandbox+"/") {
			t.Fatalf("extraction left %s pointing outside the sandbox at %s", p, target)
		}
		return nil
	})
}

// fuzzLimits are small bounds, so that an input that claims a huge
// file fails at once rather than writing it.
var fuzzLimits = Limits{MaxSize: 16 << 10, MaxEntries: 100}

// bounded checks the outcome of one extraction: a failed one left the
// sandbox empty; one that succeeded wrote no more than fuzzLimits.
func bounded(t *testing.T, sandbox string, err error) {
	t.Helper()
	if err != nil {
		left, _ := os.ReadDir(sandbox)
		if len(left) > 0 {
			t.Fatalf("a failed extraction (%v) left %q in the sandbox", err, left[0].Name())
		}
		if errors.Is(err, ErrArchiveLimit) && !strings.Contains(err.Error(), "--fetcher_extract_max_") {
			t.Fatalf("a bound's error does not name its flag: %v", err)
		}
		return
	}
	var size int64
	entries := 0
	seen := map[uint64]bool{}
	filepath.WalkDir(sandbox, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == sandbox {
			return nil
		}
		entries++
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		size += info.Size()
		return nil
	})
	if size > int64(fuzzLimits.MaxSize) {
		t.Fatalf("extraction wrote %d bytes, more than the bound of %d", size, fuzzLimits.MaxSize)
	}
	if entries > fuzzLimits.MaxEntries {
		t.Fatalf("extraction made %d entries, more than the bound of %d", entries, fuzzLimits.MaxEntries)
	}
}

// An archive script describes an archive in a few bytes, one entry per
// line, "<kind> <name> [<arg> [<arg>]]":
//
//	f name size       a file of size bytes
//	F name decl n     a file that declares decl bytes and holds n
//	d name            a directory
//	l name target     a symbolic link
//	h name target     a hard link
//	s name realsize   a sparse file (PAX, GNU 1.0) of realsize bytes
//	t name flag       an entry of type flag (its first byte)
//	m name mode       a file of 1 byte with mode (octal)
//
// The fuzz targets take scripts rather than raw archives: tar pads every
// header to 512 bytes, and the fuzzer minimizes each new input by trying
// to remove every subset of its bytes (quadratic in its length), which
// for archives of a few KiB uses its whole minute each time and stops
// the fuzzing meanwhile. Scripts keep inputs to tens of bytes, and reach
// what the extraction decides on (names, types, links, sizes, modes);
// archive/tar's and archive/zip's own parsing is fuzzed upstream.
type scriptEntry struct {
	kind       byte
	name, arg  string
	num1, num2 int64
}

// maxScriptData bounds the data a script makes an archive hold, so that
// one run stays cheap; declared sizes are not bounded.
const maxScriptData = 64 << 10

func parseScript(script string) []scriptEntry {
	var out []scriptEntry
	for _, line := range strings.Split(script, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || len(f[0]) != 1 {
			continue
		}
		e := scriptEntry{kind: f[0][0], name: f[1]}
		if len(f) > 2 {
			e.arg = f[2]
			e.num1, _ = strconv.ParseInt(f[2], 0, 64)
		}
		if len(f) > 3 {
			e.num2, _ = strconv.ParseInt(f[3], 0, 64)
		}
		out = append(out, e)
	}
	return out
}

func clampData(n int64) int64 {
	return min(max(n, 0), maxScriptData)
}

// rawHeader is a 512-byte ustar header of type flag for name holding
// size bytes.
func rawHeader(name string, flag byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], "00000000000\x00")
	h[156] = flag
	copy(h[257:265], "ustar\x0000")
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// padded is b followed by zeros to a multiple of 512 bytes.
func padded(b []byte) []byte {
	return append(b, make([]byte, (512-len(b)%512)%512)...)
}

// sparseEntry is a GNU sparse file (PAX format 0.1) named name whose
// size is realsize bytes, of which it holds one: a PAX header, then the
// file's header and its byte. A reader hands out realsize bytes, zeros
// but the first, from an entry of 1.5 KiB.
func sparseEntry(name string, realsize int64) []byte {
	var recs []byte
	for _, kv := range [][2]string{
		{"GNU.sparse.numblocks", "1"}, {"GNU.sparse.map", "0,1"},
		{"GNU.sparse.size", strconv.FormatInt(realsize, 10)}, {"GNU.sparse.name", name},
	} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec)
		for len(strconv.Itoa(n))+len(rec) != n {
			n = len(strconv.Itoa(n)) + len(rec)
		}
		recs = append(recs, strconv.Itoa(n)+rec...)
	}
	out := append(rawHeader("PaxHeaders/"+name, 'x', int64(len(recs))), padded(recs)...)
	out = append(out, rawHeader(name, '0', 1)...)
	return append(out, padded([]byte{'x'})...)
}

// tarScript builds the tar archive a script describes; an entry the
// writer refuses is left out, and one that holds less than it declares
// ends the archive there.
func tarScript(script string) []byte {
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range parseScript(script) {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg}
		data := int64(0)
		switch e.kind {
		case 'f':
			h.Size, data = clampData(e.num1), clampData(e.num1)
		case 'F':
			h.Size, data = e.num1, clampData(e.num2)
		case 'd':
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case 'l':
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.arg, 0o777
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, e.arg
		case 's':
			// archive/tar writes no sparse file: append one by hand.
			if w.Flush() != nil {
				return b.Bytes()
			}
			b.Write(sparseEntry(e.name, e.num1))
			continue
		case 't':
			if e.arg != "" {
				h.Typeflag = e.arg[0]
			}
		case 'm':
			h.Mode, h.Size, data = e.num1, 1, 1
		default:
			continue
		}
		if w.WriteHeader(h) != nil {
			continue
		}
		if data > 0 {
			w.Write(bytes.Repeat([]byte{'x'}, int(min(data, h.Size))))
		}
		if data < h.Size {
			w.Flush() // fails: the archive is cut here
			return b.Bytes()
		}
	}
	w.Close()
	return b.Bytes()
}

// zipScript builds the zip archive a script describes ('s' and 't' are
// files; 'F' declares its size in the central directory).
func zipScript(script string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range parseScript(script) {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(0o644)
		data := int64(1)
		switch e.kind {
		case 'f':
			data = clampData(e.num1)
		case 'd':
			h.Name = strings.TrimSuffix(e.name, "/") + "/"
			h.SetMode(os.ModeDir | 0o755)
			data = 0
		case 'l':
			h.SetMode(os.ModeSymlink | 0o777)
			data = 0
		case 'm':
			h.SetMode(os.FileMode(e.num1))
		case 'F':
			n := clampData(e.num2)
			body := bytes.Repeat([]byte{'x'}, int(n))
			raw := &zip.FileHeader{Name: e.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(body),
				CompressedSize64: uint64(n), UncompressedSize64: uint64(e.num1)}
			if fw, err := w.CreateRaw(raw); err == nil {
				fw.Write(body)
			}
			continue
		case 'h', 's', 't':
		default:
			continue
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			continue
		}
		if e.kind == 'l' {
			fw.Write([]byte(e.arg))
		}
		fw.Write(bytes.Repeat([]byte{'x'}, int(data)))
	}
	w.Close()
	return b.Bytes()
}

// scriptSeeds are the inputs both targets start from: ordinary
// archives, escapes, and sizes that claim far more than they hold.
var scriptSeeds = []string{
	"d d\nf d/a 2\nf b 10",
	"f ../escape 1\nf a 1",
	"l l /etc\nf l/passwd 1",
	"l l ..\nf l/escape 1",
	"d d\nl d/l ../../x\nh h ../x",
	"f /abs 1\nf ./ok 1\nf d/../../x 1",
	"s sparse 1099511627776",
	"F big 1099511627776 4096",
	"f big 16385",
	"m secret 0\nm setuid 04755\nt fifo 6\nt dev 3",
}

// FuzzExtractTar: no tar archive writes outside the sandbox, leaves a
// symlink out of it or writes more than its bounds; one that fails
// leaves nothing behind, and a bound's error names its flag.
func FuzzExtractTar(f *testing.F) {
	for _, s := range scriptSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		base := t.TempDir()
		sandbox := filepath.Join(base, "sandbox")
		if err := os.Mkdir(sandbox, 0o755); err != nil {
			t.Fatal(err)
		}
		u := &undo{}
		err := extractTar(bytes.NewReader(tarScript(script)), "fuzz.tar", sandbox, u, fuzzLimits)
		if err != nil {
			u.revert()
		}
		confined(t, base, sandbox)
		bounded(t, sandbox, err)
	})
}

// FuzzExtractZip is FuzzExtractTar for zip archives.
func FuzzExtractZip(f *testing.F) {
	for _, s := range scriptSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		base := t.TempDir()
		sandbox := filepath.Join(base, "sandbox")
		if err := os.Mkdir(sandbox, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(base, "archive.zip")
		if err := os.WriteFile(file, zipScript(script), 0o644); err != nil {
			t.Fatal(err)
		}
		u := &undo{}
		err := extractZip(file, "archive.zip", sandbox, u, fuzzLimits)
		if err != nil {
			u.revert()
		}
		confined(t, base, sandbox)
		bounded(t, sandbox, err)
	})
}
