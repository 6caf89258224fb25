package containerizer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// The kernel structures are laid out as <linux/fs.h> and
// <linux/dqblk_xfs.h> have them.
func TestXFSKernelLayouts(t *testing.T) {
	if n := unsafe.Sizeof(fsxattr{}); n != 28 {
		t.Errorf("struct fsxattr is %d bytes, want 28", n)
	}
	if n := unsafe.Sizeof(xfsDiskQuota{}); n != 112 {
		t.Errorf("struct fs_disk_quota is %d bytes, want 112", n)
	}
	if n := unsafe.Offsetof(xfsDiskQuota{}.Bcount); n != 40 {
		t.Errorf("fs_disk_quota.d_bcount at %d, want 40", n)
	}
	if n := unsafe.Sizeof(xfsQuotaStatv{}); n != 160 {
		t.Errorf("struct fs_quota_statv is %d bytes, want 160", n)
	}
}

// --xfs_project_range parses as Mesos ranges without project 0.
func TestParseProjectRange(t *testing.T) {
	ids, err := parseProjectRange(DefaultXFSProjectRange)
	if err != nil || ids.Count() != 5001 || !ids.Includes(5000) || !ids.Includes(10000) {
		t.Fatalf("default range: %v, %v", ids, err)
	}
	if ids, err := parseProjectRange("[1-2,10-10]"); err != nil || ids.Count() != 3 {
		t.Errorf("two ranges: %v, %v", ids, err)
	}
	for _, bad := range []string{"[0-10]", "5000", "[x-y]", "[1-4294967296]"} {
		if _, err := parseProjectRange(bad); err == nil {
			t.Errorf("--xfs_project_range=%s accepted", bad)
		}
	}
}

