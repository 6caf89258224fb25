package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultStoreDir is Mesos' default --docker_store_dir.
const DefaultStoreDir = "/tmp/mesos/store/docker"

// DefaultRegistry is Mesos' default --docker_registry.
const DefaultRegistry = "https://registry-1.docker.io"

// StoreConfig configures NewStore.
type StoreConfig struct {
	// Dir is --docker_store_dir: where layers and image metadata are
	// kept (created when missing).
	Dir string
	// Registry is --docker_registry: a local directory holding `docker
	// save` archives named <image>.tar (the image as the task names it,
	// e.g. busybox.tar or busybox:1.36.tar, as Mesos looks them up) or
	// OCI image layouts, or the URL (http:// or https://) of a registry
	// used for images whose name has none.
	Registry string
	// PullTimeout bounds a pull from a registry, its layers included
	// (default 10 min). Connecting to the registry is bounded by 5 s, so
	// that an unreachable one fails a launch quickly.
	PullTimeout time.Duration
	// Log receives the store's log lines; nil discards them.
	Log *slog.Logger
}

// Store is Mesos' Docker store: it pulls images from --docker_registry
// and keeps each layer unpacked once, by diff id, under Dir. Safe for
// concurrent use.
type Store struct {
	cfg StoreConfig
	log *slog.Logger

	mu      sync.Mutex
	flights map[string]*flight // layer or image being made -> its waiters

	unpacks atomic.Int64
}

// flight is one unpack (or pull) that later askers wait for.
type flight struct {
	done chan struct{}
	err  error
}

// Image is an image in the store: its layers, bottom first, and its
// runtime configuration.
type Image struct {
	// Name is the image as asked for.
	Name string `json:"name"`
	// Layers are the layers' diff ids (sha256:<hex>), bottom first.
	Layers []string `json:"layers"`
	// Config is the image's runtime configuration (Entrypoint, Cmd, Env,
	// WorkingDir, User).
	Config v1.Config `json:"config"`
}

// NewStore returns a Store over cfg.Dir, removing what an interrupted
// unpack left in its staging directory.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Dir == "" {
		cfg.Dir = DefaultStoreDir
	}
	if cfg.Registry == "" {
		cfg.Registry = DefaultRegistry
	}
	if cfg.PullTimeout <= 0 {
		cfg.PullTimeout = 10 * time.Minute
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.RemoveAll(filepath.Join(cfg.Dir, "staging")); err != nil {
		return nil, fmt.Errorf("--docker_store_dir=%s: clear the staging directory: %w", cfg.Dir, err)
	}
	for _, d := range []string{"layers", "images", "staging"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("--docker_store_dir=%s: %w", cfg.Dir, err)
		}
	}
	return &Store{cfg: cfg, log: log, flights: map[string]*flight{}}, nil
}

// Unpacks counts the layers this store has unpacked since it was made.
func (s *Store) Unpacks() int64 { return s.unpacks.Load() }

// LayerPath is where the layer with diff id id (sha256:<hex>) is
// unpacked: <Dir>/layers/<hex>/rootfs.
func (s *Store) LayerPath(id string) string {
	return filepath.Join(s.cfg.Dir, "layers", strings.TrimPrefix(id, "sha256:"), "rootfs")
}

// imagePath is where an image's metadata is kept.
func (s *Store) imagePath(image string) string {
	return filepath.Join(s.cfg.Dir, "images", url.QueryEscape(image)+".json")
}

// Get returns the image named image (a Docker reference, e.g.
// "busybox", "busybox:1.36", "host:5000/team/app@sha256:..."), pulling it
// and unpacking its layers unless the store has them already.
// Concurrent calls for the same image, or images sharing layers, unpack
// each layer once.
func (s *Store) Get(ctx context.Context, image string) (*Image, error) {
	if _, err := name.ParseReference(image); err != nil {
		return nil, fmt.Errorf("invalid Docker image name %q: %w", image, err)
	}
	if img, err := s.cached(image); err == nil {
		return img, nil
	}
	return s.Pull(ctx, image)
}

// Pull pulls image even when the store has it (Mesos' Image.cached
// false), replacing what the store knows of it; layers it has already
// are not unpacked again.
func (s *Store) Pull(ctx context.Context, image string) (*Image, error) {
	if _, err := name.ParseReference(image); err != nil {
		return nil, fmt.Errorf("invalid Docker image name %q: %w", image, err)
	}
	// One pull per image at a time: the others wait for it and then
	// find it in the store.
	if err := s.once(ctx, "image "+image, func() error { return s.pull(ctx, image) }); err != nil {
		return nil, err
	}
	img, err := s.cached(image)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	return img, nil
}

