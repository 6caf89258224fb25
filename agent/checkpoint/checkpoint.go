// Package checkpoint is the agent's durable state: what a restarted agent
// needs to reconnect to the executors and tasks of frameworks that enabled
// checkpointing, and to resend their unacknowledged status updates.
//
// # Layout
//
// Files live under <work_dir>/meta in Mesos' layout (src/slave/paths.hpp),
// so an operator finds them where Mesos keeps them:
//
//	meta/boot_id                                   boot id of the last run
//	meta/slaves/latest -> <agent_id>               the agent to recover
//	meta/slaves/<agent_id>/slave.info              AgentInfo
//	  resources/resources.info                     total resources from the
//	                                               master (one frame each)
//	  frameworks/<fw>/framework.info               FrameworkInfo
//	  frameworks/<fw>/executors/<ex>/executor.info ExecutorInfo
//	    runs/latest -> <container_id>              the executor's latest run
//	    runs/<container_id>/pids/forked.pid        executor pid, decimal text
//	    runs/<container_id>/pids/libprocess.pid    a driver-based executor's
//	                                               libprocess pid, as text
//	    runs/<container_id>/executor.sentinel      the run is over (empty)
//	    runs/<container_id>/tasks/<task>/task.info    TaskInfo
//	    runs/<container_id>/tasks/<task>/task.updates status-update records
//
// # Formats
//
// Every protobuf file (*.info) is one frame: a 4-byte little-endian length
// and the binary message, as stout's protobuf::write lays it out. It is
// written atomically: a temporary file in the same directory, fsync,
// rename, fsync of the directory — a reader sees the old file or the new
// one, never a mix.
//
// task.updates is an append-only sequence of such frames, each a record
// (field 1: kind, 1 = UPDATE, 2 = ACK; field 2: the TaskStatus of an
// UPDATE; field 3: the uuid an ACK acknowledges), fsynced after it is
// appended (and its directory fsynced when the append created it). A
// torn last frame (the agent died mid-write) is dropped and the file
// truncated to its last whole record on recovery, as Mesos does.
//
// # Writing in batches
//
// Writes are grouped into a Batch, whose Commit makes all of them
// durable at once: data first (journal appends and temporary files), one
// parallel round of fsyncs, the renames, one parallel round of directory
// fsyncs (batch.go). The files and their formats are the same as when
// each write is committed alone (the Store's Write* methods), so
// recovery reads them the same way.
//
// # Concurrency
//
// A Store keeps no state besides its root directory: its methods and
// the commits of different batches may run on any goroutine, but writes
// to one file must not be committed concurrently (the agent commits one
// batch at a time).
package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Latest is the name of the symlinks to the current agent and run.
const Latest = "latest"

// Store reads and writes the checkpoint under one meta directory.
type Store struct {
	meta string
}

// New returns the store of <workDir>/meta (created on first write).
func New(workDir string) *Store { return &Store{meta: filepath.Join(workDir, "meta")} }

// MetaDir returns <work_dir>/meta.
func (s *Store) MetaDir() string { return s.meta }

// BootIDPath is meta/boot_id.
func (s *Store) BootIDPath() string { return filepath.Join(s.meta, "boot_id") }

// LatestAgentPath is meta/slaves/latest.
func (s *Store) LatestAgentPath() string { return filepath.Join(s.meta, "slaves", Latest) }

// AgentDir is meta/slaves/<agentID>.
func (s *Store) AgentDir(agentID string) string { return filepath.Join(s.meta, "slaves", agentID) }

// FrameworkDir is meta/slaves/<agent>/frameworks/<fw>.
func (s *Store) FrameworkDir(agentID, fwID string) string {
	return filepath.Join(s.AgentDir(agentID), "frameworks", fwID)
}

// ExecutorDir is .../frameworks/<fw>/executors/<ex>.
func (s *Store) ExecutorDir(agentID, fwID, exID string) string {
	return filepath.Join(s.FrameworkDir(agentID, fwID), "executors", exID)
}

// RunDir is .../executors/<ex>/runs/<containerID>.
func (s *Store) RunDir(agentID, fwID, exID, containerID string) string {
	return filepath.Join(s.ExecutorDir(agentID, fwID, exID), "runs", containerID)
}

// TaskDir is .../runs/<containerID>/tasks/<taskID>.
func (s *Store) TaskDir(r Run, taskID string) string {
	return filepath.Join(s.RunDir(r.AgentID, r.FrameworkID, r.ExecutorID, r.ContainerID), "tasks", taskID)
}

// Run names one executor run: the directory its pid, tasks and updates
// are checkpointed in.
type Run struct {
	AgentID, FrameworkID, ExecutorID, ContainerID string
}

