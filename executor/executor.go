package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Mode selects which built-in executor runs.
type Mode int

const (
	// Command runs the single task of a LAUNCH event (Mesos'
	// mesos-executor).
	Command Mode = iota
	// Default runs the tasks of LAUNCH_GROUP events (Mesos'
	// mesos-default-executor).
	Default
)

// Config configures Run.
type Config struct {
	// Env is the executor's identity and agent address, usually from
	// EnvFromOS.
	Env Env
	// Mode is Command or Default.
	Mode Mode
	// Format is the encoding used with the agent (default JSON).
	Format codec.Format
	// AckTimeout bounds how long the executor waits for the agent to
	// acknowledge its last updates before it exits anyway (default 60 s,
	// as Mesos' HTTP command executor).
	AckTimeout time.Duration
	// TaskEnv is the environment tasks start from (default: this
	// process's environment).
	TaskEnv map[string]string
	// Transport carries calls to the agent and events back; nil means
	// the v1 executor HTTP API at Env.Endpoint in Format. An agent that
	// runs a built-in executor inside itself passes its own.
	Transport Transport
	// TaskSession starts each task in a session of its own (setsid)
	// rather than only a process group, so that everything it starts can
	// be found and killed when it ends; DieWithAgent also has the kernel
	// SIGKILL a task whose parent dies. Both are for executors run inside
	// the agent process, where the agent is the tasks' parent.
	TaskSession, DieWithAgent bool
	// StartTask starts a task's process (default launcher.Start). An
	// agent running this executor inside itself passes its
	// containerizer's, which starts the task inside the executor's
	// container (its cgroups, namespaces and user).
	StartTask func(spec launcher.Spec, task *mesos.TaskInfo) (*launcher.Process, error)
	// TaskCommand, when set, replaces the command of a command task
	// (--task_command: its command merged with its image's Entrypoint
	// and Cmd); WorkingDir, when set, is where a command task starts
	// instead of the sandbox (--working_directory: its image's).
	TaskCommand *mesos.CommandInfo
	WorkingDir  string
	// RunTask, when set, replaces StartTask: it starts a task as
	// something other than a local process (`mezzo executor --docker`:
	// a Docker container). A returned Container also runs the task's
	// COMMAND checks and is the address of its HTTP and TCP checks.
	RunTask func(spec launcher.Spec, task *mesos.TaskInfo) (Process, error)
	// DefaultKillGrace, when set, is the grace period of a kill whose
	// task has no kill policy, instead of the executor shutdown grace
	// period (the Docker executor's --stop_timeout, Mesos'
	// --docker_stop_timeout).
	DefaultKillGrace *time.Duration
}

// Process is a running task as the executor sees it: *launcher.Process,
// or what Config.RunTask returns.
type Process interface {
	// Pid is the task's process id (0 when it has none on this host).
	Pid() int
	// Done is closed when the task has ended; Status then says how.
	Done() <-chan struct{}
	Status() syscall.WaitStatus
	// Signal signals the task's process (group); Destroy SIGKILLs
	// everything of the task.
	Signal(sig syscall.Signal) error
	Destroy()
}

// Container is a task Process that runs in a container of its own: its
// checks run inside it (COMMAND) or reach it at its address (HTTP, TCP).
type Container interface {
	Process
	// Exec runs cmd inside the container with env, its output appended
	// to the file output, and returns its exit code; it ends (killing
	// the command) when ctx does.
	Exec(ctx context.Context, cmd *mesos.CommandInfo, env map[string]string, output string) (int, error)
	// Address is the host:port at which the task's port is reached.
	Address(port uint32, ipv6 bool) string
}

// Transport is how an executor reaches its agent: SUBSCRIBE opens the
// event stream, UPDATE reports a task status. *Client provides it over
// HTTP (HTTPTransport).
type Transport interface {
	Subscribe(ctx context.Context, sub *execpb.Call_Subscribe) (EventStream, error)
	Update(ctx context.Context, status *mesos.TaskStatus) error
}

// EventStream is an open subscription: Next returns events until the
// subscription ends with an error (io.EOF when it was closed cleanly).
type EventStream interface {
	Next() (*execpb.Event, error)
	Close() error
}

// HTTPTransport adapts a Client to Transport.
type HTTPTransport struct{ *Client }

