package containerizer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/cgroups"
	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

var cgroupsTestRoots atomic.Int64

// cgroupsTest is a set of cgroups isolators under a root of the test's
// own; when the test ends no container cgroup may be left, and the root
// is removed.
type cgroupsTest struct {
	opts  CgroupsOptions
	names []string
	isos  []Isolator
	h     *cgroups.Hierarchy // the same hierarchy, to look at
}

func newCgroupsTest(t testing.TB, names []string, opts CgroupsOptions) *cgroupsTest {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	opts.Root = fmt.Sprintf("mezzo-ctest-%d-%d", os.Getpid(), cgroupsTestRoots.Add(1))
	opts.Log = testLogger(t)
	isos, err := NewCgroupsIsolators(names, opts)
	if err != nil {
		t.Skipf("cgroups isolation %v unusable here: %v", names, err)
	}
	ct := &cgroupsTest{opts: opts, names: names, isos: isos}
	var controllers []cgroups.Controller
	for _, n := range names {
		switch n {
		case "cgroups/cpu":
			controllers = append(controllers, cgroups.CPU, cgroups.CPUAcct)
		case "cgroups/mem":
			controllers = append(controllers, cgroups.Memory)
		case "cgroups/pids":
			controllers = append(controllers, cgroups.Pids)
		case "cgroups/devices":
			controllers = append(controllers, cgroups.Devices)
		case "cgroups/blkio":
			controllers = append(controllers, cgroups.Blkio)
		}
	}
	if ct.h, err = cgroups.Open(cgroups.Config{Root: opts.Root, Controllers: controllers, Version: opts.Version, Mountpoint: opts.Hierarchy}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		left, err := ct.h.List()
		if err != nil {
			t.Error(err)
		}
		for _, n := range left {
			t.Errorf("container cgroup %s left", n)
			if cg, err := ct.h.Load(n); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cg.Kill(ctx)
				cancel()
				cg.Delete()
			}
		}
		if err := ct.h.Remove(); err != nil {
			t.Error(err)
		}
	})
	return ct
}

// testLogger sends log lines to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func cid(s string) *mesos.ContainerID { return &mesos.ContainerID{Value: proto.String(s)} }

func resourcesOf(cpus, mem float64) []*mesos.Resource {
	return []*mesos.Resource{scalar("cpus", cpus), scalar("mem", mem)}
}

func (ct *cgroupsTest) prepare(t testing.TB, id *mesos.ContainerID, cfg *Config) {
	t.Helper()
	for _, iso := range ct.isos {
		if err := iso.Prepare(context.Background(), id, cfg, &launcher.Isolation{}); err != nil {
			t.Fatalf("prepare %s: %v", iso.Name(), err)
		}
	}
}

func (ct *cgroupsTest) isolate(t testing.TB, id *mesos.ContainerID, pid int) {
	t.Helper()
	for _, iso := range ct.isos {
		if err := iso.Isolate(context.Background(), id, pid); err != nil {
			t.Fatalf("isolate %s: %v", iso.Name(), err)
		}
	}
}

func (ct *cgroupsTest) usage(t testing.TB, id *mesos.ContainerID) *mesos.ResourceStatistics {
	t.Helper()
	s := &mesos.ResourceStatistics{}
	for _, iso := range ct.isos {
		u, err := iso.Usage(context.Background(), id)
		if err != nil {
			t.Fatalf("usage %s: %v", iso.Name(), err)
		}
		proto.Merge(s, u)
	}
	return s
}

func (ct *cgroupsTest) cleanup(t testing.TB, id *mesos.ContainerID) {
	t.Helper()
	for _, iso := range ct.isos {
		if err := iso.Cleanup(context.Background(), id); err != nil {
			t.Fatalf("cleanup %s: %v", iso.Name(), err)
		}
	}
}