// String names the run.
func (r Run) String() string {
	return r.FrameworkID + "/" + r.ExecutorID + "/" + r.ContainerID
}

// ---- writing ----
//
// Each Store method below commits one write on its own (a Batch of one);
// the agent groups its writes into batches instead (batch.go).

// WriteBootID records the machine's boot id.
func (s *Store) WriteBootID(id string) error {
	b := s.NewBatch()
	b.WriteBootID(id)
	return b.Commit()
}

// WriteAgent checkpoints the agent's info under its id and points
// meta/slaves/latest at it.
func (s *Store) WriteAgent(info *mesos.AgentInfo) error {
	b := s.NewBatch()
	b.WriteAgent(info)
	return b.Commit()
}

// RemoveLatest removes meta/slaves/latest: the next start registers as a
// new agent and recovers nothing.
func (s *Store) RemoveLatest() error {
	b := s.NewBatch()
	b.RemoveLatest()
	return b.Commit()
}

// ResourcesPath is meta/slaves/<id>/resources/resources.info: the
// agent's checkpointed total resources (Mesos keeps resources.info under
// meta/resources; Mezzo keeps it with the agent id it belongs to, so an
// agent that starts under a new id starts without reservations).
func (s *Store) ResourcesPath(agentID string) string {
	return filepath.Join(s.AgentDir(agentID), "resources", "resources.info")
}

// WriteResources atomically replaces the agent's checkpointed total
// resources: each Resource length-framed, as Mesos writes a repeated
// field.
func (s *Store) WriteResources(agentID string, rs []*mesos.Resource) error {
	b := s.NewBatch()
	b.WriteResources(agentID, rs)
	return b.Commit()
}

// readResources reads resources.info; nil without error when absent.
func (s *Store) readResources(agentID string) ([]*mesos.Resource, error) {
	path := s.ResourcesPath(agentID)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := []*mesos.Resource{}
	for len(b) > 0 {
		msg, rest, ok := unframe(b)
		if !ok {
			return nil, fmt.Errorf("%s: bad frame", path)
		}
		r := &mesos.Resource{}
		if err := unmarshal.Unmarshal(msg, r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
		b = rest
	}
	return out, nil
}

// WriteFramework checkpoints a framework's info.
func (s *Store) WriteFramework(agentID string, info *mesos.FrameworkInfo) error {
	b := s.NewBatch()
	b.WriteFramework(agentID, info)
	return b.Commit()
}

// WriteExecutor checkpoints an executor's info and starts its run r
// (runs/latest points to it).
func (s *Store) WriteExecutor(r Run, info *mesos.ExecutorInfo) error {
	b := s.NewBatch()
	b.WriteExecutor(r, info)
	return b.Commit()
}

// WritePid checkpoints the pid of run r's executor process.
func (s *Store) WritePid(r Run, pid int) error {
	b := s.NewBatch()
	b.WritePid(r, pid)
	return b.Commit()
}

// MarkCompleted writes run r's sentinel: its executor is gone and every
// update of its tasks was acknowledged; recovery skips it.
func (s *Store) MarkCompleted(r Run) error {
	b := s.NewBatch()
	b.MarkCompleted(r)
	return b.Commit()
}

// WriteTask checkpoints a task of run r.
func (s *Store) WriteTask(r Run, info *mesos.TaskInfo) error {
	b := s.NewBatch()
	b.WriteTask(r, info)
	return b.Commit()
}

// RecordKind says what a task.updates record holds.
type RecordKind int

// Record kinds, numbered as Mesos' StatusUpdateRecord.Type.
const (
	RecordUpdate RecordKind = 1
	RecordAck    RecordKind = 2
)

// Record is one entry of a task's task.updates journal.
type Record struct {
	Kind RecordKind
	// Status is the update (RecordUpdate).
	Status *mesos.TaskStatus
	// UUID is the acknowledged update's uuid (RecordAck).
	UUID []byte
}

// AppendRecord appends rec to the task.updates of taskID in run r and
// fsyncs it: once it returns nil the record survives a crash.
func (s *Store) AppendRecord(r Run, taskID string, rec Record) error {
	b := s.NewBatch()
	b.AppendRecord(r, taskID, rec)
	return b.Commit()
}

func encodeRecord(rec Record) ([]byte, error) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(rec.Kind))
	switch rec.Kind {
	case RecordUpdate:
		s, err := marshal.Marshal(rec.Status)
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	case RecordAck:
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, rec.UUID)
	default:
		return nil, fmt.Errorf("checkpoint: unknown record kind %d", rec.Kind)
	}
	return b, nil
}