// cached returns the stored image, when its metadata and every layer are
// in the store.
func (s *Store) cached(image string) (*Image, error) {
	b, err := os.ReadFile(s.imagePath(image))
	if err != nil {
		return nil, err
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("read the stored metadata: %w", err)
	}
	for _, l := range img.Layers {
		if _, err := os.Stat(s.LayerPath(l)); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
	}
	return &img, nil
}

// once runs fn unless a run for key is under way, in which case it waits
// for that one's outcome.
func (s *Store) once(ctx context.Context, key string, fn func() error) error {
	s.mu.Lock()
	if f, ok := s.flights[key]; ok {
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	s.flights[key] = f
	s.mu.Unlock()
	f.err = fn()
	s.mu.Lock()
	delete(s.flights, key)
	s.mu.Unlock()
	close(f.done)
	return f.err
}

// pull fetches image from the registry, unpacks its layers and records
// its metadata.
func (s *Store) pull(ctx context.Context, image string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PullTimeout)
	defer cancel()
	start := time.Now()
	src, err := s.open(ctx, image)
	if err != nil {
		return err
	}
	cf, err := src.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: read its configuration: %w", image, err)
	}
	layers, err := src.Layers()
	if err != nil {
		return fmt.Errorf("image %s: list its layers: %w", image, err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return fmt.Errorf("image %s: its manifest lists %d layers but its configuration %d", image, len(layers), len(cf.RootFS.DiffIDs))
	}
	img := &Image{Name: image, Config: cf.Config}
	for i, l := range layers {
		id := cf.RootFS.DiffIDs[i]
		if id.Algorithm != "sha256" || len(id.Hex) != 64 {
			return fmt.Errorf("image %s: layer %d has an unsupported diff id %s", image, i, id)
		}
		if err := s.layer(ctx, id, l); err != nil {
			return fmt.Errorf("image %s: layer %s: %w", image, id, err)
		}
		img.Layers = append(img.Layers, id.String())
	}
	b, err := json.Marshal(img)
	if err != nil {
		return fmt.Errorf("image %s: %w", image, err)
	}
	if err := writeFileAtomic(s.imagePath(image), b); err != nil {
		return fmt.Errorf("image %s: record it in the store: %w", image, err)
	}
	s.log.Info("image pulled", "image", image, "layers", len(img.Layers), "duration", time.Since(start))
	return nil
}

// open finds image at the registry: an archive or OCI layout in a
// local directory, or a registry over HTTP(S).
func (s *Store) open(ctx context.Context, image string) (v1.Image, error) {
	reg := s.cfg.Registry
	if strings.HasPrefix(reg, "http://") || strings.HasPrefix(reg, "https://") {
		return s.remote(ctx, image)
	}
	dir := strings.TrimPrefix(reg, "file://")
	tar := filepath.Join(dir, image+".tar")
	if _, err := os.Stat(tar); err == nil {
		img, err := tarball.ImageFromPath(tar, nil)
		if err != nil {
			// An archive of several images: take the one tagged so.
			if tag, terr := name.NewTag(image); terr == nil {
				if img2, err2 := tarball.ImageFromPath(tar, &tag); err2 == nil {
					return img2, nil
				}
			}
			return nil, fmt.Errorf("image %s: read the archive %s: %w", image, tar, err)
		}
		return img, nil
	}
	for _, l := range []string{filepath.Join(dir, image), dir} {
		if _, err := os.Stat(filepath.Join(l, "oci-layout")); err != nil {
			continue
		}
		img, err := fromLayout(layout.Path(l), image, l != dir)
		if err != nil {
			return nil, fmt.Errorf("image %s: OCI layout %s: %w", image, l, err)
		}
		if img != nil {
			return img, nil
		}
	}
	return nil, fmt.Errorf("image %s: not found under --docker_registry=%s (no archive %s, nor an OCI layout naming it)", image, reg, tar)
}

// fromLayout finds image in an OCI layout: by its
// org.opencontainers.image.ref.name annotation (the full name or its
// tag), or the only image of a layout made for this image (own). Nil
// when the layout does not hold it.
func fromLayout(p layout.Path, image string, own bool) (v1.Image, error) {
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	tag := ""
	if t, err := name.NewTag(image); err == nil {
		tag = t.TagStr()
	}
	for _, d := range m.Manifests {
		ref := d.Annotations["org.opencontainers.image.ref.name"]
		if ref == image || (ref != "" && ref == tag) || d.Annotations["io.containerd.image.name"] == image ||
			(own && len(m.Manifests) == 1) {
			return p.Image(d.Digest)
		}
	}
	return nil, nil
}

