package e2e

import (
	"fmt"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	schedv0 "github.com/mezzo-project/mezzo/api/v0/scheduler"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

// fieldPaths lists the fields set in m, as dotted paths ("offers.url.path").
func fieldPaths(m protoreflect.Message, prefix string, out map[string]bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := prefix + string(fd.Name())
		out[p] = true
		if fd.Message() != nil && !fd.IsMap() {
			if fd.IsList() {
				for i := 0; i < v.List().Len(); i++ {
					fieldPaths(v.List().Get(i).Message(), p+".", out)
				}
			} else {
				fieldPaths(v.Message(), p+".", out)
			}
		}
		return true
	})
}

// missingFields returns the paths set in want and not in got, leaving out
// those under an ignored prefix.
func missingFields(got, want proto.Message, ignore ...string) []string {
	g, w := map[string]bool{}, map[string]bool{}
	fieldPaths(got.ProtoReflect(), "", g)
	fieldPaths(want.ProtoReflect(), "", w)
	var out []string
next:
	for p := range w {
		for _, i := range ignore {
			if strings.HasPrefix(p, i) {
				continue next
			}
		}
		if !g[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// rewrite returns m with every recorded id replaced by Mezzo's (through
// its text form, so lengths may change).
func rewrite(t *testing.T, m proto.Message, ids map[string]string) proto.Message {
	t.Helper()
	text := prototext.Format(m)
	for from, to := range ids {
		text = strings.ReplaceAll(text, `"`+from+`"`, `"`+to+`"`)
	}
	out := m.ProtoReflect().New().Interface()
	if err := prototext.Unmarshal([]byte(text), out); err != nil {
		t.Fatalf("rewrite ids: %v", err)
	}
	return out
}

// TestV0ReplayCommandTasks replays the scheduler side of Mesos 1.11's
// no-executor-framework session (command-tasks.txt) against `mezzo
// local`: the recorded calls go to the master as the recorded driver sent
// them (ids rewritten to the ones Mezzo gave), and the master must answer
// with the recorded messages: the same types, the same fields set, and
// every task's updates in the recorded order.
func TestV0ReplayCommandTasks(t *testing.T) {
	entries, err := v0test.ReadTranscript("../internal/v0test/testdata/command-tasks.txt")
	if err != nil {
		t.Fatal(err)
	}
	var calls []*schedv0.Call
	var recordedTo []v0test.Entry // master → scheduler, in order
	schedID := ""
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.From, "scheduler-") && e.Name == "mesos.scheduler.Call":
			m, err := e.Decode()
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, m.(*schedv0.Call))
			schedID, _, _ = strings.Cut(e.From, "@")
		case strings.HasPrefix(e.To, "scheduler-") && strings.HasPrefix(e.From, "master@"):
			recordedTo = append(recordedTo, e)
		}
	}
	if len(calls) < 3 || calls[0].GetType() != schedpb.Call_SUBSCRIBE {
		t.Fatalf("transcript: %d calls, first %v", len(calls), calls[0].GetType())
	}
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "local", "local", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--work_dir="+filepath.Join(t.TempDir(), "local"), "--agents=1",
		"--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]")
	waitFor(t, 20*time.Second, "mezzo local", func() error { return httpOK("http://" + master + "/health") })
	waitFor(t, 20*time.Second, "agent registered", func() error {
		var st struct {
			Activated float64 `json:"activated_slaves"`
		}
		if err := getJSON("http://"+master+"/master/state", &st); err != nil {
			return err
		}
		if st.Activated != 1 {
			return fmt.Errorf("%v agents", st.Activated)
		}
		return nil
	})
	s, err := v0test.NewScheduler(master, schedID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ImplicitAcks = true

	recorded := func(name string) proto.Message {
		for _, e := range recordedTo {
			if e.Name == name {
				m, err := e.Decode()
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
		t.Fatalf("transcript has no %s", name)
		return nil
	}
	ids := map[string]string{}

	// SUBSCRIBE → FrameworkRegisteredMessage, then offers.
	if err := s.Send("mesos.scheduler.Call", calls[0]); err != nil {
		t.Fatal(err)
	}
	r, err := s.Next(10 * time.Second)
	if err != nil || r.Name != "mesos.internal.FrameworkRegisteredMessage" {
		t.Fatalf("first answer to SUBSCRIBE: %s %v", r.Name, err)
	}
	if r.From.String() != "master@"+master {
		t.Errorf("sent by %s, want master@%s", r.From, master)
	}
	reg := r.Msg.(*messages.FrameworkRegisteredMessage)
	if miss := missingFields(reg, recorded(r.Name)); len(miss) > 0 {
		t.Errorf("FrameworkRegisteredMessage lacks %v", miss)
	}
	ids[recorded(r.Name).(*messages.FrameworkRegisteredMessage).GetFrameworkId().GetValue()] = reg.GetFrameworkId().GetValue()

	r, err = s.Await(10*time.Second, v0test.Named("ResourceOffersMessage"))
	if err != nil {
		t.Fatal(err)
	}
	offers := r.Msg.(*messages.ResourceOffersMessage)
	recOffers := recorded(r.Name).(*messages.ResourceOffersMessage)
	if miss := missingFields(offers, recOffers); len(miss) > 0 {
		t.Errorf("ResourceOffersMessage lacks %v", miss)
	}
	// Each offer names its agent's pid, slave(1)@<agent address>, to
	// which the driver sends framework messages.
	if len(offers.GetPids()) != len(offers.GetOffers()) {
		t.Errorf("%d pids for %d offers", len(offers.GetPids()), len(offers.GetOffers()))
	}
	for i, pid := range offers.GetPids() {
		if !strings.HasPrefix(pid, "slave(1)@127.0.0.1:") {
			t.Errorf("offer %d: agent pid %q", i, pid)
		}
	}
	ids[recOffers.GetOffers()[0].GetId().GetValue()] = offers.GetOffers()[0].GetId().GetValue()
	ids[recOffers.GetOffers()[0].GetAgentId().GetValue()] = offers.GetOffers()[0].GetAgentId().GetValue()

	// The recorded ACCEPT (three command tasks), with Mezzo's ids.
	var accept *schedv0.Call
	for _, c := range calls {
		if c.GetType() == schedpb.Call_ACCEPT {
			accept = c
			break
		}
	}
	if err := s.Send("mesos.scheduler.Call", rewrite(t, accept, ids)); err != nil {
		t.Fatal(err)
	}
	// Every task's updates as recorded (ids and timestamps aside).
	want := map[string][]string{}
	var recUpdate *messages.StatusUpdateMessage
	for _, e := range recordedTo {
		if e.Name == "mesos.internal.StatusUpdateMessage" {
			m, _ := e.Decode()
			u := m.(*messages.StatusUpdateMessage)
			id := u.GetUpdate().GetStatus().GetTaskId().GetValue()
			want[id] = append(want[id], u.GetUpdate().GetStatus().GetState().String())
			if recUpdate == nil {
				recUpdate = u
			}
		}
	}
	got := map[string][]string{}
	deadline := time.Now().Add(30 * time.Second)
	for fmt.Sprint(got) != fmt.Sprint(want) && time.Now().Before(deadline) {
		r, err := s.Await(time.Until(deadline), v0test.Named("StatusUpdateMessage"))
		if err != nil {
			break
		}
		u := r.Msg.(*messages.StatusUpdateMessage)
		id := u.GetUpdate().GetStatus().GetTaskId().GetValue()
		got[id] = append(got[id], u.GetUpdate().GetStatus().GetState().String())
		if !strings.HasPrefix(u.GetPid(), "slave(1)@127.0.0.1:") || len(u.GetUpdate().GetUuid()) == 0 {
			t.Errorf("update %s %v: pid %q, uuid %x: want the agent's pid and a uuid", id, u.GetUpdate().GetStatus().GetState(), u.GetPid(), u.GetUpdate().GetUuid())
		}
		// Mesos' agent adds container_status and more; the envelope is
		// the same.
		if miss := missingFields(u, recUpdate, "update.status.", "update.latest_state"); len(miss) > 0 {
			t.Errorf("StatusUpdateMessage lacks %v", miss)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("updates by task: %v, recorded %v", got, want)
	}
	// The recorded TEARDOWN removes the framework.
	if err := s.Send("mesos.scheduler.Call", rewrite(t, calls[len(calls)-1], ids)); err != nil {
		t.Fatal(err)
	}
	if calls[len(calls)-1].GetType() != schedpb.Call_TEARDOWN {
		t.Fatalf("last recorded call is %v", calls[len(calls)-1].GetType())
	}
	waitFor(t, 10*time.Second, "framework removed", func() error {
		var st struct {
			Completed []struct {
				ID string `json:"id"`
			} `json:"completed_frameworks"`
		}
		if err := getJSON("http://"+master+"/master/state", &st); err != nil {
			return err
		}
		for _, f := range st.Completed {
			if f.ID == reg.GetFrameworkId().GetValue() {
				return nil
			}
		}
		return fmt.Errorf("framework not completed yet")
	})
}

func v0FrameworkInfo(t *testing.T, name string) *mesos.FrameworkInfo {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return &mesos.FrameworkInfo{User: proto.String(u.Username), Name: proto.String(name),
		FailoverTimeout: proto.Float64(300), Checkpoint: proto.Bool(true)}
}

func commandTask(id string, offer *mesos.Offer, cmd string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: offer.GetAgentId(),
		Resources: []*mesos.Resource{
			{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.1)}},
			{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(32)}},
		},
		Command: &mesos.CommandInfo{Value: proto.String(cmd), Shell: proto.Bool(true)},
	}
}

