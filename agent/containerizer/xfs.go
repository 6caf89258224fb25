package containerizer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// XFSIsolatorName is the --isolation name of the disk/xfs isolator.
const XFSIsolatorName = "disk/xfs"

// DefaultXFSProjectRange is --xfs_project_range's default, as in Mesos.
const DefaultXFSProjectRange = "[5000-10000]"

// DefaultXFSQuotaHeadroom is --xfs_quota_headroom's default, as in Mesos.
const DefaultXFSQuotaHeadroom = 10 << 20

// XFSOptions configures NewXFSIsolator.
type XFSOptions struct {
	// ProjectRange is --xfs_project_range: the XFS project ids the
	// isolator gives sandboxes, as Mesos ranges (default
	// DefaultXFSProjectRange). 0 may not be in it: it means "no
	// project".
	ProjectRange string
	// Enforce is --enforce_container_disk_quota. Without it the project
	// quota only accounts (no limit is set) and Usage reports it; with
	// it a container's disk quota is the project's block limit.
	Enforce bool
	// KillContainers is --xfs_kill_containers (only with Enforce): the
	// block limit is the quota plus Headroom, the project's usage is
	// checked every WatchInterval and a container past its quota is
	// reported as limited (and so destroyed). Without it writes past the
	// quota fail with EDQUOT and the container lives on.
	KillContainers bool
	// Headroom is --xfs_quota_headroom in bytes (default
	// DefaultXFSQuotaHeadroom): how far past its quota a container may
	// write before the file system refuses, with KillContainers.
	Headroom uint64
	// WatchInterval is --container_disk_watch_interval (default
	// DefaultDiskWatchInterval): how often usage is checked with
	// KillContainers.
	WatchInterval time.Duration
	// Log receives the isolator's log lines; nil discards them.
	Log *slog.Logger
}

// NewXFSIsolator returns Mesos' disk/xfs isolator for the agent's work
// directory workDir, which must be on XFS mounted with project quotas
// (-o prjquota): otherwise it fails naming the file system and mount.
// It needs root and Linux 5.14 or later (quotactl_fd).
//
// Each container's sandbox gets a project id of its own from the range
// (set with FS_IOC_FSSETXATTR on the sandbox and everything in it, with
// the inherit flag on directories so that what is created later joins
// it). The project's block limit is the container's disk quota (its
// "disk" resources without DiskInfo; set with quotactl Q_XSETQLIM, and
// again on Update); Usage reports the project's usage (Q_XGETQUOTA) as
// disk_used_bytes and the quota as disk_limit_bytes. Cleanup clears the
// limit, takes the project id off whatever is left of the sandbox and
// frees the id. Persistent volumes are not given projects (they are
// measured by neither quota nor walk here): only the sandbox is.
func NewXFSIsolator(workDir string, opts XFSOptions) (Isolator, error) {
	if opts.ProjectRange == "" {
		opts.ProjectRange = DefaultXFSProjectRange
	}
	if opts.Headroom == 0 {
		opts.Headroom = DefaultXFSQuotaHeadroom
	}
	if opts.WatchInterval <= 0 {
		opts.WatchInterval = DefaultDiskWatchInterval
	}
	ids, err := parseProjectRange(opts.ProjectRange)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the disk/xfs isolator needs to run as root")
	}
	if err := checkProjectQuotas(workDir, opts.Enforce); err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.KillContainers && !opts.Enforce {
		// As Mesos: without enforcement the quota only accounts.
		log.Warn("--xfs_kill_containers has no effect without --enforce_container_disk_quota")
	}
	return &xfsIsolator{
		workDir: workDir, opts: opts, total: ids, free: ids,
		log:        log.With("isolator", XFSIsolatorName),
		containers: map[string]*xfsContainer{},
	}, nil
}

