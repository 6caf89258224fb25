package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// undo records the paths one URI's fetch created in the sandbox, so that
// a failed fetch takes them away again (newest first). A path that
// existed before is never recorded: a failed fetch does not restore what
// an archive entry overwrote, but it leaves nothing of its own behind.
type undo struct {
	paths []string
}

// created records a path the fetch made.
func (u *undo) created(p string) { u.paths = append(u.paths, p) }

// revert removes what was recorded, newest first; a directory that still
// holds something the fetch did not make stays.
func (u *undo) revert() {
	for i := len(u.paths) - 1; i >= 0; i-- {
		os.Remove(u.paths[i])
	}
	u.paths = nil
}

// mkdirAll is os.MkdirAll that records the directories it creates.
func (u *undo) mkdirAll(dir string, perm os.FileMode) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	err := os.MkdirAll(dir, perm)
	// What was made is recorded even when a deeper level failed (a name
	// too long, an invalid one), so that it is taken away too.
	for i := len(missing) - 1; i >= 0; i-- {
		if _, statErr := os.Lstat(missing[i]); statErr == nil {
			u.created(missing[i])
		}
	}
	return err
}

// writeFile writes r to dst (replacing a file there) and records it.
func (u *undo) writeFile(dst string, r io.Reader, mode os.FileMode) error {
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	u.created(dst)
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// archiveKind classifies a file name by its extension: "" for a file
// that is not an archive.
func archiveKind(name string) string {
	n := strings.ToLower(name)
	for _, k := range []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip", ".gz"} {
		if strings.HasSuffix(n, k) {
			return k
		}
	}
	return ""
}

// Defaults of Limits.
const (
	// DefaultExtractMaxSize is the most bytes one archive's files may
	// hold in all (--fetcher_extract_max_size): 32 GiB.
	DefaultExtractMaxSize = 32 << 30
	// DefaultExtractMaxEntries is the most entries one archive may hold
	// (--fetcher_extract_max_entries): 1,000,000.
	DefaultExtractMaxEntries = 1_000_000
)

// Limits bounds what the extraction of one archive may create in a
// sandbox, so that a decompression bomb, a sparse file or size that
// claims far more than the archive holds, or an archive of countless
// tiny entries cannot fill the agent's disk or keep the fetch busy for
// hours. An archive that would pass a bound fails its fetch with
// ErrArchiveLimit naming the archive and the bound, and what it wrote
// is removed. The zero value means the defaults.
type Limits struct {
	// MaxSize is the most bytes the archive's files may hold in all,
	// counted as written and checked up front against every size an
	// entry declares (tar headers, zip's central directory), so that an
	// archive that announces more is refused before anything is
	// written. A plain .gz file counts as one file. 0 means
	// DefaultExtractMaxSize.
	MaxSize uint64
	// MaxEntries is the most entries (files, directories, links) the
	// archive may hold; 0 means DefaultExtractMaxEntries.
	MaxEntries int
}

func (l Limits) maxSize() int64 {
	switch {
	case l.MaxSize == 0:
		return DefaultExtractMaxSize
	case l.MaxSize > 1<<62:
		return 1 << 62
	}
	return int64(l.MaxSize)
}

func (l Limits) maxEntries() int {
	if l.MaxEntries <= 0 {
		return DefaultExtractMaxEntries
	}
	return l.MaxEntries
}

// ErrArchiveLimit is returned (wrapped) when an archive would write more
// than Limits allows.
var ErrArchiveLimit = errors.New("archive exceeds the extraction limits")

// extraction is the state of one archive's extraction: where it goes,
// what it made, and how much of its bounds it used.
type extraction struct {
	dir     string // the sandbox
	archive string // the archive's name in the sandbox, for errors
	u       *undo
	lim     Limits
	written int64
	entries int
}

// entry counts one more entry against MaxEntries.
func (x *extraction) entry() error {
	x.entries++
	if x.entries > x.lim.maxEntries() {
		return fmt.Errorf("extract: archive '%s' holds more than %d entries (--fetcher_extract_max_entries): %w",
			x.archive, x.lim.maxEntries(), ErrArchiveLimit)
	}
	return nil
}

// declare checks that an entry of size bytes still fits in MaxSize.
func (x *extraction) declare(name string, size int64) error {
	if size < 0 || size > x.lim.maxSize()-x.written {
		return x.sizeError(fmt.Sprintf("entry %q declares %d bytes and", name, size))
	}
	return nil
}

