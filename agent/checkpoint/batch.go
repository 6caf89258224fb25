package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Batch is a group of checkpoint writes committed together: journal
// appends (task.updates records) and atomic replacements of whole files
// (the *.info files, forked.pid, the sentinel, the latest links). Commit
// makes all of them durable with one round of fsyncs for the data and one
// for the directories, however many writes and files the batch holds —
// the group commit of the agent's checkpointer.
//
// Ordering: writes to one file take effect in the order they were added
// (the records of one journal stay in order; of two replacements of one
// file the later wins, a link removed after it was written stays
// removed). Writes to different files are independent: after a crash in
// the middle of Commit, any subset of them may be durable, as if the
// agent had died between separate writes; each file is still whole (a
// replaced file is the old or the new one, a journal may end in a torn
// record, which recovery drops).
//
// A Batch is built by one goroutine and then handed to one that commits
// it; the messages added are encoded when added, so the caller may keep
// using them.
type Batch struct {
	s   *Store
	ops []op
	err error
}

type opKind int

const (
	// opAppend appends data to path (created when missing).
	opAppend opKind = iota
	// opReplace atomically replaces path with data.
	opReplace
	// opSymlink atomically points the link path at data.
	opSymlink
	// opRemove removes path (nothing when it does not exist).
	opRemove
	// opMkdir creates the directory path and its parents.
	opMkdir
)

type op struct {
	kind opKind
	path string
	data []byte
}

// NewBatch returns an empty batch of writes under s.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// Len is the number of writes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Touches reports whether a write of the batch is at dir or under it.
func (b *Batch) Touches(dir string) bool {
	dir = filepath.Clean(dir)
	for _, o := range b.ops {
		if o.path == dir || strings.HasPrefix(o.path, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (b *Batch) add(kind opKind, path string, data []byte) {
	b.ops = append(b.ops, op{kind: kind, path: path, data: data})
}

func (b *Batch) replaceMessage(path string, m proto.Message) {
	data, err := marshal.Marshal(m)
	if err != nil {
		b.fail(fmt.Errorf("checkpoint %s: %w", path, err))
		return
	}
	b.add(opReplace, path, frame(data))
}

// fail records the first error of building the batch: Commit returns it
// and writes nothing.
func (b *Batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// WriteBootID records the machine's boot id.
func (b *Batch) WriteBootID(id string) { b.add(opReplace, b.s.BootIDPath(), []byte(id)) }

// WriteAgent checkpoints the agent's info under its id and points
// meta/slaves/latest at it.
func (b *Batch) WriteAgent(info *mesos.AgentInfo) {
	id := info.GetId().GetValue()
	if id == "" {
		b.fail(errors.New("checkpoint: agent info without id"))
		return
	}
	b.replaceMessage(filepath.Join(b.s.AgentDir(id), "slave.info"), info)
	b.add(opSymlink, b.s.LatestAgentPath(), []byte(id))
}

// RemoveLatest removes meta/slaves/latest: the next start registers as a
// new agent and recovers nothing.
func (b *Batch) RemoveLatest() { b.add(opRemove, b.s.LatestAgentPath(), nil) }

// WriteResources replaces the agent's checkpointed total resources: each
// Resource length-framed, as Mesos writes a repeated field.
func (b *Batch) WriteResources(agentID string, rs []*mesos.Resource) {
	path := b.s.ResourcesPath(agentID)
	var data []byte
	for _, r := range rs {
		m, err := marshal.Marshal(r)
		if err != nil {
			b.fail(fmt.Errorf("checkpoint %s: %w", path, err))
			return
		}
		data = append(data, frame(m)...)
	}
	b.add(opReplace, path, data)
}

// WriteFramework checkpoints a framework's info.
func (b *Batch) WriteFramework(agentID string, info *mesos.FrameworkInfo) {
	b.replaceMessage(filepath.Join(b.s.FrameworkDir(agentID, info.GetId().GetValue()), "framework.info"), info)
}

// WriteExecutor checkpoints an executor's info and starts its run r: the
// run's directory, and runs/latest pointing to it.
func (b *Batch) WriteExecutor(r Run, info *mesos.ExecutorInfo) {
	exDir := b.s.ExecutorDir(r.AgentID, r.FrameworkID, r.ExecutorID)
	b.replaceMessage(filepath.Join(exDir, "executor.info"), info)
	b.add(opMkdir, filepath.Join(exDir, "runs", r.ContainerID), nil)
	b.add(opSymlink, filepath.Join(exDir, "runs", Latest), []byte(r.ContainerID))
}

// WritePid checkpoints the pid of run r's executor process.
func (b *Batch) WritePid(r Run, pid int) {
	dir := filepath.Join(b.s.RunDir(r.AgentID, r.FrameworkID, r.ExecutorID, r.ContainerID), "pids")
	b.add(opReplace, filepath.Join(dir, "forked.pid"), []byte(strconv.Itoa(pid)))
}

// WriteLibprocessPid checkpoints the libprocess pid ("executor(1)@ip:port")
// of run r's executor when it speaks the driver protocol: a restarted
// agent asks it to register again (ReconnectExecutorMessage).
func (b *Batch) WriteLibprocessPid(r Run, pid string) {
	dir := filepath.Join(b.s.RunDir(r.AgentID, r.FrameworkID, r.ExecutorID, r.ContainerID), "pids")
	b.add(opReplace, filepath.Join(dir, "libprocess.pid"), []byte(pid))
}

// MarkCompleted writes run r's sentinel: its executor is gone and every
// update of its tasks was acknowledged; recovery skips it.
func (b *Batch) MarkCompleted(r Run) {
	b.add(opReplace, filepath.Join(b.s.RunDir(r.AgentID, r.FrameworkID, r.ExecutorID, r.ContainerID), "executor.sentinel"), nil)
}

// WriteTask checkpoints a task of run r.
func (b *Batch) WriteTask(r Run, info *mesos.TaskInfo) {
	b.replaceMessage(filepath.Join(b.s.TaskDir(r, info.GetTaskId().GetValue()), "task.info"), info)
}

// AppendRecord appends rec to the task.updates journal of taskID in run
// r.
func (b *Batch) AppendRecord(r Run, taskID string, rec Record) {
	path := filepath.Join(b.s.TaskDir(r, taskID), "task.updates")
	data, err := encodeRecord(rec)
	if err != nil {
		b.fail(fmt.Errorf("checkpoint %s: %w", path, err))
		return
	}
	b.add(opAppend, path, frame(data))
}

// maxParallelSyncs bounds the fsyncs a commit has in flight at once.
const maxParallelSyncs = 16

// Commit writes the batch and makes it durable:
//
//  1. in order, every journal record is appended (each journal opened
//     once) and every replacement written to a temporary file next to
//     its target;
//  2. all these files are fsynced, in parallel (the disk merges the
//     flushes);
//  3. in order, temporary files and links are renamed over their
//     targets and removals done;
//  4. every directory that got a new entry is fsynced, in parallel.
//
// Once Commit returns nil every write of the batch survives a crash. An
// error says some writes may not have happened or may not be durable;
// what is durable is still whole (see Batch). Temporary files of a
// failed commit are removed.
func (b *Batch) Commit() error {
	if b.err != nil {
		return b.err
	}
	c := committer{journals: map[string]*os.File{}, dirs: map[string]bool{}}
	defer c.close()
	if err := c.write(b.ops); err != nil {
		return err
	}
	if err := syncAll(c.files); err != nil {
		return err
	}
	if err := c.rename(); err != nil {
		return err
	}
	dirs := make([]syncer, 0, len(c.dirs))
	for d := range c.dirs {
		dirs = append(dirs, dirSyncer(d))
	}
	return syncAll(dirs)
}

// committer is one commit in progress.
type committer struct {
	journals map[string]*os.File
	// files are the files to fsync before the renames.
	files []syncer
	// renames are phase 3, in the batch's order.
	renames []rename
	// dirs are the directories to fsync last.
	dirs map[string]bool
	// tmps are the temporary files and links not renamed yet.
	tmps map[string]bool
	seq  int
}

type rename struct {
	tmp, path string // tmp == "": remove path
}

type syncer interface{ sync() error }

type fileSyncer struct{ f *os.File }

func (s fileSyncer) sync() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", s.f.Name(), err)
	}
	return nil
}

type dirSyncer string

func (d dirSyncer) sync() error {
	f, err := os.Open(string(d))
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", string(d), err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", string(d), err)
	}
	return nil
}