// TestV0DriverTasksAndMasterRestart runs a framework through the driver
// protocol against a master and an agent (separate processes): tasks to
// TASK_FINISHED with explicit acknowledgements, KILL, explicit and
// implicit reconciliation (answered without a uuid or pid, so the driver
// does not acknowledge them), then a master SIGKILLed and restarted on
// its work directory, to which the driver registers again with its
// framework id and finds its running task.
func TestV0DriverTasksAndMasterRestart(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	masterArgs := []string{"master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir=" + filepath.Join(work, "master"),
		"--allocation_interval=100ms", "--agent_reregister_timeout=30secs"}
	m := start(t, "master", masterArgs...)
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	start(t, "agent", "agent", "--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:2;mem:512;disk:256;ports:[31000-31010]",
		"--registration_backoff_factor=100ms")

	s, err := v0test.NewScheduler(master, "scheduler-e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info := v0FrameworkInfo(t, "v0 e2e")
	if err := s.Subscribe(info); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Await(10*time.Second, v0test.Named("FrameworkRegisteredMessage")); err != nil {
		t.Fatal(err)
	}
	offer := func() *mesos.Offer {
		t.Helper()
		r, err := s.Await(20*time.Second, v0test.Named("ResourceOffersMessage"))
		if err != nil {
			t.Fatal(err)
		}
		return r.Msg.(*messages.ResourceOffersMessage).GetOffers()[0]
	}
	// seen keeps the updates that arrived while another was awaited.
	seen := map[string]*messages.StatusUpdateMessage{}
	update := func(task string, state mesos.TaskState) *messages.StatusUpdateMessage {
		t.Helper()
		key := task + "/" + state.String()
		if u := seen[key]; u != nil {
			delete(seen, key)
			return u
		}
		want := v0test.Update(task, state)
		r, err := s.Await(30*time.Second, func(r v0test.Received) bool {
			u, ok := r.Msg.(*messages.StatusUpdateMessage)
			if !ok {
				return false
			}
			// Every update with a uuid is acknowledged, explicitly (the
			// agent sends a task's next update only after that).
			if len(u.GetUpdate().GetUuid()) > 0 && u.GetPid() != "" {
				if err := s.Acknowledge(u); err != nil {
					t.Error(err)
				}
			}
			if want(r) {
				return true
			}
			st := u.GetUpdate().GetStatus()
			seen[st.GetTaskId().GetValue()+"/"+st.GetState().String()] = u // for a later wait
			return false
		})
		if err != nil {
			t.Fatalf("%s %v: %v", task, state, err)
		}
		return r.Msg.(*messages.StatusUpdateMessage)
	}
	// A task to its end, each update acknowledged explicitly.
	o := offer()
	if err := s.Launch(o, commandTask("true", o, "/bin/true"), commandTask("sleeper", o, "sleep 600")); err != nil {
		t.Fatal(err)
	}
	update("true", mesos.TaskState_TASK_FINISHED)
	update("sleeper", mesos.TaskState_TASK_RUNNING)

	// Explicit and implicit reconciliation.
	if err := s.Call(&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("sleeper")}}}}}); err != nil {
		t.Fatal(err)
	}
	rec := update("sleeper", mesos.TaskState_TASK_RUNNING)
	if rec.GetUpdate().GetStatus().GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || len(rec.GetUpdate().GetUuid()) > 0 || rec.GetPid() != "" {
		t.Errorf("reconciliation answer: reason %v, uuid %x, pid %q", rec.GetUpdate().GetStatus().GetReason(), rec.GetUpdate().GetUuid(), rec.GetPid())
	}

	// The master dies and comes back; the driver registers again.
	if err := syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.done
	start(t, "master-2", masterArgs...)
	waitFor(t, 20*time.Second, "restarted master", func() error { return httpOK("http://" + master + "/health") })
	info.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID())}
	waitFor(t, 30*time.Second, "registered again", func() error {
		if err := s.Subscribe(info); err != nil {
			return err
		}
		r, err := s.Await(time.Second, func(r v0test.Received) bool {
			return r.Name == "mesos.internal.FrameworkRegisteredMessage" || r.Name == "mesos.internal.FrameworkReregisteredMessage"
		})
		if err != nil {
			return err
		}
		if r.Name != "mesos.internal.FrameworkRegisteredMessage" {
			return fmt.Errorf("a restarted master answers FrameworkRegisteredMessage (MESOS-786), got %s", r.Name)
		}
		return nil
	})
	waitFor(t, 40*time.Second, "the running task reconciled after the restart", func() error {
		if err := s.Call(&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{}}); err != nil {
			return err
		}
		_, err := s.Await(time.Second, v0test.Update("sleeper", mesos.TaskState_TASK_RUNNING))
		return err
	})
	// Kill it.
	if err := s.Call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("sleeper")}}}); err != nil {
		t.Fatal(err)
	}
	update("sleeper", mesos.TaskState_TASK_KILLED)
	var st struct {
		Frameworks []struct {
			ID  string `json:"id"`
			PID string `json:"pid"`
		} `json:"frameworks"`
	}
	if err := getJSON("http://"+master+"/master/state", &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Frameworks) != 1 || st.Frameworks[0].PID != s.PID.String() {
		t.Errorf("/master/state frameworks: %+v, want the driver's pid %s", st.Frameworks, s.PID)
	}
}