func (x *extraction) sizeError(what string) error {
	return fmt.Errorf("extract: archive '%s': %s would write more than %d bytes in all (--fetcher_extract_max_size): %w",
		x.archive, what, x.lim.maxSize(), ErrArchiveLimit)
}

// wrap gives an error writing entry the archive's and the entry's names;
// a bound's error already has them.
func (x *extraction) wrap(entry string, err error) error {
	if errors.Is(err, ErrArchiveLimit) {
		return err
	}
	return fmt.Errorf("extract: archive '%s': entry %q: %w", x.archive, entry, err)
}

// budget wraps r so that reading past MaxSize (counted over the whole
// archive) fails instead of handing out the bytes.
func (x *extraction) budget(name string, r io.Reader) io.Reader {
	return &budgetReader{r: r, x: x, name: name}
}

type budgetReader struct {
	r    io.Reader
	x    *extraction
	name string
}

func (b *budgetReader) Read(p []byte) (int, error) {
	left := b.x.lim.maxSize() - b.x.written
	if int64(len(p)) > left+1 {
		p = p[:left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > left {
		return 0, b.x.sizeError(fmt.Sprintf("entry %q", b.name))
	}
	b.x.written += int64(n)
	return n, err
}

// extract unpacks the archive src into dir, by the kind its sandbox name
// (name, relative to dir) says, within lim. A plain .gz file is
// decompressed to name without its suffix. It reports whether name is an
// archive at all.
func extract(ctx context.Context, src, name, dir string, u *undo, lim Limits) (bool, error) {
	kind := archiveKind(name)
	if kind == "" {
		return false, nil
	}
	x := &extraction{dir: dir, archive: name, u: u, lim: lim}
	if kind == ".zip" {
		return true, x.zip(src)
	}
	in, err := os.Open(src)
	if err != nil {
		return true, err
	}
	defer in.Close()
	var r io.Reader = in
	switch kind {
	case ".tar.gz", ".tgz", ".gz":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return true, fmt.Errorf("extract: archive '%s': %w", name, err)
		}
		defer zr.Close()
		r = zr
	case ".tar.bz2", ".tbz2":
		r = bzip2.NewReader(in)
	case ".tar.xz", ".txz":
		// The standard library has no xz decoder: decompress with xz(1),
		// keep the path checks and bounds here. Stopping early kills xz.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		cmd := exec.CommandContext(ctx, "xz", "-dc")
		cmd.Stdin = in
		out, err := cmd.StdoutPipe()
		if err != nil {
			return true, err
		}
		if err := cmd.Start(); err != nil {
			return true, fmt.Errorf("extract: xz: %w", err)
		}
		terr := x.tar(out)
		if terr != nil {
			cancel()
		} else {
			io.Copy(io.Discard, out)
		}
		werr := cmd.Wait()
		if terr != nil {
			return true, terr
		}
		if werr != nil {
			return true, fmt.Errorf("extract: xz: %w", werr)
		}
		return true, nil
	}
	if kind == ".gz" {
		// A single compressed file: write it without the suffix.
		base := strings.TrimSuffix(name, filepath.Ext(name))
		dst, err := within(dir, base)
		if err != nil {
			return true, fmt.Errorf("extract: %q: %w", name, err)
		}
		if err := x.entry(); err != nil {
			return true, err
		}
		if err := u.writeFile(dst, x.budget(base, r), 0o644); err != nil {
			return true, x.wrap(base, err)
		}
		return true, nil
	}
	return true, x.tar(r)
}

// extractTar unpacks the tar stream r into dir within lim; archive names
// it in errors.
func extractTar(r io.Reader, archive, dir string, u *undo, lim Limits) error {
	x := &extraction{dir: dir, archive: archive, u: u, lim: lim}
	return x.tar(r)
}

func (x *extraction) tar(r io.Reader) error {
	dir, u := x.dir, x.u
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract: archive '%s': %w", x.archive, err)
		}
		if err := x.entry(); err != nil {
			return err
		}
		dst, err := entryPath(dir, h.Name)
		if err != nil {
			return err
		}
		if dst == "" {
			continue
		}
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := u.mkdirAll(dst, mode.Perm()|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			// The declared size (a sparse file's full size) is checked
			// before anything is written.
			if err := x.declare(h.Name, h.Size); err != nil {
				return err
			}
			if err := u.mkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := u.writeFile(dst, x.budget(h.Name, tr), mode.Perm()); err != nil {
				return x.wrap(h.Name, err)
			}
		case tar.TypeSymlink:
			if err := checkLink(dir, dst, h.Linkname); err != nil {
				return err
			}
			if err := u.mkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			os.Remove(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
			u.created(dst)
		case tar.TypeLink:
			src, err := entryPath(dir, h.Linkname)
			if err != nil || src == "" {
				return fmt.Errorf("extract: hard link %q -> %q: %w", h.Name, h.Linkname, ErrEscape)
			}
			os.Remove(dst)
			if err := os.Link(src, dst); err != nil {
				return err
			}
			u.created(dst)
		default:
			// Devices, FIFOs and the like are skipped.
		}
	}
}