// Subscribe opens the subscription over HTTP.
func (t HTTPTransport) Subscribe(ctx context.Context, sub *execpb.Call_Subscribe) (EventStream, error) {
	s, err := t.Client.Subscribe(ctx, sub)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ErrNoAck is returned by Run when it exits without the agent having
// acknowledged every update.
var ErrNoAck = errors.New("did not receive ACK for every status update from the agent")

// Run runs the executor until its work is done, SHUTDOWN completes, the
// agent is gone (past the recovery timeout) or ctx ends. Logs go to log.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 60 * time.Second
	}
	if cfg.TaskEnv == nil {
		cfg.TaskEnv = map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				cfg.TaskEnv[k] = v
			}
		}
	}
	if cfg.Transport == nil {
		cfg.Transport = HTTPTransport{NewClient(cfg.Env, cfg.Format)}
	}
	e := &engine{
		cfg:    cfg,
		log:    log,
		client: cfg.Transport,
		events: make(chan func(), 16),
		quit:   make(chan struct{}),
		tasks:  map[string]*task{},
	}
	return e.run(ctx)
}

// task is one task the executor runs.
type task struct {
	info    *mesos.TaskInfo
	group   []string // ids of the task group (default mode)
	sandbox string
	proc    Process
	killing bool
	// killedByGroup: killed because a sibling failed.
	terminal  bool
	acked     bool // some update of the task was acknowledged
	killTimer *time.Timer
	killStart time.Time
	killUntil time.Time
	// env is the task's environment (what its command started with);
	// check commands start from it too.
	env map[string]string
	// last is the task's latest update: check and health updates are
	// copies of it.
	last *mesos.TaskStatus
	// checks are the task's check and health check (checks.go).
	checks taskChecks
	// completionTimer fires when the task has run for its
	// max_completion_time; overdue is set once it has, and the task is
	// then killed without grace and reported TASK_FAILED with
	// REASON_MAX_COMPLETION_TIME_REACHED.
	completionTimer *time.Timer
	overdue         bool
}

type engine struct {
	cfg    Config
	log    *slog.Logger
	client Transport

	// events run on the engine goroutine: process exits, timers.
	events chan func()
	// quit is closed when run returns.
	quit chan struct{}

	framework   *mesos.FrameworkInfo
	containerID *mesos.ContainerID
	tasks       map[string]*task
	order       []string
	// unacked holds the updates the agent has not acknowledged, in the
	// order they were sent: a re-subscription resends them in that order,
	// so each task's stream stays ordered.
	unacked      []*execpb.Call_Update
	shuttingDown bool
	launched     bool
	done         bool // all work ended; exit once acks are in
	doneAt       time.Time
}

type streamMsg struct {
	ev  *execpb.Event
	err error
}

func (e *engine) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer close(e.quit)
	defer e.killAll()

	backoff := 100 * time.Millisecond
	var disconnectedAt time.Time
	for {
		sub := e.subscribeCall()
		stream, err := e.client.Subscribe(ctx, sub)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if disconnectedAt.IsZero() {
				disconnectedAt = time.Now()
			}
			if !e.cfg.Env.Checkpoint && e.everSubscribed() {
				return fmt.Errorf("lost the agent and the framework does not checkpoint: %w", err)
			}
			if time.Since(disconnectedAt) > e.recoveryTimeout() {
				return fmt.Errorf("could not subscribe within %s: %w", e.recoveryTimeout(), err)
			}
			// Between attempts: a random wait in [b/2, b], b doubling
			// from 100 ms up to half of MESOS_SUBSCRIPTION_BACKOFF_MAX,
			// until MESOS_RECOVERY_TIMEOUT passes. The agent sets that
			// maximum to its --executor_reregistration_timeout, the
			// window a restarted agent gives its executors: waiting at
			// most half of it puts at least two attempts in any such
			// window, however long the agent was away. (Mesos' executors
			// wait a uniform [0, max] every time; starting small lets a
			// quickly restarted agent get its executors back in a
			// fraction of the window, and the jitter spreads them out.)
			wait := backoff/2 + rand.N(backoff/2+1)
			backoff = min(backoff*2, max(e.cfg.Env.SubscriptionBackoffMax/2, 100*time.Millisecond))
			e.log.Info("subscribe failed; retrying", "err", err, "in", wait)
			if !e.sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		}
		disconnectedAt = time.Time{}
		backoff = 100 * time.Millisecond
		msgs := make(chan streamMsg, 16)
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				ev, err := stream.Next()
				select {
				case msgs <- streamMsg{ev, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		exit, err := e.serve(ctx, msgs)
		stream.Close()
		<-readerDone
		if exit {
			return err
		}
		if !e.cfg.Env.Checkpoint {
			return errors.New("disconnected from the agent and the framework does not checkpoint")
		}
		e.log.Info("disconnected from the agent; re-subscribing", "err", err)
	}
}

