package containerizer

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// diskWrite writes n bytes of random data (allocated, not sparse) to
// path.
func diskWrite(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// diskVolume is a persistent volume of mb megabytes at containerPath.
func diskVolume(id, containerPath string, mb float64) *mesos.Resource {
	r := scalar("disk", mb)
	r.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume:      &mesos.Volume{ContainerPath: proto.String(containerPath), Mode: mesos.Volume_RW.Enum()},
	}
	return r
}

// diskSoon polls cond with a growing pause until it holds; the test
// fails after 10 s.
func diskSoon(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// diskPrepared returns a disk isolator with a container prepared in a
// fresh sandbox with res; the test's cleanup cleans it up.
func diskPrepared(t *testing.T, opts DiskOptions, res ...*mesos.Resource) (Isolator, *mesos.ContainerID, string) {
	t.Helper()
	iso := NewDiskIsolator(opts)
	id := &mesos.ContainerID{Value: proto.String("disk-" + t.Name())}
	sandbox := t.TempDir()
	if err := iso.Prepare(context.Background(), id, &Config{Directory: sandbox, Resources: res}, nil); err != nil {
		t.Fatal(err)
	}
	if err := iso.Isolate(context.Background(), id, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := iso.Cleanup(context.Background(), id); err != nil {
			t.Error(err)
		}
	})
	return iso, id, sandbox
}

