package provisioner

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// needRoot skips a test that makes device files, sets trusted.*
// attributes, chowns or mounts, outside CI (which runs as root).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking layers makes whiteout devices and trusted.overlay attributes, and overlay mounts")
	}
}

// entry is one file of a test layer.
type entry struct {
	name, body, link string
	typ              byte
}

// layerOf makes an uncompressed layer of entries.
func layerOf(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		switch e.typ {
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The test image's layers: the base has files, a directory to make
// opaque and a hard link; the top deletes a file, makes the directory
// opaque, adds to it and links to the base.
func baseLayer(t *testing.T) v1.Layer {
	return layerOf(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/a", body: "A", typ: tar.TypeReg},
		entry{name: "etc/gone", body: "deleted above", typ: tar.TypeReg},
		entry{name: "etc/hard", link: "etc/a", typ: tar.TypeLink},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/old", body: "hidden above", typ: tar.TypeReg},
	)
}

func topLayer(t *testing.T) v1.Layer {
	return layerOf(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/.wh.gone", typ: tar.TypeReg},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "opq/new", body: "N", typ: tar.TypeReg},
		entry{name: "link", link: "etc/a", typ: tar.TypeSymlink},
	)
}

// imageOf makes an image of layers with a runtime configuration.
func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/app"}, Env: []string{"A=1"}, WorkingDir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// saveImage writes img as `docker save` would, as <dir>/<ref>.tar.
func saveImage(t *testing.T, dir, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ref+".tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func newStore(t *testing.T, registry string) *Store {
	t.Helper()
	s, err := NewStore(StoreConfig{Dir: filepath.Join(t.TempDir(), "store"), Registry: registry, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreUnpacksEachLayerOnceAndHandlesWhiteouts(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	base, top := baseLayer(t), topLayer(t)
	saveImage(t, reg, "app:1", imageOf(t, base, top))
	saveImage(t, reg, "other:1", imageOf(t, base, layerOf(t, entry{name: "o", body: "O", typ: tar.TypeReg})))
	s := newStore(t, reg)

	// Concurrent launches of one image unpack each layer once.
	var wg sync.WaitGroup
	imgs := make([]*Image, 8)
	errs := make([]error, 8)
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = s.Get(context.Background(), "app:1")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	if n := s.Unpacks(); n != 2 {
		t.Fatalf("unpacked %d layers for a 2-layer image fetched 8 times at once", n)
	}
	img := imgs[0]
	if len(img.Layers) != 2 || img.Config.WorkingDir != "/w" || img.Config.Entrypoint[0] != "/bin/app" {
		t.Fatalf("image: %+v", img)
	}
	// A second image sharing the base layer unpacks only its own.
	if _, err := s.Get(context.Background(), "other:1"); err != nil {
		t.Fatal(err)
	}
	if n := s.Unpacks(); n != 3 {
		t.Fatalf("unpacks after an image sharing a layer: %d, want 3", n)
	}

	topDir := s.LayerPath(img.Layers[1])
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(topDir, "etc/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout of etc/gone: %v, mode %o rdev %d; want a 0/0 character device", err, st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(topDir, "etc/.wh.gone")); err == nil {
		t.Error("the .wh. file itself was unpacked")
	}
	if !isOpaque(filepath.Join(topDir, "opq")) {
		t.Error("opq is not marked opaque")
	}
	baseDir := s.LayerPath(img.Layers[0])
	var a, h unix.Stat_t
	unix.Lstat(filepath.Join(baseDir, "etc/a"), &a)
	unix.Lstat(filepath.Join(baseDir, "etc/hard"), &h)
	if a.Ino == 0 || a.Ino != h.Ino {
		t.Errorf("etc/hard is not a hard link of etc/a (inodes %d, %d)", a.Ino, h.Ino)
	}
	if l, err := os.Readlink(filepath.Join(topDir, "link")); err != nil || l != "etc/a" {
		t.Errorf("link: %q, %v", l, err)
	}

	// The store survives a restart: a new store over the same directory
	// has the image without its archive.
	os.Remove(filepath.Join(reg, "app:1.tar"))
	s2, err := NewStore(StoreConfig{Dir: s.cfg.Dir, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(context.Background(), "app:1"); err != nil || len(got.Layers) != 2 {
		t.Fatalf("after a restart: %+v, %v", got, err)
	}
	if s2.Unpacks() != 0 {
		t.Errorf("a restarted store unpacked %d layers again", s2.Unpacks())
	}
}

func TestStoreOCILayout(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	p, err := layout.Write(reg, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(imageOf(t, baseLayer(t)), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "oci-app:2"})); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, reg)
	img, err := s.Get(context.Background(), "oci-app:2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.LayerPath(img.Layers[0]), "etc/a")); err != nil {
		t.Error(err)
	}
	if _, err := s.Get(context.Background(), "oci-app:3"); err == nil || !strings.Contains(err.Error(), "oci-app:3") {
		t.Errorf("an image the layout does not hold: %v", err)
	}
}

// corruptLayers rewrites a docker-save archive with one byte of each
// layer blob flipped.
func corruptLayers(t *testing.T, path string) {
	t.Helper()
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(in)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, ".tar.gz") || strings.HasSuffix(h.Name, "layer.tar") {
			b[len(b)/2] ^= 0xff
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStoreBadImagesFailClearlyAndLeaveNothing(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	corruptLayers(t, saveImage(t, reg, "corrupt:1", imageOf(t, baseLayer(t))))
	p := saveImage(t, reg, "truncated:1", imageOf(t, baseLayer(t), topLayer(t)))
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	os.WriteFile(filepath.Join(reg, "garbage:1.tar"), []byte("not a tar at all"), 0o644)
	s := newStore(t, reg)
	for _, c := range []struct{ image, want string }{
		{"corrupt:1", "corrupt:1"},
		{"truncated:1", "truncated:1"},
		{"garbage:1", "garbage:1"},
		{"missing:1", "not found under --docker_registry"},
		{"Bad Name", "invalid Docker image name"},
	} {
		_, err := s.Get(context.Background(), c.image)
		t.Logf("%s: %v", c.image, err)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.image, err, c.want)
		}
	}
	for _, d := range []string{"layers", "staging", "images"} {
		if ents, _ := os.ReadDir(filepath.Join(s.cfg.Dir, d)); len(ents) != 0 {
			t.Errorf("%s left after failed pulls: %v", d, ents)
		}
	}
}

func TestStoreUnreachableRegistryFailsFast(t *testing.T) {
	s := newStore(t, "http://127.0.0.1:1")
	start := time.Now()
	_, err := s.Get(context.Background(), "busybox:1.36")
	if err == nil || !strings.Contains(err.Error(), "busybox:1.36") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable registry: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

func TestProvisionerBackends(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	saveImage(t, reg, "app:1", imageOf(t, baseLayer(t), topLayer(t)))
	for _, backend := range []string{BackendOverlay, BackendCopy} {
		t.Run(backend, func(t *testing.T) {
			s := newStore(t, reg)
			p, err := New(Config{Dir: filepath.Join(t.TempDir(), "provisioner"), Backend: backend, Store: s, Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.Provision(context.Background(), "c1", "app:1", false)
			if err != nil {
				t.Fatal(err)
			}
			if backend == BackendOverlay {
				// The launch helper mounts it in the container's mount
				// namespace; here, on the host, to look.
				if err := unix.Mount("overlay", r.Dir, "overlay", 0, r.MountData()); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]bool{"etc/a": true, "etc/hard": true, "link": true, "opq/new": true, "etc/gone": false, "opq/old": false}
			for f, present := range want {
				if _, err := os.Lstat(filepath.Join(r.Dir, f)); (err == nil) != present {
					t.Errorf("%s: present=%v, want %v", f, err == nil, present)
				}
			}
			if err := os.WriteFile(filepath.Join(r.Dir, "etc/written"), []byte("x"), 0o644); err != nil {
				t.Errorf("the rootfs is not writable: %v", err)
			}
			if _, err := os.Stat(filepath.Join(s.LayerPath(r.Image.Layers[1]), "etc/written")); err == nil {
				t.Error("a write in the rootfs reached the shared layer")
			}
			if err := p.Destroy("c1"); err != nil {
				t.Fatal(err)
			}
			if m, _ := MountsUnder(filepath.Dir(r.Dir)); len(m) != 0 {
				t.Errorf("mounts left: %v", m)
			}
			if _, err := os.Stat(filepath.Dir(r.Dir)); !os.IsNotExist(err) {
				t.Errorf("the container's directory is left: %v", err)
			}
		})
	}
}

func TestProvisionerRecoverAndPrune(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	base := baseLayer(t)
	saveImage(t, reg, "used:1", imageOf(t, base, topLayer(t)))
	saveImage(t, reg, "unused:1", imageOf(t, base, layerOf(t, entry{name: "u", body: "U", typ: tar.TypeReg})))
	saveImage(t, reg, "kept:1", imageOf(t, layerOf(t, entry{name: "k", body: "K", typ: tar.TypeReg})))
	s := newStore(t, reg)
	dir := filepath.Join(t.TempDir(), "provisioner")
	p, err := New(Config{Dir: dir, Backend: BackendCopy, Store: s})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for id, img := range map[string]string{"live": "used:1", "orphan": "unused:1", "gone": "kept:1"} {
		if _, err := p.Provision(ctx, id, img, false); err != nil {
			t.Fatal(err)
		}
	}
	p.Destroy("gone")
	// A restarted agent recovered "live" only: the orphan's rootfs goes.
	p2, err := New(Config{Dir: dir, Backend: BackendCopy, Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Recover([]string{"live"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "containers", "orphan")); !os.IsNotExist(err) {
		t.Errorf("the orphan's rootfs is left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "containers", "live", "rootfs", "etc/a")); err != nil {
		t.Errorf("the recovered container lost its rootfs: %v", err)
	}
	if err := p2.Prune([]string{"kept:1"}); err != nil {
		t.Fatal(err)
	}
	imgs, _ := s.Images()
	var names []string
	for _, i := range imgs {
		names = append(names, i.Name)
	}
	if strings.Join(names, ",") != "kept:1,used:1" && strings.Join(names, ",") != "used:1,kept:1" {
		t.Errorf("images after prune: %v, want used:1 (in use) and kept:1 (excluded)", names)
	}
	layers, _ := os.ReadDir(filepath.Join(s.cfg.Dir, "layers"))
	if len(layers) != 3 {
		t.Errorf("layers after prune: %d, want 3 (used:1's two and kept:1's)", len(layers))
	}
	// The pruned image comes back on demand.
	if _, err := p2.Provision(ctx, "again", "unused:1", false); err != nil {
		t.Fatal(err)
	}
}

func TestParseGCConfig(t *testing.T) {
	c, err := ParseGCConfig(`{"image_disk_headroom":0.2,"image_disk_watch_interval":{"nanoseconds":60000000000},` +
		`"excluded_images":[{"type":"DOCKER","docker":{"name":"busybox"}}]}`)
	if err != nil || c.ImageDiskHeadroom != 0.2 || c.ImageDiskWatchInterval != time.Minute || c.ExcludedImages[0] != "busybox" {
		t.Fatalf("%+v, %v", c, err)
	}
	if !c.due(10, 100) || c.due(30, 100) {
		t.Error("due: want GC below 20% free only")
	}
	for in, want := range map[string]string{
		`{"image_disk_headroom":1.5,"image_disk_watch_interval":{"nanoseconds":1}}`: "between 0.0 and 1.0",
		`{"image_disk_headroom":0.1}`: "image_disk_watch_interval",
		`{"image_disk_headroom":0.1,"image_disk_watch_interval":{"nanoseconds":1},"frequency":2}`:                                 `"frequency"`,
		`{"image_disk_headroom":0.1,"image_disk_watch_interval":{"nanoseconds":1},"excluded_images":[{"type":"APPC","appc":{}}]}`: "APPC",
		`/no/such/file.json`: "no such file",
	} {
		if _, err := ParseGCConfig(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestAutomaticGC(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	saveImage(t, reg, "app:1", imageOf(t, baseLayer(t)))
	s := newStore(t, reg)
	// A headroom of all the disk: every check finds too little free.
	p, err := New(Config{Dir: filepath.Join(t.TempDir(), "provisioner"), Backend: BackendCopy, Store: s, Log: testLog(t),
		GC: &GCConfig{ImageDiskHeadroom: 1, ImageDiskWatchInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), "app:1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		imgs, _ := s.Images()
		layers, _ := os.ReadDir(filepath.Join(s.cfg.Dir, "layers"))
		if len(imgs) == 0 && len(layers) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not collected: %d images, %d layers", len(imgs), len(layers))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStorePullReplacesAnImage(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	saveImage(t, reg, "app:1", imageOf(t, baseLayer(t)))
	s := newStore(t, reg)
	ctx := context.Background()
	old, err := s.Get(ctx, "app:1")
	if err != nil {
		t.Fatal(err)
	}
	// The tag now names another image: Get keeps the stored one, Pull
	// takes the new one and unpacks only its new layer.
	saveImage(t, reg, "app:1", imageOf(t, baseLayer(t), topLayer(t)))
	if img, err := s.Get(ctx, "app:1"); err != nil || len(img.Layers) != 1 {
		t.Fatalf("Get after the tag moved: %+v, %v; want the stored image", img, err)
	}
	img, err := s.Pull(ctx, "app:1")
	if err != nil || len(img.Layers) != 2 || img.Layers[0] != old.Layers[0] {
		t.Fatalf("Pull: %+v, %v", img, err)
	}
	if n := s.Unpacks(); n != 2 {
		t.Errorf("unpacks: %d, want 2 (the base once, the new top)", n)
	}
}
