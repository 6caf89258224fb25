package checkpoint

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// One batch holding the writes of many tasks commits them all; writes to
// one file keep their order (journal records, two replacements, a link
// written then removed) and recovery reads what separate commits would
// have left.
func TestBatchCommit(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	r := Run{AgentID: "A1", FrameworkID: "F1", ExecutorID: "E1", ContainerID: "C1"}
	b := s.NewBatch()
	b.WriteAgent(&mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String("A1")}, Hostname: proto.String("h")})
	b.WriteFramework("A1", &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F1")}, Checkpoint: proto.Bool(true)})
	b.WriteExecutor(r, &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("E1")}})
	b.WritePid(r, 1)
	for _, id := range []string{"T1", "T2"} {
		b.WriteTask(r, &mesos.TaskInfo{TaskId: &mesos.TaskID{Value: proto.String(id)}, Name: proto.String(id)})
	}
	b.AppendRecord(r, "T1", Record{Kind: RecordUpdate, Status: status("T1", "a1", mesos.TaskState_TASK_STARTING)})
	b.AppendRecord(r, "T2", Record{Kind: RecordUpdate, Status: status("T2", "b1", mesos.TaskState_TASK_STARTING)})
	b.AppendRecord(r, "T1", Record{Kind: RecordAck, UUID: []byte("a1")})
	b.AppendRecord(r, "T1", Record{Kind: RecordUpdate, Status: status("T1", "a2", mesos.TaskState_TASK_RUNNING)})
	b.WritePid(r, 4242) // the later replacement wins
	b.WriteBootID("boot-1")
	if b.Len() == 0 || !b.Touches(s.RunDir("A1", "F1", "E1", "C1")) || b.Touches(s.FrameworkDir("A1", "F2")) {
		t.Fatalf("Len %d, Touches wrong", b.Len())
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	// A later batch may append to an existing journal and remove the
	// link it wrote before.
	b = s.NewBatch()
	b.AppendRecord(r, "T2", Record{Kind: RecordAck, UUID: []byte("b1")})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}

	st, err := New(dir).Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	if st.BootID != "boot-1" || st.Agent == nil || st.Agent.Info.GetHostname() != "h" {
		t.Fatalf("recovered %+v", st)
	}
	run := st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"]
	if st.Agent.Frameworks["F1"].Executors["E1"].Latest != "C1" || run.Pid != 4242 || len(run.Tasks) != 2 {
		t.Fatalf("run %+v", run)
	}
	kinds := func(recs []Record) []string {
		var out []string
		for _, r := range recs {
			if r.Kind == RecordAck {
				out = append(out, "ack:"+string(r.UUID))
			} else {
				out = append(out, string(r.Status.GetUuid()))
			}
		}
		return out
	}
	if got := kinds(run.Tasks["T1"].Records); !slices.Equal(got, []string{"a1", "ack:a1", "a2"}) {
		t.Errorf("T1 journal %v", got)
	}
	if got := kinds(run.Tasks["T2"].Records); !slices.Equal(got, []string{"b1", "ack:b1"}) {
		t.Errorf("T2 journal %v", got)
	}

	b = s.NewBatch()
	b.WriteAgent(&mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String("A1")}})
	b.RemoveLatest()
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if st, err := New(dir).Recover(true); err != nil || st.Agent != nil {
		t.Fatalf("latest written then removed in one batch: %+v %v", st, err)
	}
	noTemps(t, dir)
}

// A batch that cannot be written fails as a whole: Commit says so and
// leaves no temporary file behind; what it replaced is unchanged.
func TestBatchCommitFailure(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	r := writeSample(t, s)
	// A file where the framework directory of F2 would go.
	if err := os.MkdirAll(s.AgentDir("A1")+"/frameworks", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.FrameworkDir("A1", "F2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.WritePid(r, 7)
	b.AppendRecord(r, "T1", Record{Kind: RecordAck, UUID: []byte("u2")})
	b.WriteFramework("A1", &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F2")}})
	err := b.Commit()
	if err == nil || !strings.Contains(err.Error(), "F2") {
		t.Fatalf("Commit: %v, want an error naming F2", err)
	}
	noTemps(t, dir)
	st, err := New(dir).Recover(true)
	if err != nil {
		t.Fatal(err)
	}
	if pid := st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Pid; pid != 4242 {
		t.Errorf("pid %d after a failed commit, want the old 4242", pid)
	}
	// A batch that could not be built (an agent info without id) writes
	// nothing.
	b = s.NewBatch()
	b.WritePid(r, 8)
	b.WriteAgent(&mesos.AgentInfo{})
	if err := b.Commit(); err == nil {
		t.Fatal("a batch with an agent info without id committed")
	}
	st, _ = New(dir).Recover(true)
	if pid := st.Agent.Frameworks["F1"].Executors["E1"].Runs["C1"].Pid; pid != 4242 {
		t.Errorf("pid %d written by a batch that failed to build", pid)
	}
}

// noTemps fails the test if a temporary file of a commit is left under
// dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