// remote opens image at the registry --docker_registry names (or the
// one its name names).
func (s *Store) remote(ctx context.Context, image string) (v1.Image, error) {
	u, err := url.Parse(s.cfg.Registry)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--docker_registry=%s: not a registry URL", s.cfg.Registry)
	}
	opts := []name.Option{name.WithDefaultRegistry(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(image, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid Docker image name %q: %w", image, err)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return nil, fmt.Errorf("image %s: pull from registry %s: %w", image, ref.Context().RegistryStr(), err)
	}
	return img, nil
}

// layer unpacks l, whose diff id is id, unless the store has it; one
// unpack per layer at a time.
func (s *Store) layer(ctx context.Context, id v1.Hash, l v1.Layer) error {
	dir := filepath.Dir(s.LayerPath(id.String()))
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	return s.once(ctx, "layer "+id.String(), func() error {
		if _, err := os.Stat(dir); err == nil {
			return nil // unpacked while we waited for the lock
		}
		return s.unpack(id, l, dir)
	})
}

// unpack extracts l into a staging directory, checks its content against
// its diff id and renames it to dir.
func (s *Store) unpack(id v1.Hash, l v1.Layer, dir string) error {
	start := time.Now()
	staging, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), id.Hex[:12]+"-")
	if err != nil {
		return fmt.Errorf("create a staging directory: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(staging)
		}
	}()
	rootfs := filepath.Join(staging, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("open the layer: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	r := io.TeeReader(rc, h)
	if err := Extract(r, rootfs); err != nil {
		return fmt.Errorf("unpack the layer (corrupt?): %w", err)
	}
	// The tar's end may be followed by padding that is part of the
	// digest.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("read the layer: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != id.Hex {
		return fmt.Errorf("the layer is corrupt: its content has digest sha256:%s", got)
	}
	if err := os.Rename(staging, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil
		}
		return fmt.Errorf("move the unpacked layer into place: %w", err)
	}
	ok = true
	s.unpacks.Add(1)
	s.log.Info("layer unpacked", "layer", id.String(), "duration", time.Since(start))
	return nil
}

// Images lists the images in the store.
func (s *Store) Images() ([]*Image, error) {
	ents, err := os.ReadDir(filepath.Join(s.cfg.Dir, "images"))
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.cfg.Dir, "images", e.Name()))
		if err != nil {
			return nil, err
		}
		var img Image
		if err := json.Unmarshal(b, &img); err != nil {
			s.log.Warn("unreadable image metadata; removing it", "file", e.Name(), "err", err)
			os.Remove(filepath.Join(s.cfg.Dir, "images", e.Name()))
			continue
		}
		out = append(out, &img)
	}
	return out, nil
}

// Prune removes the images that are neither in use (keepImages, by
// name) nor excluded (by reference, e.g. "busybox" matches
// "busybox:latest"), then every layer that no remaining image lists and
// that is not in keepLayers (the layers of live containers). It returns
// how many images and layers it removed. The caller keeps Get from
// running meanwhile.
func (s *Store) Prune(keepImages, keepLayers map[string]bool, excluded []string) (images, layers int, err error) {
	all, err := s.Images()
	if err != nil {
		return 0, 0, fmt.Errorf("list the stored images: %w", err)
	}
	ex := map[string]bool{}
	for _, e := range excluded {
		ex[canonical(e)] = true
	}
	keep := map[string]bool{}
	for l := range keepLayers {
		keep[strings.TrimPrefix(l, "sha256:")] = true
	}
	var errs []error
	for _, img := range all {
		if keepImages[img.Name] || ex[canonical(img.Name)] {
			for _, l := range img.Layers {
				keep[strings.TrimPrefix(l, "sha256:")] = true
			}
			continue
		}
		if err := os.Remove(s.imagePath(img.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		images++
	}
	ents, err := os.ReadDir(filepath.Join(s.cfg.Dir, "layers"))
	if err != nil {
		return images, 0, errors.Join(append(errs, err)...)
	}
	for _, e := range ents {
		if keep[e.Name()] {
			continue
		}
		// Renamed out of the way first, so that a layer is either whole
		// or gone.
		dir := filepath.Join(s.cfg.Dir, "layers", e.Name())
		trash, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "staging"), "gc-")
		if err == nil {
			err = os.Rename(dir, filepath.Join(trash, "layer"))
		}
		if err == nil {
			err = os.RemoveAll(trash)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove layer %s: %w", e.Name(), err))
			continue
		}
		layers++
	}
	return images, layers, errors.Join(errs...)
}

// canonical is an image reference's full form (index.docker.io/library/
// busybox:latest for busybox), or the name itself when it does not
// parse.
func canonical(image string) string {
	if ref, err := name.ParseReference(image); err == nil {
		return ref.Name()
	}
	return image
}

// writeFileAtomic writes b to path through a temporary file and a
// rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