// file reads a control file of container id's cgroup: on v1 from
// controller's hierarchy, on v2 from its one directory.
func (ct *cgroupsTest) file(t testing.TB, id string, controller cgroups.Controller, name string) string {
	t.Helper()
	cg, err := ct.h.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	dir := cg.Paths()[controller]
	if ct.h.Version() == cgroups.V2 {
		dir = cg.Paths()[""]
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// heldProcess is a process that waits on its stdin before running its
// script, as the launch helper holds an executor until it is isolated.
type heldProcess struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *lockedBuffer
	done chan error
}

// lockedBuffer is an output buffer that may be read while the process
// writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startHeldProcess(t testing.TB, script string) *heldProcess {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read _; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &heldProcess{cmd: cmd, in: in, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

func (p *heldProcess) pid() int { return p.cmd.Process.Pid }

func (p *heldProcess) release(t testing.TB) {
	t.Helper()
	if _, err := io.WriteString(p.in, "go\n"); err != nil {
		t.Fatal(err)
	}
	p.in.Close()
}

func (p *heldProcess) wait(t testing.TB) error {
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

// soon waits up to 10 s for cond, checking it every 10 ms.
func soon(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NewCgroupsIsolators refuses what it cannot honour, naming it.
func TestCgroupsIsolatorsRefuse(t *testing.T) {
	if isos, err := NewCgroupsIsolators([]string{"posix/cpu", "filesystem/posix"}, CgroupsOptions{}); isos != nil || err != nil {
		t.Errorf("no cgroups isolator: %v, %v", isos, err)
	}
	_, err := NewCgroupsIsolators([]string{"cgroups/cpu", "cgroups/net_cls"}, CgroupsOptions{})
	if err == nil || !strings.Contains(err.Error(), `"cgroups/net_cls"`) {
		t.Errorf("unknown isolator: %v", err)
	}
	_, err = NewCgroupsIsolators([]string{"cgroups/cpu"}, CgroupsOptions{MaxPids: 10})
	if err == nil || !strings.Contains(err.Error(), "cgroups/pids") {
		t.Errorf("a pids limit without cgroups/pids: %v", err)
	}
	_, err = NewCgroupsIsolators([]string{"cgroups/mem", "cgroups/pids"}, CgroupsOptions{Hierarchy: t.TempDir(), Version: cgroups.V1})
	if err == nil || !strings.Contains(err.Error(), "memory, pids") {
		t.Errorf("no hierarchy: %v", err)
	}
}

// Through the Mezzo containerizer: an executor allocating past its
// memory limit is OOM-killed; the container ends with the memory
// limitation, naming the limit as Mesos does, and its cgroup is gone.
func TestCgroupsMemOOMEndsTheContainer(t *testing.T) {
	ct := newCgroupsTest(t, []string{"cgroups/cpu", "cgroups/mem"}, CgroupsOptions{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMezzo(MezzoConfig{Isolators: ct.isos, Log: testLogger(t), Helper: exe})
	id := cid("oom")
	// The executor itself allocates: its end by the OOM killer must
	// still be reported as the memory limitation.
	res, err := m.Launch(context.Background(), id, Config{Command: shell("exec tail /dev/zero"), Directory: t.TempDir(),
		Resources: resourcesOf(0.5, 32)})
	if err != nil || res != Launched {
		t.Fatalf("launch: %v, %v", res, err)
	}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if term.State != mesos.TaskState_TASK_FAILED || term.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY ||
		!strings.HasPrefix(term.Message, "Memory limit exceeded: Requested: 32MB Maximum Used: ") ||
		!strings.Contains(term.Message, "MEMORY STATISTICS") {
		t.Errorf("termination %+v", term)
	}
	mem := ct.isos[1].(*CgroupsMemIsolator)
	if mem.OOMs() != 1 {
		t.Errorf("OOMs %d", mem.OOMs())
	}
	if names, _ := ct.h.List(); len(names) != 0 {
		t.Errorf("cgroups left: %v", names)
	}
}

// The OOM limitation's resources are the memory used at most.
func TestCgroupsMemLimitationResources(t *testing.T) {
	ct := newCgroupsTest(t, []string{"cgroups/mem"}, CgroupsOptions{})
	id := cid("oom-direct")
	ct.prepare(t, id, &Config{Resources: resourcesOf(0.1, 40)})
	p := startHeldProcess(t, "exec tail /dev/zero")
	ct.isolate(t, id, p.pid())
	ch := ct.isos[0].Watch(id)
	if ch == nil {
		t.Fatal("cgroups/mem does not watch")
	}
	p.release(t)
	select {
	case l := <-ch:
		if l.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY || len(l.Resources) != 1 ||
			l.Resources[0].GetName() != "mem" || l.Resources[0].GetScalar().GetValue() < 39 ||
			!strings.HasPrefix(l.Message, "Memory limit exceeded: Requested: 40MB Maximum Used: 40MB") {
			t.Errorf("limitation %v %q", l.Resources, l.Message)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no limitation")
	}
	p.wait(t)
	ct.cleanup(t, id)
}

// A CPU hog limited to 0.5 cpus with CFS uses about half a core; the
// statistics show the throttling and the limit.
func TestCgroupsCPUQuota(t *testing.T) {
	ct := newCgroupsTest(t, []string{"cgroups/cpu"}, CgroupsOptions{EnableCFS: true})
	id := cid("hog")
	ct.prepare(t, id, &Config{Resources: resourcesOf(0.5, 32)})
	p := startHeldProcess(t, "while :; do :; done")
	ct.isolate(t, id, p.pid())
	p.release(t)
	time.Sleep(200 * time.Millisecond) // past the start
	u0, t0 := ct.usage(t, id), time.Now()
	time.Sleep(time.Second)
	u1, t1 := ct.usage(t, id), time.Now()
	used := (u1.GetCpusUserTimeSecs() + u1.GetCpusSystemTimeSecs() - u0.GetCpusUserTimeSecs() - u0.GetCpusSystemTimeSecs()) / t1.Sub(t0).Seconds()
	t.Logf("a hog limited to 0.5 cpus used %.3f cpus", used)
	// The machine is shared: less is possible, more is not.
	if used > 0.6 || used < 0.2 {
		t.Errorf("used %.3f cpus under a 0.5 cpus quota", used)
	}
	if u1.GetCpusLimit() != 0.5 || u1.GetCpusNrThrottled() == 0 || u1.GetCpusNrPeriods() < 5 || u1.GetCpusThrottledTimeSecs() <= 0 {
		t.Errorf("statistics %v", u1)
	}
	ct.cleanup(t, id)
	if err := p.wait(t); err == nil {
		t.Error("the hog outlived its container's cleanup")
	}
}

// cpu.shares is 1024 per cpu (at least 2); without CFS only a cpus
// limit sets a quota, and an infinite one removes it (Mesos 1.11).
func TestCgroupsCPUSharesAndLimits(t *testing.T) {
	ct := newCgroupsTest(t, []string{"cgroups/cpu"}, CgroupsOptions{})
	id := cid("shares")
	ct.prepare(t, id, &Config{Resources: resourcesOf(0.001, 32)})
	v1 := ct.h.Version() == cgroups.V1
	shares := func() string {
		if v1 {
			return ct.file(t, "shares", cgroups.CPU, "cpu.shares")
		}
		return ct.file(t, "shares", cgroups.CPU, "cpu.weight")
	}
	quota := func() string {
		if v1 {
			return ct.file(t, "shares", cgroups.CPU, "cpu.cfs_quota_us")
		}
		return ct.file(t, "shares", cgroups.CPU, "cpu.max")
	}
	if v1 && (shares() != "2" || quota() != "-1") {
		t.Errorf("0.001 cpus: shares %s, quota %s", shares(), quota())
	}
	ctx := context.Background()
	iso := ct.isos[0]
	if err := iso.Update(ctx, id, resourcesOf(1.5, 32), map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(0.25)}}); err != nil {
		t.Fatal(err)
	}
	if v1 && (shares() != "1536" || quota() != "25000") {
		t.Errorf("1.5 cpus limited to 0.25: shares %s, quota %s", shares(), quota())
	}
	if !v1 && quota() != "25000 100000" {
		t.Errorf("cpu.max %s", quota())
	}
	if u := ct.usage(t, id); u.GetCpusLimit() != 0.25 {
		t.Errorf("cpus_limit %v", u.GetCpusLimit())
	}
	if err := iso.Update(ctx, id, resourcesOf(1.5, 32), map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(math.Inf(1))}}); err != nil {
		t.Fatal(err)
	}
	if v1 && quota() != "-1" || !v1 && !strings.HasPrefix(quota(), "max") {
		t.Errorf("infinite limit: quota %s", quota())
	}
	if u := ct.usage(t, id); u.CpusLimit != nil {
		t.Errorf("cpus_limit %v without a quota", u.GetCpusLimit())
	}
	if err := iso.Update(ctx, id, []*mesos.Resource{scalar("mem", 32)}, nil); err == nil || !strings.Contains(err.Error(), "no cpus") {
		t.Errorf("no cpus: %v", err)
	}
	ct.cleanup(t, id)
}

// The memory limits: soft = hard = the mem (at least 32 MB); a mem limit
// raises the hard limit, an infinite one removes it, and the hard limit
// is never lowered.
func TestCgroupsMemLimits(t *testing.T) {
	ct := newCgroupsTest(t, []string{"cgroups/mem"}, CgroupsOptions{})
	id := cid("memlimits")
	ct.prepare(t, id, &Config{Resources: resourcesOf(0.1, 16)})
	ctx := context.Background()
	iso := ct.isos[0]
	check := func(what string, hard, soft uint64) {
		t.Helper()
		u := ct.usage(t, id)
		if hard == 0 && u.MemLimitBytes != nil || hard != 0 && u.GetMemLimitBytes() != hard || u.GetMemSoftLimitBytes() != soft {
			t.Errorf("%s: mem_limit_bytes %v, mem_soft_limit_bytes %v; want %d, %d", what, u.MemLimitBytes, u.GetMemSoftLimitBytes(), hard, soft)
		}
	}
	check("16 MB", 32<<20, 32<<20)
	if err := iso.Update(ctx, id, resourcesOf(0.1, 64), map[string]*mesos.Value_Scalar{"mem": {Value: proto.Float64(128)}}); err != nil {
		t.Fatal(err)
	}
	check("64 MB limited to 128 MB", 128<<20, 64<<20)
	if err := iso.Update(ctx, id, resourcesOf(0.1, 48), nil); err != nil {
		t.Fatal(err)
	}
	check("down to 48 MB", 128<<20, 48<<20)
	if err := iso.Update(ctx, id, resourcesOf(0.1, 48), map[string]*mesos.Value_Scalar{"mem": {Value: proto.Float64(math.Inf(1))}}); err != nil {
		t.Fatal(err)
	}
	check("unlimited", 0, 48<<20)
	if ct.h.Version() == cgroups.V1 {
		if got := ct.file(t, "memlimits", cgroups.Memory, "memory.limit_in_bytes"); got != "9223372036854771712" {
			t.Errorf("memory.limit_in_bytes %s", got)
		}
	}
	ct.cleanup(t, id)
}

// pids.max stops a fork loop; processes and threads are counted.
func TestCgroupsPids(t *testing.T) {
	ct := newCgroupsTest(t, []string{"cgroups/pids"}, CgroupsOptions{MaxPids: 20})
	id := cid("forks")
	ct.prepare(t, id, &Config{Resources: resourcesOf(0.1, 32)})
	p := startHeldProcess(t, `for i in $(seq 200); do sleep 5 >/dev/null 2>&1 & done`)
	ct.isolate(t, id, p.pid())
	p.release(t)
	p.wait(t)
	if out := p.out.String(); !strings.Contains(out, "fork") {
		t.Errorf("200 forks under pids.max=20: %q", out)
	}
	// What forked still sleeps: at most 20 tasks.
	u := ct.usage(t, id)
	if u.GetProcesses() < 10 || u.GetProcesses() > 20 || u.GetThreads() < u.GetProcesses() || u.GetThreads() > 20 {
		t.Errorf("processes %d, threads %d", u.GetProcesses(), u.GetThreads())
	}
	ct.cleanup(t, id)
}

// Mesos' default device allow-list: /dev/zero works, any other device
// (here a node made in a temporary directory) is refused. On the
// detected hierarchy, and on a hybrid host's cgroup2 mount too (v2's
// eBPF device program needs no controller).
func TestCgroupsDevices(t *testing.T) {
	var st unix.Statfs_t
	for _, hier := range []struct {
		name string
		opts CgroupsOptions
	}{{"detected", CgroupsOptions{}}, {"v2-hybrid", CgroupsOptions{Version: cgroups.V2, Hierarchy: "/sys/fs/cgroup/unified"}}} {
		t.Run(hier.name, func(t *testing.T) {
			if hier.opts.Hierarchy != "" && (unix.Statfs(hier.opts.Hierarchy, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC) {
				t.Skipf("no cgroup2 mount at %s", hier.opts.Hierarchy)
			}
			ct := newCgroupsTest(t, []string{"cgroups/devices"}, hier.opts)
			node := deniedDeviceNode(t)
			id := cid("devices")
			ct.prepare(t, id, &Config{Resources: resourcesOf(0.1, 32)})
			p := startHeldProcess(t, "head -c1 /dev/zero | od -An -c && echo zero ok; (: < "+node+") && echo node ok; echo tried; sleep 30")
			ct.isolate(t, id, p.pid())
			p.release(t)
			soon(t, "the device accesses", func() bool { return strings.Contains(p.out.String(), "tried") })
			if out := p.out.String(); !strings.Contains(out, "zero ok") || strings.Contains(out, "node ok") || !strings.Contains(out, "not permitted") {
				t.Errorf("output %q", out)
			}
			// Cleanup kills what runs (v2: cgroup.kill) and removes the cgroup.
			ct.cleanup(t, id)
			if err := p.wait(t); err == nil {
				t.Error("the process outlived its container's cleanup")
			}
		})
	}
}

// deniedDeviceNode makes a device node no allow-list names and that this
// process can open without isolation: the root disk's block device or,
// where raw disks are refused outright, /dev/kmsg's number (c 1:11).
func deniedDeviceNode(t *testing.T) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	type node struct {
		mode uint32
		dev  uint64
	}
	nodes := []node{{unix.S_IFCHR, unix.Mkdev(1, 11)}}
	if unix.Major(st.Dev) != 0 {
		nodes = append([]node{{unix.S_IFBLK, st.Dev}}, nodes...)
	}
	dir := t.TempDir()
	var errs []error
	for i, n := range nodes {
		path := filepath.Join(dir, fmt.Sprint(i))
		if err := unix.Mknod(path, n.mode|0o600, int(n.dev)); err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.Close()
		return path
	}
	t.Skipf("no device node to deny opens here even without isolation: %v", errors.Join(errs...))
	return ""
}

// Usage reads the statistics of every cgroups isolator; a container may
// hold several process trees; Cleanup leaves no process and no cgroup.
func TestCgroupsUsageAndCleanup(t *testing.T) {
	ct := newCgroupsTest(t, CgroupsIsolatorNames, CgroupsOptions{MaxPids: 100})
	id := cid("usage")
	ct.prepare(t, id, &Config{Resources: resourcesOf(1, 64)})
	a := startHeldProcess(t, "dd if=/dev/zero of=/dev/null bs=1M count=20 2>/dev/null; x=$(head -c 4000000 /dev/zero | tr '\\0' a); sleep 30 & sleep 30")
	b := startHeldProcess(t, "sleep 30 & exec sleep 30")
	ct.isolate(t, id, a.pid())
	ct.isolate(t, id, b.pid())
	a.release(t)
	b.release(t)
	var u *mesos.ResourceStatistics
	soon(t, "5 processes", func() bool { u = ct.usage(t, id); return u.GetProcesses() == 5 })
	if u.GetThreads() < 4 || u.CpusUserTimeSecs == nil || u.CpusSystemTimeSecs == nil || u.GetCpusUserTimeSecs()+u.GetCpusSystemTimeSecs() <= 0 ||
		u.GetMemTotalBytes() == 0 || u.MemRssBytes == nil || u.MemCacheBytes == nil || u.MemMappedFileBytes == nil ||
		u.GetMemLimitBytes() != 64<<20 || u.GetMemSoftLimitBytes() != 64<<20 || u.BlkioStatistics == nil || u.CpusLimit != nil {
		t.Errorf("usage %v", u)
	}
	// The same pid again changes nothing.
	ct.isolate(t, id, b.pid())
	ct.cleanup(t, id)
	for _, p := range []*heldProcess{a, b} {
		if err := p.wait(t); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("process %d: %v", p.pid(), err)
		}
	}
	if names, _ := ct.h.List(); len(names) != 0 {
		t.Errorf("cgroups left: %v", names)
	}
	if _, err := ct.isos[0].Usage(context.Background(), id); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("usage after cleanup: %v", err)
	}
}

