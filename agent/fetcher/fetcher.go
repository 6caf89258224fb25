// Package fetcher downloads a command's URIs (CommandInfo.uris) into an
// executor's sandbox before the executor starts, as Mesos' mesos-fetcher
// does:
//
//   - http:// and https:// URIs are downloaded; file:// URIs and absolute
//     paths are copied from the local file system;
//   - the file is stored in the sandbox under the URI's base name, or under
//     URI.output_file, which must stay inside the sandbox;
//   - URI.executable makes the file executable (mode 0755) and skips
//     extraction;
//   - URI.extract (default true) unpacks archives named .tar, .tar.gz,
//     .tgz, .tar.bz2, .tbz2, .tar.xz, .txz and .zip into the sandbox, and
//     decompresses a plain .gz file next to it; the archive itself stays.
//     An entry whose path would land outside the sandbox (absolute, "..",
//     or through a symbolic link) fails the fetch.
//
// Every error names the URI it concerns. The fetcher has no cache
// (URI.cache is accepted and ignored).
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
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// ErrEscape is returned (wrapped) when an output_file or an archive entry
// names a path outside the sandbox.
var ErrEscape = errors.New("path escapes the sandbox")

// Fetcher fetches URIs. The zero value is ready to use.
type Fetcher struct {
	// Client downloads http(s) URIs; nil means http.DefaultClient.
	Client *http.Client
}

// Fetch fetches every URI into sandbox, in order, and stops at the first
// failure. The error names the failing URI.
func (f *Fetcher) Fetch(ctx context.Context, uris []*mesos.CommandInfo_URI, sandbox string) error {
	for _, u := range uris {
		if err := f.fetchOne(ctx, u, sandbox); err != nil {
			return fmt.Errorf("Failed to fetch '%s': %w", u.GetValue(), err)
		}
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, u *mesos.CommandInfo_URI, sandbox string) error {
	value := u.GetValue()
	if value == "" {
		return errors.New("empty URI")
	}
	name := u.GetOutputFile()
	if name == "" {
		name = baseName(value)
		if name == "" || name == "." || name == "/" {
			return fmt.Errorf("cannot derive a file name from the URI; set output_file")
		}
	}
	dst, err := within(sandbox, name)
	if err != nil {
		return fmt.Errorf("output file %q: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := f.download(ctx, value, dst); err != nil {
		return err
	}
	if u.GetExecutable() {
		return os.Chmod(dst, 0o755)
	}
	if !u.GetExtract() { // proto default is true
		return nil
	}
	return extract(ctx, dst, sandbox)
}

// baseName is the last path element of a URI or path, without query.
func baseName(value string) string {
	if pu, err := url.Parse(value); err == nil && pu.Scheme != "" {
		return path.Base(pu.Path)
	}
	return filepath.Base(value)
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

func (f *Fetcher) download(ctx context.Context, value, dst string) error {
	var src string
	switch {
	case strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://"):
		return f.httpGet(ctx, value, dst)
	case strings.HasPrefix(value, "file://"):
		pu, err := url.Parse(value)
		if err != nil {
			return err
		}
		src = pu.Path
	case filepath.IsAbs(value):
		src = value
	default:
		scheme, _, _ := strings.Cut(value, "://")
		return fmt.Errorf("unsupported URI scheme %q (want http, https, file or an absolute path)", scheme)
	}
	return copyFile(src, dst)
}

func (f *Fetcher) httpGet(ctx context.Context, value, dst string) error {
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, value, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return writeFile(dst, resp.Body, 0o644)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", src)
	}
	return writeFile(dst, in, st.Mode().Perm()|0o600)
}

func writeFile(dst string, r io.Reader, mode os.FileMode) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// archiveKind classifies a file name by its extension.
func archiveKind(name string) string {
	n := strings.ToLower(name)
	for _, k := range []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip", ".gz"} {
		if strings.HasSuffix(n, k) {
			return k
		}
	}
	return ""
}

// extract unpacks file into dir when its name says it is an archive.
func extract(ctx context.Context, file, dir string) error {
	kind := archiveKind(file)
	if kind == "" {
		return nil
	}
	if kind == ".zip" {
		return extractZip(file, dir)
	}
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	var r io.Reader = in
	switch kind {
	case ".tar.gz", ".tgz", ".gz":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return fmt.Errorf("extract: %w", err)
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
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("extract: xz: %w", err)
		}
		terr := extractTar(out, dir)
		io.Copy(io.Discard, out)
		werr := cmd.Wait()
		if terr != nil {
			return terr
		}
		if werr != nil {
			return fmt.Errorf("extract: xz: %w", werr)
		}
		return nil
	}
	if kind == ".gz" {
		// A single compressed file: write it without the suffix.
		dst := strings.TrimSuffix(file, filepath.Ext(file))
		return writeFile(dst, r, 0o644)
	}
	return extractTar(r, dir)
}

func extractTar(r io.Reader, dir string) error {
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
			if err := os.MkdirAll(dst, mode.Perm()|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			os.Remove(dst)
			if err := writeFile(dst, tr, mode.Perm()); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := checkLink(dir, dst, h.Linkname); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			os.Remove(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			src, err := entryPath(dir, h.Linkname)
			if err != nil || src == "" {
				return fmt.Errorf("extract: hard link %q -> %q: %w", h.Name, h.Linkname, ErrEscape)
			}
			os.Remove(dst)
			if err := os.Link(src, dst); err != nil {
				return err
			}
		default:
			// Devices, FIFOs and the like are skipped.
		}
	}
}

func extractZip(file, dir string) error {
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
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if mode&os.ModeSymlink != 0 {
			return fmt.Errorf("extract: %q: symbolic links in zip archives are not supported", zf.Name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		perm := mode.Perm()
		if perm == 0 {
			perm = 0o644
		}
		os.Remove(dst)
		err = writeFile(dst, rc, perm)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
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
