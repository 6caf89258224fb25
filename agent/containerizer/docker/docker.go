// Package docker is Mesos' Docker containerizer (--containerizers=docker):
// it runs the executors whose ContainerInfo has type DOCKER through the
// local Docker Engine (package agent/docker), and answers NotSupported
// for everything else, so the composing containerizer offers that to the
// next one.
//
// Two kinds of containers, as in Mesos:
//
//	command task (TaskInfo.container DOCKER, run by the command executor)
//	    agent ──launch──▶ `mezzo executor --docker` (a process, in its own session)
//	                          └─ Docker API ─▶ container mesos-<container id> (the task)
//	custom executor (ExecutorInfo.container DOCKER)
//	    agent ──Docker API──▶ container mesos-<container id> (the executor)
//
// The command executor in Docker mode (Mesos' mesos-docker-executor)
// creates, starts, signals and waits for the task's container and runs
// its checks; it is a process like any other executor, so a framework
// that checkpoints keeps it (and its container) across an agent restart
// and the restarted agent re-adopts it by its checkpointed pid. A custom
// executor runs as the container's command; the containerizer waits on
// the container and copies its output to the sandbox.
//
// Every container is named mesos-<ContainerID.value> and labelled with
// the agent's work directory, its container id and its kind. Recover
// re-adopts the listed containers still running and removes every other
// container of this agent (the orphans) when --docker_kill_orphans is
// set. A container that ended is removed --docker_remove_delay later (at
// once for 0), as Mesos does; a restart of the agent before then removes
// it as an orphan.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/errdefs"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	engine "github.com/mezzo-project/mezzo/agent/docker"
	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// Config configures New.
type Config struct {
	// Client is the Docker engine (engine.Connect with --docker_socket).
	Client *engine.Client
	// WorkDir is the agent's --work_dir: its containers carry it as a
	// label, so that it finds them (and only them) after a restart.
	WorkDir string
	// StopTimeout is --docker_stop_timeout: how long a container that is
	// destroyed gets between SIGTERM and SIGKILL, and the kill grace
	// period of a command task without a kill policy.
	StopTimeout time.Duration
	// RemoveDelay is --docker_remove_delay: how long an ended container
	// is kept before it is removed.
	RemoveDelay time.Duration
	// EnableCFS is --cgroups_enable_cfs: containers are capped at their
	// cpus with a CFS quota (a cpus limit does it regardless).
	EnableCFS bool
	// KillOrphans is --docker_kill_orphans: Recover removes the
	// containers of this agent that it does not recover.
	KillOrphans bool
	// Log receives the containerizer's log lines; nil discards them.
	Log *slog.Logger
}

// Docker is the Docker containerizer. It is safe for concurrent use.
type Docker struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	containers map[string]*dockerContainer
}

// New returns a Docker containerizer.
func New(cfg Config) *Docker {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Docker{cfg: cfg, log: log, containers: map[string]*dockerContainer{}}
}

// dockerContainer is one container: a command task's (kind
// engine.KindTask: proc is its executor) or a custom executor's (kind
// engine.KindExecutor).
type dockerContainer struct {
	id   *mesos.ContainerID
	name string
	kind string

	// Under Docker.mu.
	proc      *launcher.Process
	started   bool
	destroyed bool
	resources []*mesos.Resource

	// updating serialises Update's calls to the engine.
	updating sync.Mutex

	done chan struct{}
	term containerizer.Termination
}