// parseProjectRange parses --xfs_project_range.
func parseProjectRange(s string) (resources.Ranges, error) {
	rs, err := resources.Parse("projects:"+s, "*")
	if err != nil {
		return nil, fmt.Errorf("--xfs_project_range=%s: %w", s, err)
	}
	ids := rs.RangesOf("projects")
	if len(ids) == 0 {
		return nil, fmt.Errorf("--xfs_project_range=%s: not a non-empty range of project ids such as %s", s, DefaultXFSProjectRange)
	}
	if ids.Includes(0) {
		return nil, fmt.Errorf("--xfs_project_range=%s: project id 0 is not a project", s)
	}
	if ids[len(ids)-1].End > 1<<32-1 {
		return nil, fmt.Errorf("--xfs_project_range=%s: project ids are 32-bit", s)
	}
	return ids, nil
}

// mountOf describes the mount holding path, from /proc/self/mountinfo:
// its mount point, source, file system type and options.
type mountOf struct {
	point, source, fstype, options string
}

func (m mountOf) String() string {
	return fmt.Sprintf("%s mounted at %s from %s with options %s", m.fstype, m.point, m.source, m.options)
}

// findMount returns the mount holding path (the deepest mount point above
// it with path's device).
func findMount(path string) (mountOf, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return mountOf{}, fmt.Errorf("stat %s: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return mountOf{}, fmt.Errorf("resolve %s: %w", path, err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountOf{}, fmt.Errorf("find the mount of %s: %w", path, err)
	}
	defer f.Close()
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	var best mountOf
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root point options [optional...] - fstype source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 6 || len(b) < 3 || a[2] != dev {
			continue
		}
		point := unescapeMount(a[4])
		if !strings.HasPrefix(real+"/", strings.TrimSuffix(point, "/")+"/") || len(point) < len(best.point) {
			continue
		}
		best = mountOf{point: point, source: unescapeMount(b[1]), fstype: b[0], options: a[5] + "," + b[2]}
	}
	if err := sc.Err(); err != nil {
		return mountOf{}, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	if best.point == "" {
		return mountOf{}, fmt.Errorf("no mount of device %s holds %s in /proc/self/mountinfo", dev, path)
	}
	return best, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkProjectQuotas checks that dir is on XFS with project quota
// accounting on, and turns enforcement on when enforce asks for it and
// it is off (as Mesos does at start).
func checkProjectQuotas(dir string, enforce bool) error {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return fmt.Errorf("disk/xfs: the work directory %s: %w", dir, err)
	}
	m, err := findMount(dir)
	if err != nil {
		return fmt.Errorf("disk/xfs: %w", err)
	}
	if sfs.Type != unix.XFS_SUPER_MAGIC {
		return fmt.Errorf("disk/xfs: the work directory %s is not on XFS: its file system is %s; "+
			"the disk/xfs isolator needs XFS mounted with project quotas (-o prjquota)", dir, m)
	}
	var stat xfsQuotaStatv
	stat.Version = fsQstatvVersion1
	err = quotactl(dir, qXgetqstatv, 0, unsafe.Pointer(&stat))
	switch {
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("disk/xfs: XFS quotas are not enabled on the work directory %s (%s; this kernel's XFS may lack "+
			"quota support, CONFIG_XFS_QUOTA): mount it with -o prjquota", dir, m)
	case err != nil:
		return fmt.Errorf("disk/xfs: get the quota status of %s (%s): %w", dir, m, err)
	case stat.Flags&fsQuotaPdqAcct == 0:
		return fmt.Errorf("disk/xfs: XFS project quotas are not enabled on the work directory %s (%s): "+
			"mount it with -o prjquota", dir, m)
	}
	if enforce && stat.Flags&fsQuotaPdqEnfd == 0 {
		flags := uint32(fsQuotaPdqEnfd)
		if err := quotactl(dir, qXquotaon, 0, unsafe.Pointer(&flags)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("disk/xfs: turn on project quota enforcement on %s (%s): %w", dir, m, err)
		}
	}
	return nil
}

// xfsIsolator is disk/xfs.
type xfsIsolator struct {
	workDir string
	opts    XFSOptions
	log     *slog.Logger
	total   resources.Ranges

	mu         sync.Mutex
	free       resources.Ranges
	containers map[string]*xfsContainer
}

// xfsContainer is a container's project.
type xfsContainer struct {
	sandbox string
	project uint32
	// quota is the disk quota in bytes, 0 for none.
	quota uint64
	// limitation, limited, cancel and done serve KillContainers.
	limitation chan Limitation
	limited    bool
	cancel     context.CancelFunc
	done       chan struct{}
}