// diskUsed waits until Usage reports at least min bytes used in the
// sandbox and returns the statistics.
func diskUsed(t *testing.T, iso Isolator, id *mesos.ContainerID, min uint64) *mesos.ResourceStatistics {
	t.Helper()
	var s *mesos.ResourceStatistics
	diskSoon(t, "disk usage to be measured", func() bool {
		var err error
		s, err = iso.Usage(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return s.DiskUsedBytes != nil && s.GetDiskUsedBytes() >= min
	})
	return s
}

var diskMessage = regexp.MustCompile(`^Disk usage \(\d+(B|KB|MB)\) exceeds quota \(1MB\)$`)

// With enforcement, a sandbox written past its disk quota is reported
// as limited within the watch interval, with the disk reason, Mesos'
// message and the disk resources.
func TestDiskIsolatorEnforcesQuota(t *testing.T) {
	iso, id, sandbox := diskPrepared(t, DiskOptions{Enforce: true, WatchInterval: 50 * time.Millisecond},
		scalar("cpus", 1), scalar("disk", 1))
	if iso.Name() != "disk/du" {
		t.Errorf("name %q", iso.Name())
	}
	ch := iso.Watch(id)
	if ch == nil {
		t.Fatal("Watch is nil with enforcement")
	}
	diskWrite(t, filepath.Join(sandbox, "data"), 3<<20)
	select {
	case l := <-ch:
		if l.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK || !diskMessage.MatchString(l.Message) {
			t.Errorf("limitation %v %q", l.Reason, l.Message)
		}
		if len(l.Resources) != 1 || l.Resources[0].GetName() != "disk" || l.Resources[0].GetScalar().GetValue() != 1 {
			t.Errorf("limitation resources %v", l.Resources)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no limitation for a sandbox three times its quota")
	}
	s := diskUsed(t, iso, id, 3<<20)
	if s.GetDiskLimitBytes() != 1<<20 {
		t.Errorf("disk_limit_bytes %d, want %d", s.GetDiskLimitBytes(), 1<<20)
	}
}

// Without enforcement the usage is measured and reported, and nothing
// is limited.
func TestDiskIsolatorMeasuresWithoutEnforcing(t *testing.T) {
	iso, id, sandbox := diskPrepared(t, DiskOptions{Name: DiskIsolatorAlias, WatchInterval: 50 * time.Millisecond},
		scalar("disk", 1))
	if iso.Name() != "posix/disk" {
		t.Errorf("name %q", iso.Name())
	}
	if iso.Watch(id) != nil {
		t.Error("Watch is not nil without enforcement")
	}
	diskWrite(t, filepath.Join(sandbox, "data"), 3<<20)
	s := diskUsed(t, iso, id, 3<<20)
	if s.GetDiskUsedBytes() > 4<<20 || s.GetDiskLimitBytes() != 1<<20 {
		t.Errorf("disk_used_bytes %d disk_limit_bytes %d", s.GetDiskUsedBytes(), s.GetDiskLimitBytes())
	}
	if len(s.DiskStatistics) != 1 || s.DiskStatistics[0].GetUsedBytes() != s.GetDiskUsedBytes() ||
		s.DiskStatistics[0].GetLimitBytes() != 1<<20 {
		t.Errorf("disk_statistics %v", s.DiskStatistics)
	}
}

// Update changes the quota: raised, the usage past the old quota is not
// a limitation; lowered below the usage, it is.
func TestDiskIsolatorUpdateQuota(t *testing.T) {
	iso, id, sandbox := diskPrepared(t, DiskOptions{Enforce: true, WatchInterval: 50 * time.Millisecond},
		scalar("disk", 1))
	ch := iso.Watch(id)
	if err := iso.Update(context.Background(), id, []*mesos.Resource{scalar("disk", 10)}, nil); err != nil {
		t.Fatal(err)
	}
	diskWrite(t, filepath.Join(sandbox, "data"), 3<<20)
	s := diskUsed(t, iso, id, 3<<20)
	if s.GetDiskLimitBytes() != 10<<20 {
		t.Errorf("disk_limit_bytes %d after the update, want %d", s.GetDiskLimitBytes(), 10<<20)
	}
	// Two more intervals, measured: still no limitation.
	time.Sleep(150 * time.Millisecond)
	select {
	case l := <-ch:
		t.Fatalf("limitation under a raised quota: %q", l.Message)
	default:
	}
	if err := iso.Update(context.Background(), id, []*mesos.Resource{scalar("disk", 2)}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-ch:
		if l.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK {
			t.Errorf("limitation %v %q", l.Reason, l.Message)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no limitation after the quota was lowered below the usage")
	}
}

// A persistent volume is measured apart: the sandbox's usage leaves it
// out, its own statistics carry its size, usage and persistence id, and
// with enforcement a volume past its size is a limitation naming it.
func TestDiskIsolatorPersistentVolume(t *testing.T) {
	volumeDir := t.TempDir()
	vol := diskVolume("pv1", "data", 1)
	iso, id, sandbox := diskPrepared(t, DiskOptions{Enforce: true, WatchInterval: 50 * time.Millisecond},
		scalar("disk", 8), vol)
	if err := os.Symlink(volumeDir, filepath.Join(sandbox, "data")); err != nil {
		t.Fatal(err)
	}
	diskWrite(t, filepath.Join(sandbox, "own"), 1<<20)
	diskWrite(t, filepath.Join(volumeDir, "big"), 2<<20)
	ch := iso.Watch(id)
	select {
	case l := <-ch:
		if l.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK || len(l.Resources) != 1 ||
			l.Resources[0].GetDisk().GetPersistence().GetId() != "pv1" || !diskMessage.MatchString(l.Message) {
			t.Errorf("limitation %v %q %v", l.Reason, l.Message, l.Resources)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no limitation for a volume twice its size")
	}
	var s *mesos.ResourceStatistics
	diskSoon(t, "both paths measured", func() bool {
		var err error
		if s, err = iso.Usage(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ds := range s.DiskStatistics {
			if ds.UsedBytes != nil {
				n++
			}
		}
		return n == 2
	})
	if u := s.GetDiskUsedBytes(); u < 1<<20 || u >= 2<<20 || s.GetDiskLimitBytes() != 8<<20 {
		t.Errorf("sandbox disk_used_bytes %d (want the sandbox's 1 MB without the volume), disk_limit_bytes %d",
			u, s.GetDiskLimitBytes())
	}
	var found bool
	for _, ds := range s.DiskStatistics {
		if ds.GetPersistence().GetId() == "pv1" {
			found = true
			if ds.GetUsedBytes() < 2<<20 || ds.GetLimitBytes() != 1<<20 {
				t.Errorf("volume statistics %v", ds)
			}
		}
	}
	if !found {
		t.Errorf("no statistics for the volume: %v", s.DiskStatistics)
	}
}

// A container is measured once per interval: with a long interval,
// what is written after the first measure is not seen.
func TestDiskIsolatorWalksOncePerInterval(t *testing.T) {
	iso, id, sandbox := diskPrepared(t, DiskOptions{WatchInterval: time.Hour}, scalar("disk", 100))
	first := diskUsed(t, iso, id, 0).GetDiskUsedBytes()
	diskWrite(t, filepath.Join(sandbox, "data"), 1<<20)
	time.Sleep(100 * time.Millisecond)
	s, err := iso.Usage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.GetDiskUsedBytes() != first {
		t.Errorf("usage changed from %d to %d within the interval", first, s.GetDiskUsedBytes())
	}
	if err := iso.Cleanup(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := iso.Usage(context.Background(), id); err != ErrUnknownContainer {
		t.Errorf("usage after cleanup: %v", err)
	}
}

// A container without disk resources is not measured.
func TestDiskIsolatorNoDiskResource(t *testing.T) {
	iso, id, _ := diskPrepared(t, DiskOptions{Enforce: true, WatchInterval: 10 * time.Millisecond}, scalar("cpus", 1))
	time.Sleep(50 * time.Millisecond)
	s, err := iso.Usage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.DiskUsedBytes != nil || s.DiskLimitBytes != nil || len(s.DiskStatistics) != 0 {
		t.Errorf("statistics without a disk resource: %v", s)
	}
}

// DiskUsage counts allocated blocks as du does: hard links once,
// symbolic links not followed below the root, excluded paths left out,
// and the root followed when it is a link.
func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	diskWrite(t, filepath.Join(dir, "a"), 1<<20)
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "a-link")); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	diskWrite(t, filepath.Join(outside, "b"), 1<<20)
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "skip"), 0o755); err != nil {
		t.Fatal(err)
	}
	diskWrite(t, filepath.Join(dir, "skip", "c"), 1<<20)
	ctx := context.Background()
	all, err := DiskUsage(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all < 2<<20 || all >= 3<<20 {
		t.Errorf("usage %d: want a and skip/c once each (2 MB and a few blocks)", all)
	}
	some, err := DiskUsage(ctx, dir, []string{filepath.Join(dir, "skip")})
	if err != nil {
		t.Fatal(err)
	}
	if some < 1<<20 || some >= 2<<20 {
		t.Errorf("usage %d without skip/: want about 1 MB", some)
	}
	linked, err := DiskUsage(ctx, filepath.Join(dir, "out"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if linked < 1<<20 || linked >= 2<<20 {
		t.Errorf("usage %d through the root link: want about 1 MB", linked)
	}
	if _, err := DiskUsage(ctx, filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("no error for a missing root")
	}
}

// FormatBytes words sizes as Mesos' Bytes does.
func TestFormatBytes(t *testing.T) {
	for b, want := range map[uint64]string{
		0: "0B", 1: "1B", 1536: "1536B", 1024: "1KB", 3 << 20: "3MB", 3<<20 + 8<<10: "3080KB", 5 << 30: "5GB", 2 << 40: "2TB",
		1 << 50: "1024TB",
	} {
		if got := FormatBytes(b); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", b, got, want)
		}
	}
}

// In the Mezzo containerizer, an executor that writes its sandbox past
// the disk quota is destroyed, and its termination carries the disk
// reason.
func TestMezzoDiskLimitation(t *testing.T) {
	disk := NewDiskIsolator(DiskOptions{Enforce: true, WatchInterval: 50 * time.Millisecond})
	m := newTestMezzo(t, filesystemPosix{}, disk)
	id := &mesos.ContainerID{Value: proto.String("disk-hog")}
	start := time.Now()
	_, err := m.Launch(context.Background(), id, Config{
		Command:   shell("head -c 3145728 /dev/urandom > hog && sleep 60"),
		Directory: t.TempDir(), Resources: []*mesos.Resource{scalar("disk", 1)},
		Env: map[string]string{"PATH": DefaultPath},
	})
	if err != nil {
		t.Fatal(err)
	}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if term.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK || term.State != mesos.TaskState_TASK_FAILED ||
		!diskMessage.MatchString(term.Message) {
		t.Fatalf("termination %+v", term)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the limitation took %v", took)
	}
}