func (e *engine) recoveryTimeout() time.Duration {
	if e.everSubscribed() {
		return e.cfg.Env.RecoveryTimeout
	}
	// The first subscription: the agent is up (it launched us); allow a
	// short while for it to answer.
	return min(e.cfg.Env.RecoveryTimeout, 30*time.Second)
}

func (e *engine) everSubscribed() bool { return e.framework != nil }

// sleep waits d while still running engine events (process exits).
func (e *engine) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case f := <-e.events:
			f()
		}
	}
}

func (e *engine) subscribeCall() *execpb.Call_Subscribe {
	sub := &execpb.Call_Subscribe{}
	sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, e.unacked...)
	for _, id := range e.order {
		t := e.tasks[id]
		if !t.acked {
			sub.UnacknowledgedTasks = append(sub.UnacknowledgedTasks, t.info)
		}
	}
	return sub
}

// serve handles one subscription. It returns exit=true when the executor
// should stop (with the error to return).
func (e *engine) serve(ctx context.Context, msgs <-chan streamMsg) (exit bool, err error) {
	var ackTimer <-chan time.Time
	for {
		if e.done && len(e.unacked) == 0 {
			return true, nil
		}
		if e.done && ackTimer == nil {
			ackTimer = time.After(time.Until(e.doneAt.Add(e.cfg.AckTimeout)))
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-ackTimer:
			return true, ErrNoAck
		case f := <-e.events:
			f()
		case m := <-msgs:
			if m.err != nil {
				return false, m.err
			}
			if stop := e.handle(ctx, m.ev); stop {
				return true, nil
			}
		}
	}
}

// handle applies one event; stop means exit now.
func (e *engine) handle(ctx context.Context, ev *execpb.Event) (stop bool) {
	switch ev.GetType() {
	case execpb.Event_SUBSCRIBED:
		s := ev.GetSubscribed()
		e.framework = s.GetFrameworkInfo()
		e.containerID = s.GetContainerId()
		e.log.Info("subscribed", "framework", e.cfg.Env.FrameworkID)
	case execpb.Event_LAUNCH:
		if e.cfg.Mode == Default {
			e.log.Warn("ignoring LAUNCH: the default executor runs task groups")
			return false
		}
		if e.launched {
			e.log.Warn("ignoring LAUNCH: the command executor runs one task", "task", ev.GetLaunch().GetTask().GetTaskId().GetValue())
			return false
		}
		e.launch(ctx, []*mesos.TaskInfo{ev.GetLaunch().GetTask()}, e.cfg.Env.Sandbox, false)
	case execpb.Event_LAUNCH_GROUP:
		if e.cfg.Mode != Default {
			e.log.Warn("ignoring LAUNCH_GROUP: the command executor runs single tasks")
			return false
		}
		e.launch(ctx, ev.GetLaunchGroup().GetTaskGroup().GetTasks(), e.cfg.Env.Sandbox, true)
	case execpb.Event_KILL:
		k := ev.GetKill()
		t := e.tasks[k.GetTaskId().GetValue()]
		if t == nil {
			e.log.Warn("KILL for an unknown task", "task", k.GetTaskId().GetValue())
			if !e.launched {
				// Killed before the task arrived: nothing to run.
				e.finishIfIdle()
			}
			return false
		}
		e.kill(ctx, t, e.killGrace(t, k.GetKillPolicy()))
	case execpb.Event_ACKNOWLEDGED:
		a := ev.GetAcknowledged()
		e.unacked = slices.DeleteFunc(e.unacked, func(u *execpb.Call_Update) bool {
			return bytes.Equal(u.GetStatus().GetUuid(), a.GetUuid())
		})
		if t := e.tasks[a.GetTaskId().GetValue()]; t != nil {
			t.acked = true
		}
	case execpb.Event_SHUTDOWN:
		e.shutdown(ctx)
	case execpb.Event_MESSAGE:
		e.log.Info("framework message", "bytes", len(ev.GetMessage().GetData()))
	case execpb.Event_ERROR:
		e.log.Error("agent sent ERROR", "message", ev.GetError().GetMessage())
	case execpb.Event_HEARTBEAT:
	default:
		e.log.Warn("unknown event", "type", ev.GetType())
	}
	return false
}

