package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sandbox garbage collection, with the semantics of Mesos' agent
// (src/slave/gc.cpp and the code of slave.cpp that feeds it).
//
// What is scheduled, and when:
//
//   - When the agent forgets an executor (cleanup: it terminated and every
//     update of its tasks was acknowledged, or its framework is shutting
//     down): the run's sandbox, slaves/.../executors/<ex>/runs/<container>,
//     and the executor's directory executors/<ex> (which holds
//     runs/latest); for checkpointing frameworks also the same two
//     directories under meta/.
//   - When the agent forgets a framework (no executors and no pending
//     updates left): its sandbox directory frameworks/<fw>, and its meta
//     directory when it checkpoints.
//   - In recovery: every run of an executor but its latest; the latest run
//     and the executor's directories when that run is complete; the
//     directories of an executor without a recoverable run; the work and
//     meta directories of other agent ids found under slaves/. Beyond
//     Mesos, the sandboxes of frameworks that no recovered framework
//     accounts for (those that did not checkpoint, whose tasks died with
//     the previous agent) are scheduled too.
//
// A directory needed again is unscheduled: a framework the agent knows
// again (a.framework), a new run of an executor id (newExecutor), the
// agent's own id once registered.
//
// Age: a path's age counts from when it was scheduled; the agent sets its
// modification time then, and recovery counts from the modification time,
// so a restart keeps the clock running. A path is removed when its age
// reaches --gc_delay (one timer, on the agent's clock, for the earliest),
// and every --disk_watch_interval the agent measures the file system
// holding --work_dir and removes every path older than
// gc_delay × max(0, 1 − gc_disk_headroom − usage) — all of them when the
// disk is (1 − headroom) full.
//
// Removal: on the state goroutine the path is renamed into
// <work_dir>/.gc/ (one rename, so a framework or executor coming back
// afterwards gets fresh directories and nothing of it is deleted); a
// goroutine of its own then deletes the renamed tree. Both go through an
// os.Root of --work_dir: no symlink is followed out of the work dir, and
// links inside the tree (runs/latest, persistent volumes, links tasks
// made) are removed, never their targets. When the rename is not possible
// because the path is on another file system than .gc, the path is
// deleted where it is. Failures are logged, counted and retried at the
// next disk check. What a previous run left in .gc is deleted at start.

// gcTrashDir is where paths wait for deletion, relative to --work_dir.
const gcTrashDir = ".gc"

// gcCore is the pure part of the garbage collector: the scheduled paths
// and since when. It does no I/O and reads no clock; the state goroutine
// owns it.
type gcCore struct {
	paths map[string]*gcEntry
}

// gcEntry is one scheduled path.
type gcEntry struct {
	// since is when the path's age starts counting.
	since time.Time
	// failed: the last attempt to remove the path failed; it waits for
	// the next prune rather than for its deadline.
	failed bool
}

// schedule adds path, or moves the start of its age to since when it is
// already scheduled.
func (g *gcCore) schedule(path string, since time.Time) {
	if g.paths == nil {
		g.paths = map[string]*gcEntry{}
	}
	g.paths[path] = &gcEntry{since: since}
}

// unschedule removes path; false when it was not scheduled.
func (g *gcCore) unschedule(path string) bool {
	if _, ok := g.paths[path]; !ok {
		return false
	}
	delete(g.paths, path)
	return true
}

// scheduled reports whether path is scheduled.
func (g *gcCore) scheduled(path string) bool {
	_, ok := g.paths[path]
	return ok
}

// markFailed makes path wait for the next prune with retry.
func (g *gcCore) markFailed(path string) {
	if e := g.paths[path]; e != nil {
		e.failed = true
	}
}

// len is the number of scheduled paths.
func (g *gcCore) len() int { return len(g.paths) }