// Launch runs an executor whose ContainerInfo has type DOCKER: the
// command executor in Docker mode for a command task, the executor's own
// command in a container for a custom executor. Anything else is
// NotSupported.
func (d *Docker) Launch(ctx context.Context, id *mesos.ContainerID, cfg containerizer.Config) (containerizer.LaunchResult, error) {
	ci := cfg.ContainerInfo
	if ci == nil || ci.GetType() != mesos.ContainerInfo_DOCKER {
		return containerizer.NotSupported, nil
	}
	kind := engine.KindExecutor
	if cfg.Builtin != nil {
		if cfg.Builtin.Mode != builtin.Command {
			return containerizer.Launched, errors.New("task groups (the default executor) cannot run in a Docker container; give the executor a MESOS container")
		}
		kind = engine.KindTask
	}
	for _, r := range cfg.Resources {
		if p := r.GetDisk().GetPersistence(); p != nil {
			return containerizer.Launched, fmt.Errorf("persistent volume %q: persistent volumes are not supported in Docker containers", p.GetId())
		}
	}
	key := id.GetValue()
	c := &dockerContainer{id: id, name: engine.Name(key), kind: kind, resources: cfg.Resources, done: make(chan struct{})}
	d.mu.Lock()
	if _, ok := d.containers[key]; ok {
		d.mu.Unlock()
		return containerizer.AlreadyLaunched, nil
	}
	d.containers[key] = c
	d.mu.Unlock()
	fail := func(err error) (containerizer.LaunchResult, error) {
		d.mu.Lock()
		delete(d.containers, key)
		d.mu.Unlock()
		return containerizer.Launched, err
	}
	if kind == engine.KindTask {
		proc, err := d.startExecutor(id, cfg)
		if err != nil {
			return fail(err)
		}
		d.mu.Lock()
		c.proc, c.started = proc, true
		destroyed := c.destroyed
		d.mu.Unlock()
		if destroyed {
			d.destroy(c)
		}
		go d.reapTask(nil, c)
		return containerizer.Launched, nil
	}
	out, err := d.startExecutorContainer(ctx, id, cfg)
	if err != nil {
		return fail(err)
	}
	d.mu.Lock()
	c.started = true
	destroyed := c.destroyed
	d.mu.Unlock()
	if destroyed {
		d.destroy(c)
	}
	go d.reapExecutor(nil, c, out)
	return containerizer.Launched, nil
}

// startExecutor starts `mezzo executor --docker` for a command task: the
// agent's command executor with the flags that make it run the task in
// container mesos-<id>.
func (d *Docker) startExecutor(id *mesos.ContainerID, cfg containerizer.Config) (*launcher.Process, error) {
	labels, err := json.Marshal(engine.Labels(d.cfg.WorkDir, id.GetValue(), engine.KindTask))
	if err != nil {
		return nil, err
	}
	cmd := proto.Clone(cfg.Command).(*mesos.CommandInfo)
	cmd.Arguments = append(cmd.Arguments,
		"--docker",
		"--docker_socket="+d.cfg.Client.Socket(),
		"--container="+engine.Name(id.GetValue()),
		"--container_labels="+string(labels),
		"--stop_timeout="+flags.FormatDuration(d.cfg.StopTimeout),
	)
	if d.cfg.EnableCFS {
		cmd.Arguments = append(cmd.Arguments, "--cgroups_enable_cfs")
	}
	proc, err := launcher.Start(launcher.Spec{Command: cmd, Env: cfg.Env, Dir: cfg.Directory, NewSession: true})
	if err != nil {
		return nil, fmt.Errorf("failed to start the Docker executor: %w", err)
	}
	return proc, nil
}

// startExecutorContainer runs a custom executor as the command of its
// container, its output copied to the sandbox. Inside, MESOS_SANDBOX and
// MESOS_DIRECTORY are the mapped sandbox.
func (d *Docker) startExecutorContainer(ctx context.Context, id *mesos.ContainerID, cfg containerizer.Config) (<-chan struct{}, error) {
	env := maps.Clone(cfg.Env)
	delete(env, "PATH")
	env["MESOS_DIRECTORY"] = engine.MappedSandbox
	name := engine.Name(id.GetValue())
	spec := engine.RunSpec{
		Name:      name,
		Labels:    engine.Labels(d.cfg.WorkDir, id.GetValue(), engine.KindExecutor),
		Info:      cfg.ContainerInfo,
		Command:   cfg.Command,
		Env:       env,
		Resources: cfg.Resources,
		Limits:    cfg.Limits,
		EnableCFS: d.cfg.EnableCFS,
		Sandbox:   cfg.Directory,
	}
	client := d.cfg.Client
	if err := client.Remove(ctx, name); err != nil {
		return nil, err
	}
	if _, err := client.Create(ctx, spec); err != nil {
		return nil, err
	}
	out, err := client.Attach(context.Background(), name, cfg.Directory)
	if err != nil {
		client.Remove(context.Background(), name)
		return nil, err
	}
	if err := client.Start(ctx, name); err != nil {
		client.Remove(context.Background(), name)
		<-out
		return nil, err
	}
	return out, nil
}

// reapTask waits for a command task's executor to exit, makes sure its
// container is stopped, and reports the end. For an adopted executor the
// wait ends with stop (the agent detaching), leaving it running.
func (d *Docker) reapTask(stop <-chan struct{}, c *dockerContainer) {
	select {
	case <-c.proc.Done():
	case <-stop:
		c.proc.Release()
		return
	}
	// Nothing of the executor's session may outlive it, nor its task's
	// container.
	c.proc.Destroy()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := d.cfg.Client.Kill(ctx, c.name, "SIGKILL"); err != nil {
		d.log.Warn("failed to kill the task's container", "container", c.name, "err", err)
	}
	cancel()
	var term containerizer.Termination
	if !c.proc.Adopted() {
		term.Status = proto.Int32(int32(c.proc.Status()))
	}
	d.ended(c, term)
}

// reapExecutor waits for a custom executor's container to stop (and its
// output, out, to be copied) and reports the end with its exit code.
func (d *Docker) reapExecutor(stop <-chan struct{}, c *dockerContainer, out <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if stop != nil {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	code, err := d.cfg.Client.Wait(ctx, c.name)
	if ctx.Err() != nil {
		return // detached: the container keeps running
	}
	var term containerizer.Termination
	if err != nil {
		d.log.Warn("lost an executor's container", "container", c.name, "err", err)
	} else {
		term.Status = proto.Int32(int32(syscall.WaitStatus(code&0xff) << 8))
	}
	select {
	case <-out:
	case <-time.After(5 * time.Second):
	}
	d.ended(c, term)
}

// ended reports a container's end and schedules the removal of its
// Docker container.
func (d *Docker) ended(c *dockerContainer, term containerizer.Termination) {
	d.log.Info("container ended", "container", c.name, "kind", c.kind, "how", term.Describe())
	remove := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.cfg.Client.Remove(ctx, c.name); err != nil {
			d.log.Warn("failed to remove a container", "container", c.name, "err", err)
		}
	}
	if d.cfg.RemoveDelay <= 0 {
		remove()
	} else {
		time.AfterFunc(d.cfg.RemoveDelay, remove)
	}
	c.term = term
	close(c.done)
}

func (d *Docker) get(id *mesos.ContainerID) (*dockerContainer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id.GetValue()]
	if !ok {
		return nil, fmt.Errorf("%w %s", containerizer.ErrUnknownContainer, id.GetValue())
	}
	return c, nil
}

// Wait waits for the container's end. The first Wait to see it forgets
// the container.
func (d *Docker) Wait(ctx context.Context, id *mesos.ContainerID) (containerizer.Termination, error) {
	c, err := d.get(id)
	if err != nil {
		return containerizer.Termination{}, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	}
	d.mu.Lock()
	if d.containers[id.GetValue()] == c {
		delete(d.containers, id.GetValue())
	}
	d.mu.Unlock()
	return c.term, nil
}

// Destroy stops the container (SIGTERM, SIGKILL after
// --docker_stop_timeout) and kills a command task's executor, without
// waiting: Wait reports the end.
func (d *Docker) Destroy(_ context.Context, id *mesos.ContainerID) error {
	c, err := d.get(id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	started := c.started
	if !started {
		c.destroyed = true
	}
	d.mu.Unlock()
	if started {
		d.destroy(c)
	}
	return nil
}

func (d *Docker) destroy(c *dockerContainer) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.StopTimeout+time.Minute)
		defer cancel()
		if err := d.cfg.Client.Stop(ctx, c.name, d.cfg.StopTimeout); err != nil {
			d.log.Warn("failed to stop a container", "container", c.name, "err", err)
		}
		if c.proc != nil {
			c.proc.Destroy()
		}
	}()
}

// Update records what the container now holds and sets its CPU shares
// and memory limit to it on a goroutine of its own (the caller is the
// agent's state goroutine): each update applies the latest resources,
// so the last to run leaves them in force. A command task's container
// that does not exist yet gets its task's resources when its executor
// creates it.
func (d *Docker) Update(_ context.Context, id *mesos.ContainerID, res []*mesos.Resource, _ map[string]*mesos.Value_Scalar) error {
	c, err := d.get(id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	c.resources = res
	d.mu.Unlock()
	go func() {
		c.updating.Lock()
		defer c.updating.Unlock()
		d.mu.Lock()
		latest := c.resources
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.cfg.Client.Update(ctx, c.name, latest); err != nil && !errdefs.IsNotFound(errors.Unwrap(err)) {
			d.log.Warn("failed to update a container's resources", "container", c.name, "err", err)
		}
	}()
	return nil
}

// Usage measures the container through the engine's statistics, with
// the limits of the resources it holds.
func (d *Docker) Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	c, err := d.get(id)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	held := c.resources
	d.mu.Unlock()
	s, err := d.cfg.Client.Stats(ctx, c.name)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id.GetValue(), err)
	}
	var cpus, mem float64
	for _, r := range held {
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	if cpus > 0 {
		s.CpusLimit = proto.Float64(cpus)
	}
	if mem > 0 {
		s.MemLimitBytes = proto.Uint64(uint64(mem) << 20)
	}
	return s, nil
}