func (x *xfsIsolator) Name() string { return XFSIsolatorName }

// take reserves project id, or the lowest free one when id is 0; ok is
// false when none is left (or id is taken).
func (x *xfsIsolator) take(id uint32) (uint32, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if id == 0 {
		if len(x.free) == 0 {
			return 0, false
		}
		id = uint32(x.free[0].Begin)
	}
	if !x.free.Includes(uint64(id)) {
		return 0, false
	}
	x.free = x.free.Subtract(resources.Ranges{{Begin: uint64(id), End: uint64(id)}})
	return id, true
}

// release returns id to the free ids.
func (x *xfsIsolator) release(id uint32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.total.Includes(uint64(id)) {
		x.free = x.free.Add(resources.Ranges{{Begin: uint64(id), End: uint64(id)}})
	}
}

// Recover takes back the projects of the recovered containers' sandboxes
// (or gives a sandbox without one a new one); their quotas come with the
// agent's next Update. The other sandboxes under the work directory
// that still carry a project of the range (their containers ended while
// no agent ran) lose it, so the id can serve again without sharing its
// accounting.
func (x *xfsIsolator) Recover(_ context.Context, states []RecoverState) error {
	var errs []error
	live := map[string]bool{}
	for _, s := range states {
		live[filepath.Clean(s.Directory)] = true
	}
	dead, err := filepath.Glob(filepath.Join(x.workDir, "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*"))
	if err != nil {
		return fmt.Errorf("disk/xfs: list the sandboxes under %s: %w", x.workDir, err)
	}
	for _, dir := range dead {
		if live[filepath.Clean(dir)] {
			continue
		}
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue // runs/latest is a link
		}
		id, err := projectID(dir)
		if err != nil || id == 0 || !x.total.Includes(uint64(id)) {
			continue
		}
		if err := setProjectID(dir, 0); err != nil {
			x.mu.Lock()
			x.free = x.free.Subtract(resources.Ranges{{Begin: uint64(id), End: uint64(id)}})
			x.mu.Unlock()
			errs = append(errs, fmt.Errorf("disk/xfs: take project %d off the ended sandbox %s (the id stays taken): %w", id, dir, err))
			continue
		}
		if err := setProjectLimits(x.workDir, id, 0, 0); err != nil {
			x.log.Warn("clearing the quota of an ended sandbox's project failed", "project", id, "err", err)
		}
	}
	for _, s := range states {
		id, err := projectID(s.Directory)
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", s.ID.GetValue(), err))
			continue
		}
		if err := x.add(s.ID, s.Directory, id, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Prepare gives the sandbox a project and sets its limit from cfg's
// disk resources.
func (x *xfsIsolator) Prepare(_ context.Context, id *mesos.ContainerID, cfg *Config, _ *launcher.Isolation) error {
	if cfg.Directory == "" {
		return fmt.Errorf("container %s has no sandbox directory", id.GetValue())
	}
	return x.add(id, cfg.Directory, 0, cfg.Resources)
}

// add registers a container with project id (0: a new one), sets the
// project on its sandbox and its quota.
func (x *xfsIsolator) add(cid *mesos.ContainerID, sandbox string, id uint32, res []*mesos.Resource) error {
	key := cid.GetValue()
	x.mu.Lock()
	_, dup := x.containers[key]
	x.mu.Unlock()
	if dup {
		return fmt.Errorf("container %s is already known to %s", key, XFSIsolatorName)
	}
	project, ok := x.take(id)
	if !ok && id != 0 {
		// A sandbox whose project is outside the range or taken: give it
		// one of ours.
		x.log.Warn("sandbox has a project id this isolator cannot take; assigning a new one",
			"container", key, "project", id)
		id = 0
		project, ok = x.take(0)
	}
	if !ok {
		return fmt.Errorf("container %s: no XFS project id left in --xfs_project_range=%s", key, x.opts.ProjectRange)
	}
	if id == 0 {
		if err := setProjectID(sandbox, project); err != nil {
			x.release(project)
			return fmt.Errorf("container %s: assign XFS project %d: %w", key, project, err)
		}
	}
	c := &xfsContainer{sandbox: sandbox, project: project, limitation: make(chan Limitation, 1), done: make(chan struct{})}
	if err := x.setQuota(c, sandboxDisk(res)); err != nil {
		x.release(project)
		return fmt.Errorf("container %s: %w", key, err)
	}
	x.log.Info("assigned XFS project", "container", key, "project", project, "sandbox", sandbox, "quota", FormatBytes(c.quota))
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	x.mu.Lock()
	x.containers[key] = c
	x.mu.Unlock()
	if x.opts.Enforce && x.opts.KillContainers {
		go x.watcher(ctx, key, c)
	} else {
		close(c.done)
	}
	return nil
}

// sandboxDisk is the sandbox's disk quota in bytes: the "disk" resources
// without DiskInfo (not volumes), as Mesos counts them.
func sandboxDisk(res []*mesos.Resource) uint64 {
	var mb float64
	for _, r := range res {
		if r.GetName() == "disk" && r.GetType() == mesos.Value_SCALAR && r.Disk == nil {
			mb += r.GetScalar().GetValue()
		}
	}
	return uint64(mb * (1 << 20))
}

// setQuota sets the project's limits for a disk quota of quota bytes (0:
// none): none without enforcement (accounting only), the quota as soft
// and hard limit, or with KillContainers the quota as soft limit and the
// quota plus headroom as hard limit.
func (x *xfsIsolator) setQuota(c *xfsContainer, quota uint64) error {
	var soft, hard uint64
	if x.opts.Enforce && quota > 0 {
		soft, hard = quota, quota
		if x.opts.KillContainers {
			hard += x.opts.Headroom
		}
	}
	if err := setProjectLimits(x.workDir, c.project, soft, hard); err != nil {
		return fmt.Errorf("set the quota of XFS project %d: %w", c.project, err)
	}
	x.mu.Lock()
	c.quota = quota
	x.mu.Unlock()
	return nil
}

func (x *xfsIsolator) get(id *mesos.ContainerID) *xfsContainer {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.containers[id.GetValue()]
}

// Isolate has nothing to do: the sandbox's project holds what the
// container writes there.
func (x *xfsIsolator) Isolate(_ context.Context, id *mesos.ContainerID, _ int) error {
	if x.get(id) == nil {
		return ErrUnknownContainer
	}
	return nil
}

// Watch returns the container's limitation channel with KillContainers,
// else nil: the file system itself refuses writes past the quota.
func (x *xfsIsolator) Watch(id *mesos.ContainerID) <-chan Limitation {
	if !x.opts.Enforce || !x.opts.KillContainers {
		return nil
	}
	if c := x.get(id); c != nil {
		return c.limitation
	}
	return nil
}

// Update sets the project's limit from the container's new disk
// resources (a container that holds none keeps its limit, as in Mesos).
func (x *xfsIsolator) Update(_ context.Context, id *mesos.ContainerID, res []*mesos.Resource, _ map[string]*mesos.Value_Scalar) error {
	c := x.get(id)
	if c == nil {
		x.log.Warn("ignoring the update of an unknown container", "container", id.GetValue())
		return nil
	}
	quota := sandboxDisk(res)
	if quota == 0 {
		return nil
	}
	return x.setQuota(c, quota)
}

// Usage reports the project's usage and the container's quota.
func (x *xfsIsolator) Usage(_ context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	c := x.get(id)
	if c == nil {
		return nil, ErrUnknownContainer
	}
	q, err := projectQuota(x.workDir, c.project)
	if err != nil {
		return nil, fmt.Errorf("usage of XFS project %d: %w", c.project, err)
	}
	x.mu.Lock()
	quota := c.quota
	x.mu.Unlock()
	s := &mesos.ResourceStatistics{DiskUsedBytes: proto.Uint64(q.used)}
	if quota > 0 {
		s.DiskLimitBytes = proto.Uint64(quota)
	}
	return s, nil
}

// Cleanup clears the project's limits, takes the project off what is
// left of the sandbox and frees the id. If the sandbox keeps the
// project (clearing failed), the id stays taken, so no other container
// shares its accounting.
func (x *xfsIsolator) Cleanup(_ context.Context, id *mesos.ContainerID) error {
	x.mu.Lock()
	c := x.containers[id.GetValue()]
	delete(x.containers, id.GetValue())
	x.mu.Unlock()
	if c == nil {
		return nil
	}
	c.cancel()
	<-c.done
	var errs []error
	if err := setProjectID(c.sandbox, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("take XFS project %d off %s: %w", c.project, c.sandbox, err))
	}
	if err := setProjectLimits(x.workDir, c.project, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("clear the quota of XFS project %d: %w", c.project, err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	x.release(c.project)
	return nil
}

// watcher checks the project's usage against the quota every interval
// (KillContainers) and reports the container once it is past it.
func (x *xfsIsolator) watcher(ctx context.Context, key string, c *xfsContainer) {
	defer close(c.done)
	t := time.NewTicker(x.opts.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q, err := projectQuota(x.workDir, c.project)
		if err != nil {
			x.log.Warn("checking disk usage failed", "container", key, "project", c.project, "err", err)
			continue
		}
		x.mu.Lock()
		quota := c.quota
		x.mu.Unlock()
		if quota == 0 || q.used <= quota {
			continue
		}
		msg := fmt.Sprintf("Disk usage (%s) exceeded quota (%s)", FormatBytes(q.used), FormatBytes(quota))
		x.log.Info("container exceeded its disk quota", "container", key, "message", msg)
		used := &mesos.Resource{Name: proto.String("disk"), Type: mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(float64(q.used >> 20))}}
		c.limitation <- Limitation{
			Resources: []*mesos.Resource{used},
			Reason:    mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK,
			Message:   msg,
		}
		return
	}
}

// ---- the kernel interfaces: FS_IOC_FS[GS]ETXATTR and quotactl_fd ----
//
// golang.org/x/sys/unix has neither these ioctls nor quotactl, so they
// are made here with the layouts of <linux/fs.h> and
// <linux/dqblk_xfs.h>.

const (
	fsIocFsgetxattr    = 0x801c581f // _IOR('X', 31, struct fsxattr)
	fsIocFssetxattr    = 0x401c5820 // _IOW('X', 32, struct fsxattr)
	fsXflagProjinherit = 0x200

	qXquotaon   = 'X'<<8 + 1
	qXgetquota  = 'X'<<8 + 3
	qXsetqlim   = 'X'<<8 + 4
	qXgetqstatv = 'X'<<8 + 8
	prjQuota    = 2 // PRJQUOTA

	fsDquotVersion   = 1
	fsQstatvVersion1 = 1
	fsProjQuota      = 1 << 1 // FS_PROJ_QUOTA
	fsDqBsoft        = 1 << 2
	fsDqBhard        = 1 << 3
	fsQuotaPdqAcct   = 1 << 4
	fsQuotaPdqEnfd   = 1 << 5
	basicBlock       = 512 // quota block counts are in 512-byte units
)

// fsxattr is struct fsxattr.
type fsxattr struct {
	Xflags, Extsize, Nextents, Projid, Cowextsize uint32
	Pad                                           [8]byte
}

// xfsDiskQuota is struct fs_disk_quota.
type xfsDiskQuota struct {
	Version                                  int8
	Flags                                    int8
	Fieldmask                                uint16
	ID                                       uint32
	BlkHardlimit, BlkSoftlimit               uint64
	InoHardlimit, InoSoftlimit               uint64
	Bcount, Icount                           uint64
	Itimer, Btimer                           int32
	Iwarns, Bwarns                           uint16
	ItimerHi, BtimerHi, RtbtimerHi, Padding2 int8
	RtbHardlimit, RtbSoftlimit, Rtbcount     uint64
	Rtbtimer                                 int32
	Rtbwarns                                 uint16
	Padding3                                 int16
	Padding4                                 [8]byte
}

// xfsQuotaStatv is struct fs_quota_statv, its head spelled out.
type xfsQuotaStatv struct {
	Version   int8
	Pad1      uint8
	Flags     uint16
	Incoredqs uint32
	Rest      [152]byte
}

// quotactl runs quotactl_fd(2) on the file system holding path with
// cmd for project quotas.
func quotactl(path string, cmd int, id uint32, addr unsafe.Pointer) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	qcmd := uintptr(cmd<<8 | prjQuota&0xff)
	if _, _, e := unix.Syscall6(unix.SYS_QUOTACTL_FD, uintptr(fd), qcmd, uintptr(id), uintptr(addr), 0, 0); e != 0 {
		return e
	}
	return nil
}

