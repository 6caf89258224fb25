package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hybridUnified is the cgroup2 mount of a hybrid host.
const hybridUnified = "/sys/fs/cgroup/unified"

// openV2Real opens a real cgroup2 mount (the unified one of a hybrid
// host, or the host's own) under a root of the test's own, removed when
// the test ends.
func openV2Real(t *testing.T, controllers ...Controller) *Hierarchy {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	mount := ""
	for _, m := range []string{DefaultMountpoint, hybridUnified} {
		var st unix.Statfs_t
		if unix.Statfs(m, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			mount = m
			break
		}
	}
	if mount == "" {
		t.Skipf("needs a cgroup2 mount at %s or %s", DefaultMountpoint, hybridUnified)
	}
	h, err := Open(Config{Version: V2, Mountpoint: mount, Root: testRoot(), Controllers: controllers})
	if err != nil {
		t.Skipf("the cgroup2 mount at %s is unusable here: %v", mount, err)
	}
	t.Cleanup(func() { removeHierarchy(t, h) })
	return h
}

// On a real cgroup2 tree (here the hybrid host's unified mount, which has
// no controllers): membership, populated, freeze, kill through
// cgroup.kill and through freezing, delete.
func TestV2RealCoreLifecycle(t *testing.T) {
	h := openV2Real(t)
	if h.Version() != V2 {
		t.Fatalf("version %v", h.Version())
	}
	cg, err := h.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Create("c1"); !errors.Is(err, ErrExist) {
		t.Errorf("second create: %v", err)
	}
	if ok, err := cg.Populated(); ok || err != nil {
		t.Errorf("populated before any process: %v, %v", ok, err)
	}
	p := startHeld(t, "sleep 30 & while :; do :; done")
	if err := cg.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	waitFor(t, "2 processes", func() bool {
		ps, err := cg.Procs()
		return err == nil && len(ps) == 2 && slices.Contains(ps, p.pid())
	})
	if ok, err := cg.Populated(); !ok || err != nil {
		t.Errorf("populated: %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	before := procTicks(t, p.pid())
	time.Sleep(200 * time.Millisecond)
	if after := procTicks(t, p.pid()); after != before {
		t.Errorf("a frozen process ran: %s -> %s ticks", before, after)
	}
	if err := cg.Thaw(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := cg.Stats()
	if err != nil || st.Processes != 2 || st.Threads != 2 {
		t.Errorf("stats %+v, %v", st, err)
	}
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"c1"}) {
		t.Errorf("list %v, %v", names, err)
	}
	if err := cg.Delete(); err == nil {
		t.Error("deleted a cgroup with processes inside")
	}
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	if ok, err := cg.Populated(); ok || err != nil {
		t.Errorf("populated after kill: %v, %v", ok, err)
	}

	// The kill for kernels without cgroup.kill: freeze, SIGKILL, thaw.
	q := startHeld(t, "sleep 30 & sleep 30 & wait")
	if err := cg.Add(q.pid()); err != nil {
		t.Fatal(err)
	}
	q.release(t)
	waitFor(t, "3 processes", func() bool { ps, _ := cg.Procs(); return len(ps) == 3 })
	if err := killFrozen(ctx, cg.(*v2Cgroup)); err != nil {
		t.Fatal(err)
	}
	q.wait(t)
	// A nested cgroup (an executor may make its own) goes with it.
	if err := os.Mkdir(filepath.Join(cg.Paths()[""], "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg.Paths()[""]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup left: %v", err)
	}
}

// On a real cgroup2 tree the eBPF device program lets /dev/zero through
// and refuses a device not on the list (a node of the root disk made in
// a temporary directory).
func TestV2RealDevices(t *testing.T) {
	h := openV2Real(t, Devices)
	node := DeniedDeviceNode(t)
	cg, err := h.Create("dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.SetDevices([]DeviceRule{{Type: 'c', Major: 1, Minor: 3, Access: "rwm"}, {Type: 'c', Major: 1, Minor: 5, Access: "rwm"}}); err != nil {
		t.Skipf("the kernel refuses the eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE): %v", err)
	}
	p := startHeld(t, "head -c1 /dev/zero >/dev/null && echo zero ok; (: < "+node+") && echo node ok; exit 0")
	if err := cg.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	p.wait(t)
	out := p.out.String()
	if !strings.Contains(out, "zero ok") || strings.Contains(out, "node ok") || !strings.Contains(out, "not permitted") {
		t.Errorf("output %q", out)
	}
}

// DeniedDeviceNode makes, in a temporary directory, a device node that
// no container allow-list names and that this process can open: a block
// device of the root file system's disk or, where even that is refused
// without isolation (some sandboxes refuse raw disks), /dev/kmsg's
// number (c 1:11).
func DeniedDeviceNode(t *testing.T) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	candidates := []struct {
		mode uint32
		dev  uint64
	}{{unix.S_IFCHR, unix.Mkdev(1, 11)}}
	if unix.Major(st.Dev) != 0 {
		candidates = append([]struct {
			mode uint32
			dev  uint64
		}{{unix.S_IFBLK, st.Dev}}, candidates...)
	}
	dir := t.TempDir()
	var errs []error
	for i, c := range candidates {
		node := filepath.Join(dir, fmt.Sprintf("dev%d", i))
		if err := unix.Mknod(node, c.mode|0o600, int(c.dev)); err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := os.Open(node)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.Close()
		return node
	}
	t.Skipf("no device node to deny can be opened here even without isolation: %v", errors.Join(errs...))
	return ""
}

