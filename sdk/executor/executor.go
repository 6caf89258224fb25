// Package executor is Mezzo's Go SDK for writing custom executors: a
// client of the Mesos v1 executor API (POST /api/v1/executor on the agent
// that launched the executor) that works against Mezzo and Apache Mesos
// alike.
//
// An Executor subscribes to its agent, hands every event to a Handler on
// Run's goroutine (in stream order), and keeps what the agent has not
// acknowledged: the tasks it launched that have not reached an
// acknowledged terminal state, and every status update not yet
// ACKNOWLEDGED. When the connection to the agent breaks and the framework
// checkpoints (MESOS_CHECKPOINT=1), Run re-subscribes with those tasks and
// updates, as the API asks, waiting a doubling backoff up to
// MESOS_SUBSCRIPTION_BACKOFF_MAX between attempts and giving up after
// MESOS_RECOVERY_TIMEOUT; otherwise a lost connection ends Run.
//
// Update sends a task's status (filling uuid, source, executor id and
// timestamp), Message sends a framework message to the scheduler, and
// Start runs a command task in its own process group and reports
// TASK_RUNNING and its terminal state.
//
//	e, err := executor.New(executor.Config{})   // reads MESOS_* from the environment
//	err = e.Run(ctx, func(ctx context.Context, ev *execpb.Event) error { ... })
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// ErrDone is returned by a Handler to end Run without an error.
var ErrDone = errors.New("executor: done")

// Handler receives each event, in order, on Run's goroutine, after the
// Executor has recorded it (a LAUNCH's tasks are known, an ACKNOWLEDGED
// update is forgotten). Returning ErrDone ends Run cleanly; any other
// error ends it with that error. A SHUTDOWN ends Run after the Handler
// returned: the Handler kills its tasks first.
type Handler func(ctx context.Context, ev *execpb.Event) error

// Env is what the agent tells an executor through its environment.
type Env = builtin.Env

// EnvFromOS reads the executor's environment (os.Getenv when getenv is
// nil).
func EnvFromOS(getenv func(string) string) (Env, error) { return builtin.EnvFromOS(getenv) }

// Config configures an Executor.
type Config struct {
	// Env names the executor and its agent; the zero value means read it
	// from the process environment (MESOS_FRAMEWORK_ID, ...).
	Env Env
	// Format is the encoding of calls and events; the zero value is JSON.
	Format codec.Format
	// Log receives the library's log lines; nil discards them.
	Log *slog.Logger
}

// Executor is one executor's connection to its agent. Its methods may be
// called from any goroutine.
type Executor struct {
	env    Env
	client *builtin.Client
	log    *slog.Logger

	mu        sync.Mutex
	tasks     map[string]*mesos.TaskInfo // launched, not acknowledged terminal
	order     []string                   // task ids in launch order
	unacked   []*execpb.Call_Update      // in the order they were sent
	terminal  map[string]bool            // tasks whose terminal update was sent
	framework *mesos.FrameworkInfo
	agent     *mesos.AgentInfo
	info      *mesos.ExecutorInfo
}

// New returns an Executor; it does not connect until Run.
func New(cfg Config) (*Executor, error) {
	env := cfg.Env
	if env.FrameworkID == "" {
		var err error
		if env, err = EnvFromOS(nil); err != nil {
			return nil, fmt.Errorf("executor: %w", err)
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if env.SubscriptionBackoffMax <= 0 {
		env.SubscriptionBackoffMax = 2 * time.Second
	}
	return &Executor{env: env, client: builtin.NewClient(env, cfg.Format), log: log,
		tasks: map[string]*mesos.TaskInfo{}, terminal: map[string]bool{}}, nil
}

// Env returns the executor's environment.
func (e *Executor) Env() Env { return e.env }

// FrameworkInfo returns the framework's info from the last SUBSCRIBED (nil
// before).
func (e *Executor) FrameworkInfo() *mesos.FrameworkInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.framework
}

// Idle reports whether every launched task ended and every update was
// acknowledged: the executor may exit.
func (e *Executor) Idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.tasks) == 0 && len(e.unacked) == 0
}

// Run subscribes and delivers events to h until ctx ends, h returns an
// error, a SHUTDOWN was handled, or the agent is gone for good.
func (e *Executor) Run(ctx context.Context, h Handler) error {
	var lostAt time.Time
	backoff := 100 * time.Millisecond
	for {
		subscribed, err := e.runOnce(ctx, h)
		switch {
		case errors.Is(err, ErrDone):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errHandler):
			return errors.Unwrap(err)
		case !e.env.Checkpoint:
			return fmt.Errorf("executor: agent connection lost (the framework does not checkpoint): %w", err)
		}
		if subscribed || lostAt.IsZero() {
			lostAt, backoff = time.Now(), 100*time.Millisecond
		}
		if e.env.RecoveryTimeout > 0 && time.Since(lostAt) > e.env.RecoveryTimeout {
			return fmt.Errorf("executor: agent not back within the recovery timeout %v: %w", e.env.RecoveryTimeout, err)
		}
		e.log.Warn("agent connection lost; subscribing again", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, e.env.SubscriptionBackoffMax)
	}
}

var errHandler = errors.New("handler error")

type handlerError struct{ err error }