func (c *committer) write(ops []op) error {
	for _, o := range ops {
		var err error
		switch o.kind {
		case opAppend:
			err = c.append(o.path, o.data)
		case opReplace:
			err = c.replace(o.path, o.data)
		case opSymlink:
			err = c.symlink(o.path, string(o.data))
		case opRemove:
			c.renames = append(c.renames, rename{path: o.path})
		case opMkdir:
			err = os.MkdirAll(o.path, 0o755)
		}
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", o.path, err)
		}
	}
	return nil
}

func (c *committer) append(path string, data []byte) error {
	f := c.journals[path]
	if f == nil {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
		switch {
		case err == nil:
			// A new journal: its directory entry must be durable too.
			c.dirs[dir] = true
		case errors.Is(err, os.ErrExist):
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
		}
		if err != nil {
			return err
		}
		c.journals[path] = f
		c.files = append(c.files, fileSyncer{f})
	}
	_, err := f.Write(data)
	return err
}

func (c *committer) replace(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	c.tmp(f.Name())
	c.files = append(c.files, fileSyncer{f})
	c.journals[f.Name()] = f // closed with the journals
	if _, err := f.Write(data); err != nil {
		return err
	}
	c.renames = append(c.renames, rename{tmp: f.Name(), path: path})
	return nil
}

func (c *committer) symlink(link, target string) error {
	dir := filepath.Dir(link)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.seq++
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.tmp%d", filepath.Base(link), c.seq))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	c.tmp(tmp)
	c.renames = append(c.renames, rename{tmp: tmp, path: link})
	return nil
}

func (c *committer) tmp(name string) {
	if c.tmps == nil {
		c.tmps = map[string]bool{}
	}
	c.tmps[name] = true
}

func (c *committer) rename() error {
	for _, r := range c.renames {
		if r.tmp == "" {
			err := os.Remove(r.path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w", r.path, err)
			}
		} else {
			if err := os.Rename(r.tmp, r.path); err != nil {
				return fmt.Errorf("checkpoint %s: %w", r.path, err)
			}
			delete(c.tmps, r.tmp)
		}
		c.dirs[filepath.Dir(r.path)] = true
	}
	return nil
}

// close closes the files and removes the temporary files left by a
// failed commit.
func (c *committer) close() {
	for _, f := range c.journals {
		f.Close()
	}
	for t := range c.tmps {
		os.Remove(t)
	}
}

// syncAll fsyncs everything in ss, at most maxParallelSyncs at a time,
// and returns the first error.
func syncAll(ss []syncer) error {
	switch len(ss) {
	case 0:
		return nil
	case 1:
		return ss[0].sync()
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, maxParallelSyncs)
	)
	for _, s := range ss {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.sync(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
