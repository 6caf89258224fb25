package containerizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/agent/provisioner"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Mezzo is the equivalent of Mesos' "mesos" containerizer with its POSIX
// launcher: an executor is a plain process in the agent's namespaces,
// started (package launcher) in a session of its own — so everything it
// starts can be found and killed — with its sandbox as working
// directory, stdout and stderr there, and exactly the environment it is
// given. Its isolators (Isolator) prepare, isolate, measure and clean up
// each container. When the executor exits, the rest of its session is
// killed and the isolators clean up before Wait returns.
//
// A restarted agent re-adopts the executors still running by their
// checkpointed pids (Recover): they are no longer its children, so their
// exits are watched through pidfds, their wait status is unknown, and
// the watch ends when Recover's context does (the agent detaching).
type Mezzo struct {
	isolators   []Isolator
	provisioner *provisioner.Provisioner
	helper      string
	// sandboxes is where orphans are looked for: <work_dir>/slaves.
	sandboxes string
	log       *slog.Logger

	mu         sync.Mutex
	containers map[string]*posixContainer
}

// MezzoConfig configures NewMezzo.
type MezzoConfig struct {
	// Isolators run for every container, in order (see
	// Isolation.Isolators).
	Isolators []Isolator
	// Sandboxes is the directory holding every sandbox of the agent
	// (<work_dir>/slaves): Recover kills the processes whose environment
	// places them under it and that no recovered container accounts for.
	Sandboxes string
	// Log receives the containerizer's log lines; nil discards them.
	Log *slog.Logger
	// Helper is the mezzo binary, whose `launch` subcommand starts each
	// executor inside its isolation (launcher.Isolation.Helper); empty
	// for none, when no isolator asks for more than observing.
	Helper string
	// Provisioner makes the root file systems of containers with an
	// image (ContainerInfo.mesos.image) before the isolators prepare
	// them, and removes them when they end (--image_providers=docker);
	// nil refuses images.
	Provisioner *provisioner.Provisioner
}

// NewMezzo returns a Mezzo containerizer.
func NewMezzo(cfg MezzoConfig) *Mezzo {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mezzo{isolators: cfg.Isolators, provisioner: cfg.Provisioner, helper: cfg.Helper, sandboxes: cfg.Sandboxes, log: log, containers: map[string]*posixContainer{}}
}

// posixContainer is one container: an executor process and its session.
type posixContainer struct {
	id *mesos.ContainerID

	// Set once the executor started (proc) or, while launching, by
	// Destroy (destroyed: kill it as soon as it starts); under Mezzo.mu.
	proc      *launcher.Process
	destroyed bool
	resources []*mesos.Resource

	ending
}

// Launch starts cfg's command as the container's executor. A container
// type other than MESOS is NotSupported.
func (m *Mezzo) Launch(ctx context.Context, id *mesos.ContainerID, cfg Config) (LaunchResult, error) {
	if ci := cfg.ContainerInfo; ci != nil && ci.GetType() != mesos.ContainerInfo_MESOS {
		return NotSupported, nil
	}
	key := id.GetValue()
	c := &posixContainer{id: id, resources: cfg.Resources, ending: ending{done: make(chan struct{})}}
	m.mu.Lock()
	if _, ok := m.containers[key]; ok {
		m.mu.Unlock()
		return AlreadyLaunched, nil
	}
	m.containers[key] = c
	m.mu.Unlock()

	fail := func(prepared int, err error) (LaunchResult, error) {
		for _, iso := range m.isolators[:prepared] {
			if cerr := iso.Cleanup(ctx, id); cerr != nil {
				m.log.Warn("isolator cleanup failed", "container", key, "isolator", iso.Name(), "err", cerr)
			}
		}
		if cfg.Rootfs != nil {
			if derr := m.provisioner.Destroy(key); derr != nil {
				m.log.Warn("removing the container's rootfs failed", "container", key, "err", derr)
			}
		}
		m.mu.Lock()
		delete(m.containers, key)
		m.mu.Unlock()
		return Launched, err
	}
	launch := &launcher.Isolation{Helper: m.helper}
	u, err := userFor(cfg.User)
	if err != nil {
		return fail(0, err)
	}
	launch.User = u
	if img := cfg.ContainerInfo.GetMesos().GetImage(); img != nil {
		r, err := m.provision(ctx, key, img)
		if err != nil {
			return fail(0, err)
		}
		cfg.Rootfs = r
	}
	for i, iso := range m.isolators {
		if err := iso.Prepare(ctx, id, &cfg, launch); err != nil {
			return fail(i, fmt.Errorf("failed to prepare isolator %s: %w", iso.Name(), err))
		}
	}
	spec := launcher.Spec{Command: cfg.Command, Env: cfg.Env, Dir: cfg.Directory, NewSession: true}
	proc, err := startIsolated(ctx, m.isolators, id, spec, launch, "executor")
	if err != nil {
		return fail(len(m.isolators), err)
	}
	m.mu.Lock()
	c.proc = proc
	destroyed := c.destroyed
	m.mu.Unlock()
	if destroyed {
		proc.Destroy()
	}
	go m.reap(nil, c)
	return Launched, nil
}