func decodeRecord(b []byte) (Record, error) {
	var rec Record
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return rec, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return rec, protowire.ParseError(n)
			}
			rec.Kind = RecordKind(v)
			b = b[n:]
		case (num == 2 || num == 3) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return rec, protowire.ParseError(n)
			}
			if num == 2 {
				rec.Status = &mesos.TaskStatus{}
				if err := unmarshal.Unmarshal(v, rec.Status); err != nil {
					return rec, err
				}
			} else {
				rec.UUID = append([]byte(nil), v...)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return rec, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	switch {
	case rec.Kind == RecordUpdate && rec.Status != nil:
	case rec.Kind == RecordAck && rec.UUID != nil:
	default:
		return rec, fmt.Errorf("malformed record (kind %d)", rec.Kind)
	}
	return rec, nil
}

// frame prefixes b with its 4-byte little-endian length.
func frame(b []byte) []byte {
	out := make([]byte, 4+len(b))
	binary.LittleEndian.PutUint32(out, uint32(len(b)))
	copy(out[4:], b)
	return out
}

// ---- reading ----

// State is what Recover found.
type State struct {
	// BootID is the boot id checkpointed by the last run ("" if none).
	BootID string
	// Agent is the latest agent's checkpoint, nil when there is none
	// (first start, or meta/slaves/latest removed).
	Agent *AgentState
	// Errors counts what was skipped in non-strict mode.
	Errors int
}

// AgentState is one agent's checkpoint.
type AgentState struct {
	ID   string
	Info *mesos.AgentInfo
	// Resources is the checkpointed total (resources.info): nil when the
	// master never sent one.
	Resources  []*mesos.Resource
	Frameworks map[string]*FrameworkState
}

// FrameworkState is a framework's checkpoint.
type FrameworkState struct {
	ID        string
	Info      *mesos.FrameworkInfo
	Executors map[string]*ExecutorState
}

// ExecutorState is an executor's checkpoint.
type ExecutorState struct {
	ID   string
	Info *mesos.ExecutorInfo
	// Latest is the container id of the latest run ("" if unknown).
	Latest string
	Runs   map[string]*RunState
}

// RunState is one run of an executor.
type RunState struct {
	ContainerID string
	// Pid is the executor's pid, 0 when it was never checkpointed (the
	// agent died before it started).
	Pid int
	// LibprocessPid is the libprocess pid of an executor that speaks the
	// driver protocol ("" for an HTTP executor).
	LibprocessPid string
	// Completed: the run's sentinel exists.
	Completed bool
	Tasks     map[string]*TaskState
}

// TaskState is a task's checkpoint.
type TaskState struct {
	ID   string
	Info *mesos.TaskInfo
	// Records is the task.updates journal in order.
	Records []Record
}

// ErrCorrupt wraps what strict recovery finds unreadable.
var ErrCorrupt = errors.New("corrupt checkpoint")