// due returns the paths whose age at now is at least age, in reverse
// lexical order, so that a directory's scheduled descendants come before
// it. Paths whose last removal failed are included only with retry.
func (g *gcCore) due(now time.Time, age time.Duration, retry bool) []string {
	var out []string
	for p, e := range g.paths {
		if (retry || !e.failed) && now.Sub(e.since) >= age {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// next returns when the first path not waiting for a retry reaches the
// age delay; false when there is none.
func (g *gcCore) next(delay time.Duration) (time.Time, bool) {
	var at time.Time
	found := false
	for _, e := range g.paths {
		if e.failed {
			continue
		}
		if t := e.since.Add(delay); !found || t.Before(at) {
			at, found = t, true
		}
	}
	return at, found
}

// maxAllowedAge is the age beyond which a scheduled directory is removed
// at a disk usage (the used fraction of the file system, 0 to 1), as
// Mesos computes it: delay × max(0, 1 − headroom − usage).
func maxAllowedAge(delay time.Duration, headroom, usage float64) time.Duration {
	return time.Duration(float64(delay) * max(0, 1-headroom-usage))
}

// fsUsage is the used fraction of the file system holding dir, as Mesos
// measures it: (blocks − free blocks) / blocks.
func fsUsage(dir string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Blocks == 0 {
		return 0, fmt.Errorf("statfs %s: the file system reports no blocks", dir)
	}
	return float64(st.Blocks-st.Bfree) / float64(st.Blocks), nil
}

// gcState is the garbage collector's part of the agent's state (state
// goroutine).
type gcState struct {
	core gcCore
	// timer fires at timerAt, when the first scheduled path reaches
	// --gc_delay; timerGen tells a stale firing from the current one.
	timer    Timer
	timerAt  time.Time
	timerGen uint64
	// diskTimer fires the next disk check.
	diskTimer Timer
	// maxAge is the age allowed by the last disk check (Mesos'
	// executor_directory_max_allowed_age).
	maxAge time.Duration
	// removing counts paths taken out of the tree and not yet deleted;
	// retry holds those whose deletion failed, queued again at the next
	// disk check.
	removing int
	retry    []gcTrash
}

// gcTrash is a path taken out of the tree, waiting for deletion.
type gcTrash struct {
	// path is where it was scheduled (for logs).
	path string
	// name is where it is now, relative to --work_dir.
	name string
}

func (g *gcState) stopTimers() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if g.diskTimer != nil {
		g.diskTimer.Stop()
		g.diskTimer = nil
	}
}

// initGC opens --work_dir for the garbage collector; New calls it before
// recovery, which already schedules paths.
func (a *Agent) initGC() error {
	root, err := os.OpenRoot(a.cfg.WorkDir)
	if err != nil {
		return fmt.Errorf("--work_dir=%s: %w", a.cfg.WorkDir, err)
	}
	a.gcRoot = root
	a.gcQueue = newQueue[gcTrash]()
	a.st.gc.maxAge = maxAllowedAge(a.cfg.GCDelay, a.cfg.GCDiskHeadroom, 0)
	return nil
}

// startGC runs after recovery, before the state goroutine: it schedules
// the other agents' directories and orphaned framework sandboxes, queues
// what a previous run left in .gc, and starts the deleting goroutine and
// the disk checks.
func (a *Agent) startGC() {
	a.gcOldAgents()
	a.gcOrphanFrameworks()
	a.gcLeftoverTrash()
	a.watchDisk()
}

// frameworkWorkDir is a framework's sandbox directory,
// <work_dir>/slaves/<agent>/frameworks/<fw>.
func frameworkWorkDir(workDir, agentID, fwID string) string {
	return filepath.Join(workDir, "slaves", agentID, "frameworks", fwID)
}

// gcRel returns path relative to --work_dir; false when it is not
// strictly inside it.
func (a *Agent) gcRel(path string) (string, bool) {
	rel, err := filepath.Rel(a.cfg.WorkDir, path)
	if err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) ||
		strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// gcSchedule schedules a directory under --work_dir (state goroutine).
// With touch its age starts now, and its modification time is set to now
// so that a restarted agent finds it as old; without (recovery) its age
// counts from its modification time. Paths that do not exist are
// skipped.
func (a *Agent) gcSchedule(path string, touch bool) {
	rel, ok := a.gcRel(path)
	if !ok {
		a.log.Error("refusing to garbage-collect a path outside --work_dir", "path", path)
		return
	}
	// The parent is opened once (through the root, which keeps the walk
	// inside --work_dir) and the path looked at and touched from it.
	parent, err := a.gcRoot.Open(filepath.Dir(rel))
	var st unix.Stat_t
	if err == nil {
		err = unix.Fstatat(int(parent.Fd()), filepath.Base(rel), &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			parent.Close()
		}
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("cannot schedule a directory for garbage collection", "path", path, "err", err)
		}
		return
	}
	now := a.clock.Now()
	since := now
	if touch {
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			ts := unix.NsecToTimespec(now.UnixNano())
			if err := unix.UtimesNanoAt(int(parent.Fd()), filepath.Base(rel), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				a.log.Debug("cannot update the modification time of a directory scheduled for garbage collection", "path", path, "err", err)
			}
		}
	} else if mt := time.Unix(st.Mtim.Unix()); mt.Before(now) {
		since = mt
	}
	parent.Close()
	a.st.gc.core.schedule(path, since)
	a.log.Info("scheduled a directory for garbage collection", "path", path,
		"in", max(0, a.cfg.GCDelay-now.Sub(since)).Round(time.Millisecond))
	a.gcArmFor(since.Add(a.cfg.GCDelay))
}

