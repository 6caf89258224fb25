package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Process is a command task started by Start.
type Process struct {
	task   *mesos.TaskInfo
	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	killed bool
}

// Start runs task's command (sh -c for a shell command; a task launched
// with a custom executor carries no CommandInfo, so its data is taken as
// a shell command instead) in its own process
// group, in the executor's sandbox, with the executor's environment plus
// the command's; it sends TASK_RUNNING once started and, when the command
// ends, TASK_FINISHED (exit 0), TASK_KILLED (after Kill) or TASK_FAILED
// with the exit status. A command that cannot start gets TASK_FAILED and
// an error.
func (e *Executor) Start(ctx context.Context, task *mesos.TaskInfo) (*Process, error) {
	c := task.GetCommand()
	if c == nil && len(task.GetData()) > 0 {
		c = &mesos.CommandInfo{Value: proto.String(string(task.GetData()))}
	}
	if c.GetValue() == "" {
		_ = e.Status(ctx, task.GetTaskId(), mesos.TaskState_TASK_FAILED, "the task has neither a command nor data to run")
		return nil, fmt.Errorf("executor: task %s has no command", task.GetTaskId().GetValue())
	}
	var cmd *exec.Cmd
	if c.Shell == nil || c.GetShell() {
		cmd = exec.Command("/bin/sh", "-c", c.GetValue())
	} else {
		cmd = exec.Command(c.GetValue(), c.GetArguments()...)
		if len(c.GetArguments()) > 0 {
			cmd.Args = c.GetArguments()
		}
	}
	cmd.Dir = e.env.Sandbox
	cmd.Env = os.Environ()
	for _, v := range c.GetEnvironment().GetVariables() {
		cmd.Env = append(cmd.Env, v.GetName()+"="+v.GetValue())
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = e.Status(ctx, task.GetTaskId(), mesos.TaskState_TASK_FAILED, "cannot start the command: "+err.Error())
		return nil, fmt.Errorf("executor: start task %s: %w", task.GetTaskId().GetValue(), err)
	}
	p := &Process{task: task, cmd: cmd, done: make(chan struct{})}
	if err := e.Status(ctx, task.GetTaskId(), mesos.TaskState_TASK_RUNNING, ""); err != nil {
		e.log.Warn("TASK_RUNNING not sent", "task", task.GetTaskId().GetValue(), "err", err)
	}
	go func() {
		err := cmd.Wait()
		state, msg := mesos.TaskState_TASK_FINISHED, "Command exited with status 0"
		var ee *exec.ExitError
		p.mu.Lock()
		killed := p.killed
		p.mu.Unlock()
		switch {
		case killed:
			state, msg = mesos.TaskState_TASK_KILLED, "Command killed"
		case errors.As(err, &ee):
			state = mesos.TaskState_TASK_FAILED
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				msg = "Command terminated with signal " + ws.Signal().String()
			} else {
				msg = fmt.Sprintf("Command exited with status %d", ee.ExitCode())
			}
		case err != nil:
			state, msg = mesos.TaskState_TASK_FAILED, err.Error()
		}
		if err := e.Status(context.Background(), task.GetTaskId(), state, msg); err != nil {
			e.log.Warn("terminal update not sent; kept for re-subscription", "task", task.GetTaskId().GetValue(), "err", err)
		}
		close(p.done)
	}()
	return p, nil
}

// Kill sends SIGTERM to the process group and SIGKILL after grace; the
// task's terminal update is TASK_KILLED.
func (p *Process) Kill(grace time.Duration) {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

// Done is closed once the command ended and its terminal update was sent
// (or kept for re-subscription).
func (p *Process) Done() <-chan struct{} { return p.done }

// Task returns the task the process runs.
func (p *Process) Task() *mesos.TaskInfo { return p.task }
