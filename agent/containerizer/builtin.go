package containerizer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// Builtin runs Mezzo's command and default executors inside the agent
// (--builtin_executors=auto), for frameworks that do not checkpoint: the
// executor package's code on a goroutine, speaking to the agent through
// the Transport it is given (the calls and events an HTTP executor would
// use), so the agent treats it like any other executor. Its tasks are
// the agent's children, each in a session of its own, and the kernel
// SIGKILLs them if the agent dies: such a container cannot outlive the
// agent, as in Mesos, whose restarted agent kills the executors of
// frameworks that do not checkpoint. A task then costs one fork of its
// command instead of an executor process too.
//
// It launches only containers with Config.Builtin set and
// Config.Checkpoint unset (NotSupported otherwise: the next
// containerizer runs them as processes). It recovers nothing; the Mezzo
// containerizer kills what such containers left behind when the agent
// restarts. Usage measures the tasks' sessions (posix/cpu and posix/mem,
// when cpu and mem are set).
type Builtin struct {
	// cpu, mem: measure CPU times and resident memory (posix/cpu,
	// posix/mem, which measure the tasks' sessions here).
	cpu, mem bool
	// isolators are the other isolators (cgroups, namespaces, ...),
	// shared with the Mezzo containerizer; helper is the launch helper
	// that starts each task inside them.
	isolators []Isolator
	helper    string

	mu         sync.Mutex
	containers map[string]*builtinContainer
}

// BuiltinConfig configures NewBuiltin.
type BuiltinConfig struct {
	// Isolation is the parsed --isolation: posix/cpu and posix/mem make
	// Usage measure the tasks' sessions.
	Isolation Isolation
	// Isolators isolate each container's tasks: prepared when the
	// executor starts, each task process isolated before it runs,
	// cleaned up when the executor ends (posix/* among them are left
	// out: their measure is the sessions'). Builtin never calls their
	// Recover: built-in executors do not outlive the agent, and the
	// Mezzo containerizer, which shares them, recovers.
	Isolators []Isolator
	// Helper is the launch helper (see MezzoConfig.Helper).
	Helper string
}

// NewBuiltin returns a Builtin containerizer.
func NewBuiltin(cfg BuiltinConfig) *Builtin {
	b := &Builtin{cpu: cfg.Isolation.Has("posix/cpu"), mem: cfg.Isolation.Has("posix/mem"),
		helper: cfg.Helper, containers: map[string]*builtinContainer{}}
	for _, iso := range cfg.Isolators {
		if _, posix := iso.(*posixUsage); !posix {
			b.isolators = append(b.isolators, iso)
		}
	}
	return b
}

type builtinContainer struct {
	id         *mesos.ContainerID
	fwID, exID string
	cancel     context.CancelFunc
	resources  []*mesos.Resource // under Builtin.mu
	// launch is what each task is started inside; user is the
	// container's user (empty: the agent's), which switching users
	// lets a task's own CommandInfo.user replace.
	launch launcher.Isolation
	user   string
	// limit is the limitation that ended the container, if any; set
	// before cancel.
	limit atomic.Pointer[Limitation]
	ending
}