// fakeV2 makes a cgroup2-like directory tree whose root offers the
// given controllers, as the kernel's files would (tmpfs files, written
// and read like the kernel's).
func fakeV2(t *testing.T, root string, controllers string) string {
	t.Helper()
	mount := t.TempDir()
	for dir, files := range map[string]map[string]string{
		mount:                      {"cgroup.controllers": controllers + "\n", "cgroup.subtree_control": ""},
		filepath.Join(mount, root): {"cgroup.controllers": controllers + "\n", "cgroup.subtree_control": ""},
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, s := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return mount
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for f, s := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The v2 controller files, against a fake tree with the kernel's
// formats (this host's cgroup2 mount has none of these controllers):
// enabling the controllers, writing limits, reading statistics, the OOM
// watch of memory.events, delete.
func TestV2ControllerFiles(t *testing.T) {
	mount := fakeV2(t, "mezzo", "cpuset cpu io memory hugetlb pids rdma misc")
	h, err := Open(Config{Version: V2, Mountpoint: mount, Controllers: []Controller{CPU, CPUAcct, Memory, Pids, Blkio}})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{mount, filepath.Join(mount, "mezzo")} {
		if got := readTrim(t, filepath.Join(dir, "cgroup.subtree_control")); got != "+cpu +memory +pids +io" {
			t.Errorf("%s/cgroup.subtree_control = %q", dir, got)
		}
	}
	cg, err := h.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mount, "mezzo", "c1")
	if cg.Paths()[""] != dir {
		t.Fatalf("paths %v", cg.Paths())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cg.SetCPUShares(1024))
	must(cg.SetCPUQuota(50*time.Millisecond, 100*time.Millisecond))
	must(cg.SetMemoryLimit(64 << 20))
	must(cg.SetMemorySoftLimit(32 << 20))
	must(cg.SetPidsMax(20))
	for file, want := range map[string]string{
		"cpu.weight": "100", "cpu.max": "50000 100000", "memory.max": "67108864", "memory.low": "33554432", "pids.max": "20",
	} {
		if got := readTrim(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if l, err := cg.MemoryLimit(); err != nil || l != 64<<20 {
		t.Errorf("memory limit %d, %v", l, err)
	}
	must(cg.SetCPUShares(2))
	must(cg.SetCPUQuota(Unlimited, 100*time.Millisecond))
	must(cg.SetMemoryLimit(Unlimited))
	must(cg.SetPidsMax(0))
	for file, want := range map[string]string{"cpu.weight": "1", "cpu.max": "max 100000", "memory.max": "max", "pids.max": "max"} {
		if got := readTrim(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if l, err := cg.MemoryLimit(); err != nil || l != Unlimited {
		t.Errorf("memory limit %d, %v", l, err)
	}
	if err := cg.SetDevices(nil); err == nil || !strings.Contains(err.Error(), "devices controller") {
		t.Errorf("devices without asking for them: %v", err)
	}

	writeFiles(t, dir, map[string]string{
		"cgroup.procs":   "101\n102\n",
		"cgroup.events":  "populated 1\nfrozen 0\n",
		"cpu.stat":       "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 3\nthrottled_usec 250000\nnr_bursts 0\nburst_usec 0\n",
		"memory.current": "3145728\n",
		"memory.peak":    "4194304\n",
		"memory.max":     "67108864\n",
		"memory.stat": "anon 1048576\nfile 2097152\nkernel 32768\nkernel_stack 16384\npagetables 4096\nsec_pagetables 0\npercpu 0\nsock 0\n" +
			"vmalloc 0\nshmem 0\nfile_mapped 4096\nfile_dirty 0\nfile_writeback 0\nswapcached 0\nanon_thp 0\ninactive_anon 0\n" +
			"active_anon 1048576\ninactive_file 2097152\nactive_file 0\nunevictable 8192\nslab_reclaimable 4096\nslab_unreclaimable 4096\nslab 8192\n",
		"memory.events":       "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n",
		"memory.swap.current": "0\n",
		"pids.current":        "7\n",
		"pids.max":            "20\n",
		"io.stat":             "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
	})
	st, err := cg.Stats()
	must(err)
	want := Stats{
		CPUUser: time.Second, CPUSystem: 500 * time.Millisecond, CPUPeriods: 10, CPUThrottledPeriods: 3, CPUThrottled: 250 * time.Millisecond,
		MemUsage: 3 << 20, MemMaxUsage: 4 << 20, MemRSS: 1 << 20, MemCache: 2 << 20, MemMappedFile: 4096, MemUnevictable: 8192,
		MemKernel: 16384 + 8192, MemLimit: 64 << 20, OOMKills: 1, Processes: 2, Threads: 7, PidsLimit: 20,
	}
	io := st.IO
	st.IO = nil
	if !reflect.DeepEqual(*st, want) {
		t.Errorf("stats\n%+v, want\n%+v", *st, want)
	}
	if len(io) != 1 || io[0].Major != 254 || io[0].Bytes["Read"] != 4096 || io[0].Bytes["Write"] != 8192 ||
		io[0].Serviced["Total"] != 3 || io[0].Bytes["Total"] != 12288 {
		t.Errorf("io %+v", io)
	}
	if ok, err := cg.Populated(); !ok || err != nil {
		t.Errorf("populated %v, %v", ok, err)
	}

	// OOM watch: a change of memory.events counts when oom_kill grew.
	w, err := cg.WatchOOM()
	must(err)
	writeFiles(t, dir, map[string]string{"memory.events": "low 0\nhigh 0\nmax 6\noom 2\noom_kill 2\noom_group_kill 0\n"})
	expectOOM(t, w, 2)
	writeFiles(t, dir, map[string]string{"memory.events": "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n"})
	writeFiles(t, dir, map[string]string{"memory.events": "low 0\nhigh 0\nmax 8\noom 3\noom_kill 3\noom_group_kill 0\n"})
	expectOOM(t, w, 3)
	must(w.Close())

	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"c1"}) {
		t.Errorf("list %v, %v", names, err)
	}
	if err := cg.Delete(); err == nil {
		t.Error("deleted a cgroup listing processes")
	}
	writeFiles(t, dir, map[string]string{"cgroup.procs": ""})
	must(cg.Delete())
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup left: %v", err)
	}
}

func expectOOM(t *testing.T, w *OOMWatch, kills uint64) {
	t.Helper()
	select {
	case ev := <-w.C():
		if ev.Kills != kills {
			t.Errorf("OOM event %+v, want %d kills", ev, kills)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no OOM event for %d kills", kills)
	}
}
