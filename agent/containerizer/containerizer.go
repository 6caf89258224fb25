package containerizer

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/agent/provisioner"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// Containerizer runs executors in containers: Mesos' Containerizer
// (src/slave/containerizer/containerizer.hpp). The agent owns one (a
// Composing of those --containerizers names) and calls it from its state
// goroutine (Launch and Recover excepted, see below); implementations
// must be safe for concurrent use and must not block the caller on
// anything but their own bookkeeping: only Launch, Recover and Wait may
// take long.
//
// Order: Recover once, before anything else; then Launch a container;
// Wait for its end (from one or more goroutines); Update, Usage, Status
// and Destroy while it lives. A container is known from a successful
// Launch (or Recover) until its end has been reported: afterwards every
// call but Launch answers ErrUnknownContainer, which callers treat as
// "already over".
type Containerizer interface {
	// Recover re-adopts the containers of a previous run of the agent
	// that still run (those the agent's checkpoint lists, each by its
	// executor's pid) and destroys the orphans: what runs in the agent's
	// sandboxes without being listed. A listed container it cannot find
	// is simply not recovered (Wait answers ErrUnknownContainer). It
	// returns an error (a *RecoverError per container, joined) for
	// containers that could not be recovered for another reason.
	// Called before the agent's state goroutine runs.
	Recover(ctx context.Context, known []RecoverState) error
	// Launch starts a container running cfg's executor. NotSupported
	// means this containerizer cannot run it (a composing containerizer
	// tries the next); AlreadyLaunched that id is taken. An error means
	// the launch failed. Called on a launch goroutine of the agent, after
	// the executor's URIs were fetched into its sandbox.
	Launch(ctx context.Context, id *mesos.ContainerID, cfg Config) (LaunchResult, error)
	// Wait blocks until the container has ended (everything in it
	// killed, its isolation cleaned up) and returns how, or until ctx
	// ends (ctx's error).
	Wait(ctx context.Context, id *mesos.ContainerID) (Termination, error)
	// Destroy kills everything in the container without waiting for it
	// to be reaped; Wait reports the end.
	Destroy(ctx context.Context, id *mesos.ContainerID) error
	// Update sets the resources the container holds (its executor's and
	// its live tasks'), and their limits.
	Update(ctx context.Context, id *mesos.ContainerID, resources []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error
	// Usage measures the container: what its isolators report, with the
	// limits of the resources it holds.
	Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error)
	// Status describes the container: its id and, for a process, the
	// executor's pid.
	Status(ctx context.Context, id *mesos.ContainerID) (*mesos.ContainerStatus, error)
	// Containers lists the live containers.
	Containers(ctx context.Context) ([]*mesos.ContainerID, error)
}

// DefaultPath is the PATH an executor gets when its environment names
// none, as Mesos' containerizer sets it.
const DefaultPath = launcher.DefaultPath

// LaunchResult is the outcome of a Launch that did not fail, as Mesos'
// Containerizer::LaunchResult.
type LaunchResult int

const (
	// Launched: the container runs.
	Launched LaunchResult = iota
	// AlreadyLaunched: a container with that id exists already.
	AlreadyLaunched
	// NotSupported: this containerizer cannot run the container; another
	// may.
	NotSupported
)

func (r LaunchResult) String() string {
	switch r {
	case Launched:
		return "launched"
	case AlreadyLaunched:
		return "already launched"
	case NotSupported:
		return "not supported"
	}
	return fmt.Sprintf("LaunchResult(%d)", int(r))
}

// ErrUnknownContainer is returned for a container id the containerizer
// does not know (never launched, or already over).
var ErrUnknownContainer = errors.New("unknown container")

// RecoverError is a container Recover could not recover.
type RecoverError struct {
	ID  string
	Err error
}

func (e *RecoverError) Error() string {
	return fmt.Sprintf("container %s: %v", e.ID, e.Err)
}

func (e *RecoverError) Unwrap() error { return e.Err }