// A restarted agent's isolators re-open the cgroups of the recovered
// containers and destroy the orphan ones (their processes killed).
func TestCgroupsRecover(t *testing.T) {
	names := []string{"cgroups/cpu", "cgroups/mem", "cgroups/pids"}
	before := newCgroupsTest(t, names, CgroupsOptions{})
	known, orphan := cid("known"), cid("orphan")
	before.prepare(t, known, &Config{Resources: resourcesOf(0.5, 64)})
	before.prepare(t, orphan, &Config{Resources: resourcesOf(0.5, 64)})
	k := startHeldProcess(t, "exec sleep 30")
	o := startHeldProcess(t, "sleep 30 & exec sleep 30")
	before.isolate(t, known, k.pid())
	before.isolate(t, orphan, o.pid())
	k.release(t)
	o.release(t)

	// The agent restarts: new isolators, same root.
	opts := before.opts
	opts.Log = testLogger(t)
	after, err := NewCgroupsIsolators(names, opts)
	if err != nil {
		t.Fatal(err)
	}
	ct := &cgroupsTest{opts: opts, names: names, isos: after, h: before.h}
	states := []RecoverState{{ID: known, Pid: k.pid()}, {ID: cid("never-created"), Pid: 1}}
	for _, iso := range after {
		if err := iso.Recover(context.Background(), states); err != nil {
			t.Fatalf("recover %s: %v", iso.Name(), err)
		}
	}
	if err := o.wait(t); err == nil {
		t.Error("the orphan's process survived")
	}
	if got, _ := before.h.List(); len(got) != 1 || got[0] != "known" {
		t.Errorf("cgroups after recovery: %v", got)
	}
	if zombieOrGone(k.pid()) {
		t.Fatal("the known container's process was killed")
	}
	u := ct.usage(t, known)
	if u.GetProcesses() != 1 || u.GetMemTotalBytes() == 0 || u.GetMemLimitBytes() != 64<<20 {
		t.Errorf("usage of the recovered container %v", u)
	}
	// Its memory limit is known from the cgroup: raising works, lowering
	// does not lower it.
	if err := after[1].Update(context.Background(), known, resourcesOf(0.5, 32), nil); err != nil {
		t.Fatal(err)
	}
	if u := ct.usage(t, known); u.GetMemSoftLimitBytes() != 32<<20 {
		t.Errorf("soft limit %d", u.GetMemSoftLimitBytes())
	}
	if before.h.Version() == cgroups.V1 {
		if got := ct.file(t, "known", cgroups.Memory, "memory.limit_in_bytes"); got != fmt.Sprint(64<<20) {
			t.Errorf("hard limit lowered to %s", got)
		}
	}
	if ch := after[1].Watch(known); ch == nil {
		t.Error("no OOM watch for the recovered container")
	}
	ct.cleanup(t, known)
	if err := k.wait(t); err == nil {
		t.Error("the known container's process survived its cleanup")
	}
	// The first isolators' hold is stale now: cleaning it up stops their
	// watches and finds nothing left to kill or remove.
	before.cleanup(t, known)
	before.cleanup(t, orphan)
}

