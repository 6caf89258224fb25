package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func status(task, uuid string, st mesos.TaskState) *mesos.TaskStatus {
	return &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: st.Enum(), Uuid: []byte(uuid)}
}

// writeSample checkpoints one agent, framework, executor run and task
// with two updates and one acknowledgement.
func writeSample(t *testing.T, s *Store) Run {
	t.Helper()
	r := Run{AgentID: "A1", FrameworkID: "F1", ExecutorID: "E1", ContainerID: "C1"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.WriteAgent(&mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String("A1")}, Hostname: proto.String("h")}))
	must(s.WriteFramework("A1", &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F1")}, Checkpoint: proto.Bool(true)}))
	must(s.WriteExecutor(r, &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("E1")}}))
	must(s.WritePid(r, 4242))
	must(s.WriteTask(r, &mesos.TaskInfo{TaskId: &mesos.TaskID{Value: proto.String("T1")}, Name: proto.String("t")}))
	must(s.AppendRecord(r, "T1", Record{Kind: RecordUpdate, Status: status("T1", "u1", mesos.TaskState_TASK_STARTING)}))
	must(s.AppendRecord(r, "T1", Record{Kind: RecordAck, UUID: []byte("u1")}))
	must(s.AppendRecord(r, "T1", Record{Kind: RecordUpdate, Status: status("T1", "u2", mesos.TaskState_TASK_RUNNING)}))
	return r
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	writeSample(t, s)
	if err := s.WriteBootID("boot-1"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"meta/slaves/latest", "meta/slaves/A1/slave.info",
		"meta/slaves/A1/frameworks/F1/framework.info",
		"meta/slaves/A1/frameworks/F1/executors/E1/executor.info",
		"meta/slaves/A1/frameworks/F1/executors/E1/runs/latest",
		"meta/slaves/A1/frameworks/F1/executors/E1/runs/C1/pids/forked.pid",
		"meta/slaves/A1/frameworks/F1/executors/E1/runs/C1/tasks/T1/task.info",
		"meta/slaves/A1/frameworks/F1/executors/E1/runs/C1/tasks/T1/task.updates"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
			t.Errorf("Mesos layout: %v", err)
		}
	}
	st, err := New(dir).Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	if st.BootID != "boot-1" || st.Agent == nil || st.Agent.ID != "A1" || st.Agent.Info.GetHostname() != "h" {
		t.Fatalf("state %+v", st)
	}
	ex := st.Agent.Frameworks["F1"].Executors["E1"]
	if !st.Agent.Frameworks["F1"].Info.GetCheckpoint() || ex == nil || ex.Latest != "C1" {
		t.Fatalf("executor %+v", ex)
	}
	run := ex.Runs["C1"]
	if run.Pid != 4242 || run.Completed {
		t.Fatalf("run %+v", run)
	}
	recs := run.Tasks["T1"].Records
	if len(recs) != 3 || recs[0].Status.GetState() != mesos.TaskState_TASK_STARTING ||
		recs[1].Kind != RecordAck || string(recs[1].UUID) != "u1" || string(recs[2].Status.GetUuid()) != "u2" {
		t.Fatalf("records %+v", recs)
	}
	if err := s.MarkCompleted(Run{AgentID: "A1", FrameworkID: "F1", ExecutorID: "E1", ContainerID: "C1"}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Recover(true)
	if !st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Completed {
		t.Fatal("sentinel not recovered")
	}
	if err := s.RemoveLatest(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Recover(true); err != nil || st.Agent != nil {
		t.Fatalf("after RemoveLatest: %+v, %v", st, err)
	}
}

func TestNoCheckpoint(t *testing.T) {
	st, err := New(t.TempDir()).Recover(true)
	if err != nil || st.Agent != nil {
		t.Fatalf("%+v %v", st, err)
	}
}

// A record torn by a crash mid-append is dropped and cut off the file,
// and later appends follow the last whole record.
func TestTornRecord(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	r := writeSample(t, s)
	path := filepath.Join(s.TaskDir(r, "T1"), "task.updates")
	fi, _ := os.Stat(path)
	whole := fi.Size()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3})
	f.Close()
	st, err := s.Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Tasks["T1"].Records); n != 3 {
		t.Fatalf("%d records", n)
	}
	if fi, _ := os.Stat(path); fi.Size() != whole {
		t.Fatalf("size %d, want %d", fi.Size(), whole)
	}
	if err := s.AppendRecord(r, "T1", Record{Kind: RecordAck, UUID: []byte("u2")}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Recover(true)
	if n := len(st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Tasks["T1"].Records); n != 4 {
		t.Fatalf("%d records after append", n)
	}
}

// A corrupt file fails strict recovery and is skipped otherwise.
func TestCorruptStrict(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	r := writeSample(t, s)
	os.WriteFile(filepath.Join(s.TaskDir(r, "T1"), "task.info"), []byte{1, 0, 0, 0, 0xff}, 0o644)
	if _, err := s.Recover(true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("strict: %v", err)
	}
	st, err := s.Recover(false)
	if err != nil || st.Errors != 1 || len(st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Tasks) != 0 {
		t.Fatalf("non-strict: %+v %v", st, err)
	}
}

// An agent killed between creating a checkpoint directory and writing its
// info file leaves the directory without it: what it would describe was
// never started, so recovery skips it, strict or not, as Mesos does.
func TestInterruptedCheckpointIsSkipped(t *testing.T) {
	s := New(t.TempDir())
	r := writeSample(t, s)
	for _, dir := range []string{
		s.TaskDir(r, "T2"),
		filepath.Join(s.ExecutorDir(r.AgentID, r.FrameworkID, "E2"), "runs", "C2"),
		s.FrameworkDir(r.AgentID, "F2"),
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, strict := range []bool{true, false} {
		st, err := s.Recover(strict)
		if err != nil {
			t.Fatalf("strict=%v: %v", strict, err)
		}
		fws := st.Agent.Frameworks
		if st.Errors != 0 || len(fws) != 1 || len(fws["F1"].Executors) != 1 || len(fws["F1"].Executors["E1"].Runs["C1"].Tasks) != 1 {
			t.Errorf("strict=%v: errors %d, frameworks %v", strict, st.Errors, fws)
		}
	}
}