// Recover reads the checkpoint of the latest agent. In strict mode any
// unreadable file fails recovery (ErrCorrupt); otherwise what cannot be
// read is skipped and counted in State.Errors. A torn last record of a
// task.updates file is dropped (and the file truncated) in both modes.
func (s *Store) Recover(strict bool) (*State, error) {
	st := &State{}
	if b, err := os.ReadFile(s.BootIDPath()); err == nil {
		st.BootID = strings.TrimSpace(string(b))
	}
	target, err := os.Readlink(s.LatestAgentPath())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	r := &reader{strict: strict, st: st}
	id := filepath.Base(target)
	ag := &AgentState{ID: id, Frameworks: map[string]*FrameworkState{}}
	ag.Info = &mesos.AgentInfo{}
	if err := readMessage(filepath.Join(s.AgentDir(id), "slave.info"), ag.Info); err != nil {
		// Without its info the agent cannot prove it is the same agent.
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	// Without them the agent would lose its reservations and volumes.
	if ag.Resources, err = s.readResources(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	st.Agent = ag
	fws, err := listDirs(filepath.Join(s.AgentDir(id), "frameworks"))
	if err != nil {
		return nil, err
	}
	for _, fwID := range fws {
		fw, err := r.framework(s, id, fwID)
		if err != nil {
			return nil, err
		}
		if fw != nil {
			ag.Frameworks[fwID] = fw
		}
	}
	return st, nil
}

type reader struct {
	strict bool
	st     *State
}

// interrupted reports whether err says an info file is missing: the
// agent died after creating its directory and before writing the file
// (writeAtomic creates the directory first), so what it describes was
// never started. Recovery skips it in both modes, as Mesos does.
func interrupted(err error) bool { return errors.Is(err, os.ErrNotExist) }

// fail returns err in strict mode; otherwise counts it and returns nil.
func (r *reader) fail(err error) error {
	if r.strict {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	r.st.Errors++
	return nil
}

func (r *reader) framework(s *Store, agentID, fwID string) (*FrameworkState, error) {
	dir := s.FrameworkDir(agentID, fwID)
	fw := &FrameworkState{ID: fwID, Info: &mesos.FrameworkInfo{}, Executors: map[string]*ExecutorState{}}
	if err := readMessage(filepath.Join(dir, "framework.info"), fw.Info); err != nil {
		if interrupted(err) {
			return nil, nil
		}
		return nil, r.fail(err)
	}
	exs, err := listDirs(filepath.Join(dir, "executors"))
	if err != nil {
		return nil, err
	}
	for _, exID := range exs {
		ex, err := r.executor(s, Run{AgentID: agentID, FrameworkID: fwID, ExecutorID: exID})
		if err != nil {
			return nil, err
		}
		if ex != nil {
			fw.Executors[exID] = ex
		}
	}
	return fw, nil
}

func (r *reader) executor(s *Store, run Run) (*ExecutorState, error) {
	dir := s.ExecutorDir(run.AgentID, run.FrameworkID, run.ExecutorID)
	ex := &ExecutorState{ID: run.ExecutorID, Info: &mesos.ExecutorInfo{}, Runs: map[string]*RunState{}}
	if err := readMessage(filepath.Join(dir, "executor.info"), ex.Info); err != nil {
		if interrupted(err) {
			return nil, nil
		}
		return nil, r.fail(err)
	}
	if t, err := os.Readlink(filepath.Join(dir, "runs", Latest)); err == nil {
		ex.Latest = filepath.Base(t)
	}
	runs, err := listDirs(filepath.Join(dir, "runs"))
	if err != nil {
		return nil, err
	}
	for _, cid := range runs {
		run.ContainerID = cid
		rs, err := r.run(s, run)
		if err != nil {
			return nil, err
		}
		ex.Runs[cid] = rs
	}
	return ex, nil
}

func (r *reader) run(s *Store, run Run) (*RunState, error) {
	dir := s.RunDir(run.AgentID, run.FrameworkID, run.ExecutorID, run.ContainerID)
	rs := &RunState{ContainerID: run.ContainerID, Tasks: map[string]*TaskState{}}
	if _, err := os.Stat(filepath.Join(dir, "executor.sentinel")); err == nil {
		rs.Completed = true
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pids", "forked.pid")); err == nil {
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil || pid <= 0 {
			if err := r.fail(fmt.Errorf("%s: bad pid %q", dir, b)); err != nil {
				return nil, err
			}
		} else {
			rs.Pid = pid
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pids", "libprocess.pid")); err == nil {
		rs.LibprocessPid = strings.TrimSpace(string(b))
	}
	tasks, err := listDirs(filepath.Join(dir, "tasks"))
	if err != nil {
		return nil, err
	}
	for _, id := range tasks {
		ts := &TaskState{ID: id, Info: &mesos.TaskInfo{}}
		tdir := filepath.Join(dir, "tasks", id)
		if err := readMessage(filepath.Join(tdir, "task.info"), ts.Info); err != nil {
			if interrupted(err) {
				continue
			}
			if err := r.fail(err); err != nil {
				return nil, err
			}
			continue
		}
		recs, err := readRecords(filepath.Join(tdir, "task.updates"))
		if err != nil {
			if err := r.fail(err); err != nil {
				return nil, err
			}
		}
		ts.Records = recs
		rs.Tasks[id] = ts
	}
	return rs, nil
}

// listDirs returns the names of the directories in dir (none if dir does
// not exist).
func listDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func readMessage(path string, m proto.Message) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	msg, rest, ok := unframe(b)
	if !ok || len(rest) != 0 {
		return fmt.Errorf("%s: bad frame", path)
	}
	if err := unmarshal.Unmarshal(msg, m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func unframe(b []byte) (msg, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, b, false
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return nil, b, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// readRecords reads a task.updates journal; a missing file is empty. A
// torn trailing frame is cut off the file.
func readRecords(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []Record
	off := 0
	for off < len(b) {
		msg, _, ok := unframe(b[off:])
		if !ok {
			// The agent died while appending: drop the partial record.
			if err := os.Truncate(path, int64(off)); err != nil {
				return recs, err
			}
			break
		}
		rec, err := decodeRecord(msg)
		if err != nil {
			return recs, fmt.Errorf("%s: record at offset %d: %w", path, off, err)
		}
		recs = append(recs, rec)
		off += 4 + len(msg)
	}
	return recs, nil
}

// ReadBootID returns the machine's current boot id ("" where the kernel
// does not tell).
func ReadBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Checkpoints must round-trip whatever the agent holds, even messages a
// peer sent without a proto2 required field.
var (
	marshal   = proto.MarshalOptions{AllowPartial: true}
	unmarshal = proto.UnmarshalOptions{AllowPartial: true}
)
