package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/libprocess"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

var v0executor struct {
	once sync.Once
	path string
	err  error
}

// v0ExecutorBinary builds testdata/v0executor (a driver-based executor)
// once.
func v0ExecutorBinary(t *testing.T) string {
	t.Helper()
	v0executor.once.Do(func() {
		v0executor.path = filepath.Join(bin.dir, "v0executor")
		cmd := exec.Command("go", "build", "-o", v0executor.path, "./testdata/v0executor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			v0executor.err = fmt.Errorf("build testdata/v0executor: %v\n%s", err, out)
		}
	})
	if v0executor.err != nil {
		t.Fatal(v0executor.err)
	}
	return v0executor.path
}

// v0ExecutorTask is a task for the driver-based executor exID.
func v0ExecutorTask(id string, offer *mesos.Offer, exID, path string, data string) *mesos.TaskInfo {
	cpus := func(v float64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	}
	mem := func(v float64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	}
	return &mesos.TaskInfo{
		Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: offer.GetAgentId(),
		Resources: []*mesos.Resource{cpus(0.1), mem(16)},
		Data:      []byte(data),
		Executor: &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String(exID)},
			Name:       proto.String("v0 test executor"),
			Command:    &mesos.CommandInfo{Value: proto.String(path), Shell: proto.Bool(false)},
			Resources:  []*mesos.Resource{cpus(0.1), mem(32)},
		},
	}
}