// reap waits for the container's executor to exit (or a limitation),
// kills what is left of its session, cleans up its isolation and reports
// the end. For an adopted executor the wait ends with ctx, leaving it
// running.
func (m *Mezzo) reap(ctx context.Context, c *posixContainer) {
	var stop <-chan struct{}
	if ctx != nil {
		stop = ctx.Done()
	}
	limited := m.watch(c)
	var limit *Limitation
	select {
	case <-c.proc.Done():
		// An executor killed by its limitation (the OOM killer) may end
		// before the limitation is reported: give it a moment.
		if limited != nil && c.proc.Status().Signaled() && c.proc.Status().Signal() == syscall.SIGKILL {
			select {
			case l := <-limited:
				limit = &l
			case <-time.After(limitationGrace):
			}
		}
	case l := <-limited:
		limit = &l
		m.log.Info("container limitation; destroying it", "container", c.id.GetValue(), "reason", l.Reason, "message", l.Message)
		c.proc.Destroy()
		<-c.proc.Done()
	case <-stop:
		c.proc.Release()
		return
	}
	// Nothing of the executor's session may outlive it.
	c.proc.Destroy()
	for _, iso := range m.isolators {
		if err := iso.Cleanup(context.Background(), c.id); err != nil {
			m.log.Warn("isolator cleanup failed", "container", c.id.GetValue(), "isolator", iso.Name(), "err", err)
		}
	}
	if m.provisioner != nil {
		if err := m.provisioner.Destroy(c.id.GetValue()); err != nil {
			m.log.Warn("removing the container's rootfs failed", "container", c.id.GetValue(), "err", err)
		}
	}
	var term Termination
	if !c.proc.Adopted() {
		term.Status = proto.Int32(int32(c.proc.Status()))
	}
	if limit != nil {
		term.State, term.Reason, term.Message = mesos.TaskState_TASK_FAILED, limit.Reason, limit.Message
	}
	c.term = term
	close(c.done)
}

// limitationGrace is how long the end of a SIGKILLed executor waits for
// an isolator to report the limitation that killed it.
const limitationGrace = 500 * time.Millisecond

// watch merges the isolators' limitation channels for the container.
func (m *Mezzo) watch(c *posixContainer) <-chan Limitation {
	return watchLimitations(m.isolators, c.id, c.done)
}

// get returns the container with id, or ErrUnknownContainer.
func (m *Mezzo) get(id *mesos.ContainerID) (*posixContainer, error) {
	return lookup(&m.mu, m.containers, id)
}

// Wait waits for the container's end. The first Wait to see it forgets
// the container.
func (m *Mezzo) Wait(ctx context.Context, id *mesos.ContainerID) (Termination, error) {
	return waitEnd(ctx, &m.mu, m.containers, id)
}

// Destroy SIGKILLs the executor's process group and every process of its
// session, without waiting for them to be reaped.
func (m *Mezzo) Destroy(_ context.Context, id *mesos.ContainerID) error {
	c, err := m.get(id)
	if err != nil {
		return err
	}
	m.mu.Lock()
	proc := c.proc
	if proc == nil {
		c.destroyed = true
	}
	m.mu.Unlock()
	if proc != nil {
		proc.Destroy()
	}
	return nil
}

// Update records the container's resources and passes them to the
// isolators.
func (m *Mezzo) Update(ctx context.Context, id *mesos.ContainerID, res []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error {
	c, err := m.get(id)
	if err != nil {
		return err
	}
	m.mu.Lock()
	c.resources = res
	m.mu.Unlock()
	for _, iso := range m.isolators {
		if err := iso.Update(ctx, id, res, limits); err != nil {
			return fmt.Errorf("isolator %s: %w", iso.Name(), err)
		}
	}
	return nil
}

// Usage merges what the isolators measure, with the limits of what the
// container holds. Under ShareProcessTable's context every container is
// measured from one reading of /proc; otherwise the isolators share one
// reading per call.
func (m *Mezzo) Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	c, err := m.get(id)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	running, held := c.proc != nil, c.resources
	m.mu.Unlock()
	if !running {
		return nil, fmt.Errorf("container %s: the executor has not started", id.GetValue())
	}
	ctx = ShareProcessTable(ctx)
	s := &mesos.ResourceStatistics{Timestamp: proto.Float64(now())}
	for _, iso := range m.isolators {
		u, err := iso.Usage(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("container %s: %s: %w", id.GetValue(), iso.Name(), err)
		}
		proto.Merge(s, u)
	}
	withLimits(s, held)
	return s, nil
}