// projectUsage is a project's quota and usage in bytes.
type projectUsage struct {
	soft, hard, used uint64
}

// projectQuota reads project id's limits and usage (Q_XGETQUOTA).
func projectQuota(path string, id uint32) (projectUsage, error) {
	q := xfsDiskQuota{Version: fsDquotVersion, Flags: fsProjQuota, ID: id}
	if err := quotactl(path, qXgetquota, id, unsafe.Pointer(&q)); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return projectUsage{}, nil // no record yet: nothing used
		}
		return projectUsage{}, fmt.Errorf("quotactl Q_XGETQUOTA: %w", err)
	}
	return projectUsage{soft: q.BlkSoftlimit * basicBlock, hard: q.BlkHardlimit * basicBlock, used: q.Bcount * basicBlock}, nil
}

// setProjectLimits sets project id's block limits in bytes (0, 0 clears
// them) with Q_XSETQLIM.
func setProjectLimits(path string, id uint32, soft, hard uint64) error {
	blocks := func(b uint64) uint64 { return (b + basicBlock - 1) / basicBlock }
	q := xfsDiskQuota{
		Version: fsDquotVersion, Flags: fsProjQuota, ID: id, Fieldmask: fsDqBsoft | fsDqBhard,
		BlkSoftlimit: blocks(soft), BlkHardlimit: blocks(hard),
	}
	if err := quotactl(path, qXsetqlim, id, unsafe.Pointer(&q)); err != nil {
		return fmt.Errorf("quotactl Q_XSETQLIM: %w", err)
	}
	return nil
}

