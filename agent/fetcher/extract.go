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
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		u.created(missing[i])
	}
	return nil
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

// extract unpacks the archive src into dir, by the kind its sandbox name
// (name, relative to dir) says. A plain .gz file is decompressed to name
// without its suffix. It reports whether name is an archive at all.
func extract(ctx context.Context, src, name, dir string, u *undo) (bool, error) {
	kind := archiveKind(name)
	if kind == "" {
		return false, nil
	}
	if kind == ".zip" {
		return true, extractZip(src, dir, u)
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
			return true, fmt.Errorf("extract: %w", err)
		}
		defer zr.Close()
		r = zr
	case ".tar.bz2", ".tbz2":
		r = bzip2.NewReader(in)
	case ".tar.xz", ".txz":
		// The standard library has no xz decoder: decompress with xz(1),
		// keep the path checks here.
		cmd := exec.CommandContext(ctx, "xz", "-dc")
		cmd.Stdin = in
		out, err := cmd.StdoutPipe()
		if err != nil {
			return true, err
		}
		if err := cmd.Start(); err != nil {
			return true, fmt.Errorf("extract: xz: %w", err)
		}
		terr := extractTar(out, dir, u)
		io.Copy(io.Discard, out)
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
		dst, err := within(dir, strings.TrimSuffix(name, filepath.Ext(name)))
		if err != nil {
			return true, fmt.Errorf("extract: %q: %w", name, err)
		}
		if err := u.writeFile(dst, r, 0o644); err != nil {
			return true, fmt.Errorf("extract: %w", err)
		}
		return true, nil
	}
	return true, extractTar(r, dir, u)
}

func extractTar(r io.Reader, dir string, u *undo) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
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
			if err := u.mkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := u.writeFile(dst, tr, mode.Perm()); err != nil {
				return fmt.Errorf("extract: %q: %w", h.Name, err)
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

func extractZip(file, dir string, u *undo) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer zr.Close()
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
		err = u.writeFile(dst, rc, perm)
		rc.Close()
		if err != nil {
			return fmt.Errorf("extract: %q: %w", zf.Name, err)
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