// On a file system other than XFS the isolator refuses to start, naming
// the file system type and its mount.
func TestXFSIsolatorRefusesOtherFileSystems(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the disk/xfs isolator needs root")
	}
	dir := t.TempDir()
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Type == unix.XFS_SUPER_MAGIC {
		t.Skip("the temporary directory is on XFS")
	}
	m, err := findMount(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewXFSIsolator(dir, XFSOptions{})
	if err == nil {
		t.Fatal("disk/xfs started on a file system that is not XFS")
	}
	for _, want := range []string{"is not on XFS", m.fstype + " mounted at " + m.point, "prjquota"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	t.Log(err)
}

// xfsMount makes a 300 MB XFS image, mounts it on a loop device with
// options (e.g. "prjquota") and returns the mount point; the test's
// cleanup unmounts it. It skips the test, naming what is missing, when
// that cannot be done here; mount's failure is returned for the caller
// to judge.
func xfsMount(t *testing.T, options string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting an XFS image needs root")
	}
	if _, err := exec.LookPath("mkfs.xfs"); err != nil {
		t.Skip("mkfs.xfs is not installed (Debian package xfsprogs)")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no loop devices (/dev/loop-control) to mount an XFS image on")
	}
	dir := t.TempDir()
	image, mnt := filepath.Join(dir, "xfs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 300<<20); err != nil {
		if f, cerr := os.Create(image); cerr == nil {
			f.Close()
			err = os.Truncate(image, 300<<20)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("mkfs.xfs", "-q", image).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v: %s", err, out)
	}
	opts := "loop"
	if options != "" {
		opts += "," + options
	}
	if out, err := exec.Command("mount", "-t", "xfs", "-o", opts, image, mnt).CombinedOutput(); err != nil {
		return "", errors.New(strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt, nil
}

// xfsQuotaMount mounts an XFS image with project quotas, or skips the
// test naming why the kernel refused.
func xfsQuotaMount(t *testing.T) string {
	t.Helper()
	mnt, err := xfsMount(t, "prjquota")
	if err != nil {
		t.Skipf("this kernel will not mount XFS with project quotas (%v); its XFS lacks quota support (CONFIG_XFS_QUOTA)", err)
	}
	return mnt
}

// On XFS mounted without project quotas the isolator refuses to start,
// naming the mount.
func TestXFSIsolatorRefusesXFSWithoutProjectQuotas(t *testing.T) {
	mnt, err := xfsMount(t, "")
	if err != nil {
		t.Fatalf("mount XFS: %v", err)
	}
	_, err = NewXFSIsolator(mnt, XFSOptions{})
	if err == nil {
		t.Fatal("disk/xfs started on XFS without project quotas")
	}
	for _, want := range []string{"quotas are not enabled", "xfs mounted at " + mnt, "prjquota"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	t.Log(err)
}

// Project ids go on a sandbox tree through FS_IOC_FSSETXATTR on a real
// XFS: every directory and file gets the id, directories the inherit
// flag (so what is created later joins the project), and id 0 takes it
// all off again.
func TestXFSSetProjectID(t *testing.T) {
	mnt, err := xfsMount(t, "")
	if err != nil {
		t.Fatalf("mount XFS: %v", err)
	}
	sandbox := filepath.Join(mnt, "sandbox")
	if err := os.MkdirAll(filepath.Join(sandbox, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(sandbox, "link")); err != nil {
		t.Fatal(err)
	}
	fileID := func(path string) uint32 {
		t.Helper()
		fd, err := openNoFollow(path, false)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		var a fsxattr
		if err := ioctlFsxattr(fd, fsIocFsgetxattr, &a); err != nil {
			t.Fatal(err)
		}
		return a.Projid
	}
	if err := setProjectID(sandbox, 5001); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{sandbox, filepath.Join(sandbox, "sub")} {
		if id, err := projectID(dir); err != nil || id != 5001 {
			t.Errorf("%s: project %d, %v; want 5001", dir, id, err)
		}
	}
	if id := fileID(filepath.Join(sandbox, "sub", "f")); id != 5001 {
		t.Errorf("file: project %d, want 5001", id)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "sub", "new"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if id := fileID(filepath.Join(sandbox, "sub", "new")); id != 5001 {
		t.Errorf("a file created later: project %d, want 5001 (inherited)", id)
	}
	if err := setProjectID(sandbox, 0); err != nil {
		t.Fatal(err)
	}
	if id, err := projectID(filepath.Join(sandbox, "sub")); err != nil || id != 0 {
		t.Errorf("after clearing: project %d, %v", id, err)
	}
	if id := fileID(filepath.Join(sandbox, "sub", "new")); id != 0 {
		t.Errorf("after clearing: file project %d", id)
	}
	if err := setProjectID(filepath.Join(sandbox, "missing"), 1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

// xfsPrepare prepares a container with res in a new sandbox under mnt.
func xfsPrepare(t *testing.T, iso Isolator, mnt, name string, res ...*mesos.Resource) (*mesos.ContainerID, string) {
	t.Helper()
	id := &mesos.ContainerID{Value: proto.String(name)}
	sandbox := filepath.Join(mnt, name)
	if err := os.Mkdir(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := iso.Prepare(context.Background(), id, &Config{Directory: sandbox, Resources: res}, nil); err != nil {
		t.Fatal(err)
	}
	return id, sandbox
}

// With enforcement, a sandbox's project has its disk quota as hard
// limit: a write past it fails with EDQUOT, Usage reports the project's
// usage and the quota, Update raises the limit, and Cleanup frees the
// project id for the next container.
func TestXFSIsolatorEnforcesQuota(t *testing.T) {
	mnt := xfsQuotaMount(t)
	iso, err := NewXFSIsolator(mnt, XFSOptions{Enforce: true, ProjectRange: "[7000-7001]"})
	if err != nil {
		t.Fatal(err)
	}
	id, sandbox := xfsPrepare(t, iso, mnt, "c1", scalar("disk", 1))
	if p, err := projectID(sandbox); err != nil || p != 7000 {
		t.Fatalf("sandbox project %d, %v; want 7000", p, err)
	}
	if iso.Watch(id) != nil {
		t.Error("Watch is not nil without --xfs_kill_containers")
	}
	b := make([]byte, 3<<20)
	f, err := os.Create(filepath.Join(sandbox, "data"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if !errors.Is(err, unix.EDQUOT) {
		t.Fatalf("writing 3 MB under a 1 MB quota: %v, want EDQUOT", err)
	}
	s, err := iso.Usage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.GetDiskLimitBytes() != 1<<20 || s.GetDiskUsedBytes() == 0 || s.GetDiskUsedBytes() > 1<<20 {
		t.Errorf("usage %d, limit %d", s.GetDiskUsedBytes(), s.GetDiskLimitBytes())
	}
	if err := iso.Update(context.Background(), id, []*mesos.Resource{scalar("disk", 8)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "data"), b, 0o644); err != nil {
		t.Fatalf("writing 3 MB under a raised 8 MB quota: %v", err)
	}
	if err := iso.Cleanup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if p, err := projectID(sandbox); err != nil || p != 0 {
		t.Errorf("after cleanup the sandbox has project %d, %v", p, err)
	}
	id2, sandbox2 := xfsPrepare(t, iso, mnt, "c2", scalar("disk", 1))
	if p, err := projectID(sandbox2); err != nil || p != 7000 {
		t.Errorf("the next sandbox got project %d, %v; want the freed 7000", p, err)
	}
	if err := iso.Cleanup(context.Background(), id2); err != nil {
		t.Fatal(err)
	}
}

// With --xfs_kill_containers the limit leaves headroom, and a container
// past its quota is reported as limited within the watch interval.
func TestXFSIsolatorKillsContainers(t *testing.T) {
	mnt := xfsQuotaMount(t)
	iso, err := NewXFSIsolator(mnt, XFSOptions{Enforce: true, KillContainers: true, WatchInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	id, sandbox := xfsPrepare(t, iso, mnt, "c1", scalar("disk", 1))
	t.Cleanup(func() { iso.Cleanup(context.Background(), id) })
	ch := iso.Watch(id)
	if ch == nil {
		t.Fatal("Watch is nil with --xfs_kill_containers")
	}
	if err := os.WriteFile(filepath.Join(sandbox, "data"), make([]byte, 3<<20), 0o644); err != nil {
		t.Fatalf("writing 3 MB within the headroom: %v", err)
	}
	select {
	case l := <-ch:
		if l.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK || !strings.HasPrefix(l.Message, "Disk usage (") ||
			!strings.HasSuffix(l.Message, ") exceeded quota (1MB)") {
			t.Errorf("limitation %v %q", l.Reason, l.Message)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no limitation for a sandbox past its quota")
	}
}