// The cost of a container's cgroups with every cgroups isolator: create
// and set up (Prepare), and remove (Cleanup), without and with a process
// to isolate and kill (its start and reaping are outside the timer).
func BenchmarkCgroupsContainer(b *testing.B) {
	ct := newCgroupsTest(b, CgroupsIsolatorNames, CgroupsOptions{EnableCFS: true, MaxPids: 100})
	cfg := &Config{Resources: resourcesOf(0.5, 64)}
	b.Run("prepare+cleanup", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			id := cid(fmt.Sprint("bench-", i))
			ct.prepare(b, id, cfg)
			ct.cleanup(b, id)
		}
	})
	b.Run("prepare+isolate+kill+cleanup", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			cmd := exec.Command("/bin/sleep", "60")
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			id := cid(fmt.Sprint("bench-proc-", i))
			b.StartTimer()
			ct.prepare(b, id, cfg)
			ct.isolate(b, id, cmd.Process.Pid)
			ct.cleanup(b, id)
			b.StopTimer()
			if err := cmd.Wait(); err == nil {
				b.Fatal("the isolated process survived its container's cleanup")
			}
			b.StartTimer()
		}
	})
	if names, err := ct.h.List(); err != nil || len(names) != 0 {
		b.Fatalf("cgroups left: %v, %v", names, err)
	}
}