// TestV0ExecutorDriver runs a driver-based executor (testdata/v0executor,
// built on v0test's executor driver) under a driver-based scheduler,
// against a master and an agent in separate processes: the executor
// registers with the agent, runs tasks, takes framework messages sent
// straight to the agent's pid and answers straight from the agent to the
// scheduler's pid; the agent restarts and the executor, of a
// checkpointing framework, registers again and runs a new task; a task is
// killed, and the framework's teardown shuts the executor down.
func TestV0ExecutorDriver(t *testing.T) {
	path := v0ExecutorBinary(t)
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir="+filepath.Join(work, "master"),
		"--allocation_interval=100ms")
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	agentPort := freePort(t)
	agentArgs := []string{"agent", "--master=" + master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", agentPort),
		"--work_dir=" + filepath.Join(work, "agent"), "--resources=cpus:2;mem:512;disk:256;ports:[31000-31010]",
		"--registration_backoff_factor=100ms", "--executor_reregistration_timeout=10secs"}
	agent := start(t, "agent", agentArgs...)
	agentPID := fmt.Sprintf("slave(1)@127.0.0.1:%d", agentPort)

	s, err := v0test.NewScheduler(master, "scheduler-v0exec")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ImplicitAcks = true
	if err := s.Subscribe(v0FrameworkInfo(t, "v0 executor e2e")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Await(10*time.Second, v0test.Named("FrameworkRegisteredMessage")); err != nil {
		t.Fatal(err)
	}
	offer := func() *mesos.Offer {
		t.Helper()
		r, err := s.Await(30*time.Second, v0test.Named("ResourceOffersMessage"))
		if err != nil {
			t.Fatal(err)
		}
		m := r.Msg.(*messages.ResourceOffersMessage)
		if len(m.GetPids()) != 1 || m.GetPids()[0] != agentPID {
			t.Fatalf("offer pids %q, want [%s]", m.GetPids(), agentPID)
		}
		return m.GetOffers()[0]
	}
	// seen keeps the updates that arrived while another was awaited.
	seen := map[string]bool{}
	update := func(task string, state mesos.TaskState) {
		t.Helper()
		if seen[task+"/"+state.String()] {
			return
		}
		want := v0test.Update(task, state)
		_, err := s.Await(30*time.Second, func(r v0test.Received) bool {
			if u, ok := r.Msg.(*messages.StatusUpdateMessage); ok {
				st := u.GetUpdate().GetStatus()
				seen[st.GetTaskId().GetValue()+"/"+st.GetState().String()] = true
				if u.GetPid() != agentPID {
					t.Errorf("update %s %v: pid %q, want the agent's %s", st.GetTaskId().GetValue(), st.GetState(), u.GetPid(), agentPID)
				}
			}
			return want(r)
		})
		if err != nil {
			t.Fatalf("%s %v: %v", task, state, err)
		}
	}

	// Two tasks on one executor: one finishes, one keeps running.
	o := offer()
	if err := s.Launch(o, v0ExecutorTask("done", o, "v0-exec", path, "finish"), v0ExecutorTask("long", o, "v0-exec", path, "")); err != nil {
		t.Fatal(err)
	}
	update("done", mesos.TaskState_TASK_FINISHED)
	update("long", mesos.TaskState_TASK_RUNNING)
	agentID := o.GetAgentId().GetValue()

	// Messages both ways, without the master: to the agent's pid, and
	// from it to the scheduler's.
	echo := func(data string) {
		t.Helper()
		if err := s.SendFrameworkMessage(agentID, "v0-exec", []byte(data)); err != nil {
			t.Fatal(err)
		}
		r, err := s.Await(20*time.Second, v0test.Named("ExecutorToFrameworkMessage"))
		if err != nil {
			t.Fatal(err)
		}
		m := r.Msg.(*messages.ExecutorToFrameworkMessage)
		if r.From.String() != agentPID || string(m.GetData()) != "echo: "+data || m.GetExecutorId().GetValue() != "v0-exec" || m.GetSlaveId().GetValue() != agentID {
			t.Errorf("executor message from %s: %v", r.From, m)
		}
	}
	echo("hello")

	// The agent restarts; the executor keeps running and registers again,
	// and the master tells the agent the driver's pid again
	// (UPDATE_FRAMEWORK): the executor's answers come from the agent.
	agent.stop()
	start(t, "agent-2", agentArgs...)
	// Offers that come meanwhile are kept, those rescinded (the agent's
	// before its restart) dropped.
	var pending []*mesos.Offer
	waitFor(t, 30*time.Second, "an answer from the agent after its restart", func() error {
		if err := s.SendFrameworkMessage(agentID, "v0-exec", []byte("again")); err != nil {
			return err
		}
		r, err := s.Await(time.Second, func(r v0test.Received) bool {
			switch m := r.Msg.(type) {
			case *messages.ResourceOffersMessage:
				pending = append(pending, m.GetOffers()...)
			case *messages.RescindResourceOfferMessage:
				for i, o := range pending {
					if o.GetId().GetValue() == m.GetOfferId().GetValue() {
						pending = append(pending[:i], pending[i+1:]...)
						break
					}
				}
			}
			return r.Name == "mesos.internal.ExecutorToFrameworkMessage"
		})
		if err != nil {
			return err
		}
		if r.From.String() != agentPID {
			return fmt.Errorf("executor message from %s, not the agent", r.From)
		}
		return nil
	})
	if len(pending) > 0 {
		o = pending[len(pending)-1]
	} else {
		o = offer()
	}
	if err := s.Launch(o, v0ExecutorTask("after", o, "v0-exec", path, "")); err != nil {
		t.Fatal(err)
	}
	update("after", mesos.TaskState_TASK_RUNNING)
	echo("third")

	// Kill a task that runs since before the restart.
	if err := s.Call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("long")}}}); err != nil {
		t.Fatal(err)
	}
	update("long", mesos.TaskState_TASK_KILLED)

	// Teardown: the executor is told to shut down, and exits.
	if err := s.Call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()}); err != nil {
		t.Fatal(err)
	}
	var state struct {
		CompletedFrameworks []struct {
			CompletedExecutors []struct {
				ID string `json:"id"`
			} `json:"completed_executors"`
		} `json:"completed_frameworks"`
	}
	waitFor(t, 20*time.Second, "the executor's exit after teardown", func() error {
		if err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/state", agentPort), &state); err != nil {
			return err
		}
		for _, f := range state.CompletedFrameworks {
			for _, e := range f.CompletedExecutors {
				if e.ID == "v0-exec" {
					return nil
				}
			}
		}
		return fmt.Errorf("not among the completed executors: %+v", state)
	})
	outs := sandboxFiles(filepath.Join(work, "agent", "slaves", "*", "frameworks", "*", "executors", "v0-exec", "runs", "*", "stdout"))
	if len(outs) != 1 {
		t.Fatalf("executor stdout: %v", outs)
	}
	out, _ := os.ReadFile(outs[0])
	for _, want := range []string{"received mesos.internal.ExecutorRegisteredMessage", "received mesos.internal.ReconnectExecutorMessage",
		"received mesos.internal.ExecutorReregisteredMessage", "received mesos.internal.ShutdownExecutorMessage"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("executor's stdout lacks %q:\n%s", want, out)
		}
	}
}