func (e *engine) shutdown(ctx context.Context) {
	e.log.Info("shutting down")
	e.shuttingDown = true
	// Leave time to kill forcefully and report before the agent destroys
	// the container.
	grace := e.cfg.Env.ShutdownGracePeriod - 2*time.Second
	if grace < 0 {
		grace = 0
	}
	alive := false
	for _, id := range e.order {
		t := e.tasks[id]
		if !t.terminal {
			alive = true
			e.kill(ctx, t, grace)
		}
	}
	if !alive {
		e.finishIfIdle()
		if !e.done {
			e.done, e.doneAt = true, time.Now()
		}
	}
}

// launch starts tasks (one for the command executor, a group for the
// default executor).
func (e *engine) launch(ctx context.Context, infos []*mesos.TaskInfo, sandbox string, group bool) {
	e.launched = true
	var ids []string
	for _, info := range infos {
		ids = append(ids, info.GetTaskId().GetValue())
	}
	var started []*task
	for _, info := range infos {
		id := info.GetTaskId().GetValue()
		if _, dup := e.tasks[id]; dup {
			e.log.Warn("ignoring duplicate task", "task", id)
			continue
		}
		t := &task{info: info, sandbox: sandbox}
		if group {
			t.group = ids
			t.sandbox = filepath.Join(sandbox, "tasks", id)
		}
		e.tasks[id] = t
		e.order = append(e.order, id)
		started = append(started, t)
		e.forward(ctx, e.status(t, mesos.TaskState_TASK_STARTING, "", nil))
	}
	for _, t := range started {
		if err := e.start(t); err != nil {
			t.terminal = true
			reason := mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED
			if e.cfg.RunTask != nil {
				// The task's container could not be had.
				reason = mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED
			}
			e.forward(ctx, e.status(t, mesos.TaskState_TASK_FAILED, "Failed to launch task: "+err.Error(), &reason))
			continue
		}
		e.forward(ctx, e.status(t, mesos.TaskState_TASK_RUNNING, "", nil))
		e.startChecks(t)
	}
	e.finishIfIdle()
}

func (e *engine) start(t *task) error {
	cmd := t.info.GetCommand()
	dir := t.sandbox
	if e.cfg.Mode == Command {
		if e.cfg.TaskCommand != nil {
			cmd = e.cfg.TaskCommand
		}
		if e.cfg.WorkingDir != "" {
			dir = e.cfg.WorkingDir
		}
	}
	if cmd == nil {
		return errors.New("task has no command")
	}
	if err := os.MkdirAll(t.sandbox, 0o755); err != nil {
		return err
	}
	env := map[string]string{}
	for k, v := range e.cfg.TaskEnv {
		env[k] = v
	}
	if t.group != nil {
		env["MESOS_SANDBOX"] = t.sandbox
	}
	env["MESOS_ALLOCATION_ROLE"] = allocationRole(t.info)
	for _, v := range cmd.GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			continue // secrets are not supported
		}
		env[v.GetName()] = v.GetValue()
	}
	t.env = env
	spec := launcher.Spec{Command: cmd, Env: env, Dir: dir,
		NewSession: e.cfg.TaskSession, DieWithParent: e.cfg.DieWithAgent}
	if dir != t.sandbox {
		// The output stays in the sandbox.
		spec.Stdout, spec.Stderr = filepath.Join(t.sandbox, "stdout"), filepath.Join(t.sandbox, "stderr")
	}
	var p Process
	var err error
	switch {
	case e.cfg.RunTask != nil:
		p, err = e.cfg.RunTask(spec, t.info)
	case e.cfg.StartTask != nil:
		p, err = e.cfg.StartTask(spec, t.info)
	default:
		p, err = launcher.Start(spec)
	}
	if err != nil {
		return err
	}
	t.proc = p
	e.log.Info("task started", "task", t.info.GetTaskId().GetValue(), "pid", p.Pid())
	e.startCompletionTimer(t)
	go func() {
		<-p.Done()
		select {
		case e.events <- func() { e.exited(t) }:
		case <-e.quit:
		}
	}()
	return nil
}

