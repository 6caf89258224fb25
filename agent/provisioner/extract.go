package provisioner

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Docker's whiteouts in a layer's tar (the OCI image spec's): a file
// .wh.<name> deletes <name> of the layers below; .wh..wh..opq in a
// directory hides everything the layers below have in it.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// opaqueXattr marks an overlayfs directory opaque.
const opaqueXattr = "trusted.overlay.opaque"

// Extract unpacks a layer's (uncompressed) tar into dir, an empty
// directory, the way overlayfs keeps a layer: a whiteout becomes a
// character device 0/0 of the deleted name, an opaque marker the
// directory's trusted.overlay.opaque=y. Ownership, modes, times and
// extended attributes are kept (it must run as root). An entry that
// would leave dir — through "..", an absolute link target of a hard
// link, or a symbolic link among its parents — fails the extraction.
func Extract(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirTimes struct {
		path  string
		mtime time.Time
	}
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the tar: %w", err)
		}
		rel, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			continue // the layer's root
		}
		parent, base := path.Split(rel)
		if err := safeParents(dir, parent); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if err := os.MkdirAll(filepath.Join(dir, parent), 0o755); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		target := filepath.Join(dir, rel)
		switch {
		case base == whiteoutOpaque:
			if err := unix.Lsetxattr(filepath.Join(dir, parent), opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("entry %q: mark the directory opaque: %w", hdr.Name, err)
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			wh := filepath.Join(dir, parent, strings.TrimPrefix(base, whiteoutPrefix))
			if err := os.RemoveAll(wh); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			if err := unix.Mknod(wh, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("entry %q: make the whiteout: %w", hdr.Name, err)
			}
			continue
		}
		if err := extractEntry(tr, hdr, dir, target); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{target, hdr.ModTime})
		}
	}
	// Directories' times last: creating their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		setTimes(dirs[i].path, dirs[i].mtime)
	}
	return nil
}

// extractEntry makes one entry (not a whiteout) at target.
func extractEntry(tr *tar.Reader, hdr *tar.Header, root, target string) error {
	mode := uint32(hdr.Mode) & 0o7777
	if hdr.Typeflag != tar.TypeDir {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	} else if st, err := os.Lstat(target); err == nil && !st.IsDir() {
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		rel, err := entryPath(hdr.Linkname)
		if err != nil || rel == "" {
			return fmt.Errorf("hard link to %q leaves the layer", hdr.Linkname)
		}
		parent, _ := path.Split(rel)
		if err := safeParents(root, parent); err != nil {
			return err
		}
		if err := os.Link(filepath.Join(root, rel), target); err != nil {
			return err
		}
		return nil // the link shares the inode's owner, mode and times
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(target, kind|0o600, int(dev)); err != nil {
			return err
		}
	default:
		return nil // e.g. GNU sparse or volume headers: nothing to make
	}
	if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Lsetxattr(target, attr, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("set extended attribute %s: %w", attr, err)
			}
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears set-user-id and set-group-id.
		if err := unix.Chmod(target, mode); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	setTimes(target, hdr.ModTime)
	return nil
}

// setTimes sets a file's access and modification times to mtime,
// without following a symbolic link.
func setTimes(p string, mtime time.Time) {
	ts := unix.NsecToTimespec(mtime.UnixNano())
	unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// entryPath is a tar entry's name relative to the layer's root: "" for
// the root itself, an error when it would leave it.
func entryPath(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("entry %q leaves the layer", name)
		}
	}
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/"), nil
}

// safeParents checks that no existing component of parent (relative to
// root) is a symbolic link, which would take an entry out of the layer.
func safeParents(root, parent string) error {
	cur := root
	for _, c := range strings.Split(strings.Trim(parent, "/"), "/") {
		if c == "" {
			continue
		}
		cur = filepath.Join(cur, c)
		st, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("its parent %q is a symbolic link", strings.TrimPrefix(cur, root+"/"))
		}
		if !st.IsDir() {
			return fmt.Errorf("its parent %q is not a directory", strings.TrimPrefix(cur, root+"/"))
		}
	}
	return nil
}
