package cgroups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var testRoots atomic.Int64

// testRoot is a root cgroup name of this test process's own.
func testRoot() string {
	return fmt.Sprintf("mezzo-test-%d-%d", os.Getpid(), testRoots.Add(1))
}

// openV1Test opens the host's v1 hierarchy under a root of the test's
// own, removed (with whatever is left in it) when the test ends.
func openV1Test(t *testing.T, controllers ...Controller) *Hierarchy {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if v, err := Detect(DefaultMountpoint); err != nil || v != V1 {
		t.Skipf("needs cgroup v1 controllers under %s (detected %v, %v)", DefaultMountpoint, v, err)
	}
	h, err := Open(Config{Root: testRoot(), Controllers: controllers})
	if err != nil {
		t.Skipf("cgroup v1 controllers %v unusable here: %v", controllers, err)
	}
	t.Cleanup(func() { removeHierarchy(t, h) })
	return h
}

// removeHierarchy destroys every cgroup under h's root and the root.
func removeHierarchy(t *testing.T, h *Hierarchy) {
	names, err := h.List()
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, n := range names {
		cg, err := h.Load(n)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := cg.Kill(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		cancel()
		if err := cg.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	if err := h.Remove(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// held is a process that waits for release before it runs its script.
type held struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *strings.Builder
	done chan error
}

// startHeld starts `sh -c script`, held until release.
func startHeld(t *testing.T, script string) *held {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read _; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &held{cmd: cmd, in: in, out: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *held) pid() int { return p.cmd.Process.Pid }

func (p *held) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.in, "go\n"); err != nil {
		t.Fatal(err)
	}
	p.in.Close()
}

// wait waits for the process's end (failing the test after 20 s).
func (p *held) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("process %d did not end; output %q", p.pid(), p.out.String())
	}
	return nil
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Open fails naming what is missing.
func TestOpenNamesWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(Config{Version: V1, Mountpoint: dir, Controllers: []Controller{Memory, Pids}})
	if err == nil || !strings.Contains(err.Error(), "memory, pids") || !strings.Contains(err.Error(), "freezer") {
		t.Errorf("v1 without mounts: %v", err)
	}
	_, err = Open(Config{Version: V2, Mountpoint: dir, Controllers: []Controller{Memory}})
	if err == nil || !strings.Contains(err.Error(), "no cgroup2 hierarchy") {
		t.Errorf("v2 without a mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpu io\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Config{Version: V2, Mountpoint: dir, Controllers: []Controller{CPU, Memory, Pids}})
	if err == nil || !strings.Contains(err.Error(), "memory (for memory), pids (for pids)") {
		t.Errorf("v2 lacking controllers: %v", err)
	}
	if _, err := Open(Config{Root: "../x", Version: V2, Mountpoint: dir}); err == nil {
		t.Error("a root outside the hierarchy was accepted")
	}
	if _, err := Detect(dir); err == nil {
		t.Error("a plain directory was taken for a cgroup mount")
	}
}

// A v1 container cgroup spans every controller: processes added to it
// are in each, limits are written in v1's files and read back, Kill
// leaves nothing and Delete removes every directory.
func TestV1Lifecycle(t *testing.T) {
	h := openV1Test(t, CPU, CPUAcct, Memory, Pids, Blkio)
	if h.Version() != V1 || !h.Has(Freezer) {
		t.Fatalf("version %v, controllers %v", h.Version(), h.Controllers())
	}
	cg, err := h.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Create("c1"); !errors.Is(err, ErrExist) {
		t.Errorf("second create: %v", err)
	}
	paths := cg.Paths()
	for _, c := range []Controller{CPU, CPUAcct, Memory, Pids, Blkio, Freezer} {
		if st, err := os.Stat(paths[c]); err != nil || !st.IsDir() {
			t.Fatalf("%s: %v", c, err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cg.SetCPUShares(512))
	must(cg.SetCPUQuota(50*time.Millisecond, 100*time.Millisecond))
	must(cg.SetMemoryLimit(64 << 20))
	must(cg.SetMemorySoftLimit(32 << 20))
	must(cg.SetPidsMax(100))
	for file, want := range map[string]string{
		filepath.Join(paths[CPU], "cpu.shares"):                    "512",
		filepath.Join(paths[CPU], "cpu.cfs_quota_us"):              "50000",
		filepath.Join(paths[CPU], "cpu.cfs_period_us"):             "100000",
		filepath.Join(paths[Memory], "memory.limit_in_bytes"):      "67108864",
		filepath.Join(paths[Memory], "memory.soft_limit_in_bytes"): "33554432",
		filepath.Join(paths[Pids], "pids.max"):                     "100",
	} {
		if got := readTrim(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if l, err := cg.MemoryLimit(); err != nil || l != 64<<20 {
		t.Errorf("memory limit %d, %v", l, err)
	}
	must(cg.SetCPUQuota(Unlimited, 100*time.Millisecond))
	must(cg.SetMemoryLimit(Unlimited))
	must(cg.SetPidsMax(0))
	if got := readTrim(t, filepath.Join(paths[CPU], "cpu.cfs_quota_us")); got != "-1" {
		t.Errorf("quota %q after removing it", got)
	}
	if got := readTrim(t, filepath.Join(paths[Pids], "pids.max")); got != "max" {
		t.Errorf("pids.max %q after removing it", got)
	}
	if l, err := cg.MemoryLimit(); err != nil || l != Unlimited {
		t.Errorf("memory limit %d, %v after removing it", l, err)
	}
	if err := cg.SetDevices(nil); err == nil || !strings.Contains(err.Error(), "devices controller") {
		t.Errorf("devices without the controller: %v", err)
	}

	// Two process trees, each added.
	a := startHeld(t, "sleep 30 & sleep 30 & wait")
	b := startHeld(t, "exec sleep 30")
	must(cg.Add(a.pid()))
	must(cg.Add(b.pid()))
	a.release(t)
	b.release(t)
	var procs []int
	waitFor(t, "4 processes", func() bool {
		procs, err = cg.Procs()
		return err == nil && len(procs) == 4
	})
	if !slices.Contains(procs, a.pid()) || !slices.Contains(procs, b.pid()) {
		t.Errorf("procs %v lack %d or %d", procs, a.pid(), b.pid())
	}
	for c, dir := range paths {
		in := strings.Fields(readTrim(t, filepath.Join(dir, "cgroup.procs")))
		if !slices.Contains(in, strconv.Itoa(a.pid())) || !slices.Contains(in, strconv.Itoa(b.pid())) {
			t.Errorf("%s cgroup.procs %v lacks %d or %d", c, in, a.pid(), b.pid())
		}
	}
	st, err := cg.Stats()
	must(err)
	if st.Processes != 4 || st.Threads < 4 || st.MemUsage == 0 || st.MemLimit != Unlimited {
		t.Errorf("stats %+v", st)
	}
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"c1"}) {
		t.Errorf("list %v, %v", names, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(cg.Kill(ctx))
	if ok, err := cg.Populated(); ok || err != nil {
		t.Errorf("populated after kill: %v, %v", ok, err)
	}
	a.wait(t)
	b.wait(t)
	// Nested cgroups (an executor may make its own) go with it.
	for _, c := range []Controller{Memory, Freezer} {
		must(os.Mkdir(filepath.Join(paths[c], "nested"), 0o755))
	}
	must(cg.Delete())
	must(cg.Delete())
	for c, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s cgroup left: %v", c, err)
		}
	}
	if _, err := h.Load("c1"); !errors.Is(err, ErrNotExist) {
		t.Errorf("load after delete: %v", err)
	}
}

// Freezing stops a process from running; Kill of a frozen cgroup
// still ends it.
func TestV1FreezeAndKillFrozen(t *testing.T) {
	h := openV1Test(t)
	cg, err := h.Create("frozen")
	if err != nil {
		t.Fatal(err)
	}
	p := startHeld(t, "while :; do :; done")
	if err := cg.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
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
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
}

// procTicks is the CPU time of pid in clock ticks.
func procTicks(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	return f[11] + "+" + f[12]
}

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A process allocating past the hard limit is OOM-killed, and the watch
// reports it.
func TestV1OOM(t *testing.T) {
	h := openV1Test(t, Memory)
	cg, err := h.Create("oom")
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.SetMemoryLimit(32 << 20); err != nil {
		t.Fatal(err)
	}
	w, err := cg.WatchOOM()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// tail keeps the line it reads whole: /dev/zero has no newline.
	p := startHeld(t, "exec tail /dev/zero")
	if err := cg.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	select {
	case ev := <-w.C():
		if ev.Kills < 1 {
			t.Errorf("event %+v", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no OOM event")
	}
	if err := p.wait(t); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("tail: %v", err)
	}
	st, err := cg.Stats()
	if err != nil || st.OOMKills < 1 || st.MemMaxUsage < 30<<20 {
		t.Errorf("stats %+v, %v", st, err)
	}
}

// pids.max stops a fork loop.
func TestV1PidsMax(t *testing.T) {
	h := openV1Test(t, Pids)
	cg, err := h.Create("forks")
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.SetPidsMax(20); err != nil {
		t.Fatal(err)
	}
	p := startHeld(t, `n=0; for i in $(seq 200); do sleep 5 >/dev/null 2>&1 & n=$((n+1)); done; echo started $n`)
	if err := cg.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	err = p.wait(t)
	st, serr := cg.Stats()
	if serr != nil || st.Threads > 20 || st.PidsLimit != 20 {
		t.Errorf("stats %+v, %v", st, serr)
	}
	if err == nil && strings.Contains(p.out.String(), "started 200") || !strings.Contains(p.out.String(), "fork") {
		t.Errorf("200 forks under pids.max=20: %v, %q", err, p.out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
}

// The v1 devices controller lets /dev/zero through and refuses a device
// not on the list; devices.list shows exactly the list.
func TestV1Devices(t *testing.T) {
	h := openV1Test(t, Devices)
	node := DeniedDeviceNode(t)
	cg, err := h.Create("dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.SetDevices([]DeviceRule{{Type: 'c', Major: 1, Minor: 3, Access: "rwm"}, {Type: 'c', Major: 1, Minor: 5, Access: "rwm"}, {Type: 'b', Major: -1, Minor: -1, Access: "m"}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(cg.Paths()[Devices], "devices.list")); got != "c 1:3 rwm\nc 1:5 rwm\nb *:* m" {
		t.Errorf("devices.list %q", got)
	}
	p := startHeld(t, "head -c1 /dev/zero >/dev/null && echo zero ok; (: < "+node+") && echo node ok; exit 0")
	if err := cg.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	p.wait(t)
	if out := p.out.String(); !strings.Contains(out, "zero ok") || strings.Contains(out, "node ok") || !strings.Contains(out, "not permitted") {
		t.Errorf("output %q", out)
	}
}

// A v1 cgroup holding a process, here in a nested cgroup, is not
// deleted: Delete fails naming the processes and leaves every
// directory; once the process is killed, Delete removes them all.
func TestV1DeleteRefusesPopulated(t *testing.T) {
	h := openV1Test(t, Memory)
	cg, err := h.Create("busy")
	if err != nil {
		t.Fatal(err)
	}
	paths := cg.Paths()
	nested := filepath.Join(paths[Freezer], "nested")
	if err := os.Mkdir(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startHeld(t, "exec sleep 30")
	if err := os.WriteFile(filepath.Join(nested, "cgroup.procs"), []byte(strconv.Itoa(p.pid())), 0o644); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	if procs, err := cg.Procs(); err != nil || !slices.Equal(procs, []int{p.pid()}) {
		t.Fatalf("procs %v, %v; want [%d]", procs, err, p.pid())
	}
	if err := cg.Delete(); err == nil || !strings.Contains(err.Error(), "running processes") {
		t.Errorf("delete of a populated cgroup: %v", err)
	}
	if _, err := os.Stat(nested); err != nil {
		t.Errorf("the populated cgroup is gone: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
	for c, dir := range paths {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s cgroup left: %v", c, err)
		}
	}
}

// Creating a v1 cgroup whose directory exists in one controller only
// fails with ErrExist and makes nothing in the others.
func TestV1CreateExistingInOneController(t *testing.T) {
	h := openV1Test(t, CPU, CPUAcct, Memory, Pids)
	cg, err := h.Create("probe")
	if err != nil {
		t.Fatal(err)
	}
	paths := cg.Paths()
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(paths[Pids], 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Create("probe"); !errors.Is(err, ErrExist) {
		t.Errorf("create with a pids cgroup left: %v, want ErrExist", err)
	}
	for c, dir := range paths {
		_, err := os.Stat(dir)
		if c == Pids && err != nil {
			t.Errorf("the pids cgroup that was there is gone: %v", err)
		}
		if c != Pids && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s cgroup made by a failed create: %v", c, err)
		}
	}
	if err := os.Remove(paths[Pids]); err != nil {
		t.Fatal(err)
	}
}