// allocationRole is the role of a task's resources ("*" if none).
func allocationRole(info *mesos.TaskInfo) string {
	for _, r := range info.GetResources() {
		if role := r.GetAllocationInfo().GetRole(); role != "" {
			return role
		}
	}
	for _, r := range info.GetResources() {
		if rs := r.GetReservations(); len(rs) > 0 {
			return rs[len(rs)-1].GetRole()
		}
		if r.Role != nil {
			return r.GetRole()
		}
	}
	return "*"
}

func (e *engine) exited(t *task) {
	ctx := context.Background()
	ws := t.proc.Status()
	e.stopChecks(t)
	// Anything the task left behind in its group (its session, when it
	// has one) goes with it.
	e.destroy(t)
	if t.killTimer != nil {
		t.killTimer.Stop()
	}
	stopCompletionTimer(t)
	t.terminal = true
	msg := "Command " + launcher.DescribeStatus(ws)
	var state mesos.TaskState
	var reason *mesos.TaskStatus_Reason
	switch {
	case t.overdue:
		state = mesos.TaskState_TASK_FAILED
		r := mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED
		reason = &r
	case t.killing:
		state = mesos.TaskState_TASK_KILLED
	case ws.Exited() && ws.ExitStatus() == 0:
		state = mesos.TaskState_TASK_FINISHED
	default:
		state = mesos.TaskState_TASK_FAILED
		r := mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED
		reason = &r
	}
	e.log.Info("task ended", "task", t.info.GetTaskId().GetValue(), "state", state, "message", msg)
	s := e.status(t, state, msg, reason)
	if e.diedUnhealthy(t) {
		s.Healthy = proto.Bool(false)
	}
	e.forward(ctx, s)
	// A failed or killed task takes its group down with it.
	if t.group != nil && !e.shuttingDown && (state == mesos.TaskState_TASK_FAILED || state == mesos.TaskState_TASK_KILLED) {
		for _, id := range t.group {
			if s := e.tasks[id]; s != nil && s != t && !s.terminal && !s.killing {
				e.kill(ctx, s, e.cfg.Env.ShutdownGracePeriod)
			}
		}
	}
	e.finishIfIdle()
}

// finishIfIdle marks the executor done when every task is terminal (the
// command executor: its one task; the default executor: all of them).
func (e *engine) finishIfIdle() {
	if e.done {
		return
	}
	if !e.launched && !e.shuttingDown {
		return
	}
	for _, t := range e.tasks {
		if !t.terminal {
			return
		}
	}
	e.done, e.doneAt = true, time.Now()
}

// kill starts (or shortens) a task's kill: SIGTERM to its process group
// now, SIGKILL after grace.
func (e *engine) kill(ctx context.Context, t *task, grace time.Duration) {
	if t.terminal || t.proc == nil {
		return
	}
	now := time.Now()
	if t.killing {
		// A repeated kill may only shorten the remaining grace period.
		if until := t.killStart.Add(grace); until.Before(t.killUntil) {
			t.killTimer.Reset(max(until.Sub(now), 0))
			t.killUntil = until
		}
		return
	}
	t.killing = true
	e.stopChecks(t)
	stopCompletionTimer(t)
	// A task killed for its max_completion_time gets no TASK_KILLING:
	// it fails, it is not being killed on request.
	if !t.overdue && hasCapability(e.framework, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) {
		e.forward(ctx, e.status(t, mesos.TaskState_TASK_KILLING, "", nil))
	}
	e.log.Info("killing task", "task", t.info.GetTaskId().GetValue(), "grace", grace)
	t.proc.Signal(syscall.SIGTERM)
	t.killStart, t.killUntil = now, now.Add(grace)
	p := t.proc
	t.killTimer = time.AfterFunc(grace, func() { p.Signal(syscall.SIGKILL) })
}