// gcUnschedule keeps path: it is needed again (state goroutine).
func (a *Agent) gcUnschedule(path string) {
	if a.st.gc.core.unschedule(path) {
		a.log.Info("unscheduled a directory from garbage collection", "path", path)
	}
}

// gcExecutor schedules the directories of an executor run the agent
// forgot (cleanup).
func (a *Agent) gcExecutor(ex *executor) {
	id := a.st.agentID()
	a.gcSchedule(ex.sandbox, true)
	a.gcSchedule(executorDir(a.cfg.WorkDir, id, ex.fw.id, ex.id), true)
	if ex.checkpointed {
		r := ex.runID
		a.gcSchedule(a.store.RunDir(r.AgentID, r.FrameworkID, r.ExecutorID, r.ContainerID), true)
		a.gcSchedule(a.store.ExecutorDir(r.AgentID, r.FrameworkID, r.ExecutorID), true)
	}
}

// gcFramework schedules the directories of a framework the agent forgot
// (cleanup).
func (a *Agent) gcFramework(fw *framework) {
	id := a.st.agentID()
	if id == "" {
		return
	}
	a.gcSchedule(frameworkWorkDir(a.cfg.WorkDir, id, fw.id), true)
	if fw.info.GetCheckpoint() {
		a.gcSchedule(a.store.FrameworkDir(id, fw.id), true)
	}
}

// gcUnscheduleFramework keeps the directories of a framework the agent
// knows again.
func (a *Agent) gcUnscheduleFramework(fwID string) {
	id := a.st.agentID()
	if id == "" {
		return
	}
	a.gcUnschedule(frameworkWorkDir(a.cfg.WorkDir, id, fwID))
	a.gcUnschedule(a.store.FrameworkDir(id, fwID))
}

// gcUnscheduleExecutor keeps the directories of an executor id that gets
// a new run (its older runs stay scheduled).
func (a *Agent) gcUnscheduleExecutor(fwID, exID string) {
	id := a.st.agentID()
	a.gcUnschedule(executorDir(a.cfg.WorkDir, id, fwID, exID))
	a.gcUnschedule(a.store.ExecutorDir(id, fwID, exID))
}

// gcUnscheduleAgent keeps the directories of the agent's own id (the
// master may hand out an id whose directories were scheduled as an old
// agent's).
func (a *Agent) gcUnscheduleAgent(id string) {
	a.gcUnschedule(filepath.Join(a.cfg.WorkDir, "slaves", id))
	a.gcUnschedule(a.store.AgentDir(id))
}

// gcRecoveredRun schedules a run that recovery found complete or
// superseded: its sandbox and meta run directory, aged from their
// modification times.
func (a *Agent) gcRecoveredRun(fwID, exID, containerID string) {
	id := a.st.agentID()
	a.gcSchedule(filepath.Join(executorDir(a.cfg.WorkDir, id, fwID, exID), "runs", containerID), false)
	a.gcSchedule(a.store.RunDir(id, fwID, exID, containerID), false)
}

// gcRecoveredExecutor schedules the directories of an executor that
// recovery found without a live run.
func (a *Agent) gcRecoveredExecutor(fwID, exID string) {
	id := a.st.agentID()
	a.gcSchedule(executorDir(a.cfg.WorkDir, id, fwID, exID), false)
	a.gcSchedule(a.store.ExecutorDir(id, fwID, exID), false)
}

