package provisioner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The --image_provisioner_backend values.
const (
	// BackendOverlay mounts the layers under a writable upper directory
	// (overlayfs), in the container's mount namespace.
	BackendOverlay = "overlay"
	// BackendCopy copies the layers into the rootfs directory.
	BackendCopy = "copy"
)

// Config configures New.
type Config struct {
	// Dir is where containers' root file systems are made:
	// <work_dir>/provisioner.
	Dir string
	// Backend is --image_provisioner_backend: BackendOverlay (default
	// when the kernel has overlayfs) or BackendCopy.
	Backend string
	// Store is the Docker store images come from.
	Store *Store
	// GC is --image_gc_config; nil for no automatic garbage collection.
	GC *GCConfig
	// Log receives the provisioner's log lines; nil discards them.
	Log *slog.Logger
}

// Provisioner makes and removes containers' root file systems (Mesos'
// provisioner). Safe for concurrent use.
type Provisioner struct {
	dir     string
	backend string
	store   *Store
	gc      *GCConfig
	log     *slog.Logger

	// gcMu: Provision holds it shared from pulling an image until the
	// container's use of it is recorded; Prune holds it exclusively.
	gcMu sync.RWMutex
	mu   sync.Mutex
	live map[string]*Rootfs // container id -> its root file system
}

// Rootfs is a container's root file system.
type Rootfs struct {
	// Dir is the container's root: the overlay's mount point, or the
	// copy.
	Dir string `json:"dir"`
	// Backend is how it is made: BackendOverlay or BackendCopy.
	Backend string `json:"backend"`
	// Lower are the layers' directories, top first (overlayfs's
	// lowerdir order); Upper and Work the overlay's writable directory
	// and its work directory. Overlay only.
	Lower []string `json:"lower,omitempty"`
	Upper string   `json:"upper,omitempty"`
	Work  string   `json:"work,omitempty"`
	// Image is the image it was made from.
	Image *Image `json:"image"`
}

// New returns a Provisioner over cfg.Dir.
func New(cfg Config) (*Provisioner, error) {
	if cfg.Store == nil {
		return nil, errors.New("provisioner: no image store")
	}
	if cfg.Backend == "" {
		cfg.Backend = BackendCopy
		if overlaySupported() {
			cfg.Backend = BackendOverlay
		}
	}
	switch cfg.Backend {
	case BackendOverlay:
		if !overlaySupported() {
			return nil, errors.New("--image_provisioner_backend=overlay: the kernel has no overlay file system (see /proc/filesystems)")
		}
		// Overlay's options separate directories with ':' and options
		// with ','.
		for _, d := range []string{cfg.Dir, cfg.Store.cfg.Dir} {
			if strings.ContainsAny(d, ":,") {
				return nil, fmt.Errorf("--image_provisioner_backend=overlay: directory %q has a ':' or ',', which overlay mount options cannot hold", d)
			}
		}
	case BackendCopy:
	default:
		return nil, fmt.Errorf("--image_provisioner_backend=%s is not supported (supported: overlay, copy)", cfg.Backend)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "containers"), 0o700); err != nil {
		return nil, fmt.Errorf("provisioner: %w", err)
	}
	return &Provisioner{dir: cfg.Dir, backend: cfg.Backend, store: cfg.Store, gc: cfg.GC, log: log, live: map[string]*Rootfs{}}, nil
}

// Backend is the backend the provisioner uses.
func (p *Provisioner) Backend() string { return p.backend }

// Store is the provisioner's image store.
func (p *Provisioner) Store() *Store { return p.store }

// overlaySupported reports whether the kernel knows overlayfs.
func overlaySupported() bool {
	b, err := os.ReadFile("/proc/filesystems")
	return err == nil && strings.Contains(string(b), "\toverlay\n")
}

// containerDir is a container's directory under the provisioner's.
func (p *Provisioner) containerDir(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\") {
		return "", fmt.Errorf("invalid container id %q", id)
	}
	return filepath.Join(p.dir, "containers", id), nil
}

// maxMountData is the most mount(2) takes as a file system's options (a
// page).
const maxMountData = 4095

// Provision gets image from the store (pulling it again first when pull
// is set, Mesos' Image.cached=false) and makes the container's root file
// system from it. On error nothing of it is left.
func (p *Provisioner) Provision(ctx context.Context, id, image string, pull bool) (*Rootfs, error) {
	dir, err := p.containerDir(id)
	if err != nil {
		return nil, err
	}
	p.gcMu.RLock()
	defer p.gcMu.RUnlock()
	get := p.store.Get
	if pull {
		get = p.store.Pull
	}
	img, err := get(ctx, image)
	if err != nil {
		return nil, err
	}
	r := &Rootfs{Dir: filepath.Join(dir, "rootfs"), Backend: p.backend, Image: img}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the container's rootfs: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	switch p.backend {
	case BackendOverlay:
		for i := len(img.Layers) - 1; i >= 0; i-- {
			r.Lower = append(r.Lower, p.store.LayerPath(img.Layers[i]))
		}
		if len(r.Lower) == 0 {
			// overlayfs needs a lower directory: an image of no layer
			// is an empty one.
			empty := filepath.Join(dir, "empty")
			if err := os.Mkdir(empty, 0o755); err != nil {
				return nil, err
			}
			r.Lower = []string{empty}
		}
		r.Upper, r.Work = filepath.Join(dir, "upper"), filepath.Join(dir, "work")
		for _, d := range []string{r.Upper, r.Work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return nil, fmt.Errorf("create the overlay's directories: %w", err)
			}
		}
		if n := len(r.MountData()); n > maxMountData {
			return nil, fmt.Errorf("image %s: its %d layers make overlay mount options of %d bytes, more than the kernel takes (%d); use --image_provisioner_backend=copy or a shorter --docker_store_dir", image, len(img.Layers), n, maxMountData)
		}
	case BackendCopy:
		start := time.Now()
		for _, l := range img.Layers {
			if err := copyLayer(p.store.LayerPath(l), r.Dir); err != nil {
				return nil, fmt.Errorf("image %s: copy layer %s into the rootfs: %w", image, l, err)
			}
		}
		p.log.Info("rootfs copied", "container", id, "image", image, "duration", time.Since(start))
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, "rootfs.json"), b); err != nil {
		return nil, fmt.Errorf("record the container's rootfs: %w", err)
	}
	p.mu.Lock()
	p.live[id] = r
	p.mu.Unlock()
	ok = true
	return r, nil
}