// killGrace is the grace period of a kill: the KILL's own kill policy
// (override, nil for a kill the executor decides itself), else the
// task's, else the executor shutdown grace period.
func (e *engine) killGrace(t *task, override *mesos.KillPolicy) time.Duration {
	grace := e.cfg.Env.ShutdownGracePeriod
	if e.cfg.DefaultKillGrace != nil {
		grace = *e.cfg.DefaultKillGrace
	}
	if gp := t.info.GetKillPolicy().GetGracePeriod(); gp != nil {
		grace = time.Duration(gp.GetNanoseconds())
	}
	if gp := override.GetGracePeriod(); gp != nil {
		grace = time.Duration(gp.GetNanoseconds())
	}
	return grace
}

func hasCapability(fi *mesos.FrameworkInfo, c mesos.FrameworkInfo_Capability_Type) bool {
	for _, x := range fi.GetCapabilities() {
		if x.GetType() == c {
			return true
		}
	}
	return false
}

func (e *engine) status(t *task, state mesos.TaskState, msg string, reason *mesos.TaskStatus_Reason) *mesos.TaskStatus {
	s := &mesos.TaskStatus{
		TaskId:     t.info.GetTaskId(),
		State:      state.Enum(),
		Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.cfg.Env.ExecutorID)},
		Timestamp:  proto.Float64(float64(time.Now().UnixNano()) / 1e9),
		Uuid:       NewUUID(),
		Reason:     reason,
	}
	if msg != "" {
		s.Message = proto.String(msg)
	}
	// A task with a check has a check_status in every update, empty
	// until the check has a result (Mesos' rule for built-in executors).
	if ci := t.info.GetCheck(); ci != nil {
		s.CheckStatus = emptyCheckStatus(ci.GetType())
	}
	return s
}

// forward sends an UPDATE and keeps it until ACKNOWLEDGED. A failed send
// is not retried here: the update goes out again with the next SUBSCRIBE.
func (e *engine) forward(ctx context.Context, s *mesos.TaskStatus) {
	u := &execpb.Call_Update{Status: s}
	e.unacked = append(e.unacked, u)
	if t := e.tasks[s.GetTaskId().GetValue()]; t != nil {
		t.last = s
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.client.Update(sctx, s); err != nil {
		e.log.Warn("UPDATE failed", "task", s.GetTaskId().GetValue(), "state", s.GetState(), "err", err)
	}
}

// killAll kills whatever tasks still run (the executor is exiting).
func (e *engine) killAll() {
	for _, t := range e.tasks {
		e.stopChecks(t)
		if t.proc != nil && !t.terminal {
			e.destroy(t)
		}
		if t.killTimer != nil {
			t.killTimer.Stop()
		}
		stopCompletionTimer(t)
	}
}

// startCompletionTimer arms the task's max_completion_time, counted
// from now (the task has just started): when it passes, the engine
// goroutine kills the task.
func (e *engine) startCompletionTimer(t *task) {
	limit := time.Duration(t.info.GetMaxCompletionTime().GetNanoseconds())
	if limit <= 0 {
		return
	}
	e.log.Info("task has a max completion time", "task", t.info.GetTaskId().GetValue(), "max_completion_time", limit)
	t.completionTimer = time.AfterFunc(limit, func() {
		select {
		case e.events <- func() { e.completionTimeout(t, limit) }:
		case <-e.quit:
		}
	})
}

// completionTimeout kills a task that has run for its max_completion_time
// limit, as Mesos' executors do: SIGTERM and SIGKILL at once (a zero
// grace period, whatever the task's kill policy), no TASK_KILLING, and a
// TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED once it is gone.
// A task that has ended or is already being killed is left alone.
func (e *engine) completionTimeout(t *task, limit time.Duration) {
	if t.terminal || t.killing {
		return
	}
	e.log.Info("killing task which exceeded its maximum completion time",
		"task", t.info.GetTaskId().GetValue(), "max_completion_time", limit)
	t.overdue = true
	e.kill(context.Background(), t, 0)
}

// stopCompletionTimer disarms the task's max_completion_time.
func stopCompletionTimer(t *task) {
	if t.completionTimer != nil {
		t.completionTimer.Stop()
		t.completionTimer = nil
	}
}

// destroy SIGKILLs what is left of a task: its process group, or its
// whole session when it has one of its own.
func (e *engine) destroy(t *task) {
	if e.cfg.TaskSession {
		t.proc.Destroy()
		return
	}
	t.proc.Signal(syscall.SIGKILL)
}