// gcOldAgents schedules the work and meta directories of every agent id
// under slaves/ but the agent's own (all of them when it starts as a new
// agent), as Mesos does after recovery.
func (a *Agent) gcOldAgents() {
	ents, err := fs.ReadDir(a.gcRoot.FS(), "slaves")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("cannot list old agents' directories for garbage collection", "err", err)
		}
		return
	}
	own := a.st.agentID()
	for _, e := range ents {
		if !e.IsDir() || e.Name() == own {
			continue
		}
		a.log.Info("garbage-collecting the directories of an old agent", "agent_id", e.Name())
		a.gcSchedule(filepath.Join(a.cfg.WorkDir, "slaves", e.Name()), true)
		a.gcSchedule(a.store.AgentDir(e.Name()), true)
	}
}

// gcOrphanFrameworks schedules the sandboxes of the recovered agent's
// frameworks that recovery did not bring back (frameworks that do not
// checkpoint: their tasks ended with the previous agent). Mesos leaves
// them on disk.
func (a *Agent) gcOrphanFrameworks() {
	id := a.st.agentID()
	if id == "" {
		return
	}
	dir := filepath.Join("slaves", id, "frameworks")
	ents, err := fs.ReadDir(a.gcRoot.FS(), dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("cannot list framework sandboxes for garbage collection", "err", err)
		}
		return
	}
	for _, e := range ents {
		path := filepath.Join(a.cfg.WorkDir, dir, e.Name())
		if !e.IsDir() || a.st.frameworks[e.Name()] != nil || a.st.gc.core.scheduled(path) {
			continue
		}
		a.gcSchedule(path, true)
	}
}

// gcLeftoverTrash queues for deletion what a previous run of the agent
// renamed into .gc and did not delete.
func (a *Agent) gcLeftoverTrash() {
	ents, err := fs.ReadDir(a.gcRoot.FS(), gcTrashDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := filepath.Join(gcTrashDir, e.Name())
		a.st.gc.removing++
		a.gcQueue.push(gcTrash{path: filepath.Join(a.cfg.WorkDir, name), name: name})
	}
}

// gcArm arms the timer for the first path to reach --gc_delay, unless
// one fires earlier already (state goroutine).
func (a *Agent) gcArm() {
	at, ok := a.st.gc.core.next(a.cfg.GCDelay)
	if !ok {
		return
	}
	a.gcArmAt(at)
}

// gcArmFor arms the timer for a path just scheduled to reach --gc_delay
// at at (state goroutine). An armed timer fires no later than every
// other path's time (gcArm and gcArmFor keep it so; a path unscheduled
// or scheduled again for later at most makes it fire early, and the
// prune re-arms), so only at need be compared with it: the scan of every
// scheduled path, which grows with the sandboxes kept for --gc_delay,
// is left for when no timer is armed.
func (a *Agent) gcArmFor(at time.Time) {
	if a.st.gc.timer == nil {
		a.gcArm()
		return
	}
	a.gcArmAt(at)
}

// gcArmAt arms the timer to fire at at unless it fires no later already
// (state goroutine).
func (a *Agent) gcArmAt(at time.Time) {
	g := &a.st.gc
	if g.timer != nil && !at.Before(g.timerAt) {
		return
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	g.timerGen++
	gen := g.timerGen
	g.timerAt = at
	g.timer = a.after(at.Sub(a.clock.Now()), func() {
		if gen != g.timerGen {
			return // re-armed since
		}
		g.timer = nil
		a.gcPrune(a.cfg.GCDelay, false)
	})
}

// watchDisk arms the next disk check: statfs runs on the timer's
// goroutine, the prune on the state goroutine.
func (a *Agent) watchDisk() {
	usage, dir := a.cfg.diskUsage, a.cfg.WorkDir
	a.st.gc.diskTimer = a.clock.AfterFunc(a.cfg.DiskWatchInterval, func() {
		u, err := usage(dir)
		a.post(func() { a.diskChecked(u, err) })
	})
}

// diskChecked applies a disk check: the allowed age follows the usage,
// and every scheduled path older than it is removed (state goroutine).
func (a *Agent) diskChecked(usage float64, err error) {
	g := &a.st.gc
	g.diskTimer = nil
	if err != nil {
		a.log.Error("failed to measure the disk usage of --work_dir", "err", err)
	} else {
		g.maxAge = maxAllowedAge(a.cfg.GCDelay, a.cfg.GCDiskHeadroom, usage)
		a.log.Debug("checked disk usage", "usage", fmt.Sprintf("%.2f%%", 100*usage), "max_allowed_age", g.maxAge)
		a.gcPrune(g.maxAge, true)
	}
	a.watchDisk()
}

// gcPrune takes every scheduled path at least age old out of the tree and
// queues it for deletion; with retry, paths and deletions that failed
// before are tried again (state goroutine).
func (a *Agent) gcPrune(age time.Duration, retry bool) {
	g := &a.st.gc
	for _, path := range g.core.due(a.clock.Now(), age, retry) {
		a.gcTake(path)
	}
	if retry && len(g.retry) > 0 {
		for _, it := range g.retry {
			a.gcQueue.push(it)
		}
		g.retry = nil
	}
	a.gcArm()
}

// gcTake renames a due path into .gc and queues its deletion (state
// goroutine).
func (a *Agent) gcTake(path string) {
	g := &a.st.gc
	if a.gcInUse(path) {
		g.core.unschedule(path)
		a.log.Warn("not garbage-collecting a directory the agent still uses", "path", path)
		return
	}
	if a.checkpointWriting(path) {
		// A checkpoint write under it is not committed yet.
		g.core.markFailed(path)
		a.log.Info("not garbage-collecting a directory with checkpoint writes in progress; retrying at the next disk check", "path", path)
		return
	}
	rel, ok := a.gcRel(path)
	if !ok {
		g.core.unschedule(path)
		return
	}
	name := filepath.Join(gcTrashDir, newContainerID())
	err := a.gcRoot.Mkdir(gcTrashDir, 0o755)
	if err == nil || errors.Is(err, fs.ErrExist) {
		err = a.gcRoot.Rename(rel, name)
	}
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		g.core.unschedule(path)
		a.log.Info("skipping a directory scheduled for garbage collection that no longer exists", "path", path)
		return
	case errors.Is(err, syscall.EXDEV):
		name = rel // on another file system: deleted where it is
	default:
		g.core.markFailed(path)
		a.st.metrics.gcRemovalsFailed++
		a.log.Warn("failed to garbage-collect a directory; retrying at the next disk check", "path", path, "err", err)
		return
	}
	g.core.unschedule(path)
	g.removing++
	a.gcQueue.push(gcTrash{path: path, name: name})
}

// gcInUse reports whether path is, or holds, a directory the agent uses:
// its own agent directories, a known framework's, a live executor's
// directories and run (state goroutine). Scheduling never picks such a
// path; this is the last check before deleting.
func (a *Agent) gcInUse(path string) bool {
	holds := func(dir string) bool {
		return dir == path || strings.HasPrefix(dir, path+string(filepath.Separator))
	}
	id := a.st.agentID()
	if id == "" {
		return false
	}
	if holds(filepath.Join(a.cfg.WorkDir, "slaves", id)) || holds(a.store.AgentDir(id)) {
		return true
	}
	for _, fw := range a.st.frameworks {
		if holds(frameworkWorkDir(a.cfg.WorkDir, id, fw.id)) || holds(a.store.FrameworkDir(id, fw.id)) {
			return true
		}
		for _, ex := range fw.executors {
			if holds(ex.sandbox) || holds(executorDir(a.cfg.WorkDir, id, fw.id, ex.id)) || holds(a.store.ExecutorDir(id, fw.id, ex.id)) {
				return true
			}
		}
	}
	return false
}

// gcRemover deletes what gcTake queued, one path at a time, and reports
// each outcome to the state goroutine. It ends when the agent stops
// (after the deletion in progress).
func (a *Agent) gcRemover() {
	defer a.wg.Done()
	for {
		select {
		case <-a.gcQueue.wait():
		case <-a.quit:
			return
		}
		items, _ := a.gcQueue.take()
		for _, it := range items {
			select {
			case <-a.quit:
				return
			default:
			}
			err := a.gcRoot.RemoveAll(it.name)
			a.post(func() { a.gcRemoved(it, err) })
		}
	}
}

// gcRemoved counts a deletion; a failed one is retried at the next disk
// check (state goroutine).
func (a *Agent) gcRemoved(it gcTrash, err error) {
	g := &a.st.gc
	if err != nil {
		a.st.metrics.gcRemovalsFailed++
		g.retry = append(g.retry, it)
		a.log.Warn("failed to delete a garbage-collected directory; retrying at the next disk check", "path", it.path, "err", err)
		return
	}
	g.removing--
	a.st.metrics.gcRemovalsSucceeded++
	a.log.Info("deleted a garbage-collected directory", "path", it.path)
}
