package containerizer

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
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
	// cpu, mem: measure CPU times and resident memory.
	cpu, mem bool

	mu         sync.Mutex
	containers map[string]*builtinContainer
}

// NewBuiltin returns a Builtin containerizer whose Usage reports what
// the isolators iso names measure (posix/cpu, posix/mem).
func NewBuiltin(iso Isolation) *Builtin {
	return &Builtin{cpu: iso.Has("posix/cpu"), mem: iso.Has("posix/mem"), containers: map[string]*builtinContainer{}}
}

type builtinContainer struct {
	id         *mesos.ContainerID
	fwID, exID string
	cancel     context.CancelFunc
	resources  []*mesos.Resource // under Builtin.mu
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
		cancel: cancel, resources: cfg.Resources, ending: ending{done: make(chan struct{})}}
	b.mu.Lock()
	if _, ok := b.containers[key]; ok {
		b.mu.Unlock()
		cancel()
		logFile.Close()
		return AlreadyLaunched, nil
	}
	b.containers[key] = c
	b.mu.Unlock()
	run := builtin.Config{
		Env:          cfg.Builtin.Env,
		Mode:         cfg.Builtin.Mode,
		TaskEnv:      env,
		Transport:    cfg.Builtin.Transport,
		TaskSession:  true,
		DieWithAgent: true,
	}
	log := slog.New(slog.NewTextHandler(logFile, nil)).With("executor", c.exID)
	go func() {
		defer close(c.done)
		defer logFile.Close()
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
		c.term = Termination{Status: proto.Int32(int32(status))}
	}()
	return Launched, nil
}

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

// Update records the resources the container holds.
func (b *Builtin) Update(_ context.Context, id *mesos.ContainerID, res []*mesos.Resource, _ map[string]*mesos.Value_Scalar) error {
	c, err := b.get(id)
	if err != nil {
		return err
	}
	b.mu.Lock()
	c.resources = res
	b.mu.Unlock()
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
