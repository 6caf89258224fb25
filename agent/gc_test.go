package agent

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

func TestMaxAllowedAge(t *testing.T) {
	week := 7 * 24 * time.Hour
	for _, c := range []struct {
		delay    time.Duration
		headroom float64
		usage    float64
		want     time.Duration
	}{
		{week, 0.1, 0, time.Duration(0.9 * float64(week))},
		{week, 0.1, 0.4, time.Duration(0.5 * float64(week))},
		{week, 0.1, 0.9, 0},  // the headroom is used up: everything goes
		{week, 0.1, 0.97, 0}, // never negative
		{week, 0, 0.25, time.Duration(0.75 * float64(week))},
		{time.Hour, 1, 0, 0}, // headroom 1: always prune everything
		{time.Hour, 0, 1, 0}, // a full disk
		{200 * time.Millisecond, 0.1, 0.5, 80 * time.Millisecond},
	} {
		got := maxAllowedAge(c.delay, c.headroom, c.usage)
		if d := got - c.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("maxAllowedAge(%v, %v, %v) = %v, want %v", c.delay, c.headroom, c.usage, got, c.want)
		}
	}
}

func TestGCCore(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	var g gcCore
	if _, ok := g.next(time.Hour); ok || g.len() != 0 || len(g.due(t0, 0, true)) != 0 {
		t.Fatal("an empty collector has something to do")
	}
	g.schedule("/w/a", t0)
	g.schedule("/w/a/b", t0.Add(time.Minute))
	g.schedule("/w/c", t0.Add(2*time.Minute))
	if at, ok := g.next(time.Hour); !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("next = %v %v, want %v", at, ok, t0.Add(time.Hour))
	}
	// Older = scheduled longer ago; a directory's descendants first.
	if got, want := g.due(t0.Add(2*time.Minute), time.Minute, false), []string{"/w/a/b", "/w/a"}; !slices.Equal(got, want) {
		t.Errorf("due = %v, want %v", got, want)
	}
	if got := g.due(t0.Add(59*time.Second), time.Minute, false); len(got) != 0 {
		t.Errorf("due before a minute = %v", got)
	}
	// Rescheduling moves the age's start.
	g.schedule("/w/a", t0.Add(3*time.Minute))
	if got, want := g.due(t0.Add(3*time.Minute), time.Minute, false), []string{"/w/c", "/w/a/b"}; !slices.Equal(got, want) {
		t.Errorf("due after rescheduling = %v, want %v", got, want)
	}
	// A path whose removal failed waits for a retry.
	g.markFailed("/w/a/b")
	if got, want := g.due(t0.Add(time.Hour), 0, false), []string{"/w/c", "/w/a"}; !slices.Equal(got, want) {
		t.Errorf("due without retry = %v, want %v", got, want)
	}
	if got := g.due(t0.Add(time.Hour), 0, true); len(got) != 3 {
		t.Errorf("due with retry = %v, want all three", got)
	}
	if at, _ := g.next(time.Hour); !at.Equal(t0.Add(time.Hour + 2*time.Minute)) {
		t.Errorf("next skips failed paths: got %v", at)
	}
	if !g.unschedule("/w/c") || g.unschedule("/w/c") || g.scheduled("/w/c") || g.len() != 2 {
		t.Errorf("unschedule: %v", g.paths)
	}
}

func TestGCFlags(t *testing.T) {
	cfg := Defaults()
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	cfg.AddFlags(fs)
	for name, want := range map[string]string{"gc_delay": "1weeks", "gc_disk_headroom": "0.1", "disk_watch_interval": "1mins"} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("--%s defaults to %q, want %q (Mesos')", name, got, want)
		}
	}
	if err := fs.Parse([]string{"--gc_delay=3days", "--gc_disk_headroom=0.25", "--disk_watch_interval=10secs"}); err != nil {
		t.Fatal(err)
	}
	if cfg.GCDelay != 72*time.Hour || cfg.GCDiskHeadroom != 0.25 || cfg.DiskWatchInterval != 10*time.Second {
		t.Errorf("parsed %v %v %v", cfg.GCDelay, cfg.GCDiskHeadroom, cfg.DiskWatchInterval)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.GCDiskHeadroom = -0.1 }, "--gc_disk_headroom=-0.1: must be between 0.0 and 1.0"},
		{func(c *Config) { c.GCDiskHeadroom = 1.5 }, "--gc_disk_headroom=1.5: must be between 0.0 and 1.0"},
		{func(c *Config) { c.GCDiskHeadroom = math.NaN() }, "--gc_disk_headroom=NaN"},
		{func(c *Config) { c.GCDelay = -time.Second }, "--gc_delay=-1secs: must not be negative"},
		{func(c *Config) { c.DiskWatchInterval = -time.Second }, "--disk_watch_interval=-1secs: must not be negative"},
	} {
		cfg := Defaults()
		cfg.Master, cfg.WorkDir = "127.0.0.1:5050", t.TempDir()
		c.mod(&cfg)
		if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("validate: %v, want an error with %q", err, c.want)
		}
	}
	cfg = Defaults()
	cfg.Master, cfg.WorkDir = "127.0.0.1:5050", t.TempDir()
	cfg.GCDelay, cfg.DiskWatchInterval, cfg.GCDiskHeadroom = 0, 0, 0
	if err := cfg.validate(); err != nil || cfg.GCDelay != 7*24*time.Hour || cfg.DiskWatchInterval != time.Minute || cfg.GCDiskHeadroom != 0 {
		t.Errorf("zero values: %v, %v %v %v", err, cfg.GCDelay, cfg.DiskWatchInterval, cfg.GCDiskHeadroom)
	}
}

// gcTestConfig sets a small --gc_delay and --disk_watch_interval and a
// disk usage that the test controls (0 until changed).
func gcTestConfig(delay time.Duration, usage *atomic.Value) func(*Config) {
	usage.Store(0.0)
	return func(c *Config) {
		c.GCDelay = delay
		c.DiskWatchInterval = 50 * time.Millisecond
		c.diskUsage = func(string) (float64, error) { return usage.Load().(float64), nil }
	}
}

// runDirs returns the sandbox and meta run directory of an executor the
// agent knows (live or completed).
func runDirs(t *testing.T, a *Agent, fwID, exID string) (sandbox, meta string) {
	t.Helper()
	waitFor(t, 10*time.Second, "executor "+exID, func() error {
		return a.do(func() {
			var fws []*framework
			if fw := a.st.frameworks[fwID]; fw != nil {
				fws = append(fws, fw)
			}
			for _, fw := range a.st.completedFrameworks {
				if fw.id == fwID {
					fws = append(fws, fw)
				}
			}
			for _, fw := range fws {
				exs := slices.Clone(fw.completedExecutors)
				if ex := fw.executors[exID]; ex != nil {
					exs = append(exs, ex)
				}
				for _, ex := range exs {
					if ex.id == exID {
						sandbox = ex.sandbox
						meta = a.store.RunDir(a.st.agentID(), fwID, exID, ex.containerID)
					}
				}
			}
		})
	})
	if sandbox == "" {
		t.Fatalf("no executor %s of %s", exID, fwID)
	}
	return sandbox, meta
}

// waitForgotten waits until the agent moved exID to the completed
// executors (every update of its tasks acknowledged).
func waitForgotten(t *testing.T, a *Agent, fwID, exID string) {
	t.Helper()
	waitFor(t, 30*time.Second, exID+" completed", func() error {
		done := false
		a.do(func() {
			fw := a.st.frameworks[fwID]
			for _, f := range a.st.completedFrameworks {
				if f.id == fwID {
					fw = f
				}
			}
			if fw == nil {
				return
			}
			for _, ex := range fw.completedExecutors {
				done = done || ex.id == exID
			}
		})
		if !done {
			return errors.New("still live")
		}
		return nil
	})
}