// Status is the container's id and its executor's pid.
func (m *Mezzo) Status(_ context.Context, id *mesos.ContainerID) (*mesos.ContainerStatus, error) {
	c, err := m.get(id)
	if err != nil {
		return nil, err
	}
	s := &mesos.ContainerStatus{ContainerId: proto.Clone(id).(*mesos.ContainerID)}
	m.mu.Lock()
	if c.proc != nil && c.proc.Pid() > 0 {
		s.ExecutorPid = proto.Uint32(uint32(c.proc.Pid()))
	}
	m.mu.Unlock()
	return s, nil
}

// Containers lists the containers launched or recovered whose end no
// Wait has reported yet.
func (m *Mezzo) Containers(context.Context) ([]*mesos.ContainerID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*mesos.ContainerID, 0, len(m.containers))
	for _, c := range m.containers {
		out = append(out, c.id)
	}
	return out, nil
}

// Recover adopts each listed executor that still runs (a live session
// leader with the checkpointed pid), then kills the orphans: every
// process whose environment places it in a sandbox under Sandboxes and
// whose session no adopted executor leads — what the previous agent
// supervised itself (tasks of built-in executors run inside it) or did
// not checkpoint, and what those started. Watches of adopted executors
// end with ctx.
func (m *Mezzo) Recover(ctx context.Context, known []RecoverState) error {
	var errs []error
	var adopted []*posixContainer
	var states []RecoverState
	live := map[int]bool{}
	for _, s := range known {
		if s.Pid <= 0 {
			continue
		}
		p, err := launcher.Adopt(s.Pid)
		switch {
		case errors.Is(err, launcher.ErrNotRunning):
			continue
		case err != nil:
			errs = append(errs, &RecoverError{ID: s.ID.GetValue(), Err: fmt.Errorf("adopt pid %d: %w", s.Pid, err)})
			continue
		}
		c := &posixContainer{id: s.ID, proc: p, ending: ending{done: make(chan struct{})}}
		m.mu.Lock()
		m.containers[s.ID.GetValue()] = c
		m.mu.Unlock()
		adopted = append(adopted, c)
		states = append(states, s)
		live[s.Pid] = true
	}
	for _, iso := range m.isolators {
		if err := iso.Recover(ctx, states); err != nil {
			errs = append(errs, fmt.Errorf("isolator %s: %w", iso.Name(), err))
		}
	}
	if m.provisioner != nil {
		ids := make([]string, 0, len(adopted))
		for _, c := range adopted {
			ids = append(ids, c.id.GetValue())
		}
		if err := m.provisioner.Recover(ids); err != nil {
			errs = append(errs, fmt.Errorf("provisioner: %w", err))
		}
	}
	for _, c := range adopted {
		go m.reap(ctx, c)
	}
	if m.sandboxes != "" {
		if n := launcher.KillLeftovers(filepath.Clean(m.sandboxes), func(sid int) bool { return live[sid] }); n > 0 {
			m.log.Info("killed processes left in sandboxes by a previous run", "processes", n)
		}
	}
	return errors.Join(errs...)
}

// provision makes the root file system of container key from its image.
// Only Docker images are supported.
func (m *Mezzo) provision(ctx context.Context, key string, img *mesos.Image) (*provisioner.Rootfs, error) {
	if img.GetType() != mesos.Image_DOCKER {
		return nil, fmt.Errorf("container image of type %v is not supported (only DOCKER images are: --image_providers=docker)", img.GetType())
	}
	name := img.GetDocker().GetName()
	if name == "" {
		return nil, errors.New("container image of type DOCKER without docker.name")
	}
	if m.provisioner == nil {
		return nil, fmt.Errorf("image %s: container images need --image_providers=docker", name)
	}
	r, err := m.provisioner.Provision(ctx, key, name, img.Cached != nil && !img.GetCached())
	if err != nil {
		return nil, fmt.Errorf("failed to provision the container's image: %w", err)
	}
	return r, nil
}