// Status is the container's id and, for a command task, its executor's
// pid. (A custom executor's container reports no pid: the agent adopts
// it by its labels, not by a process.)
func (d *Docker) Status(_ context.Context, id *mesos.ContainerID) (*mesos.ContainerStatus, error) {
	c, err := d.get(id)
	if err != nil {
		return nil, err
	}
	s := &mesos.ContainerStatus{ContainerId: proto.Clone(id).(*mesos.ContainerID)}
	d.mu.Lock()
	if c.proc != nil && c.proc.Pid() > 0 {
		s.ExecutorPid = proto.Uint32(uint32(c.proc.Pid()))
	}
	d.mu.Unlock()
	return s, nil
}

// Containers lists the containers launched or recovered whose end no
// Wait has reported yet.
func (d *Docker) Containers(context.Context) ([]*mesos.ContainerID, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*mesos.ContainerID, 0, len(d.containers))
	for _, c := range d.containers {
		out = append(out, c.id)
	}
	return out, nil
}

// Recover re-adopts the listed containers that are this containerizer's
// and still run: a command task's executor (by its checkpointed pid,
// recognised by its --container flag) and a custom executor's container
// (by its labels). Then, with --docker_kill_orphans, it removes every
// other container labelled with this agent's work directory. Watches of
// adopted containers end with ctx.
func (d *Docker) Recover(ctx context.Context, known []containerizer.RecoverState) error {
	found, err := d.cfg.Client.List(ctx, d.cfg.WorkDir)
	if err != nil {
		return fmt.Errorf("docker containerizer: %w", err)
	}
	byID := map[string]engine.Found{}
	for _, f := range found {
		byID[f.ContainerID] = f
	}
	recovered := map[string]bool{}
	var errs []error
	for _, s := range known {
		key := s.ID.GetValue()
		name := engine.Name(key)
		if f, ok := byID[key]; ok && f.Kind == engine.KindExecutor {
			if !f.Running {
				continue
			}
			out, err := d.cfg.Client.Follow(context.Background(), name, s.Directory, strconv.FormatInt(time.Now().Unix(), 10))
			if err != nil {
				errs = append(errs, &containerizer.RecoverError{ID: key, Err: err})
				continue
			}
			c := &dockerContainer{id: s.ID, name: name, kind: engine.KindExecutor, started: true, done: make(chan struct{})}
			d.add(c)
			recovered[key] = true
			go d.reapExecutor(ctx.Done(), c, out)
			d.log.Info("recovered an executor's container", "container", name)
			continue
		}
		if s.Pid <= 0 || !runsDockerExecutor(s.Pid, name) {
			continue
		}
		p, err := launcher.Adopt(s.Pid)
		switch {
		case errors.Is(err, launcher.ErrNotRunning):
			continue
		case err != nil:
			errs = append(errs, &containerizer.RecoverError{ID: key, Err: fmt.Errorf("adopt pid %d: %w", s.Pid, err)})
			continue
		}
		c := &dockerContainer{id: s.ID, name: name, kind: engine.KindTask, proc: p, started: true, done: make(chan struct{})}
		d.add(c)
		recovered[key] = true
		go d.reapTask(ctx.Done(), c)
		d.log.Info("recovered a Docker executor", "container", name, "pid", s.Pid)
	}
	for _, f := range found {
		if recovered[f.ContainerID] {
			continue
		}
		if !d.cfg.KillOrphans {
			d.log.Info("leaving an orphan container (--docker_kill_orphans=false)", "container", f.Name)
			continue
		}
		if err := d.cfg.Client.Remove(ctx, f.Name); err != nil {
			errs = append(errs, fmt.Errorf("remove orphan container %s: %w", f.Name, err))
			continue
		}
		d.log.Info("removed an orphan container", "container", f.Name, "running", f.Running)
	}
	return errors.Join(errs...)
}

func (d *Docker) add(c *dockerContainer) {
	d.mu.Lock()
	d.containers[c.id.GetValue()] = c
	d.mu.Unlock()
}

// runsDockerExecutor reports whether pid is `mezzo executor --docker`
// for the container name.
func runsDockerExecutor(pid int, name string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	hasDocker, hasName := false, false
	for _, a := range args {
		hasDocker = hasDocker || a == "--docker"
		hasName = hasName || a == "--container="+name
	}
	return hasDocker && hasName
}