// ioctlFsxattr runs FS_IOC_FSGETXATTR or FS_IOC_FSSETXATTR on fd.
func ioctlFsxattr(fd int, req uintptr, a *fsxattr) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(a))); e != 0 {
		return e
	}
	return nil
}

// openNoFollow opens path (a directory or regular file) for the
// attribute ioctls.
func openNoFollow(path string, dir bool) (int, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	if dir {
		flags |= unix.O_DIRECTORY
	}
	return unix.Open(path, flags, 0)
}

// projectID reads dir's project id (0 for none).
func projectID(dir string) (uint32, error) {
	fd, err := openNoFollow(dir, true)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var a fsxattr
	if err := ioctlFsxattr(fd, fsIocFsgetxattr, &a); err != nil {
		return 0, fmt.Errorf("FS_IOC_FSGETXATTR %s: %w", dir, err)
	}
	return a.Projid, nil
}

// setProjectID gives dir and every directory and regular file under it
// (on its file system, links not followed) project id, with the inherit
// flag on directories; id 0 takes the project off and clears the flag.
func setProjectID(dir string, id uint32) error {
	var root unix.Stat_t
	if err := unix.Lstat(dir, &root); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if root.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		if !e.IsDir() && !e.Type().IsRegular() {
			return nil
		}
		fd, err := openNoFollow(path, e.IsDir())
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		if st.Dev != root.Dev {
			// Another file system mounted in the sandbox: not ours.
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		var a fsxattr
		if err := ioctlFsxattr(fd, fsIocFsgetxattr, &a); err != nil {
			return fmt.Errorf("FS_IOC_FSGETXATTR %s: %w", path, err)
		}
		a.Projid = id
		if id != 0 && e.IsDir() {
			a.Xflags |= fsXflagProjinherit
		} else {
			a.Xflags &^= fsXflagProjinherit
		}
		if err := ioctlFsxattr(fd, fsIocFssetxattr, &a); err != nil {
			return fmt.Errorf("FS_IOC_FSSETXATTR %s: %w", path, err)
		}
		return nil
	})
}