func gcScheduled(t *testing.T, a *Agent) []string {
	t.Helper()
	var out []string
	if err := a.do(func() {
		for p := range a.st.gc.core.paths {
			out = append(out, p)
		}
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// wantMaxAge waits until slave/executor_directory_max_allowed_age_secs
// is secs (within a microsecond).
func wantMaxAge(t *testing.T, a *Agent, secs float64) {
	t.Helper()
	waitFor(t, 10*time.Second, "max allowed age", func() error {
		got := getMetrics(t, a)["slave/executor_directory_max_allowed_age_secs"]
		if math.Abs(got-secs) > 1e-6 {
			return fmt.Errorf("slave/executor_directory_max_allowed_age_secs = %v, want %v", got, secs)
		}
		return nil
	})
}

func waitGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		waitFor(t, 10*time.Second, p+" removed", func() error {
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
}

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// A finished executor run's sandbox and meta run directory, and the
// executor's directories, are removed after --gc_delay; the sandbox of a
// running executor of the same framework, and the framework's
// directories, stay.
func TestGCRemovesFinishedRun(t *testing.T) {
	m := newFakeMaster(t)
	var usage atomic.Value
	a := startAgent(t, m, gcTestConfig(200*time.Millisecond, &usage))
	fi := frameworkInfo("F1", true)
	m.send(runTask(fi, nil, commandTask("long", "sleep 300"), nil))
	m.waitState(t, "long", mesos.TaskState_TASK_RUNNING)
	m.send(runTask(fi, nil, commandTask("short", "echo hi"), nil))
	m.waitState(t, "short", mesos.TaskState_TASK_FINISHED)
	waitForgotten(t, a, "F1", "short")
	sandbox, meta := runDirs(t, a, "F1", "short")
	longSandbox, longMeta := runDirs(t, a, "F1", "long")

	waitGone(t, sandbox, meta, filepath.Dir(filepath.Dir(sandbox)), filepath.Dir(filepath.Dir(meta)))
	mustExist(t, longSandbox, longMeta, filepath.Join(filepath.Dir(longSandbox), "latest"),
		frameworkWorkDir(a.cfg.WorkDir, "M1-S0", "F1"), a.store.FrameworkDir("M1-S0", "F1"))
	if got := gcScheduled(t, a); len(got) != 0 {
		t.Errorf("still scheduled: %v", got)
	}
	wantMetrics(t, a, "gc metrics", map[string]float64{
		"gc/path_removals_succeeded": 4, "gc/path_removals_failed": 0, "gc/path_removals_pending": 0,
	})
	wantMaxAge(t, a, 0.18)
	// Nothing is left in .gc.
	waitFor(t, 5*time.Second, ".gc empty", func() error {
		ents, err := os.ReadDir(filepath.Join(a.cfg.WorkDir, gcTrashDir))
		if err != nil || len(ents) > 0 {
			return fmt.Errorf("%v %v", ents, err)
		}
		return nil
	})
}

// The disk usage shortens the delay: with --gc_delay=1hrs nothing goes
// while the disk is empty, and everything scheduled goes at the next disk
// check once usage passes 1 - gc_disk_headroom. Directories in use are
// never removed, even when scheduled by mistake.
func TestGCDiskUsagePrunes(t *testing.T) {
	m := newFakeMaster(t)
	var usage atomic.Value
	a := startAgent(t, m, gcTestConfig(time.Hour, &usage))
	fi := frameworkInfo("F1", false)
	m.send(runTask(fi, nil, commandTask("long", "sleep 300"), nil))
	m.waitState(t, "long", mesos.TaskState_TASK_RUNNING)
	m.send(runTask(fi, nil, commandTask("short", "true"), nil))
	m.waitState(t, "short", mesos.TaskState_TASK_FINISHED)
	waitForgotten(t, a, "F1", "short")
	sandbox, _ := runDirs(t, a, "F1", "short")
	longSandbox, _ := runDirs(t, a, "F1", "long")
	if got := gcScheduled(t, a); !slices.Contains(got, sandbox) {
		t.Fatalf("scheduled %v, want %s among them", got, sandbox)
	}
	wantMetrics(t, a, "pending removals", map[string]float64{"gc/path_removals_pending": 2})
	wantMaxAge(t, a, 3240) // 1hrs × (1 − 0.1 − 0)
	mustExist(t, sandbox)

	usage.Store(0.5)
	wantMaxAge(t, a, 1440) // 1hrs × (1 − 0.1 − 0.5)
	mustExist(t, sandbox)

	usage.Store(0.95)
	waitGone(t, sandbox, filepath.Dir(filepath.Dir(sandbox)))
	wantMaxAge(t, a, 0)
	wantMetrics(t, a, "removals", map[string]float64{"gc/path_removals_succeeded": 2, "gc/path_removals_pending": 0})

	// The running executor's sandbox survives being scheduled.
	a.do(func() { a.gcSchedule(longSandbox, true) })
	waitFor(t, 10*time.Second, "the live sandbox to be dropped from the schedule", func() error {
		if got := gcScheduled(t, a); len(got) > 0 {
			return fmt.Errorf("scheduled %v", got)
		}
		return nil
	})
	mustExist(t, longSandbox)
	m.waitState(t, "long", mesos.TaskState_TASK_RUNNING)
	if st := m.statuses("long"); st[len(st)-1].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("long task: %v", states(st))
	}
}

// A framework's sandbox and meta directories go after it is shut down;
// a framework that comes back (and an executor id run again) has its
// directories unscheduled.
func TestGCFramework(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		m := newFakeMaster(t)
		var usage atomic.Value
		a := startAgent(t, m, gcTestConfig(200*time.Millisecond, &usage))
		m.send(runTask(frameworkInfo("F2", true), nil, commandTask("long", "sleep 300"), nil))
		m.waitState(t, "long", mesos.TaskState_TASK_RUNNING)
		work, meta := frameworkWorkDir(a.cfg.WorkDir, "M1-S0", "F2"), a.store.FrameworkDir("M1-S0", "F2")
		mustExist(t, work, meta)
		m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
			ShutdownFramework: &agentproto.AgentEvent_ShutdownFramework{FrameworkId: &mesos.FrameworkID{Value: proto.String("F2")}}})
		waitGone(t, work, meta)
		mustExist(t, filepath.Join(a.cfg.WorkDir, "slaves", "M1-S0"), a.store.AgentDir("M1-S0"))
	})
	t.Run("comes back", func(t *testing.T) {
		m := newFakeMaster(t)
		var usage atomic.Value
		a := startAgent(t, m, gcTestConfig(time.Hour, &usage))
		fi := frameworkInfo("F3", false)
		m.send(runTask(fi, nil, commandTask("t1", "true"), nil))
		m.waitState(t, "t1", mesos.TaskState_TASK_FINISHED)
		waitForgotten(t, a, "F3", "t1")
		first, _ := runDirs(t, a, "F3", "t1")
		work := frameworkWorkDir(a.cfg.WorkDir, "M1-S0", "F3")
		exDir := executorDir(a.cfg.WorkDir, "M1-S0", "F3", "t1")
		waitFor(t, 10*time.Second, "framework scheduled", func() error {
			if got := gcScheduled(t, a); !slices.Equal(got, []string{work, exDir, first}) {
				return fmt.Errorf("scheduled %v", got)
			}
			return nil
		})
		// The same framework, and the same executor id, again.
		m.send(runTask(fi, nil, commandTask("t1", "sleep 300"), nil))
		waitFor(t, 10*time.Second, "a new run of t1", func() error {
			live := false
			a.do(func() { live = a.st.frameworks["F3"] != nil && a.st.frameworks["F3"].executors["t1"] != nil })
			if !live {
				return errors.New("not yet")
			}
			return nil
		})
		if got := gcScheduled(t, a); !slices.Equal(got, []string{first}) {
			t.Errorf("scheduled %v; want only the first run %s", got, first)
		}
		usage.Store(1.0)
		waitGone(t, first)
		second, _ := runDirs(t, a, "F3", "t1")
		mustExist(t, second, filepath.Join(exDir, "runs", "latest"))
	})
}

// A restarted agent schedules what its checkpoint says is over: the
// latest run when complete and older runs, aged from their modification
// times; and it deletes what a previous run left in .gc.
func TestGCRecovery(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	var usage atomic.Value
	cfg := recoveryConfig(m, work)
	gcTestConfig(time.Hour, &usage)(&cfg)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	waitRegistered(t, m, 1)
	m.send(runTask(frameworkInfo("F1", true), nil, commandTask("long", "sleep 300"), nil))
	m.waitState(t, "long", mesos.TaskState_TASK_RUNNING)
	m.send(runTask(frameworkInfo("F1", true), nil, commandTask("done", "true"), nil))
	m.waitState(t, "done", mesos.TaskState_TASK_FINISHED)
	waitForgotten(t, a1, "F1", "done")
	sandbox, meta := runDirs(t, a1, "F1", "done")
	longSandbox, longMeta := runDirs(t, a1, "F1", "long")
	addr := a1.Endpoint()
	a1.Detach()

	// An older run of the live executor, and the finished run, were last
	// touched two hours ago: past the delay. A leftover of a removal the
	// previous agent did not finish waits in .gc.
	oldRun := filepath.Join(filepath.Dir(longSandbox), "old-run")
	oldMeta := filepath.Join(filepath.Dir(longMeta), "old-run")
	leftover := filepath.Join(work, gcTrashDir, "leftover")
	for _, d := range []string{oldRun, oldMeta, filepath.Join(leftover, "x")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	for _, d := range []string{oldRun, oldMeta, sandbox, meta} {
		if err := os.Chtimes(d, past, past); err != nil {
			t.Fatal(err)
		}
	}

	a2 := serveAt(t, cfg, addr)
	waitRegistered(t, m, 2)
	waitGone(t, sandbox, meta, oldRun, oldMeta, leftover)
	mustExist(t, longSandbox, longMeta)
	// The finished executor's directories were touched by the first
	// agent when it scheduled them: they wait for the rest of the hour.
	got := gcScheduled(t, a2)
	want := []string{a2.store.ExecutorDir("M1-S0", "F1", "done"), executorDir(work, "M1-S0", "F1", "done")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("scheduled after recovery %v, want %v", got, want)
	}
	wantMetrics(t, a2, "gc metrics", map[string]float64{"gc/path_removals_succeeded": 5, "gc/path_removals_pending": 2})
}

// Removal never follows a symlink out of the work dir: links a task made
// in its sandbox, a runs/latest pointed elsewhere, and a link to a
// directory inside the work dir are removed, never their targets. A path
// whose parent became a symlink out of the work dir is not removed; the
// failure is counted and retried until the path is safe again.
func TestGCSymlinks(t *testing.T) {
	m := newFakeMaster(t)
	var usage atomic.Value
	a := startAgent(t, m, gcTestConfig(200*time.Millisecond, &usage))
	outside, outside2 := t.TempDir(), t.TempDir()
	inside := filepath.Join(a.cfg.WorkDir, "volumes", "roles", "r", "v1")
	for _, d := range []string{outside, outside2, inside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "keep"), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := fmt.Sprintf("ln -s %s escape && ln -s %s/keep escape-file && ln -s %s volume && ln -sfn %s ../latest",
		outside, outside, inside, outside2)
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("links", cmd), nil))
	m.waitState(t, "links", mesos.TaskState_TASK_FINISHED)
	waitForgotten(t, a, "F1", "links")
	sandbox, _ := runDirs(t, a, "F1", "links")
	waitGone(t, sandbox, frameworkWorkDir(a.cfg.WorkDir, "M1-S0", "F1"))
	for _, d := range []string{outside, outside2, inside} {
		if b, err := os.ReadFile(filepath.Join(d, "keep")); err != nil || string(b) != "data" {
			t.Errorf("%s/keep: %q %v", d, b, err)
		}
	}

	// A scheduled directory whose parent is swapped for a link outside.
	base := filepath.Join(a.cfg.WorkDir, "slaves", "M1-S0", "frameworks", "FX")
	victim := filepath.Join(base, "executors", "e", "runs", "r")
	if err := os.MkdirAll(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(outside, "executors", "e", "runs", "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	a.do(func() { a.gcSchedule(victim, true) })
	if err := os.Rename(base, base+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, base); err != nil {
		t.Fatal(err)
	}
	wantFailures := func(n float64) {
		waitFor(t, 10*time.Second, "failed removals", func() error {
			if got := getMetrics(t, a)["gc/path_removals_failed"]; got < n {
				return fmt.Errorf("gc/path_removals_failed = %v", got)
			}
			return nil
		})
	}
	wantFailures(2) // failed, then failed again at a later disk check
	mustExist(t, filepath.Join(outside, "executors", "e", "runs", "r"), filepath.Join(outside, "keep"))
	if err := os.Remove(base); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(base+".real", base); err != nil {
		t.Fatal(err)
	}
	waitGone(t, victim)
	mustExist(t, filepath.Join(base, "executors", "e", "runs"), filepath.Join(outside, "executors", "e", "runs", "r"))
}

// A path scheduled while the timer waits for a later one, with an age
// that already counts from its older modification time, gets the timer
// moved to its own time: it is removed then, without a disk check, and
// the later path stays.
func TestGCEarlierPathMovesTimer(t *testing.T) {
	m := newFakeMaster(t)
	var usage atomic.Value
	a := startAgent(t, m, func(c *Config) {
		gcTestConfig(time.Hour, &usage)(c)
		c.DiskWatchInterval = time.Hour
	})
	later := filepath.Join(a.cfg.WorkDir, "gc-test", "later")
	earlier := filepath.Join(a.cfg.WorkDir, "gc-test", "earlier")
	for _, d := range []string{later, earlier} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour + 300*time.Millisecond)
	if err := os.Chtimes(earlier, old, old); err != nil {
		t.Fatal(err)
	}
	a.do(func() {
		a.gcSchedule(later, true)
		a.gcSchedule(earlier, false)
	})
	waitGone(t, earlier)
	mustExist(t, later)
}