// Config is what a container runs: Mesos' ContainerConfig, for an
// executor.
type Config struct {
	// ExecutorInfo is the executor the container runs.
	ExecutorInfo *mesos.ExecutorInfo
	// Command is the executor's command (for the built-in executors, the
	// `mezzo executor` command line).
	Command *mesos.CommandInfo
	// ContainerInfo is the executor's container, as asked for (nil for
	// none). The agent refused what it cannot provide before launch.
	ContainerInfo *mesos.ContainerInfo
	// Resources are what the executor and its tasks hold at launch;
	// Limits their limits (TaskInfo.limits). Update changes both.
	Resources []*mesos.Resource
	Limits    map[string]*mesos.Value_Scalar
	// Directory is the sandbox: the working directory, where stdout and
	// stderr are written.
	Directory string
	// User is who the executor runs as (--switch_user: the executor's
	// CommandInfo.user, else the framework's user); empty keeps the
	// agent's user. The agent owns the sandbox to that user before
	// launch.
	User string
	// Env is the executor's complete environment (Mesos' executor
	// environment); nothing of the agent's is inherited.
	Env map[string]string
	// Checkpoint: the framework checkpoints, so the container must
	// outlive the agent; a restarted agent recovers it by the pid it
	// checkpointed. (Mesos passes a pid checkpoint path instead.)
	Checkpoint bool
	// Task is the command task a command executor runs (Mesos'
	// ContainerConfig.task_info); nil for other executors.
	Task *mesos.TaskInfo
	// Rootfs is the container's root file system, provisioned from
	// ContainerInfo.mesos.image by the containerizer before the
	// isolators prepare; nil for a container that shares the host's.
	Rootfs *provisioner.Rootfs
	// Builtin is set for Mezzo's own command and default executors,
	// which a containerizer may run inside the agent instead of as a
	// process (see Builtin); nil for any other executor.
	Builtin *BuiltinExecutor
}

// BuiltinExecutor is what running Mezzo's command or default executor
// inside the agent needs beyond Config.
type BuiltinExecutor struct {
	// Mode is builtin.Command or builtin.Default.
	Mode builtin.Mode
	// Env is the executor's identity and agent address.
	Env builtin.Env
	// Transport carries the executor's calls to the agent's state
	// goroutine and its events back, as the HTTP API would.
	Transport builtin.Transport
}

// RecoverState is a container a previous run of the agent launched, as
// its checkpoint says.
type RecoverState struct {
	// ID is the container id (the executor run's).
	ID *mesos.ContainerID
	// Pid is the executor's checkpointed pid; 0 when it never started or
	// the host rebooted since.
	Pid int
	// Directory is the container's sandbox.
	Directory string
}

// Termination is how a container ended: Mesos' ContainerTermination.
type Termination struct {
	// Status is the executor's wait status (syscall.WaitStatus), nil when
	// unknown: a process recovered from a previous run of the agent is
	// not the agent's child, so its status went elsewhere.
	Status *int32
	// State, Reason and Message are set when the container was ended by
	// its isolation (a limitation, e.g. memory), Reason zero otherwise:
	// its unfinished tasks then take these, as in Mesos.
	State   mesos.TaskState
	Reason  mesos.TaskStatus_Reason
	Message string
}

// Describe words the termination for a log line: "exited with status N",
// "terminated with signal Killed", the limitation's message, or "exited"
// when nothing more is known.
func (t Termination) Describe() string {
	switch {
	case t.Reason != 0 && t.Message != "":
		return t.Message
	case t.Status != nil:
		return launcher.DescribeStatus(syscall.WaitStatus(*t.Status))
	}
	return "exited"
}

// Limitation is what an isolator reports when a container exceeded what
// it may use: Mesos' ContainerLimitation. The container is destroyed and
// its tasks get Reason and Message.
type Limitation struct {
	Resources []*mesos.Resource
	Reason    mesos.TaskStatus_Reason
	Message   string
}