// extractZip unpacks the zip file into dir within lim; archive names it
// in errors.
func extractZip(file, archive, dir string, u *undo, lim Limits) error {
	x := &extraction{dir: dir, archive: archive, u: u, lim: lim}
	return x.zip(file)
}

func (x *extraction) zip(file string) error {
	dir, u := x.dir, x.u
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("extract: archive '%s': %w", x.archive, err)
	}
	defer zr.Close()
	// The central directory lists every entry and its size: an archive
	// that announces more than the bounds is refused before anything is
	// written. Entries that share their data (overlapping entries of a
	// zip bomb) each count in full.
	if len(zr.File) > x.lim.maxEntries() {
		return fmt.Errorf("extract: archive '%s' holds %d entries, more than %d (--fetcher_extract_max_entries): %w",
			x.archive, len(zr.File), x.lim.maxEntries(), ErrArchiveLimit)
	}
	var declared uint64
	for _, zf := range zr.File {
		declared += zf.UncompressedSize64
		if zf.UncompressedSize64 > uint64(x.lim.maxSize()) || declared > uint64(x.lim.maxSize()) {
			return x.sizeError(fmt.Sprintf("its entries declare %d bytes or more and", declared))
		}
	}
	for _, zf := range zr.File {
		dst, err := entryPath(dir, zf.Name)
		if err != nil {
			return err
		}
		if dst == "" {
			continue
		}
		mode := zf.Mode()
		if mode.IsDir() {
			if err := u.mkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if mode&os.ModeSymlink != 0 {
			return fmt.Errorf("extract: %q: symbolic links in zip archives are not supported", zf.Name)
		}
		if err := u.mkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("extract: %q: %w", zf.Name, err)
		}
		perm := mode.Perm()
		if perm == 0 {
			perm = 0o644
		}
		// zip's reader fails an entry whose data is longer than it
		// declares; the budget bounds the archive even so.
		err = u.writeFile(dst, x.budget(zf.Name, rc), perm)
		rc.Close()
		if err != nil {
			return x.wrap(zf.Name, err)
		}
	}
	return nil
}

// within joins rel onto root and fails if the result is not inside root.
func within(root, rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return "", ErrEscape
	}
	p := filepath.Join(root, rel)
	r, err := filepath.Rel(root, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || r == "." {
		return "", ErrEscape
	}
	return p, nil
}

// entryPath maps an archive entry name to a path inside dir; "" for the
// archive's root entry. It refuses absolute names, "..", and entries that
// would be written through a symbolic link.
func entryPath(dir, name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if clean == "." {
		return "", nil
	}
	if filepath.IsAbs(name) || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("extract: entry %q: %w", name, ErrEscape)
	}
	dst, err := within(dir, clean)
	if err != nil {
		return "", fmt.Errorf("extract: entry %q: %w", name, err)
	}
	// No parent of the entry may be a symbolic link (an earlier entry
	// could point it outside the sandbox).
	rel, _ := filepath.Rel(dir, filepath.Dir(dst))
	cur := dir
	if rel != "." {
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			cur = filepath.Join(cur, part)
			if st, err := os.Lstat(cur); err == nil && st.Mode()&os.ModeSymlink != 0 {
				return "", fmt.Errorf("extract: entry %q goes through symbolic link %q: %w", name, part, ErrEscape)
			}
		}
	}
	return dst, nil
}

// checkLink refuses a symbolic link whose target resolves outside dir.
func checkLink(dir, at, target string) error {
	if filepath.IsAbs(target) {
		return fmt.Errorf("extract: symbolic link %q -> %q: %w", at, target, ErrEscape)
	}
	if _, err := within(dir, filepath.Join(filepath.Dir(mustRel(dir, at)), target)); err != nil {
		return fmt.Errorf("extract: symbolic link %q -> %q: %w", at, target, ErrEscape)
	}
	return nil
}

func mustRel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil {
		return p
	}
	return r
}

// ErrEscape is returned (wrapped) when an output_file or an archive entry
// names a path outside the sandbox.
var ErrEscape = errors.New("path escapes the sandbox")
