package containerizer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// DiskIsolatorName is the --isolation name of the disk/du isolator;
// DiskIsolatorAlias is the older name Mesos still accepts for it.
const (
	DiskIsolatorName  = "disk/du"
	DiskIsolatorAlias = "posix/disk"
)

// DefaultDiskWatchInterval is --container_disk_watch_interval's default.
const DefaultDiskWatchInterval = 15 * time.Second

// DiskOptions configures NewDiskIsolator.
type DiskOptions struct {
	// Name is the --isolation name the isolator answers to:
	// DiskIsolatorName (the default) or DiskIsolatorAlias.
	Name string
	// Enforce is --enforce_container_disk_quota: a container whose
	// measured usage exceeds its disk quota is reported as limited (and
	// so destroyed). Without it usage is only measured and reported.
	Enforce bool
	// WatchInterval is --container_disk_watch_interval: the pause
	// between the end of one measurement of a container and the start of
	// the next (default DefaultDiskWatchInterval).
	WatchInterval time.Duration
	// Log receives the isolator's log lines; nil discards them.
	Log *slog.Logger
}

// NewDiskIsolator returns Mesos' disk/du isolator (alias posix/disk). It
// measures, by walking the file tree as `du -k -s` does, the disk a
// container uses: its sandbox, and each persistent volume it holds
// apart (a volume's path is its container_path under the sandbox, the
// link the agent makes there, followed; the sandbox's measure leaves
// volumes out). Only paths that disk resources are held for are
// measured: a container with no disk resource costs nothing.
//
// Each container is measured once per WatchInterval, from the end of
// the previous measurement, so a slow walk never overlaps the next one;
// walks of different containers are serialised too (one walk at a time
// for the whole isolator), so the I/O is bounded whatever the number of
// containers. (Mesos runs one du at a time with the interval between
// any two, so each container waits for all the others; here each
// container keeps its own interval.)
//
// Usage reports the last measure: disk_used_bytes and disk_limit_bytes
// for the sandbox, and a DiskStatistics per measured path with its
// limit, usage, and the volume's persistence and source. With Enforce,
// a path whose usage exceeds its quota makes Watch report a limitation
// with REASON_CONTAINER_LIMITATION_DISK and the path's disk resources;
// a volume on a MOUNT disk is not enforced (its file system is its
// limit), as in Mesos.
func NewDiskIsolator(opts DiskOptions) Isolator {
	if opts.Name == "" {
		opts.Name = DiskIsolatorName
	}
	if opts.WatchInterval <= 0 {
		opts.WatchInterval = DefaultDiskWatchInterval
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &diskIsolator{
		name: opts.Name, enforce: opts.Enforce, interval: opts.WatchInterval,
		log:        log.With("isolator", opts.Name),
		walking:    make(chan struct{}, 1),
		containers: map[string]*diskContainer{},
	}
}

// diskIsolator is disk/du.
type diskIsolator struct {
	name     string
	enforce  bool
	interval time.Duration
	log      *slog.Logger
	// walking holds a token while a walk runs: one at a time.
	walking chan struct{}

	mu         sync.Mutex
	containers map[string]*diskContainer
}

// diskContainer is one measured container. Its paths change under
// diskIsolator.mu; its watcher goroutine runs until cancel.
type diskContainer struct {
	sandbox string
	paths   map[string]*diskPath
	// limitation carries at most one limitation (limited once sent).
	limitation chan Limitation
	limited    bool
	// wake asks the watcher to measure now (a path was added).
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// diskPath is a measured path: the sandbox or a persistent volume.
type diskPath struct {
	// quota are the disk resources held for the path; limit their total
	// in bytes.
	quota []*mesos.Resource
	limit uint64
	// volume: a persistent volume (measured apart from the sandbox);
	// mount: on a MOUNT disk, whose size its file system enforces.
	volume, mount bool
	// used is the last measure, valid once measured.
	used     uint64
	measured bool
}

func (d *diskIsolator) Name() string { return d.name }

// Recover starts measuring the recovered containers' sandboxes; their
// quotas come with the agent's next Update.
func (d *diskIsolator) Recover(_ context.Context, states []RecoverState) error {
	for _, s := range states {
		if err := d.add(s.ID, s.Directory, nil); err != nil {
			return err
		}
	}
	return nil
}

// Prepare starts measuring the container with cfg's disk resources as
// its quota.
func (d *diskIsolator) Prepare(_ context.Context, id *mesos.ContainerID, cfg *Config, _ *launcher.Isolation) error {
	if cfg.Directory == "" {
		return fmt.Errorf("container %s has no sandbox directory to measure", id.GetValue())
	}
	return d.add(id, cfg.Directory, cfg.Resources)
}

// add registers a container and starts its watcher.
func (d *diskIsolator) add(id *mesos.ContainerID, sandbox string, res []*mesos.Resource) error {
	ctx, cancel := context.WithCancel(context.Background())
	c := &diskContainer{
		sandbox:    filepath.Clean(sandbox),
		limitation: make(chan Limitation, 1),
		wake:       make(chan struct{}, 1),
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	c.paths = diskQuotas(c.sandbox, res, nil)
	d.mu.Lock()
	if _, ok := d.containers[id.GetValue()]; ok {
		d.mu.Unlock()
		cancel()
		return fmt.Errorf("container %s is already known to %s", id.GetValue(), d.name)
	}
	d.containers[id.GetValue()] = c
	d.mu.Unlock()
	go d.watcher(ctx, id.GetValue(), c)
	return nil
}

// diskQuotas groups the disk resources of res by the path they are for:
// the sandbox for plain disk, the volume's path for a persistent volume.
// Measures already taken (old) are kept for the paths that stay.
func diskQuotas(sandbox string, res []*mesos.Resource, old map[string]*diskPath) map[string]*diskPath {
	paths := map[string]*diskPath{}
	for _, r := range res {
		if r.GetName() != "disk" || r.GetType() != mesos.Value_SCALAR {
			continue
		}
		path, volume := sandbox, false
		if v := r.GetDisk().GetVolume(); v != nil {
			path, volume = v.GetContainerPath(), true
			if !filepath.IsAbs(path) {
				path = filepath.Join(sandbox, path)
			}
			path = filepath.Clean(path)
		}
		p := paths[path]
		if p == nil {
			p = &diskPath{volume: volume}
			if o := old[path]; o != nil {
				p.used, p.measured = o.used, o.measured
			}
			paths[path] = p
		}
		p.quota = append(p.quota, r)
		p.limit += uint64(r.GetScalar().GetValue() * (1 << 20))
		if r.GetDisk().GetSource().GetType() == mesos.Resource_DiskInfo_Source_MOUNT {
			p.mount = true
		}
	}
	return paths
}

// Isolate has nothing to do: the sandbox is measured, not the process.
func (d *diskIsolator) Isolate(_ context.Context, id *mesos.ContainerID, _ int) error {
	if d.get(id) == nil {
		return ErrUnknownContainer
	}
	return nil
}

// Watch returns the container's limitation channel; nil without
// enforcement.
func (d *diskIsolator) Watch(id *mesos.ContainerID) <-chan Limitation {
	if !d.enforce {
		return nil
	}
	if c := d.get(id); c != nil {
		return c.limitation
	}
	return nil
}

// Update replaces the container's quotas with its new disk resources;
// a path that gained a quota is measured at once.
func (d *diskIsolator) Update(_ context.Context, id *mesos.ContainerID, res []*mesos.Resource, _ map[string]*mesos.Value_Scalar) error {
	d.mu.Lock()
	c := d.containers[id.GetValue()]
	if c == nil {
		d.mu.Unlock()
		d.log.Warn("ignoring the update of an unknown container", "container", id.GetValue())
		return nil
	}
	paths := diskQuotas(c.sandbox, res, c.paths)
	added := false
	for path := range paths {
		if c.paths[path] == nil {
			added = true
		}
	}
	c.paths = paths
	d.mu.Unlock()
	if added {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Usage reports the container's last measures.
func (d *diskIsolator) Usage(_ context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.containers[id.GetValue()]
	if c == nil {
		return nil, ErrUnknownContainer
	}
	s := &mesos.ResourceStatistics{}
	for _, path := range slices.Sorted(maps.Keys(c.paths)) {
		p := c.paths[path]
		// Copies: the watcher changes p after the lock is released.
		ds := &mesos.DiskStatistics{LimitBytes: proto.Uint64(p.limit)}
		if p.measured {
			ds.UsedBytes = proto.Uint64(p.used)
		}
		if p.volume {
			if src := p.quota[0].GetDisk().GetSource(); src != nil {
				ds.Source = proto.CloneOf(src)
			}
			if per := p.quota[0].GetDisk().GetPersistence(); per != nil {
				ds.Persistence = proto.CloneOf(per)
			}
		} else {
			s.DiskLimitBytes = proto.Uint64(p.limit)
			if p.measured {
				s.DiskUsedBytes = proto.Uint64(p.used)
			}
		}
		s.DiskStatistics = append(s.DiskStatistics, ds)
	}
	return s, nil
}

// Cleanup stops measuring the container and forgets it.
func (d *diskIsolator) Cleanup(_ context.Context, id *mesos.ContainerID) error {
	d.mu.Lock()
	c := d.containers[id.GetValue()]
	delete(d.containers, id.GetValue())
	d.mu.Unlock()
	if c != nil {
		c.cancel()
		<-c.done
	}
	return nil
}

func (d *diskIsolator) get(id *mesos.ContainerID) *diskContainer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.containers[id.GetValue()]
}

// watcher measures the container's paths, then waits an interval (or a
// wake), until ctx ends.
func (d *diskIsolator) watcher(ctx context.Context, id string, c *diskContainer) {
	defer close(c.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-c.wake:
			timer.Stop()
		}
		d.measure(ctx, id, c)
		timer.Reset(d.interval)
	}
}

// measure walks each of the container's paths once and checks it
// against its quota.
func (d *diskIsolator) measure(ctx context.Context, id string, c *diskContainer) {
	d.mu.Lock()
	var paths, volumes []string
	for path, p := range c.paths {
		paths = append(paths, path)
		if p.volume {
			volumes = append(volumes, path)
		}
	}
	d.mu.Unlock()
	slices.Sort(paths)
	for _, path := range paths {
		var exclude []string
		if path == c.sandbox {
			exclude = volumes
		}
		select {
		case d.walking <- struct{}{}:
		case <-ctx.Done():
			return
		}
		used, err := DiskUsage(ctx, path, exclude)
		<-d.walking
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("checking disk usage failed", "container", id, "path", path, "err", err)
			}
			continue
		}
		d.mu.Lock()
		p := c.paths[path]
		if p != nil {
			p.used, p.measured = used, true
			if d.enforce && !p.mount && used > p.limit && !c.limited {
				c.limited = true
				msg := fmt.Sprintf("Disk usage (%s) exceeds quota (%s)", FormatBytes(used), FormatBytes(p.limit))
				d.log.Info("container exceeds its disk quota", "container", id, "path", path, "message", msg)
				c.limitation <- Limitation{
					Resources: slices.Clone(p.quota),
					Reason:    mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK,
					Message:   msg,
				}
			}
		}
		d.mu.Unlock()
	}
}

// DiskUsage is what `du -k -s` reports for root, in bytes: the blocks
// allocated to root and everything under it (each file with several
// links counted once), without following symbolic links below root
// (root itself, when a link, is followed), leaving out the paths in
// exclude and what is under them. Files that vanish during the walk are
// skipped; it stops with ctx's error when ctx ends.
func DiskUsage(ctx context.Context, root string, exclude []string) (uint64, error) {
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return 0, fmt.Errorf("measure disk usage of %s: %w", root, err)
	}
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[filepath.Clean(e)] = true
	}
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total uint64
	entries := 0
	err = filepath.WalkDir(resolved, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != resolved {
				return nil
			}
			return err
		}
		if entries++; entries%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		// Excluded paths are named under root as given, not resolved.
		if path != resolved && skip[filepath.Join(root, path[len(resolved):])] {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat information", path)
		}
		if st.Nlink > 1 && !info.IsDir() {
			key := inode{uint64(st.Dev), st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += uint64(st.Blocks) * 512
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure disk usage of %s: %w", root, err)
	}
	return total, nil
}

// FormatBytes words a byte count as Mesos does (stout's Bytes): in the
// largest unit of B, KB, MB, GB and TB (powers of 1024) that loses no
// information, e.g. "0B", "1536B", "3MB", "1025KB".
func FormatBytes(b uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for b != 0 && b%1024 == 0 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%d%s", b, units[i])
}