func (h handlerError) Error() string        { return h.err.Error() }
func (h handlerError) Unwrap() error        { return h.err }
func (h handlerError) Is(target error) bool { return target == errHandler }

// runOnce subscribes once and reads the stream until it ends; subscribed
// says whether SUBSCRIBED arrived.
func (e *Executor) runOnce(ctx context.Context, h Handler) (subscribed bool, err error) {
	e.mu.Lock()
	sub := &execpb.Call_Subscribe{}
	for _, id := range e.order {
		if t, ok := e.tasks[id]; ok {
			sub.UnacknowledgedTasks = append(sub.UnacknowledgedTasks, t)
		}
	}
	sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, e.unacked...)
	e.mu.Unlock()
	stream, err := e.client.Subscribe(ctx, sub)
	if err != nil {
		return false, fmt.Errorf("subscribe to agent %s: %w", e.env.Endpoint, err)
	}
	defer stream.Close()
	for {
		ev, err := stream.Next()
		if err != nil {
			return subscribed, fmt.Errorf("read agent event stream: %w", err)
		}
		if ev.GetType() == execpb.Event_SUBSCRIBED {
			subscribed = true
		}
		e.record(ev)
		if err := h(ctx, ev); err != nil {
			if errors.Is(err, ErrDone) {
				return subscribed, err
			}
			return subscribed, handlerError{err}
		}
		if ev.GetType() == execpb.Event_SHUTDOWN {
			return subscribed, ErrDone
		}
	}
}

// record keeps what the executor must remember of ev.
func (e *Executor) record(ev *execpb.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev.GetType() {
	case execpb.Event_SUBSCRIBED:
		e.framework = ev.GetSubscribed().GetFrameworkInfo()
		e.agent = ev.GetSubscribed().GetAgentInfo()
		e.info = ev.GetSubscribed().GetExecutorInfo()
	case execpb.Event_LAUNCH:
		e.addTask(ev.GetLaunch().GetTask())
	case execpb.Event_LAUNCH_GROUP:
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			e.addTask(t)
		}
	case execpb.Event_ACKNOWLEDGED:
		id, uuid := ev.GetAcknowledged().GetTaskId().GetValue(), ev.GetAcknowledged().GetUuid()
		for i, u := range e.unacked {
			if u.GetStatus().GetTaskId().GetValue() == id && string(u.GetStatus().GetUuid()) == string(uuid) {
				e.unacked = append(e.unacked[:i], e.unacked[i+1:]...)
				break
			}
		}
		e.forgetIfDone(id)
	}
}

func (e *Executor) addTask(t *mesos.TaskInfo) {
	id := t.GetTaskId().GetValue()
	if _, ok := e.tasks[id]; !ok {
		e.order = append(e.order, id)
	}
	e.tasks[id] = t
}

// forgetIfDone drops a task whose terminal update was acknowledged.
func (e *Executor) forgetIfDone(id string) {
	if !e.terminal[id] {
		return
	}
	for _, u := range e.unacked {
		if u.GetStatus().GetTaskId().GetValue() == id {
			return
		}
	}
	delete(e.tasks, id)
	delete(e.terminal, id)
	for i, o := range e.order {
		if o == id {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
}

// Update sends st for one of the executor's tasks, filling its uuid,
// source, executor id and timestamp when unset. The update is kept until
// the agent acknowledges it, and resent on re-subscription; an error to
// send it is returned but the update stays kept.
func (e *Executor) Update(ctx context.Context, st *mesos.TaskStatus) error {
	st = proto.Clone(st).(*mesos.TaskStatus)
	if len(st.Uuid) == 0 {
		st.Uuid = builtin.NewUUID()
	}
	if st.Source == nil {
		st.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
	}
	if st.ExecutorId == nil {
		st.ExecutorId = &mesos.ExecutorID{Value: proto.String(e.env.ExecutorID)}
	}
	if st.Timestamp == nil {
		st.Timestamp = proto.Float64(float64(time.Now().UnixNano()) / 1e9)
	}
	up := &execpb.Call_Update{Status: st}
	e.mu.Lock()
	e.unacked = append(e.unacked, up)
	if isTerminal(st.GetState()) {
		e.terminal[st.GetTaskId().GetValue()] = true
	}
	e.mu.Unlock()
	call := &execpb.Call{Type: execpb.Call_UPDATE.Enum(), Update: up}
	if err := e.client.Send(ctx, call); err != nil {
		return fmt.Errorf("executor: send %s of task %s: %w", st.GetState(), st.GetTaskId().GetValue(), err)
	}
	return nil
}

// Status is a shorthand for Update with a state and a message.
func (e *Executor) Status(ctx context.Context, taskID *mesos.TaskID, state mesos.TaskState, message string) error {
	st := &mesos.TaskStatus{TaskId: taskID, State: state.Enum()}
	if message != "" {
		st.Message = proto.String(message)
	}
	return e.Update(ctx, st)
}

// Message sends data to the scheduler as a framework message (a MESSAGE
// event of the scheduler API). Delivery is best effort.
func (e *Executor) Message(ctx context.Context, data []byte) error {
	call := &execpb.Call{Type: execpb.Call_MESSAGE.Enum(), Message: &execpb.Call_Message{Data: data}}
	if err := e.client.Send(ctx, call); err != nil {
		return fmt.Errorf("executor: send message: %w", err)
	}
	return nil
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}
