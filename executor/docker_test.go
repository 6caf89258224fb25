package executor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// fakeContainer is a task run by Config.RunTask that records what the
// executor does to it: it ends on SIGKILL (status 137, as Docker
// reports a killed container), and its checks exit with execCode.
type fakeContainer struct {
	execCode int

	mu      sync.Mutex
	signals []syscall.Signal
	execs   int
	done    chan struct{}
	once    sync.Once
}

func newFakeContainer() *fakeContainer { return &fakeContainer{done: make(chan struct{})} }

func (c *fakeContainer) Pid() int                   { return 0 }
func (c *fakeContainer) Done() <-chan struct{}      { return c.done }
func (c *fakeContainer) Status() syscall.WaitStatus { <-c.done; return syscall.WaitStatus(137 << 8) }
func (c *fakeContainer) Destroy()                   { c.Signal(syscall.SIGKILL) }
func (c *fakeContainer) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	c.signals = append(c.signals, sig)
	c.mu.Unlock()
	if sig == syscall.SIGKILL {
		c.once.Do(func() { close(c.done) })
	}
	return nil
}
func (c *fakeContainer) Exec(context.Context, *mesos.CommandInfo, map[string]string, string) (int, error) {
	c.mu.Lock()
	c.execs++
	c.mu.Unlock()
	return c.execCode, nil
}
func (c *fakeContainer) Address(port uint32, _ bool) string { return "192.0.2.1:1" }

func (c *fakeContainer) sent() []syscall.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.signals)
}

// TestRunTaskKillUsesDefaultGrace: a task run by RunTask (the Docker
// executor's container) without a kill policy is killed with
// DefaultKillGrace (--docker_stop_timeout; 0: SIGTERM then SIGKILL at
// once), not the shutdown grace period, and ends TASK_KILLED; its
// COMMAND check runs through the container's Exec.
func TestRunTaskKillUsesDefaultGrace(t *testing.T) {
	agent := newFakeAgent()
	c := newFakeContainer()
	c.execCode = 7
	zero := time.Duration(0)
	h := startExecutorWith(t, Command, agent, func(cfg *Config) {
		cfg.RunTask = func(launcher.Spec, *mesos.TaskInfo) (Process, error) { return c, nil }
		cfg.DefaultKillGrace = &zero
	})
	task := commandTask("t1", "ignored")
	task.KillPolicy = nil
	task.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(),
		Command:         &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{Value: proto.String("probe")}},
		IntervalSeconds: proto.Float64(0.1), DelaySeconds: proto.Float64(0)}
	h.launch(task)
	h.waitUpdate("t1", "check exit code 7 from the container", func(s *mesos.TaskStatus) bool {
		return s.GetCheckStatus().GetCommand().GetExitCode() == 7
	})
	start := time.Now()
	h.kill("t1")
	s := h.waitUpdate("t1", "a terminal update", terminal)
	if s.GetState() != mesos.TaskState_TASK_KILLED {
		t.Fatalf("terminal update %v, want TASK_KILLED%s", s.GetState(), describe(agent.sent("t1")))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the kill took %v; with a zero default grace it must not wait for the 3s shutdown grace period", took)
	}
	if got := c.sent(); len(got) < 2 || got[0] != syscall.SIGTERM || got[1] != syscall.SIGKILL {
		t.Errorf("signals %v, want SIGTERM then SIGKILL", got)
	}
	h.waitExit()
}

// TestRunTaskFailureIsLaunchFailure: a task whose container cannot be
// had ends TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED and the
// cause.
func TestRunTaskFailureIsLaunchFailure(t *testing.T) {
	agent := newFakeAgent()
	h := startExecutorWith(t, Command, agent, func(cfg *Config) {
		cfg.RunTask = func(launcher.Spec, *mesos.TaskInfo) (Process, error) {
			return nil, errors.New("image img:1 not available")
		}
	})
	h.launch(commandTask("t1", "ignored"))
	s := h.waitUpdate("t1", "a terminal update", terminal)
	if s.GetState() != mesos.TaskState_TASK_FAILED || s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(s.GetMessage(), "img:1") {
		t.Fatalf("terminal update %v %v %q, want TASK_FAILED REASON_CONTAINER_LAUNCH_FAILED naming the image", s.GetState(), s.GetReason(), s.GetMessage())
	}
	h.waitExit()
}