// TestV0DriverMasterFailoverZooKeeper runs a driver-based framework
// against three masters electing their leader in ZooKeeper: the driver
// finds the leader as libmesos' detector does (the lowest json.info_
// znode), launches a task, and when the leader is SIGKILLed it finds the
// new one and registers there again with its framework id; the task is
// still running, and is killed through the new leader.
func TestV0DriverMasterFailoverZooKeeper(t *testing.T) {
	c := startHACluster(t, 1, false)
	first := c.leader(t)

	s, err := v0test.NewScheduler(c.addrs[first], "scheduler-v0zk")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ImplicitAcks = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.FollowLeader(ctx, c.url, v0FrameworkInfo(t, "v0 failover e2e")); err != nil {
		t.Fatal(err)
	}
	r, err := s.Await(30*time.Second, v0test.Named("FrameworkRegisteredMessage"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "master@" + c.addrs[first]; r.From.String() != want {
		t.Fatalf("registered by %s, want the leader %s", r.From, want)
	}
	r, err = s.Await(30*time.Second, v0test.Named("ResourceOffersMessage"))
	if err != nil {
		t.Fatal(err)
	}
	o := r.Msg.(*messages.ResourceOffersMessage).GetOffers()[0]
	if err := s.Launch(o, commandTask("sleeper", o, "sleep 600")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Await(30*time.Second, v0test.Update("sleeper", mesos.TaskState_TASK_RUNNING)); err != nil {
		t.Fatal(err)
	}

	killed := time.Now()
	if err := syscall.Kill(c.masters[first].cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r, err = s.Await(60*time.Second, func(r v0test.Received) bool {
		return r.Name == "mesos.internal.FrameworkRegisteredMessage" || r.Name == "mesos.internal.FrameworkReregisteredMessage"
	})
	if err != nil {
		t.Fatalf("no registration with a new leader: %v", err)
	}
	if r.Name != "mesos.internal.FrameworkRegisteredMessage" {
		t.Fatalf("a new leader answers FrameworkRegisteredMessage (MESOS-786), got %s", r.Name)
	}
	next := c.leader(t)
	if next < 0 || r.From.String() != "master@"+c.addrs[next] {
		t.Fatalf("registered again by %s; the leader is master %d", r.From, next)
	}
	if id := r.Msg.(*messages.FrameworkRegisteredMessage).GetFrameworkId().GetValue(); id != s.FrameworkID() || id == "" {
		t.Fatalf("registered again as %q", id)
	}
	t.Logf("registered with the new leader %v after the old one was killed", time.Since(killed))
	c.waitAgents(t, 1, time.Minute)
	waitFor(t, 30*time.Second, "the running task reconciled with the new leader", func() error {
		if err := s.Call(&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{}}); err != nil {
			return err
		}
		_, err := s.Await(time.Second, v0test.Update("sleeper", mesos.TaskState_TASK_RUNNING))
		return err
	})
	if err := s.Call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("sleeper")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Await(30*time.Second, v0test.Update("sleeper", mesos.TaskState_TASK_KILLED)); err != nil {
		t.Fatal(err)
	}
}

// TestV0ReplayCustomExecutor replays the executor side of Mesos 1.11's
// test-framework session (executor-test-executor.txt) against a Mezzo
// agent: a v0 scheduler launches the recorded first two tasks on the
// recorded executor "default" (whose process here only sleeps), the test
// registers as that executor with the recorded messages (ids rewritten
// to Mezzo's), and the agent must answer as Mesos' did: the same message
// types in the same order, with the same fields set.
func TestV0ReplayCustomExecutor(t *testing.T) {
	entries, err := v0test.ReadTranscript("../internal/v0test/testdata/executor-test-executor.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The recording up to the first offer's work: registration, two
	// RunTasks, four updates and their acknowledgements (#12..#29).
	var fromExec, toExec []v0test.Entry
	var runTasks []*messages.RunTaskMessage
	for _, e := range entries {
		if e.Seq > 29 {
			break
		}
		switch {
		case strings.HasPrefix(e.From, "executor(1)@"):
			fromExec = append(fromExec, e)
		case strings.HasPrefix(e.To, "executor(1)@"):
			toExec = append(toExec, e)
			if e.Name == "mesos.internal.RunTaskMessage" {
				m, err := e.Decode()
				if err != nil {
					t.Fatal(err)
				}
				runTasks = append(runTasks, m.(*messages.RunTaskMessage))
			}
		}
	}
	if len(fromExec) != 5 || len(toExec) != 7 || len(runTasks) != 2 {
		t.Fatalf("transcript: %d messages from the executor, %d to it, %d RunTasks", len(fromExec), len(toExec), len(runTasks))
	}
	shutdown := entries[len(entries)-1]
	if shutdown.Name != "mesos.internal.ShutdownExecutorMessage" {
		t.Fatalf("transcript ends with %s", shutdown.Name)
	}

	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir="+filepath.Join(work, "master"),
		"--allocation_interval=100ms")
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	start(t, "agent", "agent", "--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:2;mem:512;disk:256;ports:[31000-31010]",
		"--registration_backoff_factor=100ms")
	s, err := v0test.NewScheduler(master, "scheduler-replay-exec")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ImplicitAcks = true
	if err := s.Subscribe(v0FrameworkInfo(t, "v0 executor replay")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Await(10*time.Second, v0test.Named("FrameworkRegisteredMessage")); err != nil {
		t.Fatal(err)
	}
	r, err := s.Await(30*time.Second, v0test.Named("ResourceOffersMessage"))
	if err != nil {
		t.Fatal(err)
	}
	offers := r.Msg.(*messages.ResourceOffersMessage)
	o := offers.GetOffers()[0]
	recTask := runTasks[0].GetTask()
	ids := map[string]string{
		recTask.GetExecutor().GetFrameworkId().GetValue(): s.FrameworkID(),
		recTask.GetAgentId().GetValue():                   o.GetAgentId().GetValue(),
	}
	// The recorded tasks, on an executor that only sleeps: the test is
	// its driver.
	var tasks []*mesos.TaskInfo
	for _, rt := range runTasks {
		ti := rewrite(t, rt.GetTask(), ids).(*mesos.TaskInfo)
		ti.Resources = []*mesos.Resource{
			{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.1)}},
			{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(16)}},
		}
		ti.Executor.Command = &mesos.CommandInfo{Value: proto.String("touch started && exec sleep 600"), Shell: proto.Bool(true)}
		tasks = append(tasks, ti)
	}
	if err := s.Launch(o, tasks...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the executor's process", func() error {
		if len(sandboxFiles(filepath.Join(work, "agent", "slaves", "*", "frameworks", "*", "executors", "default", "runs", "*", "started"))) == 0 {
			return fmt.Errorf("not started")
		}
		return nil
	})
	agentPID, err := libprocess.ParseUPID(offers.GetPids()[0])
	if err != nil {
		t.Fatal(err)
	}
	reg, err := fromExec[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	reg = rewrite(t, reg, ids)
	d, err := v0test.NewExecutor(agentPID, reg.(*messages.RegisterExecutorMessage).GetFrameworkId().GetValue(),
		reg.(*messages.RegisterExecutorMessage).GetExecutorId().GetValue(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	expect := func(rec v0test.Entry) {
		t.Helper()
		got, err := d.Next(20 * time.Second)
		if err != nil {
			t.Fatalf("waiting for #%d %s: %v", rec.Seq, rec.Name, err)
		}
		if got.Name != rec.Name {
			t.Fatalf("#%d: got %s, recorded %s", rec.Seq, got.Name, rec.Name)
		}
		if got.From != agentPID {
			t.Errorf("#%d %s from %s, want the agent %s", rec.Seq, rec.Name, got.From, agentPID)
		}
		want, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		// Left out: what the test's scheduler chose (its FrameworkInfo,
		// its tasks' resources), and SlaveInfo's deprecated checkpoint
		// flag, which Mesos' agent always sets and v1's AgentInfo lacks.
		if miss := missingFields(got.Msg, want, "framework.", "framework_info.", "task.resources.", "slave_info.checkpoint"); len(miss) > 0 {
			t.Errorf("#%d %s lacks %v", rec.Seq, rec.Name, miss)
		}
		if len(rec.Body) == 0 && len(got.Body) != 0 {
			t.Errorf("#%d %s: %d bytes, recorded empty", rec.Seq, rec.Name, len(got.Body))
		}
		if m, ok := got.Msg.(*messages.RunTaskMessage); ok && m.GetPid() != s.PID.String() {
			t.Errorf("RunTaskMessage names scheduler %q, want %s", m.GetPid(), s.PID)
		}
	}
	// Registration, then the two tasks.
	for _, rec := range toExec[:3] {
		expect(rec)
	}
	// The recorded updates (from the test's own pid), each acknowledged
	// by the agent once taken.
	for _, rec := range fromExec[1:] {
		m, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		u := rewrite(t, m, ids).(*messages.StatusUpdateMessage)
		u.Pid = proto.String(d.PID.String())
		if err := d.Send(rec.Name, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, rec := range toExec[3:] {
		expect(rec)
	}
	for _, id := range []string{"0", "1"} {
		if _, err := s.Await(20*time.Second, v0test.Update(id, mesos.TaskState_TASK_FINISHED)); err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
	}
	// The framework's teardown: ShutdownExecutorMessage, empty.
	if err := s.Call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()}); err != nil {
		t.Fatal(err)
	}
	expect(shutdown)
}
