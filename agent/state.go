package agent

import (
	"context"
	"time"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// state is everything the agent knows; only the loop goroutine touches it.
type state struct {
	info     *mesos.AgentInfo // id set once registered
	ip       string
	endpoint string

	connected  bool
	streamID   string
	masterInfo *mesos.MasterInfo
	refused    bool

	frameworks map[string]*framework
	// completedFrameworks are the frameworks the agent forgot, newest
	// last, at most maxCompletedFrameworks (shown by /state).
	completedFrameworks []*framework

	// checkpointed is the total resources the master last sent
	// (CHECKPOINT_RESOURCES), with reservations and volumes; nil when
	// none. It is in the checkpoint and reported in REGISTER.
	checkpointed []*mesos.Resource

	// retryTimer fires at retryAt, the earliest status-update retry.
	retryTimer Timer
	retryAt    time.Time

	// recovering: executors recovered from the checkpoint may still
	// re-subscribe; the agent registers with the master once they all
	// did, or when reregTimer (--executor_reregistration_timeout) fires.
	recovering bool
	reregTimer Timer

	// out is the queue of calls to the master, drained by the sender.
	out *queue[outCall]

	// metrics are the counters of /metrics/snapshot (metrics.go).
	metrics counters

	// gc is the sandbox garbage collector's state (gc.go).
	gc gcState

	// ckpt is the checkpoint writes waiting for their commit
	// (checkpointer.go).
	ckpt ckptState
}

func newState(info *mesos.AgentInfo) state {
	return state{info: info, frameworks: map[string]*framework{}, out: newQueue[outCall]()}
}

func (s *state) agentID() string { return s.info.GetId().GetValue() }

func (s *state) stopTimers() {
	if s.retryTimer != nil {
		s.retryTimer.Stop()
		s.retryTimer = nil
	}
	if s.reregTimer != nil {
		s.reregTimer.Stop()
		s.reregTimer = nil
	}
	s.gc.stopTimers()
	for _, fw := range s.frameworks {
		for _, ex := range fw.executors {
			ex.stopTimers()
		}
	}
}

type framework struct {
	id          string
	info        *mesos.FrameworkInfo
	terminating bool
	// pid is the libprocess pid of the framework's scheduler driver, from
	// the latest RUN_TASK ("" for a framework on the HTTP API).
	pid       string
	executors map[string]*executor
	// updates holds each task's stream of unacknowledged status updates.
	updates map[string]*updateStream
	// checkpointed is the FrameworkInfo last written to the checkpoint.
	checkpointed *mesos.FrameworkInfo
	// completedExecutors are the framework's forgotten executors, newest
	// last, at most --max_completed_executors_per_framework.
	completedExecutors []*executor
}

// How much history /state shows beyond
// --max_completed_executors_per_framework, as Mesos' constants.
const (
	maxCompletedFrameworks       = 50
	maxCompletedTasksPerExecutor = 200
)

// appendBounded appends v to list, dropping the oldest entries beyond n.
func appendBounded[T any](list []T, v T, n int) []T {
	list = append(list, v)
	if len(list) > n {
		list = append(list[:0:0], list[len(list)-n:]...)
	}
	return list
}

func (fw *framework) partitionAware() bool {
	for _, c := range fw.info.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_PARTITION_AWARE {
			return true
		}
	}
	return false
}

// executorOf returns the executor that holds taskID (queued or launched).
func (fw *framework) executorOf(taskID string) *executor {
	for _, ex := range fw.executors {
		if ex.tasks[taskID] != nil {
			return ex
		}
	}
	return nil
}

type executorState int

const (
	// exLaunching: sandbox made, fetching URIs / starting the process.
	exLaunching executorState = iota
	// exRegistering: the process runs; no SUBSCRIBE yet.
	exRegistering
	// exRunning: subscribed.
	exRunning
	// exTerminating: being shut down or killed.
	exTerminating
	// exTerminated: the process is gone.
	exTerminated
)

func (s executorState) String() string {
	return [...]string{"LAUNCHING", "REGISTERING", "RUNNING", "TERMINATING", "TERMINATED"}[s]
}

type executorKind int

const (
	kindCustom executorKind = iota
	kindCommand
	kindDefault
)

type executor struct {
	fw          *framework
	id          string
	info        *mesos.ExecutorInfo
	kind        executorKind
	containerID string
	sandbox     string
	state       executorState

	// checkpointed: the framework checkpoints and this run's executor
	// info is in the checkpoint under runID; its pid, tasks and their
	// updates go there too.
	checkpointed bool
	runID        checkpoint.Run
	// recovered: adopted from a previous run of the agent.
	recovered bool
	// completed holds the tasks whose terminal update was acknowledged
	// (an executor resending one of their updates is acknowledged again);
	// completedTasks keeps the latest of them for /state.
	completed      map[string]bool
	completedTasks []*task

	// tasks holds every non-completed task by id; queue is the order of
	// queued (undelivered) tasks and groups.
	tasks map[string]*task
	queue [][]string // each entry a task id, or a group of ids
	// everSent: some task or group was delivered to the executor.
	everSent bool

	conn *execConn
	// libprocessPID is the pid of an executor that speaks the driver
	// protocol ("" for an HTTP executor), from its registration or the
	// checkpoint.
	libprocessPID string

	// launched is the executor's container once launched (nil before,
	// or when it never started).
	launched    *launchedContainer
	fetchCancel context.CancelFunc

	regTimer      Timer
	shutdownTimer Timer

	// pendingTermination says why the agent ended the executor: the state,
	// reason and message of the updates its unfinished tasks get.
	pendingTermination *termination
}

type termination struct {
	state   mesos.TaskState
	reason  mesos.TaskStatus_Reason
	message string
}

func (ex *executor) stopTimers() {
	if ex.regTimer != nil {
		ex.regTimer.Stop()
		ex.regTimer = nil
	}
	if ex.shutdownTimer != nil {
		ex.shutdownTimer.Stop()
		ex.shutdownTimer = nil
	}
}

type task struct {
	info     *mesos.TaskInfo
	group    *mesos.TaskGroupInfo // for LAUNCH_GROUP tasks
	queued   bool                 // not yet delivered to the executor
	state    mesos.TaskState      // latest state
	statuses []*mesos.TaskStatus
}

// execConn is an executor's subscription: events queued here are written
// to its HTTP stream by the handler goroutine.
type execConn struct {
	events *queue[*execpb.Event]
}

// outCall is a call for the master, stamped with the stream it belongs
// to.
type outCall struct {
	streamID string
	call     any // *agentproto.AgentCall
}