// The cost of measuring one container with every cgroups isolator (what
// the agent's /monitor/statistics pays per container).
func BenchmarkCgroupsUsage(b *testing.B) {
	ct := newCgroupsTest(b, CgroupsIsolatorNames, CgroupsOptions{EnableCFS: true, MaxPids: 100})
	id := cid("usage")
	ct.prepare(b, id, &Config{Resources: resourcesOf(0.5, 64)})
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	ct.isolate(b, id, cmd.Process.Pid)
	var u *mesos.ResourceStatistics
	for b.Loop() {
		u = ct.usage(b, id)
	}
	if u.GetProcesses() != 1 || u.GetCpusLimit() != 0.5 || u.GetMemLimitBytes() != 64<<20 {
		b.Errorf("usage %v", u)
	}
	ct.cleanup(b, id)
	cmd.Wait()
}

// The isolators on cgroup v2, against a fake unified tree with the
// kernel's file formats (this host's cgroup2 mount has no cpu, memory,
// pids or io controller): what Prepare and Update write, what Usage
// reads, and an OOM in memory.events becoming the memory limitation.
func TestCgroupsV2Files(t *testing.T) {
	mount := t.TempDir()
	root := filepath.Join(mount, "mezzo")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{mount, root} {
		for f, s := range map[string]string{"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n", "cgroup.subtree_control": ""} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	names := []string{"cgroups/cpu", "cgroups/mem", "cgroups/pids", "cgroups/blkio"}
	isos, err := NewCgroupsIsolators(names, CgroupsOptions{Version: cgroups.V2, Hierarchy: mount, MaxPids: 50, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ct := &cgroupsTest{isos: isos, names: names}
	id := cid("c")
	cfg := &Config{Resources: resourcesOf(0.5, 64), Limits: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}}}
	// cgroups/cpu creates the cgroup; the kernel would make the
	// memory.events that cgroups/mem watches.
	if err := isos[0].Prepare(context.Background(), id, cfg, &launcher.Isolation{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "c")
	if err := os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, iso := range isos[1:] {
		if err := iso.Prepare(context.Background(), id, cfg, &launcher.Isolation{}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(f string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for f, want := range map[string]string{"cpu.weight": "59", "cpu.max": "200000 100000", "memory.max": "67108864", "memory.low": "67108864", "pids.max": "50"} {
		if got := read(f); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if err := isos[1].Update(context.Background(), id, resourcesOf(0.5, 128), map[string]*mesos.Value_Scalar{"mem": {Value: proto.Float64(math.Inf(1))}}); err != nil {
		t.Fatal(err)
	}
	if read("memory.max") != "max" || read("memory.low") != "134217728" {
		t.Errorf("memory.max %s, memory.low %s", read("memory.max"), read("memory.low"))
	}
	if err := isos[1].Update(context.Background(), id, resourcesOf(0.5, 64), nil); err != nil {
		t.Fatal(err)
	}
	if read("memory.max") != "max" {
		t.Errorf("memory.max lowered to %s", read("memory.max"))
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte("67108864\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writes := map[string]string{
		"cgroup.procs":   "41\n42\n",
		"cpu.stat":       "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 40\nnr_throttled 4\nthrottled_usec 500000\n",
		"memory.stat":    "anon 10485760\nfile 4194304\nfile_mapped 1048576\nunevictable 0\nkernel_stack 16384\nslab 16384\n",
		"memory.current": "14680064\n", "memory.peak": "67108864\n",
		"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
		"pids.current":  "9\n",
		"io.stat":       "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
	}
	for f, s := range writes {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u := ct.usage(t, id)
	want := &mesos.ResourceStatistics{
		Processes: proto.Uint32(2), Threads: proto.Uint32(9),
		CpusUserTimeSecs: proto.Float64(2), CpusSystemTimeSecs: proto.Float64(1), CpusLimit: proto.Float64(2),
		CpusNrPeriods: proto.Uint32(40), CpusNrThrottled: proto.Uint32(4), CpusThrottledTimeSecs: proto.Float64(0.5),
		MemTotalBytes: proto.Uint64(14 << 20), MemRssBytes: proto.Uint64(10 << 20), MemAnonBytes: proto.Uint64(10 << 20),
		MemCacheBytes: proto.Uint64(4 << 20), MemFileBytes: proto.Uint64(4 << 20), MemMappedFileBytes: proto.Uint64(1 << 20),
		MemSwapBytes: proto.Uint64(0), MemUnevictableBytes: proto.Uint64(0), MemKmemUsageBytes: proto.Uint64(32768),
		MemSoftLimitBytes: proto.Uint64(64 << 20),
		BlkioStatistics: &mesos.CgroupInfo_Blkio_Statistics{Throttling: []*mesos.CgroupInfo_Blkio_Throttling_Statistics{{
			Device: &mesos.Device_Number{MajorNumber: proto.Uint64(254), MinorNumber: proto.Uint64(0)},
			IoServiced: []*mesos.CgroupInfo_Blkio_Value{
				{Op: mesos.CgroupInfo_Blkio_TOTAL.Enum(), Value: proto.Uint64(3)},
				{Op: mesos.CgroupInfo_Blkio_READ.Enum(), Value: proto.Uint64(1)},
				{Op: mesos.CgroupInfo_Blkio_WRITE.Enum(), Value: proto.Uint64(2)}},
			IoServiceBytes: []*mesos.CgroupInfo_Blkio_Value{
				{Op: mesos.CgroupInfo_Blkio_TOTAL.Enum(), Value: proto.Uint64(12288)},
				{Op: mesos.CgroupInfo_Blkio_READ.Enum(), Value: proto.Uint64(4096)},
				{Op: mesos.CgroupInfo_Blkio_WRITE.Enum(), Value: proto.Uint64(8192)}},
		}}},
	}
	if !proto.Equal(u, want) {
		t.Errorf("usage\n%v\nwant\n%v", u, want)
	}

	// An OOM kill counted in memory.events is the memory limitation.
	ch := isos[1].Watch(id)
	if ch == nil {
		t.Fatal("cgroups/mem does not watch")
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-ch:
		if l.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY ||
			!strings.HasPrefix(l.Message, "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB\n\nMEMORY STATISTICS: \nanon 10485760") ||
			l.Resources[0].GetScalar().GetValue() != 64 {
			t.Errorf("limitation %v %q", l.Resources, l.Message)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no limitation")
	}
	if got := isos[1].(*CgroupsMemIsolator).OOMs(); got != 1 {
		t.Errorf("OOMs %d", got)
	}
	// Cleanup: nothing listed inside any more, the directory goes.
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ct.cleanup(t, id)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup left: %v", err)
	}
}