// MountData is the overlay's mount options: lowerdir, upperdir, workdir.
func (r *Rootfs) MountData() string {
	return "lowerdir=" + strings.Join(r.Lower, ":") + ",upperdir=" + r.Upper + ",workdir=" + r.Work
}

// Destroy removes the container's root file system: whatever is still
// mounted under its directory is unmounted, then the directory is
// removed. A container without one is no error.
func (p *Provisioner) Destroy(id string) error {
	dir, err := p.containerDir(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.live, id)
	p.mu.Unlock()
	return removeContainerDir(dir)
}

// removeContainerDir unmounts what is mounted under dir, deepest first,
// and removes it.
func removeContainerDir(dir string) error {
	mounts, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", mounts[i], err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the container's rootfs: %w", err)
	}
	return nil
}

// MountsUnder lists the mount points of this process's mount namespace
// at or under dir, in mount order.
func MountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Recover keeps the root file systems of the containers still known
// (those a restarted agent recovered, by id) and removes every other:
// what orphans, and launches interrupted by the agent's end, left.
func (p *Provisioner) Recover(known []string) error {
	ents, err := os.ReadDir(filepath.Join(p.dir, "containers"))
	if err != nil {
		return fmt.Errorf("provisioner: %w", err)
	}
	var errs []error
	for _, e := range ents {
		dir := filepath.Join(p.dir, "containers", e.Name())
		if slices.Contains(known, e.Name()) {
			b, err := os.ReadFile(filepath.Join(dir, "rootfs.json"))
			var r Rootfs
			if err == nil {
				err = json.Unmarshal(b, &r)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("container %s: read its rootfs record: %w", e.Name(), err))
				continue
			}
			p.mu.Lock()
			p.live[e.Name()] = &r
			p.mu.Unlock()
			continue
		}
		p.log.Info("removing the rootfs of a container that is gone", "container", e.Name())
		if err := removeContainerDir(dir); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Prune removes from the store the images no live container uses and
// that excluded does not name, and the layers left unused (Mesos'
// PRUNE_IMAGES). Launches wait meanwhile.
func (p *Provisioner) Prune(excluded []string) error {
	p.gcMu.Lock()
	defer p.gcMu.Unlock()
	keepImages, keepLayers := map[string]bool{}, map[string]bool{}
	p.mu.Lock()
	for _, r := range p.live {
		if r.Image == nil {
			continue
		}
		keepImages[r.Image.Name] = true
		for _, l := range r.Image.Layers {
			keepLayers[l] = true
		}
	}
	p.mu.Unlock()
	images, layers, err := p.store.Prune(keepImages, keepLayers, excluded)
	p.log.Info("image garbage collection", "images_removed", images, "layers_removed", layers, "err", err)
	return err
}

// Run collects garbage automatically, as --image_gc_config asks: every
// ImageDiskWatchInterval it prunes when the store's file system has less
// than ImageDiskHeadroom of its space free. It returns when ctx ends;
// without a GC configuration at once.
func (p *Provisioner) Run(ctx context.Context) {
	if p.gc == nil {
		return
	}
	t := time.NewTicker(p.gc.ImageDiskWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var st unix.Statfs_t
		if err := unix.Statfs(p.store.cfg.Dir, &st); err != nil {
			p.log.Warn("image gc: cannot measure the store's file system", "err", err)
			continue
		}
		if !p.gc.due(st.Bavail, st.Blocks) {
			continue
		}
		if err := p.Prune(p.gc.ExcludedImages); err != nil {
			p.log.Warn("image gc failed", "err", err)
		}
	}
}

// copyLayer applies an unpacked layer (overlayfs's form) onto dst: its
// whiteouts delete, its opaque directories replace, everything else is
// copied over what the layers below made.
func copyLayer(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		mode := st.Mode & unix.S_IFMT
		if mode == unix.S_IFCHR && st.Rdev == 0 {
			return os.RemoveAll(target) // a whiteout
		}
		if mode != unix.S_IFDIR {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		} else if tst, err := os.Lstat(target); err == nil && !tst.IsDir() {
			if err := os.Remove(target); err != nil {
				return err
			}
		}
		switch mode {
		case unix.S_IFDIR:
			if isOpaque(path) {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
		case unix.S_IFREG:
			if err := copyFile(path, target); err != nil {
				return err
			}
		case unix.S_IFLNK:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if mode != unix.S_IFLNK {
			if err := unix.Chmod(target, st.Mode&0o7777); err != nil {
				return err
			}
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
		return nil
	})
}

// isOpaque reports whether an unpacked layer's directory hides the
// layers below.
func isOpaque(dir string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(dir, opaqueXattr, b[:])
	return err == nil && n == 1 && b[0] == 'y'
}

// copyFile copies a regular file's content.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
