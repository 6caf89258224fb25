package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/agent/containerizer/fake"
	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// fakeExecutor is an executor without a process, for the fake
// containerizer: it subscribes over the v1 executor HTTP API with the
// environment its container was given, reports each task it is given
// TASK_RUNNING, and on KILL reports TASK_KILLED and exits (status 0).
func fakeExecutor(ctx context.Context, _ string, cfg containerizer.Config) syscall.WaitStatus {
	env, err := builtin.EnvFromOS(func(k string) string { return cfg.Env[k] })
	if err != nil {
		return 1 << 8
	}
	c := builtin.NewClient(env, codec.JSON)
	stream, err := c.Subscribe(ctx, nil)
	if err != nil {
		return 2 << 8
	}
	defer stream.Close()
	update := func(task *mesos.TaskID, state mesos.TaskState) error {
		return c.Update(ctx, &mesos.TaskStatus{TaskId: task, State: state.Enum(),
			Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: builtin.NewUUID()})
	}
	for {
		ev, err := stream.Next()
		switch {
		case errors.Is(err, io.EOF) || ctx.Err() != nil:
			return 0
		case err != nil:
			return 3 << 8
		}
		switch ev.GetType() {
		case execpb.Event_LAUNCH:
			if update(ev.GetLaunch().GetTask().GetTaskId(), mesos.TaskState_TASK_RUNNING) != nil {
				return 4 << 8
			}
		case execpb.Event_KILL:
			if update(ev.GetKill().GetTaskId(), mesos.TaskState_TASK_KILLED) != nil {
				return 5 << 8
			}
			return 0
		case execpb.Event_SHUTDOWN:
			return 0
		}
	}
}

// The agent runs a task end to end through a fake containerizer, with no
// process: RUN_TASK launches the command executor's container (with its
// sandbox, environment and resources), the executor subscribes and
// reports TASK_RUNNING, /monitor/statistics reads the container's usage
// through the seam, KILL_TASK ends in TASK_KILLED, and the container's
// end (waited for through the seam) lets the agent forget the framework.
func TestTaskThroughFakeContainerizer(t *testing.T) {
	m := newFakeMaster(t)
	fc := &fake.Containerizer{Name: "fake", Run: fakeExecutor,
		Statistics: &mesos.ResourceStatistics{Timestamp: proto.Float64(1), MemRssBytes: proto.Uint64(4096)}}
	a := startAgent(t, m, func(c *Config) { c.Containerizer = fc })
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("t1", "not run by the fake"), nil))
	got := m.waitState(t, "t1", mesos.TaskState_TASK_RUNNING)
	if !slices.Equal(states(got), []string{"TASK_RUNNING"}) {
		t.Fatalf("updates %v", states(got))
	}

	launched := fc.Launched()
	if len(launched) != 1 {
		t.Fatalf("launched %v", launched)
	}
	var cid string
	var cfg containerizer.Config
	for cid, cfg = range launched {
	}
	sandbox := executorDir(a.cfg.WorkDir, a.ID(), "F1", "t1") + "/runs/" + cid
	if cfg.Directory != sandbox || cfg.Env["MESOS_SANDBOX"] != sandbox || cfg.Env["MESOS_EXECUTOR_ID"] != "t1" ||
		cfg.Builtin == nil || cfg.Checkpoint || cfg.Command.GetValue() != a.cfg.ExecutorCommand[0] {
		t.Errorf("launch config %+v", cfg)
	}
	if len(cfg.Resources) != 2 {
		t.Errorf("resources %v", cfg.Resources)
	}
	var e legacy.MonitorEntry
	waitFor(t, 10*time.Second, "t1's statistics", func() error {
		var ok bool
		if e, ok = getStatistics(t, a, "/monitor/statistics", "t1"); !ok {
			return fmt.Errorf("no entry")
		}
		return nil
	})
	if e.Statistics.MemRSSBytes == nil || *e.Statistics.MemRSSBytes != 4096 {
		t.Errorf("statistics %+v", e.Statistics)
	}

	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, TaskId: &mesos.TaskID{Value: proto.String("t1")}}})
	m.waitState(t, "t1", mesos.TaskState_TASK_KILLED)
	waitFor(t, 10*time.Second, "the executor's end", func() error {
		n := -1
		a.do(func() { n = len(a.st.frameworks) })
		if n != 0 {
			return fmt.Errorf("%d frameworks", n)
		}
		return nil
	})
	var calls []string
	for _, c := range fc.Calls() {
		if c.ID == cid && !slices.Contains(calls, c.Method) {
			calls = append(calls, c.Method)
		}
	}
	for _, want := range []string{"Launch", "Status", "Usage", "Wait"} {
		if !slices.Contains(calls, want) {
			t.Errorf("calls %v: no %s", calls, want)
		}
	}
}