// Launch starts the built-in executor on a goroutine. Its log goes to
// the sandbox's stderr, as an executor process's would.
func (b *Builtin) Launch(_ context.Context, id *mesos.ContainerID, cfg Config) (LaunchResult, error) {
	if cfg.Builtin == nil || cfg.Checkpoint {
		return NotSupported, nil
	}
	if ci := cfg.ContainerInfo; ci != nil && (ci.GetType() != mesos.ContainerInfo_MESOS || ci.GetMesos().GetImage() != nil) {
		return NotSupported, nil
	}
	key := id.GetValue()
	b.mu.Lock()
	if _, ok := b.containers[key]; ok {
		b.mu.Unlock()
		return AlreadyLaunched, nil
	}
	b.mu.Unlock()
	logFile, err := os.OpenFile(filepath.Join(cfg.Directory, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Launched, err
	}
	env := cfg.Env
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = launcher.DefaultPath
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &builtinContainer{id: id, fwID: cfg.Builtin.Env.FrameworkID, exID: cfg.Builtin.Env.ExecutorID,
		cancel: cancel, resources: cfg.Resources, user: cfg.User, ending: ending{done: make(chan struct{})}}
	b.mu.Lock()
	if _, ok := b.containers[key]; ok {
		b.mu.Unlock()
		cancel()
		logFile.Close()
		return AlreadyLaunched, nil
	}
	b.containers[key] = c
	b.mu.Unlock()
	c.launch.Helper = b.helper
	for i, iso := range b.isolators {
		if err := iso.Prepare(launchCtx, id, &cfg, &c.launch); err != nil {
			b.cleanup(c, b.isolators[:i])
			cancel()
			logFile.Close()
			b.mu.Lock()
			delete(b.containers, key)
			b.mu.Unlock()
			return Launched, fmt.Errorf("failed to prepare isolator %s: %w", iso.Name(), err)
		}
	}
	run := builtin.Config{
		Env:          cfg.Builtin.Env,
		Mode:         cfg.Builtin.Mode,
		TaskEnv:      env,
		Transport:    cfg.Builtin.Transport,
		TaskSession:  true,
		DieWithAgent: true,
		StartTask: func(spec launcher.Spec, task *mesos.TaskInfo) (*launcher.Process, error) {
			return b.startTask(c, spec, task)
		},
	}
	log := slog.New(slog.NewTextHandler(logFile, nil)).With("executor", c.exID)
	limited := watchLimitations(b.isolators, c.id, c.done)
	go func() {
		select {
		case l := <-limited:
			c.limit.Store(&l)
			log.Error("container limitation; destroying it", "reason", l.Reason, "message", l.Message)
			cancel()
		case <-c.done:
		}
	}()
	go func() {
		err := builtin.Run(ctx, run, log)
		var status syscall.WaitStatus
		switch {
		case err == nil:
		case ctx.Err() != nil:
			status = syscall.WaitStatus(syscall.SIGKILL) // destroyed
		default:
			log.Error("executor exiting", "err", err)
			status = syscall.WaitStatus(1 << 8) // exit status 1
		}
		// Nothing of the container may outlive its executor.
		b.cleanup(c, b.isolators)
		logFile.Close()
		c.term = Termination{Status: proto.Int32(int32(status))}
		if l := c.limit.Load(); l != nil {
			c.term.State, c.term.Reason, c.term.Message = mesos.TaskState_TASK_FAILED, l.Reason, l.Message
		}
		close(c.done)
	}()
	return Launched, nil
}

// startTask starts one of a container's tasks inside its isolation: the
// launch helper holds the task's process until every isolator has it.
// A task's own CommandInfo.user replaces the container's user when
// users are switched (the container has a user).
func (b *Builtin) startTask(c *builtinContainer, spec launcher.Spec, task *mesos.TaskInfo) (*launcher.Process, error) {
	launch := c.launch
	user := c.user
	if u := task.GetCommand().GetUser(); u != "" && user != "" {
		user = u
	}
	u, err := userFor(user)
	if err != nil {
		return nil, err
	}
	launch.User = u
	return startIsolated(launchCtx, b.isolators, c.id, spec, &launch, "task")
}

// cleanup has isolators clean up after the container (cgroups isolators
// kill what is left in its cgroups).
func (b *Builtin) cleanup(c *builtinContainer, isolators []Isolator) {
	for _, iso := range isolators {
		if err := iso.Cleanup(context.Background(), c.id); err != nil {
			slog.Warn("isolator cleanup failed", "container", c.id.GetValue(), "isolator", iso.Name(), "err", err)
		}
	}
}

// launchCtx is the context of isolator calls made for a launch: they
// must not be cut short by the caller's.
var launchCtx = context.Background()

func (b *Builtin) get(id *mesos.ContainerID) (*builtinContainer, error) {
	return lookup(&b.mu, b.containers, id)
}

// Wait waits for the executor to return. The first Wait to see it
// forgets the container.
func (b *Builtin) Wait(ctx context.Context, id *mesos.ContainerID) (Termination, error) {
	return waitEnd(ctx, &b.mu, b.containers, id)
}

// Destroy stops the executor at once: its tasks are SIGKILLed with their
// sessions as it returns.
func (b *Builtin) Destroy(_ context.Context, id *mesos.ContainerID) error {
	c, err := b.get(id)
	if err != nil {
		return err
	}
	c.cancel()
	return nil
}

// Update records the resources the container holds and passes them to
// its isolators.
func (b *Builtin) Update(ctx context.Context, id *mesos.ContainerID, res []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error {
	c, err := b.get(id)
	if err != nil {
		return err
	}
	b.mu.Lock()
	c.resources = res
	b.mu.Unlock()
	for _, iso := range b.isolators {
		if err := iso.Update(ctx, id, res, limits); err != nil {
			return fmt.Errorf("isolator %s: %w", iso.Name(), err)
		}
	}
	return nil
}

// Usage measures the executor's tasks: the sessions, led by children of
// the agent, whose environment names its framework and executor. The
// executor's own goroutines are part of the agent and not counted.
func (b *Builtin) Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	c, err := b.get(id)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	held := c.resources
	b.mu.Unlock()
	t, err := processes(ctx)
	if err != nil {
		return nil, err
	}
	u := t.usage(t.inlineSessions()[[2]string{c.fwID, c.exID}])
	s := &mesos.ResourceStatistics{Timestamp: proto.Float64(now())}
	if b.cpu {
		s.CpusUserTimeSecs = proto.Float64(float64(u.utime) / clockTicks)
		s.CpusSystemTimeSecs = proto.Float64(float64(u.stime) / clockTicks)
	}
	if b.mem {
		s.MemRssBytes = proto.Uint64(u.rss * uint64(os.Getpagesize()))
	}
	withLimits(s, held)
	for _, iso := range b.isolators {
		u, err := iso.Usage(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("container %s: %s: %w", id.GetValue(), iso.Name(), err)
		}
		proto.Merge(s, u)
	}
	return s, nil
}

// Status is the container's id: a built-in executor has no pid of its
// own.
func (b *Builtin) Status(_ context.Context, id *mesos.ContainerID) (*mesos.ContainerStatus, error) {
	if _, err := b.get(id); err != nil {
		return nil, err
	}
	return &mesos.ContainerStatus{ContainerId: proto.Clone(id).(*mesos.ContainerID)}, nil
}

// Containers lists the running built-in executors.
func (b *Builtin) Containers(context.Context) ([]*mesos.ContainerID, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*mesos.ContainerID, 0, len(b.containers))
	for _, c := range b.containers {
		out = append(out, c.id)
	}
	return out, nil
}

// Recover recovers nothing: built-in executors died with the previous
// agent.
func (b *Builtin) Recover(context.Context, []RecoverState) error { return nil }

// now is the time in seconds since the epoch, as ResourceStatistics'
// timestamp.
func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }
